use actix::prelude::*;

use super::*;
use crate::ids::ClientCode;
use crate::inventory::exceptions::ExceptionKind;
use crate::inventory::ledger::{MovementInput, Source, Units};
use crate::inventory::messages::{
    GetChannelLedgerRecord, GetJournal, GetOrderExceptions, VerifyLedger,
};
use crate::inventory::{InventoryActor, InventoryConfig};
use crate::runtime::BoundedStart;

struct Ledger {
    _dir: tempfile::TempDir,
    _db: sled::Db,
    actor: Addr<InventoryActor>,
}

impl Ledger {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let client = ClientCode::parse("ACME").unwrap();
        let tree = db.open_tree(client.as_str()).unwrap();
        let config = InventoryConfig {
            flusher: Some(crate::storage::DbFlusher::new(&db)),
            ..InventoryConfig::default()
        };
        let actor = InventoryActor::open(client, tree, config)
            .unwrap()
            .start_bounded();
        Self {
            _dir: dir,
            _db: db,
            actor,
        }
    }

    async fn receive(&self, sku: &str, quantity: i64) {
        let receipt = MovementInput {
            key: format!("receipt-{sku}"),
            source: "api".into(),
            sku: sku.into(),
            kind: "receipt".into(),
            quantity,
        };
        self.actor
            .send(ApplyMovements::parse(&[receipt]).expect("a valid receipt"))
            .await
            .unwrap()
            .unwrap();
    }

    async fn head(&self) -> u64 {
        let journal = GetJournal {
            limit: 1000,
            ..GetJournal::default()
        };
        let entries = self.actor.send(journal).await.unwrap().unwrap();
        entries.last().map_or(0, |entry| entry.seq)
    }
}

fn etsy() -> ChannelId {
    ChannelId::parse("etsy").unwrap()
}

fn event(order: &str, line: u32, version: &str, kind: OrderEventKind, qty: u32) -> OrderEvent {
    OrderEvent {
        external_order_id: order.into(),
        line,
        version: version.into(),
        sku: Sku::parse("HAT").unwrap(),
        kind,
        quantity: qty,
    }
}

#[actix::test]
async fn an_order_event_lands_in_the_journal_with_its_typed_order_line() {
    let ledger = Ledger::start();
    let sale = event("A:17", 3, "placed", OrderEventKind::Sale, 2);
    let movement = movement_of(&etsy(), &sale).unwrap();
    assert_eq!(movement.key.as_str(), "order:etsy:A:17:3:placed");
    assert_eq!(movement.source, Source::Channel(etsy()));
    assert_eq!(movement.change, Change::Sale(Units::new(2).unwrap()));
    let order = OrderRef {
        order_id: "A:17".into(),
        line: 3,
        version: "placed".into(),
    };
    assert_eq!(movement.order.as_ref(), Some(&order));
    let recipient = ledger.actor.clone().recipient();
    apply_order_events(&etsy(), vec![sale], None, &recipient)
        .await
        .unwrap();
    let journal = GetJournal {
        limit: 10,
        ..GetJournal::default()
    };
    let entries = ledger.actor.send(journal).await.unwrap().unwrap();
    assert_eq!(entries[0].order.as_ref(), Some(&order));
}

#[actix::test]
async fn a_refused_polled_event_becomes_an_exception_in_the_same_command_as_its_page() {
    let ledger = Ledger::start();
    ledger.receive("HAT", 5).await;
    let page = vec![
        event("1", 1, "placed", OrderEventKind::Sale, 2),
        // A cancellation of a sale the ledger never saw: more than is reserved.
        event("2", 1, "cancelled", OrderEventKind::Cancel, 9),
        event("3", 1, "placed", OrderEventKind::Sale, 1),
    ];
    let cursor = || {
        Some(CursorUpdate {
            channel: etsy(),
            cursor: "after-3".into(),
        })
    };
    let recipient = ledger.actor.clone().recipient();
    let applied = apply_order_events(&etsy(), page.clone(), cursor(), &recipient)
        .await
        .unwrap();
    assert_eq!(applied.outcome.results.len(), 2, "the good events apply");
    assert_eq!(applied.skipped.len(), 1);
    assert!(
        applied.skipped[0].starts_with("order 2 line 1:"),
        "{:?}",
        applied.skipped
    );
    let exceptions = ledger
        .actor
        .send(GetOrderExceptions)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exceptions.len(), 1);
    let exception = &exceptions[0];
    assert_eq!(exception.kind, ExceptionKind::UnapplicableOrder);
    assert_eq!(exception.reason, Some(UnapplicableReason::ExceedsReserved));
    assert_eq!(exception.key.as_str(), "order:etsy:2:1:cancelled");
    assert_eq!(
        (
            exception.order_id.as_deref(),
            exception.line,
            exception.seq,
            exception.count
        ),
        (Some("2"), Some(1), None, 1)
    );
    let record = ledger
        .actor
        .send(GetChannelLedgerRecord { channel: etsy() })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.cursor.as_deref(),
        Some("after-3"),
        "the cursor moved with them"
    );

    // The poll reads the same orders again: nothing new is applied, the exception is seen again.
    let head = ledger.head().await;
    apply_order_events(&etsy(), page, cursor(), &recipient)
        .await
        .unwrap();
    assert_eq!(ledger.head().await, head);
    let exceptions = ledger
        .actor
        .send(GetOrderExceptions)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((exceptions.len(), exceptions[0].count), (1, 2));
    ledger.actor.send(VerifyLedger).await.unwrap().unwrap();
}

