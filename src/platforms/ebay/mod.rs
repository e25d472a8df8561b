//! eBay Sell APIs (reference/marketplace-apis.md §5): `connector` is production; `mock` the
//! marketplace, with its Inventory API shapes and rules in `mock::wire` and its Fulfillment API
//! order feed in `mock::orders`.

pub mod connector;
#[cfg(feature = "mocks")]
pub mod mock;
