//! The monthly client report (issue 16): what the agency did for one client in one calendar month
//! (UTC), built from what the service keeps for good — the ledger's journal, the listing history
//! and the exception queue, plus the daily tally of throttled replies the operations sweep writes
//! (`OperationsStore::add_throttled`) — never from in-memory counters that a restart resets.
//!
//! [`build`] is a plain function over those records, tested without the service; the service
//! gathers them (`service/report.rs`), the API answers the report as JSON and as a PDF
//! ([`pdf`]), the console as a page with its charts.
//!
//! # What each figure is
//!
//! - **Orders and units per channel**: the journal's sales in the month by source; an order is a
//!   distinct marketplace order id (a sale through the API has none: each is counted as one).
//!   Cancelled and refunded-restocked units by the same source.
//! - **Inventory movements**: receipts, adjustments (in, out, net), counts (the net change of
//!   on-hand they made) and units shipped, whatever their source (a catalog import's counts are
//!   counts).
//! - **Oversells and their causes**: every sale in the month the journal flags oversold. Its
//!   cause is the last movement before it that lowered the SKU's availability: a sale on another
//!   channel (`sold_elsewhere`: the race the sync exists to close), an earlier sale on the same
//!   channel (`same_channel`: its listing showed more than was left), a downward adjustment or
//!   count (`stock_corrected`), or nothing (`never_in_stock`).
//! - **Exceptions**: raised in the month (first seen), resolved in the month, their time to
//!   resolve against the response target each was due by, open at the month's end; by kind.
//! - **Sync health per platform**: the lag from a ledger change to the marketplace confirming the
//!   quantity computed from it (first confirmation of each change per listing; p50, p90, p99),
//!   pushes refused for good, read-backs that found drift and corrected it, throttled replies.
//! - **Stock**: each SKU's stock-outs (available falling from above 0 to 0 or below), the SKUs out
//!   of stock at the month's end, the reorder alerts raised in the month.
//!
//! A month not over yet is reported up to the moment of the request (`complete: false`).

pub mod charts;
pub mod pdf;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::{ChannelId, Sku};
use shelfsync_actors::inventory::history::{ListingEvent, ListingWhat};
use shelfsync_actors::inventory::ledger::{Change, JournalEntry, MovementKind, Source};
use shelfsync_actors::platform::Platform;
use utoipa::ToSchema;

use crate::operations::queue::{QueueEntry, QueueKind};
use crate::timestamp::{from_unix_ms, rfc3339};

/// Why a month cannot be reported.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReportError {
    /// Not a month (`YYYY-MM`, year 2000 to 9999).
    #[error("month must be YYYY-MM (year 2000 to 9999, month 01 to 12), not {0:?}")]
    InvalidMonth(String),
    /// A month that has not begun.
    #[error("{0} has not begun: there is nothing to report yet")]
    FutureMonth(Month),
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] shelfsync_actors::inventory::InventoryError),
}

/// A calendar month, in UTC; written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// Parses `YYYY-MM` (year 2000 to 9999).
    pub fn parse(text: &str) -> Result<Month, ReportError> {
        let invalid = || ReportError::InvalidMonth(text.chars().take(20).collect());
        let (year, month) = text.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4
            || month.len() != 2
            || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u32 = month.parse().map_err(|_| invalid())?;
        if !(2000..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(invalid());
        }
        Ok(Month { year, month })
    }

    /// The month `time` falls in.
    pub fn of(time: DateTime<Utc>) -> Month {
        Month {
            year: time.year(),
            month: time.month(),
        }
    }

    /// The month before.
    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month after.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .expect("a parsed month's first day exists")
    }

    /// Its first instant.
    pub fn start(self) -> DateTime<Utc> {
        Utc.from_utc_datetime(
            &self
                .first_day()
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists"),
        )
    }

    /// The first instant after it.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    /// Its days.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        let end = self.next().first_day();
        self.first_day()
            .iter_days()
            .take_while(move |day| *day < end)
    }
}

