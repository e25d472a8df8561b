//! The ChannelActor: one marketplace connection of a client.
//!
//! Inbound, it reads the marketplace's order feed and applies each page to the ledger together
//! with the feed's cursor (one transaction: a cursor never advances past an order that is not in
//! the ledger). Outbound, it turns every durable stock change into a target listed quantity
//! ([`policy`]), keeps the push queue ([`scheduler`]: coalescing, risk-first order, no re-raise)
//! and pushes through the [`marketplace::Marketplace`] port as fast as the rate limiters allow
//! ([`crate::ratelimit`]), honouring the marketplace's own throttle and backing off on failures.
//! Periodically it reads listed quantities back and corrects drift.
//!
//! The actor only sequences calls and owns the queue; every decision lives in the plain modules
//! it calls. Confirmed listed quantities and the cursor are persisted through the client's
//! InventoryActor (the single writer of the client's tree), so a new generation of the actor
//! recovers them.

pub mod marketplace;
pub mod messages;
pub mod platform;
pub mod policy;
pub mod scheduler;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use self::marketplace::{
    Marketplace, MarketplaceError, OrderEvent, OrderEventKind, OrderPage, PushItem, PushOutcome,
};
use self::messages::{
    AdoptListed, ChannelState, GetListings, GetState, ListingView, PollTick, PushTick,
    ReconcileTick,
};
use self::platform::Platform;
use self::policy::{ListingPolicy, PolicyError};
use self::scheduler::{PushOrder, PushQueue};
use crate::clock::TokioClock;
use crate::ids::{ChannelId, ClientCode};
use crate::inventory::ledger::{IdempotencyKey, MovementInput};
use crate::inventory::messages::{
    ApplyMovements, ChannelRecord, GetChannelRecord, GetStock, RecordListings, StockChanged,
    StockLevel, Subscribe,
};
use crate::inventory::store::{
    ApplyOutcome, CursorUpdate, LedgerError, ListingRecord, ListingsUpdate,
};
use crate::inventory::{system_clock_ms, InventoryActor, InventoryError};
use crate::metrics::{self, label};
use crate::ratelimit::{
    AppId, Backoff, BackoffConfig, Operation, RateLimitConfigError, RateLimitOverrides,
    RateLimiters, RequestKey, ThrottleSignal,
};
use crate::runtime::BoundedStart;

/// Why a ChannelActor could not be built or could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChannelError {
    /// The listing policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The rate-limit overrides are invalid.
    #[error(transparent)]
    RateLimit(#[from] RateLimitConfigError),
    /// The client's ledger refused or failed a call.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The client's InventoryActor is gone.
    #[error("the client's inventory actor is unavailable")]
    InventoryUnavailable,
}

impl ChannelError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelError::Policy(error) => error.kind(),
            ChannelError::RateLimit(error) => error.kind(),
            ChannelError::Inventory(error) => error.kind(),
            ChannelError::InventoryUnavailable => "inventory_unavailable",
        }
    }
}

impl From<MailboxError> for ChannelError {
    fn from(_: MailboxError) -> Self {
        ChannelError::InventoryUnavailable
    }
}

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
    /// How often the order feed is read when it has nothing more.
    pub poll_interval: Duration,
    /// How often listed quantities are read back.
    pub reconcile_interval: Duration,
    /// Mailbox capacity.
    pub mailbox_capacity: usize,
    /// Backoff after failed calls.
    pub backoff: BackoffConfig,
    /// Seed of the backoff's jitter.
    pub seed: u64,
}

impl ChannelConfig {
    /// A connection with the defaults: full listing policy, risk-first order, the platform's
    /// default limits, the order feed read every 5 s and listings read back every 5 min.
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
            mailbox_capacity: 1024,
            backoff: BackoffConfig::default(),
            seed: 0,
        }
    }
}

