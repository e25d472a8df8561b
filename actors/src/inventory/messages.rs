//! Messages of the InventoryActor, and the types and limits its callers need (the outcome of a
//! batch, the ledger's error, cursor and listing updates, page and batch limits): the store
//! behind the actor is the actor's alone, nothing outside `inventory/` imports it for these.
//! Commands are imperative, queries are `Get*`.

use actix::{Message, Recipient};
use serde::{Deserialize, Serialize};

pub use super::group_commit::CommandTicket;
use super::history::{Explanation, ListingEvent, RecordedEvent};
use super::ledger::{
    Balance, IdempotencyKey, JournalEntry, Movement, MovementError, MovementInput, Rejection,
    Source,
};
use super::store::{OrderException, UnapplicableEvent, VerifyReport};
use super::InventoryError;
use crate::channel::policy::ListingPolicy;
use crate::ids::{ChannelId, ClientCode, Sku};

/// The most movements one batch may carry: large enough for a catalog recount of a big client in
/// a few calls, small enough that one transaction stays short on the arbiter thread.
pub const MAX_BATCH: usize = 1_000;

/// The most journal entries one query returns.
pub const MAX_JOURNAL_PAGE: usize = 1_000;

/// The most order exceptions one query returns.
pub const MAX_EXCEPTION_PAGE: usize = 1_000;

/// The longest order-feed cursor kept, in bytes (marketplace page tokens are far shorter; a
/// longer one is a bug, not a cursor).
pub const MAX_CURSOR_BYTES: usize = 2_048;

/// Why a ledger call failed. Variants up to `KeyReused` are the caller's mistake and changed
/// nothing; `Storage` and `Corrupt` are failures of the store itself.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    /// A batch without movements.
    #[error("the batch holds no movements")]
    EmptyBatch,
    /// A batch with more than [`MAX_BATCH`] movements.
    #[error("the batch holds {len} movements; at most {max} are accepted in one call")]
    BatchTooLarge { len: usize, max: usize },
    /// A movement that is not valid as given.
    #[error("movement {index}: {error}")]
    InvalidMovement { index: usize, error: MovementError },
    /// A valid movement that cannot apply to the current balance; the whole batch was refused.
    #[error("movement {index} (key {key:?}) was refused: {reason}")]
    Rejected {
        index: usize,
        key: String,
        reason: Rejection,
    },
    /// An idempotency key already used for a different movement; the whole batch was refused.
    #[error(
        "movement {index}: idempotency key {key:?} was already used for a different movement \
         (journal entry {seq})"
    )]
    KeyReused { index: usize, key: String, seq: u64 },
    /// A cursor longer than [`MAX_CURSOR_BYTES`].
    #[error("the order-feed cursor is {len} bytes long; at most {max} are kept")]
    CursorTooLong { len: usize, max: usize },
    /// sled failed (I/O error, or a bug it reports).
    #[error("ledger storage failed: {0}")]
    Storage(#[from] sled::Error),
    /// The tree holds data the ledger did not write or cannot read.
    #[error("ledger data is corrupt: {0}")]
    Corrupt(String),
}

impl LedgerError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            LedgerError::EmptyBatch => "empty_batch",
            LedgerError::BatchTooLarge { .. } => "batch_too_large",
            LedgerError::InvalidMovement { error, .. } => error.kind(),
            LedgerError::Rejected {
                reason: Rejection::ExceedsReserved { .. },
                ..
            } => "exceeds_reserved",
            LedgerError::Rejected {
                reason: Rejection::OutOfRange,
                ..
            } => "balance_out_of_range",
            LedgerError::KeyReused { .. } => "idempotency_key_reused",
            LedgerError::CursorTooLong { .. } => "cursor_too_long",
            LedgerError::Storage(_) => "storage",
            LedgerError::Corrupt(_) => "corrupt",
        }
    }

    /// Tells whether the error is the caller's (bad input, refused movement): it changed nothing
    /// and retrying the same call gives the same answer.
    pub fn is_caller_error(&self) -> bool {
        !matches!(self, LedgerError::Storage(_) | LedgerError::Corrupt(_))
    }
}

/// The result of one movement of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The movement's idempotency key.
    pub key: IdempotencyKey,
    /// The journal entry it produced (for a duplicate: the entry of the first delivery).
    pub seq: u64,
    /// True when the key had been applied before and nothing changed.
    pub duplicate: bool,
    /// Units sold beyond availability (the first result's value for a duplicate).
    pub oversold_units: i64,
    /// The movement's source (of this delivery).
    pub source: Source,
}

/// The result of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    /// One result per movement, in batch order.
    pub results: Vec<Applied>,
    /// The journal's last sequence number after the batch.
    pub head_seq: u64,
}

/// A channel's order-feed cursor, written in the same transaction as the order events it covers
/// (DESIGN §3): a cursor never advances past an event that is not in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorUpdate {
    /// The channel whose feed it is.
    pub channel: ChannelId,
    /// The cursor to resume from.
    pub cursor: String,
}

