use ::metrics::Label;
use actix::prelude::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind as RecordedKind;

use super::ledger::MovementInput;
use super::messages::*;
use super::messages::{CursorUpdate, ListingRecord, ListingsUpdate};
use super::*;
use crate::ids::ChannelId;
use crate::ids::Sku;

struct Fixture {
    _dir: tempfile::TempDir,
    db: sled::Db,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        Self { _dir: dir, db }
    }

    /// The default config with the database's flusher (a ledger without one acknowledges nothing).
    fn config(&self) -> InventoryConfig {
        InventoryConfig {
            flusher: Some(crate::storage::DbFlusher::new(&self.db)),
            ..InventoryConfig::default()
        }
    }

    fn start(&self) -> Addr<InventoryActor> {
        let client = ClientCode::parse("ACME").unwrap();
        let tree = self.db.open_tree(client.as_str()).unwrap();
        InventoryActor::open(
            client,
            tree,
            InventoryConfig {
                clock_ms: super::LedgerClock::new(|| 42),
                ..self.config()
            },
        )
        .unwrap()
        .start_bounded()
    }
}

fn input(key: &str, sku: &str, kind: &str, quantity: i64) -> MovementInput {
    MovementInput {
        key: key.into(),
        source: "channel:etsy".into(),
        sku: sku.into(),
        kind: kind.into(),
        quantity,
    }
}

fn apply(movements: Vec<MovementInput>) -> ApplyMovements {
    ApplyMovements::parse(&movements).expect("the test's movements are valid")
}

/// Sends movements as they arrive from outside, parsed at the edge as the API does
/// ([`ApplyMovements::parse`]): a batch refused there never reaches the actor.
async fn send_inputs(
    inventory: &Addr<InventoryActor>,
    movements: Vec<MovementInput>,
) -> Result<ApplyOutcome, InventoryError> {
    let batch = ApplyMovements::parse(&movements)?;
    inventory.send(batch).await.unwrap()
}

#[actix::test]
async fn an_applied_batch_is_acknowledged_after_a_flush() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    let outcome = inventory
        .send(apply(vec![
            input("r1", "hat", "receipt", 5),
            input("s1", "hat", "sale", 2),
        ]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.head_seq, 2);
    let state = inventory.send(GetState).await.unwrap().unwrap();
    assert_eq!(state.completed_rounds, 1, "the answer came from the round");
    assert_eq!(
        (
            state.head_seq,
            state.skus,
            state.pending_acks,
            state.round_running
        ),
        (2, 1, 0, false)
    );
    let stock = inventory.send(GetStock::default()).await.unwrap().unwrap();
    assert_eq!(
        stock,
        vec![StockLevel {
            sku: Sku::parse("HAT").unwrap(),
            on_hand: 5,
            reserved: 2,
            available: 3,
            last_seq: 2
        }]
    );
    let journal = inventory
        .send(GetJournal {
            limit: 10,
            ..GetJournal::default()
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        journal[0].at_ms, 42,
        "entries are stamped by the injected clock"
    );
}

#[actix::test]
async fn concurrent_commands_share_flushes() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    let sends: Vec<_> = (0..200)
        .map(|i| inventory.send(apply(vec![input(&format!("r{i}"), "HAT", "receipt", 1)])))
        .collect();
    let outcomes = futures_util::future::join_all(sends).await;
    let mut seqs: Vec<u64> = outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap().unwrap().results[0].seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=200).collect::<Vec<_>>(),
        "every command acknowledged once, gap-free"
    );
    let state = inventory.send(GetState).await.unwrap().unwrap();
    assert!(
        state.completed_rounds < 200 / 4,
        "200 concurrent commands took {} flushes: group commit is not grouping",
        state.completed_rounds
    );
}

