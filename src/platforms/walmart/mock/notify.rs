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
//!   independent readings of the reference. A delivery is signed when it is queued and each
//!   retry again at its own time ([`resign`], the hub's `prepare_retry` like Etsy's and eBay's),
//!   so a retry carries a fresh timestamp.

use std::sync::atomic::Ordering;

use actix_web::web::Bytes;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::{customer_order_id, WalmartMock, PARTNER_ID};
use crate::platforms::mock::world::{Order, OrderChange};
use crate::platforms::mock::{rfc3339, Delivery, MockError, MockState, WebhookAuth};

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
    let now = state.now();
    for subscription in state.webhooks().subscriptions() {
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
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
                let Some(path_and_query) = path_and_query(&subscription.url) else {
                    continue;
                };
                let timestamp = now.timestamp_millis();
                let signature = sign(&subscription.secret, &path_and_query, timestamp, &body);
                headers.extend(signed_headers(timestamp, signature));
            }
        }
        state.webhooks().enqueue(Delivery {
            url: subscription.url,
            headers,
            body: body.clone(),
            attempt: 0,
        });
    }
}

/// Signs a retry of an HMAC-signed delivery again at `state`'s now: the subscription is the one
/// at the delivery's URL whose secret made its signature (a basic-auth delivery is sent as it
/// was).
pub fn resign(state: &MockState, delivery: &mut Delivery) {
    let (Some(sent), Some(signature)) = (
        delivery
            .header(TIMESTAMP_HEADER)
            .and_then(|sent| sent.parse::<i64>().ok()),
        delivery.header(SIGNATURE_HEADER),
    ) else {
        return;
    };
    let Some(path_and_query) = path_and_query(&delivery.url) else {
        return;
    };
    let Some(secret) = state
        .webhooks()
        .secret_that_signed(&delivery.url, |secret| {
            sign(secret, &path_and_query, sent, &delivery.body) == signature
        })
    else {
        return;
    };
    let now = state.now().timestamp_millis();
    let fresh = sign(&secret, &path_and_query, now, &delivery.body);
    delivery
        .headers
        .retain(|(key, _)| key != TIMESTAMP_HEADER && key != SIGNATURE_HEADER);
    delivery.headers.extend(signed_headers(now, fresh));
}

/// The header of the signed time (unix milliseconds).
const TIMESTAMP_HEADER: &str = "WM_SEC.TIMESTAMP";
/// The header of the signature.
const SIGNATURE_HEADER: &str = "WM_SEC.SIGNATURE";

fn signed_headers(timestamp: i64, signature: String) -> [(String, String); 2] {
    [
        (TIMESTAMP_HEADER.to_string(), timestamp.to_string()),
        (SIGNATURE_HEADER.to_string(), signature),
    ]
}

/// The path and query of `url`, as the canonical string signs them.
fn path_and_query(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    Some(match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    })
}

/// The [U] signature of `body` posted to `path_and_query` at `timestamp` (unix milliseconds).
fn sign(secret: &str, path_and_query: &str, timestamp: i64, body: &[u8]) -> String {
    let body_hash = hex(&Sha256::digest(body));
    let signed = format!("POST\n{path_and_query}\n{timestamp}\n{body_hash}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(signed.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
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
    fn the_signature_covers_the_path_the_time_and_the_body() {
        let signed = sign("client-secret", "/hook?a=1", 1_700_000_000_000, b"{}");
        assert_eq!(
            signed,
            sign("client-secret", "/hook?a=1", 1_700_000_000_000, b"{}")
        );
        for other in [
            sign("other-secret", "/hook?a=1", 1_700_000_000_000, b"{}"),
            sign("client-secret", "/hook", 1_700_000_000_000, b"{}"),
            sign("client-secret", "/hook?a=1", 1_700_000_000_001, b"{}"),
            sign("client-secret", "/hook?a=1", 1_700_000_000_000, b"[]"),
        ] {
            assert_ne!(signed, other);
        }
        assert_eq!(
            path_and_query("http://127.0.0.1:1/hook?a=1").unwrap(),
            "/hook?a=1"
        );
    }
}
