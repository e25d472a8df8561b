//! kill -9 crash test of the ledger (scenarios S01, S02 and S03 of `reference/reliability.md`
//! §7.2), in the spirit of sled's own `test_crash_recovery`: `harness = false`, the binary re-runs
//! itself as a child.
//!
//! The **child** opens the database, starts an InventoryActor, and has several concurrent callers
//! apply batches of movements (new ones, and re-deliveries of movements acknowledged in earlier
//! lives). Each acknowledged movement is appended to an ack log with one `write` to an `O_APPEND`
//! file, which survives the kill because it sits in the kernel's page cache.
//!
//! The **parent** kills the child with SIGKILL at a random moment (10 % of kills land in the
//! first milliseconds, during open and recovery), then checks on the reopened database:
//! - INV-ACK / INV-ONCE: every acknowledged movement is in the journal exactly once, at the
//!   sequence number its acknowledgement carried, and a re-delivery was answered with the first
//!   delivery's sequence number;
//! - INV-PREFIX: the journal is gap-free from 1 to the head;
//! - INV-LEDGER / INV-ATOMIC: refolding the journal gives the stored balances exactly, and every
//!   idempotency key, SKU index entry and exception belongs to its journal entry.
//!
//! The **negative control** runs children that acknowledge before the flush
//! (`AckPolicy::BeforeFlushUnsafe`); the same oracle must catch lost acknowledged events, or the
//! oracle proves nothing.
//!
//! The second scenario, in [`serve`], kills the real `shelfsync serve` process under webhook load
//! and checks the acknowledged deliveries and the listings through the HTTP API after each restart
//! (issue 5, must-show 6).
//!
//! Environment: `SHELFSYNC_CRASH_CYCLES` (default 200) raises the cycle count for a soak;
//! `SHELFSYNC_CRASH_SERVE_CYCLES` (default 8, 0 skips it) does the same for the serve scenario;
//! `SHELFSYNC_CRASH_SEED` replays a run.

mod serve;

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use actix::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::inventory::ledger::MovementInput;
use shelfsync_actors::inventory::messages::ApplyMovements;
use shelfsync_actors::inventory::store::LedgerStore;
use shelfsync_actors::inventory::{AckPolicy, InventoryActor, InventoryConfig};
use shelfsync_actors::runtime::BoundedStart;
use shelfsync_actors::storage::{client_tree, open_database, DbFlusher, DEFAULT_CACHE_BYTES};

const ROLE_VAR: &str = "SHELFSYNC_CRASH_CHILD";
const CLIENT: &str = "CRASH";
/// Concurrent callers in each child.
const CALLERS: usize = 8;
/// A child that is never killed stops by itself after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(20);
/// Cycles against one database before the next cycle starts on a fresh one. The check reads the
/// whole ledger after every kill, so an ever-growing ledger would make a soak quadratic.
const CYCLES_PER_DATABASE: usize = 25;
/// Cycles of the negative control before it is declared blind.
const NEGATIVE_CONTROL_CYCLES: usize = 50;
/// The exit code of a child that saw a violation itself (a re-delivery answered wrongly).
const CHILD_VIOLATION: i32 = 2;
/// The exit code of a child that could not open or recover the ledger.
const CHILD_OPEN_FAILED: i32 = 3;

