//! The report's figures from hand-made records: each section against what was put in.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use shelfsync_actors::channel::policy::ListingPolicy;
use shelfsync_actors::ids::{ChannelId, Sku};
use shelfsync_actors::inventory::history::{ListingEvent, ListingWhat, RefusalReason};
use shelfsync_actors::inventory::ledger::{
    effect_of, Balance, Change, IdempotencyKey, JournalEntry, MovementKind, OrderRef, Source,
};
use shelfsync_actors::platform::Platform;

use super::*;
use crate::operations::queue::{Actor, Resolution, Transition, WorkState};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn ms(text: &str) -> u64 {
    at(text).timestamp_millis() as u64
}

/// A journal written through the ledger's own arithmetic.
#[derive(Default)]
struct Journal {
    entries: Vec<JournalEntry>,
    balances: BTreeMap<Sku, Balance>,
}

impl Journal {
    fn add(&mut self, when: &str, source: Source, sku: &str, change: Change, order: Option<&str>) {
        let sku = Sku::parse(sku).unwrap();
        let balance = self.balances.entry(sku.clone()).or_default();
        let effect = effect_of(balance, change).unwrap();
        let seq = self.entries.len() as u64 + 1;
        *balance = balance.after(&effect, seq).unwrap();
        self.entries.push(JournalEntry {
            seq,
            at_ms: ms(when),
            key: IdempotencyKey::parse(&format!("k{seq}")).unwrap(),
            source,
            sku,
            change,
            on_hand_delta: effect.on_hand_delta,
            reserved_delta: effect.reserved_delta,
            oversold_units: effect.oversold_units,
            order: order.map(|id| OrderRef {
                order_id: id.to_string(),
                line: 1,
                version: "placed".into(),
            }),
        });
    }
}

fn channel(id: &str) -> Source {
    Source::Channel(ChannelId::parse(id).unwrap())
}

fn change(kind: MovementKind, quantity: i64) -> Change {
    Change::new(kind, quantity).unwrap()
}

fn inputs(journal: Journal) -> ReportInputs {
    ReportInputs {
        client: "ACME".into(),
        client_name: "Acme Mugs".into(),
        tier: "standard".into(),
        response_target: Duration::hours(24),
        channels: vec![
            (ChannelId::parse("shop").unwrap(), Platform::Shopify),
            (ChannelId::parse("etsy").unwrap(), Platform::Etsy),
        ],
        opening: BTreeMap::new(),
        journal: journal.entries,
        listing_events: Vec::new(),
        queue: Vec::new(),
        throttled: BTreeMap::new(),
    }
}

fn november() -> Month {
    Month::parse("2026-11").unwrap()
}

