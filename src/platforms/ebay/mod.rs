//! eBay Sell APIs (reference/marketplace-apis.md §5): the mock's wire format (`mock`), its
//! Inventory API shapes and rules (`wire`) and its Fulfillment API order feed (`orders`).

pub mod connector;
pub mod mock;
pub mod orders;
pub mod wire;
