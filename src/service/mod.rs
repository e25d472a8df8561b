//! The running service: the engine's actor tree (DESIGN §2) on its own thread and actix system,
//! every stored client started in it, each stored channel connected through its platform's
//! connector with its credentials opened from the vault in memory only. The HTTP handlers and the
//! demo talk to the engine only through this type.
//!
//! Startup order: the stores are read, every client's supervisor starts (its InventoryActor
//! recovers the ledger), then each channel is added with its catalog mapping; only then does the
//! API answer, so no request sees a half-started client.

pub mod bounded;
mod channels;
pub mod checklists;
mod operations;
mod replenishment;
mod report;
pub mod webhooks;

use self::webhooks::WebhookDecoy;
pub use self::webhooks::{WebhookError, WebhookOutcome};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use shelfsync_actors::channel::intake::{apply_order_intake, OrderIntake};
use shelfsync_actors::channel::AppliedEvents;
use shelfsync_actors::clock::TokioClock;
use shelfsync_actors::ids::{ChannelId, ClientCode};
use shelfsync_actors::inventory::ledger::Movement;
use shelfsync_actors::inventory::messages::ApplyOutcome;
use shelfsync_actors::inventory::messages::{ApplyMovements, CommandTicket};
use shelfsync_actors::inventory::{InventoryActor, InventoryError, LedgerClock};
use shelfsync_actors::ratelimit::RateLimiters;
use shelfsync_actors::registry::{RegistryError, TenantRegistry};
use shelfsync_actors::runtime::ArbiterPool;
use shelfsync_actors::storage::DbFlusher;
use shelfsync_actors::tenant::messages::{AddChannel, GetInventory, GetState};
use shelfsync_actors::tenant::{SupervisorConfig, TenantError, TenantSupervisor};

