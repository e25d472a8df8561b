//! kill -9 of the real `shelfsync serve` process under webhook load (issue 5, must-show 6; the
//! service-level form of scenario S01 of `reference/reliability.md` §7.2).
//!
//! The test process runs a Shopify mock and an Etsy mock, starts the built `shelfsync serve` as a
//! child on a fresh data directory, and provisions one client with a Shopify channel (webhooks
//! signed with a secret) and an Etsy channel over a catalog of a few SKUs, all through the HTTP API.
//! Then, cycle after cycle:
//! 1. **load**: concurrent senders POST distinct signed `orders/create` deliveries (one unit of one
//!    SKU each) as fast as the service answers; a delivery counts as acknowledged only when its 2xx
//!    reply has arrived (the client-side ack log, Jepsen set-style);
//! 2. **kill**: once a seeded number of deliveries has been acknowledged, `serve` gets SIGKILL while
//!    deliveries are in flight (every third cycle a second SIGKILL lands, after a seeded 0–50 ms,
//!    while the restarted process opens and recovers its database). The moment is counted in acks
//!    rather than milliseconds so that it always falls inside the load, however fast the machine;
//!    the seed replays the moments and the redelivery choices, not the thread interleaving;
//! 3. **restart** on the same data directory (a new port): the client and its channels come back
//!    from the database by themselves;
//! 4. **check** through `GET …/ledger`: every acknowledged order is there exactly once as a `sale`
//!    of `channel:shop`, no order is there twice, nothing is there that was never sent, the journal
//!    is gap-free and refolding it gives the balances `GET …/stock` shows;
//! 5. **redeliver**, as Shopify retries: half the unacknowledged deliveries (now acknowledged, so
//!    checked too) and some acknowledged ones (must answer `duplicates: 1` and change nothing);
//! 6. **reconverge**: every SKU's quantity on the Shopify and Etsy mocks equals `available` within a
//!    bounded time.
//!
//! At the end `serve` is killed once more and the database is opened in this process for the
//! ledger's own `verify()` (gap-free journal, balances equal the refold, every index entry belongs
//! to its journal entry).
//!
//! Negative controls: the checker is run against fabricated ledgers (a missing, a duplicated and an
//! unexpected order must each be reported), and each cycle also checks the ledger against the ack
//! log of a *wrong* sender that counts a delivery as acknowledged when it sends it rather than when
//! the reply arrives: in every cycle the checker must report exactly the orders that were in flight
//! at the kill and are missing (counted independently), and across the cycles there must be some,
//! or the kills never landed under load and the checker proved nothing.
//!
//! Sizes: Etsy lists at most 999 per offering, so every SKU is topped up to [`TOP_UP_TO`] available
//! (a `receipt` through the API) before each cycle and a cycle sends at most
//! [`MAX_DELIVERIES_PER_CYCLE`] units in all; available never leaves 0..=999 and the listings must
//! follow it exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::Sha256;
use shelfsync::api::catalog::{CatalogBody, CatalogItem};
use shelfsync::api::channels::NewChannelBody;
use shelfsync::api::client::{ApiClient, ClientError};
use shelfsync::api::clients::{NewClient, PutCredential};
use shelfsync::api::stock::{NewMovement, StockView};
use shelfsync::platforms::mock::{MockOptions, MockServer};
use shelfsync::platforms::Platform;
use shelfsync_actors::ids::{ClientCode, Sku};
use shelfsync_actors::inventory::ledger::MovementKind;
use shelfsync_actors::inventory::store::LedgerStore;
use shelfsync_actors::ratelimit::ServiceTier;
use shelfsync_actors::storage::{client_tree, open_database, DEFAULT_CACHE_BYTES};

/// The admin token `serve` is started with (`SHELFSYNC_ADMIN_TOKEN`, at least 32 characters).
const ADMIN: &str = "ssk_crash-test-admin-token-0123456789abcdef";
const CLIENT: &str = "ACME";
const SHOP: &str = "shop";
const ETSY: &str = "etsy";
const WEBHOOK_SECRET: &str = "whsec-crash-0123456789abcdef";
const ETSY_SHARED_SECRET: &str = "etsy-shared-secret-abcdef";
/// The SKUs the orders are spread over (order id modulo their count).
const SKUS: [&str; 4] = ["ACME-MUG", "ACME-CAP", "ACME-PEN", "ACME-TEE"];
/// Every SKU is brought back to this many available before a cycle's load (below Etsy's 999).
const TOP_UP_TO: i64 = 900;
/// Concurrent webhook senders.
const SENDERS: usize = 8;
/// The most deliveries one cycle sends (spread over the SKUs, so available stays above 0).
const MAX_DELIVERIES_PER_CYCLE: usize = 1200;
/// The kill comes once this many deliveries (a seeded number in the range) have been acknowledged.
const KILL_AFTER_ACKS: std::ops::Range<usize> = 20..1000;
/// How long a cycle's load may run before the kill comes anyway (a slow machine).
const LOAD_LIMIT: Duration = Duration::from_secs(20);
/// How long a start of `serve` may take to print its address.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long the listings may take to reconverge after a restart.
const CONVERGE_LIMIT: Duration = Duration::from_secs(60);
/// One request's limit (everything is on loopback).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Acknowledged deliveries re-sent after each restart (must change nothing).
const ACKED_REDELIVERIES: usize = 20;
/// The ledger page size (the API's largest) and the most pages read.
const PAGE: usize = 1000;
const MAX_PAGES: usize = 1000;

