//! The monthly report as a PDF: A4 pages of text and charts drawn with `pdf-writer` (the PDF
//! writer of the Typst project: it writes objects and content streams, nothing else, so the
//! binary carries no renderer, no font file and no browser). Text is set in Helvetica, one of the
//! 14 fonts every PDF reader has, with WinAnsi encoding (characters outside Latin-1 print as
//! `?`). Content streams are not compressed: a report is a few kilobytes, and its figures stay
//! readable to a text search of the file.
//!
//! The figures are the same [`MonthlyReport`] the page and the API show, formatted by the same
//! [`summary_lines`], so the PDF cannot disagree with them.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::charts::{self, Bar};
use super::MonthlyReport;

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// The report's headline figures, one `label: value` line each, as the page, the PDF and the
/// browser test read them.
pub fn summary_lines(report: &MonthlyReport) -> Vec<(String, String)> {
    let e = &report.exceptions;
    let m = &report.movements;
    // Under an hour in minutes: "0.0 h" would hide a resolution in 2 minutes.
    let hours = |value: Option<f64>| match value {
        None => "-".to_string(),
        Some(h) if h < 1.0 => format!("{:.0} min", h * 60.0),
        Some(h) => format!("{h:.1} h"),
    };
    vec![
        ("Orders".into(), report.sales.orders.to_string()),
        ("Units sold".into(), report.sales.units.to_string()),
        (
            "Units received".into(),
            format!("{} in {} receipts", m.received_units, m.receipts),
        ),
        (
            "Adjustments".into(),
            format!(
                "{} (+{} / -{})",
                m.adjustments, m.adjusted_in, m.adjusted_out
            ),
        ),
        (
            "Counts".into(),
            format!("{} (net {:+})", m.counts, m.counted_delta),
        ),
        ("Units shipped".into(), m.shipped_units.to_string()),
        (
            "Oversold".into(),
            format!(
                "{} units in {} sales",
                report.oversells.units, report.oversells.sales
            ),
        ),
        (
            "Exceptions".into(),
            format!(
                "{} raised, {} resolved ({} within the {:.0} h target), {} open at the end",
                e.raised, e.resolved, e.resolved_within_target, e.target_hours, e.open_at_end
            ),
        ),
        (
            "Time to resolve".into(),
            format!(
                "median {}, p90 {}",
                hours(e.median_hours_to_resolve),
                hours(e.p90_hours_to_resolve)
            ),
        ),
        ("Stock-outs".into(), report.stock.stockouts.to_string()),
        (
            "Out of stock at the end".into(),
            report.stock.out_of_stock_at_end.to_string(),
        ),
        (
            "Reorder alerts".into(),
            report.stock.reorder_alerts.to_string(),
        ),
    ]
}

/// Bytes a PDF string of `text` is: Latin-1 as WinAnsi, anything else `?`.
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match u32::from(c) {
            0x20..=0x7e => c as u8,
            0xa0..=0xff => u8::try_from(u32::from(c)).unwrap_or(b'?'),
            _ => b'?',
        })
        .collect()
}

/// A page being written, top to bottom.
struct Pages {
    done: Vec<Content>,
    page: Content,
    y: f32,
}

impl Pages {
    fn new() -> Pages {
        Pages {
            done: Vec::new(),
            page: Content::new(),
            y: HEIGHT - MARGIN,
        }
    }

    /// Starts a new page unless `height` still fits on this one.
    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            let page = std::mem::replace(&mut self.page, Content::new());
            self.done.push(page);
            self.y = HEIGHT - MARGIN;
        }
    }

    fn text_at(&mut self, x: f32, y: f32, size: f32, font: Name, text: &str) {
        let bytes = latin1(text);
        self.page
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    fn line(&mut self, size: f32, font: Name, text: &str) {
        self.room(size * 1.6);
        self.y -= size * 1.5;
        let y = self.y;
        self.text_at(MARGIN, y, size, font, text);
    }

    fn heading(&mut self, text: &str) {
        self.room(40.0);
        self.y -= 8.0;
        self.line(13.0, BOLD, text);
    }

    /// Horizontal bars, one per `(label, value)`, scaled to the largest.
    fn bars(&mut self, items: &[Bar]) {
        let max = items.iter().map(|bar| bar.value).fold(0.0_f64, f64::max);
        let left = MARGIN + 120.0;
        let span = WIDTH - MARGIN - left - 110.0;
        for Bar {
            label,
            value,
            shown,
        } in items
        {
            self.room(16.0);
            self.y -= 16.0;
            let y = self.y;
            self.text_at(MARGIN, y + 2.0, 9.0, REGULAR, label);
            let width = if max > 0.0 {
                (value / max) as f32 * span
            } else {
                0.0
            };
            self.page
                .set_fill_rgb(0.16, 0.45, 0.75)
                .rect(left, y, width.max(0.5), 10.0)
                .fill_nonzero();
            self.page.set_fill_gray(0.0);
            self.text_at(left + width + 6.0, y + 2.0, 9.0, REGULAR, shown);
        }
    }

    /// Vertical columns, one per value (the days of a month), with every fifth labelled.
    fn columns(&mut self, values: &[i64], labels: &[String]) {
        let height = 90.0;
        self.room(height + 30.0);
        self.y -= height + 10.0;
        let base = self.y;
        let max = values.iter().copied().max().unwrap_or(0).max(1) as f32;
        let span = WIDTH - 2.0 * MARGIN - 30.0;
        let step = span / values.len().max(1) as f32;
        self.page
            .set_stroke_gray(0.6)
            .move_to(MARGIN + 30.0, base)
            .line_to(MARGIN + 30.0 + span, base)
            .stroke();
        self.text_at(MARGIN, base + height - 8.0, 8.0, REGULAR, &format!("{max}"));
        self.text_at(MARGIN, base, 8.0, REGULAR, "0");
        for (index, value) in values.iter().enumerate() {
            let x = MARGIN + 30.0 + index as f32 * step;
            let h = (*value as f32 / max) * height;
            if h > 0.0 {
                self.page
                    .set_fill_rgb(0.16, 0.45, 0.75)
                    .rect(x + 1.0, base, (step - 2.0).max(1.0), h)
                    .fill_nonzero();
            }
            if index % 5 == 0 {
                self.page.set_fill_gray(0.0);
                let label = labels.get(index).map(String::as_str).unwrap_or_default();
                self.text_at(x, base - 11.0, 7.0, REGULAR, label);
            }
        }
        self.page.set_fill_gray(0.0);
        self.y -= 14.0;
    }

    fn finish(mut self) -> Vec<Content> {
        self.done.push(self.page);
        self.done
    }
}

