//! The shelfsync service shell: command line, the demo and the mock marketplaces. The HTTP API,
//! the credential vault and the platform connectors join it in the service issue (DESIGN §6);
//! the engine lives in the `shelfsync-actors` crate.

pub mod api;
pub mod auth;
pub mod cli;
pub mod clients;
pub mod config;
pub mod console;
#[cfg(feature = "mocks")]
pub mod demo;
pub mod operations;
pub mod platforms;
pub mod replenishment;
pub mod report;
pub mod serve;
pub mod service;
pub mod telemetry;
pub mod timestamp;
pub mod vault;
