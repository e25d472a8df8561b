//! Where each SKU's replenishment settings are kept: one sled tree of the service's database,
//! keyed `{client code}/{SKU}` (a client code is upper-case letters and digits, so the `/` ends
//! it and one client's keys are one contiguous range, in SKU order, like its stock). A write is
//! flushed and fdatasync'd through the database's one [`DbFlusher`] before it returns, so settings
//! acknowledged are settings kept.

use std::ops::Bound;

use shelfsync_actors::ids::{ClientCode, Sku};
use shelfsync_actors::storage::DbFlusher;

use super::{ReorderSettings, ReplenishmentError};

/// The tree of reorder settings.
pub const REORDER_TREE: &str = "reorder_settings";

/// The reorder settings of every client.
#[derive(Debug, Clone)]
pub struct ReorderStore {
    tree: sled::Tree,
    flusher: DbFlusher,
}

fn prefix(client: &ClientCode) -> String {
    format!("{}/", client.as_str())
}

fn key(client: &ClientCode, sku: &Sku) -> String {
    format!("{}{}", prefix(client), sku.as_str())
}

impl ReorderStore {
    /// The store in `db`.
    pub fn open(db: &sled::Db) -> Result<ReorderStore, ReplenishmentError> {
        Ok(ReorderStore {
            tree: db.open_tree(REORDER_TREE)?,
            flusher: DbFlusher::new(db),
        })
    }

    /// Sets the settings of `sku` (replacing any); durable when it returns.
    pub async fn put(
        &self,
        client: &ClientCode,
        sku: &Sku,
        settings: &ReorderSettings,
    ) -> Result<(), ReplenishmentError> {
        let key = key(client, sku);
        let json = serde_json::to_vec(settings).map_err(|error| ReplenishmentError::Corrupt {
            key: key.clone(),
            message: error.to_string(),
        })?;
        self.tree.insert(key.as_bytes(), json)?;
        self.flush().await
    }

    /// Removes the settings of `sku`; tells whether there were any. Durable when it returns.
    pub async fn delete(&self, client: &ClientCode, sku: &Sku) -> Result<bool, ReplenishmentError> {
        let removed = self.tree.remove(key(client, sku).as_bytes())?.is_some();
        if removed {
            self.flush().await?;
        }
        Ok(removed)
    }

    /// The settings of `sku`, if any.
    pub fn get(
        &self,
        client: &ClientCode,
        sku: &Sku,
    ) -> Result<Option<ReorderSettings>, ReplenishmentError> {
        let key = key(client, sku);
        self.tree
            .get(key.as_bytes())?
            .map(|bytes| decode(&key, &bytes))
            .transpose()
    }

    /// At most `limit` SKUs with settings of `client`, in SKU order, after `after`.
    pub fn page(
        &self,
        client: &ClientCode,
        after: Option<&Sku>,
        limit: usize,
    ) -> Result<Vec<(Sku, ReorderSettings)>, ReplenishmentError> {
        let prefix = prefix(client);
        let start = match after {
            Some(sku) => Bound::Excluded(key(client, sku).into_bytes()),
            None => Bound::Included(prefix.clone().into_bytes()),
        };
        // The first key past the client's range: the code followed by the byte after `/`.
        let end = Bound::Excluded(format!("{}0", client.as_str()).into_bytes());
        self.tree
            .range::<Vec<u8>, _>((start, end))
            .take(limit)
            .map(|item| {
                let (key, bytes) = item?;
                let text = String::from_utf8_lossy(&key).into_owned();
                let sku = text
                    .strip_prefix(&prefix)
                    .and_then(|sku| Sku::parse(sku).ok())
                    .ok_or_else(|| ReplenishmentError::Corrupt {
                        key: text.clone(),
                        message: "the key does not name a SKU of the client".into(),
                    })?;
                Ok((sku, decode(&text, &bytes)?))
            })
            .collect()
    }

    async fn flush(&self) -> Result<(), ReplenishmentError> {
        self.flusher
            .flush()
            .await
            .map_err(|error| ReplenishmentError::Storage(sled::Error::from(error)))
    }
}

fn decode(key: &str, bytes: &[u8]) -> Result<ReorderSettings, ReplenishmentError> {
    serde_json::from_slice(bytes).map_err(|error| ReplenishmentError::Corrupt {
        key: key.to_string(),
        message: error.to_string(),
    })
}
