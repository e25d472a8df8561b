//! `shelfsync demo`: the main job on an embedded default (DESIGN §6, issue 5). It runs the real
//! service — the engine, the agency API and `/metrics`, over a data directory with its vault key —
//! and connects demo clients to mock marketplaces on loopback with live shoppers:
//!
//! 1. `serve`'s own wiring ([`crate::serve::start_service`]) starts the service and the API; the
//!    first three stdout lines are `api: http://ADDR`, `metrics: http://ADDR/metrics` and
//!    `admin token: ssk_…` (dashboards and scripts read them).
//! 2. Every client gets its own mock of each marketplace it sells on, as a real client has its own
//!    Shopify store and Amazon seller account: a marketplace's order feed is the whole account's,
//!    so clients sharing one mock account would each see the others' orders.
//! 3. Everything is provisioned through the service's own HTTP API, as an agency would: clients,
//!    credentials, channels, listings and catalogs, then Shopify's webhooks to the service.
//! 4. Once every listing shows its ledger target, shoppers buy on every mock; a warehouse restocks
//!    SKUs that run out, through the API; the live view refreshes every second from the API (the
//!    service's view) and from each mock's `/_mock/stats` (the ground truth).
//! 5. On Ctrl-C (SIGINT), SIGTERM or `--duration`, the shoppers stop, the demo waits for the
//!    ledgers to hold every order and every listing to be back in step, and prints a summary.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::server::ApiServer;
use crate::cli::DemoArgs;
use crate::platforms::mock::{MockOptions, MockServer};
use crate::platforms::Platform;
use crate::service::ServiceOptions;

/// The demo's clients, in the order `--clients N` takes them: code, name, tier, the marketplaces
/// it sells on, and its products (each in [`VARIANTS`]).
const CLIENTS: [DemoClient; 8] = [
    DemoClient {
        code: "ACME",
        name: "Acme Mugs",
        tier: "premium",
        platforms: &[Platform::Shopify, Platform::Etsy, Platform::Amazon],
        products: &["MUG", "CUP", "TUMBLER", "PLATE", "BOWL", "JUG"],
    },
    DemoClient {
        code: "BOLT",
        name: "Bolt Outdoor",
        tier: "standard",
        platforms: &[Platform::Shopify, Platform::Walmart, Platform::Ebay],
        products: &["TENT", "LAMP", "BOTTLE", "STOVE", "PACK", "MAT"],
    },
    DemoClient {
        code: "CORA",
        name: "Cora Home",
        tier: "enterprise",
        platforms: &Platform::ALL,
        products: &["RUG", "VASE", "THROW", "CANDLE", "CUSHION", "CLOCK"],
    },
    DemoClient {
        code: "DUNE",
        name: "Dune Apparel",
        tier: "standard",
        platforms: &[Platform::Etsy, Platform::Ebay],
        products: &["TEE", "HOODIE", "CAP", "SOCK", "SCARF", "BEANIE"],
    },
    DemoClient {
        code: "ELM",
        name: "Elm Toys",
        tier: "premium",
        platforms: &[Platform::Shopify, Platform::Amazon, Platform::Walmart],
        products: &["BLOCKS", "PUZZLE", "KITE", "YOYO", "TOP", "BALL"],
    },
    DemoClient {
        code: "FERN",
        name: "Fern Plants",
        tier: "standard",
        platforms: &[Platform::Shopify, Platform::Etsy],
        products: &["POT", "PLANTER", "SEEDS", "TROWEL", "MISTER", "STAND"],
    },
    DemoClient {
        code: "GALE",
        name: "Gale Sports",
        tier: "enterprise",
        platforms: &[Platform::Amazon, Platform::Walmart, Platform::Ebay],
        products: &["GLOVE", "BAT", "NET", "CONE", "BAND", "SHIN"],
    },
    DemoClient {
        code: "HALO",
        name: "Halo Beauty",
        tier: "premium",
        platforms: &[Platform::Shopify, Platform::Etsy, Platform::Ebay],
        products: &["SOAP", "BALM", "OIL", "MASK", "SERUM", "MIST"],
    },
];

/// Each product comes in these variants: 6 products × 4 = 24 SKUs a client.
const VARIANTS: [&str; 4] = ["RED", "BLUE", "GREEN", "WHITE"];

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

