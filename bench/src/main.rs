//! Benchmarks of shelfsync.
//!
//! `shelfsync-bench ledger` measures durable ledger throughput through the InventoryActor against
//! the same transactions written straight to sled with an ideal group commit;
//! `shelfsync-bench scheduler` measures risk-first against FIFO push order under a binding budget
//! (virtual time) and sale-to-sibling propagation through the real actors;
//! `shelfsync-bench mocks` measures the set-quantity calls per second one mock marketplace
//! sustains; `shelfsync-bench run SCENARIO` drives the real service against mock marketplaces
//! beside FIFO and interval-sync baselines (see `README.md`); `shelfsync-bench console` times the
//! operator console's overview for an agency of many clients.

mod console;
mod ledger;
mod mocks;
mod percentiles;
mod run;
mod scheduler;

use clap::{Parser, Subcommand};

/// Benchmarks of shelfsync.
#[derive(Debug, Parser)]
#[command(name = "shelfsync-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Durable events per second: the InventoryActor against raw sled, at several concurrency
    /// levels.
    Ledger(ledger::LedgerArgs),
    /// Risk-first against FIFO under a binding push budget (virtual time), and propagation of a
    /// sale to every sibling marketplace through the real actors (real time).
    Scheduler(scheduler::SchedulerArgs),
    /// Set-quantity calls per second one mock marketplace sustains, per platform, limits raised.
    Mocks(mocks::MocksArgs),
    /// A load scenario against the real service (`shelfsync serve`) and mock marketplaces,
    /// side by side with FIFO pushes and interval-sync baselines; figures from the mocks' ground
    /// truth.
    Run(run::RunArgs),
    /// The operator console's overview for many clients × SKUs: its first render and then
    /// p50 / p99 over repeated requests, through HTTP, with a signed-in session.
    Console(console::ConsoleArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Ledger(args) => ledger::run(&args),
        Command::Scheduler(args) => scheduler::run(&args),
        Command::Mocks(args) => mocks::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Console(args) => console::run(&args),
    }
}
