//! One description per platform: everything the engine (and the service's wiring) must know of a
//! marketplace, in one value. What one push or read-back call may carry, whether a push can be
//! compare-and-set, what a listing may show, how orders reach shelfsync, and what the marketplace
//! documents of its rate limits, each number with its source (a section of
//! `reference/marketplace-apis.md` and the page that section read), and which hosts serve its API
//! (what a deployment that allows only official hosts admits, `src/platforms/egress.rs`).

use super::limits::{Bucket, RemoteLimit, ShortTermLimit};
use super::Platform;

/// What the engine must know of one platform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlatformProfile {
    /// The platform described.
    pub platform: Platform,
    /// The most listings one push call may carry.
    pub batch_size: usize,
    /// The most listings one read-back call asks for.
    pub read_batch_size: usize,
    /// Whether a push can say "only if the listing still shows N".
    pub compare_and_set: bool,
    /// What one listing may show.
    pub quantity: QuantityBounds,
    /// How orders reach shelfsync.
    pub intake: OrderIntake,
    /// What the marketplace documents of each of its rate-limit budgets.
    pub limits: &'static [DocumentedLimit],
    /// The hosts that serve its API.
    pub hosts: ApiHosts,
}

/// The hosts a platform documents for its API: named hosts, or one store's host under a platform
/// domain (Shopify's `{shop}.myshopify.com`). Host names are compared in lower case, without a
/// trailing dot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiHosts {
    /// Exactly these hosts (production and sandbox alike).
    Named(&'static [&'static str]),
    /// `{store}.{domain}`, where `{store}` is one label of lower-case letters, digits and hyphens
    /// (no deeper subdomain, so `a.b.myshopify.com` is not a store).
    StoreOf(&'static str),
}

impl ApiHosts {
    /// Whether `host` (lower case, a trailing dot allowed) is one of these hosts.
    pub fn admit(self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        match self {
            ApiHosts::Named(names) => names.contains(&host),
            ApiHosts::StoreOf(domain) => host
                .strip_suffix(domain)
                .and_then(|store| store.strip_suffix('.'))
                .is_some_and(|store| {
                    !store.is_empty()
                        && store
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                }),
        }
    }
}

/// What one listing may show: from 0 up to `max` units, where the platform caps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantityBounds {
    /// The most units a listing may show; `None` where the platform sets no cap.
    pub max: Option<u32>,
}

/// How orders reach shelfsync on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderIntake {
    /// The marketplace pushes order notifications that the service receives (every platform
    /// since issue 14: Shopify's carry whole orders, the others name an order to read).
    pub webhooks: bool,
    /// The connector polls the order feed (every platform: the backstop of a webhook).
    pub polling: bool,
}

/// A platform whose notifications name an order to read (its feed polled as the backstop),
/// that sets and reads one listing per call, with no compare-and-set and no cap on the
/// quantity: Amazon and Walmart; Etsy, eBay and TikTok Shop say how they differ.
const fn notified(
    platform: Platform,
    limits: &'static [DocumentedLimit],
    hosts: ApiHosts,
) -> PlatformProfile {
    PlatformProfile {
        platform,
        batch_size: 1,
        read_batch_size: 1,
        compare_and_set: false,
        quantity: QuantityBounds { max: None },
        intake: OrderIntake {
            webhooks: true,
            polling: true,
        },
        limits,
        hosts,
    }
}

/// What a marketplace documents for one budget, and where that is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DocumentedLimit {
    /// The budget.
    pub bucket: Bucket,
    /// Its documented limit: the engine's default, below which it paces itself.
    pub limit: RemoteLimit,
    /// Where each number comes from.
    pub source: &'static str,
}

/// A token bucket of `per_second` and `burst`, without a daily quota.
const fn token_bucket(per_second: f64, burst: u32) -> RemoteLimit {
    RemoteLimit {
        short_term: Some(ShortTermLimit::TokenBucket { per_second, burst }),
        per_day: None,
    }
}

/// A daily quota without a short-term limit.
const fn daily(per_day: u32) -> RemoteLimit {
    RemoteLimit {
        short_term: None,
        per_day: Some(per_day),
    }
}

