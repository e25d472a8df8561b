//! Pacing of the calls a connector makes beyond the engine's own limiter: calls the engine does
//! not see one by one (Amazon's `getOrderItems`, one per new order inside one order poll, and the
//! `getListingsItem` reads that confirm a patch). A call waits for its turn here instead of
//! drawing a 429 from the marketplace.
//!
//! The same governor GCRA as the engine's limiter (`shelfsync_actors::ratelimit`), on tokio's
//! clock rather than governor's own: the wait is a tokio sleep, so paused-time tests and the
//! runtime's timers see one clock.

use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::RateLimiter;
use shelfsync_actors::ratelimit::Rate;

/// tokio's clock as governor reads it: the time since the pacer was made.
#[derive(Debug, Clone)]
struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(tokio::time::Instant::now() - self.start)
    }
}

/// At most `burst` calls at once, then one per interval of its [`Rate`].
#[derive(Debug)]
pub struct Pacer {
    clock: TokioClock,
    limiter: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>,
}

impl Pacer {
    /// A pacer of `rate` (the engine's pacing of the budget: below the remote's rate and burst).
    pub fn new(rate: Rate) -> Self {
        let clock = TokioClock {
            start: tokio::time::Instant::now(),
        };
        Self {
            limiter: RateLimiter::direct_with_clock(rate.quota(), clock.clone()),
            clock,
        }
    }

    /// Waits until a call may go, and takes its turn.
    pub async fn acquire(&self) {
        while let Err(not_until) = self.limiter.check() {
            let wait: Duration = not_until.wait_time_from(self.clock.now());
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pacer_lets_its_burst_through_then_one_call_per_interval() {
        let pacer = Pacer::new(Rate::per_second(2.0, 3));
        let start = tokio::time::Instant::now();
        let mut times = Vec::new();
        for _ in 0..7 {
            pacer.acquire().await;
            times.push((tokio::time::Instant::now() - start).as_millis());
        }
        assert_eq!(times, [0, 0, 0, 500, 1000, 1500, 2000]);
        // Idle for a while refills the burst, never more.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let idle = tokio::time::Instant::now();
        for _ in 0..4 {
            pacer.acquire().await;
        }
        assert_eq!((tokio::time::Instant::now() - idle).as_millis(), 500);
    }
}
