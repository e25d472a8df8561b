//! Model-based test of the ledger store (a proptest state machine): rounds of several commands
//! (each a batch of movements) written in one transaction, as the InventoryActor's group commit
//! writes them, with reused keys, exact re-deliveries and restarts, run against a deliberately
//! simple reference model written from the rules of DESIGN §3 (it shares no code with the store).
//! After every step the store's balances must equal the model's, every command's answer must be
//! the one the model predicts, and refolding the journal must give the stored balances exactly.
//! Quantities include the edges of issue 12 (i64::MIN to i64::MAX, the powers of two where 32-bit
//! code wraps, the ledger's bounds ±1) for every kind: a command holding one the kind does not
//! allow is refused whole and changes nothing, as the InventoryActor refuses it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use shelfsync_actors::inventory::ledger::{Movement, MovementInput, BALANCE_LIMIT, MAX_QUANTITY};
use shelfsync_actors::inventory::messages::StockLevel;
use shelfsync_actors::inventory::messages::MAX_BATCH;
use shelfsync_actors::inventory::store::{LedgerCommand, LedgerStore};
use shelfsync_actors::testing::ledger::{EDGE_QUANTITIES, MOVEMENT_KINDS};

/// One movement as the generator builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    key: String,
    sku: String,
    kind: &'static str,
    quantity: i64,
}

impl Spec {
    fn input(&self) -> MovementInput {
        MovementInput {
            key: self.key.clone(),
            source: "channel:shopify".into(),
            sku: self.sku.clone(),
            kind: self.kind.into(),
            quantity: self.quantity,
        }
    }