/// Shopify Admin GraphQL: `inventorySetQuantities` takes 250 quantities (the global input-array
/// cap, §0, §1.1), compare-and-set since API 2026-04 (`changeFromQuantity` mandatory, §1.1), a read
/// of 50 inventory items a query (the page the query cost estimate assumes), order webhooks (§1.2)
/// with polling as the reconciliation path; each shop's own `{shop}.myshopify.com` (§1).
pub const SHOPIFY: PlatformProfile = PlatformProfile {
    platform: Platform::Shopify,
    batch_size: 250,
    read_batch_size: 50,
    compare_and_set: true,
    quantity: QuantityBounds { max: None },
    intake: OrderIntake {
        webhooks: true,
        polling: true,
    },
    limits: &[
        DocumentedLimit {
            bucket: Bucket::ShopifyGraphql,
            limit: token_bucket(100.0, 1000),
            source: "§1.3 GraphQL [V S2 https://shopify.dev/docs/api/usage/limits]: \"Points \
                     restored per second: Standard 100\". The bucket size is [U]: the docs' example \
                     shows maximumAvailable 1000, third parties report 2000 for 100/s; the smaller \
                     is assumed, and a channel override sets the live value",
        },
        DocumentedLimit {
            bucket: Bucket::ShopifyRest,
            limit: token_bucket(2.0, 40),
            source: "§1.3 REST [V S1 https://shopify.dev/docs/api/admin-rest/usage/rate-limits]: \
                     \"Standard | 40 requests per app per store | 2/s\"",
        },
    ],
    hosts: ApiHosts::StoreOf("myshopify.com"),
};

/// Etsy Open API v3: one listing per call, its inventory replaced whole (§2.1), offerings of 0–999
/// units (§2.1), receipts polled (§2.2), served by `api.etsy.com` (§2) and its equivalent
/// `openapi.etsy.com`.
pub const ETSY: PlatformProfile = PlatformProfile {
    quantity: QuantityBounds { max: Some(999) },
    ..notified(
        Platform::Etsy,
        &[DocumentedLimit {
            bucket: Bucket::EtsyApp,
            limit: RemoteLimit {
                short_term: Some(ShortTermLimit::PerSecondWindow { per_second: 10 }),
                per_day: Some(10_000),
            },
            source:
                "§2.3 [V E1 https://developers.etsy.com/documentation/essentials/rate-limits] and \
                 §0: \"Old default 10 QPS / 10,000 QPD\"; QPS is a per-second counter \
                 (`x-remaining-this-second`), QPD a rolling 24 h window",
        }],
        ApiHosts::Named(&["api.etsy.com", "openapi.etsy.com"]),
    )
};

/// Amazon SP-API: one SKU per `patchListingsItem` (§0, §3.1), read with `getListingsItem`, orders
/// polled with `getOrders` (§3.2), served by the regional `sellingpartnerapi-{na,eu,fe}` hosts
/// (§3.4) and their sandboxes (`sandbox.` before each, from Amazon's own SP-API sandbox page, which
/// the reference does not copy).
pub const AMAZON: PlatformProfile = notified(
    Platform::Amazon,
    &[
        DocumentedLimit {
            bucket: Bucket::AmazonPatchListingsItem,
            limit: token_bucket(5.0, 5),
            source: "§3.3 [V A1, A2 https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-\
                     rate-limits]: \"patchListingsItem / deleteListingsItem / searchListingsItems \
                     | 5 | 5\"",
        },
        DocumentedLimit {
            bucket: Bucket::AmazonGetListingsItem,
            limit: token_bucket(5.0, 10),
            source: "§3.3 [V A1]: \"getListingsItem / putListingsItem | 5 | 10\"",
        },
        DocumentedLimit {
            bucket: Bucket::AmazonGetOrders,
            limit: token_bucket(0.0167, 20),
            source: "§3.3 [V A1]: \"getOrders (v0) | 0.0167 (≈1/min) | 20\"",
        },
        DocumentedLimit {
            bucket: Bucket::AmazonGetOrderItems,
            limit: token_bucket(0.5, 30),
            source: "§3.3 [V A1]: \"getOrder / getOrderItems (v0) | 0.5 | 30\"",
        },
    ],
    ApiHosts::Named(&[
        "sellingpartnerapi-na.amazon.com",
        "sellingpartnerapi-eu.amazon.com",
        "sellingpartnerapi-fe.amazon.com",
        "sandbox.sellingpartnerapi-na.amazon.com",
        "sandbox.sellingpartnerapi-eu.amazon.com",
        "sandbox.sellingpartnerapi-fe.amazon.com",
    ]),
);

