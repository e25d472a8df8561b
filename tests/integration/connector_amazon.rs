//! The Amazon SP-API connector against the Amazon mock: a push is confirmed only once a read
//! shows it, orders (with their lines from getOrderItems) become events across NextToken pages,
//! one notified order reads as the feed gives it, and auth, throttle, downtime and refused
//! patches map onto the engine's error kinds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shelfsync::platforms::amazon::connector::{build_with, AmazonTuning};
use shelfsync::platforms::amazon::mock::{self as amazon_mock, AmazonKnobs};
use shelfsync::platforms::connector::{ConnectorConfig, ListingMap};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::mock::{MockOptions, MockServer, UNLIMITED_PLAN};
use shelfsync::platforms::registry::connector;
use shelfsync::platforms::Platform;
use shelfsync::vault::Secret;
use shelfsync_actors::channel::marketplace::{
    Marketplace, MarketplaceError, OrderEvent, OrderPage, PushOutcome,
};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::testing::confirmed;

use crate::connector_support::{
    assert_one_sale, assert_read_again_with_cancel, push_one, throttle_wait,
};
use crate::mock_support::{
    cancel_order, control, create_listings, eventually, info, listed, place_order, set_faults,
    start, stats,
};

/// The account ids (and the mock's apply delay and order lag) from `/_mock/info`.
async fn account(mock: &MockServer) -> Value {
    let info: Value = info(mock).await;
    info["account"].clone()
}

async fn config(mock: &MockServer, token: &str) -> ConnectorConfig {
    let listings = ListingMap::default();
    listings.insert(Sku::parse("ACME-MUG").unwrap(), "ACME-MUG".into());
    ConnectorConfig::new(
        &mock.base_url(),
        Secret::new(token),
        account(mock).await,
        listings,
    )
    .unwrap()
    .with_egress(EgressPolicy::LOOPBACK_MOCKS)
}

/// The connector as the service builds it (tuned from the account).
async fn amazon(mock: &MockServer, token: &str) -> Arc<dyn Marketplace> {
    connector(Platform::Amazon, config(mock, token).await).unwrap()
}

/// The connector with explicit tuning.
async fn amazon_with(mock: &MockServer, tuning: AmazonTuning) -> Arc<dyn Marketplace> {
    let config = config(mock, "mock-token").await;
    build_with(config, tuning).unwrap()
}

fn mug() -> Sku {
    Sku::parse("ACME-MUG").unwrap()
}

/// Polls from `cursor` until a page has events (the feed ends the mock's lag before now).
async fn first_events(market: &Arc<dyn Marketplace>, cursor: Option<String>) -> OrderPage {
    let found = std::cell::RefCell::new(None);
    let cell = &found;
    assert!(
        eventually(Duration::from_secs(5), || {
            let cursor = cursor.clone();
            async move {
                let page = market.fetch_orders(cursor).await.unwrap();
                let hit = !page.events.is_empty();
                if hit {
                    *cell.borrow_mut() = Some(page);
                }
                hit
            }
        })
        .await,
        "the orders showed up in the feed"
    );
    found.take().unwrap()
}

#[tokio::test]
async fn a_push_is_confirmed_by_a_read_and_reads_back() {
    let mock = start(Platform::Amazon, UNLIMITED_PLAN);
    create_listings(&mock, &[("ACME-MUG", 5)]).await;
    let amazon = amazon(&mock, "mock-token").await;
    let outcomes = push_one(&amazon, "ACME-MUG", 3).await;
    assert_eq!(outcomes.unwrap(), [confirmed("ACME-MUG", 3)]);
    assert_eq!(listed(&mock).await["ACME-MUG"], 3, "applied when confirmed");
    let read = amazon.read_quantities(vec![mug()]).await.unwrap();
    assert_eq!(read[0].quantity, 3);
    let counted = stats(&mock).await;
    assert_eq!(counted["requests"]["patchListingsItem"], 1, "{counted}");
}

