use super::*;
use crate::ids::ChannelId;
use crate::inventory::ledger::{MovementInput, MovementKind};

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
            count_entry.kind,
            count_entry.quantity,
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
    assert_eq!(hat.available(), -2, "the sale is recorded, not refused");
    assert!(store.journal_entry(2).unwrap().unwrap().oversold());
    let exceptions = store.exceptions().unwrap();
    assert_eq!(exceptions.len(), 1);
    assert_eq!(
        (exceptions[0].seq, exceptions[0].kind, exceptions[0].units),
        (2, ExceptionKind::Oversold, 2)
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
        }),
    };
    let refused = LedgerCommand {
        movements: vec![movement("c1", "HAT", "cancel", 1)],
        cursor: Some(CursorUpdate {
            channel: etsy.clone(),
            cursor: "page-3".into(),
        }),
        listings: None,
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
