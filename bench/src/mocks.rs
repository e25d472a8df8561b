//! The mock marketplace load benchmark: `shelfsync-bench mocks`. For each platform it starts one
//! mock in-process (the same server `shelfsync mock-marketplace` runs) on a loopback port with its
//! limits raised (`--plan unlimited`), lists `--listings` SKUs, and drives the platform's
//! set-quantity call in its real wire format from `--concurrency` client tasks over keep-alive
//! connections, until `--requests` calls are answered or `--max-seconds` pass (both bounds always
//! apply, so the run stops by itself). The client runs on one tokio thread beside the mock's
//! workers on the same machine, so the figure is what one mock sustains while sharing the CPU
//! with its caller, as in the service benchmarks.
//!
//! Checked after each run, from the mock's `/_mock/stats` ground truth: every reply was 2xx, the
//! mock counted exactly the calls the client sent, and it applied exactly one listing write per
//! answered call (a 2xx that carried a GraphQL `userErrors`, a 207 item failure or an Amazon
//! `INVALID` would show as a missing write).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use clap::Args;
use serde_json::{json, Value};
use shelfsync::platforms::mock::{MockOptions, MockServer, UNLIMITED_PLAN};
use shelfsync::platforms::tiktok::mock as tiktok;
use shelfsync::platforms::Platform;

use crate::percentiles::Percentiles;

/// Options of `shelfsync-bench mocks`.
#[derive(Debug, Clone, Args)]
pub struct MocksArgs {
    /// Platforms to load, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "shopify,etsy,amazon,walmart,ebay,tiktok"
    )]
    pub platforms: Vec<String>,
    /// Set-quantity calls per platform (upper bound).
    #[arg(long, default_value_t = 60_000)]
    pub requests: u64,
    /// Wall-time bound per platform, in seconds.
    #[arg(long, default_value_t = 20)]
    pub max_seconds: u64,
    /// Client tasks sending concurrently (each waits for its reply before the next call).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// The mock's actix-web worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Listings on each mock; calls go round-robin over them.
    #[arg(long, default_value_t = 1000)]
    pub listings: usize,
}

/// Shopify's set-quantity mutation (reference §1.1, 2026-04: `changeFromQuantity` on every
/// quantity, `@idempotent` required).
const SHOPIFY_SET: &str = "mutation($input: InventorySetQuantitiesInput!, $key: String!) { inventorySetQuantities(input: $input) @idempotent(key: $key) { inventoryAdjustmentGroup { changes { name delta quantityAfterChange } } userErrors { code field message } } }";

/// One platform's set-quantity call, built from the listing the mock created.
struct SetQuantity {
    platform: Platform,
    base_url: String,
    listings: Vec<Value>,
    account: Value,
}