/// The channel's view of its client's ledger: the InventoryActor's messages it uses, as
/// recipients, so a test can stand a fake ledger in for the real one.
#[derive(Debug, Clone)]
pub struct LedgerPort {
    /// Applies order pages with their cursor.
    pub apply: Recipient<ApplyMovements>,
    /// Persists confirmed listed quantities.
    pub record_listings: Recipient<RecordListings>,
    /// Recovers the channel's cursor and confirmed listings.
    pub channel_record: Recipient<GetChannelRecord>,
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
            channel_record: inventory.clone().recipient(),
            stock: inventory.clone().recipient(),
            subscribe: inventory.clone().recipient(),
        }
    }
}

/// How many listings one read-back call asks for.
const RECONCILE_CHUNK: usize = 50;
/// How often the staleness gauge is refreshed (it grows without any event).
const GAUGE_INTERVAL: Duration = Duration::from_secs(1);

/// Counters of what the channel did, reported in its state.
#[derive(Debug, Default, Clone)]
struct Counters {
    push_calls: u64,
    confirmed_items: u64,
    throttled: u64,
    failed: u64,
    pages_applied: u64,
    drift_corrected: u64,
}

/// The actor of one marketplace connection.
#[derive(Debug)]
pub struct ChannelActor {
    config: ChannelConfig,
    client_label: String,
    marketplace: Arc<dyn Marketplace>,
    ledger: LedgerPort,
    limiters: Arc<RateLimiters<TokioClock>>,
    queue: PushQueue,
    push_in_flight: bool,
    /// The pending push tick and when it fires.
    push_timer: Option<(SpawnHandle, Instant)>,
    push_failures: u32,
    poll_in_flight: bool,
    poll_failures: u32,
    reconcile_in_flight: bool,
    backoff: Backoff,
    cursor: Option<String>,
    /// When the fetch of the last applied order page was sent: sales in the next page happened
    /// after it.
    feed_read_at: Option<Instant>,
    counters: Counters,
    last_error: Option<String>,
}

impl ChannelActor {
    /// Builds the actor of one connection, registering its rate limits.
    pub fn new(
        config: ChannelConfig,
        marketplace: Arc<dyn Marketplace>,
        ledger: LedgerPort,
        limiters: Arc<RateLimiters<TokioClock>>,
    ) -> Result<Self, ChannelError> {
        config.policy.validate()?;
        limiters.register_channel(
            &config.client,
            &config.channel,
            config.platform,
            &config.app,
            &config.rate_limit,
        )?;
        Ok(Self {
            client_label: metrics::client_label(&config.client),
            queue: PushQueue::new(config.order, config.platform.compare_and_set()),
            backoff: Backoff::new(config.backoff, config.seed),
            config,
            marketplace,
            ledger,
            limiters,
            push_in_flight: false,
            push_timer: None,
            push_failures: 0,
            poll_in_flight: false,
            poll_failures: 0,
            reconcile_in_flight: false,
            cursor: None,
            feed_read_at: None,
            counters: Counters::default(),
            last_error: None,
        })
    }

    fn request_key(&self, operation: Operation) -> RequestKey {
        RequestKey::new(
            self.config.client.clone(),
            self.config.channel.clone(),
            self.config.app.clone(),
            self.config.platform,
            operation,
        )
    }

    /// The quantity to list for `available` units: the channel's policy, capped at what the
    /// platform can list at all (a target above it could never be confirmed and would stay
    /// pending forever).
    fn target(&self, available: i64) -> u32 {
        let wanted = self.config.policy.target(available);
        self.config
            .platform
            .max_listed_quantity()
            .map_or(wanted, |max| wanted.min(max))
    }

