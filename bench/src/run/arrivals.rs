//! Poisson shoppers across a whole fleet (`arrivals = "poisson"`). A mock's own shoppers place
//! orders at a steady rate, one every `1 / rate` seconds from the moment they start: at real-time
//! agency volumes (150 mocks sharing 0.025 orders/s, one order a mock every 6 000 s) every mock
//! would place its first order at the same instant, after the run. These draw one seeded Poisson
//! stream for the fleet at the scenario's rate and give each order to a mock drawn uniformly,
//! which places it as its own shoppers would (`shoppers::shop_once`: the same listing and unit
//! draws, cancellations, notifications). The same seed gives every variant the same stream.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shelfsync::platforms::mock::shoppers::{shop_once, CancelQueue, ShopperDraws};
use shelfsync::platforms::mock::ShopperSettings;

use super::fleet::Fleet;
use super::scenario::{ArrivalModel, Scenario};

/// The fleet's shoppers: when the next order comes, and each mock's draws.
#[derive(Debug)]
pub struct Arrivals {
    rng: StdRng,
    draws: Vec<ShopperDraws>,
    cancels: Vec<CancelQueue>,
    /// Seconds after the shopping started of the next order (`None`: no shoppers).
    next_at: Option<f64>,
    rate: f64,
}

impl Arrivals {
    /// Shoppers for `fleet`, stopped; each mock's draws seeded with its shopper seed.
    pub fn new(scenario: &Scenario, fleet: &Fleet) -> Arrivals {
        let draws = fleet
            .channels
            .iter()
            .map(|channel| {
                ShopperDraws::new(&ShopperSettings {
                    orders_per_sec: scenario.orders_per_sec,
                    max_units: scenario.max_units,
                    seed: channel.shopper_seed,
                    cancel_rate: scenario.cancel_rate,
                })
            })
            .collect();
        Arrivals {
            rng: StdRng::seed_from_u64(scenario.seed ^ 0x5eed_a441),
            draws,
            cancels: fleet
                .channels
                .iter()
                .map(|_| CancelQueue::default())
                .collect(),
            next_at: None,
            rate: 0.0,
        }
    }

    /// Sets the rate from `now` (seconds after the shopping started; 0 stops): the next order
    /// is drawn afresh, as a Poisson stream has no memory.
    pub fn set_rate(&mut self, orders_per_sec: f64, now: f64) {
        self.rate = orders_per_sec;
        self.next_at = (orders_per_sec > 0.0).then(|| now + self.gap());
    }

    /// Places every order due by `now` on `fleet`; returns how many. Bounded by the orders due,
    /// never more than a second's worth plus one (a stalled caller does not turn into a burst).
    pub fn place_due(&mut self, fleet: &Fleet, now: f64) -> usize {
        let most = self.rate.ceil() as usize + 1;
        let mut placed = 0;
        while let Some(at) = self.next_at.filter(|at| *at <= now && placed < most) {
            let mock = self.rng.gen_range(0..fleet.channels.len().max(1));
            if let Some(channel) = fleet.channels.get(mock) {
                shop_once(
                    channel.state(),
                    &mut self.draws[mock],
                    &mut self.cancels[mock],
                );
            }
            placed += 1;
            self.next_at = Some(at + self.gap());
        }
        if placed == most {
            // Behind: drop what is overdue rather than place it late in a bunch.
            self.next_at = Some(now + self.gap());
        }
        placed
    }

    /// An exponential gap at the current rate.
    fn gap(&mut self) -> f64 {
        let uniform: f64 = self.rng.gen_range(0.0..1.0);
        -(1.0 - uniform).ln() / self.rate
    }
}

/// Who places the orders of a variant: each mock's own steady shoppers, or the fleet's Poisson
/// ones (the scenario's `arrivals`).
#[derive(Debug)]
pub enum Shoppers {
    /// Each mock's shoppers; `phase` counts rate changes (each change reseeds them).
    Mocks {
        /// Rate changes so far.
        phase: u64,
    },
    /// The fleet's Poisson stream, placed by the caller's ticks.
    Poisson(Box<Arrivals>),
}

impl Shoppers {
    /// Starts the shoppers of `fleet` at the scenario's steady rate.
    pub fn start(scenario: &Scenario, fleet: &Fleet) -> Shoppers {
        let mut shoppers = match scenario.arrivals {
            ArrivalModel::Steady => Shoppers::Mocks { phase: 0 },
            ArrivalModel::Poisson => Shoppers::Poisson(Box::new(Arrivals::new(scenario, fleet))),
        };
        shoppers.set_rate(scenario, fleet, scenario.orders_per_sec, 0.0);
        shoppers
    }

    /// Changes the rate `now` seconds after the shopping started (0 stops).
    pub fn set_rate(&mut self, scenario: &Scenario, fleet: &Fleet, orders_per_sec: f64, now: f64) {
        match self {
            Shoppers::Mocks { phase } if orders_per_sec > 0.0 => {
                fleet.set_shoppers(scenario, orders_per_sec, *phase);
                *phase += 1;
            }
            Shoppers::Mocks { .. } => fleet.stop_shoppers(),
            Shoppers::Poisson(arrivals) => arrivals.set_rate(orders_per_sec, now),
        }
    }

    /// Places the Poisson orders due `now` seconds after the shopping started (the mocks' own
    /// shoppers need nothing).
    pub fn tick(&mut self, fleet: &Fleet, now: f64) {
        if let Shoppers::Poisson(arrivals) = self {
            arrivals.place_due(fleet, now);
        }
    }
}
