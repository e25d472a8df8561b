//! The settings of a marketplace connection and its view of the client's ledger.

use std::time::Duration;

use actix::prelude::*;

use super::policy::ListingPolicy;
use super::scheduler::PushOrder;
use crate::ids::{ChannelId, ClientCode};
use crate::inventory::messages::{
    ApplyMovements, GetChannelLedgerRecord, GetStock, RecordListingEvents, RecordListings,
    Subscribe,
};
use crate::inventory::InventoryActor;
use crate::platform::Platform;
use crate::ratelimit::{AppId, BackoffConfig, RateLimitOverrides};

/// Settings of one marketplace connection.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// Whose connection.
    pub client: ClientCode,
    /// Its id within the client.
    pub channel: ChannelId,
    /// The platform it speaks.
    pub platform: Platform,
    /// The marketplace app whose budget it draws on (shared by every client using that app on
    /// platforms that scope limits per app).
    pub app: AppId,
    /// How `available` becomes the listed quantity.
    pub policy: ListingPolicy,
    /// Risk-first (the service) or FIFO (the bench's baseline).
    pub order: PushOrder,
    /// Overrides of the platform's default rate limits.
    pub rate_limit: RateLimitOverrides,
    /// How often the order feed is read when it has nothing more (at most: the poll's part of
    /// the budget may make it rarer, see `ratelimit::Bucket::operation_share`).
    pub poll_interval: Duration,
    /// How long a listing may go without the marketplace showing its quantity before it is read
    /// back (at most: the read-back's part of the budget may make it longer, which the gauge of
    /// the oldest unverified listing shows).
    pub reconcile_interval: Duration,
    /// A change pending for longer than this is logged at `warn` with the reason the channel
    /// waits, and counted in `shelfsync_channel_stalls_total`.
    pub stall_warning_after: Duration,
    /// Mailbox capacity.
    pub mailbox_capacity: usize,
    /// Backoff after failed calls.
    pub backoff: BackoffConfig,
    /// Seed of the backoff's jitter.
    pub seed: u64,
}

impl ChannelConfig {
    /// A connection with the defaults: full listing policy, risk-first order, the platform's
    /// default limits, the order feed read every 5 s, every listing verified at least every
    /// 5 min, a warning for a change pending a minute.
    pub fn new(client: ClientCode, channel: ChannelId, platform: Platform) -> Self {
        Self {
            client,
            channel,
            platform,
            app: AppId::new("default"),
            policy: ListingPolicy::default(),
            order: PushOrder::RiskFirst,
            rate_limit: RateLimitOverrides::default(),
            poll_interval: Duration::from_secs(5),
            reconcile_interval: Duration::from_secs(300),
            stall_warning_after: DEFAULT_STALL_WARNING,
            mailbox_capacity: 1024,
            backoff: BackoffConfig::default(),
            seed: 0,
        }
    }
}

/// The default of [`ChannelConfig::stall_warning_after`].
pub const DEFAULT_STALL_WARNING: Duration = Duration::from_secs(60);

/// The channel's view of its client's ledger: the InventoryActor's messages it uses, as
/// recipients, so a test can stand a fake ledger in for the real one.
#[derive(Debug, Clone)]
pub struct LedgerPort {
    /// Applies order pages with their cursor.
    pub apply: Recipient<ApplyMovements>,
    /// Persists confirmed listed quantities.
    pub record_listings: Recipient<RecordListings>,
    /// Appends to the listing history (pushes sent or refused, drifted reads).
    pub record_events: Recipient<RecordListingEvents>,
    /// Recovers the channel's cursor and confirmed listings.
    pub channel_record: Recipient<GetChannelLedgerRecord>,
    /// Reads the stock.
    pub stock: Recipient<GetStock>,
    /// Subscribes to durable stock changes.
    pub subscribe: Recipient<Subscribe>,
}

impl LedgerPort {
    /// The port onto a client's InventoryActor.
    pub fn of(inventory: &Addr<InventoryActor>) -> Self {
        Self {
            apply: inventory.clone().recipient(),
            record_listings: inventory.clone().recipient(),
            record_events: inventory.clone().recipient(),
            channel_record: inventory.clone().recipient(),
            stock: inventory.clone().recipient(),
            subscribe: inventory.clone().recipient(),
        }
    }
}
