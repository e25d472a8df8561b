//! The Walmart mock's order notifications (reference/marketplace-apis.md §4.2): the Notifications
//! API's `ORDER_UPDATES` event, posted to every subscription the way its destination
//! authenticates, through the shared webhook sender (retries on [`RetrySchedule::walmart`],
//! duplicates and reordering as fault knobs).
//!
//! Decisions where the reference is unsure ([U]) or silent:
//!
//! - **Payload.** `{source: {eventType: "ORDER_UPDATES", eventTime, eventId}, payload:
//!   {subEventType, partnerId, purchaseOrderId, customerOrderId, orderLines}}` (§4.2). The
//!   reference stops at `orderLines[{lineNumber, sku, …}]`; each line here carries `lineNumber`
//!   and `sku` as the order API writes them, `orderLineQuantity {unitOfMeasurement, amount}` (the
//!   order API's field, amount as text) and `orderLineStatus` (`Created` or `Cancelled`). A
//!   notice only says which purchase order changed: a receiver reads the PO
//!   (`GET /v3/orders/{purchaseOrderId}`) for what to apply.
//! - **Sub-events.** A placed order sends `PO_CREATED`. The mock's cancellation is final at once,
//!   so each of the three cancellation sub-events announces a cancelled PO; they take turns by
//!   order number (`PO_LINE_AUTOCANCELLED`, `INTENT_TO_CANCEL`, `FRAUD_CANCEL`) so that a receiver
//!   sees all three.
//! - **Authentication** is the subscription's `auth` (`POST /_mock/webhooks`): `basic` (the
//!   secret is `user:password`, sent as `Authorization: Basic base64(user:password)`) or `hmac`
//!   (the secret is the client secret). **The default is `hmac`**: of the two it alone covers the
//!   body and a time, so a changed or replayed delivery is refused; basic auth must be asked for.
//! - **HMAC [U].** The third-party canonical string of §4.2, `POST\n{path?query}\n{timestamp}\n
//!   {hex SHA-256 of the body}`, HMAC-SHA256 with the client secret, base64 in `WM_SEC.SIGNATURE`,
//!   the time in `WM_SEC.TIMESTAMP` (unix milliseconds): the same reading as the connector's
//!   `walmart::connector::notify::HmacScheme`, written again here so that the two stay
//!   independent readings of the reference. Each attempt is signed when it is sent, so a retry
//!   carries a fresh timestamp.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix_web::web::Bytes;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::{customer_order_id, WalmartMock, PARTNER_ID};
use crate::platforms::mock::world::{Order, OrderChange};
use crate::platforms::mock::{rfc3339, Delivery, MockError, MockState, SignAttempt, WebhookAuth};

/// The auth of a subscription that chose none.
pub const DEFAULT_AUTH: WebhookAuth = WebhookAuth::Hmac;
/// The event type sent.
pub const EVENT_TYPE: &str = "ORDER_UPDATES";
/// The sub-events of a cancellation, in turn by order number.
pub const CANCEL_SUB_EVENTS: [&str; 3] =
    ["PO_LINE_AUTOCANCELLED", "INTENT_TO_CANCEL", "FRAUD_CANCEL"];

/// Refuses a basic-auth secret that is not `user:password`.
pub fn check_subscription(auth: Option<WebhookAuth>, secret: &str) -> Result<(), MockError> {
    let basic_ok = secret
        .split_once(':')
        .is_some_and(|(user, _)| !user.is_empty());
    if auth == Some(WebhookAuth::Basic) && !basic_ok {
        return Err(MockError::BadControlRequest {
            message: "a basic-auth secret is user:password".to_string(),
        });
    }
    Ok(())
}