fn main() -> ExitCode {
    if std::env::var_os(ROLE_VAR).is_some() {
        return child();
    }
    let cycles = env_number("SHELFSYNC_CRASH_CYCLES", 200);
    let serve_cycles = env_number("SHELFSYNC_CRASH_SERVE_CYCLES", 8);
    let seed = env_number("SHELFSYNC_CRASH_SEED", rand::random::<u32>() as usize) as u64;
    println!(
        "crash test: {cycles} kill -9 cycles of the ledger, {serve_cycles} of serve, seed {seed} \
         (SHELFSYNC_CRASH_SEED={seed} replays it)"
    );
    let started = Instant::now();
    let mut failures = 0;
    let mut checks = 2;

    let mut total = Summary::default();
    let mut remaining = cycles;
    let mut database = 0;
    while remaining > 0 {
        let batch = remaining.min(CYCLES_PER_DATABASE);
        match run_cycles(batch, seed.wrapping_add(database), false) {
            Ok(summary) => {
                total.cycles += summary.cycles;
                total.acked += summary.acked;
                total.redeliveries += summary.redeliveries;
                total.head = total.head.max(summary.head);
                total.check_seconds += summary.check_seconds;
            }
            Err(violation) => {
                println!("durable acks: VIOLATION in database {database}: {violation}");
                failures += 1;
                break;
            }
        }
        remaining -= batch;
        database += 1;
    }
    if failures == 0 {
        println!(
            "durable acks: {} cycles over {database} databases, {} acknowledged movements ({} re-deliveries), \
             largest journal {}, 0 violations ({:.1} s checking)",
            total.cycles, total.acked, total.redeliveries, total.head, total.check_seconds
        );
    }

    match run_cycles(NEGATIVE_CONTROL_CYCLES, seed ^ 0x5eed, true) {
        Ok(summary) => {
            println!(
                "negative control: FAILED: acknowledging before the flush lost nothing the oracle \
                 could see in {} cycles ({} acks): the oracle is blind",
                summary.cycles, summary.acked
            );
            failures += 1;
        }
        Err(violation) => println!(
            "negative control: the oracle caught the unsafe ack policy as expected: {violation}"
        ),
    }

    let serve_started = Instant::now();
    for outcome in serve::run(serve_cycles, seed) {
        checks += 1;
        match outcome.result {
            Ok(summary) => println!("{}: {summary}", outcome.name),
            Err(violation) => {
                println!("{}: VIOLATION: {violation}", outcome.name);
                failures += 1;
            }
        }
    }
    println!(
        "serve kill -9 scenario took {:.1} s",
        serve_started.elapsed().as_secs_f64()
    );

    println!(
        "crash test finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("crash: {} passed, {failures} failed", checks - failures);
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Default)]
struct Summary {
    cycles: usize,
    acked: usize,
    redeliveries: usize,
    head: u64,
    check_seconds: f64,
}

/// Runs kill cycles against one fresh database; stops at the first violation.
fn run_cycles(cycles: usize, seed: u64, unsafe_ack: bool) -> Result<Summary, String> {
    let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
    let db_path = dir.path().join("db");
    let ack_path = dir.path().join("acks.log");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut summary = Summary::default();
    for cycle in 0..cycles {
        // One kill in ten lands during open and recovery, as in sled's crash tests.
        let kill_after = if rng.gen_ratio(1, 10) {
            Duration::from_millis(rng.gen_range(0..15))
        } else {
            Duration::from_millis(rng.gen_range(20..300))
        };
        let mut child = Command::new(std::env::current_exe().map_err(|error| error.to_string())?)
            .env(ROLE_VAR, "1")
            .env("CRASH_DB", &db_path)
            .env("CRASH_ACKS", &ack_path)
            .env("CRASH_CYCLE", cycle.to_string())
            .env("CRASH_SEED", rng.gen::<u64>().to_string())
            .env("CRASH_UNSAFE_ACK", if unsafe_ack { "1" } else { "0" })
            .stdout(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start the child: {error}"))?;
        std::thread::sleep(kill_after);
        // `Child::kill` sends SIGKILL on Unix.
        let _ = child.kill();
        let status = child.wait().map_err(|error| error.to_string())?;
        if let Some(code) = status.code() {
            return Err(format!("cycle {cycle}: the child exited by itself with code {code} (2: bad re-delivery answer, 3: open failed)"));
        }
        let check_started = Instant::now();
        let checked = check(&db_path, &ack_path).map_err(|violation| {
            format!("cycle {cycle} (killed after {kill_after:?}): {violation}")
        })?;
        summary = Summary {
            cycles: cycle + 1,
            check_seconds: summary.check_seconds + check_started.elapsed().as_secs_f64(),
            ..checked
        };
    }
    Ok(summary)
}

/// One acknowledged movement as the child logged it.
#[derive(Debug, Clone)]
struct Ack {
    key: String,
    seq: u64,
    sku: String,
    kind: String,
    quantity: i64,
    redelivery: bool,
}

impl Ack {
    fn line(&self) -> String {
        let tag = if self.redelivery {
            "redelivery"
        } else {
            "first"
        };
        format!(
            "{}\t{}\t{}\t{}\t{}\t{tag}\n",
            self.key, self.seq, self.sku, self.kind, self.quantity
        )
    }

    fn parse(line: &str) -> Option<Ack> {
        let mut fields = line.split('\t');
        let ack = Ack {
            key: fields.next()?.to_string(),
            seq: fields.next()?.parse().ok()?,
            sku: fields.next()?.to_string(),
            kind: fields.next()?.to_string(),
            quantity: fields.next()?.parse().ok()?,
            redelivery: fields.next()? == "redelivery",
        };
        fields.next().is_none().then_some(ack)
    }
}

/// Reads the ack log. A last line without its newline was cut by the kill mid-write: its ack
/// never completed, so it is skipped.
fn read_acks(path: &Path) -> Result<Vec<Ack>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(format!("cannot read the ack log: {error}")),
    };
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    complete
        .lines()
        .map(|line| Ack::parse(line).ok_or_else(|| format!("unreadable ack line {line:?}")))
        .collect()
}