use crate::clients::channels::{ChannelRecord, ChannelStore};
use crate::clients::origin::Origin;
use crate::clients::{ClientRecord, ClientStore, ClientStoreError, CredentialMetadata};
use crate::platforms::connector::{ConnectorError, ListingMap};
use crate::platforms::egress::EgressPolicy;
use crate::timestamp::{Clock, Due};
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
    /// The operations store failed or refused.
    #[error(transparent)]
    Operations(#[from] crate::operations::OperationsError),
    /// Reorder settings or their assessment failed (`crate::replenishment`).
    #[error(transparent)]
    Replenishment(#[from] crate::replenishment::ReplenishmentError),
    /// A monthly report could not be made (`crate::report`).
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// The client's actors are not running (restarting, or the service is stopping).
    #[error("{0} is not available right now")]
    Unavailable(String),
    /// Settings that are not valid.
    #[error("{0}")]
    Invalid(String),
    /// The client's ledger already holds as many calls from the API as its mailbox does; this one
    /// was not enqueued.
    #[error("{0} is overloaded; nothing was queued")]
    Overloaded(String),
    /// No answer within the request timeout. A ledger command that timed out was not written
    /// and never will be ([`bounded::command_within`]); a read changed nothing.
    #[error("no answer in time from {what}")]
    TimedOut {
        /// What did not answer.
        what: String,
        /// When to try again.
        retry_after: Duration,
    },
    /// A ledger command was being written when the wait ended: it may or may not be applied.
    #[error("{what} was still writing the command when the wait ended; retry with the same idempotency key to learn its outcome")]
    OutcomeUnknown {
        /// What did not answer.
        what: String,
        /// When to try again.
        retry_after: Duration,
    },
}

impl ServiceError {
    /// A stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceError::Store(error) => error.kind(),
            ServiceError::Connector(error) => error.kind(),
            ServiceError::Tenant(error) => error.kind(),
            ServiceError::Registry(error) => error.kind(),
            ServiceError::Operations(error) => error.kind(),
            ServiceError::Replenishment(_) => "replenishment",
            ServiceError::Report(_) => "report",
            ServiceError::Unavailable(_) => "unavailable",
            ServiceError::Invalid(_) => "invalid_field",
            ServiceError::Overloaded(_) => "overloaded",
            ServiceError::TimedOut { .. } => "engine_timeout",
            ServiceError::OutcomeUnknown { .. } => "outcome_unknown",
        }
    }

    /// When a caller refused for lack of capacity or time may try again (`Retry-After`): the
    /// wait that just failed, so that retries do not pile onto a slow ledger; `None` for errors
    /// that are not about load.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ServiceError::Unavailable(_) | ServiceError::Overloaded(_) => {
                Some(Duration::from_secs(1))
            }
            ServiceError::TimedOut { retry_after, .. }
            | ServiceError::OutcomeUnknown { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<MailboxError> for ServiceError {
    fn from(_: MailboxError) -> Self {
        ServiceError::Unavailable("the actor".into())
    }
}

/// How long an API call waits for an actor by default: well above a healthy ledger round (tens of
/// milliseconds, `bench/RESULTS.md`), well below the Shopify webhook timeout (5 s,
/// `reference/reliability.md` §3.2), so that a stuck ledger answers 503 before the platform gives
/// up on the delivery by itself.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(4_000);

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Arbiter threads the clients are spread over.
    pub arbiters: usize,
    /// Supervision and ledger settings.
    pub supervisor: SupervisorConfig,
    /// The longest a listing goes without being read back (as each channel's read budget
    /// allows).
    pub reconcile_interval: Duration,
    /// A change pending longer than this is logged at `warn` and counted.
    pub stall_warning_after: Duration,
    /// Where connectors may send credentials (config `security.*`).
    pub egress: EgressPolicy,
    /// How long an API call waits for an actor (`engine.request_timeout_ms`); see [`bounded`].
    pub request_timeout: Duration,
    /// Where the time of records (created, rotated) and of the ledgers' journal entries is read
    /// (it replaces `supervisor.inventory.clock_ms`): the system clock but in tests.
    pub clock: Clock,
    /// Timing of the operations sweep (exceptions, escalations).
    pub operations: crate::operations::sweep::OperationsOptions,
}

