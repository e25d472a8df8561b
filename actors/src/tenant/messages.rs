//! Messages of the TenantSupervisor.

use actix::{Addr, Message};
use serde::{Deserialize, Serialize};

use super::restart::ChildStatus;
use super::{ChannelSpec, TenantError};
use crate::channel::ChannelActor;
use crate::ids::{ChannelId, ClientCode};
use crate::inventory::InventoryActor;

/// Checks every child and respawns or quarantines the dead ones (self-tick).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub(crate) struct SuperviseTick;

/// Adds a marketplace connection to the client and starts its ChannelActor.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), TenantError>")]
pub struct AddChannel {
    /// The connection.
    pub spec: ChannelSpec,
}

/// Stops and forgets a marketplace connection of the client.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), TenantError>")]
pub struct RemoveChannel {
    /// The connection.
    pub channel: ChannelId,
}

/// Returns the address of the client's current InventoryActor (`None` while it is down).
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "Result<Option<Addr<InventoryActor>>, TenantError>")]
pub struct GetInventory;

/// Returns the address of a channel's current ChannelActor (`None` while it is down).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Option<Addr<ChannelActor>>, TenantError>")]
pub struct GetChannel {
    /// The connection.
    pub channel: ChannelId,
}

/// Lifts the quarantine of a child (the inventory, or a channel) and respawns it at once.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), TenantError>")]
pub struct LiftQuarantine {
    /// The channel, or `None` for the InventoryActor.
    pub channel: Option<ChannelId>,
}

/// Returns the supervisor's observable state.
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "Result<TenantState, TenantError>")]
pub struct GetState;

/// One supervised child as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildState {
    /// Alive, restarting or quarantined.
    pub status: ChildStatus,
    /// Starts so far (1 for the first).
    pub generation: u64,
    /// Deaths so far.
    pub restarts: u64,
}

/// What a TenantSupervisor is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantState {
    /// Whose.
    pub client: ClientCode,
    /// The InventoryActor.
    pub inventory: ChildState,
    /// Each ChannelActor.
    pub channels: Vec<(ChannelId, ChildState)>,
}

/// Stops the supervisor and its children (channels first, then the inventory).
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "()")]
pub struct Shutdown;
