//! One folder per marketplace platform: its mock (`mock.rs`, the platform's real wire format served
//! by actix-web, DESIGN §7) and its connector (`connector.rs`, a reqwest client implementing the
//! engine's `Marketplace` trait against that wire format). `connector.rs` here is what every
//! connector shares. `mock/` is what every mock
//! shares: listings, shoppers, faults, webhooks, the `/_mock/` control surface and the server.

// A mock's request path returns the platform's reply as the `Err` of a `Result` (an auth refusal,
// a throttle, a bad body) so that handlers read top to bottom with `?`-like early returns; the
// reply is built once per refused request, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

pub mod amazon;
pub mod connector;
pub mod ebay;
pub mod egress;
pub mod etsy;
#[cfg(feature = "mocks")]
pub mod mock;
pub mod shopify;
pub mod walmart;

pub use shelfsync_actors::channel::platform::Platform;
