//! The running service: the engine's actor tree (DESIGN §2) on its own thread and actix system,
//! every stored client started in it, each stored channel connected through its platform's
//! connector with its credentials opened from the vault in memory only. The HTTP handlers and the
//! demo talk to the engine only through this type.
//!
//! Startup order: the stores are read, every client's supervisor starts (its InventoryActor
//! recovers the ledger), then each channel is added with its catalog mapping; only then does the
//! API answer, so no request sees a half-started client.

pub mod webhooks;

pub use self::webhooks::{WebhookError, WebhookOutcome};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use actix::prelude::*;
use serde_json::Value;
use shelfsync_actors::channel::marketplace::ListedQuantity;
use shelfsync_actors::channel::messages::{AdoptListed, ChannelState, GetListings, ListingView};
use shelfsync_actors::channel::{ChannelActor, ChannelConfig};
use shelfsync_actors::clock::TokioClock;
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::inventory::InventoryActor;
use shelfsync_actors::ratelimit::{AppId, OverrideTarget, RateLimiters};
use shelfsync_actors::registry::{RegistryError, TenantRegistry};
use shelfsync_actors::runtime::ArbiterPool;
use shelfsync_actors::storage::DbFlusher;
use shelfsync_actors::tenant::messages::{
    AddChannel, GetChannel, GetInventory, GetState, RemoveChannel,
};
use shelfsync_actors::tenant::{ChannelSpec, SupervisorConfig, TenantError, TenantSupervisor};

use crate::clients::channels::{ChannelRecord, ChannelStore};
use crate::clients::{ClientRecord, ClientStore, ClientStoreError};
use crate::platforms::connector::{connector, ConnectorConfig, ConnectorError, ListingMap};
use crate::vault::{Secret, Vault};

/// The tree of movement reasons.
pub const REASONS_TREE: &str = "reasons";

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A store failed or refused.
    #[error(transparent)]
    Store(#[from] ClientStoreError),
    /// The connector could not be built from the channel's settings.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The engine refused (bad policy or limits, duplicate channel).
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The client's actors are not running (restarting, or the service is stopping).
    #[error("{0} is not available right now")]
    Unavailable(String),
    /// Settings that are not valid.
    #[error("{0}")]
    Invalid(String),
}

impl ServiceError {
    /// A stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceError::Store(error) => error.kind(),
            ServiceError::Connector(error) => error.kind(),
            ServiceError::Tenant(error) => error.kind(),
            ServiceError::Registry(error) => error.kind(),
            ServiceError::Unavailable(_) => "unavailable",
            ServiceError::Invalid(_) => "invalid_field",
        }
    }
}

impl From<MailboxError> for ServiceError {
    fn from(_: MailboxError) -> Self {
        ServiceError::Unavailable("the actor".into())
    }
}

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Arbiter threads the clients are spread over.
    pub arbiters: usize,
    /// Supervision and ledger settings.
    pub supervisor: SupervisorConfig,
    /// How often each channel reads its listings back.
    pub reconcile_interval: Duration,
}

impl Default for ServiceOptions {
    /// One arbiter per core, default supervision, listings read back every 5 minutes.
    fn default() -> Self {
        Self {
            arbiters: std::thread::available_parallelism().map_or(2, usize::from),
            supervisor: SupervisorConfig::default(),
            reconcile_interval: Duration::from_secs(300),
        }
    }
}

/// The engine thread: its actix system, stopped on shutdown.
#[derive(Debug)]
struct EngineThread {
    system: actix::System,
    thread: JoinHandle<()>,
}

/// The running service.
#[derive(Debug)]
pub struct Service {
    clients: ClientStore,
    channels: ChannelStore,
    vault: Arc<Vault>,
    limiters: Arc<RateLimiters<TokioClock>>,
    registry: TenantRegistry,
    listing_maps: RwLock<HashMap<(ClientCode, ChannelId), ListingMap>>,
    /// `{CODE}/{ledger key}` → the reason given for an API movement.
    reasons: sled::Tree,
    /// The database's flusher (the reasons' durable path, and its health for readiness).
    flusher: DbFlusher,
    engine: Mutex<Option<EngineThread>>,
    options: ServiceOptions,
}

/// Settings a new channel is validated and stored with (the API's body, checked).
pub type NewChannel = ChannelRecord;

