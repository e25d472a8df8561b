//! TikTok Shop's order notifications (issue 14; reference/marketplace-apis.md §6.2): webhooks of
//! body `{"type", "shop_id", "timestamp", "data"}` whose `Authorization` header is
//! `hex(HMAC-SHA256(key = app_secret, msg = app_key + raw body))`.
//!
//! Decisions:
//!
//! - **Signature [T].** Exactly §6.2's formula; the hex is read in either case and compared as
//!   bytes in constant time (hmac's `verify_slice`). The body carries a `timestamp`, but it is not
//!   signed apart from the body and §6.2 states no window, so no replay window is applied here
//!   ([U]): a replayed notice only makes the connector read the order again, whose events carry
//!   the same ledger keys as before.
//! - **What is read.** Type 1 (order status change) names the order to read, `data.order_id`;
//!   the mock also sends `order_status` and `update_time`, which are not trusted for stock (the
//!   order is read back through the connector, `Marketplace::fetch_order`). Every other type of
//!   §6.2 (reverse order, address, package, product, deauthorization, …) is acknowledged and
//!   ignored.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::platforms::notify::{
    self as platform_notify, account_id, named_order_id, Delivery, ReceiveFuture, Recipient,
    Refusal,
};

/// The type of an order status change (§6.2).
pub const ORDER_STATUS_CHANGE: u64 = 1;

/// Why a delivery is not authentic. The service answers every one the same way; the variant is
/// only logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// No `Authorization` header.
    #[error("the Authorization header is missing")]
    MissingHeader,
    /// The header is not the signature of the body.
    #[error("the Authorization header does not sign the body")]
    BadSignature,
}

/// Checks a delivery's `Authorization` header against the app's key and secret.
pub fn verify(
    app_key: &str,
    app_secret: &str,
    authorization: Option<&str>,
    raw_body: &[u8],
) -> Result<(), NotifyError> {
    let given = authorization.ok_or(NotifyError::MissingHeader)?;
    let given = decode_hex(given.trim()).ok_or(NotifyError::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(app_key.as_bytes());
    mac.update(raw_body);
    mac.verify_slice(&given)
        .map_err(|_| NotifyError::BadSignature)
}

/// The bytes of a hex string (either case); `None` when it is not one.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// What a verified notification asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Type 1: read this order of this shop again.
    OrderStatusChange {
        /// The shop, as the notice names it.
        shop_id: String,
        /// The order to read.
        order_id: String,
    },
    /// Any other type: acknowledged, nothing read.
    Ignored {
        /// The notice's type.
        notice_type: u64,
    },
}

/// Why an authentic notification cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    /// The body is not a TikTok Shop notification, or a type-1 one without an order id.
    #[error("the notification is not a TikTok Shop notification: {0}")]
    Malformed(String),
}

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    notice_type: u64,
    #[serde(default)]
    shop_id: serde_json::Value,
    #[serde(default)]
    data: serde_json::Value,
}

/// An id TikTok may write as a JSON string or number.
fn id_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) if !text.is_empty() => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Reads a verified notification.
pub fn read_notice(body: &[u8]) -> Result<Notice, NoticeError> {
    let payload: Payload =
        serde_json::from_slice(body).map_err(|error| NoticeError::Malformed(error.to_string()))?;
    if payload.notice_type != ORDER_STATUS_CHANGE {
        return Ok(Notice::Ignored {
            notice_type: payload.notice_type,
        });
    }
    let order_id = id_text(&payload.data["order_id"])
        .ok_or_else(|| NoticeError::Malformed("type 1 without data.order_id".into()))?;
    let shop_id = id_text(&payload.shop_id)
        .ok_or_else(|| NoticeError::Malformed("type 1 without shop_id".into()))?;
    Ok(Notice::OrderStatusChange { shop_id, order_id })
}

