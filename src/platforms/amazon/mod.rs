//! Amazon Selling Partner API (reference/marketplace-apis.md §3): stock by `patchListingsItem`
//! (queued, applied later), orders by polling Orders v0 `getOrders`. `connector` is production;
//! `mock` the marketplace (its patch rules in `mock::patch`, its order feed in `mock::orders`).

pub mod connector;
#[cfg(feature = "mocks")]
pub mod mock;
