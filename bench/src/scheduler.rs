//! The scheduler benchmark: `shelfsync-bench scheduler`, two parts in one run.
//!
//! **Part 1, risk-first against FIFO under a binding push budget** (virtual time, deterministic,
//! seeded). A discrete-event simulation of one client around the engine's own pure
//! [`PushQueue`] (one per channel) and [`ListingPolicy`]: shoppers arrive on every marketplace
//! (Poisson, the SKU drawn from a Zipf popularity) and buy one unit only while that marketplace
//! *lists* the SKU above zero, decrementing the listing themselves; each channel reads its order
//! feed every poll interval and the sales it finds reach the ledger then (the ingestion delay),
//! which retargets every channel; receipts raise stock at random. Pushes set absolute quantities
//! (no compare-and-set: an Etsy-like platform, so the engine's no-re-raise rule holds increases
//! until the feed has been read past the previous push), one push in flight per channel, the
//! budget a GCRA token bucket per channel. The same seeded arrival stream is replayed for both
//! orders: what differs is only which pending change each push slot carries. Measured per order:
//! exposure-unit-seconds against the ground truth, oversold units from the ground truth, and
//! what risk-first costs in return (increases held back, shoppers turned away while stock
//! existed).
//!
//! Exposure counts `max(0, listed − max(0, truth))` so that an oversold SKU (negative truth) adds
//! at most what is listed.
//!
//! **Part 2, propagation with no binding limit** (real actors, real time). C clients, each with an
//! `InventoryActor` on a shared temporary sled database and four `ChannelActor`s against
//! in-memory `FakeMarketplace`s, rate limits overridden far above anything reached (checked: the
//! limiter-wait histogram of a metrics recorder stays empty). After the stock is seeded and every
//! fake lists it, sales are applied straight to a client's InventoryActor as if channel 0 had read
//! them from its feed. A sale has reached the marketplaces when all three siblings have confirmed a
//! push computed from that sale's ledger entry or a later one (the fakes log every confirmed push
//! with its `ledger_seq` and instant); propagation is measured from the sale's acknowledgement
//! (durable with the service's ack policy) and, more conservatively, from its send. Every wait on
//! the engine is bounded: a phase without progress for `--stall-timeout` ends the run with an
//! error instead of hanging (sled 0.34.7 can deadlock under the engine's flushes: RESULTS.md).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use clap::{Args, ValueEnum};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shelfsync_actors::channel::marketplace::PushItem;
use shelfsync_actors::channel::messages::GetState as GetChannelState;
use shelfsync_actors::channel::platform::Platform;
use shelfsync_actors::channel::policy::ListingPolicy;
use shelfsync_actors::channel::scheduler::{PushOrder, PushQueue};
use shelfsync_actors::channel::{ChannelActor, ChannelConfig, LedgerPort};
use shelfsync_actors::clock::TokioClock;
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::inventory::ledger::MovementInput;
use shelfsync_actors::inventory::messages::MAX_BATCH;
use shelfsync_actors::inventory::messages::{ApplyMovements, GetState as GetInventoryState};
use shelfsync_actors::inventory::{AckPolicy, InventoryActor, InventoryConfig};
use shelfsync_actors::metrics as metric_names;
use shelfsync_actors::ratelimit::{
    AppId, Operation, RateLimitOverride, RateLimitOverrides, RateLimiters,
};
use shelfsync_actors::runtime::BoundedStart;
use shelfsync_actors::storage::{client_tree, open_database, DbFlusher, DEFAULT_CACHE_BYTES};
use shelfsync_actors::testing::fake_marketplace::FakeMarketplace;
use tokio::time::Instant;

/// Options of `shelfsync-bench scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Parts to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "sim,engine")]
    parts: Vec<Part>,
    /// Seed of every random choice (both parts).
    #[arg(long, default_value_t = 1)]
    seed: u64,

    // ---- Part 1: the simulation ----
    /// Part 1: channels (marketplaces) of the simulated client.
    #[arg(long, default_value_t = 4)]
    sim_channels: usize,
    /// Part 1: SKUs of the simulated client.
    #[arg(long, default_value_t = 1000)]
    sim_skus: usize,
    /// Part 1: virtual seconds simulated.
    #[arg(long, default_value_t = 3600)]
    sim_seconds: u64,
    /// Part 1: push calls per second per channel (the budget).
    #[arg(long, default_value_t = 2.0)]
    sim_push_rate: f64,
    /// Part 1: burst of the push budget, in calls.
    #[arg(long, default_value_t = 1)]
    sim_push_burst: u32,
    /// Part 1: listings per push call (Etsy, Amazon, Walmart: 1).
    #[arg(long, default_value_t = 1)]
    sim_batch: usize,
    /// Part 1: latency of every marketplace call (push and feed read), in milliseconds.
    #[arg(long, default_value_t = 200)]
    sim_latency_ms: u64,
    /// Part 1: interval between two reads of a channel's order feed, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    sim_poll_ms: u64,
    /// Part 1: shoppers arriving per second on each marketplace.
    #[arg(long, default_value_t = 1.0)]
    sim_shoppers: f64,
    /// Part 1: Zipf exponent of SKU popularity (0: uniform).
    #[arg(long, default_value_t = 1.0)]
    sim_zipf: f64,
    /// Part 1: receipts per second (each for one SKU drawn by popularity).
    #[arg(long, default_value_t = 0.3)]
    sim_restocks: f64,
    /// Part 1: units of a receipt, at least.
    #[arg(long, default_value_t = 5)]
    sim_restock_min: u32,
    /// Part 1: units of a receipt, at most.
    #[arg(long, default_value_t = 20)]
    sim_restock_max: u32,
    /// Part 1: initial stock of a SKU is uniform in 0..=this.
    #[arg(long, default_value_t = 20)]
    sim_initial_max: u32,

    // ---- Part 2: the real engine ----
    /// Part 2: clients (one InventoryActor and four ChannelActors each).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Part 2: SKUs per client.
    #[arg(long, default_value_t = 1000)]
    skus: usize,
    /// Part 2: sales applied during the timed phase.
    #[arg(long, default_value_t = 1000)]
    sales: usize,
    /// Part 2: sales per second (open loop, evenly spaced).
    #[arg(long, default_value_t = 200.0)]
    sales_rate: f64,
    /// Part 2: arbiters the clients are spread over [default: one per core].
    #[arg(long)]
    arbiters: Option<usize>,
    /// Part 2: order-feed poll interval of every channel, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// Part 2: longest time allowed for start-up (seed + every listing pushed), in seconds.
    #[arg(long, default_value_t = 600)]
    startup_timeout: u64,
    /// Part 2: a phase that makes no progress for this many seconds counts as a stall and ends
    /// the run (the engine can deadlock inside sled: see RESULTS.md).
    #[arg(long, default_value_t = 30)]
    stall_timeout: u64,
    /// Part 2: when the InventoryActors acknowledge. `after-flush` is the service's policy;
    /// `before-flush-unsafe` (a test hook: no flush at all) measures the same fan-out without
    /// `flush_async`.
    #[arg(long, value_enum, default_value_t = AckMode::AfterFlush)]
    ack: AckMode,
    /// Part 2: directory of the temporary sled database [default: the system temp dir].
    #[arg(long)]
    dir: Option<PathBuf>,

    /// Also print the results as one JSON object on the last line.
    #[arg(long)]
    json: bool,
}

/// A part of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    /// Part 1: risk-first against FIFO in virtual time.
    Sim,
    /// Part 2: propagation through the real actors.
    Engine,
}

/// When part 2's InventoryActors acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AckMode {
    /// After the round's `flush_async` (the service's policy, `AckPolicy::AfterFlush`).
    AfterFlush,
    /// Right after the round's transaction, never flushing (`AckPolicy::BeforeFlushUnsafe`, a
    /// test hook): not durable, for comparison only.
    BeforeFlushUnsafe,
}

impl AckMode {
    fn name(self) -> &'static str {
        match self {
            AckMode::AfterFlush => "after-flush",
            AckMode::BeforeFlushUnsafe => "before-flush-unsafe",
        }
    }

    fn policy(self) -> AckPolicy {
        match self {
            AckMode::AfterFlush => AckPolicy::AfterFlush,
            AckMode::BeforeFlushUnsafe => AckPolicy::BeforeFlushUnsafe,
        }
    }
}

