//! The console's overview (issue 16): one row per client the member may see, with what an
//! operator scans for first: is every channel syncing (or which waits, and why), exposure and
//! SKUs at risk, the oldest change not yet on a marketplace, exceptions to work and the oldest
//! past due, the launch checklist's progress, credentials due for rotation, the tier.
//!
//! Rows are plain data gathered from the engine's and the operations store's own state (never
//! from counters a restart resets); sorting and filtering are plain functions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use shelfsync_actors::channel::waiting::WaitReason;
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::ratelimit::ServiceTier;

use crate::auth::Member;
use crate::operations::checklist::{ItemState, LAUNCH_ID};
use crate::operations::rotation::{rotation, Rotation};
use crate::service::{Service, ServiceError};

/// How long a client's launch-checklist progress is reused (evaluating it reads the catalog and
/// every channel's listings; the overview of a hundred clients must not).
pub const PROGRESS_TTL: Duration = Duration::from_secs(30);

/// One channel's health, for a person.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelHealth {
    /// The channel's id.
    pub channel: String,
    /// `None` while it syncs; else why it does not.
    pub problem: Option<String>,
}

/// One row of the overview.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRow {
    /// The client's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its tier.
    pub tier: ServiceTier,
    /// Per channel, whether it syncs.
    pub channels: Vec<ChannelHealth>,
    /// Units listed above the ledger now, over every channel.
    pub exposure_units: u64,
    /// SKUs whose listing may show more than is available, over every channel.
    pub skus_at_risk: usize,
    /// Age of the oldest change not yet on a marketplace, in seconds.
    pub oldest_pending_seconds: f64,
    /// Exceptions to work (open or acknowledged).
    pub open_exceptions: usize,
    /// How far past due the oldest of them is, in seconds (0: none is).
    pub oldest_past_due_seconds: f64,
    /// Launch checklist items done, and in all.
    pub launch_done: usize,
    /// Launch checklist items in all.
    pub launch_total: usize,
    /// Credentials past or near their rotate-by date.
    pub credentials_due: usize,
}

impl ClientRow {
    /// Whether every channel syncs.
    pub fn healthy(&self) -> bool {
        self.channels
            .iter()
            .all(|channel| channel.problem.is_none())
    }
}

/// Launch progress kept between overviews.
#[derive(Debug, Default)]
pub struct ProgressCache {
    by_client: Mutex<HashMap<String, (Instant, usize, usize)>>,
}

/// How a channel's live state reads to a person; `None` while it syncs.
pub fn channel_problem(
    state: Option<&shelfsync_actors::channel::messages::ChannelState>,
) -> Option<String> {
    let Some(state) = state else {
        return Some("not running".into());
    };
    if let Some(failure) = state.contact.failing() {
        return Some(format!(
            "failing: {} refused ({})",
            failure.operation.as_str(),
            failure.message
        ));
    }
    match state.waiting.as_ref() {
        Some(wait)
            if state.queue.pending > 0
                && !matches!(wait.reason, WaitReason::InFlight | WaitReason::Interval) =>
        {
            Some(format!("waiting: {}", wait.reason.as_str()))
        }
        _ => None,
    }
}

/// The overview rows of every client `member` may see, at `now`.
pub async fn rows(
    service: &Service,
    member: &Member,
    progress: &ProgressCache,
    now: DateTime<Utc>,
) -> Result<Vec<ClientRow>, ServiceError> {
    use futures_util::{StreamExt as _, TryStreamExt as _};

    let visible: Vec<_> = service
        .clients()
        .list()?
        .into_iter()
        .filter(|record| member.sees(&record.code))
        .filter_map(|record| Some((ClientCode::parse(&record.code).ok()?, record)))
        .collect();
    // A few clients at once: each row waits on its own client's actors, so an agency of many
    // clients is not the sum of their round trips (bench/RESULTS.md, "console"). The order of
    // the list is kept.
    futures_util::stream::iter(visible)
        .map(|(code, record)| row_of(service, code, record, progress, now))
        .buffered(ROWS_AT_ONCE)
        .try_collect()
        .await
}

/// Clients whose rows are gathered at once.
const ROWS_AT_ONCE: usize = 8;

async fn row_of(
    service: &Service,
    code: ClientCode,
    record: crate::clients::ClientRecord,
    progress: &ProgressCache,
    now: DateTime<Utc>,
) -> Result<ClientRow, ServiceError> {
    let mut row = ClientRow {
        code: record.code.clone(),
        name: record.name.clone(),
        tier: record.tier,
        channels: Vec::new(),
        exposure_units: 0,
        skus_at_risk: 0,
        oldest_pending_seconds: 0.0,
        open_exceptions: 0,
        oldest_past_due_seconds: 0.0,
        launch_done: 0,
        launch_total: 0,
        credentials_due: 0,
    };
    for channel in service.channels().list(&code)? {
        let state = service.channel_state(&code, &channel.id).await?;
        if let Some(state) = &state {
            row.exposure_units += state.queue.exposure_units;
            row.skus_at_risk += state.queue.skus_at_risk;
            let pending = state.queue.oldest_pending_ms.unwrap_or(0) as f64 / 1000.0;
            row.oldest_pending_seconds = row.oldest_pending_seconds.max(pending);
        }
        row.channels.push(ChannelHealth {
            channel: channel.id.to_string(),
            problem: channel_problem(state.as_ref()),
        });
    }
    service.import_exceptions(&code).await?;
    let unresolved = service.operations().unresolved(&code)?;
    row.open_exceptions = unresolved.len();
    row.oldest_past_due_seconds = unresolved
        .iter()
        .filter(|entry| entry.overdue(now))
        .map(|entry| (now - entry.due_at).num_milliseconds() as f64 / 1000.0)
        .fold(0.0, f64::max);
    row.credentials_due = service
        .clients()
        .credentials(&code)?
        .iter()
        .filter(|credential| {
            matches!(
                rotation(credential.rotate_by, now),
                Rotation::DueSoon | Rotation::Overdue
            )
        })
        .count();
    (row.launch_done, row.launch_total) = launch_progress(service, &code, progress).await?;
    Ok(row)
}

