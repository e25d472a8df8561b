//! ChannelActor tests under paused tokio time, against the in-memory fake marketplace (its own
//! token bucket, throttle counts, its own sales) and a fake ledger standing in for the
//! InventoryActor (answers at once, so virtual time means something).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::marketplace::ListedQuantity;
use super::messages::AdoptListed;
use super::scheduler::PushOrder;
use super::waiting::WaitReason;
use super::*;
use crate::ids::{ChannelId, ClientCode, Sku};
use crate::inventory::history::{ListingEvent, ListingWhat};
use crate::inventory::ledger::MovementKind;
use crate::inventory::messages::StockLevel;
use crate::inventory::messages::{Applied, ApplyMovements, ApplyOutcome, ListingRecord};
use crate::metrics;
use crate::platform::Platform;
use crate::ratelimit::defaults::TOKEN_BUCKET_BURST_DIVISOR;
use crate::ratelimit::{AppId, RateLimitOverride, RateLimitOverrides};
use crate::testing::fake_marketplace::{Call, FakeMarketplace, NoPrevious};

/// The state of the fake ledger, shared with the test.
#[derive(Debug, Default)]
struct LedgerState {
    /// SKU → (on hand, reserved, last seq).
    balances: BTreeMap<Sku, (i64, i64, u64)>,
    seq: u64,
    applied_keys: HashMap<String, u64>,
    cursors: HashMap<ChannelId, String>,
    listings: HashMap<(ChannelId, Sku), ListingRecord>,
    /// Listing-history events, in the order received (confirmed ones from `RecordListings`).
    history: Vec<ListingEvent>,
    subscribers: Vec<(ChannelId, Recipient<StockChanged>)>,
}

impl LedgerState {
    fn level(&self, sku: &Sku) -> StockLevel {
        let (on_hand, reserved, last_seq) = self.balances.get(sku).copied().unwrap_or_default();
        StockLevel {
            sku: sku.clone(),
            on_hand,
            reserved,
            available: on_hand - reserved,
            last_seq,
        }
    }

    fn notify(&self, skus: &[Sku]) {
        let levels: Vec<StockLevel> = skus.iter().map(|sku| self.level(sku)).collect();
        for (_, subscriber) in &self.subscribers {
            subscriber
                .try_send(StockChanged {
                    levels: levels.clone(),
                })
                .expect("test channels keep up");
        }
    }
}

/// An in-memory ledger answering the InventoryActor's messages at once.
struct FakeLedger {
    state: Rc<RefCell<LedgerState>>,
}

impl Actor for FakeLedger {
    type Context = Context<Self>;
}

impl Handler<ApplyMovements> for FakeLedger {
    type Result = Result<ApplyOutcome, InventoryError>;

    fn handle(&mut self, message: ApplyMovements, _ctx: &mut Context<Self>) -> Self::Result {
        let mut state = self.state.borrow_mut();
        let mut results = Vec::new();
        let mut moved = Vec::new();
        for movement in message.movements {
            if let Some(seq) = state.applied_keys.get(movement.key.as_str()).copied() {
                results.push(Applied {
                    key: movement.key,
                    seq,
                    duplicate: true,
                    oversold_units: 0,
                    source: movement.source,
                });
                continue;
            }
            state.seq += 1;
            let seq = state.seq;
            let balance = state.balances.entry(movement.sku.clone()).or_default();
            let quantity = movement.change.quantity();
            match movement.change.kind() {
                MovementKind::Sale => balance.1 += quantity,
                MovementKind::Cancel => balance.1 -= quantity,
                _ => balance.0 += quantity,
            }
            balance.2 = seq;
            state
                .applied_keys
                .insert(movement.key.as_str().to_string(), seq);
            moved.push(movement.sku.clone());
            results.push(Applied {
                key: movement.key,
                seq,
                duplicate: false,
                oversold_units: 0,
                source: movement.source,
            });
        }
        if let Some(update) = message.cursor {
            state.cursors.insert(update.channel, update.cursor);
        }
        state.notify(&moved);
        Ok(ApplyOutcome {
            results,
            head_seq: state.seq,
        })
    }
}

impl Handler<RecordListings> for FakeLedger {
    type Result = Result<ApplyOutcome, InventoryError>;

    fn handle(&mut self, message: RecordListings, _ctx: &mut Context<Self>) -> Self::Result {
        let mut state = self.state.borrow_mut();
        for record in message.update.listings {
            if !message.update.adopted {
                let confirmed = ListingEvent {
                    channel: message.update.channel.clone(),
                    sku: record.sku.clone(),
                    at_ms: record.at_ms,
                    what: ListingWhat::Confirmed {
                        quantity: record.quantity,
                        ledger_seq: record.ledger_seq,
                    },
                };
                state.history.push(confirmed);
            }
            state
                .listings
                .insert((message.update.channel.clone(), record.sku.clone()), record);
        }
        Ok(ApplyOutcome {
            results: Vec::new(),
            head_seq: state.seq,
        })
    }
}

impl Handler<RecordListingEvents> for FakeLedger {
    type Result = Result<ApplyOutcome, InventoryError>;

    fn handle(&mut self, message: RecordListingEvents, _ctx: &mut Context<Self>) -> Self::Result {
        let mut state = self.state.borrow_mut();
        state.history.extend(message.events);
        Ok(ApplyOutcome {
            results: Vec::new(),
            head_seq: state.seq,
        })
    }
}

impl Handler<GetChannelLedgerRecord> for FakeLedger {
    type Result = Result<ChannelLedgerRecord, InventoryError>;

