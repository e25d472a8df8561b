use std::collections::HashSet;

use super::*;

#[test]
fn asins_and_order_ids_are_distinct_and_well_formed() {
    let asins: HashSet<String> = (1..=10_000).map(asin).collect();
    assert_eq!(asins.len(), 10_000);
    assert!(asins.iter().all(|a| a.len() == 10 && a.starts_with("B0")));
    let ids: HashSet<String> = (1..=10_000).map(amazon_order_id).collect();
    assert_eq!(ids.len(), 10_000);
    let id = amazon_order_id(1);
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [3, 7, 7], "{id}");
}

#[test]
fn plans_are_checked_and_the_default_table_is_the_reference() {
    let options = |plan: &str| MockOptions {
        plan: plan.to_string(),
        ..MockOptions::default()
    };
    assert!(build(&options("default")).is_ok());
    assert!(build(&options(UNLIMITED_PLAN)).is_ok());
    assert!(build(&options("gold")).is_err());
    let table = plan_table("default");
    assert!(table.contains(&(operation::GET_ORDERS, 0.0167, 20)));
    assert!(table.contains(&(operation::PATCH_LISTINGS_ITEM, 5.0, 5)));
    assert!(plan_table(UNLIMITED_PLAN)
        .iter()
        .all(|&(_, rate, burst)| rate >= 1e6 && burst >= 1_000_000));
}

#[test]
fn ids_are_uuid_shaped_and_unique() {
    let mock = AmazonMock::new(&MockOptions::default(), AmazonKnobs::default()).unwrap();
    let ids: HashSet<String> = (0..1000).map(|_| mock.next_id()).collect();
    assert_eq!(ids.len(), 1000);
    assert!(ids
        .iter()
        .all(|id| id.len() == 36 && id.split('-').count() == 5));
}

#[test]
fn due_changes_apply_in_queue_order_and_later_ones_wait() {
    let state = MockState::new(
        build(&MockOptions::default()).unwrap(),
        MockOptions::default(),
    );
    let new = [crate::platforms::mock::world::NewListing {
        sku: "A".into(),
        quantity: 1,
    }];
    let platform = Arc::clone(state.platform());
    state
        .world()
        .create_listings(&new, Utc::now(), |n, sku| platform.listing_identity(n, sku))
        .unwrap();
    let t0 = Instant::now();
    let queue = Mutex::new(VecDeque::from([
        Pending {
            due: t0,
            listing: 1,
            quantity: 5,
        },
        Pending {
            due: t0,
            listing: 1,
            quantity: 7,
        },
        Pending {
            due: t0 + Duration::from_secs(1),
            listing: 1,
            quantity: 9,
        },
    ]));
    apply_due(&queue, &state, t0);
    assert_eq!(state.world().listing(1).unwrap().quantity, 7);
    assert_eq!(queue.lock().unwrap().len(), 1);
    apply_due(&queue, &state, t0 + Duration::from_secs(1));
    assert_eq!(state.world().listing(1).unwrap().quantity, 9);
}
