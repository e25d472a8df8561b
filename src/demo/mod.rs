//! `shelfsync demo`: the main job on an embedded default (DESIGN §6, issue 5). It runs the real
//! service — the engine, the agency API and `/metrics`, over a data directory with its vault key —
//! and connects demo clients to mock marketplaces on loopback with live shoppers:
//!
//! 1. `serve`'s own wiring ([`crate::serve::start_service`]) starts the service and the API; the
//!    first three stdout lines are `api: http://ADDR`, `metrics: http://ADDR/metrics` and
//!    `admin token: ssk_…` (dashboards and scripts read them); the fourth, `console: …`, is the
//!    operator console's one-click sign-in link for the admin.
//! 2. Every client gets its own mock of each marketplace it sells on, as a real client has its own
//!    Shopify store and Amazon seller account: a marketplace's order feed is the whole account's,
//!    so clients sharing one mock account would each see the others' orders.
//! 3. Everything is provisioned through the service's own HTTP API, as an agency would: clients,
//!    credentials, channels, listings and catalogs, then every marketplace's order notifications to the service.
//! 4. Once every listing shows its ledger target, shoppers buy on every mock; a warehouse restocks
//!    SKUs that run out, through the API; the live view refreshes every second from the API (the
//!    service's view) and from each mock's `/_mock/stats` (the ground truth).
//! 5. On Ctrl-C (SIGINT), SIGTERM or `--duration`, the shoppers stop, the demo waits for the
//!    ledgers to hold every order and every listing to be back in step, and prints a summary.

mod data;
mod http;
mod observe;
mod provision;
mod view;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::SeedableRng;

use self::data::{DemoClient, CLIENTS, VARIANTS};
use self::http::Http;
use self::observe::{all_in_step, count_in_step, count_samples, snapshot};
use self::provision::{prepare_data_dir, restock, set_shoppers, start_client_mocks, ClientMocks};
use self::view::{settle_lines, summary_lines, Out, View, SETTLE_REPORT_EVERY_SECS};
use crate::api::server::ApiServer;
use crate::cli::DemoArgs;
use crate::platforms::Platform;
use crate::service::ServiceOptions;

/// The credential every mock accepts.
const MOCK_TOKEN: &str = crate::platforms::mock::DEFAULT_TOKEN;

/// How long the first sync of every listing may take before shoppers start anyway.
const FIRST_SYNC_LIMIT: Duration = Duration::from_secs(90);
/// How long the demo waits, after the shoppers stop, for the ledgers to hold every order and the
/// listings to be back in step. Amazon's `getOrders` allows one call a minute once its burst of 20
/// is spent (reference §3.3), so a long run can need a minute for its last orders.
const SETTLE_LIMIT: Duration = Duration::from_secs(150);
/// The warehouse looks at stock every this many ticks.
const RESTOCK_EVERY_TICKS: u64 = 3;
/// Journal pages of orders read per client and tick at most (each up to [`ORDERS_PAGE`]).
const ORDER_PAGES_PER_TICK: usize = 20;
/// Order lines asked for per call (the API's largest page).
const ORDERS_PAGE: usize = 1_000;

/// Why a step of the demo failed (the command's entry points turn it into an `anyhow` error).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A request could not be sent or its reply not read.
    #[error("{what}: {source}")]
    Http {
        /// The step.
        what: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// A request was answered with an unexpected status.
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        /// The step.
        what: String,
        /// The status.
        status: u16,
        /// The reply, as sent.
        body: String,
    },
    /// A reply did not say what the demo needs.
    #[error("{what}: unexpected reply {reply}")]
    Reply {
        /// The step.
        what: String,
        /// The reply.
        reply: String,
    },
    /// The service's API refused a call or could not be reached.
    #[error(transparent)]
    Api(#[from] crate::api::client::ClientError),
    /// A mock could not start.
    #[error("cannot start the {platform} mock of {client}: {source}")]
    Mock {
        /// The client.
        client: String,
        /// The platform.
        platform: Platform,
        /// Why.
        #[source]
        source: crate::platforms::mock::MockError,
    },
}

