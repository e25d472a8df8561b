//! The service's side of checklists and the sync test (`crate::operations::checklist`,
//! `crate::operations::sync_test`): it gathers the evidence (channels' live state, credentials,
//! catalog, exceptions), evaluates each checklist and keeps what was seen, and drives the sync
//! test (its movements go through the ledger like any other; its observations come from the
//! listing history).

use std::collections::{BTreeMap, BTreeSet};

use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::inventory::history::{ListingWhat, MAX_HISTORY_PAGE};
use shelfsync_actors::inventory::ledger::{Change, IdempotencyKey, Movement, MovementKind, Source};
use shelfsync_actors::inventory::messages::{GetListingHistory, GetStockPage, MAX_STOCK_PAGE};

use super::{Service, ServiceError};
use crate::operations::checklist::{
    evaluate, items, CatalogEvidence, ChannelEvidence, ChecklistRecord, Evidence, ItemStatus,
    Template, LAUNCH_ID,
};
use crate::operations::queue::QueueKind;
use crate::operations::rotation::{rotation, Rotation};
use crate::operations::sync_test::{Confirmation, Step, SyncPhase, SyncTest, SYNC_TEST_TIMEOUT};
use crate::timestamp::from_unix_ms;

/// How many SKUs listed nowhere a checklist names (the count is whole).
const NAMED_SKUS: usize = 5;

/// Why a sync test cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SyncTestError {
    /// One is running.
    #[error("a sync test is running (on {0}); wait for it to finish")]
    Running(Sku),
    /// The client has no channel.
    #[error("the client has no channel to test")]
    NoChannel,
    /// No SKU fits: in stock and listed on every channel.
    #[error("{0}")]
    NoSku(String),
}

/// A checklist evaluated now.
#[derive(Debug, Clone)]
pub struct EvaluatedChecklist {
    /// What is stored of it.
    pub record: ChecklistRecord,
    /// Its items.
    pub items: Vec<ItemStatus>,
}

impl Service {
    /// What the checks read for `client`, now.
    pub async fn checklist_evidence(&self, client: &ClientCode) -> Result<Evidence, ServiceError> {
        let now = self.now();
        let stored: BTreeSet<String> = self
            .clients()
            .credentials(client)?
            .into_iter()
            .map(|credential| credential.name)
            .collect();
        let mut channels = Vec::new();
        let mut listed: BTreeSet<Sku> = BTreeSet::new();
        for record in self.channels().list(client)? {
            let live = self.channel_state(client, &record.id).await?;
            if let Some(listings) = self.channel_listings(client, &record.id, None).await? {
                listed.extend(listings.into_iter().map(|listing| listing.sku));
            }
            let contact = live.as_ref().map(|state| state.contact.clone());
            let failing = contact.as_ref().and_then(|c| c.failing().cloned());
            channels.push(ChannelEvidence {
                credential_stored: record
                    .credential_names()
                    .iter()
                    .all(|name| stored.contains(name)),
                running: live.is_some(),
                last_read: contact
                    .as_ref()
                    .and_then(|c| c.last_read_ok_ms)
                    .map(from_unix_ms),
                credential_refused: failing.as_ref().is_some_and(|f| {
                    f.class
                        == shelfsync_actors::channel::contact::FailureClass::Permanent(
                            shelfsync_actors::platform::PermanentKind::Auth,
                        )
                }),
                failing: failing
                    .map(|f| format!("{} refused: {}", f.operation.as_str(), f.message)),
                notifications_configured: record.webhook_credential.is_some(),
                last_notification: self.last_notification(client, &record.id),
                id: record.id,
                platform: record.platform,
                credential: record.credential,
            });
        }
        let mut catalog = CatalogEvidence {
            last_import: self.operations().last_import(client)?,
            ..CatalogEvidence::default()
        };
        let mut after = None;
        loop {
            let page = self
                .ask_ledger(
                    client,
                    GetStockPage {
                        after: after.clone(),
                        limit: MAX_STOCK_PAGE,
                    },
                )
                .await?
                .map_err(|error| ServiceError::Unavailable(format!("the ledger ({error})")))?;
            let full = page.len() >= MAX_STOCK_PAGE;
            after = page.last().map(|level| level.sku.clone());
            for level in page {
                catalog.skus += 1;
                if !listed.contains(&level.sku) {
                    catalog.listed_nowhere_count += 1;
                    if catalog.listed_nowhere.len() < NAMED_SKUS {
                        catalog.listed_nowhere.push(level.sku);
                    }
                }
            }
            if !full {
                break;
            }
        }
        let rotation_due = self
            .clients()
            .credentials(client)?
            .into_iter()
            .filter(|credential| {
                matches!(
                    rotation(credential.rotate_by, now),
                    Rotation::DueSoon | Rotation::Overdue
                )
            })
            .map(|credential| credential.name)
            .collect();
        let unresolved = self.operations().unresolved(client)?;
        Ok(Evidence {
            channels,
            catalog,
            sync_test: self.operations().sync_test(client)?,
            rotation_due,
            overdue_exceptions: unresolved.iter().filter(|e| e.overdue(now)).count(),
            open_reorders: unresolved
                .iter()
                .filter(|e| e.kind == QueueKind::Reorder)
                .count(),
        })
    }