/// Target of part 1: risk-first exposure at most this share of FIFO's.
const SIM_TARGET_RATIO: f64 = 0.5;
/// Target of part 2: p99 propagation below this.
const ENGINE_TARGET_P99: Duration = Duration::from_millis(5);

/// Runs the benchmark and prints its report.
pub fn run(args: &SchedulerArgs) -> anyhow::Result<()> {
    ensure!(!args.parts.is_empty(), "--parts names no part");
    print_machine();
    let mut json = serde_json::Map::new();
    if args.parts.contains(&Part::Sim) {
        let params = SimParams::from_args(args)?;
        let report = simulate(&params);
        print_sim(&params, &report);
        json.insert("sim".into(), sim_json(&params, &report));
    }
    if args.parts.contains(&Part::Engine) {
        let params = EngineParams::from_args(args)?;
        let report = run_engine(&params)?;
        print_engine(&params, &report);
        json.insert("engine".into(), engine_json(&params, &report));
    }
    if args.json {
        println!("{}", serde_json::Value::Object(json));
    }
    Ok(())
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn print_machine() {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "?".into(), |text| text.trim().to_string());
    println!("shelfsync-bench scheduler");
    println!("machine: nproc {}, kernel {kernel}", nproc());
    println!();
}

// =============================================================================================
// Part 1: the simulation

/// Parameters of the simulation, in nanoseconds of virtual time where they are times.
#[derive(Debug, Clone)]
struct SimParams {
    channels: usize,
    skus: usize,
    seconds: u64,
    seed: u64,
    push_rate: f64,
    push_burst: u32,
    batch: usize,
    latency_ns: u64,
    poll_ns: u64,
    shoppers: f64,
    zipf: f64,
    restocks: f64,
    restock_min: u32,
    restock_max: u32,
    initial_max: u32,
}

impl SimParams {
    fn from_args(args: &SchedulerArgs) -> anyhow::Result<Self> {
        ensure!(args.sim_channels >= 1, "--sim-channels must be at least 1");
        ensure!(args.sim_skus >= 1, "--sim-skus must be at least 1");
        ensure!(args.sim_seconds >= 1, "--sim-seconds must be at least 1");
        ensure!(
            args.sim_push_rate > 0.0 && args.sim_push_rate.is_finite(),
            "--sim-push-rate must be above 0"
        );
        ensure!(
            args.sim_push_burst >= 1,
            "--sim-push-burst must be at least 1"
        );
        ensure!(args.sim_batch >= 1, "--sim-batch must be at least 1");
        ensure!(args.sim_poll_ms >= 1, "--sim-poll-ms must be at least 1");
        ensure!(
            args.sim_shoppers > 0.0 && args.sim_shoppers.is_finite(),
            "--sim-shoppers must be above 0"
        );
        ensure!(
            args.sim_restocks >= 0.0 && args.sim_restocks.is_finite(),
            "--sim-restocks must be 0 or more"
        );
        ensure!(
            (1..=args.sim_restock_max).contains(&args.sim_restock_min),
            "--sim-restock-min must be between 1 and --sim-restock-max"
        );
        ensure!(args.sim_zipf >= 0.0, "--sim-zipf must be 0 or more");
        Ok(Self {
            channels: args.sim_channels,
            skus: args.sim_skus,
            seconds: args.sim_seconds,
            seed: args.seed,
            push_rate: args.sim_push_rate,
            push_burst: args.sim_push_burst,
            batch: args.sim_batch,
            latency_ns: args.sim_latency_ms * 1_000_000,
            poll_ns: args.sim_poll_ms * 1_000_000,
            shoppers: args.sim_shoppers,
            zipf: args.sim_zipf,
            restocks: args.sim_restocks,
            restock_min: args.sim_restock_min,
            restock_max: args.sim_restock_max,
            initial_max: args.sim_initial_max,
        })
    }

    fn end_ns(&self) -> u64 {
        self.seconds * 1_000_000_000
    }

    fn push_interval_ns(&self) -> u64 {
        (1e9 / self.push_rate).ceil() as u64
    }

    /// Push calls the budget allows over the run, over every channel.
    fn push_capacity(&self) -> f64 {
        self.channels as f64 * (self.push_rate * self.seconds as f64 + f64::from(self.push_burst))
    }
}

/// An event of the simulation. Ties in time go in the order the events were scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A shopper on `market` wants one unit of `sku`.
    Shopper { market: usize, sku: usize },
    /// A receipt of `units` of `sku` (through the API: at once in the ledger and on the shelf).
    Restock { sku: usize, units: u32 },
    /// The channel of `market` sends a read of its order feed.
    PollSent { market: usize },
    /// The read sent at `sent_at` is answered: its sales are applied to the ledger.
    PollAnswered { market: usize, sent_at: u64 },
    /// The channel's push timer (the rate limiter's wait) fires.
    PushTick { market: usize },
    /// The push in flight on `market` is answered: the marketplace now lists its quantities.
    PushAnswered { market: usize },
    /// Sample the backlog.
    Sample,
}

/// What happened over one simulated run.
#[derive(Debug, Clone, Default)]
struct SimResult {
    /// ∫ Σ_channels Σ_SKUs max(0, listed − max(0, physical available)) dt.
    exposure_truth_unit_s: f64,
    /// ∫ Σ max(0, listed − target) dt: the engine's exposure gauge, against the ledger's view.
    exposure_target_unit_s: f64,
    /// ∫ Σ max(0, target − listed) dt: units the ledger had that were not listed.
    under_listed_unit_s: f64,
    /// Units sold while the physical stock was already ≤ 0.
    oversold_units: u64,
    /// Units sold by shoppers.
    sold_units: u64,
    /// Shoppers turned away by a listing at 0.
    turned_away: u64,
    /// Shoppers turned away by a listing at 0 while the client had stock.
    turned_away_with_stock: u64,
    /// Receipts applied and their units.
    restocks: u64,
    restocked_units: u64,
    /// Push calls sent.
    push_calls: u64,
    /// Pushed items that lowered / raised the listing.
    pushed_decreases: u64,
    pushed_increases: u64,
    /// Mean and largest number of SKUs out of step, summed over channels, sampled each second.
    mean_pending: f64,
    max_pending: usize,
    /// Sync lag (target change → confirmed) of decreases and increases, in seconds.
    lag_decrease: Percentiles,
    lag_increase: Percentiles,
    /// Real time the run took.
    wall: Duration,
}

/// p50 / p99 / max of a sample, in the sample's unit.
#[derive(Debug, Clone, Copy, Default)]
struct Percentiles {
    count: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let rank = |quantile: f64| {
            let rank = ((values.len() as f64 * quantile).ceil() as usize).clamp(1, values.len());
            values[rank - 1]
        };
        Self {
            count: values.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: values[values.len() - 1],
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "count": self.count, "p50": self.p50, "p99": self.p99, "max": self.max })
    }
}

/// Both orders on the same arrival stream.
#[derive(Debug, Clone)]
struct SimReport {
    risk_first: SimResult,
    fifo: SimResult,
    /// Risk-first run again: the simulation is deterministic when both runs agree exactly.
    deterministic: bool,
}

impl SimReport {
    fn ratio(&self) -> f64 {
        self.risk_first.exposure_truth_unit_s
            / self.fifo.exposure_truth_unit_s.max(f64::MIN_POSITIVE)
    }
}

/// The scenario both orders replay: initial stock and the exogenous events (shoppers, receipts).
#[derive(Debug, Clone)]
struct Scenario {
    initial: Vec<i64>,
    events: Vec<(u64, Event)>,
}

