//! Ledger math: movements, their effect on a SKU's balance, journal entries and the fold of a
//! journal back into balances. Plain types and functions, no storage and no actix, so the rules
//! are tested on their own and the store and the reference model of the property test share them
//! only through their inputs and outputs.
//!
//! Quantities are typed (issue 12): a movement carries a [`Change`], its kind with a [`Units`],
//! [`Delta`] or [`Recount`] that only a checked constructor builds, and every sum on a balance is
//! checked against [`BALANCE_LIMIT`]. Nothing here wraps or panics on any `i64`; what does not fit
//! is refused with a typed error and writes nothing.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, IdError, Sku};

/// The largest quantity one movement may carry. It keeps every sum far from `i64` overflow and
/// catches a mistyped quantity (an order for 2 000 000 000 hats is a bug, not a sale).
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// The bound on every balance the ledger writes: `on_hand` stays within ±`BALANCE_LIMIT` and
/// `reserved` within `0..=BALANCE_LIMIT` (a million movements of the largest size). Within it,
/// `on_hand − reserved` and a count's delta are more than 4 000 times away from `i64` overflow,
/// and a movement that would leave it is refused ([`Rejection::OutOfRange`]).
pub const BALANCE_LIMIT: i64 = MAX_QUANTITY * 1_000_000;

/// The longest idempotency key, in bytes (the same bound Stripe uses for its keys).
pub const MAX_KEY_BYTES: usize = 255;

/// The kind of a stock movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// A marketplace sold units: they are reserved until shipped or cancelled.
    Sale,
    /// Reserved units left the warehouse: out of reserved and out of on-hand.
    Ship,
    /// A sale was cancelled before shipping: its reservation is released.
    Cancel,
    /// A refunded order came back and is sellable again: on-hand grows.
    RefundRestock,
    /// Goods were received: on-hand grows.
    Receipt,
    /// A signed correction of on-hand (damage, loss, found stock).
    Adjustment,
    /// An absolute recount of on-hand; the journal records the delta it implies.
    Count,
}

impl MovementKind {
    /// Every kind, in a fixed order.
    pub const ALL: [MovementKind; 7] = [
        MovementKind::Sale,
        MovementKind::Ship,
        MovementKind::Cancel,
        MovementKind::RefundRestock,
        MovementKind::Receipt,
        MovementKind::Adjustment,
        MovementKind::Count,
    ];

    /// Returns the wire name of the kind (`refund_restock`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Sale => "sale",
            MovementKind::Ship => "ship",
            MovementKind::Cancel => "cancel",
            MovementKind::RefundRestock => "refund_restock",
            MovementKind::Receipt => "receipt",
            MovementKind::Adjustment => "adjustment",
            MovementKind::Count => "count",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Result<Self, MovementError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| MovementError::UnknownKind {
                kind: value.to_string(),
            })
    }
}

impl fmt::Display for MovementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Units a movement moves: 1 to [`MAX_QUANTITY`], what a sale, ship, cancel, refund restock and
/// receipt carry. Only [`Units::new`] builds one, so an out-of-range value cannot exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Units(i64);

impl Units {
    /// Returns the units if `units` is 1 to [`MAX_QUANTITY`].
    pub const fn new(units: i64) -> Option<Self> {
        if 1 <= units && units <= MAX_QUANTITY {
            Some(Self(units))
        } else {
            None
        }
    }

    /// Returns the number of units.
    pub const fn get(self) -> i64 {
        self.0
    }
}

/// A signed, non-zero correction of on-hand of at most [`MAX_QUANTITY`] either way: what an
/// adjustment carries. Only [`Delta::new`] builds one. The range is checked on both ends rather
/// than through `abs()`, which wraps for `i64::MIN` (issue 12: −2⁶³ passed that way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Delta(i64);

impl Delta {
    /// Returns the delta if `delta` is non-zero and within ±[`MAX_QUANTITY`].
    pub const fn new(delta: i64) -> Option<Self> {
        if delta != 0 && -MAX_QUANTITY <= delta && delta <= MAX_QUANTITY {
            Some(Self(delta))
        } else {
            None
        }
    }

    /// Returns the signed delta.
    pub const fn get(self) -> i64 {
        self.0
    }
}

