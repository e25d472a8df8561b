//! The ledger throughput benchmark.
//!
//! For every concurrency level N it measures, on a fresh sled database each time:
//!
//! * **engine**: N callers, each sending one `ApplyMovements` of one movement to an
//!   `InventoryActor` and awaiting the acknowledgement (which comes only after the group-commit
//!   round covering it is durable: flushed and fdatasync'd by the database's `DbFlusher`, as in
//!   the service) before sending the next;
//! * **raw sled, same shape and the same sync**: the same events straight to sled on one thread
//!   without any actor, in the shape the actor writes them: every N events are N one-movement
//!   commands in ONE `LedgerStore::apply_commands` transaction (split at `MAX_ROUND_MOVEMENTS`),
//!   then one `DbFlusher::flush_blocking` (sled's flush and the fdatasync, the engine's code
//!   path): the ideal group commit at level N;
//! * **raw sled without the fdatasync** (extra column): as raw, but `Tree::flush` alone, which
//!   ends in `sync_file_range` and survives a killed process but not a power cut: what an
//!   acknowledgement cost before it waited for the fdatasync, so the run shows the sync's price;
//! * **raw sled, one transaction per event** (extra column, for reference): every event in its
//!   own `LedgerStore::apply` transaction, one durable flush per N events: the shape the actor
//!   had before group commit went to rounds, which sled 0.34.7 caps (it writes its log on every
//!   transaction).
//!
//! Both sides first receive the same untimed seed batch (a large receipt for every SKU) so that no
//! timed sale oversells: every timed event writes exactly the journal entry, balance, idempotency
//! key, SKU index entry and head, and nothing else.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use clap::{Args, ValueEnum};
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::inventory::ledger::{Movement, MovementInput};
use shelfsync_actors::inventory::messages::MAX_BATCH;
use shelfsync_actors::inventory::messages::{ApplyMovements, GetState, InventoryState};
use shelfsync_actors::inventory::store::{LedgerCommand, LedgerStore};
use shelfsync_actors::inventory::{
    system_clock_ms, InventoryActor, InventoryConfig, MAX_ROUND_MOVEMENTS,
};
use shelfsync_actors::runtime::BoundedStart;
use shelfsync_actors::storage::{client_tree, open_database, DbFlusher, DEFAULT_CACHE_BYTES};

use crate::percentiles::Percentiles;

/// Events per level when `--events-per-level` is not given: level 1 pays one flush per event.
const DEFAULT_EVENTS_LEVEL_1: usize = 5_000;
/// Events per level above 1 when `--events-per-level` is not given.
const DEFAULT_EVENTS: usize = 50_000;
/// On-hand given to every SKU by the untimed seed batch, far above the timed sales.
const SEED_ON_HAND: i64 = 1_000_000;

/// Options of `shelfsync-bench ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// Concurrency levels (concurrent callers), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
    levels: Vec<usize>,
    /// Events per level [default: 5000 for level 1, 50000 for every other level].
    #[arg(long)]
    events_per_level: Option<usize>,
    /// Distinct SKUs the events are spread over (1 to 1000).
    #[arg(long, default_value_t = 300)]
    skus: usize,
    /// Directory in which each level's temporary sled database is created [default: the system
    /// temporary directory]. Put it on the disk you want to measure.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Where the actor runs: on the same thread as the callers (`shared`), or on its own arbiter
    /// thread (`dedicated`), as it would beside HTTP workers in the service.
    #[arg(long, value_enum, default_value_t = ActorThread::Shared)]
    actor_thread: ActorThread,
    /// Measurements to run at every level, comma-separated (a subset is handy under a profiler).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "engine,raw,raw-no-fdatasync,raw-tx-per-event"
    )]
    phases: Vec<Phase>,
    /// Also print the results as one JSON object on the last line.
    #[arg(long)]
    json: bool,
}

/// One measurement of a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    /// Callers through the InventoryActor.
    Engine,
    /// Every <level> events as <level> commands in one `apply_commands` transaction, then one
    /// durable flush (sled's flush and the fdatasync): the engine's shape and sync.
    Raw,
    /// As `raw`, with sled's flush alone (no fdatasync: not durable against a power cut).
    RawNoFdatasync,
    /// `LedgerStore::apply` per event, one durable flush per <level> events (reference).
    RawTxPerEvent,
}

