//! Order exceptions: the orders a person must look at. Plain types and functions, no storage; the
//! store ([`super::store`]) keeps them in the client's tree beside the journal.
//!
//! Two kinds exist today:
//!
//! - **Oversold** (DESIGN §3): a sale found too little available stock. The sale is applied (a
//!   marketplace sale cannot be undone by us) and the exception names the journal entry.
//! - **Unapplicable order**: a marketplace told of an order (a signed webhook delivery, or an event
//!   of the polled feed) that cannot become a movement: the same order line again with other
//!   content, an order without lines, a line without SKU, a quantity that is not a count of units
//!   the ledger takes, a cancellation of more than is reserved. Nothing is applied, so there is no
//!   journal entry; the exception is what makes it visible. Recording it is what lets a webhook be
//!   acknowledged: answering 5xx instead makes Shopify retry for hours and then remove the
//!   subscription (`reference/marketplace-apis.md` §1.2, `reference/reliability.md` §3.2), and
//!   every later order of that channel would then be heard only by the slower poll.
//!
//! An unapplicable order is raised **once per event**: its [`UnapplicableEvent::key`] is the
//! event's natural ledger key (`order:{channel}:{order}:{line}:{version}`) when the order told
//! one, else a digest of the delivery ([`digest_key`]). Seeing it again (the platform's retry of
//! the same delivery, the poll reading the same order) updates `last_seen_ms` and `count` of the
//! same record; it never raises a second one.
//!
//! The record is built to grow: every field added after the first version is optional or has a
//! serde default, so records written earlier still read; the later exception queue (state,
//! assignee, due time) adds its fields the same way.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ledger::{IdempotencyKey, JournalEntry, Source};
use crate::ids::{ChannelId, Sku};

/// The longest reason detail kept, in bytes: enough for a sentence naming the line and the value,
/// short enough that a hostile body cannot grow a record (and no room for a raw body).
pub const MAX_DETAIL_BYTES: usize = 200;

/// The longest order reference kept, in bytes (marketplace order ids are far shorter; a longer
/// one is shown cut).
pub const MAX_ORDER_REF_BYTES: usize = 64;

/// What kind of exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// A sale found too little available stock: the client sold units it may not have.
    Oversold,
    /// A marketplace told of an order that cannot be applied; nothing was applied.
    UnapplicableOrder,
}

impl ExceptionKind {
    /// Returns the wire name of the kind, also the `kind` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::Oversold => "oversold",
            ExceptionKind::UnapplicableOrder => "unapplicable_order",
        }
    }
}

/// Why an order could not be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnapplicableReason {
    /// The same order line (same ledger key) was applied before with another SKU, kind or
    /// quantity; the first one stands.
    OrderChanged,
    /// A cancellation (or shipment) of more units than are reserved: it matches no sale the
    /// ledger knows of (yet: a cancellation that overtook its sale is applied by the poll later).
    ExceedsReserved,
    /// The balance would leave the range the ledger keeps.
    BalanceOutOfRange,
    /// The order has no line items.
    NoLines,
    /// A line has no SKU.
    MissingSku,
    /// A line's SKU is not one the ledger accepts (empty, too long, control characters).
    InvalidSku,
    /// A line's quantity is zero, negative, not an integer, or above the ledger's bound.
    QuantityOutOfRange,
    /// The order id is missing, or cannot key a ledger entry.
    InvalidOrderId,
    /// The body is not the platform's order document.
    NotAnOrder,
    /// The ledger refused the movement for another reason (named in the detail).
    Refused,
}

/// Text from outside made safe to keep and show: control characters become spaces and it is cut
/// (on a character boundary) to at most `max_bytes`, with `…` marking a cut.
pub fn bounded_text(text: &str, max_bytes: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cleaned.len() <= max_bytes {
        return cleaned;
    }
    let ellipsis = '…';
    let mut end = max_bytes.saturating_sub(ellipsis.len_utf8());
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = cleaned[..end].to_string();
    cut.push(ellipsis);
    cut
}

/// A key made of a digest, for an exception no order line can key: `{what}:{channel}:sha256:{hex}`
/// over `parts` (each length-prefixed, so that two different part lists never collide). Used for
/// a delivery (its signed body) and for an order id too long or too odd to be part of a ledger
/// key.
pub fn digest_key(what: &str, channel: &ChannelId, parts: &[&[u8]]) -> IdempotencyKey {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part);
    }
    let hex: String = digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    IdempotencyKey::parse(&format!("{what}:{channel}:sha256:{hex}"))
        .expect("a digest key is short and printable: a fixed word, a channel id and 64 hex digits")
}

/// An order event (or a whole delivery) that cannot be applied, as the intake asks the ledger to
/// record it. Written in the same transaction as the movements it came with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnapplicableEvent {
    /// What makes it one exception (see the module doc).
    pub key: IdempotencyKey,
    /// The channel that told of it.
    pub channel: ChannelId,
    /// The order, as the platform named it (bounded, [`MAX_ORDER_REF_BYTES`]).
    pub order_id: Option<String>,
    /// The line within the order (1-based), when one line is concerned.
    pub line: Option<u32>,
    /// The SKU of the line, when it is one the ledger accepts.
    pub sku: Option<Sku>,
    /// Units the line asked for, as given (0 when none was told).
    pub units: i64,
    /// Why it cannot be applied.
    pub reason: UnapplicableReason,
    /// What exactly, for a person (bounded, [`MAX_DETAIL_BYTES`]; never the raw body).
    pub detail: String,
}

