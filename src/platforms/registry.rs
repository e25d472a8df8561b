//! Which code speaks each platform: one line a platform in `row_of`, mapping the engine's
//! [`Platform`] to its folder's `connector::build` (and, with the `mocks` feature, its
//! `mock::build`). Everything else the engine knows of a platform (batch sizes, compare-and-set,
//! quantity bounds, order intake, documented rate limits, API hosts) is its description on the
//! engine's ground floor, `shelfsync_actors::platform`.
//!
//! So a new platform (TikTok Shop was the sixth) is: its own folder (`src/platforms/tiktok/`, with
//! `connector` and `mock`), its variant and profile (API hosts included) in
//! `shelfsync_actors::platform`, and one line of `row_of`. The service and the mock server build
//! connectors and mocks only through here (tests also call a folder's `build_with` for its
//! knobs); every other per-platform match in the service crate (those, and the demo's choice of
//! shopper rates and poll intervals) is exhaustive, so the compiler names each place left.

use std::sync::Arc;

use shelfsync_actors::channel::marketplace::Marketplace;

use super::connector::{ConnectorConfig, ConnectorError};
#[cfg(feature = "mocks")]
use super::mock::{MockError, MockOptions, PlatformMock};
use super::notify::{Challenge, Receive};
use super::{amazon, ebay, etsy, shopify, tiktok, walmart, Platform};

/// How a platform's connector is built from a channel's settings.
pub type BuildConnector = fn(ConnectorConfig) -> Result<Arc<dyn Marketplace>, ConnectorError>;

/// How a platform's mock (its wire format) is built.
#[cfg(feature = "mocks")]
pub type BuildMock = fn(&MockOptions) -> Result<Arc<dyn PlatformMock>, MockError>;

/// A platform's row of the table.
struct Row {
    connector: BuildConnector,
    /// How its order notifications are authenticated and read (`None`: it sends none here).
    receive: Option<Receive>,
    /// How it checks an endpoint before sending there (eBay's challenge), if it does.
    challenge: Option<Challenge>,
    #[cfg(feature = "mocks")]
    mock: BuildMock,
}

/// The row of a platform folder: its `connector::build`, `connector::receive` and `mock::build`.
macro_rules! row {
    ($folder:ident) => {
        Row {
            connector: $folder::connector::build,
            receive: Some($folder::connector::receive),
            challenge: None,
            #[cfg(feature = "mocks")]
            mock: $folder::mock::build,
        }
    };
}

/// The table: one line a platform.
fn row_of(platform: Platform) -> Row {
    match platform {
        Platform::Shopify => row!(shopify),
        Platform::Etsy => row!(etsy),
        Platform::Amazon => row!(amazon),
        Platform::Walmart => row!(walmart),
        Platform::Ebay => Row {
            challenge: Some(ebay::connector::notify::answer_challenge),
            ..row!(ebay)
        },
        Platform::TikTok => row!(tiktok),
    }
}

/// The connector of `platform` with `config`, once the deployment's egress policy allows its base
/// URL for that platform (the official-hosts rule needs the platform, which the shared HTTP
/// client does not know; the client checks the rest at every connection). The connector lists
/// exactly the SKUs of its listing map.
pub fn connector(
    platform: Platform,
    config: ConnectorConfig,
) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    config.egress.check_url(Some(platform), &config.base_url)?;
    (row_of(platform).connector)(config)
}

/// How `platform`'s order notifications are received (`None`: it sends none to shelfsync).
pub fn receiver(platform: Platform) -> Option<Receive> {
    row_of(platform).receive
}

/// How `platform` checks a notification endpoint before sending there (`None`: it does not).
pub fn challenge(platform: Platform) -> Option<Challenge> {
    row_of(platform).challenge
}

/// How `platform`'s mock is built.
#[cfg(feature = "mocks")]
pub fn mock(platform: Platform) -> BuildMock {
    row_of(platform).mock
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shelfsync_actors::ids::Sku;

    use super::*;
    use crate::platforms::connector::ListingMap;
    use crate::platforms::egress::{BaseUrls, EgressPolicy};
    use crate::vault::Secret;

    /// Settings every platform's connector accepts (each reads only the account ids it needs).
    fn config(listings: ListingMap) -> ConnectorConfig {
        let account = json!({
            "location_id": "1", "shop_id": "1", "user_id": "1", "keystring": "k",
            "shared_secret": "s", "seller_id": "S", "marketplace_id": "M",
            "app_key": "k", "app_secret": "s", "shop_cipher": "c", "warehouse_id": "1",
        });
        ConnectorConfig::new("http://127.0.0.1:9/", Secret::new("t"), account, listings)
            .unwrap()
            .with_egress(EgressPolicy::LOOPBACK_MOCKS)
    }

    #[test]
    fn each_row_builds_its_own_platform() {
        for platform in Platform::ALL {
            let built = connector(platform, config(ListingMap::default())).unwrap();
            assert_eq!(built.platform(), platform);
        }
    }

    #[test]
    fn a_connector_lists_only_the_skus_of_its_map() {
        for platform in Platform::ALL {
            let map = ListingMap::default();
            let market = connector(platform, config(map.clone())).unwrap();
            let mug = Sku::parse("ACME-MUG").unwrap();
            assert!(!market.lists(&mug), "{platform}");
            map.insert(mug.clone(), "123".into());
            assert!(market.lists(&mug), "a mapping added later is seen at once");
        }
    }

    #[test]
    fn the_official_hosts_rule_holds_for_every_platform() {
        for platform in Platform::ALL {
            let settings = ConnectorConfig::new(
                "https://evil.example.com",
                Secret::new("t"),
                json!({}),
                ListingMap::default(),
            )
            .unwrap()
            .with_egress(EgressPolicy {
                base_urls: BaseUrls::Official,
                allow_private_networks: false,
            });
            assert_eq!(
                connector(platform, settings).unwrap_err().kind(),
                "base_url_not_allowed",
                "{platform}"
            );
        }
    }
}
