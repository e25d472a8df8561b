//! The ChannelActor: one marketplace connection of a client.
//!
//! Inbound, it reads the marketplace's order feed and applies each page to the ledger together
//! with the feed's cursor (one transaction: a cursor never advances past an order that is not in
//! the ledger). Outbound, it turns every durable stock change into a target listed quantity
//! ([`policy`]), keeps the push queue ([`scheduler`]: coalescing, risk-first order, no re-raise)
//! and pushes through the [`marketplace::Marketplace`] port as fast as the rate limiters allow
//! ([`crate::ratelimit`]), honouring the marketplace's own throttle and backing off on failures.
//! Continuously, within its read budget, it reads back the listings it has gone longest without
//! seeing and corrects drift (reconciliation).
//!
//! The actor only sequences calls and owns the queue; every decision lives in the plain modules
//! it calls. Each of its three activities (push, poll, read-back) keeps why it waits
//! ([`waiting`]), shown in its state; a change pending for longer than
//! [`ChannelConfig::stall_warning_after`] is logged at `warn` with that reason and counted.
//! Confirmed listed quantities and the cursor are persisted through the client's InventoryActor
//! (the single writer of the client's tree), so a new generation of the actor recovers them.

mod config;
pub mod contact;
pub mod feed;
pub mod intake;
pub mod marketplace;
pub mod messages;
mod notified;
pub mod policy;
mod poll;
mod reconcile;
pub mod scheduler;
pub mod waiting;

#[cfg(test)]
mod tests;

