//! What the demo prints: the live view, the settle lines and the summary.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::{ClientFigures, DemoSummary, Setup};
use crate::api::channels::Wait;

/// Where the demo's text goes: stdout, redrawn in place on a terminal. A closed stdout (a reader
/// that took the first lines and left) must not end the demo, so write errors are ignored.
pub(super) struct Out {
    pub(super) stdout: std::io::Stdout,
    pub(super) terminal: bool,
}

impl Out {
    pub(super) fn new() -> Out {
        let stdout = std::io::stdout();
        let terminal = stdout.is_terminal();
        Out { stdout, terminal }
    }

    pub(super) fn line(&mut self, text: &str) {
        let mut lock = self.stdout.lock();
        let _ = writeln!(lock, "{text}");
        let _ = lock.flush();
    }

    /// Replaces the screen with `text` (a terminal only).
    pub(super) fn redraw(&mut self, text: &str) {
        let mut lock = self.stdout.lock();
        // Cursor home, clear to the end of the screen, then the frame: no flicker of a full clear.
        let _ = write!(lock, "\x1b[H\x1b[J{text}");
        let _ = lock.flush();
    }
}

/// How often the settle phase says what it still waits for, in seconds.
pub(super) const SETTLE_REPORT_EVERY_SECS: u64 = 5;

/// What the settle phase still waits for: a header, then for each channel out of step a line of
/// counts and the engine's reason, and a line per listing out of step (each a few dozen
/// characters).
pub(super) fn settle_lines(seconds: u64, clients: &[ClientFigures]) -> Vec<String> {
    let mut channel_lines = Vec::new();
    for client in clients {
        for channel in &client.channels {
            let missing = channel.orders.saturating_sub(channel.ledger_orders)
                + channel.cancelled.saturating_sub(channel.ledger_cancelled);
            let behind = channel.listings - channel.listings_in_step;
            if missing == 0 && behind == 0 && channel.ledger_complete() {
                continue;
            }
            channel_lines.push(format!(
                "  {}/{}: {missing} order events to read, {behind} listings to set{}",
                client.code,
                channel.channel,
                channel
                    .waiting
                    .as_deref()
                    .map_or(String::new(), |waiting| format!("; waiting: {waiting}")),
            ));
            channel_lines.extend(
                channel
                    .out_of_step
                    .iter()
                    .map(|listing| format!("    {listing}")),
            );
        }
    }
    let mut lines = vec![format!(
        "settling {seconds:>3} s: {} channels not in step yet",
        clients
            .iter()
            .flat_map(|client| &client.channels)
            .filter(
                |channel| channel.listings_in_step < channel.listings || !channel.ledger_complete()
            )
            .count()
    )];
    lines.extend(channel_lines);
    lines
}

/// The engine's reason a channel waits, for a person: `budget, 12 s more`.
pub(super) fn waiting_text(waiting: &Wait) -> String {
    let reason = waiting.reason.as_str();
    let until = waiting
        .until
        .map(|until| (until - chrono::Utc::now()).num_milliseconds());
    match until {
        Some(ms) if ms > 0 => format!("{reason}, {:.1} s more", ms as f64 / 1000.0),
        _ => reason.to_string(),
    }
}

/// One refresh of the live view.
pub(super) struct View<'a> {
    pub(super) setup: &'a Setup,
    pub(super) elapsed: Duration,
    pub(super) clients: &'a [ClientFigures],
    pub(super) metrics_samples: usize,
}

