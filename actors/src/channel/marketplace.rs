//! The `Marketplace` port: what the engine needs of a marketplace connection. Connectors
//! (reqwest, in the service crate) and test fakes implement it; the ChannelActor only talks to
//! this trait.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::Sku;
use crate::platform::Platform;
// The error is the ground floor's, so that the rate limits can read a throttle out of it without
// importing the channel; the port's users keep naming it from here.
pub use crate::platform::{MarketplaceError, PermanentKind};

/// The future a marketplace call returns: boxed so that `dyn Marketplace` works, `Send` so that a
/// connector may run on any thread.
pub type MarketFuture<T> = Pin<Box<dyn Future<Output = Result<T, MarketplaceError>> + Send>>;

/// One listed quantity to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushItem {
    /// The SKU whose listing is set.
    pub sku: Sku,
    /// The quantity to list.
    pub quantity: u32,
    /// The quantity the marketplace last confirmed, for compare-and-set where the platform has
    /// it (`None` when never confirmed).
    pub previous: Option<u32>,
    /// The ledger sequence number the quantity was computed from (explainability).
    pub ledger_seq: u64,
}

/// What became of one item of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The marketplace now lists `quantity` (for platforms that apply asynchronously, such as
    /// Amazon's ACCEPTED, the connector confirms only once a read shows it).
    Confirmed {
        /// The SKU.
        sku: Sku,
        /// The quantity now listed.
        quantity: u32,
    },
    /// Compare-and-set lost: the listing no longer showed `previous` (the marketplace sold or
    /// someone edited it). `actual` is what it shows, when the reply says.
    Stale {
        /// The SKU.
        sku: Sku,
        /// The quantity the marketplace lists now, if known.
        actual: Option<u32>,
    },
    /// This item failed; the rest of the batch may have succeeded (eBay's 207).
    Failed {
        /// The SKU.
        sku: Sku,
        /// Why.
        error: MarketplaceError,
    },
}

/// A listed quantity read back from the marketplace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedQuantity {
    /// The SKU.
    pub sku: Sku,
    /// What the listing shows.
    pub quantity: u32,
}

/// What an order event does to stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderEventKind {
    /// Units sold.
    Sale,
    /// A sale cancelled before shipping.
    Cancel,
    /// A refunded order restocked.
    RefundRestock,
}

/// One line of an order event, with its natural key (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// The marketplace's order id.
    pub external_order_id: String,
    /// The line within the order.
    pub line: u32,
    /// The version of the event (for example `updated_at`), so a later change is a new event.
    pub version: String,
    /// The SKU of the line.
    pub sku: Sku,
    /// What happened.
    pub kind: OrderEventKind,
    /// Units.
    pub quantity: u32,
}

/// A page of order events since a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPage {
    /// The events, oldest first.
    pub events: Vec<OrderEvent>,
    /// The cursor to ask from next time; stored durably with the events it covers.
    pub next_cursor: String,
    /// True when more events are waiting beyond this page.
    pub more: bool,
    /// True when the connector answered without asking the marketplace, because the marketplace
    /// cannot show anything new yet (Amazon's order-visibility lag): counted as outcome
    /// `skipped`, never as a request.
    #[serde(default)]
    pub skipped: bool,
}

/// One marketplace connection of a client.
pub trait Marketplace: Send + Sync + std::fmt::Debug {
    /// The platform it speaks.
    fn platform(&self) -> Platform;

    /// Sets listed quantities; at most `platform().batch_size()` items. The outer error means the
    /// whole call failed; per-item results otherwise.
    fn push_quantities(&self, items: Vec<PushItem>) -> MarketFuture<Vec<PushOutcome>>;

    /// The calls beyond the push's own that pushing `items` will make, so that the channel
    /// charges them to the budget before it sends (a call not charged is a call the budget does
    /// not know, and a shared budget overspent draws 429s for every client on it). Etsy's
    /// inventory is replaced whole: a listing whose structure the connector does not hold from
    /// a recent read is read first, one more call. The default, 0: the push is one call.
    fn push_extra_calls(&self, items: &[PushItem]) -> u32 {
        let _ = items;
        0
    }

    /// Reads back what the listings of `skus` show (reconciliation).
    fn read_quantities(&self, skus: Vec<Sku>) -> MarketFuture<Vec<ListedQuantity>>;

    /// Fetches order events after `cursor` (`None`: from the start of the connection).
    fn fetch_orders(&self, cursor: Option<String>) -> MarketFuture<OrderPage>;

    /// Reads one order the marketplace notified (a thin notification names the order, not its
    /// lines: Etsy's receipt, eBay's order, Walmart's purchase order, Amazon's order items,
    /// TikTok Shop's order detail) and returns its events with the same natural keys (order id,
    /// line, version) as the polled feed gives for it, so that whichever arrives second changes
    /// nothing in the ledger. `order_id` was taken from an authenticated notification of this
    /// channel; the connector reads it from its own base URL, never from a URL in the payload.
    ///
    /// The default refuses as `Invalid`: a connection whose notifications carry whole orders
    /// (Shopify's webhooks) or that has none never reads single orders.
    fn fetch_order(&self, order_id: String) -> MarketFuture<Vec<OrderEvent>> {
        let platform = self.platform();
        Box::pin(async move {
            Err(MarketplaceError::Permanent {
                kind: PermanentKind::Invalid,
                message: format!("{platform} notifications carry whole orders; none is read by id ({order_id:?})"),
            })
        })
    }

    /// How long until the order feed can show anything after `cursor`, when the marketplace
    /// delays what it shows (Amazon lists an order only about two minutes after it was placed):
    /// the channel waits that long instead of spending a call of its budget on a page that
    /// cannot hold anything. `None` (the default): the feed may be read now.
    fn order_feed_ready_in(&self, cursor: Option<&str>) -> Option<Duration> {
        let _ = cursor;
        None
    }

    /// Tells whether `sku` has a listing on this connection. A client's catalog need not list
    /// every SKU everywhere; the channel keeps no target for (and never pushes) a SKU its
    /// connection does not list. The default lists every SKU (test fakes, single-catalog shops).
    fn lists(&self, sku: &Sku) -> bool {
        let _ = sku;
        true
    }
}
