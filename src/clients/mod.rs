//! The agency's clients and their credentials, kept in the service database's `clients` tree:
//! `c/{CODE}` → the client record, `k/{CODE}/{name}` → a credential (its secret sealed by the
//! vault, never in clear, and its metadata). Every write is one sled operation or transaction,
//! flushed and fdatasync'd (`storage::DbFlusher`) before it returns, so an acknowledged write
//! survives a crash or a power cut.
//!
//! **A credential is bound to the origins it may be sent to** (DESIGN §6; issue 12): its `hosts`,
//! kept in clear beside the sealed secret (a host is not a secret, and the metadata shows it).
//! The rules, enforced here so that no caller can forget them:
//! - a secret is opened for a connector only with the origin it will be sent to
//!   ([`ClientStore::secret_for`]), and only if that origin is bound, or nothing is bound yet;
//! - a credential stored without hosts is bound to the origin of the first channel that uses it
//!   ([`ClientStore::bind`], atomic, so two channels racing for it cannot both win);
//! - the bindings change only when the secret is supplied again (`PUT …/credentials/{name}` with
//!   `hosts`): whoever can send the secret anywhere already holds it, and whoever does not hold
//!   it can only replace it with one of its own, which gives nothing away;
//! - credentials stored before bindings existed are bound at start to the origins of the stored
//!   channels that use them ([`ClientStore::adopt_bindings`]), so they keep working.

pub mod channels;
pub mod origin;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::ratelimit::ServiceTier;
use shelfsync_actors::storage::DbFlusher;

use self::origin::Origin;
use crate::timestamp::Due;
use crate::vault::{Secret, Vault, VaultError};

/// The tree's name.
pub const CLIENTS_TREE: &str = "clients";
/// The longest credential name.
pub const MAX_CREDENTIAL_NAME: usize = 64;
/// The longest secret.
pub const MAX_SECRET_LEN: usize = 8 * 1024;
/// The most origins one credential may be bound to.
pub const MAX_CREDENTIAL_HOSTS: usize = 32;

/// A client of the agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientRecord {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its service tier (its weight in shared platform budgets).
    #[schema(schema_with = crate::api::openapi::schemas::tier)]
    pub tier: ServiceTier,
    /// When it was created.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// A stored credential: the sealed secret and what the API may show of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredCredential {
    sealed: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    rotated_at: Option<DateTime<Utc>>,
    rotate_by: Option<Due>,
    /// The origins the secret may be sent to; empty until the first channel binds it (and in
    /// records written before bindings existed, which decode with none).
    #[serde(default)]
    hosts: BTreeSet<Origin>,
}

/// What the API shows of a credential: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CredentialMetadata {
    /// Its name.
    pub name: String,
    /// When it was first stored.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it was last replaced.
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    pub rotated_at: Option<DateTime<Utc>>,
    /// When the agency should rotate it: a day (`YYYY-MM-DD`) or a time, as it was given (a time
    /// in UTC).
    #[schema(value_type = Option<String>)]
    pub rotate_by: Option<Due>,
    /// The origins it may be sent to (none yet: the first channel that uses it binds it).
    #[schema(value_type = Vec<String>)]
    pub hosts: BTreeSet<Origin>,
}

/// Errors of the client store.
#[derive(Debug, thiserror::Error)]
pub enum ClientStoreError {
    /// sled failed.
    #[error("the client store failed: {0}")]
    Storage(#[from] sled::Error),
    /// A record does not decode.
    #[error("client record {key} is damaged: {message}")]
    Corrupt {
        /// Its key.
        key: String,
        /// Why.
        message: String,
    },
    /// The client exists already.
    #[error("client {0} exists already")]
    Exists(String),
    /// No such client.
    #[error("no client {0}")]
    UnknownClient(String),
    /// No such credential.
    #[error("client {client} has no credential {name:?}")]
    UnknownCredential {
        /// The client.
        client: String,
        /// The name.
        name: String,
    },
    /// A credential name or secret is malformed.
    #[error("{0}")]
    Invalid(String),
    /// A credential would be sent to an origin it is not bound to.
    #[error("credential {name:?} is bound to other hosts than {origin}: to use it there, PUT it again with its secret and `hosts` including {origin:?}")]
    HostMismatch {
        /// The credential.
        name: String,
        /// Where it would have been sent.
        origin: String,
    },
    /// The vault could not open a sealed secret.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl ClientStoreError {
    /// The stable code of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientStoreError::Storage(_) => "storage",
            ClientStoreError::Corrupt { .. } => "corrupt",
            ClientStoreError::Exists(_) => "conflict",
            ClientStoreError::UnknownClient(_) | ClientStoreError::UnknownCredential { .. } => {
                "not_found"
            }
            ClientStoreError::Invalid(_) => "invalid_field",
            ClientStoreError::HostMismatch { .. } => "credential_host_mismatch",
            ClientStoreError::Vault(error) => error.kind(),
        }
    }
}