#[tokio::test]
async fn a_push_waits_for_the_delayed_apply() {
    let delay = Duration::from_millis(300);
    let options = MockOptions {
        plan: UNLIMITED_PLAN.to_string(),
        ..MockOptions::default()
    };
    let knobs = AmazonKnobs {
        apply_delay: delay,
        ..AmazonKnobs::default()
    };
    let mock =
        MockServer::start_with(amazon_mock::build_with(&options, knobs).unwrap(), options).unwrap();
    create_listings(&mock, &[("ACME-MUG", 5)]).await;
    // Reads start early and often, so that only the mock's delay can hold the push back.
    let amazon = amazon_with(
        &mock,
        AmazonTuning {
            confirm_reads: 40,
            confirm_first_wait: Duration::from_millis(20),
            confirm_max_wait: Duration::from_millis(50),
            ..AmazonTuning::default()
        },
    )
    .await;
    let sent = Instant::now();
    let outcomes = push_one(&amazon, "ACME-MUG", 9).await.unwrap();
    assert!(
        sent.elapsed() >= delay,
        "confirmed no sooner than applied: {:?}",
        sent.elapsed()
    );
    assert_eq!(outcomes, [confirmed("ACME-MUG", 9)]);
    // A bound too short for the delay: the item fails, retryably.
    let impatient = amazon_with(
        &mock,
        AmazonTuning {
            confirm_reads: 1,
            confirm_first_wait: Duration::from_millis(10),
            ..AmazonTuning::default()
        },
    )
    .await;
    let outcomes = push_one(&impatient, "ACME-MUG", 4).await.unwrap();
    assert!(
        matches!(
            &outcomes[0],
            PushOutcome::Failed {
                error: MarketplaceError::Transient(_),
                ..
            }
        ),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn an_invalid_patch_fails_the_item_with_the_issues() {
    let mock = start(Platform::Amazon, UNLIMITED_PLAN);
    create_listings(&mock, &[("ACME-MUG", 5)]).await;
    let amazon = amazon(&mock, "mock-token").await;
    // The listing takes at most 1,000,000,000 units.
    let outcomes = push_one(&amazon, "ACME-MUG", 2_000_000_000).await.unwrap();
    let [PushOutcome::Failed {
        error: MarketplaceError::Permanent { kind, message },
        ..
    }] = outcomes.as_slice()
    else {
        panic!("an INVALID patch is a permanent item failure: {outcomes:?}");
    };
    assert_eq!(
        kind.clone(),
        shelfsync_actors::channel::marketplace::PermanentKind::Invalid
    );
    assert!(message.contains("90244"), "{message}");
    assert_eq!(listed(&mock).await["ACME-MUG"], 5);
    // An unknown SKU is the item's NotFound.
    let outcomes = push_one(&amazon, "ACME-NONE", 1).await.unwrap();
    assert!(
        matches!(&outcomes[0], PushOutcome::Failed { error, .. } if error.kind() == "not_found"),
        "{outcomes:?}"
    );
}

fn ids(events: &[OrderEvent]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event.external_order_id.as_str())
        .collect()
}

#[tokio::test]
async fn orders_become_events_and_a_cancellation_follows() {
    // getOrders refills one call a minute on the default plan: the feed runs on `unlimited`.
    let mock = start(Platform::Amazon, UNLIMITED_PLAN);
    create_listings(&mock, &[("ACME-MUG", 10)]).await;
    let amazon = amazon(&mock, "mock-token").await;
    let order_id = place_order(&mock, "ACME-MUG", 2).await;
    let page = first_events(&amazon, None).await;
    assert_one_sale(&page, &order_id, "ACME-MUG", 2);
    assert!(!page.more);

    cancel_order(&mock, &order_id).await;
    let next = first_events(&amazon, Some(page.next_cursor.clone())).await;
    assert_read_again_with_cancel(&next.events, &page.events[0]);
    assert_eq!(next.events[1].version, "cancelled");
    assert_eq!(
        stats(&mock).await["requests"]["getOrderItems"],
        1,
        "the lines of an order are read once"
    );
}

#[tokio::test]
async fn next_token_pages_reach_every_order() {
    let mock = start(Platform::Amazon, UNLIMITED_PLAN);
    create_listings(&mock, &[("ACME-MUG", 50)]).await;
    let amazon = amazon_with(
        &mock,
        AmazonTuning {
            orders_per_page: 2,
            ..AmazonTuning::from_account(&account(&mock).await)
        },
    )
    .await;
    let mut placed = Vec::new();
    for _ in 0..5 {
        let (_, order) =
            control(&mock, "orders", json!({ "sku": "ACME-MUG", "quantity": 1 })).await;
        placed.push(order["order_id"].as_str().unwrap().to_string());
    }
    // Follow the cursor (pages first, then new windows) until every order has been seen.
    let state = std::cell::RefCell::new((None::<String>, Vec::<String>::new(), 0usize));
    let cell = &state;
    let all = placed.clone();
    let market = &amazon;
    assert!(
        eventually(Duration::from_secs(5), || {
            let all = all.clone();
            async move {
                let cursor = cell.borrow().0.clone();
                let page = market.fetch_orders(cursor).await.unwrap();
                assert!(page.events.len() <= 2, "one page holds two orders");
                let mut state = cell.borrow_mut();
                state.0 = Some(page.next_cursor.clone());
                state
                    .1
                    .extend(ids(&page.events).into_iter().map(str::to_string));
                state.2 += usize::from(page.more);
                all.iter().all(|id| state.1.contains(id))
            }
        })
        .await,
        "every order was reached: {:?}",
        state.borrow()
    );
    let (_, seen, pages_with_more) = state.take();
    assert_eq!(seen, placed, "each order once, oldest first");
    assert!(pages_with_more >= 2, "five orders took NextToken pages");
}

#[tokio::test]
async fn a_wrong_token_is_an_auth_failure() {
    let mock = start(Platform::Amazon, "default");
    create_listings(&mock, &[("ACME-MUG", 5)]).await;
    let wrong = amazon(&mock, "wrong").await;
    let refused = push_one(&wrong, "ACME-MUG", 1).await.unwrap();
    assert!(
        matches!(&refused[0], PushOutcome::Failed { error, .. } if error.kind() == "auth"),
        "a push is refused per item: {refused:?}"
    );
    let read = wrong.read_quantities(vec![mug()]).await.unwrap_err();
    assert_eq!(read.kind(), "auth", "a read is refused as a whole");
    assert!(
        !read.to_string().contains("wrong"),
        "no credential in errors"
    );
}

#[tokio::test]
async fn a_burst_is_throttled_with_the_operation_wait_and_down_is_transient() {
    let mock = start(Platform::Amazon, "default");
    create_listings(&mock, &[("ACME-MUG", 5)]).await;
    let amazon = amazon(&mock, "mock-token").await;
    // getListingsItem is burst 10 at 5/s at Amazon; the connector paces its own reads below
    // that, so 20 reads in a row wait for their turn instead of drawing a 429.
    for _ in 0..20 {
        amazon.read_quantities(vec![mug()]).await.unwrap();
    }
    assert_eq!(
        stats(&mock).await["throttled"],
        json!({}),
        "no throttled reply"
    );
    // A throttle storm: a 429 is a throttle with one token of the operation's rate as the wait.
    set_faults(&mock, json!({ "throttle_all_secs": 30.0 })).await;
    assert_eq!(
        amazon.read_quantities(vec![mug()]).await.unwrap_err(),
        MarketplaceError::Throttled {
            retry_after: Some(Duration::from_millis(200))
        },
        "one token of 5/s"
    );
    // The order feed under the storm: getOrders' one call a minute.
    let account = account(&mock).await;
    let feed = amazon_with(&mock, AmazonTuning::from_account(&account)).await;
    let storm = std::cell::RefCell::new(None);
    let cell = &storm;
    assert!(
        eventually(Duration::from_secs(3), || async {
            // Until the lag has passed the feed does not call Amazon.
            match feed.fetch_orders(None).await {
                Ok(_) => false,
                Err(error) => {
                    *cell.borrow_mut() = Some(error);
                    true
                }
            }
        })
        .await
    );
    let wait = throttle_wait(storm.take(), "a storm is a throttle");
    assert!(wait >= Duration::from_secs(59), "{wait:?}");
    let outcome = push_one(&amazon, "ACME-MUG", 2).await;
    assert!(
        matches!(outcome, Err(MarketplaceError::Throttled { .. })),
        "a throttled push fails the whole call: {outcome:?}"
    );

    set_faults(&mock, json!({ "throttle_all_secs": 0.0, "down": true })).await;
    let down = amazon.read_quantities(vec![mug()]).await.unwrap_err();
    assert_eq!(down.kind(), "transient");
    let down = push_one(&amazon, "ACME-MUG", 2).await.unwrap_err();
    assert_eq!(down.kind(), "transient");
}

#[tokio::test]
async fn a_notified_order_reads_as_the_feed_gives_it_placed_and_cancelled() {
    // getOrders refills one call a minute on the default plan: the feed runs on `unlimited`.
    let mock = start(Platform::Amazon, UNLIMITED_PLAN);
    create_listings(&mock, &[("ACME-MUG", 10)]).await;
    let amazon = amazon(&mock, "mock-token").await;
    let order_id = place_order(&mock, "ACME-MUG", 2).await;
    let read = amazon.fetch_order(order_id.clone()).await.unwrap();
    let page = first_events(&amazon, None).await;
    assert_eq!(read, page.events, "placed");

    cancel_order(&mock, &order_id).await;
    let read = amazon.fetch_order(order_id.clone()).await.unwrap();
    let next = first_events(&amazon, Some(page.next_cursor.clone())).await;
    assert_eq!(read, next.events, "cancelled");
    assert_read_again_with_cancel(&read, &page.events[0]);
    let counted = stats(&mock).await;
    assert_eq!(counted["requests"]["getOrder"], 2, "{counted}");
    assert_eq!(
        counted["requests"]["getOrderItems"], 1,
        "the lines of an order are read once, notified or polled"
    );
    let missing = amazon
        .fetch_order("902-0000000-0000000".into())
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), "not_found");
}
