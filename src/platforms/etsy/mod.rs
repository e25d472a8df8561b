//! Etsy (reference/marketplace-apis.md).

pub mod mock;
