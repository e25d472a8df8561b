use proptest::prelude::*;

use super::*;

fn sku(name: &str) -> Sku {
    Sku::parse(name).unwrap()
}

fn skus_of(batch: &[PushItem]) -> Vec<&str> {
    batch.iter().map(|item| item.sku.as_str()).collect()
}

/// A queue whose SKUs are all confirmed at `listed` and in step.
fn settled(
    order: PushOrder,
    compare_and_set: bool,
    listed: &[(&str, u32)],
    now: Instant,
) -> PushQueue {
    let mut queue = PushQueue::new(order, compare_and_set);
    for (name, quantity) in listed {
        queue.set_target(&sku(name), *quantity, 1, now);
        queue.set_confirmed(&sku(name), *quantity, now);
    }
    assert_eq!(queue.stats(now).pending, 0);
    queue
}

#[test]
fn changes_coalesce_to_the_latest_target() {
    let now = Instant::now();
    let mut queue = settled(PushOrder::RiskFirst, true, &[("HAT", 500)], now);
    for (seq, target) in (0..1000u32).rev().enumerate() {
        queue.set_target(&sku("HAT"), target, seq as u64 + 2, now);
    }
    let batch = queue.next_batch(250, now);
    assert_eq!(
        batch.len(),
        1,
        "one SKU, one push, whatever the number of changes"
    );
    assert_eq!(
        (batch[0].quantity, batch[0].previous, batch[0].ledger_seq),
        (0, Some(500), 1001)
    );
    assert!(
        queue.next_batch(250, now).is_empty(),
        "nothing is sent twice while in flight"
    );
}

#[test]
fn risk_first_sends_zero_outs_then_decreases_by_exposure_then_increases() {
    let now = Instant::now();
    let listed = [("UP", 5), ("SMALL-DROP", 10), ("BIG-DROP", 10), ("ZERO", 3)];
    let mut queue = settled(PushOrder::RiskFirst, true, &listed, now);
    let later = now + Duration::from_secs(1);
    queue.set_target(&sku("UP"), 9, 2, now);
    queue.set_target(&sku("SMALL-DROP"), 9, 3, later);
    queue.set_target(&sku("BIG-DROP"), 2, 4, later);
    queue.set_target(&sku("ZERO"), 0, 5, later);
    let batch = queue.next_batch(10, later);
    assert_eq!(
        skus_of(&batch),
        vec!["ZERO", "BIG-DROP", "SMALL-DROP", "UP"]
    );
}

#[test]
fn a_listing_at_zero_is_restored_before_decreases_but_after_zero_outs() {
    let now = Instant::now();
    let listed = [("SOLD-OUT", 0), ("BIG-DROP", 20), ("ZERO", 3), ("UP", 4)];
    let mut queue = settled(PushOrder::RiskFirst, true, &listed, now);
    let targets = [("UP", 9), ("BIG-DROP", 2), ("SOLD-OUT", 6), ("ZERO", 0)];
    for (seq, (name, target)) in (2..).zip(targets) {
        queue.set_target(&sku(name), target, seq, now);
    }
    assert_eq!(
        skus_of(&queue.next_batch(10, now)),
        vec!["ZERO", "SOLD-OUT", "BIG-DROP", "UP"],
        "a listing at 0 turns every shopper away; one at 4 still sells"
    );
}

/// A marketplace sale that took the last unit makes an increase a restore: when the queue knows
/// the sale came after its last push (the belief drops to 0), and when it cannot tell (the belief
/// stays the pushed quantity, for the no-re-raise rule, but the listing may be at 0).
#[test]
fn a_listing_the_marketplace_may_have_sold_out_ranks_as_a_restore() {
    for sold_after_the_push in [true, false] {
        let start = Instant::now();
        let listed = [("HAT", 1), ("DROP", 10)];
        let mut queue = settled(PushOrder::RiskFirst, true, &listed, start);
        let pushed = start + Duration::from_secs(1);
        queue.confirm(&sku("HAT"), 1, pushed);
        // The feed read brings a sale of HAT made after `sold_after`.
        let sold_after = if sold_after_the_push { pushed } else { start };
        let read = pushed + Duration::from_secs(1);
        queue.note_marketplace_sale(&sku("HAT"), 1, sold_after, read);
        queue.set_target(&sku("HAT"), 6, 3, read);
        queue.set_target(&sku("DROP"), 3, 4, read);
        let batch = queue.next_batch(1, read);
        assert_eq!(skus_of(&batch), vec!["HAT"], "HAT may turn shoppers away");
        let belief = if sold_after_the_push { 0 } else { 1 };
        assert_eq!(batch[0].previous, Some(belief));
    }
}

