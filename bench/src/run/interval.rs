//! The interval-sync baseline: what agencies' tools do today. Every N (compressed) minutes it
//! learns every order since the last sweep, works out each SKU's stock, and pushes every listing's
//! full quantity to every marketplace, through the same connectors (wire formats and rate limits)
//! as the service. It overwrites blindly (no compare-and-set), and when a marketplace throttles it
//! waits as told and tries again.
//!
//! It learns the orders from the mocks' own order logs in-process, which costs it no API budget
//! and no delay: that favours the baseline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shelfsync::platforms::connector::{connector, ConnectorConfig, ListingMap};
use shelfsync::platforms::mock::MockState;
use shelfsync::platforms::Platform;
use shelfsync::vault::Secret;
use shelfsync_actors::channel::marketplace::{Marketplace, MarketplaceError, PushItem};
use shelfsync_actors::ids::Sku;

use super::fleet::{ClientPlan, Fleet};
use super::provision::{ETSY_SHARED_SECRET, MOCK_TOKEN};
use super::RunError;

/// Tries of one push call that the marketplace throttled or failed.
const MAX_TRIES: u32 = 3;
/// The longest wait after a throttled reply.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);

/// What the baseline tool did.
#[derive(Debug, Default)]
pub struct ToolCounters {
    /// Sweeps started (one per channel per interval).
    pub sweeps: AtomicU64,
    /// Push calls sent.
    pub calls: AtomicU64,
    /// Push calls that failed after every try.
    pub failed_calls: AtomicU64,
}

/// One channel the tool syncs.
#[derive(Debug)]
struct ToolChannel {
    market: Arc<dyn Marketplace>,
    platform: Platform,
    skus: Vec<(Sku, usize)>,
    /// The client's mocks (to count its sales).
    client_mocks: Vec<Arc<MockState>>,
    stock: Vec<u32>,
    phase: Duration,
}

/// Starts the tool on every channel of `fleet`: sweeps every `interval`, each client at its own
/// seeded phase, until `stop` is set or `deadline` passes.
pub fn start(
    fleet: &Fleet,
    clients: &[ClientPlan],
    interval: Duration,
    seed: u64,
    stop: Arc<AtomicBool>,
    deadline: Instant,
) -> Result<(Vec<tokio::task::JoinHandle<()>>, Arc<ToolCounters>), RunError> {
    let counters = Arc::new(ToolCounters::default());
    let mut rng = StdRng::seed_from_u64(seed ^ 0x1b5e_11e5);
    let phases: Vec<Duration> = clients
        .iter()
        .map(|_| interval.mul_f64(rng.gen_range(0.0..1.0)))
        .collect();
    let mut handles = Vec::new();
    for channel in &fleet.channels {
        let client = &clients[channel.client];
        let listings = ListingMap::default();
        let mut skus = Vec::new();
        for (position, (sku, listing_ref)) in channel.listing_refs.iter().enumerate() {
            let sku = Sku::parse(sku).map_err(|error| RunError::Mock(error.to_string()))?;
            listings.insert(sku.clone(), listing_ref.clone());
            skus.push((sku, position));
        }
        let mut account = channel.account();
        if channel.platform == Platform::Etsy {
            account["shared_secret"] = Value::from(ETSY_SHARED_SECRET);
        }
        let config = ConnectorConfig::new(
            &channel.server.base_url(),
            Secret::new(MOCK_TOKEN),
            account,
            listings,
        )
        .map_err(|error| RunError::Mock(error.to_string()))?;
        let market = connector(channel.platform, config)
            .map_err(|error| RunError::Mock(error.to_string()))?;
        let tool = ToolChannel {
            market,
            platform: channel.platform,
            skus,
            client_mocks: fleet
                .channels
                .iter()
                .filter(|other| other.client == channel.client)
                .map(|other| Arc::clone(other.state()))
                .collect(),
            stock: client.stock.clone(),
            phase: phases[channel.client],
        };
        handles.push(tokio::spawn(sweep_loop(
            tool,
            interval,
            Arc::clone(&stop),
            deadline,
            Arc::clone(&counters),
        )));
    }
    Ok((handles, counters))
}

async fn sweep_loop(
    tool: ToolChannel,
    interval: Duration,
    stop: Arc<AtomicBool>,
    deadline: Instant,
    counters: Arc<ToolCounters>,
) {
    let started = tokio::time::Instant::now();
    let mut next = started + tool.phase;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        tokio::time::sleep_until(next).await;
        if stop.load(Ordering::Relaxed) {
            return;
        }
        counters.sweeps.fetch_add(1, Ordering::Relaxed);
        sweep(&tool, &stop, deadline, &counters).await;
        next += interval;
        // A sweep longer than the interval starts the next one at once (as such tools do).
        next = next.max(tokio::time::Instant::now());
    }
}

/// One full push: every listing of the channel gets the client's stock left.
async fn sweep(tool: &ToolChannel, stop: &AtomicBool, deadline: Instant, counters: &ToolCounters) {
    let mut sold: HashMap<String, i64> = HashMap::new();
    for mock in &tool.client_mocks {
        let world = mock.state_world_sold();
        for (sku, units) in world {
            *sold.entry(sku).or_default() += units;
        }
    }
    let items: Vec<PushItem> = tool
        .skus
        .iter()
        .map(|(sku, position)| {
            let left =
                i64::from(tool.stock[*position]) - sold.get(sku.as_str()).copied().unwrap_or(0);
            PushItem {
                sku: sku.clone(),
                quantity: u32::try_from(left.max(0)).unwrap_or(0),
                previous: None,
                ledger_seq: 0,
            }
        })
        .collect();
    for batch in items.chunks(tool.platform.batch_size().max(1)) {
        let mut tries = 0;
        loop {
            if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
                return;
            }
            tries += 1;
            counters.calls.fetch_add(1, Ordering::Relaxed);
            let wait = match tool.market.push_quantities(batch.to_vec()).await {
                Ok(_) => break,
                Err(MarketplaceError::Throttled { retry_after }) => {
                    retry_after.unwrap_or(Duration::from_secs(1))
                }
                Err(_) => Duration::from_millis(500),
            };
            if tries >= MAX_TRIES {
                counters.failed_calls.fetch_add(1, Ordering::Relaxed);
                break;
            }
            tokio::time::sleep(wait.min(MAX_RETRY_WAIT)).await;
        }
    }
}

/// Net units sold per SKU on one mock (sold less cancelled), from its ground truth.
trait SoldUnits {
    fn state_world_sold(&self) -> Vec<(String, i64)>;
}

impl SoldUnits for Arc<MockState> {
    fn state_world_sold(&self) -> Vec<(String, i64)> {
        let world = self.world();
        world
            .stats
            .units_sold
            .iter()
            .map(|(sku, units)| {
                let cancelled = world.stats.units_cancelled.get(sku).copied().unwrap_or(0);
                (sku.clone(), units - cancelled)
            })
            .collect()
    }
}
