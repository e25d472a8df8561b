//! Amazon's order notifications (issue 14; reference/marketplace-apis.md §3.2). SP-API sends
//! `ORDER_CHANGE` only to SQS or EventBridge; an agency routes the seller's EventBridge events to
//! shelfsync with an **API destination**, an HTTP POST of the EventBridge event that carries the
//! destination connection's authorization header.
//!
//! Decisions:
//!
//! - **Authentication**: the connection's API key header (or a basic-auth `Authorization`, the
//!   same comparison) is checked against the channel's notification secret in constant time
//!   ([`same_secret`]). EventBridge does not sign the body, so the secret header is all there is;
//!   it travels only over the agency's HTTPS endpoint. An API-key connection names its header
//!   freely; shelfsync's is [`CONNECTION_HEADER`] (`x-api-key`), the name the agency gives the
//!   connection.
//! - **Payload**: the event's `detail` is the SP-API notification (`NotificationType`, `Payload`).
//!   An `ORDER_CHANGE` names the order (`AmazonOrderId`) and summarises its items; the connector
//!   reads the order's items with `getOrderItems` within its budget, so the summary only decides
//!   whether there is anything to read. Any other notification type is acknowledged and ignored.

use serde::Deserialize;

use crate::platforms::notify::{
    self as platform_notify, named_order_id, same_secret, Delivery, ReceiveFuture, Recipient,
    Refusal,
};

/// The header of the API destination's connection (an API-key connection whose key is the
/// channel's notification secret).
pub const CONNECTION_HEADER: &str = "x-api-key";

/// Why a delivery is not authentic (only logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The connection's header is missing.
    #[error("the connection's authorization header is missing")]
    MissingHeader,
    /// It does not match the channel's secret.
    #[error("the connection's authorization header does not match")]
    Mismatch,
}

/// Checks the API destination connection's header value against the channel's secret.
pub fn verify_connection(header: Option<&str>, secret: &str) -> Result<(), NotifyError> {
    let given = header.ok_or(NotifyError::MissingHeader)?;
    if same_secret(given.trim().as_bytes(), secret.as_bytes()) {
        Ok(())
    } else {
        Err(NotifyError::Mismatch)
    }
}

/// An EventBridge event as an API destination posts it (only what is read).
#[derive(Debug, Deserialize)]
struct Event {
    detail: Notification,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Notification {
    notification_type: String,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Payload {
    order_change_notification: Option<OrderChange>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrderChange {
    amazon_order_id: String,
}

/// What an authentic event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Read this order's items.
    Order {
        /// The `AmazonOrderId`.
        amazon_order_id: String,
    },
    /// A notification type that moves no stock here (acknowledged).
    Ignored(String),
}

/// Why an authentic event cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event is not an SP-API notification: {0}")]
pub struct EventError(String);

/// Reads an authentic EventBridge event.
pub fn read_event(body: &[u8]) -> Result<Notice, EventError> {
    let event: Event =
        serde_json::from_slice(body).map_err(|error| EventError(error.to_string()))?;
    let notification = event.detail;
    if notification.notification_type != "ORDER_CHANGE" {
        return Ok(Notice::Ignored(notification.notification_type));
    }
    let id = notification
        .payload
        .and_then(|payload| payload.order_change_notification)
        .map(|order| order.amazon_order_id);
    let id = named_order_id(id, "AmazonOrderId").map_err(EventError)?;
    Ok(Notice::Order {
        amazon_order_id: id,
    })
}

/// Amazon's [`Receive`](crate::platforms::notify::Receive): the connection's header compared with
/// the channel's secret in constant time, then the order an `ORDER_CHANGE` names (any other
/// notification type is acknowledged). EventBridge signs nothing, so no replay window applies:
/// a replayed event only reads an order again, which changes nothing in the ledger.
pub fn receive<'a>(delivery: Delivery<'a>, recipient: Recipient<'a>) -> ReceiveFuture<'a> {
    let outcome = verify_connection(delivery.header(CONNECTION_HEADER), recipient.secret)
        .map_err(|error| match error {
            NotifyError::MissingHeader => Refusal::MissingHeader(CONNECTION_HEADER),
            NotifyError::Mismatch => Refusal::BadSignature,
        })
        .map(|()| match read_event(delivery.body) {
            Ok(Notice::Order { amazon_order_id }) => {
                platform_notify::Notice::Read(vec![amazon_order_id])
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

    fn event(detail: serde_json::Value) -> Vec<u8> {
        json!({
            "version": "0", "id": "5d5f4b1e-0000-0000-0000-000000000000",
            "detail-type": "ORDER_CHANGE", "source": "aws.partner/sellingpartnerapi.amazon",
            "account": "123456789012", "time": "2026-12-03T10:00:00Z", "region": "us-east-1",
            "resources": [], "detail": detail,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn an_order_change_names_the_order_to_read() {
        let body = event(json!({
            "NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE",
            "Payload": {"OrderChangeNotification": {
                "AmazonOrderId": "902-3159896-1390916", "OrderChangeType": "OrderStatusChange",
                "Summary": {"OrderItems": [{"SellerSKU": "ACME-MUG", "Quantity": 1}]}}}
        }));
        assert_eq!(
            read_event(&body),
            Ok(Notice::Order {
                amazon_order_id: "902-3159896-1390916".into()
            })
        );
    }

    #[test]
    fn other_types_are_ignored_and_bad_events_refused() {
        let body = event(
            json!({"NotificationType": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
                                "Payload": {"Sku": "ACME-MUG", "Quantity": 3}}),
        );
        assert_eq!(
            read_event(&body),
            Ok(Notice::Ignored("LISTINGS_ITEM_MFN_QUANTITY_CHANGE".into()))
        );
        for detail in [
            json!({"NotificationType": "ORDER_CHANGE"}),
            json!({"NotificationType": "ORDER_CHANGE", "Payload": {}}),
            json!({"NotificationType": "ORDER_CHANGE",
                   "Payload": {"OrderChangeNotification": {"AmazonOrderId": "../../listings"}}}),
        ] {
            assert!(read_event(&event(detail.clone())).is_err(), "{detail}");
        }
        assert!(read_event(b"[]").is_err());
    }

    #[test]
    fn the_connection_header_must_be_the_channels_secret() {
        assert_eq!(verify_connection(Some("key-123"), "key-123"), Ok(()));
        assert_eq!(
            verify_connection(Some("key-124"), "key-123"),
            Err(NotifyError::Mismatch)
        );
        assert_eq!(
            verify_connection(None, "key-123"),
            Err(NotifyError::MissingHeader)
        );
    }
}
