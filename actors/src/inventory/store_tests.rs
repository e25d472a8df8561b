use proptest::prelude::*;

use super::*;
use crate::ids::ChannelId;
use crate::inventory::exceptions::UnapplicableReason;
use crate::inventory::ledger::{
    Change, IdempotencyKey, MovementInput, MovementKind, OrderRef, BALANCE_LIMIT, MAX_QUANTITY,
};
use crate::inventory::messages::{StockLevel, MAX_BATCH, MAX_CURSOR_BYTES};
use crate::testing::ledger::EDGE_QUANTITIES;

fn temp_store() -> (tempfile::TempDir, sled::Db, LedgerStore) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let store = LedgerStore::open(db.open_tree("ACME").unwrap()).unwrap();
    (dir, db, store)
}

fn movement(key: &str, sku: &str, kind: &str, quantity: i64) -> Movement {
    Movement::parse(&MovementInput {
        key: key.into(),
        source: "channel:shopify".into(),
        sku: sku.into(),
        kind: kind.into(),
        quantity,
    })
    .unwrap()
}

/// Everything stored in the tree, to prove that a refused call changed nothing.
fn snapshot(store: &LedgerStore) -> Vec<(sled::IVec, sled::IVec)> {
    store.tree.iter().collect::<Result<_, _>>().unwrap()
}

