//! The throttle models of the five platforms, as plain types driven by an explicit `Instant`, so
//! that tests step time by hand (reference/marketplace-apis.md §0 "Throttle models to copy in the
//! mocks"): Shopify REST's leaky bucket that passes or fails, Shopify GraphQL's cost bucket with
//! its refund, Amazon's and Walmart's token buckets, Etsy's per-second plus rolling-day limits, and
//! eBay's daily counter.

use std::time::{Duration, Instant};

/// A leaky bucket that passes or fails, nothing queued (Shopify REST: 40 requests leaking 2/s).
#[derive(Debug, Clone)]
pub struct LeakyBucket {
    capacity: u32,
    leak_per_sec: f64,
    level: f64,
    last: Instant,
}

impl LeakyBucket {
    /// An empty bucket of `capacity` requests leaking `leak_per_sec`.
    pub fn new(capacity: u32, leak_per_sec: f64, now: Instant) -> LeakyBucket {
        LeakyBucket {
            capacity,
            leak_per_sec,
            level: 0.0,
            last: now,
        }
    }

    /// The bucket's size (the `40` of `X-Shopify-Shop-Api-Call-Limit: 32/40`).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    fn leak(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level - elapsed * self.leak_per_sec).max(0.0);
        self.last = now;
    }

    /// Adds one request: `Ok(used)` with the requests in the bucket after it (rounded up, as the
    /// header shows them), or `Err(used)` when the bucket is full.
    pub fn try_add(&mut self, now: Instant) -> Result<u32, u32> {
        self.leak(now);
        if self.level + 1.0 > f64::from(self.capacity) + 1e-9 {
            return Err(self.used());
        }
        self.level += 1.0;
        Ok(self.used())
    }

    fn used(&self) -> u32 {
        (self.level.ceil() as u32).min(self.capacity)
    }
}

/// A cost-weighted bucket (Shopify GraphQL): a query needs its whole requested cost available
/// before it runs, and the difference between requested and actual cost is refunded after it.
#[derive(Debug, Clone)]
pub struct CostBucket {
    maximum: f64,
    restore_rate: f64,
    available: f64,
    last: Instant,
}

/// The `throttleStatus` object Shopify returns on every GraphQL reply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleStatus {
    /// `maximumAvailable`.
    pub maximum_available: f64,
    /// `currentlyAvailable` (whole points, as Shopify shows it).
    pub currently_available: u64,
    /// `restoreRate`.
    pub restore_rate: f64,
}

impl CostBucket {
    /// A full bucket.
    pub fn new(maximum: f64, restore_rate: f64, now: Instant) -> CostBucket {
        CostBucket {
            maximum,
            restore_rate,
            available: maximum,
            last: now,
        }
    }

    fn restore(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.available = (self.available + elapsed * self.restore_rate).min(self.maximum);
        self.last = now;
    }

    /// Takes `cost` points, or refuses (taking nothing) when fewer are available.
    pub fn try_reserve(&mut self, cost: u64, now: Instant) -> Result<(), ThrottleStatus> {
        self.restore(now);
        if self.available + 1e-9 < cost as f64 {
            return Err(self.status());
        }
        self.available -= cost as f64;
        Ok(())
    }

    /// Gives back the unused part of a reservation.
    pub fn refund(&mut self, points: u64, now: Instant) {
        self.restore(now);
        self.available = (self.available + points as f64).min(self.maximum);
    }

    /// The status as of `now`.
    pub fn status_at(&mut self, now: Instant) -> ThrottleStatus {
        self.restore(now);
        self.status()
    }

    fn status(&self) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: self.maximum,
            currently_available: self.available.floor() as u64,
            restore_rate: self.restore_rate,
        }
    }
}

/// A token bucket (Amazon SP-API per operation, Walmart per endpoint): `rate` tokens a second up to
/// `burst`, one per request.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// The refill rate (tokens a second).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }

    /// Takes one token: `Ok(tokens left)` or `Err(time until the next token)`.
    pub fn try_take(&mut self, now: Instant) -> Result<u64, Duration> {
        self.refill(now);
        if self.tokens + 1e-9 < 1.0 {
            let missing = 1.0 - self.tokens;
            return Err(Duration::from_secs_f64(missing / self.rate));
        }
        self.tokens -= 1.0;
        Ok(self.tokens.floor() as u64)
    }

    /// Whole tokens available now.
    pub fn available(&mut self, now: Instant) -> u64 {
        self.refill(now);
        self.tokens.floor() as u64
    }
}

