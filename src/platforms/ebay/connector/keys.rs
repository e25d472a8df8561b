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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::Digest as _;

use shelfsync_actors::channel::marketplace::MarketplaceError;

use super::notify::{self, NotifyError, PublicKey};
use super::{path_segments, EbayConnector};
use crate::platforms::connector::{ConnectorConfig, ConnectorError};
use crate::platforms::notify::{Delivery, Notice, ReceiveFuture, Recipient, Refusal};

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

/// The most channels whose keys are kept at once (an agency's eBay channels; a bound all the
/// same, since the map is process-wide).
const CACHED_CHANNELS: usize = 1024;
/// The shortest time between two reads of a key the cache does not hold, per channel: a forged
/// delivery naming a new `kid` each time must not spend the channel's Notification API quota
/// (10,000 calls a day) or hammer eBay; eBay rotates keys rarely, so an authentic new `kid`
/// waits at most this long (its delivery is refused meanwhile and eBay retries it).
pub const KEY_READ_INTERVAL: Duration = Duration::from_secs(10);

/// Each channel's keys and when it last read one, by base URL and a digest of its token (so no
/// channel's token reads keys for another's deliveries).
static CHANNELS: OnceLock<Mutex<HashMap<ChannelId, Arc<ChannelKeys>>>> = OnceLock::new();

/// A channel as the key cache knows it: its base URL and the SHA-256 of its token.
type ChannelId = (String, [u8; 32]);

#[derive(Debug)]
struct ChannelKeys {
    keys: EbayKeys,
    last_read: Mutex<Option<Instant>>,
}

impl ChannelKeys {
    /// Whether a key may be read now (and notes that it is).
    fn may_read(&self) -> bool {
        let mut last = self.last_read.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < KEY_READ_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// The keys of the channel whose connection is `config`.
fn channel_keys(config: &ConnectorConfig) -> Result<Arc<ChannelKeys>, ConnectorError> {
    let token = sha2::Sha256::digest(config.credential.expose().as_bytes()).into();
    let id = (config.base_url.to_string(), token);
    let mut channels = CHANNELS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(found) = channels.get(&id) {
        return Ok(Arc::clone(found));
    }
    if channels.len() >= CACHED_CHANNELS {
        channels.clear();
    }
    let made = Arc::new(ChannelKeys {
        keys: EbayKeys::new(config.clone())?,
        last_read: Mutex::new(None),
    });
    channels.insert(id, Arc::clone(&made));
    Ok(made)
}

/// eBay's [`Receive`](crate::platforms::notify::Receive): `X-EBAY-SIGNATURE` checked with the
/// Notification API's key it names (read once per key and channel, [`KEY_READ_INTERVAL`] apart
/// at most for keys not yet held), then the order an `ORDER_CONFIRMATION` names. eBay signs no
/// time, so no replay window applies: a replayed delivery only reads an order again, which
/// changes nothing in the ledger.
pub fn receive<'a>(delivery: Delivery<'a>, recipient: Recipient<'a>) -> ReceiveFuture<'a> {
    Box::pin(async move {
        let header = notify::parse_signature(delivery.header("x-ebay-signature"))
            .map_err(|_| Refusal::MissingHeader("X-EBAY-SIGNATURE"))?;
        let channel = channel_keys(recipient.connection).map_err(|_| Refusal::KeyUnavailable)?;
        let key = match channel.keys.cached(&header.kid) {
            Some(key) => key,
            None if channel.may_read() => channel
                .keys
                .public_key(&header.kid)
                .await
                .map_err(|_| Refusal::KeyUnavailable)?,
            None => return Err(Refusal::KeyUnavailable),
        };
        let key = notify::verifying_key(&key).map_err(|_| Refusal::KeyUnavailable)?;
        notify::verify(&key, &header, delivery.body).map_err(|_| Refusal::BadSignature)?;
        Ok(notify::read_notice(delivery.body).unwrap_or_else(|error| Notice::unreadable(&error)))
    })
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