#[actix::test]
async fn bad_input_is_rejected_with_a_typed_error_and_changes_nothing() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    inventory
        .send(apply(vec![input("r1", "HAT", "receipt", 5)]))
        .await
        .unwrap()
        .unwrap();
    let bad_batches = [
        (
            vec![
                input("a", "HAT", "receipt", 1),
                input("b", "HAT", "teleport", 1),
            ],
            "unknown_movement_kind",
        ),
        (
            vec![input("a", "HAT", "receipt", -1)],
            "quantity_out_of_range",
        ),
        (vec![input("a", "HAT", "sale", 0)], "quantity_out_of_range"),
        (vec![input("a", "   ", "receipt", 1)], "invalid_sku"),
        (
            vec![MovementInput {
                source: "channel:Etsy!".into(),
                ..input("a", "HAT", "receipt", 1)
            }],
            "invalid_channel_id",
        ),
        (
            vec![
                input("a", "HAT", "receipt", 1),
                input("b", "HAT", "ship", 9),
            ],
            "exceeds_reserved",
        ),
        (
            (0..1001)
                .map(|i| input(&format!("k{i}"), "HAT", "receipt", 1))
                .collect(),
            "batch_too_large",
        ),
        (vec![], "empty_batch"),
    ];
    for (movements, kind) in bad_batches {
        let error = send_inputs(&inventory, movements).await.unwrap_err();
        assert_eq!(error.kind(), kind, "{error}");
        let state = inventory.send(GetState).await.unwrap().unwrap();
        assert_eq!(state.head_seq, 1, "{kind}: nothing may be written");
    }
    let stock = inventory
        .send(GetStock {
            skus: Some(vec![Sku::parse("HAT").unwrap()]),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stock[0].on_hand, 5);
}

#[actix::test]
async fn the_actor_refuses_a_typed_batch_that_is_too_large() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    let one = apply(vec![input("k", "HAT", "receipt", 1)])
        .movements
        .remove(0);
    let error = inventory
        .send(ApplyMovements::new(vec![one; MAX_BATCH + 1]))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(error.kind(), "batch_too_large", "{error}");
    let state = inventory.send(GetState).await.unwrap().unwrap();
    assert_eq!(state.head_seq, 0, "nothing may be written");
}

#[actix::test]
async fn the_message_of_an_invalid_movement_says_which_and_why() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    let error = send_inputs(
        &inventory,
        vec![
            input("a", "HAT", "receipt", 1),
            input("b", "HAT", "teleport", 1),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "movement 1: unknown movement kind \"teleport\": expected one of sale, ship, cancel, \
         refund_restock, receipt, adjustment, count"
    );
}

#[actix::test]
async fn get_stock_of_listed_skus_includes_those_that_never_moved() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    inventory
        .send(apply(vec![input("r1", "HAT", "receipt", 5)]))
        .await
        .unwrap()
        .unwrap();
    let skus = vec![Sku::parse("GLOVE").unwrap(), Sku::parse("HAT").unwrap()];
    let stock = inventory
        .send(GetStock { skus: Some(skus) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stock
            .iter()
            .map(|level| (level.sku.as_str(), level.on_hand))
            .collect::<Vec<_>>(),
        vec![("GLOVE", 0), ("HAT", 5)]
    );
}

#[actix::test]
async fn oversells_and_duplicates_are_counted_once_durable() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = ::metrics::set_default_local_recorder(&recorder);
    let fixture = Fixture::new();
    let inventory = fixture.start();
    inventory
        .send(apply(vec![input("r1", "HAT", "receipt", 1)]))
        .await
        .unwrap()
        .unwrap();
    let sale = vec![input("order:etsy:77:1:v1", "HAT", "sale", 3)];
    inventory.send(apply(sale.clone())).await.unwrap().unwrap();
    let redelivery = inventory.send(apply(sale)).await.unwrap().unwrap();
    assert!(redelivery.results[0].duplicate);
    assert_eq!(
        redelivery.results[0].oversold_units, 2,
        "the duplicate returns the first result"
    );

    let exceptions = inventory.send(GetOrderExceptions).await.unwrap().unwrap();
    assert_eq!(exceptions.len(), 1);
    assert_eq!(exceptions[0].key.as_str(), "order:etsy:77:1:v1");

    let counters: Vec<(String, Vec<Label>, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| match (key.kind(), value) {
            (RecordedKind::Counter, DebugValue::Counter(value)) => {
                let (name, labels) = key.key().clone().into_parts();
                Some((name.as_str().to_string(), labels, value))
            }
            _ => None,
        })
        .collect();
    let value_of = |name: &str| {
        counters
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, labels, value)| (labels.clone(), *value))
    };
    let labels = vec![Label::new("client", "ACME"), Label::new("channel", "etsy")];
    assert_eq!(
        value_of(crate::metrics::OVERSOLD_UNITS_TOTAL.name),
        Some((labels.clone(), 2)),
        "oversold once, not per delivery"
    );
    assert_eq!(
        value_of(crate::metrics::ORDERS_INGESTED_TOTAL.name),
        Some((labels.clone(), 2))
    );
    assert_eq!(
        value_of(crate::metrics::ORDER_DUPLICATES_TOTAL.name),
        Some((labels, 1))
    );
}

