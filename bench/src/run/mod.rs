//! `shelfsync-bench run SCENARIO`: the real service (`shelfsync serve`, a child process) against
//! mock marketplaces started in this process, side by side with the FIFO push order and with
//! interval-sync baselines, each variant on fresh mocks with the same seeds; every figure comes
//! from the mocks' ground truth (see `observe.rs`), never from the engine's counters.

mod fleet;
mod interval;
mod observe;
mod provision;
mod report;
mod scenario;
mod service;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use shelfsync::platforms::mock::world::{OrderStatus, Stats};
use shelfsync::platforms::mock::FaultSettings;
use shelfsync::platforms::Platform;

use self::fleet::{ClientPlan, Fleet};
use self::observe::Observer;
use self::provision::api_of;
use self::report::{Budget, Report, ServiceFigures, ToolFigures, VariantReport};
use self::scenario::Scenario;
use self::service::ServiceProcess;
use shelfsync_actors::channel::scheduler::PushOrder;

/// Errors of a run, each naming what failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario file is missing or wrong.
    #[error("scenario {path}: {message}")]
    Scenario {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The service binary is not there.
    #[error("no shelfsync binary at {path} (build it: cargo build --release -p shelfsync, or pass --service-bin)")]
    ServiceBinary {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The service did not start.
    #[error("shelfsync serve did not start: {0}")]
    ServiceStart(String),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// A mock could not be started or set.
    #[error("mock: {0}")]
    Mock(String),
    /// The API answered something else than expected.
    #[error("{call} answered {status}: {body}")]
    Api {
        /// The call.
        call: String,
        /// Its status.
        status: u16,
        /// Its body (cut).
        body: String,
    },
    /// The API refused a call or could not be reached.
    #[error(transparent)]
    Client(#[from] shelfsync::api::client::ClientError),
    /// The report lacks figures, or the service crashed.
    #[error("the report is incomplete:\n  {}", .0.join("\n  "))]
    Incomplete(Vec<String>),
}

impl RunError {
    fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> RunError {
        move |source| RunError::Io { what, source }
    }
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A scenario name in bench/scenarios/ (smoke, agency-100, flash-sale, outage) or a file.
    pub scenario: String,
    /// Writes the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Writes the report as markdown to this file (to paste into bench/RESULTS.md).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// The shelfsync binary (default: `shelfsync` beside this binary).
    #[arg(long)]
    pub service_bin: Option<PathBuf>,
    /// Only these variants, comma-separated (risk-first, fifo, interval-N); default all.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

/// One way of keeping the listings in step.
#[derive(Debug, Clone, PartialEq)]
enum Variant {
    Shelfsync(PushOrder),
    Interval(f64),
}

impl Variant {
    fn name(&self) -> String {
        match self {
            Variant::Shelfsync(PushOrder::RiskFirst) => "shelfsync-risk-first".into(),
            Variant::Shelfsync(PushOrder::Fifo) => "shelfsync-fifo".into(),
            Variant::Interval(minutes) => format!("interval-{minutes}min"),
        }
    }

    fn short(&self) -> String {
        match self {
            Variant::Shelfsync(PushOrder::RiskFirst) => "risk-first".into(),
            Variant::Shelfsync(PushOrder::Fifo) => "fifo".into(),
            Variant::Interval(minutes) => format!("interval-{minutes}"),
        }
    }
}

/// Runs a scenario; an incomplete report or a crashed service is an error (non-zero exit).
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    let binary = service::locate_binary(args.service_bin.as_deref())?;
    let clients = fleet::plan(&scenario);
    let mut variants = vec![
        Variant::Shelfsync(PushOrder::RiskFirst),
        Variant::Shelfsync(PushOrder::Fifo),
    ];
    variants.extend(
        scenario
            .interval_minutes
            .iter()
            .map(|&m| Variant::Interval(m)),
    );
    if !args.only.is_empty() {
        variants.retain(|variant| args.only.contains(&variant.short()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    for variant in &variants {
        let report = runtime.block_on(run_variant(&scenario, &clients, variant, &binary))?;
        eprintln!("{}: done", variant.name());
        reports.push(report);
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let report = Report {
        scenario: scenario.name.clone(),
        command: format!("cargo run -p shelfsync-bench --release -- {}", command_tail(&command)),
        seed: scenario.seed,
        time_compression: scenario.time_compression,
        shape: format!(
            "{} clients, {} channels, {} SKUs per client, {} orders/s for {} s (+{} s drain), plan {}",
            scenario.clients,
            scenario.channel_count(),
            scenario.skus,
            scenario.orders_per_sec,
            scenario.duration_secs,
            scenario.drain_secs,
            scenario.plan
        ),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        variants: reports,
    };
    println!("{}", report.markdown());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, report.markdown())?;
    }
    let platforms: Vec<Platform> = clients
        .iter()
        .flat_map(|client| client.platforms.iter().copied())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let problems = report.problems(&platforms);
    if !problems.is_empty() {
        return Err(RunError::Incomplete(problems).into());
    }
    Ok(())
}

/// The arguments after the binary's path.
fn command_tail(command: &str) -> String {
    command
        .split_once(' ')
        .map_or("", |(_, tail)| tail)
        .to_string()
}

/// A random admin token (at least 32 characters, as `serve` requires).
fn admin_token() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..48)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)]))
        .collect()
}