#[actix::test]
async fn unusable_lines_and_refused_quantities_are_recorded_with_the_good_lines() {
    let ledger = Ledger::start();
    ledger.receive("HAT", 5).await;
    let delivery = digest_key("delivery", &etsy(), &[b"body"]);
    let intake = OrderIntake {
        events: vec![
            event("9", 1, "placed", OrderEventKind::Sale, 1),
            // Above the ledger's bound: a mistyped quantity, not a sale.
            event("9", 3, "placed", OrderEventKind::Sale, 4_000_000_000),
            event("9", 4, "placed", OrderEventKind::Sale, 0),
        ],
        unusable: vec![UnusableOrder {
            order_id: Some("9".into()),
            line: Some(2),
            version: Some("placed".into()),
            sku: None,
            quantity: Some(1),
            reason: UnapplicableReason::MissingSku,
            detail: "line 2 has no SKU".into(),
        }],
        delivery: Some(delivery),
    };
    let recipient = ledger.actor.clone().recipient();
    let applied = apply_order_intake(&etsy(), intake.clone(), None, &recipient, None)
        .await
        .unwrap();
    assert_eq!(applied.outcome.results.len(), 1);
    let exceptions = ledger
        .actor
        .send(GetOrderExceptions)
        .await
        .unwrap()
        .unwrap();
    let reasons: Vec<_> = exceptions
        .iter()
        .map(|exception| {
            (
                exception.line,
                exception.reason,
                exception.key.as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (
                Some(2),
                Some(UnapplicableReason::MissingSku),
                "order:etsy:9:2:placed".to_string()
            ),
            (
                Some(3),
                Some(UnapplicableReason::QuantityOutOfRange),
                "order:etsy:9:3:placed".to_string()
            ),
            (
                Some(4),
                Some(UnapplicableReason::QuantityOutOfRange),
                "order:etsy:9:4:placed".to_string()
            ),
        ]
    );
    apply_order_intake(&etsy(), intake, None, &recipient, None)
        .await
        .unwrap();
    let again = ledger
        .actor
        .send(GetOrderExceptions)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.len(), 3, "a retry raises no second exception");
    assert!(again.iter().all(|exception| exception.count == 2));
    ledger.actor.send(VerifyLedger).await.unwrap().unwrap();
}

#[actix::test]
async fn a_problem_no_line_can_key_is_one_exception_per_delivery() {
    let ledger = Ledger::start();
    let no_lines = |body: &[u8]| OrderIntake {
        unusable: vec![UnusableOrder {
            order_id: Some("12".into()),
            line: None,
            version: None,
            sku: None,
            quantity: None,
            reason: UnapplicableReason::NoLines,
            detail: "the order has no line items".into(),
        }],
        delivery: Some(digest_key("delivery", &etsy(), &[body])),
        ..OrderIntake::default()
    };
    let recipient = ledger.actor.clone().recipient();
    for body in [b"first".as_slice(), b"first", b"second"] {
        apply_order_intake(&etsy(), no_lines(body), None, &recipient, None)
            .await
            .unwrap();
    }
    let exceptions = ledger
        .actor
        .send(GetOrderExceptions)
        .await
        .unwrap()
        .unwrap();
    let counts: Vec<u64> = exceptions.iter().map(|exception| exception.count).collect();
    assert_eq!(counts, [2, 1], "two deliveries, the first one retried");
    assert!(exceptions[0]
        .key
        .as_str()
        .starts_with("delivery:etsy:sha256:"));
    assert_eq!(ledger.head().await, 0, "nothing applied");
}

#[test]
fn an_order_id_that_cannot_key_a_ledger_entry_is_keyed_by_its_digest() {
    let long = "7".repeat(400);
    let key = exception_key(&etsy(), Some(&long), Some(1), Some("placed"), None);
    assert!(
        key.as_str().starts_with("order:etsy:sha256:"),
        "{}",
        key.as_str()
    );
    assert_ne!(
        key,
        exception_key(&etsy(), Some(&long), Some(2), Some("placed"), None),
        "one exception per line"
    );
}

#[actix::test]
async fn more_unusable_lines_than_a_command_takes_are_summed_up_not_refused() {
    let ledger = Ledger::start();
    let lines = MAX_BATCH as u32 + 5;
    let unusable = (1..=lines)
        .map(|line| UnusableOrder {
            order_id: Some("40".into()),
            line: Some(line),
            version: Some("placed".into()),
            sku: None,
            quantity: Some(1),
            reason: UnapplicableReason::MissingSku,
            detail: format!("line {line} has no SKU"),
        })
        .collect();
    let intake = OrderIntake {
        unusable,
        ..OrderIntake::default()
    };
    let recipient = ledger.actor.clone().recipient();
    for _ in 0..2 {
        let applied = apply_order_intake(&etsy(), intake.clone(), None, &recipient, None)
            .await
            .unwrap();
        assert_eq!(applied.exceptions.len(), MAX_BATCH);
    }
    let exceptions = ledger
        .actor
        .send(GetOrderExceptions)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exceptions.len(), MAX_BATCH, "and no more on the retry");
    let summary = exceptions.last().unwrap();
    assert_eq!((summary.line, summary.count), (Some(MAX_BATCH as u32), 2));
    assert!(
        summary
            .detail
            .as_deref()
            .unwrap()
            .starts_with("6 more cannot be applied"),
        "{summary:?}"
    );
}
