//! The table of platform defaults: which rate-limit bucket each engine operation draws on, what the
//! marketplace documents for that bucket, and how far below it the engine paces itself.
//!
//! Every number comes from `reference/marketplace-apis.md` (section cited beside it). Where a
//! platform reports its live limit (Shopify's `throttleStatus`, Etsy's `x-limit-*` headers, Amazon's
//! `x-amzn-RateLimit-Limit`), a channel override carries the live value; these are only the
//! starting point (reference §0: "the engine should read that value rather than rely on the
//! numbers below").

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use serde::{Deserialize, Serialize};

use crate::platform::Platform;

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
/// burst, and an Etsy push is two calls ([`ETSY_PUSH_CALLS`]). With 10 QPS: a burst of 2 plus 6
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

/// What the engine asks of a marketplace, in its own terms; each platform maps it onto one of its
/// operations and rate-limit buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Sets listed quantities (the push scheduler's calls).
    PushQuantities,
    /// Reads listed quantities back (reconciliation).
    ReadQuantities,
    /// Fetches order events after a cursor (polling).
    FetchOrders,
}

impl Operation {
    /// Every operation, in a fixed order.
    pub const ALL: [Operation; 3] = [
        Operation::PushQuantities,
        Operation::ReadQuantities,
        Operation::FetchOrders,
    ];

    /// Returns the operation's name, as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::PushQuantities => "push_quantities",
            Operation::ReadQuantities => "read_quantities",
            Operation::FetchOrders => "fetch_orders",
        }
    }

    /// Returns the platform's own call behind this operation, for logs and documentation.
    pub fn remote_call(self, platform: Platform) -> &'static str {
        match (platform, self) {
            (Platform::Shopify, Operation::PushQuantities) => "inventorySetQuantities",
            (Platform::Shopify, Operation::ReadQuantities) => "inventoryItems query",
            (Platform::Shopify, Operation::FetchOrders) => "orders query",
            (Platform::Etsy, Operation::PushQuantities) => {
                "PUT /v3/application/listings/{listing_id}/inventory"
            }
            (Platform::Etsy, Operation::ReadQuantities) => {
                "GET /v3/application/listings/{listing_id}/inventory"
            }
            (Platform::Etsy, Operation::FetchOrders) => {
                "GET /v3/application/shops/{shop_id}/receipts"
            }
            (Platform::Amazon, Operation::PushQuantities) => "patchListingsItem",
            (Platform::Amazon, Operation::ReadQuantities) => "getListingsItem",
            (Platform::Amazon, Operation::FetchOrders) => "getOrders",
            (Platform::Walmart, Operation::PushQuantities) => "PUT /v3/inventory",
            (Platform::Walmart, Operation::ReadQuantities) => "GET /v3/inventory",
            (Platform::Walmart, Operation::FetchOrders) => "GET /v3/orders",
            (Platform::Ebay, Operation::PushQuantities) => "bulk_update_price_quantity",
            (Platform::Ebay, Operation::ReadQuantities) => "GET /sell/inventory/v1/inventory_item",
            (Platform::Ebay, Operation::FetchOrders) => "GET /sell/fulfillment/v1/order",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a marketplace scopes one of its budgets, which decides what a limiter is keyed by
/// (reference §7 note 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One budget per app and store (Shopify, reference §1.3).
    AppStore,
    /// One budget per seller+app pair and operation (Amazon, reference §3.3).
    SellerOperation,
    /// One budget per app key, shared by every client the agency connects through it (Etsy,
    /// reference §2.3).
    App,
    /// One budget per seller and endpoint (Walmart, reference §4.3).
    SellerEndpoint,
    /// One daily budget per app and API, shared by every client (eBay, reference §5.3).
    AppApi,
}

impl Scope {
    /// Tells whether every client using the same app shares the budget, so that it has to be
    /// divided fairly between them.
    pub fn is_app_wide(self) -> bool {
        matches!(self, Scope::App | Scope::AppApi)
    }
}

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// One per call.
    Requests,
    /// Query cost points (Shopify GraphQL: a call costs its requested query cost).
    CostPoints,
}

