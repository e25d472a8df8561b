//! What a marketplace documents of its rate limits, in the engine's terms: the operations the
//! engine asks for, the budgets ("buckets") they draw on, how each budget is scoped and counted,
//! and the shape of its limit. The numbers themselves are each platform's profile
//! (`super::profile`); how the engine paces itself below them is `ratelimit`'s.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::profile::DocumentedLimit;
use super::Platform;

/// What the engine asks of a marketplace, in its own terms; each platform maps it onto one of its
/// operations and rate-limit buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Sets listed quantities (the push scheduler's calls).
    PushQuantities,
    /// Reads listed quantities back (reconciliation).
    ReadQuantities,
    /// Fetches order events after a cursor (polling; the backstop once notifications arrive).
    FetchOrders,
    /// Reads one order a notification named (Etsy's receipt, eBay's order, Walmart's purchase
    /// order, Amazon's order items, TikTok Shop's order detail): its own operation so that it
    /// has its own share of a budget shared with pushes and shows apart in the metrics.
    ReadNotifiedOrder,
}

impl Operation {
    /// Every operation, in a fixed order.
    pub const ALL: [Operation; 4] = [
        Operation::PushQuantities,
        Operation::ReadQuantities,
        Operation::FetchOrders,
        Operation::ReadNotifiedOrder,
    ];

    /// Returns the operation's name, as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::PushQuantities => "push_quantities",
            Operation::ReadQuantities => "read_quantities",
            Operation::FetchOrders => "fetch_orders",
            Operation::ReadNotifiedOrder => "read_notified_order",
        }
    }

    /// Returns the platform's own call behind this operation, for logs and documentation.
    pub fn remote_call(self, platform: Platform) -> &'static str {
        match (platform, self) {
            (Platform::Shopify, Operation::PushQuantities) => "inventorySetQuantities",
            (Platform::Shopify, Operation::ReadQuantities) => "inventoryItems query",
            (Platform::Shopify, Operation::FetchOrders) => "orders query",
            // Shopify's webhooks carry the whole order; no single order is read.
            (Platform::Shopify, Operation::ReadNotifiedOrder) => "order query",
            (Platform::Etsy, Operation::PushQuantities) => {
                "PUT /v3/application/listings/{listing_id}/inventory"
            }
            (Platform::Etsy, Operation::ReadQuantities) => {
                "GET /v3/application/listings/{listing_id}/inventory"
            }
            (Platform::Etsy, Operation::FetchOrders) => {
                "GET /v3/application/shops/{shop_id}/receipts"
            }
            (Platform::Etsy, Operation::ReadNotifiedOrder) => {
                "GET /v3/application/shops/{shop_id}/receipts/{receipt_id}"
            }
            (Platform::Amazon, Operation::PushQuantities) => "patchListingsItem",
            (Platform::Amazon, Operation::ReadQuantities) => "getListingsItem",
            (Platform::Amazon, Operation::FetchOrders) => "getOrders",
            (Platform::Amazon, Operation::ReadNotifiedOrder) => "getOrderItems",
            (Platform::Walmart, Operation::PushQuantities) => "PUT /v3/inventory",
            (Platform::Walmart, Operation::ReadQuantities) => "GET /v3/inventory",
            (Platform::Walmart, Operation::FetchOrders) => "GET /v3/orders",
            (Platform::Walmart, Operation::ReadNotifiedOrder) => "GET /v3/orders/{purchaseOrderId}",
            (Platform::Ebay, Operation::PushQuantities) => "bulk_update_price_quantity",
            (Platform::Ebay, Operation::ReadQuantities) => "GET /sell/inventory/v1/inventory_item",
            (Platform::Ebay, Operation::FetchOrders) => "GET /sell/fulfillment/v1/order",
            (Platform::Ebay, Operation::ReadNotifiedOrder) => {
                "GET /sell/fulfillment/v1/order/{orderId}"
            }
            (Platform::TikTok, Operation::PushQuantities) => {
                "POST /product/202309/products/{product_id}/inventory/update"
            }
            (Platform::TikTok, Operation::ReadQuantities) => {
                "POST /product/202309/inventory/search"
            }
            (Platform::TikTok, Operation::FetchOrders) => "POST /order/202309/orders/search",
            (Platform::TikTok, Operation::ReadNotifiedOrder) => "GET /order/202309/orders",
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
    /// One budget per app and store (Shopify, reference §1.3; TikTok Shop's app and shop, §6.3
    /// [U]).
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
    /// TikTok Shop, one budget per app and shop for every call (§6.3 [U]).
    TikTokShop,
}

impl Bucket {
    /// Every bucket, in a fixed order.
    pub const ALL: [Bucket; 13] = [
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
        Bucket::TikTokShop,
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
            (Platform::Amazon, Operation::ReadNotifiedOrder) => Bucket::AmazonGetOrderItems,
            (Platform::Walmart, Operation::PushQuantities) => Bucket::WalmartPutInventory,
            (Platform::Walmart, Operation::ReadQuantities) => Bucket::WalmartGetInventory,
            (Platform::Walmart, Operation::FetchOrders | Operation::ReadNotifiedOrder) => {
                Bucket::WalmartGetOrders
            }
            (Platform::Ebay, Operation::PushQuantities | Operation::ReadQuantities) => {
                Bucket::EbayInventoryApi
            }
            (Platform::Ebay, Operation::FetchOrders | Operation::ReadNotifiedOrder) => {
                Bucket::EbayFulfillmentApi
            }
            (Platform::TikTok, _) => Bucket::TikTokShop,
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
            Bucket::TikTokShop => Platform::TikTok,
        }
    }

    /// Returns how the marketplace scopes the bucket.
    pub fn scope(self) -> Scope {
        match self.platform() {
            Platform::Shopify | Platform::TikTok => Scope::AppStore,
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
            Bucket::TikTokShop => "tiktok_shop",
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

    /// Returns what the marketplace documents for this bucket, as its platform's profile
    /// describes it (with the source of each number).
    pub fn default_limit(self) -> RemoteLimit {
        self.documented().limit
    }

    /// Returns the profile's row of this bucket: the documented limit and where it comes from.
    pub fn documented(self) -> &'static DocumentedLimit {
        self.platform()
            .profile()
            .limits
            .iter()
            .find(|row| row.bucket == self)
            .expect(
                "every bucket has a row in its platform's profile (tested in platform::profile)",
            )
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