impl Scenario {
    fn generate(params: &SimParams) -> Self {
        // Zipf popularity: weight 1 / (rank + 1)^s, sampled through the cumulative sum.
        let mut cumulative = Vec::with_capacity(params.skus);
        let mut total = 0.0;
        for rank in 0..params.skus {
            total += 1.0 / ((rank + 1) as f64).powf(params.zipf);
            cumulative.push(total);
        }
        let pick = |rng: &mut StdRng| {
            let point = rng.gen::<f64>() * total;
            cumulative
                .partition_point(|&sum| sum <= point)
                .min(params.skus - 1)
        };
        let gap = |rng: &mut StdRng, rate: f64| {
            let uniform: f64 = rng.gen();
            (-(1.0 - uniform).ln() / rate * 1e9) as u64
        };
        let end = params.end_ns();
        let mut rng = StdRng::seed_from_u64(params.seed);
        let initial = (0..params.skus)
            .map(|_| i64::from(rng.gen_range(0..=params.initial_max)))
            .collect();
        let mut events = Vec::new();
        // One random stream per source, so that each source's arrivals depend only on the seed.
        for market in 0..params.channels {
            let mut rng = StdRng::seed_from_u64(params.seed ^ (0x9E37_79B9 * (market as u64 + 1)));
            let mut at = gap(&mut rng, params.shoppers);
            while at < end {
                let sku = pick(&mut rng);
                events.push((at, Event::Shopper { market, sku }));
                at += gap(&mut rng, params.shoppers).max(1);
            }
        }
        if params.restocks > 0.0 {
            let mut rng = StdRng::seed_from_u64(params.seed ^ 0x05EE_D0F5_700C);
            let mut at = gap(&mut rng, params.restocks);
            while at < end {
                let sku = pick(&mut rng);
                let units = rng.gen_range(params.restock_min..=params.restock_max);
                events.push((at, Event::Restock { sku, units }));
                at += gap(&mut rng, params.restocks).max(1);
            }
        }
        events.sort_unstable();
        Self { initial, events }
    }
}

fn simulate(params: &SimParams) -> SimReport {
    eprintln!(
        "part 1: simulating {} virtual seconds, risk-first and FIFO…",
        params.seconds
    );
    let scenario = Scenario::generate(params);
    let risk_first = Sim::new(params, PushOrder::RiskFirst, &scenario).run();
    let fifo = Sim::new(params, PushOrder::Fifo, &scenario).run();
    let again = Sim::new(params, PushOrder::RiskFirst, &scenario).run();
    let deterministic = again.exposure_truth_unit_s.to_bits()
        == risk_first.exposure_truth_unit_s.to_bits()
        && again.oversold_units == risk_first.oversold_units
        && again.push_calls == risk_first.push_calls
        && again.sold_units == risk_first.sold_units;
    SimReport {
        risk_first,
        fifo,
        deterministic,
    }
}

/// max(0, listed − max(0, truth)): units a shopper can buy that the client does not have.
fn over_truth(listed: u32, truth: i64) -> i64 {
    (i64::from(listed) - truth.max(0)).max(0)
}

fn over(listed: u32, target: u32) -> i64 {
    i64::from(listed.saturating_sub(target))
}

fn under(listed: u32, target: u32) -> i64 {
    i64::from(target.saturating_sub(listed))
}

/// One simulated run.
struct Sim<'a> {
    params: &'a SimParams,
    base: Instant,
    now: u64,
    heap: BinaryHeap<Reverse<(u64, u64, Event)>>,
    scheduled: u64,
    skus: Vec<Sku>,
    index: HashMap<Sku, usize>,
    policy: ListingPolicy,
    /// The client's real stock: drops at the instant of a sale.
    physical: Vec<i64>,
    /// The ledger's `available`: drops when the sale has been read from the feed.
    ledger: Vec<i64>,
    seq: u64,
    /// `listed[market][sku]`: what the marketplace shows.
    listed: Vec<Vec<u32>>,
    /// `target[market][sku]`: the policy's target from the ledger.
    target: Vec<Vec<u32>>,
    queues: Vec<PushQueue>,
    /// Sales each marketplace made that its channel has not read yet.
    unread: Vec<Vec<usize>>,
    feed_read_at: Vec<Option<u64>>,
    in_flight: Vec<Option<Vec<PushItem>>>,
    tick_at: Vec<Option<u64>>,
    /// GCRA theoretical arrival time of each channel's push budget.
    tat: Vec<u64>,
    interval: u64,
    tolerance: u64,
    over_truth: i64,
    over_target: i64,
    under_target: i64,
    last_t: u64,
    acc_over_truth: u128,
    acc_over_target: u128,
    acc_under_target: u128,
    pending_sum: u64,
    pending_samples: u64,
    lag_decrease: Vec<f64>,
    lag_increase: Vec<f64>,
    result: SimResult,
}

impl<'a> Sim<'a> {
    fn new(params: &'a SimParams, order: PushOrder, scenario: &Scenario) -> Self {
        let skus: Vec<Sku> = (0..params.skus)
            .map(|index| Sku::parse(&format!("SIM-{index:05}")).expect("a valid SKU"))
            .collect();
        let index = skus
            .iter()
            .enumerate()
            .map(|(position, sku)| (sku.clone(), position))
            .collect();
        let policy = ListingPolicy::default();
        let base = Instant::now();
        let mut queues: Vec<PushQueue> = (0..params.channels)
            .map(|_| PushQueue::new(order, false))
            .collect();
        let mut listed = vec![vec![0u32; params.skus]; params.channels];
        let mut target = vec![vec![0u32; params.skus]; params.channels];
        // At 0 every listing is in step with the ledger: each SKU's receipt is entry `sku + 1`.
        for (sku_index, sku) in skus.iter().enumerate() {
            let quantity = policy.target(scenario.initial[sku_index]);
            for market in 0..params.channels {
                queues[market].set_target(sku, quantity, sku_index as u64 + 1, base);
                queues[market].set_confirmed(sku, quantity, base);
                listed[market][sku_index] = quantity;
                target[market][sku_index] = quantity;
            }
        }
        let interval = params.push_interval_ns();
        let mut sim = Self {
            params,
            base,
            now: 0,
            heap: BinaryHeap::new(),
            scheduled: 0,
            skus,
            index,
            policy,
            physical: scenario.initial.clone(),
            ledger: scenario.initial.clone(),
            seq: params.skus as u64,
            listed,
            target,
            queues,
            unread: vec![Vec::new(); params.channels],
            feed_read_at: vec![None; params.channels],
            in_flight: vec![None; params.channels],
            tick_at: vec![None; params.channels],
            tat: vec![0; params.channels],
            interval,
            tolerance: interval * u64::from(params.push_burst - 1),
            over_truth: 0,
            over_target: 0,
            under_target: 0,
            last_t: 0,
            acc_over_truth: 0,
            acc_over_target: 0,
            acc_under_target: 0,
            pending_sum: 0,
            pending_samples: 0,
            lag_decrease: Vec::new(),
            lag_increase: Vec::new(),
            result: SimResult::default(),
        };
        for &(at, event) in &scenario.events {
            sim.schedule(at, event);
        }
        for market in 0..params.channels {
            // Feed reads start staggered over one interval.
            let phase = params.poll_ns * market as u64 / params.channels as u64;
            sim.schedule(phase, Event::PollSent { market });
        }
        let mut second = 1_000_000_000;
        while second <= params.end_ns() {
            sim.schedule(second, Event::Sample);
            second += 1_000_000_000;
        }
        sim
    }

    fn at(&self, t: u64) -> Instant {
        self.base + Duration::from_nanos(t)
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.scheduled += 1;
        self.heap.push(Reverse((at, self.scheduled, event)));
    }

    fn run(mut self) -> SimResult {
        let started = std::time::Instant::now();
        let end = self.params.end_ns();
        while let Some(Reverse((t, _, event))) = self.heap.pop() {
            if t > end {
                break;
            }
            self.advance(t);
            match event {
                Event::Shopper { market, sku } => self.shopper(market, sku),
                Event::Restock { sku, units } => self.restock(sku, units),
                Event::PollSent { market } => {
                    let answer = self.now + self.params.latency_ns;
                    self.schedule(
                        answer,
                        Event::PollAnswered {
                            market,
                            sent_at: self.now,
                        },
                    );
                }
                Event::PollAnswered { market, sent_at } => self.poll_answered(market, sent_at),
                Event::PushTick { market } => {
                    if self.tick_at[market] == Some(self.now) {
                        self.tick_at[market] = None;
                    }
                    self.try_push(market);
                }
                Event::PushAnswered { market } => self.push_answered(market),
                Event::Sample => {
                    let now = self.at(self.now);
                    let pending: usize = self
                        .queues
                        .iter()
                        .map(|queue| queue.stats(now).pending)
                        .sum();
                    self.pending_sum += pending as u64;
                    self.pending_samples += 1;
                    self.result.max_pending = self.result.max_pending.max(pending);
                }
            }
        }
        self.advance(end);
        let unit_seconds = |acc: u128| acc as f64 / 1e9;
        let mut result = self.result;
        result.exposure_truth_unit_s = unit_seconds(self.acc_over_truth);
        result.exposure_target_unit_s = unit_seconds(self.acc_over_target);
        result.under_listed_unit_s = unit_seconds(self.acc_under_target);
        result.mean_pending = self.pending_sum as f64 / self.pending_samples.max(1) as f64;
        result.lag_decrease = Percentiles::of(self.lag_decrease);
        result.lag_increase = Percentiles::of(self.lag_increase);
        result.wall = started.elapsed();
        result
    }

