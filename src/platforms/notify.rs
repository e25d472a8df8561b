//! What every platform's order notifications share (issue 14): each platform's own
//! authentication and payload live in its connector folder (`<platform>/connector/notify.rs`,
//! and its [`Receive`] function); this module holds the pieces they have in common: the
//! delivery as received, what it asks for ([`Notice`]), why it is refused ([`Refusal`]), the
//! replay window and the constant-time comparison of secrets.
//!
//! A receiver works on the raw bytes before anything is parsed (DESIGN §6), and answers with one
//! of three things: whole orders to apply (Shopify's webhooks carry them), order ids to read
//! through the channel's connection (every thin notice: Etsy, eBay, Walmart, Amazon, TikTok
//! Shop), or a topic acknowledged and ignored. An authentic delivery whose content cannot be
//! read becomes an order exception ([`Notice::Orders`] with an unusable entry), never a refusal:
//! a 4xx would make the platform drop it or retry it for nothing.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use shelfsync_actors::channel::intake::{OrderIntake, UnusableOrder};
use shelfsync_actors::inventory::exceptions::{bounded_text, UnapplicableReason};

use super::connector::ConnectorConfig;

/// One delivery as it arrived, nothing parsed yet.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The HTTP method (`POST`; eBay's challenge is a `GET`).
    pub method: &'a str,
    /// The request's path and query as received (Walmart's HMAC covers them).
    pub path_and_query: &'a str,
    /// The headers, names in lowercase.
    pub headers: &'a [(String, String)],
    /// The raw body every signature covers.
    pub body: &'a [u8],
    /// When it arrived (the replay window is measured from here).
    pub now: DateTime<Utc>,
}

impl<'a> Delivery<'a> {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// What a channel holds to authenticate and read its deliveries.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    /// The channel's notification secret (Shopify's client secret, Etsy's `whsec_` key, eBay's
    /// verification token, Walmart's basic-auth pair or client secret, the API destination's
    /// key, TikTok Shop's app secret).
    pub secret: &'a str,
    /// The channel's connection (base URL, credential, account ids with their secrets opened in
    /// memory): the account ids say which shop a notice must name, and eBay reads its
    /// Notification API's public keys through it.
    pub connection: &'a ConnectorConfig,
}

/// What an authentic delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Whole orders to apply, and what in them cannot apply (Shopify's webhooks; also an
    /// authentic thin notice that cannot be read, as an unusable entry).
    Orders(OrderIntake),
    /// Orders to read through the channel's connection (thin notices), by the platform's id.
    Read(Vec<String>),
    /// A topic or event that moves no stock here (acknowledged).
    Ignored(String),
}

impl Notice {
    /// An authentic delivery whose content is not a readable notice: one order exception keyed
    /// by the delivery (the caller adds the digest of the signed body), so that the platform's
    /// retry finds the same exception instead of raising another.
    pub fn unreadable(detail: &str) -> Notice {
        Notice::Orders(OrderIntake {
            unusable: vec![UnusableOrder {
                order_id: None,
                line: None,
                version: None,
                sku: None,
                quantity: None,
                reason: UnapplicableReason::NotAnOrder,
                detail: bounded_text(detail, 200),
            }],
            ..OrderIntake::default()
        })
    }
}

/// Why a delivery is not authentic. Only logged: the caller gets one answer for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A header the platform always sends is missing.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// The signature or secret does not match.
    #[error("the signature does not match")]
    BadSignature,
    /// The signed timestamp is outside [`REPLAY_TOLERANCE`].
    #[error("the signed timestamp is outside the replay window")]
    Replayed,
    /// The channel's own notification secret is unusable (not a `whsec_` key, ...).
    #[error("the channel's notification secret is unusable")]
    BadSecret,
    /// The key to check the signature with could not be had (eBay's public key).
    #[error("the signing key could not be obtained")]
    KeyUnavailable,
}

impl Refusal {
    /// A stable, bounded name, for the log and the metric.
    pub fn kind(self) -> &'static str {
        match self {
            Refusal::MissingHeader(_) => "missing_signature",
            Refusal::BadSignature => "bad_signature",
            Refusal::Replayed => "replayed",
            Refusal::BadSecret => "bad_secret",
            Refusal::KeyUnavailable => "key_unavailable",
        }
    }
}

/// The future a receiver returns (boxed: eBay's fetches its public key).
pub type ReceiveFuture<'a> = Pin<Box<dyn Future<Output = Result<Notice, Refusal>> + Send + 'a>>;

/// A platform's receiver: authenticates a delivery for a channel and tells what it asks for.
pub type Receive = for<'a> fn(Delivery<'a>, Recipient<'a>) -> ReceiveFuture<'a>;

/// A platform's answer to the check of an endpoint before it sends anything there (eBay's
/// `GET ?challenge_code=`): from the challenge, the channel's secret and the endpoint's URL as
/// the platform called it, the JSON to reply.
pub type Challenge = fn(challenge: &str, secret: &str, endpoint: &str) -> Value;

/// The string account id `field` of a connection (ids are JSON strings or numbers).
pub fn account_id(connection: &ConnectorConfig, field: &str) -> Option<String> {
    match connection.account.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    }
}

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
