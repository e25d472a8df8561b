//! The Etsy connector against the Etsy mock: push (GET then full-replacement PUT) and read back,
//! receipts as order events with paging and cancellations, the 999 cap, and the throttle and auth
//! failures in the engine's terms.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use shelfsync::platforms::connector::{ConnectorConfig, ListingMap};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::etsy::connector::build_with_page_size;
use shelfsync::platforms::etsy::mock::{KEYSTRING, SHOP_ID, USER_ID};
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::registry::connector;
use shelfsync::platforms::Platform;
use shelfsync::vault::Secret;
use shelfsync_actors::channel::marketplace::{
    Marketplace, MarketplaceError, OrderEvent, PushOutcome,
};
use shelfsync_actors::testing::{confirmed, item, sku};

use crate::connector_support::{
    assert_one_sale, assert_read_again_with_cancel, first_read_error, of_order, push_one,
};
use crate::mock_support::{
    cancel_order, client, control, create_listings, fixture, listed, place_order, set_faults,
    start, stats,
};

fn config(mock: &MockServer, token: &str, listings: &[(&str, &str)]) -> ConnectorConfig {
    let map = ListingMap::default();
    for (sku_text, listing_ref) in listings {
        map.insert(sku(sku_text), listing_ref.to_string());
    }
    let account = json!({
        "shop_id": SHOP_ID,
        "user_id": USER_ID,
        "keystring": KEYSTRING,
        "shared_secret": "test-shared-secret",
    });
    ConnectorConfig::new(&mock.base_url(), Secret::new(token), account, map)
        .unwrap()
        .with_egress(EgressPolicy::LOOPBACK_MOCKS)
}

fn etsy(mock: &MockServer, token: &str, listings: &[(&str, &str)]) -> Arc<dyn Marketplace> {
    connector(Platform::Etsy, config(mock, token, listings)).unwrap()
}

/// Creates one listing and returns its `listing_ref` (the listing id).
async fn one_listing(mock: &MockServer, sku_text: &str, quantity: i64) -> String {
    let created = create_listings(mock, &[(sku_text, quantity)]).await;
    created[0]["listing_ref"].as_str().unwrap().to_string()
}