    /// Integrates the running sums up to `t`.
    fn advance(&mut self, t: u64) {
        let dt = u128::from(t.saturating_sub(self.last_t));
        self.acc_over_truth += self.over_truth as u128 * dt;
        self.acc_over_target += self.over_target as u128 * dt;
        self.acc_under_target += self.under_target as u128 * dt;
        self.last_t = self.last_t.max(t);
        self.now = t;
    }

    fn set_listed(&mut self, market: usize, sku: usize, quantity: u32) {
        let old = self.listed[market][sku];
        let truth = self.physical[sku];
        let target = self.target[market][sku];
        self.over_truth += over_truth(quantity, truth) - over_truth(old, truth);
        self.over_target += over(quantity, target) - over(old, target);
        self.under_target += under(quantity, target) - under(old, target);
        self.listed[market][sku] = quantity;
    }

    fn set_physical(&mut self, sku: usize, truth: i64) {
        let old = self.physical[sku];
        for market in 0..self.params.channels {
            let listed = self.listed[market][sku];
            self.over_truth += over_truth(listed, truth) - over_truth(listed, old);
        }
        self.physical[sku] = truth;
    }

    /// The ledger moved `sku` by `delta`: a new journal entry, new targets on every channel.
    fn ledger_moved(&mut self, sku: usize, delta: i64) {
        self.ledger[sku] += delta;
        self.seq += 1;
        let quantity = self.policy.target(self.ledger[sku]);
        let now = self.at(self.now);
        for market in 0..self.params.channels {
            self.queues[market].set_target(&self.skus[sku], quantity, self.seq, now);
            let listed = self.listed[market][sku];
            let old = self.target[market][sku];
            self.over_target += over(listed, quantity) - over(listed, old);
            self.under_target += under(listed, quantity) - under(listed, old);
            self.target[market][sku] = quantity;
        }
    }

    fn shopper(&mut self, market: usize, sku: usize) {
        let listed = self.listed[market][sku];
        if listed == 0 {
            self.result.turned_away += 1;
            if self.physical[sku] > 0 {
                self.result.turned_away_with_stock += 1;
            }
            return;
        }
        // The marketplace sells and decrements its own listing.
        self.result.sold_units += 1;
        if self.physical[sku] <= 0 {
            self.result.oversold_units += 1;
        }
        self.set_listed(market, sku, listed - 1);
        self.set_physical(sku, self.physical[sku] - 1);
        self.unread[market].push(sku);
    }

    fn restock(&mut self, sku: usize, units: u32) {
        self.result.restocks += 1;
        self.result.restocked_units += u64::from(units);
        self.set_physical(sku, self.physical[sku] + i64::from(units));
        self.ledger_moved(sku, i64::from(units));
        for market in 0..self.params.channels {
            self.try_push(market);
        }
    }

    /// As `ChannelActor::on_fetched` then `on_page`: the page's own sales are noted on the queue
    /// before the ledger applies them (against the previous read's send time), the ledger
    /// retargets every channel, then the feed counts as read through this read's send time.
    fn poll_answered(&mut self, market: usize, sent_at: u64) {
        let sales = std::mem::take(&mut self.unread[market]);
        let now = self.at(self.now);
        if let Some(previous) = self.feed_read_at[market] {
            let sold_after = self.at(previous);
            for &sku in &sales {
                self.queues[market].note_marketplace_sale(&self.skus[sku], 1, sold_after, now);
            }
        }
        for &sku in &sales {
            self.ledger_moved(sku, -1);
        }
        self.feed_read_at[market] = Some(sent_at);
        let read_through = self.at(sent_at);
        self.queues[market].note_feed_read(read_through);
        for channel in 0..self.params.channels {
            self.try_push(channel);
        }
        let next = self.now + self.params.poll_ns;
        self.schedule(next, Event::PollSent { market });
    }

    /// As `ChannelActor::try_push`: one call in flight; the budget's wait schedules a tick.
    fn try_push(&mut self, market: usize) {
        if self.in_flight[market].is_some() || !self.queues[market].has_sendable() {
            return;
        }
        let tat = self.tat[market].max(self.now);
        if tat > self.now + self.tolerance {
            let due = tat - self.tolerance;
            if self.tick_at[market].is_some_and(|at| at <= due) {
                return;
            }
            self.tick_at[market] = Some(due);
            self.schedule(due, Event::PushTick { market });
            return;
        }
        let now = self.at(self.now);
        let batch = self.queues[market].next_batch(self.params.batch, now);
        if batch.is_empty() {
            return;
        }
        self.tat[market] = tat + self.interval;
        self.result.push_calls += 1;
        self.in_flight[market] = Some(batch);
        let answer = self.now + self.params.latency_ns;
        self.schedule(answer, Event::PushAnswered { market });
    }

    /// The marketplace sets each listing to the pushed quantity (absolute, no compare-and-set),
    /// overwriting any sale it made meanwhile, and confirms.
    fn push_answered(&mut self, market: usize) {
        let batch = self.in_flight[market].take().unwrap_or_default();
        let now = self.at(self.now);
        for item in batch {
            let sku = self.index[&item.sku];
            let before = self.listed[market][sku];
            match item.quantity.cmp(&before) {
                std::cmp::Ordering::Less => self.result.pushed_decreases += 1,
                std::cmp::Ordering::Greater => self.result.pushed_increases += 1,
                std::cmp::Ordering::Equal => {}
            }
            let decrease = item
                .previous
                .is_some_and(|previous| item.quantity < previous);
            self.set_listed(market, sku, item.quantity);
            if let Some(confirmed) = self.queues[market].confirm(&item.sku, item.quantity, now) {
                let lag = confirmed.lag.as_secs_f64();
                if decrease {
                    self.lag_decrease.push(lag);
                } else {
                    self.lag_increase.push(lag);
                }
            }
        }
        self.try_push(market);
    }
}

/// One row of part 1's table: a value of a run, formatted.
type SimField = fn(&SimResult) -> String;

