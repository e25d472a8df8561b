//! Messages of the ChannelActor. Notifications are past tense, self-ticks end in `Tick`, queries
//! are `Get*`. Stock changes arrive as the InventoryActor's
//! [`StockChanged`](crate::inventory::messages::StockChanged).

use actix::Message;
use serde::{Deserialize, Serialize};

use super::marketplace::{ListedQuantity, MarketplaceError, OrderEvent};
use super::scheduler::{PushOrder, QueueStats};
use super::waiting::WaitView;
use super::ChannelError;
use crate::ids::{ChannelId, ClientCode, Sku};
use crate::platform::Platform;

/// Tries to send the next batch of pushes (self-tick).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub(crate) struct PushTick;

/// Reads the next page of the order feed (self-tick).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub(crate) struct PollTick;

/// Reads listed quantities back and corrects drift (self-tick).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub(crate) struct ReconcileTick;

/// Returns the channel's observable state.
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "Result<ChannelState, ChannelError>")]
pub struct GetState;

/// What a ChannelActor is doing, for tests, the supervisor and the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    /// Whose channel.
    pub client: ClientCode,
    /// Which channel.
    pub channel: ChannelId,
    /// Its platform.
    pub platform: Platform,
    /// The push order in force.
    pub order: PushOrder,
    /// Exposure, pending changes and staleness.
    pub queue: QueueStats,
    /// Why pending changes are not being pushed right now (`None`: nothing is pending).
    pub waiting: Option<WaitView>,
    /// Why the order feed is not being read right now (the next poll's wait, or a poll in
    /// flight).
    pub feed: Option<WaitView>,
    /// Why reconciliation is not reading listings back right now.
    pub reconciliation: Option<WaitView>,
    /// Times a change stayed pending past the channel's limit (each logged at `warn`).
    pub stalls: u64,
    /// Push calls answered by the marketplace.
    pub push_calls: u64,
    /// Listings confirmed by those calls.
    pub confirmed_items: u64,
    /// Calls the marketplace throttled.
    pub throttled: u64,
    /// Calls that failed otherwise.
    pub failed: u64,
    /// Order-feed pages applied to the ledger.
    pub pages_applied: u64,
    /// Orders read because a notification named them.
    #[serde(default)]
    pub notified_reads: u64,
    /// The durable order-feed cursor.
    pub cursor: Option<String>,
    /// Listings whose marketplace quantity differed from the last confirmed one at a read-back.
    pub drift_corrected: u64,
    /// The last error, for a person (never a metric label).
    pub last_error: Option<String>,
    /// What the channel last heard from the marketplace: its last answer, its last live read
    /// and its last failure (the launch checklist's evidence).
    #[serde(default)]
    pub contact: super::contact::Contact,
}

/// Returns the channel's view of listings: of every SKU it lists, or only of the given ones.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<Vec<ListingView>, ChannelError>")]
pub struct GetListings {
    /// Only these SKUs (a SKU the channel does not list is left out).
    pub skus: Option<Vec<Sku>>,
}

/// One listing as the channel sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingView {
    /// The SKU.
    pub sku: Sku,
    /// The quantity the policy wants listed.
    pub target: u32,
    /// What the marketplace last confirmed (`None`: never confirmed).
    pub listed: Option<u32>,
    /// Whether the listing is out of step with the target (pending or in flight).
    pub pending: bool,
}

/// Adopts the quantities the marketplace lists now (a catalog exported from it), so that the
/// first targets push nothing where they match; answers how many listings were adopted.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<usize, ChannelError>")]
pub struct AdoptListed {
    /// What each listing shows; SKUs the connection does not list are ignored.
    pub listings: Vec<ListedQuantity>,
}

/// Reads one order a marketplace notification named, within the budget's share for such reads
/// (see [`super::notified`]); answers its events, for the caller to apply to the ledger.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<NotifiedOrder, NotifiedReadError>")]
pub struct ReadNotifiedOrder {
    /// The marketplace's id of the order, from an authenticated notification of this channel.
    pub order_id: String,
}

/// A notified order as the marketplace shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifiedOrder {
    /// Its events, with the feed's natural keys.
    pub events: Vec<OrderEvent>,
}

/// Why a notified order was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifiedReadError {
    /// The budget (or the marketplace's throttle) has no room before the wait the read may take;
    /// come back after the duration.
    #[error("the read of the notified order waits for its budget ({0:?})")]
    Busy(std::time::Duration),
    /// The marketplace refused or failed the read.
    #[error(transparent)]
    Marketplace(MarketplaceError),
}

/// Stops the channel (its supervisor replaces it with a new generation, or removes it).
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Makes the actor panic inside a handler: fault injection for the supervisor's tests.
#[cfg(any(test, feature = "testsuite"))]
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "()")]
pub struct InjectPanic;