#[test]
fn months_parse_strictly_and_know_their_bounds() {
    let month = november();
    assert_eq!(month.to_string(), "2026-11");
    assert_eq!(month.start(), at("2026-11-01T00:00:00Z"));
    assert_eq!(month.end(), at("2026-12-01T00:00:00Z"));
    assert_eq!(month.days().count(), 30);
    assert_eq!(
        Month::parse("2026-12").unwrap().next().to_string(),
        "2027-01"
    );
    assert_eq!(
        Month::parse("2026-01").unwrap().previous().to_string(),
        "2025-12"
    );
    assert_eq!(Month::parse("2024-02").unwrap().days().count(), 29);
    for bad in [
        "",
        "2026",
        "2026-13",
        "2026-00",
        "1999-12",
        "2026-1",
        "+202-11",
        "2026-11-01",
        "２０２６-11",
    ] {
        assert!(
            matches!(Month::parse(bad), Err(ReportError::InvalidMonth(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn sales_and_movements_are_the_months_journal_by_source_and_kind() {
    let mut journal = Journal::default();
    let shop = || channel("shop");
    let etsy = || channel("etsy");
    // Before the month: stock, and a sale that must not count.
    journal.add(
        "2026-10-31T23:00:00Z",
        Source::Import,
        "MUG",
        change(MovementKind::Count, 10),
        None,
    );
    journal.add(
        "2026-10-31T23:30:00Z",
        shop(),
        "MUG",
        change(MovementKind::Sale, 1),
        Some("o-0"),
    );
    // The month: two lines of one Shopify order, one Etsy order, an API sale.
    journal.add(
        "2026-11-02T10:00:00Z",
        shop(),
        "MUG",
        change(MovementKind::Sale, 2),
        Some("o-1"),
    );
    journal.add(
        "2026-11-02T10:00:00Z",
        shop(),
        "MUG",
        change(MovementKind::Sale, 1),
        Some("o-1"),
    );
    journal.add(
        "2026-11-03T10:00:00Z",
        etsy(),
        "MUG",
        change(MovementKind::Sale, 3),
        Some("r-1"),
    );
    journal.add(
        "2026-11-03T11:00:00Z",
        Source::Api,
        "MUG",
        change(MovementKind::Sale, 1),
        None,
    );
    journal.add(
        "2026-11-04T10:00:00Z",
        etsy(),
        "MUG",
        change(MovementKind::Cancel, 1),
        Some("r-1"),
    );
    journal.add(
        "2026-11-05T10:00:00Z",
        shop(),
        "MUG",
        change(MovementKind::Ship, 3),
        Some("o-1"),
    );
    journal.add(
        "2026-11-06T10:00:00Z",
        Source::Api,
        "MUG",
        change(MovementKind::Receipt, 20),
        None,
    );
    journal.add(
        "2026-11-07T10:00:00Z",
        Source::Api,
        "MUG",
        change(MovementKind::Adjustment, -2),
        None,
    );
    journal.add(
        "2026-11-07T11:00:00Z",
        Source::Api,
        "MUG",
        change(MovementKind::Adjustment, 1),
        None,
    );
    journal.add(
        "2026-11-08T10:00:00Z",
        Source::Api,
        "MUG",
        change(MovementKind::Count, 20),
        None,
    );
    journal.add(
        "2026-11-09T10:00:00Z",
        shop(),
        "MUG",
        change(MovementKind::RefundRestock, 1),
        Some("o-1"),
    );
    // After the month: must not count.
    journal.add(
        "2026-12-01T00:00:00Z",
        shop(),
        "MUG",
        change(MovementKind::Sale, 5),
        Some("o-9"),
    );

    let report = build(november(), &inputs(journal), at("2026-12-02T00:00:00Z"));
    assert!(report.complete);
    assert_eq!((report.sales.orders, report.sales.units), (3, 7));
    type Line<'a> = (&'a str, Option<&'a str>, u64, i64, i64, i64);
    let by_source: Vec<Line> = report
        .sales
        .channels
        .iter()
        .map(|l| {
            (
                l.source.as_str(),
                l.platform.as_deref(),
                l.orders,
                l.units,
                l.cancelled_units,
                l.refunded_units,
            )
        })
        .collect();
    assert_eq!(
        by_source,
        [
            ("api", None, 1, 1, 0, 0),
            ("etsy", Some("etsy"), 1, 3, 1, 0),
            ("shop", Some("shopify"), 1, 3, 0, 1),
        ]
    );
    let m = &report.movements;
    assert_eq!((m.receipts, m.received_units), (1, 20));
    assert_eq!((m.adjustments, m.adjusted_in, m.adjusted_out), (2, 1, 2));
    // Before the count: 10 + 20 - 2 + 1 - 3 shipped = 26 on hand; counted to 20.
    assert_eq!((m.counts, m.counted_delta), (1, -6));
    assert_eq!(m.shipped_units, 3);
    let day = |d: &str| report.days.iter().find(|l| l.day == d).unwrap().clone();
    assert_eq!(day("2026-11-02").units_sold, 3);
    assert_eq!(day("2026-11-06").units_received, 20);
    assert_eq!(report.days.len(), 30);
}

#[test]
fn an_oversell_is_blamed_on_the_last_movement_that_lowered_the_stock() {
    let mut journal = Journal::default();
    let add = |j: &mut Journal, when: &str, source: Source, sku: &str, kind, q, order| {
        j.add(when, source, sku, change(kind, q), order)
    };
    // A: Etsy sells the last unit, then Shopify sells one more (sold elsewhere).
    add(
        &mut journal,
        "2026-11-01T00:00:00Z",
        Source::Import,
        "A",
        MovementKind::Count,
        1,
        None,
    );
    add(
        &mut journal,
        "2026-11-01T10:00:00Z",
        channel("etsy"),
        "A",
        MovementKind::Sale,
        1,
        Some("e1"),
    );
    add(
        &mut journal,
        "2026-11-01T10:00:01Z",
        channel("shop"),
        "A",
        MovementKind::Sale,
        1,
        Some("s1"),
    );
    // B: Shopify sells 2 then 2 more of 3 (same channel).
    add(
        &mut journal,
        "2026-11-01T00:00:00Z",
        Source::Import,
        "B",
        MovementKind::Count,
        3,
        None,
    );
    add(
        &mut journal,
        "2026-11-02T10:00:00Z",
        channel("shop"),
        "B",
        MovementKind::Sale,
        2,
        Some("s2"),
    );
    add(
        &mut journal,
        "2026-11-02T10:00:05Z",
        channel("shop"),
        "B",
        MovementKind::Sale,
        2,
        Some("s3"),
    );
    // C: a count lowers the stock, then a sale (stock corrected).
    add(
        &mut journal,
        "2026-11-01T00:00:00Z",
        Source::Import,
        "C",
        MovementKind::Count,
        5,
        None,
    );
    add(
        &mut journal,
        "2026-11-03T09:00:00Z",
        Source::Api,
        "C",
        MovementKind::Count,
        0,
        None,
    );
    add(
        &mut journal,
        "2026-11-03T09:00:01Z",
        channel("etsy"),
        "C",
        MovementKind::Sale,
        3,
        Some("e2"),
    );
    // D: never had stock.
    add(
        &mut journal,
        "2026-11-04T00:00:00Z",
        channel("etsy"),
        "D",
        MovementKind::Sale,
        1,
        Some("e3"),
    );
    // A comes back.
    add(
        &mut journal,
        "2026-11-05T00:00:00Z",
        Source::Api,
        "A",
        MovementKind::Receipt,
        5,
        None,
    );

    let report = build(november(), &inputs(journal), at("2026-11-20T00:00:00Z"));
    assert!(!report.complete);
    assert_eq!(report.to, "2026-11-20T00:00:00.000Z");
    let causes: Vec<(&str, u64, i64)> = report
        .oversells
        .causes
        .iter()
        .map(|c| (c.cause.as_str(), c.sales, c.units))
        .collect();
    assert_eq!(
        causes,
        [
            ("sold_elsewhere", 1, 1),
            ("same_channel", 1, 1),
            ("stock_corrected", 1, 3),
            ("never_in_stock", 1, 1)
        ]
    );
    assert_eq!((report.oversells.sales, report.oversells.units), (4, 6));
    assert_eq!(report.oversells.lines.len(), 4);
    // Stock-outs: A (then back on the 5th), B, C (by the count). D never had stock to lose.
    let outs: Vec<(&str, bool)> = report
        .stock
        .lines
        .iter()
        .map(|o| (o.sku.as_str(), o.back_at.is_some()))
        .collect();
    assert_eq!(outs, [("A", true), ("B", false), ("C", false)]);
    assert_eq!(report.stock.stockouts, 3);
    assert_eq!(report.stock.out_of_stock_at_end, 3);
}

#[test]
fn sync_health_reads_the_listing_history_and_the_throttle_tally() {
    let mut journal = Journal::default();
    journal.add(
        "2026-11-01T00:00:00Z",
        Source::Import,
        "A",
        change(MovementKind::Count, 10),
        None,
    );
    for (index, second) in (1..=10).enumerate() {
        journal.add(
            &format!("2026-11-02T10:00:{second:02}Z"),
            channel("etsy"),
            "A",
            change(MovementKind::Sale, 1),
            Some(&format!("e{index}")),
        );
    }
    let mut inputs = inputs(journal);
    let shop = ChannelId::parse("shop").unwrap();
    let sku = Sku::parse("A").unwrap();
    let event = |at_ms: u64, what| ListingEvent {
        channel: shop.clone(),
        sku: sku.clone(),
        at_ms,
        what,
    };
    // Sales 2..=11 confirmed on Shopify after 100, 200, … 1000 ms; the first one twice (a
    // second confirmation of the same change is not a second lag).
    for seq in 2..=11u64 {
        let changed = inputs.journal[seq as usize - 1].at_ms;
        let lag = (seq - 1) * 100;
        inputs.listing_events.push(event(
            changed + 1,
            ListingWhat::Sent {
                quantity: 1,
                ledger_seq: seq,
                policy: ListingPolicy::default(),
            },
        ));
        inputs.listing_events.push(event(
            changed + lag,
            ListingWhat::Confirmed {
                quantity: 1,
                ledger_seq: seq,
            },
        ));
    }
    inputs.listing_events.push(event(
        ms("2026-11-10T00:00:00Z"),
        ListingWhat::Confirmed {
            quantity: 1,
            ledger_seq: 2,
        },
    ));
    inputs.listing_events.push(event(
        ms("2026-11-11T00:00:00Z"),
        ListingWhat::Read {
            quantity: 4,
            drift: true,
        },
    ));
    inputs.listing_events.push(event(
        ms("2026-11-11T00:00:00Z"),
        ListingWhat::Read {
            quantity: 4,
            drift: false,
        },
    ));
    inputs.listing_events.push(event(
        ms("2026-11-12T00:00:00Z"),
        ListingWhat::Refused {
            quantity: 1,
            ledger_seq: 11,
            reason: RefusalReason::Invalid,
        },
    ));
    // Outside the month: not counted.
    inputs.listing_events.push(event(
        ms("2026-12-01T00:00:00Z"),
        ListingWhat::Read {
            quantity: 4,
            drift: true,
        },
    ));
    inputs.throttled.insert("etsy".into(), 7);
    inputs.throttled.insert("gone".into(), 3);

    let report = build(november(), &inputs, at("2026-12-05T00:00:00Z"));
    let shopify = report
        .sync
        .iter()
        .find(|l| l.platform == "shopify")
        .unwrap();
    assert_eq!(shopify.confirmed_changes, 10);
    assert_eq!(
        (shopify.lag_p50_ms, shopify.lag_p90_ms, shopify.lag_p99_ms),
        (Some(500), Some(900), Some(1000))
    );
    assert_eq!(
        (shopify.drift_corrected, shopify.refused, shopify.throttled),
        (1, 1, 0)
    );
    let etsy = report.sync.iter().find(|l| l.platform == "etsy").unwrap();
    assert_eq!(
        (etsy.throttled, etsy.confirmed_changes, etsy.lag_p50_ms),
        (7, 0, None)
    );
    assert_eq!(report.sync.len(), 2, "{:?}", report.sync);
}

fn entry(id: u64, kind: QueueKind, first_seen: &str, target_hours: i64) -> QueueEntry {
    let first_seen = at(first_seen);
    QueueEntry {
        id,
        kind,
        dedupe: format!("d{id}"),
        source: None,
        sku: Some(Sku::parse("A").unwrap()),
        order_id: None,
        line: None,
        units: 1,
        detail: None,
        reason: None,
        key: None,
        ledger_id: None,
        journal_seq: None,
        first_seen,
        last_seen: first_seen,
        count: 1,
        state: WorkState::Open,
        assignee: None,
        due_at: first_seen + Duration::hours(target_hours),
        resolution: None,
        trail: Vec::new(),
        escalated: false,
        reminded: false,
    }
}

fn resolve(entry: &mut QueueEntry, when: &str) {
    let who = Actor {
        id: "m1".into(),
        name: "Ann".into(),
    };
    entry
        .apply(
            Transition::Resolve {
                resolution: Resolution::Fixed,
            },
            &who,
            None,
            at(when),
        )
        .unwrap();
}

#[test]
fn exceptions_are_counted_by_when_raised_and_resolved_against_their_due_time() {
    let mut inputs = inputs(Journal::default());
    // Raised in October, resolved in November within its day.
    let mut a = entry(1, QueueKind::Oversold, "2026-10-31T20:00:00Z", 24);
    resolve(&mut a, "2026-11-01T02:00:00Z");
    // Raised and resolved late in November.
    let mut b = entry(2, QueueKind::Oversold, "2026-11-02T00:00:00Z", 24);
    resolve(&mut b, "2026-11-04T00:00:00Z");
    // Raised in November, still open.
    let c = entry(3, QueueKind::Reorder, "2026-11-03T00:00:00Z", 24);
    // Raised in November, resolved in December: open at the month's end.
    let mut d = entry(4, QueueKind::ListingMissing, "2026-11-30T20:00:00Z", 24);
    resolve(&mut d, "2026-12-01T01:00:00Z");
    // Raised in December: nothing of November.
    let e = entry(5, QueueKind::Reorder, "2026-12-01T01:00:00Z", 24);
    inputs.queue = vec![a, b, c, d, e];

    let report = build(november(), &inputs, at("2026-12-02T00:00:00Z"));
    let x = &report.exceptions;
    assert_eq!(
        (
            x.raised,
            x.resolved,
            x.resolved_within_target,
            x.open_at_end
        ),
        (3, 2, 1, 2)
    );
    assert_eq!(x.target_hours, 24.0);
    // 6 h and 48 h: nearest-rank median is the first.
    assert_eq!(
        (x.median_hours_to_resolve, x.p90_hours_to_resolve),
        (Some(6.0), Some(48.0))
    );
    let time_to_resolve = |report: &MonthlyReport| {
        pdf::summary_lines(report)
            .into_iter()
            .find(|(label, _)| label == "Time to resolve")
            .unwrap()
            .1
    };
    assert_eq!(time_to_resolve(&report), "median 6.0 h, p90 48.0 h");
    let mut quick = report.clone();
    quick.exceptions.median_hours_to_resolve = Some(0.05);
    quick.exceptions.p90_hours_to_resolve = None;
    assert_eq!(time_to_resolve(&quick), "median 3 min, p90 -");
    let kinds: Vec<(&str, u64, u64, u64)> = x
        .kinds
        .iter()
        .map(|k| {
            (
                k.kind.as_str(),
                k.raised,
                k.resolved,
                k.resolved_within_target,
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("oversold", 1, 2, 1),
            ("reorder", 1, 0, 0),
            ("listing_missing", 1, 0, 0)
        ]
    );
    assert_eq!(
        (
            report.stock.reorder_alerts,
            report.stock.reorder_skus.clone()
        ),
        (1, vec!["A".to_string()])
    );
}

#[test]
fn the_pdf_is_a_pdf_carrying_the_same_summary() {
    let mut journal = Journal::default();
    journal.add(
        "2026-11-01T00:00:00Z",
        Source::Import,
        "A",
        change(MovementKind::Count, 10),
        None,
    );
    journal.add(
        "2026-11-02T00:00:00Z",
        channel("shop"),
        "A",
        change(MovementKind::Sale, 4),
        Some("o1"),
    );
    let mut inputs = inputs(journal);
    inputs.client_name = "Café (Ünïcode) ☕".into();
    let report = build(november(), &inputs, at("2026-12-02T00:00:00Z"));
    let pdf = pdf::render(&report);
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
    let text = String::from_utf8_lossy(&pdf);
    for (label, value) in pdf::summary_lines(&report) {
        let line = format!("({label}: {value}) Tj");
        assert!(text.contains(&line), "{line} is not in the PDF");
    }
    assert!(text.contains("(Units sold: 4) Tj"));
}

#[test]
fn opening_states_folded_from_the_months_before_give_the_same_report_as_the_whole_journal() {
    let mut journal = Journal::default();
    let add = |j: &mut Journal, when: &str, source: Source, sku: &str, kind, q, order| {
        j.add(when, source, sku, change(kind, q), order)
    };
    // Before November: stock, a sale that empties A on Etsy, a count that lowers B.
    add(
        &mut journal,
        "2026-10-01T00:00:00Z",
        Source::Import,
        "A",
        MovementKind::Count,
        2,
        None,
    );
    add(
        &mut journal,
        "2026-10-01T00:00:00Z",
        Source::Import,
        "B",
        MovementKind::Count,
        9,
        None,
    );
    add(
        &mut journal,
        "2026-10-30T10:00:00Z",
        channel("etsy"),
        "A",
        MovementKind::Sale,
        2,
        Some("e1"),
    );
    add(
        &mut journal,
        "2026-10-31T10:00:00Z",
        Source::Api,
        "B",
        MovementKind::Count,
        1,
        None,
    );
    // November: Shopify oversells both; B runs out.
    add(
        &mut journal,
        "2026-11-02T10:00:00Z",
        channel("shop"),
        "A",
        MovementKind::Sale,
        1,
        Some("s1"),
    );
    add(
        &mut journal,
        "2026-11-02T11:00:00Z",
        channel("shop"),
        "B",
        MovementKind::Sale,
        2,
        Some("s2"),
    );
    let whole = inputs(journal);
    let mut folded = whole.clone();
    let start = november().start().timestamp_millis() as u64;
    folded.journal.retain(|entry| entry.at_ms >= start);
    for entry in whole.journal.iter().filter(|entry| entry.at_ms < start) {
        folded
            .opening
            .entry(entry.sku.clone())
            .or_default()
            .apply(entry);
    }
    assert_eq!(folded.journal.len(), 2);
    let now = at("2026-12-02T00:00:00Z");
    let report = build(november(), &folded, now);
    assert_eq!(report, build(november(), &whole, now));
    let causes: Vec<(&str, u64)> = report
        .oversells
        .causes
        .iter()
        .map(|c| (c.cause.as_str(), c.sales))
        .collect();
    assert_eq!(
        causes,
        [
            ("sold_elsewhere", 1),
            ("same_channel", 0),
            ("stock_corrected", 1),
            ("never_in_stock", 0)
        ]
    );
    assert_eq!(
        (report.stock.stockouts, report.stock.out_of_stock_at_end),
        (1, 2)
    );
}
