use chrono::{DateTime, Duration, NaiveDate, Utc};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::inventory::ledger::{
    Change, IdempotencyKey, JournalEntry, MovementKind, Source,
};

use super::*;

fn t0() -> DateTime<Utc> {
    "2026-12-01T09:00:00Z".parse().unwrap()
}

fn day(n: i64) -> DateTime<Utc> {
    t0() + Duration::days(n)
}

fn entry(seq: u64, at: DateTime<Utc>, kind: MovementKind, quantity: i64) -> JournalEntry {
    JournalEntry {
        seq,
        at_ms: u64::try_from(at.timestamp_millis()).unwrap(),
        key: IdempotencyKey::parse(&format!("k{seq}")).unwrap(),
        source: Source::Api,
        sku: Sku::parse("ACME-MUG").unwrap(),
        change: Change::new(kind, quantity).unwrap(),
        on_hand_delta: 0,
        reserved_delta: 0,
        oversold_units: 0,
        order: None,
    }
}

/// A history beginning with a count at `t0`, then `movements` (at, kind, quantity).
fn history(movements: &[(DateTime<Utc>, MovementKind, i64)]) -> SalesHistory {
    let mut entries = vec![entry(1, t0(), MovementKind::Count, 100)];
    for (index, (at, kind, quantity)) in movements.iter().enumerate() {
        entries.push(entry(index as u64 + 2, *at, *kind, *quantity));
    }
    SalesHistory {
        first_movement: Some(t0()),
        entries,
    }
}

/// Five units sold at `t0` and at every day after it up to `days`.
fn steady(days: i64) -> SalesHistory {
    let sales: Vec<_> = (0..=days)
        .map(|n| (day(n), MovementKind::Sale, 5))
        .collect();
    history(&sales)
}

fn lead(days: u16, safety: u16) -> ReorderSettings {
    ReorderSettings::new(None, Some(days), Some(safety)).unwrap()
}

#[test]
fn settings_are_checked_with_their_documented_bounds() {
    let ok = ReorderSettings::new(Some(0), Some(1), Some(0)).unwrap();
    assert_eq!(ok.reorder_point(), Some(0));
    assert_eq!(ok.horizon_days(), Some(1));
    assert!(ReorderSettings::new(Some(MAX_REORDER_POINT), Some(365), Some(365)).is_ok());
    assert!(ReorderSettings::new(Some(10), None, None).is_ok());
    let refused = [
        (Some(MAX_REORDER_POINT + 1), Some(5), None),
        (None, Some(0), None),
        (None, Some(366), None),
        (None, Some(5), Some(366)),
        (Some(10), None, Some(2)),
        (None, None, None),
    ];
    for (point, lead, safety) in refused {
        assert!(
            ReorderSettings::new(point, lead, safety).is_err(),
            "{point:?} {lead:?} {safety:?}"
        );
    }
    assert!(matches!(
        ReorderSettings::new(None, None, None),
        Err(ReplenishmentError::NoTrigger)
    ));
    assert!(matches!(
        ReorderSettings::new(Some(1), None, Some(2)),
        Err(ReplenishmentError::SafetyWithoutLeadTime)
    ));
}

