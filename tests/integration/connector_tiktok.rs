//! The TikTok Shop connector against the TikTok Shop mock: pushes grouped by product and read
//! back, the order feed and the detail read of one notified order giving the same events, the
//! envelope's non-zero codes (under HTTP 200 too) and throttles in the engine's terms.

use std::sync::Arc;

use serde_json::{json, Value};
use shelfsync::platforms::connector::{ConnectorConfig, ListingMap};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::registry::connector;
use shelfsync::platforms::tiktok::connector::build_with_page_size;
use shelfsync::platforms::tiktok::mock::APP_SECRET;
use shelfsync::platforms::Platform;
use shelfsync::vault::Secret;
use shelfsync_actors::channel::marketplace::{Marketplace, PushOutcome};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::testing::{confirmed, item, sku};

use crate::connector_support::{
    assert_one_sale, assert_read_again_with_cancel, first_read_error, push_one, throttle_wait,
};
use crate::mock_support::{
    cancel_order, create_listings, info, listed, place_order, set_faults, start, stats,
};
use crate::mock_tiktok::start_throttling;

/// The channel's settings for `mock`: its account ids, `secret` as the app secret, and a listing
/// for each of `rows` (created on the mock).
async fn config(
    mock: &MockServer,
    rows: &[(&str, i64)],
    token: &str,
    secret: &str,
) -> ConnectorConfig {
    let listings = ListingMap::default();
    for created in create_listings(mock, rows).await {
        let sku = Sku::parse(created["sku"].as_str().unwrap()).unwrap();
        listings.insert(sku, created["listing_ref"].as_str().unwrap().to_string());
    }
    let mut account = info(mock).await["account"].clone();
    account["app_secret"] = Value::from(secret);
    ConnectorConfig::new(&mock.base_url(), Secret::new(token), account, listings)
        .unwrap()
        .with_egress(EgressPolicy::LOOPBACK_MOCKS)
}

async fn tiktok(mock: &MockServer, rows: &[(&str, i64)]) -> Arc<dyn Marketplace> {
    connector(
        Platform::TikTok,
        config(mock, rows, "mock-token", APP_SECRET).await,
    )
    .unwrap()
}

const CATALOG: [(&str, i64); 3] = [
    ("ACME-MUG-RED", 5),
    ("ACME-MUG-BLUE", 5),
    ("ACME-CAP-RED", 5),
];

#[tokio::test]
async fn pushes_go_one_call_a_product_and_read_back() {
    let mock = start(Platform::TikTok, "default");
    let tiktok = tiktok(&mock, &CATALOG).await;
    let outcomes = tiktok
        .push_quantities(vec![
            item("ACME-MUG-RED", 3),
            item("ACME-CAP-RED", 0),
            item("ACME-MUG-BLUE", 9),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            confirmed("ACME-MUG-RED", 3),
            confirmed("ACME-CAP-RED", 0),
            confirmed("ACME-MUG-BLUE", 9)
        ]
    );
    assert_eq!(
        stats(&mock).await["requests"]["update_inventory"],
        2,
        "two products, two calls"
    );
    let shown = listed(&mock).await;
    assert_eq!(
        (
            shown["ACME-MUG-RED"],
            shown["ACME-MUG-BLUE"],
            shown["ACME-CAP-RED"]
        ),
        (3, 9, 0)
    );
    let skus = vec![
        sku("ACME-CAP-RED"),
        sku("ACME-MUG-RED"),
        sku("ACME-MUG-BLUE"),
    ];
    let read = tiktok.read_quantities(skus).await.unwrap();
    let read: Vec<(&str, u32)> = read.iter().map(|q| (q.sku.as_str(), q.quantity)).collect();
    assert_eq!(
        read,
        [
            ("ACME-CAP-RED", 0),
            ("ACME-MUG-RED", 3),
            ("ACME-MUG-BLUE", 9)
        ]
    );
    assert_eq!(
        stats(&mock).await["requests"]["search_inventory"],
        1,
        "one read for all"
    );
}