    /// Every checklist of `client` evaluated now, the launch checklist first; what was seen for
    /// the first time is stored.
    pub async fn checklists(
        &self,
        client: &ClientCode,
    ) -> Result<Vec<EvaluatedChecklist>, ServiceError> {
        self.advance_sync_test(client).await?;
        let evidence = self.checklist_evidence(client).await?;
        let store = self.operations();
        let mut records = store.checklists(client)?;
        if !records.iter().any(|record| record.id == LAUNCH_ID) {
            let created = self
                .clients()
                .get(client)?
                .map_or_else(|| self.now(), |record| record.created_at);
            records.push(ChecklistRecord::new(
                LAUNCH_ID.into(),
                Template::Launch,
                created,
                "service".into(),
            ));
        }
        // The launch checklist first, then by creation.
        records.sort_by_key(|record| (record.id != LAUNCH_ID, record.created_at));
        let now = self.now();
        let mut evaluated = Vec::with_capacity(records.len());
        for mut record in records {
            let defs = items(record.template, &evidence.channels);
            let (items, changed) = evaluate(&mut record, &defs, &evidence, now);
            if changed {
                store.put_checklist(client, &record)?;
            }
            evaluated.push(EvaluatedChecklist { record, items });
        }
        Ok(evaluated)
    }

