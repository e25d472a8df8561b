//! The ledger store: a plain type over one client's `sled::Tree`. No actix in here; the
//! InventoryActor owns the only instance per client and sequences calls to it.
//!
//! The key layout is in [`layout`], the transaction of a round in [`transaction`].
//!
//! # Atomicity and durability
//!
//! A batch of movements is one sled transaction: every journal entry, balance, idempotency key,
//! SKU index entry and order exception of the batch is written together or not at all, and a
//! refused movement aborts the whole batch. Unapplicable orders a command carries are recorded in
//! the same transaction as its movements, so a delivery's good lines and its bad ones are written
//! together or not at all. The transaction closure has no side effects (sled
//! re-runs it on conflict). A committed transaction is not yet durable: the caller acknowledges
//! only after [`LedgerStore::flush`] has returned (see the InventoryActor's group commit).

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use sled::transaction::TransactionError;

pub use super::exceptions::{ExceptionKind, OrderException, UnapplicableEvent};
use super::ledger::{fold, Balance, JournalEntry, Movement, Source};
use super::messages::{
    ApplyOutcome, CursorUpdate, LedgerError, ListingRecord, ListingsUpdate, MAX_EXCEPTION_PAGE,
    MAX_JOURNAL_PAGE,
};
use crate::ids::{ChannelId, Sku};

mod layout;
mod transaction;

use self::layout::*;
use self::transaction::{
    apply_command, read_counter, read_exception_head, read_head, read_history_head, Staged,
};
use super::history::{
    explain, prune_plan, ExplainInput, Explanation, ListingEvent, RecordedEvent, EXPLAIN_WINDOW,
    MAX_HISTORY_PAGE, PRUNE_EVERY,
};
use crate::channel::policy::ListingPolicy;

/// One command of a group-commit round: movements, and with them (in the same transaction) the
/// order-feed cursor they advance, listed quantities a marketplace confirmed and orders that
/// cannot be applied. At least one part must be present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerCommand {
    /// Stock movements.
    pub movements: Vec<Movement>,
    /// The cursor of the feed the movements came from.
    pub cursor: Option<CursorUpdate>,
    /// Confirmed listed quantities.
    pub listings: Option<ListingsUpdate>,
    /// Orders told of with the movements that cannot be applied: each raises (or sees again) its
    /// order exception.
    pub unapplicable: Vec<UnapplicableEvent>,
    /// Listing-history events (sent, refused, read) to append (issue 15).
    pub history: Vec<ListingEvent>,
}

/// What an accepted command did, beyond its [`ApplyOutcome`]: the exceptions it raised for the
/// first time (for the metric of exceptions raised, counted once durable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The answer the caller gets.
    pub outcome: ApplyOutcome,
    /// Each new exception's kind and source; a sighting of a known one is not listed.
    pub raised: Vec<(ExceptionKind, Source)>,
}

impl From<Vec<Movement>> for LedgerCommand {
    fn from(movements: Vec<Movement>) -> Self {
        Self {
            movements,
            ..Self::default()
        }
    }
}

/// A page request on the journal.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JournalQuery {
    /// Only entries of this SKU.
    pub sku: Option<Sku>,
    /// Only entries with a sequence number above this one.
    pub after_seq: u64,
    /// At most this many entries (clamped to 1..=[`MAX_JOURNAL_PAGE`]).
    pub limit: usize,
}

/// What a full verification found in a healthy ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The last sequence number.
    pub head_seq: u64,
    /// SKUs with a balance.
    pub skus: usize,
    /// Order exceptions.
    pub exceptions: usize,
}

/// One client's ledger over its own sled tree.
#[derive(Debug, Clone)]
pub struct LedgerStore {
    tree: sled::Tree,
    /// The database's shared flusher, when the store runs beside other clients' stores.
    flusher: Option<crate::storage::DbFlusher>,
}

