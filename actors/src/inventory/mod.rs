//! The InventoryActor: one per client, the only holder of that client's sled tree.
//!
//! It applies movements through the [`store::LedgerStore`] and acknowledges a command only after
//! its writes are durable. Writes are group-committed in rounds ([`group_commit`]): the commands
//! that arrive while a round runs are written together in the next round's single sled
//! transaction and made durable by its single flush, and only then answered. The transaction and
//! the flush both run on tokio's blocking pool ([`store::LedgerStore::flush`] says why not
//! sled's `flush_async`), so the arbiter thread never waits for the disk (sled 0.34.7 makes a
//! transaction wait while any flush of the database runs: `bench/RESULTS.md`). The actor keeps no state that exists only in memory:
//! waiting commands are answers owed, never acknowledged data, and a restarted actor recovers
//! everything from its tree.

pub mod exceptions;
pub mod group_commit;
pub mod history;
pub mod ledger;
pub mod messages;
pub mod store;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use tokio::sync::oneshot;

use self::group_commit::GroupCommit;
use self::ledger::Source;
use self::messages::{
    ApplyMovements, ChannelLedgerRecord, CommandTicket, GetChannelLedgerRecord, GetExceptionsPage,
    GetJournal, GetOrderExceptions, GetState, GetStock, GetStockPage, InventoryState,
    RecordListings, StockChanged, StockLevel, Subscribe, VerifyLedger, MAX_STOCK_PAGE,
};
use self::messages::{ApplyOutcome, LedgerError};
use self::messages::{
    ExplainListing, GetListingEventsBetween, GetListingHistory, RecordListingEvents,
};
use self::store::{
    CommandOutcome, ExceptionKind, JournalQuery, LedgerCommand, LedgerStore, OrderException,
    VerifyReport,
};
use crate::ids::{ChannelId, ClientCode, Sku};
use crate::metrics;
use crate::metrics::events::{
    ChannelLabels, InternalEvent, LedgerRoundCommitted, MovementRecorded, OrderExceptionRaised,
};
use crate::runtime::BoundedStart;

/// Why an InventoryActor call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InventoryError {
    /// The ledger refused or failed the call (see [`LedgerError::is_caller_error`]).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A task on the blocking pool (a transaction, a full check) did not run to its end.
    #[error("a ledger task did not complete: {0}")]
    TaskFailed(String),
    /// The actor stopped before the write was durable; the command was not acknowledged and may
    /// be retried with the same idempotency keys.
    #[error("the inventory actor stopped before the write was durable")]
    Stopped,
    /// The caller stopped waiting (its [`messages::CommandTicket`] expired) before a round took
    /// the command up: nothing was written, and nothing will be.
    #[error(
        "the caller stopped waiting before the ledger took the command up; nothing was written"
    )]
    Expired,
}

impl InventoryError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            InventoryError::Ledger(error) => error.kind(),
            InventoryError::TaskFailed(_) => "task_failed",
            InventoryError::Stopped => "stopped",
            InventoryError::Expired => "expired",
        }
    }
}

/// When a command is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckPolicy {
    /// After the flush that covers its writes: the only policy the service uses.
    #[default]
    AfterFlush,
    /// Right after the round's transaction, with no flush at all (sled's background flusher is
    /// all that ever makes it durable). Exists only so that the crash test's negative control can
    /// prove its oracle detects lost acknowledged events.
    #[cfg(feature = "testsuite")]
    BeforeFlushUnsafe,
}

/// Settings of an InventoryActor.
#[derive(Debug, Clone)]
pub struct InventoryConfig {
    /// Mailbox capacity; senders using `send().await` wait when it is full, `try_send` fails.
    pub mailbox_capacity: usize,
    /// When commands are acknowledged.
    pub ack: AckPolicy,
    /// The clock stamping journal entries, in milliseconds since the Unix epoch. The service
    /// passes its own clock here, so that journal times and the service's `now()` agree (and a
    /// test that moves one moves both).
    pub clock_ms: LedgerClock,
    /// The database's shared flusher (the service's registry sets one for all its clients);
    /// `None` flushes the client's tree alone.
    pub flusher: Option<crate::storage::DbFlusher>,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            mailbox_capacity: 1024,
            ack: AckPolicy::AfterFlush,
            clock_ms: LedgerClock::default(),
            flusher: None,
        }
    }
}