/// Where the InventoryActor runs relative to its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ActorThread {
    /// `start_bounded()` on the System thread that also runs every caller task.
    Shared,
    /// `start_bounded_in()` on a dedicated arbiter; the callers stay on the System thread.
    Dedicated,
}

impl ActorThread {
    fn name(self) -> &'static str {
        match self {
            ActorThread::Shared => "shared",
            ActorThread::Dedicated => "dedicated",
        }
    }
}

/// What one engine run measured.
#[derive(Debug, Clone, Copy)]
struct EngineResult {
    events: usize,
    elapsed: Duration,
    rounds: u64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl EngineResult {
    fn mean_batch(&self) -> f64 {
        self.events as f64 / self.rounds.max(1) as f64
    }
}

/// How the raw sled baseline groups events into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawMode {
    /// One transaction per batch of commands (the engine's round), one flush per batch.
    Rounds,
    /// One transaction per event, one flush per batch.
    TxPerEvent,
}

/// How the raw sled baseline makes a batch durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawSync {
    /// `DbFlusher::flush_blocking`: sled's flush, then the fdatasync (the service's path).
    Fdatasync,
    /// `Tree::flush` alone (ends in `sync_file_range`).
    SledFlushOnly,
}

/// What one raw sled run measured.
#[derive(Debug, Clone, Copy)]
struct RawResult {
    events: usize,
    elapsed: Duration,
    flushes: usize,
}

/// One line of the report.
#[derive(Debug, Clone, Copy)]
struct LevelResult {
    level: usize,
    events: usize,
    engine: Option<EngineResult>,
    raw: Option<RawResult>,
    raw_no_fdatasync: Option<RawResult>,
    raw_tx_per_event: Option<RawResult>,
}

