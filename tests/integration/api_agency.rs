//! The agency flow through HTTP against in-process mocks (issue 5, must-show 1 and 2): an admin
//! creates a manager; the manager creates a client, stores its credentials, connects Shopify, Etsy
//! and Amazon, imports a catalog (JSON and CSV); a sale on the Shopify mock shows up as the new
//! quantity on the Etsy and Amazon mocks, and stock and ledger explain it. Then webhooks: a
//! duplicated delivery changes nothing, a bad signature gets 401 and changes nothing.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::Platform;

use crate::api_support::Api;
use crate::mock_support::{control, create_listings, eventually, info, listed, start, stats};

pub const WEBHOOK_SECRET: &str = "whsec-acme-0123456789";
pub const ETSY_SHARED_SECRET: &str = "etsy-shared-secret-abcdef";

/// Listing refs of `skus` on a mock, created with `quantity` each.
async fn listings(mock: &MockServer, skus: &[&str], quantity: i64) -> Vec<String> {
    let rows: Vec<(&str, i64)> = skus.iter().map(|sku| (*sku, quantity)).collect();
    create_listings(mock, &rows)
        .await
        .iter()
        .map(|listing| listing["listing_ref"].as_str().unwrap().to_string())
        .collect()
}

/// The mocks of one client and its connected API.
pub struct Agency {
    /// The API and engine.
    pub api: Api,
    /// ACME's manager token.
    pub manager: String,
    /// ACME's Shopify mock.
    pub shopify: MockServer,
    /// ACME's Etsy mock.
    pub etsy: MockServer,
    /// ACME's Amazon mock.
    pub amazon: MockServer,
}

