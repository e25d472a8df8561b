//! [`DbFlusher`]: one run at a time of sled's flush and the `fdatasync` of what it wrote,
//! shared by every store of a database (see [`super`] for what durable means here).

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

#[cfg(feature = "testsuite")]
use super::UNSAFE_SKIP_FDATASYNC_ENV;
use super::{panic_message, parent_dir, sync_dir, StorageError};
use crate::metrics::events::{InternalEvent, StorageFlushFailed};

/// Coalesces the flushes of one sled database and makes them durable: sled's flush, then an
/// `fdatasync` of what it wrote (see the module doc). sled's flush is database-wide: a flush
/// that starts after a write makes that write durable, whichever tree it was written to. With one
/// InventoryActor per client each flushing after its own commit round, a hundred clients made
/// hundreds of flushes a second that queued behind each other and held up every transaction
/// (sled's flush holds its `concurrency_control` read lock; RESULTS.md, "Load scenarios"). Here
/// a caller takes a ticket after its write; one run (flush and sync) at a time goes on the
/// flusher's own thread, covering every ticket taken before it started; callers whose ticket a
/// running run does not cover wait for the next one, which then covers them all at once. So one
/// `fdatasync` covers every client's waiting round (DESIGN §3).
///
/// One flusher per database: [`DbFlusher::new`] hands every caller in the process the same one
/// for the same database, so the ledgers and the service's own stores (members, clients,
/// channels, reasons) share its runs. Its thread is a plain OS thread, rather than sled's
/// `flush_async` (see [`crate::inventory::store::LedgerStore::flush`]) or tokio's blocking pool:
/// async callers ([`DbFlusher::flush`]) and blocking ones
/// ([`DbFlusher::flush_blocking`]) wait on the same runs, and a run can never be cancelled
/// half-way by a dropped future or a runtime shutting down. It ends when the last handle goes.
#[derive(Debug, Clone)]
pub struct DbFlusher {
    handle: Arc<FlusherHandle>,
}

/// The flushers alive in this process, by database directory. While one is alive it holds its
/// database open, and sled's exclusive lock keeps any other open of that directory failing, so a
/// directory names exactly one open database.
static FLUSHERS: Mutex<Vec<(PathBuf, Weak<FlusherHandle>)>> = Mutex::new(Vec::new());

#[derive(Debug)]
struct FlusherHandle {
    dir: PathBuf,
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<FlusherState>,
    /// Wakes the flusher thread: a ticket was taken, or the last handle is gone.
    work: Condvar,
    /// Wakes blocking callers: a run finished.
    done: Condvar,
    /// Wakes async callers: a run finished (the value counts finished runs).
    finished: tokio::sync::watch::Sender<u64>,
    /// Makes the next sync fail, to test what follows a failed `fsync`.
    #[cfg(test)]
    fail_next_sync: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct FlusherState {
    /// The last ticket handed out.
    tickets: u64,
    /// Runs started.
    runs: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// The failed run: the last ticket it covered, and why. Final (see the module doc).
    failure: Option<(u64, StorageError)>,
    /// New directory entries (blobs, snapshots) synced so far.
    synced_entries: u64,
    /// The last handle is gone: the thread ends once nothing waits.
    closing: bool,
}

impl DbFlusher {
    /// The flusher of `db`: the one already running for it in this process, or a new one.
    ///
    /// A flusher that cannot start (its handle on the log file, its thread) does not fail here: it
    /// answers every flush with [`StorageError::FlusherStart`], so nothing is acknowledged.
    pub fn new(db: &sled::Db) -> Self {
        // sled 0.34.7 names its directory only through `Db::context`, public but hidden from its
        // docs; sled is pinned (=0.34.7, whose file layout this module depends on anyway), and
        // `a_flusher_syncs_the_log_file_of_its_own_database` checks the answer.
        let dir = db.context.get_path();
        let key = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        let mut flushers = FLUSHERS.lock().unwrap_or_else(|p| p.into_inner());
        flushers.retain(|(_, flusher)| flusher.strong_count() > 0);
        if let Some(handle) = flushers
            .iter()
            .filter(|(path, _)| *path == key)
            .find_map(|(_, flusher)| flusher.upgrade())
        {
            return Self { handle };
        }
        let handle = Arc::new(FlusherHandle::start(db, dir));
        flushers.push((key, Arc::downgrade(&handle)));
        Self { handle }
    }

