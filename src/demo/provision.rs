//! Provisioning through the API, as an agency would: mocks per client, clients, credentials, channels, listings, catalogs, webhooks; shoppers and restocks.

use std::path::Path;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::Rng;
use reqwest::Method;
use serde_json::{json, Value};

use shelfsync_actors::inventory::ledger::MovementKind;

use super::data::{catalog, mix, poll_interval_ms, shopper_rate, DemoClient};
use super::http::{field, Http};
use super::observe::ClientBook;
use super::{DemoError, Setup, MOCK_TOKEN};
use crate::api::catalog::{CatalogBody, CatalogItem};
use crate::api::channels::NewChannelBody;
use crate::api::clients::{NewClient, PutCredential};
use crate::api::stock::NewMovement;
use crate::platforms::mock::webhooks::{sample_secret, subscription};
use crate::platforms::mock::{MockOptions, MockServer};
use crate::platforms::tiktok::mock as tiktok_mock;
use crate::platforms::Platform;
use crate::replenishment::ReorderSettingsBody;

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
    http.api
        .create_client(&NewClient {
            code: code.to_string(),
            name: client.name.to_string(),
            tier: client.tier,
        })
        .await?;
    let skus = catalog(client, rng);
    let mut items: Vec<CatalogItem> = skus
        .iter()
        .map(|sku| CatalogItem {
            sku: sku.sku.clone(),
            on_hand: sku.on_hand,
            ..CatalogItem::default()
        })
        .collect();
    let mut shopify_secret = None;
    for mock in &entry.mocks {
        let platform = mock.platform();
        let channel = platform.as_str();
        http.api
            .put_credential(code, channel, &secret(MOCK_TOKEN.to_string()))
            .await?;
        let info = http.control(mock, Method::GET, "info", None).await?;
        let account = field(&info, "account", "the mock's info")?.clone();
        let mut body = NewChannelBody {
            id: channel.to_string(),
            platform: channel.to_string(),
            base_url: mock.base_url(),
            credential: channel.to_string(),
            account: account.as_object().cloned().unwrap_or_default(),
            poll_interval_ms: Some(poll_interval_ms(platform)),
            ..NewChannelBody::default()
        };
        // Every marketplace notifies its orders; the poll is the backstop.
        body.webhook_secret = Some(sample_secret(platform, rng.gen::<u128>()));
        match platform {
            Platform::Etsy => {
                // Etsy's x-api-key is `keystring:shared secret`; the shared secret is a credential
                // of its own, named in the account (no secret in a channel's settings).
                let shared = format!("etsy-shared-{:024x}", rng.gen::<u128>());
                http.api
                    .put_credential(code, "etsy-shared", &secret(shared))
                    .await?;
                let mut etsy = serde_json::Map::new();
                for key in ["shop_id", "user_id", "keystring"] {
                    etsy.insert(key.into(), field(&account, key, "Etsy's account")?.clone());
                }
                etsy.insert("shared_secret_credential".into(), json!("etsy-shared"));
                body.account = etsy;
            }
            Platform::TikTok => {
                // Every TikTok call is signed with the app secret (§6.4): a credential of its own,
                // named in the account like Etsy's shared secret. The mock's app is fixed.
                http.api
                    .put_credential(
                        code,
                        "tiktok-app-secret",
                        &secret(tiktok_mock::APP_SECRET.into()),
                    )
                    .await?;
                body.account
                    .insert("app_secret_credential".into(), json!("tiktok-app-secret"));
                // TikTok Shop signs its notifications with the same app secret (§6.2).
                body.webhook_secret = Some(tiktok_mock::APP_SECRET.into());
            }
            Platform::Shopify | Platform::Amazon | Platform::Walmart | Platform::Ebay => {}
        }
        if platform == Platform::Shopify {
            shopify_secret = body.webhook_secret.clone();
        }
        http.api.create_channel(code, &body).await?;
        if let Some(secret) = &body.webhook_secret {
            let url = format!("{}/webhooks/{code}/{channel}", http.api.base_url());
            http.control(
                mock,
                Method::POST,
                "webhooks",
                Some(&subscription(platform, &url, secret)),
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
            let listing_ref = field(listing, "listing_ref", "a created listing")?;
            let listing_ref = listing_ref.as_str().ok_or_else(|| DemoError::Reply {
                what: format!("a created {platform} listing of {code}"),
                reply: listing.to_string(),
            })?;
            item.listings
                .insert(channel.to_string(), listing_ref.to_string());
        }
    }
    let imported = http
        .api
        .import_catalog(code, &CatalogBody::of(&items))
        .await?;
    if imported.imported != skus.len() {
        return Err(DemoError::Reply {
            what: format!("the catalog import of {code}"),
            reply: format!("{imported:?}"),
        });
    }
    // Replenishment: every SKU is reordered from a supplier two weeks away (plus three days of
    // margin); the first, the client's best seller, also has a reorder point above its stock, so
    // its reorder alert shows from the start.
    for (index, sku) in skus.iter().enumerate() {
        let settings = ReorderSettingsBody {
            reorder_point: (index == 0).then(|| u32::try_from(sku.on_hand + 5).unwrap_or(u32::MAX)),
            lead_time_days: Some(14),
            safety_days: Some(3),
        };
        http.api
            .put_reorder_settings(code, &sku.sku, &settings)
            .await?;
    }
    // A merchant's hand-made Shopify order with a custom line item (no SKU): the service cannot
    // apply it, so it is an exception a person works (`GET /v1/exceptions`).
    if let Some(secret) = &shopify_secret {
        let order = json!({
            "id": 990_000_001u64,
            "updated_at": "2026-12-01T09:00:00Z",
            "cancelled_at": null,
            "line_items": [{"id": 1, "title": "Gift wrapping (custom item)", "sku": null, "quantity": 1}]
        });
        let url = format!("{}/webhooks/{code}/shopify", http.api.base_url());
        let status = http.shopify_notification(&url, secret, &order).await?;
        if status != 200 {
            return Err(DemoError::Status {
                what: format!("the hand-made Shopify order of {code}"),
                status,
                body: String::new(),
            });
        }
    }
    Ok(ClientBook::default())
}

/// A credential of `secret`, bound to the first channel that uses it.
fn secret(secret: String) -> PutCredential {
    PutCredential {
        secret,
        ..PutCredential::default()
    }
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
        for level in http.api.stock(code).await? {
            let available = level.available;
            if available > 0 || !rng.gen_bool(0.5) {
                continue;
            }
            let sku = level.sku.as_str();
            let quantity = rng.gen_range(12..=30) - available.min(0);
            let mut receipt = NewMovement::new(
                MovementKind::Receipt,
                quantity,
                &format!("demo-restock-{round}-{sku}"),
            );
            receipt.reason = Some("demo warehouse: restock".into());
            http.api.post_movement(code, sku, &receipt).await?;
            book.receipts += 1;
            book.received_units += quantity;
        }
    }
    Ok(())
}