impl View<'_> {
    /// The full-screen frame of a terminal.
    pub(super) fn frame(&self) -> String {
        let mut text = String::new();
        let until = match self.setup.duration {
            Some(duration) => format!("{} of {} s", self.elapsed.as_secs(), duration.as_secs()),
            None => format!("{} s, until Ctrl-C", self.elapsed.as_secs()),
        };
        text.push_str(&format!(
            "shelfsync demo · shoppers buying · {until}\n\
             api: {0}   metrics: {0}/metrics ({1} shelfsync_ samples)   admin token: {2}\n\n",
            self.setup.api_url, self.metrics_samples, self.setup.token
        ));
        text.push_str(&format!(
            "{:<6} {:<8} {:<8} {:>7} {:>7} {:>6} {:>8} {:>8} {:>7} {:>7} {:>8} {:>9}\n",
            "client",
            "channel",
            "state",
            "orders",
            "ledger",
            "cancel",
            "oversold",
            "exposure",
            "pending",
            "oldest",
            "requests",
            "throttled"
        ));
        let mut errors = Vec::new();
        for client in self.clients {
            for (index, channel) in client.channels.iter().enumerate() {
                text.push_str(&format!(
                    "{:<6} {:<8} {:<8} {:>7} {:>7} {:>6} {:>8} {:>8} {:>7} {:>6.1}s {:>8} {:>9}\n",
                    if index == 0 { client.code.as_str() } else { "" },
                    channel.channel,
                    channel.state,
                    channel.orders,
                    channel.ledger_orders,
                    channel.cancelled,
                    channel.oversold_units,
                    channel.exposure_units,
                    channel.pending,
                    channel.oldest_pending_seconds,
                    channel.requests,
                    channel.throttled
                ));
                if let Some(error) = &channel.last_error {
                    errors.push(format!("{}/{}: {error}", client.code, channel.channel));
                }
            }
            let total = Totals::of(std::slice::from_ref(client));
            text.push_str(&format!(
                "{:<6} {:<8} {:<8} {:>7} {:>7} {:>6} {:>8} {:>8} {:>7} {:>6.1}s {:>8} {:>9}\n",
                "",
                "all",
                "",
                total.orders,
                total.ledger_orders,
                total.cancelled,
                total.oversold_units,
                total.exposure_units,
                total.pending,
                total.oldest_pending_seconds,
                total.requests,
                total.throttled
            ));
            text.push_str(&format!("{:<6} {}\n\n", "", operations_text(client)));
        }
        text.push_str(
            "orders: placed on the marketplace (ground truth); ledger: sales the service recorded; \
             oversold: units sold after the last one had gone;\nexposure: units listed above the \
             ledger now; oldest: age of the oldest change not yet on the marketplace\n",
        );
        for error in errors.iter().take(5) {
            let shown: String = error.chars().take(150).collect();
            text.push_str(&format!("last error {shown}\n"));
        }
        text
    }

    /// The one line a second of a non-terminal.
    pub(super) fn line(&self) -> String {
        let total = Totals::of(self.clients);
        let per_client: Vec<String> = self
            .clients
            .iter()
            .map(|client| {
                let total = Totals::of(std::slice::from_ref(client));
                format!("{} {}/{}", client.code, total.ledger_orders, total.orders)
            })
            .collect();
        format!(
            "[{:>4} s] orders {} placed, {} in the ledgers ({}) · oversold {} · exposure {} · \
             pending {} · oldest {:.1} s · requests {} · throttled {} · metrics {} samples",
            self.elapsed.as_secs(),
            total.orders,
            total.ledger_orders,
            per_client.join(", "),
            units(total.oversold_units),
            units(total.exposure_units as i64),
            total.pending,
            total.oldest_pending_seconds,
            total.requests,
            total.throttled,
            self.metrics_samples
        )
    }
}

/// A client's operations at a glance: exceptions a person has to work, by kind, and reorder
/// alerts (`GET /v1/clients/{code}/exceptions`, `GET /v1/clients/{code}/reorders`).
pub(super) fn operations_text(client: &ClientFigures) -> String {
    let kinds: Vec<String> = client
        .open_exceptions
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    format!(
        "exceptions to work: {}{} · reorder alerts: {}",
        client.open_exception_count(),
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        },
        client.reorder_alerts
    )
}