impl Default for ServiceOptions {
    /// One arbiter per core, default supervision, listings read back at least every 5 minutes,
    /// a warning for a change pending a minute, the safe egress policy (public hosts over
    /// https; mocks on loopback need [`EgressPolicy::LOOPBACK_MOCKS`]).
    fn default() -> Self {
        Self {
            arbiters: std::thread::available_parallelism().map_or(2, usize::from),
            supervisor: SupervisorConfig::default(),
            reconcile_interval: Duration::from_secs(300),
            stall_warning_after: shelfsync_actors::channel::DEFAULT_STALL_WARNING,
            egress: EgressPolicy::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            clock: Clock::system(),
            operations: Default::default(),
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
    /// Per client, its InventoryActor's address as its supervisor last gave it. A request takes
    /// it from here instead of asking the supervisor (a mailbox hop on every call) for as long as
    /// that actor lives; a restarted ledger is a new generation with a new address, so a
    /// disconnected one is asked for again.
    inventories: RwLock<HashMap<ClientCode, Addr<InventoryActor>>>,
    listing_maps: RwLock<HashMap<(ClientCode, ChannelId), ListingMap>>,
    /// `{CODE}/{ledger key}` → the reason given for an API movement.
    reasons: sled::Tree,
    /// Each SKU's reorder settings (`crate::replenishment`).
    reorders: crate::replenishment::store::ReorderStore,
    /// The database's flusher (the reasons' durable path, and its health for readiness).
    flusher: DbFlusher,
    engine: Mutex<Option<EngineThread>>,
    options: ServiceOptions,
    /// Opened in place of a webhook secret when a delivery names none (equal work on every path).
    webhook_decoy: WebhookDecoy,
    /// Per client, the calls the API may have in its ledger at once.
    ledger_gates: bounded::LedgerGates,
    /// The exception queue, escalations, audit log and profiles.
    operations: crate::operations::OperationsStore,
    /// Whether the operations sweep was started ([`Service::start_operations`]).
    operations_started: std::sync::atomic::AtomicBool,
    /// Set when [`Service::shutdown`] begins.
    stopping: std::sync::atomic::AtomicBool,
    /// When each client's reorder alerts were last assessed by the sweep.
    reorders_assessed: Mutex<HashMap<ClientCode, Instant>>,
    /// Each channel's throttled-call counter as the operations sweep last read it
    /// (`operations::sweep`, the monthly report's tally).
    throttles_seen: Mutex<HashMap<(ClientCode, String), u64>>,
    /// When an authentic notification last arrived, per channel (the launch checklist's
    /// "notifications arriving"; in memory: the checklist keeps the first sighting).
    notifications_seen: Mutex<HashMap<(ClientCode, ChannelId), DateTime<Utc>>>,
}

/// Settings a new channel is validated and stored with (the API's body, checked).
pub type NewChannel = ChannelRecord;

impl Service {
    /// Starts the engine over `db` and recovers every stored client with its channels.
    pub async fn start(
        db: &sled::Db,
        clients: ClientStore,
        vault: Arc<Vault>,
        mut options: ServiceOptions,
    ) -> Result<Service, ServiceError> {
        // The ledger stamps its journal by the service's clock, so that journal times and
        // `Service::now` agree (replenishment compares them) and a test moving the clock moves
        // both. The system clock either way in production: the same reading, to the millisecond.
        let clock = options.clock.clone();
        options.supervisor.inventory.clock_ms = LedgerClock::new(move || clock.now_ms());
        let (pool, engine) = start_engine(options.arbiters.max(1))
            .map_err(|error| ServiceError::Unavailable(format!("the engine thread ({error})")))?;
        let limiters = Arc::new(RateLimiters::with_clock(TokioClock));
        let webhook_decoy = WebhookDecoy::new(&vault);
        let service = Service {
            channels: ChannelStore::open(db)?,
            reasons: db.open_tree(REASONS_TREE).map_err(ClientStoreError::from)?,
            reorders: crate::replenishment::store::ReorderStore::open(db)?,
            flusher: DbFlusher::new(db),
            clients,
            vault,
            registry: TenantRegistry::new(
                db.clone(),
                pool,
                limiters.clone(),
                options.supervisor.clone(),
            ),
            ledger_gates: bounded::LedgerGates::new(options.supervisor.inventory.mailbox_capacity),
            options,
            limiters,
            inventories: RwLock::new(HashMap::new()),
            listing_maps: RwLock::new(HashMap::new()),
            engine: Mutex::new(Some(engine)),
            webhook_decoy,
            operations: crate::operations::OperationsStore::open(db)?,
            operations_started: Default::default(),
            stopping: Default::default(),
            reorders_assessed: Mutex::new(HashMap::new()),
            throttles_seen: Mutex::new(HashMap::new()),
            notifications_seen: Mutex::new(HashMap::new()),
        };
        for record in service.clients.list()? {
            service.adopt_legacy_bindings(&record)?;
            service.start_client(&record).await?;
        }
        Ok(service)
    }

    /// Binds every credential of a client that is bound to nothing (stored before bindings
    /// existed) to the origins of the stored channels that use it, so that those channels keep
    /// working and no other origin gets the secret without it being supplied again.
    fn adopt_legacy_bindings(&self, record: &ClientRecord) -> Result<(), ServiceError> {
        let code = ClientCode::parse(&record.code)
            .map_err(|error| ServiceError::Invalid(error.to_string()))?;
        let mut used: BTreeMap<String, BTreeSet<Origin>> = BTreeMap::new();
        for channel in self.channels.list(&code)? {
            let Ok(origin) = channel.origin() else {
                continue;
            };
            for name in channel.credential_names() {
                used.entry(name).or_default().insert(origin.clone());
            }
        }
        for (name, origins) in used {
            if self.clients.adopt_bindings(&code, &name, &origins)? {
                let hosts: Vec<String> = origins.iter().map(Origin::to_string).collect();
                tracing::info!(client = %code, credential = %name, ?hosts, "a credential stored before host bindings was bound to the hosts its channels use");
            }
        }
        Ok(())
    }

    /// The origins of the stored channels of `client` that name credential `name`.
    fn origins_using(
        &self,
        client: &ClientCode,
        name: &str,
    ) -> Result<BTreeSet<Origin>, ServiceError> {
        Ok(self
            .channels
            .list(client)?
            .iter()
            .filter(|channel| channel.credential_names().contains(name))
            .filter_map(|channel| channel.origin().ok())
            .collect())
    }

    /// Seals and stores a credential the caller supplies (`PUT …/credentials/{name}`), then
    /// reconnects the channels that use it. `hosts` re-binds it (the secret is supplied, so it
    /// may go anywhere the caller says); the origins of channels already using it stay bound
    /// whatever `hosts` says, since those channels go on sending it there (channels are never
    /// removed today). `None` keeps its bindings (a rotation).
    pub async fn put_credential(
        &self,
        client: &ClientCode,
        name: &str,
        secret: &Secret,
        rotate_by: Option<Due>,
        hosts: Option<BTreeSet<Origin>>,
    ) -> Result<CredentialMetadata, ServiceError> {
        let hosts = match hosts {
            Some(mut hosts) => {
                hosts.extend(self.origins_using(client, name)?);
                Some(hosts)
            }
            None => None,
        };
        let metadata = self.clients.put_credential(
            &self.vault,
            client,
            name,
            secret,
            rotate_by,
            hosts,
            self.now(),
        )?;
        // Connectors hold the secret in memory: the channels using it reconnect with the new one.
        self.credential_changed(client, name).await?;
        Ok(metadata)
    }

    /// The time now, from the service's clock (`ServiceOptions::clock`), to the millisecond.
    pub fn now(&self) -> DateTime<Utc> {
        self.options.clock.now()
    }

    /// When an authentic notification last arrived for `channel` of `client` since the service
    /// started.
    pub fn last_notification(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
    ) -> Option<DateTime<Utc>> {
        self.notifications_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(client.clone(), channel.clone()))
            .copied()
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
                Ok(spec) => match self.ask(&supervisor, AddChannel { spec }).await? {
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

    /// The supervisor of a running client.
    pub fn supervisor(&self, client: &ClientCode) -> Result<Addr<TenantSupervisor>, ServiceError> {
        self.registry
            .get(client)
            .ok_or_else(|| ServiceError::Unavailable(format!("client {client}")))
    }

    /// Sends `message` to `actor` and waits for the answer at most the request timeout (a read or
    /// a control call; ledger commands go through [`Service::apply_movements`]).
    async fn ask<A, M>(&self, actor: &Addr<A>, message: M) -> Result<M::Result, ServiceError>
    where
        A: Actor + Handler<M>,
        A::Context: actix::dev::ToEnvelope<A, M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let wait = self.options.request_timeout;
        // The actor type's own name ("TenantSupervisor"), not its module path.
        let what = std::any::type_name::<A>()
            .rsplit("::")
            .next()
            .unwrap_or("the engine");
        Ok(bounded::within(wait, what, actor.send(message)).await??)
    }

    /// What is left of the request timeout of a call that began at `started`.
    fn remaining(&self, started: Instant) -> Duration {
        self.options
            .request_timeout
            .saturating_sub(started.elapsed())
    }

    /// The client's current InventoryActor.
    pub async fn inventory(
        &self,
        client: &ClientCode,
    ) -> Result<Addr<InventoryActor>, ServiceError> {
        // The registry first: a client that is gone has no ledger, whatever is kept here.
        let supervisor = self.supervisor(client)?;
        let kept = self
            .inventories
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(client)
            .filter(|addr| addr.connected())
            .cloned();
        if let Some(addr) = kept {
            return Ok(addr);
        }
        let addr = self
            .ask(&supervisor, GetInventory)
            .await??
            .ok_or_else(|| ServiceError::Unavailable(format!("the ledger of {client}")))?;
        self.inventories
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client.clone(), addr.clone());
        Ok(addr)
    }

    /// Asks the client's ledger a question (a read), admitted by the client's gate and bounded
    /// by the request timeout ([`bounded`]).
    pub async fn ask_ledger<M>(
        &self,
        client: &ClientCode,
        message: M,
    ) -> Result<M::Result, ServiceError>
    where
        InventoryActor: Handler<M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let _admitted = self.ledger_gates.admit(client)?;
        let inventory = self.inventory(client).await?;
        self.ask(&inventory, message).await
    }

