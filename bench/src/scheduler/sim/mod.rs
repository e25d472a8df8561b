//! Part 1 of the scheduler benchmark: risk-first against FIFO in virtual time (see the module
//! doc of `scheduler`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::ensure;
use governor::clock::{Clock as _, FakeRelativeClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shelfsync_actors::channel::marketplace::PushItem;
use shelfsync_actors::channel::policy::ListingPolicy;
use shelfsync_actors::channel::scheduler::{PushOrder, PushQueue};
use shelfsync_actors::ids::Sku;
use tokio::time::Instant;

use super::SchedulerArgs;
use crate::percentiles::Percentiles;

mod report;

pub(super) use self::report::{print_sim, sim_json};

/// The step the lags (seconds) are recorded in (a microsecond).
const MICROSECOND_IN_SECONDS: f64 = 1e-6;

/// Parameters of the simulation, in nanoseconds of virtual time where they are times.
#[derive(Debug, Clone)]
pub(super) struct SimParams {
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
    pub(super) fn from_args(args: &SchedulerArgs) -> anyhow::Result<Self> {
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

/// Both orders on the same arrival stream.
#[derive(Debug, Clone)]
pub(super) struct SimReport {
    risk_first: SimResult,
    fifo: SimResult,
    /// Risk-first run again: the simulation is deterministic when both runs agree exactly.
    deterministic: bool,
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

pub(super) fn simulate(params: &SimParams) -> SimReport {
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
    /// Each channel's push budget: governor, as the engine's, on the virtual clock.
    budgets: Vec<RateLimiter<NotKeyed, InMemoryState, FakeRelativeClock, NoOpMiddleware<Nanos>>>,
    /// Virtual time for the budgets, moved along with `now`.
    clock: FakeRelativeClock,
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
        let clock = FakeRelativeClock::default();
        let quota = Quota::with_period(Duration::from_nanos(params.push_interval_ns()))
            .expect("the push interval is at least a nanosecond")
            .allow_burst(NonZeroU32::new(params.push_burst).expect("a burst of at least one"));
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
            budgets: (0..params.channels)
                .map(|_| RateLimiter::direct_with_clock(quota, clock.clone()))
                .collect(),
            clock,
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
        result.lag_decrease = Percentiles::of(&self.lag_decrease, MICROSECOND_IN_SECONDS);
        result.lag_increase = Percentiles::of(&self.lag_increase, MICROSECOND_IN_SECONDS);
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
        let moved = t.saturating_sub(self.clock.now().as_u64());
        self.clock.advance(Duration::from_nanos(moved));
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
        if let Err(not_until) = self.budgets[market].check() {
            let due = not_until.earliest_possible().as_u64();
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