/// Runs the benchmark and prints its report.
pub fn run(args: &LedgerArgs) -> anyhow::Result<()> {
    ensure!(!args.levels.is_empty(), "--levels names no level");
    ensure!(
        args.levels.iter().all(|&level| level > 0),
        "every level must be at least 1"
    );
    ensure!(
        (1..=MAX_BATCH).contains(&args.skus),
        "--skus must be between 1 and {MAX_BATCH}"
    );
    if let Some(events) = args.events_per_level {
        ensure!(events > 0, "--events-per-level must be at least 1");
    }

    print_machine(args);
    let started = Instant::now();
    let mut results = Vec::with_capacity(args.levels.len());
    for &level in &args.levels {
        let events = args.events_per_level.unwrap_or(if level == 1 {
            DEFAULT_EVENTS_LEVEL_1
        } else {
            DEFAULT_EVENTS
        });
        let engine = if args.phases.contains(&Phase::Engine) {
            eprintln!("level {level}: {events} events through the engine…");
            Some(
                run_engine(args, level, events)
                    .with_context(|| format!("engine at level {level}"))?,
            )
        } else {
            None
        };
        let raw = if args.phases.contains(&Phase::Raw) {
            eprintln!("level {level}: {events} events straight to sled…");
            Some(
                run_raw(args, level, events, RawMode::Rounds, RawSync::Fdatasync)
                    .with_context(|| format!("raw sled at level {level}"))?,
            )
        } else {
            None
        };
        let raw_no_fdatasync = if args.phases.contains(&Phase::RawNoFdatasync) {
            eprintln!("level {level}: {events} events straight to sled, no fdatasync…");
            Some(
                run_raw(args, level, events, RawMode::Rounds, RawSync::SledFlushOnly)
                    .with_context(|| format!("raw sled without fdatasync at level {level}"))?,
            )
        } else {
            None
        };
        let raw_tx_per_event = if args.phases.contains(&Phase::RawTxPerEvent) {
            eprintln!(
                "level {level}: {events} events straight to sled, one transaction per event…"
            );
            Some(
                run_raw(args, level, events, RawMode::TxPerEvent, RawSync::Fdatasync)
                    .with_context(|| {
                        format!("raw sled (one transaction per event) at level {level}")
                    })?,
            )
        } else {
            None
        };
        results.push(LevelResult {
            level,
            events,
            engine,
            raw,
            raw_no_fdatasync,
            raw_tx_per_event,
        });
    }
    print_table(&results);
    println!("total wall time: {:.1} s", started.elapsed().as_secs_f64());
    if args.json {
        println!("{}", to_json(args, &results));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Workload

fn sku(index: usize) -> String {
    format!("BENCH-ITEM-{index:04}")
}

/// The untimed seed: a receipt of [`SEED_ON_HAND`] for every SKU, in one batch.
fn seed_inputs(skus: usize) -> Vec<MovementInput> {
    (0..skus)
        .map(|index| MovementInput {
            key: format!("seed-{index:04}"),
            source: "import".into(),
            sku: sku(index),
            kind: "receipt".into(),
            quantity: SEED_ON_HAND,
        })
        .collect()
}

/// Event `index` of a level: alternately a receipt through the API and a sale from a channel,
/// spread round-robin over the SKUs, each with its own idempotency key.
fn event_input(level: usize, index: usize, skus: usize) -> MovementInput {
    let (source, kind, quantity) = if index % 2 == 0 {
        ("api", "receipt", 2)
    } else {
        ("channel:bench", "sale", 1)
    };
    MovementInput {
        key: format!("bench-l{level}-e{index:08}"),
        source: source.into(),
        sku: sku(index % skus),
        kind: kind.into(),
        quantity,
    }
}

fn temp_dir(args: &LedgerArgs) -> anyhow::Result<tempfile::TempDir> {
    let builder = {
        let mut builder = tempfile::Builder::new();
        builder.prefix("shelfsync-bench-");
        builder
    };
    Ok(match &args.dir {
        Some(dir) => builder.tempdir_in(dir)?,
        None => builder.tempdir()?,
    })
}

/// Opens the database the way the service does (`storage::open_database`), so the bench measures
/// the service's sled configuration.
fn open_tree(dir: &tempfile::TempDir) -> anyhow::Result<(sled::Db, sled::Tree)> {
    let db = open_database(dir.path(), DEFAULT_CACHE_BYTES)?;
    let tree = client_tree(&db, &ClientCode::parse("BENCH")?)?;
    Ok((db, tree))
}

// ---------------------------------------------------------------------------------------------
// Engine

fn run_engine(args: &LedgerArgs, level: usize, events: usize) -> anyhow::Result<EngineResult> {
    let dir = temp_dir(args)?;
    let (db, tree) = open_tree(&dir)?;
    let client = ClientCode::parse("BENCH")?;
    let config = InventoryConfig {
        flusher: Some(DbFlusher::new(&db)),
        ..InventoryConfig::default()
    };
    let actor = InventoryActor::open(client, tree, config)?;

    // Caller c sends events c, c + level, c + 2·level, …; messages are built before the clock
    // starts so that the callers cost as little as possible.
    let mut work: Vec<Vec<ApplyMovements>> = (0..level)
        .map(|_| Vec::with_capacity(events / level + 1))
        .collect();
    for index in 0..events {
        work[index % level].push(ApplyMovements::parse(&[event_input(
            level, index, args.skus,
        )])?);
    }
    let seed = ApplyMovements::parse(&seed_inputs(args.skus))?;
    let mode = args.actor_thread;

    let system = actix_rt::System::new();
    let (result, arbiter) = system.block_on(async move {
        let arbiter = (mode == ActorThread::Dedicated).then(actix_rt::Arbiter::new);
        let addr = match &arbiter {
            Some(arbiter) => actor.start_bounded_in(&arbiter.handle()),
            None => actor.start_bounded(),
        };
        let result = drive_engine(addr, seed, work, events).await;
        (result, arbiter)
    });
    if let Some(arbiter) = arbiter {
        arbiter.stop();
        if arbiter.join().is_err() {
            bail!("the actor's arbiter thread panicked");
        }
    }
    // Dropping the runner drops the actor (and its tree handle) before the database goes.
    drop(system);
    drop(db);
    drop(dir);
    result
}

async fn drive_engine(
    addr: actix::Addr<InventoryActor>,
    seed: ApplyMovements,
    work: Vec<Vec<ApplyMovements>>,
    events: usize,
) -> anyhow::Result<EngineResult> {
    addr.send(seed).await??;
    let before: InventoryState = addr.send(GetState).await??;

    let started = Instant::now();
    let callers: Vec<_> = work
        .into_iter()
        .map(|messages| {
            let addr = addr.clone();
            actix_rt::spawn(async move {
                let mut latencies = Vec::with_capacity(messages.len());
                for message in messages {
                    let sent = Instant::now();
                    let outcome = addr.send(message).await??;
                    latencies.push(sent.elapsed());
                    ensure!(
                        outcome.results.len() == 1 && !outcome.results[0].duplicate,
                        "unexpected outcome {outcome:?}"
                    );
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(events);
    for caller in callers {
        latencies.extend(caller.await??);
    }
    let elapsed = started.elapsed();

    let after: InventoryState = addr.send(GetState).await??;
    ensure!(
        latencies.len() == events,
        "{} events acknowledged, {events} sent",
        latencies.len()
    );
    ensure!(
        after.head_seq == before.head_seq + events as u64,
        "the journal head moved from {} to {} for {events} events",
        before.head_seq,
        after.head_seq
    );
    ensure!(
        after.pending_acks == 0 && !after.round_running,
        "the actor still owes answers: {after:?}"
    );
    let micros: Vec<f64> = latencies.iter().map(|l| l.as_secs_f64() * 1e6).collect();
    let figures = Percentiles::of(&micros, 0.001);
    let duration = |micros: f64| Duration::from_secs_f64(micros / 1e6);
    Ok(EngineResult {
        events,
        elapsed,
        rounds: after.completed_rounds - before.completed_rounds,
        p50: duration(figures.p50),
        p99: duration(figures.p99),
        max: duration(figures.max),
    })
}

// ---------------------------------------------------------------------------------------------
// Raw sled

fn run_raw(
    args: &LedgerArgs,
    level: usize,
    events: usize,
    mode: RawMode,
    sync: RawSync,
) -> anyhow::Result<RawResult> {
    let dir = temp_dir(args)?;
    let (db, tree) = open_tree(&dir)?;
    let store = LedgerStore::open(tree.clone())?;
    let flusher = DbFlusher::new(&db);
    let make_durable = || -> anyhow::Result<()> {
        match sync {
            RawSync::Fdatasync => flusher.flush_blocking()?,
            RawSync::SledFlushOnly => drop(tree.flush()?),
        }
        Ok(())
    };

    let seed = seed_inputs(args.skus)
        .iter()
        .map(Movement::parse)
        .collect::<Result<Vec<_>, _>>()?;
    store.apply(&seed, system_clock_ms())?;
    make_durable()?;
    // Parsed before the clock starts: the baseline is the storage work alone.
    let movements = (0..events)
        .map(|index| Movement::parse(&event_input(level, index, args.skus)))
        .collect::<Result<Vec<_>, _>>()?;
    // One single-movement command per event, as the actor receives them.
    let commands: Vec<LedgerCommand> = movements
        .iter()
        .map(|movement| LedgerCommand::from(vec![movement.clone()]))
        .collect();
    let before = store.head_seq()?;

    let started = Instant::now();
    let mut flushes = 0;
    for (batch_index, batch) in movements.chunks(level).enumerate() {
        match mode {
            RawMode::TxPerEvent => {
                for movement in batch {
                    store.apply(std::slice::from_ref(movement), system_clock_ms())?;
                }
            }
            RawMode::Rounds => {
                let first = batch_index * level;
                let batch_commands = &commands[first..first + batch.len()];
                for round in batch_commands.chunks(MAX_ROUND_MOVEMENTS) {
                    for outcome in store.apply_commands(round, system_clock_ms())? {
                        outcome?;
                    }
                }
            }
        }
        make_durable()?;
        flushes += 1;
    }
    let elapsed = started.elapsed();

    let after = store.head_seq()?;
    ensure!(
        after == before + events as u64,
        "the journal head moved from {before} to {after} for {events} events"
    );
    drop(store);
    drop(flusher);
    drop(tree);
    drop(db);
    drop(dir);
    Ok(RawResult {
        events,
        elapsed,
        flushes,
    })
}

// ---------------------------------------------------------------------------------------------
// Report

fn per_second(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn first_line_with(path: &str, prefix: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_string())
}

fn print_machine(args: &LedgerArgs) {
    let nproc = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "?".into(), |text| text.trim().to_string());
    let cpu = first_line_with("/proc/cpuinfo", "model name").unwrap_or_else(|| "?".into());
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    println!("shelfsync-bench ledger");
    println!("machine: nproc {nproc}, kernel {kernel}, cpu {cpu}");
    println!(
        "sled 0.34.7 (the service's config: storage::open_database), db dir {}, actor thread {}, {} SKUs, one movement per command",
        dir.display(),
        args.actor_thread.name(),
        args.skus
    );
    println!();
}

fn print_table(results: &[LevelResult]) {
    let dash = || "-".to_string();
    println!();
    println!(
        "{:>6} {:>8} {:>12} {:>12} {:>11} {:>14} {:>8} {:>11} {:>9} {:>9} {:>9} {:>14}",
        "level",
        "events",
        "engine ev/s",
        "raw ev/s",
        "engine/raw",
        "raw no-fsync",
        "rounds",
        "mean batch",
        "p50 ack",
        "p99 ack",
        "max ack",
        "raw tx/event"
    );
    for result in results {
        let engine = result
            .engine
            .map(|engine| per_second(engine.events, engine.elapsed));
        let raw = result.raw.map(|raw| per_second(raw.events, raw.elapsed));
        let raw_no_fdatasync = result
            .raw_no_fdatasync
            .map(|raw| per_second(raw.events, raw.elapsed));
        let raw_tx_per_event = result
            .raw_tx_per_event
            .map(|raw| per_second(raw.events, raw.elapsed));
        let ratio = engine.zip(raw).map_or_else(dash, |(engine, raw)| {
            format!("{:.1}%", 100.0 * engine / raw)
        });
        let rate = |value: Option<f64>| value.map_or_else(dash, |value| format!("{value:.0}"));
        let engine_field =
            |field: fn(&EngineResult) -> String| result.engine.as_ref().map_or_else(dash, field);
        println!(
            "{:>6} {:>8} {:>12} {:>12} {:>11} {:>14} {:>8} {:>11} {:>9} {:>9} {:>9} {:>14}",
            result.level,
            result.events,
            rate(engine),
            rate(raw),
            ratio,
            rate(raw_no_fdatasync),
            engine_field(|engine| engine.rounds.to_string()),
            engine_field(|engine| format!("{:.1}", engine.mean_batch())),
            engine_field(|engine| format_latency(engine.p50)),
            engine_field(|engine| format_latency(engine.p99)),
            engine_field(|engine| format_latency(engine.max)),
            rate(raw_tx_per_event),
        );
    }
    println!();
    println!(
        "engine ev/s:   acknowledged (durable) events / wall time, each caller awaiting its ack"
    );
    println!("raw ev/s:      the same events straight to sled on one thread, the engine's shape and sync: <level> commands in one transaction, then DbFlusher::flush_blocking (sled's flush + fdatasync)");
    println!("raw no-fsync:  as raw ev/s, with Tree::flush alone (sync_file_range; not durable against a power cut): the price of the fdatasync");
    println!(
        "rounds, mean batch: engine group-commit rounds (one transaction, one flush and fdatasync) during the timed run, events per round"
    );
    println!("ack latencies: engine send-to-acknowledgement time per command");
    println!("raw tx/event:  as raw, but one LedgerStore::apply transaction per event (reference)");
}

fn format_latency(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 1_000.0 {
        format!("{:.1} ms", micros / 1_000.0)
    } else {
        format!("{micros:.0} µs")
    }
}

fn to_json(args: &LedgerArgs, results: &[LevelResult]) -> serde_json::Value {
    let raw_json = |raw: &RawResult| {
        serde_json::json!({
            "events_per_s": per_second(raw.events, raw.elapsed),
            "seconds": raw.elapsed.as_secs_f64(),
            "flushes": raw.flushes,
        })
    };
    let levels: Vec<_> = results
        .iter()
        .map(|result| {
            let engine = result.engine.as_ref().map(|engine| {
                serde_json::json!({
                    "events_per_s": per_second(engine.events, engine.elapsed),
                    "seconds": engine.elapsed.as_secs_f64(),
                    "rounds": engine.rounds,
                    "mean_round_batch": engine.mean_batch(),
                    "ack_p50_us": engine.p50.as_secs_f64() * 1e6,
                    "ack_p99_us": engine.p99.as_secs_f64() * 1e6,
                    "ack_max_us": engine.max.as_secs_f64() * 1e6,
                })
            });
            serde_json::json!({
                "level": result.level,
                "events": result.events,
                "engine": engine,
                "raw": result.raw.as_ref().map(raw_json),
                "raw_no_fdatasync": result.raw_no_fdatasync.as_ref().map(raw_json),
                "raw_tx_per_event": result.raw_tx_per_event.as_ref().map(raw_json),
            })
        })
        .collect();
    serde_json::json!({
        "nproc": std::thread::available_parallelism().map_or(0, usize::from),
        "actor_thread": args.actor_thread.name(),
        "skus": args.skus,
        "levels": levels,
    })
}