    fn platform_label(&self) -> &'static str {
        self.config.platform.as_str()
    }

    fn count_request(&self, operation: Operation, outcome: &'static str) {
        ::metrics::counter!(metrics::MARKETPLACE_REQUESTS_TOTAL.name, label::PLATFORM => self.platform_label(), label::OP => operation.as_str(), label::OUTCOME => outcome).increment(1);
    }

    /// Recovers the queue from the ledger: targets from the stock, confirmed quantities and the
    /// cursor from the channel's record.
    fn recover(&mut self, record: ChannelRecord, stock: Vec<StockLevel>) {
        let now = Instant::now();
        for level in stock
            .iter()
            .filter(|level| self.marketplace.lists(&level.sku))
        {
            self.queue.set_target(
                &level.sku,
                self.target(level.available),
                level.last_seq,
                now,
            );
        }
        for listing in record.listings {
            self.queue
                .set_confirmed(&listing.sku, listing.quantity, now);
        }
        self.cursor = record.cursor;
    }

    /// Schedules a push attempt after `delay`, unless one is already due sooner.
    fn schedule_push(&mut self, ctx: &mut Context<Self>, delay: Duration) {
        let due = Instant::now() + delay;
        if let Some((handle, at)) = self.push_timer {
            if at <= due {
                return;
            }
            ctx.cancel_future(handle);
        }
        let handle = ctx.notify_later(PushTick, delay);
        self.push_timer = Some((handle, due));
    }

    /// Sends the next batch if nothing is in flight, something is sendable and the rate limiter
    /// agrees; otherwise arranges to be called again when it will.
    fn try_push(&mut self, ctx: &mut Context<Self>) {
        if self.push_in_flight || !self.queue.has_sendable() {
            return;
        }
        let key = self.request_key(Operation::PushQuantities);
        let spec = self.limiters.effective_spec(&key);
        if let Err(wait) = self.limiters.check(&key, spec.call_cost) {
            ::metrics::histogram!(metrics::RATELIMIT_WAIT_SECONDS.name, label::PLATFORM => self.platform_label())
                .record(wait.duration.as_secs_f64());
            self.schedule_push(ctx, wait.duration);
            return;
        }
        let batch_size = spec
            .max_items_per_call
            .min(self.config.platform.batch_size())
            .max(1);
        let batch = self.queue.next_batch(batch_size, Instant::now());
        if batch.is_empty() {
            return;
        }
        self.push_in_flight = true;
        let call = self.marketplace.push_quantities(batch.clone());
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(call).map(move |result, actor, ctx| {
                actor.push_in_flight = false;
                actor.on_pushed(batch, result, ctx);
            }),
        );
        self.update_gauges();
    }

    fn on_pushed(
        &mut self,
        batch: Vec<PushItem>,
        result: Result<Vec<PushOutcome>, MarketplaceError>,
        ctx: &mut Context<Self>,
    ) {
        let now = Instant::now();
        match result {
            Ok(outcomes) => {
                self.count_request(Operation::PushQuantities, "ok");
                self.counters.push_calls += 1;
                self.push_failures = 0;
                self.backoff.reset();
                let mut answered = Vec::with_capacity(outcomes.len());
                let mut confirmed = Vec::new();
                for outcome in outcomes {
                    match outcome {
                        PushOutcome::Confirmed { sku, quantity } => {
                            self.counters.confirmed_items += 1;
                            if let Some(in_step) = self.queue.confirm(&sku, quantity, now) {
                                ::metrics::histogram!(metrics::SYNC_LAG_SECONDS.name, label::PLATFORM => self.platform_label())
                                    .record(in_step.lag.as_secs_f64());
                            }
                            let ledger_seq = batch
                                .iter()
                                .find(|item| item.sku == sku)
                                .map_or(0, |item| item.ledger_seq);
                            confirmed.push(ListingRecord {
                                sku: sku.clone(),
                                quantity,
                                ledger_seq,
                                at_ms: system_clock_ms(),
                            });
                            answered.push(sku);
                        }
                        PushOutcome::Stale { sku, actual } => {
                            self.queue.stale(&sku, actual, now);
                            answered.push(sku);
                        }
                        PushOutcome::Failed { sku, error } => {
                            self.queue.failed(&sku, now);
                            self.last_error = Some(format!("push of {sku}: {error}"));
                            answered.push(sku);
                        }
                    }
                }
                // An item the marketplace said nothing about is retried.
                for item in batch.iter().filter(|item| !answered.contains(&item.sku)) {
                    self.queue.failed(&item.sku, now);
                }
                self.persist_listings(confirmed, ctx);
                self.schedule_push(ctx, Duration::ZERO);
            }
            Err(error) => {
                self.count_request(Operation::PushQuantities, error.outcome());
                for item in &batch {
                    match error {
                        MarketplaceError::Stale => self.queue.stale(&item.sku, None, now),
                        _ => self.queue.failed(&item.sku, now),
                    }
                }
                let delay = self.delay_after(Operation::PushQuantities, &error, self.push_failures);
                if !matches!(
                    error,
                    MarketplaceError::Throttled { .. } | MarketplaceError::Stale
                ) {
                    self.push_failures += 1;
                }
                self.schedule_push(ctx, delay);
            }
        }
        self.update_gauges();
    }

    /// How long to wait after a failed call: the marketplace's own word for a throttle (closing
    /// the key in the limiters too), jittered exponential backoff otherwise.
    fn delay_after(
        &mut self,
        operation: Operation,
        error: &MarketplaceError,
        failures: u32,
    ) -> Duration {
        self.last_error = Some(format!("{}: {error}", operation.as_str()));
        match ThrottleSignal::from_error(error) {
            Some(signal) => {
                self.counters.throttled += 1;
                self.limiters
                    .throttled(&self.request_key(operation), signal)
            }
            None if matches!(error, MarketplaceError::Stale) => Duration::ZERO,
            None => {
                self.counters.failed += 1;
                self.backoff.next_delay(failures)
            }
        }
    }

    /// Persists confirmed listed quantities through the InventoryActor (the single writer of the
    /// client's tree). Not awaited by the push loop: a lost record only means the next
    /// generation re-learns the quantity from a read-back.
    fn persist_listings(&mut self, listings: Vec<ListingRecord>, ctx: &mut Context<Self>) {
        if listings.is_empty() {
            return;
        }
        let update = ListingsUpdate {
            channel: self.config.channel.clone(),
            listings,
        };
        let send = self.ledger.record_listings.send(RecordListings { update });
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(send).map(|result, actor, _ctx| {
                if let Err(error) = result
                    .map_err(ChannelError::from)
                    .and_then(|written| written.map(drop).map_err(ChannelError::from))
                {
                    actor.last_error = Some(format!("recording confirmed listings: {error}"));
                }
            }),
        );
    }

    /// Reads the next page of the order feed and applies it to the ledger with its cursor.
    fn try_poll(&mut self, ctx: &mut Context<Self>) {
        if self.poll_in_flight {
            return;
        }
        let key = self.request_key(Operation::FetchOrders);
        let cost = self.limiters.effective_spec(&key).call_cost;
        if let Err(wait) = self.limiters.check(&key, cost) {
            ctx.notify_later(PollTick, wait.duration);
            return;
        }
        self.poll_in_flight = true;
        let sent_at = Instant::now();
        let fetch = self.marketplace.fetch_orders(self.cursor.clone());
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(fetch).map(move |result, actor, ctx| {
                actor.on_fetched(result, sent_at, ctx);
            }),
        );
    }

    /// A page arrived: the marketplace's own sales in it are noted on the queue *before* the
    /// ledger hears of them, so the stock change they cause finds this channel already in step
    /// and pushes nothing back to the marketplace that made the sale. Events after the durable
    /// cursor are new by construction (the cursor is written with the events it covers).
    fn on_fetched(
        &mut self,
        result: Result<OrderPage, MarketplaceError>,
        sent_at: Instant,
        ctx: &mut Context<Self>,
    ) {
        let page = match result {
            Ok(page) => page,
            Err(error) => return self.on_page(Err(PollFailure::Marketplace(error)), sent_at, ctx),
        };
        if let Some(sold_after) = self.feed_read_at {
            let now = Instant::now();
            for event in page
                .events
                .iter()
                .filter(|event| event.kind == OrderEventKind::Sale)
            {
                self.queue
                    .note_marketplace_sale(&event.sku, event.quantity, sold_after, now);
            }
        }
        if page.events.is_empty() && self.cursor.as_ref() == Some(&page.next_cursor) {
            // Nothing new and the cursor stands: no ledger write (an idle channel would
            // otherwise cost a transaction and a flush per poll).
            return self.on_page(
                Ok(AppliedPage {
                    page,
                    skipped: None,
                }),
                sent_at,
                ctx,
            );
        }
        let apply = apply_page(page, self.ledger.apply.clone(), self.config.channel.clone());
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(apply).map(move |result, actor, ctx| {
                actor.on_page(result, sent_at, ctx);
            }),
        );
    }

    fn on_page(
        &mut self,
        result: Result<AppliedPage, PollFailure>,
        sent_at: Instant,
        ctx: &mut Context<Self>,
    ) {
        self.poll_in_flight = false;
        let next_poll = match result {
            Ok(applied) => {
                self.count_request(Operation::FetchOrders, "ok");
                self.counters.pages_applied += 1;
                self.poll_failures = 0;
                if let Some(skipped) = applied.skipped {
                    self.last_error = Some(skipped);
                }
                self.cursor = Some(applied.page.next_cursor);
                self.feed_read_at = Some(sent_at);
                self.queue.note_feed_read(sent_at);
                self.schedule_push(ctx, Duration::ZERO);
                if applied.page.more {
                    Duration::ZERO
                } else {
                    self.config.poll_interval
                }
            }
            Err(PollFailure::Marketplace(error)) => {
                self.count_request(Operation::FetchOrders, error.outcome());
                let delay = self.delay_after(Operation::FetchOrders, &error, self.poll_failures);
                self.poll_failures += 1;
                delay.max(self.config.poll_interval.min(Duration::from_secs(1)))
            }
            Err(PollFailure::Ledger(error)) => {
                self.last_error = Some(format!("applying orders: {error}"));
                self.poll_failures += 1;
                self.backoff.next_delay(self.poll_failures)
            }
        };
        self.update_gauges();
        ctx.notify_later(PollTick, next_poll);
    }

    /// Reads every listing back in chunks and corrects drift.
    fn try_reconcile(&mut self, ctx: &mut Context<Self>) {
        if self.reconcile_in_flight {
            return;
        }
        let skus = self.queue.skus();
        if skus.is_empty() {
            return;
        }
        self.reconcile_in_flight = true;
        let key = self.request_key(Operation::ReadQuantities);
        let cost = self.limiters.effective_spec(&key).call_cost;
        let limiters = self.limiters.clone();
        let marketplace = self.marketplace.clone();
        let read_all = async move {
            let mut listed = Vec::new();
            for chunk in skus.chunks(RECONCILE_CHUNK) {
                while let Err(wait) = limiters.check(&key, cost) {
                    actix::clock::sleep(wait.duration).await;
                }
                listed.extend(marketplace.read_quantities(chunk.to_vec()).await?);
            }
            Ok::<_, MarketplaceError>(listed)
        };
        ctx.spawn(actix::fut::wrap_future::<_, Self>(read_all).map(|result, actor, ctx| {
            actor.reconcile_in_flight = false;
            match result {
                Ok(listed) => {
                    actor.count_request(Operation::ReadQuantities, "ok");
                    let now = Instant::now();
                    for item in listed {
                        let Some((_, confirmed, in_flight)) = actor.queue.listing(&item.sku) else {
                            continue;
                        };
                        if in_flight.is_none() && confirmed != Some(item.quantity) {
                            actor.counters.drift_corrected += 1;
                            ::metrics::counter!(metrics::CHANNEL_DRIFT_CORRECTIONS_TOTAL.name, label::CLIENT => actor.client_label.clone(), label::CHANNEL => actor.config.channel.to_string()).increment(1);
                            tracing::warn!(client = %actor.config.client, channel = %actor.config.channel, sku = %item.sku, ?confirmed, listed = item.quantity, "listed quantity drifted, correcting");
                            actor.queue.set_confirmed(&item.sku, item.quantity, now);
                        }
                    }
                    actor.schedule_push(ctx, Duration::ZERO);
                }
                Err(error) => {
                    actor.count_request(Operation::ReadQuantities, error.outcome());
                    actor.last_error = Some(format!("read back: {error}"));
                }
            }
            actor.update_gauges();
        }));
    }

    fn update_gauges(&self) {
        let stats = self.queue.stats(Instant::now());
        let client = self.client_label.clone();
        let channel = self.config.channel.to_string();
        ::metrics::gauge!(metrics::CHANNEL_EXPOSURE_UNITS.name, label::CLIENT => client.clone(), label::CHANNEL => channel.clone()).set(stats.exposure_units as f64);
        ::metrics::gauge!(metrics::CHANNEL_SKUS_AT_RISK.name, label::CLIENT => client.clone(), label::CHANNEL => channel.clone()).set(stats.skus_at_risk as f64);
        let oldest = stats.oldest_pending_ms.map_or(0.0, |ms| ms as f64 / 1000.0);
        ::metrics::gauge!(metrics::CHANNEL_OLDEST_PENDING_SECONDS.name, label::CLIENT => client, label::CHANNEL => channel).set(oldest);
    }
}

