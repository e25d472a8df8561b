//! Shopify (reference/marketplace-apis.md §1): the GraphQL Admin API's `inventorySetQuantities`
//! and `orders` polling, the legacy REST inventory calls, and signed order webhooks. The mock is
//! split so that its pure parts test without HTTP: `graphql` (document, variables, schema, cost),
//! `inventory` (the set-quantities rules), `orders` (search syntax, cursors, webhook JSON),
//! `resolve` (running an operation against the world), `ids`, and `mock` (HTTP, limits, webhooks).

pub mod connector;
pub mod graphql;
pub mod ids;
pub mod inventory;
pub mod mock;
pub mod orders;
pub mod resolve;