/// Milliseconds since the Unix epoch by the system clock.
pub fn system_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Where the ledger reads the time it stamps journal entries with, in milliseconds since the Unix
/// epoch: the system clock unless the owner sets another. A shared closure rather than a `fn`
/// pointer, so that a clock owned elsewhere (the service's, which a test moves) can drive it.
#[derive(Clone)]
pub struct LedgerClock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl LedgerClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(now_ms))
    }

    /// The time now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        (self.0)()
    }
}

impl Default for LedgerClock {
    /// The system clock ([`system_clock_ms`]).
    fn default() -> Self {
        Self::new(system_clock_ms)
    }
}

impl std::fmt::Debug for LedgerClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LedgerClock({} ms)", self.now_ms())
    }
}

type Reply = oneshot::Sender<Result<ApplyOutcome, InventoryError>>;

/// The most movements written in one round's transaction. A larger backlog is split over several
/// rounds, so one transaction stays short (tens of milliseconds) on the blocking pool.
pub const MAX_ROUND_MOVEMENTS: usize = 2 * messages::MAX_BATCH;

/// A validated command waiting for its round.
#[derive(Debug)]
struct StagedCommand {
    command: LedgerCommand,
    reply: Reply,
    /// The caller's ticket when it bounds its wait (see [`group_commit::CommandTicket`]).
    ticket: Option<CommandTicket>,
}

impl StagedCommand {
    fn expired(&self) -> bool {
        self.ticket.as_ref().is_some_and(CommandTicket::is_expired)
    }

    fn claim(&self) -> bool {
        self.ticket.as_ref().is_none_or(CommandTicket::claim)
    }

    /// Answers a command whose caller stopped waiting: it was not written.
    fn answer_expired(self) {
        let _ = self.reply.send(Err(InventoryError::Expired));
    }
}

/// A channel that wants to hear of every durable stock change, with the changes it has not yet
/// taken (its mailbox was full): coalesced per SKU, latest wins, so the backlog is bounded by the
/// number of SKUs.
#[derive(Debug)]
struct Subscriber {
    channel: ChannelId,
    recipient: Recipient<StockChanged>,
    backlog: BTreeMap<Sku, StockLevel>,
}

/// How soon undelivered stock changes are offered again to a subscriber whose mailbox was full.
const NOTIFY_RETRY: Duration = Duration::from_millis(5);

/// The owner of one client's ledger.
#[derive(Debug)]
pub struct InventoryActor {
    client: ClientCode,
    client_label: String,
    store: LedgerStore,
    config: InventoryConfig,
    commit: GroupCommit<StagedCommand>,
    subscribers: Vec<Subscriber>,
    notify_retry_scheduled: bool,
    /// Rounds are held by the test hook [`messages::HoldRounds`].
    rounds_held: bool,
}

impl InventoryActor {
    /// Recovers the client's ledger from `tree` (which nothing else may hold).
    pub fn open(
        client: ClientCode,
        tree: sled::Tree,
        config: InventoryConfig,
    ) -> Result<Self, InventoryError> {
        let store = LedgerStore::open(tree)?;
        let store = match &config.flusher {
            Some(flusher) => store.with_flusher(flusher.clone()),
            None => store,
        };
        Ok(Self {
            client_label: metrics::client_label(&client),
            client,
            store,
            config,
            commit: GroupCommit::default(),
            subscribers: Vec::new(),
            notify_retry_scheduled: false,
            rounds_held: false,
        })
    }

