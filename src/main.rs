use clap::Parser;
use shelfsync::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SHELFSYNC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file or journald would keep the escape codes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        #[cfg(feature = "mocks")]
        Command::Demo(args) => shelfsync::demo::run(args),
        #[cfg(feature = "mocks")]
        Command::MockMarketplace(args) => run_mock(args),
        #[cfg(feature = "mocks")]
        Command::SdkSamples(args) => {
            let samples = shelfsync::platforms::mock::samples::sdk_samples(args.seed)?;
            println!("{}", serde_json::to_string_pretty(&samples)?);
            Ok(())
        }
        Command::Serve(args) => shelfsync::serve::run(args),
    }
}

#[cfg(feature = "mocks")]
/// `shelfsync mock-marketplace`: one mock in the foreground until SIGINT or SIGTERM.
fn run_mock(args: shelfsync::cli::MockMarketplaceArgs) -> anyhow::Result<()> {
    use std::io::Write;

    use shelfsync::platforms::mock::{MockOptions, MockServer};

    let options = MockOptions {
        listen: args.listen,
        token: args.token,
        plan: args.plan,
        seed: args.seed,
        workers: usize::from(args.workers),
        handle_signals: true,
    };
    let server = MockServer::start(args.platform, options)?;
    // The first line is the contract with scripts and the bench: they read the port from it.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", server.base_url())?;
    stdout.flush()?;
    drop(stdout);
    // Nothing more goes to stdout: a caller that read the first line may have closed it, and a
    // write to a closed pipe would end the mock.
    eprintln!(
        "platform {}; control surface at {}/_mock/info",
        args.platform,
        server.base_url()
    );
    server.wait()?;
    Ok(())
}
