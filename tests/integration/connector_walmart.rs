//! The Walmart connector against the Walmart mock: push and read back, orders as events, one
//! notified purchase order read as the feed gives it, the throttle and auth failures in the
//! engine's terms.

use serde_json::json;
use shelfsync::platforms::connector::{ConnectorConfig, ListingMap};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::registry::connector;
use shelfsync::platforms::Platform;
use shelfsync::vault::Secret;
use shelfsync_actors::channel::marketplace::{Marketplace, OrderEventKind, PushOutcome};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::testing::confirmed;

use crate::connector_support::{
    assert_read_again_with_cancel, first_read_error, of_order, push_one, throttle_wait,
};
use crate::mock_support::{cancel_order, create_listings, listed, place_order, set_faults, start};

fn walmart(mock: &MockServer, token: &str) -> std::sync::Arc<dyn Marketplace> {
    let listings = ListingMap::default();
    listings.insert(Sku::parse("ACME-MUG").unwrap(), "ACME-MUG".into());
    let config = ConnectorConfig::new(&mock.base_url(), Secret::new(token), json!({}), listings)
        .unwrap()
        .with_egress(EgressPolicy::LOOPBACK_MOCKS);
    connector(Platform::Walmart, config).unwrap()
}

#[tokio::test]
async fn pushes_read_back_and_orders_become_events() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("ACME-MUG", 5)]).await;
    let walmart = walmart(&mock, "mock-token");
    let outcomes = push_one(&walmart, "ACME-MUG", 3).await.unwrap();
    assert_eq!(outcomes, [confirmed("ACME-MUG", 3)]);
    assert_eq!(listed(&mock).await["ACME-MUG"], 3);
    let read = walmart
        .read_quantities(vec![Sku::parse("ACME-MUG").unwrap()])
        .await
        .unwrap();
    assert_eq!(read[0].quantity, 3);

    let order_id = place_order(&mock, "ACME-MUG", 2).await;
    let page = walmart.fetch_orders(None).await.unwrap();
    assert_eq!(page.events.len(), 1);
    let sale = &page.events[0];
    assert_eq!(
        (sale.external_order_id.as_str(), sale.kind, sale.quantity),
        (order_id.as_str(), OrderEventKind::Sale, 2)
    );
    cancel_order(&mock, &order_id).await;
    let next = walmart
        .fetch_orders(Some(page.next_cursor.clone()))
        .await
        .unwrap();
    assert_read_again_with_cancel(&next.events, &page.events[0]);
}

#[tokio::test]
async fn a_wrong_token_is_a_permanent_auth_failure_and_a_burst_a_throttle() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("ACME-MUG", 5)]).await;
    let refused = push_one(&walmart(&mock, "wrong"), "ACME-MUG", 1)
        .await
        .unwrap();
    assert!(
        matches!(&refused[0], PushOutcome::Failed { error, .. } if error.kind() == "auth"),
        "{refused:?}"
    );
    let walmart = walmart(&mock, "mock-token");
    let throttled = first_read_error(&walmart, "ACME-MUG", 260).await;
    let wait = throttle_wait(
        throttled,
        "a burst past the bucket is a throttle with a wait",
    );
    assert!(wait.as_secs() < 60);
    set_faults(&mock, json!({ "down": true })).await;
    let down = walmart.fetch_orders(None).await.unwrap_err();
    assert_eq!(down.kind(), "transient");
}

#[tokio::test]
async fn a_notified_purchase_order_reads_as_the_feed_gives_it_placed_and_cancelled() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("ACME-MUG", 10)]).await;
    let walmart = walmart(&mock, "mock-token");
    let placed = place_order(&mock, "ACME-MUG", 2).await;
    let cancelled = place_order(&mock, "ACME-MUG", 3).await;
    cancel_order(&mock, &cancelled).await;
    let feed = walmart.fetch_orders(None).await.unwrap().events;
    for order_id in [&placed, &cancelled] {
        let read = walmart.fetch_order(order_id.clone()).await.unwrap();
        let fed = of_order(&feed, order_id);
        assert_eq!(read.iter().collect::<Vec<_>>(), fed, "{order_id}");
    }
    let read = walmart.fetch_order(cancelled.clone()).await.unwrap();
    assert_read_again_with_cancel(&read, &read[0]);
    assert_eq!(read[0].quantity, 3);
    let missing = walmart.fetch_order("404".into()).await.unwrap_err();
    assert_eq!(missing.kind(), "not_found");
}