#[actix::test]
async fn exceptions_raised_are_counted_by_kind_once_and_not_per_sighting() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = ::metrics::set_default_local_recorder(&recorder);
    let fixture = Fixture::new();
    let inventory = fixture.start();
    let no_sku = exceptions::UnapplicableEvent {
        key: ledger::IdempotencyKey::parse("order:etsy:5:2:v1").unwrap(),
        channel: ChannelId::parse("etsy").unwrap(),
        order_id: Some("5".into()),
        line: Some(2),
        sku: None,
        units: 1,
        reason: exceptions::UnapplicableReason::MissingSku,
        detail: "line 2 has no SKU".into(),
    };
    for _ in 0..3 {
        let delivery = ApplyMovements {
            movements: apply(vec![input("order:etsy:5:1:v1", "HAT", "sale", 1)]).movements,
            unapplicable: vec![no_sku.clone()],
            ..ApplyMovements::default()
        };
        inventory.send(delivery).await.unwrap().unwrap();
    }
    let mut raised: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let (name, labels) = key.key().clone().into_parts();
            let DebugValue::Counter(value) = value else {
                return None;
            };
            (name.as_str() == crate::metrics::ORDER_EXCEPTIONS_TOTAL.name).then(|| {
                let kind = labels.iter().find(|label| label.key() == "kind").unwrap();
                assert!(labels.contains(&Label::new("channel", "etsy")));
                (kind.value().to_string(), value)
            })
        })
        .collect();
    raised.sort();
    assert_eq!(
        raised,
        [
            ("oversold".to_string(), 1),
            ("unapplicable_order".to_string(), 1)
        ],
        "one oversell (the sale of a SKU never received) and one unapplicable line, each once"
    );
}

#[actix::test]
async fn a_new_actor_recovers_the_ledger_from_the_tree() {
    let fixture = Fixture::new();
    let first = fixture.start();
    first
        .send(apply(vec![
            input("r1", "HAT", "receipt", 5),
            input("s1", "HAT", "sale", 1),
        ]))
        .await
        .unwrap()
        .unwrap();
    drop(first);
    let second = fixture.start();
    let state = second.send(GetState).await.unwrap().unwrap();
    assert_eq!((state.head_seq, state.skus), (2, 1));
    let redelivery = second
        .send(apply(vec![input("s1", "HAT", "sale", 1)]))
        .await
        .unwrap()
        .unwrap();
    assert!(
        redelivery.results[0].duplicate,
        "idempotency keys survive the restart"
    );
    assert_eq!(redelivery.results[0].seq, 2);
}

#[actix::test]
async fn verify_ledger_checks_the_whole_ledger_off_the_arbiter() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    inventory
        .send(apply(vec![
            input("r1", "HAT", "receipt", 1),
            input("s1", "HAT", "sale", 3),
        ]))
        .await
        .unwrap()
        .unwrap();
    let report = inventory.send(VerifyLedger).await.unwrap().unwrap();
    assert_eq!((report.head_seq, report.skus, report.exceptions), (2, 1, 1));
    // Damage a balance behind the actor's back: the check must notice.
    let tree = fixture.db.open_tree("ACME").unwrap();
    tree.insert(
        b"bHAT",
        br#"{"on_hand":9,"reserved":3,"last_seq":2}"#.as_slice(),
    )
    .unwrap();
    let error = inventory.send(VerifyLedger).await.unwrap().unwrap_err();
    assert_eq!(error.kind(), "corrupt");
}