    fn start_round(&mut self, ctx: &mut Context<Self>) {
        if self.rounds_held {
            return;
        }
        let Some(start) = self.commit.start_round(
            MAX_ROUND_MOVEMENTS,
            // Exceptions to record weigh like movements: both are writes of the transaction.
            |staged| staged.command.movements.len() + staged.command.unapplicable.len(),
            StagedCommand::claim,
        ) else {
            return;
        };
        start
            .expired
            .into_iter()
            .for_each(StagedCommand::answer_expired);
        let commands = start.commands;
        if commands.is_empty() {
            return;
        }
        let round = Round {
            store: self.store.clone(),
            commands,
            at_ms: self.config.clock_ms.now_ms(),
            ack: self.config.ack,
            client_label: self.client_label.clone(),
        };
        ctx.spawn(round.run().into_actor(self).map(|result, actor, ctx| {
            let more_waiting = actor.commit.finish_round();
            if let Ok(changed) = &result {
                actor.notify_subscribers(changed, ctx);
            }
            if let Err(error) = result {
                tracing::error!(client = %actor.client, error = %error, "ledger round failed, stopping the actor");
                // A store that cannot write or flush must not acknowledge anything more;
                // stopping drops the waiting commands (their callers see `Stopped`) and lets the
                // supervisor respawn the actor from durable state.
                ctx.stop();
                return;
            }
            if more_waiting {
                actor.schedule_round(ctx);
            }
        }));
    }

    /// Offers durable stock changes to every subscriber, keeping what a full mailbox refused for a
    /// retry shortly after. Never waits on a channel: `try_send`, not `send().await`, so a slow
    /// channel cannot hold up the ledger or the other channels.
    fn notify_subscribers(&mut self, changed: &[StockLevel], ctx: &mut Context<Self>) {
        for subscriber in &mut self.subscribers {
            for level in changed {
                subscriber.backlog.insert(level.sku.clone(), level.clone());
            }
        }
        let mut refused = false;
        self.subscribers.retain_mut(|subscriber| {
            if subscriber.backlog.is_empty() {
                return true;
            }
            let levels = std::mem::take(&mut subscriber.backlog)
                .into_values()
                .collect();
            match subscriber.recipient.try_send(StockChanged { levels }) {
                Ok(()) => true,
                Err(SendError::Full(message)) => {
                    for level in message.levels {
                        subscriber.backlog.insert(level.sku.clone(), level);
                    }
                    refused = true;
                    true
                }
                // The channel is gone; its supervisor subscribes the next generation, which
                // starts from `GetStock`.
                Err(SendError::Closed(_)) => false,
            }
        });
        if refused && !self.notify_retry_scheduled {
            self.notify_retry_scheduled = true;
            ctx.run_later(NOTIFY_RETRY, |actor, ctx| {
                actor.notify_retry_scheduled = false;
                actor.notify_subscribers(&[], ctx);
            });
        }
    }

    /// Starts the scheduled round after the thread's other ready tasks have run once, so that
    /// commands they send at this instant join it (see [`group_commit`]). Costs one scheduler turn
    /// of latency.
    fn schedule_round(&mut self, ctx: &mut Context<Self>) {
        let one_turn = actix::fut::wrap_future::<_, Self>(tokio::task::yield_now());
        ctx.spawn(one_turn.map(|(), actor, ctx| actor.start_round(ctx)));
    }
}

/// One round of group commit, moved out of the actor so the actor keeps taking messages (which
/// stage the next round) while it runs.
#[derive(Debug)]
struct Round {
    store: LedgerStore,
    commands: Vec<StagedCommand>,
    at_ms: u64,
    ack: AckPolicy,
    client_label: String,
}

