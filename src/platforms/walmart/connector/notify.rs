//! Walmart's order notifications (issue 14; reference/marketplace-apis.md §4.2): the
//! Notifications API's `ORDER_UPDATES` event (`PO_CREATED`, `PO_LINE_AUTOCANCELLED`,
//! `INTENT_TO_CANCEL`, `FRAUD_CANCEL`), delivered to a destination that authenticates with basic
//! auth or an HMAC.
//!
//! Decisions:
//!
//! - **Basic auth**: `Authorization: Basic base64(user:password)` compared with the destination's
//!   in constant time ([`same_secret`]).
//! - **HMAC [U]**: §4.2 gives the canonical string only from a third party,
//!   `METHOD\nPATH?QUERY\nWM_SEC.TIMESTAMP\nhex(SHA-256(body))`, HMAC-SHA256 with the client
//!   secret, in `WM_SEC.SIGNATURE`; its encoding is not stated. It is taken as base64, and
//!   [`HmacScheme`] names the string's parts so the mock and the connector can be changed together
//!   when Walmart's own page is checked. Replays are refused by `WM_SEC.TIMESTAMP` (unix
//!   milliseconds), as for Etsy ([`is_fresh`]).
//! - **Payload** ([`read_notice`]): an `ORDER_UPDATES` event names the purchase order
//!   (`payload.purchaseOrderId`); whatever its `subEventType` (`PO_CREATED` and the three
//!   cancellations, or one Walmart adds), the connector reads that PO (`GET
//!   /v3/orders/{purchaseOrderId}`, `Marketplace::fetch_order`) and applies what the PO shows, so
//!   the notice's own lines are not trusted for quantities. Any other event type is acknowledged
//!   and ignored (the legacy standalone `PO_CREATED`, … events, deprecated on 2026-12-15, are
//!   not subscribed to).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::platforms::notify::{
    self as platform_notify, is_fresh, named_order_id, same_secret, Delivery, ReceiveFuture,
    Recipient, Refusal,
};

/// Why a delivery is not authentic (only logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// A header the destination's method needs is missing.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// `WM_SEC.TIMESTAMP` is not unix milliseconds.
    #[error("the timestamp is not unix milliseconds")]
    BadTimestamp,
    /// The timestamp is outside the tolerance.
    #[error("the timestamp is outside the tolerance")]
    StaleTimestamp,
    /// The credentials or the signature do not match.
    #[error("the delivery's credentials or signature do not match")]
    Mismatch,
}

/// Checks a basic-auth destination: `authorization` against `user` and `password`.
pub fn verify_basic(
    authorization: Option<&str>,
    user: &str,
    password: &str,
) -> Result<(), NotifyError> {
    let given = authorization.ok_or(NotifyError::MissingHeader("Authorization"))?;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    );
    if same_secret(given.trim().as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(NotifyError::Mismatch)
    }
}

/// The request an HMAC destination signs.
#[derive(Debug, Clone, Copy)]
pub struct HmacScheme<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The path and query as requested (`/webhooks/ACME/walmart?x=1`).
    pub path_and_query: &'a str,
    /// `WM_SEC.TIMESTAMP`.
    pub timestamp: Option<&'a str>,
    /// `WM_SEC.SIGNATURE`.
    pub signature: Option<&'a str>,
}

/// The canonical string of [`HmacScheme`] (the [U] third-party form of §4.2).
fn canonical(method: &str, path_and_query: &str, timestamp: &str, body: &[u8]) -> String {
    let body_hash: String = Sha256::digest(body)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{method}\n{path_and_query}\n{timestamp}\n{body_hash}")
}