impl TryFrom<String> for Month {
    type Error = ReportError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Month::parse(&text)
    }
}

impl From<Month> for String {
    fn from(month: Month) -> String {
        month.to_string()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

fn millis(time: DateTime<Utc>) -> u64 {
    u64::try_from(time.timestamp_millis()).unwrap_or(0)
}

/// What [`build`] reads.
#[derive(Debug, Clone)]
pub struct ReportInputs {
    /// The client's code.
    pub client: String,
    /// Its name.
    pub client_name: String,
    /// Its tier's name.
    pub tier: String,
    /// The response target of its exceptions now (each exception keeps the due time it was
    /// raised with; this is shown as the target).
    pub response_target: chrono::Duration,
    /// The client's channels and their platforms.
    pub channels: Vec<(ChannelId, Platform)>,
    /// Each SKU as the month began ([`SkuState::apply`] over the entries before it).
    pub opening: BTreeMap<Sku, SkuState>,
    /// The journal entries of the month, in sequence order (entries before it may be given as
    /// well: they move the opening states and are not counted).
    pub journal: Vec<JournalEntry>,
    /// The listing-history events of the month.
    pub listing_events: Vec<ListingEvent>,
    /// The whole exception queue (resolved ones too).
    pub queue: Vec<QueueEntry>,
    /// Throttled replies in the month, by channel id.
    pub throttled: BTreeMap<String, u64>,
}

/// What a report needs of a SKU from before the month: its available stock and the last
/// movement that lowered it (for the cause of an oversell at the month's start). The service
/// folds the journal up to the month into these a page at a time, so a report holds the
/// month's entries and one state per SKU, never a client's whole history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkuState {
    /// `on_hand − reserved`.
    pub available: i64,
    /// The kind and source of the last movement that lowered `available`.
    pub lowered_by: Option<(MovementKind, Source)>,
}

impl SkuState {
    /// Moves the state by `entry`; answers the available stock before it.
    pub fn apply(&mut self, entry: &JournalEntry) -> i64 {
        let before = self.available;
        self.available = before
            .saturating_add(entry.on_hand_delta)
            .saturating_sub(entry.reserved_delta);
        if self.available < before {
            self.lowered_by = Some((entry.kind(), entry.source.clone()));
        }
        before
    }
}

/// Orders and units of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelSales {
    /// The channel id, or `api` / `import`.
    pub source: String,
    /// The channel's platform (`null` for `api` and `import`).
    pub platform: Option<String>,
    /// Distinct orders (a sale without an order id counts as one).
    pub orders: u64,
    /// Units sold.
    pub units: i64,
    /// Units of its sales cancelled.
    pub cancelled_units: i64,
    /// Units refunded and restocked.
    pub refunded_units: i64,
}

/// The sales section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SalesSection {
    /// By source, in source order.
    pub channels: Vec<ChannelSales>,
    /// Orders in all.
    pub orders: u64,
    /// Units sold in all.
    pub units: i64,
}

/// Stock movements by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MovementsSection {
    /// Receipts.
    pub receipts: u64,
    /// Units received.
    pub received_units: i64,
    /// Adjustments.
    pub adjustments: u64,
    /// Units added by adjustments.
    pub adjusted_in: i64,
    /// Units removed by adjustments (a positive number).
    pub adjusted_out: i64,
    /// Counts.
    pub counts: u64,
    /// The net change of on-hand the counts made.
    pub counted_delta: i64,
    /// Units shipped.
    pub shipped_units: i64,
}

/// Oversells with one cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OversellCause {
    /// `sold_elsewhere`, `same_channel`, `stock_corrected` or `never_in_stock`.
    pub cause: String,
    /// Oversold sales.
    pub sales: u64,
    /// Units sold beyond what was available.
    pub units: i64,
}

/// One oversold sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OversellLine {
    /// When (RFC 3339).
    pub at: String,
    /// The journal entry.
    pub seq: u64,
    pub sku: String,
    /// Where it was sold.
    pub source: String,
    /// Units beyond what was available.
    pub units: i64,
    /// Its cause (see [`OversellCause`]).
    pub cause: String,
}

