//! The TenantSupervisor: one per client. It starts the client's InventoryActor and its
//! ChannelActors and keeps them alive.
//!
//! actix does not restart an actor whose handler panicked (its `Supervisor` restarts only on
//! `ctx.stop()`; `reference/reliability.md` §6.1), so the supervisor runs its own watchdog: on
//! every tick it checks each child's address (`connected()`), and respawns a dead child from
//! durable state after a backoff, as a new generation in the same slot ([`restart`]). A child
//! that keeps dying is quarantined (visible in the state and in metrics) while the rest of the
//! client keeps running. Every child keeps its state in the client's ledger, so a respawn loses
//! nothing that was acknowledged.
//!
//! When the InventoryActor dies, the channels are stopped with it and respawned after it: they
//! hold its address, and a ChannelActor recovers everything from the ledger anyway. When a
//! channel dies, only that channel is respawned.

pub mod messages;
pub mod restart;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use self::messages::{
    AddChannel, ChildState, GetChannel, GetInventory, GetState, LiftQuarantine, RemoveChannel,
    SuperviseTick, TenantState,
};
use self::restart::{ChildStatus, DeathRecord, RestartPolicy, Verdict};
use crate::channel::marketplace::Marketplace;
use crate::channel::messages::Shutdown;
use crate::channel::{ChannelActor, ChannelConfig, ChannelError, LedgerPort};
use crate::clock::TokioClock;
use crate::ids::{ChannelId, ClientCode};
use crate::inventory::{InventoryActor, InventoryConfig};
use crate::metrics;
use crate::metrics::events::{ActorRestarted, ActorsQuarantined, InternalEvent};
use crate::ratelimit::RateLimiters;
use crate::runtime::BoundedStart;

/// Why a supervisor call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TenantError {
    /// The channel's settings are invalid.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A channel with this id exists already.
    #[error("channel {0} exists already")]
    ChannelExists(ChannelId),
    /// No channel with this id.
    #[error("channel {0} does not exist")]
    UnknownChannel(ChannelId),
}

impl TenantError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            TenantError::Channel(error) => error.kind(),
            TenantError::ChannelExists(_) => "channel_exists",
            TenantError::UnknownChannel(_) => "unknown_channel",
        }
    }
}

/// Every `(actor, reason)` pair of `shelfsync_actor_restarts_total`.
const RESTART_SERIES: [(&str, &str); 4] = [
    ("inventory", "open_failed"),
    ("inventory", "died"),
    ("channel", "inventory_restarted"),
    ("channel", "died"),
];

/// A marketplace connection to supervise: its settings and the connector (or fake) it uses.
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    /// Settings.
    pub config: ChannelConfig,
    /// The marketplace port.
    pub marketplace: Arc<dyn Marketplace>,
}

/// Settings of a TenantSupervisor.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// How often children are checked.
    pub watchdog_interval: Duration,
    /// Backoff and quarantine.
    pub restart: RestartPolicy,
    /// Settings of the InventoryActor.
    pub inventory: InventoryConfig,
}

impl Default for SupervisorConfig {
    /// Children checked every 250 ms, the default restart policy and inventory settings.
    fn default() -> Self {
        Self {
            watchdog_interval: Duration::from_millis(250),
            restart: RestartPolicy::default(),
            inventory: InventoryConfig::default(),
        }
    }
}

/// The slot of one supervised child: the address of its current generation and its history.
#[derive(Debug)]
struct Slot<A: Actor> {
    addr: Option<Addr<A>>,
    generation: u64,
    deaths: DeathRecord,
    status: ChildStatus,
    respawn_at: Option<Instant>,
}

impl<A: Actor> Default for Slot<A> {
    fn default() -> Self {
        Self {
            addr: None,
            generation: 0,
            deaths: DeathRecord::default(),
            status: ChildStatus::Restarting,
            respawn_at: None,
        }
    }
}

impl<A: Actor> Slot<A> {
    fn state(&self) -> ChildState {
        ChildState {
            status: self.status,
            generation: self.generation,
            restarts: self.deaths.total(),
        }
    }

    fn started(&mut self, addr: Addr<A>) {
        self.addr = Some(addr);
        self.generation += 1;
        self.status = ChildStatus::Running;
        self.respawn_at = None;
    }

    fn is_dead(&self) -> bool {
        self.status == ChildStatus::Running && !self.addr.as_ref().is_some_and(Addr::connected)
    }

    fn is_due(&self, now: Instant) -> bool {
        self.status == ChildStatus::Restarting && self.respawn_at.is_none_or(|at| at <= now)
    }

    /// Lets a quarantined child be respawned at once, its recent deaths forgiven.
    fn lift_quarantine(&mut self) {
        if self.status == ChildStatus::Quarantined {
            self.status = ChildStatus::Restarting;
            self.respawn_at = None;
            self.deaths.forgive();
        }
    }