fn print_sim(params: &SimParams, report: &SimReport) {
    let p = params;
    println!("== Part 1: risk-first vs FIFO under a binding push budget (virtual time) ==");
    println!(
        "one client, {} channels x {} SKUs, {} s of virtual time, seed {}",
        p.channels, p.skus, p.seconds, p.seed
    );
    println!(
        "budget: {} push calls/s per channel (GCRA, burst {}), {} listing(s) per call, one call in flight, {} ms per call; absolute sets, no compare-and-set (no-re-raise rule by feed read)",
        p.push_rate, p.push_burst, p.batch, p.latency_ns / 1_000_000
    );
    println!(
        "shoppers: {}/s per marketplace (Poisson), SKU by Zipf({}), buy 1 unit only while the marketplace lists > 0; feed read every {} ms + {} ms answer (ingestion delay {}–{} ms)",
        p.shoppers,
        p.zipf,
        p.poll_ns / 1_000_000,
        p.latency_ns / 1_000_000,
        p.latency_ns / 1_000_000,
        (p.poll_ns + p.latency_ns) / 1_000_000
    );
    println!(
        "receipts: {}/s, {}–{} units, SKU by the same popularity; initial stock uniform 0–{}; policy: list all available (ListingPolicy::default) on every channel",
        p.restocks, p.restock_min, p.restock_max, p.initial_max
    );
    println!();
    let rows: [(&str, SimField); 16] = [
        ("exposure-unit-s vs truth", |r| {
            format!("{:.0}", r.exposure_truth_unit_s)
        }),
        ("exposure-unit-s vs target", |r| {
            format!("{:.0}", r.exposure_target_unit_s)
        }),
        ("oversold units (truth)", |r| r.oversold_units.to_string()),
        ("units sold", |r| r.sold_units.to_string()),
        ("shoppers turned away", |r| r.turned_away.to_string()),
        ("  … while stock existed", |r| {
            r.turned_away_with_stock.to_string()
        }),
        ("under-listed unit-s", |r| {
            format!("{:.0}", r.under_listed_unit_s)
        }),
        ("push calls", |r| r.push_calls.to_string()),
        ("pushed decreases", |r| r.pushed_decreases.to_string()),
        ("pushed increases", |r| r.pushed_increases.to_string()),
        ("mean pending SKUs (all ch.)", |r| {
            format!("{:.1}", r.mean_pending)
        }),
        ("max pending SKUs (all ch.)", |r| r.max_pending.to_string()),
        ("decrease lag p50 / p99 (s)", |r| {
            format!("{:.1} / {:.1}", r.lag_decrease.p50, r.lag_decrease.p99)
        }),
        ("increase lag p50 / p99 (s)", |r| {
            format!("{:.1} / {:.1}", r.lag_increase.p50, r.lag_increase.p99)
        }),
        ("receipts (units)", |r| {
            format!("{} ({})", r.restocks, r.restocked_units)
        }),
        ("real time", |r| format!("{:.2} s", r.wall.as_secs_f64())),
    ];
    println!(
        "{:<30} {:>16} {:>16} {:>10}",
        "", "risk-first", "FIFO", "RF/FIFO"
    );
    for (index, (name, field)) in rows.iter().enumerate() {
        let ratio = match index {
            0 => format!("{:.1}%", 100.0 * report.ratio()),
            1 => ratio_text(
                report.risk_first.exposure_target_unit_s,
                report.fifo.exposure_target_unit_s,
            ),
            2 => ratio_text(
                report.risk_first.oversold_units as f64,
                report.fifo.oversold_units as f64,
            ),
            _ => String::new(),
        };
        println!(
            "{:<30} {:>16} {:>16} {:>10}",
            name,
            field(&report.risk_first),
            field(&report.fifo),
            ratio
        );
    }
    let capacity = params.push_capacity();
    let used = |r: &SimResult| 100.0 * r.push_calls as f64 / capacity;
    println!();
    println!(
        "budget use: {:.1}% (risk-first), {:.1}% (FIFO) of {:.0} calls; the budget binds when use is near 100% with a standing backlog",
        used(&report.risk_first),
        used(&report.fifo),
        capacity
    );
    println!(
        "deterministic: {} (risk-first run twice, identical results)",
        if report.deterministic { "yes" } else { "NO" }
    );
    let met = report.ratio() <= SIM_TARGET_RATIO;
    println!(
        "target: risk-first exposure-unit-s <= 50% of FIFO's: {} ({:.1}%)",
        if met { "MET" } else { "MISSED" },
        100.0 * report.ratio()
    );
    println!();
}

fn ratio_text(numerator: f64, denominator: f64) -> String {
    if denominator == 0.0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * numerator / denominator)
    }
}

fn sim_json(params: &SimParams, report: &SimReport) -> serde_json::Value {
    let result = |r: &SimResult| {
        serde_json::json!({
            "exposure_truth_unit_s": r.exposure_truth_unit_s,
            "exposure_target_unit_s": r.exposure_target_unit_s,
            "under_listed_unit_s": r.under_listed_unit_s,
            "oversold_units": r.oversold_units,
            "sold_units": r.sold_units,
            "turned_away": r.turned_away,
            "turned_away_with_stock": r.turned_away_with_stock,
            "restocks": r.restocks,
            "restocked_units": r.restocked_units,
            "push_calls": r.push_calls,
            "pushed_decreases": r.pushed_decreases,
            "pushed_increases": r.pushed_increases,
            "mean_pending": r.mean_pending,
            "max_pending": r.max_pending,
            "lag_decrease_s": r.lag_decrease.json(),
            "lag_increase_s": r.lag_increase.json(),
            "wall_s": r.wall.as_secs_f64(),
        })
    };
    serde_json::json!({
        "params": {
            "channels": params.channels,
            "skus": params.skus,
            "seconds": params.seconds,
            "seed": params.seed,
            "push_rate": params.push_rate,
            "push_burst": params.push_burst,
            "batch": params.batch,
            "latency_ms": params.latency_ns / 1_000_000,
            "poll_ms": params.poll_ns / 1_000_000,
            "shoppers_per_s": params.shoppers,
            "zipf": params.zipf,
            "restocks_per_s": params.restocks,
            "restock_units": [params.restock_min, params.restock_max],
            "initial_max": params.initial_max,
        },
        "risk_first": result(&report.risk_first),
        "fifo": result(&report.fifo),
        "exposure_ratio": report.ratio(),
        "target_met": report.ratio() <= SIM_TARGET_RATIO,
        "deterministic": report.deterministic,
    })
}

// =============================================================================================
// Part 2: the real engine

/// The four channels of every client; channel 0 is where the sales come from.
const CHANNELS: [(&str, Platform); 4] = [
    ("walmart", Platform::Walmart),
    ("shopify", Platform::Shopify),
    ("ebay", Platform::Ebay),
    ("amazon", Platform::Amazon),
];

/// Units every SKU is seeded with: more than all the sales of a run.
const SEED_UNITS: u32 = 100_000;

#[derive(Debug, Clone)]
struct EngineParams {
    clients: usize,
    skus: usize,
    sales: usize,
    sales_rate: f64,
    arbiters: usize,
    poll: Duration,
    startup_timeout: Duration,
    stall: Duration,
    ack: AckMode,
    dir: Option<PathBuf>,
    seed: u64,
}

impl EngineParams {
    fn from_args(args: &SchedulerArgs) -> anyhow::Result<Self> {
        ensure!(
            (1..=9999).contains(&args.clients),
            "--clients must be between 1 and 9999"
        );
        ensure!(args.skus >= 1, "--skus must be at least 1");
        ensure!(
            (1..=SEED_UNITS as usize).contains(&args.sales),
            "--sales must be between 1 and {SEED_UNITS}"
        );
        ensure!(
            args.sales_rate > 0.0 && args.sales_rate.is_finite(),
            "--sales-rate must be above 0"
        );
        ensure!(args.poll_ms >= 1, "--poll-ms must be at least 1");
        ensure!(
            args.stall_timeout >= 1,
            "--stall-timeout must be at least 1"
        );
        Ok(Self {
            clients: args.clients,
            skus: args.skus,
            sales: args.sales,
            sales_rate: args.sales_rate,
            arbiters: args.arbiters.unwrap_or_else(nproc).max(1),
            poll: Duration::from_millis(args.poll_ms),
            startup_timeout: Duration::from_secs(args.startup_timeout),
            stall: Duration::from_secs(args.stall_timeout),
            ack: args.ack,
            dir: args.dir.clone(),
            seed: args.seed,
        })
    }
}

/// A fake marketplace's confirmed pushes: per SKU, the ledger sequence number and the instant.
type PushesBySku = HashMap<Sku, Vec<(u64, Instant)>>;

/// One sale of the timed phase.
#[derive(Debug, Clone)]
struct Sale {
    client: usize,
    sku: Sku,
    seq: u64,
    sent: Instant,
    acked: Instant,
}