/// The result of one named check of this scenario, counted in the binary's closing line.
#[derive(Debug)]
pub struct Outcome {
    /// What was checked.
    pub name: &'static str,
    /// A summary when it held, the violation when it did not.
    pub result: Result<String, String>,
}

/// Runs the checker's self-test, then `cycles` kill -9 cycles of `serve` (0 skips them).
pub fn run(cycles: usize, seed: u64) -> Vec<Outcome> {
    let mut outcomes = vec![Outcome {
        name: "serve checker self-test",
        result: checker_self_test(),
    }];
    if cycles == 0 {
        return outcomes;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            outcomes.push(Outcome {
                name: "serve kill -9",
                result: Err(format!("cannot start a tokio runtime: {error}")),
            });
            return outcomes;
        }
    };
    let (result, control) = match runtime.block_on(scenario(cycles, seed)) {
        Ok(report) => {
            let control = if report.control_lost > 0 {
                Ok(format!(
                    "a sender that counts a delivery as acknowledged when it sends it would have \
                     lost {} orders in {} of {} cycles; the checker reported them",
                    report.control_lost, report.control_cycles, report.cycles
                ))
            } else {
                Err(format!(
                    "the acknowledge-on-send sender lost nothing the checker could see in {} \
                     cycles ({} deliveries in flight at the kills): the checker is blind or the \
                     kills never landed under load",
                    report.cycles, report.in_flight
                ))
            };
            (Ok(report.summary()), control)
        }
        Err(violation) => (
            Err(violation),
            Err("not run: the scenario failed first".to_string()),
        ),
    };
    outcomes.push(Outcome {
        name: "serve kill -9",
        result,
    });
    outcomes.push(Outcome {
        name: "serve negative control",
        result: control,
    });
    outcomes
}

// ---------------------------------------------------------------------------------------------
// The checker

/// What the checker found in a ledger that satisfies it.
#[derive(Debug, Default, PartialEq, Eq)]
struct LedgerCheck {
    /// Orders of the shop channel in the ledger.
    orders: usize,
    /// Of those, orders whose delivery was never acknowledged (in flight at the kill and durable:
    /// "may or may not have happened" is allowed to have happened).
    unacknowledged: usize,
}

/// Checks the shop channel's order entries of a ledger against the deliveries:
/// - INV-ACK: every acknowledged order (`acked`: order id → SKU) is in the ledger;
/// - INV-ONCE: no order is there more than once;
/// - no order is there that was never sent (`sent`: every order id a delivery was attempted for);
/// - each entry is what the delivery said: a `sale` of one unit of its SKU from `channel:shop`,
///   keyed `order:shop:{order id}:1:placed`.
fn check_orders(
    entries: &[Value],
    acked: &BTreeMap<u64, &'static str>,
    sent: &BTreeMap<u64, &'static str>,
) -> Result<LedgerCheck, String> {
    let prefix = format!("order:{SHOP}:");
    let mut seen: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for entry in entries {
        let key = entry["key"].as_str().unwrap_or_default();
        let Some(rest) = key.strip_prefix(&prefix) else {
            continue;
        };
        let seq = entry["seq"].as_u64().unwrap_or(0);
        let order_id: u64 = rest
            .strip_suffix(":1:placed")
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| format!("seq {seq}: unexpected order key {key:?}"))?;
        let sku = sent.get(&order_id).ok_or_else(|| {
            format!("unexpected: order {order_id} (seq {seq}) is in the ledger but was never sent")
        })?;
        let fields = (
            entry["kind"].as_str(),
            entry["source"].as_str(),
            entry["sku"].as_str(),
            entry["quantity"].as_i64(),
        );
        let expected_source = format!("channel:{SHOP}");
        if fields != (Some("sale"), Some(&expected_source), Some(*sku), Some(1)) {
            return Err(format!(
                "seq {seq}: order {order_id} is recorded as {fields:?}, its delivery was a sale \
                 of 1 {sku} from {expected_source}"
            ));
        }
        seen.entry(order_id).or_default().push(seq);
    }
    let twice: Vec<String> = seen
        .iter()
        .filter(|(_, seqs)| seqs.len() > 1)
        .map(|(id, seqs)| format!("{id} at seqs {seqs:?}"))
        .collect();
    if !twice.is_empty() {
        return Err(format!(
            "INV-ONCE: {} orders are in the ledger more than once, e.g. {}",
            twice.len(),
            twice[..twice.len().min(5)].join(", ")
        ));
    }
    let lost: Vec<u64> = acked
        .keys()
        .filter(|id| !seen.contains_key(id))
        .copied()
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "INV-ACK: {} of {} acknowledged orders are not in the ledger, e.g. {:?}",
            lost.len(),
            acked.len(),
            &lost[..lost.len().min(10)]
        ));
    }
    Ok(LedgerCheck {
        orders: seen.len(),
        unacknowledged: seen.keys().filter(|id| !acked.contains_key(id)).count(),
    })
}

