//! The bench's own view of the ground truth, sampled from the mocks in-process (never from the
//! engine): every `sample_ms` it reads each mock's new orders and checks the sibling listings
//! still waiting to show a sale; every exposure period it reads every listing of every mock.
//!
//! - **True stock** of a client's SKU is one number across all its marketplaces: the starting
//!   stock less the units sold on every marketplace (the order logs of the mocks).
//! - **Sync lag** of a sale on marketplace A to sibling B: from the order's `created_at` on A to
//!   the first sample at which B's listing shows at most the true stock left after that sale
//!   (later sales only lower that bar, so a listing that caught up with later sales counts too).
//!   Resolution: one sample period. Sales still unseen on a sibling when the run ends count at
//!   their age then (a lower bound) and are reported as `unresolved`.
//! - **Reaction lag** of a sale on A to sibling B: from the order's `created_at` to the first
//!   sample at which B shows at most what it showed at that instant less the units sold (or less
//!   than an earlier sale on A still waiting there). It leaves out what the sibling cannot know yet:
//!   a sale on a third marketplace whose order feed is slow makes the sync lag above wait for that
//!   feed too, the reaction lag does not. What B showed at the sale is read from the mock's
//!   listing history; a sale older than the kept history is left out and counted.
//! - **Exposure**: Σ over listings of max(0, listed − true stock left) × the time between samples.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use shelfsync::platforms::mock::MockState;
use shelfsync::platforms::Platform;

use super::fleet::{ClientPlan, Fleet};

/// At most this many listings are read per exposure sample period of `sample_ms`; bigger fleets
/// sample exposure less often so the bench does not take the service's CPU.
const LISTINGS_PER_SAMPLE: usize = 20_000;

/// One sale waiting to show on one sibling listing.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    sold_at: Instant,
    /// The most the sibling may list once it shows this sale.
    bar: i64,
    source: Platform,
}

/// One sale waiting for its own effect on one sibling listing (the reaction lag).
#[derive(Debug, Clone, Copy)]
struct Reaction {
    sold_at: Instant,
    /// The most the sibling may list once it reflects this sale.
    bar: i64,
    source: Platform,
}

/// One observed mock.
#[derive(Debug)]
struct Observed {
    client: usize,
    platform: Platform,
    state: Arc<MockState>,
    siblings: Vec<usize>,
    orders_seen: usize,
    /// SKU → sales waiting to show here, oldest first.
    waiting: HashMap<String, VecDeque<Waiting>>,
    /// SKU → sales whose own effect has not shown here yet.
    reacting: HashMap<String, Vec<Reaction>>,
}

/// What the observer measured.
#[derive(Debug, Default, Clone)]
pub struct Observations {
    /// Lags in milliseconds by the platform of the sibling listing (where the sale had to show).
    pub lag_by_target: BTreeMap<Platform, Vec<f64>>,
    /// Lags in milliseconds by the platform the sale happened on.
    pub lag_by_source: BTreeMap<Platform, Vec<f64>>,
    /// Lags in milliseconds by `source→target` pair: a pair whose budgets do not bind shows the
    /// engine's own speed, apart from the slow order feeds and push budgets of the others.
    pub lag_by_pair: BTreeMap<String, Vec<f64>>,
    /// Sibling listings that had not shown a sale when the run ended, by target platform.
    pub unresolved_by_target: BTreeMap<Platform, u64>,
    /// The same by `source→target` pair.
    pub unresolved_by_pair: BTreeMap<String, u64>,
    /// Reaction lags in milliseconds by the sibling's platform (see the module doc).
    pub reaction_by_target: BTreeMap<Platform, Vec<f64>>,
    /// Reaction lags in milliseconds by `source→target` pair.
    pub reaction_by_pair: BTreeMap<String, Vec<f64>>,
    /// Reactions not seen when the run ended, by the sibling's platform.
    pub reaction_unresolved_by_target: BTreeMap<Platform, u64>,
    /// Sale and sibling pairs left out of the reaction lag: the sibling's kept history did not
    /// reach back to the sale.
    pub reaction_unknown: u64,
    /// Exposure-unit-seconds, by the platform of the listing.
    pub exposure_by_platform: BTreeMap<Platform, f64>,
    /// Samples of the lag loop.
    pub samples: u64,
    /// Exposure samples.
    pub exposure_samples: u64,
    /// The lag sample period.
    pub sample_ms: u64,
    /// The exposure sample period.
    pub exposure_ms: u64,
}

