//! `shelfsync-bench run SCENARIO`: the real service (`shelfsync serve`, a child process) against
//! mock marketplaces started in this process, side by side with the FIFO push order and with
//! interval-sync baselines, each variant on fresh mocks with the same seeds; every figure comes
//! from the mocks' ground truth (see `observe.rs`, `figures.rs`), never from the engine's
//! counters. Several scenarios can run in one invocation, their variants one after the other or
//! (`--concurrent`) all at once, each on its own mocks and service, each scenario with its own
//! report.

mod arrivals;
mod figures;
mod fleet;
mod interval;
mod observe;
mod provision;
mod report;
mod scenario;
mod service;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use shelfsync::platforms::mock::FaultSettings;
use shelfsync::platforms::Platform;

use self::arrivals::Shoppers;
use self::figures::{budgets, oversold, oversold_by_platform, snapshot, sum, throttled};
use self::fleet::{ClientPlan, Fleet};
use self::observe::Observer;
use self::provision::{api_of, Provisioning};
use self::report::{Report, ServiceFigures, ToolFigures, VariantReport};
use self::scenario::{EtsyApp, Scenario};
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
    /// Scenario names in bench/scenarios/ (smoke, agency-100, flash-sale, outage, realistic,
    /// flash-drop, budget-bound) or files; several, comma-separated, run in one invocation, each
    /// with its own report.
    #[arg(required = true, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Writes the report as JSON to this file (with several scenarios, one file each: the
    /// scenario's name goes before the extension, `out.json` → `out.realistic.json`).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Writes the report as markdown to this file (to paste into bench/RESULTS.md; several
    /// scenarios go one after the other, each its own section).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// The shelfsync binary (default: `shelfsync` beside this binary).
    #[arg(long)]
    pub service_bin: Option<PathBuf>,
    /// Only these variants, comma-separated (risk-first, fifo, polling, interval-N); default all.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Runs every variant of every scenario at once, each on its own mocks and its own service,
    /// instead of one after the other: three 32-minute real-time scenarios then take 32 minutes,
    /// not hours. They share the machine's cores (see bench/README.md for when that is fair).
    #[arg(long)]
    pub concurrent: bool,
    /// Replaces every scenario's shopping time (seconds): a short check of a long scenario.
    #[arg(long)]
    pub duration_secs: Option<u64>,
}

/// One way of keeping the listings in step.
#[derive(Debug, Clone, PartialEq)]
enum Variant {
    /// The service, with order notifications as the scenario says.
    Shelfsync(PushOrder),
    /// The service, risk-first, with every order feed polled and no notification.
    Polling,
    /// The interval-sync tool, every so many business minutes.
    Interval(f64),
}

impl Variant {
    fn name(&self) -> String {
        match self {
            Variant::Interval(minutes) => format!("interval-{minutes}min"),
            _ => format!("shelfsync-{}", self.short()),
        }
    }

    fn short(&self) -> String {
        match self {
            Variant::Shelfsync(PushOrder::RiskFirst) => "risk-first".into(),
            Variant::Shelfsync(PushOrder::Fifo) => "fifo".into(),
            Variant::Polling => "polling".into(),
            Variant::Interval(minutes) => format!("interval-{minutes}"),
        }
    }

    /// How the service is provisioned for this variant (`None`: no service).
    fn provisioning(&self, scenario: &Scenario) -> Option<Provisioning> {
        let (order, notifications) = match self {
            Variant::Shelfsync(order) => (*order, scenario.notifications),
            Variant::Polling => (PushOrder::RiskFirst, false),
            Variant::Interval(_) => return None,
        };
        Some(Provisioning {
            order,
            poll_interval_ms: scenario.poll_interval_ms,
            notifications,
            shared_etsy_app: scenario.etsy_app == EtsyApp::Shared,
        })
    }
}

