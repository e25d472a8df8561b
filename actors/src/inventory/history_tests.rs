//! The history's types, retention and the explain computation, without sled or actix.

use super::*;
use crate::inventory::ledger::{Change, IdempotencyKey, Source, Units};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

fn channel() -> ChannelId {
    ChannelId::parse("etsy").unwrap()
}

fn sku() -> Sku {
    Sku::parse("HAT").unwrap()
}

fn event(id: u64, at_ms: u64, what: ListingWhat) -> RecordedEvent {
    RecordedEvent {
        id,
        event: ListingEvent {
            channel: channel(),
            sku: sku(),
            at_ms,
            what,
        },
    }
}

fn sent(quantity: u32, ledger_seq: u64) -> ListingWhat {
    ListingWhat::Sent {
        quantity,
        ledger_seq,
        policy: ListingPolicy::default(),
    }
}

fn confirmed(quantity: u32, ledger_seq: u64) -> ListingWhat {
    ListingWhat::Confirmed {
        quantity,
        ledger_seq,
    }
}

/// A receipt of `units` (on hand grows) at `seq`, `at_ms`.
fn receipt(seq: u64, at_ms: u64, units: i64) -> JournalEntry {
    JournalEntry {
        seq,
        at_ms,
        key: IdempotencyKey::parse(&format!("k{seq}")).unwrap(),
        source: Source::Api,
        sku: sku(),
        change: Change::Receipt(Units::new(units).unwrap()),
        on_hand_delta: units,
        reserved_delta: 0,
        oversold_units: 0,
        order: None,
    }
}

fn input<'a>(
    at_ms: u64,
    events: &'a [RecordedEvent],
    entries: &'a [JournalEntry],
    on_hand: i64,
) -> ExplainInput<'a> {
    ExplainInput {
        at_ms,
        events,
        entries,
        window_cut: false,
        on_hand,
        reserved: 0,
        policy_now: ListingPolicy::default(),
    }
}

#[test]
fn an_event_is_stored_as_flat_json_with_a_stable_kind() {
    let stored = serde_json::to_value(event(7, 1_000, sent(3, 2))).unwrap();
    assert_eq!(
        stored,
        serde_json::json!({"id": 7, "channel": "etsy", "sku": "HAT", "at_ms": 1000,
            "kind": "sent", "quantity": 3, "ledger_seq": 2,
            "policy": {"buffer": 0, "percent": 100, "max": null, "zero_below": 0}})
    );
    let back: RecordedEvent = serde_json::from_value(stored).unwrap();
    assert_eq!(back, event(7, 1_000, sent(3, 2)));
}

#[test]
fn only_permanent_failures_are_refusals() {
    let permanent = MarketplaceError::Permanent {
        kind: PermanentKind::NotFound,
        message: "gone".into(),
    };
    assert_eq!(RefusalReason::of(&permanent), Some(RefusalReason::NotFound));
    for retried in [
        MarketplaceError::Throttled { retry_after: None },
        MarketplaceError::Transient("502".into()),
        MarketplaceError::Timeout,
        MarketplaceError::Stale,
    ] {
        assert_eq!(RefusalReason::of(&retried), None, "{retried}");
    }
}

#[test]
fn retention_drops_old_events_but_keeps_what_explains_the_cutoff() {
    let now = 200 * DAY_MS;
    let old = now - HISTORY_RETENTION_MS - 1;
    // Two old shown events, an old sent one, and a recent one.
    let events = [
        (1, old - 10, true),
        (2, old - 5, false),
        (3, old, true),
        (4, now - DAY_MS, true),
    ];
    assert_eq!(
        prune_plan(&events, now),
        vec![1, 2],
        "the last old shown event stays"
    );
    // Nothing is old: nothing goes.
    assert!(prune_plan(&events, old).is_empty());
}

#[test]
fn the_cap_drops_the_oldest_events_first() {
    let now = 10 * DAY_MS;
    let events: Vec<(u64, u64, bool)> = (0..MAX_EVENTS_PER_LISTING as u64 + 3)
        .map(|id| (id, now - 1_000 + id, true))
        .collect();
    assert_eq!(prune_plan(&events, now), vec![0, 1, 2]);
}