async fn run_variant(
    scenario: &Scenario,
    clients: &[ClientPlan],
    variant: &Variant,
    binary: &std::path::Path,
) -> Result<VariantReport, RunError> {
    let fleet = Fleet::start(scenario, clients)?;
    let progress = ProgressBar::new(scenario.duration_secs + scenario.drain_secs);
    progress.set_style(
        ProgressStyle::with_template("{prefix:>22} [{bar:30}] {pos}/{len} s {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    progress.set_prefix(variant.name());
    let mut service = None;
    let mut settle = None;
    let mut engine_api = None;
    if let Variant::Shelfsync(order) = variant {
        progress.set_message("starting the service");
        let started = ServiceProcess::start(binary, &admin_token())?;
        let api = api_of(&started)?;
        service = Some(started);
        progress.set_message("provisioning");
        provision::provision(&api, clients, &fleet, *order, scenario.poll_interval_ms).await?;
        progress.set_message("settling");
        let (waited, settled) =
            provision::settle(&api, clients, Duration::from_secs(scenario.settle_secs)).await?;
        settle = Some((waited.as_secs_f64(), settled));
        engine_api = Some(api);
    }
    let before = snapshot(&fleet);
    let cpu_before = service.as_ref().and_then(ServiceProcess::cpu_seconds);
    let window = Duration::from_secs(scenario.duration_secs + scenario.drain_secs);
    let stop = Arc::new(AtomicBool::new(false));
    let observer = Observer::new(&fleet, clients, scenario.sample_ms);
    let observer = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("bench-observer".into())
            .spawn(move || observer.run(&stop, window + Duration::from_secs(30)))
            .map_err(RunError::io("observer thread"))?
    };
    let started = Instant::now();
    let mut tool = None;
    if let Variant::Interval(minutes) = variant {
        let interval = Duration::from_secs_f64(scenario.interval_wall_secs(*minutes));
        let (handles, counters) = interval::start(
            &fleet,
            clients,
            interval,
            scenario.seed,
            Arc::clone(&stop),
            started + window,
        )?;
        tool = Some((handles, counters, interval));
    }
    progress.set_message("shopping");
    fleet.set_shoppers(scenario, scenario.orders_per_sec, 0);
    let result = drive(scenario, &fleet, &mut service, &progress, started, window).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let engine_view = match &engine_api {
        Some(api) => Some(provision::engine_view(api, clients).await),
        None => None,
    };
    fleet.stop_shoppers();
    let observations = observer
        .join()
        .map_err(|_| RunError::Mock("the observer panicked".into()))?;
    let cpu_after = service.as_ref().and_then(ServiceProcess::cpu_seconds);
    let rss = service.as_ref().and_then(ServiceProcess::peak_rss_mib);
    let after = snapshot(&fleet);
    let crashed = result?;
    let tool_figures = match tool {
        Some((handles, counters, interval)) => {
            for handle in handles {
                handle.abort();
                let _ = handle.await;
            }
            Some(ToolFigures {
                sweeps: counters.sweeps.load(Ordering::Relaxed),
                calls: counters.calls.load(Ordering::Relaxed),
                failed_calls: counters.failed_calls.load(Ordering::Relaxed),
                order_pages: counters.order_pages.load(Ordering::Relaxed),
                failed_order_reads: counters.failed_order_reads.load(Ordering::Relaxed),
                interval_secs: interval.as_secs_f64(),
            })
        }
        None => None,
    };
    if let Some(service) = service.as_mut() {
        service.stop();
    }
    progress.finish_with_message("measured");
    let window_secs = elapsed.as_secs_f64();
    let service_figures = match (cpu_before, cpu_after, rss) {
        (Some(before), Some(after), Some(rss)) => Some(ServiceFigures {
            cpu_seconds: after - before,
            cpu_cores: (after - before) / window_secs,
            cpu_seconds_total: after,
            peak_rss_mib: rss,
        }),
        _ => None,
    };
    let (lag_by_target, lag_by_source) = report::lag_figures(&observations);
    let (reaction_lag_by_target, reaction_lag_by_pair) = report::reaction_figures(&observations);
    let (units_sold, units_oversold, skus_oversold) = oversold(&fleet, clients, &after);
    let oversold_by_platform = oversold_by_platform(&fleet, clients);
    let report = VariantReport {
        variant: variant.name(),
        window_secs,
        orders: sum(&after, |s| s.orders) - sum(&before, |s| s.orders),
        orders_refused: sum(&after, |s| s.orders_refused) - sum(&before, |s| s.orders_refused),
        units_sold,
        units_oversold,
        skus_oversold,
        oversold_by_platform,
        exposure_unit_seconds: observations.exposure_by_platform.values().sum(),
        exposure_by_platform: observations.exposure_by_platform.clone(),
        lag_by_target,
        lag_by_source,
        reaction_lag_by_target,
        reaction_lag_by_pair,
        reaction_unknown: observations.reaction_unknown,
        webhooks: [
            sum(&after, |s| s.webhooks_delivered) - sum(&before, |s| s.webhooks_delivered),
            sum(&after, |s| s.webhook_attempts_failed)
                - sum(&before, |s| s.webhook_attempts_failed),
            sum(&after, |s| s.webhooks_given_up) - sum(&before, |s| s.webhooks_given_up),
        ],
        engine_view,
        lag_by_pair: observations
            .lag_by_pair
            .iter()
            .filter_map(|(pair, lags)| {
                report::LagFigures::of(lags, 0).map(|figures| (pair.clone(), figures))
            })
            .collect(),
        throttled_total: sum(&after, throttled),
        throttled_window: sum(&after, throttled) - sum(&before, throttled),
        budgets: budgets(scenario, &before, &after, window_secs),
        service: service_figures,
        service_crashed: crashed,
        settle,
        tool: tool_figures,
        sample_ms: (observations.sample_ms, observations.exposure_ms),
    };
    // Stopping hundreds of mock servers joins their threads: off the async workers.
    tokio::task::spawn_blocking(move || drop(fleet))
        .await
        .map_err(|_| RunError::Mock("stopping the mocks panicked".into()))?;
    Ok(report)
}

/// Runs the shoppers' schedule (bursts, faults, the stop) for `window`, watching the service;
/// returns `Some(status)` when the service ended.
async fn drive(
    scenario: &Scenario,
    fleet: &Fleet,
    service: &mut Option<ServiceProcess>,
    progress: &ProgressBar,
    started: Instant,
    window: Duration,
) -> Result<Option<String>, RunError> {
    let shopping = Duration::from_secs(scenario.duration_secs);
    let mut rate = scenario.orders_per_sec;
    let mut phase = 0;
    let mut faults_on: Vec<bool> = vec![false; scenario.faults.len()];
    let mut shoppers_on = true;
    let tick = Duration::from_millis(100);
    // Bounded: one tick per 100 ms of the window, plus slack.
    let max_ticks = window.as_millis() as u64 / 100 + 100;
    for _ in 0..max_ticks {
        let elapsed = started.elapsed();
        if elapsed >= window {
            break;
        }
        let secs = elapsed.as_secs_f64();
        if let Some(status) = service.as_mut().and_then(ServiceProcess::exited) {
            return Ok(Some(status));
        }
        if shoppers_on && elapsed >= shopping {
            fleet.stop_shoppers();
            shoppers_on = false;
            progress.set_message("draining");
        }
        if shoppers_on {
            let wanted = scenario
                .bursts
                .iter()
                .find(|burst| secs >= burst.at_secs && secs < burst.at_secs + burst.secs)
                .map_or(scenario.orders_per_sec, |burst| burst.orders_per_sec);
            if wanted != rate {
                phase += 1;
                fleet.set_shoppers(scenario, wanted, phase);
                rate = wanted;
                progress.set_message(format!("shopping at {wanted} orders/s"));
            }
        }
        for (index, fault) in scenario.faults.iter().enumerate() {
            let Some(platform) = Platform::parse(&fault.platform) else {
                continue;
            };
            let span = fault.down_secs.max(fault.throttle_secs);
            let active = secs >= fault.at_secs && secs < fault.at_secs + span;
            if active != faults_on[index] {
                let settings = if active {
                    FaultSettings {
                        down: fault.down_secs > 0.0,
                        throttle_all_secs: fault.throttle_secs,
                        ..FaultSettings::default()
                    }
                } else {
                    FaultSettings::default()
                };
                fleet.set_faults(platform, &settings)?;
                faults_on[index] = active;
                progress.set_message(format!(
                    "{platform} {}",
                    if active { "faulted" } else { "back" }
                ));
            }
        }
        progress.set_position(elapsed.as_secs());
        tokio::time::sleep(tick).await;
    }
    progress.set_position(window.as_secs());
    for (index, fault) in scenario.faults.iter().enumerate() {
        if faults_on[index] {
            if let Some(platform) = Platform::parse(&fault.platform) {
                fleet.set_faults(platform, &FaultSettings::default())?;
            }
        }
    }
    Ok(service.as_mut().and_then(ServiceProcess::exited))
}

/// Every mock's ground truth now, by fleet position.
fn snapshot(fleet: &Fleet) -> Vec<(Platform, Stats)> {
    fleet
        .channels
        .iter()
        .map(|channel| (channel.platform, channel.state().world().stats.clone()))
        .collect()
}

fn sum(stats: &[(Platform, Stats)], field: impl Fn(&Stats) -> u64) -> u64 {
    stats.iter().map(|(_, s)| field(s)).sum()
}

fn throttled(stats: &Stats) -> u64 {
    stats.throttled.values().sum()
}

/// Units sold (net of cancellations), units sold beyond each SKU's true stock, and the SKUs
/// oversold: a client's SKU has one stock across all its marketplaces.
fn oversold(fleet: &Fleet, clients: &[ClientPlan], after: &[(Platform, Stats)]) -> (i64, i64, u64) {
    let mut net: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); clients.len()];
    for (channel, (_, stats)) in fleet.channels.iter().zip(after) {
        for (sku, units) in &stats.units_sold {
            let cancelled = stats.units_cancelled.get(sku).copied().unwrap_or(0);
            *net[channel.client].entry(sku.as_str()).or_default() += units - cancelled;
        }
    }
    let (mut sold, mut over, mut skus) = (0, 0, 0);
    for (client, net) in clients.iter().zip(&net) {
        for (sku, stock) in client.skus.iter().zip(&client.stock) {
            let units = net.get(sku.as_str()).copied().unwrap_or(0);
            sold += units;
            let beyond = units - i64::from(*stock);
            if beyond > 0 {
                over += beyond;
                skus += 1;
            }
        }
    }
    (sold, over, skus)
}

