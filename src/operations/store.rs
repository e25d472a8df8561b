//! Where the operations layer keeps its records: the service database's `operations` tree. Every
//! write is one sled operation or transaction, flushed and fdatasync'd (`storage::DbFlusher`)
//! before it returns, so what the API acknowledged survives a crash.
//!
//! Layout (`{C}` a client code, numbers zero-padded to 20 digits so that keys sort by number):
//!
//! | key | value |
//! |---|---|
//! | `q/{C}/{id}` | a [`QueueEntry`] |
//! | `qo/{C}/{id}` | (empty) the entry is unresolved: the sweep reads these, not the whole queue |
//! | `qk/{C}/{dedupe}` | the id of the entry a condition raised, while it holds |
//! | `qc/{C}` | the last ledger exception id imported (8 bytes, big-endian) |
//! | `e/{C}` | the escalation rules, with the endpoint and signing secret sealed by the vault |
//! | `d/{C}/{seq}` | a [`Delivery`] |
//! | `dp/{C}/{seq}` | (empty) the delivery is pending |
//! | `a/{C}/{seq}` | an [`AuditEntry`] of the client |
//! | `g/{seq}` | an [`AuditEntry`] of the agency (members) |
//! | `p/{C}` | the [`ClientProfile`] |
//! | `k/{C}/{id}` | a [`ChecklistRecord`] (`launch`, or a number) |
//! | `ci/{C}` | the [`ImportSummary`] of the client's last catalog import |
//! | `st/{C}` | the client's last [`SyncTest`] |
//! | `mr/{C}/{month}` | (empty) the month's report was queued for delivery (sent once) |
//! | `th/{C}/{day}/{channel}` | throttled replies a channel had that day (UTC, `YYYY-MM-DD`; 8 bytes, big-endian), for the monthly report |
//!
//! Ids and sequence numbers come from sled's `generate_id` (unique and ascending in the database,
//! not dense per client): a page cursor is the last id seen.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::inventory::exceptions::OrderException;
use shelfsync_actors::storage::DbFlusher;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::audit::AuditEntry;
use super::checklist::{ChecklistRecord, ImportSummary};
use super::escalation::{Delivery, DeliveryReason, DeliveryState, EscalationRules};
use super::profile::ClientProfile;
use super::queue::{QueueEntry, QueueError, WorkState};
use super::sync_test::SyncTest;

/// The tree's name.
pub const OPERATIONS_TREE: &str = "operations";

/// Errors of the operations store.
#[derive(Debug, thiserror::Error)]
pub enum OperationsError {
    /// sled failed.
    #[error("the operations store failed: {0}")]
    Storage(#[from] sled::Error),
    /// A record does not decode.
    #[error("operations record {key} is damaged: {message}")]
    Corrupt {
        /// Its key.
        key: String,
        /// Why.
        message: String,
    },
    /// No such exception in the client's queue.
    #[error("no exception {0}")]
    UnknownException(u64),
    /// A transition that does not apply, or a bad note.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl OperationsError {
    /// A stable, bounded name.
    pub fn kind(&self) -> &'static str {
        match self {
            OperationsError::Storage(_) => "storage",
            OperationsError::Corrupt { .. } => "corrupt",
            OperationsError::UnknownException(_) => "not_found",
            OperationsError::Queue(error) => error.kind(),
        }
    }
}

/// The escalation rules as stored: the rules in clear, the endpoint and secret sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRules {
    /// The rules.
    pub rules: EscalationRules,
    /// The endpoint URL, sealed (a Slack URL is itself a secret), base64.
    pub endpoint_sealed: String,
    /// The signing secret, sealed, base64.
    pub secret_sealed: String,
}

/// Which entries of a queue a page holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueFilter {
    /// Only in this state; `None`: any.
    pub state: Option<WorkState>,
    /// Only unresolved ones (`open` and `acknowledged`).
    pub unresolved: bool,
    /// Only of this kind.
    pub kind: Option<super::queue::QueueKind>,
}

impl QueueFilter {
    fn admits(&self, entry: &QueueEntry) -> bool {
        self.state.is_none_or(|state| entry.state == state)
            && (!self.unresolved || entry.state.is_unresolved())
            && self.kind.is_none_or(|kind| entry.kind == kind)
    }
}

