//! Walmart Marketplace (US): `PUT /v3/inventory` per SKU, orders by polling `GET /v3/orders`
//! (reference/marketplace-apis.md §4). `connector` is production; `mock` the marketplace.

pub mod connector;
#[cfg(feature = "mocks")]
pub mod mock;
