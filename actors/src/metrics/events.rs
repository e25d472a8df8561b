//! What the engine and the HTTP edge record, one typed event each (Vector's `internal_events`):
//! a call site says what happened with a struct of typed fields and emits it; only here does
//! an event become a metric, from the table of [`super`], with that metric's name and label
//! keys. So a call site cannot misspell a name, forget a label or give one an unbounded value,
//! and the series a dashboard reads are all written in this one file.

use std::time::Duration;

use ::metrics::{counter, gauge, histogram, Label};

use super::label::{ACTOR, CHANNEL, CLIENT, KIND, OP, OUTCOME, PLATFORM, REASON};
use super::{
    ACTOR_QUARANTINED, ACTOR_RESTARTS_TOTAL, CHANNEL_DRIFT_CORRECTIONS_TOTAL,
    CHANNEL_EXPOSURE_UNITS, CHANNEL_HISTORY_FAILURES_TOTAL, CHANNEL_OLDEST_PENDING_SECONDS,
    CHANNEL_OLDEST_UNVERIFIED_SECONDS, CHANNEL_SKUS_AT_RISK, CHANNEL_STALLS_TOTAL,
    HTTP_REFUSED_TOTAL, LEDGER_COMMIT_BATCH_SIZE, LEDGER_COMMIT_SECONDS,
    MARKETPLACE_REQUESTS_TOTAL, NOTIFICATIONS_TOTAL, ORDERS_INGESTED_TOTAL, ORDER_DUPLICATES_TOTAL,
    ORDER_EXCEPTIONS_TOTAL, OVERSOLD_UNITS_TOTAL, RATELIMIT_WAIT_SECONDS,
    STORAGE_FLUSH_FAILURES_TOTAL, SYNC_LAG_SECONDS,
};
use super::{
    CREDENTIALS_ROTATION_DUE, ESCALATION_DELIVERIES_TOTAL, EXCEPTIONS_OLDEST_PAST_DUE_SECONDS,
    EXCEPTIONS_UNRESOLVED,
};

/// The client and channel an event is about, as labels: the client's label
/// ([`super::client_label`]) and the channel id (or a movement's source label: `api`, `import`).
#[derive(Debug, Clone, Copy)]
pub struct ChannelLabels<'a> {
    /// The client's label.
    pub client: &'a str,
    /// The channel id.
    pub channel: &'a str,
}

impl ChannelLabels<'_> {
    /// The `client` and `channel` labels, with `more` after them.
    fn with(self, more: impl IntoIterator<Item = Label>) -> Vec<Label> {
        let mut labels = vec![
            Label::new(CLIENT, self.client.to_string()),
            Label::new(CHANNEL, self.channel.to_string()),
        ];
        labels.extend(more);
        labels
    }
}

/// Something that happened and is recorded as metrics.
pub trait InternalEvent {
    /// Records the event.
    fn emit(self);
}

/// A marketplace call had to wait for its rate limiter.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitWaited {
    /// The platform's label.
    pub platform: &'static str,
    /// How long the call waits.
    pub wait: Duration,
}

impl InternalEvent for RateLimitWaited {
    fn emit(self) {
        histogram!(RATELIMIT_WAIT_SECONDS.name, PLATFORM => self.platform)
            .record(self.wait.as_secs_f64());
    }
}

/// A marketplace call was answered (or skipped), with its outcome.
#[derive(Debug, Clone, Copy)]
pub struct MarketplaceRequested {
    /// The platform's label.
    pub platform: &'static str,
    /// The operation's label.
    pub op: &'static str,
    /// `ok`, `throttled`, `error`, `timeout` or `skipped`.
    pub outcome: &'static str,
}

impl InternalEvent for MarketplaceRequested {
    fn emit(self) {
        counter!(
            MARKETPLACE_REQUESTS_TOTAL.name,
            PLATFORM => self.platform,
            OP => self.op,
            OUTCOME => self.outcome
        )
        .increment(1);
    }
}

/// A listing was confirmed in step with the ledger, `lag` after the change that needed it.
#[derive(Debug, Clone, Copy)]
pub struct ListingInStep {
    /// The platform's label.
    pub platform: &'static str,
    /// From the stock change to the marketplace's confirmation.
    pub lag: Duration,
}

impl InternalEvent for ListingInStep {
    fn emit(self) {
        histogram!(SYNC_LAG_SECONDS.name, PLATFORM => self.platform).record(self.lag.as_secs_f64());
    }
}

/// A read-back found a listing drifted from its last confirmed quantity; it is corrected.
#[derive(Debug, Clone, Copy)]
pub struct DriftCorrected<'a>(pub ChannelLabels<'a>);

impl InternalEvent for DriftCorrected<'_> {
    fn emit(self) {
        counter!(CHANNEL_DRIFT_CORRECTIONS_TOTAL.name, self.0.with([])).increment(1);
    }
}

