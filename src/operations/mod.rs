//! The operations layer (issue 15): what an agency does all day beside keeping stock in step
//! (`reference/agency-operations.md`). One concept per module, plain types and functions tested
//! without actix or HTTP; [`store`] keeps them in the service database, [`sweep`] runs the
//! periodic work (importing the ledgers' exceptions, escalating, retrying deliveries, watching
//! credentials' rotate-by dates), and `crate::api` serves them.
//!
//! - [`queue`]: the exception queue a person works (open → acknowledged → resolved);
//! - [`escalation`]: which exceptions go to the client, and the signed, retried deliveries;
//! - [`profile`]: the client's profile and access record;
//! - [`audit`]: every write a person makes;
//! - [`rotation`]: credentials near or past their rotate-by date;
//! - [`checklist`]: launch and other checklists computed from what the service has seen;
//! - [`sync_test`]: the launch checklist's end-to-end sync test.

pub mod audit;
pub mod checklist;
pub mod escalation;
pub mod profile;
pub mod queue;
pub mod rotation;
pub mod store;
pub mod sweep;
pub mod sync_test;

pub use self::store::{OperationsError, OperationsStore};
