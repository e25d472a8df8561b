//! Ledger math: movements, their effect on a SKU's balance, journal entries and the fold of a
//! journal back into balances. Plain types and functions, no storage and no actix, so the rules
//! are tested on their own and the store and the reference model of the property test share them
//! only through their inputs and outputs.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, IdError, Sku};

/// The largest quantity one movement may carry. It keeps every sum far from `i64` overflow and
/// catches a mistyped quantity (an order for 2 000 000 000 hats is a bug, not a sale).
pub const MAX_QUANTITY: i64 = 1_000_000_000;

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

    /// Returns the quantities a movement of this kind may carry, as text for error messages, and
    /// whether `quantity` is one of them.
    fn accepts(self, quantity: i64) -> (bool, &'static str) {
        match self {
            MovementKind::Adjustment => (
                quantity != 0 && quantity.abs() <= MAX_QUANTITY,
                "a non-zero delta between -1000000000 and 1000000000",
            ),
            MovementKind::Count => ((0..=MAX_QUANTITY).contains(&quantity), "0 to 1000000000"),
            _ => ((1..=MAX_QUANTITY).contains(&quantity), "1 to 1000000000"),
        }
    }
}

impl fmt::Display for MovementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// What happened.
    pub kind: MovementKind,
    /// Units; a signed delta for `adjustment`, the absolute on-hand for `count`.
    pub quantity: i64,
}

impl Movement {
    /// Builds a movement, checking that the quantity fits the kind.
    pub fn new(
        key: IdempotencyKey,
        source: Source,
        sku: Sku,
        kind: MovementKind,
        quantity: i64,
    ) -> Result<Self, MovementError> {
        let (accepted, expected) = kind.accepts(quantity);
        if !accepted {
            return Err(MovementError::QuantityOutOfRange {
                kind,
                quantity,
                expected,
            });
        }
        Ok(Self {
            key,
            source,
            sku,
            kind,
            quantity,
        })
    }

    /// Validates a movement as it arrived from outside.
    pub fn parse(input: &MovementInput) -> Result<Self, MovementError> {
        Self::new(
            IdempotencyKey::parse(&input.key)?,
            Source::parse(&input.source)?,
            Sku::parse(&input.sku)?,
            MovementKind::parse(&input.kind)?,
            input.quantity,
        )
    }

    /// Tells whether `entry` records this same movement: same SKU, kind and quantity. The source
    /// is not compared, since webhook, poll and reconciliation may all deliver one event.
    pub fn same_as(&self, entry: &JournalEntry) -> bool {
        self.sku == entry.sku && self.kind == entry.kind && self.quantity == entry.quantity
    }
}

impl From<&Movement> for MovementInput {
    fn from(movement: &Movement) -> Self {
        Self {
            key: movement.key.as_str().to_string(),
            source: movement.source.to_string(),
            sku: movement.sku.to_string(),
            kind: movement.kind.as_str().to_string(),
            quantity: movement.quantity,
        }
    }
}

/// The balance of one SKU.
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
    /// Units that may still be sold: `on_hand − reserved`; negative after an oversell.
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }

    /// Returns the balance after `effect`, recorded at `seq`.
    pub fn after(&self, effect: &Effect, seq: u64) -> Balance {
        Balance {
            on_hand: self.on_hand + effect.on_hand_delta,
            reserved: self.reserved + effect.reserved_delta,
            last_seq: seq,
        }
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
/// `reserved ≥ 0` or overflow are refused; a sale never is (an oversell is recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    /// A ship or cancel of more units than are reserved: it matches no sale we know of.
    #[error("{kind} of {quantity} exceeds the {reserved} units reserved")]
    ExceedsReserved {
        kind: MovementKind,
        quantity: i64,
        reserved: i64,
    },
    /// The balance would leave the range the ledger keeps (±10^15 units).
    #[error("the balance would leave the supported range")]
    OutOfRange,
}

/// The bound on any balance: a thousand times the largest quantity of a movement, a million
/// movements of the largest size away from overflow.
const BALANCE_LIMIT: i64 = MAX_QUANTITY * 1_000_000;