#[test]
fn movements_update_balances_and_journal() {
    let (_dir, _db, store) = temp_store();
    let outcome = store
        .apply(
            &[
                movement("r1", "HAT", "receipt", 10),
                movement("s1", "HAT", "sale", 3),
                movement("p1", "HAT", "ship", 2),
                movement("c1", "HAT", "cancel", 1),
                movement("k1", "HAT", "count", 6),
                movement("a1", "HAT", "adjustment", -1),
                movement("f1", "HAT", "refund_restock", 2),
            ],
            1_000,
        )
        .unwrap();
    assert_eq!(outcome.head_seq, 7);
    assert_eq!(
        outcome
            .results
            .iter()
            .map(|applied| applied.seq)
            .collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    let hat = store.balance(&Sku::parse("hat").unwrap()).unwrap().unwrap();
    // receipt 10 → sale reserves 3 → ship 2 (on-hand 8, reserved 1) → cancel 1 (reserved 0)
    // → count 6 → adjustment −1 → refund restock +2.
    assert_eq!(
        hat,
        Balance {
            on_hand: 7,
            reserved: 0,
            last_seq: 7
        }
    );
    let count_entry = store.journal_entry(5).unwrap().unwrap();
    assert_eq!(
        (
            count_entry.kind(),
            count_entry.quantity(),
            count_entry.on_hand_delta
        ),
        (MovementKind::Count, 6, -2)
    );
    assert_eq!(count_entry.at_ms, 1_000);
    assert_eq!(store.verify().unwrap().head_seq, 7);
}

#[test]
fn a_duplicate_changes_nothing_and_returns_the_first_result() {
    let (_dir, _db, store) = temp_store();
    store
        .apply(&[movement("r1", "HAT", "receipt", 1)], 1)
        .unwrap();
    let first = store.apply(&[movement("s1", "HAT", "sale", 3)], 2).unwrap();
    let before = snapshot(&store);
    let again = store.apply(&[movement("s1", "HAT", "sale", 3)], 3).unwrap();
    assert_eq!(snapshot(&store), before);
    assert_eq!(again.results[0].seq, first.results[0].seq);
    assert_eq!(again.results[0].oversold_units, 2);
    assert!(again.results[0].duplicate);
    assert!(!first.results[0].duplicate);
}

#[test]
fn a_duplicate_inside_one_batch_is_applied_once() {
    let (_dir, _db, store) = temp_store();
    let outcome = store
        .apply(
            &[
                movement("r1", "HAT", "receipt", 4),
                movement("r1", "HAT", "receipt", 4),
            ],
            1,
        )
        .unwrap();
    assert_eq!(outcome.head_seq, 1);
    assert!(outcome.results[1].duplicate);
    assert_eq!(
        store
            .balance(&Sku::parse("HAT").unwrap())
            .unwrap()
            .unwrap()
            .on_hand,
        4
    );
}

#[test]
fn an_oversell_is_applied_flagged_and_raised_as_an_exception() {
    let (_dir, _db, store) = temp_store();
    store
        .apply(&[movement("r1", "HAT", "receipt", 1)], 1)
        .unwrap();
    let outcome = store.apply(&[movement("s1", "HAT", "sale", 3)], 2).unwrap();
    assert_eq!(outcome.results[0].oversold_units, 2);
    let hat = store.balance(&Sku::parse("HAT").unwrap()).unwrap().unwrap();
    assert_eq!(hat.available(), Ok(-2), "the sale is recorded, not refused");
    assert!(store.journal_entry(2).unwrap().unwrap().oversold());
    let exceptions = store.exceptions().unwrap();
    assert_eq!(exceptions.len(), 1);
    assert_eq!(
        (exceptions[0].seq, exceptions[0].kind, exceptions[0].units),
        (Some(2), ExceptionKind::Oversold, 2)
    );
    // A sale of a SKU never seen is an oversell of all its units.
    let unknown = store
        .apply(&[movement("s2", "GLOVE", "sale", 1)], 3)
        .unwrap();
    assert_eq!(unknown.results[0].oversold_units, 1);
    store.verify().unwrap();
}

#[test]
fn a_refused_movement_refuses_the_whole_batch_and_changes_nothing() {
    let (_dir, _db, store) = temp_store();
    store
        .apply(
            &[
                movement("r1", "HAT", "receipt", 5),
                movement("s1", "HAT", "sale", 2),
            ],
            1,
        )
        .unwrap();
    let before = snapshot(&store);
    let error = store
        .apply(
            &[
                movement("r2", "HAT", "receipt", 5),
                movement("c1", "HAT", "cancel", 3),
            ],
            2,
        )
        .unwrap_err();
    assert_eq!(error.kind(), "exceeds_reserved");
    assert!(error.is_caller_error());
    assert_eq!(
        error.to_string(),
        r#"movement 1 (key "c1") was refused: cancel of 3 exceeds the 2 units reserved"#
    );
    assert_eq!(
        snapshot(&store),
        before,
        "the receipt before the refused cancel must not stay"
    );
    let ship_error = store
        .apply(&[movement("p1", "GLOVE", "ship", 1)], 3)
        .unwrap_err();
    assert_eq!(ship_error.kind(), "exceeds_reserved");
    assert_eq!(snapshot(&store), before);
}

#[test]
fn a_reused_key_with_another_movement_is_refused() {
    let (_dir, _db, store) = temp_store();
    store
        .apply(&[movement("k", "HAT", "receipt", 5)], 1)
        .unwrap();
    let before = snapshot(&store);
    let error = store
        .apply(&[movement("k", "HAT", "receipt", 6)], 2)
        .unwrap_err();
    assert!(
        matches!(
            error,
            LedgerError::KeyReused {
                index: 0,
                seq: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(snapshot(&store), before);
}

#[test]
fn empty_and_oversize_batches_are_refused() {
    let (_dir, _db, store) = temp_store();
    let before = snapshot(&store);
    assert_eq!(store.apply(&[], 1).unwrap_err().kind(), "empty_batch");
    let oversize: Vec<_> = (0..=MAX_BATCH)
        .map(|i| movement(&format!("r{i}"), "HAT", "receipt", 1))
        .collect();
    let error = store.apply(&oversize, 1).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the batch holds 1001 movements; at most 1000 are accepted in one call"
    );
    assert_eq!(snapshot(&store), before);
}

#[test]
fn the_journal_pages_by_seq_and_by_sku() {
    let (_dir, _db, store) = temp_store();
    for i in 0..10 {
        let sku = if i % 2 == 0 { "EVEN" } else { "ODD" };
        store
            .apply(&[movement(&format!("r{i}"), sku, "receipt", 1)], i)
            .unwrap();
    }
    let page = store
        .journal(&JournalQuery {
            sku: None,
            after_seq: 3,
            limit: 4,
        })
        .unwrap();
    assert_eq!(
        page.iter().map(|entry| entry.seq).collect::<Vec<_>>(),
        vec![4, 5, 6, 7]
    );
    let odd = store
        .journal(&JournalQuery {
            sku: Some(Sku::parse("odd").unwrap()),
            after_seq: 2,
            limit: 100,
        })
        .unwrap();
    assert_eq!(
        odd.iter().map(|entry| entry.seq).collect::<Vec<_>>(),
        vec![4, 6, 8, 10]
    );
    let zero_limit = store
        .journal(&JournalQuery {
            sku: None,
            after_seq: 0,
            limit: 0,
        })
        .unwrap();
    assert_eq!(zero_limit.len(), 1, "a limit of 0 is clamped to 1");
}

#[test]
fn a_sku_that_prefixes_another_has_its_own_index() {
    // Regression guard for the NUL separator of the SKU index: "HAT" must not see "HAT2"'s entries.
    let (_dir, _db, store) = temp_store();
    store
        .apply(
            &[
                movement("a", "HAT2", "receipt", 1),
                movement("b", "HAT", "receipt", 1),
            ],
            1,
        )
        .unwrap();
    let hat = store
        .journal(&JournalQuery {
            sku: Some(Sku::parse("HAT").unwrap()),
            after_seq: 0,
            limit: 10,
        })
        .unwrap();
    assert_eq!(
        hat.iter().map(|entry| entry.seq).collect::<Vec<_>>(),
        vec![2]
    );
}

#[test]
fn reopening_recovers_everything_from_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let store = LedgerStore::open(db.open_tree("ACME").unwrap()).unwrap();
        store
            .apply(
                &[
                    movement("r1", "HAT", "receipt", 4),
                    movement("s1", "HAT", "sale", 1),
                ],
                1,
            )
            .unwrap();
        db.flush().unwrap();
    }
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let store = LedgerStore::open(db.open_tree("ACME").unwrap()).unwrap();
    assert_eq!(store.head_seq().unwrap(), 2);
    assert_eq!(
        store.balance(&Sku::parse("HAT").unwrap()).unwrap().unwrap(),
        Balance {
            on_hand: 4,
            reserved: 1,
            last_seq: 2
        }
    );
    let next = store
        .apply(&[movement("r2", "HAT", "receipt", 1)], 2)
        .unwrap();
    assert_eq!(
        next.results[0].seq, 3,
        "sequence numbers continue without a gap"
    );
}

#[test]
fn open_refuses_a_tree_it_did_not_write() {
    let (_dir, db, _store) = temp_store();
    let foreign = db.open_tree("FOREIGN").unwrap();
    foreign.insert("something", "else").unwrap();
    assert_eq!(LedgerStore::open(foreign).unwrap_err().kind(), "corrupt");
}

#[test]
fn open_refuses_a_head_that_disagrees_with_the_journal() {
    let (_dir, db, store) = temp_store();
    store
        .apply(&[movement("r1", "HAT", "receipt", 4)], 1)
        .unwrap();
    let tree = db.open_tree("ACME").unwrap();
    tree.insert(HEAD_KEY, &5u64.to_be_bytes()).unwrap();
    let error = LedgerStore::open(tree).unwrap_err();
    assert_eq!(
        error.to_string(),
        "ledger data is corrupt: the head is 5 but the last journal entry is 1"
    );
}

#[test]
fn verify_detects_balances_that_disagree_with_the_journal() {
    let (_dir, db, store) = temp_store();
    store
        .apply(&[movement("r1", "HAT", "receipt", 4)], 1)
        .unwrap();
    let tree = db.open_tree("ACME").unwrap();
    tree.insert(
        balance_key(&Sku::parse("HAT").unwrap()),
        encode(&Balance {
            on_hand: 5,
            reserved: 0,
            last_seq: 1,
        }),
    )
    .unwrap();
    assert_eq!(store.verify().unwrap_err().kind(), "corrupt");
}

#[test]
fn a_cursor_and_listings_are_written_with_the_command_or_not_at_all() {
    let (_dir, _db, store) = temp_store();
    let etsy = ChannelId::parse("etsy").unwrap();
    let command = LedgerCommand {
        movements: vec![movement("r1", "HAT", "receipt", 5)],
        cursor: Some(CursorUpdate {
            channel: etsy.clone(),
            cursor: "page-2".into(),
        }),
        listings: Some(ListingsUpdate {
            channel: etsy.clone(),
            listings: vec![ListingRecord {
                sku: Sku::parse("HAT").unwrap(),
                quantity: 5,
                ledger_seq: 1,
                at_ms: 9,
            }],
            adopted: false,
        }),
        ..LedgerCommand::default()
    };
    let refused = LedgerCommand {
        movements: vec![movement("c1", "HAT", "cancel", 1)],
        cursor: Some(CursorUpdate {
            channel: etsy.clone(),
            cursor: "page-3".into(),
        }),
        listings: None,
        ..LedgerCommand::default()
    };
    let outcomes = store.apply_commands(&[command, refused], 1).unwrap();
    assert!(outcomes[0].is_ok());
    assert_eq!(outcomes[1].as_ref().unwrap_err().kind(), "exceeds_reserved");
    assert_eq!(
        store.cursor(&etsy).unwrap().as_deref(),
        Some("page-2"),
        "the refused command's cursor is not written"
    );
    assert_eq!(store.listings(&etsy).unwrap()[0].quantity, 5);
    assert_eq!(
        store.cursor(&ChannelId::parse("ebay").unwrap()).unwrap(),
        None
    );
    store.verify().unwrap();
}

#[test]
fn a_cursor_alone_is_a_command_and_an_oversize_cursor_is_refused() {
    let (_dir, _db, store) = temp_store();
    let etsy = ChannelId::parse("etsy").unwrap();
    let only_cursor = LedgerCommand {
        cursor: Some(CursorUpdate {
            channel: etsy.clone(),
            cursor: "c".into(),
        }),
        ..LedgerCommand::default()
    };
    let huge = LedgerCommand {
        cursor: Some(CursorUpdate {
            channel: etsy.clone(),
            cursor: "x".repeat(MAX_CURSOR_BYTES + 1),
        }),
        ..LedgerCommand::default()
    };
    let outcomes = store
        .apply_commands(&[only_cursor, huge, LedgerCommand::default()], 1)
        .unwrap();
    assert_eq!(outcomes[0].as_ref().unwrap().head_seq, 0);
    assert_eq!(outcomes[1].as_ref().unwrap_err().kind(), "cursor_too_long");
    assert_eq!(outcomes[2].as_ref().unwrap_err().kind(), "empty_batch");
    assert_eq!(store.cursor(&etsy).unwrap().as_deref(), Some("c"));
}

/// The finding of issue 12 at the ledger: −2⁶³ passed the quantity check (`abs()` wraps for
/// i64::MIN) and became on-hand. Every kind must refuse it before anything is written.
#[test]
fn a_movement_of_i64_min_is_refused_for_every_kind_and_changes_nothing() {
    let (_dir, _db, store) = temp_store();
    store
        .apply(&[movement("r1", "HAT", "receipt", 5)], 1)
        .unwrap();
    let before = snapshot(&store);
    for kind in MovementKind::ALL {
        let input = MovementInput {
            key: format!("min-{kind}"),
            source: "api".into(),
            sku: "HAT".into(),
            kind: kind.as_str().into(),
            quantity: i64::MIN,
        };
        let error = Movement::parse(&input).unwrap_err();
        assert_eq!(error.kind(), "quantity_out_of_range", "{kind}: {error}");
    }
    assert_eq!(snapshot(&store), before);
}

/// A journal whose deltas sum beyond i64 (only a damaged tree holds one) is reported by
/// `verify` as corrupt; it used to panic (debug) or wrap (release) inside the refold.
#[test]
fn verify_reports_a_journal_whose_refold_overflows_instead_of_panicking() {
    let (_dir, db, store) = temp_store();
    store
        .apply(
            &[
                movement("a1", "HAT", "adjustment", 3),
                movement("a2", "HAT", "adjustment", 4),
            ],
            1,
        )
        .unwrap();
    let tree = db.open_tree("ACME").unwrap();
    for seq in [1, 2] {
        let mut entry = store.journal_entry(seq).unwrap().unwrap();
        entry.on_hand_delta = i64::MAX;
        tree.insert(journal_key(seq), encode(&entry)).unwrap();
    }
    let error = store.verify().unwrap_err();
    assert_eq!(error.kind(), "corrupt", "{error}");
}

/// A store whose SKU `HAT` already holds `on_hand` and `reserved`, recorded by one journal
/// entry: the state a long history leaves (reaching `BALANCE_LIMIT` takes a million receipts of
/// the largest size, so the test writes their sum directly, consistently enough for `verify`).
fn seeded_store(on_hand: i64, reserved: i64) -> (tempfile::TempDir, sled::Db, LedgerStore) {
    let (dir, db, store) = temp_store();
    let sku = Sku::parse("HAT").unwrap();
    let key = IdempotencyKey::parse("seed").unwrap();
    let entry = JournalEntry {
        seq: 1,
        at_ms: 0,
        key: key.clone(),
        source: Source::Import,
        sku: sku.clone(),
        change: Change::new(MovementKind::Adjustment, 1).unwrap(),
        on_hand_delta: on_hand,
        reserved_delta: reserved,
        oversold_units: 0,
        order: None,
    };
    let balance = Balance {
        on_hand,
        reserved,
        last_seq: 1,
    };
    store.tree.insert(journal_key(1), encode(&entry)).unwrap();
    store
        .tree
        .insert(balance_key(&sku), encode(&balance))
        .unwrap();
    store
        .tree
        .insert(idempotency_key(&key), &1u64.to_be_bytes())
        .unwrap();
    store.tree.insert(sku_index_key(&sku, 1), &[]).unwrap();
    store.tree.insert(HEAD_KEY, &1u64.to_be_bytes()).unwrap();
    store
        .tree
        .insert(SKU_COUNT_KEY, &1u64.to_be_bytes())
        .unwrap();
    store.verify().unwrap();
    (dir, db, store)
}

#[test]
fn a_movement_that_would_leave_the_balance_limit_is_refused_and_changes_nothing() {
    let (_dir, _db, store) = seeded_store(BALANCE_LIMIT - 1, 0);
    let before = snapshot(&store);
    let error = store
        .apply(&[movement("r1", "HAT", "receipt", 2)], 1)
        .unwrap_err();
    assert_eq!(error.kind(), "balance_out_of_range");
    assert_eq!(snapshot(&store), before);
    store
        .apply(&[movement("r1", "HAT", "receipt", 1)], 1)
        .unwrap();
    let (_dir, _db, store) = seeded_store(-BALANCE_LIMIT, 0);
    let error = store
        .apply(&[movement("a1", "HAT", "adjustment", -1)], 1)
        .unwrap_err();
    assert_eq!(error.kind(), "balance_out_of_range");
    let (_dir, _db, store) = seeded_store(0, BALANCE_LIMIT);
    let error = store
        .apply(&[movement("s1", "HAT", "sale", 1)], 1)
        .unwrap_err();
    assert_eq!(error.kind(), "balance_out_of_range");
    store.verify().unwrap();
}

#[test]
fn a_stored_balance_out_of_range_is_reported_as_corrupt_not_wrapped() {
    let (_dir, _db, store) = temp_store();
    store
        .apply(&[movement("r1", "HAT", "receipt", 1)], 1)
        .unwrap();
    let hat = Sku::parse("HAT").unwrap();
    store
        .tree
        .insert(
            balance_key(&hat),
            encode(&Balance {
                on_hand: i64::MIN,
                reserved: 1,
                last_seq: 1,
            }),
        )
        .unwrap();
    assert_eq!(store.balance(&hat).unwrap_err().kind(), "corrupt");
    assert_eq!(store.balances().unwrap_err().kind(), "corrupt");
    let error = store
        .apply(&[movement("s1", "HAT", "sale", 1)], 2)
        .unwrap_err();
    assert_eq!(error.kind(), "corrupt");
}

/// The quantities of issue 12 and a few small ones, so that sequences also move stock.
fn quantities() -> Vec<i64> {
    [&EDGE_QUANTITIES[..], &[2, 3, -3]].concat()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, .. ProptestConfig::default() })]

    /// Every kind at every edge, in sequences, through the store from balances at and near the
    /// limits: each movement is refused by its parse, refused by the store with nothing written,
    /// or applied with the balance inside the limits and `available = on_hand − reserved`; the
    /// journal refolds to the balances at the end.
    #[test]
    fn edge_movements_through_the_store_are_refused_whole_or_keep_the_ledger_whole(
        (on_hand, reserved) in prop::sample::select(vec![
            (0, 0),
            (5, 2),
            (BALANCE_LIMIT - 2, 0),
            (BALANCE_LIMIT, BALANCE_LIMIT),
            (-BALANCE_LIMIT + 2, 1),
            (-BALANCE_LIMIT, 0),
            (0, BALANCE_LIMIT - 1),
            (MAX_QUANTITY, MAX_QUANTITY),
        ]),
        steps in prop::collection::vec(
            (prop::sample::select(MovementKind::ALL.to_vec()), prop::sample::select(quantities())),
            1..16,
        ),
    ) {
        let (_dir, _db, store) = seeded_store(on_hand, reserved);
        let hat = Sku::parse("HAT").unwrap();
        let mut head = 1;
        for (index, (kind, quantity)) in steps.into_iter().enumerate() {
            let input = MovementInput {
                key: format!("step-{index}"),
                source: "api".into(),
                sku: "HAT".into(),
                kind: kind.as_str().into(),
                quantity,
            };
            let Ok(parsed) = Movement::parse(&input) else {
                prop_assert!(Change::new(kind, quantity).is_err());
                continue;
            };
            let before = snapshot(&store);
            let balance = store.balance(&hat).unwrap().unwrap();
            match store.apply(&[parsed], 1) {
                Ok(outcome) => {
                    head += 1;
                    prop_assert_eq!(outcome.head_seq, head);
                    let after = store.balance(&hat).unwrap().unwrap();
                    prop_assert!(after.within_limits(), "{after:?}");
                    let level = StockLevel::new(hat.clone(), after).unwrap();
                    prop_assert_eq!(
                        i128::from(level.available),
                        i128::from(after.on_hand) - i128::from(after.reserved)
                    );
                }
                Err(error) => {
                    prop_assert!(error.is_caller_error(), "{error}");
                    prop_assert!(
                        matches!(error.kind(), "balance_out_of_range" | "exceeds_reserved"),
                        "{kind} of {quantity} on {balance:?}: {error}"
                    );
                    prop_assert_eq!(snapshot(&store), before, "{} changed the ledger", error);
                }
            }
        }
        let report = store.verify().unwrap();
        prop_assert_eq!(report.head_seq, head);
    }
}