/// A marketplace's short-term limit, in the shape the marketplace enforces it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShortTermLimit {
    /// A bucket of `burst` that refills continuously at `per_second` (Shopify's leaky buckets,
    /// Amazon's and Walmart's token buckets).
    TokenBucket {
        /// The refill (leak, restore) rate, in the bucket's unit per second.
        per_second: f64,
        /// The bucket's depth.
        burst: u32,
    },
    /// A counter of at most `per_second` calls in each second (Etsy's QPS with
    /// `x-remaining-this-second`, reference §2.3).
    PerSecondWindow {
        /// Calls allowed in one second.
        per_second: u32,
    },
}

/// What a marketplace documents for one budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteLimit {
    /// The short-term limit, if the budget has one (eBay's has none: reference §5.3).
    pub short_term: Option<ShortTermLimit>,
    /// The calls (or points) allowed per day, if the budget has a daily quota.
    pub per_day: Option<u32>,
}

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

/// A marketplace's rate-limit bucket: the budget that one or more of its calls draw on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// Shopify Admin GraphQL, one cost-point bucket per app+store shared by every query and
    /// mutation.
    ShopifyGraphql,
    /// Shopify Admin REST (legacy), one request bucket per app+store; for a REST connector only.
    ShopifyRest,
    /// Etsy Open API v3, the app key's QPS and QPD.
    EtsyApp,
    /// Amazon SP-API `patchListingsItem`.
    AmazonPatchListingsItem,
    /// Amazon SP-API `getListingsItem`.
    AmazonGetListingsItem,
    /// Amazon SP-API Orders v0 `getOrders`.
    AmazonGetOrders,
    /// Amazon SP-API Orders v0 `getOrderItems` (the line items of each order fetched).
    AmazonGetOrderItems,
    /// Walmart `PUT /v3/inventory`.
    WalmartPutInventory,
    /// Walmart `GET /v3/inventory`.
    WalmartGetInventory,
    /// Walmart `GET /v3/orders`.
    WalmartGetOrders,
    /// eBay Sell Inventory API, daily quota per app.
    EbayInventoryApi,
    /// eBay Sell Fulfillment API, daily quota per app.
    EbayFulfillmentApi,
}

impl Bucket {
    /// Every bucket, in a fixed order.
    pub const ALL: [Bucket; 12] = [
        Bucket::ShopifyGraphql,
        Bucket::ShopifyRest,
        Bucket::EtsyApp,
        Bucket::AmazonPatchListingsItem,
        Bucket::AmazonGetListingsItem,
        Bucket::AmazonGetOrders,
        Bucket::AmazonGetOrderItems,
        Bucket::WalmartPutInventory,
        Bucket::WalmartGetInventory,
        Bucket::WalmartGetOrders,
        Bucket::EbayInventoryApi,
        Bucket::EbayFulfillmentApi,
    ];

    /// Returns the bucket an operation draws on. Shopify goes through GraphQL (the `Platform`
    /// enum's Shopify is the GraphQL Admin API); the REST bucket serves a legacy connector only.
    pub fn for_operation(platform: Platform, operation: Operation) -> Bucket {
        match (platform, operation) {
            (Platform::Shopify, _) => Bucket::ShopifyGraphql,
            (Platform::Etsy, _) => Bucket::EtsyApp,
            (Platform::Amazon, Operation::PushQuantities) => Bucket::AmazonPatchListingsItem,
            (Platform::Amazon, Operation::ReadQuantities) => Bucket::AmazonGetListingsItem,
            (Platform::Amazon, Operation::FetchOrders) => Bucket::AmazonGetOrders,
            (Platform::Walmart, Operation::PushQuantities) => Bucket::WalmartPutInventory,
            (Platform::Walmart, Operation::ReadQuantities) => Bucket::WalmartGetInventory,
            (Platform::Walmart, Operation::FetchOrders) => Bucket::WalmartGetOrders,
            (Platform::Ebay, Operation::PushQuantities | Operation::ReadQuantities) => {
                Bucket::EbayInventoryApi
            }
            (Platform::Ebay, Operation::FetchOrders) => Bucket::EbayFulfillmentApi,
        }
    }

