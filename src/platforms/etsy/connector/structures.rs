//! Each listing's inventory as the connector last saw it, so that an Etsy push is one call (the
//! `PUT`) instead of a `GET` and a `PUT` on a budget every shop of the agency shares (issue 14,
//! reference §2.1 and §2.3).
//!
//! Etsy replaces a listing's inventory whole, so the `PUT` carries every product, property and
//! price of the listing. What is kept is the last `GET` reply (a read-back or a push's read) or
//! the last `PUT` reply (Etsy answers with the inventory as it now is). A kept inventory is used
//! for at most the account's `inventory_max_age_secs` ([`DEFAULT_MAX_AGE`] unless set; 0 reads
//! before every push, as before issue 14), and dropped:
//!
//! - when a receipt names the listing and the listing has more than one product: a sale or
//!   cancellation on Etsy moved the quantity of a product the push sends back unchanged (a
//!   listing with one product does not care: the push sets that product's quantity);
//! - when Etsy refuses a `PUT` made from it as invalid (the connector reads the listing and sends
//!   again), or answers that the listing is gone (404); a throttle, a 5xx or a timeout keeps it,
//!   as they say nothing of the listing's shape.
//!
//! The risk this trades, stated rather than hidden: an edit a person makes on Etsy to the
//! listing's variations or prices within the max age is sent back as it was by the next push
//! (Etsy has no conditional `PUT`, and the `GET` before each push only narrowed the same race to a
//! round trip). Reconciliation read-backs refresh what is kept; an agency whose staff edit
//! variations on Etsy while shelfsync manages them sets `inventory_max_age_secs` lower, or 0.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

/// How long a kept inventory is pushed from without reading the listing again.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// How much older than the max age a kept inventory may be when the push runs: the channel
/// priced the push (`Marketplace::push_extra_calls`) a moment before it is sent, and a read it
/// did not charge would overspend the shared budget.
const SEND_GRACE: Duration = Duration::from_secs(5);

/// The most listings kept per connection; past it, expired ones go, then all (a catalog is far
/// smaller; this only bounds memory against a listing map that grows without end).
const MAX_KEPT: usize = 20_000;

/// The kept inventories of one connection, keyed by listing id.
#[derive(Debug)]
pub(super) struct Structures {
    max_age: Duration,
    kept: Mutex<HashMap<String, Kept>>,
}

#[derive(Debug)]
struct Kept {
    inventory: Arc<Value>,
    seen_at: Instant,
}

