//! Gathers what a monthly report is built from (`crate::report`): the client's whole journal up
//! to the month's end (its balances at the month's start are folded from it), the month's
//! listing history, the exception queue and the throttle tally.

use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::inventory::messages::{
    GetJournal, GetListingEventsBetween, MAX_JOURNAL_PAGE,
};

use super::{Service, ServiceError};
use crate::operations::store::QueueFilter;
use crate::report::{self, Month, MonthlyReport, ReportError, ReportInputs};

/// The most journal entries a report reads (a client's first years; a journal longer than this
/// is reported from its first entries, and the report says so in the log).
pub const MAX_REPORT_JOURNAL: usize = 5_000_000;

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

        let mut journal = Vec::new();
        let mut after = 0;
        loop {
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
            let past_end = last.at_ms >= to_ms;
            journal.extend(page);
            if !full || past_end {
                break;
            }
            if journal.len() >= MAX_REPORT_JOURNAL {
                tracing::warn!(client = %client, entries = journal.len(), "a monthly report read the most journal entries it reads; later ones are left out");
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
            journal,
            listing_events,
            queue,
            throttled,
        };
        Ok(report::build(month, &inputs, now))
    }
}
