//! Each client's marketplace connections and catalog mappings, kept in the service database's
//! `channels` tree: `ch/{CODE}/{channel}` → the channel record (platform, endpoint, account ids,
//! policy, limits; never a secret: secrets are credentials in the vault, named by the record), and
//! `l/{CODE}/{channel}/{SKU}` → the listing of that SKU on that channel (the catalog's
//! `listing_ref`). Every write is flushed and fdatasync'd (`storage::DbFlusher`) before it returns.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shelfsync_actors::channel::policy::ListingPolicy;
use shelfsync_actors::channel::scheduler::PushOrder;
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::platform::Platform;
use shelfsync_actors::ratelimit::RateLimitOverrides;
use shelfsync_actors::storage::DbFlusher;

use super::origin::{Origin, OriginError};
use super::ClientStoreError;

/// The tree's name.
pub const CHANNELS_TREE: &str = "channels";

/// A marketplace connection of a client, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// Its id within the client.
    pub id: ChannelId,
    /// Its platform.
    pub platform: Platform,
    /// The platform's API root.
    pub base_url: String,
    /// The name of the client credential the connector authenticates with.
    pub credential: String,
    /// The platform's account ids. Keys ending in `_credential` name further credentials, opened
    /// from the vault only in memory (Etsy's `shared_secret_credential`); no secret is stored here.
    pub account: Value,
    /// The credential holding the webhook signing secret, when the platform sends webhooks.
    pub webhook_credential: Option<String>,
    /// How `available` becomes the listed quantity.
    pub policy: ListingPolicy,
    /// Overrides of the platform's default limits for this channel.
    pub rate_limit: RateLimitOverrides,
    /// The marketplace app whose budget the channel draws on.
    pub app: String,
    /// Risk-first (the default) or FIFO (the bench's baseline).
    pub push_order: PushOrder,
    /// How often the order feed is polled when it has nothing more, in milliseconds.
    pub poll_interval_ms: u64,
    /// When it was connected.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

impl ChannelRecord {
    /// The credentials whose secrets the channel's connector sends: the main credential and each
    /// `account.<name>_credential`. (The webhook secret is never sent; it is bound all the same,
    /// see [`ChannelRecord::credential_names`].)
    pub fn sent_credentials(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::from([self.credential.clone()]);
        if let Value::Object(account) = &self.account {
            for (key, value) in account {
                if let (true, Some(name)) = (key.ends_with("_credential"), value.as_str()) {
                    names.insert(name.to_string());
                }
            }
        }
        names
    }

    /// Every credential the channel names: those it sends and its webhook secret, all bound to
    /// the channel's origin (a webhook secret named as another channel's credential would
    /// otherwise be a secret sent anywhere).
    pub fn credential_names(&self) -> BTreeSet<String> {
        let mut names = self.sent_credentials();
        names.extend(self.webhook_credential.clone());
        names
    }

    /// The origin the channel's credentials are sent to (its base URL's scheme, host and port).
    pub fn origin(&self) -> Result<Origin, OriginError> {
        let url = reqwest::Url::parse(&self.base_url).map_err(|_| OriginError {
            text: self.base_url.clone(),
        })?;
        Origin::of_url(&url)
    }
}

/// The channels and catalog mappings of every client.
#[derive(Debug, Clone)]
pub struct ChannelStore {
    tree: sled::Tree,
    /// The database's flusher: a write is acknowledged once flushed and fdatasync'd.
    flusher: DbFlusher,
}

/// The key of the listing `sku` is mapped to on `channel` of `client`.
fn listing_key(client: &ClientCode, channel: &ChannelId, sku: &Sku) -> String {
    format!(
        "l/{}/{}/{}",
        client.as_str(),
        channel.as_str(),
        sku.as_str()
    )
}

fn corrupt(key: &[u8], error: impl std::fmt::Display) -> ClientStoreError {
    ClientStoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: error.to_string(),
    }
}

impl ChannelStore {
    /// The store in `db`.
    pub fn open(db: &sled::Db) -> Result<ChannelStore, ClientStoreError> {
        Ok(ChannelStore {
            tree: db.open_tree(CHANNELS_TREE)?,
            flusher: DbFlusher::new(db),
        })
    }

    /// Adds a channel; refused when the id exists for the client. Durable when it returns.
    pub fn create(
        &self,
        client: &ClientCode,
        record: &ChannelRecord,
    ) -> Result<(), ClientStoreError> {
        let key = format!("ch/{}/{}", client.as_str(), record.id.as_str());
        let json = serde_json::to_vec(record).map_err(|error| corrupt(key.as_bytes(), error))?;
        let swapped =
            self.tree
                .compare_and_swap(key.as_bytes(), None as Option<&[u8]>, Some(json))?;
        if swapped.is_err() {
            return Err(ClientStoreError::Exists(format!(
                "{}/{}",
                client.as_str(),
                record.id
            )));
        }
        self.flusher.flush_blocking().map_err(sled::Error::from)?;
        Ok(())
    }