    fn handle(
        &mut self,
        message: GetChannelLedgerRecord,
        _ctx: &mut Context<Self>,
    ) -> Self::Result {
        let state = self.state.borrow();
        let listings = state
            .listings
            .iter()
            .filter(|((channel, _), _)| *channel == message.channel)
            .map(|(_, record)| record.clone())
            .collect();
        Ok(ChannelLedgerRecord {
            cursor: state.cursors.get(&message.channel).cloned(),
            listings,
        })
    }
}

impl Handler<GetStock> for FakeLedger {
    type Result = Result<Vec<StockLevel>, InventoryError>;

    fn handle(&mut self, _message: GetStock, _ctx: &mut Context<Self>) -> Self::Result {
        let state = self.state.borrow();
        Ok(state.balances.keys().map(|sku| state.level(sku)).collect())
    }
}

impl Handler<Subscribe> for FakeLedger {
    type Result = Result<(), InventoryError>;

    fn handle(&mut self, message: Subscribe, _ctx: &mut Context<Self>) -> Self::Result {
        let mut state = self.state.borrow_mut();
        state
            .subscribers
            .retain(|(channel, _)| *channel != message.channel);
        state.subscribers.push((message.channel, message.recipient));
        Ok(())
    }
}

struct Harness {
    ledger: Rc<RefCell<LedgerState>>,
    port: LedgerPort,
    limiters: Arc<RateLimiters<TokioClock>>,
}

impl Harness {
    fn new() -> Self {
        let ledger = Rc::new(RefCell::new(LedgerState::default()));
        let actor = FakeLedger {
            state: ledger.clone(),
        }
        .start();
        let port = LedgerPort {
            apply: actor.clone().recipient(),
            record_listings: actor.clone().recipient(),
            record_events: actor.clone().recipient(),
            channel_record: actor.clone().recipient(),
            stock: actor.clone().recipient(),
            subscribe: actor.recipient(),
        };
        Self {
            ledger,
            port,
            limiters: Arc::new(RateLimiters::with_clock(TokioClock)),
        }
    }

    /// Sets a SKU's on-hand stock (an API movement) and tells every subscribed channel.
    fn set_stock(&self, name: &str, on_hand: i64) {
        let sku = sku(name);
        let mut state = self.ledger.borrow_mut();
        state.seq += 1;
        let seq = state.seq;
        let balance = state.balances.entry(sku.clone()).or_default();
        balance.0 = on_hand + balance.1;
        balance.2 = seq;
        state.notify(&[sku]);
    }

    fn available(&self, name: &str) -> i64 {
        self.ledger.borrow().level(&sku(name)).available
    }

    fn channel(
        &self,
        id: &str,
        fake: &FakeMarketplace,
        configure: impl FnOnce(&mut ChannelConfig),
    ) -> Addr<ChannelActor> {
        self.channel_of(client(), id, fake, configure)
    }

    fn channel_of(
        &self,
        client: ClientCode,
        id: &str,
        fake: &FakeMarketplace,
        configure: impl FnOnce(&mut ChannelConfig),
    ) -> Addr<ChannelActor> {
        let platform = fake.platform();
        let mut config = ChannelConfig::new(client, ChannelId::parse(id).unwrap(), platform);
        config.poll_interval = Duration::from_secs(1);
        configure(&mut config);
        let marketplace: Arc<dyn Marketplace> = Arc::new(fake.clone());
        ChannelActor::new(
            config,
            marketplace,
            self.port.clone(),
            self.limiters.clone(),
        )
        .unwrap()
        .start_bounded()
    }
}

fn client() -> ClientCode {
    ClientCode::parse("ACME").unwrap()
}

fn sku(name: &str) -> Sku {
    Sku::parse(name).unwrap()
}

/// Lets virtual time run in 5 ms steps until `done` holds or `limit` has passed; returns whether
/// it held.
async fn run_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done()
}

/// Tells `channel` that `sku` now has `available` units (all on hand), as of ledger `seq`.
async fn change_stock(channel: &Addr<ChannelActor>, sku: &Sku, available: i64, seq: u64) {
    let level = StockLevel {
        sku: sku.clone(),
        on_hand: available,
        reserved: 0,
        available,
        last_seq: seq,
    };
    channel
        .send(StockChanged {
            levels: vec![level],
        })
        .await
        .unwrap();
}

fn push_limit(per_second: f64, burst: u32) -> RateLimitOverrides {
    let mut overrides = RateLimitOverrides::default();
    overrides.0.insert(
        Operation::PushQuantities,
        RateLimitOverride {
            per_second: Some(per_second),
            burst: Some(burst),
            per_day: None,
        },
    );
    overrides
}

#[actix::test]
async fn a_sale_on_one_channel_pushes_the_new_target_to_every_sibling_and_not_back() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 10);
    let origin = FakeMarketplace::new(Platform::Walmart);
    let siblings = [
        FakeMarketplace::new(Platform::Shopify),
        FakeMarketplace::new(Platform::Ebay),
    ];
    let _origin_actor = harness.channel("walmart", &origin, |_| {});
    let _sibling_actors: Vec<_> = siblings
        .iter()
        .enumerate()
        .map(|(index, fake)| harness.channel(&format!("sibling-{index}"), fake, |_| {}))
        .collect();
    let everyone = || std::iter::once(&origin).chain(siblings.iter());
    assert!(
        run_until(Duration::from_secs(5), || everyone()
            .all(|fake| fake.listing(&sku("HAT")) == Some(10)))
        .await
    );
    // Let a poll of the origin's (empty) feed pass, so the sale comes after a read.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pushes_before: Vec<usize> = everyone()
        .map(|fake| fake.pushes_of(&sku("HAT")).len())
        .collect();

    origin.sell(&sku("HAT"), 1).unwrap();
    assert!(
        run_until(Duration::from_secs(5), || siblings
            .iter()
            .all(|fake| fake.listing(&sku("HAT")) == Some(9)))
        .await
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    assert_eq!(harness.available("HAT"), 9, "the sale reached the ledger");
    for (fake, before) in siblings.iter().zip(&pushes_before[1..]) {
        let after = fake.pushes_of(&sku("HAT"));
        assert_eq!(
            after.len(),
            before + 1,
            "{}: one push for the sale",
            fake.platform()
        );
        assert_eq!(after.last().unwrap().quantity, 9);
    }
    assert_eq!(
        origin.pushes_of(&sku("HAT")).len(),
        pushes_before[0],
        "the origin already shows 9"
    );
    assert_eq!(origin.listing(&sku("HAT")), Some(9));
}