/// A page of orders as the ledger took it.
#[derive(Debug)]
struct AppliedPage {
    page: OrderPage,
    /// Events the ledger refused and that were left out, described for the channel's last error.
    skipped: Option<String>,
}

/// Why reading the order feed failed.
#[derive(Debug)]
enum PollFailure {
    Marketplace(MarketplaceError),
    Ledger(ChannelError),
}

/// Turns an order event into the ledger movement it stands for, keyed by its natural key. Public
/// because webhook deliveries (handled by the service, not by this actor) must land under the very
/// same keys as the polled feed, so that the two intake paths deduplicate each other.
pub fn movement_of(channel: &ChannelId, event: &OrderEvent) -> Result<MovementInput, LedgerError> {
    let key = IdempotencyKey::order_event(
        channel,
        &event.external_order_id,
        event.line,
        &event.version,
    )
    .map_err(|error| LedgerError::InvalidMovement { index: 0, error })?;
    let kind = match event.kind {
        OrderEventKind::Sale => "sale",
        OrderEventKind::Cancel => "cancel",
        OrderEventKind::RefundRestock => "refund_restock",
    };
    Ok(MovementInput {
        key: key.as_str().to_string(),
        source: format!("channel:{channel}"),
        sku: event.sku.as_str().to_string(),
        kind: kind.to_string(),
        quantity: i64::from(event.quantity),
    })
}