/// The on-hand a recount found: 0 to [`MAX_QUANTITY`], what a count carries (and what a catalog
/// row's `on_hand` sets). Only [`Recount::new`] builds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Recount(i64);

impl Recount {
    /// Returns the recount if `on_hand` is 0 to [`MAX_QUANTITY`].
    pub const fn new(on_hand: i64) -> Option<Self> {
        if 0 <= on_hand && on_hand <= MAX_QUANTITY {
            Some(Self(on_hand))
        } else {
            None
        }
    }

    /// Returns the counted on-hand.
    pub const fn get(self) -> i64 {
        self.0
    }
}

/// What a movement does: its kind with the quantity that kind allows, checked together and once
/// ([`Change::new`]), so that a negative receipt, a zero adjustment or a quantity beyond
/// [`MAX_QUANTITY`] cannot exist past the parse. This is the one place the quantity rules live;
/// the HTTP API, the catalog import and the journal all go through it.
///
/// Stored and shown as the two fields `kind` and `quantity`, exactly as before the type existed,
/// and read back through [`Change::new`]: a journal entry holding a quantity its kind does not
/// allow does not decode (the store reports it as corrupt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "WireChange", into = "WireChange")]
pub enum Change {
    /// A marketplace sold units: they are reserved until shipped or cancelled.
    Sale(Units),
    /// Reserved units left the warehouse.
    Ship(Units),
    /// A sale was cancelled before shipping.
    Cancel(Units),
    /// A refunded order came back sellable.
    RefundRestock(Units),
    /// Goods were received.
    Receipt(Units),
    /// A signed correction of on-hand.
    Adjustment(Delta),
    /// An absolute recount of on-hand.
    Count(Recount),
}

impl Change {
    /// Checks that `quantity` is one a movement of `kind` may carry: 1 to [`MAX_QUANTITY`] for a
    /// sale, ship, cancel, refund restock and receipt; a non-zero delta within ±[`MAX_QUANTITY`]
    /// for an adjustment; 0 to [`MAX_QUANTITY`] for a count.
    pub fn new(kind: MovementKind, quantity: i64) -> Result<Self, MovementError> {
        let units = || Units::new(quantity);
        let change = match kind {
            MovementKind::Sale => units().map(Change::Sale),
            MovementKind::Ship => units().map(Change::Ship),
            MovementKind::Cancel => units().map(Change::Cancel),
            MovementKind::RefundRestock => units().map(Change::RefundRestock),
            MovementKind::Receipt => units().map(Change::Receipt),
            MovementKind::Adjustment => Delta::new(quantity).map(Change::Adjustment),
            MovementKind::Count => Recount::new(quantity).map(Change::Count),
        };
        change.ok_or(MovementError::QuantityOutOfRange {
            kind,
            quantity,
            expected: match kind {
                MovementKind::Adjustment => "a non-zero delta between -1000000000 and 1000000000",
                MovementKind::Count => "0 to 1000000000",
                _ => "1 to 1000000000",
            },
        })
    }

    /// Returns the kind.
    pub fn kind(self) -> MovementKind {
        match self {
            Change::Sale(_) => MovementKind::Sale,
            Change::Ship(_) => MovementKind::Ship,
            Change::Cancel(_) => MovementKind::Cancel,
            Change::RefundRestock(_) => MovementKind::RefundRestock,
            Change::Receipt(_) => MovementKind::Receipt,
            Change::Adjustment(_) => MovementKind::Adjustment,
            Change::Count(_) => MovementKind::Count,
        }
    }

    /// Returns the quantity as given: units, a signed delta for an adjustment, the absolute
    /// on-hand for a count.
    pub fn quantity(self) -> i64 {
        match self {
            Change::Sale(units)
            | Change::Ship(units)
            | Change::Cancel(units)
            | Change::RefundRestock(units)
            | Change::Receipt(units) => units.get(),
            Change::Adjustment(delta) => delta.get(),
            Change::Count(count) => count.get(),
        }
    }
}

/// A [`Change`] as it is written: the kind's wire name and the quantity.
#[derive(Serialize, Deserialize)]
struct WireChange {
    kind: MovementKind,
    quantity: i64,
}