/// INV-PREFIX and INV-LEDGER through the API: the journal is gap-free from 1, and refolding its
/// deltas gives every SKU's `on_hand`, `reserved` and `available` as `GET …/stock` shows them.
fn check_journal(entries: &[Value], stock: &[StockView]) -> Result<(), String> {
    let mut folded: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let seq = entry["seq"].as_u64().unwrap_or(0);
        if seq != index as u64 + 1 {
            return Err(format!(
                "INV-PREFIX: journal entry {} has seq {seq}",
                index + 1
            ));
        }
        let sku = entry["sku"].as_str().unwrap_or_default().to_string();
        let balance = folded.entry(sku).or_default();
        balance.0 += entry["on_hand_delta"].as_i64().unwrap_or(0);
        balance.1 += entry["reserved_delta"].as_i64().unwrap_or(0);
    }
    let mut shown: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for level in stock {
        let (on_hand, reserved, available) = (level.on_hand, level.reserved, level.available);
        if available != on_hand - reserved {
            return Err(format!(
                "INV-LEDGER: {level:?} has available ≠ on_hand − reserved"
            ));
        }
        shown.insert(level.sku.to_string(), (on_hand, reserved));
    }
    if folded != shown {
        return Err(format!(
            "INV-LEDGER: refolding the journal gives {folded:?}, the stock shows {shown:?}"
        ));
    }
    Ok(())
}

/// A fabricated stock level of `sku`, listed nowhere.
fn level(sku: &str, on_hand: i64, reserved: i64, available: i64) -> StockView {
    StockView {
        sku: Sku::parse(sku).expect("a valid SKU"),
        on_hand,
        reserved,
        available,
        last_seq: 0,
        channels: BTreeMap::new(),
    }
}