impl Structures {
    /// Keeps inventories for `max_age` (zero: keeps none).
    pub(super) fn new(max_age: Duration) -> Structures {
        Structures {
            max_age,
            kept: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Kept>> {
        // A panic while holding the lock leaves a map of whole entries: still usable.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells whether a push of `listing_id` at `now` is one call (the `PUT` from what is kept).
    pub(super) fn holds(&self, listing_id: &str, now: Instant) -> bool {
        self.kept_within(listing_id, now, self.max_age).is_some()
    }

    /// The inventory to push `listing_id` from at `now`, if one is kept and recent enough.
    pub(super) fn for_push(&self, listing_id: &str, now: Instant) -> Option<Arc<Value>> {
        self.kept_within(listing_id, now, self.max_age + SEND_GRACE)
    }

    fn kept_within(&self, listing_id: &str, now: Instant, age: Duration) -> Option<Arc<Value>> {
        if self.max_age.is_zero() {
            return None;
        }
        self.lock()
            .get(listing_id)
            .filter(|kept| now.saturating_duration_since(kept.seen_at) <= age)
            .map(|kept| Arc::clone(&kept.inventory))
    }

    /// Keeps `inventory`, what Etsy showed of `listing_id` at `now`.
    pub(super) fn keep(&self, listing_id: &str, inventory: Value, now: Instant) {
        if self.max_age.is_zero() {
            return;
        }
        let mut kept = self.lock();
        if kept.len() >= MAX_KEPT && !kept.contains_key(listing_id) {
            let max_age = self.max_age;
            kept.retain(|_, held| now.saturating_duration_since(held.seen_at) <= max_age);
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
        }
        kept.insert(
            listing_id.to_string(),
            Kept {
                inventory: Arc::new(inventory),
                seen_at: now,
            },
        );
    }

    /// Drops what is kept of `listing_id`.
    pub(super) fn forget(&self, listing_id: &str) {
        self.lock().remove(listing_id);
    }

    /// Drops the kept inventories of `listing_ids` (listings a receipt names) that hold more than
    /// one product: the sale moved a quantity the next push would send back unchanged.
    pub(super) fn forget_sold(&self, listing_ids: impl IntoIterator<Item = u64>) {
        let mut kept = self.lock();
        if kept.is_empty() {
            return;
        }
        for listing_id in listing_ids {
            let key = listing_id.to_string();
            let several = kept
                .get(&key)
                .is_some_and(|held| live_products(&held.inventory) > 1);
            if several {
                kept.remove(&key);
            }
        }
    }
}

/// The products of an inventory that are not deleted.
fn live_products(inventory: &Value) -> usize {
    inventory
        .get("products")
        .and_then(Value::as_array)
        .map_or(0, |products| {
            products
                .iter()
                .filter(|product| product.get("is_deleted") != Some(&Value::Bool(true)))
                .count()
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn inventory(skus: &[&str]) -> Value {
        let products: Vec<Value> = skus
            .iter()
            .map(|sku| json!({"sku": sku, "offerings": [{"quantity": 1, "is_enabled": true}]}))
            .collect();
        json!({ "products": products })
    }

    #[test]
    fn a_kept_inventory_is_pushed_from_until_its_max_age_and_a_moment_past_it() {
        let structures = Structures::new(Duration::from_secs(600));
        let seen = Instant::now();
        assert!(!structures.holds("1", seen));
        structures.keep("1", inventory(&["MUG"]), seen);
        let within = seen + Duration::from_secs(600);
        assert!(structures.holds("1", within));
        assert_eq!(
            *structures.for_push("1", within).unwrap(),
            inventory(&["MUG"])
        );
        // Priced as held just before the max age, sent just after: still one call.
        let sent = within + Duration::from_secs(1);
        assert!(!structures.holds("1", sent));
        assert!(structures.for_push("1", sent).is_some());
        assert!(structures.for_push("1", within + SEND_GRACE * 2).is_none());
        structures.forget("1");
        assert!(structures.for_push("1", seen).is_none());
    }

    #[test]
    fn a_max_age_of_zero_keeps_nothing() {
        let structures = Structures::new(Duration::ZERO);
        let now = Instant::now();
        structures.keep("1", inventory(&["MUG"]), now);
        assert!(!structures.holds("1", now));
        assert!(structures.for_push("1", now).is_none());
    }

    #[test]
    fn a_receipt_drops_only_listings_of_several_products() {
        let structures = Structures::new(DEFAULT_MAX_AGE);
        let now = Instant::now();
        structures.keep("1", inventory(&["MUG"]), now);
        structures.keep("2", inventory(&["CAP-RED", "CAP-BLUE"]), now);
        structures.keep("3", inventory(&["HAT-RED", "HAT-BLUE"]), now);
        structures.forget_sold([1, 2, 9]);
        assert!(structures.holds("1", now), "one product: the push sets it");
        assert!(
            !structures.holds("2", now),
            "the sale moved a sibling product"
        );
        assert!(structures.holds("3", now), "not named by the receipt");
    }

    #[test]
    fn a_full_map_drops_expired_listings_first() {
        let structures = Structures::new(Duration::from_secs(10));
        let old = Instant::now();
        for listing in 0..MAX_KEPT {
            structures.keep(&listing.to_string(), json!({}), old);
        }
        let now = old + Duration::from_secs(60);
        structures.keep("fresh", json!({}), now);
        assert_eq!(structures.lock().len(), 1);
        assert!(structures.holds("fresh", now));
    }
}