/// Applies a page with its cursor in one ledger command (see [`apply_order_events`]).
async fn apply_page(
    page: OrderPage,
    ledger: Recipient<ApplyMovements>,
    channel: ChannelId,
) -> Result<AppliedPage, PollFailure> {
    let cursor = CursorUpdate {
        channel: channel.clone(),
        cursor: page.next_cursor.clone(),
    };
    let applied = apply_order_events(&channel, page.events.clone(), Some(cursor), &ledger)
        .await
        .map_err(PollFailure::Ledger)?;
    let skipped = (!applied.skipped.is_empty())
        .then(|| format!("skipped order events: {}", applied.skipped.join("; ")));
    Ok(AppliedPage { page, skipped })
}

/// What [`apply_order_events`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedEvents {
    /// The ledger's answer for the events it took (durable when returned).
    pub outcome: ApplyOutcome,
    /// The events the ledger refused and that were left out, described.
    pub skipped: Vec<String>,
}

/// Applies a channel's order events (a polled page, or a webhook delivery) to the ledger in one
/// command, with the feed's cursor when there is one. An event the ledger refuses (a cancel of a
/// sale it never saw, say) is left out and the rest applied again, so one bad event cannot stall
/// the feed; what was skipped is reported. Returns once the batch is durable.
pub async fn apply_order_events(
    channel: &ChannelId,
    events: Vec<OrderEvent>,
    cursor: Option<CursorUpdate>,
    ledger: &Recipient<ApplyMovements>,
) -> Result<AppliedEvents, ChannelError> {
    apply_order_events_under(channel, events, cursor, ledger, None).await
}