#[actix::test]
async fn a_sku_the_connection_does_not_list_is_never_pushed_there() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 10);
    harness.set_stock("SCARF", 4);
    let etsy = FakeMarketplace::new(Platform::Etsy).with_only_listed(&[sku("HAT")]);
    let actor = harness.channel("etsy", &etsy, |_| {});
    assert!(
        run_until(Duration::from_secs(5), || etsy.listing(&sku("HAT"))
            == Some(10))
        .await
    );
    harness.set_stock("SCARF", 3);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        etsy.pushes_of(&sku("SCARF")).is_empty(),
        "SCARF is not sold on this channel: no push, no failing retries"
    );
    let listings = actor.send(GetListings::default()).await.unwrap().unwrap();
    let skus: Vec<&str> = listings.iter().map(|view| view.sku.as_str()).collect();
    assert_eq!(skus, ["HAT"]);
    assert_eq!(
        actor.send(GetState).await.unwrap().unwrap().queue.pending,
        0
    );
}

#[actix::test]
async fn adopted_listings_push_nothing_until_the_stock_differs_and_survive_a_new_generation() {
    tokio::time::pause();
    let harness = Harness::new();
    let etsy = FakeMarketplace::new(Platform::Etsy);
    for name in ["HAT", "CAP", "SCARF"] {
        etsy.set_listing(&sku(name), 6);
    }
    let first = harness.channel("etsy", &etsy, |_| {});
    let adopted = first
        .send(AdoptListed {
            listings: ["HAT", "CAP", "SCARF"]
                .iter()
                .map(|name| ListedQuantity {
                    sku: sku(name),
                    quantity: 6,
                })
                .collect(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(adopted, 3);
    // The import's counts: HAT and CAP as the marketplace shows them, SCARF lower.
    harness.set_stock("HAT", 6);
    harness.set_stock("CAP", 6);
    harness.set_stock("SCARF", 2);
    assert!(
        run_until(Duration::from_secs(5), || etsy.listing(&sku("SCARF"))
            == Some(2))
        .await
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(etsy.pushes(), 1, "only SCARF's listing needed a push");
    let state = first.send(GetState).await.unwrap().unwrap();
    assert_eq!(state.queue.pending, 0);
    drop(first);
    let second = harness.channel("etsy", &etsy, |_| {});
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        etsy.pushes(),
        1,
        "the new generation recovered the adopted quantities"
    );
    let listings = second.send(GetListings::default()).await.unwrap().unwrap();
    assert!(listings.iter().all(|view| !view.pending));
}

#[actix::test]
async fn etsy_lists_at_most_999_and_the_capped_listing_is_in_step() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 5_000);
    let etsy = FakeMarketplace::new(Platform::Etsy);
    let actor = harness.channel("etsy", &etsy, |_| {});
    assert!(
        run_until(Duration::from_secs(5), || etsy.listing(&sku("HAT"))
            == Some(999))
        .await
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let state = actor.send(GetState).await.unwrap().unwrap();
    assert_eq!(
        state.queue.pending, 0,
        "999 is the target, not a push that never lands"
    );
}

#[actix::test]
async fn a_thousand_changes_in_a_second_stay_within_two_pushes_per_second() {
    tokio::time::pause();
    let harness = Harness::new();
    // The fake's bucket stands for the push endpoint's own limit: feed reads draw on another.
    let fake = FakeMarketplace::new(Platform::Walmart)
        .with_bucket(2, 2.0)
        .with_cost(Call::Fetch, 0)
        .with_cost(Call::Read, 0);
    let channel = harness.channel("walmart", &fake, |config| {
        config.rate_limit = push_limit(2.0, 2)
    });
    let started = Instant::now();
    for change in 0..1000i64 {
        let available = 500 + (change * 37) % 400;
        change_stock(&channel, &sku("HAT"), available, change as u64 + 1).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let final_target = 500 + (999 * 37) % 400;
    assert!(
        run_until(Duration::from_secs(10), || fake.listing(&sku("HAT"))
            == Some(final_target as u32))
        .await
    );
    let elapsed = started.elapsed().as_secs_f64();
    let pushes = fake.pushes_of(&sku("HAT"));
    let allowed = 2.0 + 2.0 * elapsed;
    assert!(
        (pushes.len() as f64) <= allowed,
        "{} pushes in {elapsed:.2} s, the limit allows {allowed:.1}",
        pushes.len()
    );
    assert_eq!(
        pushes.last().unwrap().quantity,
        final_target as u32,
        "the last push carries the final target"
    );
    assert_eq!(fake.throttled_replies(), 0);
}

/// Issue 14: a push whose connector must read the listing first (Etsy's inventory replaced
/// whole, the structure not held) is charged the read too, so the budget holds on the wire.
#[actix::test]
async fn the_calls_a_push_makes_first_are_charged_with_it() {
    tokio::time::pause();
    let harness = Harness::new();
    // Each push reads once first: two of the marketplace's tokens, which refill at 2 a second.
    // The channel paces itself at 1.35 calls a second (1.5 less its headroom) with a local
    // burst of 2: 1.35 pushes a second if only the push were charged (2.7 tokens a second,
    // draining the marketplace's bucket of 4 within seconds), 0.68 when the read is charged too.
    let fake = FakeMarketplace::new(Platform::Walmart)
        .with_bucket(4, 2.0)
        .with_cost(Call::Fetch, 0)
        .with_cost(Call::Read, 0)
        .with_reads_before_push(1);
    let channel = harness.channel("walmart", &fake, |config| {
        config.rate_limit = push_limit(1.5, 2 * TOKEN_BUCKET_BURST_DIVISOR)
    });
    let started = Instant::now();
    for change in 0..400i64 {
        let available = 100 + change % 50;
        change_stock(&channel, &sku("HAT"), available, change as u64 + 1).await;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let final_target = (100 + 399 % 50) as u32;
    assert!(
        run_until(Duration::from_secs(10), || fake.listing(&sku("HAT"))
            == Some(final_target))
        .await
    );
    let elapsed = started.elapsed().as_secs_f64();
    let pushes = fake.pushes_of(&sku("HAT")).len() as f64;
    // Two calls a push at 1.35 calls a second, after a first push from the burst.
    assert!(
        pushes <= 1.0 + 0.675 * elapsed + 1.0,
        "{pushes} pushes in {elapsed:.2} s at two calls each"
    );
    assert!(pushes >= 0.5 * elapsed, "{pushes} pushes in {elapsed:.2} s");
    assert_eq!(fake.throttled_replies(), 0, "the reads were charged");
}

#[actix::test]
async fn at_full_load_the_steady_state_draws_no_throttle() {
    tokio::time::pause();
    let harness = Harness::new();
    // Walmart's own bucket for PUT /v3/inventory: 200 a minute (reference §4.3).
    let fake = FakeMarketplace::new(Platform::Walmart)
        .with_bucket(200, 200.0 / 60.0)
        .with_cost(Call::Fetch, 0)
        .with_cost(Call::Read, 0);
    let channel = harness.channel("walmart", &fake, |_| {});
    // 20 changes a second over 50 SKUs for two minutes: far more than 200 a minute can carry.
    for tick in 0..2400u64 {
        let name = format!("SKU-{}", tick % 50);
        let available = (tick % 7) as i64 + 1;
        change_stock(&channel, &sku(&name), available, tick + 1).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let state = channel.send(GetState).await.unwrap().unwrap();
    assert!(
        fake.pushes() > 300,
        "the limit bound and pushes went on: {}",
        fake.pushes()
    );
    assert_eq!(
        fake.throttled_replies(),
        0,
        "steady state must cause zero 429s"
    );
    assert_eq!(state.throttled, 0);
}

/// Confirms 40 listings at 5, queues increases for all of them, then a zero-out; returns how long
/// the zero-out took to be confirmed.
async fn zero_out_confirm_time(order: PushOrder) -> Duration {
    let harness = Harness::new();
    let fake = FakeMarketplace::new(Platform::Walmart);
    let channel = harness.channel("walmart", &fake, |config| {
        config.order = order;
        config.rate_limit = push_limit(2.0, 1);
    });
    let names: Vec<String> = (0..40).map(|index| format!("SKU-{index:02}")).collect();
    for name in &names {
        harness.set_stock(name, 5);
    }
    harness.set_stock("HAT", 5);
    assert!(
        run_until(Duration::from_secs(60), || fake
            .listings()
            .values()
            .filter(|quantity| **quantity == 5)
            .count()
            == 41)
        .await
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for name in &names {
        harness.set_stock(name, 10);
    }
    let zeroed_at = Instant::now();
    harness.set_stock("HAT", 0);
    assert!(
        run_until(Duration::from_secs(60), || fake.listing(&sku("HAT"))
            == Some(0))
        .await
    );
    let confirmed_at = fake.first_confirmed(&sku("HAT"), 0).unwrap();
    let _ = channel.send(GetState).await;
    confirmed_at - zeroed_at
}

#[actix::test]
async fn a_zero_out_overtakes_a_backlog_of_increases() {
    tokio::time::pause();
    let risk_first = zero_out_confirm_time(PushOrder::RiskFirst).await;
    let fifo = zero_out_confirm_time(PushOrder::Fifo).await;
    println!("zero-out confirmed after {risk_first:?} risk-first, {fifo:?} FIFO (40 increases queued before it, 2 pushes/s)");
    assert!(
        risk_first <= Duration::from_secs(1),
        "risk-first took {risk_first:?}"
    );
    assert!(
        fifo >= Duration::from_secs(10),
        "FIFO took {fifo:?}: the backlog did not bind"
    );
}

/// The re-raise race: the marketplace sells while a higher push is in flight.
async fn listed_after_the_race(platform: Platform) -> (Option<u32>, i64) {
    tokio::time::pause();
    let harness = Harness::new();
    let fake = FakeMarketplace::new(platform);
    let _channel = harness.channel("market", &fake, |_| {});
    harness.set_stock("HAT", 5);
    assert!(
        run_until(Duration::from_secs(5), || fake.listing(&sku("HAT"))
            == Some(5))
        .await
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    fake.set_latency(Duration::from_millis(400));
    harness.set_stock("HAT", 7);
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.sell(&sku("HAT"), 1).unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    (fake.listing(&sku("HAT")), harness.available("HAT"))
}

#[actix::test]
async fn the_re_raise_race_ends_at_the_truth_with_compare_and_set() {
    let (listed, truth) = listed_after_the_race(Platform::Shopify).await;
    assert_eq!(truth, 6);
    assert_eq!(listed, Some(6));
}

#[actix::test]
async fn the_re_raise_race_ends_at_the_truth_without_compare_and_set() {
    let (listed, truth) = listed_after_the_race(Platform::Walmart).await;
    assert_eq!(truth, 6);
    assert_eq!(listed, Some(6));
}

#[actix::test]
async fn confirmed_listings_and_the_cursor_are_recovered_by_a_new_generation() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 4);
    let fake = FakeMarketplace::new(Platform::Shopify);
    let first = harness.channel("shopify", &fake, |_| {});
    assert!(
        run_until(Duration::from_secs(5), || fake.listing(&sku("HAT"))
            == Some(4))
        .await
    );
    fake.sell(&sku("HAT"), 1).unwrap();
    assert!(run_until(Duration::from_secs(5), || harness.available("HAT") == 3).await);
    let state = first.send(GetState).await.unwrap().unwrap();
    assert!(state.cursor.is_some());
    drop(first);
    let pushes = fake.pushes();
    let second = harness.channel("shopify", &fake, |_| {});
    tokio::time::sleep(Duration::from_secs(3)).await;
    let state = second.send(GetState).await.unwrap().unwrap();
    assert_eq!(
        state.cursor,
        harness
            .ledger
            .borrow()
            .cursors
            .get(&ChannelId::parse("shopify").unwrap())
            .cloned()
    );
    assert_eq!(
        harness.available("HAT"),
        3,
        "the sale was not applied twice"
    );
    assert_eq!(fake.listing(&sku("HAT")), Some(3));
    assert!(
        fake.pushes() <= pushes + 1,
        "the new generation knows what is listed"
    );
}

#[actix::test]
async fn reconciliation_counts_and_corrects_drift() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 4);
    let fake = FakeMarketplace::new(Platform::Walmart);
    let channel = harness.channel("walmart", &fake, |config| {
        config.reconcile_interval = Duration::from_secs(30)
    });
    assert!(
        run_until(Duration::from_secs(5), || fake.listing(&sku("HAT"))
            == Some(4))
        .await
    );
    // Someone edits the listing by hand on the marketplace.
    fake.set_listing(&sku("HAT"), 9);
    assert!(
        run_until(Duration::from_secs(60), || fake.listing(&sku("HAT"))
            == Some(4))
        .await
    );
    let state = channel.send(GetState).await.unwrap().unwrap();
    assert_eq!(state.drift_corrected, 1);
}

#[actix::test]
async fn a_throttled_marketplace_is_retried_after_its_own_wait() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 4);
    let fake = FakeMarketplace::new(Platform::Walmart);
    fake.set_throttle_all(true);
    let channel = harness.channel("walmart", &fake, |_| {});
    tokio::time::sleep(Duration::from_secs(10)).await;
    let throttled = fake.throttled_replies();
    // Retry-After is 1 s: about one push and one poll per second, not a storm.
    assert!(
        (5..=25).contains(&throttled),
        "{throttled} throttled replies in 10 s"
    );
    fake.set_throttle_all(false);
    assert!(
        run_until(Duration::from_secs(5), || fake.listing(&sku("HAT"))
            == Some(4))
        .await
    );
    let state = channel.send(GetState).await.unwrap().unwrap();
    assert!(state.throttled >= 5);
}

/// Runs 30 rounds of stock changes over 100 SKUs with a sibling channel and another client's
/// channel beside a channel whose marketplace fails (or not); returns when the sibling and the
/// other client confirmed each round, and the failing channel's final state.
async fn push_times_beside(
    failing: Option<MarketplaceError>,
) -> (Vec<Duration>, Vec<Duration>, ChannelState) {
    let harness = Harness::new();
    let sick = FakeMarketplace::new(Platform::Walmart);
    sick.set_fail_all(failing);
    let sibling = FakeMarketplace::new(Platform::Shopify);
    let other = FakeMarketplace::new(Platform::Shopify);
    let sick_channel = harness.channel("sick", &sick, |_| {});
    let _sibling = harness.channel("sibling", &sibling, |_| {});
    let _other = harness.channel_of(ClientCode::parse("BOLT").unwrap(), "other", &other, |_| {});
    let start = Instant::now();
    let (mut sibling_times, mut other_times) = (Vec::new(), Vec::new());
    for round in 1..=30i64 {
        let changed_at = Instant::now();
        for index in 0..100 {
            harness.set_stock(&format!("SKU-{index:03}"), round);
        }
        let target = Some(round as u32);
        let last = sku("SKU-099");
        assert!(
            run_until(Duration::from_secs(30), || sibling.listing(&last) == target
                && other.listing(&last) == target)
            .await
        );
        sibling_times.push(sibling.first_confirmed(&last, round as u32).unwrap() - changed_at);
        other_times.push(other.first_confirmed(&last, round as u32).unwrap() - changed_at);
        tokio::time::sleep_until(start + Duration::from_secs(round as u64 * 2)).await;
    }
    let state = sick_channel.send(GetState).await.unwrap().unwrap();
    (sibling_times, other_times, state)
}

#[actix::test]
async fn a_failing_marketplace_delays_no_sibling_and_no_other_client_and_its_queue_stays_bounded() {
    tokio::time::pause();
    let (sibling_healthy, other_healthy, _) = push_times_beside(None).await;
    let failing = MarketplaceError::Transient("503 Service Unavailable".into());
    let (sibling_sick, other_sick, sick) = push_times_beside(Some(failing)).await;
    assert_eq!(
        sibling_sick, sibling_healthy,
        "the sibling's push times are unchanged"
    );
    assert_eq!(
        other_sick, other_healthy,
        "the other client's push times are unchanged"
    );
    assert!(
        sick.queue.pending <= 100,
        "the failing channel's queue holds one entry per SKU at most: {}",
        sick.queue.pending
    );
    assert!(
        sick.failed > 0 && sick.failed < 200,
        "the failing marketplace is retried with backoff, not stormed: {} failures in 60 s",
        sick.failed
    );
    assert!(sick
        .last_error
        .as_deref()
        .is_some_and(|error| error.contains("503")));
}

#[actix::test]
async fn a_channel_emits_the_metrics_of_the_table() {
    use metrics_util::debugging::DebuggingRecorder;
    tokio::time::pause();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = ::metrics::set_default_local_recorder(&recorder);
    let harness = Harness::new();
    let fake = FakeMarketplace::new(Platform::Walmart);
    let channel = harness.channel("walmart", &fake, |config| {
        config.rate_limit = push_limit(2.0, 1);
        config.reconcile_interval = Duration::from_secs(20);
    });
    for index in 0..10 {
        harness.set_stock(&format!("SKU-{index}"), 5);
    }
    assert!(run_until(Duration::from_secs(30), || fake.listings().len() == 10).await);
    fake.set_listing(&sku("SKU-0"), 50);
    fake.fail_next(
        1,
        MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(1)),
        },
    );
    harness.set_stock("SKU-1", 0);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let _ = channel.send(GetState).await;
    let names: std::collections::HashSet<String> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, _)| key.key().name().to_string())
        .collect();
    for metric in [
        metrics::MARKETPLACE_REQUESTS_TOTAL,
        metrics::SYNC_LAG_SECONDS,
        metrics::RATELIMIT_WAIT_SECONDS,
        metrics::CHANNEL_EXPOSURE_UNITS,
        metrics::CHANNEL_SKUS_AT_RISK,
        metrics::CHANNEL_OLDEST_PENDING_SECONDS,
        metrics::CHANNEL_DRIFT_CORRECTIONS_TOTAL,
    ] {
        assert!(
            names.contains(metric.name),
            "{} was not emitted; emitted: {names:?}",
            metric.name
        );
    }
}