/// The oversell section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OversellSection {
    /// Oversold sales.
    pub sales: u64,
    /// Units sold beyond what was available.
    pub units: i64,
    /// By cause (every cause, in a fixed order).
    pub causes: Vec<OversellCause>,
    /// The first 100 oversold sales.
    pub lines: Vec<OversellLine>,
}

/// Exceptions of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExceptionKindLine {
    pub kind: String,
    pub raised: u64,
    pub resolved: u64,
    /// Resolved by the time it was due.
    pub resolved_within_target: u64,
}

/// The exception section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExceptionSection {
    /// Raised in the month.
    pub raised: u64,
    /// Resolved in the month (whenever raised).
    pub resolved: u64,
    /// Of those, resolved by their due time.
    pub resolved_within_target: u64,
    /// Unresolved at the month's end (or now, for a month not over).
    pub open_at_end: u64,
    /// The client's response target, in hours.
    pub target_hours: f64,
    /// Median time to resolve, in hours (of those resolved in the month).
    pub median_hours_to_resolve: Option<f64>,
    /// 90th percentile time to resolve, in hours.
    pub p90_hours_to_resolve: Option<f64>,
    /// By kind (the kinds seen).
    pub kinds: Vec<ExceptionKindLine>,
}

/// Sync health of one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlatformSync {
    pub platform: String,
    /// Ledger changes whose quantity the marketplace confirmed.
    pub confirmed_changes: u64,
    /// Lag from the change to the confirmation, in milliseconds (nearest rank).
    pub lag_p50_ms: Option<u64>,
    pub lag_p90_ms: Option<u64>,
    pub lag_p99_ms: Option<u64>,
    /// Pushes the marketplace refused for good.
    pub refused: u64,
    /// Read-backs that found the marketplace showing another quantity (then corrected).
    pub drift_corrected: u64,
    /// Replies that throttled the channel.
    pub throttled: u64,
}

/// A stock-out of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockOut {
    pub sku: String,
    /// When available fell to 0 or below (RFC 3339).
    pub at: String,
    /// When it rose above 0 again, `null` if not in the month.
    pub back_at: Option<String>,
}

/// The stock section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockSection {
    /// Stock-outs that began in the month.
    pub stockouts: u64,
    /// The first 100 of them.
    pub lines: Vec<StockOut>,
    /// SKUs with 0 or less available at the month's end.
    pub out_of_stock_at_end: u64,
    /// Reorder alerts raised in the month.
    pub reorder_alerts: u64,
    /// Their SKUs.
    pub reorder_skus: Vec<String>,
}

/// One day of the month, for the charts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DayLine {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub units_sold: i64,
    pub units_received: i64,
    pub oversold_units: i64,
}

/// The monthly report of one client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonthlyReport {
    pub client: String,
    pub client_name: String,
    /// `YYYY-MM`.
    pub month: String,
    pub tier: String,
    /// The first instant reported (RFC 3339).
    pub from: String,
    /// The first instant not reported: the month's end, or the moment of the request.
    pub to: String,
    /// Whether the month was over when the report was made.
    pub complete: bool,
    pub generated_at: String,
    pub sales: SalesSection,
    pub movements: MovementsSection,
    pub oversells: OversellSection,
    pub exceptions: ExceptionSection,
    /// By platform, in platform order (the platforms the client sells on).
    pub sync: Vec<PlatformSync>,
    pub stock: StockSection,
    /// Every day of the month.
    pub days: Vec<DayLine>,
}

/// The oversell causes, in the order reports list them.
pub const OVERSELL_CAUSES: [&str; 4] = [
    "sold_elsewhere",
    "same_channel",
    "stock_corrected",
    "never_in_stock",
];

/// The most oversold sales and stock-outs a report lists one by one.
pub const MAX_LINES: usize = 100;

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn hours(duration: chrono::Duration) -> f64 {
    duration.num_milliseconds() as f64 / 3_600_000.0
}