    /// The channel `id` of `client`.
    pub fn get(
        &self,
        client: &ClientCode,
        id: &ChannelId,
    ) -> Result<Option<ChannelRecord>, ClientStoreError> {
        let key = format!("ch/{}/{}", client.as_str(), id.as_str());
        match self.tree.get(&key)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|error| corrupt(key.as_bytes(), error)),
            None => Ok(None),
        }
    }

    /// Every channel of `client`, by id.
    pub fn list(&self, client: &ClientCode) -> Result<Vec<ChannelRecord>, ClientStoreError> {
        let prefix = format!("ch/{}/", client.as_str());
        self.tree
            .scan_prefix(prefix.as_bytes())
            .map(|entry| {
                let (key, bytes) = entry?;
                serde_json::from_slice(&bytes).map_err(|error| corrupt(&key, error))
            })
            .collect()
    }

    /// Maps SKUs to their listings on channels, all in one batch. Durable when it returns.
    pub fn put_listings(
        &self,
        client: &ClientCode,
        mappings: &[(ChannelId, Sku, String)],
    ) -> Result<(), ClientStoreError> {
        if mappings.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (channel, sku, listing_ref) in mappings {
            let key = listing_key(client, channel, sku);
            batch.insert(key.as_bytes(), listing_ref.as_bytes());
        }
        self.tree.apply_batch(batch)?;
        self.flusher.flush_blocking().map_err(sled::Error::from)?;
        Ok(())
    }

    /// The listing `sku` is mapped to on `channel` of `client`, if any (one point read).
    pub fn listing(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
        sku: &Sku,
    ) -> Result<Option<String>, ClientStoreError> {
        let key = listing_key(client, channel, sku);
        self.tree
            .get(key.as_bytes())?
            .map(|value| {
                String::from_utf8(value.to_vec()).map_err(|error| corrupt(key.as_bytes(), error))
            })
            .transpose()
    }

    /// The listings of `channel` of `client`: SKU → listing.
    pub fn listings(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
    ) -> Result<BTreeMap<Sku, String>, ClientStoreError> {
        let prefix = format!("l/{}/{}/", client.as_str(), channel.as_str());
        self.tree
            .scan_prefix(prefix.as_bytes())
            .map(|entry| {
                let (key, value) = entry?;
                let sku = std::str::from_utf8(&key[prefix.len()..])
                    .ok()
                    .and_then(|sku| Sku::parse(sku).ok())
                    .ok_or_else(|| corrupt(&key, "the key holds no valid SKU"))?;
                let listing =
                    String::from_utf8(value.to_vec()).map_err(|error| corrupt(&key, error))?;
                Ok((sku, listing))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ChannelRecord {
        ChannelRecord {
            id: ChannelId::parse(id).unwrap(),
            platform: Platform::Etsy,
            base_url: "http://127.0.0.1:1".into(),
            credential: "etsy".into(),
            account: serde_json::json!({"shop_id": "1"}),
            webhook_credential: None,
            policy: ListingPolicy::default(),
            rate_limit: RateLimitOverrides::default(),
            app: "default".into(),
            push_order: PushOrder::RiskFirst,
            poll_interval_ms: 5_000,
            created_at: "2026-11-21T00:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn channels_are_created_once_and_listings_kept_per_channel() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let store = ChannelStore::open(&db).unwrap();
        let acme = ClientCode::parse("ACME").unwrap();
        let bolt = ClientCode::parse("BOLT").unwrap();
        store.create(&acme, &record("etsy")).unwrap();
        assert_eq!(
            store.create(&acme, &record("etsy")).unwrap_err().kind(),
            "conflict"
        );
        store.create(&bolt, &record("etsy")).unwrap();
        assert_eq!(store.list(&acme).unwrap(), vec![record("etsy")]);
        let etsy = ChannelId::parse("etsy").unwrap();
        let mug = Sku::parse("ACME-MUG").unwrap();
        store
            .put_listings(&acme, &[(etsy.clone(), mug.clone(), "111".into())])
            .unwrap();
        assert_eq!(
            store
                .listings(&acme, &etsy)
                .unwrap()
                .get(&mug)
                .map(String::as_str),
            Some("111")
        );
        assert!(
            store.listings(&bolt, &etsy).unwrap().is_empty(),
            "another client's channel of the same id has its own listings"
        );
    }
}
