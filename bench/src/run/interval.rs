//! The interval-sync baseline: what agencies' tools do today. Every N (compressed) minutes each
//! channel reads its marketplace's order feed since the last sweep, adds what it read to its
//! client's order book (shared by the client's channels, deduplicated by order line and version),
//! works out each SKU's stock from the book, and pushes every listing's full quantity, through the
//! same connectors (wire formats, order feeds and rate limits) as the service. It overwrites
//! blindly (no compare-and-set), and when a marketplace throttles it waits as told and tries
//! again (3 tries), then goes on with what it has.
//!
//! (Until 2026-11-22 it read the orders from the mocks' own logs in-process, at no API cost and
//! with no delay: during a marketplace outage it still knew every sale there, which flattered it.)

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shelfsync::platforms::connector::{ConnectorConfig, ListingMap};
use shelfsync::platforms::registry::connector;
use shelfsync::platforms::Platform;
use shelfsync::vault::Secret;
use shelfsync_actors::channel::marketplace::{
    Marketplace, MarketplaceError, OrderEventKind, PushItem,
};
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
    /// Order-feed pages read.
    pub order_pages: AtomicU64,
    /// Order-feed reads that failed after every try (the sweep went on with what it had).
    pub failed_order_reads: AtomicU64,
}

/// What a client's tool knows of its orders: net units sold per SKU, from every channel's feed.
#[derive(Debug, Default)]
struct OrderBook {
    sold: HashMap<String, i64>,
    seen: HashSet<String>,
}

/// One channel the tool syncs.
#[derive(Debug)]
struct ToolChannel {
    market: Arc<dyn Marketplace>,
    platform: Platform,
    skus: Vec<(Sku, usize)>,
    /// The client's order book, shared by its channels.
    book: Arc<Mutex<OrderBook>>,
    /// This channel's order-feed cursor.
    cursor: Mutex<Option<String>>,
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
    let books: Vec<Arc<Mutex<OrderBook>>> = clients
        .iter()
        .map(|_| Arc::new(Mutex::new(OrderBook::default())))
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
        .map_err(|error| RunError::Mock(error.to_string()))?
        .with_egress(shelfsync::platforms::egress::EgressPolicy::LOOPBACK_MOCKS);
        let market = connector(channel.platform, config)
            .map_err(|error| RunError::Mock(error.to_string()))?;
        let tool = ToolChannel {
            market,
            platform: channel.platform,
            skus,
            book: Arc::clone(&books[channel.client]),
            cursor: Mutex::new(None),
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

/// Most order-feed pages one sweep reads.
const MAX_ORDER_PAGES: u32 = 50;

/// Reads the channel's order feed from its cursor into the client's order book.
async fn read_orders(
    tool: &ToolChannel,
    stop: &AtomicBool,
    deadline: Instant,
    counters: &ToolCounters,
) {
    let mut tries = 0;
    let mut pages = 0;
    while pages < MAX_ORDER_PAGES && !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let cursor = tool
            .cursor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let wait = match tool.market.fetch_orders(cursor).await {
            Ok(page) => {
                pages += 1;
                tries = 0;
                counters.order_pages.fetch_add(1, Ordering::Relaxed);
                let mut book = tool.book.lock().unwrap_or_else(|p| p.into_inner());
                for event in &page.events {
                    let key = format!(
                        "{:?}/{}/{}/{}/{:?}",
                        tool.platform,
                        event.external_order_id,
                        event.line,
                        event.version,
                        event.kind
                    );
                    if !book.seen.insert(key) {
                        continue;
                    }
                    let units = i64::from(event.quantity);
                    let change = match event.kind {
                        OrderEventKind::Sale => units,
                        OrderEventKind::Cancel | OrderEventKind::RefundRestock => -units,
                    };
                    *book.sold.entry(event.sku.as_str().to_string()).or_default() += change;
                }
                drop(book);
                *tool.cursor.lock().unwrap_or_else(|p| p.into_inner()) = Some(page.next_cursor);
                if !page.more {
                    return;
                }
                continue;
            }
            Err(MarketplaceError::Throttled { retry_after }) => {
                retry_after.unwrap_or(Duration::from_secs(1))
            }
            Err(_) => Duration::from_millis(500),
        };
        tries += 1;
        if tries >= MAX_TRIES {
            counters.failed_order_reads.fetch_add(1, Ordering::Relaxed);
            return;
        }
        tokio::time::sleep(wait.min(MAX_RETRY_WAIT)).await;
    }
}

/// One sweep: read the channel's new orders, then push every listing the client's stock left as
/// the tool knows it.
async fn sweep(tool: &ToolChannel, stop: &AtomicBool, deadline: Instant, counters: &ToolCounters) {
    read_orders(tool, stop, deadline, counters).await;
    let sold = tool
        .book
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .sold
        .clone();
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
