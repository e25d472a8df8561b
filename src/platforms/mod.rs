//! One folder per marketplace platform: `connector`, a reqwest client implementing the engine's
//! `Marketplace` port against the platform's wire format (production), and `mock/`, the platform's
//! real wire format served by actix-web (DESIGN §7; only with the `mocks` feature). `connector.rs`
//! here is what every connector shares, `pacer.rs` the pacing of calls the engine's limiter does
//! not see, `egress.rs` where a credential may be sent, `registry.rs` the one table of which
//! folder speaks which platform (a new platform is its folder and one line there), and `mock/`
//! what every mock shares: listings, shoppers, faults, webhooks, the `/_mock/` control surface and
//! the server.
//!
//! A connector and its mock keep their own wire types on purpose: each is an independent reading
//! of the platform's documentation, so a misreading on one side fails a test instead of agreeing
//! with itself.

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
pub mod notify;
pub mod pacer;
pub mod registry;
pub mod shopify;
pub mod tiktok;
pub mod walmart;

pub use shelfsync_actors::platform::Platform;