/// Checks a credential name: 1 to 64 of `a-z 0-9 - _ .`.
pub fn validate_credential_name(name: &str) -> Result<(), ClientStoreError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CREDENTIAL_NAME
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(ClientStoreError::Invalid(format!(
            "credential name {name:?} must be 1 to {MAX_CREDENTIAL_NAME} of a-z, 0-9, '-', '_', '.'"
        )))
    }
}

/// The clients and their credentials.
#[derive(Debug, Clone)]
pub struct ClientStore {
    tree: sled::Tree,
    /// The database's flusher: a write is acknowledged once flushed and fdatasync'd.
    flusher: DbFlusher,
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, ClientStoreError> {
    serde_json::from_slice(bytes).map_err(|error| ClientStoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: error.to_string(),
    })
}

impl ClientStore {
    /// The store in `db`.
    pub fn open(db: &sled::Db) -> Result<ClientStore, ClientStoreError> {
        Ok(ClientStore {
            tree: db.open_tree(CLIENTS_TREE)?,
            flusher: DbFlusher::new(db),
        })
    }

    /// Adds a client; refused when the code exists. Durable when it returns.
    pub fn create(&self, record: &ClientRecord) -> Result<(), ClientStoreError> {
        let key = format!("c/{}", record.code);
        let json = serde_json::to_vec(record).map_err(|error| ClientStoreError::Corrupt {
            key: key.clone(),
            message: error.to_string(),
        })?;
        let swapped =
            self.tree
                .compare_and_swap(key.as_bytes(), None as Option<&[u8]>, Some(json))?;
        if swapped.is_err() {
            return Err(ClientStoreError::Exists(record.code.clone()));
        }
        self.flusher.flush_blocking().map_err(sled::Error::from)?;
        Ok(())
    }