    /// Returns the platform the bucket belongs to.
    pub fn platform(self) -> Platform {
        match self {
            Bucket::ShopifyGraphql | Bucket::ShopifyRest => Platform::Shopify,
            Bucket::EtsyApp => Platform::Etsy,
            Bucket::AmazonPatchListingsItem
            | Bucket::AmazonGetListingsItem
            | Bucket::AmazonGetOrders
            | Bucket::AmazonGetOrderItems => Platform::Amazon,
            Bucket::WalmartPutInventory
            | Bucket::WalmartGetInventory
            | Bucket::WalmartGetOrders => Platform::Walmart,
            Bucket::EbayInventoryApi | Bucket::EbayFulfillmentApi => Platform::Ebay,
        }
    }

    /// Returns how the marketplace scopes the bucket.
    pub fn scope(self) -> Scope {
        match self.platform() {
            Platform::Shopify => Scope::AppStore,
            Platform::Etsy => Scope::App,
            Platform::Amazon => Scope::SellerOperation,
            Platform::Walmart => Scope::SellerEndpoint,
            Platform::Ebay => Scope::AppApi,
        }
    }

    /// Returns what the bucket counts.
    pub fn unit(self) -> Unit {
        match self {
            Bucket::ShopifyGraphql => Unit::CostPoints,
            _ => Unit::Requests,
        }
    }