/// One demo client's settings.
#[derive(Debug, Clone, Copy)]
struct DemoClient {
    code: &'static str,
    name: &'static str,
    tier: &'static str,
    platforms: &'static [Platform],
    products: &'static [&'static str],
}

/// Shopper orders a second on one client's mock of `platform`: a busy Shopify store, smaller
/// marketplaces, and Amazon slow enough that its `getOrderItems` budget (0.5/s) keeps up.
fn shopper_rate(platform: Platform) -> f64 {
    match platform {
        Platform::Shopify => 1.0,
        Platform::Etsy | Platform::Walmart | Platform::Ebay => 0.5,
        Platform::Amazon => 0.25,
    }
}

/// How often a channel polls its order feed. Shopify's orders come by webhook (the poll only
/// reconciles). Amazon's `getOrders` allows a burst of 20, then one call a minute (reference
/// §3.3): at 5 s the burst lasts about two minutes, so a short demo never waits a minute for its
/// last Amazon orders, and a long one shows what Amazon's limit does to order latency.
fn poll_interval_ms(platform: Platform) -> u64 {
    match platform {
        Platform::Shopify | Platform::Etsy => 2_000,
        Platform::Amazon => 5_000,
        Platform::Walmart | Platform::Ebay => 1_000,
    }
}

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

/// Makes `dir` if it does not exist and refuses one that holds anything: the demo provisions a
/// service from scratch, and its mocks, listings and ports are new on every run.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the data directory {}", dir.display()))?;
    anyhow::ensure!(
        entries.next().is_none(),
        "the data directory {} is not empty: the demo starts from scratch, give it a new or empty one",
        dir.display()
    );
    Ok(())
}

/// One client's mock marketplaces.
#[derive(Debug)]
struct ClientMocks {
    client: DemoClient,
    mocks: Vec<MockServer>,
}

/// Starts every client's mocks, each on its own loopback port with the platform's documented
/// limits (plan `default`), so the throttles shown are the real ones.
fn start_client_mocks(clients: &[DemoClient], seed: u64) -> Result<Vec<ClientMocks>, DemoError> {
    let mut started = Vec::new();
    for (index, client) in clients.iter().enumerate() {
        let mut mocks = Vec::new();
        for platform in client.platforms {
            let options = MockOptions {
                seed: mix(seed, index, *platform),
                workers: 1,
                ..MockOptions::default()
            };
            let mock = MockServer::start(*platform, options).map_err(|source| DemoError::Mock {
                client: client.code.to_string(),
                platform: *platform,
                source,
            })?;
            mocks.push(mock);
        }
        started.push(ClientMocks {
            client: *client,
            mocks,
        });
    }
    Ok(started)
}

