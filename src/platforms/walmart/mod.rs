//! Walmart Marketplace (US): `PUT /v3/inventory` per SKU, orders by polling `GET /v3/orders`
//! (reference/marketplace-apis.md §4).

pub mod connector;
pub mod mock;
