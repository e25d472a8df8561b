//! Supervisor tests with real actors on a real ledger (real time, short intervals): injected
//! panics in an InventoryActor and a ChannelActor, and a crash-looping client next to a healthy
//! one.

use super::*;
use crate::channel::marketplace::{ListedQuantity, MarketFuture, OrderPage, PushItem, PushOutcome};
use crate::channel::messages::InjectPanic as InjectChannelPanic;
use crate::ids::Sku;
use crate::inventory::ledger::MovementInput;
use crate::inventory::messages::{ApplyMovements, GetStock, InjectPanic as InjectInventoryPanic};
use crate::platform::Platform;
use crate::storage::{client_tree, open_database, DEFAULT_CACHE_BYTES};
use crate::testing::fake_marketplace::FakeMarketplace;

struct Fixture {
    _dir: tempfile::TempDir,
    db: sled::Db,
    limiters: Arc<RateLimiters<TokioClock>>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        Self {
            _dir: dir,
            db,
            limiters: Arc::new(RateLimiters::with_clock(TokioClock)),
        }
    }

    fn supervisor(&self, code: &str) -> Addr<TenantSupervisor> {
        let client = ClientCode::parse(code).unwrap();
        let tree = client_tree(&self.db, &client).unwrap();
        let config = SupervisorConfig {
            watchdog_interval: Duration::from_millis(20),
            restart: RestartPolicy {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(100),
                quarantine_after: 3,
                window: Duration::from_secs(30),
            },
            inventory: crate::inventory::InventoryConfig {
                flusher: Some(crate::storage::DbFlusher::new(&self.db)),
                ..crate::inventory::InventoryConfig::default()
            },
        };
        TenantSupervisor::new(client, tree, self.limiters.clone(), config).start()
    }
}

fn channel_spec(code: &str, id: &str, marketplace: Arc<dyn Marketplace>) -> ChannelSpec {
    let mut config = ChannelConfig::new(
        ClientCode::parse(code).unwrap(),
        ChannelId::parse(id).unwrap(),
        marketplace.platform(),
    );
    config.poll_interval = Duration::from_millis(50);
    ChannelSpec {
        config,
        marketplace,
    }
}

fn sku(name: &str) -> Sku {
    Sku::parse(name).unwrap()
}

fn receipt(key: &str, name: &str, quantity: i64) -> ApplyMovements {
    ApplyMovements::parse(&[MovementInput {
        key: key.into(),
        source: "api".into(),
        sku: name.into(),
        kind: "receipt".into(),
        quantity,
    }])
    .expect("a valid receipt")
}

/// Waits (bounded, real time: the ledger does real I/O) until `done` holds.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        actix::clock::sleep(Duration::from_millis(10)).await;
    }
    done()
}

async fn state(supervisor: &Addr<TenantSupervisor>) -> TenantState {
    supervisor.send(GetState).await.unwrap().unwrap()
}

/// Waits until the supervisor reports a state matching `check`.
async fn state_eventually(
    supervisor: &Addr<TenantSupervisor>,
    check: impl Fn(&TenantState) -> bool,
) -> TenantState {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let current = state(supervisor).await;
        if check(&current) || Instant::now() >= deadline {
            return current;
        }
        actix::clock::sleep(Duration::from_millis(10)).await;
    }
}

async fn inventory_of(supervisor: &Addr<TenantSupervisor>) -> Addr<InventoryActor> {
    supervisor
        .send(GetInventory)
        .await
        .unwrap()
        .unwrap()
        .expect("inventory running")
}

