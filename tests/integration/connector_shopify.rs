//! The Shopify connector against the Shopify mock: push and read back, compare-and-swap and
//! idempotency, a full 250-item batch, orders polled and paged as events, and the throttle, auth
//! and outage failures in the engine's terms.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use shelfsync::platforms::connector::{ConnectorConfig, ListingMap};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::mock::{MockOptions, MockServer};
use shelfsync::platforms::registry::connector;
use shelfsync::platforms::shopify::connector::{build_with, ShopifyOptions};
use shelfsync::platforms::Platform;
use shelfsync::vault::Secret;
use shelfsync_actors::channel::marketplace::{
    Marketplace, MarketplaceError, OrderEventKind, PushItem, PushOutcome,
};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::testing::{confirmed, item, item_showing, sku, stale};

use crate::connector_support::throttle_wait;
use crate::mock_support::{
    cancel_order, client, control, create_listings, info, listed, place_order, set_faults, start,
    stats, wait_past, writes_and_conflicts,
};

/// The mock's account ids (`/_mock/info`): the location gid among them.
async fn account(mock: &MockServer) -> Value {
    let info: Value = info(mock).await;
    info["account"].clone()
}

/// Creates `listings` on the mock and a config mapping each SKU to its inventory item.
async fn setup(mock: &MockServer, token: &str, listings: &[(&str, i64)]) -> ConnectorConfig {
    let created = create_listings(mock, listings).await;
    let map = ListingMap::default();
    for listing in &created {
        map.insert(
            Sku::parse(listing["sku"].as_str().unwrap()).unwrap(),
            listing["listing_ref"].as_str().unwrap().to_string(),
        );
    }
    ConnectorConfig::new(
        &mock.base_url(),
        Secret::new(token),
        account(mock).await,
        map,
    )
    .unwrap()
    .with_egress(EgressPolicy::LOOPBACK_MOCKS)
}

fn shopify(config: ConnectorConfig) -> Arc<dyn Marketplace> {
    connector(Platform::Shopify, config).unwrap()
}

#[tokio::test]
async fn pushes_read_back_and_a_missing_location_is_refused() {
    let mock = start(Platform::Shopify, "default");
    let config = setup(&mock, "mock-token", &[("ACME-MUG", 5), ("ACME-CAP", 2)]).await;
    let mut no_location = config.clone();
    no_location.account = json!({});
    assert_eq!(
        connector(Platform::Shopify, no_location)
            .unwrap_err()
            .kind(),
        "missing_account_field"
    );
    let shopify = shopify(config);
    let outcomes = shopify
        .push_quantities(vec![
            item_showing("ACME-MUG", 3, Some(5)),
            item("ACME-CAP", 7),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [confirmed("ACME-MUG", 3), confirmed("ACME-CAP", 7)]
    );
    let shown = listed(&mock).await;
    assert_eq!((shown["ACME-MUG"], shown["ACME-CAP"]), (3, 7));
    let read = shopify
        .read_quantities(vec![sku("ACME-MUG"), sku("ACME-CAP")])
        .await
        .unwrap();
    let read: Vec<(String, u32)> = read
        .into_iter()
        .map(|listed| (listed.sku.as_str().to_string(), listed.quantity))
        .collect();
    assert_eq!(
        read,
        [("ACME-MUG".to_string(), 3), ("ACME-CAP".to_string(), 7)]
    );
}

#[tokio::test]
async fn a_stale_previous_applies_nothing_and_the_rest_of_the_batch_goes_through() {
    let mock = start(Platform::Shopify, "default");
    let shopify = shopify(setup(&mock, "mock-token", &[("ACME-MUG", 5), ("ACME-CAP", 2)]).await);
    let outcomes = shopify
        .push_quantities(vec![item_showing("ACME-MUG", 9, Some(4))])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [stale("ACME-MUG", Some(5))],
        "the listing's quantity is read back"
    );
    assert_eq!(listed(&mock).await["ACME-MUG"], 5);
    assert_eq!(writes_and_conflicts(&mock).await, (Some(0), Some(1)));
    // Shopify refuses the whole call; the connector sends the fresh item again on its own.
    let outcomes = shopify
        .push_quantities(vec![
            item_showing("ACME-MUG", 9, Some(4)),
            item_showing("ACME-CAP", 1, Some(2)),
        ])
        .await
        .unwrap();
    assert!(outcomes.contains(&stale("ACME-MUG", Some(5))));
    assert!(outcomes.contains(&confirmed("ACME-CAP", 1)));
    let shown = listed(&mock).await;
    assert_eq!((shown["ACME-MUG"], shown["ACME-CAP"]), (5, 1));
}