/// The operations records.
#[derive(Debug, Clone)]
pub struct OperationsStore {
    db: sled::Db,
    tree: sled::Tree,
    flusher: DbFlusher,
}

fn id_key(prefix: &str, client: &ClientCode, id: u64) -> String {
    format!("{prefix}/{}/{id:020}", client.as_str())
}

fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, OperationsError> {
    serde_json::to_vec(value).map_err(|error| OperationsError::Corrupt {
        key: key.to_string(),
        message: error.to_string(),
    })
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, OperationsError> {
    serde_json::from_slice(bytes).map_err(|error| OperationsError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: error.to_string(),
    })
}

/// Runs a transaction whose body fails with an [`OperationsError`].
fn transact<T>(
    tree: &sled::Tree,
    body: impl Fn(&TransactionalTree) -> Result<T, ConflictableTransactionError<OperationsError>>,
) -> Result<T, OperationsError> {
    tree.transaction(body).map_err(|error| match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => OperationsError::Storage(error),
    })
}

fn abort(error: OperationsError) -> ConflictableTransactionError<OperationsError> {
    ConflictableTransactionError::Abort(error)
}

impl OperationsStore {
    /// The store in `db`.
    pub fn open(db: &sled::Db) -> Result<OperationsStore, OperationsError> {
        Ok(OperationsStore {
            db: db.clone(),
            tree: db.open_tree(OPERATIONS_TREE)?,
            flusher: DbFlusher::new(db),
        })
    }

    fn flush(&self) -> Result<(), OperationsError> {
        self.flusher
            .flush_blocking()
            .map_err(|error| OperationsError::Storage(sled::Error::from(error)))
    }

    fn next_id(&self) -> Result<u64, OperationsError> {
        // sled's ids start at 0; the queue's start at 1 so that `after_id=0` means "from the start".
        Ok(self.db.generate_id()? + 1)
    }

    fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, OperationsError> {
        match self.tree.get(key)? {
            Some(bytes) => decode(key.as_bytes(), &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn scan<T: DeserializeOwned>(
        &self,
        prefix: &str,
        after: u64,
        limit: usize,
        mut admit: impl FnMut(&T) -> bool,
    ) -> Result<Vec<T>, OperationsError> {
        let start = format!("{prefix}{:020}", after.saturating_add(1));
        let mut found = Vec::new();
        for item in self.tree.range(start.as_bytes()..) {
            let (key, bytes) = item?;
            if !key.starts_with(prefix.as_bytes()) || found.len() >= limit {
                break;
            }
            let value: T = decode(&key, &bytes)?;
            if admit(&value) {
                found.push(value);
            }
        }
        Ok(found)
    }

    // ---- the exception queue ----

    /// The ledger exception id imported last for `client` (0: none).
    pub fn ledger_cursor(&self, client: &ClientCode) -> Result<u64, OperationsError> {
        let key = format!("qc/{}", client.as_str());
        Ok(self
            .tree
            .get(key)?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Imports a page of the ledger's exceptions (ascending ids) into the queue, each once: an id
    /// at or below the cursor is skipped, the cursor moves in the same transaction as the
    /// entries. `target` gives each its due time. Answers the entries raised.
    pub fn import_ledger(
        &self,
        client: &ClientCode,
        exceptions: &[OrderException],
        target: chrono::Duration,
    ) -> Result<Vec<QueueEntry>, OperationsError> {
        let cursor = self.ledger_cursor(client)?;
        let fresh: Vec<&OrderException> = exceptions.iter().filter(|e| e.id > cursor).collect();
        let Some(last) = fresh.last().map(|exception| exception.id) else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::with_capacity(fresh.len());
        for exception in fresh {
            entries.push(QueueEntry::from_ledger(self.next_id()?, exception, target));
        }
        let cursor_key = format!("qc/{}", client.as_str());
        let encoded: Vec<(String, Vec<u8>)> = entries
            .iter()
            .map(|entry| {
                let key = id_key("q", client, entry.id);
                encode(&key, entry).map(|bytes| (key, bytes))
            })
            .collect::<Result<_, _>>()?;
        let imported = transact(&self.tree, |tx| {
            // Another import (the sweep and a list request race) may have moved the cursor.
            let now_at = tx
                .get(cursor_key.as_bytes())?
                .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
                .map_or(0, u64::from_be_bytes);
            if now_at != cursor {
                return Ok(false);
            }
            for ((key, bytes), entry) in encoded.iter().zip(&entries) {
                tx.insert(key.as_bytes(), bytes.as_slice())?;
                tx.insert(id_key("qo", client, entry.id).as_bytes(), &[] as &[u8])?;
                let dedupe = format!("qk/{}/{}", client.as_str(), entry.dedupe);
                tx.insert(dedupe.as_bytes(), &entry.id.to_be_bytes())?;
            }
            tx.insert(cursor_key.as_bytes(), &last.to_be_bytes())?;
            Ok(true)
        })?;
        if !imported {
            return Ok(Vec::new());
        }
        self.flush()?;
        Ok(entries)
    }

    /// Raises a condition the service observed (`entry.dedupe` says which): a new entry unless
    /// the same condition raised one that still holds, whose `count` and `last_seen` then move.
    /// Answers the entry and whether it is new.
    pub fn raise(
        &self,
        client: &ClientCode,
        mut entry: QueueEntry,
    ) -> Result<(QueueEntry, bool), OperationsError> {
        let dedupe_key = format!("qk/{}/{}", client.as_str(), entry.dedupe);
        if let Some(id) = self.tree.get(dedupe_key.as_bytes())? {
            let id = <[u8; 8]>::try_from(id.as_ref()).map_or(0, u64::from_be_bytes);
            let seen = entry.last_seen;
            let units = entry.units;
            let updated = self.update(client, id, |existing| {
                existing.count = existing.count.saturating_add(1);
                existing.last_seen = seen;
                existing.units = units;
                Ok(())
            })?;
            return Ok((updated.1, false));
        }
        entry.id = self.next_id()?;
        let key = id_key("q", client, entry.id);
        let bytes = encode(&key, &entry)?;
        transact(&self.tree, |tx| {
            tx.insert(key.as_bytes(), bytes.as_slice())?;
            tx.insert(id_key("qo", client, entry.id).as_bytes(), &[] as &[u8])?;
            tx.insert(dedupe_key.as_bytes(), &entry.id.to_be_bytes())?;
            Ok(())
        })?;
        self.flush()?;
        Ok((entry, true))
    }

    /// [`OperationsStore::raise`] for a condition that carries its own count and times (a
    /// listing refused `count` times since `first_seen`): an existing entry takes them, so a sweep
    /// that sees the same condition again does not count a sighting of its own.
    pub fn observe(
        &self,
        client: &ClientCode,
        entry: QueueEntry,
    ) -> Result<(QueueEntry, bool), OperationsError> {
        let dedupe_key = format!("qk/{}/{}", client.as_str(), entry.dedupe);
        let Some(id) = self.tree.get(dedupe_key.as_bytes())? else {
            return self.raise(client, entry);
        };
        let id = <[u8; 8]>::try_from(id.as_ref()).map_or(0, u64::from_be_bytes);
        let current = self.entry(client, id)?;
        if current.count == entry.count && current.last_seen >= entry.last_seen {
            return Ok((current, false));
        }
        let updated = self.update(client, id, |existing| {
            existing.count = existing.count.max(entry.count);
            existing.last_seen = existing.last_seen.max(entry.last_seen);
            existing.detail = entry.detail.clone();
            Ok(())
        })?;
        Ok((updated.1, false))
    }

    /// Forgets that a condition holds, so that its coming back raises a new exception. The entry
    /// it raised stays as it is (a person resolves it).
    pub fn clear(&self, client: &ClientCode, dedupe: &str) -> Result<bool, OperationsError> {
        let key = format!("qk/{}/{dedupe}", client.as_str());
        let removed = self.tree.remove(key.as_bytes())?.is_some();
        if removed {
            self.flush()?;
        }
        Ok(removed)
    }

    /// Whether a condition keyed `dedupe` is held by an entry now.
    pub fn holds(&self, client: &ClientCode, dedupe: &str) -> Result<bool, OperationsError> {
        let key = format!("qk/{}/{dedupe}", client.as_str());
        Ok(self.tree.contains_key(key.as_bytes())?)
    }

    /// The conditions of `client` held now whose dedupe key starts with `prefix`.
    pub fn held(&self, client: &ClientCode, prefix: &str) -> Result<Vec<String>, OperationsError> {
        let start = format!("qk/{}/", client.as_str());
        let mut keys = Vec::new();
        for item in self.tree.scan_prefix(format!("{start}{prefix}").as_bytes()) {
            let (key, _) = item?;
            if let Some(dedupe) = key.strip_prefix(start.as_bytes()) {
                keys.push(String::from_utf8_lossy(dedupe).into_owned());
            }
        }
        Ok(keys)
    }

    /// The entry `id` of `client`'s queue.
    pub fn entry(&self, client: &ClientCode, id: u64) -> Result<QueueEntry, OperationsError> {
        self.get(&id_key("q", client, id))?
            .ok_or(OperationsError::UnknownException(id))
    }

    /// Changes entry `id` with `change` (refused: nothing is written) and keeps the unresolved
    /// index in step. Answers the entry before and after.
    pub fn update(
        &self,
        client: &ClientCode,
        id: u64,
        change: impl Fn(&mut QueueEntry) -> Result<(), OperationsError>,
    ) -> Result<(QueueEntry, QueueEntry), OperationsError> {
        let key = id_key("q", client, id);
        let open_key = id_key("qo", client, id);
        let result = transact(&self.tree, |tx| {
            let bytes = tx
                .get(key.as_bytes())?
                .ok_or_else(|| abort(OperationsError::UnknownException(id)))?;
            let before: QueueEntry = decode(key.as_bytes(), &bytes).map_err(abort)?;
            let mut after = before.clone();
            change(&mut after).map_err(abort)?;
            let encoded = encode(&key, &after).map_err(abort)?;
            tx.insert(key.as_bytes(), encoded)?;
            if after.state.is_unresolved() {
                tx.insert(open_key.as_bytes(), &[] as &[u8])?;
            } else {
                tx.remove(open_key.as_bytes())?;
            }
            Ok((before, after))
        })?;
        self.flush()?;
        Ok(result)
    }

    /// A page of `client`'s queue after id `after`, oldest first, as `filter` admits.
    pub fn page(
        &self,
        client: &ClientCode,
        after: u64,
        limit: usize,
        filter: QueueFilter,
    ) -> Result<Vec<QueueEntry>, OperationsError> {
        if filter.unresolved || filter.state.is_some_and(WorkState::is_unresolved) {
            // The unresolved index, not the whole history.
            let ids = self.scan_ids(&format!("qo/{}/", client.as_str()), after)?;
            let mut found = Vec::new();
            for id in ids {
                if found.len() >= limit {
                    break;
                }
                let entry = self.entry(client, id)?;
                if filter.admits(&entry) {
                    found.push(entry);
                }
            }
            return Ok(found);
        }
        self.scan(&format!("q/{}/", client.as_str()), after, limit, |entry| {
            filter.admits(entry)
        })
    }

    fn scan_ids(&self, prefix: &str, after: u64) -> Result<Vec<u64>, OperationsError> {
        let start = format!("{prefix}{:020}", after.saturating_add(1));
        let mut ids = Vec::new();
        for item in self.tree.range(start.as_bytes()..) {
            let (key, _) = item?;
            let Some(id) = key.strip_prefix(prefix.as_bytes()) else {
                break;
            };
            if let Some(id) = std::str::from_utf8(id).ok().and_then(|id| id.parse().ok()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Every unresolved entry of `client`, oldest first.
    pub fn unresolved(&self, client: &ClientCode) -> Result<Vec<QueueEntry>, OperationsError> {
        self.page(
            client,
            0,
            usize::MAX,
            QueueFilter {
                unresolved: true,
                ..QueueFilter::default()
            },
        )
    }

    // ---- escalation ----

    /// The client's escalation rules, if set.
    pub fn rules(&self, client: &ClientCode) -> Result<Option<StoredRules>, OperationsError> {
        self.get(&format!("e/{}", client.as_str()))
    }

    /// Replaces the client's escalation rules.
    pub fn put_rules(
        &self,
        client: &ClientCode,
        rules: &StoredRules,
    ) -> Result<(), OperationsError> {
        let key = format!("e/{}", client.as_str());
        self.tree.insert(key.as_bytes(), encode(&key, rules)?)?;
        self.flush()
    }

    /// Removes the client's escalation rules (nothing more is sent; pending deliveries stay in
    /// the log and are given up by the sweep).
    pub fn remove_rules(&self, client: &ClientCode) -> Result<bool, OperationsError> {
        let removed = self
            .tree
            .remove(format!("e/{}", client.as_str()).as_bytes())?
            .is_some();
        self.flush()?;
        Ok(removed)
    }

    /// Queues a delivery for entry `exception` and marks the entry as told (`reason`) in one
    /// transaction, so that a crash between the two neither loses the message nor sends it twice.
    /// Answers `None` when the entry was told already (another sweep got there first).
    pub fn queue_delivery(
        &self,
        client: &ClientCode,
        exception: u64,
        mut delivery: Delivery,
    ) -> Result<Option<Delivery>, OperationsError> {
        delivery.seq = self.next_id()?;
        let entry_key = id_key("q", client, exception);
        let key = id_key("d", client, delivery.seq);
        let bytes = encode(&key, &delivery)?;
        let queued = transact(&self.tree, |tx| {
            let stored = tx
                .get(entry_key.as_bytes())?
                .ok_or_else(|| abort(OperationsError::UnknownException(exception)))?;
            let mut entry: QueueEntry = decode(entry_key.as_bytes(), &stored).map_err(abort)?;
            let told = match delivery.reason {
                DeliveryReason::Raised => &mut entry.escalated,
                DeliveryReason::Overdue => &mut entry.reminded,
                // A report is of no exception: `queue_report_delivery` queues it.
                DeliveryReason::MonthlyReport => return Ok(false),
            };
            if *told {
                return Ok(false);
            }
            *told = true;
            tx.insert(
                entry_key.as_bytes(),
                encode(&entry_key, &entry).map_err(abort)?,
            )?;
            tx.insert(key.as_bytes(), bytes.as_slice())?;
            tx.insert(id_key("dp", client, delivery.seq).as_bytes(), &[] as &[u8])?;
            Ok(true)
        })?;
        if !queued {
            return Ok(None);
        }
        self.flush()?;
        Ok(Some(delivery))
    }

    /// Whether `month`'s report was queued for `client` already.
    pub fn report_queued(
        &self,
        client: &ClientCode,
        month: crate::report::Month,
    ) -> Result<bool, OperationsError> {
        Ok(self
            .tree
            .contains_key(format!("mr/{}/{month}", client.as_str()))?)
    }

    /// Queues the delivery of `month`'s report and marks the month as sent in one transaction,
    /// so that a crash between the two neither loses the report nor sends it twice. Answers
    /// `None` when it was queued already.
    pub fn queue_report_delivery(
        &self,
        client: &ClientCode,
        month: crate::report::Month,
        mut delivery: Delivery,
    ) -> Result<Option<Delivery>, OperationsError> {
        delivery.seq = self.next_id()?;
        let marker = format!("mr/{}/{month}", client.as_str());
        let key = id_key("d", client, delivery.seq);
        let bytes = encode(&key, &delivery)?;
        let queued = transact(&self.tree, |tx| {
            if tx.get(marker.as_bytes())?.is_some() {
                return Ok(false);
            }
            tx.insert(marker.as_bytes(), &[] as &[u8])?;
            tx.insert(key.as_bytes(), bytes.as_slice())?;
            tx.insert(id_key("dp", client, delivery.seq).as_bytes(), &[] as &[u8])?;
            Ok(true)
        })?;
        if !queued {
            return Ok(None);
        }
        self.flush()?;
        Ok(Some(delivery))
    }

    /// The pending deliveries of `client`, oldest first.
    pub fn pending_deliveries(
        &self,
        client: &ClientCode,
    ) -> Result<Vec<Delivery>, OperationsError> {
        let ids = self.scan_ids(&format!("dp/{}/", client.as_str()), 0)?;
        let mut found = Vec::with_capacity(ids.len());
        for seq in ids {
            if let Some(delivery) = self.get(&id_key("d", client, seq))? {
                found.push(delivery);
            }
        }
        Ok(found)
    }

    /// Stores a delivery after an attempt; a delivery no longer pending leaves the pending index.
    pub fn put_delivery(
        &self,
        client: &ClientCode,
        delivery: &Delivery,
    ) -> Result<(), OperationsError> {
        let key = id_key("d", client, delivery.seq);
        let bytes = encode(&key, delivery)?;
        let pending = id_key("dp", client, delivery.seq);
        transact(&self.tree, |tx| {
            tx.insert(key.as_bytes(), bytes.as_slice())?;
            if delivery.state != DeliveryState::Pending {
                tx.remove(pending.as_bytes())?;
            }
            Ok(())
        })?;
        self.flush()
    }

    /// The latest `limit` deliveries of `client`, newest first (the console's delivery log).
    pub fn latest_deliveries(
        &self,
        client: &ClientCode,
        limit: usize,
    ) -> Result<Vec<Delivery>, OperationsError> {
        let prefix = format!("d/{}/", client.as_str());
        self.tree
            .scan_prefix(prefix.as_bytes())
            .rev()
            .take(limit)
            .map(|item| {
                let (key, bytes) = item?;
                decode(&key, &bytes)
            })
            .collect()
    }

    /// A page of `client`'s delivery log after `after`, oldest first.
    pub fn deliveries(
        &self,
        client: &ClientCode,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Delivery>, OperationsError> {
        self.scan(&format!("d/{}/", client.as_str()), after, limit, |_| true)
    }

    // ---- audit ----

    /// Appends an entry to the client's log, or the agency's when `entry.client` is `None`; the
    /// sequence number is given here.
    pub fn audit(&self, mut entry: AuditEntry) -> Result<AuditEntry, OperationsError> {
        entry.seq = self.next_id()?;
        let key = match &entry.client {
            Some(client) => format!("a/{client}/{:020}", entry.seq),
            None => format!("g/{:020}", entry.seq),
        };
        self.tree.insert(key.as_bytes(), encode(&key, &entry)?)?;
        self.flush()?;
        Ok(entry)
    }

    /// A page of a client's audit log (`None`: the agency's) after `after`, oldest first.
    pub fn audit_page(
        &self,
        client: Option<&ClientCode>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, OperationsError> {
        let prefix = match client {
            Some(client) => format!("a/{}/", client.as_str()),
            None => "g/".to_string(),
        };
        self.scan(&prefix, after, limit, |_| true)
    }

    // ---- profile ----

    /// The client's profile, if written.
    pub fn profile(&self, client: &ClientCode) -> Result<Option<ClientProfile>, OperationsError> {
        self.get(&format!("p/{}", client.as_str()))
    }

    /// Replaces the client's profile.
    pub fn put_profile(
        &self,
        client: &ClientCode,
        profile: &ClientProfile,
    ) -> Result<(), OperationsError> {
        let key = format!("p/{}", client.as_str());
        self.tree.insert(key.as_bytes(), encode(&key, profile)?)?;
        self.flush()
    }
}

impl OperationsStore {
    // ---- checklists ----

    /// A checklist of `client`.
    pub fn checklist(
        &self,
        client: &ClientCode,
        id: &str,
    ) -> Result<Option<ChecklistRecord>, OperationsError> {
        self.get(&format!("k/{}/{id}", client.as_str()))
    }

    /// Every checklist of `client`, the launch checklist's stored record among them if it has one.
    pub fn checklists(&self, client: &ClientCode) -> Result<Vec<ChecklistRecord>, OperationsError> {
        let prefix = format!("k/{}/", client.as_str());
        self.tree
            .scan_prefix(prefix.as_bytes())
            .map(|item| {
                let (key, bytes) = item?;
                decode(&key, &bytes)
            })
            .collect()
    }

    /// Stores a checklist.
    pub fn put_checklist(
        &self,
        client: &ClientCode,
        record: &ChecklistRecord,
    ) -> Result<(), OperationsError> {
        let key = format!("k/{}/{}", client.as_str(), record.id);
        self.tree.insert(key.as_bytes(), encode(&key, record)?)?;
        self.flush()
    }

    /// A new checklist's id (a number, so it sorts after none in particular and never clashes
    /// with `launch`).
    pub fn new_checklist_id(&self) -> Result<String, OperationsError> {
        Ok(self.next_id()?.to_string())
    }

    /// The summary of `client`'s last catalog import.
    pub fn last_import(
        &self,
        client: &ClientCode,
    ) -> Result<Option<ImportSummary>, OperationsError> {
        self.get(&format!("ci/{}", client.as_str()))
    }

    /// Keeps the summary of a catalog import.
    pub fn put_import(
        &self,
        client: &ClientCode,
        summary: &ImportSummary,
    ) -> Result<(), OperationsError> {
        let key = format!("ci/{}", client.as_str());
        self.tree.insert(key.as_bytes(), encode(&key, summary)?)?;
        self.flush()
    }

    /// `client`'s last sync test.
    pub fn sync_test(&self, client: &ClientCode) -> Result<Option<SyncTest>, OperationsError> {
        self.get(&format!("st/{}", client.as_str()))
    }

    /// Stores `client`'s sync test (replacing the last one).
    pub fn put_sync_test(
        &self,
        client: &ClientCode,
        test: &SyncTest,
    ) -> Result<(), OperationsError> {
        let key = format!("st/{}", client.as_str());
        self.tree.insert(key.as_bytes(), encode(&key, test)?)?;
        self.flush()
    }

    /// A new sync test's id.
    pub fn new_sync_test_id(&self) -> Result<u64, OperationsError> {
        self.next_id()
    }

    // ---- throttled replies, by day (the monthly report) ----

    /// Adds `calls` throttled replies of `channel` on `day` to the client's tally. A channel's
    /// own counter starts again at 0 with each generation and each process; this tally is what
    /// the monthly report reads, so that a restart does not erase a month's throttling
    /// (`crate::report`).
    pub fn add_throttled(
        &self,
        client: &ClientCode,
        channel: &str,
        day: chrono::NaiveDate,
        calls: u64,
    ) -> Result<(), OperationsError> {
        if calls == 0 {
            return Ok(());
        }
        let key = format!(
            "th/{}/{}/{channel}",
            client.as_str(),
            day.format("%Y-%m-%d")
        );
        self.tree.update_and_fetch(key.as_bytes(), |old| {
            let before = old
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map_or(0, u64::from_be_bytes);
            Some(before.saturating_add(calls).to_be_bytes().to_vec())
        })?;
        self.flush()
    }

    /// The client's throttled replies by channel over the days `from..to`.
    pub fn throttled_between(
        &self,
        client: &ClientCode,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<std::collections::BTreeMap<String, u64>, OperationsError> {
        let prefix = format!("th/{}/", client.as_str());
        let start = format!("{prefix}{}", from.format("%Y-%m-%d"));
        let end = format!("{prefix}{}", to.format("%Y-%m-%d"));
        let mut tally = std::collections::BTreeMap::new();
        for item in self.tree.range(start.as_bytes()..end.as_bytes()) {
            let (key, value) = item?;
            let Some((_, channel)) = std::str::from_utf8(&key[prefix.len()..])
                .ok()
                .and_then(|rest| rest.split_once('/'))
            else {
                continue;
            };
            let calls = <[u8; 8]>::try_from(value.as_ref()).map_or(0, u64::from_be_bytes);
            *tally.entry(channel.to_string()).or_insert(0) += calls;
        }
        Ok(tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::queue::{Actor, QueueKind, Transition};
    use chrono::{DateTime, Utc};

    fn store() -> (tempfile::TempDir, OperationsStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        (dir, OperationsStore::open(&db).unwrap())
    }

    fn acme() -> ClientCode {
        ClientCode::parse("ACME").unwrap()
    }

    fn reorder(sku: &str) -> QueueEntry {
        let at: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        QueueEntry {
            id: 0,
            kind: QueueKind::Reorder,
            dedupe: format!("reorder:{sku}"),
            source: None,
            sku: Some(shelfsync_actors::ids::Sku::parse(sku).unwrap()),
            order_id: None,
            line: None,
            units: 10,
            detail: None,
            reason: None,
            key: None,
            ledger_id: None,
            journal_seq: None,
            first_seen: at,
            last_seen: at,
            count: 1,
            state: WorkState::Open,
            assignee: None,
            due_at: at,
            resolution: None,
            trail: Vec::new(),
            escalated: false,
            reminded: false,
        }
    }

    #[test]
    fn a_condition_that_holds_is_one_entry_until_it_clears() {
        let (_dir, store) = store();
        let (first, new) = store.raise(&acme(), reorder("ACME-MUG")).unwrap();
        assert!(new);
        let (again, new) = store.raise(&acme(), reorder("ACME-MUG")).unwrap();
        assert!(!new);
        assert_eq!((again.id, again.count), (first.id, 2));
        assert!(store.clear(&acme(), "reorder:ACME-MUG").unwrap());
        let (third, new) = store.raise(&acme(), reorder("ACME-MUG")).unwrap();
        assert!(new && third.id > first.id);
        assert_eq!(store.unresolved(&acme()).unwrap().len(), 2);
    }

    #[test]
    fn a_refused_transition_writes_nothing_and_resolved_entries_leave_the_unresolved_index() {
        let (_dir, store) = store();
        let (entry, _) = store.raise(&acme(), reorder("ACME-MUG")).unwrap();
        let who = Actor {
            id: "m1".into(),
            name: "Admin".into(),
        };
        let now = entry.first_seen;
        let refused = store.update(&acme(), entry.id, |e| {
            e.apply(Transition::Reopen, &who, None, now)
                .map_err(OperationsError::from)
        });
        assert!(matches!(refused, Err(OperationsError::Queue(_))));
        assert_eq!(store.entry(&acme(), entry.id).unwrap(), entry);
        store
            .update(&acme(), entry.id, |e| {
                e.apply(
                    Transition::Resolve {
                        resolution: crate::operations::queue::Resolution::Restocked,
                    },
                    &who,
                    None,
                    now,
                )
                .map_err(OperationsError::from)
            })
            .unwrap();
        assert!(store.unresolved(&acme()).unwrap().is_empty());
        assert_eq!(
            store
                .page(&acme(), 0, 10, QueueFilter::default())
                .unwrap()
                .len(),
            1
        );
        assert!(matches!(
            store.entry(&acme(), 999),
            Err(OperationsError::UnknownException(999))
        ));
    }

    #[test]
    fn a_delivery_is_queued_once_per_reason() {
        let (_dir, store) = store();
        let (entry, _) = store.raise(&acme(), reorder("ACME-MUG")).unwrap();
        let delivery = Delivery {
            seq: 0,
            id: "esc_ACME_1_raised".into(),
            exception_id: entry.id,
            kind: Some(entry.kind),
            month: None,
            reason: DeliveryReason::Raised,
            body: "{}".into(),
            created_at: entry.first_seen,
            attempts: 0,
            state: DeliveryState::Pending,
            next_attempt_at: entry.first_seen,
            last_status: None,
            last_error: None,
            delivered_at: None,
        };
        let queued = store
            .queue_delivery(&acme(), entry.id, delivery.clone())
            .unwrap()
            .unwrap();
        assert!(store
            .queue_delivery(&acme(), entry.id, delivery)
            .unwrap()
            .is_none());
        assert!(store.entry(&acme(), entry.id).unwrap().escalated);
        assert_eq!(store.pending_deliveries(&acme()).unwrap().len(), 1);
        let mut done = queued;
        done.state = DeliveryState::Delivered;
        store.put_delivery(&acme(), &done).unwrap();
        assert!(store.pending_deliveries(&acme()).unwrap().is_empty());
        assert_eq!(store.deliveries(&acme(), 0, 10).unwrap(), vec![done]);
    }
}
