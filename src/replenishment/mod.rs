//! Replenishment (issue 15): per SKU a reorder point, or a lead time with safety days; sales
//! velocity from the ledger's journal over the last 7 and 28 days; days of cover; the projected
//! stock-out; and the reorder alert. Plain types and pure functions over
//! `(journal entries, available, settings, now)`, no actix and no storage (the settings' sled tree
//! is [`store`]; the service gathers the entries, `service::replenishment`), so that every rule
//! is tested on its own.
//!
//! The decisions, and why:
//!
//! - **What counts as sold.** `sale` entries add their units; `cancel` (a sale called off before
//!   shipping) and `refund_restock` (a sold unit that came back sellable) take theirs away, at the
//!   time they happened. Nothing else is demand: a `ship` fulfils a sale already counted, and
//!   receipts, adjustments and counts move stock, not sales. A window whose cancellations and
//!   returns exceed its sales (they undo sales from before the window) sold nothing rather than a
//!   negative amount.
//! - **The windows.** The last 7 and 28 days before `now`, `(now − span, now]`, where `span` is the
//!   window, or the time since the SKU's first journal entry when that is shorter (at least a
//!   day): a SKU imported three days ago that sold 15 units sells 5 a day, not 15/28. Sales are
//!   counted in rolling milliseconds, not calendar days, so the answer does not jump at midnight
//!   UTC (which is nobody's midnight in particular).
//! - **Which velocity.** The higher of the two: a SKU speeding up is caught by the 7-day rate, one
//!   that had a quiet week is still judged by its month. Erring towards an early reorder is the
//!   cheap mistake; a stock-out on a client's store is the expensive one.
//! - **Days of cover** = available ÷ velocity. No sales: no cover figure and no stock-out, however
//!   little is left (the reorder point is what catches a slow SKU). Nothing available (zero, or
//!   negative after an oversell): cover 0 and the stock-out is now, whatever the velocity.
//! - **The alert.** When available ≤ the reorder point, or when the projected stock-out falls
//!   within lead time + safety days from now (equivalently: `reorder_by`, the stock-out minus lead
//!   time and safety days, is now or past). A SKU without settings is assessed but never alerts.
//!   The comparison is made in whole milliseconds with integers, never on the rounded figures
//!   shown, so an alert does not depend on floating-point rounding.

pub mod store;
#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::inventory::ledger::{Change, JournalEntry, MAX_QUANTITY};
use shelfsync_actors::inventory::InventoryError;
use utoipa::ToSchema;

/// The longest lead time, in days: a year (a supplier slower than that is not replenishment).
pub const MAX_LEAD_TIME_DAYS: u16 = 365;
/// The most safety days.
pub const MAX_SAFETY_DAYS: u16 = 365;
/// The highest reorder point: the ledger's largest quantity of one movement.
pub const MAX_REORDER_POINT: u32 = MAX_QUANTITY as u32;
/// The short velocity window, in days.
pub const SHORT_WINDOW_DAYS: u16 = 7;
/// The long velocity window, in days: also how far back the service reads a SKU's journal.
pub const LONG_WINDOW_DAYS: u16 = 28;
/// Cover beyond this many days projects no stock-out date (ten years: a date that far says
/// nothing, and it keeps every date within chrono's range).
pub const MAX_PROJECTION_DAYS: i64 = 3_650;

