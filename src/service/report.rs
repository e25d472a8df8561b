//! Gathers what a monthly report is built from (`crate::report`): the client's journal up to the
//! month's end (the entries before the month folded into each SKU's opening state, the month's
//! kept), the month's listing history, the exception queue and the throttle tally.

use std::collections::BTreeMap;

use shelfsync_actors::ids::{ClientCode, Sku};
use shelfsync_actors::inventory::messages::{
    GetJournal, GetListingEventsBetween, MAX_JOURNAL_PAGE,
};

use super::{Service, ServiceError};
use crate::operations::store::QueueFilter;
use crate::report::{self, Month, MonthlyReport, ReportError, ReportInputs, SkuState};

/// The most journal entries of one month a report holds (one movement every 1.3 s, day and
/// night, for 31 days); the month's later ones are left out, and the log says so.
pub const MAX_REPORT_ENTRIES: usize = 2_000_000;

impl Service {
    /// The report of `client` for `month`, as of now. A month that has not begun is refused.
    pub async fn monthly_report(
        &self,
        client: &ClientCode,
        month: Month,
    ) -> Result<MonthlyReport, ServiceError> {
        let now = self.now();
        if month.start() > now {
            return Err(ReportError::FutureMonth(month).into());
        }
        let record = self.clients().get(client)?.ok_or_else(|| {
            crate::clients::ClientStoreError::UnknownClient(client.as_str().to_string())
        })?;
        let to_ms = u64::try_from(month.end().min(now).timestamp_millis()).unwrap_or(0);
        let from_ms = u64::try_from(month.start().timestamp_millis()).unwrap_or(0);

        // The journal a page at a time: entries before the month fold into one state per SKU,
        // the month's are kept, the first entry past the report's end stops the read.
        let mut opening: BTreeMap<Sku, SkuState> = BTreeMap::new();
        let mut journal = Vec::new();
        let mut after = 0;
        'pages: loop {
            let page = self
                .ask_ledger(
                    client,
                    GetJournal {
                        sku: None,
                        after_seq: after,
                        limit: MAX_JOURNAL_PAGE,
                    },
                )
                .await?
                .map_err(ReportError::from)?;
            let full = page.len() == MAX_JOURNAL_PAGE;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in page {
                if entry.at_ms >= to_ms {
                    break 'pages;
                }
                if entry.at_ms < from_ms {
                    opening.entry(entry.sku.clone()).or_default().apply(&entry);
                } else if journal.len() < MAX_REPORT_ENTRIES {
                    journal.push(entry);
                } else {
                    tracing::warn!(client = %client, %month, entries = journal.len(), "a monthly report holds the most journal entries it holds; the month's later ones are left out");
                    break 'pages;
                }
            }
            if !full {
                break;
            }
        }
        let listing_events = self
            .ask_ledger(client, GetListingEventsBetween { from_ms, to_ms })
            .await?
            .map_err(ReportError::from)?;
        // What the ledger raised since the sweep last looked, so that the month's exceptions
        // are all there even between two passes.
        self.import_exceptions(client).await?;
        let queue = self
            .operations()
            .page(client, 0, usize::MAX, QueueFilter::default())?;
        let throttled = self.operations().throttled_between(
            client,
            month.first_day(),
            month.next().first_day(),
        )?;
        let channels = self
            .channels()
            .list(client)?
            .into_iter()
            .map(|record| (record.id, record.platform))
            .collect();
        let inputs = ReportInputs {
            client: record.code.clone(),
            client_name: record.name.clone(),
            tier: record.tier.as_str().to_string(),
            response_target: self.response_target(client)?,
            channels,
            opening,
            journal,
            listing_events,
            queue,
            throttled,
        };
        Ok(report::build(month, &inputs, now))
    }
}