/// A sale (+ units) or cancellation (− units) of one SKU on one marketplace.
type SaleEvent = (DateTime<Utc>, i64, Platform);

/// Units oversold by the marketplace whose sale took a SKU beyond its stock: every sale and
/// cancellation of a client's SKU on all its marketplaces in time order; a sale's units beyond the
/// stock are that marketplace's, and a cancellation takes back the latest oversold units first.
/// The sum equals `oversold`'s units.
fn oversold_by_platform(fleet: &Fleet, clients: &[ClientPlan]) -> BTreeMap<Platform, i64> {
    // (client, SKU) → (when, units: + sold, − cancelled, platform).
    let mut events: BTreeMap<(usize, String), Vec<SaleEvent>> = BTreeMap::new();
    for channel in &fleet.channels {
        let world = channel.state().world();
        for order in world.orders() {
            let key = (channel.client, order.sku.clone());
            let list = events.entry(key).or_default();
            list.push((order.created_at, order.quantity, channel.platform));
            if order.status == OrderStatus::Cancelled {
                list.push((order.updated_at, -order.quantity, channel.platform));
            }
        }
    }
    let mut by_platform: BTreeMap<Platform, i64> = BTreeMap::new();
    for ((client, sku), mut list) in events {
        let Some(stock) = clients[client]
            .skus
            .iter()
            .position(|name| *name == sku)
            .map(|position| i64::from(clients[client].stock[position]))
        else {
            continue;
        };
        list.sort_by_key(|(at, units, _)| (*at, std::cmp::Reverse(*units)));
        let mut sold = 0i64;
        // Oversold units, latest last.
        let mut beyond: Vec<(Platform, i64)> = Vec::new();
        for (_, units, platform) in list {
            let over_before = (sold - stock).max(0);
            sold += units;
            let over_after = (sold - stock).max(0);
            if over_after > over_before {
                beyond.push((platform, over_after - over_before));
            }
            let mut to_take_back = over_before - over_after;
            while to_take_back > 0 {
                let Some(last) = beyond.last_mut() else { break };
                let taken = last.1.min(to_take_back);
                last.1 -= taken;
                to_take_back -= taken;
                if last.1 == 0 {
                    beyond.pop();
                }
            }
        }
        for (platform, units) in beyond {
            *by_platform.entry(platform).or_default() += units;
        }
    }
    by_platform
}

