//! A SKU's timeline (issue 16): the available stock from the ledger's journal and each channel's
//! listed quantity from the listing history, with the sales, receipts and pushes on it, drawn as
//! an SVG on the server (no chart library, nothing fetched). Every instant drawn is a link that
//! asks the page "why did this channel show that then" (the listing history's explain query).
//!
//! Plain functions: the series from the journal and the history, then the drawing.

use maud::{html, Markup};
use shelfsync_actors::inventory::history::{ListingWhat, RecordedEvent};
use shelfsync_actors::inventory::ledger::{JournalEntry, MovementKind};

/// The most journal entries a timeline draws (the latest).
pub const MAX_ENTRIES: usize = 2_000;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 280.0;
const MARGIN: f64 = 36.0;
/// The channels' line colours, in order (the available stock is the ink colour).
const PALETTE: [&str; 6] = [
    "#1a73e8", "#e8710a", "#188038", "#a142f4", "#d01884", "#12b5cb",
];

/// A value from an instant on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Unix milliseconds.
    pub at_ms: u64,
    /// The value from then.
    pub value: i64,
}

/// What a marker on the timeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    /// A sale.
    Sale,
    /// Goods received.
    Receipt,
    /// Another movement (adjustment, count, cancel, ship, restock).
    Movement,
    /// A push sent to a marketplace.
    Push,
}

/// One marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Unix milliseconds.
    pub at_ms: u64,
    /// What.
    pub kind: MarkerKind,
    /// For a person (`sale of 2`, `etsy: push of 7`).
    pub label: String,
}

/// The available stock after each of `entries` (oldest first, the SKU's latest), given the
/// available stock now: walked back from now, so a window that starts mid-history is exact.
pub fn available_steps(entries: &[JournalEntry], available_now: i64) -> Vec<Step> {
    let mut value = available_now;
    let mut steps = Vec::with_capacity(entries.len());
    for entry in entries.iter().rev() {
        steps.push(Step {
            at_ms: entry.at_ms,
            value,
        });
        value = value
            .saturating_sub(entry.on_hand_delta)
            .saturating_add(entry.reserved_delta);
    }
    steps.reverse();
    steps
}

/// The available stock before the first of `entries`.
pub fn available_before(entries: &[JournalEntry], available_now: i64) -> i64 {
    entries.iter().fold(available_now, |value, entry| {
        value
            .saturating_sub(entry.on_hand_delta)
            .saturating_add(entry.reserved_delta)
    })
}

/// What a channel's marketplace showed, from its listing history: each confirmation or read.
pub fn listed_steps(events: &[RecordedEvent]) -> Vec<Step> {
    events
        .iter()
        .filter_map(|recorded| match recorded.event.what {
            ListingWhat::Confirmed { quantity, .. } | ListingWhat::Read { quantity, .. } => {
                Some(Step {
                    at_ms: recorded.event.at_ms,
                    value: i64::from(quantity),
                })
            }
            ListingWhat::Sent { .. } | ListingWhat::Refused { .. } => None,
        })
        .collect()
}

/// The markers of `entries` (sales, receipts, other movements).
pub fn movement_markers(entries: &[JournalEntry]) -> Vec<Marker> {
    entries
        .iter()
        .map(|entry| {
            let kind = match entry.kind() {
                MovementKind::Sale => MarkerKind::Sale,
                MovementKind::Receipt => MarkerKind::Receipt,
                _ => MarkerKind::Movement,
            };
            Marker {
                at_ms: entry.at_ms,
                kind,
                label: format!(
                    "{:?} of {} (entry {})",
                    entry.kind(),
                    entry.quantity(),
                    entry.seq
                ),
            }
        })
        .collect()
}

/// The push markers of one channel's history.
pub fn push_markers(channel: &str, events: &[RecordedEvent]) -> Vec<Marker> {
    events
        .iter()
        .filter_map(|recorded| match recorded.event.what {
            ListingWhat::Sent { quantity, .. } => Some(Marker {
                at_ms: recorded.event.at_ms,
                kind: MarkerKind::Push,
                label: format!("{channel}: push of {quantity}"),
            }),
            _ => None,
        })
        .collect()
}

/// One channel's line.
#[derive(Debug, Clone)]
pub struct ChannelSeries {
    /// The channel's id.
    pub channel: String,
    /// What it showed, from when.
    pub steps: Vec<Step>,
}

/// Everything drawn.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The available stock before the window.
    pub available_start: i64,
    /// The available stock's steps.
    pub available: Vec<Step>,
    /// Each channel's listed quantity.
    pub channels: Vec<ChannelSeries>,
    /// Sales, receipts, movements and pushes.
    pub markers: Vec<Marker>,
    /// The window, Unix milliseconds.
    pub start_ms: u64,
    /// Its end (now).
    pub end_ms: u64,
}

fn rfc3339(ms: u64) -> String {
    crate::timestamp::rfc3339_ms(ms)
}

