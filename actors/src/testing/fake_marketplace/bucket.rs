//! The fake marketplace's token bucket.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::clock::TokioClock;

/// The marketplace's token bucket: a governor limiter on tokio's clock ([`TokioClock`]), so that
/// waits are exact under paused time.
#[derive(Debug)]
pub(super) struct Bucket {
    limiter: RateLimiter<NotKeyed, InMemoryState, TokioClock, StateInformationMiddleware>,
    /// The most tokens the bucket holds.
    pub(super) capacity: u32,
    /// The time one token takes to refill.
    interval: Duration,
    /// The whole tokens the last call that took some left, and when (`None`: never; full).
    last_take: Option<(u32, Instant)>,
}

impl Bucket {
    pub(super) fn new(capacity: u32, per_second: f64) -> Self {
        assert!(
            per_second.is_finite() && per_second > 0.0,
            "the refill rate must be positive"
        );
        let burst = NonZeroU32::new(capacity).expect("a bucket holds at least one token");
        let interval = Duration::from_secs_f64(1.0 / per_second);
        let quota = Quota::with_period(interval)
            .expect("a positive rate refills a token in a positive time")
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::direct_with_clock(quota, TokioClock).with_middleware(),
            capacity,
            interval,
            last_take: None,
        }
    }

    /// Takes `cost` tokens at `now`, or says how long until they are there.
    pub(super) fn try_take(&mut self, now: Instant, cost: u32) -> Result<(), Duration> {
        let Some(cost) = NonZeroU32::new(cost) else {
            return Ok(());
        };
        match self
            .limiter
            .check_n(cost)
            .expect("with_bucket and with_cost keep every cost within the capacity")
        {
            Ok(taken) => {
                self.last_take = Some((taken.remaining_burst_capacity(), now));
                Ok(())
            }
            Err(not_until) => Err(not_until.wait_time_from(now.into_std())),
        }
    }

    /// The tokens in the bucket at `now`: the whole tokens the last take left plus the refill
    /// since (governor tells whole tokens), at most the capacity.
    pub(super) fn tokens(&self, now: Instant) -> f64 {
        let capacity = f64::from(self.capacity);
        self.last_take.map_or(capacity, |(left, at)| {
            let refilled = now.saturating_duration_since(at).as_secs_f64();
            (f64::from(left) + refilled / self.interval.as_secs_f64()).min(capacity)
        })
    }
}
