//! How far below what a marketplace documents the engine paces itself, and what a call costs. The
//! documented limits themselves, with the source of each number, are each platform's profile on
//! the engine's ground floor (`crate::platform::profile`, read through [`Bucket::default_limit`]),
//! as are the buckets and operations they are written in (`crate::platform::limits`).
//!
//! Where a platform reports its live limit (Shopify's `throttleStatus`, Etsy's `x-limit-*` headers, Amazon's
//! `x-amzn-RateLimit-Limit`), a channel override carries the live value; these are only the
//! starting point (reference §0: "the engine should read that value rather than rely on the
//! numbers below").

use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;

use crate::platform::{Bucket, Operation, Platform, RemoteLimit, ShortTermLimit};

/// The share of a remote rate the engine uses: pacing 10 % under the marketplace's own refill
/// absorbs clock drift and network jitter between our clock and theirs (reliability.md §5: start
/// below the remote bucket, so that steady state causes zero 429s).
pub const RATE_HEADROOM: f64 = 0.9;

/// The local burst of a token bucket is the remote bucket's depth divided by this: half the
/// remote bucket stays in reserve for requests that arrive bunched up (reliability.md §5).
pub const TOKEN_BUCKET_BURST_DIVISOR: u32 = 2;

/// The share of a per-second call counter the engine paces at. Lower than [`RATE_HEADROOM`]: the
/// counter resets on fixed second boundaries, and a call let through near the end of one second
/// may arrive in the next (network delay; the `PUT` of an Etsy push follows its `GET` by one round
/// trip); and a call of two cells may pay one of them in an earlier second (see the limiter's
/// `Stage`). With 10 QPS: a burst of 2, 6 paced calls and 1 paid earlier leave a tenth of the
/// counter spare for stragglers.
pub const WINDOW_HEADROOM: f64 = 0.6;

/// The local burst against a per-second call counter is the counter divided by this, so that
/// burst plus one second of paced calls stays within the counter (Etsy QPS, reference §2.3). The
/// burst must also hold the budget's largest call: a limiter stage charges a call at most its
/// burst, and an Etsy push that reads its listing first is two calls ([`ETSY_PUSH_CALLS`] and the
/// read the connector reports by `Marketplace::push_extra_calls`). With 10 QPS: a burst of 2 plus 6
/// paced calls and one prepaid cell, 9 in any second. (With a burst of 1 each push was charged
/// one call, and the smoke bench received 2–3 throttled Etsy replies in 8 s.)
pub const WINDOW_BURST_DIVISOR: u32 = 5;

/// The local burst of a daily quota is the quota divided by this; with the rate at
/// [`RATE_HEADROOM`] of the quota, any 24 h window holds at most 95 % of it (Etsy's rolling QPD,
/// reference §2.3; eBay's daily quotas, §5.3).
pub const DAILY_BURST_DIVISOR: u32 = 20;

/// The longest interval between two cells a [`Rate`] keeps (slower rates are rounded up to it).
pub const MAX_INTERVAL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The longest time a [`Rate`]'s burst may take to refill (bigger bursts get a shorter interval).
pub const MAX_REFILL_TIME: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// The length of the window a daily quota counts over.
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The estimated cost in points of a Shopify GraphQL query (a read-back or an orders page): the
/// connector passes the real `requestedQueryCost` when it knows it; this estimate covers a page
/// of about 50 items with one nested object each (connections cost by `first`, reference §1.3).
pub const SHOPIFY_QUERY_COST_ESTIMATE: u32 = 100;

/// The cost in points of a Shopify GraphQL mutation such as `inventorySetQuantities`
/// (reference §1.1 and §1.3: "mutation 10").
pub const SHOPIFY_MUTATION_COST: u32 = 10;

// The engine's pacing of a documented limit is the limiter's business, so it sits here beside
// the headroom it applies; the limit itself is the platform's description (`crate::platform`).
impl RemoteLimit {
    /// Returns the engine's pacing for this limit: the remote rate times [`RATE_HEADROOM`] and a
    /// burst kept below the remote's, so that steady state never meets the remote's limit.
    pub fn pacing(&self) -> Pacing {
        let short_term = self.short_term.map(|limit| match limit {
            ShortTermLimit::TokenBucket { per_second, burst } => Rate::per_second(
                per_second * RATE_HEADROOM,
                (burst / TOKEN_BUCKET_BURST_DIVISOR).max(1),
            ),
            // In any one-second window GCRA lets through at most burst + rate calls (and a
            // multi-cell call one prepaid cell more); per_second / 5 + 0.6 × per_second + 1
            // leaves a tenth of a 10 QPS counter for stragglers.
            ShortTermLimit::PerSecondWindow { per_second } => Rate::per_second(
                f64::from(per_second) * WINDOW_HEADROOM,
                (per_second / WINDOW_BURST_DIVISOR).max(1),
            ),
        });
        let daily = self.per_day.map(|per_day| {
            Rate::per_period(
                f64::from(per_day) * RATE_HEADROOM,
                DAY,
                (per_day / DAILY_BURST_DIVISOR).max(1),
            )
        });
        Pacing { short_term, daily }
    }
}