impl Round {
    /// Writes every command in one transaction, flushes, then answers each command; returns the
    /// stock levels the round changed. A failure of the store answers every command with it and
    /// is returned.
    async fn run(self) -> Result<Vec<StockLevel>, InventoryError> {
        let started = Instant::now();
        let round_size = self.commands.len();
        let (commands, replies): (Vec<LedgerCommand>, Vec<(Reply, Option<CommandTicket>)>) = self
            .commands
            .into_iter()
            .map(|staged| (staged.command, (staged.reply, staged.ticket)))
            .unzip();
        let store = self.store.clone();
        let at_ms = self.at_ms;
        // On the blocking pool: a sled transaction waits while any flush of the database runs.
        let written = tokio::task::spawn_blocking(move || {
            let history_before = store.history_head()?;
            let outcomes = store.apply_round(&commands, at_ms)?;
            // Bounding the history is housekeeping: a failure is logged, never the round's.
            if let Err(error) = store.prune_history(&commands, history_before, at_ms) {
                tracing::warn!(error = %error, "pruning the listing history failed; it is retried with the listing's later events");
            }
            let changed = changed_levels(&store, &commands, &outcomes)?;
            Ok::<_, LedgerError>((outcomes, changed))
        })
        .await
        .map_err(|error| InventoryError::TaskFailed(error.to_string()))
        .and_then(|written| written.map_err(InventoryError::from));
        let (outcomes, changed) = match written {
            Ok(outcomes) => outcomes,
            Err(error) => return Err(answer_all(replies, error)),
        };
        if self.ack == AckPolicy::AfterFlush {
            if let Err(error) = self.store.flush().await {
                return Err(answer_all(replies, error.into()));
            }
        }
        LedgerRoundCommitted {
            elapsed: started.elapsed(),
            commands: round_size,
        }
        .emit();
        for ((reply, ticket), outcome) in replies.into_iter().zip(outcomes) {
            match &outcome {
                Ok(done) => {
                    record_durable(&self.client_label, &done.outcome);
                    record_raised(&self.client_label, &done.raised);
                }
                // Refused, so nothing of it was written: its caller may expire what it sends
                // next under the same ticket. Released before the answer, so that the caller
                // never acts on a stale claim.
                Err(_) => ticket.iter().for_each(CommandTicket::release),
            }
            // The caller may have gone away; the write is durable either way.
            let outcome = outcome.map(|done| done.outcome);
            let _ = reply.send(outcome.map_err(InventoryError::from));
        }
        Ok(changed)
    }
}

/// Reads the balances of the SKUs that accepted commands of a round moved (duplicates move
/// nothing).
fn changed_levels(
    store: &LedgerStore,
    commands: &[LedgerCommand],
    outcomes: &[Result<CommandOutcome, LedgerError>],
) -> Result<Vec<StockLevel>, LedgerError> {
    let mut moved: BTreeSet<&Sku> = BTreeSet::new();
    for (command, outcome) in commands.iter().zip(outcomes) {
        let Ok(done) = outcome else {
            continue;
        };
        for (movement, applied) in command.movements.iter().zip(&done.outcome.results) {
            if !applied.duplicate {
                moved.insert(&movement.sku);
            }
        }
    }
    moved
        .into_iter()
        .map(|sku| {
            let balance = store.balance(sku)?.unwrap_or_default();
            StockLevel::new(sku.clone(), balance)
        })
        .collect()
}

/// Answers every command of a failed round with the failure and returns it.
fn answer_all(
    replies: Vec<(Reply, Option<CommandTicket>)>,
    error: InventoryError,
) -> InventoryError {
    for (reply, _) in replies {
        let _ = reply.send(Err(error.clone()));
    }
    error
}

/// Counts what a durable round changed: oversold units, order events and duplicates.
fn record_durable(client_label: &str, outcome: &ApplyOutcome) {
    for applied in &outcome.results {
        MovementRecorded {
            at: ChannelLabels {
                client: client_label,
                channel: applied.source.label(),
            },
            order_event: matches!(applied.source, Source::Channel(_)),
            duplicate: applied.duplicate,
            // Never negative (`effect_of`).
            oversold_units: applied.oversold_units,
        }
        .emit();
    }
}