/// Walmart Marketplace: one SKU per `PUT /v3/inventory` (§4.1), orders polled from
/// `GET /v3/orders` (§4.2), served by `marketplace.walmartapis.com` and its sandbox (§4).
pub const WALMART: PlatformProfile = notified(
    Platform::Walmart,
    &[
        DocumentedLimit {
            bucket: Bucket::WalmartPutInventory,
            limit: token_bucket(200.0 / 60.0, 200),
            source: "§4.3 [T, W4 https://developer.walmart.com/us-marketplace/docs/throttling]: \
                     \"PUT /v3/inventory | 200/min\"; the bucket \"refills gradually\" and its \
                     depth is not documented: one minute's allowance is assumed",
        },
        DocumentedLimit {
            bucket: Bucket::WalmartGetInventory,
            limit: token_bucket(200.0 / 60.0, 200),
            source: "§4.3 [T, W4]: \"GET /v3/inventory | 200/min\"; depth assumed as for the PUT",
        },
        DocumentedLimit {
            bucket: Bucket::WalmartGetOrders,
            limit: token_bucket(5000.0 / 60.0, 5000),
            source: "§4.3 [T, W4]: \"GET /v3/orders | 5000/min\"; depth assumed as for the PUT",
        },
    ],
    ApiHosts::Named(&["marketplace.walmartapis.com", "sandbox.walmartapis.com"]),
);

/// eBay Sell APIs: `bulk_update_price_quantity` takes 25 items (§0, §5.1), one
/// `inventory_item` read per SKU, orders polled from the Fulfillment API (§5.2), served by
/// `api.ebay.com` and its sandbox (§5).
pub const EBAY: PlatformProfile = PlatformProfile {
    batch_size: 25,
    ..notified(
        Platform::Ebay,
        &[
            DocumentedLimit {
                bucket: Bucket::EbayInventoryApi,
                limit: daily(2_000_000),
                source:
                    "§5.3 [T, B4 https://developer.ebay.com/develop/api/sell/api_call_limits]: \
                     \"Inventory | 2,000,000\" calls per day per app",
            },
            DocumentedLimit {
                bucket: Bucket::EbayFulfillmentApi,
                limit: daily(100_000),
                source: "§5.3 [T, B4]: \"Fulfillment | 100,000\" calls per day per app",
            },
        ],
        ApiHosts::Named(&["api.ebay.com", "api.sandbox.ebay.com"]),
    )
};

/// TikTok Shop Partner API 202309 (§6): stock set per product with many of its SKUs in one
/// `inventory/update` (§6.1), read back with `inventory/search` for many SKUs at once, orders from
/// `orders/search` (the backstop) with signed order webhooks (type 1, §6.2) received by
/// `src/platforms/tiktok/connector/notify.rs`; served by `open-api.tiktokglobalshop.com` (§6.1).
///
/// Decisions: a push carries **one SKU** (`batch_size` 1) because the engine charges one call per
/// push and its queue picks listings by risk, not by product, so a larger batch could be as many
/// calls as it has products; the connector still sends every SKU of one product in one call. A
/// read-back asks for 50 SKUs a call (the mock's `inventory/search` takes up to 100, [U]).
pub const TIKTOK: PlatformProfile = PlatformProfile {
    read_batch_size: 50,
    ..notified(
        Platform::TikTok,
        &[DocumentedLimit {
            bucket: Bucket::TikTokShop,
            limit: token_bucket(10.0, 10),
            source:
                "§6.3 [U]: the rate-limit page's figures were not retrieved; assumed one \
                     budget per app and shop of 10 calls a second, burst 10, for every call (the \
                     mock's default plan, a knob there), and a channel override sets the live value",
        }],
        ApiHosts::Named(&["open-api.tiktokglobalshop.com"]),
    )
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_profile_describes_its_own_platform() {
        for platform in Platform::ALL {
            assert_eq!(platform.profile().platform, platform);
            assert!(
                platform.profile().intake.polling,
                "{platform}: polling is the backstop"
            );
        }
        for platform in Platform::ALL {
            assert!(
                platform.profile().intake.webhooks,
                "{platform} notifies orders"
            );
        }
    }

    #[test]
    fn every_bucket_has_exactly_one_documented_limit_with_a_source() {
        for bucket in Bucket::ALL {
            let rows: Vec<_> = Platform::ALL
                .iter()
                .flat_map(|platform| platform.profile().limits)
                .filter(|row| row.bucket == bucket)
                .collect();
            assert_eq!(rows.len(), 1, "{bucket}");
            assert!(
                bucket.platform().profile().limits.contains(rows[0]),
                "{bucket} is described by its own platform's profile"
            );
            assert!(
                rows[0].source.starts_with('§'),
                "{bucket}: {}",
                rows[0].source
            );
        }
    }
}