/// Requests each platform's mocks received in the window against what the platform's default
/// limits allow in it (the mocks' `default` plan; see `bench/README.md` for each bucket).
fn budgets(
    scenario: &Scenario,
    before: &[(Platform, Stats)],
    after: &[(Platform, Stats)],
    window: f64,
) -> BTreeMap<Platform, Budget> {
    let mut out: BTreeMap<Platform, Budget> = BTreeMap::new();
    let default_plan = scenario.plan == "default";
    for ((platform, b), (_, a)) in before.iter().zip(after) {
        let delta = |op: &str| {
            a.requests.get(op).copied().unwrap_or(0) - b.requests.get(op).copied().unwrap_or(0)
        };
        let all: u64 = a.requests.values().sum::<u64>() - b.requests.values().sum::<u64>();
        let throttled = throttled(a) - throttled(b);
        // Each account's own bucket; Etsy's and eBay's are per app, added once below.
        let (bucket, used, allowed) = match platform {
            // 100 points/s restored, 1000 deep; a mutation costs 10 points (reference §1.3).
            Platform::Shopify => (
                "graphql calls at 10 points",
                delta("graphql"),
                (100.0 * window + 1000.0) / 10.0,
            ),
            // 10 QPS / 10 000 QPD per app, every call counts (reference §2.3).
            Platform::Etsy => ("app QPS/QPD, every call", all, 0.0),
            // patchListingsItem 5/s, burst 5, per seller (reference §3.3).
            Platform::Amazon => (
                "patchListingsItem",
                delta("patchListingsItem"),
                5.0 * window + 5.0,
            ),
            // PUT /v3/inventory 200/min, bucket of 200, per seller (reference §4.3).
            Platform::Walmart => (
                "PUT /v3/inventory",
                delta("update_inventory"),
                200.0 / 60.0 * window + 200.0,
            ),
            // Inventory API 2 000 000 a day per app (reference §5.3).
            Platform::Ebay => (
                "Inventory API calls",
                delta("bulk_update_price_quantity") + delta("get_inventory_item"),
                0.0,
            ),
            // One bucket per app and shop for every call, 10/s, burst 10 (§6.3 [U], the mock's).
            Platform::TikTok => ("shop bucket, every call", all, 10.0 * window + 10.0),
        };
        let entry = out.entry(*platform).or_insert(Budget {
            requests: 0,
            used: 0,
            allowed: 0.0,
            share: 0.0,
            bucket,
            throttled: 0,
            requests_by_operation: BTreeMap::new(),
            throttled_by_operation: BTreeMap::new(),
        });
        for (operation, count) in &a.requests {
            let since = count - b.requests.get(operation).copied().unwrap_or(0);
            if since > 0 {
                *entry
                    .requests_by_operation
                    .entry(operation.clone())
                    .or_default() += since;
            }
        }
        for (operation, count) in &a.throttled {
            let since = count - b.throttled.get(operation).copied().unwrap_or(0);
            if since > 0 {
                *entry
                    .throttled_by_operation
                    .entry(operation.clone())
                    .or_default() += since;
            }
        }
        entry.requests += all;
        entry.used += used;
        entry.allowed += allowed;
        entry.throttled += throttled;
    }
    for (platform, budget) in &mut out {
        match platform {
            Platform::Etsy => budget.allowed = (10.0 * window).min(10_000.0),
            Platform::Ebay => budget.allowed = 2_000_000.0,
            _ => {}
        }
        if !default_plan {
            budget.bucket = "not the default plan: allowed shows the default limits";
        }
        budget.share = if budget.allowed > 0.0 {
            budget.used as f64 / budget.allowed
        } else {
            0.0
        };
    }
    out
}
