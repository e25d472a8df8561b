//! The command line (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Keeps every marketplace listing of an agency's clients in step with one stock ledger per
/// client.
#[derive(Debug, Parser)]
#[command(name = "shelfsync", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs demo clients with simulated shopper traffic against their ledgers and shows them live.
    Demo(DemoArgs),
}

/// Options of `shelfsync demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How long the shoppers buy, in seconds (the demo stops by itself).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// Number of demo clients (1–8).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub clients: u8,
    /// Keep the ledgers in this directory instead of a temporary one that is removed at the end.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seed of the shoppers' random choices.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_options_are_bounded() {
        assert!(Cli::try_parse_from(["shelfsync", "demo", "--seconds", "0"]).is_err());
        assert!(Cli::try_parse_from(["shelfsync", "demo", "--clients", "9"]).is_err());
        let Command::Demo(args) = Cli::try_parse_from(["shelfsync", "demo"]).unwrap().command;
        assert_eq!((args.seconds, args.clients), (15, 3));
    }
}