/// Checks an HMAC destination's delivery with the client secret at `now`.
pub fn verify_hmac(
    secret: &[u8],
    request: HmacScheme<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    let timestamp = request
        .timestamp
        .ok_or(NotifyError::MissingHeader("WM_SEC.TIMESTAMP"))?;
    let signature = request
        .signature
        .ok_or(NotifyError::MissingHeader("WM_SEC.SIGNATURE"))?;
    let sent_at = timestamp
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or(NotifyError::BadTimestamp)?;
    if !is_fresh(sent_at, now) {
        return Err(NotifyError::StaleTimestamp);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(canonical(request.method, request.path_and_query, timestamp, body).as_bytes());
    let claimed = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .unwrap_or_default();
    mac.verify_slice(&claimed)
        .map_err(|_| NotifyError::Mismatch)
}

/// A Notifications API event (only what is read).
#[derive(Debug, Deserialize)]
struct Event {
    source: Source,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Source {
    event_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    purchase_order_id: Option<String>,
}

/// The event type of order notifications.
pub const ORDER_UPDATES: &str = "ORDER_UPDATES";

/// What an authentic event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Read this purchase order.
    PurchaseOrder {
        /// The `purchaseOrderId`.
        purchase_order_id: String,
    },
    /// An event type that moves no stock here (acknowledged).
    Ignored(String),
}

/// Why an authentic event cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event is not a Walmart order notification: {0}")]
pub struct NoticeError(String);

/// Reads an authentic event.
pub fn read_notice(body: &[u8]) -> Result<Notice, NoticeError> {
    let event: Event =
        serde_json::from_slice(body).map_err(|error| NoticeError(error.to_string()))?;
    if event.source.event_type != ORDER_UPDATES {
        return Ok(Notice::Ignored(event.source.event_type));
    }
    let id = event.payload.and_then(|payload| payload.purchase_order_id);
    let id = named_order_id(id, "purchaseOrderId").map_err(NoticeError)?;
    Ok(Notice::PurchaseOrder {
        purchase_order_id: id,
    })
}

/// Walmart's [`Receive`](crate::platforms::notify::Receive): the destination's method is read off
/// the delivery (a `WM_SEC.SIGNATURE` is the HMAC with the channel's secret as client secret,
/// within the replay window; otherwise basic auth against the secret as `user:password`), then
/// the purchase order an `ORDER_UPDATES` names is read (its lines in the notice are not trusted
/// for quantities); any other event is acknowledged.
pub fn receive<'a>(delivery: Delivery<'a>, recipient: Recipient<'a>) -> ReceiveFuture<'a> {
    let signature = delivery.header("wm_sec.signature");
    let verified = match signature {
        Some(_) => verify_hmac(
            recipient.secret.as_bytes(),
            HmacScheme {
                method: delivery.method,
                path_and_query: delivery.path_and_query,
                timestamp: delivery.header("wm_sec.timestamp"),
                signature,
            },
            delivery.body,
            delivery.now,
        ),
        None => {
            let (user, password) = recipient
                .secret
                .split_once(':')
                .unwrap_or((recipient.secret, ""));
            verify_basic(delivery.header("authorization"), user, password)
        }
    };
    let outcome = verified
        .map_err(|error| match error {
            NotifyError::MissingHeader(name) => Refusal::MissingHeader(name),
            NotifyError::StaleTimestamp => Refusal::Replayed,
            NotifyError::BadTimestamp | NotifyError::Mismatch => Refusal::BadSignature,
        })
        .map(|()| match read_notice(delivery.body) {
            Ok(Notice::PurchaseOrder { purchase_order_id }) => {
                platform_notify::Notice::Read(vec![purchase_order_id])
            }
            Ok(Notice::Ignored(kind)) => platform_notify::Notice::Ignored(kind),
            Err(error) => platform_notify::Notice::unreadable(&error.to_string()),
        });
    Box::pin(std::future::ready(outcome))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::platforms::notify::REPLAY_TOLERANCE;

    fn notice(sub_event: &str, purchase_order_id: &str) -> Vec<u8> {
        json!({
            "source": {"eventType": "ORDER_UPDATES", "eventTime": "2026-12-03T10:00:00.000Z",
                       "eventId": "0000-1"},
            "payload": {"subEventType": sub_event, "partnerId": "10001234567",
                        "purchaseOrderId": purchase_order_id, "customerOrderId": "5281956426001",
                        "orderLines": [{"lineNumber": "1", "sku": "ACME-MUG"}]}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn every_order_update_names_the_purchase_order_to_read() {
        for sub_event in [
            "PO_CREATED",
            "PO_LINE_AUTOCANCELLED",
            "INTENT_TO_CANCEL",
            "FRAUD_CANCEL",
        ] {
            assert_eq!(
                read_notice(&notice(sub_event, "1796277083001")),
                Ok(Notice::PurchaseOrder {
                    purchase_order_id: "1796277083001".into()
                }),
                "{sub_event}"
            );
        }
    }

    #[test]
    fn other_event_types_are_ignored_and_bad_notices_refused() {
        let other = json!({"source": {"eventType": "OFFER_UNPUBLISHED"}, "payload": {"sku": "X"}});
        assert_eq!(
            read_notice(other.to_string().as_bytes()),
            Ok(Notice::Ignored("OFFER_UNPUBLISHED".into()))
        );
        assert!(read_notice(&notice("PO_CREATED", "../../v3/inventory")).is_err());
        for bad in [
            json!({"source": {"eventType": "ORDER_UPDATES"}}),
            json!({"source": {"eventType": "ORDER_UPDATES"}, "payload": {}}),
            json!({"payload": {"purchaseOrderId": "1"}}),
        ] {
            assert!(read_notice(bad.to_string().as_bytes()).is_err(), "{bad}");
        }
        assert!(read_notice(b"[]").is_err());
    }

    const SECRET: &[u8] = b"walmart-client-secret";
    const BODY: &[u8] =
        br#"{"source":{"eventType":"ORDER_UPDATES"},"payload":{"purchaseOrderId":"1"}}"#;
    const SENT_MS: i64 = 1_764_748_800_000;

    fn signed(method: &str, path: &str, timestamp: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(canonical(method, path, timestamp, body).as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    fn request<'a>(timestamp: &'a str, signature: &'a str) -> HmacScheme<'a> {
        HmacScheme {
            method: "POST",
            path_and_query: "/webhooks/ACME/walmart",
            timestamp: Some(timestamp),
            signature: Some(signature),
        }
    }

    #[test]
    fn basic_auth_matches_only_the_destinations_credentials() {
        let good = "Basic d2FsbWFydDpzM2NyZXQ="; // base64("walmart:s3cret")
        assert_eq!(verify_basic(Some(good), "walmart", "s3cret"), Ok(()));
        assert_eq!(
            verify_basic(Some(good), "walmart", "s3cret!"),
            Err(NotifyError::Mismatch)
        );
        assert_eq!(
            verify_basic(Some("Bearer x"), "walmart", "s3cret"),
            Err(NotifyError::Mismatch)
        );
        assert_eq!(
            verify_basic(None, "walmart", "s3cret"),
            Err(NotifyError::MissingHeader("Authorization"))
        );
    }

    #[test]
    fn an_hmac_over_method_path_time_and_body_verifies_and_nothing_else_does() {
        let timestamp = SENT_MS.to_string();
        let signature = signed("POST", "/webhooks/ACME/walmart", &timestamp, BODY);
        let now = DateTime::from_timestamp_millis(SENT_MS).unwrap();
        assert_eq!(
            verify_hmac(SECRET, request(&timestamp, &signature), BODY, now),
            Ok(())
        );
        let mut changed = BODY.to_vec();
        changed[3] ^= 1;
        assert_eq!(
            verify_hmac(SECRET, request(&timestamp, &signature), &changed, now),
            Err(NotifyError::Mismatch)
        );
        let elsewhere = HmacScheme {
            path_and_query: "/webhooks/OTHER/walmart",
            ..request(&timestamp, &signature)
        };
        assert_eq!(
            verify_hmac(SECRET, elsewhere, BODY, now),
            Err(NotifyError::Mismatch)
        );
        assert_eq!(
            verify_hmac(b"other", request(&timestamp, &signature), BODY, now),
            Err(NotifyError::Mismatch)
        );
    }

    #[test]
    fn a_replay_or_a_bad_timestamp_is_refused() {
        let timestamp = SENT_MS.to_string();
        let signature = signed("POST", "/webhooks/ACME/walmart", &timestamp, BODY);
        let late =
            DateTime::from_timestamp_millis(SENT_MS + REPLAY_TOLERANCE.num_milliseconds() + 1)
                .unwrap();
        assert_eq!(
            verify_hmac(SECRET, request(&timestamp, &signature), BODY, late),
            Err(NotifyError::StaleTimestamp)
        );
        let now = DateTime::from_timestamp_millis(SENT_MS).unwrap();
        assert_eq!(
            verify_hmac(SECRET, request("soon", &signature), BODY, now),
            Err(NotifyError::BadTimestamp)
        );
        let unsigned = HmacScheme {
            signature: None,
            ..request(&timestamp, &signature)
        };
        assert_eq!(
            verify_hmac(SECRET, unsigned, BODY, now),
            Err(NotifyError::MissingHeader("WM_SEC.SIGNATURE"))
        );
    }
}