/// The checker against fabricated ledgers: a correct one passes, and a missing, a duplicated and
/// an unexpected order, a wrong SKU and a journal gap are each reported.
fn checker_self_test() -> Result<String, String> {
    let entry = |seq: u64, order: u64, sku: &str| {
        json!({"seq": seq, "key": format!("order:{SHOP}:{order}:1:placed"), "kind": "sale",
               "source": format!("channel:{SHOP}"), "sku": sku, "quantity": 1,
               "on_hand_delta": 0, "reserved_delta": 1})
    };
    let count = json!({"seq": 1, "key": "import:ACME-MUG", "kind": "count", "source": "import",
                       "sku": "ACME-MUG", "quantity": 10, "on_hand_delta": 10,
                       "reserved_delta": 0});
    let sent: BTreeMap<u64, &'static str> = [
        (1, "ACME-MUG"),
        (2, "ACME-MUG"),
        (3, "ACME-MUG"),
        (4, "ACME-MUG"),
    ]
    .into();
    let acked: BTreeMap<u64, &'static str> = [(1, "ACME-MUG"), (2, "ACME-MUG")].into();
    let good = vec![
        count.clone(),
        entry(2, 1, "ACME-MUG"),
        entry(3, 2, "ACME-MUG"),
        entry(4, 3, "ACME-MUG"),
    ];
    let found = check_orders(&good, &acked, &sent)?;
    if found
        != (LedgerCheck {
            orders: 3,
            unacknowledged: 1,
        })
    {
        return Err(format!("a correct ledger was summarised as {found:?}"));
    }
    let stock = [level("ACME-MUG", 10, 3, 7)];
    check_journal(&good, &stock)?;

    let must_fail = |label: &str, result: Result<(), String>, expected: &str| match result {
        Err(message) if message.contains(expected) => Ok(()),
        Err(message) => Err(format!("{label}: reported {message:?}, not {expected}")),
        Ok(()) => Err(format!("{label}: not reported")),
    };
    let missing = vec![count.clone(), entry(2, 1, "ACME-MUG")];
    must_fail(
        "a missing acknowledged order",
        check_orders(&missing, &acked, &sent).map(drop),
        "INV-ACK",
    )?;
    let mut duplicated = good.clone();
    duplicated.push(entry(5, 2, "ACME-MUG"));
    must_fail(
        "a duplicated order",
        check_orders(&duplicated, &acked, &sent).map(drop),
        "INV-ONCE",
    )?;
    let mut unexpected = good.clone();
    unexpected.push(entry(5, 99, "ACME-MUG"));
    must_fail(
        "an order never sent",
        check_orders(&unexpected, &acked, &sent).map(drop),
        "never sent",
    )?;
    let mut wrong_sku = good.clone();
    wrong_sku[1] = entry(2, 1, "ACME-CAP");
    must_fail(
        "a wrong SKU",
        check_orders(&wrong_sku, &acked, &sent).map(drop),
        "recorded as",
    )?;
    let gap = vec![count, entry(3, 1, "ACME-MUG")];
    must_fail("a journal gap", check_journal(&gap, &stock), "INV-PREFIX")?;
    must_fail(
        "balances that differ from the refold",
        check_journal(&good, &[level("ACME-MUG", 10, 2, 8)]),
        "INV-LEDGER",
    )?;
    Ok(
        "a correct fabricated ledger passes; a missing, a duplicated and an unexpected order, a \
        wrong SKU, a journal gap and wrong balances are each reported"
            .to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// The serve process

/// A running (or starting) `shelfsync serve`; killed with SIGKILL when dropped, so a failing or
/// panicking test never leaves it behind.
struct Serve {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Serve {
    /// Spawns `serve` on `data_dir` with a port picked by the kernel; does not wait for it.
    fn spawn(data_dir: &Path, log: &Path) -> Result<Serve, String> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|error| format!("cannot open {}: {error}", log.display()))?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_shelfsync"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        // `serve` refuses any SHELFSYNC_ variable that is not one of its keys (such as this
        // binary's own SHELFSYNC_CRASH_*), and the vault key must come from the key file in the
        // data directory: the child gets none of ours.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SHELFSYNC_") {
                command.env_remove(name);
            }
        }
        command.env("SHELFSYNC_ADMIN_TOKEN", ADMIN);
        // The marketplaces are mocks on loopback, over plain http.
        command.env("SHELFSYNC_SECURITY_ALLOW_PRIVATE_NETWORKS", "true");
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot start serve: {error}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = std::sync::mpsc::channel();
        // The reader drains stdout until the process is gone (EOF), so `serve` never blocks on a
        // full pipe; it ends by itself when the child dies.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Serve { child, lines })
    }

    /// Spawns `serve` and waits (bounded) for its first line; returns it with its base URL.
    fn start(data_dir: &Path, log: &Path) -> Result<(Serve, String), String> {
        let mut serve = Serve::spawn(data_dir, log)?;
        let first = serve.lines.recv_timeout(START_LIMIT).map_err(|_| {
            let status = serve.child.try_wait().ok().flatten();
            format!(
                "serve printed no address within {START_LIMIT:?} (exit status {status:?}); see {}",
                log.display()
            )
        })?;
        let url = first
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("serve's first line is {first:?}"))?
            .to_string();
        Ok((serve, url))
    }

    /// SIGKILL (`Child::kill` on Unix), then reaps it: the sled lock is free once this returns.
    fn kill9(&mut self) -> Result<(), String> {
        self.child
            .kill()
            .map_err(|error| format!("cannot kill serve: {error}"))?;
        let status = self.child.wait().map_err(|error| error.to_string())?;
        match status.code() {
            // It exited by itself before the signal landed: it crashed on its own.
            Some(code) => Err(format!("serve exited by itself with code {code}")),
            None => Ok(()),
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

/// `GET url` as the admin, which must answer 200: its JSON reply. The journal is read raw: its
/// checks read the entries' wire fields (`key`, `on_hand_delta`, ...) as the ledger stores them.
async fn get_ok(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let reply = http
        .get(url)
        .bearer_auth(ADMIN)
        .send()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    let status = reply.status().as_u16();
    let reply = reply.json().await.unwrap_or(Value::Null);
    if status != 200 {
        return Err(format!("GET {url}: {status} {reply}"));
    }
    Ok(reply)
}

/// The whole journal, paged.
async fn ledger(http: &reqwest::Client, api: &str) -> Result<Vec<Value>, String> {
    let mut entries = Vec::new();
    let mut after = 0;
    for _ in 0..MAX_PAGES {
        let url = format!("{api}/v1/clients/{CLIENT}/ledger?after_seq={after}&limit={PAGE}");
        let page = get_ok(http, &url).await?;
        let rows = page["entries"].as_array().cloned().unwrap_or_default();
        let full = rows.len() == PAGE;
        entries.extend(rows);
        match page["next_after_seq"].as_u64() {
            Some(next) if full => after = next,
            _ => return Ok(entries),
        }
    }
    Err(format!(
        "the ledger has more than {} entries",
        PAGE * MAX_PAGES
    ))
}

/// The typed client of the API at `api`, as the admin.
fn as_admin(api: &str) -> Result<ApiClient, String> {
    ApiClient::new(api, ADMIN, REQUEST_TIMEOUT).map_err(|error| error.to_string())
}

/// Every SKU's stock, every page.
async fn stock(client: &ApiClient) -> Result<Vec<StockView>, String> {
    client
        .stock(CLIENT)
        .await
        .map_err(|error| error.to_string())
}

/// `GET /_mock/listings` as SKU → quantity.
async fn listed(
    http: &reqwest::Client,
    mock: &MockServer,
) -> Result<BTreeMap<String, i64>, String> {
    let url = format!("{}/_mock/listings", mock.base_url());
    let reply: Vec<Value> = http
        .get(&url)
        .send()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?
        .json()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    Ok(reply
        .iter()
        .map(|listing| {
            (
                listing["sku"].as_str().unwrap_or_default().to_string(),
                listing["quantity"].as_i64().unwrap_or(-1),
            )
        })
        .collect())
}

fn sign(body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A Shopify `orders/create` delivery of one unit.
fn order_body(order_id: u64, sku: &str) -> Vec<u8> {
    json!({
        "id": order_id,
        "updated_at": "2026-11-22T10:00:00Z",
        "cancelled_at": null,
        "line_items": [{"sku": sku, "quantity": 1}],
    })
    .to_string()
    .into_bytes()
}

fn sku_of(order_id: u64) -> &'static str {
    SKUS[(order_id % SKUS.len() as u64) as usize]
}

/// How one delivery ended.
#[derive(Debug)]
enum Delivery {
    /// A 2xx arrived: `applied` and `duplicates` of its reply.
    Acked { applied: u64, duplicates: u64 },
    /// A reply that is not a 2xx (not acknowledged; the platform would retry).
    Refused(u16),
    /// No reply: the connection was refused (the request never reached a server).
    NotConnected,
    /// No reply: the connection broke or timed out with the request sent or being sent.
    NoReply,
}

async fn deliver(http: &reqwest::Client, api: &str, order_id: u64) -> Delivery {
    let body = order_body(order_id, sku_of(order_id));
    let signature = sign(&body);
    let sent = http
        .post(format!("{api}/webhooks/{CLIENT}/{SHOP}"))
        .header("content-type", "application/json")
        .header("x-shopify-topic", "orders/create")
        .header("x-shopify-hmac-sha256", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(reply) if reply.status().is_success() => {
            let outcome: Value = reply.json().await.unwrap_or(Value::Null);
            Delivery::Acked {
                applied: outcome["applied"].as_u64().unwrap_or(u64::MAX),
                duplicates: outcome["duplicates"].as_u64().unwrap_or(u64::MAX),
            }
        }
        Ok(reply) => Delivery::Refused(reply.status().as_u16()),
        Err(error) if error.is_connect() => Delivery::NotConnected,
        Err(_) => Delivery::NoReply,
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario

/// Totals over the cycles.
#[derive(Debug, Default)]
struct Report {
    cycles: usize,
    sent: usize,
    acked: usize,
    in_flight: usize,
    not_connected: usize,
    refused: usize,
    unacked_durable: usize,
    unacked_in_ledger: usize,
    redelivered_unacked: usize,
    redelivered_acked: usize,
    recovery_kills: usize,
    control_lost: usize,
    control_cycles: usize,
    max_converge: Duration,
    max_restart: Duration,
    ledger_entries: usize,
    final_head: u64,
}

impl Report {
    fn summary(&self) -> String {
        format!(
            "{} cycles: {} deliveries sent, {} acknowledged, all in the ledger exactly once; {} \
             in flight at the kills ({} of them durable anyway), {} refused connections, {} \
             non-2xx replies; redelivered {} unacknowledged and {} acknowledged (no change); \
             orders in the ledger never acknowledged: {}; {} kills during recovery; slowest \
             restart {:.2} s, slowest reconvergence {:.2} s; journal {} entries, verified on \
             disk at the end (head {})",
            self.cycles,
            self.sent,
            self.acked,
            self.in_flight,
            self.unacked_durable,
            self.not_connected,
            self.refused,
            self.redelivered_unacked,
            self.redelivered_acked,
            self.unacked_in_ledger,
            self.recovery_kills,
            self.max_restart.as_secs_f64(),
            self.max_converge.as_secs_f64(),
            self.ledger_entries,
            self.final_head,
        )
    }
}

/// The client-side log of one cycle's load.
#[derive(Debug, Default)]
struct LoadLog {
    /// When the kill came, from the start of the load.
    kill_at: Duration,
    /// Every order id a delivery was attempted for.
    sent: BTreeSet<u64>,
    /// Orders whose 2xx arrived.
    acked: BTreeSet<u64>,
    /// Orders sent without a reply (the connection broke).
    in_flight: BTreeSet<u64>,
    /// Orders whose connection was refused.
    not_connected: BTreeSet<u64>,
    /// Orders answered with a non-2xx, and the status.
    refused: BTreeMap<u64, u16>,
    /// Replies that contradict the delivery (a new order answered as a duplicate).
    anomalies: Vec<String>,
}

async fn scenario(cycles: usize, seed: u64) -> Result<Report, String> {
    let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
    let data_dir = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let result = run_cycles(cycles, seed, &data_dir, &log).await;
    if result.is_err() {
        // Keep the service's log where a failing run can be read.
        let kept = std::env::temp_dir().join(format!("shelfsync-crash-serve-{seed}.log"));
        if std::fs::copy(&log, &kept).is_ok() {
            println!(
                "serve kill -9: the service's log is kept in {}",
                kept.display()
            );
        }
    }
    result
}

async fn run_cycles(
    cycles: usize,
    seed: u64,
    data_dir: &Path,
    log: &Path,
) -> Result<Report, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|error| error.to_string())?;
    let shopify = MockServer::start(Platform::Shopify, MockOptions::default())
        .map_err(|error| format!("the Shopify mock: {error}"))?;
    let etsy = MockServer::start(Platform::Etsy, MockOptions::default())
        .map_err(|error| format!("the Etsy mock: {error}"))?;

    let (mut serve, mut api) = Serve::start(data_dir, log)?;
    provision(&http, &api, &shopify, &etsy).await?;
    converge(&http, &api, &shopify, &etsy).await?;

    let mut report = Report::default();
    // Every delivery ever sent, order id → SKU, and those acknowledged: the ack log of the run.
    let mut sent: BTreeMap<u64, &'static str> = BTreeMap::new();
    let mut acked: BTreeMap<u64, &'static str> = BTreeMap::new();
    let next_order = Arc::new(AtomicU64::new(1_000_001));
    for cycle in 0..cycles {
        top_up(&api, cycle).await?;
        let kill_after = rng.gen_range(KILL_AFTER_ACKS);
        let load = load_and_kill(&http, &api, &mut serve, &next_order, kill_after).await?;
        if !load.anomalies.is_empty() {
            return Err(format!("cycle {cycle}: {}", load.anomalies.join("; ")));
        }
        for &id in &load.sent {
            sent.insert(id, sku_of(id));
        }
        for &id in &load.acked {
            acked.insert(id, sku_of(id));
        }
        report.sent += load.sent.len();
        report.in_flight += load.in_flight.len();
        report.not_connected += load.not_connected.len();
        report.refused += load.refused.len();

        // Every third cycle kills the new process again while it opens and recovers the
        // database (S02): recovery itself must survive a kill. A restart takes some tens of
        // milliseconds here, so the seeded delay lands before, during or just after recovery.
        if cycle % 3 == 1 {
            let mut early = Serve::spawn(data_dir, log)?;
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..50))).await;
            early
                .kill9()
                .map_err(|error| format!("cycle {cycle}: kill during recovery: {error}"))?;
            report.recovery_kills += 1;
        }
        let restarted = Instant::now();
        let (next_serve, next_api) = Serve::start(data_dir, log)
            .map_err(|error| format!("cycle {cycle}: restart: {error}"))?;
        report.max_restart = report.max_restart.max(restarted.elapsed());
        (serve, api) = (next_serve, next_api);

        let entries = ledger(&http, &api).await?;
        check_orders(&entries, &acked, &sent).map_err(|violation| {
            format!("cycle {cycle} (kill after {kill_after} acks): {violation}")
        })?;
        check_journal(&entries, &stock(&as_admin(&api)?).await?)
            .map_err(|violation| format!("cycle {cycle}: {violation}"))?;
        // The negative control: the same checker with the ack log of a sender that counted each
        // delivery when it sent it (so also those in flight when the kill came).
        let mut acked_on_send = acked.clone();
        for &id in &load.in_flight {
            acked_on_send.insert(id, sku_of(id));
        }
        // The orders it would have lost are counted here without the checker, and the checker
        // must report exactly that many.
        let lost = load
            .in_flight
            .iter()
            .filter(|id| !present(&entries, **id))
            .count();
        match check_orders(&entries, &acked_on_send, &sent) {
            Err(violation) if violation.starts_with(&format!("INV-ACK: {lost} of ")) => {
                report.control_cycles += 1;
                report.control_lost += lost;
            }
            Ok(_) if lost == 0 => {}
            other => {
                return Err(format!(
                    "cycle {cycle}: negative control: {lost} orders in flight at the kill are                      not in the ledger, and the checker said {other:?}"
                ))
            }
        }
        report.unacked_durable += load.in_flight.len() - lost;

        // Shopify retries what it got no 2xx for; half of those come again now, and some
        // acknowledged ones too (a retry after a lost reply).
        let mut unacked: Vec<u64> = sent
            .keys()
            .filter(|id| !acked.contains_key(id))
            .copied()
            .collect();
        unacked.shuffle(&mut rng);
        unacked.truncate(unacked.len() / 2);
        let mut old: Vec<u64> = acked.keys().copied().collect();
        old.shuffle(&mut rng);
        old.truncate(ACKED_REDELIVERIES);
        for &id in &unacked {
            match deliver(&http, &api, id).await {
                Delivery::Acked {
                    applied,
                    duplicates,
                } if applied + duplicates == 1 => {
                    acked.insert(id, sku_of(id));
                }
                other => {
                    return Err(format!(
                        "cycle {cycle}: redelivery of unacknowledged order {id}: {other:?}"
                    ))
                }
            }
        }
        for &id in &old {
            match deliver(&http, &api, id).await {
                Delivery::Acked {
                    applied: 0,
                    duplicates: 1,
                } => {}
                other => {
                    return Err(format!(
                        "cycle {cycle}: redelivery of acknowledged order {id} must change \
                         nothing: {other:?}"
                    ))
                }
            }
        }
        report.redelivered_unacked += unacked.len();
        report.redelivered_acked += old.len();
        let entries = ledger(&http, &api).await?;
        report.unacked_in_ledger = check_orders(&entries, &acked, &sent)
            .map_err(|violation| format!("cycle {cycle}, after redelivery: {violation}"))?
            .unacknowledged;
        check_journal(&entries, &stock(&as_admin(&api)?).await?)
            .map_err(|violation| format!("cycle {cycle}, after redelivery: {violation}"))?;
        report.ledger_entries = entries.len();

        let took = converge(&http, &api, &shopify, &etsy)
            .await
            .map_err(|error| format!("cycle {cycle}: {error}"))?;
        report.max_converge = report.max_converge.max(took);
        report.cycles += 1;
        println!(
            "serve kill -9: cycle {cycle}: killed after {kill_after} acks ({} ms into the load); {} sent, {} acked, {} in \
             flight, {} refused connections, non-2xx replies {:?}; ledger {} entries; reconverged \
             in {:.2} s",
            load.kill_at.as_millis(),
            load.sent.len(),
            load.acked.len(),
            load.in_flight.len(),
            load.not_connected.len(),
            load.refused.values().collect::<BTreeSet<_>>(),
            entries.len(),
            took.as_secs_f64()
        );
    }
    report.acked = acked.len();

    // A last kill, then the ledger's own check on the files, in this process.
    let head = ledger(&http, &api).await?.len() as u64;
    serve.kill9()?;
    drop(serve);
    report.final_head = verify_on_disk(data_dir, head)?;
    Ok(report)
}