impl TryFrom<WireChange> for Change {
    type Error = MovementError;
    fn try_from(wire: WireChange) -> Result<Self, Self::Error> {
        Change::new(wire.kind, wire.quantity)
    }
}

impl From<Change> for WireChange {
    fn from(change: Change) -> Self {
        Self {
            kind: change.kind(),
            quantity: change.quantity(),
        }
    }
}

/// Where a movement came from: recorded on its journal entry and used as the `channel` label of
/// the ingestion metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Source {
    /// An order event of a marketplace connection (webhook, poll or reconciliation).
    Channel(ChannelId),
    /// A person or program through the HTTP API.
    Api,
    /// A catalog import.
    Import,
}

impl Source {
    /// Parses `channel:<id>`, `api` or `import`.
    pub fn parse(value: &str) -> Result<Self, MovementError> {
        match value {
            "api" => Ok(Source::Api),
            "import" => Ok(Source::Import),
            _ => match value.strip_prefix("channel:") {
                Some(channel) => Ok(Source::Channel(ChannelId::parse(channel)?)),
                None => Err(MovementError::InvalidSource {
                    source_text: value.to_string(),
                }),
            },
        }
    }

    /// Returns the bounded metric label of the source: the channel id, `api` or `import`.
    pub fn label(&self) -> &str {
        match self {
            Source::Channel(channel) => channel.as_str(),
            Source::Api => "api",
            Source::Import => "import",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Channel(channel) => write!(f, "channel:{channel}"),
            Source::Api => f.write_str("api"),
            Source::Import => f.write_str("import"),
        }
    }
}

impl TryFrom<String> for Source {
    type Error = MovementError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Source> for String {
    fn from(source: Source) -> String {
        source.to_string()
    }
}

/// The key that makes a movement idempotent: a second movement with the same key changes nothing
/// and gets the first one's result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a caller-chosen key: 1–255 bytes, no control characters.
    pub fn parse(value: &str) -> Result<Self, MovementError> {
        let invalid = |reason| MovementError::InvalidKey {
            key: value.to_string(),
            reason,
        };
        if value.is_empty() {
            return Err(invalid("empty"));
        }
        if value.len() > MAX_KEY_BYTES {
            return Err(invalid("longer than 255 bytes"));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid("contains a control character"));
        }
        Ok(Self(value.to_string()))
    }

    /// Builds the key of one line of a marketplace order event, from the natural key of
    /// DESIGN §3: `(channel, external order id, line, event version)`. Webhook, poll and
    /// reconciliation build the same key for the same event, so any two deliveries collapse.
    pub fn order_event(
        channel: &ChannelId,
        external_order_id: &str,
        line: u32,
        event_version: &str,
    ) -> Result<Self, MovementError> {
        Self::parse(&format!(
            "order:{channel}:{external_order_id}:{line}:{event_version}"
        ))
    }

    /// Returns the key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The marketplace order line a movement stands for: the natural key of DESIGN §3 without the
/// channel (the movement's [`Source`] names it). Carried typed from the order event to the
/// journal entry, so that nothing splits it back out of the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderRef {
    /// The marketplace's order id.
    pub order_id: String,
    /// The line within the order.
    pub line: u32,
    /// The version of the event (`placed`, an `updated_at`, …).
    pub version: String,
}

impl OrderRef {
    /// Returns the idempotency key of this order line's event on `channel`
    /// ([`IdempotencyKey::order_event`]).
    pub fn key(&self, channel: &ChannelId) -> Result<IdempotencyKey, MovementError> {
        IdempotencyKey::order_event(channel, &self.order_id, self.line, &self.version)
    }