/// Regression test of the starvation the scheduler bench found (listings left at 0 after a
/// receipt while every decrease went first: 506 shoppers turned away while stock existed against
/// FIFO's 106). Under a standing backlog of decreases on other SKUs, an increase from a listing at
/// 0 waits for none of them, and one from a listing that still sells waits only until the
/// marketplace reports it sold out.
#[test]
fn a_stream_of_decreases_cannot_hold_an_increase_once_it_loses_sales() {
    let start = Instant::now();
    let listed = [("SOLD-OUT", 0), ("LOW", 3)];
    let mut queue = settled(PushOrder::RiskFirst, true, &listed, start);
    queue.set_target(&sku("SOLD-OUT"), 10, 2, start);
    queue.set_target(&sku("LOW"), 10, 3, start);
    let push_interval = Duration::from_millis(500);
    let sold_out_at_step = 100;
    let mut pushed_at = HashMap::new();
    for step in 0..200u32 {
        let now = start + push_interval * step;
        // One new decrease per push slot on top of a backlog of five: it never drains.
        for extra in 0..if step == 0 { 6 } else { 1 } {
            let name = sku(&format!("DROP-{step}-{extra}"));
            queue.set_target(&name, 20, 1, start);
            queue.set_confirmed(&name, 20, start);
            queue.set_target(&name, 1, u64::from(step) + 4, now);
        }
        if step == sold_out_at_step {
            queue.note_marketplace_sale(&sku("LOW"), 3, start, now);
        }
        let batch = queue.next_batch(1, now);
        queue.confirm(&batch[0].sku, batch[0].quantity, now);
        pushed_at.insert(batch[0].sku.as_str().to_string(), step);
    }
    assert_eq!(pushed_at["SOLD-OUT"], 0, "a listing at 0 goes first");
    assert_eq!(
        pushed_at["LOW"], sold_out_at_step,
        "a listing that still sells waits, and goes in the slot after it sells out"
    );
}

#[test]
fn fifo_sends_in_the_order_changes_became_pending() {
    let now = Instant::now();
    let listed = [("A", 5), ("B", 10), ("C", 3)];
    let mut queue = settled(PushOrder::Fifo, true, &listed, now);
    queue.set_target(&sku("A"), 9, 2, now);
    queue.set_target(&sku("B"), 1, 3, now);
    queue.set_target(&sku("C"), 0, 4, now);
    queue.set_target(&sku("A"), 8, 5, now);
    assert_eq!(
        skus_of(&queue.next_batch(10, now)),
        vec!["A", "B", "C"],
        "A keeps its place"
    );
}

#[test]
fn batches_fill_to_the_limit() {
    let now = Instant::now();
    let mut queue = PushQueue::new(PushOrder::RiskFirst, true);
    for index in 0..30 {
        queue.set_target(&sku(&format!("S{index}")), 1, 1, now);
    }
    assert_eq!(queue.next_batch(25, now).len(), 25);
    assert_eq!(queue.next_batch(25, now).len(), 5);
    assert_eq!(queue.stats(now).in_flight, 30);
}

#[test]
fn a_target_changed_during_a_push_is_sent_after_it() {
    let now = Instant::now();
    let mut queue = settled(PushOrder::RiskFirst, true, &[("HAT", 5)], now);
    queue.set_target(&sku("HAT"), 4, 2, now);
    let first = queue.next_batch(1, now);
    queue.set_target(&sku("HAT"), 3, 3, now);
    assert!(queue.next_batch(1, now).is_empty());
    assert_eq!(
        queue.confirm(&sku("HAT"), first[0].quantity, now),
        None,
        "4 is not the target any more"
    );
    let second = queue.next_batch(1, now);
    assert_eq!((second[0].quantity, second[0].previous), (3, Some(4)));
    let lag = queue
        .confirm(&sku("HAT"), 3, now + Duration::from_millis(30))
        .unwrap();
    assert_eq!(lag.lag, Duration::from_millis(30));
    assert_eq!(queue.stats(now).pending, 0);
}

