//! Opening the embedded sled database that holds every client's tree.
//!
//! sled 0.34.7 can panic rather than return an error when it finds a damaged file on open
//! (`reference/reliability.md` §2.3: #1155, #1387), so the open runs inside `catch_unwind` and a
//! panic becomes an error: the service refuses to start on a damaged database, it never starts
//! on an empty one by mistake.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::ids::ClientCode;

/// The default page cache budget. sled's own default is 1 GiB; real memory use runs several
/// times the configured cache (`reference/reliability.md` §2.3, "Memory use"), so the service
/// sets it explicitly and small.
pub const DEFAULT_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// sled returned an error (another process holds the lock, I/O failure, corruption).
    #[error("cannot open the database at {path}: {source}")]
    Open { path: String, source: sled::Error },
    /// sled panicked while recovering the files.
    #[error("the database at {path} is damaged: sled panicked while opening it: {message}")]
    Panicked { path: String, message: String },
}

impl StorageError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            StorageError::Open { .. } => "open_failed",
            StorageError::Panicked { .. } => "open_panicked",
        }
    }
}

/// Opens (or creates) the database at `path` with a page cache of `cache_bytes`.
pub fn open_database(path: &Path, cache_bytes: u64) -> Result<sled::Db, StorageError> {
    let display = path.display().to_string();
    let config = sled::Config::new().path(path).cache_capacity(cache_bytes);
    match catch_unwind(AssertUnwindSafe(|| config.open())) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(source)) => Err(StorageError::Open {
            path: display,
            source,
        }),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_else(|| "no message".to_string());
            Err(StorageError::Panicked {
                path: display,
                message,
            })
        }
    }
}

/// The prefix of every client's tree name.
pub const CLIENT_TREE_PREFIX: &str = "client/";

/// Opens the tree of `client`. The tree is named by the client code alone, so nothing from a
/// payload can select it; the InventoryActor of that client is its only holder.
pub fn client_tree(db: &sled::Db, client: &ClientCode) -> Result<sled::Tree, sled::Error> {
    db.open_tree(format!("{CLIENT_TREE_PREFIX}{client}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn a_second_open_of_a_held_database_is_a_clear_error() {
        // sled's exclusive flock belongs to the open file description, so a second open fails
        // even inside one process: a restarted service cannot take over a live one's data.
        let dir = tempfile::tempdir().unwrap();
        let _held = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let error = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap_err();
        assert_eq!(error.kind(), "open_failed");
        assert!(
            error
                .to_string()
                .starts_with("cannot open the database at "),
            "{error}"
        );
    }

    #[test]
    fn client_trees_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let acme = client_tree(&db, &ClientCode::parse("ACME").unwrap()).unwrap();
        let bolt = client_tree(&db, &ClientCode::parse("BOLT").unwrap()).unwrap();
        acme.insert("k", "v").unwrap();
        assert!(bolt.get("k").unwrap().is_none());
    }
}