/// A channel's listing-history events were not recorded (the ledger refused or was gone).
#[derive(Debug, Clone, Copy)]
pub struct ListingHistoryNotRecorded<'a>(pub ChannelLabels<'a>);

impl InternalEvent for ListingHistoryNotRecorded<'_> {
    fn emit(self) {
        counter!(CHANNEL_HISTORY_FAILURES_TOTAL.name, self.0.with([])).increment(1);
    }
}

/// How far a channel's listings are from its targets, refreshed every gauge interval.
#[derive(Debug, Clone, Copy)]
pub struct ChannelExposure<'a> {
    /// Whose.
    pub at: ChannelLabels<'a>,
    /// Units listed beyond target, summed over SKUs.
    pub exposure_units: u64,
    /// SKUs listed above target.
    pub skus_at_risk: usize,
    /// Age of the oldest unconfirmed change in milliseconds, if any.
    pub oldest_pending_ms: Option<u64>,
    /// Milliseconds since the least recently verified listing was seen, if any.
    pub oldest_unverified_ms: Option<u64>,
}

impl ChannelExposure<'_> {
    /// An age in milliseconds as the gauges show it: seconds, 0 for none.
    pub fn seconds(ms: Option<u64>) -> f64 {
        ms.map_or(0.0, |ms| ms as f64 / 1000.0)
    }
}

impl InternalEvent for ChannelExposure<'_> {
    fn emit(self) {
        let labels = self.at.with([]);
        let pending = Self::seconds(self.oldest_pending_ms);
        let unverified = Self::seconds(self.oldest_unverified_ms);
        gauge!(CHANNEL_EXPOSURE_UNITS.name, labels.clone()).set(self.exposure_units as f64);
        gauge!(CHANNEL_SKUS_AT_RISK.name, labels.clone()).set(self.skus_at_risk as f64);
        gauge!(CHANNEL_OLDEST_PENDING_SECONDS.name, labels.clone()).set(pending);
        gauge!(CHANNEL_OLDEST_UNVERIFIED_SECONDS.name, labels).set(unverified);
    }
}

/// A channel's oldest change has waited longer than the stall limit.
#[derive(Debug, Clone, Copy)]
pub struct ChannelStalled<'a> {
    /// Whose.
    pub at: ChannelLabels<'a>,
    /// Why the channel waits.
    pub reason: &'static str,
}

impl InternalEvent for ChannelStalled<'_> {
    fn emit(self) {
        let labels = self.at.with([Label::new(REASON, self.reason)]);
        counter!(CHANNEL_STALLS_TOTAL.name, labels).increment(1);
    }
}

/// A supervisor restarted one of its actors.
#[derive(Debug, Clone, Copy)]
pub struct ActorRestarted {
    /// `inventory` or `channel`.
    pub actor: &'static str,
    /// Why.
    pub reason: &'static str,
}

impl ActorRestarted {
    /// Makes the series exist at zero before any restart: a `rate()` over a series that only
    /// appears with its first restart misses that restart, and a dashboard shows 0, not "no
    /// data", for a healthy service.
    pub fn register(self) {
        self.record(0);
    }

    fn record(self, restarts: u64) {
        counter!(ACTOR_RESTARTS_TOTAL.name, ACTOR => self.actor, REASON => self.reason)
            .increment(restarts);
    }
}

impl InternalEvent for ActorRestarted {
    fn emit(self) {
        self.record(1);
    }
}

/// How many of a client's actors are quarantined (restarted too often), after a change.
#[derive(Debug, Clone, Copy)]
pub struct ActorsQuarantined<'a> {
    /// The client's label.
    pub client: &'a str,
    /// Quarantined actors.
    pub count: usize,
}

impl InternalEvent for ActorsQuarantined<'_> {
    fn emit(self) {
        gauge!(ACTOR_QUARANTINED.name, CLIENT => self.client.to_string()).set(self.count as f64);
    }
}

/// A group-commit round was made durable.
#[derive(Debug, Clone, Copy)]
pub struct LedgerRoundCommitted {
    /// From the round's start to the end of its flush.
    pub elapsed: Duration,
    /// Commands it acknowledged.
    pub commands: usize,
}

impl InternalEvent for LedgerRoundCommitted {
    fn emit(self) {
        histogram!(LEDGER_COMMIT_SECONDS.name).record(self.elapsed.as_secs_f64());
        histogram!(LEDGER_COMMIT_BATCH_SIZE.name).record(self.commands as f64);
    }
}

/// A durable movement, as the ingestion metrics count it.
#[derive(Debug, Clone, Copy)]
pub struct MovementRecorded<'a> {
    /// The client, and the movement's source label as the channel: a channel id, `api` or
    /// `import`.
    pub at: ChannelLabels<'a>,
    /// Whether it came from a marketplace's order events (only those count as orders).
    pub order_event: bool,
    /// A repeated delivery of a movement applied before.
    pub duplicate: bool,
    /// Units sold beyond availability (never negative; 0 for a covered sale).
    pub oversold_units: i64,
}