/// A seed for one client's one platform.
fn mix(seed: u64, client: usize, platform: Platform) -> u64 {
    let platform_index = Platform::ALL
        .iter()
        .position(|known| *known == platform)
        .unwrap_or(0);
    seed ^ (client as u64 + 1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((platform_index as u64).wrapping_mul(0x2545_f491))
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

/// Where the demo's text goes: stdout, redrawn in place on a terminal. A closed stdout (a reader
/// that took the first lines and left) must not end the demo, so write errors are ignored.
struct Out {
    stdout: std::io::Stdout,
    terminal: bool,
}

impl Out {
    fn new() -> Out {
        let stdout = std::io::stdout();
        let terminal = stdout.is_terminal();
        Out { stdout, terminal }
    }

    fn line(&mut self, text: &str) {
        let mut lock = self.stdout.lock();
        let _ = writeln!(lock, "{text}");
        let _ = lock.flush();
    }

    /// Replaces the screen with `text` (a terminal only).
    fn redraw(&mut self, text: &str) {
        let mut lock = self.stdout.lock();
        // Cursor home, clear to the end of the screen, then the frame: no flicker of a full clear.
        let _ = write!(lock, "\x1b[H\x1b[J{text}");
        let _ = lock.flush();
    }
}

/// Calls the service's API and the mocks' control surfaces.
struct Http {
    client: reqwest::Client,
    api_url: String,
    token: String,
}

impl Http {
    fn new(api_url: &str, token: &str) -> Result<Http, DemoError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|source| DemoError::Http {
                what: "the HTTP client".into(),
                source,
            })?;
        Ok(Http {
            client,
            api_url: api_url.to_string(),
            token: token.to_string(),
        })
    }

    /// One call to `url`; the JSON reply of a 2xx, else [`DemoError::Status`].
    async fn send(
        &self,
        method: Method,
        url: &str,
        bearer: bool,
        body: Option<&Value>,
    ) -> Result<Value, DemoError> {
        let what = format!("{method} {url}");
        let mut request = self.client.request(method, url);
        if bearer {
            request = request.bearer_auth(&self.token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = request.send().await.map_err(|source| DemoError::Http {
            what: what.clone(),
            source,
        })?;
        let status = reply.status();
        let text = reply.text().await.map_err(|source| DemoError::Http {
            what: what.clone(),
            source,
        })?;
        if !status.is_success() {
            return Err(DemoError::Status {
                what,
                status: status.as_u16(),
                body: text,
            });
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|_| DemoError::Reply { what, reply: text })
    }

    /// A call to the service's API with the admin token.
    async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, DemoError> {
        let url = format!("{}{path}", self.api_url);
        self.send(method, &url, true, body).await
    }

    /// A call to a mock's control surface (no auth there).
    async fn control(
        &self,
        mock: &MockServer,
        method: Method,
        route: &str,
        body: Option<&Value>,
    ) -> Result<Value, DemoError> {
        let url = format!("{}/_mock/{route}", mock.base_url());
        self.send(method, &url, false, body).await
    }

    /// The Prometheus text of the service's `/metrics`.
    async fn metrics(&self) -> Result<String, DemoError> {
        let url = format!("{}/metrics", self.api_url);
        let reply = self
            .client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|source| DemoError::Http {
                what: format!("GET {url}"),
                source,
            })?;
        reply.text().await.map_err(|source| DemoError::Http {
            what: format!("GET {url}"),
            source,
        })
    }
}

/// A field of a reply, or [`DemoError::Reply`].
fn field<'a>(reply: &'a Value, name: &str, what: &str) -> Result<&'a Value, DemoError> {
    reply
        .get(name)
        .filter(|value| !value.is_null())
        .ok_or_else(|| DemoError::Reply {
            what: format!("{what} (no {name:?})"),
            reply: reply.to_string(),
        })
}

/// One SKU of a client's catalog.
#[derive(Debug, Clone)]
struct CatalogSku {
    sku: String,
    on_hand: i64,
}

/// A client's catalog: every product in every variant, a fifth of them running low.
fn catalog(client: &DemoClient, rng: &mut StdRng) -> Vec<CatalogSku> {
    let mut skus = Vec::new();
    for product in client.products {
        for variant in VARIANTS {
            let on_hand = if rng.gen_ratio(1, 5) {
                rng.gen_range(1..=3)
            } else {
                rng.gen_range(6..=40)
            };
            skus.push(CatalogSku {
                sku: format!("{}-{product}-{variant}", client.code),
                on_hand,
            });
        }
    }
    skus
}

/// What the demo keeps of a provisioned client.
#[derive(Debug, Default)]
struct ClientBook {
    receipts: u64,
    received_units: i64,
    /// The next order event of the journal to read.
    orders_after_seq: u64,
    /// Per channel: what the ledger holds of its orders.
    ledger: HashMap<String, LedgerTally>,
}

/// One channel's order events in the ledger, summed.
#[derive(Debug, Default, Clone, Copy)]
struct LedgerTally {
    sales: u64,
    cancels: u64,
    net_units: i64,
    oversold_units: i64,
}

