//! Acknowledged means durable, also on power loss, proven from the service's own system calls
//! (issue 12): the real `shelfsync serve` runs under `strace`, takes acknowledged writes of three
//! kinds (stock movements through the API, signed Shopify `orders/create` deliveries, new
//! members), and the trace must show, for every acknowledgement, a **completed** `fdatasync` (or
//! `fsync`) of the database file between that write reaching the file and the reply reaching the
//! socket. sled's own flush ends in `sync_file_range`, which the check does not count.
//!
//! How a reply is tied to its writes: every request carries a marker of its own (a movement's
//! idempotency key, an order id, a member's name) that the service stores in the database. In the
//! trace (`strace -f -y`: each descriptor shown with its path or `socket:[inode]`):
//! - the **request** is the first read on a socket whose bytes contain the marker;
//! - its **reply** is the first write on that same socket after that read (HTTP/1.1 on one
//!   connection is one request at a time), which must start `HTTP/1.1 2`;
//! - its **write** is the first write to the database file (`<data>/db/db`) whose bytes contain
//!   the marker: the moment the request's data first reached the file.
//!
//! What the checker proves, precisely: for each acknowledged request, some `fdatasync`/`fsync` of
//! the database file was entered after its write had returned and returned 0 before its reply was
//! entered. "After" is the order strace observed; strace stops each thread at every traced
//! call's entry and exit until it has recorded it, so an event that causally follows another (a
//! reply written by code that waited for the sync) is always recorded after it; unrelated
//! concurrent events may be recorded in either order, which is why the negative control exists.
//! It does not prove that the disk honours `fdatasync`, nor that every byte of a request's
//! transaction was in the marked write (a transaction is one sled batch; the marked write is the
//! journal entry, the record an acknowledgement promises).
//!
//! Negative control: the same run with the sync switched off (`UNSAFE_SHELFSYNC_TEST_SKIP_FDATASYNC`,
//! honoured only by builds with the engine's `testsuite` feature, as this test's binary is) must
//! fail the same check. The checker itself is also tested on fabricated traces.
//!
//! It also checks what the service creates and relies on: the vault key file, the data
//! directory, sled's `conf` and `db` and their directory entries are `fsync`'d when created.
//!
//! Needs `strace` (Debian package `strace`): `.ci/install-test-tools` installs it and `.ci/run`
//! calls that script before the tests. Without it this test fails, saying so: a test that passed
//! without its tool would be a test that cannot fail.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use shelfsync::api::catalog::CatalogItem;
use shelfsync::api::channels::NewChannelBody;
use shelfsync::api::client::ApiClient;
use shelfsync::auth::Role;
use shelfsync::platforms::mock::{MockOptions, MockServer};
use shelfsync::platforms::Platform;
use shelfsync_actors::inventory::ledger::MovementKind;

use crate::api_agency::{order_body, sign};
use crate::api_support::{
    account, add_channel, create_client, import, item, mock_channel, new_member, post_movement,
    put_secret,
};
use crate::mock_support::{create_listings, info};

const ADMIN: &str = "ssk_durability-test-admin-0123456789abcdef";
const CLIENT: &str = "DURA";
const SHOP: &str = "shop";
const WEBHOOK_SECRET: &str = "whsec-durability-0123456789";
const SKUS: [&str; 2] = ["DURA-MUG", "DURA-CAP"];
/// Acknowledged writes of each kind per run.
const MOVEMENTS: usize = 16;
const DELIVERIES: usize = 16;
const MEMBERS: usize = 4;
/// Concurrent senders (so that group commit covers several requests with one sync).
const SENDERS: usize = 4;
/// The switch that removes the sync (see `shelfsync_actors::storage`).
const SKIP_SYNC_ENV: &str = "UNSAFE_SHELFSYNC_TEST_SKIP_FDATASYNC";
/// The system calls traced: socket reads and writes, file writes, and the syncs.
const TRACED: &str = "trace=read,recvfrom,recvmsg,readv,write,writev,sendto,sendmsg,\
                      pwrite64,pwritev,pwritev2,fsync,fdatasync,sync_file_range";