#[tokio::test]
async fn the_feed_and_the_detail_of_a_notified_order_give_the_same_events() {
    let mock = start(Platform::TikTok, "default");
    let tiktok = tiktok(&mock, &CATALOG).await;
    let order_id = place_order(&mock, "ACME-MUG-BLUE", 2).await;
    let page = tiktok.fetch_orders(None).await.unwrap();
    assert_one_sale(&page, &order_id, "ACME-MUG-BLUE", 2);
    assert!(!page.more);
    assert_eq!(
        tiktok.fetch_order(order_id.clone()).await.unwrap(),
        page.events
    );

    cancel_order(&mock, &order_id).await;
    let next = tiktok
        .fetch_orders(Some(page.next_cursor.clone()))
        .await
        .unwrap();
    assert_read_again_with_cancel(&next.events, &page.events[0]);
    assert_eq!(tiktok.fetch_order(order_id).await.unwrap(), next.events);

    let unknown = tiktok.fetch_order("42".into()).await.unwrap_err();
    assert_eq!(
        unknown.kind(),
        "not_found",
        "a non-zero code under HTTP 200 is an error"
    );
}

#[tokio::test]
async fn a_feed_of_small_pages_reads_every_order_once_in_order() {
    let mock = start(Platform::TikTok, "default");
    let config = config(&mock, &CATALOG, "mock-token", APP_SECRET).await;
    let tiktok = build_with_page_size(config, 2).unwrap();
    let mut placed = Vec::new();
    for _ in 0..5 {
        placed.push(place_order(&mock, "ACME-CAP-RED", 1).await);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = tiktok.fetch_orders(cursor.take()).await.unwrap();
        seen.extend(
            page.events
                .iter()
                .map(|event| event.external_order_id.clone()),
        );
        cursor = Some(page.next_cursor);
        if !page.more {
            break;
        }
    }
    assert_eq!(seen, placed);
}

#[tokio::test]
async fn refusals_in_the_envelope_are_errors_never_successes() {
    let mock = start(Platform::TikTok, "default");
    let good = config(&mock, &CATALOG, "mock-token", APP_SECRET).await;
    let mut wrong_token = good.clone();
    wrong_token.credential = Secret::new("wrong");
    let mut wrong_secret = good.clone();
    wrong_secret.account["app_secret"] = Value::from("wrong-secret");
    for config in [wrong_token, wrong_secret] {
        let market = connector(Platform::TikTok, config).unwrap();
        let refused = push_one(&market, "ACME-MUG-RED", 1).await.unwrap();
        assert!(
            matches!(&refused[0], PushOutcome::Failed { error, .. } if error.kind() == "auth"),
            "{refused:?}"
        );
    }
    // A SKU id the product does not have: the mock answers code 36009004 under HTTP 200.
    let mug = good.listings.get(&sku("ACME-MUG-RED")).unwrap();
    let listings = ListingMap::default();
    listings.insert(
        sku("ACME-MUG-RED"),
        format!("{}:17309", mug.split_once(':').unwrap().0),
    );
    listings.insert(sku("ACME-CAP-RED"), "not-a-ref".into());
    let market = connector(Platform::TikTok, ConnectorConfig { listings, ..good }).unwrap();
    let outcomes = market
        .push_quantities(vec![item("ACME-MUG-RED", 1), item("ACME-CAP-RED", 1)])
        .await
        .unwrap();
    let kinds: Vec<&str> = outcomes
        .iter()
        .map(|outcome| match outcome {
            PushOutcome::Failed { error, .. } => error.kind(),
            other => panic!("a refusal is never a success: {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["not_found", "invalid"]);
    assert_eq!(listed(&mock).await["ACME-MUG-RED"], 5);
}

#[tokio::test]
async fn a_throttle_carries_the_knobs_wait_and_an_outage_is_transient() {
    let mock = start_throttling(0.5, 2, Some(3));
    let tiktok = tiktok(&mock, &CATALOG).await;
    let wait = throttle_wait(
        first_read_error(&tiktok, "ACME-MUG-RED", 10).await,
        "a burst past the bucket is a throttle with the knob's wait",
    );
    assert_eq!(wait.as_secs(), 3);
    set_faults(&mock, json!({ "down": true })).await;
    assert_eq!(
        tiktok.fetch_orders(None).await.unwrap_err().kind(),
        "transient"
    );
}