/// An order exception: an entry of the queue an agency works through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderException {
    /// Its id, in the order exceptions were raised (the store's key; an oversell raised before
    /// ids existed keeps its journal sequence number as id).
    #[serde(default)]
    pub id: u64,
    /// What went wrong.
    pub kind: ExceptionKind,
    /// The journal entry that raised it (oversells); `None` when nothing was applied.
    #[serde(default)]
    pub seq: Option<u64>,
    /// The SKU concerned, when known.
    #[serde(default)]
    pub sku: Option<Sku>,
    /// For an oversell the movement's idempotency key; for an unapplicable order the key that
    /// makes it one exception (see the module doc).
    pub key: IdempotencyKey,
    /// Where the order came from.
    pub source: Source,
    /// Units concerned: oversold units, or the units an unapplicable line asked for.
    pub units: i64,
    /// When it was first raised, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// When it was last seen (a platform's retry, the poll reading the order again).
    #[serde(default)]
    pub last_seen_ms: u64,
    /// How many times it was seen.
    #[serde(default = "seen_once")]
    pub count: u64,
    /// The order, as the platform named it.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The line within the order.
    #[serde(default)]
    pub line: Option<u32>,
    /// Why an order could not be applied (`None` for an oversell).
    #[serde(default)]
    pub reason: Option<UnapplicableReason>,
    /// What exactly, for a person.
    #[serde(default)]
    pub detail: Option<String>,
}

fn seen_once() -> u64 {
    1
}

impl OrderException {
    /// The exception of an oversold journal entry.
    pub fn oversold(id: u64, entry: &JournalEntry) -> Self {
        Self {
            id,
            kind: ExceptionKind::Oversold,
            seq: Some(entry.seq),
            sku: Some(entry.sku.clone()),
            key: entry.key.clone(),
            source: entry.source.clone(),
            units: entry.oversold_units,
            at_ms: entry.at_ms,
            last_seen_ms: entry.at_ms,
            count: 1,
            order_id: None,
            line: None,
            reason: None,
            detail: None,
        }
    }

    /// The exception of an order that cannot be applied, first seen at `at_ms`. Text from outside
    /// is bounded again here, whoever built the event.
    pub fn unapplicable(id: u64, event: &UnapplicableEvent, at_ms: u64) -> Self {
        Self {
            id,
            kind: ExceptionKind::UnapplicableOrder,
            seq: None,
            sku: event.sku.clone(),
            key: event.key.clone(),
            source: Source::Channel(event.channel.clone()),
            units: event.units,
            at_ms,
            last_seen_ms: at_ms,
            count: 1,
            order_id: event
                .order_id
                .as_deref()
                .map(|order| bounded_text(order, MAX_ORDER_REF_BYTES)),
            line: event.line,
            reason: Some(event.reason),
            detail: Some(bounded_text(&event.detail, MAX_DETAIL_BYTES)),
        }
    }

    /// Records one more sighting at `at_ms` (never moving `last_seen_ms` back).
    pub fn seen_again(&mut self, at_ms: u64) {
        self.last_seen_ms = self.last_seen_ms.max(at_ms);
        self.count = self.count.saturating_add(1);
    }

    /// Completes a record read back under key `id`: the key is the id, and a record written
    /// before `last_seen_ms` existed was last seen when it was raised.
    pub fn stored_as(mut self, id: u64) -> Self {
        self.id = id;
        self.last_seen_ms = self.last_seen_ms.max(self.at_ms);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_outside_is_cleaned_and_cut_on_a_character_boundary() {
        assert_eq!(bounded_text("a\nb\u{0}c", 10), "a b c");
        let cut = bounded_text(&"é".repeat(100), 11);
        assert!(cut.len() <= 11, "{cut}");
        assert!(cut.ends_with('…'));
        assert_eq!(bounded_text("short", 5), "short");
    }

    #[test]
    fn digest_keys_are_valid_keys_and_tell_part_lists_apart() {
        let channel = ChannelId::parse("shop").unwrap();
        let one = digest_key("delivery", &channel, &[b"ab", b"c"]);
        let other = digest_key("delivery", &channel, &[b"a", b"bc"]);
        assert_ne!(one, other);
        assert!(one.as_str().starts_with("delivery:shop:sha256:"));
        assert_eq!(one, digest_key("delivery", &channel, &[b"ab", b"c"]));
    }

    #[test]
    fn a_record_of_the_first_version_still_reads() {
        // Written before ids, sightings and reasons existed: `x` + journal seq → this JSON.
        let legacy = r#"{"seq":7,"kind":"oversold","sku":"HAT","key":"order:etsy:1:1:v1","source":"channel:etsy","units":2,"at_ms":1000}"#;
        let record: OrderException = serde_json::from_str(legacy).unwrap();
        let record = record.stored_as(7);
        assert_eq!(
            (record.id, record.seq, record.count, record.last_seen_ms),
            (7, Some(7), 1, 1000)
        );
        assert_eq!(record.reason, None);
    }

    #[test]
    fn a_sighting_counts_and_never_moves_last_seen_back() {
        let event = UnapplicableEvent {
            key: IdempotencyKey::parse("order:shop:1:1:placed").unwrap(),
            channel: ChannelId::parse("shop").unwrap(),
            order_id: Some("1\n".repeat(100)),
            line: Some(1),
            sku: None,
            units: 0,
            reason: UnapplicableReason::MissingSku,
            detail: "x".repeat(1_000),
        };
        let mut record = OrderException::unapplicable(3, &event, 50);
        assert!(record.order_id.as_ref().unwrap().len() <= MAX_ORDER_REF_BYTES);
        assert!(!record.order_id.as_ref().unwrap().contains('\n'));
        assert!(record.detail.as_ref().unwrap().len() <= MAX_DETAIL_BYTES);
        record.seen_again(80);
        record.seen_again(60);
        assert_eq!(
            (record.at_ms, record.last_seen_ms, record.count),
            (50, 80, 3)
        );
    }
}
