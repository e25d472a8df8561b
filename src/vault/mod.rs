//! The credential vault's cryptography (DESIGN §6): each client's platform secrets sealed with an
//! AEAD, XChaCha20-Poly1305, under one master key, with the client code and the secret's name as
//! associated data, so that a sealed secret copied onto another client or another name fails to
//! open instead of being used in the wrong place. The master key comes from `SHELFSYNC_MASTER_KEY`
//! (base64 of 32 bytes) or from a key file in the data directory, created on first start with mode
//! 0600 and refused later when anyone but its owner may read it.
//!
//! Secrets are held in [`Secret`], whose `Debug` never shows the value and which is not
//! `Serialize`, so that a secret cannot reach a log line or a reply by accident.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// The environment variable that carries the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "SHELFSYNC_MASTER_KEY";
/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "master.key";
/// The first byte of every sealed value: the format, so that a later format can be told apart.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// Errors of the vault, each with a stable `kind()`.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// `SHELFSYNC_MASTER_KEY` is not base64 of 32 bytes.
    #[error("{MASTER_KEY_ENV} must be the base64 of 32 bytes: {reason}")]
    BadKeyEnv {
        /// What is wrong (never the value).
        reason: String,
    },
    /// The key file is not 32 bytes.
    #[error("the key file {path} must hold 32 bytes, it holds {len}")]
    BadKeyFile {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// The key file may be read by someone other than its owner.
    #[error("the key file {path} has mode {mode:o}: only its owner may read it (chmod 600)")]
    KeyFileTooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or creating the key file failed.
    #[error("key file {path}: {source}")]
    KeyFileIo {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A sealed value does not open: damaged, or sealed for another client, name or key.
    #[error("the sealed secret {name:?} of client {client} does not open with this key (damaged, moved, or another master key)")]
    DoesNotOpen {
        /// The client code.
        client: String,
        /// The secret's name.
        name: String,
    },
}

impl VaultError {
    /// The stable code of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            VaultError::BadKeyEnv { .. } => "vault_bad_key_env",
            VaultError::BadKeyFile { .. } => "vault_bad_key_file",
            VaultError::KeyFileTooOpen { .. } => "vault_key_file_too_open",
            VaultError::KeyFileIo { .. } => "vault_key_file_io",
            VaultError::DoesNotOpen { .. } => "vault_does_not_open",
        }
    }
}

/// A secret value: shown as `Secret(***)` by `Debug`, never serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (an auth header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the master key came from (for the start-up log line; never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `SHELFSYNC_MASTER_KEY`.
    Environment,
    /// An existing key file.
    File(PathBuf),
    /// A key file created on this start.
    CreatedFile(PathBuf),
}

/// Seals and opens secrets under the master key.
pub struct Vault {
    cipher: XChaCha20Poly1305,
    source: KeySource,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// The vault of `data_dir`: the key from `env_key` (the value of `SHELFSYNC_MASTER_KEY`) when
    /// given, else from `data_dir/master.key`, created with mode 0600 when missing.
    pub fn open(data_dir: &Path, env_key: Option<&str>) -> Result<Vault, VaultError> {
        if let Some(encoded) = env_key {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|error| VaultError::BadKeyEnv {
                    reason: error.to_string(),
                })?;
            if bytes.len() != KEY_LEN {
                return Err(VaultError::BadKeyEnv {
                    reason: format!("it decodes to {} bytes", bytes.len()),
                });
            }
            return Ok(Vault::from_key(&bytes, KeySource::Environment));
        }
        let path = data_dir.join(KEY_FILE);
        match read_key_file(&path)? {
            Some(bytes) => Ok(Vault::from_key(&bytes, KeySource::File(path))),
            None => {
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                create_key_file(&path, &key)?;
                Ok(Vault::from_key(&key, KeySource::CreatedFile(path)))
            }
        }
    }

    fn from_key(key: &[u8], source: KeySource) -> Vault {
        Vault {
            cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key)),
            source,
        }
    }

    /// Where the key came from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Seals `secret` as secret `name` of `client`: format byte, random nonce, ciphertext and tag.
    pub fn seal(&self, client: &str, name: &str, secret: &Secret) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = associated_data(client, name);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer does not fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value sealed by [`Vault::seal`] for the same client and name.
    pub fn open_secret(
        &self,
        client: &str,
        name: &str,
        sealed: &[u8],
    ) -> Result<Secret, VaultError> {
        let fail = || VaultError::DoesNotOpen {
            client: client.to_string(),
            name: name.to_string(),
        };
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT_V1 {
            return Err(fail());
        }
        let nonce = XNonce::from_slice(&sealed[1..1 + NONCE_LEN]);
        let aad = associated_data(client, name);
        let plain = self
            .cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain).map(Secret).map_err(|_| fail())
    }
}