/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Why replenishment refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplenishmentError {
    /// A reorder point above [`MAX_REORDER_POINT`].
    #[error("reorder_point {value} is above the largest quantity the ledger takes ({max})")]
    ReorderPointTooLarge {
        /// What was given.
        value: u32,
        /// The bound.
        max: u32,
    },
    /// A lead time outside `1..=MAX_LEAD_TIME_DAYS`.
    #[error("lead_time_days {value} is not 1 to {max}")]
    LeadTimeOutOfRange {
        /// What was given.
        value: u16,
        /// The bound.
        max: u16,
    },
    /// Safety days above [`MAX_SAFETY_DAYS`].
    #[error("safety_days {value} is above {max}")]
    SafetyDaysOutOfRange {
        /// What was given.
        value: u16,
        /// The bound.
        max: u16,
    },
    /// Safety days without a lead time: they only lengthen the lead time's horizon.
    #[error("safety_days needs lead_time_days: safety days only lengthen the lead time")]
    SafetyWithoutLeadTime,
    /// Neither a reorder point nor a lead time: nothing could ever raise the alert.
    #[error(
        "give reorder_point, lead_time_days or both: without either nothing can raise the alert"
    )]
    NoTrigger,
    /// sled failed, or a flush did.
    #[error("the reorder settings store failed: {0}")]
    Storage(#[from] sled::Error),
    /// A stored record does not decode.
    #[error("reorder settings {key} are damaged: {message}")]
    Corrupt {
        /// Its key.
        key: String,
        /// Why.
        message: String,
    },
    /// The client's ledger refused or failed a read of the journal or the stock.
    #[error(transparent)]
    Ledger(#[from] InventoryError),
}

/// The body of `PUT …/stock/{sku}/reorder` and what it answers: a SKU's replenishment settings as
/// they travel. Checked into [`ReorderSettings`] once, at the edge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderSettingsBody {
    /// Alert when the available stock is at or below this many units (0 to 1 000 000 000).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000)]
    pub reorder_point: Option<u32>,
    /// Days from ordering to the goods being sellable (1 to 365): alert when the projected
    /// stock-out is within this many days plus `safety_days`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 365)]
    pub lead_time_days: Option<u16>,
    /// Days of margin added to the lead time (0 to 365, 0 by default; needs `lead_time_days`).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 365)]
    pub safety_days: Option<u16>,
}

/// A SKU's replenishment settings, checked: at least one of a reorder point and a lead time, each
/// within its bound. Only [`ReorderSettings::new`] builds one (a stored record is read back
/// through it too), so settings that could never alert, or alert on nonsense, cannot exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReorderSettingsBody", into = "ReorderSettingsBody")]
pub struct ReorderSettings {
    reorder_point: Option<u32>,
    lead_time_days: Option<u16>,
    safety_days: u16,
}

impl ReorderSettings {
    /// Checks the settings (bounds: [`MAX_REORDER_POINT`], [`MAX_LEAD_TIME_DAYS`],
    /// [`MAX_SAFETY_DAYS`]); safety days default to 0 and need a lead time.
    pub fn new(
        reorder_point: Option<u32>,
        lead_time_days: Option<u16>,
        safety_days: Option<u16>,
    ) -> Result<Self, ReplenishmentError> {
        if let Some(value) = reorder_point.filter(|point| *point > MAX_REORDER_POINT) {
            return Err(ReplenishmentError::ReorderPointTooLarge {
                value,
                max: MAX_REORDER_POINT,
            });
        }
        if let Some(value) = lead_time_days.filter(|days| !(1..=MAX_LEAD_TIME_DAYS).contains(days))
        {
            return Err(ReplenishmentError::LeadTimeOutOfRange {
                value,
                max: MAX_LEAD_TIME_DAYS,
            });
        }
        if let Some(value) = safety_days.filter(|days| *days > MAX_SAFETY_DAYS) {
            return Err(ReplenishmentError::SafetyDaysOutOfRange {
                value,
                max: MAX_SAFETY_DAYS,
            });
        }
        if safety_days.is_some() && lead_time_days.is_none() {
            return Err(ReplenishmentError::SafetyWithoutLeadTime);
        }
        if reorder_point.is_none() && lead_time_days.is_none() {
            return Err(ReplenishmentError::NoTrigger);
        }
        Ok(Self {
            reorder_point,
            lead_time_days,
            safety_days: safety_days.unwrap_or(0),
        })
    }

    /// The reorder point, if set.
    pub fn reorder_point(&self) -> Option<u32> {
        self.reorder_point
    }

    /// The lead time in days, if set.
    pub fn lead_time_days(&self) -> Option<u16> {
        self.lead_time_days
    }

    /// The safety days (0 without a lead time).
    pub fn safety_days(&self) -> u16 {
        self.safety_days
    }

    /// How far ahead a projected stock-out raises the alert: lead time plus safety days, when a
    /// lead time is set.
    pub fn horizon_days(&self) -> Option<u32> {
        self.lead_time_days
            .map(|lead| u32::from(lead) + u32::from(self.safety_days))
    }
}