fn unapplicable(key: &str, reason: UnapplicableReason) -> UnapplicableEvent {
    UnapplicableEvent {
        key: IdempotencyKey::parse(key).unwrap(),
        channel: ChannelId::parse("shopify").unwrap(),
        order_id: Some("1001".into()),
        line: Some(2),
        sku: None,
        units: 0,
        reason,
        detail: "line 2 has no SKU".into(),
    }
}

#[test]
fn an_unapplicable_order_is_one_exception_without_a_journal_entry_however_often_it_is_seen() {
    let (_dir, _db, store) = temp_store();
    let missing_sku = unapplicable(
        "order:shopify:1001:2:placed",
        UnapplicableReason::MissingSku,
    );
    let command = LedgerCommand {
        movements: vec![movement("order:shopify:1001:1:placed", "HAT", "sale", 1)],
        unapplicable: vec![missing_sku.clone()],
        ..LedgerCommand::default()
    };
    let first = store
        .apply_round(std::slice::from_ref(&command), 10)
        .unwrap();
    let first = first[0].as_ref().unwrap();
    assert_eq!(first.outcome.head_seq, 1, "the good line is applied");
    // The sale of a SKU never received is an oversell too: two new exceptions, in order.
    let kinds: Vec<ExceptionKind> = first.raised.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(
        kinds,
        [ExceptionKind::Oversold, ExceptionKind::UnapplicableOrder]
    );
    let again = store.apply_round(&[command], 20).unwrap();
    assert!(
        again[0].as_ref().unwrap().raised.is_empty(),
        "seen again, not raised"
    );
    assert_eq!(store.head_seq().unwrap(), 1);
    let exceptions = store.exceptions().unwrap();
    assert_eq!(exceptions.len(), 2);
    let unapplicable = &exceptions[1];
    assert_eq!(
        (
            unapplicable.id,
            unapplicable.kind,
            unapplicable.seq,
            unapplicable.at_ms,
            unapplicable.last_seen_ms,
            unapplicable.count
        ),
        (2, ExceptionKind::UnapplicableOrder, None, 10, 20, 2)
    );
    assert_eq!(unapplicable.reason, Some(UnapplicableReason::MissingSku));
    assert_eq!(unapplicable.order_id.as_deref(), Some("1001"));
    assert_eq!(store.exceptions_page(1, 10).unwrap(), exceptions[1..]);
    assert!(store.exceptions_page(2, 10).unwrap().is_empty());
    assert!(store.exceptions_page(u64::MAX, 10).unwrap().is_empty());
    assert_eq!(store.verify().unwrap().exceptions, 2);
}

