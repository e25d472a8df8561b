//! Connects the fleet to the service through its HTTP API, as an agency would (and as
//! `tests/integration/api_agency.rs` does): client, credentials, channels, order-notification
//! subscriptions, catalog.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shelfsync::api::catalog::{CatalogBody, CatalogItem};
use shelfsync::api::channels::NewChannelBody;
use shelfsync::api::client::ApiClient;
use shelfsync::api::clients::{NewClient, PutCredential};
use shelfsync::platforms::mock::webhooks::{sample_secret, subscription};
use shelfsync::platforms::Platform;
use shelfsync_actors::channel::scheduler::PushOrder;
use shelfsync_actors::ratelimit::ServiceTier;

use super::fleet::{ClientPlan, Fleet};
use super::service::ServiceProcess;
use super::RunError;

/// The credential every mock accepts.
pub const MOCK_TOKEN: &str = shelfsync::platforms::mock::DEFAULT_TOKEN;
/// The Etsy app's shared secret (any non-empty value is accepted by the mock).
pub const ETSY_SHARED_SECRET: &str = "bench-etsy-shared-secret-0123456789";
/// The name of the Etsy app every client's Etsy channel draws its budget from.
pub const ETSY_APP: &str = "agency-etsy";

/// How long one API call may take (a catalog import of a large client is the longest).
const API_TIMEOUT: Duration = Duration::from_secs(60);

/// The API of `service`, as its admin.
pub fn api_of(service: &ServiceProcess) -> Result<ApiClient, RunError> {
    Ok(ApiClient::new(
        &service.base_url,
        &service.token,
        API_TIMEOUT,
    )?)
}

/// The engine's own view of its channels at the end of the window, by platform: for diagnosing a
/// run only; no reported figure comes from it.
pub async fn engine_view(api: &ApiClient, clients: &[ClientPlan]) -> Value {
    let mut by_platform: BTreeMap<&'static str, Value> = BTreeMap::new();
    for client in clients {
        let Ok(channels) = api.channels(&client.code).await else {
            continue;
        };
        for status in channels {
            let platform = status.channel.platform.as_str();
            let entry = by_platform.entry(platform).or_insert_with(|| {
                json!({"channels": 0, "pending": 0, "failed": 0, "throttled": 0,
                       "oldest_pending_seconds_max": 0.0, "last_errors": []})
            });
            let live = status.live.as_ref();
            for (field, add) in [
                ("pending", live.map_or(0, |live| live.pending as u64)),
                ("failed", live.map_or(0, |live| live.failed)),
                ("throttled", live.map_or(0, |live| live.throttled)),
            ] {
                entry[field] = json!(entry[field].as_u64().unwrap_or(0) + add);
            }
            entry["channels"] = json!(entry["channels"].as_u64().unwrap_or(0) + 1);
            let oldest = live.map_or(0.0, |live| live.oldest_pending_seconds);
            if oldest > entry["oldest_pending_seconds_max"].as_f64().unwrap_or(0.0) {
                entry["oldest_pending_seconds_max"] = json!(oldest);
            }
            if let (Some(error), Some(errors)) = (
                live.and_then(|live| live.last_error.as_deref()),
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

/// `len` random characters of `[a-z0-9]` (a token, or a key: any run of them is also base64).
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)]))
        .collect()
}

/// A new secret for one channel's order notifications, in the form its platform's verifier
/// expects (the mocks' [`sample_secret`], from a random seed: one secret per channel that no
/// other run or channel shares).
fn notification_secret(platform: Platform) -> String {
    sample_secret(platform, rand::random::<u128>())
}

/// How the service hears of orders and shares Etsy's budget.
#[derive(Debug, Clone, Copy)]
pub struct Provisioning {
    /// The channels' push order.
    pub order: PushOrder,
    /// Every order feed's polling.
    pub poll_interval_ms: u64,
    /// Whether channels whose mock sends order notifications are subscribed to them.
    pub notifications: bool,
    /// Whether every client's Etsy channel draws on the agency's one app ([`ETSY_APP`]) or on
    /// an app of its own.
    pub shared_etsy_app: bool,
}