const START_LIMIT: Duration = Duration::from_secs(60);
const STOP_LIMIT: Duration = Duration::from_secs(30);
/// One request's limit.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_is_fdatasynced_before_its_reply_is_written() {
    let run = traced_run(false).await;
    let report = check(&run.trace, &run.db_file, &run.acks);
    eprintln!("{}", report.summary());
    assert_eq!(report.checked, MOVEMENTS + DELIVERIES + MEMBERS);
    assert!(
        report.violations.is_empty(),
        "{} of {} acknowledgements were not preceded by a completed sync of {}:\n{}",
        report.violations.len(),
        report.checked,
        run.db_file.display(),
        report.violations.join("\n")
    );
    // Group commit: concurrent acknowledgements share syncs.
    assert!(report.db_syncs > 0);

    // What the service created and relies on was synced, file and directory entry alike.
    let synced = synced_paths(&run.trace);
    let data = &run.data_dir;
    for path in [
        data.join("master.key"),
        data.clone(),
        data.parent().unwrap().to_path_buf(),
        data.join("db").join("conf"),
        data.join("db").join("db"),
        data.join("db").join("blobs"),
        data.join("db"),
    ] {
        let path = path.display().to_string();
        assert!(
            synced.contains(&path),
            "{path} was never fsync'd; synced: {synced:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_control_without_the_fdatasync_the_trace_check_fails() {
    let run = traced_run(true).await;
    let report = check(&run.trace, &run.db_file, &run.acks);
    eprintln!("{}", report.summary());
    assert_eq!(report.checked, MOVEMENTS + DELIVERIES + MEMBERS);
    // sled's background fsync (every 500 ms) may happen to land inside a few acknowledgements'
    // windows; everything else must be caught.
    assert!(
        report.violations.len() * 2 > report.checked,
        "with the sync switched off only {} of {} acknowledgements were caught: either the \
         switch did nothing (is the binary built with shelfsync-actors' `testsuite` feature?) or \
         the checker cannot fail",
        report.violations.len(),
        report.checked
    );
}

// ---------------------------------------------------------------------------------------------
// The traced run

/// One acknowledged request: the marker in its bytes and in what it stores.
#[derive(Debug, Clone)]
struct Ack {
    what: &'static str,
    marker: String,
}

struct TracedRun {
    trace: String,
    data_dir: PathBuf,
    db_file: PathBuf,
    acks: Vec<Ack>,
    _dir: tempfile::TempDir,
}

/// The strace child (which runs `serve`); both are killed if the test ends early (a killed
/// strace detaches from `serve`, which would run on).
struct Traced {
    child: Child,
}

impl Drop for Traced {
    fn drop(&mut self) {
        if let Some(serve) = child_of(self.child.id()) {
            let _ = Command::new("kill")
                .args(["-KILL", &serve.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require_strace() {
    let found = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "strace is not installed, and this test proves durability from the service's system \
         calls: run .ci/install-test-tools (it runs `apt-get install -y strace`; .ci/run calls \
         it before the tests)"
    );
}

async fn traced_run(skip_sync: bool) -> TracedRun {
    require_strace();
    let dir = tempfile::tempdir().unwrap();
    // Canonical, as strace prints the paths of descriptors. `serve` creates `data` itself.
    let data_dir = std::fs::canonicalize(dir.path()).unwrap().join("data");
    let trace_path = dir.path().join("serve.trace");
    let shopify = MockServer::start(Platform::Shopify, MockOptions::default()).unwrap();

    let mut command = Command::new("strace");
    command
        .args([
            "-f", "-qq", "-tt", "-y", "-s", "1048576", "-e", TRACED, "-o",
        ])
        .arg(&trace_path)
        .arg(env!("CARGO_BIN_EXE_shelfsync"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // `serve` refuses any SHELFSYNC_ variable that is not one of its keys.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SHELFSYNC_") {
            command.env_remove(name);
        }
    }
    command.env("SHELFSYNC_ADMIN_TOKEN", ADMIN);
    // The channel's mock listens on loopback over plain http.
    command.env("SHELFSYNC_SECURITY_ALLOW_PRIVATE_NETWORKS", "true");
    if skip_sync {
        command.env(SKIP_SYNC_ENV, "1");
    } else {
        command.env_remove(SKIP_SYNC_ENV);
    }
    let mut traced = Traced {
        child: command.spawn().expect("strace starts"),
    };
    let stdout = traced.child.stdout.take().unwrap();
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines
        .recv_timeout(START_LIMIT)
        .expect("serve under strace prints its address");
    let api = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("serve's first line is {first:?}"))
        .to_string();

    let client = ApiClient::new(&api, ADMIN, REQUEST_LIMIT).unwrap();
    provision(&client, &shopify).await;
    let acks = send_acknowledged_writes(&client).await;

    // SIGTERM to `serve` (strace's child), then strace ends by itself with a complete trace.
    let serve_pid = child_of(traced.child.id()).expect("strace runs serve");
    let stopped = Command::new("kill")
        .args(["-TERM", &serve_pid.to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let deadline = Instant::now() + STOP_LIMIT;
    while traced.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(traced);
    let trace = std::fs::read(&trace_path).unwrap();
    TracedRun {
        trace: String::from_utf8_lossy(&trace).into_owned(),
        db_file: data_dir.join("db").join("db"),
        data_dir,
        acks,
        _dir: dir,
    }
}

/// The pid of the child of `pid` (strace's tracee), if it runs.
fn child_of(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A client with a Shopify channel taking signed webhooks, and a catalog of [`SKUS`].
async fn provision(client: &ApiClient, shopify: &MockServer) {
    create_client(client, CLIENT, "Durable Mugs").await;
    put_secret(client, CLIENT, "shopify", "mock-token").await;
    let channel = NewChannelBody {
        account: account(info(shopify).await["account"].clone()),
        webhook_secret: Some(WEBHOOK_SECRET.into()),
        // The service's own poll interval: the trace holds the writes sent, little else.
        poll_interval_ms: None,
        ..mock_channel(SHOP, Platform::Shopify, &shopify.base_url(), "shopify")
    };
    add_channel(client, CLIENT, &channel).await;
    let listings = create_listings(shopify, &SKUS.map(|sku| (sku, 1))).await;
    let items: Vec<CatalogItem> = SKUS
        .iter()
        .zip(&listings)
        .map(|(sku, listing)| {
            item(
                sku,
                500,
                &[(SHOP, listing["listing_ref"].as_str().unwrap())],
            )
        })
        .collect();
    import(client, CLIENT, &items).await;
}

/// Sends every write (movements, deliveries, members) from [`SENDERS`] concurrent senders;
/// answers the acknowledged ones (every one must be).
async fn send_acknowledged_writes(client: &ApiClient) -> Vec<Ack> {
    // The deliveries' own connections, pooled as the typed client's are.
    let http = reqwest::Client::builder()
        .timeout(REQUEST_LIMIT)
        .build()
        .unwrap();
    // Markers differ from one run to the next and have a fixed width, so that none is part of
    // another; order ids start with 9 (a millisecond timestamp of this century starts with 1).
    let run: u64 = rand::random::<u64>() >> 8;
    let order_base = 9_100_000_000_000 + (run % 700_000_000_000);
    let mut writes: Vec<(&'static str, String)> = Vec::new();
    for index in 0..MOVEMENTS.max(DELIVERIES).max(MEMBERS) {
        if index < MOVEMENTS {
            writes.push(("movement", format!("mvk{run:014x}{index:04}")));
        }
        if index < DELIVERIES {
            writes.push(("delivery", (order_base + index as u64).to_string()));
        }
        if index < MEMBERS {
            writes.push(("member", format!("mbr{run:014x}{index:04}")));
        }
    }
    let chunks: Vec<Vec<(&'static str, String)>> = (0..SENDERS)
        .map(|sender| {
            writes
                .iter()
                .skip(sender)
                .step_by(SENDERS)
                .cloned()
                .collect()
        })
        .collect();
    let senders = chunks.into_iter().map(|chunk| {
        let (client, http) = (client.clone(), http.clone());
        tokio::spawn(async move {
            let mut acks = Vec::new();
            for (index, (what, marker)) in chunk.into_iter().enumerate() {
                send_one(&client, &http, what, &marker, index).await;
                acks.push(Ack { what, marker });
            }
            acks
        })
    });
    let mut acks = Vec::new();
    for sender in futures_util::future::join_all(senders).await {
        acks.extend(sender.unwrap());
    }
    acks
}

/// Sends one write; every one must be acknowledged.
async fn send_one(
    client: &ApiClient,
    http: &reqwest::Client,
    what: &str,
    marker: &str,
    index: usize,
) {
    let sku = SKUS[index % SKUS.len()];
    match what {
        "movement" => {
            post_movement(client, CLIENT, sku, MovementKind::Receipt, 1, marker).await;
        }
        "member" => {
            let member = new_member(marker, Role::Viewer, &[CLIENT]);
            client.create_member(&member).await.unwrap();
        }
        _ => {
            // A webhook delivery: signed, which the typed client does not do.
            let order_id: u64 = marker.parse().unwrap();
            let body = order_body(order_id, sku, 1);
            let signature = sign(&body, WEBHOOK_SECRET);
            let api = client.base_url();
            let reply = http
                .post(format!("{api}/webhooks/{CLIENT}/{SHOP}"))
                .header("content-type", "application/json")
                .header("x-shopify-topic", "orders/create")
                .header("x-shopify-hmac-sha256", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = reply.status();
            let outcome: Value = reply.json().await.unwrap_or(Value::Null);
            assert!(
                status.is_success(),
                "delivery {order_id}: {status} {outcome}"
            );
            assert_eq!(outcome["applied"], 1, "delivery {order_id}: {outcome}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The trace and its checker

/// One system call as strace recorded it: where it began and ended in the trace (line numbers,
/// strace's order of observation), on which descriptor, its text and its result.
#[derive(Debug, Clone)]
struct Call {
    name: String,
    /// The descriptor's annotation (`-y`): a path, or `socket:[inode]`.
    fd: String,
    text: String,
    start: usize,
    end: usize,
    /// `None`: it never returned in the trace (or returned `?`).
    result: Option<i64>,
}

/// Parses `strace -f -tt -y` output: `PID TIME name(args) = result` (the pid padded to a width), with calls interrupted by
/// other threads split into `name(args <unfinished ...>` and `<... name resumed>rest) = result`.
fn parse_trace(trace: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut pending: HashMap<&str, Call> = HashMap::new();
    for (line_no, line) in trace.lines().enumerate() {
        // strace pads the pid column (`4209  19:26:56.672652 read(…`).
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        // Skip the timestamp.
        let Some((_, rest)) = rest.trim_start().split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some(mut call) = pending.remove(pid) else {
                continue;
            };
            let tail = resumed.split_once(" resumed>").map_or("", |(_, tail)| tail);
            call.text.push_str(tail);
            call.end = line_no;
            call.result = result_of(&call.text);
            calls.push(call);
            continue;
        }
        let Some((name, _)) = rest.split_once('(') else {
            continue;
        };
        let fd = rest[name.len() + 1..]
            .split_once('<')
            .and_then(|(number, after)| {
                number
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| after.split_once('>'))
                    .flatten()
            })
            .map_or_else(String::new, |(path, _)| path.to_string());
        if let Some(entered) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(
                pid,
                Call {
                    name: name.to_string(),
                    fd,
                    text: entered.to_string(),
                    start: line_no,
                    end: usize::MAX,
                    result: None,
                },
            );
        } else {
            calls.push(Call {
                name: name.to_string(),
                fd,
                text: rest.to_string(),
                start: line_no,
                end: line_no,
                result: result_of(rest),
            });
        }
    }
    calls.sort_by_key(|call| call.start);
    calls
}

/// The number after the last ` = ` (a write's data cannot hide it: the result comes last).
fn result_of(text: &str) -> Option<i64> {
    let (_, result) = text.rsplit_once(" = ")?;
    result.split_whitespace().next()?.parse().ok()
}

const SOCKET_READS: [&str; 4] = ["read", "recvfrom", "recvmsg", "readv"];
const WRITES: [&str; 7] = [
    "write", "writev", "sendto", "sendmsg", "pwrite64", "pwritev", "pwritev2",
];
const SYNCS: [&str; 2] = ["fdatasync", "fsync"];

#[derive(Debug, Default)]
struct Report {
    checked: usize,
    violations: Vec<String>,
    /// Completed syncs of the database file in the whole trace.
    db_syncs: usize,
    /// `sync_file_range` calls on the database file (sled's own, not counted as durable).
    db_sync_file_ranges: usize,
}

impl Report {
    fn summary(&self) -> String {
        format!(
            "trace check: {} acknowledgements checked, {} violations; {} completed fdatasync/fsync \
             and {} sync_file_range of the database file",
            self.checked,
            self.violations.len(),
            self.db_syncs,
            self.db_sync_file_ranges
        )
    }
}

fn is_socket(fd: &str) -> bool {
    fd.starts_with("socket:") || fd.starts_with("TCP:") || fd.starts_with("TCPv6:")
}

/// Checks every acknowledgement in `acks` against the trace (see the module doc).
fn check(trace: &str, db_file: &Path, acks: &[Ack]) -> Report {
    let calls = parse_trace(trace);
    let db = db_file.display().to_string();
    let completed_syncs: Vec<&Call> = calls
        .iter()
        .filter(|call| SYNCS.contains(&call.name.as_str()) && call.fd == db)
        .filter(|call| call.result == Some(0))
        .collect();
    let mut report = Report {
        db_syncs: completed_syncs.len(),
        db_sync_file_ranges: calls
            .iter()
            .filter(|call| call.name == "sync_file_range" && call.fd == db)
            .count(),
        ..Report::default()
    };
    for ack in acks {
        report.checked += 1;
        let label = format!("{} {}", ack.what, ack.marker);
        let request = calls
            .iter()
            .filter(|call| SOCKET_READS.contains(&call.name.as_str()) && is_socket(&call.fd))
            .filter(|call| call.result.is_some_and(|read| read > 0))
            .filter(|call| call.text.contains(&ack.marker))
            .min_by_key(|call| call.end);
        let Some(request) = request else {
            report
                .violations
                .push(format!("{label}: its request was never read from a socket"));
            continue;
        };
        let reply = calls.iter().find(|call| {
            WRITES.contains(&call.name.as_str())
                && call.fd == request.fd
                && call.start > request.end
        });
        let Some(reply) = reply else {
            report.violations.push(format!(
                "{label}: no reply written on {} after its request",
                request.fd
            ));
            continue;
        };
        if !reply.text.contains("\"HTTP/1.1 2") {
            report.violations.push(format!(
                "{label}: its reply is not a 2xx: {:.80}",
                reply.text
            ));
            continue;
        }
        let write = calls
            .iter()
            .filter(|call| WRITES.contains(&call.name.as_str()) && call.fd == db)
            .filter(|call| call.result.is_some_and(|written| written >= 0))
            .filter(|call| call.text.contains(&ack.marker))
            .min_by_key(|call| call.end);
        let Some(write) = write else {
            report.violations.push(format!(
                "{label}: acknowledged, and its data never reached {db}"
            ));
            continue;
        };
        if write.end > reply.start {
            report.violations.push(format!(
                "{label}: acknowledged (trace line {}) before its data reached {db} (line {})",
                reply.start + 1,
                write.end + 1
            ));
            continue;
        }
        let covered = completed_syncs
            .iter()
            .any(|sync| sync.start > write.end && sync.end < reply.start);
        if !covered {
            report.violations.push(format!(
                "{label}: written to the database (trace line {}) and acknowledged (line {}) with \
                 no completed fdatasync/fsync of {db} in between",
                write.end + 1,
                reply.start + 1
            ));
        }
    }
    report
}

/// Every path a completed `fsync`/`fdatasync` in the trace was called on.
fn synced_paths(trace: &str) -> Vec<String> {
    let mut paths: Vec<String> = parse_trace(trace)
        .into_iter()
        .filter(|call| SYNCS.contains(&call.name.as_str()) && call.result == Some(0))
        .map(|call| call.fd)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[test]
fn the_trace_checker_accepts_only_a_completed_sync_between_the_write_and_the_reply() {
    let db = Path::new("/d/db/db");
    let ack = |marker: &str| Ack {
        what: "movement",
        marker: marker.into(),
    };
    let request = |pid: u32, sock: u32, marker: &str| {
        format!("{pid:<5} 10:00:00.000000 recvfrom(9<socket:[{sock}]>, \"POST /x HTTP/1.1 key={marker}\", 8192, 0, NULL, NULL) = 60\n")
    };
    let write = |pid: u32, marker: &str| {
        format!(
            "{pid} 10:00:00.000000 pwrite64(7</d/db/db>, \"\\0\\1{marker}\\0\", 40, 4096) = 40\n"
        )
    };
    let reply = |pid: u32, sock: u32| {
        format!("{pid:<5} 10:00:00.000000 write(9<socket:[{sock}]>, \"HTTP/1.1 200 OK\\r\\n\", 17) = 17\n")
    };
    let sync = |pid: u32| format!("{pid} 10:00:00.000000 fdatasync(12</d/db/db>) = 0\n");

    // Durable: write, completed sync, reply; the sync split by another thread's call.
    let good = [
        request(1, 5, "key-a"),
        write(2, "key-a"),
        "3 10:00:00.000000 fdatasync(12</d/db/db> <unfinished ...>\n".to_string(),
        "2 10:00:00.000000 sync_file_range(7</d/db/db>, 0, 40, 7) = 0\n".to_string(),
        "3 10:00:00.000000 <... fdatasync resumed>) = 0\n".to_string(),
        reply(1, 5),
    ]
    .concat();
    let report = check(&good, db, &[ack("key-a")]);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!((report.db_syncs, report.db_sync_file_ranges), (1, 1));

    // Each of these must be caught.
    let cases = [
        (
            "only sync_file_range",
            [
                request(1, 5, "key-b"),
                write(2, "key-b"),
                "2 10:00:00.000000 sync_file_range(7</d/db/db>, 0, 40, 7) = 0\n".into(),
                reply(1, 5),
            ]
            .concat(),
            "no completed fdatasync",
        ),
        (
            "the sync began before the write",
            [
                request(1, 5, "key-b"),
                "3 10:00:00.000000 fdatasync(12</d/db/db> <unfinished ...>\n".into(),
                write(2, "key-b"),
                "3 10:00:00.000000 <... fdatasync resumed>) = 0\n".into(),
                reply(1, 5),
            ]
            .concat(),
            "no completed fdatasync",
        ),
        (
            "the reply went out while the sync ran",
            [
                request(1, 5, "key-b"),
                write(2, "key-b"),
                "3 10:00:00.000000 fdatasync(12</d/db/db> <unfinished ...>\n".into(),
                reply(1, 5),
                "3 10:00:00.000000 <... fdatasync resumed>) = 0\n".into(),
            ]
            .concat(),
            "no completed fdatasync",
        ),
        (
            "the sync failed",
            [
                request(1, 5, "key-b"),
                write(2, "key-b"),
                "3 10:00:00.000000 fdatasync(12</d/db/db>) = -1 EIO (Input/output error)\n".into(),
                reply(1, 5),
            ]
            .concat(),
            "no completed fdatasync",
        ),
        (
            "another file was synced",
            [
                request(1, 5, "key-b"),
                write(2, "key-b"),
                "3 10:00:00.000000 fdatasync(12</d/db/conf>) = 0\n".into(),
                reply(1, 5),
            ]
            .concat(),
            "no completed fdatasync",
        ),
        (
            "acknowledged before the write",
            [
                request(1, 5, "key-b"),
                reply(1, 5),
                write(2, "key-b"),
                sync(3),
            ]
            .concat(),
            "before its data reached",
        ),
        (
            "never written",
            [request(1, 5, "key-b"), sync(3), reply(1, 5)].concat(),
            "never reached",
        ),
        (
            "a later reply on another connection is not this request's",
            [
                request(1, 5, "key-b"),
                write(2, "key-b"),
                reply(1, 5),
                sync(3),
                reply(1, 6),
            ]
            .concat(),
            "no completed fdatasync",
        ),
    ];
    for (case, trace, expected) in cases {
        let report = check(&trace, db, &[ack("key-b")]);
        assert_eq!(
            report.violations.len(),
            1,
            "{case}: {:?}",
            report.violations
        );
        assert!(
            report.violations[0].contains(expected),
            "{case}: {:?}",
            report.violations
        );
    }
}
