//! Etsy's order notifications (issue 14; reference/marketplace-apis.md §2.2): webhooks set up in
//! Etsy's Webhook portal, signed with the Standard Webhooks scheme, carrying a thin payload
//! `{event_type, resource_url, shop_id}` that names the receipt to read back.
//!
//! Decisions:
//!
//! - **Signed content.** §2.2 lost Etsy's exact string in the scrape ([U]); it is taken to be the
//!   Standard Webhooks one, `"{webhook-id}.{webhook-timestamp}.{raw body}"`, HMAC-SHA256 with the
//!   base64 key after the `whsec_` prefix, compared (in constant time) with each space-separated
//!   `v1,<base64>` entry of `webhook-signature`. The Standard Webhooks specification's own example
//!   verifies in the tests, and CI checks the mock's signatures with the official
//!   `standardwebhooks` library, so a misreading shows on both sides.
//! - **Replays** are refused by timestamp: a delivery whose `webhook-timestamp` is more than
//!   [`REPLAY_TOLERANCE`](crate::platforms::notify::REPLAY_TOLERANCE) away from now (either way)
//!   is refused, as the Standard Webhooks libraries do.
//!   A delivery inside the window that comes again changes nothing: its receipt's order events
//!   carry the same ledger keys as the poll's.
//! - **The resource URL is never followed.** It comes from the request body: following it with the
//!   shop's token would send the credential wherever a forged or altered payload points. Only the
//!   receipt id is taken from it, and only when the URL is a `/v3/application/shops/{shop}/receipts/
//!   {id}` of the channel's own shop; the connector reads that receipt from its own base URL.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::platforms::notify::{
    account_id, is_fresh, Delivery, Notice, ReceiveFuture, Recipient, Refusal,
};

/// The prefix of a Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";
/// The version tag of an HMAC-SHA256 signature entry.
const SIGNATURE_VERSION: &str = "v1";

/// The headers of a delivery that carry its signature.
#[derive(Debug, Clone, Copy)]
pub struct SignatureHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`, unix seconds.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`: space-separated `v1,<base64>` entries.
    pub signature: Option<&'a str>,
}

/// Why a delivery is not authentic. The service answers every one the same way; the variant is
/// only logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// A signature header is missing.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// The channel's secret is not a `whsec_` base64 key.
    #[error("the webhook secret is not a whsec_ base64 key")]
    BadSecret,
    /// `webhook-timestamp` is not unix seconds.
    #[error("the webhook timestamp is not unix seconds")]
    BadTimestamp,
    /// The timestamp is outside the tolerance: a replay, or a clock far off.
    #[error("the webhook timestamp is outside the tolerance")]
    StaleTimestamp,
    /// No signature entry matches.
    #[error("no webhook signature matches")]
    BadSignature,
}

/// Checks a delivery's Standard Webhooks signature against `secret` (`whsec_…`) at `now`.
pub fn verify(
    secret: &str,
    headers: SignatureHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    let id = headers.id.ok_or(NotifyError::MissingHeader("webhook-id"))?;
    let timestamp = headers
        .timestamp
        .ok_or(NotifyError::MissingHeader("webhook-timestamp"))?;
    let signatures = headers
        .signature
        .ok_or(NotifyError::MissingHeader("webhook-signature"))?;
    let key = secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|key| base64::engine::general_purpose::STANDARD.decode(key).ok())
        .filter(|key| !key.is_empty())
        .ok_or(NotifyError::BadSecret)?;
    let sent_at = timestamp
        .parse::<i64>()
        .ok()
        .and_then(|seconds| DateTime::<Utc>::from_timestamp(seconds, 0))
        .ok_or(NotifyError::BadTimestamp)?;
    if !is_fresh(sent_at, now) {
        return Err(NotifyError::StaleTimestamp);
    }
    let mut expected = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| NotifyError::BadSecret)?;
    expected.update(id.as_bytes());
    expected.update(b".");
    expected.update(timestamp.as_bytes());
    expected.update(b".");
    expected.update(body);
    let matches = signatures
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == SIGNATURE_VERSION)
        .filter_map(|(_, signature)| {
            base64::engine::general_purpose::STANDARD
                .decode(signature)
                .ok()
        })
        // `verify_slice` compares in constant time; each entry gets a fresh copy of the MAC.
        .any(|signature| expected.clone().verify_slice(&signature).is_ok());
    if matches {
        Ok(())
    } else {
        Err(NotifyError::BadSignature)
    }
}

/// The events of §2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum EtsyEvent {
    /// A receipt was paid: its lines are sales.
    #[serde(rename = "order.paid")]
    Paid,
    /// The seller cancelled a receipt: its lines are cancellations.
    #[serde(rename = "order.canceled")]
    Canceled,
    /// A receipt shipped (no stock change: the sale reserved it already).
    #[serde(rename = "order.shipped")]
    Shipped,
    /// A receipt was delivered (no stock change).
    #[serde(rename = "order.delivered")]
    Delivered,
}

