//! Backoff with jitter for transient failures (5xx, timeouts): DESIGN §4 "back off with jitter on
//! 5xx". Jitter spreads the retries of many channels that failed together (a platform outage) so
//! that they do not come back as one wave (reliability.md §5, "Jitter"). Pure: the RNG is seeded
//! by the caller, the delay is returned, and the actor schedules its own retry.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The first ceiling of the exponential series.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(500);

/// The largest delay ever returned.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(60);

/// How a delay is drawn below the exponential ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Uniform in `0..=min(cap, base × 2^attempt)` ("full jitter"): the widest spread, and the
    /// least total work when many clients contend.
    #[default]
    Full,
    /// Uniform in `base..=min(cap, 3 × previous)` ("decorrelated jitter"): never shorter than
    /// `base`, growing from the previous delay rather than from the attempt number.
    Decorrelated,
}

/// The shape of a backoff series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The first ceiling (full jitter) or the floor (decorrelated jitter).
    pub base: Duration,
    /// The largest delay.
    pub cap: Duration,
    /// How delays are drawn.
    pub jitter: Jitter,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: DEFAULT_BACKOFF_BASE,
            cap: DEFAULT_BACKOFF_CAP,
            jitter: Jitter::Full,
        }
    }
}

/// A series of retry delays for one key, drawn from a seeded RNG so that tests and simulations
/// replay exactly.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    rng: StdRng,
    previous: Duration,
}

impl Backoff {
    /// Creates a series with `config`, its jitter drawn from an RNG seeded with `seed`.
    pub fn new(config: BackoffConfig, seed: u64) -> Self {
        Backoff {
            config,
            rng: StdRng::seed_from_u64(seed),
            previous: config.base,
        }
    }

    /// Returns the series' configuration.
    pub fn config(&self) -> BackoffConfig {
        self.config
    }

    /// Returns the exponential ceiling of attempt `attempt` (0-based): `min(cap, base × 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(31);
        self.config.base.saturating_mul(factor).min(self.config.cap)
    }

    /// Returns the delay before retry `attempt` (0-based: the first retry after a failure is 0).
    /// Decorrelated jitter starts a new series at attempt 0.
    pub fn next_delay(&mut self, attempt: u32) -> Duration {
        match self.config.jitter {
            Jitter::Full => self.uniform(Duration::ZERO, self.ceiling(attempt)),
            Jitter::Decorrelated => {
                if attempt == 0 {
                    self.previous = self.config.base;
                }
                let high = self.previous.saturating_mul(3).min(self.config.cap);
                let low = self.config.base.min(high);
                let delay = self.uniform(low, high);
                self.previous = delay;
                delay
            }
        }
    }

    /// Forgets the series after a success, so that the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.previous = self.config.base;
    }

    fn uniform(&mut self, low: Duration, high: Duration) -> Duration {
        let low_nanos = saturating_nanos(low);
        let high_nanos = saturating_nanos(high).max(low_nanos);
        Duration::from_nanos(self.rng.gen_range(low_nanos..=high_nanos))
    }
}

fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_and_stop_at_the_cap() {
        let backoff = Backoff::new(BackoffConfig::default(), 1);
        let ceilings: Vec<u64> = (0..10)
            .map(|attempt| backoff.ceiling(attempt).as_millis() as u64)
            .collect();
        assert_eq!(
            ceilings,
            [500, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
        assert_eq!(backoff.ceiling(u32::MAX), DEFAULT_BACKOFF_CAP);
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_ceiling_and_grows_on_average() {
        let mut backoff = Backoff::new(BackoffConfig::default(), 7);
        let mut means = Vec::new();
        for attempt in 0..9 {
            let ceiling = backoff.ceiling(attempt);
            let delays: Vec<Duration> = (0..200).map(|_| backoff.next_delay(attempt)).collect();
            assert!(delays.iter().all(|delay| *delay <= ceiling));
            // The draws spread over the range rather than sticking to one end.
            assert!(delays.iter().any(|delay| *delay < ceiling / 4));
            assert!(delays.iter().any(|delay| *delay > ceiling * 3 / 4));
            means.push(delays.iter().sum::<Duration>() / 200);
        }
        assert!(means.windows(2).take(6).all(|pair| pair[0] < pair[1]));
        assert!(means.iter().all(|mean| *mean <= DEFAULT_BACKOFF_CAP));
    }

    #[test]
    fn decorrelated_jitter_never_goes_below_base_nor_above_the_cap() {
        let config = BackoffConfig {
            jitter: Jitter::Decorrelated,
            ..BackoffConfig::default()
        };
        let mut backoff = Backoff::new(config, 42);
        let mut previous = config.base;
        for attempt in 0..50 {
            let delay = backoff.next_delay(attempt);
            assert!(delay >= config.base, "attempt {attempt}: {delay:?}");
            assert!(delay <= config.cap, "attempt {attempt}: {delay:?}");
            assert!(delay <= previous * 3, "attempt {attempt}: {delay:?}");
            previous = delay;
        }
        // After a success the series starts from base again: at most 3 × base.
        backoff.reset();
        assert!(backoff.next_delay(1) <= config.base * 3);
    }

    #[test]
    fn the_same_seed_replays_the_same_delays() {
        let delays = |seed| {
            let mut backoff = Backoff::new(BackoffConfig::default(), seed);
            (0..8)
                .map(|attempt| backoff.next_delay(attempt))
                .collect::<Vec<_>>()
        };
        assert_eq!(delays(3), delays(3));
        assert_ne!(delays(3), delays(4));
    }
}
