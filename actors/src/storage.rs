//! Opening the embedded sled database that holds every client's tree, and making what it wrote
//! durable before anything is acknowledged.
//!
//! sled 0.34.7 can panic rather than return an error when it finds a damaged file on open
//! (`reference/reliability.md` §2.3: #1155, #1387), so the open runs inside `catch_unwind` and a
//! panic becomes an error: the service refuses to start on a damaged database, it never starts
//! on an empty one by mistake.
//!
//! **Durable means fdatasync'd** (DESIGN §3). sled's own flush ends in `sync_file_range` on Linux
//! (`pagecache/iobuf.rs`), which survives a killed process but not a power cut or a kernel crash:
//! it writes no metadata and leaves the drive's cache alone, and sled's background `fsync` runs
//! only every 500 ms (`reference/reliability.md` §2.1). So every acknowledgement waits for a
//! [`DbFlusher`] run: sled's flush, then an `fdatasync` of every file sled wrote that a recovery
//! reads. What sled 0.34.7 writes under its directory (read in its source):
//!
//! | entry | written by | what this module syncs |
//! |---|---|---|
//! | `db` | the log and every page (`pwrite` + `sync_file_range` on flush; `fsync` every 500 ms) | `fdatasync` after every flush, through a handle kept open |
//! | `blobs/<lsn>` | a page too large for a log segment (`blob_io.rs`, written without any sync) | a new one's data, then the `blobs` directory, before the log |
//! | `snap.<lsn>` | the snapshot (`fsync`'d by sled, then renamed without syncing the directory) | the directory, when a new entry appears |
//! | `conf` | the storage parameters, once, at creation (never synced by sled) | on open, with `db`, `blobs/`, the directory and its parent |
//!
//! **A failed sync is final** (the PostgreSQL "fsyncgate" lesson): after a failed `fsync`, Linux
//! may have dropped the dirty pages and marked them clean, so a retry can succeed without the data
//! ever reaching the disk. A flusher whose flush or sync failed answers every later flush with
//! [`StorageError::Poisoned`]: nothing more is acknowledged until the process restarts and sled
//! recovers from what is really on disk (the callers of the unacknowledged writes retry them:
//! webhook redelivery, an unadvanced poll cursor, an API 5xx).

use std::fs::File;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ids::ClientCode;

mod flusher;

pub use self::flusher::DbFlusher;

/// The default page cache budget. sled's own default is 1 GiB; real memory use runs several
/// times the configured cache (`reference/reliability.md` §2.3, "Memory use"), so the service
/// sets it explicitly and small.
pub const DEFAULT_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// The environment variable that makes a flusher skip its `fdatasync` (sled's flush still runs).
/// It exists only in builds with the `testsuite` feature, for the negative control of the test
/// that traces the service's system calls (`tests/integration/durability.rs`): that test must see
/// the check fail without the sync. It does not start with `SHELFSYNC_`, so `serve`'s
/// configuration (which refuses unknown `SHELFSYNC_` variables) leaves it alone.
#[cfg(feature = "testsuite")]
pub const UNSAFE_SKIP_FDATASYNC_ENV: &str = "UNSAFE_SHELFSYNC_TEST_SKIP_FDATASYNC";

/// Why the database could not be opened, or why a flush did not make the writes durable. Clone:
/// one failed flush run answers every caller it covered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// sled returned an error (another process holds the lock, I/O failure, corruption).
    #[error("cannot open the database at {path}: {source}")]
    Open { path: String, source: sled::Error },
    /// sled panicked while recovering the files.
    #[error("the database at {path} is damaged: sled panicked while opening it: {message}")]
    Panicked { path: String, message: String },
    /// A file or directory of a freshly opened database could not be synced.
    #[error("cannot sync {path} after opening the database: {source}")]
    SyncOnOpen {
        path: String,
        source: Arc<io::Error>,
    },
    /// sled's flush failed.
    #[error("the database flush failed: {source}")]
    Flush { source: sled::Error },
    /// The `fdatasync`/`fsync` after sled's flush failed: the writes may not be on disk.
    #[error("syncing {path} failed: {source}")]
    Sync {
        path: String,
        source: Arc<io::Error>,
    },
    /// The flush panicked (inside sled, or in the sync).
    #[error("the database flush panicked: {message}")]
    FlushPanicked { message: String },
    /// The flusher could not start (its file handle or its thread).
    #[error("the database flusher cannot start: {source}")]
    FlusherStart { source: Arc<io::Error> },
    /// An earlier flush failed, so this one is refused: see the module doc ("fsyncgate").
    #[error(
        "an earlier flush of the database failed ({first}); nothing more is acknowledged until \
         the service restarts and recovers from disk"
    )]
    Poisoned { first: Box<StorageError> },
}