// ---------------------------------------------------------------- issue 12: never silently stop

/// Issue 12, cause 1: the Etsy receipts cursor re-reads the last second on purpose, so every
/// quiet poll delivered the last receipt again; the channel noted it as a new marketplace sale
/// each time, lowering what it believed the listing showed. It then pushed the same quantity
/// again every other poll (on a budget every shop shares) and could cancel a pending decrease,
/// leaving the listing above the stock with nothing pending.
#[actix::test]
async fn a_sale_read_again_is_noted_once_so_nothing_is_pushed_again_and_no_decrease_is_lost() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 5);
    let fake = FakeMarketplace::new(Platform::Etsy).with_overlap(1);
    let channel = harness.channel("etsy", &fake, |_| {});
    assert!(
        run_until(Duration::from_secs(5), || fake.listing(&sku("HAT"))
            == Some(5))
        .await
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    fake.sell(&sku("HAT"), 1).unwrap();
    assert!(run_until(Duration::from_secs(5), || harness.available("HAT") == 4).await);
    // A quiet minute: every poll delivers the sale again, and nothing is pushed.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(fake.listing(&sku("HAT")), Some(4));
    assert_eq!(
        fake.pushes_of(&sku("HAT")).len(),
        1,
        "only the first push: the marketplace made the sale itself"
    );

    // A sale elsewhere: the decrease must reach the listing whatever the polls deliver.
    harness.set_stock("HAT", 3);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(fake.listing(&sku("HAT")), Some(3));
    let state = channel.send(GetState).await.unwrap().unwrap();
    assert_eq!(state.queue.pending, 0);
    assert_eq!(state.queue.exposure_units, 0);
    assert_eq!(fake.pushes_of(&sku("HAT")).len(), 2);
}