/// Renders `report` as a PDF document.
pub fn render(report: &MonthlyReport) -> Vec<u8> {
    let mut pages = Pages::new();
    pages.line(
        18.0,
        BOLD,
        &format!("{} - monthly report {}", report.client_name, report.month),
    );
    pages.line(
        9.0,
        REGULAR,
        &format!(
            "Client {} ({} tier). From {} to {}{}.",
            report.client,
            report.tier,
            report.from,
            report.to,
            if report.complete {
                ""
            } else {
                " (month not over)"
            },
        ),
    );
    pages.line(
        9.0,
        REGULAR,
        &format!(
            "Generated {} from the ledger, the listing history and the exception log.",
            report.generated_at
        ),
    );

    pages.heading("Summary");
    for (label, value) in summary_lines(report) {
        pages.line(10.0, REGULAR, &format!("{label}: {value}"));
    }

    pages.heading("Units sold per day");
    let (sold, labels) = charts::units_sold_per_day(report);
    pages.columns(&sold, &labels);

    pages.heading("Orders and units per channel");
    let channels = charts::units_per_channel(report);
    if channels.is_empty() {
        pages.line(10.0, REGULAR, "No sales.");
    }
    pages.bars(&channels);
    for line in &report.sales.channels {
        if line.cancelled_units > 0 || line.refunded_units > 0 {
            pages.line(
                9.0,
                REGULAR,
                &format!(
                    "{}: {} units cancelled, {} refunded and restocked",
                    line.source, line.cancelled_units, line.refunded_units
                ),
            );
        }
    }

    pages.heading("Oversells by cause");
    pages.bars(&charts::oversold_by_cause(report));

    pages.heading("Sync health per platform");
    let ms = charts::lag_text;
    for line in &report.sync {
        pages.line(
            10.0,
            REGULAR,
            &format!(
                "{}: {} changes confirmed, lag p50 {} / p90 {} / p99 {}; {} throttled, {} drift corrected, {} refused",
                line.platform,
                line.confirmed_changes,
                ms(line.lag_p50_ms),
                ms(line.lag_p90_ms),
                ms(line.lag_p99_ms),
                line.throttled,
                line.drift_corrected,
                line.refused
            ),
        );
    }
    pages.bars(&charts::lag_p99(report));

    pages.heading("Exceptions by kind");
    let kinds = charts::exceptions_by_kind(report);
    if kinds.is_empty() {
        pages.line(10.0, REGULAR, "None.");
    }
    pages.bars(&kinds);

    pages.heading("Stock-outs and reorder alerts");
    for out in &report.stock.lines {
        pages.line(
            9.0,
            REGULAR,
            &format!(
                "{} out at {}{}",
                out.sku,
                out.at,
                out.back_at
                    .as_ref()
                    .map_or(String::new(), |back| format!(", back at {back}"))
            ),
        );
    }
    if !report.stock.reorder_skus.is_empty() {
        pages.line(
            9.0,
            REGULAR,
            &format!("Reorder alerts: {}", report.stock.reorder_skus.join(", ")),
        );
    }

    let contents = pages.finish();
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let first_page = 6;
    let page_ids: Vec<Ref> = (0..contents.len())
        .map(|index| Ref::new(first_page + 2 * index as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(contents.len() as i32);
    for (index, content) in contents.into_iter().enumerate() {
        let page_id = page_ids[index];
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        let mut resources = page.resources();
        resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let title = format!("{} monthly report {}", report.client, report.month);
    pdf.document_info(info)
        .title(TextStr(&title))
        .creator(TextStr("shelfsync"));
    pdf.finish()
}