#[test]
fn a_refused_command_raises_none_of_its_exceptions() {
    let (_dir, _db, store) = temp_store();
    let refused = LedgerCommand {
        movements: vec![movement("c1", "HAT", "cancel", 1)],
        unapplicable: vec![unapplicable(
            "order:shopify:1:1:placed",
            UnapplicableReason::NoLines,
        )],
        ..LedgerCommand::default()
    };
    let before = snapshot(&store);
    let outcomes = store.apply_commands(&[refused], 1).unwrap();
    assert_eq!(outcomes[0].as_ref().unwrap_err().kind(), "exceeds_reserved");
    assert_eq!(snapshot(&store), before);
    let only_exceptions = LedgerCommand {
        unapplicable: vec![unapplicable(
            "order:shopify:1:1:placed",
            UnapplicableReason::NoLines,
        )],
        ..LedgerCommand::default()
    };
    assert!(store.apply_commands(&[only_exceptions], 1).unwrap()[0].is_ok());
    assert_eq!(store.head_seq().unwrap(), 0);
    store.verify().unwrap();
}

#[test]
fn exceptions_of_the_first_version_keep_their_ids_and_new_ones_follow() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let tree = db.open_tree("ACME").unwrap();
    {
        let store = LedgerStore::open(tree.clone()).unwrap();
        store.apply(&[movement("s1", "HAT", "sale", 1)], 1).unwrap();
    }
    // Rewrite the tree as the first version left it: the exception keyed by journal seq, no
    // exception counter.
    tree.remove(EXCEPTION_HEAD_KEY).unwrap();
    let legacy = r#"{"seq":1,"kind":"oversold","sku":"HAT","key":"s1","source":"channel:shopify","units":1,"at_ms":1}"#;
    tree.insert(exception_key(1), legacy.as_bytes()).unwrap();
    let store = LedgerStore::open(tree).unwrap();
    store.apply(&[movement("s2", "HAT", "sale", 1)], 2).unwrap();
    let ids: Vec<(u64, Option<u64>)> = store
        .exceptions()
        .unwrap()
        .iter()
        .map(|exception| (exception.id, exception.seq))
        .collect();
    assert_eq!(ids, [(1, Some(1)), (2, Some(2))]);
    store.verify().unwrap();
}