/// TikTok Shop's [`Receive`](crate::platforms::notify::Receive): `Authorization` checked with the
/// channel's app key (its account) and app secret (its notification secret), then the order a
/// type-1 notice names, read through the connection when the notice is for the channel's own
/// shop (a notice of another shop is authentic but unreadable: an order exception). Other types
/// are acknowledged. §6.2 signs no time, so no replay window applies: a replayed notice only
/// reads an order again, which changes nothing in the ledger.
pub fn receive<'a>(delivery: Delivery<'a>, recipient: Recipient<'a>) -> ReceiveFuture<'a> {
    let app_key = account_id(recipient.connection, "app_key").unwrap_or_default();
    let outcome = verify(
        &app_key,
        recipient.secret,
        delivery.header("authorization"),
        delivery.body,
    )
    .map_err(|error| match error {
        NotifyError::MissingHeader => Refusal::MissingHeader("Authorization"),
        NotifyError::BadSignature => Refusal::BadSignature,
    })
    .map(|()| match read_notice(delivery.body) {
        Ok(Notice::OrderStatusChange { shop_id, order_id }) => {
            let own_shop = account_id(recipient.connection, "shop_id");
            if own_shop.is_some_and(|own| own != shop_id) {
                return platform_notify::Notice::unreadable("a notice of another shop");
            }
            match named_order_id(Some(order_id), "data.order_id") {
                Ok(order_id) => platform_notify::Notice::Read(vec![order_id]),
                Err(error) => platform_notify::Notice::unreadable(&error),
            }
        }
        Ok(Notice::Ignored { notice_type }) => {
            platform_notify::Notice::Ignored(format!("type {notice_type}"))
        }
        Err(error) => platform_notify::Notice::unreadable(&error.to_string()),
    });
    Box::pin(std::future::ready(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_KEY: &str = "appkey";
    const APP_SECRET: &str = "app-secret";
    const BODY: &[u8] = br#"{"type":1}"#;
    /// `hmac.new(b"app-secret", b"appkey" + b'{"type":1}', hashlib.sha256).hexdigest()`, by hand
    /// from §6.2's formula.
    const SIGNATURE: &str = "5958b307a1d60b7260589fdaed6dbaa70e70e7a6ccbc6f3b7df9db18f2e1fbe4";

    #[test]
    fn a_signature_computed_by_hand_from_the_formula_verifies() {
        assert_eq!(verify(APP_KEY, APP_SECRET, Some(SIGNATURE), BODY), Ok(()));
        let upper = SIGNATURE.to_uppercase();
        assert_eq!(verify(APP_KEY, APP_SECRET, Some(&upper), BODY), Ok(()));
    }

    #[test]
    fn a_flipped_byte_another_key_or_no_header_fails() {
        let mut body = BODY.to_vec();
        body[2] ^= 1;
        assert_eq!(
            verify(APP_KEY, APP_SECRET, Some(SIGNATURE), &body),
            Err(NotifyError::BadSignature)
        );
        let mut flipped = SIGNATURE.to_string();
        flipped.replace_range(0..1, "6");
        assert_eq!(
            verify(APP_KEY, APP_SECRET, Some(&flipped), BODY),
            Err(NotifyError::BadSignature)
        );
        assert_eq!(
            verify("otherkey", APP_SECRET, Some(SIGNATURE), BODY),
            Err(NotifyError::BadSignature)
        );
        assert_eq!(
            verify(APP_KEY, "other-secret", Some(SIGNATURE), BODY),
            Err(NotifyError::BadSignature)
        );
        assert_eq!(
            verify(APP_KEY, APP_SECRET, None, BODY),
            Err(NotifyError::MissingHeader)
        );
        for junk in ["", "zz", "abc", &SIGNATURE[..62]] {
            assert_eq!(
                verify(APP_KEY, APP_SECRET, Some(junk), BODY),
                Err(NotifyError::BadSignature),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn a_type_1_notice_names_its_order_and_other_types_are_ignored() {
        let body = br#"{"type":1,"shop_id":"7494","timestamp":1700000000,
            "data":{"order_id":"5764607523034235","order_status":"CANCELLED","update_time":1}}"#;
        assert_eq!(
            read_notice(body),
            Ok(Notice::OrderStatusChange {
                shop_id: "7494".into(),
                order_id: "5764607523034235".into()
            })
        );
        let number = br#"{"type":1,"shop_id":7494,"data":{"order_id":576}}"#;
        assert!(matches!(
            read_notice(number),
            Ok(Notice::OrderStatusChange { order_id, .. }) if order_id == "576"
        ));
        for notice_type in [2, 4, 6, 12] {
            let body = format!(r#"{{"type":{notice_type},"shop_id":"1","data":{{}}}}"#);
            assert_eq!(
                read_notice(body.as_bytes()),
                Ok(Notice::Ignored { notice_type })
            );
        }
        for bad in [
            &b"not json"[..],
            b"{}",
            br#"{"type":1,"shop_id":"1","data":{}}"#,
            br#"{"type":1,"data":{"order_id":"5"}}"#,
        ] {
            assert!(matches!(read_notice(bad), Err(NoticeError::Malformed(_))));
        }
    }
}