/// Computes what `kind` of `quantity` does to `balance`. Pure: the store, the reference model and
/// the fold all go through it.
pub fn effect_of(
    balance: &Balance,
    kind: MovementKind,
    quantity: i64,
) -> Result<Effect, Rejection> {
    let effect = match kind {
        MovementKind::Sale => {
            let covered = balance.available().clamp(0, quantity);
            Effect {
                on_hand_delta: 0,
                reserved_delta: quantity,
                oversold_units: quantity - covered,
            }
        }
        MovementKind::Ship | MovementKind::Cancel => {
            if quantity > balance.reserved {
                return Err(Rejection::ExceedsReserved {
                    kind,
                    quantity,
                    reserved: balance.reserved,
                });
            }
            let on_hand_delta = if kind == MovementKind::Ship {
                -quantity
            } else {
                0
            };
            Effect {
                on_hand_delta,
                reserved_delta: -quantity,
                oversold_units: 0,
            }
        }
        MovementKind::RefundRestock | MovementKind::Receipt | MovementKind::Adjustment => Effect {
            on_hand_delta: quantity,
            ..Effect::default()
        },
        MovementKind::Count => Effect {
            on_hand_delta: quantity - balance.on_hand,
            ..Effect::default()
        },
    };
    let after = balance.after(&effect, 0);
    if after.on_hand.abs() > BALANCE_LIMIT || after.reserved > BALANCE_LIMIT {
        return Err(Rejection::OutOfRange);
    }
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
    /// What happened.
    pub kind: MovementKind,
    /// The quantity as given (the absolute on-hand for a count).
    pub quantity: i64,
    /// Change of on-hand it caused.
    pub on_hand_delta: i64,
    /// Change of reserved it caused.
    pub reserved_delta: i64,
    /// Units sold beyond availability; non-zero flags the entry as an oversell.
    pub oversold_units: i64,
}

impl JournalEntry {
    /// Tells whether the entry is an oversell.
    pub fn oversold(&self) -> bool {
        self.oversold_units > 0
    }
}