impl TryFrom<ReorderSettingsBody> for ReorderSettings {
    type Error = ReplenishmentError;
    fn try_from(body: ReorderSettingsBody) -> Result<Self, Self::Error> {
        ReorderSettings::new(body.reorder_point, body.lead_time_days, body.safety_days)
    }
}

impl From<ReorderSettings> for ReorderSettingsBody {
    fn from(settings: ReorderSettings) -> Self {
        Self {
            reorder_point: settings.reorder_point,
            lead_time_days: settings.lead_time_days,
            // Shown whenever it applies (0 included), so a reader sees the horizon whole.
            safety_days: settings.lead_time_days.map(|_| settings.safety_days),
        }
    }
}

/// The journal of one SKU as replenishment needs it: its entries of (at least) the last
/// [`LONG_WINDOW_DAYS`] days, and when its first entry ever was (where its history begins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalesHistory {
    /// When the SKU's first journal entry was made; `None`: it never moved.
    pub first_movement: Option<DateTime<Utc>>,
    /// Its journal entries; older ones are ignored.
    pub entries: Vec<JournalEntry>,
}

/// Net units sold over a window of `span_ms` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Velocity {
    /// Units sold, net of cancellations and returns (never negative).
    pub units: u64,
    /// The window's length, at least a day.
    pub span_ms: i64,
}

impl Velocity {
    /// Units per day.
    pub fn per_day(self) -> f64 {
        self.units as f64 * DAY_MS as f64 / self.span_ms as f64
    }

    /// The faster of two velocities, compared exactly (cross-multiplied in 128 bits).
    pub fn faster(self, other: Velocity) -> Velocity {
        let this = i128::from(self.units) * i128::from(other.span_ms);
        let that = i128::from(other.units) * i128::from(self.span_ms);
        if that > this {
            other
        } else {
            self
        }
    }
}

/// The signed units an entry adds to the sales count: what counts as sold (module doc).
pub fn sold_units(change: Change) -> i64 {
    match change {
        Change::Sale(units) => units.get(),
        Change::Cancel(units) | Change::RefundRestock(units) => -units.get(),
        Change::Ship(_) | Change::Receipt(_) | Change::Adjustment(_) | Change::Count(_) => 0,
    }
}

/// The velocity over the last `window_days` days before `now` (module doc: the window is
/// shortened to the SKU's history, but never below a day).
pub fn velocity(history: &SalesHistory, now: DateTime<Utc>, window_days: u16) -> Velocity {
    let now_ms = now.timestamp_millis();
    let window_ms = i64::from(window_days.max(1)) * DAY_MS;
    let lived_ms = history
        .first_movement
        .map_or(0, |first| now_ms.saturating_sub(first.timestamp_millis()));
    let span_ms = lived_ms.clamp(DAY_MS, window_ms);
    let since_ms = now_ms - span_ms;
    let net: i64 = history
        .entries
        .iter()
        .filter(|entry| {
            let at = i64::try_from(entry.at_ms).unwrap_or(i64::MAX);
            since_ms < at && at <= now_ms
        })
        .map(|entry| sold_units(entry.change))
        .sum();
    Velocity {
        units: u64::try_from(net).unwrap_or(0),
        span_ms,
    }
}

/// Why a SKU alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertReason {
    /// Available is at or below the reorder point.
    AtOrBelowReorderPoint,
    /// The projected stock-out falls within lead time + safety days.
    StockoutWithinLeadTime,
}

/// What the rules make of one SKU at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Over the last 7 days.
    pub velocity_7d: Velocity,
    /// Over the last 28 days.
    pub velocity_28d: Velocity,
    /// Available ÷ the faster velocity, in days; `None` when nothing sells and stock remains.
    pub days_of_cover: Option<f64>,
    /// When the stock runs out at that velocity; `None` without sales, or beyond
    /// [`MAX_PROJECTION_DAYS`].
    pub projected_stockout: Option<DateTime<Utc>>,
    /// The stock-out minus lead time and safety days: the last moment to order (needs a lead
    /// time and a projected stock-out).
    pub reorder_by: Option<DateTime<Utc>>,
    /// Why it alerts; empty: it does not.
    pub reasons: Vec<AlertReason>,
}

