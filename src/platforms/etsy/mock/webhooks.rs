//! Etsy's order webhooks as the mock sends them (reference/marketplace-apis.md §2.2, issue 14):
//! `order.paid` when an order is placed, `order.canceled` when it is cancelled, each a thin
//! payload `{event_type, resource_url, shop_id}` naming the receipt to read back, signed the
//! Standard Webhooks way with the subscription's `whsec_` secret.
//!
//! Decisions (§2.2 marks the signed content [U]):
//!
//! - **Signed content**: the Standard Webhooks one, `"{webhook-id}.{webhook-timestamp}.{body}"`,
//!   HMAC-SHA256 keyed with the base64-decoded secret after `whsec_`, sent as `v1,<base64>` in
//!   `webhook-signature`. CI checks these signatures with the official `standardwebhooks` library
//!   (`.ci/sdk-verify`). A subscription whose secret is not `whsec_` + base64 is refused.
//! - **Ids**: one `webhook-id` per event (`msg_…`), the same for every subscription and every
//!   retry of it, as Standard Webhooks uses it to drop duplicates.
//! - **Retries** follow §2.2's schedule (at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)
//!   compressed [`COMPRESSION`] times (about 2 minutes in all, like Shopify's). A retry keeps its
//!   `webhook-id` and body but is signed anew with a fresh `webhook-timestamp`: the receiver
//!   refuses a timestamp older than its tolerance, so a retry hours later must carry its own.
//! - **`resource_url`** is the mock's own base URL plus Etsy's path
//!   `/v3/application/shops/{shop_id}/receipts/{receipt_id}`, which the mock serves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::web::Bytes;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::platforms::mock::world::{Order, OrderChange};
use crate::platforms::mock::{Delivery, MockError, MockState, RetrySchedule};

/// §2.2's retry schedule: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
const DOCUMENTED_RETRIES_SECS: [u64; 8] = [0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
/// How many times faster than Etsy the mock retries: its 27.6 hours become about 2 minutes.
pub const COMPRESSION: u32 = 828;
/// The prefix of a Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";

/// The delivery headers (lower case, as Standard Webhooks writes them).
pub mod header {
    /// The message id, the same on every retry.
    pub const ID: &str = "webhook-id";
    /// Unix seconds of this attempt's signature.
    pub const TIMESTAMP: &str = "webhook-timestamp";
    /// Space-separated `v1,<base64>` entries.
    pub const SIGNATURE: &str = "webhook-signature";
}

/// Etsy's retry schedule, compressed.
pub fn retry_schedule() -> RetrySchedule {
    let documented: Vec<Duration> = DOCUMENTED_RETRIES_SECS
        .iter()
        .map(|secs| Duration::from_secs(*secs))
        .collect();
    RetrySchedule::compressed(&documented, COMPRESSION)
}

/// The HMAC key of a `whsec_` secret; `None` when it is not one.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|key| base64::engine::general_purpose::STANDARD.decode(key).ok())
        .filter(|key| !key.is_empty())
}