/// The listing's inventory as Etsy shows it (`GET`, bypassing the connector).
async fn raw_inventory(mock: &MockServer, listing_ref: &str) -> Value {
    client()
        .get(format!(
            "{}/v3/application/listings/{listing_ref}/inventory",
            mock.base_url()
        ))
        .header("x-api-key", format!("{KEYSTRING}:s"))
        .header("Authorization", format!("Bearer {USER_ID}.mock-token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_push_reads_back_and_keeps_the_listings_other_products() {
    let mock = start(Platform::Etsy, "current");
    let listing_ref = one_listing(&mock, "ACME-MUG", 5).await;
    // The docs' example shape: a color property, a price varying on it, and a second variation
    // (another SKU) the push must send back untouched.
    let mut docs = fixture("etsy", "update_inventory.json");
    docs["products"][0]["sku"] = json!("ACME-MUG");
    let mut blue = docs["products"][0].clone();
    blue["sku"] = json!("ACME-MUG-BLUE");
    blue["property_values"][0]["value_ids"] = json!([1214]);
    blue["property_values"][0]["values"] = json!(["Blue"]);
    blue["offerings"][0]["quantity"] = json!(4);
    blue["offerings"][0]["price"] = json!(24.5);
    docs["products"].as_array_mut().unwrap().push(blue);
    docs["price_on_property"] = json!([200]);
    let put = client()
        .put(format!(
            "{}/v3/application/listings/{listing_ref}/inventory",
            mock.base_url()
        ))
        .header("x-api-key", format!("{KEYSTRING}:s"))
        .header("Authorization", format!("Bearer {USER_ID}.mock-token"))
        .json(&docs)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let before = raw_inventory(&mock, &listing_ref).await;

    let calls = |stats: &Value, operation: &str| stats["requests"][operation].as_u64().unwrap_or(0);
    let counts = stats(&mock).await;
    let (gets, puts) = (
        calls(&counts, "get_listing_inventory"),
        calls(&counts, "update_listing_inventory"),
    );
    let etsy = etsy(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]);
    let outcomes = push_one(&etsy, "ACME-MUG", 3).await.unwrap();
    // A push is two calls against the quotas: the GET and the full replacement.
    let counts = stats(&mock).await;
    assert_eq!(
        (
            calls(&counts, "get_listing_inventory") - gets,
            calls(&counts, "update_listing_inventory") - puts
        ),
        (1, 1),
        "{counts}"
    );
    assert_eq!(outcomes, [confirmed("ACME-MUG", 3)]);
    assert_eq!(listed(&mock).await["ACME-MUG"], 3);
    let read = etsy.read_quantities(vec![sku("ACME-MUG")]).await.unwrap();
    assert_eq!(read[0].quantity, 3);

    // Everything but the pushed quantity is as before: ids, prices, properties, the blue product.
    let after = raw_inventory(&mock, &listing_ref).await;
    let mut expected = before.clone();
    expected["products"][0]["offerings"][0]["quantity"] = json!(3);
    assert_eq!(after, expected);
    assert_eq!(after["products"][1]["offerings"][0]["quantity"], 4);
    assert_eq!(
        after["products"][0]["property_values"][0]["values"],
        json!(["Red"])
    );
    assert_eq!(
        after["products"][1]["offerings"][0]["price"]["amount"],
        2450
    );
}

#[tokio::test]
async fn quantities_above_999_fail_without_a_call_and_unmapped_skus_are_not_found() {
    let mock = start(Platform::Etsy, "current");
    let listing_ref = one_listing(&mock, "ACME-MUG", 5).await;
    let etsy = etsy(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]);
    let outcomes = etsy
        .push_quantities(vec![item("ACME-MUG", 1000), item("ACME-CAP", 1)])
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[0], PushOutcome::Failed { error, .. } if error.kind() == "invalid"),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[1], PushOutcome::Failed { error, .. } if error.kind() == "not_found"),
        "{outcomes:?}"
    );
    let counts = stats(&mock).await;
    assert!(
        counts["requests"]["get_listing_inventory"].is_null()
            || counts["requests"]["get_listing_inventory"] == 0,
        "no call was made: {counts}"
    );
    assert_eq!(listed(&mock).await["ACME-MUG"], 5);
    let at_cap = push_one(&etsy, "ACME-MUG", 999).await.unwrap();
    assert_eq!(at_cap, [confirmed("ACME-MUG", 999)]);
}

#[tokio::test]
async fn receipts_become_events_with_cancellations_and_paging() {
    let mock = start(Platform::Etsy, "current");
    let listing_ref = one_listing(&mock, "ACME-MUG", 50).await;
    // Built before the orders: a poll with no cursor starts when the connector was built.
    let etsy = etsy(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]);
    let order_id = place_order(&mock, "ACME-MUG", 2).await;
    let page = etsy.fetch_orders(None).await.unwrap();
    assert!(!page.more);
    assert_one_sale(&page, &order_id, "ACME-MUG", 2);
    cancel_order(&mock, &order_id).await;
    let next = etsy
        .fetch_orders(Some(page.next_cursor.clone()))
        .await
        .unwrap();
    let events = of_order(&next.events, &order_id);
    assert_read_again_with_cancel(&events, &page.events[0]);
    assert_eq!(events[1].version, "cancelled");
}

#[tokio::test]
async fn paging_reaches_every_receipt() {
    let mock = start(Platform::Etsy, "current");
    let listing_ref = one_listing(&mock, "ACME-MUG", 50).await;
    let etsy = build_with_page_size(
        config(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]),
        2,
    )
    .unwrap();
    let mut placed = BTreeSet::new();
    for quantity in 1..=7 {
        let (_, sold) = control(
            &mock,
            "orders",
            json!({ "sku": "ACME-MUG", "quantity": quantity }),
        )
        .await;
        placed.insert(sold["order_id"].as_str().unwrap().to_string());
    }
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = etsy.fetch_orders(cursor.take()).await.unwrap();
        assert!(page.events.len() <= 2, "a page of two receipts: {page:?}");
        seen.extend(page.events.iter().map(|e| e.external_order_id.clone()));
        cursor = Some(page.next_cursor);
        pages += 1;
        if !page.more {
            break;
        }
        assert!(pages < 20, "paging ends");
    }
    assert!(pages >= 4, "seven receipts by two take four pages or more");
    assert_eq!(seen, placed);
}