    /// Applies movements through the client's ledger, admitted by the client's gate, and waits
    /// for the durable answer within the bound of [`bounded::command_within`]: on any error but
    /// [`ServiceError::OutcomeUnknown`] nothing was written and nothing will be. The inner result
    /// is the ledger's own (a refusal writes nothing either).
    pub async fn apply_movements(
        &self,
        client: &ClientCode,
        movements: Vec<Movement>,
    ) -> Result<Result<ApplyOutcome, InventoryError>, ServiceError> {
        let started = Instant::now();
        let ticket = CommandTicket::holding(self.ledger_gates.admit(client)?);
        let inventory = self.inventory(client).await?;
        let command = ApplyMovements {
            ticket: Some(ticket.clone()),
            ..ApplyMovements::new(movements)
        };
        let what = format!("the ledger of {client}");
        let answer = bounded::command_within(
            self.remaining(started),
            self.options.request_timeout,
            &what,
            &ticket,
            inventory.send(command),
        )
        .await??;
        match answer {
            // Only a caller that stopped waiting sees this, never one still here; kept typed so
            // that it can never pass for a ledger failure.
            Err(InventoryError::Expired) => Err(ServiceError::TimedOut {
                what: format!("{what}; the command was not applied and never will be"),
                retry_after: self.options.request_timeout,
            }),
            answer => Ok(answer),
        }
    }

