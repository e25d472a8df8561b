//! TikTok Shop (Partner API 202309): stock set per product with many of its SKUs in one call,
//! read back with the inventory search, orders from the order search and detail, every call signed
//! with the app secret, and signed order webhooks (reference/marketplace-apis.md §6). `connector`
//! is production; `mock` the marketplace.

pub mod connector;
#[cfg(feature = "mocks")]
pub mod mock;
