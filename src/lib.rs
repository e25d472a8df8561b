//! The shelfsync service shell: command line and the demo. The HTTP API, the credential vault,
//! the platform connectors and the mock marketplaces join it in later issues (DESIGN §6, §7);
//! the engine lives in the `shelfsync-actors` crate.

pub mod cli;
pub mod demo;