#[actix::test]
async fn a_refused_command_does_not_disturb_the_others_of_its_round() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    inventory
        .send(apply(vec![input("r0", "HAT", "receipt", 5)]))
        .await
        .unwrap()
        .unwrap();
    // Sent together, the three share one round (one transaction): the refused command sits
    // between two accepted ones.
    let good = inventory.send(apply(vec![input("s1", "HAT", "sale", 2)]));
    let refused = inventory.send(apply(vec![
        input("r1", "HAT", "receipt", 1),
        input("c1", "HAT", "cancel", 9),
    ]));
    let duplicate = inventory.send(apply(vec![input("s1", "HAT", "sale", 2)]));
    let (good, refused, duplicate) = futures_util::future::join3(good, refused, duplicate).await;
    let good = good.unwrap().unwrap();
    assert_eq!(refused.unwrap().unwrap_err().kind(), "exceeds_reserved");
    let duplicate = duplicate.unwrap().unwrap();
    assert_eq!((good.results[0].seq, good.results[0].duplicate), (2, false));
    assert_eq!(
        (duplicate.results[0].seq, duplicate.results[0].duplicate),
        (2, true)
    );
    let stock = inventory.send(GetStock::default()).await.unwrap().unwrap();
    assert_eq!(
        (stock[0].on_hand, stock[0].reserved),
        (5, 2),
        "the refused receipt left no trace"
    );
    let state = inventory.send(GetState).await.unwrap().unwrap();
    assert_eq!(
        (state.head_seq, state.completed_rounds),
        (2, 2),
        "one round for the receipt, one for the three"
    );
}

#[actix::test]
async fn a_cursor_advances_only_with_its_movements_and_listings_are_recorded() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    let etsy = ChannelId::parse("etsy").unwrap();
    let cursor = |text: &str| {
        Some(CursorUpdate {
            channel: etsy.clone(),
            cursor: text.into(),
        })
    };
    let page = ApplyMovements {
        movements: apply(vec![input("order:etsy:1:1:v1", "HAT", "sale", 1)]).movements,
        cursor: cursor("after-1"),
        ..ApplyMovements::default()
    };
    inventory.send(page).await.unwrap().unwrap();
    let refused = ApplyMovements {
        movements: apply(vec![input("x", "HAT", "ship", 5)]).movements,
        cursor: cursor("after-2"),
        ..ApplyMovements::default()
    };
    assert!(inventory.send(refused).await.unwrap().is_err());
    let listings = ListingsUpdate {
        channel: etsy.clone(),
        listings: vec![ListingRecord {
            sku: Sku::parse("HAT").unwrap(),
            quantity: 0,
            ledger_seq: 1,
            at_ms: 42,
        }],
        adopted: false,
    };
    inventory
        .send(RecordListings { update: listings })
        .await
        .unwrap()
        .unwrap();
    let record = inventory
        .send(GetChannelLedgerRecord { channel: etsy })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.cursor.as_deref(), Some("after-1"));
    assert_eq!(record.listings.len(), 1);
    assert_eq!(record.listings[0].quantity, 0);
}

/// Stands in for a ChannelActor: forwards every `StockChanged` to the test; its first message can
/// hold it busy until the test opens a gate, so its one-message mailbox fills up.
struct StockRecorder {
    forward: tokio::sync::mpsc::UnboundedSender<StockChanged>,
    gate: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Actor for StockRecorder {
    type Context = Context<Self>;
}

impl Handler<StockChanged> for StockRecorder {
    type Result = ();

