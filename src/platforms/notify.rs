//! What every platform's order notifications share (issue 14): each platform's own
//! authentication and payload live in its connector folder (`<platform>/connector/notify.rs`);
//! this module holds the pieces they have in common.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a signed delivery's own timestamp may be from now, either way, before it is refused as
/// a replay (the Standard Webhooks libraries' default, used for every platform that signs a time).
pub const REPLAY_TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);

/// Whether a delivery signed at `sent_at` may be taken at `now` (not a replay, no clock far off).
pub fn is_fresh(sent_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (now - sent_at).abs() <= REPLAY_TOLERANCE
}

/// Whether a secret a delivery presents (a basic-auth header, an API key header) is `expected`,
/// compared in constant time whatever the two lengths: each side is first reduced to an
/// HMAC-SHA256 under one fixed key, and the two MACs are compared with `verify_slice`, so that
/// neither the expected value's length nor a matching prefix shows in the timing.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    const KEY: &[u8] = b"shelfsync-notification-secret";
    let mac_of = |value: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(KEY).expect("HMAC takes a key of any length");
        mac.update(value);
        mac
    };
    let expected = mac_of(expected).finalize().into_bytes();
    mac_of(given).verify_slice(&expected).is_ok()
}

/// The longest order id a notification may name (Amazon's are 19 characters, `3-7-7`; Walmart's
/// purchase orders 13 digits).
pub const MAX_ORDER_ID: usize = 64;

/// Whether `id`, named by an authentic notification, may be read as an order id: it goes into a
/// path of the connector's own base URL, so only the characters of the platforms' ids (ASCII
/// letters, digits, `-`) and at most [`MAX_ORDER_ID`] of them.
pub fn is_order_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ORDER_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The order id an authentic notification names in `field`, when it names one that may be read;
/// `Err` says what is wrong (for the log, never the caller).
pub fn named_order_id(id: Option<String>, field: &str) -> Result<String, String> {
    match id {
        Some(id) if is_order_id(&id) => Ok(id),
        Some(_) => Err(format!("the {field} is not an order id")),
        None => Err(format!("no {field}")),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_order_id, same_secret};

    #[test]
    fn order_ids_are_plain_and_bounded() {
        for good in ["902-3159896-1390916", "1796277083001"] {
            assert!(is_order_id(good), "{good}");
        }
        let long = "1".repeat(65);
        for bad in ["", "../../listings", "1 2", "1/2", "1?x=2", long.as_str()] {
            assert!(!is_order_id(bad), "{bad}");
        }
    }

    #[test]
    fn only_the_same_bytes_are_the_same_secret() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        for other in [&b""[..], b"s3cre", b"s3cret!", b"S3cret"] {
            assert!(!same_secret(other, b"s3cret"), "{other:?}");
        }
    }
}