    /// The client with `code`.
    pub fn get(&self, code: &ClientCode) -> Result<Option<ClientRecord>, ClientStoreError> {
        let key = format!("c/{}", code.as_str());
        match self.tree.get(&key)? {
            Some(bytes) => decode(key.as_bytes(), &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every client, by code.
    pub fn list(&self) -> Result<Vec<ClientRecord>, ClientStoreError> {
        self.tree
            .scan_prefix(b"c/")
            .map(|entry| {
                let (key, bytes) = entry?;
                decode(&key, &bytes)
            })
            .collect()
    }

    /// Seals and stores secret `name` of `client` (a replacement keeps `created_at` and sets
    /// `rotated_at`). `hosts`: `None` keeps the origins it is bound to (a rotation), `Some`
    /// replaces them (the secret is supplied, so it may be bound anywhere). Durable when it
    /// returns.
    #[allow(clippy::too_many_arguments)]
    pub fn put_credential(
        &self,
        vault: &Vault,
        client: &ClientCode,
        name: &str,
        secret: &Secret,
        rotate_by: Option<Due>,
        hosts: Option<BTreeSet<Origin>>,
        now: DateTime<Utc>,
    ) -> Result<CredentialMetadata, ClientStoreError> {
        validate_credential_name(name)?;
        if hosts
            .as_ref()
            .is_some_and(|hosts| hosts.len() > MAX_CREDENTIAL_HOSTS)
        {
            return Err(ClientStoreError::Invalid(format!(
                "a credential may be bound to at most {MAX_CREDENTIAL_HOSTS} hosts"
            )));
        }
        if secret.expose().is_empty() || secret.expose().len() > MAX_SECRET_LEN {
            return Err(ClientStoreError::Invalid(format!(
                "secret must be 1 to {MAX_SECRET_LEN} bytes"
            )));
        }
        if self.get(client)?.is_none() {
            return Err(ClientStoreError::UnknownClient(client.as_str().to_string()));
        }
        let key = format!("k/{}/{name}", client.as_str());
        let previous: Option<StoredCredential> = match self.tree.get(&key)? {
            Some(bytes) => Some(decode(key.as_bytes(), &bytes)?),
            None => None,
        };
        use base64::Engine as _;
        let sealed = base64::engine::general_purpose::STANDARD.encode(vault.seal(
            client.as_str(),
            name,
            secret,
        ));
        let stored = StoredCredential {
            sealed,
            created_at: previous.as_ref().map_or(now, |p| p.created_at),
            rotated_at: previous.as_ref().map(|_| now),
            rotate_by,
            hosts: match hosts {
                Some(hosts) => hosts,
                None => previous.map(|p| p.hosts).unwrap_or_default(),
            },
        };
        let json = serde_json::to_vec(&stored).map_err(|error| ClientStoreError::Corrupt {
            key: key.clone(),
            message: error.to_string(),
        })?;
        self.tree.insert(key.as_bytes(), json)?;
        self.flusher.flush_blocking().map_err(sled::Error::from)?;
        Ok(metadata(name, &stored))
    }

    /// The metadata of every credential of `client`, by name.
    pub fn credentials(
        &self,
        client: &ClientCode,
    ) -> Result<Vec<CredentialMetadata>, ClientStoreError> {
        let prefix = format!("k/{}/", client.as_str());
        self.tree
            .scan_prefix(prefix.as_bytes())
            .map(|entry| {
                let (key, bytes) = entry?;
                let stored: StoredCredential = decode(&key, &bytes)?;
                let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                Ok(metadata(&name, &stored))
            })
            .collect()
    }

    /// Opens secret `name` of `client` for use inside the service (verifying webhook
    /// signatures); never for a reply, and never for a connector: that is [`Self::secret_for`].
    pub fn secret(
        &self,
        vault: &Vault,
        client: &ClientCode,
        name: &str,
    ) -> Result<Secret, ClientStoreError> {
        let (key, stored) = self.stored(client, name)?;
        open(vault, client, name, &key, stored)
    }

    /// Opens secret `name` of `client` to be sent to `origin` (a connector's base URL): refused
    /// with `credential_host_mismatch` unless the credential is bound to `origin` or to nothing
    /// yet (the channel that uses it first binds it, [`Self::bind`]).
    pub fn secret_for(
        &self,
        vault: &Vault,
        client: &ClientCode,
        name: &str,
        origin: &Origin,
    ) -> Result<Secret, ClientStoreError> {
        let (key, stored) = self.stored(client, name)?;
        if !stored.hosts.is_empty() && !stored.hosts.contains(origin) {
            return Err(ClientStoreError::HostMismatch {
                name: name.to_string(),
                origin: origin.to_string(),
            });
        }
        open(vault, client, name, &key, stored)
    }

    /// Binds credentials `names` of `client` to `origin` for a new channel, all or none, in one
    /// transaction: a credential bound to nothing yet is bound to `origin`, one bound to `origin`
    /// already is left, and one bound elsewhere refuses the whole call with
    /// `credential_host_mismatch` (nothing written). Durable when it returns.
    pub fn bind(
        &self,
        client: &ClientCode,
        names: &BTreeSet<String>,
        origin: &Origin,
    ) -> Result<(), ClientStoreError> {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        let result = self.tree.transaction(|tx| {
            for name in names {
                let key = format!("k/{}/{name}", client.as_str());
                let abort = |error| ConflictableTransactionError::Abort(error);
                let bytes = tx.get(key.as_bytes())?.ok_or_else(|| {
                    abort(ClientStoreError::UnknownCredential {
                        client: client.as_str().to_string(),
                        name: name.clone(),
                    })
                })?;
                let mut stored: StoredCredential = decode(key.as_bytes(), &bytes).map_err(abort)?;
                if stored.hosts.contains(origin) {
                    continue;
                }
                if !stored.hosts.is_empty() {
                    return Err(abort(ClientStoreError::HostMismatch {
                        name: name.clone(),
                        origin: origin.to_string(),
                    }));
                }
                stored.hosts.insert(origin.clone());
                let json = serde_json::to_vec(&stored).map_err(|error| {
                    abort(ClientStoreError::Corrupt {
                        key: key.clone(),
                        message: error.to_string(),
                    })
                })?;
                tx.insert(key.as_bytes(), json)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(error)) => return Err(error),
            Err(TransactionError::Storage(error)) => return Err(error.into()),
        }
        self.tree.flush()?;
        Ok(())
    }

    /// Binds credential `name` of `client` to `origins` if it is bound to nothing: how a
    /// credential stored before bindings existed keeps working, bound to the origins its stored
    /// channels already use. Answers whether it bound. Durable when it returns.
    pub fn adopt_bindings(
        &self,
        client: &ClientCode,
        name: &str,
        origins: &BTreeSet<Origin>,
    ) -> Result<bool, ClientStoreError> {
        let key = format!("k/{}/{name}", client.as_str());
        loop {
            let Some(bytes) = self.tree.get(&key)? else {
                return Ok(false);
            };
            let mut stored: StoredCredential = decode(key.as_bytes(), &bytes)?;
            if !stored.hosts.is_empty() || origins.is_empty() {
                return Ok(false);
            }
            stored.hosts = origins.clone();
            let json = serde_json::to_vec(&stored).map_err(|error| ClientStoreError::Corrupt {
                key: key.clone(),
                message: error.to_string(),
            })?;
            if self
                .tree
                .compare_and_swap(key.as_bytes(), Some(bytes), Some(json))?
                .is_ok()
            {
                self.tree.flush()?;
                return Ok(true);
            }
        }
    }

    /// The stored credential `name` of `client` and its key.
    fn stored(
        &self,
        client: &ClientCode,
        name: &str,
    ) -> Result<(String, StoredCredential), ClientStoreError> {
        let key = format!("k/{}/{name}", client.as_str());
        let unknown = || ClientStoreError::UnknownCredential {
            client: client.as_str().to_string(),
            name: name.to_string(),
        };
        let bytes = self.tree.get(&key)?.ok_or_else(unknown)?;
        let stored: StoredCredential = decode(key.as_bytes(), &bytes)?;
        Ok((key, stored))
    }
}

/// Opens a stored credential's sealed secret.
fn open(
    vault: &Vault,
    client: &ClientCode,
    name: &str,
    key: &str,
    stored: StoredCredential,
) -> Result<Secret, ClientStoreError> {
    use base64::Engine as _;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(stored.sealed)
        .map_err(|error| ClientStoreError::Corrupt {
            key: key.to_string(),
            message: error.to_string(),
        })?;
    Ok(vault.open_secret(client.as_str(), name, &sealed)?)
}

fn metadata(name: &str, stored: &StoredCredential) -> CredentialMetadata {
    CredentialMetadata {
        name: name.to_string(),
        created_at: stored.created_at,
        rotated_at: stored.rotated_at,
        rotate_by: stored.rotate_by,
        hosts: stored.hosts.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `n`th time of a test, a second after the one before.
    fn t(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + n, 0).unwrap()
    }

    fn record(code: &str) -> ClientRecord {
        ClientRecord {
            code: code.into(),
            name: "Acme".into(),
            tier: ServiceTier::Premium,
            created_at: t(0),
        }
    }

    /// A store and a vault in a new data directory.
    fn open_store() -> (tempfile::TempDir, sled::Db, Vault, ClientStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let vault = Vault::open(dir.path(), None).unwrap();
        let store = ClientStore::open(&db).unwrap();
        (dir, db, vault, store)
    }

    #[test]
    fn clients_are_created_once_and_credentials_sealed_and_rotated() {
        let (dir, db, vault, store) = open_store();
        store.create(&record("ACME")).unwrap();
        assert_eq!(
            store.create(&record("ACME")).unwrap_err().kind(),
            "conflict"
        );
        let acme = ClientCode::parse("ACME").unwrap();
        assert_eq!(
            store.get(&acme).unwrap().unwrap().tier,
            ServiceTier::Premium
        );

        let secret = Secret::new("shpat_plaintext_never_on_disk_42");
        let first = store
            .put_credential(&vault, &acme, "shopify-token", &secret, None, None, t(1))
            .unwrap();
        assert_eq!((first.created_at, first.rotated_at), (t(1), None));
        let rotated = store
            .put_credential(
                &vault,
                &acme,
                "shopify-token",
                &Secret::new("shpat_new"),
                Some(Due::parse("2027-01-01").unwrap()),
                None,
                t(2),
            )
            .unwrap();
        assert_eq!((rotated.created_at, rotated.rotated_at), (t(1), Some(t(2))));
        assert_eq!(
            store
                .secret(&vault, &acme, "shopify-token")
                .unwrap()
                .expose(),
            "shpat_new"
        );
        assert_eq!(store.credentials(&acme).unwrap().len(), 1);

        let bolt = ClientCode::parse("BOLT").unwrap();
        assert_eq!(
            store
                .put_credential(&vault, &bolt, "x", &secret, None, None, t(9))
                .unwrap_err()
                .kind(),
            "not_found"
        );
        assert_eq!(
            store
                .put_credential(&vault, &acme, "Bad Name", &secret, None, None, t(9))
                .unwrap_err()
                .kind(),
            "invalid_field"
        );
        assert_eq!(
            store
                .put_credential(&vault, &acme, "x", &Secret::new(""), None, None, t(9))
                .unwrap_err()
                .kind(),
            "invalid_field"
        );
        drop(db);
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            for plain in ["shpat_plaintext_never_on_disk_42", "shpat_new"] {
                assert!(
                    !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
                    "{plain} in {}",
                    entry.display()
                );
            }
        }
    }

    fn origin(text: &str) -> Origin {
        Origin::parse(text).unwrap()
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn a_credential_is_bound_by_its_first_channel_and_opens_only_for_its_hosts() {
        let (_dir, _db, vault, store) = open_store();
        store.create(&record("ACME")).unwrap();
        let acme = ClientCode::parse("ACME").unwrap();
        let token = Secret::new("shpat_bound");
        for name in ["shop", "shared"] {
            store
                .put_credential(&vault, &acme, name, &token, None, None, t(1))
                .unwrap();
        }
        let shop = origin("acme.myshopify.com");
        let evil = origin("http://127.0.0.1:6666");
        // Unbound: it opens for any origin (the channel creating it binds it next).
        assert!(store.secret_for(&vault, &acme, "shop", &evil).is_ok());
        store.bind(&acme, &names(&["shop"]), &shop).unwrap();
        assert_eq!(
            store
                .secret_for(&vault, &acme, "shop", &evil)
                .unwrap_err()
                .kind(),
            "credential_host_mismatch"
        );
        assert_eq!(
            store.secret_for(&vault, &acme, "shop", &shop).unwrap(),
            token
        );
        // All or none: `shared` is unbound, `shop` bound elsewhere: neither changes.
        assert_eq!(
            store
                .bind(&acme, &names(&["shared", "shop"]), &evil)
                .unwrap_err()
                .kind(),
            "credential_host_mismatch"
        );
        assert!(store.credentials(&acme).unwrap()[0].hosts.is_empty());
        assert_eq!(
            store
                .bind(&acme, &names(&["nope"]), &shop)
                .unwrap_err()
                .kind(),
            "not_found"
        );
        // A rotation keeps the bindings; a secret supplied with hosts replaces them.
        let rotated = store
            .put_credential(&vault, &acme, "shop", &Secret::new("new"), None, None, t(2))
            .unwrap();
        assert_eq!(rotated.hosts, [shop.clone()].into());
        let rebound = store
            .put_credential(
                &vault,
                &acme,
                "shop",
                &Secret::new("new"),
                None,
                Some([shop.clone(), evil.clone()].into()),
                t(3),
            )
            .unwrap();
        assert_eq!(rebound.hosts.len(), 2);
        assert!(store.secret_for(&vault, &acme, "shop", &evil).is_ok());
        // Bindings are adopted only by a credential bound to nothing.
        assert!(!store
            .adopt_bindings(&acme, "shop", &[origin("other.example")].into())
            .unwrap());
        assert!(store
            .adopt_bindings(&acme, "shared", &[shop.clone()].into())
            .unwrap());
        assert_eq!(
            store
                .secret_for(&vault, &acme, "shared", &evil)
                .unwrap_err()
                .kind(),
            "credential_host_mismatch"
        );
    }

    #[test]
    fn a_credential_stored_before_bindings_existed_decodes_unbound() {
        let (_dir, _db, vault, store) = open_store();
        store.create(&record("ACME")).unwrap();
        let acme = ClientCode::parse("ACME").unwrap();
        use base64::Engine as _;
        let sealed = base64::engine::general_purpose::STANDARD.encode(vault.seal(
            "ACME",
            "legacy",
            &Secret::new("old-token"),
        ));
        // The exact shape written before issue 12.
        let old = serde_json::json!({"sealed": sealed, "created_at": "2026-11-21T00:00:00.000Z", "rotated_at": null, "rotate_by": null});
        store
            .tree
            .insert("k/ACME/legacy", serde_json::to_vec(&old).unwrap())
            .unwrap();
        assert!(store.credentials(&acme).unwrap()[0].hosts.is_empty());
        assert!(store
            .adopt_bindings(&acme, "legacy", &[origin("http://127.0.0.1:7")].into())
            .unwrap());
        assert_eq!(
            store
                .secret_for(&vault, &acme, "legacy", &origin("http://127.0.0.1:7"))
                .unwrap()
                .expose(),
            "old-token"
        );
    }

    #[test]
    fn records_stored_with_text_times_load_and_read_back_as_they_were_written() {
        let (_dir, _db, vault, store) = open_store();
        // A client and a rotated credential as the service wrote them while times were text.
        let client = serde_json::json!({"code": "ACME", "name": "Acme", "tier": "premium",
                                        "created_at": "2026-11-21T09:30:00.250Z"});
        let credential = serde_json::json!({"sealed": "AAAA", "created_at": "2026-11-21T09:31:00.000Z",
                                            "rotated_at": "2026-11-22T10:00:00.007Z",
                                            "rotate_by": "2027-03-01", "hosts": []});
        for (key, json) in [("c/ACME", &client), ("k/ACME/shop", &credential)] {
            store
                .tree
                .insert(key, serde_json::to_vec(json).unwrap())
                .unwrap();
        }
        let acme = ClientCode::parse("ACME").unwrap();
        let loaded = store.get(&acme).unwrap().unwrap();
        assert_eq!(serde_json::to_value(&loaded).unwrap(), client);
        let metadata = &store.credentials(&acme).unwrap()[0];
        assert_eq!(
            serde_json::to_value(metadata).unwrap(),
            serde_json::json!({"name": "shop", "created_at": "2026-11-21T09:31:00.000Z",
                               "rotated_at": "2026-11-22T10:00:00.007Z",
                               "rotate_by": "2027-03-01", "hosts": []}),
            "the API shows the times as before"
        );
        // Written and read again, a record is the same value and the same text.
        let stored: StoredCredential =
            decode(b"k", &store.tree.get("k/ACME/shop").unwrap().unwrap()).unwrap();
        assert_eq!(serde_json::to_value(&stored).unwrap(), credential);
        store.create(&record("BOLT")).unwrap();
        let bolt = ClientCode::parse("BOLT").unwrap();
        assert_eq!(store.get(&bolt).unwrap().unwrap(), record("BOLT"));
        let due = Some(Due::parse("2027-01-01T12:00:00Z").unwrap());
        let secret = Secret::new("s");
        let put = store
            .put_credential(&vault, &bolt, "x", &secret, due, None, t(1))
            .unwrap();
        assert_eq!(store.credentials(&bolt).unwrap(), vec![put]);
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }
}