/// The sampler of one variant.
#[derive(Debug)]
pub struct Observer {
    mocks: Vec<Observed>,
    /// Per client: SKU → (starting stock, units sold so far across its marketplaces).
    truth: Vec<HashMap<String, (i64, i64)>>,
    out: Observations,
    last_exposure: Option<Instant>,
    exposure_every: u64,
}

impl Observer {
    /// An observer of `fleet` (whose listings show the starting stock of `clients`).
    /// Exposure is sampled at most every `sample_ms`, less often on big fleets, and no more
    /// often than `exposure_ms` when given.
    pub fn new(
        fleet: &Fleet,
        clients: &[ClientPlan],
        sample_ms: u64,
        exposure_ms: Option<u64>,
    ) -> Observer {
        let mocks: Vec<Observed> = fleet
            .channels
            .iter()
            .enumerate()
            .map(|(index, channel)| Observed {
                client: channel.client,
                platform: channel.platform,
                state: Arc::clone(channel.state()),
                siblings: fleet
                    .channels
                    .iter()
                    .enumerate()
                    .filter(|(other, sibling)| *other != index && sibling.client == channel.client)
                    .map(|(other, _)| other)
                    .collect(),
                orders_seen: channel.state().world().orders().len(),
                waiting: HashMap::new(),
                reacting: HashMap::new(),
            })
            .collect();
        let truth = clients
            .iter()
            .map(|client| {
                client
                    .skus
                    .iter()
                    .zip(&client.stock)
                    .map(|(sku, &stock)| (sku.clone(), (i64::from(stock), 0)))
                    .collect()
            })
            .collect();
        let listings: usize = clients
            .iter()
            .map(|c| c.skus.len() * c.platforms.len())
            .sum();
        let exposure_every = (listings.div_ceil(LISTINGS_PER_SAMPLE) as u64)
            .max(exposure_ms.map_or(1, |ms| ms.div_ceil(sample_ms)))
            .max(1);
        Observer {
            mocks,
            truth,
            out: Observations {
                sample_ms,
                exposure_ms: sample_ms * exposure_every,
                ..Observations::default()
            },
            last_exposure: None,
            exposure_every,
        }
    }

