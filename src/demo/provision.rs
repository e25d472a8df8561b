//! Provisioning through the API, as an agency would: mocks per client, clients, credentials, channels, listings, catalogs, webhooks; shoppers and restocks.

use std::path::Path;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::Rng;
use reqwest::Method;
use serde_json::{json, Value};

use super::data::{catalog, mix, poll_interval_ms, shopper_rate, DemoClient};
use super::http::{field, Http};
use super::observe::ClientBook;
use super::{DemoError, Setup, MOCK_TOKEN};
use crate::platforms::mock::{MockOptions, MockServer};
use crate::platforms::Platform;

/// Makes `dir` if it does not exist and refuses one that holds anything: the demo provisions a
/// service from scratch, and its mocks, listings and ports are new on every run.
pub(super) fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the data directory {}", dir.display()))?;
    anyhow::ensure!(
        entries.next().is_none(),
        "the data directory {} is not empty: the demo starts from scratch, give it a new or empty one",
        dir.display()
    );
    Ok(())
}

/// One client's mock marketplaces.
#[derive(Debug)]
pub(super) struct ClientMocks {
    pub(super) client: DemoClient,
    pub(super) mocks: Vec<MockServer>,
}

/// Starts every client's mocks, each on its own loopback port with the platform's documented
/// limits (plan `default`), so the throttles shown are the real ones.
pub(super) fn start_client_mocks(
    clients: &[DemoClient],
    seed: u64,
) -> Result<Vec<ClientMocks>, DemoError> {
    let mut started = Vec::new();
    for (index, client) in clients.iter().enumerate() {
        let mut mocks = Vec::new();
        for platform in client.platforms {
            let options = MockOptions {
                seed: mix(seed, index, *platform),
                workers: 1,
                ..MockOptions::default()
            };
            let mock = MockServer::start(*platform, options).map_err(|source| DemoError::Mock {
                client: client.code.to_string(),
                platform: *platform,
                source,
            })?;
            mocks.push(mock);
        }
        started.push(ClientMocks {
            client: *client,
            mocks,
        });
    }
    Ok(started)
}

/// Provisions one client through the API, as an agency would: the client, its credentials, a
/// channel per marketplace (Shopify's webhooks subscribed), its listings on each marketplace and
/// its catalog mapping each SKU to them.
pub(super) async fn provision(
    http: &Http,
    entry: &ClientMocks,
    rng: &mut StdRng,
) -> Result<ClientBook, DemoError> {
    let client = &entry.client;
    let code = client.code;
    http.api(
        Method::POST,
        "/v1/clients",
        Some(&json!({"code": code, "name": client.name, "tier": client.tier})),
    )
    .await?;
    let skus = catalog(client, rng);
    let mut items: Vec<Value> = skus
        .iter()
        .map(|sku| json!({"sku": sku.sku, "on_hand": sku.on_hand, "listings": {}}))
        .collect();
    for mock in &entry.mocks {
        let platform = mock.platform();
        let channel = platform.as_str();
        http.api(
            Method::PUT,
            &format!("/v1/clients/{code}/credentials/{channel}"),
            Some(&json!({ "secret": MOCK_TOKEN })),
        )
        .await?;
        let info = http.control(mock, Method::GET, "info", None).await?;
        let account = field(&info, "account", "the mock's info")?.clone();
        let mut body = json!({
            "id": channel,
            "platform": channel,
            "base_url": mock.base_url(),
            "credential": channel,
            "account": account,
            "poll_interval_ms": poll_interval_ms(platform),
        });
        let mut webhook_secret = None;
        match platform {
            Platform::Shopify => {
                let secret = format!("whsec_demo_{:032x}", rng.gen::<u128>());
                body["webhook_secret"] = json!(secret);
                webhook_secret = Some(secret);
            }
            Platform::Etsy => {
                // Etsy's x-api-key is `keystring:shared secret`; the shared secret is a credential
                // of its own, named in the account (no secret in a channel's settings).
                http.api(
                    Method::PUT,
                    &format!("/v1/clients/{code}/credentials/etsy-shared"),
                    Some(&json!({ "secret": format!("etsy-shared-{:024x}", rng.gen::<u128>()) })),
                )
                .await?;
                body["account"] = json!({
                    "shop_id": field(&account, "shop_id", "Etsy's account")?,
                    "user_id": field(&account, "user_id", "Etsy's account")?,
                    "keystring": field(&account, "keystring", "Etsy's account")?,
                    "shared_secret_credential": "etsy-shared",
                });
            }
            Platform::Amazon | Platform::Walmart | Platform::Ebay => {}
        }
        http.api(
            Method::POST,
            &format!("/v1/clients/{code}/channels"),
            Some(&body),
        )
        .await?;
        if let Some(secret) = webhook_secret {
            let url = format!("{}/webhooks/{code}/{channel}", http.api_url);
            http.control(
                mock,
                Method::POST,
                "webhooks",
                Some(&json!({"url": url, "secret": secret})),
            )
            .await?;
        }
        // The marketplace lists every SKU at 0 until the service sets it (a new connection).
        let rows: Vec<Value> = skus
            .iter()
            .map(|sku| json!({"sku": sku.sku, "quantity": 0}))
            .collect();
        let created = http
            .control(mock, Method::POST, "listings", Some(&Value::Array(rows)))
            .await?;
        let created = created.as_array().ok_or_else(|| DemoError::Reply {
            what: format!("{platform} listings of {code}"),
            reply: created.to_string(),
        })?;
        for (item, listing) in items.iter_mut().zip(created) {
            item["listings"][channel] = field(listing, "listing_ref", "a created listing")?.clone();
        }
    }
    let imported = http
        .api(
            Method::PUT,
            &format!("/v1/clients/{code}/catalog"),
            Some(&json!({ "items": items })),
        )
        .await?;
    if imported["imported"].as_u64() != Some(skus.len() as u64) {
        return Err(DemoError::Reply {
            what: format!("the catalog import of {code}"),
            reply: imported.to_string(),
        });
    }
    Ok(ClientBook::default())
}

