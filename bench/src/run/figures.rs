//! The ground-truth figures of one variant that come from the mocks' worlds at the end (the
//! observer's sampled ones are in `observe.rs`): counts before and after the window, units
//! oversold (by SKU and by the marketplace that oversold), requests against each platform's
//! budget.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use shelfsync::platforms::mock::world::{OrderStatus, Stats};
use shelfsync::platforms::Platform;

use super::fleet::{ClientPlan, Fleet};
use super::report::Budget;
use super::scenario::{EtsyApp, Scenario};

/// Every mock's ground truth now, by fleet position.
pub fn snapshot(fleet: &Fleet) -> Vec<(Platform, Stats)> {
    fleet
        .channels
        .iter()
        .map(|channel| (channel.platform, channel.state().world().stats.clone()))
        .collect()
}

pub fn sum(stats: &[(Platform, Stats)], field: impl Fn(&Stats) -> u64) -> u64 {
    stats.iter().map(|(_, s)| field(s)).sum()
}

pub fn throttled(stats: &Stats) -> u64 {
    stats.throttled.values().sum()
}

/// Units sold (net of cancellations), units sold beyond each SKU's true stock, and the SKUs
/// oversold: a client's SKU has one stock across all its marketplaces.
pub fn oversold(
    fleet: &Fleet,
    clients: &[ClientPlan],
    after: &[(Platform, Stats)],
) -> (i64, i64, u64) {
    let mut net: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); clients.len()];
    for (channel, (_, stats)) in fleet.channels.iter().zip(after) {
        for (sku, units) in &stats.units_sold {
            let cancelled = stats.units_cancelled.get(sku).copied().unwrap_or(0);
            *net[channel.client].entry(sku.as_str()).or_default() += units - cancelled;
        }
    }
    let (mut sold, mut over, mut skus) = (0, 0, 0);
    for (client, net) in clients.iter().zip(&net) {
        for (sku, stock) in client.skus.iter().zip(&client.stock) {
            let units = net.get(sku.as_str()).copied().unwrap_or(0);
            sold += units;
            let beyond = units - i64::from(*stock);
            if beyond > 0 {
                over += beyond;
                skus += 1;
            }
        }
    }
    (sold, over, skus)
}

/// A sale (+ units) or cancellation (− units) of one SKU on one marketplace.
type SaleEvent = (DateTime<Utc>, i64, Platform);

/// Units oversold by the marketplace whose sale took a SKU beyond its stock: every sale and
/// cancellation of a client's SKU on all its marketplaces in time order; a sale's units beyond the
/// stock are that marketplace's, and a cancellation takes back the latest oversold units first.
/// The sum equals `oversold`'s units.
pub fn oversold_by_platform(fleet: &Fleet, clients: &[ClientPlan]) -> BTreeMap<Platform, i64> {
    // (client, SKU) → (when, units: + sold, − cancelled, platform).
    let mut events: BTreeMap<(usize, String), Vec<SaleEvent>> = BTreeMap::new();
    for channel in &fleet.channels {
        let world = channel.state().world();
        for order in world.orders() {
            let key = (channel.client, order.sku.clone());
            let list = events.entry(key).or_default();
            list.push((order.created_at, order.quantity, channel.platform));
            if order.status == OrderStatus::Cancelled {
                list.push((order.updated_at, -order.quantity, channel.platform));
            }
        }
    }
    let mut by_platform: BTreeMap<Platform, i64> = BTreeMap::new();
    for ((client, sku), mut list) in events {
        let Some(stock) = clients[client]
            .skus
            .iter()
            .position(|name| *name == sku)
            .map(|position| i64::from(clients[client].stock[position]))
        else {
            continue;
        };
        list.sort_by_key(|(at, units, _)| (*at, std::cmp::Reverse(*units)));
        let mut sold = 0i64;
        // Oversold units, latest last.
        let mut beyond: Vec<(Platform, i64)> = Vec::new();
        for (_, units, platform) in list {
            let over_before = (sold - stock).max(0);
            sold += units;
            let over_after = (sold - stock).max(0);
            if over_after > over_before {
                beyond.push((platform, over_after - over_before));
            }
            let mut to_take_back = over_before - over_after;
            while to_take_back > 0 {
                let Some(last) = beyond.last_mut() else { break };
                let taken = last.1.min(to_take_back);
                last.1 -= taken;
                to_take_back -= taken;
                if last.1 == 0 {
                    beyond.pop();
                }
            }
        }
        for (platform, units) in beyond {
            *by_platform.entry(platform).or_default() += units;
        }
    }
    by_platform
}

