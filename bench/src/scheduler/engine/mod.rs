//! Part 2 of the scheduler benchmark: propagation through the real actors (see the module doc
//! of `scheduler`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use metrics_util::debugging::{DebuggingRecorder, Snapshotter};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shelfsync_actors::channel::messages::GetState as GetChannelState;
use shelfsync_actors::channel::{ChannelActor, ChannelConfig, LedgerPort};
use shelfsync_actors::clock::TokioClock;
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::inventory::ledger::MovementInput;
use shelfsync_actors::inventory::messages::MAX_BATCH;
use shelfsync_actors::inventory::messages::{ApplyMovements, GetState as GetInventoryState};
use shelfsync_actors::inventory::{InventoryActor, InventoryConfig};
use shelfsync_actors::platform::Platform;
use shelfsync_actors::ratelimit::{
    AppId, Operation, RateLimitOverride, RateLimitOverrides, RateLimiters,
};
use shelfsync_actors::runtime::BoundedStart;
use shelfsync_actors::storage::{client_tree, open_database, DbFlusher, DEFAULT_CACHE_BYTES};
use shelfsync_actors::testing::fake_marketplace::FakeMarketplace;
use tokio::time::Instant;

mod report;

pub(super) use self::report::{engine_json, print_engine};
use self::report::{peak_rss_mib, read_metrics};
use super::{nproc, AckMode, SchedulerArgs};
use crate::percentiles::Percentiles;

/// The four channels of every client; channel 0 is where the sales come from.
const CHANNELS: [(&str, Platform); 4] = [
    ("walmart", Platform::Walmart),
    ("shopify", Platform::Shopify),
    ("ebay", Platform::Ebay),
    ("amazon", Platform::Amazon),
];

/// The step the microsecond figures are recorded in (a nanosecond).
const NANOSECOND_IN_MICROS: f64 = 0.001;

/// Units every SKU is seeded with: more than all the sales of a run.
const SEED_UNITS: u32 = 100_000;

#[derive(Debug, Clone)]
pub(super) struct EngineParams {
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
    pub(super) fn from_args(args: &SchedulerArgs) -> anyhow::Result<Self> {
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
pub(super) struct EngineReport {
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
        // One bucket for every operation (Shopify's GraphQL, TikTok Shop's shop): given once.
        Platform::Shopify | Platform::TikTok => {
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

pub(super) fn run_engine(params: &EngineParams) -> anyhow::Result<EngineReport> {
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
            let message = ApplyMovements::parse(chunk)?;
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
            ApplyMovements::parse(&[MovementInput {
                key: format!("bench-sale-{index:06}"),
                source: format!("channel:{origin}"),
                sku: engine_sku(sku),
                kind: "sale".into(),
                quantity: 1,
            }])
        })
        .collect::<Result<_, _>>()?;
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
    report.from_ack = Percentiles::of(&from_ack, NANOSECOND_IN_MICROS);
    report.from_send = Percentiles::of(&from_send, NANOSECOND_IN_MICROS);
    report.ack = Percentiles::of(&ack, NANOSECOND_IN_MICROS);
    report.per_sibling = CHANNELS[1..]
        .iter()
        .zip(per_sibling)
        .map(|((name, _), values)| (*name, Percentiles::of(&values, NANOSECOND_IN_MICROS)))
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