#[test]
fn verify_catches_exceptions_that_do_not_match_the_journal_or_their_index() {
    let (_dir, _db, store) = temp_store();
    store
        .apply_commands(
            &[LedgerCommand {
                unapplicable: vec![unapplicable("k-1", UnapplicableReason::NoLines)],
                ..LedgerCommand::default()
            }],
            1,
        )
        .unwrap();
    store.verify().unwrap();
    let index = exception_index_key(&IdempotencyKey::parse("k-1").unwrap());
    store.tree.insert(&index, &7u64.to_be_bytes()).unwrap();
    assert_eq!(store.verify().unwrap_err().kind(), "corrupt");
    store.tree.insert(&index, &1u64.to_be_bytes()).unwrap();
    store.verify().unwrap();
    // An oversold exception with no oversold entry behind it.
    let stray =
        r#"{"seq":1,"kind":"oversold","sku":"HAT","key":"s1","source":"api","units":1,"at_ms":1}"#;
    store
        .tree
        .insert(exception_key(1), stray.as_bytes())
        .unwrap();
    assert_eq!(store.verify().unwrap_err().kind(), "corrupt");
}

#[tokio::test]
async fn a_ledger_without_a_database_flusher_refuses_to_call_its_writes_durable() {
    // `Tree::flush` alone ends in `sync_file_range`, which a power cut can undo: a store that
    // cannot fdatasync must not answer that a write is durable.
    let (_dir, db, store) = temp_store();
    store
        .apply(&[movement("r1", "HAT", "receipt", 4)], 1)
        .unwrap();
    let refused = store.flush().await.unwrap_err();
    assert_eq!(refused.kind(), "storage");
    assert!(!refused.is_caller_error());
    let store = store.with_flusher(crate::storage::DbFlusher::new(&db));
    store.flush().await.unwrap();
}