    /// Starts the end-to-end sync test on `sku` (or the first SKU in stock that every channel
    /// lists): one unit is taken away now, and given back once every channel showed it.
    pub async fn start_sync_test(
        &self,
        client: &ClientCode,
        sku: Option<Sku>,
        member: &str,
        member_name: &str,
    ) -> Result<Result<SyncTest, SyncTestError>, ServiceError> {
        if let Some(test) = self.operations().sync_test(client)? {
            if test.running() {
                return Ok(Err(SyncTestError::Running(test.sku)));
            }
        }
        let channels: Vec<ChannelId> = self
            .channels()
            .list(client)?
            .into_iter()
            .map(|record| record.id)
            .collect();
        if channels.is_empty() {
            return Ok(Err(SyncTestError::NoChannel));
        }
        // Per channel, the SKUs it lists.
        let mut listed: BTreeMap<ChannelId, BTreeSet<Sku>> = BTreeMap::new();
        for channel in &channels {
            let skus = self
                .channel_listings(client, channel, None)
                .await?
                .unwrap_or_default()
                .into_iter()
                .map(|listing| listing.sku)
                .collect();
            listed.insert(channel.clone(), skus);
        }
        let everywhere = |sku: &Sku| listed.values().all(|skus| skus.contains(sku));
        let mut chosen = None;
        let mut after = None;
        'pages: loop {
            let page = self
                .ask_ledger(
                    client,
                    GetStockPage {
                        after: after.clone(),
                        limit: MAX_STOCK_PAGE,
                    },
                )
                .await?
                .map_err(|error| ServiceError::Unavailable(format!("the ledger ({error})")))?;
            let full = page.len() >= MAX_STOCK_PAGE;
            after = page.last().map(|level| level.sku.clone());
            for level in page {
                let wanted = sku.as_ref().is_none_or(|wanted| *wanted == level.sku);
                if wanted && level.available >= 1 && everywhere(&level.sku) {
                    chosen = Some(level.sku);
                    break 'pages;
                }
            }
            if !full {
                break;
            }
        }
        let Some(chosen) = chosen else {
            return Ok(Err(SyncTestError::NoSku(match sku {
                Some(sku) => format!(
                    "{sku} cannot be tested: it needs at least 1 unit available and a listing on \
                     every channel"
                ),
                None => "no SKU has at least 1 unit available and a listing on every channel"
                    .to_string(),
            })));
        };
        let id = self.operations().new_sync_test_id()?;
        let seq = self.sync_test_movement(client, id, &chosen, -1).await?;
        let now = self.now();
        let test = SyncTest {
            id,
            sku: chosen,
            channels,
            started_by: member.to_string(),
            started_by_name: member_name.to_string(),
            started_at: now,
            phase: SyncPhase::Lowering,
            deadline: now + SYNC_TEST_TIMEOUT,
            lower_seq: seq,
            restore_seq: None,
            lowered_seen: BTreeMap::new(),
            restored_seen: BTreeMap::new(),
            history_cursor: BTreeMap::new(),
            finished_at: None,
            why: None,
        };
        self.operations().put_sync_test(client, &test)?;
        Ok(Ok(test))
    }

    /// One of the sync test's movements (an `adjustment` under its own idempotency key, so that
    /// a repeat after a crash applies it once); answers its journal entry.
    async fn sync_test_movement(
        &self,
        client: &ClientCode,
        id: u64,
        sku: &Sku,
        units: i64,
    ) -> Result<u64, ServiceError> {
        let half = if units < 0 { "change" } else { "undo" };
        let key = IdempotencyKey::parse(&format!("sync-test:{id}:{half}"))
            .map_err(|error| ServiceError::Unavailable(error.to_string()))?;
        let change = Change::new(MovementKind::Adjustment, units)
            .map_err(|error| ServiceError::Unavailable(error.to_string()))?;
        let movement = Movement {
            key,
            source: Source::Api,
            sku: sku.clone(),
            change,
            order: None,
        };
        let outcome = self
            .apply_movements(client, vec![movement])
            .await?
            .map_err(|error| ServiceError::Unavailable(format!("the ledger ({error})")))?;
        outcome
            .results
            .first()
            .map(|result| result.seq)
            .ok_or_else(|| ServiceError::Unavailable("the ledger answered no result".into()))
    }

    /// Moves `client`'s running sync test on: reads what each channel confirmed since, makes the
    /// undo when due, finishes it. Called by the sweep and before checklists are shown.
    pub async fn advance_sync_test(&self, client: &ClientCode) -> Result<(), ServiceError> {
        let Some(mut test) = self.operations().sync_test(client)? else {
            return Ok(());
        };
        if !test.running() {
            return Ok(());
        }
        let before = test.clone();
        for channel in test.channels.clone() {
            let mut after_id = test.history_cursor.get(&channel).copied().unwrap_or(0);
            loop {
                let events = self
                    .ask_ledger(
                        client,
                        GetListingHistory {
                            channel: channel.clone(),
                            sku: test.sku.clone(),
                            after_id,
                            limit: MAX_HISTORY_PAGE,
                        },
                    )
                    .await?
                    .map_err(|error| ServiceError::Unavailable(format!("the ledger ({error})")))?;
                let full = events.len() >= MAX_HISTORY_PAGE;
                let confirmations: Vec<Confirmation> = events
                    .iter()
                    .filter_map(|recorded| match recorded.event.what {
                        ListingWhat::Confirmed { ledger_seq, .. } => Some(Confirmation {
                            channel: channel.clone(),
                            ledger_seq,
                            at: from_unix_ms(recorded.event.at_ms),
                        }),
                        _ => None,
                    })
                    .collect();
                // The undo is made only once every channel showed the change, so its
                // confirmations always come after the cursor of this phase.
                test.observe(&confirmations);
                if let Some(last) = events.last() {
                    after_id = last.id;
                }
                if !full {
                    break;
                }
            }
            test.history_cursor.insert(channel, after_id);
        }
        let now = self.now();
        if test.step(now) == Step::Restore {
            let seq = self
                .sync_test_movement(client, test.id, &test.sku, 1)
                .await?;
            test.restoring(seq, now);
        }
        if test != before {
            self.operations().put_sync_test(client, &test)?;
        }
        Ok(())
    }
}