#[test]
fn a_lost_compare_and_set_pushes_again_against_the_actual_value() {
    let now = Instant::now();
    let mut queue = settled(PushOrder::RiskFirst, true, &[("HAT", 5)], now);
    queue.set_target(&sku("HAT"), 8, 2, now);
    queue.next_batch(1, now);
    queue.stale(&sku("HAT"), Some(4), now);
    let retry = queue.next_batch(1, now);
    assert_eq!((retry[0].quantity, retry[0].previous), (8, Some(4)));
}

#[test]
fn without_compare_and_set_an_increase_waits_for_the_order_feed() {
    let start = Instant::now();
    let mut queue = settled(PushOrder::RiskFirst, false, &[("HAT", 5)], start);
    queue.note_feed_read(start);
    queue.set_target(&sku("HAT"), 4, 2, start);
    let pushed_at = start + Duration::from_secs(1);
    assert_eq!(
        queue.next_batch(1, pushed_at).len(),
        1,
        "decreases never wait"
    );
    queue.confirm(&sku("HAT"), 4, pushed_at);
    queue.set_target(&sku("HAT"), 7, 3, pushed_at);
    assert!(
        queue.next_batch(1, pushed_at).is_empty(),
        "the feed was read before the last push"
    );
    assert!(!queue.has_sendable());
    queue.note_feed_read(pushed_at + Duration::from_millis(500));
    assert_eq!(
        queue.next_batch(1, pushed_at).len(),
        1,
        "the feed is read past the last push"
    );
}

#[test]
fn with_compare_and_set_an_increase_goes_at_once() {
    let start = Instant::now();
    let mut queue = settled(PushOrder::RiskFirst, true, &[("HAT", 5)], start);
    queue.set_target(&sku("HAT"), 4, 2, start);
    queue.next_batch(1, start);
    queue.confirm(&sku("HAT"), 4, start);
    queue.set_target(&sku("HAT"), 7, 3, start);
    assert_eq!(queue.next_batch(1, start)[0].previous, Some(4));
}

#[test]
fn a_sale_on_this_marketplace_needs_no_push_when_the_target_follows() {
    let now = Instant::now();
    let mut queue = settled(PushOrder::RiskFirst, true, &[("HAT", 5)], now);
    let later = now + Duration::from_secs(1);
    queue.note_marketplace_sale(&sku("HAT"), 1, now, later);
    queue.set_target(&sku("HAT"), 4, 2, later);
    assert_eq!(queue.stats(later).pending, 0);
    assert!(queue.next_batch(10, later).is_empty());
}

#[test]
fn a_sale_that_may_predate_our_last_push_is_not_assumed_decremented() {
    // The re-raise race without compare-and-set: our push of 5 may have landed after the
    // marketplace's own decrement and overwritten it, so the listing must be pushed again.
    let start = Instant::now();
    let mut queue = settled(PushOrder::RiskFirst, false, &[("HAT", 3)], start);
    queue.note_feed_read(start);
    let pushed = start + Duration::from_secs(1);
    queue.set_target(&sku("HAT"), 5, 2, pushed);
    queue.next_batch(1, pushed);
    queue.confirm(&sku("HAT"), 5, pushed);
    // The feed page read from `start` holds a sale: it may have happened before the push.
    let read = pushed + Duration::from_secs(1);
    queue.note_marketplace_sale(&sku("HAT"), 1, start, read);
    queue.set_target(&sku("HAT"), 4, 3, read);
    assert_eq!(
        queue.next_batch(1, read)[0].quantity,
        4,
        "the listing is corrected to the truth"
    );
}

#[test]
fn an_older_ledger_state_never_overwrites_a_newer_target() {
    let now = Instant::now();
    let mut queue = settled(PushOrder::RiskFirst, true, &[("HAT", 5)], now);
    queue.set_target(&sku("HAT"), 2, 9, now);
    queue.set_target(&sku("HAT"), 5, 4, now);
    assert_eq!(queue.listing(&sku("HAT")).unwrap().0, 2);
}