    /// Samples until `stop` is set (or `limit` passes), then returns what it measured.
    pub fn run(mut self, stop: &AtomicBool, limit: Duration) -> Observations {
        let period = Duration::from_millis(self.out.sample_ms);
        let started = Instant::now();
        let mut next = started;
        while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
            self.sample();
            next += period;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else {
                // Behind (a slow sample): skip the missed ticks rather than bunch them up.
                next = now;
            }
        }
        self.sample();
        self.finish()
    }

    fn sample(&mut self) {
        let now = Instant::now();
        let utc_now = Utc::now();
        self.out.samples += 1;
        // New sales: the true stock drops, and each sibling listing now has to show it.
        for index in 0..self.mocks.len() {
            let sales: Vec<(String, i64, Instant, chrono::DateTime<Utc>)> = {
                let world = self.mocks[index].state.world();
                let orders = world.orders();
                let new = orders.get(self.mocks[index].orders_seen..).unwrap_or(&[]);
                new.iter()
                    .map(|order| {
                        let age = (utc_now - order.created_at).to_std().unwrap_or_default();
                        (
                            order.sku.clone(),
                            order.quantity,
                            now.checked_sub(age).unwrap_or(now),
                            order.created_at,
                        )
                    })
                    .collect()
            };
            self.mocks[index].orders_seen += sales.len();
            let client = self.mocks[index].client;
            let source = self.mocks[index].platform;
            for (sku, quantity, sold_at, created_at) in sales {
                let Some(truth) = self.truth[client].get_mut(&sku) else {
                    continue;
                };
                truth.1 += quantity;
                let bar = (truth.0 - truth.1).max(0);
                for sibling in self.mocks[index].siblings.clone() {
                    let shown_then = {
                        let world = self.mocks[sibling].state.world();
                        world
                            .listing_by_sku(&sku)
                            .and_then(|listing| listing.quantity_at(created_at))
                    };
                    match shown_then {
                        Some(shown) => {
                            let reacting =
                                self.mocks[sibling].reacting.entry(sku.clone()).or_default();
                            // Chained only to earlier sales from the same marketplace (heard
                            // through the same feed): chaining to a sale on another marketplace
                            // would make this one wait for that marketplace's feed again.
                            let before = reacting
                                .iter()
                                .filter(|r| r.source == source)
                                .map(|r| r.bar)
                                .min()
                                .unwrap_or(shown);
                            reacting.push(Reaction {
                                sold_at,
                                bar: (shown.min(before) - quantity).max(0),
                                source,
                            });
                        }
                        None => self.out.reaction_unknown += 1,
                    }
                    self.mocks[sibling]
                        .waiting
                        .entry(sku.clone())
                        .or_default()
                        .push_back(Waiting {
                            sold_at,
                            bar,
                            source,
                        });
                }
            }
        }
        // Siblings that now show the sales they were waiting for.
        for mock in &mut self.mocks {
            if mock.waiting.is_empty() && mock.reacting.is_empty() {
                continue;
            }
            let world = mock.state.world();
            let target = mock.platform;
            mock.reacting.retain(|sku, reactions| {
                let Some(listed) = world.listing_by_sku(sku).map(|listing| listing.quantity) else {
                    return false;
                };
                reactions.retain(|reaction| {
                    if listed > reaction.bar {
                        return true;
                    }
                    let lag = now.duration_since(reaction.sold_at).as_secs_f64() * 1000.0;
                    self.out
                        .reaction_by_target
                        .entry(target)
                        .or_default()
                        .push(lag);
                    self.out
                        .reaction_by_pair
                        .entry(format!("{}→{target}", reaction.source))
                        .or_default()
                        .push(lag);
                    false
                });
                !reactions.is_empty()
            });
            mock.waiting.retain(|sku, queue| {
                let Some(listed) = world.listing_by_sku(sku).map(|listing| listing.quantity) else {
                    return false;
                };
                while let Some(front) = queue.front() {
                    if listed > front.bar {
                        break;
                    }
                    let lag = now.duration_since(front.sold_at).as_secs_f64() * 1000.0;
                    self.out.lag_by_target.entry(target).or_default().push(lag);
                    self.out
                        .lag_by_source
                        .entry(front.source)
                        .or_default()
                        .push(lag);
                    self.out
                        .lag_by_pair
                        .entry(format!("{}→{target}", front.source))
                        .or_default()
                        .push(lag);
                    queue.pop_front();
                }
                !queue.is_empty()
            });
        }
        if self.out.samples % self.exposure_every == 1 || self.exposure_every == 1 {
            self.sample_exposure(now);
        }
    }

    fn sample_exposure(&mut self, now: Instant) {
        let dt = self
            .last_exposure
            .map_or(0.0, |last| now.duration_since(last).as_secs_f64());
        self.last_exposure = Some(now);
        self.out.exposure_samples += 1;
        for mock in &self.mocks {
            let truth = &self.truth[mock.client];
            let units: i64 = {
                let world = mock.state.world();
                world
                    .listings()
                    .map(|listing| {
                        let left = truth
                            .get(&listing.sku)
                            .map_or(0, |(stock, sold)| (stock - sold).max(0));
                        (listing.quantity - left).max(0)
                    })
                    .sum()
            };
            *self
                .out
                .exposure_by_platform
                .entry(mock.platform)
                .or_default() += units as f64 * dt;
        }
    }

    fn finish(mut self) -> Observations {
        let now = Instant::now();
        for mock in &self.mocks {
            for reaction in mock.reacting.values().flatten() {
                let age = now.duration_since(reaction.sold_at).as_secs_f64() * 1000.0;
                self.out
                    .reaction_by_target
                    .entry(mock.platform)
                    .or_default()
                    .push(age);
                self.out
                    .reaction_by_pair
                    .entry(format!("{}→{}", reaction.source, mock.platform))
                    .or_default()
                    .push(age);
                *self
                    .out
                    .reaction_unresolved_by_target
                    .entry(mock.platform)
                    .or_default() += 1;
            }
            for queue in mock.waiting.values() {
                for waiting in queue {
                    let age = now.duration_since(waiting.sold_at).as_secs_f64() * 1000.0;
                    self.out
                        .lag_by_target
                        .entry(mock.platform)
                        .or_default()
                        .push(age);
                    self.out
                        .lag_by_source
                        .entry(waiting.source)
                        .or_default()
                        .push(age);
                    let pair = format!("{}→{}", waiting.source, mock.platform);
                    self.out
                        .lag_by_pair
                        .entry(pair.clone())
                        .or_default()
                        .push(age);
                    *self.out.unresolved_by_pair.entry(pair).or_default() += 1;
                    *self
                        .out
                        .unresolved_by_target
                        .entry(mock.platform)
                        .or_default() += 1;
                }
            }
        }
        self.out
    }
}