impl SetQuantity {
    /// The request that sets listing `index` to `quantity`, in the platform's wire format.
    fn request(
        &self,
        http: &reqwest::Client,
        index: usize,
        quantity: i64,
        call: u64,
    ) -> reqwest::RequestBuilder {
        let listing = &self.listings[index % self.listings.len()];
        let sku = listing["sku"].as_str().unwrap_or_default();
        let base = &self.base_url;
        match self.platform {
            Platform::Walmart => http
                .put(format!("{base}/v3/inventory?sku={sku}"))
                .header("WM_SEC.ACCESS_TOKEN", "mock-token")
                .header("WM_QOS.CORRELATION_ID", format!("bench-{call}"))
                .header("WM_SVC.NAME", "Walmart Marketplace")
                .json(&json!({ "sku": sku, "quantity": { "unit": "EACH", "amount": quantity } })),
            Platform::Ebay => http
                .post(format!("{base}/sell/inventory/v1/bulk_update_price_quantity"))
                .bearer_auth("mock-token")
                .json(&json!({ "requests": [{ "sku": sku, "shipToLocationAvailability": { "quantity": quantity } }] })),
            Platform::Shopify => http
                .post(format!("{base}/admin/api/2026-04/graphql.json"))
                .header("X-Shopify-Access-Token", "mock-token")
                .json(&json!({
                    "query": SHOPIFY_SET,
                    "variables": {
                        "key": format!("bench-{call}"),
                        "input": {
                            "name": "available",
                            "reason": "correction",
                            "quantities": [{
                                "inventoryItemId": listing["listing_ref"],
                                "locationId": self.account["location_id"],
                                "quantity": quantity,
                                "changeFromQuantity": null,
                            }],
                        },
                    },
                })),
            Platform::Etsy => http
                .put(format!("{base}/v3/application/listings/{}/inventory", listing["listing_ref"].as_str().unwrap_or_default()))
                .header("x-api-key", format!("{}:bench-shared-secret", self.account["keystring"].as_str().unwrap_or_default()))
                .header("Authorization", format!("Bearer {}.mock-token", self.account["user_id"]))
                .json(&json!({
                    "products": [{
                        "sku": sku,
                        "property_values": [],
                        "offerings": [{ "price": 22.0, "quantity": quantity, "is_enabled": true }],
                    }],
                    "price_on_property": [],
                    "quantity_on_property": [],
                    "sku_on_property": [],
                })),
            Platform::Amazon => http
                .patch(format!(
                    "{base}/listings/2021-08-01/items/{}/{sku}?marketplaceIds={}",
                    self.account["seller_id"].as_str().unwrap_or_default(),
                    self.account["marketplace_id"].as_str().unwrap_or_default()
                ))
                .header("x-amz-access-token", "mock-token")
                .json(&json!({
                    "productType": "LUGGAGE",
                    "patches": [{
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": quantity }],
                    }],
                })),
            Platform::TikTok => {
                // Signed as §6.4 says, with the mock app's key and secret.
                let (product, sku_id) = listing["listing_ref"]
                    .as_str()
                    .and_then(|reference| reference.split_once(':'))
                    .unwrap_or_default();
                let path = format!("/product/202309/products/{product}/inventory/update");
                let body = json!({ "skus": [{ "id": sku_id, "inventory": [{
                    "warehouse_id": tiktok::WAREHOUSE_ID, "quantity": quantity }] }] })
                .to_string();
                let mut query = vec![
                    ("app_key".to_string(), tiktok::APP_KEY.to_string()),
                    ("timestamp".to_string(), chrono::Utc::now().timestamp().to_string()),
                    ("shop_cipher".to_string(), tiktok::SHOP_CIPHER.to_string()),
                ];
                let sign = tiktok::request_sign(tiktok::APP_SECRET, &path, &query, body.as_bytes());
                query.push(("sign".to_string(), sign));
                http.post(format!("{base}{path}"))
                    .query(&query)
                    .header("x-tts-access-token", "mock-token")
                    .header("content-type", "application/json")
                    .body(body)
            }
        }
    }
}

/// Figures of one platform's run.
struct Outcome {
    platform: Platform,
    answered: u64,
    failed: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    counted_by_mock: u64,
    writes: u64,
}

/// Runs the benchmark and prints one line per platform.
pub fn run(args: &MocksArgs) -> anyhow::Result<()> {
    ensure!(
        args.concurrency >= 1 && args.listings >= 1,
        "--concurrency and --listings must be at least 1"
    );
    let platforms: Vec<Platform> = args
        .platforms
        .iter()
        .map(|name| Platform::parse(name).with_context(|| format!("unknown platform {name:?}")))
        .collect::<anyhow::Result<_>>()?;
    println!(
        "mock load: set-quantity calls, plan {UNLIMITED_PLAN}, {} mock workers, {} client tasks on 1 client thread, \
         at most {} calls or {} s per platform",
        args.workers, args.concurrency, args.requests, args.max_seconds
    );
    println!(
        "{:<9} {:>9} {:>8} {:>10} {:>9} {:>9} {:>7}",
        "platform", "calls", "seconds", "calls/s", "p50 ms", "p99 ms", "errors"
    );
    let mut failures = Vec::new();
    for platform in platforms {
        let outcome = run_platform(platform, args)?;
        println!(
            "{:<9} {:>9} {:>8.2} {:>10.0} {:>9.3} {:>9.3} {:>7}",
            outcome.platform.as_str(),
            outcome.answered,
            outcome.seconds,
            outcome.answered as f64 / outcome.seconds,
            outcome.p50_ms,
            outcome.p99_ms,
            outcome.failed
        );
        if outcome.failed > 0 {
            failures.push(format!(
                "{platform}: {} calls were not answered 2xx",
                outcome.failed
            ));
        }
        if outcome.writes != outcome.answered {
            failures.push(format!(
                "{platform}: {} calls were answered but the mock applied {} writes",
                outcome.answered, outcome.writes
            ));
        }
        if outcome.counted_by_mock != outcome.answered + outcome.failed {
            failures.push(format!(
                "{platform}: the mock counted {} calls, the client sent {}",
                outcome.counted_by_mock,
                outcome.answered + outcome.failed
            ));
        }
    }
    if !failures.is_empty() {
        bail!("the mock load run failed: {}", failures.join("; "));
    }
    Ok(())
}