    /// Makes every write made before the call durable (flushed and fdatasync'd), waiting
    /// without blocking the thread.
    pub async fn flush(&self) -> Result<(), StorageError> {
        let shared = &self.handle.shared;
        let mut finished = shared.finished.subscribe();
        let ticket = shared.take_ticket();
        loop {
            finished.borrow_and_update();
            if let Some(outcome) = shared.outcome(&shared.lock(), ticket) {
                return outcome;
            }
            if finished.changed().await.is_err() {
                // The sender lives in `shared`, which this handle keeps alive: not reached.
                return Err(StorageError::FlushPanicked {
                    message: "the flusher's notifier is gone".into(),
                });
            }
        }
    }

    /// [`DbFlusher::flush`] for synchronous callers (the service's stores): blocks the thread
    /// until the run that covers the call has finished.
    pub fn flush_blocking(&self) -> Result<(), StorageError> {
        let shared = &self.handle.shared;
        let ticket = shared.take_ticket();
        let mut state = shared.lock();
        loop {
            if let Some(outcome) = shared.outcome(&state, ticket) {
                return outcome;
            }
            state = shared.done.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The failure that stopped this flusher, if one did (for readiness checks).
    pub fn failure(&self) -> Option<StorageError> {
        self.handle
            .shared
            .lock()
            .failure
            .as_ref()
            .map(|(_, error)| error.clone())
    }

    /// Flushes asked for and runs started so far (for tests and diagnosis).
    pub fn counts(&self) -> (u64, u64) {
        let state = self.handle.shared.lock();
        (state.tickets, state.runs)
    }

    /// New directory entries (blob files, snapshots) synced so far (for tests and diagnosis).
    pub fn synced_entries(&self) -> u64 {
        self.handle.shared.lock().synced_entries
    }

    /// The directory of the database this flusher syncs.
    pub fn database_dir(&self) -> &Path {
        &self.handle.dir
    }

    /// Makes the next sync fail as an `fsync` returning EIO would.
    #[cfg(test)]
    fn inject_sync_failure(&self) {
        self.handle
            .shared
            .fail_next_sync
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl FlusherHandle {
    fn start(db: &sled::Db, dir: PathBuf) -> FlusherHandle {
        let shared = Arc::new(Shared {
            state: Mutex::new(FlusherState::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            finished: tokio::sync::watch::Sender::new(0),
            #[cfg(test)]
            fail_next_sync: std::sync::atomic::AtomicBool::new(false),
        });
        let thread = DbFiles::open(&dir).and_then(|files| {
            let db = db.clone();
            let worker = shared.clone();
            std::thread::Builder::new()
                .name("db-flusher".into())
                .spawn(move || worker.run(&db, files))
        });
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(source) => {
                shared.lock().failure = Some((
                    u64::MAX,
                    StorageError::FlusherStart {
                        source: Arc::new(source),
                    },
                ));
                None
            }
        };
        FlusherHandle {
            dir,
            shared,
            thread: Mutex::new(thread),
        }
    }
}

impl Drop for FlusherHandle {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.work.notify_all();
        // Joined, so that the thread's handle on the database is gone when the last flusher is:
        // the caller may close and reopen the database next.
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FlusherState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take_ticket(&self) -> u64 {
        let ticket = {
            let mut state = self.lock();
            state.tickets += 1;
            state.tickets
        };
        self.work.notify_one();
        ticket
    }

    /// The answer for `ticket`, once there is one.
    fn outcome(&self, state: &FlusherState, ticket: u64) -> Option<Result<(), StorageError>> {
        if ticket <= state.durable {
            return Some(Ok(()));
        }
        let (covered, error) = state.failure.as_ref()?;
        Some(Err(if ticket <= *covered {
            error.clone()
        } else {
            StorageError::Poisoned {
                first: Box::new(error.clone()),
            }
        }))
    }

    /// The flusher thread: one run at a time, each covering every ticket taken before it began.
    fn run(&self, db: &sled::Db, mut files: DbFiles) {
        loop {
            let covers = {
                let mut state = self.lock();
                loop {
                    if state.failure.is_some() {
                        return;
                    }
                    if state.tickets > state.durable {
                        break;
                    }
                    if state.closing {
                        return;
                    }
                    state = self.work.wait(state).unwrap_or_else(|p| p.into_inner());
                }
                state.runs += 1;
                state.tickets
            };
            let result = catch_unwind(AssertUnwindSafe(|| self.flush_and_sync(db, &mut files)))
                .unwrap_or_else(|panic| {
                    Err(StorageError::FlushPanicked {
                        message: panic_message(panic.as_ref()),
                    })
                });
            {
                let mut state = self.lock();
                match result {
                    Ok(new_entries) => {
                        state.durable = covers;
                        state.synced_entries += new_entries;
                    }
                    Err(error) => {
                        tracing::error!(
                            %error,
                            "the database flush failed: nothing more is acknowledged until the \
                             service restarts"
                        );
                        StorageFlushFailed { kind: error.kind() }.emit();
                        state.failure = Some((covers, error));
                    }
                }
            }
            self.done.notify_all();
            self.finished.send_modify(|runs| *runs += 1);
        }
    }

    /// sled's flush, then the sync of what it wrote; answers the new directory entries synced.
    fn flush_and_sync(&self, db: &sled::Db, files: &mut DbFiles) -> Result<u64, StorageError> {
        db.flush()
            .map_err(|source| StorageError::Flush { source })?;
        #[cfg(test)]
        if self
            .fail_next_sync
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StorageError::Sync {
                path: files.log_path.display().to_string(),
                source: Arc::new(io::Error::from_raw_os_error(5)),
            });
        }
        files.sync()
    }
}

/// The files a flush must sync, with the log's handle kept open: `fsync` acts on the file (the
/// inode's dirty pages), whichever descriptor asks, so this handle syncs what sled's own wrote,
/// and keeping it open spares an `open` per flush.
#[derive(Debug)]
struct DbFiles {
    dir: PathBuf,
    log_path: PathBuf,
    log: File,
    /// The entries of the directory and of `blobs/` known to be durable.
    entries: BTreeSet<PathBuf>,
    /// The test-only switch ([`UNSAFE_SKIP_FDATASYNC_ENV`]); always false without `testsuite`.
    skip_sync: bool,
}

impl DbFiles {
    fn open(dir: &Path) -> io::Result<DbFiles> {
        let log_path = dir.join("db");
        Ok(DbFiles {
            log: File::open(&log_path)?,
            log_path,
            entries: list_entries(dir)?,
            dir: dir.to_path_buf(),
            skip_sync: skip_sync_requested(),
        })
    }

    /// Syncs what a flush wrote. New entries first (a blob's data, a renamed snapshot) with their
    /// directories, so that no synced log record points to a blob that is not durable yet; then
    /// the log (`fdatasync`: the data and the size, not the timestamps). Answers how many new
    /// entries it synced.
    fn sync(&mut self) -> Result<u64, StorageError> {
        if self.skip_sync {
            return Ok(0);
        }
        let failed = |path: &Path| {
            let path = path.display().to_string();
            move |source| StorageError::Sync {
                path,
                source: Arc::new(source),
            }
        };
        let entries = list_entries(&self.dir).map_err(failed(&self.dir))?;
        let mut dirs = BTreeSet::new();
        let mut synced = 0;
        for entry in entries.difference(&self.entries) {
            match File::open(entry) {
                Ok(file) => file.sync_data().map_err(failed(entry))?,
                // A `snap.*.generating` renamed or a blob collected meanwhile: nothing to keep
                // (a renamed snapshot shows up under its new name next time).
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(failed(entry)(error)),
            }
            dirs.insert(parent_dir(entry));
            synced += 1;
        }
        for dir in &dirs {
            sync_dir(dir).map_err(failed(dir))?;
        }
        self.entries = entries;
        self.log.sync_data().map_err(failed(&self.log_path))?;
        Ok(synced)
    }
}

/// The entries of a sled directory and of its `blobs/`.
fn list_entries(dir: &Path) -> io::Result<BTreeSet<PathBuf>> {
    let mut entries = BTreeSet::new();
    for listed in [dir.to_path_buf(), dir.join("blobs")] {
        for entry in std::fs::read_dir(listed)? {
            entries.insert(entry?.path());
        }
    }
    Ok(entries)
}

#[cfg(feature = "testsuite")]
fn skip_sync_requested() -> bool {
    let skip = std::env::var_os(UNSAFE_SKIP_FDATASYNC_ENV).is_some_and(|value| value == "1");
    if skip {
        tracing::warn!(
            "{UNSAFE_SKIP_FDATASYNC_ENV}=1: flushes are NOT fdatasync'd (a test-only switch)"
        );
    }
    skip
}

#[cfg(not(feature = "testsuite"))]
fn skip_sync_requested() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::super::{client_tree, open_database, DEFAULT_CACHE_BYTES};
    use super::*;
    use crate::ids::ClientCode;

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
        // sled's own background thread lets go of the directory's lock a moment after the last
        // handle is dropped: under load the first reopen can find it still held (seen in CI on
        // 2026-12-04). Retried for a bounded while, as the API tests reopen after a stop.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let reopened = loop {
            match open_database(dir.path(), DEFAULT_CACHE_BYTES) {
                Ok(db) => break db,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(error) => panic!("the database does not open again: {error}"),
            }
        };
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