    /// The model's own notion of "the same SKU": SKUs are case-insensitive.
    fn sku_id(&self) -> String {
        self.sku.to_uppercase()
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Applies a round of commands of freshly generated movements in one transaction (keys come
    /// from a small pool, so some repeat earlier keys with the same or a different movement).
    Round(Vec<Vec<Spec>>),
    /// Delivers an earlier command again, alone, exactly as it was.
    Redeliver(usize),
    /// Closes and reopens the database.
    Restart,
}

/// What the model expects of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    /// Accepted: per movement (seq, duplicate, oversold units).
    Accepted(Vec<(u64, bool, i64)>),
    /// Refused as a whole with this error kind.
    Refused(&'static str),
}

#[derive(Debug, Clone, Default)]
struct Model {
    /// SKU → (on hand, reserved).
    balances: BTreeMap<String, (i64, i64)>,
    /// Key → (movement, seq, oversold units) of its first application.
    applied: BTreeMap<String, (Spec, u64, i64)>,
    head: u64,
    /// Every command ever sent, for re-deliveries.
    sent: Vec<Vec<Spec>>,
    /// The answers the last step must give, one per command.
    expected: Vec<Expected>,
}

/// The model's own statement of what each kind may carry (DESIGN §3 and issue 12).
fn allowed(kind: &str, quantity: i64) -> bool {
    match kind {
        "adjustment" => quantity != 0 && (-MAX_QUANTITY..=MAX_QUANTITY).contains(&quantity),
        "count" => (0..=MAX_QUANTITY).contains(&quantity),
        _ => (1..=MAX_QUANTITY).contains(&quantity),
    }
}

impl Model {
    fn run_batch(&self, batch: &[Spec]) -> (Expected, Model) {
        // The whole batch is checked before anything is applied.
        if batch.iter().any(|spec| !allowed(spec.kind, spec.quantity)) {
            return self.refused(batch, "quantity_out_of_range");
        }
        let mut next = self.clone();
        next.sent.push(batch.to_vec());
        let mut results = Vec::new();
        for spec in batch {
            if let Some((first, seq, oversold)) = next.applied.get(&spec.key) {
                if first.sku_id() != spec.sku_id()
                    || first.kind != spec.kind
                    || first.quantity != spec.quantity
                {
                    return self.refused(batch, "idempotency_key_reused");
                }
                results.push((*seq, true, *oversold));
                continue;
            }
            let (on_hand, reserved) = next.balances.get(&spec.sku_id()).copied().unwrap_or((0, 0));
            let q = spec.quantity;
            let mut oversold = 0;
            let after = match spec.kind {
                "sale" => {
                    let available = (on_hand - reserved).max(0);
                    oversold = (q - available).max(0);
                    (on_hand, reserved + q)
                }
                "ship" | "cancel" if q > reserved => {
                    return self.refused(batch, "exceeds_reserved")
                }
                "ship" => (on_hand - q, reserved - q),
                "cancel" => (on_hand, reserved - q),
                "count" => (q, reserved),
                _ => (on_hand + q, reserved),
            };
            if !(-BALANCE_LIMIT..=BALANCE_LIMIT).contains(&after.0) || after.1 > BALANCE_LIMIT {
                return self.refused(batch, "balance_out_of_range");
            }
            next.head += 1;
            next.balances.insert(spec.sku_id(), after);
            next.applied
                .insert(spec.key.clone(), (spec.clone(), next.head, oversold));
            results.push((next.head, false, oversold));
        }
        (Expected::Accepted(results), next)
    }

    fn refused(&self, batch: &[Spec], kind: &'static str) -> (Expected, Model) {
        let mut unchanged = self.clone();
        unchanged.sent.push(batch.to_vec());
        (Expected::Refused(kind), unchanged)
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    let kind_and_quantity = prop_oneof![
        3 => (Just("sale"), 1..5i64),
        1 => (Just("ship"), 1..4i64),
        1 => (Just("cancel"), 1..4i64),
        1 => (Just("refund_restock"), 1..3i64),
        3 => (Just("receipt"), 1..8i64),
        1 => (Just("adjustment"), prop_oneof![-3..0i64, 1..4i64]),
        1 => (Just("count"), 0..7i64),
        // Every kind at every edge (most are refused; MAX_QUANTITY and ±1 are not).
        1 => (prop::sample::select(MOVEMENT_KINDS.to_vec()), prop::sample::select(EDGE_QUANTITIES.to_vec())),
    ];
    // A pool of 40 keys and 3 SKUs (one spelled in lower case) makes key reuse and SKU collisions
    // common.
    (
        0..40u8,
        prop::sample::select(vec!["HAT", "glove", "GLOVE", "SCARF-RED"]),
        kind_and_quantity,
    )
        .prop_map(|(key, sku, (kind, quantity))| Spec {
            key: format!("order:{key}"),
            sku: sku.to_string(),
            kind,
            quantity,
        })
}

struct LedgerModel;

impl ReferenceStateMachine for LedgerModel {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        let apply =
            prop::collection::vec(prop::collection::vec(spec(), 1..5), 1..4).prop_map(Step::Round);
        if state.sent.is_empty() {
            return apply.boxed();
        }
        let sent = state.sent.len();
        prop_oneof![
            6 => apply,
            2 => (0..sent).prop_map(Step::Redeliver),
            1 => Just(Step::Restart),
        ]
        .boxed()
    }

    fn preconditions(state: &Model, step: &Step) -> bool {
        match step {
            Step::Redeliver(index) => *index < state.sent.len(),
            _ => true,
        }
    }

    fn apply(state: Model, step: &Step) -> Model {
        let commands = match step {
            Step::Round(commands) => commands.clone(),
            Step::Redeliver(index) => vec![state.sent[*index].clone()],
            Step::Restart => {
                return Model {
                    expected: Vec::new(),
                    ..state
                }
            }
        };
        let mut next = state;
        let mut expected = Vec::new();
        for command in &commands {
            let (answer, after) = next.run_batch(command);
            expected.push(answer);
            next = after;
        }
        next.expected = expected;
        next
    }
}

struct LedgerUnderTest {
    _dir: tempfile::TempDir,
    path: PathBuf,
    db: sled::Db,
    store: LedgerStore,
}

impl LedgerUnderTest {
    /// Opens the database, waiting (bounded) for the previous handle's background threads to
    /// let go of sled's file lock: dropping a `Db` does not release it synchronously, and under
    /// load a reopen can come first (regression: a loaded CI-like machine saw
    /// "could not acquire lock" here).
    fn open(path: &PathBuf) -> (sled::Db, LedgerStore) {
        let mut attempts = 0;
        let db = loop {
            match sled::Config::new().path(path).open() {
                Ok(db) => break db,
                Err(error) if attempts < 500 => {
                    attempts += 1;
                    let _ = error;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(error) => panic!("cannot reopen the database: {error}"),
            }
        };
        let store = LedgerStore::open(db.open_tree("ACME").unwrap()).unwrap();
        (db, store)
    }
}

impl StateMachineTest for LedgerUnderTest {
    type SystemUnderTest = Self;
    type Reference = LedgerModel;

    fn init_test(_model: &Model) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let (db, store) = Self::open(&path);
        Self {
            _dir: dir,
            path,
            db,
            store,
        }
    }

    fn apply(mut sut: Self, model: &Model, step: Step) -> Self {
        let commands = match step {
            Step::Round(commands) => commands,
            Step::Redeliver(index) => vec![model.sent[index].clone()],
            Step::Restart => {
                sut.db.flush().unwrap();
                drop(sut.store);
                drop(sut.db);
                let (db, store) = Self::open(&sut.path);
                sut.db = db;
                sut.store = store;
                return sut;
            }
        };
        // As the InventoryActor does: a command whose movements do not all parse is refused
        // before the round; the others are written in the round's one transaction.
        let parsed: Vec<Result<LedgerCommand, &'static str>> = commands
            .iter()
            .map(|command| {
                command
                    .iter()
                    .map(|spec| Movement::parse(&spec.input()))
                    .collect::<Result<Vec<Movement>, _>>()
                    .map(LedgerCommand::from)
                    .map_err(|error| error.kind())
            })
            .collect();
        let movements: Vec<LedgerCommand> = parsed
            .iter()
            .filter_map(|command| command.clone().ok())
            .collect();
        assert!(movements
            .iter()
            .all(|command| command.movements.len() <= MAX_BATCH));
        let mut answers = sut
            .store
            .apply_commands(&movements, 0)
            .unwrap_or_else(|error| panic!("store failure: {error}"))
            .into_iter();
        let actual: Vec<Expected> = parsed
            .iter()
            .map(|command| match command {
                Err(kind) => Expected::Refused(kind),
                Ok(_) => match answers.next().expect("one answer per written command") {
                    Ok(outcome) => Expected::Accepted(
                        outcome
                            .results
                            .iter()
                            .map(|applied| (applied.seq, applied.duplicate, applied.oversold_units))
                            .collect(),
                    ),
                    Err(error) => {
                        assert!(error.is_caller_error(), "store failure: {error}");
                        Expected::Refused(error.kind())
                    }
                },
            })
            .collect();
        assert_eq!(actual, model.expected, "round {commands:?}");
        sut
    }

    fn check_invariants(sut: &Self, model: &Model) {
        let stored: BTreeMap<String, (i64, i64)> = sut
            .store
            .balances()
            .unwrap()
            .into_iter()
            .map(|(sku, balance)| {
                (
                    sku.as_str().to_string(),
                    (balance.on_hand, balance.reserved),
                )
            })
            .collect();
        assert_eq!(stored, model.balances, "balances differ from the model");
        // INV-LEDGER at every step, through the actor's own view of a balance.
        for (sku, balance) in sut.store.balances().unwrap() {
            let level = StockLevel::new(sku, balance).unwrap();
            assert_eq!(level.available, level.on_hand - level.reserved, "{level:?}");
        }
        assert_eq!(sut.store.head_seq().unwrap(), model.head);
        // Gap-free journal, refold equals stored balances, every key and index entry consistent.
        let report = sut
            .store
            .verify()
            .unwrap_or_else(|error| panic!("verify failed: {error}"));
        assert_eq!(report.head_seq, model.head);
        let oversells = model
            .applied
            .values()
            .filter(|(_, _, oversold)| *oversold > 0)
            .count();
        assert_eq!(
            report.exceptions, oversells,
            "one order exception per oversold entry"
        );
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: std::env::var("LEDGER_MODEL_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(200),
        failure_persistence: None,
        .. Config::default()
    })]

    #[test]
    fn ledger_store_matches_the_reference_model(sequential 1..40 => LedgerUnderTest);
}