    fn handle(&mut self, message: StockChanged, ctx: &mut Context<Self>) {
        let _ = self.forward.send(message);
        if let Some(gate) = self.gate.take() {
            ctx.wait(actix::fut::wrap_future(async move {
                let _ = gate.await;
            }));
        }
    }
}

#[actix::test]
async fn subscribers_hear_durable_changes_and_a_busy_one_gets_them_coalesced() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    let (forward, mut received) = tokio::sync::mpsc::unbounded_channel();
    let (open_gate, gate) = tokio::sync::oneshot::channel();
    let recorder = StockRecorder::create(|ctx| {
        ctx.set_mailbox_capacity(1);
        StockRecorder {
            forward,
            gate: Some(gate),
        }
    });
    let channel = ChannelId::parse("ebay").unwrap();
    inventory
        .send(Subscribe {
            channel,
            recipient: recorder.recipient(),
        })
        .await
        .unwrap()
        .unwrap();

    inventory
        .send(apply(vec![input("r0", "HAT", "receipt", 10)]))
        .await
        .unwrap()
        .unwrap();
    // The recorder is now held by its gate: these rounds fill its mailbox and then the backlog.
    for round in 1..=5 {
        let movements = vec![
            input(&format!("s{round}"), "HAT", "sale", 1),
            input(&format!("g{round}"), "GLOVE", "receipt", 1),
        ];
        inventory.send(apply(movements)).await.unwrap().unwrap();
    }
    open_gate.send(()).unwrap();
    let final_hat = StockLevel {
        sku: Sku::parse("HAT").unwrap(),
        on_hand: 10,
        reserved: 5,
        available: 5,
        last_seq: 10,
    };
    let mut messages = Vec::new();
    let mut levels = Vec::new();
    // Bounded: the backlog is retried every few milliseconds; a missing delivery fails here.
    let delivered = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = received.recv().await {
            levels.extend(message.levels.iter().cloned());
            messages.push(message);
            if levels.contains(&final_hat) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        delivered,
        Ok(true),
        "the latest HAT level arrives: {levels:?}"
    );
    assert!(levels
        .iter()
        .any(|level| level.sku.as_str() == "GLOVE" && level.on_hand == 5));
    assert!(
        messages.len() < 6,
        "6 rounds, {} messages: the backlog coalesces",
        messages.len()
    );
}

/// Regression (found by the scheduler bench): with many clients flushing at once, sled's
/// `flush_async` filled sled's own thread pool with flush jobs waiting for a log write queued
/// behind them, and every ledger stopped answering for good (sled #1308). The flush now runs on
/// the database flusher's own thread. The scenario runs on its own thread so that a deadlock (which blocks
/// the actors' thread itself) fails the test after a bound instead of hanging it.
#[test]
fn regression_many_clients_flushing_at_once_do_not_deadlock() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let heads = actix::System::new().block_on(async {
            let fixture = Fixture::new();
            let ledgers: Vec<Addr<InventoryActor>> = (0..16)
                .map(|index| {
                    let client = ClientCode::parse(&format!("C{index:02}")).unwrap();
                    let tree = fixture.db.open_tree(client.as_str()).unwrap();
                    InventoryActor::open(client, tree, fixture.config())
                        .unwrap()
                        .start_bounded()
                })
                .collect();
            for round in 0..20 {
                let sends = ledgers.iter().flat_map(|ledger| {
                    (0..8).map(move |caller| {
                        ledger.send(apply(vec![input(
                            &format!("r{round}-{caller}"),
                            "HAT",
                            "receipt",
                            1,
                        )]))
                    })
                });
                for outcome in futures_util::future::join_all(sends).await {
                    outcome.unwrap().unwrap();
                }
            }
            let mut heads = Vec::new();
            for ledger in &ledgers {
                heads.push(ledger.send(GetState).await.unwrap().unwrap().head_seq);
            }
            heads
        });
        let _ = done.send(heads);
    });
    let heads = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("the ledgers stopped answering within 60 s: deadlock");
    assert_eq!(heads, vec![160; 16]);
}