    #[tokio::test]
    async fn a_failed_sync_refuses_every_later_flush_even_when_a_retry_would_succeed() {
        // fsyncgate: after a failed fsync Linux may have dropped the dirty pages and marked them
        // clean, so the next fsync succeeds with the data never written. A flusher that retried
        // would acknowledge writes that are not on disk.
        let dir = tempfile::tempdir().unwrap();
        let db = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let flusher = DbFlusher::new(&db);
        db.insert("before", "1").unwrap();
        flusher.flush().await.unwrap();
        flusher.inject_sync_failure();
        db.insert("in the failed run", "2").unwrap();
        let failed = flusher.flush().await.unwrap_err();
        assert_eq!(failed.kind(), "sync_failed", "{failed}");
        // The disk would sync again now (the injected failure was one-off): still refused.
        db.insert("after", "3").unwrap();
        let refused = flusher.flush().await.unwrap_err();
        assert_eq!(refused.kind(), "poisoned", "{refused}");
        assert!(refused.to_string().contains("restarts"), "{refused}");
        assert_eq!(flusher.flush_blocking().unwrap_err().kind(), "poisoned");
        assert_eq!(
            flusher.failure().map(|error| error.kind()),
            Some("sync_failed")
        );
        assert_eq!(flusher.counts(), (4, 2), "no run after the failed one");
    }

