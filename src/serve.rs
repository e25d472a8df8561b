//! `shelfsync serve`: loads the configuration, opens the data directory (sled database, vault key),
//! makes sure a first admin exists, and serves the API until SIGINT or SIGTERM, letting requests
//! in flight finish for `shutdown.drain_secs`.
//!
//! Output contract: the first stdout line is `listening on http://ADDR`; when the first admin's
//! token was generated (no `SHELFSYNC_ADMIN_TOKEN`), the second line is `admin token (shown once):
//! ssk_…` and it is never shown again (only its hash is stored).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::api::server::ApiServer;
use crate::api::ApiState;
use crate::auth::store::MemberStore;
use crate::cli::ServeArgs;
use crate::clients::ClientStore;
use crate::config::Config;
use crate::service::{Service, ServiceOptions};
use crate::vault::{Vault, MASTER_KEY_ENV};

/// The environment variable of the first admin's token.
pub const ADMIN_TOKEN_ENV: &str = "SHELFSYNC_ADMIN_TOKEN";
/// The shortest preset admin token accepted (a short one would be guessable).
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// Runs the service until a signal stops it.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Before the engine starts: what it records before the first scrape would otherwise be lost.
    crate::telemetry::install()?;
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data_dir) = args.data_dir {
        config.data_dir = data_dir;
    }
    // Everything is checked before anything is created: a refused start leaves no data dir behind.
    let preset = std::env::var(ADMIN_TOKEN_ENV).ok();
    if let Some(token) = &preset {
        anyhow::ensure!(
            token.len() >= MIN_ADMIN_TOKEN_LEN,
            "{ADMIN_TOKEN_ENV} must be at least {MIN_ADMIN_TOKEN_LEN} characters"
        );
    }
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let vault = Vault::open(
        &config.data_dir,
        std::env::var(MASTER_KEY_ENV).ok().as_deref(),
    )?;
    tracing::info!(source = ?vault.source(), "vault key loaded");
    let db = shelfsync_actors::storage::open_database(
        &config.data_dir.join("db"),
        config.cache_mb * 1024 * 1024,
    )?;
    let members = MemberStore::open(&db)?;
    let generated = members.ensure_admin(
        preset.as_deref(),
        &crate::platforms::mock::rfc3339(chrono::Utc::now()),
    )?;
    let clients = ClientStore::open(&db)?;
    let vault = Arc::new(vault);
    let mut options = ServiceOptions::default();
    if config.arbiters > 0 {
        options.arbiters = config.arbiters;
    }
    // Every stored client and channel is running before the API answers its first request.
    let service = actix_rt::System::new().block_on(Service::start(
        &db,
        clients.clone(),
        vault.clone(),
        options,
    ))?;
    let service = Arc::new(service);
    let state = ApiState {
        members,
        clients,
        vault,
        max_body_bytes: config.max_body_bytes,
        service: service.clone(),
    };
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let server = ApiServer::start_with(
        config.listen,
        state,
        workers,
        Some(Duration::from_secs(config.drain_secs)),
    )
    .with_context(|| format!("cannot listen on {}", config.listen))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", server.base_url())?;
    if let Some(token) = generated {
        writeln!(stdout, "admin token (shown once): {}", token.expose())?;
    }
    stdout.flush()?;
    drop(stdout);
    server.wait()?;
    service.shutdown();
    // Everything acknowledged was flushed when it was answered; this flush is for tidiness.
    db.flush()?;
    Ok(())
}
