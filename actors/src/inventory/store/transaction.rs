//! The transaction of one group-commit round: each command's writes staged apart, so that a
//! refused command never touches the transaction (sled transactions have no savepoints).

use std::collections::BTreeMap;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::layout::*;
use super::{ExceptionKind, LedgerCommand, OrderException, UnapplicableEvent};
use crate::inventory::history::{ListingEvent, ListingWhat};
use crate::inventory::ledger::{effect_of, Balance, JournalEntry, Source};
use crate::inventory::messages::{Applied, ApplyOutcome, LedgerError, MAX_BATCH, MAX_CURSOR_BYTES};

type TxResult<T> = Result<T, ConflictableTransactionError<LedgerError>>;

pub(super) fn read_head(tx: &TransactionalTree) -> TxResult<u64> {
    tx.get(HEAD_KEY)?
        .map_or(Ok(0), |bytes| decode_u64(&bytes))
        .map_err(abort)
}

pub(super) fn read_exception_head(tx: &TransactionalTree) -> TxResult<u64> {
    read_counter(tx, EXCEPTION_HEAD_KEY)
}

pub(super) fn read_history_head(tx: &TransactionalTree) -> TxResult<u64> {
    read_counter(tx, HISTORY_HEAD_KEY)
}

/// A `u64` of the `m` keys (0 when absent).
pub(super) fn read_counter(tx: &TransactionalTree, key: &[u8]) -> TxResult<u64> {
    tx.get(key)?
        .map_or(Ok(0), |bytes| decode_u64(&bytes))
        .map_err(abort)
}

/// What a round's accepted commands add to the stored counts (`m/skus`, `m/xcount`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// SKUs that got their first balance.
    pub(super) new_skus: u64,
    /// Exceptions raised.
    pub(super) raised: u64,
}

/// The writes of one command, held back until the whole command is accepted: sled transactions
/// have no savepoints, so a refused command must never have touched the transaction.
pub(super) struct Staged<'a> {
    tx: &'a TransactionalTree,
    writes: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(super) head: u64,
    pub(super) exception_head: u64,
    /// The last listing-history event id.
    pub(super) history_head: u64,
    /// What the command adds to the stored counts.
    pub(super) counts: Counts,
    /// Exceptions the command raised for the first time.
    pub(super) raised: Vec<(ExceptionKind, Source)>,
}

impl<'a> Staged<'a> {
    pub(super) fn new(
        tx: &'a TransactionalTree,
        head: u64,
        exception_head: u64,
        history_head: u64,
    ) -> Self {
        Self {
            tx,
            writes: BTreeMap::new(),
            head,
            exception_head,
            history_head,
            counts: Counts::default(),
            raised: Vec::new(),
        }
    }

    /// Stages a new exception under the next id.
    fn raise(&mut self, exception: impl FnOnce(u64) -> OrderException) {
        self.exception_head += 1;
        self.counts.raised += 1;
        let exception = exception(self.exception_head);
        self.raised.push((exception.kind, exception.source.clone()));
        self.insert(exception_key(exception.id).to_vec(), encode(&exception));
    }

    /// Stages a listing-history event under the next id.
    fn record(&mut self, event: &ListingEvent) {
        self.history_head += 1;
        let key = history_key(&event.channel, &event.sku, self.history_head);
        self.insert(key, encode(event));
    }

    /// Reads through the command's own writes, then the transaction (which sees the writes of the
    /// earlier commands of the round).
    fn get(&self, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        if let Some(value) = self.writes.get(key) {
            return Ok(Some(value.clone()));
        }
        Ok(self.tx.get(key)?.map(|value| value.to_vec()))
    }

    fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, value);
    }

    pub(super) fn write_through(self) -> TxResult<()> {
        for (key, value) in self.writes {
            self.tx.insert(key, value)?;
        }
        Ok(())
    }
}

