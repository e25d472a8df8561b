//! The mock marketplaces of one variant: one mock per client channel (each client has its own
//! shop, seller account or store on every platform), all started fresh with the same seeds, so
//! every variant sees the same shopper draws. Every client's Etsy shop draws on one Etsy app's
//! limiter, as Etsy's QPS and QPD are per app key, unless the scenario gives each client its own
//! app (`etsy_app = "per-client"`).

use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shelfsync::platforms::etsy::mock::inventory::InventoryRules;
use shelfsync::platforms::etsy::mock::EtsyMock;
use shelfsync::platforms::mock::world::NewListing;
use shelfsync::platforms::mock::{
    FaultSettings, MockOptions, MockServer, MockState, ShopperSettings,
};
use shelfsync::platforms::Platform;

use super::scenario::{EtsyApp, Scenario};
use super::RunError;

/// Open files one running mock holds in the bench process: its runtimes' and acceptor's polls and
/// wakers, its listener, the connections the service and the baseline tool keep to it. Measured:
/// a concurrent run stopped with "too many open files" at its 1 813th mock under a limit of
/// 20 000, about 11 a mock; one more for margin.
const OPEN_FILES_PER_MOCK: u64 = 12;

/// Refuses, before anything starts, to run `mocks` mock servers at once in a process whose
/// open-file limit (`ulimit -n`, read from /proc) cannot hold them: otherwise a mock's thread
/// panics midway and the run fails after minutes of provisioning.
pub fn check_open_files(mocks: u64) -> Result<(), RunError> {
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits
                .lines()
                .find(|line| line.starts_with("Max open files"))?
                .to_string();
            line.split_whitespace().nth(3)?.parse::<u64>().ok()
        });
    let needed = mocks * OPEN_FILES_PER_MOCK + 256;
    match limit {
        Some(limit) if limit < needed => Err(RunError::Mock(format!(
            "{mocks} mocks at once need about {needed} open files and the limit is {limit}: \
             raise it (ulimit -n) or run fewer variants at once (--only, or fewer scenarios \
             with --concurrent)"
        ))),
        _ => Ok(()),
    }
}

/// One client of the scenario: its code, SKUs and their starting stock.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    /// Client code (`C001`).
    pub code: String,
    /// Its SKUs (`C001-S0001`).
    pub skus: Vec<String>,
    /// Starting stock, by SKU position.
    pub stock: Vec<u32>,
    /// Its platforms.
    pub platforms: Vec<Platform>,
}

/// The clients of `scenario`, with seeded stock (the same in every variant).
pub fn plan(scenario: &Scenario) -> Vec<ClientPlan> {
    let mut rng = StdRng::seed_from_u64(scenario.seed);
    (0..scenario.clients)
        .map(|index| {
            let code = format!("C{:03}", index + 1);
            let skus: Vec<String> = (0..scenario.skus)
                .map(|sku| format!("{code}-S{:04}", sku + 1))
                .collect();
            let stock = skus
                .iter()
                .map(|_| rng.gen_range(scenario.stock.min..=scenario.stock.max))
                .collect();
            ClientPlan {
                code,
                skus,
                stock,
                platforms: scenario.mix(index),
            }
        })
        .collect()
}

/// One channel's mock.
#[derive(Debug)]
pub struct MockChannel {
    /// Index of the client in the plan.
    pub client: usize,
    /// The channel id in the service (the platform's name).
    pub id: String,
    /// The platform.
    pub platform: Platform,
    /// The running mock.
    pub server: MockServer,
    /// SKU → the mock's `listing_ref`.
    pub listing_refs: Vec<(String, String)>,
    /// The shoppers' seed of this mock.
    pub shopper_seed: u64,
}

impl MockChannel {
    /// The mock's state (world, faults, shoppers).
    pub fn state(&self) -> &Arc<MockState> {
        self.server.state()
    }

    /// The account ids a connector needs (`/_mock/info`'s `account`).
    pub fn account(&self) -> Value {
        self.state().platform().account()
    }
}