/// Issue 12: a poll the marketplace cannot answer yet (Amazon lists an order about two minutes
/// after it was placed) is neither sent nor charged to the budget, and the channel says so.
#[actix::test]
async fn a_poll_the_marketplace_cannot_answer_yet_is_not_sent_and_the_feed_says_why() {
    tokio::time::pause();
    let harness = Harness::new();
    let fake = FakeMarketplace::new(Platform::Amazon);
    fake.hide_feed_until(Instant::now() + Duration::from_secs(10));
    let channel = harness.channel("amazon", &fake, |_| {});
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(fake.fetches(), 0);
    let state = channel.send(GetState).await.unwrap().unwrap();
    let feed = state.feed.expect("the feed waits");
    assert_eq!(feed.reason, WaitReason::FeedLag);
    assert!(feed.remaining_ms.is_some_and(|ms| ms <= 5_000), "{feed:?}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(fake.fetches() >= 1);
}

/// Issue 12: a channel with pending changes that does not push says why and until when: its
/// budget, the marketplace's Retry-After, a backoff after an error, or the order feed an
/// increase waits for.
#[actix::test]
async fn a_channel_that_does_not_push_says_why_and_until_when() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 4);
    let fake = FakeMarketplace::new(Platform::Walmart);
    let channel = harness.channel("walmart", &fake, |config| {
        config.rate_limit = push_limit(0.05, 1);
        config.poll_interval = Duration::from_secs(30);
        // Backoffs longer than the budget's 20 s, so the wait after a failure is the backoff.
        config.backoff = crate::ratelimit::BackoffConfig {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(40),
            jitter: crate::ratelimit::Jitter::Decorrelated,
        };
    });
    assert!(
        run_until(Duration::from_secs(5), || fake.listing(&sku("HAT"))
            == Some(4))
        .await
    );
    let state = || async { channel.send(GetState).await.unwrap().unwrap() };
    assert_eq!(
        state().await.waiting,
        None,
        "nothing pending, nothing waits"
    );

    // The budget: one push every 20 s (pacing at 90 %).
    harness.set_stock("HAT", 3);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let waiting = state().await.waiting.expect("a decrease waits");
    assert_eq!(waiting.reason, WaitReason::Budget);
    assert!(
        waiting.remaining_ms.is_some_and(|ms| ms > 10_000),
        "{waiting:?}"
    );
    assert!(
        run_until(Duration::from_secs(30), || fake.listing(&sku("HAT"))
            == Some(3))
        .await
    );

    // An increase waits for the order feed to be read past the last push (no re-raise), and
    // says when the next poll is.
    harness.set_stock("HAT", 6);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let waiting = state().await.waiting.expect("an increase waits");
    assert_eq!(waiting.reason, WaitReason::OrderFeed);
    assert!(waiting.remaining_ms.is_some(), "{waiting:?}");
    assert!(
        run_until(Duration::from_secs(60), || fake.listing(&sku("HAT"))
            == Some(6))
        .await
    );

    // A failure: backoff.
    fake.set_fail_all(Some(MarketplaceError::Transient("502 Bad Gateway".into())));
    harness.set_stock("HAT", 2);
    assert!(
        wait_until_reason(&channel, WaitReason::Backoff, true, Duration::from_secs(60)).await,
        "the failed push backs off"
    );
    fake.set_fail_all(None);

    // The marketplace's own throttle: its Retry-After.
    fake.set_throttle_all(true);
    assert!(
        wait_until_reason(
            &channel,
            WaitReason::RetryAfter,
            true,
            Duration::from_secs(120)
        )
        .await
    );
    fake.set_throttle_all(false);
    assert!(
        run_until(Duration::from_secs(120), || fake.listing(&sku("HAT"))
            == Some(2))
        .await
    );
    assert!(
        wait_until_reason(
            &channel,
            WaitReason::RetryAfter,
            false,
            Duration::from_secs(5)
        )
        .await
    );
}