impl InternalEvent for MovementRecorded<'_> {
    fn emit(self) {
        if self.oversold_units > 0 && !self.duplicate {
            counter!(OVERSOLD_UNITS_TOTAL.name, self.at.with([]))
                // `try_from` keeps a damaged value from wrapping into a huge count.
                .increment(u64::try_from(self.oversold_units).unwrap_or(0));
        }
        if self.order_event {
            let counted = if self.duplicate {
                ORDER_DUPLICATES_TOTAL
            } else {
                ORDERS_INGESTED_TOTAL
            };
            counter!(counted.name, self.at.with([])).increment(1);
        }
    }
}

/// An order exception was raised for the first time (a sighting of a known one is not).
#[derive(Debug, Clone, Copy)]
pub struct OrderExceptionRaised<'a> {
    /// The client, and the source's label as the channel.
    pub at: ChannelLabels<'a>,
    /// The exception's kind.
    pub kind: &'static str,
}

impl InternalEvent for OrderExceptionRaised<'_> {
    fn emit(self) {
        let labels = self.at.with([Label::new(KIND, self.kind)]);
        counter!(ORDER_EXCEPTIONS_TOTAL.name, labels).increment(1);
    }
}

/// A database flush or sync failed (final: nothing is acknowledged after it).
#[derive(Debug, Clone, Copy)]
pub struct StorageFlushFailed {
    /// The `StorageError` kind.
    pub kind: &'static str,
}

impl InternalEvent for StorageFlushFailed {
    fn emit(self) {
        counter!(STORAGE_FLUSH_FAILURES_TOTAL.name, KIND => self.kind).increment(1);
    }
}

/// The HTTP edge turned a request away for load or time.
#[derive(Debug, Clone, Copy)]
pub struct HttpRefused {
    /// Its API code (`body_timeout`, `overloaded`, …) or `header_timeout`.
    pub reason: &'static str,
}

impl InternalEvent for HttpRefused {
    fn emit(self) {
        counter!(HTTP_REFUSED_TOTAL.name, REASON => self.reason).increment(1);
    }
}

/// A marketplace order notification was answered.
#[derive(Debug, Clone, Copy)]
pub struct NotificationReceived {
    /// The channel's platform label, or `unknown` for a refusal or a path naming no channel.
    pub platform: &'static str,
    /// `recorded`, `ignored`, `refused` or `retry_later`.
    pub outcome: &'static str,
}

impl InternalEvent for NotificationReceived {
    fn emit(self) {
        counter!(NOTIFICATIONS_TOTAL.name, PLATFORM => self.platform, OUTCOME => self.outcome)
            .increment(1);
    }
}

/// The exception queue of a client was looked over (issue 15): its unresolved count per kind and
/// how overdue the oldest is. Every kind is set, zeros included, so that a resolved kind drops.
#[derive(Debug, Clone, Copy)]
pub struct ExceptionQueueObserved<'a> {
    /// The client's label.
    pub client: &'a str,
    /// Unresolved exceptions per kind (every kind, zeros included).
    pub unresolved: &'a [(&'static str, u64)],
    /// Seconds the most overdue one is past due (0: none).
    pub oldest_past_due_seconds: f64,
}

impl InternalEvent for ExceptionQueueObserved<'_> {
    fn emit(self) {
        for (kind, count) in self.unresolved {
            gauge!(EXCEPTIONS_UNRESOLVED.name, CLIENT => self.client.to_string(), KIND => *kind)
                .set(*count as f64);
        }
        gauge!(EXCEPTIONS_OLDEST_PAST_DUE_SECONDS.name, CLIENT => self.client.to_string())
            .set(self.oldest_past_due_seconds);
    }
}

/// An attempt to deliver an escalation ended.
#[derive(Debug, Clone, Copy)]
pub struct EscalationAttempted<'a> {
    /// The client's label.
    pub client: &'a str,
    /// `delivered`, `failed` or `gave_up`.
    pub outcome: &'static str,
}

impl InternalEvent for EscalationAttempted<'_> {
    fn emit(self) {
        counter!(ESCALATION_DELIVERIES_TOTAL.name, CLIENT => self.client.to_string(), OUTCOME => self.outcome)
            .increment(1);
    }
}

/// A client's credentials were checked against their rotate-by dates.
#[derive(Debug, Clone, Copy)]
pub struct CredentialRotationObserved<'a> {
    /// The client's label.
    pub client: &'a str,
    /// Credentials due within the warning window.
    pub due_soon: u64,
    /// Credentials past their date.
    pub overdue: u64,
}

impl InternalEvent for CredentialRotationObserved<'_> {
    fn emit(self) {
        for (kind, count) in [("due_soon", self.due_soon), ("overdue", self.overdue)] {
            gauge!(CREDENTIALS_ROTATION_DUE.name, CLIENT => self.client.to_string(), KIND => kind)
                .set(count as f64);
        }
    }
}
