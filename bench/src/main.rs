//! Benchmarks of shelfsync.
//!
//! `shelfsync-bench ledger` measures durable ledger throughput through the InventoryActor against
//! the same transactions written straight to sled with an ideal group commit (see `README.md`).

mod ledger;

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Ledger(args) => ledger::run(&args),
    }
}
