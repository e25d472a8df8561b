//! The InventoryActor: one per client, the only holder of that client's sled tree.
//!
//! It applies movements through the [`store::LedgerStore`] and acknowledges a command only after
//! its writes are durable. Durability is group-committed ([`group_commit`]): the transactions of
//! every command that arrives while a flush runs share the next `flush_async`, which runs on
//! sled's thread pool, so the arbiter thread never blocks on the disk. The actor keeps no state
//! that exists only in memory: waiters are answers owed, never data, and a restarted actor
//! recovers everything from its tree.

pub mod group_commit;
pub mod ledger;
pub mod messages;
pub mod store;

#[cfg(test)]
mod tests;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use tokio::sync::oneshot;

use self::group_commit::GroupCommit;
use self::ledger::{Movement, Source};
use self::messages::{
    ApplyMovements, GetJournal, GetOrderExceptions, GetState, GetStock, InventoryState, StockLevel,
    VerifyLedger,
};
use self::store::{
    ApplyOutcome, JournalQuery, LedgerError, LedgerStore, OrderException, VerifyReport,
};
use crate::ids::ClientCode;
use crate::metrics::{self, label};

/// Why an InventoryActor call failed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The ledger refused or failed the call (see [`LedgerError::is_caller_error`]).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A background check could not run to its end.
    #[error("the ledger check did not complete: {0}")]
    CheckAborted(String),
    /// The actor stopped before the write was durable; the command was not acknowledged and may
    /// be retried with the same idempotency keys.
    #[error("the inventory actor stopped before the write was durable")]
    Stopped,
}

impl InventoryError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            InventoryError::Ledger(error) => error.kind(),
            InventoryError::CheckAborted(_) => "check_aborted",
            InventoryError::Stopped => "stopped",
        }
    }
}

/// When a command is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckPolicy {
    /// After the flush that covers its writes: the only policy the service uses.
    #[default]
    AfterFlush,
    /// Immediately after the transaction, before any flush. Exists only so that the crash test's
    /// negative control can prove its oracle detects lost acknowledged events.
    #[cfg(feature = "testsuite")]
    BeforeFlushUnsafe,
}

/// Settings of an InventoryActor.
#[derive(Debug, Clone, Copy)]
pub struct InventoryConfig {
    /// Mailbox capacity; senders using `send().await` wait when it is full, `try_send` fails.
    pub mailbox_capacity: usize,
    /// When commands are acknowledged.
    pub ack: AckPolicy,
    /// The clock stamping journal entries, in milliseconds since the Unix epoch.
    pub clock_ms: fn() -> u64,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            mailbox_capacity: 1024,
            ack: AckPolicy::AfterFlush,
            clock_ms: system_clock_ms,
        }
    }
}

/// Milliseconds since the Unix epoch by the system clock.
pub fn system_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

type Reply = oneshot::Sender<Result<ApplyOutcome, InventoryError>>;

/// An answer owed once the flush covering its writes completes.
#[derive(Debug)]
struct PendingAck {
    reply: Reply,
    outcome: ApplyOutcome,
}

/// The owner of one client's ledger.
#[derive(Debug)]
pub struct InventoryActor {
    client: ClientCode,
    client_label: String,
    store: LedgerStore,
    config: InventoryConfig,
    commit: GroupCommit<PendingAck>,
}

impl InventoryActor {
    /// Recovers the client's ledger from `tree` (which nothing else may hold).
    pub fn open(
        client: ClientCode,
        tree: sled::Tree,
        config: InventoryConfig,
    ) -> Result<Self, InventoryError> {
        let store = LedgerStore::open(tree)?;
        Ok(Self {
            client_label: metrics::client_label(&client),
            client,
            store,
            config,
            commit: GroupCommit::default(),
        })
    }

