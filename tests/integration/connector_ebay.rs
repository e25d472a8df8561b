//! The eBay connector against the eBay mock: bulk push (with per-item 207 results) and read
//! back, orders as events across pages and cancellations, and the throttle, auth and outage
//! failures in the engine's terms.

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::json;
use shelfsync::platforms::connector::{ConnectorConfig, ListingMap};
use shelfsync::platforms::ebay::connector::{build_with_page_size, EbayKeys, KeyError};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::registry::connector;
use shelfsync::platforms::Platform;
use shelfsync::vault::Secret;
use shelfsync_actors::channel::marketplace::{
    Marketplace, MarketplaceError, PermanentKind, PushItem, PushOutcome,
};
use shelfsync_actors::testing::{confirmed, item, sku};

use crate::connector_support::{
    assert_one_sale, assert_read_again_with_cancel, first_read_error, push_one,
};
use crate::mock_receiver::subscribed_ebay;
use crate::mock_support::{
    cancel_order, create_listings, listed, place_order, set_faults, start, stats,
};

fn config(mock: &MockServer, token: &str) -> ConnectorConfig {
    let listings = ListingMap::default();
    listings.insert(sku("SKU-1"), "SKU-1".into());
    ConnectorConfig::new(
        &mock.base_url(),
        Secret::new(token),
        json!({ "marketplace_id": "EBAY_US" }),
        listings,
    )
    .unwrap()
    .with_egress(EgressPolicy::LOOPBACK_MOCKS)
}

fn ebay(mock: &MockServer, token: &str) -> Arc<dyn Marketplace> {
    connector(Platform::Ebay, config(mock, token)).unwrap()
}

#[tokio::test]
async fn the_marketplace_id_is_required() {
    let mock = start(Platform::Ebay, "default");
    let mut config = config(&mock, "mock-token");
    config.account = json!({});
    assert_eq!(
        connector(Platform::Ebay, config).unwrap_err().kind(),
        "missing_account_field"
    );
}

#[tokio::test]
async fn pushes_read_back() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 5)]).await;
    let ebay = ebay(&mock, "mock-token");
    let outcomes = push_one(&ebay, "SKU-1", 3).await.unwrap();
    assert_eq!(outcomes, [confirmed("SKU-1", 3)]);
    assert_eq!(listed(&mock).await["SKU-1"], 3);
    let read = ebay.read_quantities(vec![sku("SKU-1")]).await.unwrap();
    assert_eq!((read[0].sku.as_str(), read[0].quantity), ("SKU-1", 3));
}

#[tokio::test]
async fn a_batch_with_an_unknown_sku_confirms_the_others_and_applies_them() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 5), ("SKU-2", 5)]).await;
    let ebay = ebay(&mock, "mock-token");
    let outcomes = ebay
        .push_quantities(vec![item("SKU-1", 7), item("NO-SUCH", 1), item("SKU-2", 9)])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], confirmed("SKU-1", 7));
    assert!(
        matches!(&outcomes[1], PushOutcome::Failed { sku, error: MarketplaceError::Permanent { kind: PermanentKind::NotFound, .. } } if sku.as_str() == "NO-SUCH"),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[2], confirmed("SKU-2", 9));
    let listed = listed(&mock).await;
    assert_eq!((listed["SKU-1"], listed["SKU-2"]), (7, 9));
    assert!(!listed.contains_key("NO-SUCH"));
}