/// The `ORDER_UPDATES` body for `change` of `order`.
fn body(mock: &WalmartMock, order: &Order, change: OrderChange, event: u64) -> Bytes {
    let (sub_event, status) = match change {
        OrderChange::Created => ("PO_CREATED", "Created"),
        OrderChange::Cancelled => (
            CANCEL_SUB_EVENTS[(order.number % CANCEL_SUB_EVENTS.len() as u64) as usize],
            "Cancelled",
        ),
    };
    let event_id = format!("{:08x}-0000-4000-8000-{event:012x}", mock.seed as u32);
    let notice = json!({
        "source": {
            "eventType": EVENT_TYPE,
            "eventTime": rfc3339(order.updated_at),
            "eventId": event_id,
        },
        "payload": {
            "subEventType": sub_event,
            "partnerId": PARTNER_ID,
            "purchaseOrderId": order.order_id,
            "customerOrderId": customer_order_id(order),
            "orderLines": [{
                "lineNumber": "1",
                "sku": order.sku,
                "orderLineQuantity": {
                    "unitOfMeasurement": "EACH",
                    "amount": order.quantity.to_string(),
                },
                "orderLineStatus": status,
            }],
        },
    });
    Bytes::from(notice.to_string())
}

/// Queues the notification of `change` to every subscription, authenticated its way.
pub fn send(mock: &WalmartMock, state: &MockState, order: &Order, change: OrderChange) {
    let event = mock.events.fetch_add(1, Ordering::Relaxed);
    let body = body(mock, order, change, event);
    for subscription in state.webhooks().subscriptions() {
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        let mut signer: Option<Arc<dyn SignAttempt>> = None;
        match subscription.auth.unwrap_or(DEFAULT_AUTH) {
            WebhookAuth::Basic => headers.push((
                "Authorization".to_string(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(&subscription.secret)
                ),
            )),
            WebhookAuth::Hmac => {
                // The hub refused a URL that does not parse when it was subscribed.
                let Ok(url) = reqwest::Url::parse(&subscription.url) else {
                    continue;
                };
                let path_and_query = match url.query() {
                    Some(query) => format!("{}?{query}", url.path()),
                    None => url.path().to_string(),
                };
                signer = Some(Arc::new(HmacSigner {
                    secret: subscription.secret.clone(),
                    path_and_query,
                }));
            }
        }
        state.webhooks().enqueue(Delivery {
            url: subscription.url,
            headers,
            body: body.clone(),
            attempt: 0,
            signer,
        });
    }
}

/// Signs each attempt with the client secret at the time it is sent.
struct HmacSigner {
    secret: String,
    path_and_query: String,
}

impl std::fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("HmacSigner")
            .field("path_and_query", &self.path_and_query)
            .finish_non_exhaustive()
    }
}

impl SignAttempt for HmacSigner {
    fn headers(&self, body: &[u8], now: DateTime<Utc>) -> Vec<(String, String)> {
        let timestamp = now.timestamp_millis().to_string();
        let body_hash = hex(&Sha256::digest(body));
        let signed = format!("POST\n{}\n{timestamp}\n{body_hash}", self.path_and_query);
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.secret.as_bytes()).expect("any key length");
        mac.update(signed.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        vec![
            ("WM_SEC.TIMESTAMP".to_string(), timestamp),
            ("WM_SEC.SIGNATURE".to_string(), signature),
        ]
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_needs_a_user_and_a_password() {
        assert!(check_subscription(Some(WebhookAuth::Basic), "walmart:s3cret").is_ok());
        for bad in ["s3cret", ":s3cret"] {
            assert!(
                check_subscription(Some(WebhookAuth::Basic), bad).is_err(),
                "{bad}"
            );
        }
        assert!(check_subscription(Some(WebhookAuth::Hmac), "client-secret").is_ok());
        assert!(check_subscription(None, "client-secret").is_ok());
    }

    #[test]
    fn the_signer_never_shows_its_secret() {
        let signer = HmacSigner {
            secret: "client-secret".into(),
            path_and_query: "/hook".into(),
        };
        assert!(!format!("{signer:?}").contains("client-secret"));
    }
}