/// Counts the exceptions a durable round raised for the first time, by kind (a sighting of a
/// known one is not a new exception).
fn record_raised(client_label: &str, raised: &[(ExceptionKind, Source)]) {
    for (kind, source) in raised {
        OrderExceptionRaised {
            at: ChannelLabels {
                client: client_label,
                channel: source.label(),
            },
            kind: kind.as_str(),
        }
        .emit();
    }
}

impl BoundedStart for InventoryActor {
    fn mailbox_capacity(&self) -> usize {
        self.config.mailbox_capacity
    }
}

impl Actor for InventoryActor {
    type Context = Context<Self>;
}

impl Handler<ApplyMovements> for InventoryActor {
    type Result = ResponseFuture<Result<ApplyOutcome, InventoryError>>;

    fn handle(&mut self, message: ApplyMovements, ctx: &mut Context<Self>) -> Self::Result {
        if let Err(error) = messages::check_batch_len(message.movements.len()) {
            return Box::pin(async move { Err(error.into()) });
        }
        let command = LedgerCommand {
            movements: message.movements,
            cursor: message.cursor,
            listings: None,
            unapplicable: message.unapplicable,
            history: Vec::new(),
        };
        self.stage(command, message.ticket, ctx)
    }
}

impl InventoryActor {
    /// Stages a command for the next round and returns the answer it will get. Every command,
    /// even one of pure duplicates, is answered only after its round's flush: the first delivery
    /// may have been written by a round that is not durable yet.
    ///
    /// A command whose caller stopped waiting already (it sat in the mailbox past its caller's
    /// bound) is answered `Expired` at once; waiting commands whose callers stopped meanwhile
    /// leave the queue now rather than at the next round, so they hold no room while the ledger
    /// is slow.
    fn stage(
        &mut self,
        command: LedgerCommand,
        ticket: Option<CommandTicket>,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<ApplyOutcome, InventoryError>> {
        if ticket.as_ref().is_some_and(CommandTicket::is_expired) {
            return Box::pin(async { Err(InventoryError::Expired) });
        }
        self.commit
            .take_expired(StagedCommand::expired)
            .into_iter()
            .for_each(StagedCommand::answer_expired);
        let (reply, answer) = oneshot::channel();
        let staged = StagedCommand {
            command,
            reply,
            ticket,
        };
        if self.commit.enqueue(staged) {
            self.schedule_round(ctx);
        }
        Box::pin(async move { answer.await.unwrap_or(Err(InventoryError::Stopped)) })
    }
}

impl Handler<RecordListings> for InventoryActor {
    type Result = ResponseFuture<Result<ApplyOutcome, InventoryError>>;

    fn handle(&mut self, message: RecordListings, ctx: &mut Context<Self>) -> Self::Result {
        let command = LedgerCommand {
            listings: Some(message.update),
            ..LedgerCommand::default()
        };
        self.stage(command, None, ctx)
    }
}

impl Handler<RecordListingEvents> for InventoryActor {
    type Result = ResponseFuture<Result<ApplyOutcome, InventoryError>>;

    fn handle(&mut self, message: RecordListingEvents, ctx: &mut Context<Self>) -> Self::Result {
        let command = LedgerCommand {
            history: message.events,
            ..LedgerCommand::default()
        };
        self.stage(command, None, ctx)
    }
}

impl Handler<GetListingHistory> for InventoryActor {
    type Result = Result<Vec<history::RecordedEvent>, InventoryError>;

    fn handle(&mut self, message: GetListingHistory, _ctx: &mut Context<Self>) -> Self::Result {
        // A bounded range read (one page), like the other pages, on the actor.
        Ok(self.store.history_page(
            &message.channel,
            &message.sku,
            message.after_id,
            message.limit,
        )?)
    }
}

impl Handler<GetListingEventsBetween> for InventoryActor {
    type Result = ResponseFuture<Result<Vec<history::ListingEvent>, InventoryError>>;