#[tokio::test]
async fn twenty_six_items_are_refused_before_sending() {
    let mock = start(Platform::Ebay, "default");
    let names: Vec<String> = (1..=26).map(|n| format!("SKU-{n}")).collect();
    let listings: Vec<(&str, i64)> = names.iter().map(|name| (name.as_str(), 1)).collect();
    create_listings(&mock, &listings).await;
    let ebay = ebay(&mock, "mock-token");
    let items: Vec<PushItem> = names.iter().map(|name| item(name, 4)).collect();
    let refused = ebay.push_quantities(items.clone()).await.unwrap_err();
    assert!(
        matches!(
            refused,
            MarketplaceError::Permanent {
                kind: PermanentKind::Invalid,
                ..
            }
        ),
        "{refused:?}"
    );
    assert_eq!(
        stats(&mock).await["requests"]["bulk_update_price_quantity"]
            .as_u64()
            .unwrap_or(0),
        0,
        "nothing was sent"
    );
    assert!(listed(&mock).await.values().all(|&quantity| quantity == 1));
    let outcomes = ebay.push_quantities(items[..25].to_vec()).await.unwrap();
    assert!(outcomes
        .iter()
        .all(|outcome| matches!(outcome, PushOutcome::Confirmed { quantity: 4, .. })));
    assert_eq!(listed(&mock).await["SKU-25"], 4);
}

#[tokio::test]
async fn orders_become_events_and_a_cancellation_reads_the_order_again() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 10)]).await;
    let ebay = ebay(&mock, "mock-token");
    let order_id = place_order(&mock, "SKU-1", 2).await;
    let page = ebay.fetch_orders(None).await.unwrap();
    assert_one_sale(&page, &order_id, "SKU-1", 2);
    assert!(!page.more);
    cancel_order(&mock, &order_id).await;
    let next = ebay
        .fetch_orders(Some(page.next_cursor.clone()))
        .await
        .unwrap();
    assert_read_again_with_cancel(&next.events, &page.events[0]);
    assert_eq!(
        (next.events[1].version.as_str(), next.events[1].quantity),
        ("cancelled", 2)
    );
}

#[tokio::test]
async fn paging_reaches_every_order() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 50)]).await;
    let ebay = build_with_page_size(config(&mock, "mock-token"), 2).unwrap();
    let mut placed = BTreeSet::new();
    for _ in 0..7 {
        placed.insert(place_order(&mock, "SKU-1", 1).await);
    }
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 20, "paging ends");
        let page = ebay.fetch_orders(cursor.take()).await.unwrap();
        assert!(page.events.len() <= 2, "pages of two orders of one line");
        seen.extend(page.events.iter().map(|e| e.external_order_id.clone()));
        cursor = Some(page.next_cursor);
        if !page.more {
            break;
        }
    }
    assert!(pages >= 4, "seven orders take several pages: {pages}");
    assert_eq!(seen, placed);
}

#[tokio::test]
async fn a_wrong_token_is_a_permanent_auth_failure_of_the_whole_call() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 5)]).await;
    let wrong = ebay(&mock, "wrong-token");
    for error in [
        wrong
            .push_quantities(vec![item("SKU-1", 1)])
            .await
            .unwrap_err(),
        wrong.read_quantities(vec![sku("SKU-1")]).await.unwrap_err(),
        wrong.fetch_orders(None).await.unwrap_err(),
    ] {
        assert_eq!(error.kind(), "auth", "{error:?}");
        assert!(!error.to_string().contains("wrong-token"), "{error}");
    }
    assert_eq!(listed(&mock).await["SKU-1"], 5);
}

#[tokio::test]
async fn a_burst_on_the_tiny_plan_is_a_throttle_with_the_default_wait() {
    let mock = start(Platform::Ebay, "tiny");
    create_listings(&mock, &[("SKU-1", 5)]).await;
    let ebay = ebay(&mock, "mock-token");
    let throttled = first_read_error(&ebay, "SKU-1", 25).await;
    assert_eq!(
        throttled,
        Some(MarketplaceError::Throttled {
            retry_after: Some(shelfsync::platforms::ebay::connector::DEFAULT_THROTTLE_WAIT)
        }),
        "a quota of 20 calls; eBay names no wait, so the connector's default"
    );
    // The push shares the Inventory quota: the whole call is throttled, nothing applied.
    let push = push_one(&ebay, "SKU-1", 1).await;
    assert_eq!(push.unwrap_err().kind(), "throttled");
    assert_eq!(listed(&mock).await["SKU-1"], 5);
}