/// The associated data binding a sealed value to its client and name (with a domain prefix and
/// separators no client code or name may contain).
fn associated_data(client: &str, name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(24 + client.len() + name.len());
    aad.extend_from_slice(b"shelfsync-vault-v1\0");
    aad.extend_from_slice(client.as_bytes());
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad
}

fn read_key_file(path: &Path) -> Result<Option<Vec<u8>>, VaultError> {
    let io = |source| VaultError::KeyFileIo {
        path: path.to_path_buf(),
        source,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io(error)),
    };
    check_owner_only(path, &metadata)?;
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.len() != KEY_LEN {
        return Err(VaultError::BadKeyFile {
            path: path.to_path_buf(),
            len: bytes.len(),
        });
    }
    Ok(Some(bytes))
}

#[cfg(unix)]
fn check_owner_only(path: &Path, metadata: &std::fs::Metadata) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(VaultError::KeyFileTooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), VaultError> {
    Ok(())
}

fn create_key_file(path: &Path, key: &[u8]) -> Result<(), VaultError> {
    let io = |source| VaultError::KeyFileIo {
        path: path.to_path_buf(),
        source,
    };
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    shelfsync_actors::storage::create_dir_all_durable(&parent).map_err(io)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Created owner-only: the key is never readable by anyone else, not even for a moment.
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(key).map_err(io)?;
    file.sync_all().map_err(io)?;
    // The file's own fsync does not make its directory entry durable: without this a power cut
    // could leave a service whose credentials were sealed with a key that no longer exists.
    shelfsync_actors::storage::sync_dir(&parent).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(dir: &Path) -> Vault {
        Vault::open(dir, None).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_client_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let vault = vault(dir.path());
        let secret = Secret::new("shpat_0123456789abcdef");
        let sealed = vault.seal("ACME", "shopify-token", &secret);
        assert_eq!(
            vault.open_secret("ACME", "shopify-token", &sealed).unwrap(),
            secret
        );
        assert!(
            vault.open_secret("BOLT", "shopify-token", &sealed).is_err(),
            "another client"
        );
        assert!(
            vault.open_secret("ACME", "etsy-token", &sealed).is_err(),
            "another name"
        );
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(
            vault
                .open_secret("ACME", "shopify-token", &damaged)
                .is_err(),
            "damaged"
        );
        assert!(
            !sealed
                .windows(secret.expose().len())
                .any(|w| w == secret.expose().as_bytes()),
            "no plaintext"
        );
        assert_ne!(
            vault.seal("ACME", "shopify-token", &secret),
            sealed,
            "a fresh nonce each time"
        );
    }

    #[test]
    fn the_key_file_is_created_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = vault(dir.path());
        assert_eq!(
            first.source(),
            &KeySource::CreatedFile(dir.path().join(KEY_FILE))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = first.seal("ACME", "t", &Secret::new("s"));
        let second = vault(dir.path());
        assert_eq!(second.source(), &KeySource::File(dir.path().join(KEY_FILE)));
        assert_eq!(
            second.open_secret("ACME", "t", &sealed).unwrap().expose(),
            "s"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        vault(dir.path());
        let path = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = Vault::open(dir.path(), None).unwrap_err();
        assert_eq!(error.kind(), "vault_key_file_too_open");
    }

    #[test]
    fn the_environment_key_must_be_32_bytes_and_is_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        let error = Vault::open(dir.path(), Some(&short)).unwrap_err();
        assert_eq!(error.kind(), "vault_bad_key_env");
        assert!(!error.to_string().contains(&short));
        assert!(Vault::open(dir.path(), Some("not base64!")).is_err());
        let good = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let from_env = Vault::open(dir.path(), Some(&good)).unwrap();
        assert_eq!(from_env.source(), &KeySource::Environment);
        assert!(
            !dir.path().join(KEY_FILE).exists(),
            "no key file when the key comes from the environment"
        );
        let sealed = from_env.seal("ACME", "t", &Secret::new("s"));
        assert_eq!(
            Vault::open(dir.path(), Some(&good))
                .unwrap()
                .open_secret("ACME", "t", &sealed)
                .unwrap()
                .expose(),
            "s"
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