/// The variants to run: `only` when given (any the scenario can run), else the scenario's list,
/// else risk-first, FIFO and every interval baseline.
fn variants(scenario: &Scenario, only: &[String]) -> Result<Vec<Variant>, RunError> {
    let known = scenario.known_variants();
    let wanted: Vec<String> = if !only.is_empty() {
        only.to_vec()
    } else if let Some(listed) = &scenario.variants {
        listed.clone()
    } else {
        known
            .iter()
            .filter(|name| *name != "polling")
            .cloned()
            .collect()
    };
    let all = [
        Variant::Shelfsync(PushOrder::RiskFirst),
        Variant::Shelfsync(PushOrder::Fifo),
        Variant::Polling,
    ]
    .into_iter()
    .chain(
        scenario
            .interval_minutes
            .iter()
            .map(|&m| Variant::Interval(m)),
    );
    let variants: Vec<Variant> = all
        .filter(|variant| known.contains(&variant.short()) && wanted.contains(&variant.short()))
        .collect();
    match wanted.iter().find(|name| !known.contains(name)) {
        Some(unknown) => Err(RunError::Scenario {
            path: PathBuf::from(&scenario.name),
            message: format!("--only: {unknown:?} is not one of {}", known.join(", ")),
        }),
        None => Ok(variants),
    }
}

/// One scenario of the invocation, ready to run.
#[derive(Debug)]
struct Planned {
    scenario: Scenario,
    clients: Vec<ClientPlan>,
    variants: Vec<Variant>,
}