/// The SVG of `timeline`; each instant links to `?at=` of that instant (a millisecond after it,
/// so that the event itself is in what is explained).
pub fn svg(timeline: &Timeline) -> Markup {
    let span = timeline.end_ms.saturating_sub(timeline.start_ms).max(1) as f64;
    let x = |at: u64| {
        MARGIN + (at.saturating_sub(timeline.start_ms) as f64 / span) * (WIDTH - 2.0 * MARGIN)
    };
    let top = timeline
        .available
        .iter()
        .map(|step| step.value)
        .chain(
            timeline
                .channels
                .iter()
                .flat_map(|c| c.steps.iter().map(|s| s.value)),
        )
        .chain([timeline.available_start, 1])
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let bottom = timeline
        .available
        .iter()
        .map(|step| step.value)
        .chain([0, timeline.available_start])
        .min()
        .unwrap_or(0)
        .min(0) as f64;
    let y = |value: i64| {
        HEIGHT
            - MARGIN
            - ((value as f64 - bottom) / (top - bottom).max(1.0)) * (HEIGHT - 2.0 * MARGIN)
    };
    let path = |start: Option<i64>, steps: &[Step]| {
        let mut points = Vec::new();
        let mut current = start;
        let mut at = timeline.start_ms;
        for step in steps {
            if let Some(value) = current {
                points.push(format!("{:.1},{:.1}", x(at), y(value)));
                points.push(format!("{:.1},{:.1}", x(step.at_ms), y(value)));
            }
            current = Some(step.value);
            at = step.at_ms;
        }
        if let Some(value) = current {
            points.push(format!("{:.1},{:.1}", x(at), y(value)));
            points.push(format!("{:.1},{:.1}", x(timeline.end_ms), y(value)));
        }
        points.join(" ")
    };
    let link = |at: u64| format!("?at={}", rfc3339(at.saturating_add(1)));
    html! {
        svg #timeline xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } width=(WIDTH) height=(HEIGHT) role="img" {
            title { "Available stock and each channel's listed quantity" }
            line x1=(MARGIN) y1=(y(0)) x2=(WIDTH - MARGIN) y2=(y(0)) stroke="#d8dde6" {}
            text x="4" y=(y(top as i64) + 4.0) font-size="11" fill="#667085" { (top as i64) }
            text x="4" y=(y(0) + 4.0) font-size="11" fill="#667085" { "0" }
            text x=(MARGIN) y=(HEIGHT - 8.0) font-size="11" fill="#667085" { (rfc3339(timeline.start_ms)) }
            text x=(WIDTH - MARGIN) y=(HEIGHT - 8.0) font-size="11" fill="#667085" text-anchor="end" { (rfc3339(timeline.end_ms)) }
            polyline data-series="available" fill="none" stroke="#1d2330" stroke-width="2" points=(path(Some(timeline.available_start), &timeline.available)) {}
            @for (index, channel) in timeline.channels.iter().enumerate() {
                polyline data-series=(channel.channel) fill="none" stroke=(PALETTE[index % PALETTE.len()]) stroke-width="1.5" stroke-dasharray="5 3" points=(path(None, &channel.steps)) {}
                @for step in &channel.steps {
                    a href=(link(step.at_ms)) {
                        circle cx=(format!("{:.1}", x(step.at_ms))) cy=(format!("{:.1}", y(step.value))) r="3" fill=(PALETTE[index % PALETTE.len()]) {
                            title { (channel.channel) " showed " (step.value) " at " (rfc3339(step.at_ms)) }
                        }
                    }
                }
            }
            @for marker in &timeline.markers {
                @let (colour, row) = match marker.kind {
                    MarkerKind::Sale => ("#b3261e", HEIGHT - MARGIN + 8.0),
                    MarkerKind::Receipt => ("#137333", HEIGHT - MARGIN + 8.0),
                    MarkerKind::Movement => ("#667085", HEIGHT - MARGIN + 8.0),
                    MarkerKind::Push => ("#1a73e8", MARGIN - 10.0),
                };
                a href=(link(marker.at_ms)) {
                    rect x=(format!("{:.1}", x(marker.at_ms) - 2.0)) y=(format!("{row:.1}")) width="4" height="8" fill=(colour) {
                        title { (marker.label) " at " (rfc3339(marker.at_ms)) }
                    }
                }
            }
        }
        p.legend {
            span { "— available" }
            @for (index, channel) in timeline.channels.iter().enumerate() {
                " · " span data-colour=(PALETTE[index % PALETTE.len()]) { "- - " (channel.channel) " listed" }
            }
            " · marks: sales (red), receipts (green), other movements (grey), pushes (blue, top)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shelfsync_actors::ids::Sku;
    use shelfsync_actors::inventory::ledger::{Change, IdempotencyKey, Source};

    fn entry(
        seq: u64,
        at_ms: u64,
        kind: MovementKind,
        quantity: i64,
        on_hand: i64,
        reserved: i64,
    ) -> JournalEntry {
        JournalEntry {
            seq,
            at_ms,
            key: IdempotencyKey::parse(&format!("k{seq}")).unwrap(),
            source: Source::Api,
            sku: Sku::parse("ACME-MUG").unwrap(),
            change: Change::new(kind, quantity).unwrap(),
            on_hand_delta: on_hand,
            reserved_delta: reserved,
            oversold_units: 0,
            order: None,
        }
    }

    #[test]
    fn the_available_stock_is_walked_back_from_now_so_a_window_mid_history_is_exact() {
        // Before the window: 10 available. A sale of 2 (reserved +2), a receipt of 5.
        let entries = [
            entry(7, 1_000, MovementKind::Sale, 2, 0, 2),
            entry(8, 2_000, MovementKind::Receipt, 5, 5, 0),
        ];
        let now = 13;
        assert_eq!(available_before(&entries, now), 10);
        assert_eq!(
            available_steps(&entries, now),
            [
                Step {
                    at_ms: 1_000,
                    value: 8
                },
                Step {
                    at_ms: 2_000,
                    value: 13
                }
            ]
        );
        let markers = movement_markers(&entries);
        assert_eq!(
            (markers[0].kind, markers[1].kind),
            (MarkerKind::Sale, MarkerKind::Receipt)
        );
    }
}
