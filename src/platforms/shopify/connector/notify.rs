//! Signed order webhooks (§1.2), received by the service's HTTP layer: the HMAC check and the
//! events of an `orders/create` or `orders/cancelled` body, the same events a poll gives.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use shelfsync_actors::channel::intake::{OrderIntake, UnusableOrder};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::inventory::exceptions::{bounded_text, UnapplicableReason};

use crate::platforms::connector::{line_events, PLACED};
use crate::platforms::notify::{Delivery, Notice, ReceiveFuture, Recipient, Refusal};

/// Whether `hmac_header` (`X-Shopify-Hmac-Sha256`) is the base64 HMAC-SHA256 of the raw body
/// keyed with the app's client secret (§1.2); compared in constant time. The MAC is computed over
/// the whole body before the header is even decoded, so an empty or malformed header costs what
/// a wrong one costs: an unauthenticated caller must not tell the cases apart by timing.
pub fn verify_webhook(secret: &[u8], raw_body: &[u8], hmac_header: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(raw_body);
    let claimed = base64::engine::general_purpose::STANDARD
        .decode(hmac_header.trim())
        .unwrap_or_default();
    mac.verify_slice(&claimed).is_ok()
}

/// Shopify's [`Receive`](crate::platforms::notify::Receive): the HMAC of the raw body with the
/// app's client secret, then the order of an `orders/create` or `orders/cancelled` body (any
/// other topic is acknowledged and ignored).
pub fn receive<'a>(delivery: Delivery<'a>, recipient: Recipient<'a>) -> ReceiveFuture<'a> {
    let hmac = delivery.header("x-shopify-hmac-sha256");
    let outcome = if !verify_webhook(
        recipient.secret.as_bytes(),
        delivery.body,
        hmac.unwrap_or_default(),
    ) {
        Err(match hmac {
            None => Refusal::MissingHeader("X-Shopify-Hmac-Sha256"),
            Some(_) => Refusal::BadSignature,
        })
    } else {
        let topic = delivery.header("x-shopify-topic").unwrap_or_default();
        Ok(match webhook_events(topic, delivery.body) {
            Ok(intake) => Notice::Orders(intake),
            Err(WebhookError::UnsupportedTopic(topic)) => Notice::Ignored(topic),
        })
    };
    Box::pin(std::future::ready(outcome))
}

/// Why a webhook delivery gives no order intake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A topic other than `orders/create` and `orders/cancelled` (acknowledge and ignore).
    #[error("webhook topic {0:?} is not handled")]
    UnsupportedTopic(String),
}

/// The longest piece of a line (a SKU, a quantity) quoted in an exception's detail.
const QUOTED_BYTES: usize = 40;

/// What an `orders/create` or `orders/cancelled` webhook body (the REST order JSON) tells:
/// the same events a poll gives for the same order (an order whose body shows `cancelled_at`
/// carries its cancellations whatever the topic, as a poll would), and everything that cannot be
/// an event, each with its reason: a body that is not an order object, an order without an id or
/// without line items, a line without SKU or with one the ledger does not accept, a quantity that
/// is negative, not an integer or above `u32` (zero and quantities above the ledger's bound are
/// events the ledger refuses, recorded the same way by the intake). Nothing is dropped: the
/// service records each problem as an order exception and acknowledges the delivery. Details
/// quote at most a short, cleaned piece of a line, never the body.
pub fn webhook_events(topic: &str, raw_body: &[u8]) -> Result<OrderIntake, WebhookError> {
    if !matches!(topic, "orders/create" | "orders/cancelled") {
        return Err(WebhookError::UnsupportedTopic(topic.to_string()));
    }
    let whole = |reason, order_id: Option<String>, detail: String| OrderIntake {
        unusable: vec![UnusableOrder {
            order_id,
            line: None,
            version: None,
            sku: None,
            quantity: None,
            reason,
            detail,
        }],
        ..OrderIntake::default()
    };
    let order = match serde_json::from_slice::<Value>(raw_body) {
        Ok(Value::Object(order)) => order,
        Ok(_) => {
            let detail = "the body is JSON but not an order object".to_string();
            return Ok(whole(UnapplicableReason::NotAnOrder, None, detail));
        }
        Err(error) => {
            let detail = format!(
                "the body is not JSON ({:?} error at line {}, column {})",
                error.classify(),
                error.line(),
                error.column()
            );
            return Ok(whole(UnapplicableReason::NotAnOrder, None, detail));
        }
    };
    let id = match order.get("id") {
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) if !text.is_empty() => text.clone(),
        _ => {
            let detail = "the order has no id".to_string();
            return Ok(whole(UnapplicableReason::InvalidOrderId, None, detail));
        }
    };
    let lines = match order.get("line_items") {
        Some(Value::Array(lines)) if !lines.is_empty() => lines,
        Some(Value::Array(_) | Value::Null) | None => {
            let detail = "the order has no line items".to_string();
            return Ok(whole(UnapplicableReason::NoLines, Some(id), detail));
        }
        Some(_) => {
            let detail = "line_items is not a list".to_string();
            return Ok(whole(UnapplicableReason::NotAnOrder, Some(id), detail));
        }
    };
    let cancelled = order
        .get("cancelled_at")
        .is_some_and(|cancelled_at| !cancelled_at.is_null());
    let mut intake = OrderIntake::default();
    for (index, line) in lines.iter().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        match usable_line(number, line) {
            Ok((sku, quantity)) => {
                intake
                    .events
                    .extend(line_events(&id, number, &sku, quantity, cancelled));
            }
            Err(mut unusable) => {
                unusable.order_id = Some(id.clone());
                intake.unusable.push(unusable);
            }
        }
    }
    Ok(intake)
}

/// The SKU and quantity of a webhook line item, or why it cannot be an event (order id left for
/// the caller to fill in).
fn usable_line(number: u32, line: &Value) -> Result<(Sku, u32), UnusableOrder> {
    let unusable = |reason, sku: Option<&str>, quantity, detail| UnusableOrder {
        order_id: None,
        line: Some(number),
        version: Some(PLACED.to_string()),
        sku: sku.map(str::to_string),
        quantity,
        reason,
        detail,
    };
    let quoted = |value: &Value| bounded_text(&value.to_string(), QUOTED_BYTES);
    let sku_text = match line.get("sku") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.as_str(),
        None | Some(Value::Null | Value::String(_)) => {
            let detail = format!("line {number} has no SKU");
            return Err(unusable(UnapplicableReason::MissingSku, None, None, detail));
        }
        Some(other) => {
            let detail = format!("line {number}: SKU {} is not text", quoted(other));
            return Err(unusable(UnapplicableReason::InvalidSku, None, None, detail));
        }
    };
    let sku = Sku::parse(sku_text).map_err(|error| {
        let detail = format!(
            "line {number}: SKU {:?} is not one the ledger accepts ({})",
            bounded_text(sku_text, QUOTED_BYTES),
            error.kind()
        );
        unusable(UnapplicableReason::InvalidSku, Some(sku_text), None, detail)
    })?;
    let quantity = line.get("quantity").unwrap_or(&Value::Null);
    let counted = quantity.as_i64();
    match counted.map(u32::try_from) {
        Some(Ok(units)) => Ok((sku, units)),
        _ => {
            let detail = format!(
                "line {number}: quantity {} is not a count of units",
                quoted(quantity)
            );
            Err(unusable(
                UnapplicableReason::QuantityOutOfRange,
                Some(sku_text),
                counted,
                detail,
            ))
        }
    }
}
