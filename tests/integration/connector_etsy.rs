//! The Etsy connector against the Etsy mock: push (GET then full-replacement PUT) and read back,
//! receipts as order events with paging and cancellations, the 999 cap, and the throttle and auth
//! failures in the engine's terms.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use shelfsync::platforms::connector::{ConnectorConfig, ConnectorError, ListingMap};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::etsy::connector::build_with_page_size;
use shelfsync::platforms::etsy::mock::inventory::InventoryRules;
use shelfsync::platforms::etsy::mock::{EtsyMock, KEYSTRING, SHOP_ID, USER_ID};
use shelfsync::platforms::mock::{MockOptions, MockServer};
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

/// The Etsy connector with `setting` added to its account.
fn etsy_with(
    mock: &MockServer,
    listings: &[(&str, &str)],
    setting: (&str, Value),
) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    let mut config = config(mock, "mock-token", listings);
    config.account[setting.0] = setting.1;
    connector(Platform::Etsy, config)
}

/// The inventory reads and replacements the mock has answered so far.
async fn inventory_calls(mock: &MockServer) -> (u64, u64) {
    let counts = stats(mock).await;
    let calls = |operation: &str| counts["requests"][operation].as_u64().unwrap_or(0);
    (
        calls("get_listing_inventory"),
        calls("update_listing_inventory"),
    )
}

/// The inventory reads and replacements since `before` (from [`inventory_calls`]).
async fn calls_since(mock: &MockServer, before: (u64, u64)) -> (u64, u64) {
    let now = inventory_calls(mock).await;
    (now.0 - before.0, now.1 - before.1)
}

/// Replaces the listing's inventory as a person would on Etsy: the docs' example shape, red
/// (`ACME-MUG`, the listing's own SKU) and blue (`ACME-MUG-BLUE`) variations on a color
/// property, the price varying on it.
async fn put_two_colors(mock: &MockServer, listing_ref: &str, red: u32, blue: u32) {
    let mut docs = fixture("etsy", "update_inventory.json");
    docs["products"][0]["sku"] = json!("ACME-MUG");
    docs["products"][0]["offerings"][0]["quantity"] = json!(red);
    let mut blue_product = docs["products"][0].clone();
    blue_product["sku"] = json!("ACME-MUG-BLUE");
    blue_product["property_values"][0]["value_ids"] = json!([1214]);
    blue_product["property_values"][0]["values"] = json!(["Blue"]);
    blue_product["offerings"][0]["quantity"] = json!(blue);
    blue_product["offerings"][0]["price"] = json!(24.5);
    docs["products"].as_array_mut().unwrap().push(blue_product);
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
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
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
    put_two_colors(&mock, &listing_ref, 5, 4).await;
    let before = raw_inventory(&mock, &listing_ref).await;

    let before_push = inventory_calls(&mock).await;
    let etsy = etsy(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]);
    // The first push reads the listing (two calls), and says so to the channel that charges it.
    assert_eq!(etsy.push_extra_calls(&[item("ACME-MUG", 3)]), 1);
    let outcomes = push_one(&etsy, "ACME-MUG", 3).await.unwrap();
    assert_eq!(calls_since(&mock, before_push).await, (1, 1));
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

/// Issue 14: a push after a read of the listing is one call, the `PUT` from what was read; a
/// read-back refreshes it; an account that keeps nothing reads before every push.
#[tokio::test]
async fn a_push_after_a_read_is_one_call_and_a_max_age_of_zero_reads_every_time() {
    let mock = start(Platform::Etsy, "current");
    let listing_ref = one_listing(&mock, "ACME-MUG", 5).await;
    put_two_colors(&mock, &listing_ref, 5, 4).await;
    let etsy = etsy(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]);
    push_one(&etsy, "ACME-MUG", 3).await.unwrap();

    // Pushed from the PUT's reply: one call each, and the blue product still sent back.
    for quantity in [2, 7] {
        let before = inventory_calls(&mock).await;
        assert_eq!(etsy.push_extra_calls(&[item("ACME-MUG", quantity)]), 0);
        let outcomes = push_one(&etsy, "ACME-MUG", quantity).await.unwrap();
        assert_eq!(outcomes, [confirmed("ACME-MUG", quantity)]);
        assert_eq!(calls_since(&mock, before).await, (0, 1));
    }
    let shown = raw_inventory(&mock, &listing_ref).await;
    assert_eq!(shown["products"][1]["offerings"][0]["quantity"], 4);
    assert_eq!(shown["products"][1]["sku"], "ACME-MUG-BLUE");

    // A read-back is a read like any other: a connector that never pushed pushes in one call.
    let fresh = etsy_with(
        &mock,
        &[("ACME-MUG", &listing_ref)],
        ("inventory_max_age_secs", json!(600)),
    )
    .unwrap();
    fresh.read_quantities(vec![sku("ACME-MUG")]).await.unwrap();
    let before = inventory_calls(&mock).await;
    push_one(&fresh, "ACME-MUG", 1).await.unwrap();
    assert_eq!(calls_since(&mock, before).await, (0, 1));

    // Kept for no time: every push reads first, and says so.
    let careful = etsy_with(
        &mock,
        &[("ACME-MUG", &listing_ref)],
        ("inventory_max_age_secs", json!(0)),
    )
    .unwrap();
    let before = inventory_calls(&mock).await;
    for quantity in [4, 6] {
        assert_eq!(careful.push_extra_calls(&[item("ACME-MUG", quantity)]), 1);
        push_one(&careful, "ACME-MUG", quantity).await.unwrap();
    }
    assert_eq!(calls_since(&mock, before).await, (2, 2));

    // A setting the connector cannot use refuses the build, naming the field.
    for bad in [json!(-1), json!("600"), json!(86_401), json!(1.5)] {
        let refused = etsy_with(
            &mock,
            &[("ACME-MUG", &listing_ref)],
            ("inventory_max_age_secs", bad.clone()),
        )
        .unwrap_err();
        assert_eq!(refused.kind(), "bad_account_field", "{bad}");
        assert!(refused.to_string().contains("inventory_max_age_secs"));
    }
}