#[tokio::test]
async fn a_throttle_storm_is_throttled_and_an_outage_transient() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 5)]).await;
    let ebay = ebay(&mock, "mock-token");
    set_faults(&mock, json!({ "throttle_all_secs": 30 })).await;
    let storm = push_one(&ebay, "SKU-1", 1).await.unwrap_err();
    assert!(
        matches!(
            storm,
            MarketplaceError::Throttled {
                retry_after: Some(_)
            }
        ),
        "{storm:?}"
    );
    set_faults(&mock, json!({ "throttle_all_secs": 0, "down": true })).await;
    let down = ebay.fetch_orders(None).await.unwrap_err();
    assert_eq!(down.kind(), "transient", "{down:?}");
    let down = push_one(&ebay, "SKU-1", 1).await.unwrap_err();
    assert_eq!(down.kind(), "transient", "{down:?}");
    assert_eq!(listed(&mock).await["SKU-1"], 5);
}

#[tokio::test]
async fn a_notified_order_reads_as_the_feed_gives_it() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 10)]).await;
    let ebay = ebay(&mock, "mock-token");
    let order_id = place_order(&mock, "SKU-1", 2).await;
    let placed = ebay.fetch_order(order_id.clone()).await.unwrap();
    let page = ebay.fetch_orders(None).await.unwrap();
    assert_eq!(
        placed, page.events,
        "the same events, so the same ledger keys"
    );
    assert_one_sale(&page, &order_id, "SKU-1", 2);
    cancel_order(&mock, &order_id).await;
    let cancelled = ebay.fetch_order(order_id.clone()).await.unwrap();
    let next = ebay.fetch_orders(Some(page.next_cursor)).await.unwrap();
    assert_eq!(cancelled, next.events);
    assert_read_again_with_cancel(&cancelled, &placed[0]);
    assert_eq!(
        stats(&mock).await["requests"]["get_order"].as_u64(),
        Some(2)
    );
    // The id is one path segment: a forged one addresses no other resource.
    let unknown = ebay
        .fetch_order("../order?limit=1".into())
        .await
        .unwrap_err();
    assert!(
        matches!(
            unknown,
            MarketplaceError::Permanent {
                kind: PermanentKind::NotFound,
                ..
            }
        ),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn notification_keys_are_fetched_once_per_kid_with_the_token() {
    let (mock, receiver) = subscribed_ebay(0, "verification-token").await;
    place_order(&mock, "SKU-1", 1).await;
    let (headers, body) = receiver.wait_for(1).await.remove(0);
    let signature = headers.get("x-ebay-signature").map(String::as_str);
    let key_reads = || async { stats(&mock).await["requests"]["get_public_key"].as_u64() };
    let keys = EbayKeys::new(config(&mock, "mock-token")).unwrap();
    keys.verify(signature, &body).await.unwrap();
    assert_eq!(key_reads().await, Some(1));
    keys.verify(signature, &body).await.unwrap();
    assert_eq!(
        key_reads().await,
        Some(1),
        "the second verify makes no call"
    );
    let mut tampered = body.clone();
    tampered[body.len() / 2] ^= 1;
    assert!(keys.verify(signature, &tampered).await.is_err());
    // A key the API does not have is refused, and not cached: asked again next time.
    let forged = BASE64.encode(
        json!({ "alg": "ECDSA", "kid": "no-such-kid", "signature": "AA==", "digest": "SHA1" })
            .to_string(),
    );
    for reads in [2, 3] {
        let refused = keys.verify(Some(&forged), &body).await.unwrap_err();
        assert!(matches!(refused, KeyError::Fetch(_)), "{refused:?}");
        assert_eq!(key_reads().await, Some(reads));
    }
    // Without the token, no key.
    let wrong = EbayKeys::new(config(&mock, "wrong-token")).unwrap();
    assert!(matches!(
        wrong.verify(signature, &body).await,
        Err(KeyError::Fetch(MarketplaceError::Permanent {
            kind: PermanentKind::Auth,
            ..
        }))
    ));
}