/// Checks every invariant on the database the killed child left behind.
fn check(db_path: &Path, ack_path: &Path) -> Result<Summary, String> {
    let db = open_database(db_path, DEFAULT_CACHE_BYTES)
        .map_err(|error| format!("INV-OPEN: {error}"))?;
    let tree =
        client_tree(&db, &ClientCode::parse(CLIENT).unwrap()).map_err(|error| error.to_string())?;
    let store = LedgerStore::open(tree)
        .map_err(|error| format!("INV-OPEN: recovery refused the ledger: {error}"))?;
    let report = store
        .verify()
        .map_err(|error| format!("INV-PREFIX/INV-LEDGER/INV-ATOMIC: {error}"))?;
    let acks = read_acks(ack_path)?;
    let mut first_seq: HashMap<&str, u64> = HashMap::new();
    let mut redeliveries = 0;
    for ack in &acks {
        if ack.redelivery {
            redeliveries += 1;
        }
        if let Some(seq) = first_seq.insert(&ack.key, ack.seq) {
            if seq != ack.seq {
                return Err(format!(
                    "INV-ONCE: key {} was acknowledged at seq {seq} and again at seq {}",
                    ack.key, ack.seq
                ));
            }
        }
        let entry = store
            .journal_entry(ack.seq)
            .map_err(|error| error.to_string())?
            .ok_or_else(|| {
                format!(
                    "INV-ACK: acknowledged movement {} (seq {}) is lost: the journal ends at {}",
                    ack.key, ack.seq, report.head_seq
                )
            })?;
        if entry.key.as_str() != ack.key
            || entry.sku.as_str() != ack.sku
            || entry.kind().as_str() != ack.kind
            || entry.quantity() != ack.quantity
        {
            return Err(format!(
                "INV-ACK: seq {} holds {entry:?}, but {ack:?} was acknowledged there",
                ack.seq
            ));
        }
    }
    Ok(Summary {
        acked: acks.len(),
        redeliveries,
        head: report.head_seq,
        ..Summary::default()
    })
}

/// The child: applies movements through the InventoryActor until it is killed.
fn child() -> ExitCode {
    let db_path = PathBuf::from(std::env::var("CRASH_DB").expect("CRASH_DB"));
    let ack_path = PathBuf::from(std::env::var("CRASH_ACKS").expect("CRASH_ACKS"));
    let cycle = env_number("CRASH_CYCLE", 0);
    let seed: u64 = env_number("CRASH_SEED", 0) as u64;
    let unsafe_ack = std::env::var("CRASH_UNSAFE_ACK").as_deref() == Ok("1");

    let earlier = match read_acks(&ack_path) {
        Ok(acks) => acks,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(CHILD_OPEN_FAILED as u8);
        }
    };
    let system = System::new();
    let code = system.block_on(async move {
        let db = match open_database(&db_path, DEFAULT_CACHE_BYTES) {
            Ok(db) => db,
            Err(error) => {
                eprintln!("{error}");
                return CHILD_OPEN_FAILED;
            }
        };
        let client = ClientCode::parse(CLIENT).unwrap();
        let tree = client_tree(&db, &client).expect("open tree");
        let ack = if unsafe_ack {
            AckPolicy::BeforeFlushUnsafe
        } else {
            AckPolicy::AfterFlush
        };
        let actor = match InventoryActor::open(
            client,
            tree,
            InventoryConfig {
                ack,
                flusher: Some(DbFlusher::new(&db)),
                ..InventoryConfig::default()
            },
        ) {
            Ok(actor) => actor,
            Err(error) => {
                eprintln!("{error}");
                return CHILD_OPEN_FAILED;
            }
        };
        let inventory = actor.start_bounded();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ack_path)
            .expect("open ack log");
        let log = std::rc::Rc::new(log);
        let earlier = std::rc::Rc::new(earlier);
        let callers: Vec<_> = (0..CALLERS)
            .map(|caller| {
                let inventory = inventory.clone();
                let log = log.clone();
                let earlier = earlier.clone();
                let mut rng = StdRng::seed_from_u64(
                    seed ^ (caller as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                actix::spawn(async move {
                    caller_loop(caller, cycle, &inventory, &log, &earlier, &mut rng).await
                })
            })
            .collect();
        tokio::select! {
            violation = first_violation(callers) => violation,
            () = actix::clock::sleep(CHILD_LIFETIME) => 0,
        }
    });
    ExitCode::from(code as u8)
}