    /// Returns the bucket's stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::ShopifyGraphql => "shopify_graphql",
            Bucket::ShopifyRest => "shopify_rest",
            Bucket::EtsyApp => "etsy_app",
            Bucket::AmazonPatchListingsItem => "amazon_patch_listings_item",
            Bucket::AmazonGetListingsItem => "amazon_get_listings_item",
            Bucket::AmazonGetOrders => "amazon_get_orders",
            Bucket::AmazonGetOrderItems => "amazon_get_order_items",
            Bucket::WalmartPutInventory => "walmart_put_inventory",
            Bucket::WalmartGetInventory => "walmart_get_inventory",
            Bucket::WalmartGetOrders => "walmart_get_orders",
            Bucket::EbayInventoryApi => "ebay_inventory_api",
            Bucket::EbayFulfillmentApi => "ebay_fulfillment_api",
        }
    }

    /// Returns the part of its owner's budget an operation may take, as `(part, whole)`, when
    /// several operations share the bucket (Shopify GraphQL, Etsy's app budget, eBay's Inventory
    /// API): order polls at most [`ORDER_POLL_SHARE`] and read-backs at most
    /// [`READ_BACK_SHARE`], so that pushes always keep the rest and polls run only as often as
    /// the budget (on Etsy, its daily quota) can afford. Pushes have no cap of their own. `None`
    /// for an operation alone on its bucket (Amazon's and Walmart's per-operation buckets).
    pub fn operation_share(self, operation: Operation) -> Option<(u32, u32)> {
        let platform = self.platform();
        let sharing = Operation::ALL
            .into_iter()
            .filter(|other| Bucket::for_operation(platform, *other) == self)
            .count();
        if sharing < 2 || Bucket::for_operation(platform, operation) != self {
            return None;
        }
        match operation {
            Operation::PushQuantities => None,
            Operation::FetchOrders => Some(ORDER_POLL_SHARE),
            Operation::ReadQuantities => Some(READ_BACK_SHARE),
        }
    }

    /// Returns the most listings one push call may carry on this bucket's API.
    pub fn max_items_per_call(self) -> usize {
        match self {
            // `POST inventory_levels/set.json` takes one item (reference §0).
            Bucket::ShopifyRest => 1,
            // Shopify 250, eBay 25, one listing per call elsewhere (reference §0).
            _ => self.platform().batch_size(),
        }
    }

    /// Returns what the marketplace documents for this bucket. Each number cites its line in
    /// `reference/marketplace-apis.md`.
    pub fn default_limit(self) -> RemoteLimit {
        let bucket = |per_second: f64, burst: u32| RemoteLimit {
            short_term: Some(ShortTermLimit::TokenBucket { per_second, burst }),
            per_day: None,
        };
        match self {
            // §1.3 GraphQL: "Points restored per second: Standard 100". The bucket size is [U]:
            // the docs' example shows maximumAvailable 1000, third parties report 2000 for 100/s;
            // the smaller is assumed, and a channel override sets the live value.
            Bucket::ShopifyGraphql => bucket(100.0, 1000),
            // §1.3 REST: "Standard | 40 requests per app per store | 2/s".
            Bucket::ShopifyRest => bucket(2.0, 40),
            // §2.3: "Old default 10 QPS / 10,000 QPD" (§0); QPS is a per-second counter
            // (`x-remaining-this-second`), QPD a rolling 24 h window.
            Bucket::EtsyApp => RemoteLimit {
                short_term: Some(ShortTermLimit::PerSecondWindow { per_second: 10 }),
                per_day: Some(10_000),
            },
            // §3.3: "patchListingsItem / deleteListingsItem / searchListingsItems | 5 | 5".
            Bucket::AmazonPatchListingsItem => bucket(5.0, 5),
            // §3.3: "getListingsItem / putListingsItem | 5 | 10".
            Bucket::AmazonGetListingsItem => bucket(5.0, 10),
            // §3.3: "getOrders (v0) | 0.0167 (≈1/min) | 20".
            Bucket::AmazonGetOrders => bucket(0.0167, 20),
            // §3.3: "getOrder / getOrderItems (v0) | 0.5 | 30".
            Bucket::AmazonGetOrderItems => bucket(0.5, 30),
            // §4.3 [T]: "PUT /v3/inventory | 200/min"; the bucket "refills gradually" (W4) and
            // its depth is not documented: one minute's allowance is assumed.
            Bucket::WalmartPutInventory => bucket(200.0 / 60.0, 200),
            // §4.3 [T]: "GET /v3/inventory | 200/min"; depth assumed as above.
            Bucket::WalmartGetInventory => bucket(200.0 / 60.0, 200),
            // §4.3 [T]: "GET /v3/orders | 5000/min"; depth assumed as above.
            Bucket::WalmartGetOrders => bucket(5000.0 / 60.0, 5000),
            // §5.3 [T]: "Inventory | 2,000,000" calls per day per app.
            Bucket::EbayInventoryApi => RemoteLimit {
                short_term: None,
                per_day: Some(2_000_000),
            },
            // §5.3 [T]: "Fulfillment | 100,000" calls per day per app.
            Bucket::EbayFulfillmentApi => RemoteLimit {
                short_term: None,
                per_day: Some(100_000),
            },
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part of a shared budget order polls may take (see [`Bucket::operation_share`]): with
/// Etsy's default 10,000 calls a day split between two shops of equal tier, one poll every
/// 58 s per shop once the daily burst is spent — what the quota affords; push notifications
/// (issue 14) make the poll a backstop.
pub const ORDER_POLL_SHARE: (u32, u32) = (3, 10);

/// The part of a shared budget read-backs (reconciliation) may take; what reconciliation cannot
/// afford shows as the channel's oldest unverified listing.
pub const READ_BACK_SHARE: (u32, u32) = (2, 10);

/// Calls one Etsy push makes (`GET` then full-replacement `PUT` of the listing's inventory).
pub const ETSY_PUSH_CALLS: u32 = 2;

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
            // Etsy's inventory is replaced whole: a push is a GET of the listing's inventory and
            // then the PUT (reference §2.1), two calls against the app's QPS and QPD.
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