/// One token bucket per operation (Amazon's usage plans, Walmart's per-endpoint limits).
#[derive(Debug, Clone)]
pub struct OperationBuckets {
    buckets: std::collections::HashMap<&'static str, TokenBucket>,
}

impl OperationBuckets {
    /// Full buckets from a table of (operation, rate per second, burst).
    pub fn new(table: &[(&'static str, f64, u32)], now: Instant) -> OperationBuckets {
        let buckets = table
            .iter()
            .map(|&(operation, rate, burst)| (operation, TokenBucket::new(rate, burst, now)))
            .collect();
        OperationBuckets { buckets }
    }

    /// Takes a token of `operation`; an operation without a bucket is not limited (`Ok(u64::MAX)`).
    pub fn try_take(&mut self, operation: &str, now: Instant) -> Result<u64, Duration> {
        match self.buckets.get_mut(operation) {
            Some(bucket) => bucket.try_take(now),
            None => Ok(u64::MAX),
        }
    }

    /// The refill rate of `operation`'s bucket.
    pub fn rate(&self, operation: &str) -> Option<f64> {
        self.buckets.get(operation).map(TokenBucket::rate)
    }
}

/// What an Etsy request sees: the four `x-limit-*` / `x-remaining-*` figures on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtsyAllowance {
    /// `x-limit-per-second`.
    pub per_second: u32,
    /// `x-remaining-this-second`.
    pub remaining_this_second: u32,
    /// `x-limit-per-day`.
    pub per_day: u32,
    /// `x-remaining-today`.
    pub remaining_today: u32,
}

/// Etsy's two limits per app: queries per second, checked first, then queries per day over a
/// rolling 24 h window kept as twelve 2-hour buckets (so a refused day waits at most 2 h;
/// reference §2.3).
#[derive(Debug, Clone)]
pub struct EtsyLimiter {
    per_second: u32,
    per_day: u32,
    epoch: Instant,
    second: u64,
    used_this_second: u32,
    /// (bucket index since `epoch`, requests in it), oldest first, at most twelve.
    day_buckets: Vec<(u64, u32)>,
}

const ETSY_BUCKET: Duration = Duration::from_secs(2 * 3600);
const ETSY_BUCKETS_PER_DAY: u64 = 12;

impl EtsyLimiter {
    /// Limits of `per_second` and `per_day`.
    pub fn new(per_second: u32, per_day: u32, now: Instant) -> EtsyLimiter {
        EtsyLimiter {
            per_second,
            per_day,
            epoch: now,
            second: 0,
            used_this_second: 0,
            day_buckets: Vec::new(),
        }
    }

    /// Counts one request: `Ok` with the figures for the success headers, or `Err(retry-after
    /// seconds)`.
    pub fn try_take(&mut self, now: Instant) -> Result<EtsyAllowance, u64> {
        let since = now.saturating_duration_since(self.epoch);
        let second = since.as_secs();
        if second != self.second {
            self.second = second;
            self.used_this_second = 0;
        }
        if self.used_this_second >= self.per_second {
            return Err(1);
        }
        let bucket = since.as_secs() / ETSY_BUCKET.as_secs();
        self.day_buckets
            .retain(|&(index, _)| index + ETSY_BUCKETS_PER_DAY > bucket);
        let used_today: u32 = self.day_buckets.iter().map(|&(_, count)| count).sum();
        if used_today >= self.per_day {
            // The oldest bucket leaves the window at the end of its 24 h.
            let oldest = self.day_buckets.first().map_or(bucket, |&(index, _)| index);
            let frees_at =
                Duration::from_secs((oldest + ETSY_BUCKETS_PER_DAY) * ETSY_BUCKET.as_secs());
            return Err(frees_at.saturating_sub(since).as_secs().max(1));
        }
        self.used_this_second += 1;
        match self.day_buckets.last_mut() {
            Some((index, count)) if *index == bucket => *count += 1,
            _ => self.day_buckets.push((bucket, 1)),
        }
        Ok(EtsyAllowance {
            per_second: self.per_second,
            remaining_this_second: self.per_second - self.used_this_second,
            per_day: self.per_day,
            remaining_today: self.per_day - used_today - 1,
        })
    }
}

/// A daily call quota per API (eBay): `limit` calls, reset every 24 h from the first call.
#[derive(Debug, Clone)]
pub struct DailyQuota {
    limit: u64,
    used: u64,
    day_started: Instant,
}

const DAY: Duration = Duration::from_secs(24 * 3600);

impl DailyQuota {
    /// A fresh quota.
    pub fn new(limit: u64, now: Instant) -> DailyQuota {
        DailyQuota {
            limit,
            used: 0,
            day_started: now,
        }
    }