/// Provisions one client through the API, as an agency would: the client, its credentials, a
/// channel per marketplace (Shopify's webhooks subscribed), its listings on each marketplace and
/// its catalog mapping each SKU to them.
async fn provision(
    http: &Http,
    entry: &ClientMocks,
    rng: &mut StdRng,
) -> Result<ClientBook, DemoError> {
    let client = &entry.client;
    let code = client.code;
    http.api(
        Method::POST,
        "/v1/clients",
        Some(&json!({"code": code, "name": client.name, "tier": client.tier})),
    )
    .await?;
    let skus = catalog(client, rng);
    let mut items: Vec<Value> = skus
        .iter()
        .map(|sku| json!({"sku": sku.sku, "on_hand": sku.on_hand, "listings": {}}))
        .collect();
    for mock in &entry.mocks {
        let platform = mock.platform();
        let channel = platform.as_str();
        http.api(
            Method::PUT,
            &format!("/v1/clients/{code}/credentials/{channel}"),
            Some(&json!({ "secret": MOCK_TOKEN })),
        )
        .await?;
        let info = http.control(mock, Method::GET, "info", None).await?;
        let account = field(&info, "account", "the mock's info")?.clone();
        let mut body = json!({
            "id": channel,
            "platform": channel,
            "base_url": mock.base_url(),
            "credential": channel,
            "account": account,
            "poll_interval_ms": poll_interval_ms(platform),
        });
        let mut webhook_secret = None;
        match platform {
            Platform::Shopify => {
                let secret = format!("whsec_demo_{:032x}", rng.gen::<u128>());
                body["webhook_secret"] = json!(secret);
                webhook_secret = Some(secret);
            }
            Platform::Etsy => {
                // Etsy's x-api-key is `keystring:shared secret`; the shared secret is a credential
                // of its own, named in the account (no secret in a channel's settings).
                http.api(
                    Method::PUT,
                    &format!("/v1/clients/{code}/credentials/etsy-shared"),
                    Some(&json!({ "secret": format!("etsy-shared-{:024x}", rng.gen::<u128>()) })),
                )
                .await?;
                body["account"] = json!({
                    "shop_id": field(&account, "shop_id", "Etsy's account")?,
                    "user_id": field(&account, "user_id", "Etsy's account")?,
                    "keystring": field(&account, "keystring", "Etsy's account")?,
                    "shared_secret_credential": "etsy-shared",
                });
            }
            Platform::Amazon | Platform::Walmart | Platform::Ebay => {}
        }
        http.api(
            Method::POST,
            &format!("/v1/clients/{code}/channels"),
            Some(&body),
        )
        .await?;
        if let Some(secret) = webhook_secret {
            let url = format!("{}/webhooks/{code}/{channel}", http.api_url);
            http.control(
                mock,
                Method::POST,
                "webhooks",
                Some(&json!({"url": url, "secret": secret})),
            )
            .await?;
        }
        // The marketplace lists every SKU at 0 until the service sets it (a new connection).
        let rows: Vec<Value> = skus
            .iter()
            .map(|sku| json!({"sku": sku.sku, "quantity": 0}))
            .collect();
        let created = http
            .control(mock, Method::POST, "listings", Some(&Value::Array(rows)))
            .await?;
        let created = created.as_array().ok_or_else(|| DemoError::Reply {
            what: format!("{platform} listings of {code}"),
            reply: created.to_string(),
        })?;
        for (item, listing) in items.iter_mut().zip(created) {
            item["listings"][channel] = field(listing, "listing_ref", "a created listing")?.clone();
        }
    }
    let imported = http
        .api(
            Method::PUT,
            &format!("/v1/clients/{code}/catalog"),
            Some(&json!({ "items": items })),
        )
        .await?;
    if imported["imported"].as_u64() != Some(skus.len() as u64) {
        return Err(DemoError::Reply {
            what: format!("the catalog import of {code}"),
            reply: imported.to_string(),
        });
    }
    Ok(ClientBook::default())
}

/// Starts (`Some(seed)`) or stops (`None`) the shoppers of every mock.
async fn set_shoppers(http: &Http, setup: &Setup, seed: Option<u64>) -> Result<(), DemoError> {
    for (index, entry) in setup.mocks.iter().enumerate() {
        for mock in &entry.mocks {
            let platform = mock.platform();
            let body = match seed {
                Some(seed) => json!({
                    "orders_per_sec": shopper_rate(platform),
                    "max_units": 2,
                    "seed": mix(seed, index, platform),
                    "cancel_rate": 0.04,
                }),
                None => json!({ "orders_per_sec": 0 }),
            };
            http.control(mock, Method::POST, "shoppers", Some(&body))
                .await?;
        }
    }
    Ok(())
}

