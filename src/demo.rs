//! `shelfsync demo`: demo clients, each with its own ledger and InventoryActor, under simulated
//! shopper traffic from three marketplaces, shown live in the terminal, then every ledger checked
//! end to end.
//!
//! Today the demo exercises the foundation: ledgers, idempotent ingestion (about one order event
//! in twenty is delivered twice, as marketplaces do), oversells recorded rather than refused,
//! group commit. Mock marketplaces, listing pushes, the HTTP API and `/metrics` join it as they
//! are built (DESIGN §6).

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::inventory::ledger::MovementInput;
use shelfsync_actors::inventory::messages::{ApplyMovements, GetState, GetStock, VerifyLedger};
use shelfsync_actors::inventory::{InventoryActor, InventoryConfig};
use shelfsync_actors::runtime::BoundedStart;
use shelfsync_actors::storage::{client_tree, open_database, DEFAULT_CACHE_BYTES};

use crate::cli::DemoArgs;

const CLIENT_CODES: [&str; 8] = [
    "ACME", "BOLT", "CORA", "DUNE", "ELM", "FERN", "GALE", "HALO",
];
const CHANNELS: [&str; 3] = ["shopify", "etsy", "amazon"];
const SKUS_PER_CLIENT: usize = 12;
/// Units each SKU starts with.
const OPENING_STOCK: i64 = 40;

/// What the shoppers of one client did, as the demo saw it acknowledged.
#[derive(Debug, Default, Clone)]
struct ShopperTally {
    orders: u64,
    redeliveries: u64,
    duplicates_recognised: u64,
    oversold_units: i64,
    restocks: u64,
}

#[derive(Debug)]
struct DemoClient {
    code: ClientCode,
    inventory: Addr<InventoryActor>,
    tally: Rc<RefCell<ShopperTally>>,
}

/// Runs the demo; returns when the shoppers have stopped and every ledger has been checked.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let temporary;
    let path: PathBuf = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::tempdir().context("cannot create a temporary data directory")?;
            temporary.path().join("db")
        }
    };
    println!(
        "shelfsync demo: {} clients x {} marketplaces for {} s, ledgers in {}",
        args.clients,
        CHANNELS.len(),
        args.seconds,
        path.display()
    );
    let keep = args.data_dir.is_some();
    System::new().block_on(run_clients(args, path.clone()))?;
    if keep {
        println!("\nthe ledgers are kept in {}", path.display());
    } else {
        println!("\nthe temporary ledgers were removed (pass --data-dir DIR to keep them)");
    }
    Ok(())
}