#[test]
fn settings_travel_as_their_body_and_a_stored_bad_one_does_not_load() {
    let settings = ReorderSettings::new(Some(12), Some(5), None).unwrap();
    let json = serde_json::to_value(settings).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"reorder_point": 12, "lead_time_days": 5, "safety_days": 0})
    );
    assert_eq!(
        serde_json::from_value::<ReorderSettings>(json).unwrap(),
        settings
    );
    let point_only = ReorderSettings::new(Some(3), None, None).unwrap();
    assert_eq!(
        serde_json::to_value(point_only).unwrap(),
        serde_json::json!({"reorder_point": 3, "lead_time_days": null, "safety_days": null})
    );
    for bad in [
        serde_json::json!({"lead_time_days": 0}),
        serde_json::json!({}),
        serde_json::json!({"lead_time_days": 5, "colour": 1}),
    ] {
        assert!(
            serde_json::from_value::<ReorderSettings>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn only_sales_net_of_cancellations_and_returns_count() {
    let entries = history(&[
        (day(1), MovementKind::Sale, 10),
        (day(1), MovementKind::Ship, 10),
        (day(2), MovementKind::Receipt, 50),
        (day(2), MovementKind::Adjustment, -3),
        (day(3), MovementKind::Cancel, 2),
        (day(3), MovementKind::RefundRestock, 1),
        (day(3), MovementKind::Count, 7),
    ]);
    let velocity = velocity(&entries, day(7), 7);
    // The window is (day 0, day 7]: 10 sold, 2 cancelled, 1 returned.
    assert_eq!(velocity.units, 7);
    assert_eq!(velocity.span_ms, 7 * DAY_MS);
    assert_eq!(velocity.per_day(), 1.0);
}

#[test]
fn cancellations_of_older_sales_never_make_demand_negative() {
    let entries = history(&[
        (day(1), MovementKind::Sale, 5),
        (day(20), MovementKind::Cancel, 5),
    ]);
    let short = velocity(&entries, day(21), 7);
    assert_eq!(short.units, 0, "only the cancellation is in the 7 days");
    let long = velocity(&entries, day(21), 28);
    assert_eq!(long.units, 0, "the sale and its cancellation cancel out");
}

#[test]
fn windows_shrink_to_a_young_skus_history_but_not_below_a_day() {
    // Five a day from day 0: every window gives 5 a day, from the first day on.
    for days in 0..40 {
        let history = steady(days);
        for window in [7, 28] {
            let velocity = velocity(&history, day(days), window);
            assert_eq!(velocity.per_day(), 5.0, "day {days}, window {window}");
        }
    }
    // Within the first day the window is a whole day: 5 sold an hour after import is 5 a day.
    let early = history(&[(t0() + Duration::hours(1), MovementKind::Sale, 5)]);
    let velocity = velocity(&early, t0() + Duration::hours(1), 7);
    assert_eq!((velocity.units, velocity.span_ms), (5, DAY_MS));
}

#[test]
fn sales_older_than_the_window_and_after_now_are_left_out() {
    let entries = history(&[
        (day(1), MovementKind::Sale, 100),
        (day(30), MovementKind::Sale, 14),
        (day(40), MovementKind::Sale, 1_000),
    ]);
    assert_eq!(velocity(&entries, day(35), 7).units, 14);
    assert_eq!(velocity(&entries, day(35), 28).units, 14);
}

#[test]
fn the_faster_velocity_sets_the_cover() {
    // 28 quiet days at 1 a day, then a week at 10 a day.
    let mut sales: Vec<_> = (1..=21).map(|n| (day(n), MovementKind::Sale, 1)).collect();
    sales.extend((22..=28).map(|n| (day(n), MovementKind::Sale, 10)));
    let busy = history(&sales);
    let assessment = assess(&busy, 100, Some(&lead(5, 0)), day(28));
    assert_eq!(assessment.velocity_7d.per_day(), 10.0);
    assert_eq!(assessment.velocity_28d.units, 21 + 70);
    assert_eq!(assessment.days_of_cover, Some(10.0));
    assert_eq!(assessment.projected_stockout, Some(day(38)));
    assert_eq!(assessment.reorder_by, Some(day(33)));
    assert!(!assessment.alert());
    // The same slowdown the other way: a quiet week after a busy month is judged by the month.
    let sales: Vec<_> = (1..=21).map(|n| (day(n), MovementKind::Sale, 4)).collect();
    let quiet = history(&sales);
    let assessment = assess(&quiet, 30, Some(&lead(5, 0)), day(28));
    assert_eq!(assessment.velocity_7d.units, 0);
    assert_eq!(assessment.velocity_28d.per_day(), 3.0);
    assert_eq!(assessment.days_of_cover, Some(10.0));
}

#[test]
fn a_steady_seller_alerts_exactly_when_the_stock_out_enters_the_lead_time() {
    // 100 on hand, 5 sold every day from day 0, lead time 5 days: cover = available / 5, so the
    // alert starts the day available reaches 25 (day 14) and not the day before.
    let settings = lead(5, 0);
    for days in 0..19 {
        let available = 100 - 5 * (days + 1);
        let assessment = assess(&steady(days), available, Some(&settings), day(days));
        let cover = available as f64 / 5.0;
        assert_eq!(assessment.days_of_cover, Some(cover), "day {days}");
        assert_eq!(
            assessment.projected_stockout,
            Some(day(days) + Duration::days(available / 5)),
            "day {days}"
        );
        assert_eq!(
            assessment.alert(),
            days >= 14,
            "day {days}: available {available}"
        );
    }
    let day_14 = assess(&steady(14), 25, Some(&settings), day(14));
    assert_eq!(day_14.reasons, [AlertReason::StockoutWithinLeadTime]);
    assert_eq!(day_14.reorder_by, Some(day(14)));
    // Safety days move the alert earlier by as many days.
    let safer = lead(5, 2);
    assert!(!assess(&steady(11), 40, Some(&safer), day(11)).alert());
    assert!(assess(&steady(12), 35, Some(&safer), day(12)).alert());
}

#[test]
fn no_sales_means_no_stock_out_and_only_the_reorder_point_alerts() {
    let idle = history(&[(day(1), MovementKind::Receipt, 10)]);
    let settings = ReorderSettings::new(Some(20), Some(5), None).unwrap();
    let assessment = assess(&idle, 50, Some(&settings), day(10));
    assert_eq!(
        (
            assessment.velocity_7d.units,
            assessment.days_of_cover,
            assessment.projected_stockout,
            assessment.reorder_by
        ),
        (0, None, None, None)
    );
    assert!(!assessment.alert());
    let low = assess(&idle, 20, Some(&settings), day(10));
    assert_eq!(low.reasons, [AlertReason::AtOrBelowReorderPoint]);
    // A SKU that never moved at all.
    let never = assess(&SalesHistory::default(), 0, Some(&settings), day(10));
    assert_eq!(never.velocity_28d.units, 0);
}

#[test]
fn zero_or_negative_stock_is_out_now() {
    let settings = lead(5, 0);
    for available in [0, -3] {
        let assessment = assess(&steady(3), available, Some(&settings), day(3));
        assert_eq!(assessment.days_of_cover, Some(0.0));
        assert_eq!(assessment.projected_stockout, Some(day(3)));
        assert_eq!(assessment.reasons, [AlertReason::StockoutWithinLeadTime]);
    }
    // Zero stock that never sold: out now too, and the reorder point says so.
    let point = ReorderSettings::new(Some(0), None, None).unwrap();
    let idle = assess(&SalesHistory::default(), 0, Some(&point), day(3));
    assert_eq!(idle.reasons, [AlertReason::AtOrBelowReorderPoint]);
}

#[test]
fn a_sku_without_settings_is_assessed_but_never_alerts() {
    let assessment = assess(&steady(10), 0, None, day(10));
    assert_eq!(assessment.velocity_7d.per_day(), 5.0);
    assert_eq!(assessment.projected_stockout, Some(day(10)));
    assert_eq!(assessment.reorder_by, None);
    assert!(!assessment.alert());
    let line = ReorderLine::new(Sku::parse("ACME-MUG").unwrap(), None, 0, &assessment);
    assert!(!line.alert && line.reasons.is_empty());
    assert_eq!(
        line.projected_stockout,
        NaiveDate::from_ymd_opt(2026, 12, 11)
    );
}

#[test]
fn a_reorder_point_alone_alerts_at_or_below_it() {
    let settings = ReorderSettings::new(Some(30), None, None).unwrap();
    assert!(!assess(&steady(5), 31, Some(&settings), day(5)).alert());
    let at = assess(&steady(5), 30, Some(&settings), day(5));
    assert_eq!(at.reasons, [AlertReason::AtOrBelowReorderPoint]);
    // Without a lead time a stock-out tomorrow does not alert by itself, and no reorder-by.
    assert_eq!(at.reorder_by, None);
}

#[test]
fn both_reasons_are_given_when_both_hold() {
    let settings = ReorderSettings::new(Some(10), Some(5), Some(1)).unwrap();
    let assessment = assess(&steady(5), 10, Some(&settings), day(5));
    assert_eq!(
        assessment.reasons,
        [
            AlertReason::AtOrBelowReorderPoint,
            AlertReason::StockoutWithinLeadTime
        ]
    );
}

#[test]
fn a_very_slow_seller_projects_no_date_beyond_ten_years() {
    let slow = history(&[(day(1), MovementKind::Sale, 1)]);
    let assessment = assess(&slow, 1_000_000_000, Some(&lead(5, 0)), day(28));
    assert!(assessment.days_of_cover.unwrap() > MAX_PROJECTION_DAYS as f64);
    assert_eq!(
        (assessment.projected_stockout, assessment.reorder_by),
        (None, None)
    );
    assert!(!assessment.alert());
}

#[test]
fn a_line_rounds_what_it_shows() {
    let one_sale = history(&[(day(1), MovementKind::Sale, 1)]);
    let assessment = assess(&one_sale, 10, Some(&lead(5, 0)), day(7));
    let line = ReorderLine::new(
        Sku::parse("ACME-MUG").unwrap(),
        Some(lead(5, 0)),
        10,
        &assessment,
    );
    assert_eq!(line.velocity_7d, 0.143);
    assert_eq!(line.days_of_cover, Some(70.0));
    assert_eq!(line.reorder_by, NaiveDate::from_ymd_opt(2027, 2, 11));
}
