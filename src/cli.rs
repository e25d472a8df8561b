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
    /// Runs the service on demo clients connected to mock marketplaces with live shoppers, serves
    /// the API and `/metrics`, and shows orders, oversells and sync risk live (until Ctrl-C or
    /// `--duration`).
    #[cfg(feature = "mocks")]
    Demo(DemoArgs),
    /// Serves one mock marketplace speaking the platform's real wire format, with shoppers,
    /// throttling and faults driven through `/_mock/` (runs until SIGINT or SIGTERM).
    #[cfg(feature = "mocks")]
    MockMarketplace(MockMarketplaceArgs),
    /// Prints signed sample deliveries of the Shopify, Etsy and eBay mocks as JSON, for
    /// `.ci/sdk-verify` (hidden: a CI tool, not a command of the service).
    #[cfg(feature = "mocks")]
    #[command(hide = true)]
    SdkSamples(SdkSamplesArgs),
    /// Runs the service: the agency API over the data directory, until SIGINT or SIGTERM.
    Serve(ServeArgs),
}

/// Options of `shelfsync serve` (each overrides the config file and the environment).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A TOML configuration file (see `config.rs` for the keys).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The API's address (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Where the database and the key file live (default ./shelfsync-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Options of `shelfsync mock-marketplace`.
#[cfg(feature = "mocks")]
#[derive(Debug, Clone, Args)]
pub struct MockMarketplaceArgs {
    /// The platform to mock: shopify, etsy, amazon, walmart or ebay.
    #[arg(long, value_parser = parse_platform)]
    pub platform: crate::platforms::Platform,
    /// Where to listen; port 0 picks a free port (printed on the first line).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// The one credential the mock accepts, in the platform's own auth header(s).
    #[arg(long, default_value = crate::platforms::mock::DEFAULT_TOKEN)]
    pub token: String,
    /// The platform plan whose limits apply (`default`, the platform's own plans, or `unlimited`).
    #[arg(long, default_value = "default")]
    pub plan: String,
    /// Seed of the mock's random draws (faults; shoppers bring their own).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// actix-web worker threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
}

/// Options of the hidden `shelfsync sdk-samples`.
#[cfg(feature = "mocks")]
#[derive(Debug, Clone, Args)]
pub struct SdkSamplesArgs {
    /// Seed of the mocks (eBay's key pair follows it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[cfg(feature = "mocks")]
fn parse_platform(value: &str) -> Result<crate::platforms::Platform, String> {
    crate::platforms::Platform::parse(value).ok_or_else(|| {
        format!("unknown platform {value:?}: expected shopify, etsy, amazon, walmart or ebay")
    })
}

/// Options of `shelfsync demo`.
#[cfg(feature = "mocks")]
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How long the shoppers buy, in seconds, once every listing is in step; without it the demo
    /// runs until SIGINT (Ctrl-C) or SIGTERM.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration: Option<u64>,
    /// Number of demo clients (1–8).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub clients: u8,
    /// The API's (and `/metrics`') address; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Keep the data (database, vault key) in this new or empty directory instead of a temporary
    /// one that is removed at the end.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seed of the catalogs and of the shoppers' random choices.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[cfg(feature = "mocks")]
impl Default for DemoArgs {
    /// The command line's defaults: three clients until a signal, on a free loopback port.
    fn default() -> Self {
        DemoArgs {
            duration: None,
            clients: 3,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            seed: 7,
        }
    }
}

#[cfg(all(test, feature = "mocks"))]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_options_are_bounded() {
        assert!(Cli::try_parse_from(["shelfsync", "demo", "--duration", "0"]).is_err());
        assert!(Cli::try_parse_from(["shelfsync", "demo", "--clients", "9"]).is_err());
        assert!(Cli::try_parse_from(["shelfsync", "demo", "--seconds", "5"]).is_err());
        let Command::Demo(args) = Cli::try_parse_from(["shelfsync", "demo"]).unwrap().command
        else {
            panic!("demo parses as the demo");
        };
        let defaults = DemoArgs::default();
        assert_eq!(
            (args.duration, args.clients, args.listen, args.seed),
            (None, 3, defaults.listen, defaults.seed)
        );
        let Command::Demo(args) = Cli::try_parse_from([
            "shelfsync",
            "demo",
            "--duration",
            "20",
            "--listen",
            "127.0.0.1:9400",
        ])
        .unwrap()
        .command
        else {
            panic!("demo parses as the demo");
        };
        assert_eq!(args.duration, Some(20));
        assert_eq!(args.listen.port(), 9400);
    }

    #[test]
    fn mock_marketplace_needs_a_known_platform() {
        assert!(Cli::try_parse_from(["shelfsync", "mock-marketplace"]).is_err());
        assert!(
            Cli::try_parse_from(["shelfsync", "mock-marketplace", "--platform", "myspace"])
                .is_err()
        );
        let parsed =
            Cli::try_parse_from(["shelfsync", "mock-marketplace", "--platform", "etsy"]).unwrap();
        let Command::MockMarketplace(args) = parsed.command else {
            panic!("mock-marketplace parses as itself");
        };
        assert_eq!(args.platform, crate::platforms::Platform::Etsy);
        assert_eq!(
            (args.token.as_str(), args.plan.as_str()),
            ("mock-token", "default")
        );
        assert_eq!(args.listen.port(), 0);
    }

    #[test]
    fn sdk_samples_is_a_hidden_command() {
        use clap::CommandFactory as _;
        let parsed = Cli::try_parse_from(["shelfsync", "sdk-samples", "--seed", "7"]).unwrap();
        let Command::SdkSamples(args) = parsed.command else {
            panic!("sdk-samples parses as itself");
        };
        assert_eq!(args.seed, 7);
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("sdk-samples"), "{help}");
    }
}