/// Starts (`Some(seed)`) or stops (`None`) the shoppers of every mock.
pub(super) async fn set_shoppers(
    http: &Http,
    setup: &Setup,
    seed: Option<u64>,
) -> Result<(), DemoError> {
    for (index, entry) in setup.mocks.iter().enumerate() {
        for mock in &entry.mocks {
            let platform = mock.platform();
            let body = match seed {
                Some(seed) => json!({
                    "orders_per_sec": shopper_rate(platform),
                    "max_units": 2,
                    "seed": mix(seed, index, platform),
                    "cancel_rate": 0.04,
                }),
                None => json!({ "orders_per_sec": 0 }),
            };
            http.control(mock, Method::POST, "shoppers", Some(&body))
                .await?;
        }
    }
    Ok(())
}

/// The warehouse: receives stock, through the API, for SKUs that ran out (about half of them each
/// round, so that some stay out for a while as in a real warehouse).
pub(super) async fn restock(
    http: &Http,
    setup: &Setup,
    books: &mut [ClientBook],
    round: u64,
    rng: &mut StdRng,
) -> Result<(), DemoError> {
    for (entry, book) in setup.mocks.iter().zip(books.iter_mut()) {
        let code = entry.client.code;
        let stock = http
            .api(Method::GET, &format!("/v1/clients/{code}/stock"), None)
            .await?;
        for level in stock.as_array().cloned().unwrap_or_default() {
            let (Some(sku), Some(available)) = (level["sku"].as_str(), level["available"].as_i64())
            else {
                continue;
            };
            if available > 0 || !rng.gen_bool(0.5) {
                continue;
            }
            let quantity = rng.gen_range(12..=30) - available.min(0);
            http.api(
                Method::POST,
                &format!("/v1/clients/{code}/stock/{sku}/movements"),
                Some(&json!({
                    "kind": "receipt",
                    "quantity": quantity,
                    "reason": "demo warehouse: restock",
                    "idempotency_key": format!("demo-restock-{round}-{sku}"),
                })),
            )
            .await?;
            book.receipts += 1;
            book.received_units += quantity;
        }
    }
    Ok(())
}
