//! The shelfsync engine: validated ids, each client's ledger and the actors that own it, and the
//! table of metric names. No HTTP in here.
//!
//! The actor tree (DESIGN §2):
//!
//! ```text
//! ArbiterPool (runtime)              one arbiter per core, clients sharded by a stable hash
//! └─ TenantSupervisor (tenant)       watchdog, respawn with backoff, quarantine
//!    ├─ InventoryActor (inventory)   the only holder of the client's sled tree; group commit
//!    └─ ChannelActor (channel)       order feed in, risk-first pushes out, under the rate limits
//! ```
//!
//! Where to look: [`ids`] for `ClientCode`, `ChannelId`, `Sku`; [`inventory::ledger`] for the
//! movement rules; [`inventory::store`] for the sled layout and transactions;
//! [`inventory::group_commit`] for the rounds of group commit; [`channel::policy`],
//! [`channel::scheduler`] and [`channel::marketplace`] for listing policies, the push queue and
//! the marketplace port; [`ratelimit`] for every platform's limits; [`tenant`] for supervision;
//! [`registry`] and [`runtime`] for the running clients and their arbiters; [`storage`] for
//! opening sled; [`metrics`] for every metric name.

pub mod channel;
pub mod clock;
pub mod ids;
pub mod inventory;
pub mod metrics;
pub mod platform;
pub mod ratelimit;
pub mod registry;
pub mod runtime;
pub mod storage;
pub mod tenant;
#[cfg(any(test, feature = "testsuite"))]
pub mod testing;
