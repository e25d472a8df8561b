//! The monthly report page (`/clients/{code}/reports/{month}`): the summary the PDF carries
//! (`report::pdf::summary_lines`, so the two cannot disagree), each section as a table, and its
//! charts drawn on the server as SVG with presentation attributes only (the Content-Security-
//! Policy allows no inline style and no script but the console's own).

use maud::{html, Markup};

use super::pages::layout;
use crate::auth::Member;
use crate::report::charts::{self, lag_text as ms, Bar};
use crate::report::{pdf::summary_lines, Month, MonthlyReport};

const CHART_WIDTH: f64 = 640.0;

/// Horizontal bars, scaled to the largest value.
fn bars(label: &str, items: &[Bar]) -> Markup {
    let max = items.iter().map(|bar| bar.value).fold(0.0_f64, f64::max);
    let row = 22.0;
    let left = 170.0;
    let span = CHART_WIDTH - left - 190.0;
    let height = row * items.len().max(1) as f64 + 4.0;
    html! {
        svg.chart role="img" aria-label=(label) width=(CHART_WIDTH) height=(height)
            viewBox=(format!("0 0 {CHART_WIDTH} {height}")) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            @for (index, Bar { label: name, value, shown }) in items.iter().enumerate() {
                @let y = index as f64 * row + 2.0;
                @let width = if max > 0.0 { value / max * span } else { 0.0 };
                text x="0" y=(y + 14.0) font-size="12" { (name) }
                rect.bar x=(left) y=(y + 3.0) width=(width.max(1.0)) height="14" fill="#2a73bf" {}
                text x=(left + width + 6.0) y=(y + 14.0) font-size="12" { (shown) }
            }
        }
    }
}

/// One column per day, every fifth labelled.
fn columns(label: &str, values: &[i64], labels: &[String]) -> Markup {
    let height = 140.0;
    let base = height - 20.0;
    let left = 36.0;
    let span = CHART_WIDTH - left - 4.0;
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = span / values.len().max(1) as f64;
    html! {
        svg.chart role="img" aria-label=(label) width=(CHART_WIDTH) height=(height)
            viewBox=(format!("0 0 {CHART_WIDTH} {height}")) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            line x1=(left) y1=(base) x2=(left + span) y2=(base) stroke="#999" {}
            text x="0" y="12" font-size="11" { (max) }
            text x="0" y=(base) font-size="11" { "0" }
            @for (index, value) in values.iter().enumerate() {
                @let x = left + index as f64 * step;
                @let h = *value as f64 / max * (base - 10.0);
                @if h > 0.0 {
                    rect.bar x=(x + 1.0) y=(base - h) width=((step - 2.0).max(1.0)) height=(h) fill="#2a73bf" {
                        title { (labels.get(index).map(String::as_str).unwrap_or_default()) ": " (value) }
                    }
                }
                @if index % 5 == 0 {
                    text x=(x) y=(height - 4.0) font-size="10" { (labels.get(index).map(String::as_str).unwrap_or_default()) }
                }
            }
        }
    }
}