impl Assessment {
    /// Whether the SKU alerts.
    pub fn alert(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// Assesses one SKU: its velocities, cover, projected stock-out, reorder-by time and alert
/// (module doc for every rule). `settings` `None`: assessed, never alerting.
pub fn assess(
    history: &SalesHistory,
    available: i64,
    settings: Option<&ReorderSettings>,
    now: DateTime<Utc>,
) -> Assessment {
    let velocity_7d = velocity(history, now, SHORT_WINDOW_DAYS);
    let velocity_28d = velocity(history, now, LONG_WINDOW_DAYS);
    let rate = velocity_7d.faster(velocity_28d);
    let cover_ms: Option<i128> = if available <= 0 {
        Some(0)
    } else if rate.units == 0 {
        None
    } else {
        Some(i128::from(available) * i128::from(rate.span_ms) / i128::from(rate.units))
    };
    let days_of_cover = cover_ms.map(|ms| ms as f64 / DAY_MS as f64);
    let projected_stockout = cover_ms
        .filter(|ms| *ms <= i128::from(MAX_PROJECTION_DAYS * DAY_MS))
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(|ms| now.checked_add_signed(TimeDelta::milliseconds(ms)));
    let horizon = settings.and_then(ReorderSettings::horizon_days);
    let reorder_by = projected_stockout
        .zip(horizon)
        .and_then(|(stockout, days)| stockout.checked_sub_signed(TimeDelta::days(days.into())));
    let mut reasons = Vec::new();
    if let Some(point) = settings.and_then(ReorderSettings::reorder_point) {
        if available <= i64::from(point) {
            reasons.push(AlertReason::AtOrBelowReorderPoint);
        }
    }
    if reorder_by.is_some_and(|by| by <= now) {
        reasons.push(AlertReason::StockoutWithinLeadTime);
    }
    Assessment {
        velocity_7d,
        velocity_28d,
        days_of_cover,
        projected_stockout,
        reorder_by,
        reasons,
    }
}

/// One SKU of a client's reorder list, as the API shows it and the engine reads its alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReorderLine {
    /// The SKU.
    #[schema(value_type = String)]
    pub sku: Sku,
    /// Its settings (`null`: none, and it never alerts).
    #[schema(value_type = Option<ReorderSettingsBody>)]
    pub settings: Option<ReorderSettings>,
    /// Units available now (on hand − reserved; negative after an oversell).
    pub available: i64,
    /// Units sold per day over the last 7 days, net of cancellations and returns (3 decimals).
    pub velocity_7d: f64,
    /// Units sold per day over the last 28 days, likewise.
    pub velocity_28d: f64,
    /// Available ÷ the higher velocity, in days (2 decimals); `null` when nothing sells and
    /// stock remains.
    pub days_of_cover: Option<f64>,
    /// The UTC day the stock runs out at that velocity; `null` without sales or beyond ten years.
    pub projected_stockout: Option<NaiveDate>,
    /// The UTC day by which to order: the stock-out minus lead time and safety days.
    pub reorder_by: Option<NaiveDate>,
    /// Whether the SKU needs reordering now.
    pub alert: bool,
    /// Why it alerts (empty when it does not).
    pub reasons: Vec<AlertReason>,
}

impl ReorderLine {
    /// The line of `sku` from its assessment. Figures are rounded for reading only; the alert
    /// was decided on exact ones.
    pub fn new(
        sku: Sku,
        settings: Option<ReorderSettings>,
        available: i64,
        assessment: &Assessment,
    ) -> Self {
        Self {
            sku,
            settings,
            available,
            velocity_7d: rounded(assessment.velocity_7d.per_day(), 1_000.0),
            velocity_28d: rounded(assessment.velocity_28d.per_day(), 1_000.0),
            days_of_cover: assessment.days_of_cover.map(|days| rounded(days, 100.0)),
            projected_stockout: assessment.projected_stockout.map(|at| at.date_naive()),
            reorder_by: assessment.reorder_by.map(|at| at.date_naive()),
            alert: assessment.alert(),
            reasons: assessment.reasons.clone(),
        }
    }
}

fn rounded(value: f64, scale: f64) -> f64 {
    (value * scale).round() / scale
}
