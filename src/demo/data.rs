//! The demo's clients, their catalogs and marketplaces: fixed data and seeded draws.

use rand::rngs::StdRng;
use rand::Rng;

use shelfsync_actors::ratelimit::ServiceTier;

use crate::platforms::Platform;

/// The demo's clients, in the order `--clients N` takes them: code, name, tier, the marketplaces
/// it sells on, and its products (each in [`VARIANTS`]).
pub(super) const CLIENTS: [DemoClient; 8] = [
    DemoClient {
        code: "ACME",
        name: "Acme Mugs",
        tier: ServiceTier::Premium,
        platforms: &[Platform::Shopify, Platform::Etsy, Platform::Amazon],
        products: &["MUG", "CUP", "TUMBLER", "PLATE", "BOWL", "JUG"],
    },
    DemoClient {
        code: "BOLT",
        name: "Bolt Outdoor",
        tier: ServiceTier::Standard,
        platforms: &[Platform::Shopify, Platform::Walmart, Platform::Ebay],
        products: &["TENT", "LAMP", "BOTTLE", "STOVE", "PACK", "MAT"],
    },
    DemoClient {
        code: "CORA",
        name: "Cora Home",
        tier: ServiceTier::Enterprise,
        platforms: &Platform::ALL,
        products: &["RUG", "VASE", "THROW", "CANDLE", "CUSHION", "CLOCK"],
    },
    DemoClient {
        code: "DUNE",
        name: "Dune Apparel",
        tier: ServiceTier::Standard,
        platforms: &[Platform::Etsy, Platform::Ebay],
        products: &["TEE", "HOODIE", "CAP", "SOCK", "SCARF", "BEANIE"],
    },
    DemoClient {
        code: "ELM",
        name: "Elm Toys",
        tier: ServiceTier::Premium,
        platforms: &[Platform::Shopify, Platform::Amazon, Platform::Walmart],
        products: &["BLOCKS", "PUZZLE", "KITE", "YOYO", "TOP", "BALL"],
    },
    DemoClient {
        code: "FERN",
        name: "Fern Plants",
        tier: ServiceTier::Standard,
        platforms: &[Platform::Shopify, Platform::Etsy],
        products: &["POT", "PLANTER", "SEEDS", "TROWEL", "MISTER", "STAND"],
    },
    DemoClient {
        code: "GALE",
        name: "Gale Sports",
        tier: ServiceTier::Enterprise,
        platforms: &[Platform::Amazon, Platform::Walmart, Platform::Ebay],
        products: &["GLOVE", "BAT", "NET", "CONE", "BAND", "SHIN"],
    },
    DemoClient {
        code: "HALO",
        name: "Halo Beauty",
        tier: ServiceTier::Premium,
        platforms: &[Platform::Shopify, Platform::Etsy, Platform::Ebay],
        products: &["SOAP", "BALM", "OIL", "MASK", "SERUM", "MIST"],
    },
];

/// Each product comes in these variants: 6 products × 4 = 24 SKUs a client.
pub(super) const VARIANTS: [&str; 4] = ["RED", "BLUE", "GREEN", "WHITE"];

/// One demo client's settings.
#[derive(Debug, Clone, Copy)]
pub(super) struct DemoClient {
    pub(super) code: &'static str,
    pub(super) name: &'static str,
    pub(super) tier: ServiceTier,
    pub(super) platforms: &'static [Platform],
    pub(super) products: &'static [&'static str],
}

/// Shopper orders a second on one client's mock of `platform`: a busy Shopify store, smaller
/// marketplaces, and Amazon slow enough that its `getOrderItems` budget (0.5/s) keeps up.
pub(super) fn shopper_rate(platform: Platform) -> f64 {
    match platform {
        Platform::Shopify => 1.0,
        Platform::Etsy | Platform::Walmart | Platform::Ebay | Platform::TikTok => 0.5,
        Platform::Amazon => 0.25,
    }
}

/// How often a channel polls its order feed without notifications (with them, every channel of
/// the demo, the poll is the 60 s backstop and these are floors it raises). Amazon's `getOrders` allows a burst of 20, then one call a minute (reference
/// §3.3): at 5 s the burst lasts about two minutes, so a short demo never waits a minute for its
/// last Amazon orders, and a long one shows what Amazon's limit does to order latency.
pub(super) fn poll_interval_ms(platform: Platform) -> u64 {
    match platform {
        Platform::Shopify | Platform::Etsy => 2_000,
        Platform::Amazon => 5_000,
        Platform::Walmart | Platform::Ebay | Platform::TikTok => 1_000,
    }
}

/// A seed for one client's one platform.
pub(super) fn mix(seed: u64, client: usize, platform: Platform) -> u64 {
    let platform_index = Platform::ALL
        .iter()
        .position(|known| *known == platform)
        .unwrap_or(0);
    seed ^ (client as u64 + 1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((platform_index as u64).wrapping_mul(0x2545_f491))
}

/// One SKU of a client's catalog.
#[derive(Debug, Clone)]
pub(super) struct CatalogSku {
    pub(super) sku: String,
    pub(super) on_hand: i64,
}

/// A client's catalog: every product in every variant, a fifth of them running low.
pub(super) fn catalog(client: &DemoClient, rng: &mut StdRng) -> Vec<CatalogSku> {
    let mut skus = Vec::new();
    for product in client.products {
        for variant in VARIANTS {
            let on_hand = if rng.gen_ratio(1, 5) {
                rng.gen_range(1..=3)
            } else {
                rng.gen_range(6..=40)
            };
            skus.push(CatalogSku {
                sku: format!("{}-{product}-{variant}", client.code),
                on_hand,
            });
        }
    }
    skus
}