    /// Reads the reference back out of an order event's key
    /// (`order:{channel}:{order id}:{line}:{version}`, the order id may hold `:`). Only for
    /// journal entries written before entries carried their reference ([`JournalEntry::order`]).
    fn from_key(channel: &ChannelId, key: &IdempotencyKey) -> Option<Self> {
        let rest = key
            .as_str()
            .strip_prefix("order:")?
            .strip_prefix(channel.as_str())?
            .strip_prefix(':')?;
        let mut parts = rest.rsplitn(3, ':');
        let version = parts.next()?.to_string();
        let line = parts.next()?.parse().ok()?;
        let order_id = parts.next()?.to_string();
        Some(Self {
            order_id,
            line,
            version,
        })
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = MovementError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> String {
        key.0
    }
}

/// Why a movement as given is not a movement. Nothing has been written when one of these is
/// returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MovementError {
    /// The kind is not one of `sale`, `ship`, `cancel`, `refund_restock`, `receipt`,
    /// `adjustment`, `count`.
    #[error(
        "unknown movement kind {kind:?}: expected one of sale, ship, cancel, refund_restock, \
         receipt, adjustment, count"
    )]
    UnknownKind { kind: String },
    /// The quantity is outside what the kind allows (negative where not allowed, zero, too big).
    #[error("quantity {quantity} is not allowed for a {kind} movement: expected {expected}")]
    QuantityOutOfRange {
        kind: MovementKind,
        quantity: i64,
        expected: &'static str,
    },
    /// The idempotency key is empty, too long or holds a control character.
    #[error("idempotency key {key:?} is invalid: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// The source is not `channel:<id>`, `api` or `import`.
    #[error("source {source_text:?} is invalid: expected channel:<id>, api or import")]
    InvalidSource { source_text: String },
    /// The SKU or the channel id inside the source is invalid.
    #[error(transparent)]
    InvalidId(#[from] IdError),
}

impl MovementError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            MovementError::UnknownKind { .. } => "unknown_movement_kind",
            MovementError::QuantityOutOfRange { .. } => "quantity_out_of_range",
            MovementError::InvalidKey { .. } => "invalid_idempotency_key",
            MovementError::InvalidSource { .. } => "invalid_source",
            MovementError::InvalidId(error) => error.kind(),
        }
    }
}

/// A movement as it arrives from outside (HTTP body, connector, CSV row), before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementInput {
    /// The idempotency key.
    pub key: String,
    /// `channel:<id>`, `api` or `import`.
    pub source: String,
    /// The SKU, in any case; it is trimmed and upper-cased.
    pub sku: String,
    /// The kind's wire name.
    pub kind: String,
    /// Units; a signed delta for `adjustment`, the absolute on-hand for `count`.
    pub quantity: i64,
}

/// A validated movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    /// The idempotency key.
    pub key: IdempotencyKey,
    /// Where it came from.
    pub source: Source,
    /// The SKU it moves.
    pub sku: Sku,
    /// What happened, with its checked quantity.
    #[serde(flatten)]
    pub change: Change,
    /// The marketplace order line, for a movement of an order event (`None` for the API's and
    /// the catalog's movements).
    pub order: Option<OrderRef>,
}

impl Movement {
    /// Validates a movement as it arrived from outside (an HTTP body, a CSV row): it stands for
    /// no order line.
    pub fn parse(input: &MovementInput) -> Result<Self, MovementError> {
        Ok(Self {
            key: IdempotencyKey::parse(&input.key)?,
            source: Source::parse(&input.source)?,
            sku: Sku::parse(&input.sku)?,
            change: Change::new(MovementKind::parse(&input.kind)?, input.quantity)?,
            order: None,
        })
    }

    /// The movement of one line of a marketplace order event on `channel`, keyed by its natural
    /// key ([`OrderRef::key`]): webhook, poll and reconciliation build the same one.
    pub fn of_order(
        channel: &ChannelId,
        order: OrderRef,
        sku: Sku,
        change: Change,
    ) -> Result<Self, MovementError> {
        Ok(Self {
            key: order.key(channel)?,
            source: Source::Channel(channel.clone()),
            sku,
            change,
            order: Some(order),
        })
    }

    /// Tells whether `entry` records this same movement: same SKU, kind and quantity. The source
    /// is not compared, since webhook, poll and reconciliation may all deliver one event.
    pub fn same_as(&self, entry: &JournalEntry) -> bool {
        self.sku == entry.sku && self.change == entry.change
    }
}

impl From<&Movement> for MovementInput {
    fn from(movement: &Movement) -> Self {
        Self {
            key: movement.key.as_str().to_string(),
            source: movement.source.to_string(),
            sku: movement.sku.to_string(),
            kind: movement.change.kind().as_str().to_string(),
            quantity: movement.change.quantity(),
        }
    }
}