#[actix::test]
async fn a_panicked_inventory_actor_is_respawned_and_loses_nothing_acknowledged() {
    let fixture = Fixture::new();
    let supervisor = fixture.supervisor("ACME");
    let walmart = FakeMarketplace::new(Platform::Walmart);
    let shopify = FakeMarketplace::new(Platform::Shopify);
    for (id, fake) in [("walmart", &walmart), ("shopify", &shopify)] {
        supervisor
            .send(AddChannel {
                spec: channel_spec("ACME", id, Arc::new(fake.clone())),
            })
            .await
            .unwrap()
            .unwrap();
    }
    inventory_of(&supervisor)
        .await
        .send(receipt("r1", "HAT", 10))
        .await
        .unwrap()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || walmart.listing(&sku("HAT"))
            == Some(10)
            && shopify.listing(&sku("HAT")) == Some(10))
        .await
    );

    let first = inventory_of(&supervisor).await;
    assert!(
        first.send(InjectInventoryPanic).await.is_err(),
        "the panic closes the mailbox"
    );
    let after = state_eventually(&supervisor, |state| {
        state.inventory.generation == 2
            && state
                .channels
                .iter()
                .all(|(_, child)| child.generation == 2 && child.status == ChildStatus::Running)
    })
    .await;
    assert_eq!(after.inventory.status, ChildStatus::Running);
    assert_eq!(after.inventory.restarts, 1);

    let second = inventory_of(&supervisor).await;
    let stock = second
        .send(GetStock {
            skus: Some(vec![sku("HAT")]),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stock[0].on_hand, 10,
        "the acknowledged receipt survived the panic"
    );
    // The new generations work end to end: a sale on Walmart reaches Shopify.
    walmart.sell(&sku("HAT"), 1).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || shopify.listing(&sku("HAT"))
            == Some(9))
        .await
    );
}

#[actix::test]
async fn a_panicked_channel_is_respawned_alone_and_its_pending_change_is_pushed() {
    let fixture = Fixture::new();
    let supervisor = fixture.supervisor("ACME");
    let walmart = FakeMarketplace::new(Platform::Walmart);
    let ebay = FakeMarketplace::new(Platform::Ebay);
    for (id, fake) in [("walmart", &walmart), ("ebay", &ebay)] {
        supervisor
            .send(AddChannel {
                spec: channel_spec("ACME", id, Arc::new(fake.clone())),
            })
            .await
            .unwrap()
            .unwrap();
    }
    let inventory = inventory_of(&supervisor).await;
    inventory
        .send(receipt("r1", "HAT", 4))
        .await
        .unwrap()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || walmart.listing(&sku("HAT"))
            == Some(4))
        .await
    );

    // A change walmart cannot push yet (throttled), then walmart's actor panics.
    walmart.set_throttle_all(true);
    inventory
        .send(receipt("r2", "HAT", 3))
        .await
        .unwrap()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || ebay.listing(&sku("HAT"))
            == Some(7))
        .await
    );
    let channel = supervisor
        .send(GetChannel {
            channel: ChannelId::parse("walmart").unwrap(),
        })
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(channel.send(InjectChannelPanic).await.is_err());
    let after = state_eventually(&supervisor, |state| {
        state
            .channels
            .iter()
            .any(|(id, child)| id.as_str() == "walmart" && child.generation == 2)
    })
    .await;
    assert_eq!(
        after.inventory.generation, 1,
        "the inventory was not touched"
    );
    let ebay_state = after
        .channels
        .iter()
        .find(|(id, _)| id.as_str() == "ebay")
        .unwrap();
    assert_eq!(ebay_state.1.generation, 1, "the sibling was not touched");

    walmart.set_throttle_all(false);
    assert!(
        eventually(Duration::from_secs(10), || walmart.listing(&sku("HAT"))
            == Some(7))
        .await,
        "the pending change was recovered from the ledger"
    );
}

/// A marketplace whose every push panics: a connector bug that makes its channel crash-loop.
#[derive(Debug)]
struct PanickingMarketplace;

impl Marketplace for PanickingMarketplace {
    fn platform(&self) -> Platform {
        Platform::Walmart
    }

    fn push_quantities(&self, _items: Vec<PushItem>) -> MarketFuture<Vec<PushOutcome>> {
        panic!("connector bug")
    }

