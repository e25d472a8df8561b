//! What the connector tests share: a push of one item, a burst of reads, and what they assert of an order feed
//! read through a connector against its mock.

use std::borrow::Borrow;
use std::sync::Arc;
use std::time::Duration;

use shelfsync_actors::channel::marketplace::{
    Marketplace, MarketplaceError, OrderEvent, OrderEventKind, OrderPage, PushOutcome,
};
use shelfsync_actors::testing::{item, sku};

/// Pushes `quantity` units of `sku` alone (no compare-and-set) through `market`.
pub async fn push_one(
    market: &Arc<dyn Marketplace>,
    sku: &str,
    quantity: u32,
) -> Result<Vec<PushOutcome>, MarketplaceError> {
    market.push_quantities(vec![item(sku, quantity)]).await
}

/// Reads `sku_text` through `market` up to `calls` times, back to back; the first error (a
/// throttle, where the burst overflows the platform's limit), if any.
pub async fn first_read_error(
    market: &Arc<dyn Marketplace>,
    sku_text: &str,
    calls: usize,
) -> Option<MarketplaceError> {
    for _ in 0..calls {
        if let Err(error) = market.read_quantities(vec![sku(sku_text)]).await {
            return Some(error);
        }
    }
    None
}

/// The wait a throttle names; anything else (no error, another error, a throttle without a
/// wait) fails the test with `what` was expected.
pub fn throttle_wait(error: Option<MarketplaceError>, what: &str) -> Duration {
    let Some(MarketplaceError::Throttled {
        retry_after: Some(wait),
    }) = error
    else {
        panic!("{what}: {error:?}");
    };
    wait
}

/// Asserts that `page` holds one event: the sale of `quantity` units of `sku` in `order_id`, at
/// the order's first version (`placed`).
pub fn assert_one_sale(page: &OrderPage, order_id: &str, sku: &str, quantity: u32) {
    assert_eq!(page.events.len(), 1, "{page:?}");
    let sale = &page.events[0];
    assert_eq!(
        (
            sale.external_order_id.as_str(),
            sale.sku.as_str(),
            sale.kind,
            sale.quantity,
            sale.version.as_str()
        ),
        (order_id, sku, OrderEventKind::Sale, quantity, "placed")
    );
}

/// Asserts that an order read again after its cancellation gives its sale, the very `sale` read
/// before (so the same idempotency key), then the cancel.
pub fn assert_read_again_with_cancel<E: Borrow<OrderEvent>>(events: &[E], sale: &OrderEvent) {
    let kinds: Vec<OrderEventKind> = events.iter().map(|event| event.borrow().kind).collect();
    assert_eq!(
        kinds,
        [OrderEventKind::Sale, OrderEventKind::Cancel],
        "the order is read again with its cancellation"
    );
    assert_eq!(
        events[0].borrow(),
        sale,
        "the same sale event, so the same idempotency key"
    );
}

/// The events of `order_id` among `events`.
pub fn of_order<'e>(events: &'e [OrderEvent], order_id: &str) -> Vec<&'e OrderEvent> {
    events
        .iter()
        .filter(|event| event.external_order_id == order_id)
        .collect()
}