#[test]
fn an_adopted_listing_pushes_nothing_when_the_first_target_matches_it() {
    let now = Instant::now();
    let mut queue = PushQueue::new(PushOrder::RiskFirst, false);
    assert!(queue.adopt_listed(&sku("HAT"), 7, now));
    assert!(queue.adopt_listed(&sku("CAP"), 7, now));
    assert_eq!(queue.stats(now).pending, 0, "adopted listings are in step");
    queue.set_target(&sku("HAT"), 7, 3, now);
    queue.set_target(&sku("CAP"), 5, 4, now);
    let batch = queue.next_batch(10, now);
    assert_eq!(
        skus_of(&batch),
        vec!["CAP"],
        "only the listing whose target differs"
    );
    assert_eq!(batch[0].previous, Some(7));
    // An adoption never overrides a push in flight; without one, it is what a never-confirmed
    // listing would otherwise have to push.
    assert!(!queue.adopt_listed(&sku("CAP"), 7, now));
    let mut fresh = PushQueue::new(PushOrder::RiskFirst, false);
    fresh.set_target(&sku("HAT"), 7, 3, now);
    assert_eq!(skus_of(&fresh.next_batch(10, now)), vec!["HAT"]);
}

#[test]
fn exposure_counts_units_listed_beyond_target() {
    let now = Instant::now();
    let mut queue = settled(
        PushOrder::RiskFirst,
        true,
        &[("A", 10), ("B", 3), ("C", 1)],
        now,
    );
    queue.set_target(&sku("A"), 4, 2, now);
    queue.set_target(&sku("B"), 0, 3, now);
    queue.set_target(&sku("C"), 6, 4, now);
    let later = now + Duration::from_millis(250);
    let stats = queue.stats(later);
    assert_eq!(
        (stats.exposure_units, stats.skus_at_risk, stats.pending),
        (9, 2, 3)
    );
    assert_eq!(stats.oldest_pending_ms, Some(250));
    // An increase in flight counts: the marketplace may already show it.
    queue.next_batch(10, later);
    queue.set_target(&sku("C"), 2, 5, later);
    assert_eq!(queue.stats(later).exposure_units, 6 + 3 + 4);
}

#[derive(Debug, Clone)]
enum Op {
    Target(u8, u32),
    Push(usize),
    ConfirmAll,
    FailOne,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (0..6u8, 0..20u32).prop_map(|(sku, target)| Op::Target(sku, target)),
        2 => (1..4usize).prop_map(Op::Push),
        1 => Just(Op::ConfirmAll),
        1 => Just(Op::FailOne),
    ];
    prop::collection::vec(op, 1..80)
}

proptest! {
    /// Whatever happens, batches stay within their size, never carry a SKU twice, and once the
    /// changes stop and every push is confirmed the marketplace lists exactly the targets.
    #[test]
    fn the_queue_converges_to_the_targets(ops in ops(), fifo in any::<bool>()) {
        let now = Instant::now();
        let order = if fifo { PushOrder::Fifo } else { PushOrder::RiskFirst };
        let mut queue = PushQueue::new(order, true);
        let mut marketplace: HashMap<Sku, u32> = HashMap::new();
        let mut in_flight: Vec<PushItem> = Vec::new();
        let mut targets: HashMap<Sku, u32> = HashMap::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Target(index, target) => {
                    let name = sku(&format!("S{index}"));
                    queue.set_target(&name, target, step as u64, now);
                    targets.insert(name, target);
                }
                Op::Push(max) => {
                    let batch = queue.next_batch(max, now);
                    prop_assert!(batch.len() <= max);
                    for item in &batch {
                        prop_assert!(!in_flight.iter().any(|other| other.sku == item.sku), "{} pushed twice", item.sku);
                    }
                    in_flight.extend(batch);
                }
                Op::ConfirmAll => {
                    for item in in_flight.drain(..) {
                        marketplace.insert(item.sku.clone(), item.quantity);
                        queue.confirm(&item.sku, item.quantity, now);
                    }
                }
                Op::FailOne => {
                    if let Some(item) = in_flight.pop() {
                        queue.failed(&item.sku, now);
                    }
                }
            }
        }
        for item in in_flight.drain(..) {
            marketplace.insert(item.sku.clone(), item.quantity);
            queue.confirm(&item.sku, item.quantity, now);
        }
        loop {
            let batch = queue.next_batch(3, now);
            if batch.is_empty() {
                break;
            }
            for item in batch {
                marketplace.insert(item.sku.clone(), item.quantity);
                queue.confirm(&item.sku, item.quantity, now);
            }
        }
        prop_assert_eq!(marketplace, targets);
        prop_assert_eq!(queue.stats(now).pending, 0);
    }
}
