//! Messages of the InventoryActor. Commands are imperative, queries are `Get*`.

use actix::{Message, Recipient};
use serde::{Deserialize, Serialize};

pub use super::group_commit::CommandTicket;
use super::ledger::{Balance, JournalEntry, MovementInput};
use super::store::{
    ApplyOutcome, CursorUpdate, LedgerError, ListingRecord, ListingsUpdate, OrderException,
    UnapplicableEvent, VerifyReport,
};
use super::InventoryError;
use crate::ids::{ChannelId, ClientCode, Sku};

/// Applies a batch of movements as one transaction; answers once the batch is durable.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<ApplyOutcome, InventoryError>")]
pub struct ApplyMovements {
    /// The movements as given; each is validated before anything is written.
    pub movements: Vec<MovementInput>,
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
    pub fn new(movements: Vec<MovementInput>) -> Self {
        Self {
            movements,
            ..Self::default()
        }
    }
}

/// Records listed quantities a marketplace confirmed; answers once they are durable.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<ApplyOutcome, InventoryError>")]
pub struct RecordListings {
    /// The channel and its confirmed listings.
    pub update: ListingsUpdate,
}

/// Returns what the ledger keeps for one channel: its order-feed cursor and its confirmed
/// listings, from which a ChannelActor recovers.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<ChannelRecord, InventoryError>")]
pub struct GetChannelRecord {
    /// The channel.
    pub channel: ChannelId,
}

/// What the ledger keeps for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChannelRecord {
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