/// What a marketplace last confirmed for one listing of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingRecord {
    /// The SKU.
    pub sku: Sku,
    /// The quantity the marketplace confirmed.
    pub quantity: u32,
    /// The ledger sequence number the pushed quantity was computed from.
    pub ledger_seq: u64,
    /// When it was confirmed, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// Listed quantities a marketplace confirmed for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingsUpdate {
    /// The channel.
    pub channel: ChannelId,
    /// The confirmed listings.
    pub listings: Vec<ListingRecord>,
    /// The quantities were adopted from the marketplace's own export, not confirmed pushes: the
    /// listing history records them as reads (issue 15).
    #[serde(default)]
    pub adopted: bool,
}

/// Applies a batch of movements as one transaction; answers once the batch is durable.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<ApplyOutcome, InventoryError>")]
pub struct ApplyMovements {
    /// The movements, typed: text from outside is parsed at the edge ([`ApplyMovements::parse`]),
    /// an order event becomes a movement without passing through text
    /// ([`Movement::of_order`]). At most [`MAX_BATCH`].
    pub movements: Vec<Movement>,
    /// The order-feed cursor these movements advance, written in the same transaction.
    pub cursor: Option<CursorUpdate>,
    /// Orders told of with these movements that cannot be applied, recorded as order exceptions
    /// in the same transaction (a delivery's good lines and bad ones together or not at all).
    pub unapplicable: Vec<UnapplicableEvent>,
    /// Set by a caller that bounds its wait: a command it expired before a round claimed it is
    /// answered [`InventoryError::Expired`] and never written. `None`: the caller waits.
    pub ticket: Option<CommandTicket>,
}

impl ApplyMovements {
    /// A batch of movements that advances no cursor.
    pub fn new(movements: Vec<Movement>) -> Self {
        Self {
            movements,
            ..Self::default()
        }
    }

    /// Parses movements as they arrived from outside (HTTP bodies, CSV rows) into a batch that
    /// advances no cursor: refused whole, naming the first movement that is not valid, before
    /// anything reaches the ledger.
    pub fn parse(inputs: &[MovementInput]) -> Result<Self, LedgerError> {
        check_batch_len(inputs.len())?;
        let movements = inputs
            .iter()
            .enumerate()
            .map(|(index, input)| {
                Movement::parse(input)
                    .map_err(|error| LedgerError::InvalidMovement { index, error })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::new(movements))
    }
}

/// Refuses a batch of more than [`MAX_BATCH`] movements.
pub(super) fn check_batch_len(len: usize) -> Result<(), LedgerError> {
    if len > MAX_BATCH {
        return Err(LedgerError::BatchTooLarge {
            len,
            max: MAX_BATCH,
        });
    }
    Ok(())
}

/// Records listed quantities a marketplace confirmed; answers once they are durable.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<ApplyOutcome, InventoryError>")]
pub struct RecordListings {
    /// The channel and its confirmed listings.
    pub update: ListingsUpdate,
}

/// Appends listing-history events (pushes sent or refused, reads that found drift) in the next
/// round; answers once they are durable. A channel never waits on it to push: history is the
/// explanation of the pushes, not a condition of them.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<ApplyOutcome, InventoryError>")]
pub struct RecordListingEvents {
    /// The events, at most [`MAX_BATCH`].
    pub events: Vec<ListingEvent>,
}

/// Returns a page of one listing's history, oldest first.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<RecordedEvent>, InventoryError>")]
pub struct GetListingHistory {
    /// The channel of the listing.
    pub channel: ChannelId,
    /// Its SKU.
    pub sku: Sku,
    /// Only events with an id above this one.
    pub after_id: u64,
    /// At most this many (clamped to 1..=[`crate::inventory::history::MAX_HISTORY_PAGE`]).
    pub limit: usize,
}

/// Returns every listing-history event of the client that happened in `from_ms..to_ms` (the
/// monthly report's sync health): a full read of the bounded history, on the blocking pool.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<ListingEvent>, InventoryError>")]
pub struct GetListingEventsBetween {
    /// From this instant, in milliseconds since the Unix epoch (included).
    pub from_ms: u64,
    /// To this instant (excluded).
    pub to_ms: u64,
}

/// Explains what one listing showed at an instant (see [`crate::inventory::history::explain`]).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Explanation, InventoryError>")]
pub struct ExplainListing {
    /// The channel of the listing.
    pub channel: ChannelId,
    /// Its SKU.
    pub sku: Sku,
    /// The instant, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The channel's policy now, used when the history holds no sent event to take one from.
    pub policy_now: ListingPolicy,
}

/// Returns what the ledger keeps for one channel: its order-feed cursor and its confirmed
/// listings, from which a ChannelActor recovers.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<ChannelLedgerRecord, InventoryError>")]
pub struct GetChannelLedgerRecord {
    /// The channel.
    pub channel: ChannelId,
}

/// What the ledger keeps for one channel (not the channel's settings: those are the service's
/// `clients::channels::ChannelRecord`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChannelLedgerRecord {
    /// The order-feed cursor, if the feed was ever read.
    pub cursor: Option<String>,
    /// What the marketplace last confirmed, per listing.
    pub listings: Vec<ListingRecord>,
}