/// Reads the order events the ledger took since the last call into the client's tally.
async fn read_orders(http: &Http, code: &str, book: &mut ClientBook) -> Result<(), DemoError> {
    for _ in 0..ORDER_PAGES_PER_TICK {
        let path = format!(
            "/v1/clients/{code}/orders?after_seq={}&limit={ORDERS_PAGE}",
            book.orders_after_seq
        );
        let reply = http.api(Method::GET, &path, None).await?;
        let lines = field(&reply, "orders", "orders")?
            .as_array()
            .cloned()
            .unwrap_or_default();
        for line in &lines {
            let channel = line["channel"].as_str().unwrap_or_default().to_string();
            let quantity = line["quantity"].as_i64().unwrap_or(0);
            let tally = book.ledger.entry(channel).or_default();
            match line["kind"].as_str() {
                Some("sale") => {
                    tally.sales += 1;
                    tally.net_units += quantity;
                    tally.oversold_units += line["oversold_units"].as_i64().unwrap_or(0);
                }
                Some("cancel") | Some("refund_restock") => {
                    tally.cancels += 1;
                    tally.net_units -= quantity;
                }
                _ => {}
            }
        }
        let next = reply["next_after_seq"]
            .as_u64()
            .unwrap_or(book.orders_after_seq);
        let moved = next > book.orders_after_seq;
        book.orders_after_seq = next;
        // A page that moved the cursor may have stopped at the API's scan bound: read on.
        if !moved {
            break;
        }
    }
    Ok(())
}

/// Sums a `{operation: count}` map of the mock's stats.
fn sum_counts(value: &Value) -> u64 {
    value
        .as_object()
        .map_or(0, |map| map.values().filter_map(Value::as_u64).sum())
}

/// Sums a `{sku: units}` map of the mock's stats.
fn sum_units(value: &Value) -> i64 {
    value
        .as_object()
        .map_or(0, |map| map.values().filter_map(Value::as_i64).sum())
}

/// The figures of every client now: the API's channels and the ledger's orders (the service's
/// view), each mock's stats (the ground truth).
async fn snapshot(
    http: &Http,
    setup: &Setup,
    books: &mut [ClientBook],
) -> Result<Vec<ClientFigures>, DemoError> {
    let mut clients = Vec::with_capacity(books.len());
    for (entry, book) in setup.mocks.iter().zip(books.iter_mut()) {
        let code = entry.client.code;
        read_orders(http, code, book).await?;
        let channels = http
            .api(Method::GET, &format!("/v1/clients/{code}/channels"), None)
            .await?;
        let channels = channels.as_array().cloned().unwrap_or_default();
        let mut figures = ClientFigures {
            code: code.to_string(),
            receipts: book.receipts,
            received_units: book.received_units,
            ..ClientFigures::default()
        };
        for mock in &entry.mocks {
            let id = mock.platform().as_str();
            let live = channels
                .iter()
                .find(|channel| channel["id"] == id)
                .cloned()
                .unwrap_or(Value::Null);
            let stats = http.control(mock, Method::GET, "stats", None).await?;
            let tally = book.ledger.get(id).copied().unwrap_or_default();
            figures.channels.push(ChannelFigures {
                channel: id.to_string(),
                state: live["state"].as_str().unwrap_or("unknown").to_string(),
                orders: stats["orders"].as_u64().unwrap_or(0),
                cancelled: stats["orders_cancelled"].as_u64().unwrap_or(0),
                units_sold: sum_units(&stats["units_sold"]) - sum_units(&stats["units_cancelled"]),
                ledger_orders: tally.sales,
                ledger_cancelled: tally.cancels,
                ledger_units: tally.net_units,
                oversold_units: tally.oversold_units,
                exposure_units: live["exposure_units"].as_u64().unwrap_or(0),
                pending: live["pending"].as_u64().unwrap_or(0),
                oldest_pending_seconds: live["oldest_pending_seconds"].as_f64().unwrap_or(0.0),
                requests: sum_counts(&stats["requests"]),
                throttled: sum_counts(&stats["throttled"]),
                listings: stats["listings"].as_u64().unwrap_or(0) as usize,
                listings_in_step: 0,
                last_error: live["last_error"].as_str().map(str::to_string),
                waiting: waiting_text(&live["waiting"]),
                out_of_step: Vec::new(),
            });
        }
        clients.push(figures);
    }
    Ok(clients)
}