/// What the demo saw of one channel, at the end (or at any tick).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelFigures {
    /// The channel id (the platform's name).
    pub channel: String,
    /// Its engine state (`running`, `restarting`, `quarantined`, `stopped`).
    pub state: String,
    /// Orders the mock's shoppers placed (ground truth).
    pub orders: u64,
    /// Of them, cancelled later (ground truth).
    pub cancelled: u64,
    /// Units sold, net of cancellations (ground truth).
    pub units_sold: i64,
    /// Sale events of this channel in the client's ledger.
    pub ledger_orders: u64,
    /// Cancellation events of this channel in the ledger.
    pub ledger_cancelled: u64,
    /// Units sold by this channel's sales, net of its cancellations, in the ledger.
    pub ledger_units: i64,
    /// Units the ledger flagged as oversold on this channel's sales.
    pub oversold_units: i64,
    /// Units listed above the ledger's target now (the engine's exposure).
    pub exposure_units: u64,
    /// SKUs whose listing is out of step now.
    pub pending: u64,
    /// Age of the oldest change not yet on the marketplace, in seconds.
    pub oldest_pending_seconds: f64,
    /// Marketplace requests the mock received (ground truth).
    pub requests: u64,
    /// Of them, throttled by the mock (ground truth).
    pub throttled: u64,
    /// Listings of the channel.
    pub listings: usize,
    /// Of them, showing the ledger's target and not pending (counted by the settle check).
    pub listings_in_step: usize,
    /// The engine's last error on the channel.
    pub last_error: Option<String>,
    /// Why the channel's pending changes are not being pushed now, and for how long more (the
    /// engine's `waiting`), when it waits.
    pub waiting: Option<String>,
    /// The first few listings out of step at the settle check: what the marketplace shows
    /// against the ledger's target, for a person.
    pub out_of_step: Vec<String>,
}

impl ChannelFigures {
    /// Whether the ledger holds exactly the orders and cancellations the marketplace took.
    pub fn ledger_complete(&self) -> bool {
        self.ledger_orders == self.orders
            && self.ledger_cancelled == self.cancelled
            && self.ledger_units == self.units_sold
    }
}

/// What the demo saw of one client.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientFigures {
    /// The client code.
    pub code: String,
    /// Its channels, in the order they were connected.
    pub channels: Vec<ChannelFigures>,
    /// Receipts the warehouse posted through the API.
    pub receipts: u64,
    /// Units it received.
    pub received_units: i64,
    /// Exceptions a person has to work (open or acknowledged), by kind.
    pub open_exceptions: std::collections::BTreeMap<String, u64>,
    /// SKUs whose reorder alert is on.
    pub reorder_alerts: u64,
}

impl ClientFigures {
    /// Exceptions a person has to work, of every kind.
    pub fn open_exception_count(&self) -> u64 {
        self.open_exceptions.values().sum()
    }
}

/// The demo's outcome: what `shelfsync demo` prints as its summary, for tests and embedders.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSummary {
    /// The API's base URL while it ran.
    pub api_url: String,
    /// Seconds the shoppers bought.
    pub shopping_seconds: f64,
    /// Seconds from stopping the shoppers until settled (or until the wait gave up).
    pub settle_seconds: f64,
    /// Every client's figures at the end.
    pub clients: Vec<ClientFigures>,
    /// The most `shelfsync_` samples one scrape of `/metrics` showed while it ran.
    pub metrics_samples: usize,
    /// Whether every ledger holds exactly the orders and cancellations the marketplaces took.
    pub ledgers_complete: bool,
    /// Whether every listing ended showing its ledger target with nothing pending.
    pub in_step: bool,
    /// Whether a second signal cut the settle wait short.
    pub interrupted: bool,
}

impl DemoSummary {
    /// Every channel of every client.
    pub fn channels(&self) -> impl Iterator<Item = (&str, &ChannelFigures)> {
        self.clients.iter().flat_map(|client| {
            client
                .channels
                .iter()
                .map(move |channel| (client.code.as_str(), channel))
        })
    }

    /// Orders placed on every marketplace.
    pub fn orders(&self) -> u64 {
        self.channels().map(|(_, channel)| channel.orders).sum()
    }

    /// Sale events in every ledger.
    pub fn ledger_orders(&self) -> u64 {
        self.channels()
            .map(|(_, channel)| channel.ledger_orders)
            .sum()
    }

    /// Units flagged oversold in every ledger.
    pub fn oversold_units(&self) -> i64 {
        self.channels()
            .map(|(_, channel)| channel.oversold_units)
            .sum()
    }
}