/// Subscribes a channel to durable stock changes (replacing an earlier subscription of the same
/// channel).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), InventoryError>")]
pub struct Subscribe {
    /// The subscribing channel.
    pub channel: ChannelId,
    /// Where [`StockChanged`] goes.
    pub recipient: Recipient<StockChanged>,
}

/// Stock levels changed durably (the latest level per SKU; earlier undelivered ones coalesced).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct StockChanged {
    /// The new levels.
    pub levels: Vec<StockLevel>,
}

/// Returns balances: of every SKU, or only of the listed ones.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<Vec<StockLevel>, InventoryError>")]
pub struct GetStock {
    /// Only these SKUs (a SKU that never moved is returned with zero balances).
    pub skus: Option<Vec<Sku>>,
}

/// Returns the balances of at most `limit` SKUs that have moved, in SKU order, starting after
/// `after`: the paged stock list of the API (a bounded range read, so it runs on the actor).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<StockLevel>, InventoryError>")]
pub struct GetStockPage {
    /// The last SKU of the previous page.
    pub after: Option<Sku>,
    /// At most this many (clamped to [`MAX_STOCK_PAGE`]).
    pub limit: usize,
}

/// The most balances one [`GetStockPage`] returns.
pub const MAX_STOCK_PAGE: usize = 1001;

/// Returns a page of the journal in sequence order.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<Vec<JournalEntry>, InventoryError>")]
pub struct GetJournal {
    /// Only entries of this SKU.
    pub sku: Option<Sku>,
    /// Only entries after this sequence number.
    pub after_seq: u64,
    /// At most this many entries (clamped to 1..=1000).
    pub limit: usize,
}

/// Returns every order exception of the ledger (oversells, unapplicable orders), oldest first.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<Vec<OrderException>, InventoryError>")]
pub struct GetOrderExceptions;

/// Returns a page of order exceptions, oldest first.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<Vec<OrderException>, InventoryError>")]
pub struct GetExceptionsPage {
    /// Only exceptions with an id above this one.
    pub after_id: u64,
    /// At most this many (clamped to 1..=1000).
    pub limit: usize,
}

/// Checks the whole ledger (gap-free journal, refold equals balances, indexes consistent) off
/// the arbiter thread.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<VerifyReport, InventoryError>")]
pub struct VerifyLedger;

/// Returns the actor's observable state.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<InventoryState, InventoryError>")]
pub struct GetState;

/// The stock of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// The SKU.
    pub sku: Sku,
    /// Units physically held.
    pub on_hand: i64,
    /// Units sold and not yet shipped or cancelled.
    pub reserved: i64,
    /// `on_hand − reserved`; negative after an oversell.
    pub available: i64,
    /// The journal entry that last changed it (0 if it never moved).
    pub last_seq: u64,
}

impl StockLevel {
    /// Builds the stock level of `sku` from its balance; a balance whose `available` does not fit
    /// an `i64` (never one the store wrote) is reported as corrupt rather than wrapped.
    pub fn new(sku: Sku, balance: Balance) -> Result<Self, LedgerError> {
        let available = balance.available().map_err(|_| {
            LedgerError::Corrupt(format!("the balance of {sku} is out of range: {balance:?}"))
        })?;
        Ok(Self {
            sku,
            on_hand: balance.on_hand,
            reserved: balance.reserved,
            available,
            last_seq: balance.last_seq,
        })
    }
}

/// What the InventoryActor is doing, for tests, the supervisor and the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryState {
    /// Whose ledger it is.
    pub client: ClientCode,
    /// The last journal sequence number (including writes not yet durable).
    pub head_seq: u64,
    /// SKUs with a balance.
    pub skus: usize,
    /// Commands received but not yet answered (waiting for a round, or inside the running one).
    pub pending_acks: usize,
    /// Whether a group-commit round (one transaction, one flush) is running.
    pub round_running: bool,
    /// Rounds finished since the actor started.
    pub completed_rounds: u64,
    /// Order exceptions in the ledger.
    pub exceptions: usize,
}

/// Makes the actor panic inside a handler: fault injection for the supervisor's tests.
#[cfg(any(test, feature = "testsuite"))]
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "()")]
pub struct InjectPanic;

/// Holds the ledger up on purpose: rounds stop starting (commands are still taken and wait),
/// until [`ReleaseRounds`]. The edge's tests use it to show that a stuck ledger makes callers get
/// a 503 within their bound, and that nothing they were refused is written later.
#[cfg(any(test, feature = "testsuite"))]
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "()")]
pub struct HoldRounds;

/// Lets rounds start again after [`HoldRounds`].
#[cfg(any(test, feature = "testsuite"))]
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "()")]
pub struct ReleaseRounds;

/// Keeps the actor from taking any message for `for_ms` (its thread stays free; the actor waits
/// on a timer): fault injection for a mailbox that fills up.
#[cfg(any(test, feature = "testsuite"))]
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "()")]
pub struct StallMailbox {
    /// How long, milliseconds.
    pub for_ms: u64,
}