/// One rate the engine paces itself by: a cell every `interval`, with up to `burst` cells at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    interval: Duration,
    burst: NonZeroU32,
}

impl Rate {
    /// Creates a rate of `per_second` cells per second with a burst of `burst` (at least 1). The
    /// interval is rounded up to the nanosecond, so the rate never exceeds `per_second`.
    pub fn per_second(per_second: f64, burst: u32) -> Rate {
        Rate::per_period(per_second, Duration::from_secs(1), burst)
    }

    /// Creates a rate of `count` cells per `period` with a burst of `burst` (at least 1), the
    /// interval rounded up to the nanosecond.
    pub fn per_period(count: f64, period: Duration, burst: u32) -> Rate {
        let nanos = (period.as_nanos() as f64 / count).ceil();
        // A zero, negative or NaN count gives the slowest rate rather than no limit at all; the
        // float-to-int conversion saturates.
        let interval_nanos = if nanos.is_nan() || nanos <= 0.0 {
            u64::MAX
        } else {
            nanos as u64
        };
        Rate::bounded(u128::from(interval_nanos), burst)
    }

    /// Builds a rate whose interval and refill time stay far inside governor's u64 nanoseconds
    /// (whose arithmetic would overflow otherwise): an interval of at least 1 ns and at most a
    /// year, a refill time of at most [`MAX_REFILL_TIME`].
    fn bounded(interval_nanos: u128, burst: u32) -> Rate {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let longest = MAX_INTERVAL
            .as_nanos()
            .min(MAX_REFILL_TIME.as_nanos() / u128::from(burst.get()));
        let nanos = interval_nanos.clamp(1, longest.max(1));
        Rate {
            interval: Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)),
            burst,
        }
    }

    /// Returns the time between two cells at the sustained rate.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Returns the most cells let through at once.
    pub fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// Returns the sustained rate in cells per second.
    pub fn sustained_per_second(&self) -> f64 {
        1e9 / self.interval.as_nanos() as f64
    }

    /// Returns the time an empty bucket takes to refill its whole burst; after that long unused,
    /// a limiter is indistinguishable from a new one (governor's `retain_recent` rule).
    pub fn refill_time(&self) -> Duration {
        self.interval.saturating_mul(self.burst.get())
    }

    /// Returns the part of this rate that a client of weight `weight` gets out of `total_weight`:
    /// the rate scaled by weight / total (interval rounded up, so shares never add up to more
    /// than the whole) and the burst scaled down, at least 1.
    pub fn share(&self, weight: u32, total_weight: u32) -> Rate {
        let weight = u128::from(weight.max(1));
        let total = u128::from(total_weight.max(1)).max(weight);
        let interval_nanos = (self.interval.as_nanos() * total).div_ceil(weight);
        let burst = u128::from(self.burst.get()) * weight / total;
        Rate::bounded(interval_nanos, u32::try_from(burst).unwrap_or(u32::MAX))
    }

    /// Returns the governor quota for this rate.
    pub fn quota(&self) -> Quota {
        // `with_period` refuses only a zero interval, which `per_period` and `share` never make.
        Quota::with_period(self.interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(self.burst)
    }
}

/// How the engine paces one budget: a short-term rate and a daily rate, each optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pacing {
    /// The short-term rate (per second).
    pub short_term: Option<Rate>,
    /// The daily rate.
    pub daily: Option<Rate>,
}

// Which part of a shared budget each operation may take is the engine's policy, not the
// platform's: here, beside the shares.
impl Bucket {
    /// Returns the part of its owner's budget an operation may take, as `(part, whole)`, when
    /// it shares the bucket with pushes (Shopify GraphQL, Etsy's app budget, eBay's Inventory
    /// API): order polls at most [`ORDER_POLL_SHARE`], reads of notified orders at most
    /// [`NOTIFIED_READ_SHARE`] and read-backs at most [`READ_BACK_SHARE`], so that pushes always
    /// keep the rest and polls run only as often as the budget (on Etsy, its daily quota) can
    /// afford. Pushes have no cap of their own. `None` for an operation alone on its bucket
    /// (Amazon's and Walmart's per-operation buckets) and on a bucket no push draws on (Walmart's
    /// orders, eBay's Fulfillment API), where the order reads only compete with each other.
    pub fn operation_share(self, operation: Operation) -> Option<(u32, u32)> {
        let platform = self.platform();
        let pushes_share = Bucket::for_operation(platform, Operation::PushQuantities) == self;
        if !pushes_share || Bucket::for_operation(platform, operation) != self {
            return None;
        }
        match operation {
            Operation::PushQuantities => None,
            Operation::FetchOrders => Some(ORDER_POLL_SHARE),
            Operation::ReadNotifiedOrder => Some(NOTIFIED_READ_SHARE),
            Operation::ReadQuantities => Some(READ_BACK_SHARE),
        }
    }
}