/// Every mock of one variant.
#[derive(Debug)]
pub struct Fleet {
    /// The channels, client by client.
    pub channels: Vec<MockChannel>,
}

impl Fleet {
    /// Starts one mock per client channel and lists every SKU at its starting stock.
    pub fn start(scenario: &Scenario, clients: &[ClientPlan]) -> Result<Fleet, RunError> {
        let options = |seed: u64| MockOptions {
            plan: scenario.plan.clone(),
            seed,
            // One worker each: a fleet of hundreds of mocks shares two cores with the service.
            workers: 1,
            ..MockOptions::default()
        };
        // The app every Etsy shop is connected through; each mock gets its own shop.
        let etsy_app = EtsyMock::new(&options(scenario.seed), InventoryRules::default())
            .map_err(|error| RunError::Mock(error.to_string()))?;
        let mut channels = Vec::new();
        for (client_index, client) in clients.iter().enumerate() {
            for (channel_index, &platform) in client.platforms.iter().enumerate() {
                let shopper_seed = scenario
                    .seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add((client_index as u64) << 8 | channel_index as u64);
                let opts = options(shopper_seed);
                let shared_app = scenario.etsy_app == EtsyApp::Shared;
                let server = if platform == Platform::Etsy && shared_app {
                    MockServer::start_with(Arc::new(etsy_app.sharing_app_budget()), opts)
                } else {
                    MockServer::start(platform, opts)
                }
                .map_err(|error| RunError::Mock(error.to_string()))?;
                let new: Vec<NewListing> = client
                    .skus
                    .iter()
                    .zip(&client.stock)
                    .map(|(sku, &quantity)| NewListing {
                        sku: sku.clone(),
                        quantity: i64::from(quantity),
                    })
                    .collect();
                let state = Arc::clone(server.state());
                let wire = Arc::clone(state.platform());
                let created = state
                    .world()
                    .create_listings(&new, state.now(), |number, sku| {
                        wire.listing_identity(number, sku)
                    })
                    .map_err(|error| RunError::Mock(error.to_string()))?;
                let listing_refs = created
                    .into_iter()
                    .map(|listing| (listing.sku, listing.listing_ref))
                    .collect();
                channels.push(MockChannel {
                    client: client_index,
                    id: platform.as_str().to_string(),
                    platform,
                    server,
                    listing_refs,
                    shopper_seed,
                });
            }
        }
        Ok(Fleet { channels })
    }

    /// Sets every mock's shoppers to `orders_per_sec` across the fleet (split evenly), each with
    /// its own seed; `phase` (0, 1, ...) varies the seeds of each change of rate, because a mock's
    /// shoppers start their draws anew from the seed whenever their settings change.
    pub fn set_shoppers(&self, scenario: &Scenario, orders_per_sec: f64, phase: u64) {
        let per_mock = orders_per_sec / self.channels.len().max(1) as f64;
        for channel in &self.channels {
            channel.state().shoppers().send_replace(ShopperSettings {
                orders_per_sec: per_mock,
                max_units: scenario.max_units,
                seed: channel.shopper_seed.wrapping_add(phase.wrapping_mul(7_919)),
                cancel_rate: scenario.cancel_rate,
            });
        }
    }

    /// Stops every mock's shoppers.
    pub fn stop_shoppers(&self) {
        for channel in &self.channels {
            channel
                .state()
                .shoppers()
                .send_replace(ShopperSettings::stopped());
        }
    }

    /// Replaces the faults of every mock of `platform`.
    pub fn set_faults(&self, platform: Platform, settings: &FaultSettings) -> Result<(), RunError> {
        for channel in self.channels.iter().filter(|c| c.platform == platform) {
            channel
                .state()
                .faults()
                .set(settings.clone(), Instant::now())
                .map_err(|error| RunError::Mock(error.to_string()))?;
        }
        Ok(())
    }
}
