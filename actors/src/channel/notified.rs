//! The ChannelActor's reads of notified orders: a marketplace's notification named an order (a
//! thin notice: Etsy's receipt, eBay's order, Walmart's purchase order, Amazon's order, TikTok
//! Shop's order), and the channel reads it through its connection within the budget's share for
//! such reads ([`Operation::ReadNotifiedOrder`]), then hands the events back to whoever received
//! the notification; that caller applies them to the ledger under the same idempotency keys as
//! the polled feed's and only then acknowledges the delivery (so an acknowledged notification is
//! never lost, and one that is not acknowledged is sent again by the platform, while the poll
//! backstop reads the same order in any case).
//!
//! The read waits for the budget at most [`NOTIFIED_READ_MAX_WAIT`]: a delivery is an open HTTP
//! request the platform times out (Shopify gives 5 s, reliability §3.2), and a longer wait
//! is better spent by the platform's own retry, so the caller is told when to come back.

use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use super::marketplace::{MarketplaceError, OrderEvent, OrderEventKind};
use super::messages::{NotifiedOrder, NotifiedReadError, ReadNotifiedOrder};
use super::ChannelActor;
use crate::ratelimit::Operation;

/// The longest a read of a notified order waits for its budget before the caller is told to come
/// back later.
pub const NOTIFIED_READ_MAX_WAIT: Duration = Duration::from_secs(2);

impl Handler<ReadNotifiedOrder> for ChannelActor {
    type Result = ResponseActFuture<Self, Result<NotifiedOrder, NotifiedReadError>>;

    fn handle(&mut self, message: ReadNotifiedOrder, _ctx: &mut Context<Self>) -> Self::Result {
        let key = self.request_key(Operation::ReadNotifiedOrder);
        let cost = self.limiters.effective_spec(&key).call_cost;
        let limiters = self.limiters.clone();
        let marketplace = self.marketplace.clone();
        let deadline = Instant::now() + NOTIFIED_READ_MAX_WAIT;
        let read = async move {
            // Bounded: each turn either takes the budget, or sleeps until the limiter's word on
            // when a cell frees and the deadline is not passed, or gives up.
            loop {
                match limiters.check(&key, cost) {
                    Ok(()) => break,
                    Err(wait) if Instant::now() + wait.duration <= deadline => {
                        tokio::time::sleep(wait.duration).await;
                    }
                    Err(wait) => return Err(NotifiedReadError::Busy(wait.duration)),
                }
            }
            marketplace
                .fetch_order(message.order_id)
                .await
                .map_err(NotifiedReadError::Marketplace)
        };
        Box::pin(
            actix::fut::wrap_future::<_, Self>(read)
                .map(|result, actor, ctx| actor.on_notified_read(result, ctx)),
        )
    }
}

impl ChannelActor {
    /// The read answered: the marketplace's own sales in it are noted on the queue before the
    /// ledger hears of them (as for a polled page), and the call counted like any other.
    fn on_notified_read(
        &mut self,
        result: Result<Vec<OrderEvent>, NotifiedReadError>,
        _ctx: &mut Context<Self>,
    ) -> Result<NotifiedOrder, NotifiedReadError> {
        let events = match result {
            Ok(events) => events,
            Err(NotifiedReadError::Marketplace(error)) => {
                self.heard(Operation::ReadNotifiedOrder, Err(&error));
                let retry_after = self.delay_after(Operation::ReadNotifiedOrder, &error, 0);
                return Err(match error {
                    MarketplaceError::Throttled { .. } => NotifiedReadError::Busy(retry_after),
                    error => NotifiedReadError::Marketplace(error),
                });
            }
            Err(busy) => return Err(busy),
        };
        self.heard(Operation::ReadNotifiedOrder, Ok(()));
        for event in &events {
            if self.seen.first_sight(event) && event.kind == OrderEventKind::Sale {
                self.queue.note_unplaced_sale(&event.sku, event.quantity);
            }
        }
        self.counters.notified_reads += 1;
        Ok(NotifiedOrder { events })
    }
}
