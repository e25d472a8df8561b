//! Amazon (reference/marketplace-apis.md).

pub mod mock;