/// A notification's payload as sent.
#[derive(Debug, Clone, Deserialize)]
struct Payload {
    event_type: String,
    resource_url: String,
    shop_id: serde_json::Value,
}

/// What a notification asks for: read this receipt again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptNotice {
    /// The event, or `None` for one §2.2 does not list (acknowledged, nothing read).
    pub event: Option<EtsyEvent>,
    /// The receipt to read.
    pub receipt_id: u64,
}

/// Why an authentic notification cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    /// The body is not the `{event_type, resource_url, shop_id}` object.
    #[error("the notification is not an Etsy order notification: {0}")]
    Malformed(String),
    /// The notice names another shop than the channel's.
    #[error("the notification is for shop {0}, not the channel's")]
    OtherShop(String),
    /// The resource URL is not a receipt of the channel's shop.
    #[error("the resource URL is not a receipt of the channel's shop")]
    NotAReceipt,
}

/// Reads a verified notification of the channel's shop `shop_id`.
pub fn read_notice(body: &[u8], shop_id: &str) -> Result<ReceiptNotice, NoticeError> {
    let payload: Payload =
        serde_json::from_slice(body).map_err(|error| NoticeError::Malformed(error.to_string()))?;
    // Etsy's ids are numbers in JSON; a string form is read the same.
    let shop = match &payload.shop_id {
        serde_json::Value::Number(number) => number.to_string(),
        serde_json::Value::String(text) => text.clone(),
        other => return Err(NoticeError::Malformed(format!("shop_id {other}"))),
    };
    if shop != shop_id {
        return Err(NoticeError::OtherShop(shop));
    }
    let event = serde_json::from_value(serde_json::Value::String(payload.event_type)).ok();
    Ok(ReceiptNotice {
        event,
        receipt_id: receipt_of(&payload.resource_url, shop_id).ok_or(NoticeError::NotAReceipt)?,
    })
}

/// The receipt id of `…/v3/application/shops/{shop_id}/receipts/{id}` (the host is not looked
/// at: the URL is never followed).
fn receipt_of(resource_url: &str, shop_id: &str) -> Option<u64> {
    let url = reqwest::Url::parse(resource_url).ok()?;
    let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["v3", "application", "shops", shop, "receipts", id] if *shop == shop_id => {
            id.parse().ok().filter(|id| *id > 0)
        }
        _ => None,
    }
}