    /// Records a death and applies the policy's verdict.
    fn died(&mut self, policy: &RestartPolicy, now: Instant) {
        self.addr = None;
        match self.deaths.died(policy, now) {
            Verdict::RespawnAfter(wait) => {
                self.status = ChildStatus::Restarting;
                self.respawn_at = Some(now + wait);
            }
            Verdict::Quarantine => {
                self.status = ChildStatus::Quarantined;
                self.respawn_at = None;
            }
        }
    }
}

/// The supervisor of one client.
#[derive(Debug)]
pub struct TenantSupervisor {
    client: ClientCode,
    client_label: String,
    tree: sled::Tree,
    limiters: Arc<RateLimiters<TokioClock>>,
    config: SupervisorConfig,
    inventory: Slot<InventoryActor>,
    channels: BTreeMap<ChannelId, (ChannelSpec, Slot<ChannelActor>)>,
}

impl TenantSupervisor {
    /// A supervisor of `client`, whose ledger lives in `tree` (which nothing else may hold).
    pub fn new(
        client: ClientCode,
        tree: sled::Tree,
        limiters: Arc<RateLimiters<TokioClock>>,
        config: SupervisorConfig,
    ) -> Self {
        Self {
            client_label: metrics::client_label(&client),
            client,
            tree,
            limiters,
            config,
            inventory: Slot::default(),
            channels: BTreeMap::new(),
        }
    }

    fn count_restart(&self, actor: &'static str, reason: &'static str) {
        ActorRestarted { actor, reason }.emit();
    }

    fn update_quarantine_gauge(&self) {
        let quarantined = self
            .channels
            .values()
            .filter(|(_, slot)| slot.status == ChildStatus::Quarantined)
            .count()
            + usize::from(self.inventory.status == ChildStatus::Quarantined);
        ActorsQuarantined {
            client: &self.client_label,
            count: quarantined,
        }
        .emit();
    }

    /// Opens the ledger and starts a new generation of the InventoryActor; a failure to open
    /// counts as a death.
    fn spawn_inventory(&mut self, now: Instant) -> bool {
        match InventoryActor::open(
            self.client.clone(),
            self.tree.clone(),
            self.config.inventory.clone(),
        ) {
            Ok(actor) => {
                self.inventory.started(actor.start_bounded());
                true
            }
            Err(error) => {
                tracing::error!(client = %self.client, error = %error, "the ledger could not be opened");
                self.count_restart("inventory", "open_failed");
                self.inventory.died(&self.config.restart, now);
                false
            }
        }
    }

    /// Starts a new generation of a channel against the current InventoryActor.
    fn spawn_channel(&mut self, channel: &ChannelId) {
        let Some(inventory) = self.inventory.addr.clone() else {
            return;
        };
        let Some((spec, slot)) = self.channels.get_mut(channel) else {
            return;
        };
        let built = ChannelActor::new(
            spec.config.clone(),
            spec.marketplace.clone(),
            LedgerPort::of(&inventory),
            self.limiters.clone(),
        );
        match built {
            Ok(actor) => slot.started(actor.start_bounded()),
            Err(error) => {
                // Settings were checked when the channel was added; this is not expected.
                tracing::error!(client = %self.client, channel = %channel, error = %error, "channel could not be built, quarantined");
                slot.status = ChildStatus::Quarantined;
            }
        }
    }

    /// Stops every channel without counting deaths: they follow the InventoryActor.
    fn park_channels(&mut self) {
        for (_, slot) in self.channels.values_mut() {
            if let Some(addr) = slot.addr.take() {
                // A control message, not data: it must get through a full mailbox, and a
                // channel already gone needs no telling.
                addr.do_send(Shutdown);
            }
            if slot.status == ChildStatus::Running {
                slot.status = ChildStatus::Restarting;
                slot.respawn_at = None;
            }
        }
    }

    /// The watchdog: notices dead children, respawns the due ones, quarantines the crash-looping
    /// ones.
    fn supervise(&mut self) {
        let now = Instant::now();
        if self.inventory.is_dead() {
            tracing::warn!(client = %self.client, generation = self.inventory.generation, "inventory actor died");
            self.count_restart("inventory", "died");
            self.inventory.died(&self.config.restart, now);
            self.park_channels();
        }
        if self.inventory.is_due(now) && self.spawn_inventory(now) {
            let channels: Vec<ChannelId> = self.channels.keys().cloned().collect();
            for channel in channels {
                if self.channels[&channel].1.status == ChildStatus::Restarting {
                    if self.inventory.generation > 1 {
                        self.count_restart("channel", "inventory_restarted");
                    }
                    self.spawn_channel(&channel);
                }
            }
        }
        if self.inventory.status == ChildStatus::Running {
            let policy = self.config.restart;
            let mut due = Vec::new();
            for (channel, (_, slot)) in &mut self.channels {
                if slot.is_dead() {
                    tracing::warn!(client = %self.client, channel = %channel, generation = slot.generation, "channel actor died");
                    ActorRestarted {
                        actor: "channel",
                        reason: "died",
                    }
                    .emit();
                    slot.died(&policy, now);
                }
                if slot.is_due(now) {
                    due.push(channel.clone());
                }
            }
            for channel in due {
                self.spawn_channel(&channel);
            }
        }
        self.update_quarantine_gauge();
    }
}

