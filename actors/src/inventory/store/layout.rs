//! The store's key layout and record encoding (one tree per client, so no key names a client).
//!
//! | prefix | key                              | value                      |
//! |--------|----------------------------------|----------------------------|
//! | `m`    | `m/head`, `m/version`, `m/xhead`, `m/skus`, `m/xcount` | last sequence number (u64 BE), schema version, last exception id, SKUs with a balance, exceptions held (u64 BE) |
//! | `j`    | `j` + seq (u64 BE)               | [`JournalEntry`] (JSON)    |
//! | `b`    | `b` + SKU                        | [`Balance`] (JSON)         |
//! | `i`    | `i` + idempotency key            | seq of the entry it produced (u64 BE) |
//! | `s`    | `s` + SKU + `0x00` + seq (u64 BE) | empty: the journal by SKU |
//! | `x`    | `x` + exception id (u64 BE)      | [`OrderException`] (JSON)  |
//! | `e`    | `e` + exception key              | id of the unapplicable-order exception it names (u64 BE) |
//! | `k`    | `k` + channel id                 | the channel's order-feed cursor (UTF-8) |
//! | `l`    | `l` + channel id + `0x00` + SKU  | [`ListingRecord`](crate::inventory::messages::ListingRecord) (JSON): what the marketplace last confirmed |
//! | `h`    | `h` + channel id + `0x00` + SKU + `0x00` + event id (u64 BE) | [`ListingEvent`](crate::inventory::history::ListingEvent) (JSON): the listing history, append-only |
//!
//! The listing history (issue 15) takes its event ids from its own counter, `m/hhead`, written in
//! the round's transaction like the heads above; ids order a client's events as they were
//! recorded, and a listing's events are one contiguous range in id order, so a page of one
//! listing's history and its pruning are range reads. It is bounded by
//! [`crate::inventory::history`]'s retention and cap, pruned outside the transaction (sled's
//! transactions cannot read a range): a prune that is lost in a crash is only done again later.
//!
//! Sequence numbers are big-endian so that sled's byte order is numeric order
//! (`reference/reliability.md` §2.1, "Limits"). A SKU never holds a control character, so the NUL
//! separator of the `s` keys cannot occur inside one.
//!
//! Exception ids come from their own counter (`m/xhead`), since an unapplicable order has no
//! journal entry. The first version keyed oversells by their journal sequence number; [`open`]
//! starts the counter above the last such key, so those records keep their keys as ids and new
//! ones follow them in order (no rewrite of old data). The `e` index makes an unapplicable order
//! one exception however often it is seen ([`crate::inventory::exceptions`]).
//!
//! The counts `m/skus` and `m/xcount` are kept in each round's transaction, so that reading them
//! (the actor's `GetState`, the API's listings) is one key, not a scan of every balance or
//! exception on the actor's thread (issue 13, item 5). [`open`] counts once, by scanning, a tree
//! written before they existed; `verify` checks them against the scan.
//!
//! [`open`]: super::LedgerStore::open

use serde::{Deserialize, Serialize};

use super::OrderException;
use crate::ids::{ChannelId, Sku};
use crate::inventory::ledger::{Balance, IdempotencyKey, JournalEntry};
use crate::inventory::messages::LedgerError;

pub(super) const HEAD_KEY: &[u8] = b"m/head";
pub(super) const VERSION_KEY: &[u8] = b"m/version";
pub(super) const EXCEPTION_HEAD_KEY: &[u8] = b"m/xhead";
pub(super) const SKU_COUNT_KEY: &[u8] = b"m/skus";
pub(super) const EXCEPTION_COUNT_KEY: &[u8] = b"m/xcount";
pub(super) const HISTORY_HEAD_KEY: &[u8] = b"m/hhead";
pub(super) const SCHEMA_VERSION: u64 = 1;
pub(super) const JOURNAL: u8 = b'j';
pub(super) const BALANCE: u8 = b'b';
pub(super) const IDEMPOTENCY: u8 = b'i';
pub(super) const SKU_INDEX: u8 = b's';
pub(super) const EXCEPTION: u8 = b'x';
pub(super) const EXCEPTION_INDEX: u8 = b'e';
pub(super) const CURSOR: u8 = b'k';
pub(super) const LISTING: u8 = b'l';
pub(super) const HISTORY: u8 = b'h';