#[test]
fn a_journal_entry_of_the_format_before_order_references_still_decodes() {
    // As ledgers on disk hold it: no `order` field (written before entries carried it).
    let stored = br#"{"seq":7,"at_ms":1700000000000,"key":"order:etsy:A:17:3:placed",
        "source":"channel:etsy","sku":"HAT","kind":"sale","quantity":2,"on_hand_delta":0,
        "reserved_delta":2,"oversold_units":0}"#;
    let entry = decode_entry(stored).unwrap();
    assert_eq!(
        entry.order,
        Some(OrderRef {
            order_id: "A:17".into(),
            line: 3,
            version: "placed".into(),
        })
    );
    assert_eq!(
        (entry.seq, entry.kind(), entry.quantity()),
        (7, MovementKind::Sale, 2)
    );
    assert_eq!(decode_entry(&encode(&entry)).unwrap(), entry);
    // An entry that is no order event's stays without one, and is written as before.
    let receipt = br#"{"seq":8,"at_ms":1700000000000,"key":"api:r1","source":"api","sku":"HAT",
        "kind":"receipt","quantity":5,"on_hand_delta":5,"reserved_delta":0,"oversold_units":0}"#;
    let entry = decode_entry(receipt).unwrap();
    assert_eq!(entry.order, None);
    assert!(!String::from_utf8(encode(&entry)).unwrap().contains("order"));
}