/// The balance of one SKU. Every balance the ledger writes is within [`BALANCE_LIMIT`]
/// ([`Balance::within_limits`]); the arithmetic on it is checked all the same, since a balance may
/// also come from a damaged tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Units physically held (may go negative only by shipping an oversold order).
    pub on_hand: i64,
    /// Units sold and not yet shipped or cancelled; never negative.
    pub reserved: i64,
    /// The sequence number of the last journal entry that changed this SKU; a push computed from
    /// this balance records it, which is what makes "why did Etsy show 3" answerable.
    pub last_seq: u64,
}

impl Balance {
    /// Units that may still be sold: `on_hand − reserved`; negative after an oversell. Refused
    /// only for a balance whose difference does not fit an `i64`, which no balance within
    /// [`BALANCE_LIMIT`] can be.
    pub fn available(&self) -> Result<i64, Rejection> {
        self.on_hand
            .checked_sub(self.reserved)
            .ok_or(Rejection::OutOfRange)
    }

    /// Tells whether the balance is one the ledger may hold: `on_hand` within ±[`BALANCE_LIMIT`],
    /// `reserved` within `0..=BALANCE_LIMIT` (INV-LEDGER of `reference/reliability.md` §7.1
    /// wants `reserved ≥ 0`).
    pub fn within_limits(&self) -> bool {
        (-BALANCE_LIMIT..=BALANCE_LIMIT).contains(&self.on_hand)
            && (0..=BALANCE_LIMIT).contains(&self.reserved)
    }

    /// Returns the balance after `effect`, recorded at `seq`: refused when a sum overflows or the
    /// result leaves [`BALANCE_LIMIT`], never wrapped.
    pub fn after(&self, effect: &Effect, seq: u64) -> Result<Balance, Rejection> {
        let after = Balance {
            on_hand: self
                .on_hand
                .checked_add(effect.on_hand_delta)
                .ok_or(Rejection::OutOfRange)?,
            reserved: self
                .reserved
                .checked_add(effect.reserved_delta)
                .ok_or(Rejection::OutOfRange)?,
            last_seq: seq,
        };
        if !after.within_limits() {
            return Err(Rejection::OutOfRange);
        }
        Ok(after)
    }
}

/// What a movement does to a balance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effect {
    /// Change of on-hand.
    pub on_hand_delta: i64,
    /// Change of reserved.
    pub reserved_delta: i64,
    /// Units of a sale beyond what was available (0 when the sale was covered).
    pub oversold_units: i64,
}

/// Why a valid movement cannot apply to the current balance. Only movements that would break
/// `reserved ≥ 0` or leave the range the ledger keeps are refused; a sale never is for lack of
/// stock (an oversell is recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    /// A ship or cancel of more units than are reserved: it matches no sale we know of.
    #[error("{kind} of {quantity} exceeds the {reserved} units reserved")]
    ExceedsReserved {
        kind: MovementKind,
        quantity: i64,
        reserved: i64,
    },
    /// The balance would leave the range the ledger keeps ([`BALANCE_LIMIT`]: ±10^15 units).
    #[error("the balance would leave the supported range")]
    OutOfRange,
}

/// Computes what `change` does to `balance`. Pure: the store, the reference model and the fold
/// all go through it. Every sum is checked: a movement that would overflow or leave
/// [`BALANCE_LIMIT`] is refused with [`Rejection::OutOfRange`], never wrapped and never a panic
/// (release builds do not check overflow, test builds panic; issue 12).
pub fn effect_of(balance: &Balance, change: Change) -> Result<Effect, Rejection> {
    let out_of_range = || Rejection::OutOfRange;
    let effect = match change {
        Change::Sale(units) => {
            let units = units.get();
            let covered = balance.available()?.clamp(0, units);
            Effect {
                on_hand_delta: 0,
                reserved_delta: units,
                oversold_units: units.checked_sub(covered).ok_or_else(out_of_range)?,
            }
        }
        Change::Ship(units) | Change::Cancel(units) => {
            let units = units.get();
            if units > balance.reserved {
                return Err(Rejection::ExceedsReserved {
                    kind: change.kind(),
                    quantity: units,
                    reserved: balance.reserved,
                });
            }
            let released = units.checked_neg().ok_or_else(out_of_range)?;
            Effect {
                on_hand_delta: if matches!(change, Change::Ship(_)) {
                    released
                } else {
                    0
                },
                reserved_delta: released,
                oversold_units: 0,
            }
        }
        Change::RefundRestock(units) | Change::Receipt(units) => Effect {
            on_hand_delta: units.get(),
            ..Effect::default()
        },
        Change::Adjustment(delta) => Effect {
            on_hand_delta: delta.get(),
            ..Effect::default()
        },
        Change::Count(count) => Effect {
            on_hand_delta: count
                .get()
                .checked_sub(balance.on_hand)
                .ok_or_else(out_of_range)?,
            ..Effect::default()
        },
    };
    balance.after(&effect, 0)?;
    Ok(effect)
}