/// As [`apply_order_events`], each command carrying `ticket` when the caller bounds its wait (a
/// webhook at the HTTP edge): what the caller expired before the ledger took it up is never
/// written (`crate::inventory::group_commit::CommandTicket`).
pub async fn apply_order_events_under(
    channel: &ChannelId,
    mut events: Vec<OrderEvent>,
    cursor: Option<CursorUpdate>,
    ledger: &Recipient<ApplyMovements>,
    ticket: Option<crate::inventory::messages::CommandTicket>,
) -> Result<AppliedEvents, ChannelError> {
    let mut skipped = Vec::new();
    loop {
        let mut movements = Vec::with_capacity(events.len());
        let mut unusable = None;
        for (index, event) in events.iter().enumerate() {
            match movement_of(channel, event) {
                Ok(movement) => movements.push(movement),
                Err(_) => {
                    unusable = Some(index);
                    break;
                }
            }
        }
        if let Some(index) = unusable {
            let event = events.remove(index);
            skipped.push(format!(
                "order {} line {}: unusable key",
                event.external_order_id, event.line
            ));
            continue;
        }
        let command = ApplyMovements {
            movements,
            cursor: cursor.clone(),
            ticket: ticket.clone(),
        };
        match ledger.send(command).await? {
            Ok(outcome) => return Ok(AppliedEvents { outcome, skipped }),
            Err(InventoryError::Ledger(error)) if error.is_caller_error() => {
                let Some(index) = refused_index(&error).filter(|index| *index < events.len())
                else {
                    return Err(InventoryError::Ledger(error).into());
                };
                let event = events.remove(index);
                skipped.push(format!(
                    "order {} line {}: {error}",
                    event.external_order_id, event.line
                ));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// The index of the movement a refused batch names, if any.
fn refused_index(error: &LedgerError) -> Option<usize> {
    match error {
        LedgerError::InvalidMovement { index, .. }
        | LedgerError::Rejected { index, .. }
        | LedgerError::KeyReused { index, .. } => Some(*index),
        _ => None,
    }
}

impl BoundedStart for ChannelActor {
    fn mailbox_capacity(&self) -> usize {
        self.config.mailbox_capacity
    }
}

impl Actor for ChannelActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let ledger = self.ledger.clone();
        let channel = self.config.channel.clone();
        let recipient = ctx.address().recipient::<StockChanged>();
        // Subscribe before reading the stock, so that no change falls between the two; a change
        // seen twice is harmless (targets from older ledger states are ignored).
        let recover = async move {
            ledger
                .subscribe
                .send(Subscribe {
                    channel: channel.clone(),
                    recipient,
                })
                .await??;
            let record = ledger
                .channel_record
                .send(GetChannelRecord { channel })
                .await??;
            let stock = ledger.stock.send(GetStock::default()).await??;
            Ok::<_, ChannelError>((record, stock))
        };
        ctx.wait(actix::fut::wrap_future::<_, Self>(recover).map(|result, actor, ctx| match result {
            Ok((record, stock)) => {
                actor.recover(record, stock);
                actor.try_poll(ctx);
                actor.try_push(ctx);
                let reconcile = actor.config.reconcile_interval;
                ctx.run_interval(reconcile, |_actor, ctx| ctx.notify(ReconcileTick));
                ctx.run_interval(GAUGE_INTERVAL, |actor, _ctx| actor.update_gauges());
            }
            Err(error) => {
                tracing::error!(client = %actor.config.client, channel = %actor.config.channel, error = %error, "channel could not recover, stopping");
                ctx.stop();
            }
        }));
    }
}

impl Handler<StockChanged> for ChannelActor {
    type Result = ();

    fn handle(&mut self, message: StockChanged, ctx: &mut Context<Self>) {
        let now = Instant::now();
        for level in message
            .levels
            .into_iter()
            .filter(|level| self.marketplace.lists(&level.sku))
        {
            let target = self.target(level.available);
            self.queue
                .set_target(&level.sku, target, level.last_seq, now);
        }
        self.try_push(ctx);
        self.update_gauges();
    }
}

impl Handler<PushTick> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _message: PushTick, ctx: &mut Context<Self>) {
        self.push_timer = None;
        self.try_push(ctx);
    }
}