    fn read_quantities(&self, _skus: Vec<Sku>) -> MarketFuture<Vec<ListedQuantity>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn fetch_orders(&self, cursor: Option<String>) -> MarketFuture<OrderPage> {
        let next_cursor = cursor.unwrap_or_else(|| "0".into());
        Box::pin(async move {
            Ok(OrderPage {
                events: Vec::new(),
                next_cursor,
                more: false,
                skipped: false,
            })
        })
    }
}

#[actix::test]
async fn a_crash_looping_channel_is_quarantined_and_another_client_is_unaffected() {
    let fixture = Fixture::new();
    let sick = fixture.supervisor("SICK");
    let healthy = fixture.supervisor("WELL");
    sick.send(AddChannel {
        spec: channel_spec("SICK", "walmart", Arc::new(PanickingMarketplace)),
    })
    .await
    .unwrap()
    .unwrap();
    let healthy_market = FakeMarketplace::new(Platform::Ebay);
    healthy
        .send(AddChannel {
            spec: channel_spec("WELL", "ebay", Arc::new(healthy_market.clone())),
        })
        .await
        .unwrap()
        .unwrap();
    let sick_inventory = inventory_of(&sick).await;
    let healthy_inventory = inventory_of(&healthy).await;

    sick_inventory
        .send(receipt("r1", "HAT", 4))
        .await
        .unwrap()
        .unwrap();
    // While the sick client's channel dies again and again, the healthy one keeps syncing.
    for round in 1..=10 {
        healthy_inventory
            .send(receipt(&format!("r{round}"), "HAT", 1))
            .await
            .unwrap()
            .unwrap();
        assert!(
            eventually(Duration::from_secs(5), || healthy_market
                .listing(&sku("HAT"))
                == Some(round))
            .await,
            "the healthy client fell behind at round {round}"
        );
    }
    let sick_state = state_eventually(&sick, |state| {
        state.channels[0].1.status == ChildStatus::Quarantined
    })
    .await;
    assert_eq!(sick_state.channels[0].1.status, ChildStatus::Quarantined);
    assert_eq!(sick_state.channels[0].1.restarts, 3);
    assert_eq!(
        sick_state.inventory.status,
        ChildStatus::Running,
        "the rest of the sick client runs on"
    );
    let healthy_state = state(&healthy).await;
    assert_eq!(healthy_state.inventory.generation, 1);
    assert_eq!(healthy_state.channels[0].1.generation, 1);
    assert_eq!(healthy_state.channels[0].1.restarts, 0);

    // A person lifts the quarantine: the channel is respawned at once (and dies again here).
    sick.send(LiftQuarantine {
        channel: Some(ChannelId::parse("walmart").unwrap()),
    })
    .await
    .unwrap()
    .unwrap();
    let lifted = state(&sick).await;
    assert!(
        lifted.channels[0].1.generation >= 4,
        "respawned after the lift: {lifted:?}"
    );
}

#[actix::test]
async fn channels_are_added_once_and_removed() {
    let fixture = Fixture::new();
    let supervisor = fixture.supervisor("ACME");
    let market = FakeMarketplace::new(Platform::Ebay);
    let spec = || channel_spec("ACME", "ebay", Arc::new(market.clone()));
    supervisor
        .send(AddChannel { spec: spec() })
        .await
        .unwrap()
        .unwrap();
    let again = supervisor
        .send(AddChannel { spec: spec() })
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(again.kind(), "channel_exists");
    supervisor
        .send(RemoveChannel {
            channel: ChannelId::parse("ebay").unwrap(),
        })
        .await
        .unwrap()
        .unwrap();
    assert!(state(&supervisor).await.channels.is_empty());
    let unknown = supervisor
        .send(RemoveChannel {
            channel: ChannelId::parse("ebay").unwrap(),
        })
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(unknown.kind(), "unknown_channel");
}