pub fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Sets up the agency: manager, client ACME, credentials, three channels, a catalog of two SKUs
/// (one by JSON, one by CSV) with every listing in step.
pub async fn agency() -> Agency {
    let api = Api::start().await;
    let manager = api.client_creating_manager().await;
    let (status, created, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(&manager),
            Some(json!({"code": "ACME", "name": "Acme Mugs", "tier": "premium"}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    for (name, secret) in [
        ("shopify", "mock-token"),
        ("etsy", "mock-token"),
        ("etsy-shared", ETSY_SHARED_SECRET),
        ("amazon", "mock-token"),
    ] {
        let (status, reply, _) = api
            .call(
                Method::PUT,
                &format!("/v1/clients/ACME/credentials/{name}"),
                Some(&manager),
                Some(json!({ "secret": secret }).to_string()),
            )
            .await;
        assert_eq!(status, 200, "{reply}");
    }
    let shopify = start(Platform::Shopify, "default");
    let etsy = start(Platform::Etsy, "default");
    let amazon = start(Platform::Amazon, "default");
    let shop_account = info(&shopify).await["account"].clone();
    let etsy_info = info(&etsy).await["account"].clone();
    let amazon_account = info(&amazon).await["account"].clone();
    let channels = [
        json!({"id": "shop", "platform": "shopify", "base_url": shopify.base_url(),
               "credential": "shopify", "account": shop_account,
               "webhook_secret": WEBHOOK_SECRET, "poll_interval_ms": 200}),
        json!({"id": "etsy", "platform": "etsy", "base_url": etsy.base_url(),
               "credential": "etsy",
               "account": {"shop_id": etsy_info["shop_id"], "user_id": etsy_info["user_id"],
                           "keystring": etsy_info["keystring"],
                           "shared_secret_credential": "etsy-shared"},
               "poll_interval_ms": 200}),
        json!({"id": "amazon", "platform": "amazon", "base_url": amazon.base_url(),
               "credential": "amazon", "account": amazon_account, "poll_interval_ms": 200}),
    ];
    for channel in channels {
        let (status, reply, _) = api
            .call(
                Method::POST,
                "/v1/clients/ACME/channels",
                Some(&manager),
                Some(channel.to_string()),
            )
            .await;
        assert_eq!(status, 201, "{reply}");
        assert!(
            !reply.to_string().contains(WEBHOOK_SECRET),
            "the reply never shows a secret"
        );
    }
    // The marketplaces list other quantities at first; the service must set them.
    let shop_refs = listings(&shopify, &["ACME-MUG", "ACME-CAP"], 1).await;
    let etsy_refs = listings(&etsy, &["ACME-MUG", "ACME-CAP"], 1).await;
    let amazon_refs = listings(&amazon, &["ACME-MUG", "ACME-CAP"], 1).await;
    let catalog = json!({"items": [{"sku": "acme-mug", "on_hand": 10, "listings": {
        "shop": shop_refs[0], "etsy": etsy_refs[0], "amazon": amazon_refs[0]}}]});
    let (status, imported, _) = api
        .call(
            Method::PUT,
            "/v1/clients/ACME/catalog",
            Some(&manager),
            Some(catalog.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(
        imported,
        json!({"imported": 1, "adopted": {}, "rejected": [], "unmanaged": []})
    );
    let csv = format!(
        "sku,on_hand,shop,etsy,amazon\nACME-CAP,4,{},{},{}\n",
        shop_refs[1], etsy_refs[1], amazon_refs[1]
    );
    let (status, imported) = api
        .send_raw(
            Method::PUT,
            "/v1/clients/ACME/catalog",
            Some(&manager),
            "text/csv",
            csv.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["imported"], 1, "{imported}");
    let agency = Agency {
        api,
        manager,
        shopify,
        etsy,
        amazon,
    };
    for mock in [&agency.shopify, &agency.etsy, &agency.amazon] {
        let in_step = eventually(Duration::from_secs(20), || async {
            let listed = listed(mock).await;
            listed.get("ACME-MUG") == Some(&10) && listed.get("ACME-CAP") == Some(&4)
        })
        .await;
        assert!(in_step, "{}: {:?}", mock.base_url(), listed(mock).await);
    }
    agency
}

pub async fn stock(agency: &Agency, sku: &str) -> Value {
    let (status, stock, _) = agency
        .api
        .call(
            Method::GET,
            &format!("/v1/clients/ACME/stock/{sku}"),
            Some(&agency.manager),
            None,
        )
        .await;
    assert_eq!(status, 200, "{stock}");
    stock
}

#[tokio::test]
async fn a_sale_on_shopify_reaches_etsy_and_amazon_and_the_ledger_explains_it() {
    let agency = agency().await;
    // The Shopify mock delivers its order webhooks to the service, signed with the app's secret.
    let (status, reply) = control(
        &agency.shopify,
        "webhooks",
        json!({"url": format!("{}/webhooks/ACME/shop", agency.api.base_url()),
               "secret": WEBHOOK_SECRET}),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let (status, order) = control(
        &agency.shopify,
        "orders",
        json!({"sku": "ACME-MUG", "quantity": 3}),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    for mock in [&agency.etsy, &agency.amazon] {
        let dropped = eventually(Duration::from_secs(20), || async {
            listed(mock).await.get("ACME-MUG") == Some(&7)
        })
        .await;
        assert!(dropped, "{}: {:?}", mock.base_url(), listed(mock).await);
    }
    let stock = stock(&agency, "ACME-MUG").await;
    assert_eq!(
        (&stock["on_hand"], &stock["reserved"], &stock["available"]),
        (&json!(10), &json!(3), &json!(7)),
        "{stock}"
    );
    for channel in ["shop", "etsy", "amazon"] {
        assert_eq!(stock["channels"][channel]["target"], 7, "{stock}");
    }
    let (status, ledger, _) = agency
        .api
        .call(
            Method::GET,
            "/v1/clients/ACME/ledger?sku=ACME-MUG",
            Some(&agency.manager),
            None,
        )
        .await;
    assert_eq!(status, 200, "{ledger}");
    let entries = ledger["entries"].as_array().unwrap();
    let kinds: Vec<(&str, &str, i64)> = entries
        .iter()
        .map(|entry| {
            (
                entry["kind"].as_str().unwrap(),
                entry["source"].as_str().unwrap(),
                entry["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("count", "import", 10), ("sale", "channel:shop", 3)],
        "the import set 10 on hand, the Shopify sale reserved 3, once (webhook and poll agree)"
    );
    let (status, orders, _) = agency
        .api
        .call(
            Method::GET,
            "/v1/clients/ACME/orders",
            Some(&agency.manager),
            None,
        )
        .await;
    assert_eq!(status, 200, "{orders}");
    assert_eq!(orders["orders"][0]["channel"], "shop", "{orders}");
    assert_eq!(orders["orders"][0]["sku"], "ACME-MUG", "{orders}");
    let (status, channels, _) = agency
        .api
        .call(
            Method::GET,
            "/v1/clients/ACME/channels",
            Some(&agency.manager),
            None,
        )
        .await;
    assert_eq!(status, 200, "{channels}");
    let states: Vec<&str> = channels
        .as_array()
        .unwrap()
        .iter()
        .map(|channel| channel["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["running"; 3], "{channels}");

    // Must-show 4: no secret in plaintext anywhere under the data dir (every file, every byte).
    let secrets = [
        WEBHOOK_SECRET,
        ETSY_SHARED_SECRET,
        "mock-token",
        agency.manager.as_str(),
        crate::api_support::ADMIN,
    ];
    let files = crate::api_support::files_under(agency.api.dir.path());
    assert!(
        files.iter().any(|file| file.ends_with("master.key")) && files.len() >= 3,
        "the data dir holds the database and the key file: {files:?}"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret:?} is in {}",
                file.display()
            );
        }
    }
}

/// A Shopify `orders/create` delivery for one line.
/// Listing writes the mock has applied.
async fn quantity_writes(mock: &MockServer) -> u64 {
    stats(mock).await["quantity_writes"].as_u64().unwrap()
}

#[actix_web::test]
async fn a_catalog_exported_from_the_marketplaces_pushes_only_the_listings_that_differ() {
    let agency = agency().await;
    let etsy_refs = listings(&agency.etsy, &["ACME-HAT", "ACME-BAG"], 5).await;
    let amazon_refs = listings(&agency.amazon, &["ACME-HAT", "ACME-BAG"], 5).await;
    let before = (
        quantity_writes(&agency.etsy).await,
        quantity_writes(&agency.amazon).await,
    );
    let catalog = json!({"items": [
        {"sku": "ACME-HAT", "on_hand": 5,
         "listings": {"etsy": etsy_refs[0], "amazon": amazon_refs[0]},
         "listed": {"etsy": 5, "amazon": 5}},
        {"sku": "ACME-BAG", "on_hand": 3,
         "listings": {"etsy": etsy_refs[1], "amazon": amazon_refs[1]},
         "listed": {"etsy": 5, "amazon": 5}},
        {"sku": "ACME-PEN", "on_hand": 3, "listings": {"etsy": "123"}, "listed": {"shop": 3}},
        {"sku": "ACME-INK", "on_hand": 3, "listings": {"etsy": "124"}, "listed": {"etsy": -1}},
    ]});
    let (status, imported, _) = agency
        .api
        .call(
            Method::PUT,
            "/v1/clients/ACME/catalog",
            Some(&agency.manager),
            Some(catalog.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["imported"], 2, "{imported}");
    assert_eq!(imported["adopted"], json!({"amazon": 2, "etsy": 2}));
    let codes: Vec<(u64, &str)> = imported["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["line"].as_u64().unwrap(), row["code"].as_str().unwrap()))
        .collect();
    assert_eq!(codes, [(3, "invalid_field"), (4, "invalid_quantity")]);
    for mock in [&agency.etsy, &agency.amazon] {
        let bag_set = eventually(Duration::from_secs(20), || async {
            listed(mock).await.get("ACME-BAG") == Some(&3)
        })
        .await;
        assert!(bag_set, "{}: {:?}", mock.base_url(), listed(mock).await);
    }
    // Long enough for a push of HAT to have followed BAG's, had one been queued.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = (
        quantity_writes(&agency.etsy).await,
        quantity_writes(&agency.amazon).await,
    );
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 1),
        "one write per marketplace: BAG's; HAT already showed its stock"
    );
    let hat = stock(&agency, "ACME-HAT").await;
    let channels = hat["channels"].as_object().unwrap();
    assert_eq!(channels.len(), 2, "{hat}");
    for channel in channels.values() {
        assert_eq!(
            (channel["listed"].as_u64(), channel["pending"].as_bool()),
            (Some(5), Some(false)),
            "{hat}"
        );
    }
}

pub fn order_body(order_id: u64, sku: &str, quantity: u32) -> Vec<u8> {
    json!({
        "id": order_id,
        "updated_at": "2026-11-22T10:00:00Z",
        "cancelled_at": null,
        "line_items": [{"sku": sku, "quantity": quantity}],
    })
    .to_string()
    .into_bytes()
}

async fn head_seq(agency: &Agency) -> u64 {
    let (_, ledger, _) = agency
        .api
        .call(
            Method::GET,
            "/v1/clients/ACME/ledger?limit=1000",
            Some(&agency.manager),
            None,
        )
        .await;
    ledger["next_after_seq"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_duplicated_webhook_changes_nothing_and_a_bad_signature_is_refused() {
    let agency = agency().await;
    let body = order_body(990_001, "ACME-CAP", 1);
    let deliver = |body: Vec<u8>, signature: String| {
        let api = &agency.api;
        async move {
            api.send_raw(
                Method::POST,
                "/webhooks/ACME/shop",
                None,
                "application/json",
                body,
                &[
                    ("x-shopify-topic", "orders/create".to_string()),
                    ("x-shopify-hmac-sha256", signature),
                ],
            )
            .await
        }
    };
    let (status, first) = deliver(body.clone(), sign(&body, WEBHOOK_SECRET)).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (first["applied"].as_u64(), first["duplicates"].as_u64()),
        (Some(1), Some(0))
    );
    let after_first = head_seq(&agency).await;
    let before = stock(&agency, "ACME-CAP").await;
    assert_eq!(before["reserved"], 1, "{before}");

    let (status, again) = deliver(body.clone(), sign(&body, WEBHOOK_SECRET)).await;
    assert_eq!(status, 200, "a redelivery is acknowledged: {again}");
    assert_eq!(
        (again["applied"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(head_seq(&agency).await, after_first, "no journal entry");

    let other = order_body(990_002, "ACME-CAP", 2);
    for signature in [
        sign(&other, "not-the-secret"),
        sign(&body, WEBHOOK_SECRET),
        String::new(),
    ] {
        let (status, refused) = deliver(other.clone(), signature).await;
        assert_eq!(status, 401, "{refused}");
        assert_eq!(refused["code"], "bad_signature");
    }
    assert_eq!(head_seq(&agency).await, after_first, "no journal entry");
    assert_eq!(stock(&agency, "ACME-CAP").await["reserved"], 1);

    let (status, refused) = agency
        .api
        .send_raw(
            Method::POST,
            "/webhooks/ACME/etsy",
            None,
            "application/json",
            other.clone(),
            &[("x-shopify-hmac-sha256", sign(&other, WEBHOOK_SECRET))],
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (401, Some("bad_signature")),
        "a channel without webhooks answers like a bad signature"
    );
}

async fn put_credential(agency: &Agency, name: &str, secret: &str) {
    let (status, reply, _) = agency
        .api
        .call(
            Method::PUT,
            &format!("/v1/clients/ACME/credentials/{name}"),
            Some(&agency.manager),
            Some(json!({ "secret": secret }).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
}

async fn receive(agency: &Agency, quantity: i64, key: &str) {
    let (status, reply, _) = agency
        .api
        .call(
            Method::POST,
            "/v1/clients/ACME/stock/ACME-CAP/movements",
            Some(&agency.manager),
            Some(
                json!({"kind": "receipt", "quantity": quantity, "idempotency_key": key})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
}

#[tokio::test]
async fn a_rotated_credential_is_used_at_once() {
    let agency = agency().await;
    // The Etsy mock accepts only its token: a wrong one stalls that channel alone.
    put_credential(&agency, "etsy", "revoked-by-etsy").await;
    receive(&agency, 2, "rotation-1").await;
    let amazon_moved = eventually(Duration::from_secs(20), || async {
        listed(&agency.amazon).await.get("ACME-CAP") == Some(&6)
    })
    .await;
    assert!(amazon_moved, "{:?}", listed(&agency.amazon).await);
    let refused = eventually(Duration::from_secs(20), || async {
        let (_, channels, _) = agency
            .api
            .call(
                Method::GET,
                "/v1/clients/ACME/channels",
                Some(&agency.manager),
                None,
            )
            .await;
        channels[1]["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("auth") || error.contains("401"))
    })
    .await;
    assert!(refused, "the Etsy channel reports the refused credential");
    assert_eq!(listed(&agency.etsy).await.get("ACME-CAP"), Some(&4));

    put_credential(&agency, "etsy", "mock-token").await;
    let etsy_moved = eventually(Duration::from_secs(30), || async {
        listed(&agency.etsy).await.get("ACME-CAP") == Some(&6)
    })
    .await;
    assert!(etsy_moved, "{:?}", listed(&agency.etsy).await);
}