    /// Applies a channel's order events (a webhook delivery) through the client's ledger, bounded
    /// like [`Service::apply_movements`]: a delivery refused with 503 left nothing in the ledger,
    /// and the platform's retry brings it again under the same keys.
    pub async fn apply_order_intake(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
        intake: OrderIntake,
    ) -> Result<AppliedEvents, ServiceError> {
        let started = Instant::now();
        let ticket = CommandTicket::holding(self.ledger_gates.admit(client)?);
        let inventory = self.inventory(client).await?;
        let what = format!("the ledger of {client}");
        let recipient = inventory.recipient();
        let apply = apply_order_intake(channel, intake, None, &recipient, Some(ticket.clone()));
        let grace = self.options.request_timeout;
        bounded::command_within(self.remaining(started), grace, &what, &ticket, apply)
            .await?
            .map_err(|error| ServiceError::Unavailable(format!("the ledger ({error})")))
    }

    /// The supervision status of each child of a client.
    pub async fn tenant_state(
        &self,
        client: &ClientCode,
    ) -> Result<shelfsync_actors::tenant::messages::TenantState, ServiceError> {
        Ok(self.ask(&self.supervisor(client)?, GetState).await??)
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
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut supervisors = Vec::new();
        for client in self.registry.clients() {
            supervisors.extend(self.registry.get(&client));
            let _ = self.registry.remove_client(&client);
        }
        // The supervisors stop their children on Shutdown; give the mailboxes a moment to drain.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && supervisors.iter().any(Addr::connected) {
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