    /// Starts the actor on the current arbiter with its configured mailbox capacity.
    pub fn start_bounded(self) -> Addr<Self> {
        let capacity = self.config.mailbox_capacity;
        // The capacity is set in the create closure, not in `started()`, so that no early sender
        // sees the default of 16 (`reference/style-anchors.md` §6 (d)).
        Self::create(move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            self
        })
    }

    /// Starts the actor on `arbiter` with its configured mailbox capacity.
    pub fn start_bounded_in(self, arbiter: &ArbiterHandle) -> Addr<Self> {
        let capacity = self.config.mailbox_capacity;
        Self::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            self
        })
    }

    fn start_flush(&mut self, ctx: &mut Context<Self>) {
        let Some(batch_size) = self.commit.start_flush() else {
            return;
        };
        let store = self.store.clone();
        let started = Instant::now();
        let flush = async move { store.flush().await };
        ctx.spawn(flush.into_actor(self).map(move |result, actor, ctx| {
            ::metrics::histogram!(metrics::LEDGER_COMMIT_SECONDS.name)
                .record(started.elapsed().as_secs_f64());
            ::metrics::histogram!(metrics::LEDGER_COMMIT_BATCH_SIZE.name).record(batch_size as f64);
            actor.finish_flush(result, ctx);
        }));
    }

    fn finish_flush(&mut self, result: Result<usize, LedgerError>, ctx: &mut Context<Self>) {
        let (covered, again) = self.commit.finish_flush();
        match result {
            Ok(_) => {
                for ack in covered {
                    self.record_durable(&ack.outcome);
                    // The caller may have gone away; the write is durable either way.
                    let _ = ack.reply.send(Ok(ack.outcome));
                }
                if again {
                    self.start_flush(ctx);
                }
            }
            Err(error) => {
                tracing::error!(client = %self.client, error = %error, "ledger flush failed, stopping the actor");
                for ack in covered {
                    let _ = ack.reply.send(Err(storage_error(&error)));
                }
                // A store that cannot flush must not acknowledge anything more; stopping drops
                // the remaining waiters (their callers see `Stopped`) and lets the supervisor
                // respawn the actor from durable state.
                ctx.stop();
            }
        }
    }

    fn record_durable(&self, outcome: &ApplyOutcome) {
        for applied in &outcome.results {
            let channel = applied.source.label().to_string();
            if applied.oversold_units > 0 && !applied.duplicate {
                ::metrics::counter!(metrics::OVERSOLD_UNITS_TOTAL.name, label::CLIENT => self.client_label.clone(), label::CHANNEL => channel.clone())
                    .increment(applied.oversold_units as u64);
            }
            if matches!(applied.source, Source::Channel(_)) {
                let counted = if applied.duplicate {
                    metrics::ORDER_DUPLICATES_TOTAL
                } else {
                    metrics::ORDERS_INGESTED_TOTAL
                };
                ::metrics::counter!(counted.name, label::CLIENT => self.client_label.clone(), label::CHANNEL => channel)
                    .increment(1);
            }
        }
    }
}

fn storage_error(error: &LedgerError) -> InventoryError {
    match error {
        LedgerError::Storage(error) => InventoryError::Ledger(LedgerError::Storage(error.clone())),
        other => InventoryError::Ledger(LedgerError::Corrupt(other.to_string())),
    }
}

impl Actor for InventoryActor {
    type Context = Context<Self>;
}

impl Handler<ApplyMovements> for InventoryActor {
    type Result = ResponseFuture<Result<ApplyOutcome, InventoryError>>;

    fn handle(&mut self, message: ApplyMovements, ctx: &mut Context<Self>) -> Self::Result {
        let applied = parse_batch(&message)
            .and_then(|movements| Ok(self.store.apply(&movements, (self.config.clock_ms)())?));
        let outcome = match applied {
            Ok(outcome) => outcome,
            Err(error) => return Box::pin(async move { Err(error) }),
        };
        #[cfg(feature = "testsuite")]
        if self.config.ack == AckPolicy::BeforeFlushUnsafe {
            return Box::pin(async move { Ok(outcome) });
        }
        // Even a batch of pure duplicates waits for a flush: the first delivery may have been
        // written by a command whose flush has not finished yet.
        let (reply, answer) = oneshot::channel();
        if self.commit.enqueue(PendingAck { reply, outcome }) {
            self.start_flush(ctx);
        }
        Box::pin(async move { answer.await.unwrap_or(Err(InventoryError::Stopped)) })
    }
}

/// Validates every movement of the batch before anything is written.
fn parse_batch(message: &ApplyMovements) -> Result<Vec<Movement>, InventoryError> {
    let inputs = &message.movements;
    if inputs.len() > store::MAX_BATCH {
        return Err(LedgerError::BatchTooLarge {
            len: inputs.len(),
            max: store::MAX_BATCH,
        }
        .into());
    }
    let movements = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            Movement::parse(input).map_err(|error| LedgerError::InvalidMovement { index, error })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(movements)
}

impl Handler<GetStock> for InventoryActor {
    type Result = Result<Vec<StockLevel>, InventoryError>;

    fn handle(&mut self, message: GetStock, _ctx: &mut Context<Self>) -> Self::Result {
        match message.skus {
            None => Ok(self
                .store
                .balances()?
                .into_iter()
                .map(|(sku, balance)| StockLevel::new(sku, balance))
                .collect()),
            Some(skus) => skus
                .into_iter()
                .map(|sku| {
                    let balance = self.store.balance(&sku)?.unwrap_or_default();
                    Ok(StockLevel::new(sku, balance))
                })
                .collect(),
        }
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

impl Handler<GetState> for InventoryActor {
    type Result = Result<InventoryState, InventoryError>;

    fn handle(&mut self, _message: GetState, _ctx: &mut Context<Self>) -> Self::Result {
        Ok(InventoryState {
            client: self.client.clone(),
            head_seq: self.store.head_seq()?,
            skus: self.store.sku_count(),
            pending_acks: self.commit.pending(),
            flushing: self.commit.flushing(),
            completed_flushes: self.commit.completed_flushes(),
            exceptions: self.store.exception_count(),
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
                .map_err(|error| InventoryError::CheckAborted(error.to_string()))?
                .map_err(InventoryError::from)
        })
    }
}