    /// Counts one call: `Ok(calls left today)` or `Err(time until the reset)`.
    pub fn try_take(&mut self, now: Instant) -> Result<u64, Duration> {
        if now.saturating_duration_since(self.day_started) >= DAY {
            self.day_started = now;
            self.used = 0;
        }
        if self.used >= self.limit {
            return Err(DAY.saturating_sub(now.saturating_duration_since(self.day_started)));
        }
        self.used += 1;
        Ok(self.limit - self.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn shopify_rest_bucket_fills_to_40_and_leaks_2_a_second() {
        let t0 = Instant::now();
        let mut bucket = LeakyBucket::new(40, 2.0, t0);
        for n in 1..=40 {
            assert_eq!(bucket.try_add(t0), Ok(n));
        }
        assert_eq!(bucket.try_add(t0), Err(40));
        // reference §1.3: 39/40 becomes 19/40 after 10 s.
        assert_eq!(bucket.try_add(t0 + secs(0.5)), Ok(40));
        assert_eq!(bucket.try_add(t0 + secs(10.5)), Ok(21));
    }

    #[test]
    fn graphql_bucket_reserves_the_requested_cost_and_refunds_the_rest() {
        let t0 = Instant::now();
        let mut bucket = CostBucket::new(1000.0, 50.0, t0);
        assert!(bucket.try_reserve(101, t0).is_ok());
        bucket.refund(101 - 46, t0);
        assert_eq!(bucket.status_at(t0).currently_available, 954);
        assert!(bucket.try_reserve(900, t0).is_ok());
        let refused = bucket.try_reserve(100, t0).unwrap_err();
        assert_eq!(
            refused.currently_available, 54,
            "a refused query takes nothing"
        );
        assert!(
            bucket.try_reserve(100, t0 + secs(1.0)).is_ok(),
            "50 points restored in 1 s"
        );
    }

    #[test]
    fn token_bucket_bursts_then_paces() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(5.0, 5, t0);
        for left in (0..5).rev() {
            assert_eq!(bucket.try_take(t0), Ok(left));
        }
        assert_eq!(bucket.try_take(t0), Err(secs(0.2)));
        assert_eq!(bucket.try_take(t0 + secs(0.2)), Ok(0));
    }

    #[test]
    fn etsy_checks_the_second_then_the_rolling_day() {
        let t0 = Instant::now();
        let mut limiter = EtsyLimiter::new(2, 3, t0);
        let first = limiter.try_take(t0).unwrap();
        assert_eq!((first.remaining_this_second, first.remaining_today), (1, 2));
        limiter.try_take(t0).unwrap();
        assert_eq!(limiter.try_take(t0), Err(1), "QPS first");
        assert_eq!(limiter.try_take(t0 + secs(1.0)).unwrap().remaining_today, 0);
        // The day is spent; the first 2-hour bucket leaves the window 24 h after it began.
        assert_eq!(limiter.try_take(t0 + secs(2.0)), Err(24 * 3600 - 2));
        assert!(limiter.try_take(t0 + secs(24.0 * 3600.0)).is_ok());
    }

    #[test]
    fn daily_quota_resets_after_a_day() {
        let t0 = Instant::now();
        let mut quota = DailyQuota::new(2, t0);
        assert_eq!(quota.try_take(t0), Ok(1));
        assert_eq!(quota.try_take(t0), Ok(0));
        assert_eq!(quota.try_take(t0 + secs(3600.0)), Err(secs(23.0 * 3600.0)));
        assert_eq!(quota.try_take(t0 + secs(24.0 * 3600.0)), Ok(1));
    }
}