/// Waits for every caller; returns the first non-zero exit code.
async fn first_violation(callers: Vec<tokio::task::JoinHandle<i32>>) -> i32 {
    for caller in callers {
        let code = caller.await.unwrap_or(CHILD_VIOLATION);
        if code != 0 {
            return code;
        }
    }
    0
}

async fn caller_loop(
    caller: usize,
    cycle: usize,
    inventory: &Addr<InventoryActor>,
    log: &std::fs::File,
    earlier: &[Ack],
    rng: &mut StdRng,
) -> i32 {
    for batch_number in 0u64.. {
        let redeliver = !earlier.is_empty() && rng.gen_ratio(1, 10);
        let batch: Vec<(MovementInput, bool)> = if redeliver {
            let old = &earlier[rng.gen_range(0..earlier.len())];
            vec![(input(&old.key, &old.sku, &old.kind, old.quantity), true)]
        } else {
            (0..rng.gen_range(1..=3))
                .map(|line| {
                    let key = format!("c{cycle}-w{caller}-b{batch_number}-l{line}");
                    let sku = format!("SKU-{}", rng.gen_range(0..20));
                    let (kind, quantity) = match rng.gen_range(0..10) {
                        0..=3 => ("receipt", rng.gen_range(1..10)),
                        4..=8 => ("sale", rng.gen_range(1..4)),
                        _ => ("adjustment", [-2, -1, 1, 2][rng.gen_range(0..4)]),
                    };
                    (input(&key, &sku, kind, quantity), false)
                })
                .collect()
        };
        let inputs: Vec<MovementInput> = batch.iter().map(|(input, _)| input.clone()).collect();
        let movements =
            ApplyMovements::parse(&inputs).expect("the crash test's movements are valid");
        let outcome = match inventory.send(movements).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => {
                eprintln!("the ledger refused a valid batch: {error}");
                return CHILD_VIOLATION;
            }
            Err(error) => {
                eprintln!("the inventory actor is gone: {error}");
                return CHILD_VIOLATION;
            }
        };
        let mut lines = String::new();
        for ((input, redelivery), applied) in batch.iter().zip(&outcome.results) {
            if *redelivery {
                let old = earlier
                    .iter()
                    .find(|ack| ack.key == input.key)
                    .expect("re-delivered key was logged");
                if !applied.duplicate || applied.seq != old.seq {
                    eprintln!(
                        "INV-ONCE: re-delivery of {} answered {applied:?}, first ack was seq {}",
                        input.key, old.seq
                    );
                    return CHILD_VIOLATION;
                }
            }
            let ack = Ack {
                key: input.key.clone(),
                seq: applied.seq,
                sku: input.sku.clone(),
                kind: input.kind.clone(),
                quantity: input.quantity,
                redelivery: *redelivery,
            };
            lines.push_str(&ack.line());
        }
        // One write of whole lines: the kernel keeps it across the kill of this process.
        if (&*log).write_all(lines.as_bytes()).is_err() {
            return CHILD_VIOLATION;
        }
    }
    unreachable!("the batch counter cannot run out before the child is killed or its lifetime ends")
}

fn input(key: &str, sku: &str, kind: &str, quantity: i64) -> MovementInput {
    MovementInput {
        key: key.into(),
        source: "channel:crash".into(),
        sku: sku.into(),
        kind: kind.into(),
        quantity,
    }
}