pub use self::config::{ChannelConfig, LedgerPort, DEFAULT_STALL_WARNING};
pub use self::intake::{apply_order_events, movement_of, AppliedEvents};
pub use self::notified::NOTIFIED_READ_MAX_WAIT;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use self::contact::Contact;
use self::feed::SeenEvents;
use self::marketplace::{Marketplace, MarketplaceError, PushItem, PushOutcome};
use self::messages::{
    AdoptListed, ChannelState, GetListings, GetState, ListingView, PollTick, PushTick,
    ReconcileTick,
};
use self::policy::PolicyError;
use self::scheduler::PushQueue;
use self::waiting::{StallWatch, WaitReason, Waiting};
use crate::clock::TokioClock;
use crate::ids::Sku;
use crate::inventory::history::{ListingEvent, ListingWhat, RefusalReason};
use crate::inventory::messages::{
    ChannelLedgerRecord, GetChannelLedgerRecord, GetStock, RecordListings, StockChanged,
    StockLevel, Subscribe,
};
use crate::inventory::messages::{ListingRecord, ListingsUpdate, RecordListingEvents};
use crate::inventory::{system_clock_ms, InventoryError};
use crate::metrics;
use crate::metrics::events::{
    ChannelExposure, ChannelLabels, ChannelStalled, InternalEvent, ListingHistoryNotRecorded,
    ListingInStep, MarketplaceRequested, RateLimitWaited,
};
use crate::ratelimit::{
    Backoff, Operation, RateLimitConfigError, RateLimiters, RequestKey, ThrottleSignal,
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

/// How often the staleness gauges are refreshed and a stall is looked for (they grow without
/// any event).
const GAUGE_INTERVAL: Duration = Duration::from_secs(1);

/// Counters of what the channel did, reported in its state.
#[derive(Debug, Default, Clone)]
struct Counters {
    push_calls: u64,
    confirmed_items: u64,
    throttled: u64,
    failed: u64,
    pages_applied: u64,
    notified_reads: u64,
    drift_corrected: u64,
    stalls: u64,
}

/// A self-message scheduled once: asking for a sooner one replaces a later one, a later one is
/// ignored while a sooner one is pending.
#[derive(Debug, Default)]
struct Timer {
    pending: Option<(SpawnHandle, Instant)>,
}

impl Timer {
    fn schedule<M>(&mut self, ctx: &mut Context<ChannelActor>, delay: Duration, message: M)
    where
        M: Message<Result = ()> + 'static,
        ChannelActor: Handler<M>,
    {
        let due = Instant::now() + delay;
        if let Some((handle, at)) = self.pending {
            if at <= due {
                return;
            }
            ctx.cancel_future(handle);
        }
        self.pending = Some((ctx.notify_later(message, delay), due));
    }

    /// The scheduled message arrived.
    fn fired(&mut self) {
        self.pending = None;
    }

    fn due(&self) -> Option<Instant> {
        self.pending.map(|(_, at)| at)
    }
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
    /// When the push in flight was sent.
    push_in_flight: Option<Instant>,
    push_timer: Timer,
    push_failures: u32,
    /// No push before this instant: backing off after a failed push.
    push_backoff_until: Option<Instant>,
    /// Why pending changes are not being pushed now.
    push_wait: Option<Waiting>,
    poll_in_flight: bool,
    poll_timer: Timer,
    poll_failures: u32,
    /// Why the order feed is not being read now.
    poll_wait: Option<Waiting>,
    /// When the read-back in flight was sent.
    reconcile_in_flight: Option<Instant>,
    reconcile_timer: Timer,
    /// Why listings due for a read-back are not being read now.
    reconcile_wait: Option<Waiting>,
    backoff: Backoff,
    cursor: Option<String>,
    /// When the fetch of the last applied order page was sent: sales in the next page happened
    /// after it.
    feed_read_at: Option<Instant>,
    /// The order events already taken from the feed (a sale is noted once).
    seen: SeenEvents,
    stall: StallWatch,
    counters: Counters,
    last_error: Option<String>,
    contact: Contact,
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
            stall: StallWatch::new(config.stall_warning_after),
            config,
            marketplace,
            ledger,
            limiters,
            push_in_flight: None,
            push_timer: Timer::default(),
            push_failures: 0,
            push_backoff_until: None,
            push_wait: None,
            poll_in_flight: false,
            poll_timer: Timer::default(),
            poll_failures: 0,
            poll_wait: None,
            reconcile_in_flight: None,
            reconcile_timer: Timer::default(),
            reconcile_wait: None,
            cursor: None,
            feed_read_at: None,
            seen: SeenEvents::default(),
            counters: Counters::default(),
            last_error: None,
            contact: Contact::default(),
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

    /// Asks the rate limiters for one call of `operation`; on a refusal, records the wait in the
    /// ratelimit histogram and returns it as the channel's reason and delay.
    fn take_budget(&self, operation: Operation) -> Result<(), (WaitReason, Duration)> {
        self.take_budget_with(operation, 0)
    }

    /// [`Self::take_budget`] for a call that makes `extra_calls` more calls of the same
    /// operation's cost unit (see `Marketplace::push_extra_calls`).
    fn take_budget_with(
        &self,
        operation: Operation,
        extra_calls: u32,
    ) -> Result<(), (WaitReason, Duration)> {
        let key = self.request_key(operation);
        let cost = self
            .limiters
            .effective_spec(&key)
            .call_cost
            .saturating_add(extra_calls);
        self.limiters.check(&key, cost).map_err(|wait| {
            RateLimitWaited {
                platform: self.platform_label(),
                wait: wait.duration,
            }
            .emit();
            (WaitReason::from(wait.reason), wait.duration)
        })
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

    /// Counts a call the marketplace answered (`Ok`) or failed, and notes it in the channel's
    /// [`Contact`].
    fn heard(&mut self, operation: Operation, result: Result<(), &MarketplaceError>) {
        let at_ms = system_clock_ms();
        match result {
            Ok(()) => {
                self.count_request(operation, "ok");
                self.contact.answered(operation, at_ms);
            }
            Err(error) => {
                self.count_request(operation, error.outcome());
                self.contact.failed(operation, error, at_ms);
            }
        }
    }

    /// Notes the listings a push refused for good in the channel's [`Contact`] (the sweep
    /// raises them as exceptions). A refused credential or a flagged account is the channel's
    /// problem, not each listing's: [`Contact::failing`] tells it once.
    fn note_refusals(&mut self, refused: &[(Sku, ListingWhat)]) {
        let at_ms = system_clock_ms();
        for (sku, what) in refused {
            if let ListingWhat::Refused { reason, .. } = what {
                if !matches!(reason, RefusalReason::Auth | RefusalReason::AccountFlagged) {
                    self.contact.listing_refused(sku, *reason, at_ms);
                }
            }
        }
    }

    fn count_request(&self, operation: Operation, outcome: &'static str) {
        MarketplaceRequested {
            platform: self.platform_label(),
            op: operation.as_str(),
            outcome,
        }
        .emit();
    }

    /// Recovers the queue from the ledger: targets from the stock, confirmed quantities and the
    /// cursor from the channel's record.
    fn recover(&mut self, record: ChannelLedgerRecord, stock: Vec<StockLevel>) {
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
        self.push_timer.schedule(ctx, delay, PushTick);
    }

    /// Sets why pending changes wait (or `None`: nothing waits), keeping the start of a wait
    /// whose reason does not change.
    fn push_waits(&mut self, reason: Option<WaitReason>, until: Option<Instant>) {
        self.push_wait =
            reason.map(|reason| Waiting::new(self.push_wait, reason, Instant::now(), until));
    }

    /// Sends the next batch if nothing is in flight, something is sendable and the rate limiter
    /// agrees; otherwise records why not and arranges to be called again when it may.
    fn try_push(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if let Some(sent) = self.push_in_flight {
            self.push_wait = Some(Waiting::new(
                self.push_wait,
                WaitReason::InFlight,
                sent,
                None,
            ));
            return;
        }
        if !self.queue.has_pending_push() {
            self.push_waits(None, None);
            return;
        }
        if let Some(until) = self.push_backoff_until.filter(|until| *until > now) {
            self.push_waits(Some(WaitReason::Backoff), Some(until));
            self.schedule_push(ctx, until - now);
            return;
        }
        if !self.queue.has_sendable() {
            // Every pending change is an increase held by the no-re-raise rule: the next page
            // of the order feed releases it (`on_page` pushes again).
            let next_poll = self.poll_timer.due();
            self.push_waits(Some(WaitReason::OrderFeed), next_poll);
            return;
        }
        let key = self.request_key(Operation::PushQuantities);
        let batch_size = self
            .limiters
            .effective_spec(&key)
            .max_items_per_call
            .min(self.config.platform.batch_size())
            .max(1);
        // The batch is priced before it is taken: what the connector must read first (an Etsy
        // listing whose structure it does not hold) is charged with the push, or not sent.
        let batch = self.queue.peek_batch(batch_size);
        if batch.is_empty() {
            self.push_waits(None, None);
            return;
        }
        let extra_calls = self.marketplace.push_extra_calls(&batch);
        if let Err((reason, delay)) = self.take_budget_with(Operation::PushQuantities, extra_calls)
        {
            self.push_waits(Some(reason), Some(now + delay));
            self.schedule_push(ctx, delay);
            return;
        }
        self.queue.mark_sent(&batch, now);
        let policy = self.policy_in_force();
        let sent = batch
            .iter()
            .map(|item| ListingWhat::Sent {
                quantity: item.quantity,
                ledger_seq: item.ledger_seq,
                policy,
            })
            .zip(&batch)
            .map(|(what, item)| (item.sku.clone(), what))
            .collect();
        self.record_history(sent, ctx);
        self.push_in_flight = Some(now);
        self.push_waits(Some(WaitReason::InFlight), None);
        let call = self.marketplace.push_quantities(batch.clone());
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(call).map(move |result, actor, ctx| {
                actor.push_in_flight = None;
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
                self.heard(Operation::PushQuantities, Ok(()));
                self.counters.push_calls += 1;
                self.push_failures = 0;
                self.push_backoff_until = None;
                self.backoff.reset();
                let mut answered = Vec::with_capacity(outcomes.len());
                let mut confirmed = Vec::new();
                let mut refused = Vec::new();
                for outcome in outcomes {
                    match outcome {
                        PushOutcome::Confirmed { sku, quantity } => {
                            self.counters.confirmed_items += 1;
                            self.contact.listing_confirmed(&sku);
                            if let Some(in_step) = self.queue.confirm(&sku, quantity, now) {
                                ListingInStep {
                                    platform: self.platform_label(),
                                    lag: in_step.lag,
                                }
                                .emit();
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
                            if let Some(reason) = RefusalReason::of(&error) {
                                refused.extend(refusal(&batch, &sku, reason));
                            }
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
                self.persist_listings(confirmed, false, ctx);
                self.note_refusals(&refused);
                self.record_history(refused, ctx);
                self.try_push(ctx);
            }
            Err(error) => {
                self.heard(Operation::PushQuantities, Err(&error));
                if let Some(reason) = RefusalReason::of(&error) {
                    let refused = batch
                        .iter()
                        .flat_map(|item| refusal(&batch, &item.sku, reason))
                        .collect::<Vec<_>>();
                    self.note_refusals(&refused);
                    self.record_history(refused, ctx);
                }
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
                    // A backoff holds every push, not only the next tick: a stock change
                    // arriving meanwhile must not send at once into the failing marketplace.
                    self.push_backoff_until = Some(now + delay);
                }
                self.try_push(ctx);
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
    /// `adopted`: the quantities come from the marketplace's own export, not from pushes.
    fn persist_listings(
        &mut self,
        listings: Vec<ListingRecord>,
        adopted: bool,
        ctx: &mut Context<Self>,
    ) {
        if listings.is_empty() {
            return;
        }
        let update = ListingsUpdate {
            channel: self.config.channel.clone(),
            listings,
            adopted,
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

    /// The policy a target is computed by: the channel's, with the platform's largest listable
    /// quantity folded into `max` ([`Self::target`]), as the listing history records it.
    fn policy_in_force(&self) -> policy::ListingPolicy {
        let mut policy = self.config.policy;
        if let Some(platform_max) = self.config.platform.max_listed_quantity() {
            policy.max = Some(policy.max.map_or(platform_max, |max| max.min(platform_max)));
        }
        policy
    }

    /// Appends `events` (SKU and what happened, now) to the listing history through the
    /// InventoryActor. Never awaited by the push loop, and a failure only logs and counts:
    /// the history explains pushes, it must never hold one up (issue 15).
    pub(super) fn record_history(
        &mut self,
        events: Vec<(Sku, ListingWhat)>,
        ctx: &mut Context<Self>,
    ) {
        if events.is_empty() {
            return;
        }
        let at_ms = system_clock_ms();
        let events = events
            .into_iter()
            .map(|(sku, what)| ListingEvent {
                channel: self.config.channel.clone(),
                sku,
                at_ms,
                what,
            })
            .collect();
        let send = self
            .ledger
            .record_events
            .send(RecordListingEvents { events });
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(send).map(|result, actor, _ctx| {
                if let Err(error) = result
                    .map_err(ChannelError::from)
                    .and_then(|written| written.map(drop).map_err(ChannelError::from))
                {
                    ListingHistoryNotRecorded(ChannelLabels {
                        client: &actor.client_label,
                        channel: actor.config.channel.as_str(),
                    })
                    .emit();
                    tracing::warn!(client = %actor.config.client, channel = %actor.config.channel, error = %error, "listing history not recorded");
                }
            }),
        );
    }

    fn update_gauges(&mut self) {
        let now = Instant::now();
        let stats = self.queue.stats(now);
        let at = ChannelLabels {
            client: &self.client_label,
            channel: self.config.channel.as_str(),
        };
        let oldest = stats.oldest_pending_ms.map(Duration::from_millis);
        ChannelExposure {
            at,
            exposure_units: stats.exposure_units,
            skus_at_risk: stats.skus_at_risk,
            oldest_pending_ms: stats.oldest_pending_ms,
            oldest_unverified_ms: stats.oldest_unverified_ms,
        }
        .emit();
        if self.stall.observe(oldest) {
            let reason = self
                .push_wait
                .map_or("none", |waiting| waiting.reason.as_str());
            let wait = self.push_wait.map(|waiting| waiting.view(now));
            let poll = self.poll_wait.map(|waiting| waiting.view(now));
            self.counters.stalls += 1;
            ChannelStalled { at, reason }.emit();
            tracing::warn!(
                client = %self.config.client,
                channel = %self.config.channel,
                pending = stats.pending,
                oldest_pending_seconds = ChannelExposure::seconds(stats.oldest_pending_ms),
                reason,
                remaining_ms = wait.and_then(|wait| wait.remaining_ms),
                feed = poll.map_or("none", |poll| poll.reason.as_str()),
                next_poll_ms = poll.and_then(|poll| poll.remaining_ms),
                limit_seconds = self.stall.limit().as_secs_f64(),
                "changes pending longer than the limit",
            );
        }
    }
}

/// The refused event of `sku`'s item in `batch` (none when the batch does not hold it).
fn refusal(batch: &[PushItem], sku: &Sku, reason: RefusalReason) -> Option<(Sku, ListingWhat)> {
    let item = batch.iter().find(|item| item.sku == *sku)?;
    Some((
        sku.clone(),
        ListingWhat::Refused {
            quantity: item.quantity,
            ledger_seq: item.ledger_seq,
            reason,
        },
    ))
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
                .send(GetChannelLedgerRecord { channel })
                .await??;
            let stock = ledger.stock.send(GetStock::default()).await??;
            Ok::<_, ChannelError>((record, stock))
        };
        ctx.wait(actix::fut::wrap_future::<_, Self>(recover).map(|result, actor, ctx| match result {
            Ok((record, stock)) => {
                actor.recover(record, stock);
                actor.try_poll(ctx);
                actor.try_push(ctx);
                actor.try_reconcile(ctx);
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
        self.push_timer.fired();
        self.try_push(ctx);
    }
}

impl Handler<PollTick> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _message: PollTick, ctx: &mut Context<Self>) {
        self.poll_timer.fired();
        self.try_poll(ctx);
    }
}

impl Handler<ReconcileTick> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _message: ReconcileTick, ctx: &mut Context<Self>) {
        self.reconcile_timer.fired();
        self.try_reconcile(ctx);
    }
}

impl Handler<GetState> for ChannelActor {
    type Result = Result<ChannelState, ChannelError>;

    fn handle(&mut self, _message: GetState, _ctx: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        Ok(ChannelState {
            client: self.config.client.clone(),
            channel: self.config.channel.clone(),
            platform: self.config.platform,
            order: self.config.order,
            queue: self.queue.stats(now),
            waiting: self.push_wait.map(|waiting| waiting.view(now)),
            feed: self.poll_wait.map(|waiting| waiting.view(now)),
            reconciliation: self.reconcile_wait.map(|waiting| waiting.view(now)),
            stalls: self.counters.stalls,
            push_calls: self.counters.push_calls,
            confirmed_items: self.counters.confirmed_items,
            throttled: self.counters.throttled,
            failed: self.counters.failed,
            pages_applied: self.counters.pages_applied,
            notified_reads: self.counters.notified_reads,
            cursor: self.cursor.clone(),
            drift_corrected: self.counters.drift_corrected,
            last_error: self.last_error.clone(),
            contact: self.contact.clone(),
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
        self.persist_listings(adopted, true, ctx);
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