impl Handler<PollTick> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _message: PollTick, ctx: &mut Context<Self>) {
        self.try_poll(ctx);
    }
}

impl Handler<ReconcileTick> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _message: ReconcileTick, ctx: &mut Context<Self>) {
        self.try_reconcile(ctx);
    }
}

impl Handler<GetState> for ChannelActor {
    type Result = Result<ChannelState, ChannelError>;

    fn handle(&mut self, _message: GetState, _ctx: &mut Context<Self>) -> Self::Result {
        Ok(ChannelState {
            client: self.config.client.clone(),
            channel: self.config.channel.clone(),
            platform: self.config.platform,
            order: self.config.order,
            queue: self.queue.stats(Instant::now()),
            push_calls: self.counters.push_calls,
            confirmed_items: self.counters.confirmed_items,
            throttled: self.counters.throttled,
            failed: self.counters.failed,
            pages_applied: self.counters.pages_applied,
            cursor: self.cursor.clone(),
            drift_corrected: self.counters.drift_corrected,
            last_error: self.last_error.clone(),
        })
    }
}

impl Handler<GetListings> for ChannelActor {
    type Result = Result<Vec<ListingView>, ChannelError>;

    fn handle(&mut self, message: GetListings, _ctx: &mut Context<Self>) -> Self::Result {
        let skus = message.skus.unwrap_or_else(|| self.queue.skus());
        Ok(skus
            .into_iter()
            .filter_map(|sku| {
                let (target, listed, in_flight) = self.queue.listing(&sku)?;
                Some(ListingView {
                    pending: in_flight.is_some() || listed != Some(target),
                    sku,
                    target,
                    listed,
                })
            })
            .collect())
    }
}

impl Handler<AdoptListed> for ChannelActor {
    type Result = Result<usize, ChannelError>;

    fn handle(&mut self, message: AdoptListed, ctx: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        let mut adopted = Vec::new();
        for listed in message.listings {
            if !self.marketplace.lists(&listed.sku) {
                continue;
            }
            if self.queue.adopt_listed(&listed.sku, listed.quantity, now) {
                adopted.push(ListingRecord {
                    sku: listed.sku,
                    quantity: listed.quantity,
                    ledger_seq: 0,
                    at_ms: system_clock_ms(),
                });
            }
        }
        let count = adopted.len();
        // Persisted like a confirmation, so that a new generation recovers the adopted quantities.
        self.persist_listings(adopted, ctx);
        self.try_push(ctx);
        self.update_gauges();
        Ok(count)
    }
}

impl Handler<messages::Shutdown> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _message: messages::Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(any(test, feature = "testsuite"))]
impl Handler<messages::InjectPanic> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _message: messages::InjectPanic, _ctx: &mut Context<Self>) {
        panic!(
            "injected panic in channel {} of {}",
            self.config.channel, self.config.client
        );
    }
}
