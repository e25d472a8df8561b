//! Seeded shoppers: random orders across a mock's listings at a set rate, each sold only while the
//! listing shows enough (DESIGN §7). Started and stopped by `POST /_mock/shoppers`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{MockError, MockState};

/// The highest shopper rate a mock accepts (orders a second).
pub const MAX_ORDERS_PER_SEC: f64 = 20_000.0;
/// The most units one shopper order may ask for.
pub const MAX_UNITS: i64 = 1_000;
/// How often the shoppers wake: orders due within one tick are placed together.
const TICK: Duration = Duration::from_millis(10);

/// What the shoppers do (`POST /_mock/shoppers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopperSettings {
    /// Orders a second across all listings; 0 stops the shoppers.
    pub orders_per_sec: f64,
    /// Each order asks for 1 to `max_units` units, uniformly.
    #[serde(default = "one")]
    pub max_units: i64,
    /// Seed of the shoppers' choices (listing, units, cancellations).
    #[serde(default)]
    pub seed: u64,
    /// Share of placed orders that a shopper later cancels (0 to 1), each cancel coming after the
    /// next few orders; cancellations restock the listing and, on Shopify, send `orders/cancelled`.
    #[serde(default)]
    pub cancel_rate: f64,
}

fn one() -> i64 {
    1
}

impl ShopperSettings {
    /// No shoppers.
    pub fn stopped() -> ShopperSettings {
        ShopperSettings {
            orders_per_sec: 0.0,
            max_units: 1,
            seed: 0,
            cancel_rate: 0.0,
        }
    }

    /// Refuses settings out of range, saying which.
    pub fn validate(&self) -> Result<(), MockError> {
        let bad = |message: String| Err(MockError::BadControlRequest { message });
        if !(0.0..=MAX_ORDERS_PER_SEC).contains(&self.orders_per_sec) {
            return bad(format!(
                "orders_per_sec {} is outside 0..={MAX_ORDERS_PER_SEC}",
                self.orders_per_sec
            ));
        }
        if !(1..=MAX_UNITS).contains(&self.max_units) {
            return bad(format!(
                "max_units {} is outside 1..={MAX_UNITS}",
                self.max_units
            ));
        }
        if !(0.0..=1.0).contains(&self.cancel_rate) {
            return bad(format!("cancel_rate {} is outside 0..=1", self.cancel_rate));
        }
        Ok(())
    }
}

/// One shopper's choice, from the seeded source: which listing (by position) and how many units.
#[derive(Debug)]
pub struct ShopperDraws {
    rng: StdRng,
    max_units: i64,
    cancel_rate: f64,
}

impl ShopperDraws {
    /// Draws for `settings`.
    pub fn new(settings: &ShopperSettings) -> ShopperDraws {
        ShopperDraws {
            rng: StdRng::seed_from_u64(settings.seed),
            max_units: settings.max_units,
            cancel_rate: settings.cancel_rate,
        }
    }

    /// A listing position below `listings` and a quantity.
    pub fn order(&mut self, listings: usize) -> (usize, i64) {
        (
            self.rng.gen_range(0..listings),
            self.rng.gen_range(1..=self.max_units),
        )
    }

    /// Whether the order just placed will be cancelled.
    pub fn cancels(&mut self) -> bool {
        self.cancel_rate > 0.0 && self.rng.gen_bool(self.cancel_rate)
    }
}

/// Runs the shoppers of `state` until the settings channel closes (the mock stops): waits while
/// stopped, and while running places the orders due in each tick.
pub async fn run(state: Arc<MockState>, mut settings: watch::Receiver<ShopperSettings>) {
    loop {
        let current = settings.borrow_and_update().clone();
        if current.orders_per_sec <= 0.0 {
            if settings.changed().await.is_err() {
                return;
            }
            continue;
        }
        let mut draws = ShopperDraws::new(&current);
        let mut to_cancel = CancelQueue::default();
        let mut due = 0.0_f64;
        let mut last = Instant::now();
        let mut ticker = actix_rt::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = settings.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                _ = ticker.tick() => {
                    let now = Instant::now();
                    due += now.duration_since(last).as_secs_f64() * current.orders_per_sec;
                    last = now;
                    // A stalled tick does not turn into a burst larger than one second of orders.
                    due = due.min(current.orders_per_sec.max(1.0));
                    while due >= 1.0 {
                        due -= 1.0;
                        shop_once(&state, &mut draws, &mut to_cancel);
                    }
                }
            }
        }
    }
}