/// Lets virtual time run until the channel's pending changes wait for `reason` (`None`: until
/// they wait for something else) or `limit` passed; returns whether they did.
async fn wait_until_reason(
    channel: &Addr<ChannelActor>,
    reason: WaitReason,
    present: bool,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let state = channel.send(GetState).await.unwrap().unwrap();
        let waits = state
            .waiting
            .is_some_and(|waiting| waiting.reason == reason);
        if waits == present {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// Issue 12: "today `serve` writes nothing while a channel is stuck". A change pending past the
/// channel's limit is counted with the reason it waits (and logged at `warn`).
#[actix::test]
async fn a_change_pending_past_the_limit_is_counted_with_its_reason() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    tokio::time::pause();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = ::metrics::set_default_local_recorder(&recorder);
    let harness = Harness::new();
    harness.set_stock("HAT", 4);
    let fake = FakeMarketplace::new(Platform::Walmart);
    fake.set_throttle_all(true);
    let channel = harness.channel("walmart", &fake, |config| {
        config.stall_warning_after = Duration::from_secs(5);
    });
    tokio::time::sleep(Duration::from_secs(7)).await;
    let state = channel.send(GetState).await.unwrap().unwrap();
    assert_eq!(state.stalls, 1, "reported once past the limit");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let state = channel.send(GetState).await.unwrap().unwrap();
    assert_eq!(state.stalls, 2, "and again when its age doubled");
    let stalls: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| key.key().name() == metrics::CHANNEL_STALLS_TOTAL.name)
        .map(|(key, _, _, value)| {
            let reason = key
                .key()
                .labels()
                .find(|label| label.key() == metrics::label::REASON)
                .map(|label| label.value().to_string())
                .unwrap_or_default();
            let count = match value {
                DebugValue::Counter(count) => count,
                other => panic!("{other:?}"),
            };
            (reason, count)
        })
        .collect();
    assert_eq!(stalls, vec![("retry_after".to_string(), 2)]);
}

