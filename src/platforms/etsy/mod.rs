//! Etsy Open API v3 (reference/marketplace-apis.md §2): `connector` (production, with its own
//! wire types) and `mock` (the marketplace, its pure inventory and receipt rules in
//! `mock::inventory` and `mock::receipts`).

pub mod connector;
#[cfg(feature = "mocks")]
pub mod mock;