#[tokio::test]
async fn a_retried_push_reuses_its_idempotency_key_and_applies_once() {
    let mock = start(Platform::Shopify, "default");
    let shopify = shopify(setup(&mock, "mock-token", &[("ACME-MUG", 5)]).await);
    let push = vec![item_showing("ACME-MUG", 11, Some(5))];
    let first = shopify.push_quantities(push.clone()).await.unwrap();
    // A sale moves the listing on; a retry of the same push (say after a timeout) must neither
    // apply again nor lose its compare-and-swap to the sale.
    place_order(&mock, "ACME-MUG", 2).await;
    let retry = shopify.push_quantities(push).await.unwrap();
    assert_eq!(first, retry);
    assert_eq!(listed(&mock).await["ACME-MUG"], 9);
    assert_eq!(writes_and_conflicts(&mock).await, (Some(1), Some(0)));
}

#[tokio::test]
async fn a_batch_of_250_is_one_call() {
    let mock = start(Platform::Shopify, "default");
    let skus: Vec<String> = (0..250).map(|n| format!("ACME-{n:03}")).collect();
    let listings: Vec<(&str, i64)> = skus.iter().map(|sku| (sku.as_str(), 1)).collect();
    let shopify = shopify(setup(&mock, "mock-token", &listings).await);
    let before = stats(&mock).await["requests"]["graphql"]
        .as_u64()
        .unwrap_or(0);
    let items: Vec<PushItem> = skus
        .iter()
        .enumerate()
        .map(|(n, sku)| item_showing(sku, n as u32 + 2, Some(1)))
        .collect();
    let outcomes = shopify.push_quantities(items).await.unwrap();
    assert_eq!(outcomes.len(), 250);
    assert!(outcomes
        .iter()
        .all(|outcome| matches!(outcome, PushOutcome::Confirmed { .. })));
    let counted = stats(&mock).await;
    assert_eq!(counted["requests"]["graphql"].as_u64(), Some(before + 1));
    assert_eq!(counted["quantity_writes"].as_u64(), Some(250));
    let shown = listed(&mock).await;
    assert_eq!((shown["ACME-000"], shown["ACME-249"]), (2, 251));
    let read = shopify
        .read_quantities(skus.iter().map(|s| sku(s)).collect())
        .await
        .unwrap();
    assert_eq!(read.len(), 250);
    assert_eq!(read[249].quantity, 251);
}