#[test]
fn explain_gives_the_number_shown_at_an_instant_and_the_entries_behind_it() {
    // Stock 4 at seq 1 (t=100), pushed and confirmed (t=110..120); 6 more at seq 2 (t=200),
    // pushed at t=210, confirmed at t=230.
    let entries = [receipt(1, 100, 4), receipt(2, 200, 6)];
    let events = [
        event(1, 110, sent(4, 1)),
        event(2, 120, confirmed(4, 1)),
        event(3, 210, sent(10, 2)),
        event(4, 230, confirmed(10, 2)),
    ];
    let at_150 = explain(&input(150, &events, &entries, 10));
    assert_eq!((at_150.shown, at_150.since_ms), (Some(4), Some(120)));
    let from = at_150.computed_from.unwrap();
    assert_eq!(from.ledger_seq, 1);
    assert_eq!(from.policy, Some(ListingPolicy::default()));
    assert_eq!(
        from.available_at_seq,
        Some(LevelAt {
            on_hand: 4,
            reserved: 0,
            available: 4
        })
    );
    assert_eq!(from.entries, vec![entries[0].clone()]);
    assert!(!from.entries_cut);
    assert_eq!(at_150.pending, None, "nothing newer by then");

    // Between the second change and its confirmation: 4 shown, 10 pending, sent and confirmed
    // later.
    let at_220 = explain(&input(220, &events, &entries, 10));
    assert_eq!(at_220.shown, Some(4));
    assert_eq!(
        at_220.pending,
        Some(Pending {
            ledger_seq: 2,
            available: 10,
            target: 10,
            since_ms: 200,
            why: PendingWhy::SentNotConfirmed {
                sent_at_ms: 210,
                quantity: 10,
                ledger_seq: 2,
                confirmed_at_ms: Some(230),
            },
        })
    );
    // Before the push was sent: nothing sent yet.
    let at_205 = explain(&input(205, &events, &entries, 10));
    assert_eq!(at_205.pending.unwrap().why, PendingWhy::NotSent);

    let at_300 = explain(&input(300, &events, &entries, 10));
    assert_eq!((at_300.shown, at_300.pending), (Some(10), None));
    assert_eq!(at_300.computed_from.unwrap().entries, entries.to_vec());
}

#[test]
fn before_any_event_nothing_is_shown() {
    let entries = [receipt(1, 100, 4)];
    let events = [event(1, 110, sent(4, 1)), event(2, 120, confirmed(4, 1))];
    let explained = explain(&input(115, &events, &entries, 4));
    assert_eq!(explained.shown, None);
    assert!(explained.pending.is_none() && explained.evidence.is_none());
}

#[test]
fn a_refused_push_is_why_the_number_is_pending() {
    let entries = [receipt(1, 100, 4), receipt(2, 200, 1)];
    let events = [
        event(1, 110, sent(4, 1)),
        event(2, 120, confirmed(4, 1)),
        event(3, 210, sent(5, 2)),
        event(
            4,
            220,
            ListingWhat::Refused {
                quantity: 5,
                ledger_seq: 2,
                reason: RefusalReason::ListingSuspended,
            },
        ),
    ];
    let explained = explain(&input(500, &events, &entries, 5));
    assert_eq!(explained.shown, Some(4));
    assert_eq!(
        explained.pending.unwrap().why,
        PendingWhy::Refused {
            at_ms: 220,
            quantity: 5,
            reason: RefusalReason::ListingSuspended
        }
    );
}

#[test]
fn a_drifted_read_is_shown_with_no_computation_and_since_runs_over_repeats() {
    let entries = [receipt(1, 100, 4)];
    let events = [
        event(1, 110, sent(4, 1)),
        event(2, 120, confirmed(4, 1)),
        event(
            3,
            300,
            ListingWhat::Read {
                quantity: 9,
                drift: true,
            },
        ),
        event(4, 310, sent(4, 1)),
        event(5, 320, confirmed(4, 1)),
        event(6, 400, confirmed(4, 1)),
    ];
    let during_drift = explain(&input(305, &events, &entries, 4));
    assert_eq!(during_drift.shown, Some(9));
    assert!(during_drift.computed_from.is_none());
    let pending = during_drift.pending.unwrap();
    assert_eq!((pending.target, pending.since_ms), (4, 300));
    let later = explain(&input(450, &events, &entries, 4));
    assert_eq!(
        (later.shown, later.since_ms),
        (Some(4), Some(320)),
        "since: the first of the confirmations in a row"
    );
}

#[test]
fn the_level_at_a_sequence_older_than_the_window_is_unknown() {
    let entries = [receipt(5, 100, 4)];
    let events = [event(1, 110, confirmed(7, 3))];
    let explained = explain(&ExplainInput {
        window_cut: true,
        ..input(200, &events, &entries, 11)
    });
    let from = explained.computed_from.unwrap();
    assert_eq!(from.available_at_seq, None);
    assert!(from.entries.is_empty());
}