/// The launch checklist's progress of `code` (done, in all), from the cache while fresh.
pub async fn launch_progress(
    service: &Service,
    code: &ClientCode,
    progress: &ProgressCache,
) -> Result<(usize, usize), ServiceError> {
    let now = Instant::now();
    if let Some((at, done, total)) = progress
        .by_client
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(code.as_str())
    {
        if now.duration_since(*at) < PROGRESS_TTL {
            return Ok((*done, *total));
        }
    }
    let checklists = service.checklists(code).await?;
    let (done, total) = checklists
        .iter()
        .find(|checklist| checklist.record.id == LAUNCH_ID)
        .map_or((0, 0), |launch| {
            let done = launch
                .items
                .iter()
                .filter(|item| item.state == ItemState::Done)
                .count();
            (done, launch.items.len())
        });
    progress
        .by_client
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(code.as_str().to_string(), (now, done, total));
    Ok((done, total))
}

/// What the overview sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Client code (the default).
    Code,
    /// Most exposure first.
    Exposure,
    /// Most exceptions first.
    Exceptions,
    /// Oldest pending change first.
    Pending,
    /// Unhealthy first.
    Health,
    /// Least launched first.
    Launch,
}

impl SortKey {
    /// Every key, in the table's column order.
    pub const ALL: [SortKey; 6] = [
        SortKey::Code,
        SortKey::Health,
        SortKey::Exposure,
        SortKey::Pending,
        SortKey::Exceptions,
        SortKey::Launch,
    ];

    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Code => "code",
            SortKey::Exposure => "exposure",
            SortKey::Exceptions => "exceptions",
            SortKey::Pending => "pending",
            SortKey::Health => "health",
            SortKey::Launch => "launch",
        }
    }
}

/// Sorts `rows` by `key` (ties by code), and keeps those whose code or name contains `filter`
/// (case-insensitive).
pub fn arrange(mut rows: Vec<ClientRow>, key: SortKey, filter: &str) -> Vec<ClientRow> {
    let filter = filter.trim().to_lowercase();
    if !filter.is_empty() {
        rows.retain(|row| {
            row.code.to_lowercase().contains(&filter) || row.name.to_lowercase().contains(&filter)
        });
    }
    rows.sort_by(|a, b| {
        let by = match key {
            SortKey::Code => std::cmp::Ordering::Equal,
            SortKey::Exposure => b.exposure_units.cmp(&a.exposure_units),
            SortKey::Exceptions => b.open_exceptions.cmp(&a.open_exceptions),
            SortKey::Pending => b
                .oldest_pending_seconds
                .total_cmp(&a.oldest_pending_seconds),
            SortKey::Health => a.healthy().cmp(&b.healthy()),
            SortKey::Launch => (a.launch_done * b.launch_total.max(1))
                .cmp(&(b.launch_done * a.launch_total.max(1))),
        };
        by.then_with(|| a.code.cmp(&b.code))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, exceptions: usize, healthy: bool) -> ClientRow {
        ClientRow {
            code: code.into(),
            name: format!("{code} Ltd"),
            tier: ServiceTier::Standard,
            channels: vec![ChannelHealth {
                channel: "shop".into(),
                problem: (!healthy).then(|| "not running".to_string()),
            }],
            exposure_units: 0,
            skus_at_risk: 0,
            oldest_pending_seconds: 0.0,
            open_exceptions: exceptions,
            oldest_past_due_seconds: 0.0,
            launch_done: 0,
            launch_total: 7,
            credentials_due: 0,
        }
    }

    #[test]
    fn rows_sort_by_the_chosen_column_and_filter_by_code_or_name() {
        let rows = vec![
            row("BOLT", 1, true),
            row("ACME", 5, true),
            row("CORA", 0, false),
        ];
        let codes = |rows: &[ClientRow]| rows.iter().map(|r| r.code.clone()).collect::<Vec<_>>();
        assert_eq!(
            codes(&arrange(rows.clone(), SortKey::Code, "")),
            ["ACME", "BOLT", "CORA"]
        );
        assert_eq!(
            codes(&arrange(rows.clone(), SortKey::Exceptions, "")),
            ["ACME", "BOLT", "CORA"]
        );
        assert_eq!(
            codes(&arrange(rows.clone(), SortKey::Health, "")),
            ["CORA", "ACME", "BOLT"]
        );
        assert_eq!(codes(&arrange(rows, SortKey::Code, "bolt l")), ["BOLT"]);
    }
}