/// What part 2 measured.
#[derive(Debug, Clone, Default)]
struct EngineReport {
    /// Seeding the ledgers, then until every fake lists every SKU, then until the ledgers are idle.
    seed_time: Duration,
    listed_time: Duration,
    quiet_time: Duration,
    /// The timed phase: from the first sale sent to the last acknowledged.
    sales_time: Duration,
    /// Until every sale's siblings confirmed.
    settle_time: Duration,
    /// Propagation (all three siblings confirmed) from the acknowledgement and from the send, µs.
    from_ack: Percentiles,
    from_send: Percentiles,
    /// Acknowledgement time of the sales (send → ack), µs.
    ack: Percentiles,
    /// From the acknowledgement to each sibling's confirmation, per sibling platform, µs.
    per_sibling: Vec<(&'static str, Percentiles)>,
    /// Sales whose propagation ended before the sender saw the acknowledgement.
    before_ack: usize,
    /// Limiter waits recorded by the channels (`shelfsync_ratelimit_wait_seconds` samples).
    ratelimit_waits: u64,
    /// Marketplace requests by outcome during the timed phase.
    requests_ok: u64,
    requests_not_ok: u64,
    /// Channel state counters over every channel (throttled, failed) at the end.
    channel_throttled: u64,
    channel_failed: u64,
    /// Oversold units counted by the ledgers.
    oversold: u64,
    /// Feed reads per second during the timed phase (background load).
    fetches_per_second: f64,
    /// Group-commit rounds during the timed phase and their durations, µs.
    commit_rounds: u64,
    commit: Percentiles,
    /// The engine's own sync lag (target change → confirmed) of the timed phase, µs.
    engine_sync_lag: Percentiles,
    /// Every listing of every touched SKU ended at the ledger's value.
    final_listings_ok: bool,
    /// Peak resident memory, MiB.
    peak_rss_mib: f64,
}

fn unlimited(per_day: Option<u32>) -> RateLimitOverride {
    RateLimitOverride {
        per_second: Some(1e6),
        burst: Some(1_000_000),
        per_day,
    }
}

/// Overrides far above anything the run reaches, on every budget the channel draws on. eBay's
/// budgets are shared by every client of the app and are set on the app instead.
fn channel_overrides(platform: Platform) -> RateLimitOverrides {
    let mut overrides = RateLimitOverrides::default();
    match platform {
        // One GraphQL bucket for every operation: given once.
        Platform::Shopify => {
            overrides
                .0
                .insert(Operation::PushQuantities, unlimited(None));
        }
        Platform::Amazon | Platform::Walmart => {
            overrides
                .0
                .insert(Operation::PushQuantities, unlimited(None));
            overrides.0.insert(Operation::FetchOrders, unlimited(None));
        }
        Platform::Ebay | Platform::Etsy => {}
    }
    overrides
}

fn app_overrides() -> RateLimitOverrides {
    let mut overrides = RateLimitOverrides::default();
    overrides
        .0
        .insert(Operation::PushQuantities, unlimited(Some(u32::MAX)));
    overrides
        .0
        .insert(Operation::FetchOrders, unlimited(Some(u32::MAX)));
    overrides
}

fn engine_sku(index: usize) -> String {
    format!("ITEM-{index:05}")
}

fn client_code(index: usize) -> anyhow::Result<ClientCode> {
    Ok(ClientCode::parse(&format!("CL{index:04}"))?)
}

fn run_engine(params: &EngineParams) -> anyhow::Result<EngineReport> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .map_err(|_| anyhow::anyhow!("a metrics recorder is already installed"))?;

    let dir = {
        let mut builder = tempfile::Builder::new();
        builder.prefix("shelfsync-bench-scheduler-");
        match &params.dir {
            Some(dir) => builder.tempdir_in(dir)?,
            None => builder.tempdir()?,
        }
    };
    let db = open_database(dir.path(), DEFAULT_CACHE_BYTES)?;
    eprintln!(
        "part 2: {} clients x {} channels x {} SKUs on {} arbiter(s), database in {}",
        params.clients,
        CHANNELS.len(),
        params.skus,
        params.arbiters,
        dir.path().display()
    );

    let system = actix_rt::System::new();
    let (result, arbiters) = system.block_on({
        let db = db.clone();
        let params = params.clone();
        async move {
            let arbiters: Vec<actix_rt::Arbiter> = (0..params.arbiters)
                .map(|_| actix_rt::Arbiter::new())
                .collect();
            let result = drive_engine(&params, &db, &arbiters, &snapshotter).await;
            (result, arbiters)
        }
    });
    let stalled = result
        .as_ref()
        .err()
        .is_some_and(|error| error.is::<Stalled>());
    for arbiter in arbiters {
        arbiter.stop();
        // A stalled arbiter may be blocked inside sled for good: leave its thread behind (the
        // process exits with the error) rather than wait for it.
        if !stalled && arbiter.join().is_err() {
            bail!("an arbiter thread panicked");
        }
    }
    drop(system);
    if stalled {
        // Dropping a sled `Db` flushes it, which would block on the same lock for good.
        std::mem::forget(db);
    } else {
        drop(db);
    }
    drop(dir);
    let mut report = result?;
    report.peak_rss_mib = peak_rss_mib();
    Ok(report)
}

/// A phase of part 2 made no progress for the stall timeout.
#[derive(Debug)]
struct Stalled(String);

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the engine stalled. With acknowledgement after flush and many clients on one \
             sled database this is sled 0.34.7's deadlock of concurrent `flush_async` calls \
             (spacejam/sled#1308; bench/RESULTS.md). Rerun with fewer clients, or with \
             --ack before-flush-unsafe to measure the fan-out without flushes.",
            self.0
        )
    }
}

impl std::error::Error for Stalled {}

/// Awaits `future`, or fails with [`Stalled`] after `limit`.
async fn within<T>(
    limit: Duration,
    phase: impl FnOnce() -> String,
    future: impl std::future::Future<Output = T>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => Ok(value),
        Err(_) => Err(Stalled(format!("{} made no progress for {limit:?}", phase())).into()),
    }
}

/// Everything the timed phase needs of one client.
struct Client {
    inventory: actix::Addr<InventoryActor>,
    channels: Vec<actix::Addr<ChannelActor>>,
    fakes: Vec<FakeMarketplace>,
}