/// How many placements a cancellation trails its order by, so that a feed sees the order first.
pub const CANCEL_AFTER_PLACEMENTS: u64 = 3;

/// Orders a shopper will cancel, each once [`CANCEL_AFTER_PLACEMENTS`] more orders were tried
/// after it. (They used to wait until four were queued: at the demo's rates, 1 order in 25
/// cancelled and about 20 orders a mock, no cancellation ever happened.)
#[derive(Debug, Default)]
pub struct CancelQueue {
    placements: u64,
    waiting: std::collections::VecDeque<(String, u64)>,
}

impl CancelQueue {
    /// Counts one placement (placed or refused) and returns the orders whose cancellation is
    /// due now, oldest first.
    pub fn placed(&mut self) -> Vec<String> {
        self.placements += 1;
        let mut due = Vec::new();
        while self
            .waiting
            .front()
            .is_some_and(|(_, at)| *at <= self.placements)
        {
            if let Some((order_id, _)) = self.waiting.pop_front() {
                due.push(order_id);
            }
        }
        due
    }

    /// Cancels `order_id` after the next placements.
    pub fn cancel_later(&mut self, order_id: String) {
        self.waiting
            .push_back((order_id, self.placements + CANCEL_AFTER_PLACEMENTS));
    }
}

/// Places one shopper order, and cancels earlier ones whose turn came. Public for the load bench,
/// whose Poisson shoppers place each order on a mock they draw (`bench/src/run/arrivals.rs`).
pub fn shop_once(state: &MockState, draws: &mut ShopperDraws, to_cancel: &mut CancelQueue) {
    let pick = {
        let world = state.world();
        let count = world.listing_count();
        if count == 0 {
            return;
        }
        let (position, units) = draws.order(count);
        // Listing numbers run 1..=count without gaps (listings are never removed).
        world
            .listing(position as u64 + 1)
            .map(|listing| (listing.sku.clone(), units))
    };
    let Some((sku, units)) = pick else { return };
    for order_id in to_cancel.placed() {
        let _ = state.cancel_order(&order_id);
    }
    if let Ok(order) = state.place_order(&sku, units) {
        if draws.cancels() {
            to_cancel.cancel_later(order.order_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_and_in_range() {
        let settings = ShopperSettings {
            orders_per_sec: 10.0,
            max_units: 3,
            seed: 42,
            cancel_rate: 0.5,
        };
        let first: Vec<(usize, i64)> = {
            let mut draws = ShopperDraws::new(&settings);
            (0..100).map(|_| draws.order(7)).collect()
        };
        let mut draws = ShopperDraws::new(&settings);
        let second: Vec<(usize, i64)> = (0..100).map(|_| draws.order(7)).collect();
        assert_eq!(first, second);
        assert!(first
            .iter()
            .all(|&(position, units)| position < 7 && (1..=3).contains(&units)));
        assert!(first.iter().any(|&(_, units)| units == 3));
    }

    /// Issue 12: the demo showed 0 cancellations in every run although its shoppers cancel one
    /// order in 25: a cancellation waited for four to be queued.
    #[test]
    fn a_single_order_to_cancel_is_cancelled_a_few_placements_later() {
        let mut queue = CancelQueue::default();
        assert!(queue.placed().is_empty());
        queue.cancel_later("A".into());
        for _ in 1..CANCEL_AFTER_PLACEMENTS {
            assert!(queue.placed().is_empty());
        }
        assert_eq!(queue.placed(), vec!["A".to_string()]);
        assert!(queue.placed().is_empty());
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        let good = ShopperSettings {
            orders_per_sec: 5.0,
            max_units: 2,
            seed: 1,
            cancel_rate: 0.1,
        };
        assert!(good.validate().is_ok());
        for bad in [
            ShopperSettings {
                orders_per_sec: -1.0,
                ..good.clone()
            },
            ShopperSettings {
                orders_per_sec: f64::INFINITY,
                ..good.clone()
            },
            ShopperSettings {
                max_units: 0,
                ..good.clone()
            },
            ShopperSettings {
                cancel_rate: 2.0,
                ..good.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
