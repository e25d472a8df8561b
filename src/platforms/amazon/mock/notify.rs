//! The Amazon mock's order notifications (reference/marketplace-apis.md §3.2). SP-API sends
//! `ORDER_CHANGE` only to SQS or EventBridge; an agency routes the seller's EventBridge events to
//! shelfsync with an **API destination**, which POSTs each event as EventBridge holds it. The
//! mock plays the whole path: on every order placed or cancelled it posts that event to each
//! subscription through the shared webhook sender.
//!
//! Decisions where the reference is unsure ([U]) or silent:
//!
//! - **Timing.** The event is sent at once: the notification has none of `getOrders`' two-minute
//!   lag (the mock's `orders_lag`), which is why it is worth receiving.
//! - **Authentication.** An API destination's connection adds its own header to every request;
//!   the mock sends the subscription's secret as an API-key connection does, in [`API_KEY_HEADER`]
//!   (`x-api-key`). The subscription has no `auth` choice (it is refused). EventBridge signs
//!   nothing.
//! - **Retries** ([U], `RetrySchedule::amazon_eventbridge`): 185 attempts within 24 hours,
//!   compressed like Shopify's to about 12 minutes; a 4xx other than 401, 407, 409 and 429
//!   drops the event at once, as API destinations do.
//! - **Event.** `{version: "0", id, detail-type: "ORDER_CHANGE", source:
//!   "aws.partner/sellingpartnerapi.amazon", account, time, region, resources: [], detail}`, the
//!   `time` in whole seconds as EventBridge writes it; `detail` is the SP-API notification
//!   (`NotificationVersion`, `NotificationType`, `PayloadVersion`, `EventTime`, `Payload:
//!   {OrderChangeNotification: {NotificationLevel, SellerId, AmazonOrderId, OrderChangeType:
//!   "OrderStatusChange", OrderChangeTrigger: {TimeOfOrderChange, ChangeReason}, Summary:
//!   {MarketplaceId, OrderStatus, PurchaseDate, FulfillmentType, OrderType, OrderItems:
//!   [{OrderItemId, SellerSKU, Quantity}]}}}`, `NotificationMetadata`). A cancellation's reason
//!   is "Buyer Requested Cancel" and its item says `IsBuyerRequestedCancel`.

use actix_web::web::Bytes;
use serde_json::json;

use super::orders::order_status;
use super::{order_item_id, AmazonMock, MARKETPLACE_ID, SELLER_ID};
use crate::platforms::mock::world::{Order, OrderChange};
use crate::platforms::mock::{rfc3339, Delivery, MockState};

/// The header the API destination's connection carries the secret in.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The AWS account of the seller's event bus.
pub const ACCOUNT: &str = "123456789012";
/// The partner event source of SP-API.
pub const SOURCE: &str = "aws.partner/sellingpartnerapi.amazon";

/// The EventBridge event of `change` of `order`.
fn event(mock: &AmazonMock, order: &Order, change: OrderChange) -> Bytes {
    let cancelled = change == OrderChange::Cancelled;
    let reason = if cancelled {
        "Buyer Requested Cancel"
    } else {
        "Order placed"
    };
    let at = rfc3339(order.updated_at);
    let event = json!({
        "version": "0",
        "id": mock.next_id(),
        "detail-type": "ORDER_CHANGE",
        "source": SOURCE,
        "account": ACCOUNT,
        "time": order.updated_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "NotificationVersion": "1.0",
            "NotificationType": "ORDER_CHANGE",
            "PayloadVersion": "1.0",
            "EventTime": at,
            "Payload": { "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": SELLER_ID,
                "AmazonOrderId": order.order_id,
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": { "TimeOfOrderChange": at, "ChangeReason": reason },
                "Summary": {
                    "MarketplaceId": MARKETPLACE_ID,
                    "OrderStatus": order_status(order),
                    "PurchaseDate": rfc3339(order.created_at),
                    "FulfillmentType": "MFN",
                    "OrderType": "StandardOrder",
                    "OrderItems": [{
                        "OrderItemId": order_item_id(order.number),
                        "SellerSKU": order.sku,
                        "Quantity": order.quantity,
                        "IsBuyerRequestedCancel": cancelled,
                    }],
                },
            }},
            "NotificationMetadata": {
                "ApplicationId": "amzn1.sp.solution.mock",
                "SubscriptionId": "mock-order-change",
                "PublishTime": at,
                "NotificationId": mock.next_id(),
            },
        },
    });
    Bytes::from(event.to_string())
}

/// Queues the event of `change` to every subscription, with its secret in the connection header.
pub fn send(mock: &AmazonMock, state: &MockState, order: &Order, change: OrderChange) {
    let body = event(mock, order, change);
    for subscription in state.webhooks().subscriptions() {
        state.webhooks().enqueue(Delivery {
            url: subscription.url,
            headers: vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                (
                    "User-Agent".to_string(),
                    "Amazon/EventBridge/ApiDestinations".to_string(),
                ),
                (API_KEY_HEADER.to_string(), subscription.secret),
            ],
            body: body.clone(),
            attempt: 0,
        });
    }
}
