//! What the mock marketplace tests share: starting a mock on a loopback port, and the control
//! surface calls.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shelfsync::platforms::mock::{MockOptions, MockServer};
use shelfsync::platforms::Platform;

/// Starts a mock of `platform` on a free loopback port with `plan`.
pub fn start(platform: Platform, plan: &str) -> MockServer {
    MockServer::start(
        platform,
        MockOptions {
            plan: plan.to_string(),
            ..MockOptions::default()
        },
    )
    .expect("the mock starts")
}

/// A client with a short timeout (every call is on loopback).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Reads a golden fixture of `tests/fixtures/<platform>/<name>`.
pub fn fixture(platform: &str, name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(platform)
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// `POST /_mock/listings`; returns the created listings.
pub async fn create_listings(mock: &MockServer, listings: &[(&str, i64)]) -> Vec<Value> {
    let body: Vec<Value> = listings
        .iter()
        .map(|(sku, quantity)| json!({ "sku": sku, "quantity": quantity }))
        .collect();
    let reply = client()
        .post(format!("{}/_mock/listings", mock.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "listings are created");
    reply.json::<Vec<Value>>().await.unwrap()
}

/// `GET /_mock/listings` as SKU → quantity.
pub async fn listed(mock: &MockServer) -> std::collections::BTreeMap<String, i64> {
    let reply = client()
        .get(format!("{}/_mock/listings", mock.base_url()))
        .send()
        .await
        .unwrap();
    let listings: Vec<Value> = reply.json().await.unwrap();
    listings
        .into_iter()
        .map(|listing| {
            (
                listing["sku"].as_str().unwrap().to_string(),
                listing["quantity"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// `GET /_mock/stats`.
pub async fn stats(mock: &MockServer) -> Value {
    get_json(mock, "stats").await
}

/// `GET /_mock/info` (account ids, limits).
pub async fn info(mock: &MockServer) -> Value {
    get_json(mock, "info").await
}

/// `GET /_mock/<path>` as JSON.
pub async fn get_json(mock: &MockServer, path: &str) -> Value {
    client()
        .get(format!("{}/_mock/{path}", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends `request` and returns its JSON reply (whatever the status).
pub async fn json_reply(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// `POST /_mock/<path>` with a JSON body; returns the status and the JSON reply.
pub async fn control(mock: &MockServer, path: &str, body: Value) -> (u16, Value) {
    let reply = client()
        .post(format!("{}/_mock/{path}", mock.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

/// Places an order of `quantity` units of `sku` through `POST /_mock/orders`; returns its id.
pub async fn place_order(mock: &MockServer, sku: &str, quantity: u32) -> String {
    let (status, order) =
        control(mock, "orders", json!({ "sku": sku, "quantity": quantity })).await;
    assert_eq!(status, 201, "{order}");
    order["order_id"].as_str().unwrap().to_string()
}

/// Cancels `order_id` through `POST /_mock/orders/{order_id}/cancel`.
pub async fn cancel_order(mock: &MockServer, order_id: &str) {
    let (status, reply) = control(mock, &format!("orders/{order_id}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{reply}");
}

/// Waits until the wall clock is more than two milliseconds past `time`: the mocks stamp changes
/// by the millisecond, so a change made next is stamped strictly after it.
pub async fn wait_past(time: chrono::DateTime<chrono::FixedOffset>) {
    assert!(
        eventually(Duration::from_secs(1), || async {
            chrono::Utc::now() > time + chrono::Duration::milliseconds(2)
        })
        .await
    );
}

/// Sets the mock's faults (`POST /_mock/faults`: a throttle storm, an outage, …).
pub async fn set_faults(mock: &MockServer, faults: Value) {
    let (status, reply) = control(mock, "faults", faults).await;
    assert_eq!(status, 200, "{reply}");
}

/// The mock's count of quantity writes and of compare-and-set conflicts (`GET /_mock/stats`).
pub async fn writes_and_conflicts(mock: &MockServer) -> (Option<u64>, Option<u64>) {
    let stats = stats(mock).await;
    (
        stats["quantity_writes"].as_u64(),
        stats["cas_conflicts"].as_u64(),
    )
}

/// Asserts that refused calls changed nothing: `sku` still lists `quantity`, no quantity was
/// written, and the mock counted `refused` (operation, calls) as refused for their credentials.
pub async fn assert_refused_and_unchanged(
    mock: &MockServer,
    (sku, quantity): (&str, i64),
    refused: &[(&str, u64)],
) {
    assert_eq!(listed(mock).await[sku], quantity);
    let stats = stats(mock).await;
    for &(operation, calls) in refused {
        assert_eq!(stats["auth_refused"][operation], calls, "{operation}");
    }
    assert_eq!(stats["quantity_writes"], 0);
}

/// Sends `request()` up to `calls` times, back to back, until the mock answers 429: every reply
/// before that must be a 200 and is handed to `each_ok`. Returns the 429, if any.
pub async fn first_429(
    calls: usize,
    request: impl Fn() -> reqwest::RequestBuilder,
    mut each_ok: impl FnMut(&reqwest::Response),
) -> Option<reqwest::Response> {
    for _ in 0..calls {
        let reply = request().send().await.unwrap();
        if reply.status() == 429 {
            return Some(reply);
        }
        assert_eq!(reply.status(), 200);
        each_ok(&reply);
    }
    None
}

/// How many calls of `operation` the mock has throttled so far (`GET /_mock/stats`).
pub async fn throttled_calls(mock: &MockServer, operation: &str) -> u64 {
    stats(mock).await["throttled"][operation].as_u64().unwrap()
}

/// Polls `check` until it holds, for at most `limit` of wall time (the mock works on its own
/// threads; the test only waits for it).
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
