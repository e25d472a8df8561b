//! Etsy Open API v3 (reference/marketplace-apis.md §2): the mock marketplace's wire format, with
//! its pure inventory and receipt rules in their own modules.

pub mod connector;
pub mod inventory;
pub mod mock;
pub mod receipts;
