//! Test doubles and test data shared by the engine tests and the service tests.

use crate::channel::marketplace::{PushItem, PushOutcome};
use crate::ids::Sku;

pub mod fake_marketplace;
pub mod ledger;

/// The SKU a test writes as a literal it knows to be valid.
pub fn sku(text: &str) -> Sku {
    Sku::parse(text).unwrap()
}

/// A push of `quantity` units of `sku_text`, without compare-and-set (the listing was never
/// confirmed), computed from ledger sequence 1.
pub fn item(sku_text: &str, quantity: u32) -> PushItem {
    item_showing(sku_text, quantity, None)
}

/// A push of `quantity` units of `sku_text` only if the listing still shows `previous`.
pub fn item_showing(sku_text: &str, quantity: u32, previous: Option<u32>) -> PushItem {
    PushItem {
        sku: sku(sku_text),
        quantity,
        previous,
        ledger_seq: 1,
    }
}

/// The outcome of a push the marketplace confirmed at `quantity` for `sku_text`.
pub fn confirmed(sku_text: &str, quantity: u32) -> PushOutcome {
    PushOutcome::Confirmed {
        sku: sku(sku_text),
        quantity,
    }
}

/// The outcome of a compare-and-set push refused because the listing showed `actual`.
pub fn stale(sku_text: &str, actual: Option<u32>) -> PushOutcome {
    PushOutcome::Stale {
        sku: sku(sku_text),
        actual,
    }
}
