//! The Notification API's public keys (reference/marketplace-apis.md §5.2, issue 14): each eBay
//! delivery names the key it was signed with (`kid` in `X-EBAY-SIGNATURE`); the key is read from
//! `GET /commerce/notification/v1/public_key/{kid}` of the channel's own base URL with its token
//! (eBay wants an application token there) and kept, so that a stream of deliveries costs one
//! call of the Notification API's daily quota per key rather than one per delivery.
//!
//! Decisions: the cache holds the [`CACHED_KEYS`] most recently used keys (eBay rotates keys
//! rarely; a bound keeps forged `kid`s from growing it); a failed read is not cached, so the next
//! delivery of that `kid` asks again; the `kid` is one percent-encoded path segment, so a forged
//! one cannot address another resource.
//!
//! How the service uses it: `EbayKeys::new(config)` with the channel's `ConnectorConfig` (the
//! one its connector is built from), kept beside the channel; then per delivery
//! `keys.verify(header("X-EBAY-SIGNATURE"), raw_body).await`.

use std::collections::VecDeque;
use std::sync::Mutex;

use shelfsync_actors::channel::marketplace::MarketplaceError;

use super::notify::{self, NotifyError, PublicKey};
use super::{path_segments, EbayConnector};
use crate::platforms::connector::{ConnectorConfig, ConnectorError};

/// How many keys the cache keeps (the most recently used).
pub const CACHED_KEYS: usize = 16;
const PUBLIC_KEY_PATH: &str = "/commerce/notification/v1/public_key";

/// Why a delivery could not be verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The delivery is not authentic (the header, the key or the signature).
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// The key could not be read (the Notification API refused, was throttled or is down).
    #[error("the eBay notification key could not be read: {0}")]
    Fetch(MarketplaceError),
}

/// The notification keys of one eBay channel, read once each.
#[derive(Debug)]
pub struct EbayKeys {
    connector: EbayConnector,
    cache: Mutex<VecDeque<(String, PublicKey)>>,
}

impl EbayKeys {
    /// The keys reached through `config`'s base URL with its token (and egress policy).
    pub fn new(config: ConnectorConfig) -> Result<EbayKeys, ConnectorError> {
        Ok(EbayKeys {
            connector: EbayConnector::new(config, 1)?,
            cache: Mutex::new(VecDeque::with_capacity(CACHED_KEYS)),
        })
    }

    fn cached(&self, kid: &str) -> Option<PublicKey> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let position = cache.iter().position(|(cached, _)| cached == kid)?;
        let entry = cache.remove(position)?;
        let key = entry.1.clone();
        cache.push_front(entry);
        Some(key)
    }

    fn remember(&self, kid: &str, key: &PublicKey) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|(cached, _)| cached != kid);
        cache.push_front((kid.to_string(), key.clone()));
        cache.truncate(CACHED_KEYS);
    }

    /// The public key `kid`: from the cache, else read from the Notification API (and cached
    /// when the read succeeds).
    pub async fn public_key(&self, kid: &str) -> Result<PublicKey, MarketplaceError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        // URL paths drop `.` and `..` segments: such a kid would address another resource.
        if matches!(kid, "" | "." | "..") {
            return Err(MarketplaceError::Permanent {
                kind: shelfsync_actors::channel::marketplace::PermanentKind::Invalid,
                message: format!("{kid:?} is not an eBay key id"),
            });
        }
        let mut segments = path_segments(PUBLIC_KEY_PATH);
        segments.push(kid);
        let request = self
            .connector
            .request(reqwest::Method::GET, self.connector.url(&segments)?);
        let key: PublicKey = self.connector.call(request).await?;
        self.remember(kid, &key);
        Ok(key)
    }

    /// Checks a delivery: its `X-EBAY-SIGNATURE` header against its raw body, with the key the
    /// header names.
    pub async fn verify(&self, signature: Option<&str>, body: &[u8]) -> Result<(), KeyError> {
        let header = notify::parse_signature(signature)?;
        let key = self
            .public_key(&header.kid)
            .await
            .map_err(KeyError::Fetch)?;
        let key = notify::verifying_key(&key)?;
        Ok(notify::verify(&key, &header, body)?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::platforms::connector::ListingMap;
    use crate::vault::Secret;

    fn key(n: usize) -> PublicKey {
        PublicKey {
            algorithm: "ECDSA".into(),
            digest: "SHA1".into(),
            key: format!("key {n}"),
        }
    }

    #[test]
    fn the_cache_keeps_the_most_recently_used_keys() {
        let config = ConnectorConfig::new(
            "http://127.0.0.1:9",
            Secret::new("t"),
            json!({ "marketplace_id": "EBAY_US" }),
            ListingMap::default(),
        )
        .unwrap()
        .with_egress(crate::platforms::egress::EgressPolicy::LOOPBACK_MOCKS);
        let keys = EbayKeys::new(config).unwrap();
        for n in 0..CACHED_KEYS {
            keys.remember(&format!("kid-{n}"), &key(n));
        }
        // Using the oldest makes it the newest: the next one in pushes out kid-1 instead.
        assert_eq!(keys.cached("kid-0"), Some(key(0)));
        keys.remember("kid-new", &key(99));
        assert_eq!(keys.cache.lock().unwrap().len(), CACHED_KEYS);
        assert_eq!(keys.cached("kid-1"), None);
        assert_eq!(keys.cached("kid-0"), Some(key(0)));
        assert_eq!(keys.cached("kid-new"), Some(key(99)));
    }
}