/// The counts `GetState` reports are kept in the round's transaction (issue 13, item 5): new SKUs
/// and raised exceptions count once, duplicates and refused commands not at all.
#[test]
fn the_sku_and_exception_counts_follow_every_round_without_a_scan() {
    let (_dir, _db, store) = temp_store();
    assert_eq!(
        (store.sku_count().unwrap(), store.exception_count().unwrap()),
        (0, 0)
    );
    let outcomes = store
        .apply_commands(
            &[
                LedgerCommand::from(vec![
                    movement("r1", "HAT", "receipt", 1),
                    movement("r2", "HAT", "receipt", 1),
                    movement("s1", "MUG", "sale", 1),
                ]),
                // Refused as a whole (a reused key with another movement): its new SKU does not
                // count.
                LedgerCommand::from(vec![
                    movement("r3", "SCARF", "receipt", 1),
                    movement("r1", "HAT", "receipt", 5),
                ]),
                LedgerCommand::from(vec![movement("r1", "HAT", "receipt", 1)]),
                LedgerCommand {
                    unapplicable: vec![unapplicable("k-1", UnapplicableReason::NoLines)],
                    ..LedgerCommand::default()
                },
            ],
            1,
        )
        .unwrap();
    assert!(outcomes[1].is_err(), "{outcomes:?}");
    // HAT and MUG; one oversold sale (MUG) and one unapplicable order.
    assert_eq!(
        (store.sku_count().unwrap(), store.exception_count().unwrap()),
        (2, 2)
    );
    store.apply(&[movement("s2", "HAT", "sale", 9)], 2).unwrap();
    assert_eq!(
        (store.sku_count().unwrap(), store.exception_count().unwrap()),
        (2, 3)
    );
    store.verify().unwrap();
}

#[test]
fn a_tree_written_before_the_counts_gets_them_at_open_and_verify_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let tree = db.open_tree("ACME").unwrap();
    {
        let store = LedgerStore::open(tree.clone()).unwrap();
        store
            .apply(
                &[
                    movement("r1", "HAT", "receipt", 1),
                    movement("s1", "MUG", "sale", 1),
                ],
                1,
            )
            .unwrap();
    }
    tree.remove(SKU_COUNT_KEY).unwrap();
    tree.remove(EXCEPTION_COUNT_KEY).unwrap();
    let store = LedgerStore::open(tree.clone()).unwrap();
    assert_eq!(
        (store.sku_count().unwrap(), store.exception_count().unwrap()),
        (2, 1)
    );
    store.verify().unwrap();
    // A count that disagrees with the tree is corruption, not a figure to report.
    tree.insert(SKU_COUNT_KEY, &5u64.to_be_bytes()).unwrap();
    assert_eq!(store.verify().unwrap_err().kind(), "corrupt");
}