/// Counts, per channel, the listings that show the ledger's target with nothing pending; the
/// listings are read from the mocks (what shoppers see), the targets from the API.
async fn count_in_step(
    http: &Http,
    setup: &Setup,
    clients: &mut [ClientFigures],
) -> Result<(), DemoError> {
    for (entry, figures) in setup.mocks.iter().zip(clients.iter_mut()) {
        let code = entry.client.code;
        let stock = http
            .api(Method::GET, &format!("/v1/clients/{code}/stock"), None)
            .await?;
        let stock = stock.as_array().cloned().unwrap_or_default();
        for (mock, channel) in entry.mocks.iter().zip(figures.channels.iter_mut()) {
            let listed = http.control(mock, Method::GET, "listings", None).await?;
            let listed: HashMap<&str, i64> = listed
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .filter_map(|row| Some((row["sku"].as_str()?, row["quantity"].as_i64()?)))
                        .collect()
                })
                .unwrap_or_default();
            channel.listings_in_step = 0;
            channel.out_of_step.clear();
            for level in &stock {
                let view = &level["channels"][channel.channel.as_str()];
                let sku = level["sku"].as_str().unwrap_or_default();
                let shows = listed.get(sku).copied();
                if view["pending"] == json!(false)
                    && view["target"].as_i64().is_some()
                    && shows == view["target"].as_i64()
                {
                    channel.listings_in_step += 1;
                } else if channel.out_of_step.len() < 3 {
                    channel.out_of_step.push(format!(
                        "{sku} shows {} against target {} (engine: listed {}, pending {})",
                        shows.map_or("nothing".to_string(), |q| q.to_string()),
                        view["target"],
                        view["listed"],
                        view["pending"]
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Whether every listing of every client is in step (after [`count_in_step`]).
fn all_in_step(clients: &[ClientFigures]) -> bool {
    clients
        .iter()
        .flat_map(|client| &client.channels)
        .all(|channel| channel.listings_in_step == channel.listings)
}

/// The warehouse: receives stock, through the API, for SKUs that ran out (about half of them each
/// round, so that some stay out for a while as in a real warehouse).
async fn restock(
    http: &Http,
    setup: &Setup,
    books: &mut [ClientBook],
    round: u64,
    rng: &mut StdRng,
) -> Result<(), DemoError> {
    for (entry, book) in setup.mocks.iter().zip(books.iter_mut()) {
        let code = entry.client.code;
        let stock = http
            .api(Method::GET, &format!("/v1/clients/{code}/stock"), None)
            .await?;
        for level in stock.as_array().cloned().unwrap_or_default() {
            let (Some(sku), Some(available)) = (level["sku"].as_str(), level["available"].as_i64())
            else {
                continue;
            };
            if available > 0 || !rng.gen_bool(0.5) {
                continue;
            }
            let quantity = rng.gen_range(12..=30) - available.min(0);
            http.api(
                Method::POST,
                &format!("/v1/clients/{code}/stock/{sku}/movements"),
                Some(&json!({
                    "kind": "receipt",
                    "quantity": quantity,
                    "reason": "demo warehouse: restock",
                    "idempotency_key": format!("demo-restock-{round}-{sku}"),
                })),
            )
            .await?;
            book.receipts += 1;
            book.received_units += quantity;
        }
    }
    Ok(())
}

/// The number of `shelfsync_` samples in a Prometheus text.
fn count_samples(text: &str) -> usize {
    text.lines()
        .filter(|line| line.starts_with("shelfsync_"))
        .count()
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
            provision(&http, entry, &mut rng)
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
            entry.client.tier,
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
            if let Ok(text) = http.metrics().await {
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

/// How often the settle phase says what it still waits for, in seconds.
const SETTLE_REPORT_EVERY_SECS: u64 = 5;

/// What the settle phase still waits for: a header, then for each channel out of step a line of
/// counts and the engine's reason, and a line per listing out of step (each a few dozen
/// characters).
fn settle_lines(seconds: u64, clients: &[ClientFigures]) -> Vec<String> {
    let mut channel_lines = Vec::new();
    for client in clients {
        for channel in &client.channels {
            let missing = channel.orders.saturating_sub(channel.ledger_orders)
                + channel.cancelled.saturating_sub(channel.ledger_cancelled);
            let behind = channel.listings - channel.listings_in_step;
            if missing == 0 && behind == 0 && channel.ledger_complete() {
                continue;
            }
            channel_lines.push(format!(
                "  {}/{}: {missing} order events to read, {behind} listings to set{}",
                client.code,
                channel.channel,
                channel
                    .waiting
                    .as_deref()
                    .map_or(String::new(), |waiting| format!("; waiting: {waiting}")),
            ));
            channel_lines.extend(
                channel
                    .out_of_step
                    .iter()
                    .map(|listing| format!("    {listing}")),
            );
        }
    }
    let mut lines = vec![format!(
        "settling {seconds:>3} s: {} channels not in step yet",
        clients
            .iter()
            .flat_map(|client| &client.channels)
            .filter(
                |channel| channel.listings_in_step < channel.listings || !channel.ledger_complete()
            )
            .count()
    )];
    lines.extend(channel_lines);
    lines
}

/// The engine's reason a channel waits, for a person: `budget, 12 s more`.
fn waiting_text(waiting: &Value) -> Option<String> {
    let reason = waiting["reason"].as_str()?;
    let until = waiting["until"]
        .as_str()
        .and_then(|until| chrono::DateTime::parse_from_rfc3339(until).ok())
        .map(|until| (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds());
    Some(match until {
        Some(ms) if ms > 0 => format!("{reason}, {:.1} s more", ms as f64 / 1000.0),
        _ => reason.to_string(),
    })
}

/// One refresh of the live view.
struct View<'a> {
    setup: &'a Setup,
    elapsed: Duration,
    clients: &'a [ClientFigures],
    metrics_samples: usize,
}

impl View<'_> {
    /// The full-screen frame of a terminal.
    fn frame(&self) -> String {
        let mut text = String::new();
        let until = match self.setup.duration {
            Some(duration) => format!("{} of {} s", self.elapsed.as_secs(), duration.as_secs()),
            None => format!("{} s, until Ctrl-C", self.elapsed.as_secs()),
        };
        text.push_str(&format!(
            "shelfsync demo · shoppers buying · {until}\n\
             api: {0}   metrics: {0}/metrics ({1} shelfsync_ samples)   admin token: {2}\n\n",
            self.setup.api_url, self.metrics_samples, self.setup.token
        ));
        text.push_str(&format!(
            "{:<6} {:<8} {:<8} {:>7} {:>7} {:>6} {:>8} {:>8} {:>7} {:>7} {:>8} {:>9}\n",
            "client",
            "channel",
            "state",
            "orders",
            "ledger",
            "cancel",
            "oversold",
            "exposure",
            "pending",
            "oldest",
            "requests",
            "throttled"
        ));
        let mut errors = Vec::new();
        for client in self.clients {
            for (index, channel) in client.channels.iter().enumerate() {
                text.push_str(&format!(
                    "{:<6} {:<8} {:<8} {:>7} {:>7} {:>6} {:>8} {:>8} {:>7} {:>6.1}s {:>8} {:>9}\n",
                    if index == 0 { client.code.as_str() } else { "" },
                    channel.channel,
                    channel.state,
                    channel.orders,
                    channel.ledger_orders,
                    channel.cancelled,
                    channel.oversold_units,
                    channel.exposure_units,
                    channel.pending,
                    channel.oldest_pending_seconds,
                    channel.requests,
                    channel.throttled
                ));
                if let Some(error) = &channel.last_error {
                    errors.push(format!("{}/{}: {error}", client.code, channel.channel));
                }
            }
            let total = Totals::of(std::slice::from_ref(client));
            text.push_str(&format!(
                "{:<6} {:<8} {:<8} {:>7} {:>7} {:>6} {:>8} {:>8} {:>7} {:>6.1}s {:>8} {:>9}\n\n",
                "",
                "all",
                "",
                total.orders,
                total.ledger_orders,
                total.cancelled,
                total.oversold_units,
                total.exposure_units,
                total.pending,
                total.oldest_pending_seconds,
                total.requests,
                total.throttled
            ));
        }
        text.push_str(
            "orders: placed on the marketplace (ground truth); ledger: sales the service recorded; \
             oversold: units sold after the last one had gone;\nexposure: units listed above the \
             ledger now; oldest: age of the oldest change not yet on the marketplace\n",
        );
        for error in errors.iter().take(5) {
            let shown: String = error.chars().take(150).collect();
            text.push_str(&format!("last error {shown}\n"));
        }
        text
    }

    /// The one line a second of a non-terminal.
    fn line(&self) -> String {
        let total = Totals::of(self.clients);
        let per_client: Vec<String> = self
            .clients
            .iter()
            .map(|client| {
                let total = Totals::of(std::slice::from_ref(client));
                format!("{} {}/{}", client.code, total.ledger_orders, total.orders)
            })
            .collect();
        format!(
            "[{:>4} s] orders {} placed, {} in the ledgers ({}) · oversold {} · exposure {} · \
             pending {} · oldest {:.1} s · requests {} · throttled {} · metrics {} samples",
            self.elapsed.as_secs(),
            total.orders,
            total.ledger_orders,
            per_client.join(", "),
            units(total.oversold_units),
            units(total.exposure_units as i64),
            total.pending,
            total.oldest_pending_seconds,
            total.requests,
            total.throttled,
            self.metrics_samples
        )
    }
}

/// Sums over channels.
#[derive(Debug, Default)]
struct Totals {
    orders: u64,
    ledger_orders: u64,
    cancelled: u64,
    oversold_units: i64,
    exposure_units: u64,
    pending: u64,
    oldest_pending_seconds: f64,
    requests: u64,
    throttled: u64,
}

impl Totals {
    fn of(clients: &[ClientFigures]) -> Totals {
        let mut total = Totals::default();
        for channel in clients.iter().flat_map(|client| &client.channels) {
            total.orders += channel.orders;
            total.ledger_orders += channel.ledger_orders;
            total.cancelled += channel.cancelled;
            total.oversold_units += channel.oversold_units;
            total.exposure_units += channel.exposure_units;
            total.pending += channel.pending;
            total.oldest_pending_seconds = total
                .oldest_pending_seconds
                .max(channel.oldest_pending_seconds);
            total.requests += channel.requests;
            total.throttled += channel.throttled;
        }
        total
    }
}

/// The closing summary.
fn summary_lines(summary: &DemoSummary) -> Vec<String> {
    let mut lines = vec![
        String::new(),
        format!(
            "summary: {:.0} s of shoppers, settled {} {:.1} s after they stopped",
            summary.shopping_seconds,
            if summary.in_step && summary.ledgers_complete {
                "in"
            } else {
                "NOT within"
            },
            summary.settle_seconds
        ),
        format!(
            "  {:<6} {:<8} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8} {:>8} {:>9} {:>9}",
            "client",
            "channel",
            "orders",
            "ledger",
            "cancel",
            "units",
            "ledger",
            "oversold",
            "requests",
            "throttled",
            "in step"
        ),
    ];
    for client in &summary.clients {
        for channel in &client.channels {
            lines.push(format!(
                "  {:<6} {:<8} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8} {:>8} {:>9} {:>9}",
                client.code,
                channel.channel,
                channel.orders,
                channel.ledger_orders,
                channel.cancelled,
                channel.units_sold,
                channel.ledger_units,
                channel.oversold_units,
                channel.requests,
                channel.throttled,
                format!("{}/{}", channel.listings_in_step, channel.listings)
            ));
        }
        lines.push(format!(
            "  {:<6} warehouse: {} receipts, {} units received through the API",
            client.code, client.receipts, client.received_units
        ));
    }
    let mut throttled: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, channel) in summary.channels() {
        *throttled.entry(channel.channel.as_str()).or_default() += channel.throttled;
    }
    lines.push(format!(
        "orders: {} placed on the marketplaces, {} sales in the ledgers; every order and \
         cancellation recorded exactly once: {}",
        summary.orders(),
        summary.ledger_orders(),
        yes_no(summary.ledgers_complete)
    ));
    lines.push(format!(
        "oversold: {} (sold on a marketplace after the last unit had sold elsewhere, before the \
         listing dropped)",
        units(summary.oversold_units())
    ));
    lines.push(format!(
        "throttled replies: {}",
        throttled
            .iter()
            .map(|(platform, count)| format!("{platform} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let (in_step, listings) =
        summary
            .channels()
            .fold((0, 0), |(in_step, listings), (_, channel)| {
                (
                    in_step + channel.listings_in_step,
                    listings + channel.listings,
                )
            });
    lines.push(format!(
        "listings in step with the ledger at the end: {in_step} of {listings}: {}",
        yes_no(summary.in_step)
    ));
    lines.push(format!(
        "/metrics showed up to {} shelfsync_ samples while the demo ran",
        summary.metrics_samples
    ));
    lines
}

/// `1 unit`, `3 units`.
fn units(count: i64) -> String {
    if count == 1 {
        "1 unit".to_string()
    } else {
        format!("{count} units")
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "NO"
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(c.platforms.len(), 5, "one client sells everywhere");
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