/// Requests each platform's mocks received in the window against what the platform's default
/// limits allow in it (the mocks' `default` plan; see `bench/README.md` for each bucket).
pub fn budgets(
    scenario: &Scenario,
    before: &[(Platform, Stats)],
    after: &[(Platform, Stats)],
    window: f64,
) -> BTreeMap<Platform, Budget> {
    let mut out: BTreeMap<Platform, Budget> = BTreeMap::new();
    let default_plan = scenario.plan == "default";
    for ((platform, b), (_, a)) in before.iter().zip(after) {
        let delta = |op: &str| {
            a.requests.get(op).copied().unwrap_or(0) - b.requests.get(op).copied().unwrap_or(0)
        };
        let all: u64 = a.requests.values().sum::<u64>() - b.requests.values().sum::<u64>();
        let throttled = throttled(a) - throttled(b);
        // Each account's own bucket; Etsy's and eBay's are per app, added once below.
        let (bucket, used, allowed) = match platform {
            // 100 points/s restored, 1000 deep; a mutation costs 10 points (reference §1.3).
            Platform::Shopify => (
                "graphql calls at 10 points",
                delta("graphql"),
                (100.0 * window + 1000.0) / 10.0,
            ),
            // 10 QPS / 10 000 QPD per app, every call counts (reference §2.3); added per app below.
            Platform::Etsy => ("app QPS/QPD, every call", all, 0.0),
            // patchListingsItem 5/s, burst 5, per seller (reference §3.3).
            Platform::Amazon => (
                "patchListingsItem",
                delta("patchListingsItem"),
                5.0 * window + 5.0,
            ),
            // PUT /v3/inventory 200/min, bucket of 200, per seller (reference §4.3).
            Platform::Walmart => (
                "PUT /v3/inventory",
                delta("update_inventory"),
                200.0 / 60.0 * window + 200.0,
            ),
            // Inventory API 2 000 000 a day per app (reference §5.3).
            Platform::Ebay => (
                "Inventory API calls",
                delta("bulk_update_price_quantity") + delta("get_inventory_item"),
                0.0,
            ),
            // One bucket per app and shop for every call, 10/s, burst 10 (§6.3 [U], the mock's).
            Platform::TikTok => ("shop bucket, every call", all, 10.0 * window + 10.0),
        };
        let entry = out.entry(*platform).or_insert(Budget {
            requests: 0,
            used: 0,
            allowed: 0.0,
            share: 0.0,
            bucket,
            throttled: 0,
            requests_by_operation: BTreeMap::new(),
            throttled_by_operation: BTreeMap::new(),
        });
        add_since(&mut entry.requests_by_operation, &b.requests, &a.requests);
        add_since(
            &mut entry.throttled_by_operation,
            &b.throttled,
            &a.throttled,
        );
        entry.requests += all;
        entry.used += used;
        entry.allowed += allowed;
        entry.throttled += throttled;
    }
    // Etsy's budget is per app: one for the agency, or one per client's shop.
    let etsy_apps = match scenario.etsy_app {
        EtsyApp::Shared => 1,
        EtsyApp::PerClient => before.iter().filter(|(p, _)| *p == Platform::Etsy).count(),
    };
    for (platform, budget) in &mut out {
        match platform {
            Platform::Etsy => budget.allowed = etsy_apps as f64 * (10.0 * window).min(10_000.0),
            Platform::Ebay => budget.allowed = 2_000_000.0,
            _ => {}
        }
        if !default_plan {
            budget.bucket = "not the default plan: allowed shows the default limits";
        }
        budget.share = if budget.allowed > 0.0 {
            budget.used as f64 / budget.allowed
        } else {
            0.0
        };
    }
    out
}

/// Adds to `into` each operation's count in `after` less its count in `before`, when positive.
fn add_since(
    into: &mut BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) {
    for (operation, count) in after {
        let since = count - before.get(operation).copied().unwrap_or(0);
        if since > 0 {
            *into.entry(operation.clone()).or_default() += since;
        }
    }
}
