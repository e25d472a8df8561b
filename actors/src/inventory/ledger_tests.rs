use proptest::prelude::*;

use super::*;
use crate::testing::ledger::EDGE_QUANTITIES;

fn balance(on_hand: i64, reserved: i64) -> Balance {
    Balance {
        on_hand,
        reserved,
        last_seq: 0,
    }
}

fn change(kind: MovementKind, quantity: i64) -> Change {
    Change::new(kind, quantity).unwrap()
}

#[test]
fn sale_reserves_and_counts_only_the_uncovered_units_as_oversold() {
    let effect = effect_of(&balance(5, 3), change(MovementKind::Sale, 4)).unwrap();
    assert_eq!(
        effect,
        Effect {
            on_hand_delta: 0,
            reserved_delta: 4,
            oversold_units: 2
        }
    );
    let covered = effect_of(&balance(5, 0), change(MovementKind::Sale, 5)).unwrap();
    assert_eq!(covered.oversold_units, 0);
    let already_negative = effect_of(&balance(0, 2), change(MovementKind::Sale, 3)).unwrap();
    assert_eq!(already_negative.oversold_units, 3);
}

#[test]
fn ship_and_cancel_release_the_reservation() {
    let ship = effect_of(&balance(5, 3), change(MovementKind::Ship, 2)).unwrap();
    assert_eq!((ship.on_hand_delta, ship.reserved_delta), (-2, -2));
    let cancel = effect_of(&balance(5, 3), change(MovementKind::Cancel, 3)).unwrap();
    assert_eq!((cancel.on_hand_delta, cancel.reserved_delta), (0, -3));
    assert_eq!(
        effect_of(&balance(5, 3), change(MovementKind::Cancel, 4)).unwrap_err(),
        Rejection::ExceedsReserved {
            kind: MovementKind::Cancel,
            quantity: 4,
            reserved: 3
        }
    );
}

#[test]
fn count_journals_the_delta() {
    assert_eq!(
        effect_of(&balance(7, 1), change(MovementKind::Count, 4))
            .unwrap()
            .on_hand_delta,
        -3
    );
    assert_eq!(
        effect_of(&balance(7, 1), change(MovementKind::Count, 7))
            .unwrap()
            .on_hand_delta,
        0
    );
}

#[test]
fn balances_stay_in_range() {
    let huge = balance(BALANCE_LIMIT, 0);
    assert_eq!(
        effect_of(&huge, change(MovementKind::Receipt, 1)),
        Err(Rejection::OutOfRange)
    );
    let deep = balance(-BALANCE_LIMIT, 0);
    assert_eq!(
        effect_of(&deep, change(MovementKind::Adjustment, -1)),
        Err(Rejection::OutOfRange)
    );
    let full = balance(0, BALANCE_LIMIT);
    assert_eq!(
        effect_of(&full, change(MovementKind::Sale, 1)),
        Err(Rejection::OutOfRange)
    );
    // A damaged balance is refused, not wrapped: its `available` does not fit an i64.
    let damaged = balance(i64::MIN, 1);
    assert_eq!(damaged.available(), Err(Rejection::OutOfRange));
    for kind in MovementKind::ALL {
        let quantity = if kind == MovementKind::Adjustment {
            -1
        } else {
            1
        };
        assert!(
            effect_of(&damaged, change(kind, quantity)).is_err(),
            "{kind}"
        );
    }
}

#[test]
fn quantities_are_checked_per_kind() {
    assert!(Change::new(MovementKind::Sale, 0).is_err());
    assert!(Change::new(MovementKind::Receipt, -1).is_err());
    assert!(Change::new(MovementKind::Sale, MAX_QUANTITY + 1).is_err());
    assert!(Change::new(MovementKind::Sale, MAX_QUANTITY).is_ok());
    assert!(Change::new(MovementKind::Adjustment, -3).is_ok());
    assert!(Change::new(MovementKind::Adjustment, -MAX_QUANTITY).is_ok());
    assert!(Change::new(MovementKind::Adjustment, 0).is_err());
    assert!(Change::new(MovementKind::Adjustment, i64::MIN).is_err());
    assert!(Change::new(MovementKind::Count, 0).is_ok());
    assert!(Change::new(MovementKind::Count, -1).is_err());
    assert_eq!(
        Change::new(MovementKind::Adjustment, i64::MIN)
            .unwrap_err()
            .to_string(),
        "quantity -9223372036854775808 is not allowed for a adjustment movement: expected a \
         non-zero delta between -1000000000 and 1000000000"
    );
}

#[test]
fn the_expected_ranges_name_the_bound() {
    // The messages spell MAX_QUANTITY out; they must follow it if it ever changes.
    for kind in MovementKind::ALL {
        let error = Change::new(kind, i64::MAX).unwrap_err();
        assert!(
            error.to_string().contains(&MAX_QUANTITY.to_string()),
            "{error}"
        );
    }
}

