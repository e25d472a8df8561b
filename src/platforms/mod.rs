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
pub mod mock;
pub mod shopify;
pub mod walmart;

use std::sync::Arc;

pub use shelfsync_actors::channel::platform::Platform;

use self::mock::{MockError, MockOptions, PlatformMock};

/// The wire format of `platform`'s mock, with the plan of `options` (an unknown plan is refused).
pub fn platform_mock(
    platform: Platform,
    options: &MockOptions,
) -> Result<Arc<dyn PlatformMock>, MockError> {
    Ok(match platform {
        Platform::Shopify => shopify::mock::build(options)?,
        Platform::Etsy => etsy::mock::build(options)?,
        Platform::Amazon => amazon::mock::build(options)?,
        Platform::Walmart => walmart::mock::build(options)?,
        Platform::Ebay => ebay::mock::build(options)?,
    })
}

/// Refuses a plan `platform` does not have; `known` lists its plans.
pub fn check_plan(platform: Platform, plan: &str, known: &[&str]) -> Result<(), MockError> {
    if known.contains(&plan) {
        Ok(())
    } else {
        Err(MockError::UnknownPlan {
            platform,
            plan: plan.to_string(),
            known: known.join(", "),
        })
    }
}