    #[tokio::test]
    async fn one_database_has_one_flusher_for_async_and_blocking_callers() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_database(&dir.path().join("a"), DEFAULT_CACHE_BYTES).unwrap();
        let ledger = DbFlusher::new(&db);
        let members = DbFlusher::new(&db.clone());
        assert!(Arc::ptr_eq(&ledger.handle, &members.handle));
        members.flush_blocking().unwrap();
        ledger.flush().await.unwrap();
        assert_eq!(ledger.counts(), (2, 2));
        let other = open_database(&dir.path().join("b"), DEFAULT_CACHE_BYTES).unwrap();
        assert!(!Arc::ptr_eq(&DbFlusher::new(&other).handle, &ledger.handle));
    }

    #[test]
    fn a_flusher_syncs_the_log_file_of_its_own_database() {
        // `DbFlusher::new` learns the directory through sled's hidden `Db::context`: a sled that
        // answered something else would have the flusher sync another file (or none).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("db");
        let db = open_database(&path, DEFAULT_CACHE_BYTES).unwrap();
        let flusher = DbFlusher::new(&db);
        assert_eq!(
            std::fs::canonicalize(flusher.database_dir()).unwrap(),
            std::fs::canonicalize(&path).unwrap()
        );
        assert!(path.join("db").is_file() && path.join("conf").is_file());
        db.insert("k", "v").unwrap();
        flusher.flush_blocking().unwrap();
    }

    #[test]
    fn a_new_blob_file_is_synced_with_its_directory_before_the_flush_returns() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let flusher = DbFlusher::new(&db);
        db.insert("small", "v").unwrap();
        flusher.flush_blocking().unwrap();
        assert_eq!(flusher.synced_entries(), 0, "nothing new besides the log");
        // A page larger than a quarter of sled's 512 KiB segment goes to a file of its own in
        // `blobs/`, which sled writes without any sync (`pagecache/blob_io.rs`).
        db.insert("large", vec![7u8; 300 * 1024]).unwrap();
        flusher.flush_blocking().unwrap();
        let blobs = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
        assert!(
            blobs >= 1,
            "sled kept the large value inline: no blob to test"
        );
        assert!(
            flusher.synced_entries() >= 1,
            "{blobs} blob file(s), {} synced",
            flusher.synced_entries()
        );
    }
}