/// `shelfsync demo`: runs until SIGINT, SIGTERM or `--duration`, prints the summary, and fails
/// when the ledgers or the listings did not end in step with the marketplaces.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let summary = run_demo(args, true)?;
    anyhow::ensure!(
        summary.in_step && summary.ledgers_complete,
        if summary.interrupted {
            "interrupted before the listings and ledgers were back in step"
        } else {
            "the listings or ledgers were not back in step within the settle limit"
        }
    );
    Ok(())
}

/// Runs the demo and returns its summary. With `handle_signals`, SIGINT and SIGTERM stop the
/// shoppers (and a second one the settle wait); without, only `args.duration` does (tests, which
/// must then give one).
pub fn run_demo(args: DemoArgs, handle_signals: bool) -> anyhow::Result<DemoSummary> {
    anyhow::ensure!(
        handle_signals || args.duration.is_some(),
        "without signal handling the demo needs a duration"
    );
    let temporary;
    let data_dir: PathBuf = match &args.data_dir {
        Some(dir) => {
            prepare_data_dir(dir)?;
            dir.clone()
        }
        None => {
            temporary = tempfile::tempdir().context("cannot create a temporary data directory")?;
            temporary.path().to_path_buf()
        }
    };
    // A fresh admin token preset into the new data directory: the demo calls its own API with it
    // and prints it for whoever wants to look around (only its hash is stored, as in `serve`).
    let (admin_token, _) = crate::auth::new_token();
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let options = ServiceOptions {
        arbiters: cores.min(4),
        // The demo's marketplaces are mocks on loopback, over plain http.
        egress: crate::platforms::egress::EgressPolicy::LOOPBACK_MOCKS,
        ..ServiceOptions::default()
    };
    let started = crate::serve::start_service(
        &data_dir,
        None,
        Some(admin_token.expose()),
        shelfsync_actors::storage::DEFAULT_CACHE_BYTES,
        options,
        1024 * 1024,
        crate::api::server::EdgeLimits::default(),
    )?;
    let api = ApiServer::start(args.listen, started.state, cores.clamp(2, 4))
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let mut out = Out::new();
    out.line(&format!("api: {}", api.base_url()));
    out.line(&format!("metrics: {}/metrics", api.base_url()));
    out.line(&format!("admin token: {}", admin_token.expose()));
    // The fragment is never sent to a server: the console's script reads it and signs in.
    out.line(&format!(
        "console: {}/signin#token={}",
        api.base_url(),
        admin_token.expose()
    ));
    let clients: Vec<DemoClient> = CLIENTS
        .iter()
        .take(usize::from(args.clients))
        .copied()
        .collect();
    let mocks = start_client_mocks(&clients, args.seed)?;
    let setup = Setup {
        api_url: api.base_url(),
        token: admin_token.expose().to_string(),
        mocks,
        seed: args.seed,
        duration: args.duration.map(Duration::from_secs),
        handle_signals,
        data_dir: data_dir.clone(),
    };
    let outcome = actix_rt::System::new().block_on(drive(&setup, &mut out));
    // Stop in the order that ends activity: no new API calls or webhooks, then the engine (its
    // channels stop calling the mocks), then the mocks.
    api.stop();
    started.service.shutdown();
    drop(setup);
    started.db.flush().context("the final database flush")?;
    let summary = outcome?;
    match &args.data_dir {
        Some(dir) => out.line(&format!(
            "the data directory is kept in {} (the demo's mocks are gone, so its channels will not \
             reconnect)",
            dir.display()
        )),
        None => {
            out.line("the temporary data directory was removed (pass --data-dir DIR to keep it)")
        }
    }
    Ok(summary)
}

/// Everything the async part of the demo needs.
#[derive(Debug)]
struct Setup {
    api_url: String,
    token: String,
    mocks: Vec<ClientMocks>,
    seed: u64,
    duration: Option<Duration>,
    handle_signals: bool,
    data_dir: PathBuf,
}

/// Why the shoppers stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Duration,
    Signal,
}

