//! The fake's own tests: its bucket, compare-and-set, sales, faults and counters.

use super::*;
use crate::testing::{confirmed, item, item_showing, sku, stale};
use tokio::time::advance;

fn throttled_after(result: Result<impl std::fmt::Debug, MarketplaceError>) -> Duration {
    match result {
        Err(MarketplaceError::Throttled {
            retry_after: Some(wait),
        }) => wait,
        other => panic!("expected a throttled reply, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn bucket_throttles_beyond_capacity_and_refills_at_the_rate() {
    let fake = FakeMarketplace::new(Platform::Shopify).with_bucket(2, 4.0);
    let a = sku("A");
    assert!(fake.read_quantities(vec![a.clone()]).await.is_ok());
    assert!(fake.fetch_orders(None).await.is_ok());
    let wait = throttled_after(fake.read_quantities(vec![a.clone()]).await);
    assert_eq!(wait, Duration::from_millis(250));
    assert_eq!(fake.throttled_replies(), 1);

    advance(Duration::from_millis(100)).await;
    let wait = throttled_after(fake.push_quantities(vec![item("A", 1)]).await);
    assert_eq!(
        wait,
        Duration::from_millis(150),
        "throttled calls take no token"
    );
    assert_eq!(fake.listing(&a), None, "a throttled push is not applied");

    advance(wait).await;
    assert!(fake.push_quantities(vec![item("A", 1)]).await.is_ok());
    assert!(fake.read_quantities(vec![a.clone()]).await.is_err());

    // A long idle refills to capacity and no further.
    advance(Duration::from_secs(60)).await;
    assert_eq!(fake.bucket_tokens(), Some(2.0));
    assert!(fake.read_quantities(vec![a.clone()]).await.is_ok());
    assert!(fake.read_quantities(vec![a.clone()]).await.is_ok());
    assert!(fake.read_quantities(vec![a.clone()]).await.is_err());

    assert_eq!(fake.requests(), 9);
    assert_eq!(fake.throttled_replies(), 4);
    assert_eq!(
        (fake.pushes(), fake.reads(), fake.fetches()),
        (1, 3, 1),
        "accepted calls by kind"
    );
}

#[tokio::test(start_paused = true)]
async fn call_costs_and_slow_rates_give_exact_waits() {
    let fake = FakeMarketplace::new(Platform::Ebay)
        .with_bucket(10, 0.5)
        .with_cost(Call::Push, 10);
    assert!(fake.push_quantities(vec![item("A", 3)]).await.is_ok());
    let wait = throttled_after(fake.read_quantities(vec![]).await);
    assert_eq!(wait, Duration::from_secs(2), "one token at 0.5 per second");
    let wait = throttled_after(fake.push_quantities(vec![item("A", 4)]).await);
    assert_eq!(
        wait,
        Duration::from_secs(20),
        "ten tokens at 0.5 per second"
    );
    advance(wait).await;
    assert!(fake.push_quantities(vec![item("A", 4)]).await.is_ok());
    assert_eq!(fake.listing(&sku("A")), Some(4));
}

#[tokio::test(start_paused = true)]
async fn compare_and_set_answers_stale_on_a_mismatch_and_leaves_the_listing() {
    let fake = FakeMarketplace::new(Platform::Shopify);
    let a = sku("A");
    fake.set_listing(&a, 5);
    let outcomes = fake
        .push_quantities(vec![
            item_showing("A", 9, Some(7)),
            item_showing("B", 2, Some(1)),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![stale("A", Some(5)), stale("B", None)]);
    assert_eq!(fake.listing(&a), Some(5));
    assert_eq!(fake.listing(&sku("B")), None);
    assert!(fake.push_log().is_empty());
    assert_eq!(
        fake.pushes(),
        1,
        "a call with stale items is still accepted"
    );

    let outcomes = fake
        .push_quantities(vec![item_showing("A", 9, Some(5))])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![confirmed("A", 9)]);
    assert_eq!(fake.listing(&a), Some(9));
    assert_eq!(fake.last_push(&a).map(|push| push.quantity), Some(9));
}

#[tokio::test(start_paused = true)]
async fn compare_and_set_without_previous_sets_only_unlisted_skus_by_default() {
    let fake = FakeMarketplace::new(Platform::Shopify);
    fake.set_listing(&sku("A"), 5);
    let outcomes = fake
        .push_quantities(vec![item("A", 8), item("B", 2)])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![stale("A", Some(5)), confirmed("B", 2)]);

    let always = FakeMarketplace::new(Platform::Shopify).with_no_previous(NoPrevious::SetAlways);
    always.set_listing(&sku("A"), 5);
    let outcomes = always.push_quantities(vec![item("A", 8)]).await.unwrap();
    assert!(matches!(
        outcomes[0],
        PushOutcome::Confirmed { quantity: 8, .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn platforms_without_compare_and_set_ignore_previous() {
    let fake = FakeMarketplace::new(Platform::Etsy);
    fake.set_listing(&sku("A"), 5);
    let outcomes = fake
        .push_quantities(vec![item_showing("A", 8, Some(1))])
        .await
        .unwrap();
    assert!(matches!(
        outcomes[0],
        PushOutcome::Confirmed { quantity: 8, .. }
    ));
    assert_eq!(fake.listing(&sku("A")), Some(8));
}

#[tokio::test(start_paused = true)]
async fn a_sale_beyond_the_listed_quantity_is_refused() {
    let fake = FakeMarketplace::new(Platform::Shopify);
    let a = sku("A");
    fake.set_listing(&a, 2);
    assert_eq!(
        fake.sell(&a, 3),
        Err(SaleRefused::NotEnoughListed {
            sku: a.clone(),
            requested: 3,
            listed: 2
        })
    );
    assert_eq!(fake.listing(&a), Some(2));
    let sale = fake.sell(&a, 2).unwrap();
    assert_eq!(
        (sale.kind, sale.quantity, sale.line, sale.version.as_str()),
        (OrderEventKind::Sale, 2, 1, "1")
    );
    assert_eq!(fake.listing(&a), Some(0), "the marketplace's own decrement");
    assert!(fake.sell(&a, 1).is_err());
    assert!(matches!(
        fake.sell(&sku("NEVER"), 1),
        Err(SaleRefused::NotEnoughListed { listed: 0, .. })
    ));
    assert_eq!(fake.sell(&a, 0), Err(SaleRefused::ZeroUnits));
    assert_eq!(fake.orders().len(), 1);
    assert_eq!(fake.requests(), 0, "buyers do not use the seller's API");
}

#[tokio::test(start_paused = true)]
async fn sales_appear_in_fetch_orders_with_a_working_cursor_and_paging() {
    let fake = FakeMarketplace::new(Platform::Ebay).with_page_size(2);
    let a = sku("A");
    fake.set_listing(&a, 10);
    let sold: Vec<OrderEvent> = (1..=5)
        .map(|units| fake.sell(&a, units % 2 + 1).unwrap())
        .collect();
    let ids: std::collections::HashSet<&str> =
        sold.iter().map(|e| e.external_order_id.as_str()).collect();
    assert_eq!(ids.len(), 5, "order ids are unique");

    let empty = FakeMarketplace::new(Platform::Ebay);
    let page = empty.fetch_orders(None).await.unwrap();
    assert_eq!(
        (page.events.len(), page.next_cursor.as_str(), page.more),
        (0, "0", false)
    );

    let mut cursor = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = fake.fetch_orders(cursor.clone()).await.unwrap();
        pages += 1;
        assert!(page.events.len() <= 2);
        seen.extend(page.events);
        cursor = Some(page.next_cursor);
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, sold);
    assert_eq!(cursor.as_deref(), Some("5"));

    let page = fake.fetch_orders(cursor.clone()).await.unwrap();
    assert!(page.events.is_empty() && !page.more);
    assert_eq!(page.next_cursor, "5", "an empty page keeps the cursor");

    let later = fake.sell(&a, 1).unwrap();
    let page = fake.fetch_orders(cursor).await.unwrap();
    assert_eq!(
        (page.events, page.next_cursor),
        (vec![later], "6".to_string())
    );

    for bad in ["7", "x", "-1"] {
        let error = fake.fetch_orders(Some(bad.into())).await.unwrap_err();
        assert_eq!(error.kind(), "invalid", "{bad}");
    }
}

#[tokio::test(start_paused = true)]
async fn throttle_all_counts_every_reply_and_applies_nothing() {
    let fake = FakeMarketplace::new(Platform::Shopify).with_bucket(100, 10.0);
    fake.set_throttle_all(true);
    let push = fake.push_quantities(vec![item("A", 3)]).await;
    assert_eq!(throttled_after(push), THROTTLE_ALL_RETRY_AFTER);
    assert!(fake.read_quantities(vec![sku("A")]).await.is_err());
    assert!(fake.fetch_orders(None).await.is_err());
    assert_eq!((fake.requests(), fake.throttled_replies()), (3, 3));
    assert_eq!(fake.pushes(), 0);
    assert_eq!(fake.listing(&sku("A")), None);
    assert_eq!(fake.bucket_tokens(), Some(100.0), "no token taken");

    fake.set_throttle_all(false);
    assert!(fake.push_quantities(vec![item("A", 3)]).await.is_ok());
    assert_eq!(
        (fake.requests(), fake.throttled_replies(), fake.pushes()),
        (4, 3, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_over_the_batch_size_is_refused() {
    let fake = FakeMarketplace::new(Platform::Ebay);
    let batch = |n: usize| {
        (0..n)
            .map(|i| item_showing(&format!("S{i}"), 1, None))
            .collect::<Vec<_>>()
    };
    let error = fake.push_quantities(batch(26)).await.unwrap_err();
    assert!(matches!(
        error,
        MarketplaceError::Permanent {
            kind: PermanentKind::Invalid,
            ..
        }
    ));
    assert!(
        fake.listings().is_empty(),
        "nothing of a refused batch applies"
    );
    assert_eq!(fake.push_quantities(batch(25)).await.unwrap().len(), 25);
    assert_eq!((fake.pushes(), fake.failed_replies()), (1, 1));

    let etsy = FakeMarketplace::new(Platform::Etsy);
    assert!(etsy.push_quantities(batch(2)).await.is_err());
    assert!(etsy.push_quantities(batch(1)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn latency_delays_answers_by_exactly_the_configured_time() {
    let fake = FakeMarketplace::new(Platform::Shopify);
    let latency = Duration::from_millis(150);
    fake.set_latency(latency);
    let start = Instant::now();
    let (pushed, read) = tokio::join!(
        fake.push_quantities(vec![item("A", 0)]),
        fake.read_quantities(vec![sku("A")]),
    );
    assert_eq!(Instant::now() - start, latency, "concurrent calls overlap");
    assert!(pushed.is_ok());
    assert!(read.is_ok());
    assert_eq!(fake.first_confirmed(&sku("A"), 0), Some(start + latency));

    let before = Instant::now();
    fake.fetch_orders(None).await.unwrap();
    assert_eq!(Instant::now() - before, latency);

    fake.set_latency(Duration::ZERO);
    let before = Instant::now();
    fake.fetch_orders(None).await.unwrap();
    assert_eq!(Instant::now(), before);
}

#[tokio::test(start_paused = true)]
async fn injected_failures_fail_calls_and_are_counted() {
    let fake = FakeMarketplace::new(Platform::Ebay);
    fake.fail_next(2, MarketplaceError::Transient("502".into()));
    for _ in 0..2 {
        let error = fake.read_quantities(vec![]).await.unwrap_err();
        assert_eq!(error, MarketplaceError::Transient("502".into()));
    }
    assert!(fake.read_quantities(vec![]).await.is_ok());

    fake.set_fail_all(Some(MarketplaceError::Timeout));
    let error = fake.push_quantities(vec![item("A", 1)]).await.unwrap_err();
    assert_eq!(error, MarketplaceError::Timeout);
    assert_eq!(fake.listing(&sku("A")), None);
    fake.set_fail_all(Some(MarketplaceError::Throttled { retry_after: None }));
    assert!(fake.fetch_orders(None).await.is_err());
    fake.set_fail_all(None);

    fake.set_item_failure(
        &sku("B"),
        Some(MarketplaceError::Permanent {
            kind: PermanentKind::ListingSuspended,
            message: "suspended".into(),
        }),
    );
    let outcomes = fake
        .push_quantities(vec![item("A", 1), item("B", 1)])
        .await
        .unwrap();
    assert!(matches!(outcomes[0], PushOutcome::Confirmed { .. }));
    assert!(matches!(outcomes[1], PushOutcome::Failed { .. }));
    assert_eq!(fake.listing(&sku("B")), None);

    assert_eq!(fake.requests(), 6);
    assert_eq!(fake.failed_replies(), 3);
    assert_eq!(
        fake.throttled_replies(),
        1,
        "an injected Throttled counts as throttled"
    );
    assert_eq!((fake.reads(), fake.pushes()), (1, 1));
}

#[actix::test]
async fn clones_share_state_through_dyn_marketplace_under_actix_paused_time() {
    tokio::time::pause();
    let fake = FakeMarketplace::new(Platform::Shopify).with_bucket(1, 1.0);
    let engine: Arc<dyn Marketplace> = Arc::new(fake.clone());
    assert_eq!(engine.platform(), Platform::Shopify);
    fake.set_latency(Duration::from_millis(40));

    let start = Instant::now();
    engine.push_quantities(vec![item("A", 4)]).await.unwrap();
    assert_eq!(fake.listing(&sku("A")), Some(4));
    fake.sell(&sku("A"), 1).unwrap();

    let wait = throttled_after(engine.fetch_orders(None).await);
    tokio::time::sleep(wait).await;
    let page = engine.fetch_orders(None).await.unwrap();
    assert_eq!(page.events.len(), 1);
    // Paused after the runtime started, tokio's timer rounds each sleep up to its next
    // millisecond tick: never early, at most a millisecond late per sleep (three here).
    let elapsed = Instant::now() - start;
    assert!(
        elapsed >= Duration::from_millis(1080) && elapsed < Duration::from_millis(1084),
        "{elapsed:?}"
    );
    let listed = engine.read_quantities(vec![sku("A")]);
    assert!(listed.await.is_err(), "the bucket is shared by the clones");
    assert_eq!(fake.requests(), 4);
}