/// Connects every client of the plan and its channels.
pub async fn provision(
    api: &ApiClient,
    clients: &[ClientPlan],
    fleet: &Fleet,
    how: Provisioning,
) -> Result<(), RunError> {
    for (index, client) in clients.iter().enumerate() {
        let code = &client.code;
        api.create_client(&NewClient {
            code: code.clone(),
            name: format!("Bench client {code}"),
            tier: ServiceTier::Standard,
        })
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
            let credential = PutCredential {
                secret: secret.to_string(),
                hosts: (!hosts.is_empty()).then(|| hosts.clone()),
                ..PutCredential::default()
            };
            api.put_credential(code, name, &credential).await?;
        }
        for channel in &channels {
            // Written against the mock's flag, not a list of platforms: a platform's mock that
            // learns to send notifications is subscribed with no change here.
            let notified = how.notifications && channel.state().platform().sends_webhooks();
            let secret = notified.then(|| notification_secret(channel.platform));
            let mut body = NewChannelBody {
                id: channel.id.clone(),
                platform: channel.platform.as_str().to_string(),
                base_url: channel.server.base_url(),
                credential: "mock".into(),
                account: channel.account().as_object().cloned().unwrap_or_default(),
                push_order: how.order,
                poll_interval_ms: Some(how.poll_interval_ms),
                webhook_secret: secret.clone(),
                ..NewChannelBody::default()
            };
            if channel.platform == Platform::Etsy {
                let account = channel.account();
                let mut etsy = serde_json::Map::new();
                for key in ["shop_id", "user_id", "keystring"] {
                    etsy.insert(key.into(), account[key].clone());
                }
                etsy.insert("shared_secret_credential".into(), json!("etsy-shared"));
                body.account = etsy;
                body.app = Some(if how.shared_etsy_app {
                    ETSY_APP.into()
                } else {
                    format!("{code}-etsy")
                });
            }
            api.create_channel(code, &body).await?;
            if let Some(secret) = &secret {
                let hub = channel.state().webhooks();
                let url = format!("{}/webhooks/{code}/{}", api.base_url(), channel.id);
                // The subscription the demo and the tests make (Walmart's destination on basic
                // auth, matching the secret's form).
                let wanted = subscription(channel.platform, &url, secret);
                let auth = serde_json::from_value(wanted["auth"].clone()).ok();
                hub.subscribe_with_auth(&url, secret, auth)
                    .map_err(|error| RunError::Mock(error.to_string()))?;
            }
        }
        let items: Vec<CatalogItem> = client
            .skus
            .iter()
            .zip(&client.stock)
            .enumerate()
            .map(|(position, (sku, on_hand))| CatalogItem {
                sku: sku.clone(),
                on_hand: i64::from(*on_hand),
                listings: channels
                    .iter()
                    .map(|channel| (channel.id.clone(), channel.listing_refs[position].1.clone()))
                    .collect(),
                // The mocks list the plan's stock already, as an agency's catalog exported from
                // its marketplaces would say: the service adopts it and pushes only changes.
                listed: channels
                    .iter()
                    .map(|channel| (channel.id.clone(), i64::from(*on_hand)))
                    .collect(),
            })
            .collect();
        let imported = api.import_catalog(code, &CatalogBody::of(&items)).await?;
        if !imported.rejected.is_empty() {
            return Err(RunError::Api {
                call: format!("PUT /v1/clients/{code}/catalog"),
                status: 200,
                body: format!(
                    "{} rows rejected: {:?}",
                    imported.rejected.len(),
                    imported.rejected
                ),
            });
        }
    }
    Ok(())
}

/// Waits, at most `limit`, until no channel of any client has anything pending or in flight
/// (the start-up pushes done); returns how long it waited and whether it settled.
pub async fn settle(
    api: &ApiClient,
    clients: &[ClientPlan],
    limit: Duration,
) -> Result<(Duration, bool), RunError> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let mut busy = false;
        for client in clients {
            busy |= api.channels(&client.code).await?.iter().any(|status| {
                status
                    .live
                    .as_ref()
                    .is_none_or(|live| live.pending > 0 || live.in_flight > 0)
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