impl LedgerStore {
    /// Opens the ledger in `tree`, checking that the journal head and the stored head agree (the
    /// cheap part of recovery; [`LedgerStore::verify`] does the full check).
    pub fn open(tree: sled::Tree) -> Result<Self, LedgerError> {
        match tree.get(VERSION_KEY)? {
            None => {
                if !tree.is_empty() {
                    return Err(LedgerError::Corrupt(
                        "the tree holds data but no schema version".into(),
                    ));
                }
                tree.insert(VERSION_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(bytes) if decode_u64(&bytes)? == SCHEMA_VERSION => {}
            Some(bytes) => {
                return Err(LedgerError::Corrupt(format!(
                    "schema version {} is not the supported version {SCHEMA_VERSION}",
                    decode_u64(&bytes)?
                )))
            }
        }
        let store = Self {
            tree,
            flusher: None,
        };
        let head = store.head_seq()?;
        let last_journal_seq = match store.tree.scan_prefix([JOURNAL]).next_back() {
            Some(item) => decode_u64(&item?.0[1..])?,
            None => 0,
        };
        if head != last_journal_seq {
            return Err(LedgerError::Corrupt(format!(
                "the head is {head} but the last journal entry is {last_journal_seq}"
            )));
        }
        if store.tree.get(EXCEPTION_HEAD_KEY)?.is_none() {
            // A tree of the first version keyed its exceptions by journal seq: ids continue above
            // them (see the module doc). Idempotent, so a crash before it is durable is harmless.
            let last_exception = match store.tree.scan_prefix([EXCEPTION]).next_back() {
                Some(item) => decode_u64(&item?.0[1..])?,
                None => 0,
            };
            store
                .tree
                .insert(EXCEPTION_HEAD_KEY, &last_exception.to_be_bytes())?;
        }
        // A tree written before the counts were kept: count once (idempotent, like the above).
        for (key, prefix) in [(SKU_COUNT_KEY, BALANCE), (EXCEPTION_COUNT_KEY, EXCEPTION)] {
            if store.tree.get(key)?.is_none() {
                let count = store.tree.scan_prefix([prefix]).keys().count() as u64;
                store.tree.insert(key, &count.to_be_bytes())?;
            }
        }
        Ok(store)
    }

    /// Returns the last sequence number (0 for an empty journal).
    pub fn head_seq(&self) -> Result<u64, LedgerError> {
        self.tree
            .get(HEAD_KEY)?
            .map_or(Ok(0), |bytes| decode_u64(&bytes))
    }

    /// Applies one command (a batch of movements) in one transaction, at time `at_ms`. Not
    /// durable until [`LedgerStore::flush`] returns.
    pub fn apply(&self, movements: &[Movement], at_ms: u64) -> Result<ApplyOutcome, LedgerError> {
        let command = LedgerCommand::from(movements.to_vec());
        let mut outcomes = self.apply_commands(std::slice::from_ref(&command), at_ms)?;
        outcomes.pop().unwrap_or(Err(LedgerError::EmptyBatch))
    }

    /// Applies several commands, in order, in **one** sled transaction. Each command stays
    /// all-or-nothing: a refused command writes nothing and gets its own error, later commands
    /// see the writes of earlier accepted ones (so a key repeated across two commands is a
    /// duplicate, exactly as if they had been applied one after the other).
    ///
    /// One transaction per group-commit round rather than one per command, because sled 0.34.7
    /// seals and writes its log buffer on every transaction: measured in `bench/RESULTS.md`, two
    /// synced disk writes per transaction whatever the flush policy.
    ///
    /// The outer error is a failure of the store (nothing was written); the inner ones are the
    /// commands' own answers. Not durable until [`LedgerStore::flush`] returns.
    pub fn apply_commands(
        &self,
        commands: &[LedgerCommand],
        at_ms: u64,
    ) -> Result<Vec<Result<ApplyOutcome, LedgerError>>, LedgerError> {
        Ok(self
            .apply_round(commands, at_ms)?
            .into_iter()
            .map(|result| result.map(|done| done.outcome))
            .collect())
    }

    /// [`LedgerStore::apply_commands`], telling also which exceptions each accepted command
    /// raised for the first time (the InventoryActor counts them once durable).
    pub fn apply_round(
        &self,
        commands: &[LedgerCommand],
        at_ms: u64,
    ) -> Result<Vec<Result<CommandOutcome, LedgerError>>, LedgerError> {
        self.tree
            .transaction(|tx| {
                let first_head = read_head(tx)?;
                let first_exception_head = read_exception_head(tx)?;
                let first_history_head = read_history_head(tx)?;
                let mut head = first_head;
                let mut exception_head = first_exception_head;
                let mut history_head = first_history_head;
                let (mut new_skus, mut raised_count) = (0, 0);
                let mut outcomes = Vec::with_capacity(commands.len());
                for command in commands {
                    let mut staged = Staged::new(tx, head, exception_head, history_head);
                    match apply_command(&mut staged, command, at_ms)? {
                        Ok(outcome) => {
                            head = staged.head;
                            exception_head = staged.exception_head;
                            history_head = staged.history_head;
                            new_skus += staged.counts.new_skus;
                            raised_count += staged.counts.raised;
                            let raised = std::mem::take(&mut staged.raised);
                            staged.write_through()?;
                            outcomes.push(Ok(CommandOutcome { outcome, raised }));
                        }
                        Err(refused) => outcomes.push(Err(refused)),
                    }
                }
                if head != first_head {
                    tx.insert(HEAD_KEY, &head.to_be_bytes())?;
                }
                if exception_head != first_exception_head {
                    tx.insert(EXCEPTION_HEAD_KEY, &exception_head.to_be_bytes())?;
                }
                if history_head != first_history_head {
                    tx.insert(HISTORY_HEAD_KEY, &history_head.to_be_bytes())?;
                }
                for (key, added) in [
                    (SKU_COUNT_KEY, new_skus),
                    (EXCEPTION_COUNT_KEY, raised_count),
                ] {
                    if added > 0 {
                        let count = read_counter(tx, key)?.saturating_add(added);
                        tx.insert(key, &count.to_be_bytes())?;
                    }
                }
                Ok(outcomes)
            })
            .map_err(|error| match error {
                TransactionError::Abort(error) => error,
                TransactionError::Storage(error) => LedgerError::Storage(error),
            })
    }

    /// Flushes through the database's shared `flusher` from now on.
    pub fn with_flusher(mut self, flusher: crate::storage::DbFlusher) -> Self {
        self.flusher = Some(flusher);
        self
    }

    /// Makes every write so far durable, also against a power cut or a kernel crash: sled's
    /// flush and the `fdatasync` after it, through the database's [`crate::storage::DbFlusher`],
    /// which coalesces the flushes of every store of the database (DESIGN §3: "flushed **and
    /// fdatasync'd**").
    ///
    /// A store without a flusher refuses: a plain `Tree::flush` ends in `sync_file_range`, which
    /// a power cut can undo (`reference/reliability.md` §2.1), and a tree cannot name the file to
    /// sync. Give it one with [`LedgerStore::with_flusher`] (`InventoryConfig::flusher`).
    ///
    /// Never sled's `flush_async`: it runs on sled's own small thread pool, which also writes
    /// sled's log, and with many clients flushing at once every pool thread ended up waiting for
    /// a log write queued behind them (a deadlock found by the scheduler bench with 8+ clients;
    /// sled issues #1308, #1241). The flusher runs sled's blocking flush on its own thread.
    pub async fn flush(&self) -> Result<(), LedgerError> {
        let Some(flusher) = &self.flusher else {
            return Err(LedgerError::Storage(sled::Error::Unsupported(
                "this ledger has no database flusher, so it cannot make its writes durable \
                 (set InventoryConfig::flusher or call LedgerStore::with_flusher)"
                    .into(),
            )));
        };
        // A failed flush is a storage failure (`kind` "storage"), never the caller's error.
        flusher
            .flush()
            .await
            .map_err(|error| LedgerError::Storage(error.into()))
    }

    /// Returns the balance of `sku`, if it has ever moved.
    pub fn balance(&self, sku: &Sku) -> Result<Option<Balance>, LedgerError> {
        self.tree
            .get(balance_key(sku))?
            .map(|bytes| decode_balance(&bytes))
            .transpose()
    }

    /// Returns every balance, in SKU order.
    pub fn balances(&self) -> Result<BTreeMap<Sku, Balance>, LedgerError> {
        let mut balances = BTreeMap::new();
        for item in self.tree.scan_prefix([BALANCE]) {
            let (key, value) = item?;
            balances.insert(sku_of_balance_key(&key)?, decode_balance(&value)?);
        }
        Ok(balances)
    }

    /// Returns at most `limit` balances in SKU order, of the SKUs after `after`.
    pub fn balances_after(
        &self,
        after: Option<&Sku>,
        limit: usize,
    ) -> Result<Vec<(Sku, Balance)>, LedgerError> {
        let start = match after {
            Some(sku) => Bound::Excluded(balance_key(sku)),
            None => Bound::Included(vec![BALANCE]),
        };
        let mut balances = Vec::new();
        for item in self
            .tree
            .range::<Vec<u8>, _>((start, Bound::Excluded(vec![BALANCE + 1])))
            .take(limit)
        {
            let (key, value) = item?;
            balances.push((sku_of_balance_key(&key)?, decode_balance(&value)?));
        }
        Ok(balances)
    }

    /// Returns one journal entry.
    pub fn journal_entry(&self, seq: u64) -> Result<Option<JournalEntry>, LedgerError> {
        self.tree
            .get(journal_key(seq))?
            .map(|bytes| decode_entry(&bytes))
            .transpose()
    }

    /// Returns a page of the journal, in sequence order.
    pub fn journal(&self, query: &JournalQuery) -> Result<Vec<JournalEntry>, LedgerError> {
        let limit = query.limit.clamp(1, MAX_JOURNAL_PAGE);
        let first = query.after_seq.saturating_add(1);
        match &query.sku {
            None => self
                .tree
                .range(journal_key(first)..journal_key(u64::MAX))
                .take(limit)
                .map(|item| decode_entry(&item?.1))
                .collect(),
            Some(sku) => {
                let start = sku_index_key(sku, first);
                let end = sku_index_key(sku, u64::MAX);
                let mut entries = Vec::new();
                for item in self
                    .tree
                    .range::<Vec<u8>, _>((Bound::Included(start), Bound::Included(end)))
                    .take(limit)
                {
                    let (key, _) = item?;
                    let seq = decode_u64(&key[key.len() - 8..])?;
                    let entry = self.journal_entry(seq)?.ok_or_else(|| {
                        LedgerError::Corrupt(format!("the SKU index names missing entry {seq}"))
                    })?;
                    entries.push(entry);
                }
                Ok(entries)
            }
        }
    }

    /// Returns the order-feed cursor of `channel`, if one was ever written.
    pub fn cursor(&self, channel: &ChannelId) -> Result<Option<String>, LedgerError> {
        self.tree
            .get(cursor_key(channel))?
            .map(|bytes| {
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| LedgerError::Corrupt(format!("unreadable cursor of {channel}")))
            })
            .transpose()
    }

    /// Returns what the marketplace of `channel` last confirmed for each of its listings.
    pub fn listings(&self, channel: &ChannelId) -> Result<Vec<ListingRecord>, LedgerError> {
        let mut prefix = prefixed(LISTING, channel.as_str().as_bytes());
        prefix.push(0);
        self.tree
            .scan_prefix(prefix)
            .map(|item| decode(&item?.1))
            .collect()
    }

    /// Returns a page of one listing's history: events with ids above `after_id`, oldest first,
    /// at most `limit` (clamped to 1..=[`MAX_HISTORY_PAGE`]).
    pub fn history_page(
        &self,
        channel: &ChannelId,
        sku: &Sku,
        after_id: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, LedgerError> {
        let limit = limit.clamp(1, MAX_HISTORY_PAGE);
        let Some(first) = after_id.checked_add(1) else {
            return Ok(Vec::new());
        };
        self.tree
            .range(history_key(channel, sku, first)..=history_key(channel, sku, u64::MAX))
            .take(limit)
            .map(|item| {
                let (key, value) = item?;
                Ok(RecordedEvent {
                    id: history_id(&key)?,
                    event: decode(&value)?,
                })
            })
            .collect()
    }

    /// Returns one listing's whole history (bounded by the retention and the cap), oldest first.
    pub fn listing_history(
        &self,
        channel: &ChannelId,
        sku: &Sku,
    ) -> Result<Vec<RecordedEvent>, LedgerError> {
        self.tree
            .scan_prefix(history_prefix(channel, sku))
            .map(|item| {
                let (key, value) = item?;
                Ok(RecordedEvent {
                    id: history_id(&key)?,
                    event: decode(&value)?,
                })
            })
            .collect()
    }

    /// Every listing-history event of the client (all listings) that happened in
    /// `from_ms..to_ms`, in key order (by listing, then id). A full read of the history, which
    /// the retention and the cap per listing bound ([`crate::inventory::history`]); for reports,
    /// run off the actor's thread.
    pub fn history_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<ListingEvent>, LedgerError> {
        let mut events = Vec::new();
        for item in self.tree.scan_prefix([HISTORY]) {
            let (_, value) = item?;
            let event: ListingEvent = decode(&value)?;
            if (from_ms..to_ms).contains(&event.at_ms) {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// The last listing-history event id (0: none yet).
    pub fn history_head(&self) -> Result<u64, LedgerError> {
        self.counter(HISTORY_HEAD_KEY)
    }

    /// Prunes the history of the listings `commands` appended to, by [`prune_plan`] at `now_ms`
    /// (after their round's transaction: sled's transactions cannot read ranges). The round gave
    /// its events the ids after `head_before`; a listing is pruned when one of them is a multiple
    /// of [`PRUNE_EVERY`], so the scan of a listing is paid once per that many of its events.
    /// Returns how many events were removed.
    pub fn prune_history(
        &self,
        commands: &[LedgerCommand],
        head_before: u64,
        now_ms: u64,
    ) -> Result<usize, LedgerError> {
        let mut touched = std::collections::BTreeSet::new();
        for command in commands {
            if let Some(update) = &command.listings {
                touched.extend(
                    update
                        .listings
                        .iter()
                        .map(|record| (&update.channel, &record.sku)),
                );
            }
            touched.extend(
                command
                    .history
                    .iter()
                    .map(|event| (&event.channel, &event.sku)),
            );
        }
        let mut removed = 0;
        for (channel, sku) in touched {
            let prefix = history_prefix(channel, sku);
            let mut due = false;
            for key in self.tree.scan_prefix(&prefix).keys().rev() {
                let id = history_id(&key?)?;
                if id <= head_before {
                    break;
                }
                due |= id % PRUNE_EVERY == 0;
            }
            if !due {
                continue;
            }
            let events: Vec<(u64, u64, bool)> = self
                .listing_history(channel, sku)?
                .into_iter()
                .map(|event| {
                    let shows = event.event.what.shown().is_some();
                    (event.id, event.event.at_ms, shows)
                })
                .collect();
            let mut batch = sled::Batch::default();
            for id in prune_plan(&events, now_ms) {
                batch.remove(history_key(channel, sku, id));
                removed += 1;
            }
            self.tree.apply_batch(batch)?;
        }
        Ok(removed)
    }

    /// Explains what the listing of `sku` on `channel` showed at `at_ms`
    /// ([`crate::inventory::history::explain`]): its history, the SKU's last
    /// [`EXPLAIN_WINDOW`] journal entries and its balance now. Reads a bounded range each; for the
    /// blocking pool.
    pub fn explain_listing(
        &self,
        channel: &ChannelId,
        sku: &Sku,
        at_ms: u64,
        policy_now: ListingPolicy,
    ) -> Result<Explanation, LedgerError> {
        let events = self.listing_history(channel, sku)?;
        let start = sku_index_key(sku, 0);
        let end = sku_index_key(sku, u64::MAX);
        let mut seqs = Vec::with_capacity(EXPLAIN_WINDOW);
        for item in self
            .tree
            .range::<Vec<u8>, _>((Bound::Included(start), Bound::Included(end)))
            .keys()
            .rev()
            .take(EXPLAIN_WINDOW + 1)
        {
            let key = item?;
            seqs.push(decode_u64(&key[key.len() - 8..])?);
        }
        let window_cut = seqs.len() > EXPLAIN_WINDOW;
        seqs.truncate(EXPLAIN_WINDOW);
        seqs.reverse();
        let mut entries = Vec::with_capacity(seqs.len());
        for seq in seqs {
            entries.push(self.journal_entry(seq)?.ok_or_else(|| {
                LedgerError::Corrupt(format!("the SKU index names missing entry {seq}"))
            })?);
        }
        let balance = self.balance(sku)?.unwrap_or_default();
        Ok(explain(&ExplainInput {
            at_ms,
            events: &events,
            entries: &entries,
            window_cut,
            on_hand: balance.on_hand,
            reserved: balance.reserved,
            policy_now,
        }))
    }

    /// Returns every order exception, oldest first.
    pub fn exceptions(&self) -> Result<Vec<OrderException>, LedgerError> {
        self.tree
            .scan_prefix([EXCEPTION])
            .map(|item| {
                let (key, value) = item?;
                decode_exception(&key, &value)
            })
            .collect()
    }

    /// Returns a page of order exceptions with ids above `after_id`, oldest first, at most
    /// `limit` (clamped to 1..=[`MAX_EXCEPTION_PAGE`]).
    pub fn exceptions_page(
        &self,
        after_id: u64,
        limit: usize,
    ) -> Result<Vec<OrderException>, LedgerError> {
        let limit = limit.clamp(1, MAX_EXCEPTION_PAGE);
        let Some(first) = after_id.checked_add(1) else {
            return Ok(Vec::new());
        };
        self.tree
            .range(exception_key(first)..=exception_key(u64::MAX))
            .take(limit)
            .map(|item| {
                let (key, value) = item?;
                decode_exception(&key, &value)
            })
            .collect()
    }

    /// Returns the number of order exceptions (reads keys only).
    pub fn exception_count(&self) -> Result<u64, LedgerError> {
        self.counter(EXCEPTION_COUNT_KEY)
    }

    /// Returns the number of SKUs with a balance.
    pub fn sku_count(&self) -> Result<u64, LedgerError> {
        self.counter(SKU_COUNT_KEY)
    }

    /// One of the counts kept in the round's transaction (store/layout.rs).
    fn counter(&self, key: &[u8]) -> Result<u64, LedgerError> {
        self.tree
            .get(key)?
            .map_or(Ok(0), |bytes| decode_u64(&bytes))
    }

    /// Checks the whole ledger: the journal is gap-free from 1 to the head, refolding it gives the
    /// stored balances exactly, every idempotency key, SKU index entry and oversold exception
    /// belongs to the journal entry it names, and every unapplicable-order exception is the one
    /// its key indexes. Reads everything: for recovery checks and tests, not for a hot path.
    pub fn verify(&self) -> Result<VerifyReport, LedgerError> {
        let head_seq = self.head_seq()?;
        let mut journal = Vec::new();
        for item in self.tree.scan_prefix([JOURNAL]) {
            let (key, value) = item?;
            let entry = decode_entry(&value)?;
            let expected = journal.len() as u64 + 1;
            if decode_u64(&key[1..])? != expected || entry.seq != expected {
                return Err(LedgerError::Corrupt(format!(
                    "journal gap: expected entry {expected}, found {}",
                    entry.seq
                )));
            }
            journal.push(entry);
        }
        if journal.len() as u64 != head_seq {
            return Err(LedgerError::Corrupt(format!(
                "head {head_seq} but {} journal entries",
                journal.len()
            )));
        }
        let refolded = fold(&journal).map_err(|error| LedgerError::Corrupt(error.to_string()))?;
        let stored = self.balances()?;
        if refolded != stored {
            return Err(LedgerError::Corrupt(format!(
                "refolding the journal gives {refolded:?}, the store holds {stored:?}"
            )));
        }
        let mut keys = 0;
        for item in self.tree.scan_prefix([IDEMPOTENCY]) {
            let (key, value) = item?;
            let seq = decode_u64(&value)?;
            let entry = journal.get((seq as usize).wrapping_sub(1));
            if entry.is_none_or(|entry| entry.key.as_str().as_bytes() != &key[1..]) {
                return Err(LedgerError::Corrupt(format!(
                    "idempotency key {key:?} names entry {seq}, which has another key"
                )));
            }
            keys += 1;
        }
        if keys != journal.len() {
            return Err(LedgerError::Corrupt(format!(
                "{keys} idempotency keys for {} journal entries",
                journal.len()
            )));
        }
        let indexed = self.tree.scan_prefix([SKU_INDEX]).count();
        if indexed != journal.len() {
            return Err(LedgerError::Corrupt(format!(
                "{indexed} SKU index entries for {} journal entries",
                journal.len()
            )));
        }
        let exceptions = self.exceptions()?;
        verify_exceptions(&self.tree, &journal, &exceptions)?;
        for (what, kept, scanned) in [
            ("SKU", self.sku_count()?, stored.len()),
            ("exception", self.exception_count()?, exceptions.len()),
        ] {
            if kept != scanned as u64 {
                return Err(LedgerError::Corrupt(format!(
                    "the {what} count is {kept} but the tree holds {scanned}"
                )));
            }
        }
        Ok(VerifyReport {
            head_seq,
            skus: stored.len(),
            exceptions: exceptions.len(),
        })
    }
}

/// Checks the exceptions against the journal and their index: every oversold entry has exactly
/// one oversold exception naming it, every unapplicable-order exception names no entry and is the
/// one its `e` index entry points at, nothing else is indexed, and no id is above the counter.
fn verify_exceptions(
    tree: &sled::Tree,
    journal: &[JournalEntry],
    exceptions: &[OrderException],
) -> Result<(), LedgerError> {
    let exception_head = tree
        .get(EXCEPTION_HEAD_KEY)?
        .map_or(Ok(0), |bytes| decode_u64(&bytes))?;
    let mut oversold_seqs = std::collections::BTreeSet::new();
    let mut unapplicable = 0;
    for exception in exceptions {
        if exception.id > exception_head {
            return Err(LedgerError::Corrupt(format!(
                "exception {} is above the exception counter {exception_head}",
                exception.id
            )));
        }
        match exception.kind {
            ExceptionKind::Oversold => {
                let names_oversell = exception.seq.is_some_and(|seq| {
                    journal
                        .get((seq as usize).wrapping_sub(1))
                        .is_some_and(JournalEntry::oversold)
                });
                if !names_oversell || !oversold_seqs.insert(exception.seq) {
                    return Err(LedgerError::Corrupt(format!(
                        "oversold exception {} names no oversold entry of its own ({:?})",
                        exception.id, exception.seq
                    )));
                }
            }
            ExceptionKind::UnapplicableOrder => {
                let indexed = tree
                    .get(exception_index_key(&exception.key))?
                    .map(|bytes| decode_u64(&bytes))
                    .transpose()?;
                if exception.seq.is_some() || indexed != Some(exception.id) {
                    return Err(LedgerError::Corrupt(format!(
                        "unapplicable-order exception {} is not the one its key {:?} indexes",
                        exception.id,
                        exception.key.as_str()
                    )));
                }
                unapplicable += 1;
            }
        }
    }
    let oversells = journal.iter().filter(|entry| entry.oversold()).count();
    if oversold_seqs.len() != oversells {
        return Err(LedgerError::Corrupt(format!(
            "{} oversold exceptions for {oversells} oversold entries",
            oversold_seqs.len()
        )));
    }
    let indexed = tree.scan_prefix([EXCEPTION_INDEX]).count();
    if indexed != unapplicable {
        return Err(LedgerError::Corrupt(format!(
            "{indexed} exception index entries for {unapplicable} unapplicable-order exceptions"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

/// The SKU a balance key names.
fn sku_of_balance_key(key: &[u8]) -> Result<Sku, LedgerError> {
    std::str::from_utf8(&key[1..])
        .ok()
        .and_then(|text| Sku::parse(text).ok())
        .ok_or_else(|| LedgerError::Corrupt(format!("unreadable balance key {key:?}")))
}