#[tokio::test]
async fn orders_become_events_page_and_show_their_cancellation() {
    let mock = start(Platform::Shopify, "default");
    let config = setup(&mock, "mock-token", &[("ACME-MUG", 20)]).await;
    let shopify = build_with(config, ShopifyOptions { orders_per_page: 2 }).unwrap();
    let mut ids = Vec::new();
    for quantity in [1, 2, 3] {
        ids.push(place_order(&mock, "ACME-MUG", quantity).await);
    }
    let first = shopify.fetch_orders(None).await.unwrap();
    assert!(first.more, "three orders, two a page");
    assert_eq!(first.events.len(), 2);
    let second = shopify
        .fetch_orders(Some(first.next_cursor.clone()))
        .await
        .unwrap();
    assert!(!second.more);
    let sales: Vec<(String, OrderEventKind, u32, String)> = first
        .events
        .iter()
        .chain(&second.events)
        .map(|e| {
            (
                e.external_order_id.clone(),
                e.kind,
                e.quantity,
                e.sku.as_str().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, OrderEventKind, u32, String)> = ids
        .iter()
        .zip([1, 2, 3])
        .map(|(id, quantity)| {
            (
                id.clone(),
                OrderEventKind::Sale,
                quantity,
                "ACME-MUG".into(),
            )
        })
        .collect();
    assert_eq!(sales, expected, "every order once, oldest first");

    // The cancellation must land on a later millisecond than the last update seen.
    let seen = second.next_cursor.clone();
    let seen_at = chrono::DateTime::parse_from_rfc3339(&seen).unwrap();
    wait_past(seen_at).await;
    cancel_order(&mock, &ids[1]).await;
    // The read from `seen` overlaps: orders placed in the same millisecond as the last one seen
    // come again first, so the cancellation may be on a later page (bounded: three orders).
    let mut after = shopify.fetch_orders(Some(seen)).await.unwrap();
    let mut events = after.events.clone();
    for _ in 0..3 {
        if !after.more {
            break;
        }
        after = shopify
            .fetch_orders(Some(after.next_cursor.clone()))
            .await
            .unwrap();
        events.extend(after.events.clone());
    }
    assert!(!after.more, "the feed ends within three pages");
    let of_cancelled: Vec<_> = events
        .iter()
        .filter(|event| event.external_order_id == ids[1])
        .collect();
    assert_eq!(
        of_cancelled.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [OrderEventKind::Sale, OrderEventKind::Cancel]
    );
    assert_eq!(
        *of_cancelled[0], first.events[1],
        "the same sale event, so the same idempotency key"
    );
    assert_eq!(of_cancelled[1].quantity, 2);
    assert!(after.next_cursor > second.next_cursor);
}

#[tokio::test]
async fn a_wrong_token_is_auth_a_throttle_carries_its_wait_and_an_outage_is_transient() {
    let mock = start(Platform::Shopify, "default");
    let config = setup(&mock, "mock-token", &[("ACME-MUG", 5)]).await;
    let mut wrong = config.clone();
    wrong.credential = Secret::new("wrong-token");
    let refused = shopify(wrong)
        .push_quantities(vec![item_showing("ACME-MUG", 1, Some(5))])
        .await
        .unwrap_err();
    // The whole call is refused: an outer error, not per item.
    assert_eq!(refused.kind(), "auth", "{refused:?}");
    assert!(!refused.to_string().contains("wrong-token"));
    assert_eq!(listed(&mock).await["ACME-MUG"], 5);

    let shopify = shopify(config);
    set_faults(&mock, json!({ "throttle_all_secs": 30 })).await;
    let throttled = shopify.fetch_orders(None).await.unwrap_err();
    assert_eq!(
        throttled,
        MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(1))
        },
        "a full bucket gives no positive wait: Shopify's 1 s"
    );
    control(&mock, "faults", json!({ "throttle_all_secs": 0 })).await;
    set_faults(&mock, json!({ "down": true })).await;
    let down = shopify
        .read_quantities(vec![sku("ACME-MUG")])
        .await
        .unwrap_err();
    assert_eq!(down.kind(), "transient");
}

/// Drains the 2000-point bucket of `mock` with raw 252-point queries (as the mock's own burst test
/// does), then asks for orders until the connector is refused: its wait.
async fn wait_after_a_burst(mock: &MockServer) -> Duration {
    let skus: Vec<String> = (0..250).map(|n| format!("ACME-{n:03}")).collect();
    let listings: Vec<(&str, i64)> = skus.iter().map(|sku| (sku.as_str(), 1)).collect();
    let shopify = shopify(setup(mock, "mock-token", &listings).await);
    let query = json!({ "query": "{ inventoryItems(first: 250) { nodes { sku } } }" });
    for _ in 0..8 {
        client()
            .post(format!(
                "{}/admin/api/2026-04/graphql.json",
                mock.base_url()
            ))
            .header("X-Shopify-Access-Token", "mock-token")
            .json(&query)
            .send()
            .await
            .unwrap();
    }
    let mut outcome = None;
    for _ in 0..20 {
        match shopify.fetch_orders(None).await {
            Ok(_) => continue,
            Err(error) => {
                outcome = Some(error);
                break;
            }
        }
    }
    throttle_wait(outcome, "a drained bucket is a throttle with a wait")
}

#[tokio::test]
async fn a_burst_past_the_cost_bucket_waits_for_the_missing_points_as_200_or_429() {
    use shelfsync::platforms::shopify::mock::{build_with as mock_with, ShopifyKnobs};
    // The orders query requests 797 points; the bucket restores 100 a second, so the wait is
    // (797 - what is left) / 100 s: more than Shopify's default 1 s after a drain.
    let default = start(Platform::Shopify, "default");
    let wait = wait_after_a_burst(&default).await;
    assert!(
        wait > Duration::from_secs(1) && wait <= Duration::from_secs(8),
        "from extensions.cost: {wait:?}"
    );
    let knobs = ShopifyKnobs {
        graphql_throttle_status: actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        ..ShopifyKnobs::default()
    };
    let options = MockOptions::default();
    let mock = MockServer::start_with(mock_with(&options, knobs).unwrap(), options).unwrap();
    let wait = wait_after_a_burst(&mock).await;
    assert!(
        wait > Duration::from_secs(1) && wait <= Duration::from_secs(8),
        "429: {wait:?}"
    );
}