/// Sums over channels.
#[derive(Debug, Default)]
pub(super) struct Totals {
    pub(super) orders: u64,
    pub(super) ledger_orders: u64,
    pub(super) cancelled: u64,
    pub(super) oversold_units: i64,
    pub(super) exposure_units: u64,
    pub(super) pending: u64,
    pub(super) oldest_pending_seconds: f64,
    pub(super) requests: u64,
    pub(super) throttled: u64,
}

impl Totals {
    pub(super) fn of(clients: &[ClientFigures]) -> Totals {
        let mut total = Totals::default();
        for channel in clients.iter().flat_map(|client| &client.channels) {
            total.orders += channel.orders;
            total.ledger_orders += channel.ledger_orders;
            total.cancelled += channel.cancelled;
            total.oversold_units += channel.oversold_units;
            total.exposure_units += channel.exposure_units;
            total.pending += channel.pending;
            total.oldest_pending_seconds = total
                .oldest_pending_seconds
                .max(channel.oldest_pending_seconds);
            total.requests += channel.requests;
            total.throttled += channel.throttled;
        }
        total
    }
}

/// The closing summary.
pub(super) fn summary_lines(summary: &DemoSummary) -> Vec<String> {
    let mut lines = vec![
        String::new(),
        format!(
            "summary: {:.0} s of shoppers, settled {} {:.1} s after they stopped",
            summary.shopping_seconds,
            if summary.in_step && summary.ledgers_complete {
                "in"
            } else {
                "NOT within"
            },
            summary.settle_seconds
        ),
        format!(
            "  {:<6} {:<8} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8} {:>8} {:>9} {:>9}",
            "client",
            "channel",
            "orders",
            "ledger",
            "cancel",
            "units",
            "ledger",
            "oversold",
            "requests",
            "throttled",
            "in step"
        ),
    ];
    for client in &summary.clients {
        for channel in &client.channels {
            lines.push(format!(
                "  {:<6} {:<8} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8} {:>8} {:>9} {:>9}",
                client.code,
                channel.channel,
                channel.orders,
                channel.ledger_orders,
                channel.cancelled,
                channel.units_sold,
                channel.ledger_units,
                channel.oversold_units,
                channel.requests,
                channel.throttled,
                format!("{}/{}", channel.listings_in_step, channel.listings)
            ));
        }
        lines.push(format!(
            "  {:<6} warehouse: {} receipts, {} units received through the API",
            client.code, client.receipts, client.received_units
        ));
        lines.push(format!("  {:<6} {}", client.code, operations_text(client)));
    }
    let mut throttled: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, channel) in summary.channels() {
        *throttled.entry(channel.channel.as_str()).or_default() += channel.throttled;
    }
    lines.push(format!(
        "orders: {} placed on the marketplaces, {} sales in the ledgers; every order and \
         cancellation recorded exactly once: {}",
        summary.orders(),
        summary.ledger_orders(),
        yes_no(summary.ledgers_complete)
    ));
    lines.push(format!(
        "oversold: {} (sold on a marketplace after the last unit had sold elsewhere, before the \
         listing dropped)",
        units(summary.oversold_units())
    ));
    lines.push(format!(
        "throttled replies: {}",
        throttled
            .iter()
            .map(|(platform, count)| format!("{platform} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let (in_step, listings) =
        summary
            .channels()
            .fold((0, 0), |(in_step, listings), (_, channel)| {
                (
                    in_step + channel.listings_in_step,
                    listings + channel.listings,
                )
            });
    lines.push(format!(
        "listings in step with the ledger at the end: {in_step} of {listings}: {}",
        yes_no(summary.in_step)
    ));
    lines.push(format!(
        "/metrics showed up to {} shelfsync_ samples while the demo ran",
        summary.metrics_samples
    ));
    lines
}

/// `1 unit`, `3 units`.
pub(super) fn units(count: i64) -> String {
    if count == 1 {
        "1 unit".to_string()
    } else {
        format!("{count} units")
    }
}

pub(super) fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "NO"
    }
}