async fn run_clients(args: DemoArgs, path: PathBuf) -> anyhow::Result<()> {
    let db = open_database(&path, DEFAULT_CACHE_BYTES)?;
    let mut clients = Vec::new();
    for code in CLIENT_CODES.iter().take(usize::from(args.clients)) {
        clients.push(start_client(&db, code).await?);
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut shoppers = Vec::new();
    for (client_index, client) in clients.iter().enumerate() {
        for (channel_index, channel) in CHANNELS.iter().enumerate() {
            let seed = args.seed
                ^ ((client_index * CHANNELS.len() + channel_index) as u64)
                    .wrapping_mul(0x9e37_79b9);
            shoppers.push(actix::spawn(shop(
                client.inventory.clone(),
                client.tally.clone(),
                channel,
                deadline,
                seed,
            )));
        }
        shoppers.push(actix::spawn(restock(
            client.inventory.clone(),
            client.tally.clone(),
            deadline,
        )));
    }
    let started = Instant::now();
    print_header();
    while Instant::now() < deadline {
        actix::clock::sleep(
            Duration::from_secs(1).min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
        for client in &clients {
            print_row(started.elapsed(), client).await?;
        }
    }
    for shopper in shoppers {
        shopper.await.context("a shopper task failed")??;
    }
    println!(
        "\nshoppers stopped; checking every ledger (gap-free journal, refold = balances, indexes):"
    );
    for client in &clients {
        let report = client.inventory.send(VerifyLedger).await??;
        let tally = client.tally.borrow().clone();
        println!(
            "  {:<5} ok: {} journal entries, {} SKUs, {} oversell exceptions; shoppers placed {} orders, \
             {} re-deliveries all recognised as duplicates: {}",
            client.code.as_str(),
            report.head_seq,
            report.skus,
            report.exceptions,
            tally.orders,
            tally.redeliveries,
            tally.redeliveries == tally.duplicates_recognised,
        );
        anyhow::ensure!(
            tally.redeliveries == tally.duplicates_recognised,
            "a re-delivered order was applied twice"
        );
    }
    Ok(())
}

async fn start_client(db: &sled::Db, code: &str) -> anyhow::Result<DemoClient> {
    let code = ClientCode::parse(code)?;
    let tree = client_tree(db, &code)?;
    let inventory =
        InventoryActor::open(code.clone(), tree, InventoryConfig::default())?.start_bounded();
    let opening: Vec<MovementInput> = (0..SKUS_PER_CLIENT)
        .map(|sku| {
            movement(
                &format!("opening-{sku}"),
                "import",
                &sku_name(&code, sku),
                "count",
                OPENING_STOCK,
            )
        })
        .collect();
    inventory.send(ApplyMovements::new(opening)).await??;
    Ok(DemoClient {
        code,
        inventory,
        tally: Rc::default(),
    })
}

fn sku_name(client: &ClientCode, index: usize) -> String {
    const PRODUCTS: [&str; 4] = ["HAT", "SCARF", "GLOVE", "SOCK"];
    const VARIANTS: [&str; 3] = ["RED", "BLUE", "GREY"];
    format!(
        "{client}-{}-{}",
        PRODUCTS[index % PRODUCTS.len()],
        VARIANTS[index / PRODUCTS.len() % VARIANTS.len()]
    )
}

fn movement(key: &str, source: &str, sku: &str, kind: &str, quantity: i64) -> MovementInput {
    MovementInput {
        key: key.into(),
        source: source.into(),
        sku: sku.into(),
        kind: kind.into(),
        quantity,
    }
}

/// One marketplace's shoppers of one client: an order every few milliseconds, about one in twenty
/// delivered twice, until the deadline.
async fn shop(
    inventory: Addr<InventoryActor>,
    tally: Rc<RefCell<ShopperTally>>,
    channel: &'static str,
    deadline: Instant,
    seed: u64,
) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let client = inventory.send(GetState).await??.client;
    let mut placed: Vec<MovementInput> = Vec::new();
    let mut order_number = 1000;
    while Instant::now() < deadline {
        actix::clock::sleep(Duration::from_millis(rng.gen_range(10..60))).await;
        let redelivery = !placed.is_empty() && rng.gen_ratio(1, 20);
        let sale = if redelivery {
            placed[rng.gen_range(0..placed.len())].clone()
        } else {
            order_number += 1;
            let sku = sku_name(&client, rng.gen_range(0..SKUS_PER_CLIENT));
            let key = format!("order:{channel}:{order_number}:1:v1");
            // One order in a hundred is a bulk order, large enough to oversell a SKU running low.
            let quantity = if rng.gen_ratio(1, 100) {
                rng.gen_range(5..=15)
            } else {
                rng.gen_range(1..=2)
            };
            movement(&key, &format!("channel:{channel}"), &sku, "sale", quantity)
        };
        let outcome = inventory
            .send(ApplyMovements::new(vec![sale.clone()]))
            .await??;
        let applied = &outcome.results[0];
        let mut tally = tally.borrow_mut();
        if redelivery {
            tally.redeliveries += 1;
            tally.duplicates_recognised += u64::from(applied.duplicate);
        } else {
            tally.orders += 1;
            tally.oversold_units += applied.oversold_units;
            placed.push(sale);
        }
    }
    Ok(())
}

/// The client's warehouse: every half second, ships what was sold and receives stock for SKUs
/// running low, so the demo runs at a steady state with the occasional oversell.
async fn restock(
    inventory: Addr<InventoryActor>,
    tally: Rc<RefCell<ShopperTally>>,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut round = 0;
    while Instant::now() < deadline {
        actix::clock::sleep(Duration::from_millis(500)).await;
        round += 1;
        let stock = inventory.send(GetStock::default()).await??;
        let mut movements = Vec::new();
        for level in stock {
            let sku = level.sku.as_str();
            if level.reserved > 0 {
                movements.push(movement(
                    &format!("ship-{round}-{sku}"),
                    "api",
                    sku,
                    "ship",
                    level.reserved,
                ));
            }
            if level.on_hand - level.reserved < 10 {
                movements.push(movement(
                    &format!("receipt-{round}-{sku}"),
                    "api",
                    sku,
                    "receipt",
                    25,
                ));
            }
        }
        if !movements.is_empty() {
            inventory.send(ApplyMovements::new(movements)).await??;
            tally.borrow_mut().restocks += 1;
        }
    }
    Ok(())
}

fn print_header() {
    println!(
        "\n{:>5}  {:<6} {:>8} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9}",
        "time",
        "client",
        "journal",
        "orders",
        "redeliv",
        "on_hand",
        "reserved",
        "available",
        "oversold",
        "rounds",
        "per round"
    );
}

async fn print_row(elapsed: Duration, client: &DemoClient) -> anyhow::Result<()> {
    let state = client.inventory.send(GetState).await??;
    let stock = client.inventory.send(GetStock::default()).await??;
    let tally = client.tally.borrow().clone();
    let sum = |field: fn(&shelfsync_actors::inventory::messages::StockLevel) -> i64| {
        stock.iter().map(field).sum::<i64>()
    };
    let per_round = state.head_seq as f64 / state.completed_rounds.max(1) as f64;
    println!(
        "{:>4}s  {:<6} {:>8} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9.1}",
        elapsed.as_secs(),
        client.code.as_str(),
        state.head_seq,
        tally.orders,
        tally.redeliveries,
        sum(|level| level.on_hand),
        sum(|level| level.reserved),
        sum(|level| level.available),
        tally.oversold_units,
        state.completed_rounds,
        per_round,
    );
    Ok(())
}