impl StorageError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            StorageError::Open { .. } => "open_failed",
            StorageError::Panicked { .. } => "open_panicked",
            StorageError::SyncOnOpen { .. } => "sync_on_open_failed",
            StorageError::Flush { .. } => "flush_failed",
            StorageError::Sync { .. } => "sync_failed",
            StorageError::FlushPanicked { .. } => "flush_panicked",
            StorageError::FlusherStart { .. } => "flusher_start_failed",
            StorageError::Poisoned { .. } => "poisoned",
        }
    }
}

/// The stores that keep `sled::Error` in their own error enums carry a failed flush as an I/O
/// error of sled's, its message kept whole.
impl From<StorageError> for sled::Error {
    fn from(error: StorageError) -> Self {
        sled::Error::Io(io::Error::other(error))
    }
}

/// Opens (or creates) the database at `path` with a page cache of `cache_bytes`, then syncs the
/// files and directory entries sled created (`conf`, `db`, `blobs/`, the directory itself and its
/// entry in the parent): sled syncs none of them, and a database whose directory entry vanishes
/// in a power cut takes every acknowledged write with it.
///
/// A kill while sled writes a snapshot leaves a partial `snap.<lsn>.generating` file that sled
/// 0.34.7 then reads as the newest snapshot and refuses to open with `Corruption { at: None }`
/// (spacejam/sled#1527, `reference/reliability.md` §2.3; found by `tests/crash` on CI). Such a
/// file is by construction never committed: sled writes and syncs it, then renames it to
/// `snap.<lsn>`, and only the rename makes it the snapshot. So when an open fails with corruption
/// and unfinished snapshot files are there, they are removed (logged at `warn`) and the open is
/// tried once more, which recovers exactly as if the kill had come before the snapshot began.
/// Any other damage, including a corrupt committed snapshot, still refuses to start.
pub fn open_database(path: &Path, cache_bytes: u64) -> Result<sled::Db, StorageError> {
    match open_once(path, cache_bytes) {
        Err(StorageError::Open {
            source: sled::Error::Corruption { .. },
            ..
        }) if !unfinished_snapshots(path).is_empty() => {
            remove_unfinished_snapshots(path)?;
            open_once(path, cache_bytes)
        }
        opened => opened,
    }
}

/// The snapshot files sled began and never renamed into place.
fn unfinished_snapshots(path: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("snap.") && name.ends_with(".generating")
        })
        .map(|entry| entry.path())
        .collect()
}

fn remove_unfinished_snapshots(path: &Path) -> Result<(), StorageError> {
    for file in unfinished_snapshots(path) {
        let bytes = std::fs::metadata(&file).map(|meta| meta.len()).unwrap_or(0);
        tracing::warn!(
            file = %file.display(),
            bytes,
            "the database did not open because of a snapshot sled began and never finished \
             (a kill while it was written); removing it and opening again"
        );
        std::fs::remove_file(&file).map_err(|source| StorageError::SyncOnOpen {
            path: file.display().to_string(),
            source: Arc::new(source),
        })?;
    }
    sync_dir(path).map_err(|source| StorageError::SyncOnOpen {
        path: path.display().to_string(),
        source: Arc::new(source),
    })
}

