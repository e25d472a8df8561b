//! The engine side of replenishment: a client's reorder settings assessed against its ledger
//! (`crate::replenishment` holds the rules). The API's reorder list and the engine's alerts
//! both come from [`Service::reorder_lines`].

use chrono::{DateTime, Duration as Days, Utc};
use shelfsync_actors::ids::{ClientCode, Sku};
use shelfsync_actors::inventory::ledger::JournalEntry;
use shelfsync_actors::inventory::messages::{GetJournal, GetStock, MAX_JOURNAL_PAGE};

use super::{Service, ServiceError};
use crate::replenishment::store::ReorderStore;
use crate::replenishment::{
    assess, ReorderLine, ReorderSettings, ReplenishmentError, SalesHistory, LONG_WINDOW_DAYS,
};

/// How many SKUs with settings [`Service::reorder_alerts`] assesses per round of ledger reads:
/// one balance read covers them all, so a client's whole list costs few reads of its stock.
const ALERT_PAGE: usize = 1_000;

impl Service {
    /// The reorder settings of every client.
    pub fn reorders(&self) -> &ReorderStore {
        &self.reorders
    }

    /// The reorder lines of `skus` (each with its settings) at the service's time, in the given
    /// order: their balances in one ledger read, then each SKU's recent journal.
    pub async fn reorder_lines(
        &self,
        client: &ClientCode,
        skus: Vec<(Sku, Option<ReorderSettings>)>,
    ) -> Result<Vec<ReorderLine>, ServiceError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let wanted = skus.iter().map(|(sku, _)| sku.clone()).collect();
        let levels = self
            .ask_ledger(client, GetStock { skus: Some(wanted) })
            .await?
            .map_err(ReplenishmentError::from)?;
        let mut lines = Vec::with_capacity(skus.len());
        for ((sku, settings), level) in skus.into_iter().zip(levels) {
            let since = now - Days::days(LONG_WINDOW_DAYS.into());
            let history = self
                .sales_history(client, &sku, level.last_seq, since)
                .await?;
            let assessment = assess(&history, level.available, settings.as_ref(), now);
            lines.push(ReorderLine::new(
                sku,
                settings,
                level.available,
                &assessment,
            ));
        }
        Ok(lines)
    }

    /// Every SKU of `client` whose reorder alert is raised now, in SKU order: what the engine
    /// turns into notifications (exceptions and their escalation are the operations module's).
    pub async fn reorder_alerts(
        &self,
        client: &ClientCode,
    ) -> Result<Vec<ReorderLine>, ServiceError> {
        let mut alerting = Vec::new();
        let mut after: Option<Sku> = None;
        loop {
            let page = self
                .reorders
                .page(client, after.as_ref(), ALERT_PAGE)
                .map_err(ServiceError::from)?;
            let Some((last, _)) = page.last() else {
                return Ok(alerting);
            };
            after = Some(last.clone());
            let full = page.len() == ALERT_PAGE;
            let skus = page
                .into_iter()
                .map(|(sku, settings)| (sku, Some(settings)))
                .collect();
            let lines = self.reorder_lines(client, skus).await?;
            alerting.extend(lines.into_iter().filter(|line| line.alert));
            if !full {
                return Ok(alerting);
            }
        }
    }

    /// The journal of `sku` from `since` on, with the time of its first entry ever. The journal is
    /// indexed by SKU and sequence, not by time: the first entry at or after `since` is found by a
    /// binary search over sequence numbers (a point read each), which relies on entries being
    /// stamped in sequence order — a round stamps all its entries with one reading of the clock
    /// and rounds run one after another; a system clock stepped back moves the window's edge by
    /// the step, nothing more. So a SKU with years of history costs a few dozen point reads and
    /// its last 28 days, never its whole journal.
    async fn sales_history(
        &self,
        client: &ClientCode,
        sku: &Sku,
        last_seq: u64,
        since: DateTime<Utc>,
    ) -> Result<SalesHistory, ServiceError> {
        let Some(first) = self.journal_after(client, sku, 0, 1).await?.pop() else {
            return Ok(SalesHistory::default());
        };
        let since_ms = u64::try_from(since.timestamp_millis()).unwrap_or(0);
        let first_movement = DateTime::from_timestamp_millis(first.at_ms as i64);
        let mut after = 0;
        if first.at_ms < since_ms {
            // Invariant: the entry following `older` is older than `since`; none following
            // `newer` is.
            let (mut older, mut newer) = (first.seq - 1, last_seq.max(first.seq));
            while newer - older > 1 {
                let middle = older + (newer - older) / 2;
                let next = self.journal_after(client, sku, middle, 1).await?;
                match next.first() {
                    Some(entry) if entry.at_ms < since_ms => older = middle,
                    _ => newer = middle,
                }
            }
            after = newer;
        }
        let mut entries = Vec::new();
        loop {
            let page = self
                .journal_after(client, sku, after, MAX_JOURNAL_PAGE)
                .await?;
            let full = page.len() == MAX_JOURNAL_PAGE;
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            entries.extend(page);
            if !full {
                break;
            }
        }
        Ok(SalesHistory {
            first_movement,
            entries,
        })
    }

    /// At most `limit` journal entries of `sku` after sequence number `after`.
    pub(crate) async fn journal_after(
        &self,
        client: &ClientCode,
        sku: &Sku,
        after: u64,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, ServiceError> {
        let query = GetJournal {
            sku: Some(sku.clone()),
            after_seq: after,
            limit,
        };
        Ok(self
            .ask_ledger(client, query)
            .await?
            .map_err(ReplenishmentError::from)?)
    }
}
