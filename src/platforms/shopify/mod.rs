//! Shopify (reference/marketplace-apis.md §1): the GraphQL Admin API's `inventorySetQuantities`
//! and `orders` polling, the legacy REST inventory calls, and signed order webhooks.
//!
//! `connector` is the production side (with its own wire types); `mock` is the marketplace the
//! tests, the demo and the bench run against, split so that its pure parts test without HTTP
//! (`mock::graphql`, `mock::inventory`, `mock::orders`, `mock::resolve`, `mock::ids`).

pub mod connector;
#[cfg(feature = "mocks")]
pub mod mock;