/// Forwards SIGINT and SIGTERM to `signals` until the demo ends (the receiver is dropped).
fn watch_signals(signals: tokio::sync::mpsc::UnboundedSender<()>) -> std::io::Result<()> {
    use actix_rt::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    actix_rt::spawn(async move {
        // Ends when a stream ends or nobody listens any more.
        loop {
            let got = tokio::select! {
                got = interrupt.recv() => got,
                got = terminate.recv() => got,
            };
            if got.is_none() || signals.send(()).is_err() {
                break;
            }
        }
    });
    Ok(())
}

/// The demo from provisioning to the summary, on the actix system of [`run_demo`].
async fn drive(setup: &Setup, out: &mut Out) -> anyhow::Result<DemoSummary> {
    let http = Http::new(&setup.api_url, &setup.token)?;
    // The sender lives as long as this function, so the channel never closes early; without
    // signal handling nothing ever sends on it.
    let (signal_sender, mut signals) = tokio::sync::mpsc::unbounded_channel();
    if setup.handle_signals {
        watch_signals(signal_sender.clone()).context("cannot watch SIGINT and SIGTERM")?;
    }
    let mut rng = StdRng::seed_from_u64(setup.seed);
    let mut books = Vec::with_capacity(setup.mocks.len());
    for entry in &setup.mocks {
        books.push(
            provision::provision(&http, entry, &mut rng)
                .await
                .with_context(|| format!("provisioning {}", entry.client.code))?,
        );
    }
    let channels: usize = setup.mocks.iter().map(|entry| entry.mocks.len()).sum();
    let listings: usize = setup
        .mocks
        .iter()
        .map(|entry| entry.mocks.len() * entry.client.products.len() * VARIANTS.len())
        .sum();
    out.line(&format!(
        "provisioned through the API: {} clients, {channels} channels on their own mock \
         marketplaces, {listings} listings",
        setup.mocks.len()
    ));
    for entry in &setup.mocks {
        let platforms: Vec<&str> = entry
            .client
            .platforms
            .iter()
            .map(|platform| platform.as_str())
            .collect();
        out.line(&format!(
            "  {} ({}): {}",
            entry.client.code,
            entry.client.tier.as_str(),
            platforms.join("+")
        ));
    }
    out.line(&format!("data in {}", setup.data_dir.display()));

    // The first sync: every listing shows 0 until the service pushes the ledger's quantity.
    let first_sync = Instant::now();
    let mut synced = false;
    let mut interrupted = false;
    let mut ticker = actix_rt::time::interval(Duration::from_millis(500));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while first_sync.elapsed() < FIRST_SYNC_LIMIT {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = signals.recv() => { interrupted = true; break; }
        }
        let mut figures = snapshot(&http, setup, &mut books).await?;
        count_in_step(&http, setup, &mut figures).await?;
        if all_in_step(&figures) {
            synced = true;
            break;
        }
    }
    out.line(&format!(
        "first sync: {} after {:.1} s",
        if synced {
            "every listing shows its ledger quantity"
        } else {
            "NOT every listing is in step yet"
        },
        first_sync.elapsed().as_secs_f64()
    ));

    let mut metrics_samples = 0;
    let mut last = Vec::new();
    let shopping = Instant::now();
    if !interrupted {
        set_shoppers(&http, setup, Some(setup.seed)).await?;
        out.line(&format!(
            "shoppers are buying{}",
            match setup.duration {
                Some(duration) => format!(" for {} s", duration.as_secs()),
                None => " until Ctrl-C".to_string(),
            }
        ));
        let mut ticker = actix_rt::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        // Bounded by the duration, or (without one) by the signal that must come.
        for tick in 1u64.. {
            let stop = tokio::select! {
                _ = ticker.tick() => None,
                _ = signals.recv() => Some(Stop::Signal),
            };
            let elapsed = shopping.elapsed();
            let stop = stop.or_else(|| {
                setup
                    .duration
                    .filter(|duration| elapsed + Duration::from_millis(100) >= *duration)
                    .map(|_| Stop::Duration)
            });
            if stop.is_some() {
                break;
            }
            if tick % RESTOCK_EVERY_TICKS == 0 {
                restock(&http, setup, &mut books, tick, &mut rng).await?;
            }
            last = snapshot(&http, setup, &mut books).await?;
            if let Ok(text) = http.api.metrics().await {
                metrics_samples = metrics_samples.max(count_samples(&text));
            }
            let view = View {
                setup,
                elapsed,
                clients: &last,
                metrics_samples,
            };
            if out.terminal {
                out.redraw(&view.frame());
            } else {
                out.line(&view.line());
            }
        }
    }
    let shopping_seconds = shopping.elapsed().as_secs_f64();
    set_shoppers(&http, setup, None).await?;
    out.line(&format!(
        "shoppers stopped after {shopping_seconds:.1} s; waiting for every order to reach the \
         ledgers and every listing to be back in step (Ctrl-C again to stop waiting)"
    ));

    let settling = Instant::now();
    let mut settled = false;
    let mut ticker = actix_rt::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // An interval's first tick is immediate; the checks below start at once anyway.
    ticker.tick().await;
    while settling.elapsed() < SETTLE_LIMIT {
        last = snapshot(&http, setup, &mut books).await?;
        count_in_step(&http, setup, &mut last).await?;
        let complete = last
            .iter()
            .flat_map(|client| &client.channels)
            .all(ChannelFigures::ledger_complete);
        if complete && all_in_step(&last) {
            settled = true;
            break;
        }
        // Every few seconds, what is still out of step: a short line a channel and one a
        // listing, so that nothing wraps mid-word on a terminal.
        let seconds = settling.elapsed().as_secs();
        if seconds % SETTLE_REPORT_EVERY_SECS == 0 {
            for line in settle_lines(seconds, &last) {
                out.line(&line);
            }
        }
        tokio::select! {
            _ = ticker.tick() => {}
            _ = signals.recv() => { interrupted = true; break; }
        }
    }
    let summary = DemoSummary {
        api_url: setup.api_url.clone(),
        shopping_seconds,
        settle_seconds: settling.elapsed().as_secs_f64(),
        ledgers_complete: last
            .iter()
            .flat_map(|client| &client.channels)
            .all(ChannelFigures::ledger_complete),
        in_step: settled || all_in_step(&last),
        clients: last,
        metrics_samples,
        interrupted,
    };
    for line in summary_lines(&summary) {
        out.line(&line);
    }
    drop(signal_sender);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::data::{catalog, CatalogSku};
    use super::*;

    #[test]
    fn catalogs_are_seeded_unique_and_some_run_low() {
        let mut first = StdRng::seed_from_u64(7);
        let mut second = StdRng::seed_from_u64(7);
        for client in &CLIENTS {
            let a = catalog(client, &mut first);
            let b = catalog(client, &mut second);
            assert_eq!(
                a.iter().map(|s| (&s.sku, s.on_hand)).collect::<Vec<_>>(),
                b.iter().map(|s| (&s.sku, s.on_hand)).collect::<Vec<_>>()
            );
            assert_eq!(a.len(), 24);
            let unique: std::collections::HashSet<_> = a.iter().map(|s| &s.sku).collect();
            assert_eq!(unique.len(), a.len(), "{}", client.code);
            assert!(a.iter().all(|s| s.sku.starts_with(client.code)));
            for sku in &a {
                shelfsync_actors::ids::Sku::parse(&sku.sku).unwrap();
            }
        }
        let mut rng = StdRng::seed_from_u64(7);
        let all: Vec<CatalogSku> = CLIENTS
            .iter()
            .flat_map(|client| catalog(client, &mut rng))
            .collect();
        assert!(all.iter().any(|s| s.on_hand <= 3), "some SKUs run low");
        assert!(all.iter().all(|s| s.on_hand > 0));
    }

    #[test]
    fn the_first_three_clients_differ_in_mix_and_tier() {
        let [a, b, c, ..] = CLIENTS;
        assert_ne!(a.platforms, b.platforms);
        assert_eq!(c.platforms.len(), 6, "one client sells everywhere");
        assert_eq!(c.code, "CORA");
        assert!(
            c.platforms.contains(&crate::platforms::Platform::TikTok),
            "CORA sells on TikTok Shop too"
        );
        assert_ne!(a.tier, b.tier);
        assert_ne!(b.tier, c.tier);
        assert_ne!(a.tier, c.tier);
    }

    #[test]
    fn only_shelfsync_samples_are_counted() {
        let text = "# HELP shelfsync_x x\n# TYPE shelfsync_x counter\nshelfsync_x{a=\"1\"} 2\n\
                    shelfsync_y 1\nprocess_cpu 3\n";
        assert_eq!(count_samples(text), 2);
    }
}