fn present(entries: &[Value], order_id: u64) -> bool {
    let key = format!("order:{SHOP}:{order_id}:1:placed");
    entries.iter().any(|entry| entry["key"] == key)
}

/// Opens the killed service's database and runs the ledger's own `verify()`.
fn verify_on_disk(data_dir: &Path, head: u64) -> Result<u64, String> {
    let db = open_database(&data_dir.join("db"), DEFAULT_CACHE_BYTES)
        .map_err(|error| format!("INV-OPEN: {error}"))?;
    let tree = client_tree(&db, &ClientCode::parse(CLIENT).expect("a valid code"))
        .map_err(|error| error.to_string())?;
    let store =
        LedgerStore::open(tree).map_err(|error| format!("INV-OPEN: recovery refused: {error}"))?;
    let report = store
        .verify()
        .map_err(|error| format!("INV-PREFIX/INV-LEDGER/INV-ATOMIC on disk: {error}"))?;
    if report.head_seq != head {
        return Err(format!(
            "the journal on disk ends at {}, the API showed {head} entries before the kill",
            report.head_seq
        ));
    }
    Ok(report.head_seq)
}

/// The client, its credentials, both channels and the catalog, through the API.
async fn provision(
    http: &reqwest::Client,
    api: &str,
    shopify: &MockServer,
    etsy: &MockServer,
) -> Result<(), String> {
    let client = as_admin(api)?;
    let refused = |error: ClientError| error.to_string();
    let acme = NewClient {
        code: CLIENT.into(),
        name: "Acme Mugs".into(),
        tier: ServiceTier::Premium,
    };
    client.create_client(&acme).await.map_err(refused)?;
    let credentials = [
        ("shopify", "mock-token"),
        ("etsy", "mock-token"),
        ("etsy-shared", ETSY_SHARED_SECRET),
    ]
    .map(|(name, secret)| {
        let secret = secret.to_string();
        (
            name,
            PutCredential {
                secret,
                ..PutCredential::default()
            },
        )
    });
    for (name, credential) in &credentials {
        client
            .put_credential(CLIENT, name, credential)
            .await
            .map_err(refused)?;
    }
    let info = |mock: &MockServer| {
        let url = format!("{}/_mock/info", mock.base_url());
        async move {
            let reply: Value = http
                .get(&url)
                .send()
                .await
                .map_err(|error| format!("GET {url}: {error}"))?
                .json()
                .await
                .map_err(|error| format!("GET {url}: {error}"))?;
            Ok::<Value, String>(reply["account"].clone())
        }
    };
    let shop_account = info(shopify).await?;
    let etsy_account = info(etsy).await?;
    let account = |value: Value| value.as_object().cloned().unwrap_or_default();
    for channel in [
        NewChannelBody {
            id: SHOP.into(),
            platform: Platform::Shopify.to_string(),
            base_url: shopify.base_url(),
            credential: "shopify".into(),
            account: account(shop_account),
            webhook_secret: Some(WEBHOOK_SECRET.into()),
            poll_interval_ms: Some(200),
            ..NewChannelBody::default()
        },
        NewChannelBody {
            id: ETSY.into(),
            platform: Platform::Etsy.to_string(),
            base_url: etsy.base_url(),
            credential: "etsy".into(),
            account: account(json!({"shop_id": etsy_account["shop_id"],
                "user_id": etsy_account["user_id"], "keystring": etsy_account["keystring"],
                "shared_secret_credential": "etsy-shared"})),
            poll_interval_ms: Some(200),
            ..NewChannelBody::default()
        },
    ] {
        client
            .create_channel(CLIENT, &channel)
            .await
            .map_err(refused)?;
    }
    // The marketplaces show 1 of each at first; the service must set them to the ledger's.
    let body: Vec<Value> = SKUS
        .iter()
        .map(|sku| json!({"sku": sku, "quantity": 1}))
        .collect();
    let mut refs: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (channel, mock) in [(SHOP, shopify), (ETSY, etsy)] {
        let url = format!("{}/_mock/listings", mock.base_url());
        let created: Vec<Value> = http
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|error| format!("POST {url}: {error}"))?
            .json()
            .await
            .map_err(|error| format!("POST {url}: {error}"))?;
        refs.insert(
            channel,
            created
                .iter()
                .map(|listing| {
                    listing["listing_ref"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect(),
        );
    }
    let items: Vec<CatalogItem> = SKUS
        .iter()
        .enumerate()
        .map(|(index, sku)| CatalogItem {
            sku: sku.to_string(),
            on_hand: TOP_UP_TO,
            listings: [
                (SHOP.to_string(), refs[SHOP][index].clone()),
                (ETSY.to_string(), refs[ETSY][index].clone()),
            ]
            .into(),
            ..CatalogItem::default()
        })
        .collect();
    let imported = client
        .import_catalog(CLIENT, &CatalogBody::of(&items))
        .await
        .map_err(refused)?;
    if imported.imported != SKUS.len() {
        return Err(format!("the catalog import: {imported:?}"));
    }
    Ok(())
}

/// Brings every SKU back to [`TOP_UP_TO`] available with a receipt (the orders reserve units).
async fn top_up(api: &str, cycle: usize) -> Result<(), String> {
    let client = as_admin(api)?;
    for level in stock(&client).await? {
        let missing = TOP_UP_TO - level.available;
        if missing > 0 {
            let sku = level.sku.as_str();
            let receipt = NewMovement::new(
                MovementKind::Receipt,
                missing,
                &format!("top-up-{cycle}-{sku}"),
            );
            client
                .post_movement(CLIENT, sku, &receipt)
                .await
                .map_err(|error| error.to_string())?;
        }
    }
    Ok(())
}

/// Waits (bounded) until both channels run and every SKU's listing on both mocks equals its
/// `available`; returns how long it took.
async fn converge(
    http: &reqwest::Client,
    api: &str,
    shopify: &MockServer,
    etsy: &MockServer,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut last = String::new();
    let client = as_admin(api)?;
    while started.elapsed() < CONVERGE_LIMIT {
        let available: BTreeMap<String, i64> = stock(&client)
            .await?
            .iter()
            .map(|level| (level.sku.to_string(), level.available))
            .collect();
        let on_shopify = listed(http, shopify).await?;
        let on_etsy = listed(http, etsy).await?;
        if available.len() == SKUS.len() && on_shopify == available && on_etsy == available {
            return Ok(started.elapsed());
        }
        last = format!("available {available:?}, Shopify {on_shopify:?}, Etsy {on_etsy:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "INV-CONVERGE: the listings did not reconverge within {CONVERGE_LIMIT:?}: {last}"
    ))
}

/// Runs the senders against `serve` and kills it once `kill_after` deliveries were acknowledged
/// (or when [`LOAD_LIMIT`] is up); returns the cycle's ack log once every sender has stopped.
async fn load_and_kill(
    http: &reqwest::Client,
    api: &str,
    serve: &mut Serve,
    next_order: &Arc<AtomicU64>,
    kill_after: usize,
) -> Result<LoadLog, String> {
    let log = Arc::new(Mutex::new(LoadLog::default()));
    let acks = Arc::new(AtomicUsize::new(0));
    let budget = Arc::new(AtomicUsize::new(MAX_DELIVERIES_PER_CYCLE));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (http, api) = (http.clone(), api.to_string());
            let (log, acks, budget, stop) =
                (log.clone(), acks.clone(), budget.clone(), stop.clone());
            let next_order = next_order.clone();
            tokio::spawn(async move {
                // Bounded by the cycle's delivery budget; each request by its timeout.
                while !stop.load(Ordering::SeqCst)
                    && budget
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                            left.checked_sub(1)
                        })
                        .is_ok()
                {
                    let id = next_order.fetch_add(1, Ordering::SeqCst);
                    log.lock().expect("log").sent.insert(id);
                    let delivery = deliver(&http, &api, id).await;
                    let mut log = log.lock().expect("log");
                    match delivery {
                        Delivery::Acked {
                            applied: 1,
                            duplicates: 0,
                        } => {
                            log.acked.insert(id);
                            acks.fetch_add(1, Ordering::SeqCst);
                        }
                        Delivery::Acked {
                            applied,
                            duplicates,
                        } => {
                            log.anomalies.push(format!(
                                "new order {id} answered applied {applied}, duplicates {duplicates}"
                            ));
                            log.acked.insert(id);
                        }
                        Delivery::Refused(status) => {
                            log.refused.insert(id, status);
                        }
                        // A sender that lost its connection stops, as a platform backs off:
                        // the service is gone until the restart.
                        Delivery::NotConnected => {
                            log.not_connected.insert(id);
                            break;
                        }
                        Delivery::NoReply => {
                            log.in_flight.insert(id);
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acks.load(Ordering::SeqCst) < kill_after && started.elapsed() < LOAD_LIMIT {
        if budget.load(Ordering::SeqCst) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The senders are told to stop just before the SIGKILL (microseconds, while a delivery takes
    // a durable write of milliseconds): the deliveries in flight stay in flight and meet the kill,
    // and no new one is started against a dead process.
    let kill_at = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let killed = serve.kill9();
    for sender in senders {
        sender
            .await
            .map_err(|error| format!("a sender panicked: {error}"))?;
    }
    killed?;
    let mut log = std::mem::take(&mut *log.lock().expect("log"));
    log.kill_at = kill_at;
    Ok(log)
}
