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

/// Coalesces the flushes of one sled database. sled's flush is database-wide: a flush that
/// starts after a write makes that write durable, whichever tree it was written to. With one
/// InventoryActor per client each flushing after its own commit round, a hundred clients made
/// hundreds of flushes a second that queued behind each other and held up every transaction
/// (sled's flush holds its `concurrency_control` read lock; RESULTS.md, "Load scenarios"). Here
/// a caller takes a ticket after its write; one flush at a time runs, covering every ticket
/// taken before it started; callers whose ticket a running flush does not cover wait for the
/// next one, which then covers them all at once.
#[derive(Debug, Clone)]
pub struct DbFlusher {
    inner: std::sync::Arc<FlusherInner>,
}

#[derive(Debug)]
struct FlusherInner {
    db: sled::Db,
    /// The last ticket handed out, and whether a flush is running.
    state: std::sync::Mutex<FlusherState>,
    /// The newest finished flush: the last ticket it covered, and its error if it failed.
    finished: tokio::sync::watch::Sender<(u64, Option<String>)>,
}

#[derive(Debug, Default)]
struct FlusherState {
    tickets: u64,
    running: bool,
    runs: u64,
}

impl DbFlusher {
    /// A flusher of `db`.
    pub fn new(db: &sled::Db) -> Self {
        Self {
            inner: std::sync::Arc::new(FlusherInner {
                db: db.clone(),
                state: std::sync::Mutex::new(FlusherState::default()),
                finished: tokio::sync::watch::Sender::new((0, None)),
            }),
        }
    }

    /// Makes every write made before the call durable. Runs sled's flush on tokio's blocking
    /// pool (never sled's `flush_async`, see [`crate::inventory::store::LedgerStore::flush`]).
    pub async fn flush(&self) -> Result<(), String> {
        let inner = &self.inner;
        let mut finished = inner.finished.subscribe();
        let ticket = {
            let mut state = inner.state.lock().unwrap_or_else(|p| p.into_inner());
            state.tickets += 1;
            state.tickets
        };
        loop {
            {
                let newest = finished.borrow_and_update();
                if newest.0 >= ticket {
                    // A flush that started after this ticket finished. Were an earlier covering
                    // flush to have failed, this later one still made the write durable.
                    return newest.1.clone().map_or(Ok(()), Err);
                }
            }
            let covers = {
                let mut state = inner.state.lock().unwrap_or_else(|p| p.into_inner());
                if state.running {
                    None
                } else {
                    state.running = true;
                    state.runs += 1;
                    Some(state.tickets)
                }
            };
            match covers {
                Some(covers) => {
                    let db = inner.db.clone();
                    let result = tokio::task::spawn_blocking(move || db.flush())
                        .await
                        .map_err(|error| format!("the flush task failed: {error}"))
                        .and_then(|flushed| flushed.map(drop).map_err(|error| error.to_string()));
                    inner
                        .state
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .running = false;
                    inner.finished.send_replace((covers, result.err()));
                }
                None => {
                    // The running flush may have started before this ticket: wait for it, then
                    // look again (and lead the next flush if nobody else does).
                    if finished.changed().await.is_err() {
                        return Err("the flusher is gone".into());
                    }
                }
            }
        }
    }

    /// Flushes asked for and flushes run so far (for tests and diagnosis).
    pub fn counts(&self) -> (u64, u64) {
        let state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        (state.tickets, state.runs)
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

    #[tokio::test]
    async fn concurrent_flushes_share_one_run_and_all_return_once_durable() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let flusher = DbFlusher::new(&db);
        let mut callers = Vec::new();
        for index in 0..50u32 {
            let tree =
                client_tree(&db, &ClientCode::parse(&format!("C{index:03}")).unwrap()).unwrap();
            let flusher = flusher.clone();
            callers.push(tokio::spawn(async move {
                tree.insert("k", &index.to_be_bytes()).unwrap();
                flusher.flush().await
            }));
        }
        for caller in callers {
            caller.await.unwrap().unwrap();
        }
        let (tickets, runs) = flusher.counts();
        assert_eq!(tickets, 50);
        assert!(runs <= 5, "{runs} flushes for 50 callers");
        // A flush asked for after the others runs again: it is not covered by an older run.
        flusher.flush().await.unwrap();
        assert_eq!(flusher.counts(), (51, runs + 1));
        drop(flusher);
        drop(db);
        let reopened = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        for index in 0..50u32 {
            let tree = client_tree(
                &reopened,
                &ClientCode::parse(&format!("C{index:03}")).unwrap(),
            )
            .unwrap();
            assert_eq!(
                tree.get("k").unwrap().unwrap().as_ref(),
                index.to_be_bytes()
            );
        }
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