async fn drive_engine(
    params: &EngineParams,
    db: &sled::Db,
    arbiters: &[actix_rt::Arbiter],
    snapshotter: &Snapshotter,
) -> anyhow::Result<EngineReport> {
    let mut report = EngineReport::default();
    let skus: Vec<Sku> = (0..params.skus)
        .map(|index| Sku::parse(&engine_sku(index)))
        .collect::<Result<_, _>>()?;
    let app = AppId::new("bench");
    let limiters = Arc::new(RateLimiters::with_clock(TokioClock));
    limiters.configure_app(Platform::Ebay, &app, &app_overrides())?;

    // Ledgers, seeded before any channel starts (a channel starts from `GetStock`), one client
    // after the other.
    let started = Instant::now();
    let mut inventories = Vec::with_capacity(params.clients);
    // The service's durable path: every client's ledger flushes through the database's one
    // flusher (a ledger without one acknowledges nothing).
    let config = InventoryConfig {
        ack: params.ack.policy(),
        flusher: Some(DbFlusher::new(db)),
        ..InventoryConfig::default()
    };
    for client in 0..params.clients {
        let code = client_code(client)?;
        let tree = client_tree(db, &code)?;
        let actor = InventoryActor::open(code, tree, config.clone())?;
        let addr = actor.start_bounded_in(&arbiters[client % arbiters.len()].handle());
        inventories.push(addr.clone());
        let seed: Vec<MovementInput> = (0..params.skus)
            .map(|index| MovementInput {
                key: format!("seed-{index:05}"),
                source: "import".into(),
                sku: engine_sku(index),
                kind: "receipt".into(),
                quantity: i64::from(SEED_UNITS),
            })
            .collect();
        for chunk in seed.chunks(MAX_BATCH) {
            let message = ApplyMovements::new(chunk.to_vec());
            within(
                params.stall,
                || format!("seeding client {client}"),
                addr.send(message),
            )
            .await???;
        }
    }
    report.seed_time = started.elapsed();
    eprintln!(
        "  ledgers seeded in {:.1} s",
        report.seed_time.as_secs_f64()
    );

    // Channels.
    let started = Instant::now();
    let mut clients = Vec::with_capacity(params.clients);
    for (client, inventory) in inventories.iter().enumerate() {
        let code = client_code(client)?;
        let arbiter = arbiters[client % arbiters.len()].handle();
        let mut channels = Vec::with_capacity(CHANNELS.len());
        let mut fakes = Vec::with_capacity(CHANNELS.len());
        for (position, (name, platform)) in CHANNELS.iter().enumerate() {
            let fake = FakeMarketplace::new(*platform);
            let mut config = ChannelConfig::new(code.clone(), ChannelId::parse(name)?, *platform);
            config.app = app.clone();
            config.rate_limit = channel_overrides(*platform);
            config.poll_interval = params.poll;
            config.reconcile_interval = Duration::from_secs(24 * 3600);
            config.seed = (client * CHANNELS.len() + position) as u64;
            let actor = ChannelActor::new(
                config,
                Arc::new(fake.clone()),
                LedgerPort::of(inventory),
                limiters.clone(),
            )?;
            channels.push(actor.start_bounded_in(&arbiter));
            fakes.push(fake);
        }
        clients.push(Client {
            inventory: inventory.clone(),
            channels,
            fakes,
        });
    }
    let deadline = started + params.startup_timeout;
    let mut listed = vec![false; params.clients * CHANNELS.len()];
    // Progress is counted in listings showing the seed; none for the stall timeout is a stall.
    let mut progress = (0, Instant::now());
    loop {
        let mut seeded_listings = 0;
        for (slot, done) in listed.iter_mut().enumerate() {
            if *done {
                seeded_listings += params.skus;
                continue;
            }
            let fake = &clients[slot / CHANNELS.len()].fakes[slot % CHANNELS.len()];
            let listings = fake.listings();
            let seeded = listings
                .values()
                .filter(|&&quantity| quantity == SEED_UNITS)
                .count();
            seeded_listings += seeded;
            *done = listings.len() == params.skus && seeded == params.skus;
        }
        let count = listed.iter().filter(|done| **done).count();
        if count == listed.len() {
            break;
        }
        if seeded_listings > progress.0 {
            progress = (seeded_listings, Instant::now());
        } else if progress.1.elapsed() >= params.stall {
            return Err(Stalled(format!(
                "start-up ({count} of {} marketplaces list every SKU, {seeded_listings} listings \
                 seeded)",
                listed.len()
            ))
            .into());
        }
        if Instant::now() >= deadline {
            bail!(
                "start-up timed out after {:?}: {count} of {} marketplaces list every SKU",
                params.startup_timeout,
                listed.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    report.listed_time = started.elapsed();
    eprintln!(
        "  every marketplace lists every SKU after {:.1} s",
        report.listed_time.as_secs_f64()
    );

    // Let the confirmed listings' records drain into the ledgers before the clock starts.
    let started = Instant::now();
    let mut quiet_rounds = 0;
    while quiet_rounds < 3 {
        let mut idle = true;
        for client in &clients {
            let state = within(
                params.stall,
                || "waiting for the ledgers to go idle".to_string(),
                client.inventory.send(GetInventoryState),
            )
            .await???;
            idle &= state.pending_acks == 0 && !state.round_running;
        }
        quiet_rounds = if idle { quiet_rounds + 1 } else { 0 };
        if Instant::now() >= deadline {
            bail!("the ledgers never went idle after start-up");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(params.poll + Duration::from_millis(500)).await;
    report.quiet_time = started.elapsed();
    eprintln!(
        "  ledgers idle after {:.1} s more; {} sales at {}/s…",
        report.quiet_time.as_secs_f64(),
        params.sales,
        params.sales_rate
    );

    // The timed phase.
    let _ = snapshotter.snapshot();
    let window = Instant::now();
    let fetches_before: u64 = clients
        .iter()
        .flat_map(|client| client.fakes.iter())
        .map(FakeMarketplace::fetches)
        .sum();
    let mut rng = StdRng::seed_from_u64(params.seed);
    let plan: Vec<(usize, usize)> = (0..params.sales)
        .map(|_| {
            (
                rng.gen_range(0..params.clients),
                rng.gen_range(0..params.skus),
            )
        })
        .collect();
    let origin = CHANNELS[0].0;
    let messages: Vec<ApplyMovements> = plan
        .iter()
        .enumerate()
        .map(|(index, &(_, sku))| {
            ApplyMovements::new(vec![MovementInput {
                key: format!("bench-sale-{index:06}"),
                source: format!("channel:{origin}"),
                sku: engine_sku(sku),
                kind: "sale".into(),
                quantity: 1,
            }])
        })
        .collect();
    let spacing = Duration::from_secs_f64(1.0 / params.sales_rate);
    let first = Instant::now() + Duration::from_millis(10);
    let mut pending = Vec::with_capacity(params.sales);
    for (index, message) in messages.into_iter().enumerate() {
        tokio::time::sleep_until(first + spacing.mul_f64(index as f64)).await;
        let addr = clients[plan[index].0].inventory.clone();
        pending.push(actix_rt::spawn(async move {
            let sent = Instant::now();
            let outcome = addr.send(message).await;
            (sent, Instant::now(), outcome)
        }));
    }
    let mut sales = Vec::with_capacity(params.sales);
    for (index, task) in pending.into_iter().enumerate() {
        let (sent, acked, outcome) =
            within(params.stall, || format!("sale {index}"), task).await??;
        let outcome = outcome??;
        let applied = outcome
            .results
            .first()
            .context("an acknowledged sale with no result")?;
        ensure!(!applied.duplicate, "sale {index} was taken as a duplicate");
        let (client, sku) = plan[index];
        sales.push(Sale {
            client,
            sku: skus[sku].clone(),
            seq: applied.seq,
            sent,
            acked,
        });
    }
    let last_ack = sales.iter().map(|sale| sale.acked).max().unwrap_or(first);
    report.sales_time = last_ack.saturating_duration_since(first);

    // Until every channel of every sale confirmed a push from that ledger state or a later one.
    let settle_deadline = Instant::now() + params.stall;
    loop {
        let settled = sales.iter().all(|sale| {
            clients[sale.client].fakes.iter().all(|fake| {
                fake.last_push(&sale.sku)
                    .is_some_and(|push| push.ledger_seq >= sale.seq)
            })
        });
        if settled {
            break;
        }
        if Instant::now() >= settle_deadline {
            return Err(Stalled(format!(
                "propagation (some sales reached no marketplace within {:?})",
                params.stall
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    report.settle_time = Instant::now().saturating_duration_since(last_ack);
    let fetches_after: u64 = clients
        .iter()
        .flat_map(|client| client.fakes.iter())
        .map(FakeMarketplace::fetches)
        .sum();
    let timed = Instant::now().saturating_duration_since(window);
    report.fetches_per_second =
        (fetches_after - fetches_before) as f64 / timed.as_secs_f64().max(f64::MIN_POSITIVE);
    read_metrics(snapshotter, &mut report);

    // Propagation, from the fakes' logs of confirmed pushes.
    let mut logs: HashMap<(usize, usize), PushesBySku> = HashMap::new();
    for sale in &sales {
        for position in 1..CHANNELS.len() {
            logs.entry((sale.client, position)).or_insert_with(|| {
                let mut by_sku = PushesBySku::new();
                for push in clients[sale.client].fakes[position].push_log() {
                    by_sku
                        .entry(push.sku)
                        .or_default()
                        .push((push.ledger_seq, push.at));
                }
                by_sku
            });
        }
    }
    let mut from_ack = Vec::with_capacity(sales.len());
    let mut from_send = Vec::with_capacity(sales.len());
    let mut ack = Vec::with_capacity(sales.len());
    let mut per_sibling: Vec<Vec<f64>> = vec![Vec::new(); CHANNELS.len() - 1];
    for sale in &sales {
        let mut latest: Option<Instant> = None;
        for position in 1..CHANNELS.len() {
            let confirmed = logs[&(sale.client, position)]
                .get(&sale.sku)
                .and_then(|pushes| pushes.iter().find(|(seq, _)| *seq >= sale.seq))
                .map(|(_, at)| *at)
                .context("a settled sale without its push")?;
            per_sibling[position - 1].push(signed_micros(confirmed, sale.acked));
            latest = Some(latest.map_or(confirmed, |before| before.max(confirmed)));
        }
        let latest = latest.unwrap_or(sale.acked);
        if latest < sale.acked {
            report.before_ack += 1;
        }
        from_ack.push(signed_micros(latest, sale.acked));
        from_send.push(signed_micros(latest, sale.sent));
        ack.push(signed_micros(sale.acked, sale.sent));
    }
    report.from_ack = Percentiles::of(from_ack);
    report.from_send = Percentiles::of(from_send);
    report.ack = Percentiles::of(ack);
    report.per_sibling = CHANNELS[1..]
        .iter()
        .zip(per_sibling)
        .map(|((name, _), values)| (*name, Percentiles::of(values)))
        .collect();

    // Every listing of every touched SKU at the ledger's value; channels without trouble.
    let mut sold: HashMap<(usize, Sku), u32> = HashMap::new();
    for sale in &sales {
        *sold.entry((sale.client, sale.sku.clone())).or_default() += 1;
    }
    report.final_listings_ok = sold.iter().all(|((client, sku), units)| {
        clients[*client]
            .fakes
            .iter()
            .all(|fake| fake.listing(sku) == Some(SEED_UNITS - units))
    });
    for client in &clients {
        for channel in &client.channels {
            let state = within(
                params.stall,
                || "reading the channels' state".to_string(),
                channel.send(GetChannelState),
            )
            .await???;
            report.channel_throttled += state.throttled;
            report.channel_failed += state.failed;
        }
    }
    Ok(report)
}

/// `later − earlier` in microseconds, negative when `later` is earlier.
fn signed_micros(later: Instant, earlier: Instant) -> f64 {
    if later >= earlier {
        (later - earlier).as_secs_f64() * 1e6
    } else {
        -((earlier - later).as_secs_f64() * 1e6)
    }
}

/// Reads what the engine's own metrics say about the timed phase (the snapshot drains them).
fn read_metrics(snapshotter: &Snapshotter, report: &mut EngineReport) {
    let mut lag = Vec::new();
    let mut commit = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let name = key.key().name();
        let label = |wanted: &str| {
            key.key()
                .labels()
                .find(|label| label.key() == wanted)
                .map(|label| label.value().to_string())
        };
        match value {
            DebugValue::Histogram(values) if name == metric_names::RATELIMIT_WAIT_SECONDS.name => {
                report.ratelimit_waits += values.len() as u64;
            }
            DebugValue::Histogram(values) if name == metric_names::SYNC_LAG_SECONDS.name => {
                lag.extend(values.iter().map(|value| value.0 * 1e6));
            }
            DebugValue::Histogram(values) if name == metric_names::LEDGER_COMMIT_SECONDS.name => {
                commit.extend(values.iter().map(|value| value.0 * 1e6));
            }
            DebugValue::Counter(count) if name == metric_names::MARKETPLACE_REQUESTS_TOTAL.name => {
                if label("outcome").as_deref() == Some("ok") {
                    report.requests_ok += count;
                } else {
                    report.requests_not_ok += count;
                }
            }
            DebugValue::Counter(count) if name == metric_names::OVERSOLD_UNITS_TOTAL.name => {
                report.oversold += count;
            }
            _ => {}
        }
    }
    report.commit_rounds = commit.len() as u64;
    report.commit = Percentiles::of(commit);
    report.engine_sync_lag = Percentiles::of(lag);
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn micros_text(micros: f64) -> String {
    if micros.abs() >= 1_000.0 {
        format!("{:.2} ms", micros / 1_000.0)
    } else {
        format!("{micros:.0} µs")
    }
}

fn print_engine(params: &EngineParams, report: &EngineReport) {
    println!("== Part 2: propagation through the real actors, no binding limit (real time) ==");
    println!(
        "{} clients x {} channels ({}) x {} SKUs; {} arbiter(s) (clients by index), sales driver on the System thread",
        params.clients,
        CHANNELS.len(),
        CHANNELS.map(|(name, _)| name).join(", "),
        params.skus,
        params.arbiters
    );
    println!(
        "per client: InventoryActor (acknowledging {}, one shared temp sled db), 4 ChannelActors (risk-first, default policy), FakeMarketplace without bucket or latency; limits overridden to 1e6/s (eBay on the app); feed poll every {} ms, read-back off",
        params.ack.name(),
        params.poll.as_millis()
    );
    println!(
        "timed phase: {} sales of 1 unit at {}/s (open loop), random (client, SKU), applied to the InventoryActor with source channel:{} and a unique key",
        params.sales, params.sales_rate, CHANNELS[0].0
    );
    println!(
        "start-up: seed {:.1} s, every listing pushed {:.1} s, ledgers idle {:.1} s; timed phase {:.2} s, settled {:.0} ms after the last ack; peak RSS {:.0} MiB",
        report.seed_time.as_secs_f64(),
        report.listed_time.as_secs_f64(),
        report.quiet_time.as_secs_f64(),
        report.sales_time.as_secs_f64(),
        report.settle_time.as_secs_f64() * 1e3,
        report.peak_rss_mib
    );
    println!();
    println!(
        "{:<52} {:>10} {:>10} {:>10}",
        "(n = sales)", "p50", "p99", "max"
    );
    let row = |name: &str, p: &Percentiles| {
        println!(
            "{:<52} {:>10} {:>10} {:>10}",
            name,
            micros_text(p.p50),
            micros_text(p.p99),
            micros_text(p.max)
        );
    };
    row(
        "propagation: ack -> all 3 siblings confirmed",
        &report.from_ack,
    );
    row(
        "propagation: send -> all 3 siblings confirmed",
        &report.from_send,
    );
    row("sale ack (send -> ack)", &report.ack);
    for (name, percentiles) in &report.per_sibling {
        row(&format!("  ack -> {name} confirmed"), percentiles);
    }
    row(
        "engine sync lag (target change -> confirmed)",
        &report.engine_sync_lag,
    );
    row(
        &format!("ledger commit rounds ({})", report.commit_rounds),
        &report.commit,
    );
    println!();
    println!(
        "sales whose siblings all confirmed before the sender saw the ack: {} (negative ack-based times)",
        report.before_ack
    );
    println!(
        "rate limits: {} limiter waits, {} requests not ok ({} ok), channels report {} throttled / {} failed; oversold units {}",
        report.ratelimit_waits,
        report.requests_not_ok,
        report.requests_ok,
        report.channel_throttled,
        report.channel_failed,
        report.oversold
    );
    println!(
        "background: {:.0} feed reads/s over all channels (a ledger round only for a page with events or a new cursor)",
        report.fetches_per_second
    );
    println!(
        "final listings of every sold SKU on all 4 marketplaces equal the ledger: {}",
        if report.final_listings_ok {
            "yes"
        } else {
            "NO"
        }
    );
    let verdict = |p99: f64| {
        if p99 < ENGINE_TARGET_P99.as_secs_f64() * 1e6 {
            "MET"
        } else {
            "MISSED"
        }
    };
    println!(
        "target: p99 propagation < 5 ms: {} from the ack ({}), {} from the send ({})",
        verdict(report.from_ack.p99),
        micros_text(report.from_ack.p99),
        verdict(report.from_send.p99),
        micros_text(report.from_send.p99)
    );
    println!();
}

fn engine_json(params: &EngineParams, report: &EngineReport) -> serde_json::Value {
    let per_sibling: serde_json::Map<String, serde_json::Value> = report
        .per_sibling
        .iter()
        .map(|(name, percentiles)| ((*name).to_string(), percentiles.json()))
        .collect();
    serde_json::json!({
        "params": {
            "clients": params.clients,
            "channels": CHANNELS.len(),
            "skus": params.skus,
            "sales": params.sales,
            "sales_per_s": params.sales_rate,
            "arbiters": params.arbiters,
            "poll_ms": params.poll.as_millis() as u64,
            "ack": params.ack.name(),
            "seed": params.seed,
        },
        "startup_s": {
            "seed": report.seed_time.as_secs_f64(),
            "listed": report.listed_time.as_secs_f64(),
            "quiet": report.quiet_time.as_secs_f64(),
        },
        "sales_s": report.sales_time.as_secs_f64(),
        "propagation_from_ack_us": report.from_ack.json(),
        "propagation_from_send_us": report.from_send.json(),
        "ack_us": report.ack.json(),
        "per_sibling_from_ack_us": per_sibling,
        "engine_sync_lag_us": report.engine_sync_lag.json(),
        "commit_round_us": report.commit.json(),
        "before_ack": report.before_ack,
        "ratelimit_waits": report.ratelimit_waits,
        "requests_ok": report.requests_ok,
        "requests_not_ok": report.requests_not_ok,
        "channel_throttled": report.channel_throttled,
        "channel_failed": report.channel_failed,
        "oversold_units": report.oversold,
        "fetches_per_s": report.fetches_per_second,
        "final_listings_ok": report.final_listings_ok,
        "peak_rss_mib": report.peak_rss_mib,
        "target_met_from_ack": report.from_ack.p99 < ENGINE_TARGET_P99.as_secs_f64() * 1e6,
        "target_met_from_send": report.from_send.p99 < ENGINE_TARGET_P99.as_secs_f64() * 1e6,
    })
}