fn ticketed(movements: Vec<MovementInput>, ticket: &CommandTicket) -> ApplyMovements {
    ApplyMovements {
        ticket: Some(ticket.clone()),
        ..apply(movements)
    }
}

#[actix::test]
async fn a_command_its_caller_expired_while_the_ledger_was_held_is_never_written() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    inventory.send(HoldRounds).await.unwrap();
    let ticket = CommandTicket::default();
    let held = inventory.send(ticketed(vec![input("r1", "HAT", "receipt", 5)], &ticket));
    let waiting = inventory.send(GetState).await.unwrap().unwrap();
    assert_eq!(
        (waiting.pending_acks, waiting.completed_rounds),
        (1, 0),
        "taken, but held"
    );
    assert!(
        ticket.expire(),
        "no round took it up: the caller's wait ends first"
    );
    // A later command (no ticket) finds the expired one in the queue and answers it at once.
    let later = inventory.send(apply(vec![input("r2", "HAT", "receipt", 1)]));
    assert_eq!(held.await.unwrap().unwrap_err().kind(), "expired");
    inventory.send(ReleaseRounds).await.unwrap();
    let later = later.await.unwrap().unwrap();
    assert_eq!(
        later.results[0].seq, 1,
        "the expired receipt took no sequence number"
    );
    let stock = inventory.send(GetStock::default()).await.unwrap().unwrap();
    assert_eq!(stock[0].on_hand, 1, "only the later receipt was written");
    assert!(inventory.send(VerifyLedger).await.unwrap().is_ok());
}

#[actix::test]
async fn an_expired_command_found_at_the_round_start_is_answered_not_written() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    inventory.send(HoldRounds).await.unwrap();
    let (expired, kept) = (CommandTicket::default(), CommandTicket::default());
    let first = inventory.send(ticketed(vec![input("r1", "HAT", "receipt", 5)], &expired));
    let second = inventory.send(ticketed(vec![input("r2", "HAT", "receipt", 2)], &kept));
    inventory.send(GetState).await.unwrap().unwrap();
    assert!(expired.expire());
    inventory.send(ReleaseRounds).await.unwrap();
    let (first, second) = futures_util::future::join(first, second).await;
    assert_eq!(first.unwrap().unwrap_err().kind(), "expired");
    assert_eq!(second.unwrap().unwrap().results[0].seq, 1);
    assert!(
        !kept.expire(),
        "the round claimed it: its caller had to wait for this answer"
    );
    let state = inventory.send(GetState).await.unwrap().unwrap();
    assert_eq!((state.head_seq, state.pending_acks), (1, 0));
}

#[actix::test]
async fn a_command_that_waited_in_a_stalled_mailbox_past_its_bound_is_not_written() {
    tokio::time::pause();
    let fixture = Fixture::new();
    let inventory = fixture.start();
    inventory
        .send(StallMailbox { for_ms: 1_000 })
        .await
        .unwrap();
    let ticket = CommandTicket::default();
    let stuck = inventory.send(ticketed(vec![input("r1", "HAT", "receipt", 5)], &ticket));
    assert!(ticket.expire());
    // Time auto-advances while the test waits: the stall ends and the actor takes the command.
    assert_eq!(stuck.await.unwrap().unwrap_err().kind(), "expired");
    let state = inventory.send(GetState).await.unwrap().unwrap();
    assert_eq!((state.head_seq, state.completed_rounds), (0, 0));
}

#[actix::test]
async fn a_refused_command_gives_its_ticket_back_to_the_caller() {
    let fixture = Fixture::new();
    let inventory = fixture.start();
    let ticket = CommandTicket::default();
    let refused = inventory
        .send(ticketed(vec![input("x1", "HAT", "ship", 9)], &ticket))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.kind(), "exceeds_reserved");
    assert!(
        ticket.expire(),
        "nothing was written: the caller may still expire what it sends next under it"
    );
    let next = inventory
        .send(ticketed(vec![input("r1", "HAT", "receipt", 1)], &ticket))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(next.kind(), "expired");
}
