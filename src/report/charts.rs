//! The report's charts as data: the series the console page draws as SVG and the PDF draws with
//! its own operators, from one place, so that the two show the same bars.

use super::MonthlyReport;

/// One bar: its label, the value its length stands for, the text written beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub shown: String,
}

fn ms(value: Option<u64>) -> String {
    value.map_or("-".to_string(), |ms| format!("{ms} ms"))
}

/// Units sold per source (the platform beside a channel's id).
pub fn units_per_channel(report: &MonthlyReport) -> Vec<Bar> {
    report
        .sales
        .channels
        .iter()
        .map(|line| Bar {
            label: match &line.platform {
                Some(platform) => format!("{} ({platform})", line.source),
                None => line.source.clone(),
            },
            value: line.units as f64,
            shown: format!("{} units, {} orders", line.units, line.orders),
        })
        .collect()
}

/// Oversold units by cause, every cause.
pub fn oversold_by_cause(report: &MonthlyReport) -> Vec<Bar> {
    report
        .oversells
        .causes
        .iter()
        .map(|cause| Bar {
            label: cause.cause.replace('_', " "),
            value: cause.units as f64,
            shown: format!("{} units in {} sales", cause.units, cause.sales),
        })
        .collect()
}

/// Each platform's p99 lag from a stock change to the marketplace confirming it.
pub fn lag_p99(report: &MonthlyReport) -> Vec<Bar> {
    report
        .sync
        .iter()
        .map(|line| Bar {
            label: format!("{} p99 lag", line.platform),
            value: line.lag_p99_ms.unwrap_or(0) as f64,
            shown: ms(line.lag_p99_ms),
        })
        .collect()
}

/// Exceptions raised by kind, with how many were resolved and in time.
pub fn exceptions_by_kind(report: &MonthlyReport) -> Vec<Bar> {
    report
        .exceptions
        .kinds
        .iter()
        .map(|kind| Bar {
            label: kind.kind.replace('_', " "),
            value: kind.raised as f64,
            shown: format!(
                "{} raised, {} resolved, {} within target",
                kind.raised, kind.resolved, kind.resolved_within_target
            ),
        })
        .collect()
}

/// Units sold on each day of the month, with each day's label (`MM-DD`).
pub fn units_sold_per_day(report: &MonthlyReport) -> (Vec<i64>, Vec<String>) {
    report
        .days
        .iter()
        .map(|day| {
            (
                day.units_sold,
                day.day.get(5..).unwrap_or_default().to_string(),
            )
        })
        .unzip()
}

/// A lag in milliseconds as the report writes it (`-` for none).
pub fn lag_text(value: Option<u64>) -> String {
    ms(value)
}
