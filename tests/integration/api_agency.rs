//! The agency flow through HTTP against in-process mocks (issue 5, must-show 1 and 2): an admin
//! creates a manager; the manager creates a client, stores its credentials, connects Shopify, Etsy
//! and Amazon, imports a catalog (JSON and CSV); a sale on the Shopify mock shows up as the new
//! quantity on the Etsy and Amazon mocks, and stock and ledger explain it. Then webhooks: a
//! duplicated delivery changes nothing, a bad signature gets 401 and changes nothing.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::json;
use sha2::Sha256;
use shelfsync::api::catalog::CatalogItem;
use shelfsync::api::channels::{NewChannelBody, RunState};
use shelfsync::api::client::ApiClient;
use shelfsync::api::error::Code;
use shelfsync::api::journal::{JournalQuery, LedgerEntry};
use shelfsync::api::stock::StockView;
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::Platform;
use shelfsync_actors::inventory::ledger::MovementKind;
use shelfsync_actors::ratelimit::ServiceTier;

use crate::api_support::{
    account, create_client_in, import, item, journal_of, mock_channel, post_movement, put_secret,
    Api,
};
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
    let as_manager = api.client_as(&manager);
    create_client_in(&as_manager, "ACME", "Acme Mugs", ServiceTier::Premium).await;
    for (name, secret) in [
        ("shopify", "mock-token"),
        ("etsy", "mock-token"),
        ("etsy-shared", ETSY_SHARED_SECRET),
        ("amazon", "mock-token"),
    ] {
        put_secret(&as_manager, "ACME", name, secret).await;
    }
    let shopify = start(Platform::Shopify, "default");
    let etsy = start(Platform::Etsy, "default");
    let amazon = start(Platform::Amazon, "default");
    let etsy_info = info(&etsy).await["account"].clone();
    let channels = [
        NewChannelBody {
            account: account(info(&shopify).await["account"].clone()),
            webhook_secret: Some(WEBHOOK_SECRET.into()),
            ..mock_channel("shop", Platform::Shopify, &shopify.base_url(), "shopify")
        },
        NewChannelBody {
            account: account(json!({"shop_id": etsy_info["shop_id"],
                "user_id": etsy_info["user_id"], "keystring": etsy_info["keystring"],
                "shared_secret_credential": "etsy-shared"})),
            ..mock_channel("etsy", Platform::Etsy, &etsy.base_url(), "etsy")
        },
        NewChannelBody {
            account: account(info(&amazon).await["account"].clone()),
            ..mock_channel("amazon", Platform::Amazon, &amazon.base_url(), "amazon")
        },
    ];
    for channel in channels {
        // Raw reply: the whole of it, unknown fields too, must show no secret.
        let (status, reply, _) = api
            .call(
                Method::POST,
                "/v1/clients/ACME/channels",
                Some(&manager),
                Some(serde_json::to_string(&channel).unwrap()),
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
    let mug = item(
        "acme-mug",
        10,
        &[
            ("shop", &shop_refs[0]),
            ("etsy", &etsy_refs[0]),
            ("amazon", &amazon_refs[0]),
        ],
    );
    let imported = import(&as_manager, "ACME", &[mug]).await;
    assert_eq!(
        serde_json::to_value(&imported).unwrap(),
        json!({"imported": 1, "adopted": {}, "rejected": [], "unmanaged": []})
    );
    let csv = format!(
        "sku,on_hand,shop,etsy,amazon\nACME-CAP,4,{},{},{}\n",
        shop_refs[1], etsy_refs[1], amazon_refs[1]
    );
    let (status, imported) = api.import_csv(&manager, "ACME", &csv).await;
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

impl Agency {
    /// The typed client, as ACME's manager.
    pub fn manager(&self) -> ApiClient {
        self.api.client_as(&self.manager)
    }
}

pub async fn stock(agency: &Agency, sku: &str) -> StockView {
    agency.manager().sku_stock("ACME", sku).await.unwrap()
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
        (stock.on_hand, stock.reserved, stock.available),
        (10, 3, 7),
        "{stock:?}"
    );
    for channel in ["shop", "etsy", "amazon"] {
        assert_eq!(stock.channels[channel].target, 7, "{stock:?}");
    }
    let manager = agency.manager();
    let kinds: Vec<(MovementKind, String, i64)> = journal_of(&manager, "ACME", "ACME-MUG")
        .await
        .iter()
        .map(|LedgerEntry { entry, .. }| {
            let change = entry.change;
            (change.kind(), entry.source.to_string(), change.quantity())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (MovementKind::Count, "import".to_string(), 10),
            (MovementKind::Sale, "channel:shop".to_string(), 3)
        ],
        "the import set 10 on hand, the Shopify sale reserved 3, once (webhook and poll agree)"
    );
    let orders = manager
        .orders("ACME", &JournalQuery::default())
        .await
        .unwrap();
    let first = &orders.orders[0];
    assert_eq!(first.channel, "shop", "{orders:?}");
    assert_eq!(first.sku.as_str(), "ACME-MUG", "{orders:?}");
    let channels = agency.manager().channels("ACME").await.unwrap();
    let states: Vec<RunState> = channels.iter().map(|channel| channel.state).collect();
    assert_eq!(states, [RunState::Running; 3], "{channels:?}");

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
    let shown = |rows: &[(&str, i64)]| {
        rows.iter()
            .map(|(channel, quantity)| (channel.to_string(), *quantity))
            .collect()
    };
    let catalog = [
        CatalogItem {
            listed: shown(&[("etsy", 5), ("amazon", 5)]),
            ..item(
                "ACME-HAT",
                5,
                &[("etsy", &etsy_refs[0]), ("amazon", &amazon_refs[0])],
            )
        },
        CatalogItem {
            listed: shown(&[("etsy", 5), ("amazon", 5)]),
            ..item(
                "ACME-BAG",
                3,
                &[("etsy", &etsy_refs[1]), ("amazon", &amazon_refs[1])],
            )
        },
        CatalogItem {
            listed: shown(&[("shop", 3)]),
            ..item("ACME-PEN", 3, &[("etsy", "123")])
        },
        CatalogItem {
            listed: shown(&[("etsy", -1)]),
            ..item("ACME-INK", 3, &[("etsy", "124")])
        },
    ];
    let imported = import(&agency.manager(), "ACME", &catalog).await;
    assert_eq!(imported.imported, 2, "{imported:?}");
    assert_eq!(
        imported.adopted,
        [
            ("amazon".to_string(), Some(2)),
            ("etsy".to_string(), Some(2))
        ]
        .into()
    );
    let codes: Vec<(usize, Code)> = imported
        .rejected
        .iter()
        .map(|row| (row.line, row.code))
        .collect();
    assert_eq!(codes, [(3, Code::InvalidField), (4, Code::InvalidQuantity)]);
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
    assert_eq!(hat.channels.len(), 2, "{hat:?}");
    for channel in hat.channels.values() {
        assert_eq!(
            (channel.listed, channel.pending),
            (Some(5), false),
            "{hat:?}"
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
    let query = JournalQuery {
        limit: Some(1000),
        ..JournalQuery::default()
    };
    let ledger = agency.manager().ledger("ACME", &query).await.unwrap();
    ledger.next_after_seq.unwrap_or(0)
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
    assert_eq!(before.reserved, 1, "{before:?}");

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
    assert_eq!(stock(&agency, "ACME-CAP").await.reserved, 1);

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
    put_secret(&agency.manager(), "ACME", name, secret).await;
}

async fn receive(agency: &Agency, quantity: i64, key: &str) {
    let manager = agency.manager();
    post_movement(
        &manager,
        "ACME",
        "ACME-CAP",
        MovementKind::Receipt,
        quantity,
        key,
    )
    .await;
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
        let channels = agency.manager().channels("ACME").await.unwrap();
        channels[1]
            .live
            .as_ref()
            .and_then(|live| live.last_error.as_deref())
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