/// Issue 12: the engine's belief is checked against the marketplace on every platform: a listing
/// changed behind the channel's back (by hand, or a push recorded that did not take effect) is
/// found by a read-back within the reconcile interval, counted as drift, and corrected.
#[actix::test]
async fn a_listing_that_differs_from_the_belief_is_found_and_corrected_on_every_platform() {
    tokio::time::pause();
    for platform in Platform::ALL {
        let harness = Harness::new();
        for index in 0..5 {
            harness.set_stock(&format!("SKU-{index}"), 4);
        }
        let fake = FakeMarketplace::new(platform).with_no_previous(NoPrevious::SetAlways);
        let channel = harness.channel(platform.as_str(), &fake, |config| {
            config.reconcile_interval = Duration::from_secs(20);
        });
        assert!(
            run_until(Duration::from_secs(10), || fake.listings().len() == 5
                && fake.listings().values().all(|listed| *listed == 4))
            .await,
            "{platform}"
        );
        fake.set_listing(&sku("SKU-3"), 7);
        assert!(
            run_until(Duration::from_secs(45), || fake.listing(&sku("SKU-3"))
                == Some(4))
            .await,
            "{platform}: the drift is corrected"
        );
        let state = channel.send(GetState).await.unwrap().unwrap();
        assert_eq!(state.drift_corrected, 1, "{platform}");
        assert!(
            state
                .queue
                .oldest_unverified_ms
                .is_some_and(|ms| ms <= 20_000 + 5_000),
            "{platform}: {:?}",
            state.queue.oldest_unverified_ms
        );
    }
}

