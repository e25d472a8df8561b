//! The engine's ground floor: the marketplaces shelfsync speaks to and one description of each
//! ([`PlatformProfile`]: batch sizes, compare-and-set, quantity bounds, order intake, rate limits
//! with their sources, API hosts, in `profile`), the rate-limit vocabulary those descriptions use
//! (`limits`), and why a marketplace call fails ([`MarketplaceError`], in `error`). Nothing here
//! imports from the rest of the engine; `channel` and `ratelimit` build on it.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod error;
pub mod limits;
pub mod profile;

pub use self::error::{MarketplaceError, PermanentKind};
pub use self::limits::{Bucket, Operation, RemoteLimit, Scope, ShortTermLimit, Unit};
pub use self::profile::{ApiHosts, DocumentedLimit, OrderIntake, PlatformProfile, QuantityBounds};

/// A marketplace platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Shopify Admin GraphQL (`inventorySetQuantities`).
    Shopify,
    /// Etsy Open API v3 (listing inventory, full replacement).
    Etsy,
    /// Amazon Selling Partner API (Listings Items PATCH).
    Amazon,
    /// Walmart Marketplace (`PUT /v3/inventory`).
    Walmart,
    /// eBay Sell Inventory API (`bulk_update_price_quantity`).
    Ebay,
    /// TikTok Shop Partner API 202309 (`products/{id}/inventory/update`). Its wire name is
    /// `tiktok`, the same as [`Platform::as_str`].
    #[serde(rename = "tiktok")]
    TikTok,
}

impl Platform {
    /// Every platform, in a fixed order.
    pub const ALL: [Platform; 6] = [
        Platform::Shopify,
        Platform::Etsy,
        Platform::Amazon,
        Platform::Walmart,
        Platform::Ebay,
        Platform::TikTok,
    ];

    /// Returns the platform's name, also its metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::Etsy => "etsy",
            Platform::Amazon => "amazon",
            Platform::Walmart => "walmart",
            Platform::Ebay => "ebay",
            Platform::TikTok => "tiktok",
        }
    }

    /// Parses a platform name.
    pub fn parse(value: &str) -> Option<Platform> {
        Self::ALL
            .into_iter()
            .find(|platform| platform.as_str() == value)
    }

    /// The platform's description.
    pub fn profile(self) -> &'static PlatformProfile {
        match self {
            Platform::Shopify => &profile::SHOPIFY,
            Platform::Etsy => &profile::ETSY,
            Platform::Amazon => &profile::AMAZON,
            Platform::Walmart => &profile::WALMART,
            Platform::Ebay => &profile::EBAY,
            Platform::TikTok => &profile::TIKTOK,
        }
    }

    /// The most listings one push call may carry: Shopify's input arrays are capped at 250, eBay's
    /// `bulk_update_price_quantity` at 25; Etsy, Amazon's PATCH and Walmart's `PUT /v3/inventory`
    /// take one listing per call.
    pub fn batch_size(self) -> usize {
        self.profile().batch_size
    }

    /// The most listings one read-back call asks for: a Shopify GraphQL query reads many
    /// inventory items at once (a page of 50, the size its cost estimate assumes:
    /// `ratelimit::defaults::SHOPIFY_QUERY_COST_ESTIMATE`); every other platform reads one
    /// listing per call, so a read-back of n listings costs n calls of the budget.
    pub fn read_batch_size(self) -> usize {
        self.profile().read_batch_size
    }

    /// The most units one listing can show, where the platform caps it (Etsy: 999).
    pub fn max_listed_quantity(self) -> Option<u32> {
        self.profile().quantity.max
    }

    /// Whether a push can say "only if the listing still shows N" (Shopify's mandatory
    /// `changeFromQuantity` since 2026-04). Elsewhere the no-re-raise rule is kept by reading the
    /// order feed past the previous push before any increase (DESIGN §4).
    pub fn compare_and_set(self) -> bool {
        self.profile().compare_and_set
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for platform in Platform::ALL {
            assert_eq!(Platform::parse(platform.as_str()), Some(platform));
            let wire = serde_json::to_value(platform).unwrap();
            assert_eq!(wire, platform.as_str(), "serde and as_str agree");
        }
        assert_eq!(Platform::parse("tiktok"), Some(Platform::TikTok));
        assert_eq!(Platform::parse("tik_tok"), None);
        assert_eq!(Platform::parse("myspace"), None);
    }

    #[test]
    fn batch_sizes_follow_the_reference() {
        assert_eq!(Platform::Shopify.batch_size(), 250);
        assert_eq!(Platform::Ebay.batch_size(), 25);
        assert_eq!(Platform::Etsy.batch_size(), 1);
        assert!(Platform::Shopify.compare_and_set());
        assert!(!Platform::Etsy.compare_and_set());
        assert_eq!(Platform::Etsy.max_listed_quantity(), Some(999));
        assert_eq!(Platform::Shopify.max_listed_quantity(), None);
    }
}
