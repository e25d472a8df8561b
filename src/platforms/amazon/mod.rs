//! Amazon Selling Partner API (reference/marketplace-apis.md §3): stock by `patchListingsItem`
//! (queued, applied later), orders by polling Orders v0 `getOrders`.

pub mod connector;
pub mod mock;
pub mod orders;
pub mod patch;
