//! Connects the fleet to the service through its HTTP API, as an agency would (and as
//! `tests/integration/api_agency.rs` does): client, credentials, channels, Shopify webhook
//! subscriptions, catalog.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use shelfsync::platforms::Platform;

use super::fleet::{ClientPlan, Fleet};
use super::service::ServiceProcess;
use super::RunError;

/// The credential every mock accepts.
pub const MOCK_TOKEN: &str = "mock-token";
/// The Etsy app's shared secret (any non-empty value is accepted by the mock).
pub const ETSY_SHARED_SECRET: &str = "bench-etsy-shared-secret-0123456789";
/// The name of the Etsy app every client's Etsy channel draws its budget from.
pub const ETSY_APP: &str = "agency-etsy";

/// How the service pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOrder {
    /// Risk first (the default).
    RiskFirst,
    /// The FIFO baseline.
    Fifo,
}

impl PushOrder {
    fn as_str(self) -> &'static str {
        match self {
            PushOrder::RiskFirst => "risk_first",
            PushOrder::Fifo => "fifo",
        }
    }
}

/// A client of the service API with the admin token.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// The API of `service`.
    pub fn new(service: &ServiceProcess) -> Result<Api, RunError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|error| RunError::Http(error.to_string()))?;
        Ok(Api {
            http,
            base: service.base_url.clone(),
            token: service.token.clone(),
        })
    }

    /// Sends `body` and returns the JSON reply; a status other than `expect` is an error.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expect: &[u16],
    ) -> Result<Value, RunError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let reply = request
            .send()
            .await
            .map_err(|error| RunError::Http(format!("{method} {path}: {error}")))?;
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap_or_default();
        if !expect.contains(&status) {
            return Err(RunError::Api {
                call: format!("{method} {path}"),
                status,
                body: text.chars().take(500).collect(),
            });
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// The engine's own view of its channels at the end of the window, by platform: for diagnosing a
/// run only; no reported figure comes from it.
pub async fn engine_view(api: &Api, clients: &[ClientPlan]) -> Value {
    let mut by_platform: BTreeMap<String, Value> = BTreeMap::new();
    for client in clients {
        let path = format!("/v1/clients/{}/channels", client.code);
        let Ok(Value::Array(channels)) = api.call(Method::GET, &path, None, &[200]).await else {
            continue;
        };
        for channel in channels {
            let platform = channel["platform"].as_str().unwrap_or("?").to_string();
            let entry = by_platform.entry(platform).or_insert_with(|| {
                json!({"channels": 0, "pending": 0, "failed": 0, "throttled": 0,
                       "oldest_pending_seconds_max": 0.0, "last_errors": []})
            });
            for field in ["pending", "failed", "throttled"] {
                let add = channel[field].as_u64().unwrap_or(0);
                entry[field] = json!(entry[field].as_u64().unwrap_or(0) + add);
            }
            entry["channels"] = json!(entry["channels"].as_u64().unwrap_or(0) + 1);
            let oldest = channel["oldest_pending_seconds"].as_f64().unwrap_or(0.0);
            if oldest > entry["oldest_pending_seconds_max"].as_f64().unwrap_or(0.0) {
                entry["oldest_pending_seconds_max"] = json!(oldest);
            }
            if let (Some(error), Some(errors)) = (
                channel["last_error"].as_str(),
                entry["last_errors"].as_array_mut(),
            ) {
                if errors.len() < 5 && !errors.iter().any(|known| known == error) {
                    errors.push(json!(error));
                }
            }
        }
    }
    json!(by_platform)
}

/// The webhook secret of a client's Shopify channel.
fn webhook_secret(code: &str) -> String {
    format!("whsec-bench-{code}-0123456789abcdef")
}

/// Connects every client of the plan and its channels; `poll_interval_ms` for every order feed.
pub async fn provision(
    api: &Api,
    clients: &[ClientPlan],
    fleet: &Fleet,
    order: PushOrder,
    poll_interval_ms: u64,
) -> Result<(), RunError> {
    for (index, client) in clients.iter().enumerate() {
        let code = &client.code;
        api.call(
            Method::POST,
            "/v1/clients",
            Some(json!({"code": code, "name": format!("Bench client {code}"), "tier": "standard"})),
            &[201],
        )
        .await?;
        let channels: Vec<_> = fleet
            .channels
            .iter()
            .filter(|channel| channel.client == index)
            .collect();
        // One token for every mock of the client: a credential is bound to the hosts it may be
        // sent to, so it names each of them (a new credential would bind to its first channel's).
        let hosts: Vec<String> = channels
            .iter()
            .map(|channel| channel.server.base_url())
            .collect();
        for (name, secret) in [("mock", MOCK_TOKEN), ("etsy-shared", ETSY_SHARED_SECRET)] {
            let mut body = json!({ "secret": secret });
            if !hosts.is_empty() {
                body["hosts"] = json!(hosts);
            }
            api.call(
                Method::PUT,
                &format!("/v1/clients/{code}/credentials/{name}"),
                Some(body),
                &[200, 201],
            )
            .await?;
        }
        for channel in &channels {
            let mut body = json!({
                "id": channel.id,
                "platform": channel.platform.as_str(),
                "base_url": channel.server.base_url(),
                "credential": "mock",
                "account": channel.account(),
                "push_order": order.as_str(),
                "poll_interval_ms": poll_interval_ms,
            });
            match channel.platform {
                Platform::Shopify => {
                    body["webhook_secret"] = json!(webhook_secret(code));
                }
                Platform::Etsy => {
                    let account = channel.account();
                    body["account"] = json!({
                        "shop_id": account["shop_id"],
                        "user_id": account["user_id"],
                        "keystring": account["keystring"],
                        "shared_secret_credential": "etsy-shared",
                    });
                    body["app"] = json!(ETSY_APP);
                }
                _ => {}
            }
            api.call(
                Method::POST,
                &format!("/v1/clients/{code}/channels"),
                Some(body),
                &[201],
            )
            .await?;
            if channel.platform == Platform::Shopify {
                let hub = channel.state().webhooks();
                hub.subscribe(
                    &format!("{}/webhooks/{code}/{}", api.base, channel.id),
                    &webhook_secret(code),
                )
                .map_err(|error| RunError::Mock(error.to_string()))?;
            }
        }
        let items: Vec<Value> = client
            .skus
            .iter()
            .zip(&client.stock)
            .enumerate()
            .map(|(position, (sku, on_hand))| {
                let listings: serde_json::Map<String, Value> = channels
                    .iter()
                    .map(|channel| (channel.id.clone(), json!(channel.listing_refs[position].1)))
                    .collect();
                // The mocks list the plan's stock already, as an agency's catalog exported from
                // its marketplaces would say: the service adopts it and pushes only changes.
                let listed: serde_json::Map<String, Value> = channels
                    .iter()
                    .map(|channel| (channel.id.clone(), json!(on_hand)))
                    .collect();
                json!({"sku": sku, "on_hand": on_hand, "listings": listings, "listed": listed})
            })
            .collect();
        let imported = api
            .call(
                Method::PUT,
                &format!("/v1/clients/{code}/catalog"),
                Some(json!({ "items": items })),
                &[200],
            )
            .await?;
        let rejected = imported["rejected"].as_array().map_or(0, Vec::len);
        if rejected > 0 {
            return Err(RunError::Api {
                call: format!("PUT /v1/clients/{code}/catalog"),
                status: 200,
                body: format!("{rejected} rows rejected: {imported}"),
            });
        }
    }
    Ok(())
}

/// Waits, at most `limit`, until no channel of any client has anything pending or in flight
/// (the start-up pushes done); returns how long it waited and whether it settled.
pub async fn settle(
    api: &Api,
    clients: &[ClientPlan],
    limit: Duration,
) -> Result<(Duration, bool), RunError> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let mut busy = false;
        for client in clients {
            let channels = api
                .call(
                    Method::GET,
                    &format!("/v1/clients/{}/channels", client.code),
                    None,
                    &[200],
                )
                .await?;
            busy |= channels.as_array().into_iter().flatten().any(|channel| {
                channel["pending"].as_u64().unwrap_or(1) > 0
                    || channel["in_flight"].as_u64().unwrap_or(0) > 0
            });
            if busy {
                break;
            }
        }
        if !busy {
            return Ok((started.elapsed(), true));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok((started.elapsed(), false))
}
