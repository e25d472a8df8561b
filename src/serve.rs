//! `shelfsync serve`: loads the configuration, opens the data directory (sled database, vault key),
//! makes sure a first admin exists, and serves the API until SIGINT or SIGTERM, letting requests
//! in flight finish for `shutdown.drain_secs`.
//!
//! Output contract: the first stdout line is `listening on http://ADDR`; when the first admin's
//! token was generated (no `SHELFSYNC_ADMIN_TOKEN`), the second line is `admin token (shown once):
//! ssk_…` and it is never shown again (only its hash is stored).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::api::server::{ApiServer, EdgeLimits};
use crate::api::ApiState;
use crate::auth::store::MemberStore;
use crate::cli::ServeArgs;
use crate::clients::ClientStore;
use crate::config::{Config, Flag};
use crate::service::{Service, ServiceOptions};
use crate::vault::{Secret, Vault, MASTER_KEY_ENV};

/// The environment variable of the first admin's token.
pub const ADMIN_TOKEN_ENV: &str = "SHELFSYNC_ADMIN_TOKEN";
/// The shortest preset admin token accepted (a short one would be guessable).
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// Runs the service until a signal stops it.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Before the engine starts: what it records before the first scrape would otherwise be lost.
    crate::telemetry::install()?;
    let flags = [
        args.listen.map(|listen| Flag {
            key: "listen",
            value: listen.to_string(),
        }),
        args.data_dir.map(|dir| Flag {
            key: "data_dir",
            value: dir.display().to_string(),
        }),
    ];
    let config = Config::load_with_flags(
        args.config.as_deref(),
        std::env::vars(),
        flags.into_iter().flatten(),
    )?;
    // Everything is checked before anything is created: a refused start leaves no data dir behind.
    let preset = std::env::var(ADMIN_TOKEN_ENV).ok();
    if let Some(token) = &preset {
        anyhow::ensure!(
            token.len() >= MIN_ADMIN_TOKEN_LEN,
            "{ADMIN_TOKEN_ENV} must be at least {MIN_ADMIN_TOKEN_LEN} characters"
        );
    }
    // Durable: a data directory whose entry a power cut can undo takes the database with it.
    shelfsync_actors::storage::create_dir_all_durable(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let mut options = ServiceOptions {
        reconcile_interval: std::time::Duration::from_secs(config.reconcile_secs),
        stall_warning_after: std::time::Duration::from_secs(config.stall_warning_secs),
        egress: config.egress,
        ..ServiceOptions::default()
    };
    if config.arbiters > 0 {
        options.arbiters = config.arbiters;
    }
    options.request_timeout = config.request_timeout();
    shelfsync_actors::metrics::set_per_client_labels(config.per_client_labels);
    let Started {
        db,
        state,
        service,
        generated_admin,
    } = start_service(
        &config.data_dir,
        std::env::var(MASTER_KEY_ENV).ok().as_deref(),
        preset.as_deref(),
        config.cache_mb * 1024 * 1024,
        options,
        config.max_body_bytes,
        config.edge_limits(),
    )?;
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
    if let Some(token) = generated_admin {
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

/// What [`start_service`] started: the database, the API's state with the running engine in it,
/// and the first admin's token when it was generated now.
#[derive(Debug)]
pub struct Started {
    /// The sled database under the data directory (flushed by the caller at the end).
    pub db: sled::Db,
    /// Everything the API's handlers share.
    pub state: ApiState,
    /// The engine (also in `state`), for its shutdown.
    pub service: Arc<Service>,
    /// The first admin's token, when no admin existed and none was preset (shown once).
    pub generated_admin: Option<Secret>,
}

/// The service over one data directory, shared by `serve` and the demo so that both run the same
/// wiring: installs the metrics recorder (first, so the engine's early metrics are kept), opens
/// the vault key (`master_key`, else the owner-only key file in `data_dir`) and the sled database,
/// makes sure a first admin exists (`admin_token`, else a generated one), and starts the engine
/// with every stored client and channel running. Blocking: call it outside any async runtime.
pub fn start_service(
    data_dir: &Path,
    master_key: Option<&str>,
    admin_token: Option<&str>,
    cache_bytes: u64,
    options: ServiceOptions,
    max_body_bytes: usize,
    edge: EdgeLimits,
) -> anyhow::Result<Started> {
    if let Err(error) = crate::telemetry::install() {
        // The API still runs; /metrics says why it is empty.
        tracing::warn!(%error, "no metrics recorder");
    }
    let vault = Vault::open(data_dir, master_key)?;
    tracing::info!(source = ?vault.source(), "vault key loaded");
    let db = shelfsync_actors::storage::open_database(&data_dir.join("db"), cache_bytes)?;
    let members = MemberStore::open(&db)?;
    let generated_admin = members.ensure_admin(admin_token, options.clock.now())?;
    let clients = ClientStore::open(&db)?;
    let vault = Arc::new(vault);
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
        max_body_bytes,
        edge,
        service: service.clone(),
    };
    Ok(Started {
        db,
        state,
        service,
        generated_admin,
    })
}