/// One entry of a client's journal: a movement that changed the ledger, with its effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Gap-free sequence number, starting at 1.
    pub seq: u64,
    /// When it was applied, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The idempotency key.
    pub key: IdempotencyKey,
    /// Where it came from.
    pub source: Source,
    /// The SKU it moved.
    pub sku: Sku,
    /// What happened, with the quantity as given (the absolute on-hand for a count); stored as
    /// the fields `kind` and `quantity`.
    #[serde(flatten)]
    pub change: Change,
    /// Change of on-hand it caused.
    pub on_hand_delta: i64,
    /// Change of reserved it caused.
    pub reserved_delta: i64,
    /// Units sold beyond availability; non-zero flags the entry as an oversell.
    pub oversold_units: i64,
    /// The marketplace order line of an order event's entry. Entries written before this field
    /// existed lack it on disk (they stay in users' ledgers): they decode with `None` and the
    /// store fills it once, at decode, from the key ([`JournalEntry::with_stored_order`]), so
    /// that the rest of the program only ever reads the typed reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderRef>,
}

impl JournalEntry {
    /// Completes an entry as decoded from storage: an order event's entry written before entries
    /// carried their [`OrderRef`] gets it from its key, which holds the same order id, line and
    /// version (`order:{channel}:{order id}:{line}:{version}`).
    pub fn with_stored_order(mut self) -> Self {
        if self.order.is_none() {
            if let Source::Channel(channel) = &self.source {
                self.order = OrderRef::from_key(channel, &self.key);
            }
        }
        self
    }

    /// Tells whether the entry is an oversell.
    pub fn oversold(&self) -> bool {
        self.oversold_units > 0
    }

    /// Returns what happened.
    pub fn kind(&self) -> MovementKind {
        self.change.kind()
    }

    /// Returns the quantity as given (the absolute on-hand for a count).
    pub fn quantity(&self) -> i64 {
        self.change.quantity()
    }
}

/// A journal that cannot be refolded: an entry takes a balance out of the range the ledger
/// keeps. The store never writes one; only a damaged tree holds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal entry {seq} takes the balance of {sku} out of the supported range")]
pub struct FoldError {
    /// The first entry that does.
    pub seq: u64,
    /// Its SKU.
    pub sku: Sku,
}

/// Folds journal entries (in sequence order) into balances. Recomputing balances this way must
/// give the stored balances exactly (invariant INV-LEDGER of `reference/reliability.md` §7.1).
/// Each step goes through [`Balance::after`], the same check the store applied when it wrote
/// the entry, so a valid journal always folds and a damaged one is an error, never a wrap or a
/// panic.
pub fn fold<'a>(
    entries: impl IntoIterator<Item = &'a JournalEntry>,
) -> Result<BTreeMap<Sku, Balance>, FoldError> {
    let mut balances: BTreeMap<Sku, Balance> = BTreeMap::new();
    for entry in entries {
        let balance = balances.entry(entry.sku.clone()).or_default();
        let effect = Effect {
            on_hand_delta: entry.on_hand_delta,
            reserved_delta: entry.reserved_delta,
            oversold_units: entry.oversold_units,
        };
        *balance = balance.after(&effect, entry.seq).map_err(|_| FoldError {
            seq: entry.seq,
            sku: entry.sku.clone(),
        })?;
    }
    Ok(balances)
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
