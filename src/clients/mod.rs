//! The agency's clients and their credentials, kept in the service database's `clients` tree:
//! `c/{CODE}` → the client record, `k/{CODE}/{name}` → a credential (its secret sealed by the
//! vault, never in clear, and its metadata). Every write is one sled operation or transaction,
//! flushed and fdatasync'd (`storage::DbFlusher`) before it returns, so an acknowledged write
//! survives a crash or a power cut.

pub mod channels;

use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::ratelimit::ServiceTier;
use shelfsync_actors::storage::DbFlusher;

use crate::vault::{Secret, Vault, VaultError};

/// The tree's name.
pub const CLIENTS_TREE: &str = "clients";
/// The longest credential name.
pub const MAX_CREDENTIAL_NAME: usize = 64;
/// The longest secret.
pub const MAX_SECRET_LEN: usize = 8 * 1024;

/// A client of the agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its service tier (its weight in shared platform budgets).
    pub tier: ServiceTier,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// A stored credential: the sealed secret and what the API may show of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredCredential {
    sealed: String,
    created_at: String,
    rotated_at: Option<String>,
    rotate_by: Option<String>,
}

/// What the API shows of a credential: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialMetadata {
    /// Its name.
    pub name: String,
    /// When it was first stored.
    pub created_at: String,
    /// When it was last replaced.
    pub rotated_at: Option<String>,
    /// When the agency should rotate it.
    pub rotate_by: Option<String>,
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
    /// `rotated_at`). Durable when it returns.
    pub fn put_credential(
        &self,
        vault: &Vault,
        client: &ClientCode,
        name: &str,
        secret: &Secret,
        rotate_by: Option<String>,
        now: &str,
    ) -> Result<CredentialMetadata, ClientStoreError> {
        validate_credential_name(name)?;
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
            created_at: previous
                .as_ref()
                .map_or_else(|| now.to_string(), |p| p.created_at.clone()),
            rotated_at: previous.as_ref().map(|_| now.to_string()),
            rotate_by,
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

    /// Opens secret `name` of `client` (for a connector; never for a reply).
    pub fn secret(
        &self,
        vault: &Vault,
        client: &ClientCode,
        name: &str,
    ) -> Result<Secret, ClientStoreError> {
        let key = format!("k/{}/{name}", client.as_str());
        let unknown = || ClientStoreError::UnknownCredential {
            client: client.as_str().to_string(),
            name: name.to_string(),
        };
        let bytes = self.tree.get(&key)?.ok_or_else(unknown)?;
        let stored: StoredCredential = decode(key.as_bytes(), &bytes)?;
        use base64::Engine as _;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(stored.sealed)
            .map_err(|error| ClientStoreError::Corrupt {
                key: key.clone(),
                message: error.to_string(),
            })?;
        Ok(vault.open_secret(client.as_str(), name, &sealed)?)
    }
}

fn metadata(name: &str, stored: &StoredCredential) -> CredentialMetadata {
    CredentialMetadata {
        name: name.to_string(),
        created_at: stored.created_at.clone(),
        rotated_at: stored.rotated_at.clone(),
        rotate_by: stored.rotate_by.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(code: &str) -> ClientRecord {
        ClientRecord {
            code: code.into(),
            name: "Acme".into(),
            tier: ServiceTier::Premium,
            created_at: "t0".into(),
        }
    }

    #[test]
    fn clients_are_created_once_and_credentials_sealed_and_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let vault = Vault::open(dir.path(), None).unwrap();
        let store = ClientStore::open(&db).unwrap();
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
            .put_credential(&vault, &acme, "shopify-token", &secret, None, "t1")
            .unwrap();
        assert_eq!(
            (first.created_at.as_str(), first.rotated_at.as_deref()),
            ("t1", None)
        );
        let rotated = store
            .put_credential(
                &vault,
                &acme,
                "shopify-token",
                &Secret::new("shpat_new"),
                Some("2027-01-01".into()),
                "t2",
            )
            .unwrap();
        assert_eq!(
            (rotated.created_at.as_str(), rotated.rotated_at.as_deref()),
            ("t1", Some("t2"))
        );
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
                .put_credential(&vault, &bolt, "x", &secret, None, "t")
                .unwrap_err()
                .kind(),
            "not_found"
        );
        assert_eq!(
            store
                .put_credential(&vault, &acme, "Bad Name", &secret, None, "t")
                .unwrap_err()
                .kind(),
            "invalid_field"
        );
        assert_eq!(
            store
                .put_credential(&vault, &acme, "x", &Secret::new(""), None, "t")
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