    fn handle(
        &mut self,
        message: GetListingEventsBetween,
        _ctx: &mut Context<Self>,
    ) -> Self::Result {
        // A read of the whole history: on the blocking pool, like an explanation.
        let store = self.store.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                store.history_between(message.from_ms, message.to_ms)
            })
            .await
            .map_err(|error| InventoryError::TaskFailed(error.to_string()))?
            .map_err(InventoryError::from)
        })
    }
}

impl Handler<ExplainListing> for InventoryActor {
    type Result = ResponseFuture<Result<history::Explanation, InventoryError>>;

    fn handle(&mut self, message: ExplainListing, _ctx: &mut Context<Self>) -> Self::Result {
        // The listing's history and up to `EXPLAIN_WINDOW` journal entries: on tokio's blocking
        // pool, never on the arbiter thread that commits rounds (DESIGN §2).
        let store = self.store.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                store.explain_listing(
                    &message.channel,
                    &message.sku,
                    message.at_ms,
                    message.policy_now,
                )
            })
            .await
            .map_err(|error| InventoryError::TaskFailed(error.to_string()))?
            .map_err(InventoryError::from)
        })
    }
}

impl Handler<GetChannelLedgerRecord> for InventoryActor {
    type Result = Result<ChannelLedgerRecord, InventoryError>;

    fn handle(
        &mut self,
        message: GetChannelLedgerRecord,
        _ctx: &mut Context<Self>,
    ) -> Self::Result {
        Ok(ChannelLedgerRecord {
            cursor: self.store.cursor(&message.channel)?,
            listings: self.store.listings(&message.channel)?,
        })
    }
}

impl Handler<Subscribe> for InventoryActor {
    type Result = Result<(), InventoryError>;

    fn handle(&mut self, message: Subscribe, _ctx: &mut Context<Self>) -> Self::Result {
        // A new generation of a channel replaces the old one's subscription.
        self.subscribers
            .retain(|subscriber| subscriber.channel != message.channel);
        self.subscribers.push(Subscriber {
            channel: message.channel,
            recipient: message.recipient,
            backlog: BTreeMap::new(),
        });
        Ok(())
    }
}

impl Handler<GetStock> for InventoryActor {
    type Result = ResponseFuture<Result<Vec<StockLevel>, InventoryError>>;

    fn handle(&mut self, message: GetStock, _ctx: &mut Context<Self>) -> Self::Result {
        let Some(skus) = message.skus else {
            // Every balance: a scan that grows with the catalog, so it runs on tokio's blocking
            // pool, never on the arbiter thread that commits this and other clients' rounds
            // (DESIGN §2; issue 13, item 5). Each balance read is one committed round's.
            let store = self.store.clone();
            return Box::pin(async move {
                tokio::task::spawn_blocking(move || {
                    store
                        .balances()?
                        .into_iter()
                        .map(|(sku, balance)| Ok(StockLevel::new(sku, balance)?))
                        .collect()
                })
                .await
                .map_err(|error| InventoryError::TaskFailed(error.to_string()))?
            });
        };
        // Named SKUs: point reads, as many as the caller named.
        let levels = skus
            .into_iter()
            .map(|sku| {
                let balance = self.store.balance(&sku)?.unwrap_or_default();
                Ok(StockLevel::new(sku, balance)?)
            })
            .collect();
        Box::pin(std::future::ready(levels))
    }
}

impl Handler<GetStockPage> for InventoryActor {
    type Result = Result<Vec<StockLevel>, InventoryError>;

    fn handle(&mut self, message: GetStockPage, _ctx: &mut Context<Self>) -> Self::Result {
        let limit = message.limit.clamp(1, MAX_STOCK_PAGE);
        self.store
            .balances_after(message.after.as_ref(), limit)?
            .into_iter()
            .map(|(sku, balance)| Ok(StockLevel::new(sku, balance)?))
            .collect()
    }
}