#[tokio::test]
async fn wrong_credentials_are_auth_failures_and_a_missing_account_field_refuses_the_build() {
    let mock = start(Platform::Etsy, "current");
    let listing_ref = one_listing(&mock, "ACME-MUG", 5).await;
    let refused = push_one(
        &etsy(&mock, "wrong", &[("ACME-MUG", &listing_ref)]),
        "ACME-MUG",
        1,
    )
    .await
    .unwrap();
    assert!(
        matches!(&refused[0], PushOutcome::Failed { error, .. } if error.kind() == "auth"),
        "a push fails per item: {refused:?}"
    );
    // A wrong keystring is Etsy's 403: also auth, as the outer error of a read or a poll.
    let mut wrong_key = config(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]);
    wrong_key.account["keystring"] = json!("not-the-apps-key");
    let wrong_key = connector(Platform::Etsy, wrong_key).unwrap();
    let error = wrong_key.fetch_orders(None).await.unwrap_err();
    assert_eq!(error.kind(), "auth");
    assert!(!format!("{error:?}").contains("test-shared-secret"));
    assert_eq!(listed(&mock).await["ACME-MUG"], 5);

    let mut missing = config(&mock, "mock-token", &[]);
    missing
        .account
        .as_object_mut()
        .unwrap()
        .remove("shared_secret");
    let error = connector(Platform::Etsy, missing).unwrap_err();
    assert_eq!(error.kind(), "missing_account_field");
}

#[tokio::test]
async fn a_qps_burst_is_throttled_with_retry_after_and_down_is_transient() {
    let mock = start(Platform::Etsy, "default");
    let listing_ref = one_listing(&mock, "ACME-MUG", 5).await;
    let etsy = etsy(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]);
    let throttled = first_read_error(&etsy, "ACME-MUG", 60).await;
    assert_eq!(
        throttled,
        Some(MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(1))
        }),
        "past 10 a second, Etsy's 429 with its retry-after"
    );
    // The mock's throttle storm: a push is stopped whole (the engine retries the batch).
    set_faults(&mock, json!({ "throttle_all_secs": 30.0 })).await;
    let push = push_one(&etsy, "ACME-MUG", 2).await;
    assert_eq!(
        push,
        Err(MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(1))
        })
    );
    set_faults(&mock, json!({ "down": true })).await;
    let down = etsy.fetch_orders(None).await.unwrap_err();
    assert_eq!(down.kind(), "transient");
}

#[tokio::test]
async fn a_notified_receipt_reads_as_the_feed_gives_it() {
    let mock = start(Platform::Etsy, "current");
    let listing_ref = one_listing(&mock, "ACME-MUG", 50).await;
    let etsy = etsy(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]);
    let order_id = place_order(&mock, "ACME-MUG", 3).await;
    let other = place_order(&mock, "ACME-MUG", 1).await;
    let placed = etsy.fetch_order(order_id.clone()).await.unwrap();
    let feed = etsy.fetch_orders(None).await.unwrap();
    let from_feed: Vec<OrderEvent> = of_order(&feed.events, &order_id)
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(
        placed, from_feed,
        "the same events, so the same ledger keys"
    );
    assert_eq!(placed.len(), 1);
    cancel_order(&mock, &order_id).await;
    let cancelled = etsy.fetch_order(order_id.clone()).await.unwrap();
    let feed = etsy.fetch_orders(Some(feed.next_cursor)).await.unwrap();
    let from_feed: Vec<OrderEvent> = of_order(&feed.events, &order_id)
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(cancelled, from_feed);
    assert_read_again_with_cancel(&cancelled, &placed[0]);
    assert!(cancelled
        .iter()
        .all(|event| event.external_order_id != other));
    // One call a receipt, on the app's budget like any other.
    assert_eq!(
        stats(&mock).await["requests"]["get_shop_receipt"].as_u64(),
        Some(2)
    );
    // An id that is not a receipt number is refused without a call; an unknown one is not found.
    assert!(matches!(
        etsy.fetch_order("../listings/1".into()).await,
        Err(MarketplaceError::Permanent { .. })
    ));
    assert_eq!(
        stats(&mock).await["requests"]["get_shop_receipt"].as_u64(),
        Some(2)
    );
    assert!(matches!(
        etsy.fetch_order("3000000999".into()).await,
        Err(MarketplaceError::Permanent {
            kind: shelfsync_actors::channel::marketplace::PermanentKind::NotFound,
            ..
        })
    ));
}