fn run_platform(platform: Platform, args: &MocksArgs) -> anyhow::Result<Outcome> {
    let mock = MockServer::start(
        platform,
        MockOptions {
            plan: UNLIMITED_PLAN.to_string(),
            workers: args.workers,
            ..MockOptions::default()
        },
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(args.concurrency)
            .build()?;
        let base_url = mock.base_url();
        let listings: Vec<Value> = (0..args.listings)
            .map(|n| json!({ "sku": format!("BENCH-{n:05}"), "quantity": 100 }))
            .collect();
        let reply = http
            .post(format!("{base_url}/_mock/listings"))
            .json(&listings)
            .send()
            .await?;
        ensure!(
            reply.status() == 201,
            "listings were not created: {}",
            reply.status()
        );
        let listings: Vec<Value> = reply.json().await?;
        let info: Value = http
            .get(format!("{base_url}/_mock/info"))
            .send()
            .await?
            .json()
            .await?;
        let call = Arc::new(SetQuantity {
            platform,
            base_url,
            listings,
            account: info["account"].clone(),
        });
        let next = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..args.concurrency {
            let (http, call, next) = (http.clone(), Arc::clone(&call), Arc::clone(&next));
            let limit = args.requests;
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failed = 0u64;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= limit || Instant::now() >= deadline {
                        break;
                    }
                    let request = call.request(&http, n as usize, (n % 50) as i64, n);
                    let sent = Instant::now();
                    match request.send().await {
                        Ok(reply) if reply.status().is_success() => {
                            let _ = reply.bytes().await;
                            latencies.push(sent.elapsed());
                        }
                        _ => failed += 1,
                    }
                }
                (latencies, failed)
            }));
        }
        let mut latencies = Vec::new();
        let mut failed = 0;
        for task in tasks {
            let (task_latencies, task_failed) = task.await?;
            latencies.extend(task_latencies);
            failed += task_failed;
        }
        let seconds = started.elapsed().as_secs_f64();
        let millis: Vec<f64> = latencies.iter().map(|l| l.as_secs_f64() * 1e3).collect();
        // Milliseconds recorded to the microsecond.
        let figures = Percentiles::of(&millis, 0.001);
        // Every answered call must have been applied (Amazon applies ACCEPTED patches shortly
        // after): wait, bounded, for the mock's own count of listing writes to reach the calls.
        let answered = latencies.len() as u64;
        let settle = Instant::now() + Duration::from_secs(10);
        let stats = loop {
            let stats: Value = http
                .get(format!("{}/_mock/stats", call.base_url))
                .send()
                .await?
                .json()
                .await?;
            if stats["quantity_writes"].as_u64() == Some(answered) || Instant::now() >= settle {
                break stats;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let writes = stats["quantity_writes"].as_u64().unwrap_or(0);
        let counted_by_mock = stats["requests"].as_object().map_or(0, |requests| {
            requests.values().filter_map(Value::as_u64).sum()
        });
        Ok(Outcome {
            platform,
            answered: latencies.len() as u64,
            failed,
            seconds,
            p50_ms: figures.p50,
            p99_ms: figures.p99,
            counted_by_mock,
            writes,
        })
    })
}