/// Issue 14: a `PUT` from the kept inventory that Etsy refuses (the listing changed since: here
/// the blue variation was restocked, and the kept copy would have sent every offering at 0) is
/// read and sent once more, and the change a person made stays.
#[tokio::test]
async fn a_refused_put_from_the_kept_inventory_reads_the_listing_and_sends_again() {
    let options = MockOptions {
        plan: "current".into(),
        ..MockOptions::default()
    };
    let rules = InventoryRules {
        refuse_all_zero: true,
        ..InventoryRules::default()
    };
    let wire = Arc::new(EtsyMock::new(&options, rules).unwrap());
    let mock = MockServer::start_with(wire, options).unwrap();
    let listing_ref = one_listing(&mock, "ACME-MUG", 5).await;
    put_two_colors(&mock, &listing_ref, 5, 0).await;
    let etsy = etsy(&mock, "mock-token", &[("ACME-MUG", &listing_ref)]);
    push_one(&etsy, "ACME-MUG", 3).await.unwrap();

    put_two_colors(&mock, &listing_ref, 3, 4).await;
    let before = inventory_calls(&mock).await;
    let outcomes = push_one(&etsy, "ACME-MUG", 0).await.unwrap();
    assert_eq!(outcomes, [confirmed("ACME-MUG", 0)]);
    // The refused PUT, the read, the PUT from it.
    assert_eq!(calls_since(&mock, before).await, (1, 2));
    let shown = raw_inventory(&mock, &listing_ref).await;
    assert_eq!(shown["products"][0]["offerings"][0]["quantity"], 0);
    assert_eq!(shown["products"][1]["offerings"][0]["quantity"], 4);
}

/// Issue 14: a receipt naming a listing of several products drops what is kept of it (the sale
/// moved a quantity the next push would send back as it was); a listing of one product keeps
/// it (the push sets that product's quantity anyway).
#[tokio::test]
async fn a_receipt_makes_the_next_push_of_a_listing_of_several_products_read_first() {
    let mock = start(Platform::Etsy, "current");
    let created = create_listings(&mock, &[("ACME-MUG", 5), ("ACME-CAP", 5)]).await;
    let (mug, cap) = (
        created[0]["listing_ref"].as_str().unwrap().to_string(),
        created[1]["listing_ref"].as_str().unwrap().to_string(),
    );
    put_two_colors(&mock, &mug, 5, 4).await;
    let etsy = etsy(
        &mock,
        "mock-token",
        &[("ACME-MUG", &mug), ("ACME-CAP", &cap)],
    );
    push_one(&etsy, "ACME-MUG", 5).await.unwrap();
    push_one(&etsy, "ACME-CAP", 5).await.unwrap();
    let both = [item("ACME-MUG", 4), item("ACME-CAP", 4)];
    assert_eq!(etsy.push_extra_calls(&both), 0);

    let mug_order = place_order(&mock, "ACME-MUG", 1).await;
    place_order(&mock, "ACME-CAP", 1).await;
    let page = etsy.fetch_orders(None).await.unwrap();
    assert_eq!(page.events.len(), 2, "{page:?}");
    assert_eq!(etsy.push_extra_calls(&both), 1, "only the mug reads first");
    assert_eq!(etsy.push_extra_calls(&[item("ACME-MUG", 4)]), 1);

    // The same through a notified receipt.
    push_one(&etsy, "ACME-MUG", 4).await.unwrap();
    assert_eq!(etsy.push_extra_calls(&[item("ACME-MUG", 4)]), 0);
    etsy.fetch_order(mug_order).await.unwrap();
    assert_eq!(etsy.push_extra_calls(&[item("ACME-MUG", 4)]), 1);
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
    // The refused PUT was built from the inventory the reads kept; a throttle says nothing of
    // the listing's shape, so the retry is one call again.
    assert_eq!(etsy.push_extra_calls(&[item("ACME-MUG", 2)]), 0);
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