fn open_once(path: &Path, cache_bytes: u64) -> Result<sled::Db, StorageError> {
    let display = path.display().to_string();
    let config = sled::Config::new().path(path).cache_capacity(cache_bytes);
    let db = match catch_unwind(AssertUnwindSafe(|| config.open())) {
        Ok(Ok(db)) => db,
        Ok(Err(source)) => {
            return Err(StorageError::Open {
                path: display,
                source,
            })
        }
        Err(panic) => {
            return Err(StorageError::Panicked {
                path: display,
                message: panic_message(panic.as_ref()),
            })
        }
    };
    sync_created_files(path)?;
    Ok(db)
}

fn sync_created_files(path: &Path) -> Result<(), StorageError> {
    let failed = |synced: &Path| {
        let synced = synced.display().to_string();
        move |source| StorageError::SyncOnOpen {
            path: synced,
            source: Arc::new(source),
        }
    };
    for file in [path.join("conf"), path.join("db")] {
        File::open(&file)
            .and_then(|handle| handle.sync_all())
            .map_err(failed(&file))?;
    }
    let blobs = path.join("blobs");
    sync_dir(&blobs).map_err(failed(&blobs))?;
    sync_dir(path).map_err(failed(path))?;
    let parent = parent_dir(path);
    sync_dir(&parent).map_err(failed(&parent))
}

/// `fsync`s a directory, which makes the entries created or renamed in it durable (a new file's
/// own `fsync` does not: `fsync(2)`, "Notes").
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// `create_dir_all`, then makes every directory it created durable by syncing its parent. For the
/// service's data directory: a directory created and not synced can vanish in a power cut with
/// everything in it.
pub fn create_dir_all_durable(path: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut current = path.to_path_buf();
    while !current.exists() {
        missing.push(current.clone());
        match current.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => current = parent.to_path_buf(),
            _ => break,
        }
    }
    std::fs::create_dir_all(path)?;
    for created in missing.iter().rev() {
        sync_dir(&parent_dir(created))?;
    }
    Ok(())
}

/// The directory holding `path` (`.` for a bare relative name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_else(|| "no message".to_string())
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

    fn closed_database_with_a_key(dir: &Path) {
        let db = open_database(dir, DEFAULT_CACHE_BYTES).unwrap();
        db.insert(b"key", b"value".as_slice()).unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn regression_a_kill_while_sled_writes_a_snapshot_does_not_block_the_next_open() {
        // Found by tests/crash on CI: "cannot open the database …: Read corrupted data at file
        // offset None" after a kill 25 ms into a child's life (sled#1527).
        let dir = tempfile::tempdir().unwrap();
        closed_database_with_a_key(dir.path());
        let unfinished = dir.path().join("snap.7FFFFFFFFFFFFFFF.generating");
        std::fs::write(&unfinished, b"partial").unwrap();

        // What sled alone does with it: the failure this module works around.
        let raw = sled::Config::new().path(dir.path()).open();
        assert!(
            matches!(raw, Err(sled::Error::Corruption { .. })),
            "sled opened past an unfinished snapshot by itself; the workaround may go: {raw:?}"
        );

        let db = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(
            db.get(b"key").unwrap().as_deref(),
            Some(b"value".as_slice())
        );
        assert!(!unfinished.exists());
    }

    #[test]
    fn a_corrupt_committed_snapshot_still_refuses_to_open() {
        // The negative control: only never-committed files are set aside; a damaged snapshot
        // that sled renamed into place is damage, and the service must not start on it.
        let dir = tempfile::tempdir().unwrap();
        closed_database_with_a_key(dir.path());
        let committed = dir.path().join("snap.7FFFFFFFFFFFFFFF");
        std::fs::write(&committed, b"partial").unwrap();
        std::fs::write(dir.path().join("snap.0000000000000001.generating"), b"x").unwrap();

        let error = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap_err();
        assert_eq!(error.kind(), "open_failed", "{error}");
        assert!(committed.exists());
    }

    #[test]
    fn create_dir_all_durable_creates_every_missing_level() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("x").join("y").join("z");
        create_dir_all_durable(&nested).unwrap();
        assert!(nested.is_dir());
        create_dir_all_durable(&nested).unwrap();
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