impl Handler<GetJournal> for InventoryActor {
    type Result = Result<Vec<ledger::JournalEntry>, InventoryError>;

    fn handle(&mut self, message: GetJournal, _ctx: &mut Context<Self>) -> Self::Result {
        let query = JournalQuery {
            sku: message.sku,
            after_seq: message.after_seq,
            limit: message.limit,
        };
        Ok(self.store.journal(&query)?)
    }
}

impl Handler<GetOrderExceptions> for InventoryActor {
    type Result = Result<Vec<OrderException>, InventoryError>;

    fn handle(&mut self, _message: GetOrderExceptions, _ctx: &mut Context<Self>) -> Self::Result {
        Ok(self.store.exceptions()?)
    }
}

impl Handler<GetExceptionsPage> for InventoryActor {
    type Result = Result<Vec<OrderException>, InventoryError>;

    fn handle(&mut self, message: GetExceptionsPage, _ctx: &mut Context<Self>) -> Self::Result {
        Ok(self
            .store
            .exceptions_page(message.after_id, message.limit)?)
    }
}

impl Handler<GetState> for InventoryActor {
    type Result = Result<InventoryState, InventoryError>;

    fn handle(&mut self, _message: GetState, _ctx: &mut Context<Self>) -> Self::Result {
        Ok(InventoryState {
            client: self.client.clone(),
            head_seq: self.store.head_seq()?,
            skus: saturating_usize(self.store.sku_count()?),
            pending_acks: self.commit.pending(),
            round_running: self.commit.round_running(),
            completed_rounds: self.commit.completed_rounds(),
            exceptions: saturating_usize(self.store.exception_count()?),
        })
    }
}

impl Handler<VerifyLedger> for InventoryActor {
    type Result = ResponseFuture<Result<VerifyReport, InventoryError>>;

    fn handle(&mut self, _message: VerifyLedger, _ctx: &mut Context<Self>) -> Self::Result {
        // A full scan: it runs on tokio's blocking pool, never on the arbiter thread (DESIGN §2).
        let store = self.store.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || store.verify())
                .await
                .map_err(|error| InventoryError::TaskFailed(error.to_string()))?
                .map_err(InventoryError::from)
        })
    }
}

#[cfg(any(test, feature = "testsuite"))]
impl Handler<messages::InjectPanic> for InventoryActor {
    type Result = ();

    fn handle(&mut self, _message: messages::InjectPanic, _ctx: &mut Context<Self>) {
        panic!("injected panic in the inventory actor of {}", self.client);
    }
}

#[cfg(any(test, feature = "testsuite"))]
impl Handler<messages::HoldRounds> for InventoryActor {
    type Result = ();

    fn handle(&mut self, _message: messages::HoldRounds, _ctx: &mut Context<Self>) {
        self.rounds_held = true;
    }
}

#[cfg(any(test, feature = "testsuite"))]
impl Handler<messages::ReleaseRounds> for InventoryActor {
    type Result = ();

    fn handle(&mut self, _message: messages::ReleaseRounds, ctx: &mut Context<Self>) {
        self.rounds_held = false;
        if self.commit.pending() > 0 && !self.commit.round_running() {
            self.schedule_round(ctx);
        }
    }
}

#[cfg(any(test, feature = "testsuite"))]
impl Handler<messages::StallMailbox> for InventoryActor {
    type Result = ();

    fn handle(&mut self, message: messages::StallMailbox, ctx: &mut Context<Self>) {
        // `wait` keeps the actor from taking messages until the timer ends; rounds already
        // spawned go on.
        ctx.wait(actix::fut::wrap_future(tokio::time::sleep(
            Duration::from_millis(message.for_ms),
        )));
    }
}

/// A stored count as the state reports it (a count above `usize::MAX` cannot be held anyway).
fn saturating_usize(count: u64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}