impl Service {
    /// Starts the engine over `db` and recovers every stored client with its channels.
    pub async fn start(
        db: &sled::Db,
        clients: ClientStore,
        vault: Arc<Vault>,
        options: ServiceOptions,
    ) -> Result<Service, ServiceError> {
        let (pool, engine) = start_engine(options.arbiters.max(1))
            .map_err(|error| ServiceError::Unavailable(format!("the engine thread ({error})")))?;
        let limiters = Arc::new(RateLimiters::with_clock(TokioClock));
        let service = Service {
            channels: ChannelStore::open(db)?,
            reasons: db.open_tree(REASONS_TREE).map_err(ClientStoreError::from)?,
            flusher: DbFlusher::new(db),
            clients,
            vault,
            registry: TenantRegistry::new(
                db.clone(),
                pool,
                limiters.clone(),
                options.supervisor.clone(),
            ),
            options,
            limiters,
            listing_maps: RwLock::new(HashMap::new()),
            engine: Mutex::new(Some(engine)),
        };
        for record in service.clients.list()? {
            service.start_client(&record).await?;
        }
        Ok(service)
    }

    /// The client store.
    pub fn clients(&self) -> &ClientStore {
        &self.clients
    }

    /// The channel store.
    pub fn channels(&self) -> &ChannelStore {
        &self.channels
    }