/// Etsy's [`Receive`](crate::platforms::notify::Receive): the Standard Webhooks signature with
/// the channel's `whsec_` secret and the replay window, then the receipt to read. A paid or
/// cancelled receipt is read; a shipped or delivered one, or an event §2.2 does not list, is
/// acknowledged. A notice of another shop or resource is authentic but unreadable: an order
/// exception, never a read of what it points to.
pub fn receive<'a>(delivery: Delivery<'a>, recipient: Recipient<'a>) -> ReceiveFuture<'a> {
    let outcome = (|| {
        let headers = SignatureHeaders {
            id: delivery.header("webhook-id"),
            timestamp: delivery.header("webhook-timestamp"),
            signature: delivery.header("webhook-signature"),
        };
        verify(recipient.secret, headers, delivery.body, delivery.now).map_err(
            |error| match error {
                NotifyError::MissingHeader(name) => Refusal::MissingHeader(name),
                NotifyError::BadSecret => Refusal::BadSecret,
                NotifyError::BadTimestamp | NotifyError::BadSignature => Refusal::BadSignature,
                NotifyError::StaleTimestamp => Refusal::Replayed,
            },
        )?;
        let shop_id = account_id(recipient.connection, "shop_id").unwrap_or_default();
        Ok(match read_notice(delivery.body, &shop_id) {
            Ok(ReceiptNotice {
                event: Some(EtsyEvent::Paid | EtsyEvent::Canceled),
                receipt_id,
            }) => Notice::Read(vec![receipt_id.to_string()]),
            Ok(ReceiptNotice { event, .. }) => Notice::Ignored(match event {
                Some(event) => format!("{event:?}"),
                None => "unlisted event".to_string(),
            }),
            Err(error) => Notice::unreadable(&error.to_string()),
        })
    })();
    Box::pin(std::future::ready(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::notify::REPLAY_TOLERANCE;

    /// The Standard Webhooks specification's example
    /// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: &str = "1614265330";
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn headers<'a>(signature: &'a str) -> SignatureHeaders<'a> {
        SignatureHeaders {
            id: Some(SPEC_ID),
            timestamp: Some(SPEC_TIMESTAMP),
            signature: Some(signature),
        }
    }

    #[test]
    fn the_specifications_example_verifies() {
        let now = at(1_614_265_330);
        assert_eq!(
            verify(SPEC_SECRET, headers(SPEC_SIGNATURE), SPEC_BODY, now),
            Ok(())
        );
        // Among other entries, and other versions, it still matches.
        let several = format!("v1a,xyz v1,AAAA {SPEC_SIGNATURE}");
        assert_eq!(
            verify(SPEC_SECRET, headers(&several), SPEC_BODY, now),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_id_or_secret_does_not_verify() {
        let now = at(1_614_265_330);
        let bad = verify(
            SPEC_SECRET,
            headers(SPEC_SIGNATURE),
            br#"{"test": 2432232315}"#,
            now,
        );
        assert_eq!(bad, Err(NotifyError::BadSignature));
        let other_id = SignatureHeaders {
            id: Some("msg_other"),
            ..headers(SPEC_SIGNATURE)
        };
        assert_eq!(
            verify(SPEC_SECRET, other_id, SPEC_BODY, now),
            Err(NotifyError::BadSignature)
        );
        let other_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx";
        assert_eq!(
            verify(other_secret, headers(SPEC_SIGNATURE), SPEC_BODY, now),
            Err(NotifyError::BadSignature)
        );
        // A signature under another version tag is not an HMAC-SHA256 one.
        let v2 = SPEC_SIGNATURE.replacen("v1,", "v2,", 1);
        assert_eq!(
            verify(SPEC_SECRET, headers(&v2), SPEC_BODY, now),
            Err(NotifyError::BadSignature)
        );
    }

    #[test]
    fn a_replay_outside_the_tolerance_is_refused_either_way() {
        let sent = 1_614_265_330;
        let within = REPLAY_TOLERANCE.num_seconds();
        for now in [sent - within, sent + within] {
            assert_eq!(
                verify(SPEC_SECRET, headers(SPEC_SIGNATURE), SPEC_BODY, at(now)),
                Ok(())
            );
        }
        for now in [sent - within - 1, sent + within + 1, sent + 86_400] {
            assert_eq!(
                verify(SPEC_SECRET, headers(SPEC_SIGNATURE), SPEC_BODY, at(now)),
                Err(NotifyError::StaleTimestamp),
                "{now}"
            );
        }
    }

    #[test]
    fn missing_headers_and_bad_secrets_or_timestamps_are_refused() {
        let now = at(1_614_265_330);
        let missing = [
            (
                SignatureHeaders {
                    id: None,
                    ..headers(SPEC_SIGNATURE)
                },
                "webhook-id",
            ),
            (
                SignatureHeaders {
                    timestamp: None,
                    ..headers(SPEC_SIGNATURE)
                },
                "webhook-timestamp",
            ),
            (
                SignatureHeaders {
                    signature: None,
                    ..headers(SPEC_SIGNATURE)
                },
                "webhook-signature",
            ),
        ];
        for (headers, name) in missing {
            assert_eq!(
                verify(SPEC_SECRET, headers, SPEC_BODY, now),
                Err(NotifyError::MissingHeader(name))
            );
        }
        for secret in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_",
            "whsec_not base64!",
        ] {
            assert_eq!(
                verify(secret, headers(SPEC_SIGNATURE), SPEC_BODY, now),
                Err(NotifyError::BadSecret),
                "{secret}"
            );
        }
        for timestamp in ["", "1614265330.5", "-", "99999999999999999999"] {
            let headers = SignatureHeaders {
                timestamp: Some(timestamp),
                ..headers(SPEC_SIGNATURE)
            };
            assert_eq!(
                verify(SPEC_SECRET, headers, SPEC_BODY, now),
                Err(NotifyError::BadTimestamp),
                "{timestamp:?}"
            );
        }
    }

    #[test]
    fn a_notice_names_a_receipt_of_the_channels_shop_only() {
        let body = br#"{"event_type":"order.paid","shop_id":12345,
            "resource_url":"https://openapi.etsy.com/v3/application/shops/12345/receipts/987"}"#;
        assert_eq!(
            read_notice(body, "12345"),
            Ok(ReceiptNotice {
                event: Some(EtsyEvent::Paid),
                receipt_id: 987
            })
        );
        assert_eq!(
            read_notice(body, "999"),
            Err(NoticeError::OtherShop("12345".into()))
        );
        // Another shop in the URL, another resource, or a URL that is not one: nothing to read.
        for url in [
            "https://openapi.etsy.com/v3/application/shops/999/receipts/987",
            "https://openapi.etsy.com/v3/application/listings/987",
            "https://openapi.etsy.com/v3/application/shops/12345/receipts/0",
            "https://openapi.etsy.com/v3/application/shops/12345/receipts/987/transactions",
            "not a url",
        ] {
            let body = serde_json::json!({"event_type": "order.paid", "shop_id": "12345",
                                          "resource_url": url});
            assert_eq!(
                read_notice(body.to_string().as_bytes(), "12345"),
                Err(NoticeError::NotAReceipt),
                "{url}"
            );
        }
    }

    #[test]
    fn an_unlisted_event_is_read_without_an_event_and_a_malformed_body_is_refused() {
        let body = br#"{"event_type":"order.refunded","shop_id":1,
            "resource_url":"https://openapi.etsy.com/v3/application/shops/1/receipts/5"}"#;
        assert_eq!(read_notice(body, "1").unwrap().event, None);
        for body in [&b"[]"[..], b"{}", b"not json", br#"{"event_type":1}"#] {
            assert!(matches!(
                read_notice(body, "1"),
                Err(NoticeError::Malformed(_))
            ));
        }
    }
}