/// One command inside the round's transaction. The outer error aborts the round (storage,
/// corruption); the inner one refuses this command only. No side effects: sled may run the
/// transaction more than once.
pub(super) fn apply_command(
    staged: &mut Staged<'_>,
    command: &LedgerCommand,
    at_ms: u64,
) -> TxResult<Result<ApplyOutcome, LedgerError>> {
    let movements = &command.movements;
    let listings = command.listings.as_ref();
    let unapplicable = &command.unapplicable;
    if movements.is_empty()
        && command.cursor.is_none()
        && listings.is_none()
        && unapplicable.is_empty()
        && command.history.is_empty()
    {
        return Ok(Err(LedgerError::EmptyBatch));
    }
    if command.history.len() > MAX_BATCH {
        return Ok(Err(LedgerError::BatchTooLarge {
            len: command.history.len(),
            max: MAX_BATCH,
        }));
    }
    if unapplicable.len() > MAX_BATCH {
        return Ok(Err(LedgerError::BatchTooLarge {
            len: unapplicable.len(),
            max: MAX_BATCH,
        }));
    }
    if let Some(update) = listings.filter(|update| update.listings.len() > MAX_BATCH) {
        return Ok(Err(LedgerError::BatchTooLarge {
            len: update.listings.len(),
            max: MAX_BATCH,
        }));
    }
    if let Some(update) = command
        .cursor
        .as_ref()
        .filter(|update| update.cursor.len() > MAX_CURSOR_BYTES)
    {
        return Ok(Err(LedgerError::CursorTooLong {
            len: update.cursor.len(),
            max: MAX_CURSOR_BYTES,
        }));
    }
    if let Some(update) = &command.cursor {
        staged.insert(
            cursor_key(&update.channel),
            update.cursor.clone().into_bytes(),
        );
    }
    if let Some(update) = listings {
        for record in &update.listings {
            staged.insert(listing_key(&update.channel, &record.sku), encode(record));
            // The history's confirmed event, in the same transaction as the listing it records
            // (issue 15): the two never disagree. An adopted listing is what the marketplace's
            // own export showed, not a push of ours.
            let what = if update.adopted {
                ListingWhat::Read {
                    quantity: record.quantity,
                    drift: false,
                }
            } else {
                ListingWhat::Confirmed {
                    quantity: record.quantity,
                    ledger_seq: record.ledger_seq,
                }
            };
            staged.record(&ListingEvent {
                channel: update.channel.clone(),
                sku: record.sku.clone(),
                at_ms: record.at_ms,
                what,
            });
        }
    }
    for event in &command.history {
        staged.record(event);
    }
    if movements.len() > MAX_BATCH {
        return Ok(Err(LedgerError::BatchTooLarge {
            len: movements.len(),
            max: MAX_BATCH,
        }));
    }
    let mut results = Vec::with_capacity(movements.len());
    for (index, movement) in movements.iter().enumerate() {
        let idempotency_key = idempotency_key(&movement.key);
        if let Some(bytes) = staged.get(&idempotency_key)? {
            let seq = decode_u64(&bytes).map_err(abort)?;
            let first = match staged.get(&journal_key(seq))? {
                Some(bytes) => decode_entry(&bytes).map_err(abort)?,
                None => {
                    let missing = format!("idempotency key names missing entry {seq}");
                    return Err(abort(LedgerError::Corrupt(missing)));
                }
            };
            if !movement.same_as(&first) {
                let key = movement.key.as_str().to_string();
                return Ok(Err(LedgerError::KeyReused { index, key, seq }));
            }
            results.push(Applied {
                key: movement.key.clone(),
                seq,
                duplicate: true,
                oversold_units: first.oversold_units,
                source: movement.source.clone(),
            });
            continue;
        }
        let balance_key = balance_key(&movement.sku);
        let balance: Balance = match staged.get(&balance_key)? {
            Some(bytes) => decode_balance(&bytes).map_err(abort)?,
            None => {
                staged.counts.new_skus += 1;
                Balance::default()
            }
        };
        staged.head += 1;
        let seq = staged.head;
        // Checked end to end (issue 12): a movement that would overflow or leave the range the
        // ledger keeps is refused here and the command writes nothing.
        let applied = effect_of(&balance, movement.change)
            .and_then(|effect| balance.after(&effect, seq).map(|after| (effect, after)));
        let (effect, balance_after) = match applied {
            Ok(applied) => applied,
            Err(reason) => {
                let key = movement.key.as_str().to_string();
                return Ok(Err(LedgerError::Rejected { index, key, reason }));
            }
        };
        let entry = JournalEntry {
            seq,
            at_ms,
            key: movement.key.clone(),
            source: movement.source.clone(),
            sku: movement.sku.clone(),
            change: movement.change,
            on_hand_delta: effect.on_hand_delta,
            reserved_delta: effect.reserved_delta,
            oversold_units: effect.oversold_units,
            order: movement.order.clone(),
        };
        if entry.oversold() {
            staged.raise(|id| OrderException::oversold(id, &entry));
        }
        staged.insert(journal_key(seq).to_vec(), encode(&entry));
        staged.insert(balance_key, encode(&balance_after));
        staged.insert(idempotency_key, seq.to_be_bytes().to_vec());
        staged.insert(sku_index_key(&movement.sku, seq), Vec::new());
        results.push(Applied {
            key: movement.key.clone(),
            seq,
            duplicate: false,
            oversold_units: effect.oversold_units,
            source: movement.source.clone(),
        });
    }
    for event in unapplicable {
        record_unapplicable(staged, event, at_ms)?;
    }
    Ok(Ok(ApplyOutcome {
        results,
        head_seq: staged.head,
    }))
}

/// Raises the exception of an order that cannot be applied, or, when its key raised one before
/// (a retry of the same delivery, the poll reading the same order), counts one more sighting of
/// that one: never a second exception for one event.
fn record_unapplicable(
    staged: &mut Staged<'_>,
    event: &UnapplicableEvent,
    at_ms: u64,
) -> TxResult<()> {
    let index_key = exception_index_key(&event.key);
    let Some(bytes) = staged.get(&index_key)? else {
        staged.raise(|id| OrderException::unapplicable(id, event, at_ms));
        staged.insert(index_key, staged.exception_head.to_be_bytes().to_vec());
        return Ok(());
    };
    let id = decode_u64(&bytes).map_err(abort)?;
    let key = exception_key(id);
    let Some(stored) = staged.get(&key)? else {
        let missing = format!("the exception index names missing exception {id}");
        return Err(abort(LedgerError::Corrupt(missing)));
    };
    let mut exception = decode_exception(&key, &stored).map_err(abort)?;
    exception.seen_again(at_ms);
    staged.insert(key.to_vec(), encode(&exception));
    Ok(())
}

fn abort(error: LedgerError) -> ConflictableTransactionError<LedgerError> {
    ConflictableTransactionError::Abort(error)
}