/// Issue 15: a confirmed listing is recorded in the history in the same transaction as the
/// listing itself, other events are appended in order, and a listing's history pages by id.
#[test]
fn listing_history_is_appended_with_the_listings_and_paged_by_id() {
    use crate::inventory::history::{ListingEvent, ListingWhat};
    let (_dir, _db, store) = temp_store();
    let etsy = ChannelId::parse("etsy").unwrap();
    let hat = Sku::parse("HAT").unwrap();
    let sent = ListingEvent {
        channel: etsy.clone(),
        sku: hat.clone(),
        at_ms: 5,
        what: ListingWhat::Sent {
            quantity: 5,
            ledger_seq: 1,
            policy: Default::default(),
        },
    };
    // Another listing whose SKU starts like this one's: never in its history.
    let hat2 = ListingEvent {
        sku: Sku::parse("HAT2").unwrap(),
        ..sent.clone()
    };
    let confirm = LedgerCommand {
        movements: vec![movement("r1", "HAT", "receipt", 5)],
        listings: Some(ListingsUpdate {
            channel: etsy.clone(),
            listings: vec![ListingRecord {
                sku: hat.clone(),
                quantity: 5,
                ledger_seq: 1,
                at_ms: 9,
            }],
            adopted: false,
        }),
        ..LedgerCommand::default()
    };
    let history = LedgerCommand {
        history: vec![sent.clone(), hat2],
        ..LedgerCommand::default()
    };
    let outcomes = store.apply_commands(&[history, confirm], 10).unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let events = store.listing_history(&etsy, &hat).unwrap();
    let whats: Vec<(u64, ListingWhat)> = events.iter().map(|e| (e.id, e.event.what)).collect();
    assert_eq!(
        whats,
        vec![
            (1, sent.what),
            (
                3,
                ListingWhat::Confirmed {
                    quantity: 5,
                    ledger_seq: 1
                }
            )
        ]
    );
    assert_eq!(store.history_head().unwrap(), 3);
    let page = store.history_page(&etsy, &hat, 1, 10).unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3]);
    assert!(store.history_page(&etsy, &hat, 3, 10).unwrap().is_empty());
    // A refused command writes no history either.
    let before = snapshot(&store);
    let refused = LedgerCommand {
        movements: vec![movement("c1", "HAT", "cancel", 1)],
        history: vec![sent],
        ..LedgerCommand::default()
    };
    assert!(store.apply_commands(&[refused], 11).unwrap()[0].is_err());
    assert_eq!(snapshot(&store), before);
}

/// The history of a listing stays bounded: pruning after the rounds that append keeps at most
/// the cap (plus the amortisation) and drops what is older than the retention.
#[test]
fn listing_history_is_pruned_to_its_retention_and_cap() {
    use crate::inventory::history::{
        ListingEvent, ListingWhat, HISTORY_RETENTION_MS, MAX_EVENTS_PER_LISTING, PRUNE_EVERY,
    };
    let (_dir, _db, store) = temp_store();
    let etsy = ChannelId::parse("etsy").unwrap();
    let hat = Sku::parse("HAT").unwrap();
    let read = |at_ms: u64, quantity: u32| ListingEvent {
        channel: etsy.clone(),
        sku: hat.clone(),
        at_ms,
        what: ListingWhat::Read {
            quantity,
            drift: true,
        },
    };
    // Old events, then enough recent ones to pass the cap, written in rounds as the ledger would.
    let now = HISTORY_RETENTION_MS * 2;
    let mut written = 0;
    for round in 0..((MAX_EVENTS_PER_LISTING + 300) / 100) {
        let at_ms = if round < 2 { 1_000 + round as u64 } else { now };
        let command = LedgerCommand {
            history: (0..100).map(|i| read(at_ms, i)).collect(),
            ..LedgerCommand::default()
        };
        let head_before = store.history_head().unwrap();
        store
            .apply_commands(std::slice::from_ref(&command), now)
            .unwrap();
        store
            .prune_history(std::slice::from_ref(&command), head_before, now)
            .unwrap();
        written += 100;
    }
    let kept = store.listing_history(&etsy, &hat).unwrap();
    assert!(written > MAX_EVENTS_PER_LISTING + 200);
    assert!(
        kept.len() <= MAX_EVENTS_PER_LISTING + PRUNE_EVERY as usize * 4,
        "{} kept of {written}",
        kept.len()
    );
    assert!(
        kept.iter().all(|event| event.event.at_ms == now),
        "the old events are gone"
    );
}
