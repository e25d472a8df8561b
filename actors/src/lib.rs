//! The shelfsync engine: validated ids, each client's ledger and the actors that own it, and the
//! table of metric names. No HTTP in here.
//!
//! The actor tree (DESIGN §2) grows here issue by issue; today it holds the foundation:
//!
//! ```text
//! InventoryActor (one per client)   owns the client's sled::Tree through a LedgerStore,
//!                                   acknowledges movements only after its group-commit round
//!                                   (one transaction, one flush) is durable
//! ```
//!
//! Where to look: [`ids`] for `ClientCode`, `ChannelId`, `Sku`; [`inventory::ledger`] for the
//! movement rules; [`inventory::store`] for the sled layout and transactions;
//! [`inventory::group_commit`] for the rounds of group commit; [`inventory`] for the actor and its
//! messages; [`channel::policy`] for listing policies; [`storage`] for opening sled; [`metrics`]
//! for every metric name.

pub mod channel;
pub mod clock;
pub mod ids;
pub mod inventory;
pub mod metrics;
pub mod ratelimit;
pub mod registry;
pub mod runtime;
pub mod storage;
pub mod tenant;
#[cfg(any(test, feature = "testsuite"))]
pub mod testing;