/// The report page of `report`, with links to the months around it and to its PDF.
pub fn page(member: &Member, csrf: &str, report: &MonthlyReport, month: Month) -> Markup {
    let client = &report.client;
    let (sold, day_labels) = charts::units_sold_per_day(report);
    let by_channel = charts::units_per_channel(report);
    let causes = charts::oversold_by_cause(report);
    let lags = charts::lag_p99(report);
    let exceptions = charts::exceptions_by_kind(report);
    layout(
        &format!("{} report {}", report.client, report.month),
        Some((member, csrf)),
        html! {
            nav.crumbs { a href="/" { "All clients" } " › " a href=(format!("/clients/{client}")) { (report.client_name) } " › report " (report.month) }
            h1 { (report.client_name) " — monthly report " (report.month) }
            p.hint {
                "From " (report.from) " to " (report.to)
                @if !report.complete { " (the month is not over: figures to now)" }
                ". Generated " (report.generated_at) " from the ledger, the listing history and the exception log."
            }
            p.actions {
                a href=(format!("/clients/{client}/reports/{}", month.previous())) { "← " (month.previous()) }
                " · "
                a #report-pdf href=(format!("/clients/{client}/reports/{month}/pdf")) download { "Download PDF" }
                " · "
                a href=(format!("/clients/{client}/reports/{}", month.next())) { (month.next()) " →" }
            }
            section {
                h2 { "Summary" }
                table #summary {
                    @for (label, value) in summary_lines(report) {
                        tr data-label=(label) { th { (label) } td { (value) } }
                    }
                }
            }
            section {
                h2 { "Units sold per day" }
                (columns("Units sold per day", &sold, &day_labels))
            }
            section {
                h2 { "Orders and units per channel" }
                @if by_channel.is_empty() { p { "No sales." } } @else { (bars("Units per channel", &by_channel)) }
                table {
                    tr { th { "Source" } th { "Platform" } th { "Orders" } th { "Units" } th { "Cancelled" } th { "Refunded" } }
                    @for line in &report.sales.channels {
                        tr { td { (line.source) } td { (line.platform.as_deref().unwrap_or("–")) } td { (line.orders) } td { (line.units) } td { (line.cancelled_units) } td { (line.refunded_units) } }
                    }
                }
            }
            section {
                h2 { "Inventory movements" }
                @let m = &report.movements;
                table {
                    tr { th { "Receipts" } td { (m.receipts) " (" (m.received_units) " units)" } }
                    tr { th { "Adjustments" } td { (m.adjustments) " (+" (m.adjusted_in) " / −" (m.adjusted_out) ")" } }
                    tr { th { "Counts" } td { (m.counts) " (net " (format!("{:+}", m.counted_delta)) ")" } }
                    tr { th { "Shipped" } td { (m.shipped_units) " units" } }
                }
            }
            section {
                h2 { "Oversells and their causes" }
                (bars("Oversold units by cause", &causes))
                p.hint { "The cause is the last movement before the sale that lowered the SKU's availability: a sale on another channel, an earlier sale on the same channel, a stock correction, or none." }
                @if !report.oversells.lines.is_empty() {
                    table {
                        tr { th { "When" } th { "SKU" } th { "Where" } th { "Units" } th { "Cause" } }
                        @for line in &report.oversells.lines {
                            tr { td { (line.at) } td { a href=(format!("/clients/{client}/skus/{}", super::pages::encoded(&line.sku))) { (line.sku) } } td { (line.source) } td { (line.units) } td { (line.cause.replace('_', " ")) } }
                        }
                    }
                }
            }
            section {
                h2 { "Exceptions" }
                @if exceptions.is_empty() { p { "None raised." } } @else { (bars("Exceptions raised by kind", &exceptions)) }
            }
            section {
                h2 { "Sync health" }
                @if !lags.is_empty() { (bars("p99 lag from a stock change to the marketplace confirming it", &lags)) }
                table #sync {
                    tr { th { "Platform" } th { "Changes confirmed" } th { "Lag p50" } th { "p90" } th { "p99" } th { "Throttled" } th { "Drift corrected" } th { "Refused" } }
                    @for line in &report.sync {
                        tr { td { (line.platform) } td { (line.confirmed_changes) } td { (ms(line.lag_p50_ms)) } td { (ms(line.lag_p90_ms)) } td { (ms(line.lag_p99_ms)) } td { (line.throttled) } td { (line.drift_corrected) } td { (line.refused) } }
                    }
                }
            }
            section {
                h2 { "Stock-outs and reorder alerts" }
                @if report.stock.lines.is_empty() { p { "No stock-out began this month." } } @else {
                    table {
                        tr { th { "SKU" } th { "Out at" } th { "Back at" } }
                        @for out in &report.stock.lines {
                            tr { td { (out.sku) } td { (out.at) } td { (out.back_at.as_deref().unwrap_or("–")) } }
                        }
                    }
                }
                @if !report.stock.reorder_skus.is_empty() {
                    p { "Reorder alerts raised for: " (report.stock.reorder_skus.join(", ")) }
                }
            }
        },
    )
}