/// Folds journal entries (in sequence order) into balances. Recomputing balances this way must
/// give the stored balances exactly (invariant INV-LEDGER of `reference/reliability.md` §7.1).
pub fn fold<'a>(entries: impl IntoIterator<Item = &'a JournalEntry>) -> BTreeMap<Sku, Balance> {
    let mut balances: BTreeMap<Sku, Balance> = BTreeMap::new();
    for entry in entries {
        let balance = balances.entry(entry.sku.clone()).or_default();
        balance.on_hand += entry.on_hand_delta;
        balance.reserved += entry.reserved_delta;
        balance.last_seq = entry.seq;
    }
    balances
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balance(on_hand: i64, reserved: i64) -> Balance {
        Balance {
            on_hand,
            reserved,
            last_seq: 0,
        }
    }

    #[test]
    fn sale_reserves_and_counts_only_the_uncovered_units_as_oversold() {
        let effect = effect_of(&balance(5, 3), MovementKind::Sale, 4).unwrap();
        assert_eq!(
            effect,
            Effect {
                on_hand_delta: 0,
                reserved_delta: 4,
                oversold_units: 2
            }
        );
        let covered = effect_of(&balance(5, 0), MovementKind::Sale, 5).unwrap();
        assert_eq!(covered.oversold_units, 0);
        let already_negative = effect_of(&balance(0, 2), MovementKind::Sale, 3).unwrap();
        assert_eq!(already_negative.oversold_units, 3);
    }

    #[test]
    fn ship_and_cancel_release_the_reservation() {
        let ship = effect_of(&balance(5, 3), MovementKind::Ship, 2).unwrap();
        assert_eq!((ship.on_hand_delta, ship.reserved_delta), (-2, -2));
        let cancel = effect_of(&balance(5, 3), MovementKind::Cancel, 3).unwrap();
        assert_eq!((cancel.on_hand_delta, cancel.reserved_delta), (0, -3));
        assert_eq!(
            effect_of(&balance(5, 3), MovementKind::Cancel, 4).unwrap_err(),
            Rejection::ExceedsReserved {
                kind: MovementKind::Cancel,
                quantity: 4,
                reserved: 3
            }
        );
    }

    #[test]
    fn count_journals_the_delta() {
        assert_eq!(
            effect_of(&balance(7, 1), MovementKind::Count, 4)
                .unwrap()
                .on_hand_delta,
            -3
        );
        assert_eq!(
            effect_of(&balance(7, 1), MovementKind::Count, 7)
                .unwrap()
                .on_hand_delta,
            0
        );
    }

    #[test]
    fn balances_stay_in_range() {
        let huge = balance(BALANCE_LIMIT, 0);
        assert_eq!(
            effect_of(&huge, MovementKind::Receipt, 1),
            Err(Rejection::OutOfRange)
        );
    }

    #[test]
    fn quantities_are_checked_per_kind() {
        let key = IdempotencyKey::parse("k").unwrap();
        let sku = Sku::parse("A").unwrap();
        let build =
            |kind, quantity| Movement::new(key.clone(), Source::Api, sku.clone(), kind, quantity);
        assert!(build(MovementKind::Sale, 0).is_err());
        assert!(build(MovementKind::Receipt, -1).is_err());
        assert!(build(MovementKind::Sale, MAX_QUANTITY + 1).is_err());
        assert!(build(MovementKind::Adjustment, -3).is_ok());
        assert!(build(MovementKind::Adjustment, 0).is_err());
        assert!(build(MovementKind::Count, 0).is_ok());
        assert!(build(MovementKind::Count, -1).is_err());
    }

    #[test]
    fn inputs_are_parsed_with_typed_errors() {
        let input = |kind: &str, quantity| MovementInput {
            key: "k-1".into(),
            source: "channel:etsy".into(),
            sku: " acme-hat ".into(),
            kind: kind.into(),
            quantity,
        };
        let movement = Movement::parse(&input("sale", 2)).unwrap();
        assert_eq!(movement.sku.as_str(), "ACME-HAT");
        assert_eq!(MovementInput::from(&movement).sku, "ACME-HAT");
        assert_eq!(
            Movement::parse(&input("steal", 1)).unwrap_err().kind(),
            "unknown_movement_kind"
        );
        assert_eq!(
            Movement::parse(&input("sale", -2)).unwrap_err().kind(),
            "quantity_out_of_range"
        );
        let bad_source = MovementInput {
            source: "ebay".into(),
            ..input("sale", 1)
        };
        assert_eq!(
            Movement::parse(&bad_source).unwrap_err().kind(),
            "invalid_source"
        );
        let bad_sku = MovementInput {
            sku: "".into(),
            ..input("sale", 1)
        };
        assert_eq!(Movement::parse(&bad_sku).unwrap_err().kind(), "invalid_sku");
        let bad_key = MovementInput {
            key: "x".repeat(256),
            ..input("sale", 1)
        };
        assert_eq!(
            Movement::parse(&bad_key).unwrap_err().kind(),
            "invalid_idempotency_key"
        );
    }

    #[test]
    fn order_event_keys_are_built_from_the_natural_key() {
        let channel = ChannelId::parse("shopify").unwrap();
        let key = IdempotencyKey::order_event(&channel, "4501", 2, "v3").unwrap();
        assert_eq!(key.as_str(), "order:shopify:4501:2:v3");
    }

    #[test]
    fn fold_sums_deltas_and_remembers_the_last_seq() {
        let entry = |seq, sku: &str, on_hand_delta, reserved_delta| JournalEntry {
            seq,
            at_ms: 0,
            key: IdempotencyKey::parse(&format!("k{seq}")).unwrap(),
            source: Source::Api,
            sku: Sku::parse(sku).unwrap(),
            kind: MovementKind::Adjustment,
            quantity: on_hand_delta,
            on_hand_delta,
            reserved_delta,
            oversold_units: 0,
        };
        let journal = [
            entry(1, "A", 5, 0),
            entry(2, "B", 1, 0),
            entry(3, "A", 0, 2),
        ];
        let balances = fold(&journal);
        assert_eq!(
            balances[&Sku::parse("A").unwrap()],
            Balance {
                on_hand: 5,
                reserved: 2,
                last_seq: 3
            }
        );
        assert_eq!(balances[&Sku::parse("B").unwrap()].last_seq, 2);
    }
}