    /// Starts a stored client and connects its stored channels. A client that runs already is
    /// left as it is.
    pub async fn start_client(&self, record: &ClientRecord) -> Result<(), ServiceError> {
        let code = ClientCode::parse(&record.code)
            .map_err(|error| ServiceError::Invalid(error.to_string()))?;
        self.limiters.set_tier(&code, record.tier);
        let supervisor = match self.registry.add_client(&code) {
            Ok(supervisor) => supervisor,
            Err(RegistryError::ClientExists(_)) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        for channel in self.channels.list(&code)? {
            match self.channel_spec(&code, &channel) {
                Ok(spec) => match supervisor.send(AddChannel { spec }).await? {
                    Ok(()) | Err(TenantError::ChannelExists(_)) => {}
                    Err(error) => {
                        tracing::error!(client = %code, channel = %channel.id, %error, "a stored channel was refused by the engine; left stopped");
                    }
                },
                Err(error) => {
                    // A credential deleted or a vault key changed: the rest of the client runs.
                    tracing::error!(client = %code, channel = %channel.id, %error, "a stored channel could not be connected; left stopped");
                }
            }
        }
        Ok(())
    }

    /// Validates a new channel completely (connector settings, credentials, policy, limits),
    /// then stores it and starts it. Nothing is stored when it is refused.
    pub async fn add_channel(
        &self,
        client: &ClientCode,
        record: NewChannel,
        webhook_secret: Option<Secret>,
    ) -> Result<(), ServiceError> {
        record
            .policy
            .validate()
            .map_err(|error| ServiceError::Invalid(format!("policy: {error}")))?;
        record
            .rate_limit
            .resolve(record.platform, OverrideTarget::Channel)
            .map_err(|error| ServiceError::Invalid(format!("rate_limit: {error}")))?;
        if self.channels.get(client, &record.id)?.is_some() {
            return Err(ClientStoreError::Exists(format!("channel {}", record.id)).into());
        }
        let spec = self.channel_spec(client, &record)?;
        let supervisor = self.supervisor(client)?;
        match (&record.webhook_credential, webhook_secret) {
            (Some(name), Some(secret)) => {
                let now = crate::platforms::mock::rfc3339(chrono::Utc::now());
                self.clients
                    .put_credential(&self.vault, client, name, &secret, None, &now)?;
            }
            (None, None) => {}
            _ => {
                return Err(ServiceError::Invalid(
                    "a webhook credential needs its secret".into(),
                ))
            }
        }
        self.channels.create(client, &record)?;
        match supervisor.send(AddChannel { spec }).await? {
            Ok(()) => Ok(()),
            Err(error) => {
                tracing::error!(client = %client, channel = %record.id, %error, "a validated channel was refused by the engine");
                Err(error.into())
            }
        }
    }

    /// Reconnects every channel of `client` whose connector uses credential `name` (its main
    /// credential or an account `*_credential`), so that a rotated secret is used at once rather
    /// than at the next restart. A channel is replaced by a new generation that recovers from the
    /// ledger. Webhook secrets are read per delivery and need nothing. Returns the channels
    /// reconnected.
    pub async fn credential_changed(
        &self,
        client: &ClientCode,
        name: &str,
    ) -> Result<Vec<ChannelId>, ServiceError> {
        let Ok(supervisor) = self.supervisor(client) else {
            return Ok(Vec::new());
        };
        let mut reconnected = Vec::new();
        for record in self.channels.list(client)? {
            let uses = record.credential == name
                || record.account.as_object().is_some_and(|account| {
                    account.iter().any(|(key, value)| {
                        key.ends_with("_credential") && value.as_str() == Some(name)
                    })
                });
            if !uses {
                continue;
            }
            let spec = self.channel_spec(client, &record)?;
            match supervisor
                .send(RemoveChannel {
                    channel: record.id.clone(),
                })
                .await?
            {
                Ok(()) | Err(TenantError::UnknownChannel(_)) => {}
                Err(error) => return Err(error.into()),
            }
            supervisor.send(AddChannel { spec }).await??;
            reconnected.push(record.id);
        }
        Ok(reconnected)
    }

    /// Builds the engine's spec of a stored channel: its connector with credentials opened in
    /// memory and the catalog mapping loaded.
    fn channel_spec(
        &self,
        client: &ClientCode,
        record: &ChannelRecord,
    ) -> Result<ChannelSpec, ServiceError> {
        let credential = self
            .clients
            .secret(&self.vault, client, &record.credential)?;
        let account = self.resolve_account(client, &record.account)?;
        let listings = self.listing_map(client, &record.id)?;
        let config = ConnectorConfig::new(&record.base_url, credential, account, listings)?;
        let marketplace = connector(record.platform, config)?;
        let mut config = ChannelConfig::new(client.clone(), record.id.clone(), record.platform);
        config.app = AppId::new(record.app.clone());
        config.policy = record.policy;
        config.order = record.push_order;
        config.rate_limit = record.rate_limit.clone();
        config.poll_interval = Duration::from_millis(record.poll_interval_ms);
        config.seed = seed_of(client, &record.id);
        config.reconcile_interval = self.options.reconcile_interval;
        Ok(ChannelSpec {
            config,
            marketplace,
        })
    }

    /// The account ids as the connector needs them: each `<name>_credential` key is replaced, in
    /// memory only, by `<name>` holding the named credential's secret.
    fn resolve_account(&self, client: &ClientCode, account: &Value) -> Result<Value, ServiceError> {
        let Value::Object(fields) = account else {
            return Ok(account.clone());
        };
        let mut resolved = serde_json::Map::new();
        for (key, value) in fields {
            match key.strip_suffix("_credential") {
                Some(name) => {
                    let credential = value.as_str().ok_or_else(|| {
                        ServiceError::Invalid(format!("account.{key} must name a credential"))
                    })?;
                    let secret = self.clients.secret(&self.vault, client, credential)?;
                    resolved.insert(name.to_string(), Value::String(secret.expose().to_string()));
                }
                None => {
                    resolved.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(Value::Object(resolved))
    }

    /// The in-memory listing map of a channel, loaded from the store on first use and shared with
    /// its connector, so that a catalog import reaches the connector at once.
    fn listing_map(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
    ) -> Result<ListingMap, ServiceError> {
        let key = (client.clone(), channel.clone());
        if let Some(map) = self
            .listing_maps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(map.clone());
        }
        let map = ListingMap::default();
        for (sku, listing) in self.channels.listings(client, channel)? {
            map.insert(sku, listing);
        }
        let mut maps = self.listing_maps.write().unwrap_or_else(|p| p.into_inner());
        Ok(maps.entry(key).or_insert(map).clone())
    }

    /// Maps SKUs to listings durably, then in the connectors' maps.
    pub fn put_listings(
        &self,
        client: &ClientCode,
        mappings: &[(ChannelId, Sku, String)],
    ) -> Result<(), ServiceError> {
        self.channels.put_listings(client, mappings)?;
        for (channel, sku, listing) in mappings {
            self.listing_map(client, channel)?
                .insert(sku.clone(), listing.clone());
        }
        Ok(())
    }

    /// The supervisor of a running client.
    pub fn supervisor(&self, client: &ClientCode) -> Result<Addr<TenantSupervisor>, ServiceError> {
        self.registry
            .get(client)
            .ok_or_else(|| ServiceError::Unavailable(format!("client {client}")))
    }

    /// The client's current InventoryActor.
    pub async fn inventory(
        &self,
        client: &ClientCode,
    ) -> Result<Addr<InventoryActor>, ServiceError> {
        self.supervisor(client)?
            .send(GetInventory)
            .await??
            .ok_or_else(|| ServiceError::Unavailable(format!("the ledger of {client}")))
    }

    /// The current ChannelActor of a channel (`None` while it restarts or is quarantined).
    pub async fn channel_actor(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
    ) -> Result<Option<Addr<ChannelActor>>, ServiceError> {
        Ok(self
            .supervisor(client)?
            .send(GetChannel {
                channel: channel.clone(),
            })
            .await??)
    }

    /// A channel's live state, if its actor runs.
    pub async fn channel_state(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
    ) -> Result<Option<ChannelState>, ServiceError> {
        let Some(actor) = self.channel_actor(client, channel).await? else {
            return Ok(None);
        };
        match actor
            .send(shelfsync_actors::channel::messages::GetState)
            .await
        {
            Ok(Ok(state)) => Ok(Some(state)),
            _ => Ok(None),
        }
    }

    /// A channel's listings (of `skus`, or of every SKU it lists), if its actor runs.
    pub async fn channel_listings(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
        skus: Option<Vec<Sku>>,
    ) -> Result<Option<Vec<ListingView>>, ServiceError> {
        let Some(actor) = self.channel_actor(client, channel).await? else {
            return Ok(None);
        };
        match actor.send(GetListings { skus }).await {
            Ok(Ok(listings)) => Ok(Some(listings)),
            _ => Ok(None),
        }
    }

    /// Tells a channel what its marketplace lists now (a catalog exported from it); answers how
    /// many listings it adopted (`None` while its actor restarts: it then pushes those listings,
    /// which is safe, only not free).
    pub async fn adopt_listed(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
        listings: Vec<ListedQuantity>,
    ) -> Result<Option<usize>, ServiceError> {
        let Some(actor) = self.channel_actor(client, channel).await? else {
            return Ok(None);
        };
        match actor.send(AdoptListed { listings }).await {
            Ok(Ok(count)) => Ok(Some(count)),
            _ => Ok(None),
        }
    }

    /// The supervision status of each child of a client.
    pub async fn tenant_state(
        &self,
        client: &ClientCode,
    ) -> Result<shelfsync_actors::tenant::messages::TenantState, ServiceError> {
        Ok(self.supervisor(client)?.send(GetState).await??)
    }

    /// Keeps the reason a person gave for a movement, beside the journal (which keeps no text).
    pub fn put_reason(
        &self,
        client: &ClientCode,
        key: &str,
        reason: &str,
    ) -> Result<(), ServiceError> {
        let key = format!("{}/{key}", client.as_str());
        self.reasons
            .insert(key.as_bytes(), reason.as_bytes())
            .map_err(ClientStoreError::from)?;
        self.flusher
            .flush_blocking()
            .map_err(|error| ClientStoreError::from(sled::Error::from(error)))?;
        Ok(())
    }

    /// The reason given for the movement with ledger key `key`, if any.
    pub fn reason(&self, client: &ClientCode, key: &str) -> Result<Option<String>, ServiceError> {
        let key = format!("{}/{key}", client.as_str());
        Ok(self
            .reasons
            .get(key.as_bytes())
            .map_err(ClientStoreError::from)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The vault (for webhook secrets).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Tells whether the engine thread runs, every stored client has a supervisor and the
    /// database's flusher has not failed (after a failed sync nothing is acknowledged until a
    /// restart: `storage` module doc).
    pub fn is_ready(&self) -> bool {
        let engine_runs = self
            .engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|engine| !engine.thread.is_finished());
        engine_runs
            && self.flusher.failure().is_none()
            && self.clients.list().is_ok_and(|clients| {
                clients.iter().all(|record| {
                    ClientCode::parse(&record.code)
                        .is_ok_and(|code| self.registry.get(&code).is_some())
                })
            })
    }

    /// Stops every client, then the engine's threads. Everything acknowledged is durable already;
    /// this lets actors finish the round they are in.
    pub fn shutdown(&self) {
        let mut supervisors = Vec::new();
        for client in self.registry.clients() {
            supervisors.extend(self.registry.get(&client));
            let _ = self.registry.remove_client(&client);
        }
        // The supervisors stop their children on Shutdown; give the mailboxes a moment to drain.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while std::time::Instant::now() < deadline && supervisors.iter().any(Addr::connected) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(engine) = self.engine.lock().unwrap_or_else(|p| p.into_inner()).take() {
            engine.system.stop();
            let _ = engine.thread.join();
        }
    }
}

/// Starts the engine's actix system on its own thread and the arbiter pool inside it.
fn start_engine(arbiters: usize) -> std::io::Result<(ArbiterPool, EngineThread)> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let runner = actix::System::new();
            runner.block_on(async move {
                let _ = sender.send((ArbiterPool::new(arbiters), actix::System::current()));
            });
            let _ = runner.run();
        })?;
    let (pool, system) = receiver
        .recv()
        .map_err(|_| std::io::Error::other("the engine thread ended before it started"))?;
    Ok((pool, EngineThread { system, thread }))
}

/// A stable seed of a channel's backoff jitter.
fn seed_of(client: &ClientCode, channel: &ChannelId) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    client.hash(&mut hasher);
    channel.hash(&mut hasher);
    hasher.finish()
}