/// Issue 12: a read-back costs what it really costs (Etsy: one call per listing), within the
/// read-back's part of the budget; what the budget cannot afford shows as the oldest unverified
/// listing, growing past the reconcile interval.
#[actix::test]
async fn a_read_back_the_budget_cannot_afford_shows_as_the_oldest_unverified_listing() {
    tokio::time::pause();
    let harness = Harness::new();
    for index in 0..40 {
        harness.set_stock(&format!("SKU-{index:02}"), 2);
    }
    let fake = FakeMarketplace::new(Platform::Etsy);
    // A tiny Etsy app: 2,000 calls a day (a burst of 100 calls, then one every 48 s).
    harness
        .limiters
        .configure_app(
            Platform::Etsy,
            &AppId::new("default"),
            &serde_json::from_str(r#"{"read_quantities": {"per_day": 2000}}"#).unwrap(),
        )
        .unwrap();
    let channel = harness.channel("etsy", &fake, |config| {
        config.reconcile_interval = Duration::from_secs(10);
        config.poll_interval = Duration::from_secs(3600);
    });
    assert!(run_until(Duration::from_secs(60), || fake.listings().len() == 40).await);
    tokio::time::sleep(Duration::from_secs(120)).await;
    let state = channel.send(GetState).await.unwrap().unwrap();
    let reads = fake.reads();
    // One call per listing read, never more than the read-back's part (a fifth) of the app's
    // burst and rate: 20 of the 100-call burst and one more per 240 s.
    assert!((1..=22).contains(&reads), "{reads} read calls");
    let oldest = state.queue.oldest_unverified_ms.expect("listings");
    assert!(oldest > 30_000, "{oldest} ms");
    let waiting = state.reconciliation.expect("the read-back waits");
    assert!(
        matches!(
            waiting.reason,
            WaitReason::OperationShare | WaitReason::DailyQuota | WaitReason::ClientShare
        ),
        "{waiting:?}"
    );
}

/// Issue 15: a push records what was sent (with the ledger sequence number and the policy in
/// force) and what was confirmed, and a read-back that finds the listing drifted records what the
/// marketplace showed.
#[actix::test]
async fn a_push_records_sent_and_confirmed_and_a_drifted_read_records_what_was_shown() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 4);
    let fake = FakeMarketplace::new(Platform::Walmart);
    let _channel = harness.channel("walmart", &fake, |config| {
        config.reconcile_interval = Duration::from_secs(30);
        config.policy.buffer = 1;
    });
    assert!(
        run_until(Duration::from_secs(5), || fake.listing(&sku("HAT"))
            == Some(3))
        .await
    );
    assert!(
        run_until(Duration::from_secs(1), || harness
            .ledger
            .borrow()
            .history
            .len()
            >= 2)
        .await
    );
    let seq = harness.ledger.borrow().balances[&sku("HAT")].2;
    let kinds: Vec<ListingWhat> = harness
        .ledger
        .borrow()
        .history
        .iter()
        .map(|event| event.what)
        .collect();
    let walmart_max = Platform::Walmart.max_listed_quantity();
    let policy = crate::channel::policy::ListingPolicy {
        buffer: 1,
        max: walmart_max,
        ..Default::default()
    };
    assert_eq!(
        kinds,
        vec![
            ListingWhat::Sent {
                quantity: 3,
                ledger_seq: seq,
                policy
            },
            ListingWhat::Confirmed {
                quantity: 3,
                ledger_seq: seq
            },
        ]
    );
    // Someone edits the listing by hand: the read-back records what it showed.
    fake.set_listing(&sku("HAT"), 9);
    let read = ListingWhat::Read {
        quantity: 9,
        drift: true,
    };
    assert!(
        run_until(Duration::from_secs(60), || harness
            .ledger
            .borrow()
            .history
            .iter()
            .any(|event| event.what == read))
        .await
    );
    // And the correction that follows is a push like any other.
    assert!(
        run_until(Duration::from_secs(5), || harness
            .ledger
            .borrow()
            .history
            .last()
            .map(|event| event.what)
            == Some(ListingWhat::Confirmed {
                quantity: 3,
                ledger_seq: seq
            }))
        .await
    );
}

/// A push the marketplace refuses for good is recorded with its reason; a throttle is not a
/// refusal.
#[actix::test]
async fn a_permanent_refusal_is_recorded_and_a_throttle_is_not() {
    tokio::time::pause();
    let harness = Harness::new();
    harness.set_stock("HAT", 4);
    let fake = FakeMarketplace::new(Platform::Walmart);
    fake.set_throttle_all(true);
    let _channel = harness.channel("walmart", &fake, |_| {});
    tokio::time::sleep(Duration::from_secs(5)).await;
    let refusals = |harness: &Harness| {
        harness
            .ledger
            .borrow()
            .history
            .iter()
            .filter(|event| matches!(event.what, ListingWhat::Refused { .. }))
            .count()
    };
    assert!(fake.throttled_replies() > 0);
    assert_eq!(refusals(&harness), 0, "a throttle is not a refusal");
    fake.set_throttle_all(false);
    fake.set_item_failure(
        &sku("HAT"),
        Some(MarketplaceError::Permanent {
            kind: crate::platform::PermanentKind::NotFound,
            message: "no such listing".into(),
        }),
    );
    let refused = ListingWhat::Refused {
        quantity: 4,
        ledger_seq: harness.ledger.borrow().balances[&sku("HAT")].2,
        reason: crate::inventory::history::RefusalReason::NotFound,
    };
    assert!(
        run_until(Duration::from_secs(30), || harness
            .ledger
            .borrow()
            .history
            .iter()
            .any(|event| event.what == refused))
        .await,
        "{:?}",
        harness.ledger.borrow().history
    );
}