/// Runs the scenarios; an incomplete report or a crashed service is an error (non-zero exit).
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let binary = service::locate_binary(args.service_bin.as_deref())?;
    let mut planned = Vec::new();
    for name in &args.scenarios {
        let scenario = Scenario::load(name)?.with_duration(args.duration_secs)?;
        let clients = fleet::plan(&scenario);
        let variants = variants(&scenario, &args.only)?;
        planned.push(Arc::new(Planned {
            scenario,
            clients,
            variants,
        }));
    }
    // Mocks running at once: every variant's fleet, or the biggest one.
    let fleets = planned.iter().map(|plan| {
        let mocks = u64::from(plan.scenario.channel_count());
        if args.concurrent {
            mocks * plan.variants.len() as u64
        } else {
            mocks
        }
    });
    fleet::check_open_files(if args.concurrent {
        fleets.sum()
    } else {
        fleets.max().unwrap_or(0)
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let bars = MultiProgress::new();
    let results = runtime.block_on(run_all(&planned, &binary, &bars, args.concurrent))?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let mut markdown = String::new();
    let mut problems = Vec::new();
    for (plan, variants) in planned.iter().zip(results) {
        let scenario = &plan.scenario;
        let report = Report {
            scenario: scenario.name.clone(),
            command: format!(
                "cargo run -p shelfsync-bench --release -- {}",
                command_tail(&command)
            ),
            seed: scenario.seed,
            time_compression: scenario.time_compression,
            shape: scenario.shape(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            concurrent: args.concurrent,
            variants,
        };
        println!("{}", report.markdown());
        markdown.push_str(&report.markdown());
        if let Some(path) = &args.json {
            let path = if planned.len() > 1 {
                named_after(path, &scenario.name)
            } else {
                path.clone()
            };
            std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        }
        let mut platforms: Vec<Platform> = plan
            .clients
            .iter()
            .flat_map(|client| client.platforms.clone())
            .collect();
        platforms.sort();
        platforms.dedup();
        problems.extend(
            report
                .problems(&platforms)
                .into_iter()
                .map(|problem| format!("{}: {problem}", scenario.name)),
        );
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, markdown)?;
    }
    if !problems.is_empty() {
        return Err(RunError::Incomplete(problems).into());
    }
    Ok(())
}

/// `dir/out.json` → `dir/out.NAME.json`.
fn named_after(path: &Path, name: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(String::new, |stem| stem.to_string_lossy().into_owned());
    let file = match path.extension() {
        Some(extension) => format!("{stem}.{name}.{}", extension.to_string_lossy()),
        None => format!("{stem}.{name}"),
    };
    path.with_file_name(file)
}

/// Every variant of every scenario, one after the other or all at once; the reports by scenario,
/// each in its variants' order.
async fn run_all(
    planned: &[Arc<Planned>],
    binary: &Path,
    bars: &MultiProgress,
    concurrent: bool,
) -> Result<Vec<Vec<VariantReport>>, RunError> {
    let mut reports: Vec<Vec<Option<VariantReport>>> = planned
        .iter()
        .map(|plan| vec![None; plan.variants.len()])
        .collect();
    if concurrent {
        let mut tasks = tokio::task::JoinSet::new();
        for (which, plan) in planned.iter().enumerate() {
            for (index, variant) in plan.variants.iter().enumerate() {
                let bar = bars.add(progress_bar(plan, variant));
                let (plan, variant, binary) =
                    (Arc::clone(plan), variant.clone(), binary.to_path_buf());
                tasks.spawn(async move {
                    let report =
                        run_variant(&plan.scenario, &plan.clients, &variant, &binary, &bar).await;
                    (which, index, report)
                });
            }
        }
        // Bounded: one answer per task spawned above.
        while let Some(joined) = tasks.join_next().await {
            let (which, index, report) =
                joined.map_err(|_| RunError::Mock("a variant's task panicked".into()))?;
            reports[which][index] = Some(report?);
        }
    } else {
        for (which, plan) in planned.iter().enumerate() {
            for (index, variant) in plan.variants.iter().enumerate() {
                let bar = bars.add(progress_bar(plan, variant));
                let report =
                    run_variant(&plan.scenario, &plan.clients, variant, binary, &bar).await?;
                reports[which][index] = Some(report);
            }
        }
    }
    Ok(reports
        .into_iter()
        .map(|variants| variants.into_iter().flatten().collect())
        .collect())
}

/// The arguments after the binary's path.
fn command_tail(command: &str) -> String {
    command
        .split_once(' ')
        .map_or("", |(_, tail)| tail)
        .to_string()
}

/// The progress bar of one variant.
fn progress_bar(plan: &Planned, variant: &Variant) -> ProgressBar {
    let scenario = &plan.scenario;
    let progress = ProgressBar::new(scenario.duration_secs + scenario.drain_secs);
    progress.set_style(
        ProgressStyle::with_template("{prefix:>36} [{bar:30}] {pos}/{len} s {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    progress.set_prefix(format!("{} {}", scenario.name, variant.name()));
    progress
}

async fn run_variant(
    scenario: &Scenario,
    clients: &[ClientPlan],
    variant: &Variant,
    binary: &Path,
    progress: &ProgressBar,
) -> Result<VariantReport, RunError> {
    // Starting hundreds of mock servers blocks: off the async workers, which the other variants
    // of a concurrent run share.
    let fleet = tokio::task::block_in_place(|| Fleet::start(scenario, clients))?;
    let mut service = None;
    let mut settle = None;
    let mut engine_api = None;
    if let Some(how) = variant.provisioning(scenario) {
        progress.set_message("starting the service");
        // A random admin token (at least 32 characters, as `serve` requires).
        let started = ServiceProcess::start(binary, &provision::random_token(48))?;
        let api = api_of(&started)?;
        service = Some(started);
        progress.set_message("provisioning");
        provision::provision(&api, clients, &fleet, how).await?;
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
    let observer = Observer::new(
        &fleet,
        clients,
        scenario.sample_ms,
        scenario.exposure_sample_ms,
    );
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
    let result = drive(scenario, &fleet, &mut service, progress, started, window).await;
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
                let unresolved = observations.unresolved_by_pair.get(pair);
                report::LagFigures::of(lags, unresolved.copied().unwrap_or(0))
                    .map(|figures| (pair.clone(), figures))
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
    let mut shoppers = Shoppers::start(scenario, fleet);
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
            shoppers.set_rate(scenario, fleet, 0.0, secs);
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
                shoppers.set_rate(scenario, fleet, wanted, secs);
                rate = wanted;
                progress.set_message(format!("shopping at {wanted} orders/s"));
            }
            shoppers.tick(fleet, secs);
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
