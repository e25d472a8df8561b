//! The marketplaces shelfsync speaks to, and what the engine must know of each of them to schedule
//! pushes: batch size and whether a push can be compare-and-set. Facts from
//! `reference/marketplace-apis.md` §0.

use std::fmt;

use serde::{Deserialize, Serialize};

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
}

impl Platform {
    /// Every platform, in a fixed order.
    pub const ALL: [Platform; 5] = [
        Platform::Shopify,
        Platform::Etsy,
        Platform::Amazon,
        Platform::Walmart,
        Platform::Ebay,
    ];

    /// Returns the platform's name, also its metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::Etsy => "etsy",
            Platform::Amazon => "amazon",
            Platform::Walmart => "walmart",
            Platform::Ebay => "ebay",
        }
    }

    /// Parses a platform name.
    pub fn parse(value: &str) -> Option<Platform> {
        Self::ALL
            .into_iter()
            .find(|platform| platform.as_str() == value)
    }

    /// The most listings one push call may carry: Shopify's input arrays are capped at 250, eBay's
    /// `bulk_update_price_quantity` at 25; Etsy, Amazon's PATCH and Walmart's `PUT /v3/inventory`
    /// take one listing per call.
    pub fn batch_size(self) -> usize {
        match self {
            Platform::Shopify => 250,
            Platform::Ebay => 25,
            Platform::Etsy | Platform::Amazon | Platform::Walmart => 1,
        }
    }

    /// The most listings one read-back call asks for: a Shopify GraphQL query reads many
    /// inventory items at once (a page of 50, the size its cost estimate assumes:
    /// `ratelimit::defaults::SHOPIFY_QUERY_COST_ESTIMATE`); every other platform reads one
    /// listing per call (Etsy `GET …/inventory`, Amazon `getListingsItem`, Walmart
    /// `GET /v3/inventory?sku=`, eBay `GET inventory_item/{sku}`), so a read-back of n listings
    /// costs n calls of the budget.
    pub fn read_batch_size(self) -> usize {
        match self {
            Platform::Shopify => 50,
            Platform::Etsy | Platform::Amazon | Platform::Walmart | Platform::Ebay => 1,
        }
    }

    /// The most units one listing can show, where the platform caps it: Etsy's offering
    /// quantity is 0–999 (`reference/marketplace-apis.md` §2.1).
    pub fn max_listed_quantity(self) -> Option<u32> {
        match self {
            Platform::Etsy => Some(999),
            Platform::Shopify | Platform::Amazon | Platform::Walmart | Platform::Ebay => None,
        }
    }

    /// Whether a push can say "only if the listing still shows N" (Shopify's mandatory
    /// `changeFromQuantity` since 2026-04). Elsewhere the no-re-raise rule is kept by reading the
    /// order feed past the previous push before any increase (DESIGN §4).
    pub fn compare_and_set(self) -> bool {
        matches!(self, Platform::Shopify)
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
        }
        assert_eq!(Platform::parse("tiktok"), None);
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