/// The part of a shared budget order polls may take (see [`Bucket::operation_share`]): with
/// Etsy's default 10,000 calls a day split between two shops of equal tier, one poll every
/// 58 s per shop once the daily burst is spent — what the quota affords; push notifications
/// (issue 14) make the poll a backstop.
pub const ORDER_POLL_SHARE: (u32, u32) = (3, 10);

/// The part of a shared budget the reads of notified orders may take (see
/// [`Bucket::operation_share`]): a notified sale is the signal every sibling listing waits for,
/// so its read gets the largest capped part; with notifications on, the poll is a backstop that
/// runs rarely and leaves its part unused.
pub const NOTIFIED_READ_SHARE: (u32, u32) = (4, 10);

/// The part of a shared budget read-backs (reconciliation) may take; what reconciliation cannot
/// afford shows as the channel's oldest unverified listing.
pub const READ_BACK_SHARE: (u32, u32) = (2, 10);

/// Calls one Etsy push makes when the connector holds the listing's inventory structure: the
/// full-replacement `PUT` (issue 14). A listing it does not hold is read first, one more call the
/// connector reports by `Marketplace::push_extra_calls` and the channel charges with the push.
pub const ETSY_PUSH_CALLS: u32 = 1;

/// The rate-limit facts of one operation on one bucket: what the marketplace allows, what a call
/// costs, and how many listings a call may carry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitSpec {
    /// The bucket the operation draws on.
    pub bucket: Bucket,
    /// The operation.
    pub operation: Operation,
    /// What the marketplace allows (the default, or a channel's or app's override).
    pub remote: RemoteLimit,
    /// The default cost of one call, in the bucket's unit.
    pub call_cost: u32,
    /// The most listings one push call may carry.
    pub max_items_per_call: usize,
}

impl RateLimitSpec {
    /// Returns the default spec of `operation` on `platform`.
    pub fn default_for(platform: Platform, operation: Operation) -> RateLimitSpec {
        RateLimitSpec::for_bucket(Bucket::for_operation(platform, operation), operation)
    }

    /// Returns the default spec of `operation` charged to `bucket` (for calls outside the
    /// operation's own bucket, such as Amazon's `getOrderItems` while fetching orders).
    pub fn for_bucket(bucket: Bucket, operation: Operation) -> RateLimitSpec {
        let call_cost = match (bucket, operation) {
            (Bucket::ShopifyGraphql, Operation::PushQuantities) => SHOPIFY_MUTATION_COST,
            (Bucket::ShopifyGraphql, _) => SHOPIFY_QUERY_COST_ESTIMATE,
            // Etsy's inventory is replaced whole (reference §2.1): the PUT is the push's call; a
            // GET of a listing the connector does not hold is charged on top, per batch.
            (Bucket::EtsyApp, Operation::PushQuantities) => ETSY_PUSH_CALLS,
            _ => 1,
        };
        RateLimitSpec {
            bucket,
            operation,
            remote: bucket.default_limit(),
            call_cost,
            max_items_per_call: bucket.max_items_per_call(),
        }
    }

    /// Returns the platform.
    pub fn platform(&self) -> Platform {
        self.bucket.platform()
    }

    /// Returns the engine's pacing for this spec.
    pub fn pacing(&self) -> Pacing {
        self.remote.pacing()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_splits_a_rate_by_weight_without_exceeding_it() {
        let whole = Rate::per_second(40.0, 4);
        let small = whole.share(1, 4);
        let large = whole.share(3, 4);
        assert!((small.sustained_per_second() - 10.0).abs() < 1e-6);
        assert!((large.sustained_per_second() - 30.0).abs() < 1e-6);
        assert!(
            small.sustained_per_second() + large.sustained_per_second()
                <= whole.sustained_per_second()
        );
        assert_eq!((small.burst(), large.burst()), (1, 3));
        // A share of a burst too small to split still lets one call through.
        assert_eq!(Rate::per_second(9.0, 1).share(1, 7).burst(), 1);
    }

    #[test]
    fn nonsense_rates_become_the_slowest_rate_not_no_limit() {
        for count in [0.0, -3.0, f64::NAN, 1e-30] {
            let rate = Rate::per_second(count, 1);
            assert_eq!(rate.interval(), MAX_INTERVAL, "{count}");
        }
        let huge_burst = Rate::per_second(1e-5, u32::MAX);
        assert!(huge_burst.refill_time() <= MAX_REFILL_TIME);
        // governor accepts it and does not overflow.
        let _quota = huge_burst.quota();
    }

    #[test]
    fn intervals_round_up_so_rates_never_exceed_what_was_asked() {
        for per_second in [0.0167 * RATE_HEADROOM, 3.0, 7.0, 90.0, 135.0] {
            assert!(Rate::per_second(per_second, 1).sustained_per_second() <= per_second);
        }
    }
}