#[test]
fn a_change_is_written_as_kind_and_quantity_and_read_back_checked() {
    let written = serde_json::to_value(change(MovementKind::RefundRestock, 2)).unwrap();
    assert_eq!(
        written,
        serde_json::json!({"kind": "refund_restock", "quantity": 2})
    );
    let read: Change = serde_json::from_value(written).unwrap();
    assert_eq!(read, change(MovementKind::RefundRestock, 2));
    for bad in [
        serde_json::json!({"kind": "receipt", "quantity": -1}),
        serde_json::json!({"kind": "adjustment", "quantity": i64::MIN}),
        serde_json::json!({"kind": "count", "quantity": 1e30}),
    ] {
        assert!(
            serde_json::from_value::<Change>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn inputs_are_parsed_with_typed_errors() {
    let input = |kind: &str, quantity| MovementInput {
        key: "k-1".into(),
        source: "channel:etsy".into(),
        sku: " acme-hat ".into(),
        kind: kind.into(),
        quantity,
    };
    let movement = Movement::parse(&input("sale", 2)).unwrap();
    assert_eq!(movement.sku.as_str(), "ACME-HAT");
    assert_eq!(MovementInput::from(&movement), {
        let mut normalised = input("sale", 2);
        normalised.sku = "ACME-HAT".into();
        normalised
    });
    assert_eq!(
        Movement::parse(&input("steal", 1)).unwrap_err().kind(),
        "unknown_movement_kind"
    );
    assert_eq!(
        Movement::parse(&input("sale", -2)).unwrap_err().kind(),
        "quantity_out_of_range"
    );
    let bad_source = MovementInput {
        source: "ebay".into(),
        ..input("sale", 1)
    };
    assert_eq!(
        Movement::parse(&bad_source).unwrap_err().kind(),
        "invalid_source"
    );
    let bad_sku = MovementInput {
        sku: "".into(),
        ..input("sale", 1)
    };
    assert_eq!(Movement::parse(&bad_sku).unwrap_err().kind(), "invalid_sku");
    let bad_key = MovementInput {
        key: "x".repeat(256),
        ..input("sale", 1)
    };
    assert_eq!(
        Movement::parse(&bad_key).unwrap_err().kind(),
        "invalid_idempotency_key"
    );
}

#[test]
fn order_event_keys_are_built_from_the_natural_key() {
    let channel = ChannelId::parse("shopify").unwrap();
    let key = IdempotencyKey::order_event(&channel, "4501", 2, "v3").unwrap();
    assert_eq!(key.as_str(), "order:shopify:4501:2:v3");
}

fn entry(seq: u64, sku: &str, on_hand_delta: i64, reserved_delta: i64) -> JournalEntry {
    JournalEntry {
        seq,
        at_ms: 0,
        key: IdempotencyKey::parse(&format!("k{seq}")).unwrap(),
        source: Source::Api,
        sku: Sku::parse(sku).unwrap(),
        change: change(MovementKind::Adjustment, 1),
        on_hand_delta,
        reserved_delta,
        oversold_units: 0,
        order: None,
    }
}

#[test]
fn fold_sums_deltas_and_remembers_the_last_seq() {
    let journal = [
        entry(1, "A", 5, 0),
        entry(2, "B", 1, 0),
        entry(3, "A", 0, 2),
    ];
    let balances = fold(&journal).unwrap();
    assert_eq!(
        balances[&Sku::parse("A").unwrap()],
        Balance {
            on_hand: 5,
            reserved: 2,
            last_seq: 3
        }
    );
    assert_eq!(balances[&Sku::parse("B").unwrap()].last_seq, 2);
}

#[test]
fn fold_refuses_a_journal_that_leaves_the_range_instead_of_wrapping() {
    let overflowing = [entry(1, "A", i64::MAX, 0), entry(2, "A", i64::MAX, 0)];
    assert_eq!(
        fold(&overflowing).unwrap_err(),
        FoldError {
            seq: 1,
            sku: Sku::parse("A").unwrap()
        }
    );
    let negative_reserved = [entry(1, "A", 0, 1), entry(2, "A", 0, -2)];
    assert_eq!(fold(&negative_reserved).unwrap_err().seq, 2);
}

/// An edge value (issue 12's) most of the time, any i64 otherwise.
fn edgy() -> impl Strategy<Value = i64> {
    prop_oneof![3 => prop::sample::select(EDGE_QUANTITIES.to_vec()), 1 => any::<i64>()]
}

/// The reference rule, written out apart from `Change::new`.
fn allowed(kind: MovementKind, quantity: i64) -> bool {
    let max = i128::from(MAX_QUANTITY);
    let quantity = i128::from(quantity);
    match kind {
        MovementKind::Adjustment => quantity != 0 && (-max..=max).contains(&quantity),
        MovementKind::Count => (0..=max).contains(&quantity),
        _ => (1..=max).contains(&quantity),
    }
}

proptest! {
    #[test]
    fn every_kind_at_every_edge_is_checked_once_and_never_overflows(
        kind in prop::sample::select(MovementKind::ALL.to_vec()),
        quantity in edgy(),
        on_hand in edgy(),
        reserved in edgy(),
    ) {
        let parsed = Change::new(kind, quantity);
        prop_assert_eq!(parsed.is_ok(), allowed(kind, quantity));
        let Ok(change) = parsed else { return Ok(()) };
        prop_assert_eq!((change.kind(), change.quantity()), (kind, quantity));
        let before = balance(on_hand, reserved);
        // Exact arithmetic in i128 is the oracle: no i64 step of the ledger may differ.
        let wide = |value: i64| i128::from(value);
        match effect_of(&before, change) {
            Ok(effect) => {
                let after = before.after(&effect, 1).unwrap();
                prop_assert!(after.within_limits());
                prop_assert_eq!(wide(after.on_hand), wide(on_hand) + wide(effect.on_hand_delta));
                prop_assert_eq!(wide(after.reserved), wide(reserved) + wide(effect.reserved_delta));
                prop_assert_eq!(
                    wide(after.available().unwrap()),
                    wide(after.on_hand) - wide(after.reserved)
                );
                let expected_on_hand = match kind {
                    MovementKind::Count => wide(quantity),
                    MovementKind::Ship => wide(on_hand) - wide(quantity),
                    MovementKind::Sale | MovementKind::Cancel => wide(on_hand),
                    _ => wide(on_hand) + wide(quantity),
                };
                prop_assert_eq!(wide(after.on_hand), expected_on_hand);
                let oversold = match kind {
                    MovementKind::Sale => {
                        let available = (wide(on_hand) - wide(reserved)).max(0);
                        (wide(quantity) - available).max(0)
                    }
                    _ => 0,
                };
                prop_assert_eq!(wide(effect.oversold_units), oversold);
            }
            Err(Rejection::ExceedsReserved { .. }) => {
                prop_assert!(matches!(kind, MovementKind::Ship | MovementKind::Cancel));
                prop_assert!(quantity > reserved);
            }
            Err(Rejection::OutOfRange) => {
                // Refused only when the exact result leaves the limits, or the balance
                // itself was outside them.
                let available = wide(on_hand) - wide(reserved);
                let (on_hand_after, reserved_after) = match kind {
                    MovementKind::Count => (wide(quantity), wide(reserved)),
                    MovementKind::Sale => (wide(on_hand), wide(reserved) + wide(quantity)),
                    MovementKind::Ship => (wide(on_hand) - wide(quantity), wide(reserved) - wide(quantity)),
                    MovementKind::Cancel => (wide(on_hand), wide(reserved) - wide(quantity)),
                    _ => (wide(on_hand) + wide(quantity), wide(reserved)),
                };
                let limit = wide(BALANCE_LIMIT);
                let inside = |on_hand: i128, reserved: i128| {
                    (-limit..=limit).contains(&on_hand) && (0..=limit).contains(&reserved)
                };
                let fits = |value: i128| i64::try_from(value).is_ok();
                let step_overflows = match kind {
                    MovementKind::Sale => !fits(available),
                    MovementKind::Count => !fits(wide(quantity) - wide(on_hand)),
                    _ => false,
                };
                prop_assert!(
                    !inside(on_hand_after, reserved_after) || step_overflows,
                    "refused {kind} of {quantity} on {before:?}"
                );
            }
        }
    }

    #[test]
    fn fold_never_overflows_and_agrees_with_exact_sums(
        deltas in prop::collection::vec((edgy(), edgy()), 1..8),
    ) {
        let journal: Vec<JournalEntry> = deltas
            .iter()
            .enumerate()
            .map(|(index, &(on_hand_delta, reserved_delta))| {
                entry(index as u64 + 1, "A", on_hand_delta, reserved_delta)
            })
            .collect();
        let limit = i128::from(BALANCE_LIMIT);
        let mut exact = (0i128, 0i128);
        let mut first_outside = None;
        for (index, &(on_hand_delta, reserved_delta)) in deltas.iter().enumerate() {
            exact.0 += i128::from(on_hand_delta);
            exact.1 += i128::from(reserved_delta);
            if !((-limit..=limit).contains(&exact.0) && (0..=limit).contains(&exact.1)) {
                first_outside = Some(index as u64 + 1);
                break;
            }
        }
        match (fold(&journal), first_outside) {
            (Ok(balances), None) => {
                let a = balances[&Sku::parse("A").unwrap()];
                prop_assert_eq!((i128::from(a.on_hand), i128::from(a.reserved)), exact);
            }
            (Err(error), Some(seq)) => prop_assert_eq!(error.seq, seq),
            (got, want) => prop_assert!(false, "fold gave {got:?}, expected a refusal at {want:?}"),
        }
    }
}