pub(super) fn journal_key(seq: u64) -> [u8; 9] {
    prefixed_seq(JOURNAL, seq)
}

pub(super) fn exception_key(id: u64) -> [u8; 9] {
    prefixed_seq(EXCEPTION, id)
}

pub(super) fn exception_index_key(key: &IdempotencyKey) -> Vec<u8> {
    prefixed(EXCEPTION_INDEX, key.as_str().as_bytes())
}

/// Reads an exception back with its id from its key.
pub(super) fn decode_exception(key: &[u8], value: &[u8]) -> Result<OrderException, LedgerError> {
    let id = decode_u64(key.get(1..).unwrap_or_default())?;
    Ok(decode::<OrderException>(value)?.stored_as(id))
}

pub(super) fn prefixed_seq(prefix: u8, seq: u64) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

pub(super) fn cursor_key(channel: &ChannelId) -> Vec<u8> {
    prefixed(CURSOR, channel.as_str().as_bytes())
}

pub(super) fn listing_key(channel: &ChannelId, sku: &Sku) -> Vec<u8> {
    let mut key = prefixed(LISTING, channel.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(sku.as_str().as_bytes());
    key
}

/// The prefix of one listing's history (the trailing NUL keeps `HAT` from matching `HAT2`).
pub(super) fn history_prefix(channel: &ChannelId, sku: &Sku) -> Vec<u8> {
    let mut key = listing_key(channel, sku);
    key[0] = HISTORY;
    key.push(0);
    key
}

pub(super) fn history_key(channel: &ChannelId, sku: &Sku, id: u64) -> Vec<u8> {
    let mut key = history_prefix(channel, sku);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The event id a history key ends with.
pub(super) fn history_id(key: &[u8]) -> Result<u64, LedgerError> {
    decode_u64(key.get(key.len().saturating_sub(8)..).unwrap_or_default())
}

pub(super) fn balance_key(sku: &Sku) -> Vec<u8> {
    prefixed(BALANCE, sku.as_str().as_bytes())
}

pub(super) fn idempotency_key(key: &IdempotencyKey) -> Vec<u8> {
    prefixed(IDEMPOTENCY, key.as_str().as_bytes())
}

pub(super) fn sku_index_key(sku: &Sku, seq: u64) -> Vec<u8> {
    let mut key = prefixed(SKU_INDEX, sku.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(super) fn prefixed(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(rest.len() + 1);
    key.push(prefix);
    key.extend_from_slice(rest);
    key
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value)
        .expect("ledger records serialise: plain structs of strings and integers")
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, LedgerError> {
    serde_json::from_slice(bytes)
        .map_err(|error| LedgerError::Corrupt(format!("unreadable record: {error}")))
}

/// Decodes a stored journal entry, in the format of any version
/// ([`JournalEntry::with_stored_order`]).
pub(super) fn decode_entry(bytes: &[u8]) -> Result<JournalEntry, LedgerError> {
    decode::<JournalEntry>(bytes).map(JournalEntry::with_stored_order)
}

/// Decodes a stored balance, refusing one outside
/// [`BALANCE_LIMIT`](super::ledger::BALANCE_LIMIT): the store never writes
/// one, so it can only come from a damaged tree, and the arithmetic on balances may then rely
/// on the limits.
pub(super) fn decode_balance(bytes: &[u8]) -> Result<Balance, LedgerError> {
    let balance: Balance = decode(bytes)?;
    if !balance.within_limits() {
        return Err(LedgerError::Corrupt(format!(
            "a stored balance is out of range: {balance:?}"
        )));
    }
    Ok(balance)
}

pub(super) fn decode_u64(bytes: &[u8]) -> Result<u64, LedgerError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| LedgerError::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}