/// Refuses a subscription whose secret is not a Standard Webhooks secret.
pub fn check_secret(secret: &str) -> Result<(), MockError> {
    key_of(secret)
        .map(|_| ())
        .ok_or_else(|| MockError::BadControlRequest {
            message: "an Etsy webhook secret is whsec_ followed by base64".to_string(),
        })
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`; `None` for a secret that is not
/// `whsec_` + base64 (refused at subscription).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_of(secret)?).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Some(format!("v1,{signature}"))
}

/// Numbers the mock's messages.
#[derive(Debug, Default)]
pub struct Messages {
    next: AtomicU64,
}

impl Messages {
    /// Queues the event of `order`'s `change` to every subscription of `state`.
    pub fn order_changed(
        &self,
        state: &MockState,
        shop_id: u64,
        order: &Order,
        change: OrderChange,
    ) {
        let event_type = match change {
            OrderChange::Created => "order.paid",
            OrderChange::Cancelled => "order.canceled",
        };
        let resource_url = format!(
            "{}/v3/application/shops/{shop_id}/receipts/{}",
            state.base_url(),
            order.order_id
        );
        let payload = json!({
            "event_type": event_type,
            "resource_url": resource_url,
            "shop_id": shop_id,
        });
        let Ok(body) = serde_json::to_vec(&payload) else {
            return;
        };
        let body = Bytes::from(body);
        let number = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!(
            "msg_{:08x}{number:016x}",
            state.options().seed & 0xffff_ffff
        );
        let timestamp = state.now().timestamp();
        for subscription in state.webhooks().subscriptions() {
            let Some(signature) = sign(&subscription.secret, &id, timestamp, &body) else {
                continue;
            };
            state.webhooks().enqueue(Delivery {
                url: subscription.url,
                headers: headers(&id, timestamp, signature),
                body: body.clone(),
                attempt: 0,
            });
        }
    }
}

fn headers(id: &str, timestamp: i64, signature: String) -> Vec<(String, String)> {
    vec![
        ("content-type".to_string(), "application/json".to_string()),
        (header::ID.to_string(), id.to_string()),
        (header::TIMESTAMP.to_string(), timestamp.to_string()),
        (header::SIGNATURE.to_string(), signature),
    ]
}

/// Signs a retry anew at `state`'s now. The hub keeps no secret per delivery: the secret of the
/// receiver's subscription that made the delivery's first signature signs the retry (a delivery
/// whose subscription is gone is retried as it was, and its receiver refuses it as stale).
pub fn resign(state: &MockState, delivery: &mut Delivery) {
    let (Some(id), Some(sent), Some(signature)) = (
        delivery.header(header::ID),
        delivery
            .header(header::TIMESTAMP)
            .and_then(|t| t.parse::<i64>().ok()),
        delivery.header(header::SIGNATURE),
    ) else {
        return;
    };
    let Some(secret) = state
        .webhooks()
        .secret_that_signed(&delivery.url, |secret| {
            sign(secret, id, sent, &delivery.body).as_deref() == Some(signature)
        })
    else {
        return;
    };
    let now = state.now().timestamp();
    let Some(fresh) = sign(&secret, id, now, &delivery.body) else {
        return;
    };
    delivery.headers = headers(id, now, fresh);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The Standard Webhooks specification's example (the connector's tests use it too).
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            )
            .as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-whsec", "msg", 1, b"{}"), None);
        assert!(check_secret("whsec_").is_err());
        assert!(check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    }

    #[test]
    fn a_retry_is_signed_anew_at_its_own_time_with_its_id() {
        use std::sync::Arc;

        use crate::platforms::etsy::connector::notify::{verify, SignatureHeaders};
        use crate::platforms::mock::MockOptions;

        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let options = MockOptions::default();
        let mock = super::super::EtsyMock::new(&options, Default::default()).unwrap();
        let state = MockState::new(Arc::new(mock), options);
        let url = "http://127.0.0.1:9/hook";
        state.webhooks().subscribe(url, "whsec_AAAA").unwrap();
        state.webhooks().subscribe(url, secret).unwrap();
        let body = Bytes::from_static(br#"{"event_type":"order.paid"}"#);
        let hour_ago = state.now().timestamp() - 3_600;
        let signature = sign(secret, "msg_1", hour_ago, &body).unwrap();
        let mut delivery = Delivery {
            url: url.to_string(),
            headers: headers("msg_1", hour_ago, signature),
            body,
            attempt: 3,
        };
        let checked = |delivery: &Delivery| {
            let headers = SignatureHeaders {
                id: delivery.header(header::ID),
                timestamp: delivery.header(header::TIMESTAMP),
                signature: delivery.header(header::SIGNATURE),
            };
            verify(secret, headers, &delivery.body, chrono::Utc::now())
        };
        assert!(checked(&delivery).is_err(), "an hour old: a replay");
        resign(&state, &mut delivery);
        assert_eq!(checked(&delivery), Ok(()));
        assert_eq!(delivery.header(header::ID), Some("msg_1"));
        assert_eq!(delivery.attempt, 3);
    }

    #[test]
    fn the_schedule_is_etsys_compressed_to_about_two_minutes() {
        let schedule = retry_schedule();
        assert_eq!(schedule.retries(), 8);
        assert_eq!(schedule.wait_after(0), Some(Duration::ZERO));
        let total = schedule.total();
        assert!(
            total > Duration::from_secs(115) && total < Duration::from_secs(125),
            "{total:?}"
        );
    }
}