/// Builds the report of `month` at `now` from `inputs` (see the module doc for each figure).
pub fn build(month: Month, inputs: &ReportInputs, now: DateTime<Utc>) -> MonthlyReport {
    let from = month.start();
    let to = month.end().min(now);
    let (from_ms, to_ms) = (millis(from), millis(to));
    let in_month = |at_ms: u64| (from_ms..to_ms).contains(&at_ms);
    let platform_of: BTreeMap<&ChannelId, Platform> =
        inputs.channels.iter().map(|(id, p)| (id, *p)).collect();

    // Days, for the charts.
    let mut days: BTreeMap<NaiveDate, DayLine> = month
        .days()
        .map(|day| {
            (
                day,
                DayLine {
                    day: day.format("%Y-%m-%d").to_string(),
                    units_sold: 0,
                    units_received: 0,
                    oversold_units: 0,
                },
            )
        })
        .collect();

    // One pass over the journal: balances (for stock-outs), the last movement that lowered
    // each SKU's availability (for oversell causes), and the month's figures.
    let mut skus: BTreeMap<Sku, SkuState> = inputs.opening.clone();
    let mut out_since: BTreeMap<&Sku, usize> = BTreeMap::new();
    let mut sales: BTreeMap<String, (ChannelSales, BTreeSet<String>)> = BTreeMap::new();
    let mut movements = MovementsSection::default();
    let mut oversells = OversellSection {
        sales: 0,
        units: 0,
        causes: OVERSELL_CAUSES
            .iter()
            .map(|cause| OversellCause {
                cause: cause.to_string(),
                sales: 0,
                units: 0,
            })
            .collect(),
        lines: Vec::new(),
    };
    let mut stockouts: Vec<StockOut> = Vec::new();
    let mut stockout_count = 0u64;
    let mut change_at: BTreeMap<u64, u64> = BTreeMap::new();
    for entry in &inputs.journal {
        if entry.at_ms >= to_ms {
            break;
        }
        change_at.insert(entry.seq, entry.at_ms);
        let state = skus.entry(entry.sku.clone()).or_default();
        let lowered_by = state.lowered_by.clone();
        let before = state.apply(entry);
        let after = state.available;
        let counted = in_month(entry.at_ms);
        if counted {
            let day = from_unix_ms(entry.at_ms).date_naive();
            let source = entry.source.label().to_string();
            let line = || {
                (
                    ChannelSales {
                        source: source.clone(),
                        platform: match &entry.source {
                            Source::Channel(id) => {
                                platform_of.get(id).map(|p| p.as_str().to_string())
                            }
                            Source::Api | Source::Import => None,
                        },
                        orders: 0,
                        units: 0,
                        cancelled_units: 0,
                        refunded_units: 0,
                    },
                    BTreeSet::new(),
                )
            };
            match entry.change {
                Change::Sale(units) => {
                    let (line, orders) = sales.entry(source.clone()).or_insert_with(line);
                    line.units += units.get();
                    match &entry.order {
                        Some(order) => {
                            if orders.insert(order.order_id.clone()) {
                                line.orders += 1;
                            }
                        }
                        None => line.orders += 1,
                    }
                    if let Some(day) = days.get_mut(&day) {
                        day.units_sold += units.get();
                        day.oversold_units += entry.oversold_units;
                    }
                    if entry.oversold() {
                        let cause = match &lowered_by {
                            Some((MovementKind::Sale, by)) if *by == entry.source => "same_channel",
                            Some((MovementKind::Sale, _)) => "sold_elsewhere",
                            Some(_) => "stock_corrected",
                            None => "never_in_stock",
                        };
                        oversells.sales += 1;
                        oversells.units += entry.oversold_units;
                        if let Some(line) = oversells.causes.iter_mut().find(|c| c.cause == cause) {
                            line.sales += 1;
                            line.units += entry.oversold_units;
                        }
                        if oversells.lines.len() < MAX_LINES {
                            oversells.lines.push(OversellLine {
                                at: rfc3339(from_unix_ms(entry.at_ms)),
                                seq: entry.seq,
                                sku: entry.sku.to_string(),
                                source: source.clone(),
                                units: entry.oversold_units,
                                cause: cause.to_string(),
                            });
                        }
                    }
                }
                Change::Cancel(units) => {
                    sales
                        .entry(source.clone())
                        .or_insert_with(line)
                        .0
                        .cancelled_units += units.get();
                }
                Change::RefundRestock(units) => {
                    sales
                        .entry(source.clone())
                        .or_insert_with(line)
                        .0
                        .refunded_units += units.get();
                }
                Change::Ship(units) => movements.shipped_units += units.get(),
                Change::Receipt(units) => {
                    movements.receipts += 1;
                    movements.received_units += units.get();
                    if let Some(day) = days.get_mut(&day) {
                        day.units_received += units.get();
                    }
                }
                Change::Adjustment(delta) => {
                    movements.adjustments += 1;
                    if delta.get() > 0 {
                        movements.adjusted_in += delta.get();
                    } else {
                        movements.adjusted_out -= delta.get();
                    }
                }
                Change::Count(_) => {
                    movements.counts += 1;
                    movements.counted_delta += entry.on_hand_delta;
                }
            }
            // Stock-outs: available crossing from above 0 to 0 or below, and back.
            if before > 0 && after <= 0 {
                stockout_count += 1;
                if stockouts.len() < MAX_LINES {
                    out_since.insert(&entry.sku, stockouts.len());
                    stockouts.push(StockOut {
                        sku: entry.sku.to_string(),
                        at: rfc3339(from_unix_ms(entry.at_ms)),
                        back_at: None,
                    });
                }
            } else if before <= 0 && after > 0 {
                if let Some(index) = out_since.remove(&entry.sku) {
                    stockouts[index].back_at = Some(rfc3339(from_unix_ms(entry.at_ms)));
                }
            }
        }
    }

    let mut sales_lines: Vec<ChannelSales> = sales.into_values().map(|(line, _)| line).collect();
    sales_lines.sort_by(|a, b| a.source.cmp(&b.source));
    let sales = SalesSection {
        orders: sales_lines.iter().map(|line| line.orders).sum(),
        units: sales_lines.iter().map(|line| line.units).sum(),
        channels: sales_lines,
    };

    // Sync health, by platform.
    let mut lags: BTreeMap<Platform, Vec<u64>> = BTreeMap::new();
    let mut sync: BTreeMap<Platform, PlatformSync> = BTreeMap::new();
    let blank = |platform: Platform| PlatformSync {
        platform: platform.as_str().to_string(),
        confirmed_changes: 0,
        lag_p50_ms: None,
        lag_p90_ms: None,
        lag_p99_ms: None,
        refused: 0,
        drift_corrected: 0,
        throttled: 0,
    };
    for (_, platform) in &inputs.channels {
        sync.entry(*platform).or_insert_with(|| blank(*platform));
    }
    let mut confirmed_once: BTreeSet<(&ChannelId, &Sku, u64)> = BTreeSet::new();
    let mut events: Vec<&ListingEvent> = inputs
        .listing_events
        .iter()
        .filter(|event| in_month(event.at_ms))
        .collect();
    events.sort_by_key(|event| event.at_ms);
    for event in events {
        let Some(platform) = platform_of.get(&event.channel).copied() else {
            continue;
        };
        let line = sync.entry(platform).or_insert_with(|| blank(platform));
        match event.what {
            ListingWhat::Confirmed { ledger_seq, .. } => {
                if !confirmed_once.insert((&event.channel, &event.sku, ledger_seq)) {
                    continue;
                }
                if let Some(changed_at) = change_at.get(&ledger_seq) {
                    line.confirmed_changes += 1;
                    lags.entry(platform)
                        .or_default()
                        .push(event.at_ms.saturating_sub(*changed_at));
                }
            }
            ListingWhat::Refused { .. } => line.refused += 1,
            ListingWhat::Read { drift: true, .. } => line.drift_corrected += 1,
            ListingWhat::Read { drift: false, .. } | ListingWhat::Sent { .. } => {}
        }
    }
    for (channel, calls) in &inputs.throttled {
        let platform = inputs
            .channels
            .iter()
            .find(|(id, _)| id.as_str() == channel)
            .map(|(_, platform)| *platform);
        if let Some(platform) = platform {
            sync.entry(platform)
                .or_insert_with(|| blank(platform))
                .throttled += calls;
        }
    }
    for (platform, mut lags) in lags {
        lags.sort_unstable();
        if let Some(line) = sync.get_mut(&platform) {
            line.lag_p50_ms = percentile(&lags, 50.0);
            line.lag_p90_ms = percentile(&lags, 90.0);
            line.lag_p99_ms = percentile(&lags, 99.0);
        }
    }

    // Exceptions.
    let mut kinds: BTreeMap<QueueKind, ExceptionKindLine> = BTreeMap::new();
    let mut to_resolve: Vec<u64> = Vec::new();
    let mut exceptions = ExceptionSection {
        raised: 0,
        resolved: 0,
        resolved_within_target: 0,
        open_at_end: 0,
        target_hours: hours(inputs.response_target),
        median_hours_to_resolve: None,
        p90_hours_to_resolve: None,
        kinds: Vec::new(),
    };
    let mut reorder_skus = BTreeSet::new();
    for entry in &inputs.queue {
        let line = || ExceptionKindLine {
            kind: entry.kind.as_str().to_string(),
            raised: 0,
            resolved: 0,
            resolved_within_target: 0,
        };
        if entry.first_seen >= from && entry.first_seen < to {
            exceptions.raised += 1;
            kinds.entry(entry.kind).or_insert_with(line).raised += 1;
            if entry.kind == QueueKind::Reorder {
                if let Some(sku) = &entry.sku {
                    reorder_skus.insert(sku.to_string());
                }
            }
        }
        let resolved_at = entry.resolved_at();
        if let Some(at) = resolved_at.filter(|at| *at >= from && *at < to) {
            exceptions.resolved += 1;
            let kind = kinds.entry(entry.kind).or_insert_with(line);
            kind.resolved += 1;
            if at <= entry.due_at {
                exceptions.resolved_within_target += 1;
                kind.resolved_within_target += 1;
            }
            to_resolve.push(u64::try_from((at - entry.first_seen).num_milliseconds()).unwrap_or(0));
        }
        if entry.first_seen < to && resolved_at.is_none_or(|at| at >= to) {
            exceptions.open_at_end += 1;
        }
    }
    to_resolve.sort_unstable();
    let as_hours = |ms: u64| ms as f64 / 3_600_000.0;
    exceptions.median_hours_to_resolve = percentile(&to_resolve, 50.0).map(as_hours);
    exceptions.p90_hours_to_resolve = percentile(&to_resolve, 90.0).map(as_hours);
    exceptions.kinds = kinds.into_values().collect();

    let stock = StockSection {
        stockouts: stockout_count,
        lines: stockouts,
        out_of_stock_at_end: skus.values().filter(|sku| sku.available <= 0).count() as u64,
        reorder_alerts: inputs
            .queue
            .iter()
            .filter(|e| e.kind == QueueKind::Reorder && e.first_seen >= from && e.first_seen < to)
            .count() as u64,
        reorder_skus: reorder_skus.into_iter().collect(),
    };

    MonthlyReport {
        client: inputs.client.clone(),
        client_name: inputs.client_name.clone(),
        month: month.to_string(),
        tier: inputs.tier.clone(),
        from: rfc3339(from),
        to: rfc3339(to),
        complete: now >= month.end(),
        generated_at: rfc3339(now),
        sales,
        movements,
        oversells,
        exceptions,
        sync: sync.into_values().collect(),
        stock,
        days: days.into_values().collect(),
    }
}