impl Actor for TenantSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Every restart series exists from the start at 0: `increase()` over a series that
        // appears with its first restart misses that restart, and a dashboard shows 0, not
        // "no data", for a healthy service.
        for (actor, reason) in RESTART_SERIES {
            ActorRestarted { actor, reason }.register();
        }
        self.update_quarantine_gauge();
        self.supervise();
        ctx.run_interval(self.config.watchdog_interval, |_actor, ctx| {
            ctx.notify(SuperviseTick)
        });
    }

    fn stopping(&mut self, _ctx: &mut Context<Self>) -> Running {
        // Channels first (they hold the inventory's address), then the inventory.
        self.park_channels();
        self.inventory.addr = None;
        Running::Stop
    }
}

impl Handler<messages::Shutdown> for TenantSupervisor {
    type Result = ();

    fn handle(&mut self, _message: messages::Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<SuperviseTick> for TenantSupervisor {
    type Result = ();

    fn handle(&mut self, _message: SuperviseTick, _ctx: &mut Context<Self>) {
        self.supervise();
    }
}

impl Handler<AddChannel> for TenantSupervisor {
    type Result = Result<(), TenantError>;

    fn handle(&mut self, message: AddChannel, _ctx: &mut Context<Self>) -> Self::Result {
        let channel = message.spec.config.channel.clone();
        if self.channels.contains_key(&channel) {
            return Err(TenantError::ChannelExists(channel));
        }
        message
            .spec
            .config
            .policy
            .validate()
            .map_err(ChannelError::from)?;
        self.channels
            .insert(channel.clone(), (message.spec, Slot::default()));
        if self.inventory.status == ChildStatus::Running {
            self.spawn_channel(&channel);
        }
        Ok(())
    }
}

impl Handler<RemoveChannel> for TenantSupervisor {
    type Result = Result<(), TenantError>;

    fn handle(&mut self, message: RemoveChannel, _ctx: &mut Context<Self>) -> Self::Result {
        let (_, slot) = self
            .channels
            .remove(&message.channel)
            .ok_or(TenantError::UnknownChannel(message.channel))?;
        if let Some(addr) = slot.addr {
            // A control message, as in `park_channels`.
            addr.do_send(Shutdown);
        }
        Ok(())
    }
}

impl Handler<GetInventory> for TenantSupervisor {
    type Result = Result<Option<Addr<InventoryActor>>, TenantError>;

    fn handle(&mut self, _message: GetInventory, _ctx: &mut Context<Self>) -> Self::Result {
        Ok(self.inventory.addr.clone().filter(Addr::connected))
    }
}

impl Handler<GetChannel> for TenantSupervisor {
    type Result = Result<Option<Addr<ChannelActor>>, TenantError>;

    fn handle(&mut self, message: GetChannel, _ctx: &mut Context<Self>) -> Self::Result {
        let (_, slot) = self
            .channels
            .get(&message.channel)
            .ok_or(TenantError::UnknownChannel(message.channel))?;
        Ok(slot.addr.clone().filter(Addr::connected))
    }
}

impl Handler<LiftQuarantine> for TenantSupervisor {
    type Result = Result<(), TenantError>;

    fn handle(&mut self, message: LiftQuarantine, _ctx: &mut Context<Self>) -> Self::Result {
        match &message.channel {
            None => self.inventory.lift_quarantine(),
            Some(channel) => self
                .channels
                .get_mut(channel)
                .ok_or_else(|| TenantError::UnknownChannel(channel.clone()))?
                .1
                .lift_quarantine(),
        }
        self.supervise();
        Ok(())
    }
}

impl Handler<GetState> for TenantSupervisor {
    type Result = Result<TenantState, TenantError>;

    fn handle(&mut self, _message: GetState, _ctx: &mut Context<Self>) -> Self::Result {
        Ok(TenantState {
            client: self.client.clone(),
            inventory: self.inventory.state(),
            channels: self
                .channels
                .iter()
                .map(|(channel, (_, slot))| (channel.clone(), slot.state()))
                .collect(),
        })
    }
}
