//! What a mock marketplace knows, without HTTP: its listings and their listed quantities, the
//! orders shoppers placed, and the ground truth the bench reads back (DESIGN §7). Plain types and
//! functions, tested on their own; the HTTP layers of every platform call into them.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::MockError;

/// The most listings one mock holds: the `agency-100` bench needs 1 500 per mock, this leaves room
/// and still bounds what a bad control call can allocate.
pub const MAX_LISTINGS: usize = 1_000_000;
/// The largest quantity a listing may show through the control surface.
pub const MAX_CONTROL_QUANTITY: i64 = 1_000_000_000;
/// The longest SKU a mock accepts (the longest any of the five platforms allows is eBay's 50;
/// the mocks are looser so that the connectors' own checks are what a test exercises).
pub const MAX_SKU_LEN: usize = 100;

/// How a platform names one listing: its own ids and the `listing_ref` a connector keeps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListingIdentity {
    /// The platform's ids of the listing (inventory item id, listing id, offer id, ...).
    pub ids: Value,
    /// The one string that identifies the listing for a connector.
    pub listing_ref: String,
}

/// One listing on the mock marketplace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    /// The mock's own sequence number of the listing (1, 2, ...), the seed of its platform ids.
    pub number: u64,
    /// The seller's SKU.
    pub sku: String,
    /// The quantity the listing shows to shoppers.
    pub quantity: i64,
    /// The platform's ids.
    pub ids: Value,
    /// The connector's reference.
    pub listing_ref: String,
    /// When the listed quantity last changed.
    pub updated_at: DateTime<Utc>,
    /// The last few changes, oldest first, so that an observer can tell what the listing showed
    /// at a past instant (the bench's reaction lag); not part of any platform's view.
    #[serde(skip)]
    pub history: VecDeque<QuantityChange>,
}

/// One change of a listing's quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantityChange {
    /// When.
    pub at: DateTime<Utc>,
    /// The quantity before.
    pub before: i64,
}

/// Changes kept per listing.
const HISTORY_LEN: usize = 32;

impl Listing {
    /// Sets the quantity at `now`, remembering the change.
    fn change(&mut self, quantity: i64, now: DateTime<Utc>) {
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(QuantityChange {
            at: now,
            before: self.quantity,
        });
        self.quantity = quantity;
        self.updated_at = now;
    }

    /// What the listing showed at `at`, if the kept changes still tell.
    pub fn quantity_at(&self, at: DateTime<Utc>) -> Option<i64> {
        match self.history.iter().find(|change| change.at > at) {
            None => Some(self.quantity),
            // Older changes than the kept ones may have happened since `at`.
            Some(first) if self.history.len() == HISTORY_LEN && first == &self.history[0] => None,
            Some(first) => Some(first.before),
        }
    }
}

/// Whether an order stands or was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Paid and waiting to ship.
    Placed,
    /// Cancelled; its units went back on the listing.
    Cancelled,
}

/// One order of one line (shoppers buy one SKU per order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    /// The mock's own sequence number of the order (1, 2, ...).
    pub number: u64,
    /// The platform's order id.
    pub order_id: String,
    /// The listing bought from.
    pub listing_number: u64,
    /// The SKU bought.
    pub sku: String,
    /// Units bought.
    pub quantity: i64,
    /// Placed or cancelled.
    pub status: OrderStatus,
    /// When the order was placed.
    pub created_at: DateTime<Utc>,
    /// When the order last changed (placement or cancellation); order feeds filter on it.
    pub updated_at: DateTime<Utc>,
}

/// What happened to an order, for the platform's notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderChange {
    /// A new order.
    Created,
    /// The order was cancelled.
    Cancelled,
}

/// Why an order was not placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRefusal {
    /// No listing has this SKU.
    UnknownSku,
    /// The listing shows fewer units than asked for, as a real marketplace refuses.
    InsufficientQuantity {
        /// What the listing shows.
        listed: i64,
    },
}

/// Ground truth a bench or test reads back from a mock.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Orders placed (sold).
    pub orders: u64,
    /// Orders refused because the listing showed too little.
    pub orders_refused: u64,
    /// Orders cancelled after placement.
    pub orders_cancelled: u64,
    /// Units sold per SKU (cancelled orders included: a sale that happened).
    pub units_sold: BTreeMap<String, i64>,
    /// Units returned to listings by cancellations, per SKU.
    pub units_cancelled: BTreeMap<String, i64>,
    /// Platform requests received, per operation (control calls are not counted).
    pub requests: BTreeMap<String, u64>,
    /// Throttled replies sent, per operation (rate limits and the throttle fault).
    pub throttled: BTreeMap<String, u64>,
    /// Requests refused for a missing or wrong credential, per operation.
    pub auth_refused: BTreeMap<String, u64>,
    /// Injected server errors and downtime replies, per operation.
    pub faulted: BTreeMap<String, u64>,
    /// Compare-and-set writes refused because the listing no longer showed the expected quantity.
    pub cas_conflicts: u64,
    /// Listing writes applied by platform calls (set-quantity and the like).
    pub quantity_writes: u64,
    /// Webhook deliveries answered 2xx by the receiver, duplicates included.
    pub webhooks_delivered: u64,
    /// Webhook attempts that failed (non-2xx, refused, timed out) and were retried or given up.
    pub webhook_attempts_failed: u64,
    /// Webhooks given up: after the last retry, or at once on a reply the platform does not retry.
    pub webhooks_given_up: u64,
    /// Webhooks sent twice on purpose (`duplicate_webhook_rate`).
    pub webhooks_duplicated: u64,
}

/// The listings and orders of one mock marketplace.
#[derive(Debug, Default)]
pub struct World {
    listings: BTreeMap<u64, Listing>,
    by_sku: HashMap<String, u64>,
    by_ref: HashMap<String, u64>,
    orders: Vec<Order>,
    order_index: HashMap<String, usize>,
    /// The ground truth.
    pub stats: Stats,
}

/// A listing asked for through the control surface.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewListing {
    /// The seller's SKU.
    pub sku: String,
    /// The quantity it shows at first.
    pub quantity: i64,
}

impl World {
    /// Creates listings, all or none: a bad SKU, a negative quantity or a SKU already listed refuses
    /// the whole call. `identity` gives each new listing its platform ids from its number.
    pub fn create_listings(
        &mut self,
        new: &[NewListing],
        now: DateTime<Utc>,
        identity: impl Fn(u64, &str) -> ListingIdentity,
    ) -> Result<Vec<Listing>, MockError> {
        if self.listings.len() + new.len() > MAX_LISTINGS {
            return Err(MockError::TooManyListings { max: MAX_LISTINGS });
        }
        let mut seen = HashMap::new();
        for (index, listing) in new.iter().enumerate() {
            validate_sku(&listing.sku)
                .map_err(|message| MockError::BadListing { index, message })?;
            if !(0..=MAX_CONTROL_QUANTITY).contains(&listing.quantity) {
                return Err(MockError::BadListing {
                    index,
                    message: format!(
                        "quantity {} is outside 0..={MAX_CONTROL_QUANTITY}",
                        listing.quantity
                    ),
                });
            }
            if self.by_sku.contains_key(&listing.sku) || seen.insert(&listing.sku, index).is_some()
            {
                return Err(MockError::DuplicateSku {
                    sku: listing.sku.clone(),
                });
            }
        }
        let mut created = Vec::with_capacity(new.len());
        for listing in new {
            let number = self.listings.len() as u64 + 1;
            let ListingIdentity { ids, listing_ref } = identity(number, &listing.sku);
            let listing = Listing {
                number,
                sku: listing.sku.clone(),
                quantity: listing.quantity,
                ids,
                listing_ref: listing_ref.clone(),
                updated_at: now,
                history: VecDeque::new(),
            };
            self.by_sku.insert(listing.sku.clone(), number);
            self.by_ref.insert(listing_ref, number);
            self.listings.insert(number, listing.clone());
            created.push(listing);
        }
        Ok(created)
    }

    /// Every listing, in creation order.
    pub fn listings(&self) -> impl Iterator<Item = &Listing> {
        self.listings.values()
    }

    /// How many listings there are.
    pub fn listing_count(&self) -> usize {
        self.listings.len()
    }

    /// The listing with this number.
    pub fn listing(&self, number: u64) -> Option<&Listing> {
        self.listings.get(&number)
    }

    /// The listing of a SKU.
    pub fn listing_by_sku(&self, sku: &str) -> Option<&Listing> {
        self.by_sku
            .get(sku)
            .and_then(|number| self.listings.get(number))
    }

    /// The listing a connector's `listing_ref` names.
    pub fn listing_by_ref(&self, listing_ref: &str) -> Option<&Listing> {
        self.by_ref
            .get(listing_ref)
            .and_then(|number| self.listings.get(number))
    }

    /// The listing whose platform ids hold `value` under `key` (a listing id, an inventory item id).
    pub fn listing_by_id(&self, key: &str, value: &Value) -> Option<&Listing> {
        self.listings
            .values()
            .find(|listing| listing.ids.get(key) == Some(value))
    }

    /// Sets what a listing shows (a platform's set-quantity call), counted as a write.
    pub fn set_quantity(&mut self, number: u64, quantity: i64, now: DateTime<Utc>) -> Option<i64> {
        let listing = self.listings.get_mut(&number)?;
        let before = listing.quantity;
        listing.change(quantity, now);
        self.stats.quantity_writes += 1;
        Some(before)
    }

    /// Places one order: sold when the listing shows at least `quantity`, else refused (and
    /// counted), the way a marketplace refuses to sell what it does not show.
    pub fn place_order(
        &mut self,
        sku: &str,
        quantity: i64,
        now: DateTime<Utc>,
        order_id: impl FnOnce(u64) -> String,
    ) -> Result<Order, OrderRefusal> {
        let Some(&number) = self.by_sku.get(sku) else {
            return Err(OrderRefusal::UnknownSku);
        };
        let listing = self
            .listings
            .get_mut(&number)
            .expect("the SKU index names a listing");
        if quantity < 1 || listing.quantity < quantity {
            self.stats.orders_refused += 1;
            return Err(OrderRefusal::InsufficientQuantity {
                listed: listing.quantity,
            });
        }
        listing.change(listing.quantity - quantity, now);
        let order_number = self.orders.len() as u64 + 1;
        let order = Order {
            number: order_number,
            order_id: order_id(order_number),
            listing_number: number,
            sku: sku.to_string(),
            quantity,
            status: OrderStatus::Placed,
            created_at: now,
            updated_at: now,
        };
        self.stats.orders += 1;
        *self.stats.units_sold.entry(sku.to_string()).or_default() += quantity;
        self.order_index
            .insert(order.order_id.clone(), self.orders.len());
        self.orders.push(order.clone());
        Ok(order)
    }

    /// Cancels a placed order and puts its units back on the listing (Shopify's restock, Etsy's
    /// and Amazon's automatic return of cancelled units to the offer).
    pub fn cancel_order(&mut self, order_id: &str, now: DateTime<Utc>) -> Result<Order, MockError> {
        let Some(&index) = self.order_index.get(order_id) else {
            return Err(MockError::UnknownOrder {
                order_id: order_id.to_string(),
            });
        };
        let order = &mut self.orders[index];
        if order.status == OrderStatus::Cancelled {
            return Err(MockError::AlreadyCancelled {
                order_id: order_id.to_string(),
            });
        }
        order.status = OrderStatus::Cancelled;
        order.updated_at = now;
        let order = order.clone();
        if let Some(listing) = self.listings.get_mut(&order.listing_number) {
            listing.change(listing.quantity + order.quantity, now);
        }
        self.stats.orders_cancelled += 1;
        *self
            .stats
            .units_cancelled
            .entry(order.sku.clone())
            .or_default() += order.quantity;
        Ok(order)
    }

    /// Every order, in placement order.
    pub fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// The order with this platform id.
    pub fn order(&self, order_id: &str) -> Option<&Order> {
        self.order_index
            .get(order_id)
            .map(|&index| &self.orders[index])
    }

    /// Orders changed within `[from, until)` (either bound open), sorted by last change then
    /// number: what every platform's "modified since" order feed pages through.
    pub fn orders_changed_between(
        &self,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Vec<&Order> {
        let mut orders: Vec<&Order> = self
            .orders
            .iter()
            .filter(|order| from.is_none_or(|from| order.updated_at >= from))
            .filter(|order| until.is_none_or(|until| order.updated_at < until))
            .collect();
        orders.sort_by_key(|order| (order.updated_at, order.number));
        orders
    }

    /// Orders created within `[from, until)`, in creation order.
    pub fn orders_created_between(
        &self,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Vec<&Order> {
        self.orders
            .iter()
            .filter(|order| from.is_none_or(|from| order.created_at >= from))
            .filter(|order| until.is_none_or(|until| order.created_at < until))
            .collect()
    }

    /// Counts one platform request of `operation`.
    pub fn count_request(&mut self, operation: &str) {
        bump(&mut self.stats.requests, operation);
    }

    /// Counts one throttled reply of `operation`.
    pub fn count_throttled(&mut self, operation: &str) {
        bump(&mut self.stats.throttled, operation);
    }

    /// Counts one request refused for its credential.
    pub fn count_auth_refused(&mut self, operation: &str) {
        bump(&mut self.stats.auth_refused, operation);
    }

    /// Counts one injected error or downtime reply.
    pub fn count_faulted(&mut self, operation: &str) {
        bump(&mut self.stats.faulted, operation);
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// Checks a SKU the way the mocks do: 1 to [`MAX_SKU_LEN`] characters, no surrounding blanks, no
/// control characters.
pub fn validate_sku(sku: &str) -> Result<(), String> {
    if sku.is_empty() {
        return Err("sku is empty".into());
    }
    if sku.chars().count() > MAX_SKU_LEN {
        return Err(format!("sku is longer than {MAX_SKU_LEN} characters"));
    }
    if sku.trim() != sku {
        return Err(format!("sku {sku:?} has blanks around it"));
    }
    if sku.chars().any(char::is_control) {
        return Err("sku holds a control character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use serde_json::json;

    use super::*;

    fn identity(number: u64, sku: &str) -> ListingIdentity {
        ListingIdentity {
            ids: json!({ "id": number }),
            listing_ref: format!("ref-{sku}"),
        }
    }

    fn world_with(listings: &[(&str, i64)]) -> World {
        let mut world = World::default();
        let new: Vec<NewListing> = listings
            .iter()
            .map(|(sku, quantity)| NewListing {
                sku: sku.to_string(),
                quantity: *quantity,
            })
            .collect();
        world.create_listings(&new, Utc::now(), identity).unwrap();
        world
    }

    #[test]
    fn listings_get_numbers_ids_and_refs() {
        let world = world_with(&[("A-1", 3), ("B-2", 0)]);
        let b = world.listing_by_sku("B-2").unwrap();
        assert_eq!(
            (b.number, b.quantity, b.listing_ref.as_str()),
            (2, 0, "ref-B-2")
        );
        assert_eq!(world.listing_by_ref("ref-A-1").unwrap().number, 1);
        assert_eq!(world.listing_by_id("id", &json!(2)).unwrap().sku, "B-2");
    }

    #[test]
    fn a_listing_tells_what_it_showed_at_a_past_instant_while_its_history_reaches() {
        let mut world = world_with(&[("A-1", 10)]);
        let start = Utc::now();
        let at = |ms: i64| start + Duration::milliseconds(ms);
        world.set_quantity(1, 8, at(100)).unwrap();
        world
            .place_order("A-1", 3, at(200), |n| format!("o{n}"))
            .unwrap();
        let listing = world.listing_by_sku("A-1").unwrap();
        assert_eq!(listing.quantity_at(at(50)), Some(10));
        assert_eq!(
            listing.quantity_at(at(100)),
            Some(8),
            "a change at the instant counts"
        );
        assert_eq!(listing.quantity_at(at(150)), Some(8));
        assert_eq!(listing.quantity_at(at(300)), Some(5));
        for step in 0..40 {
            world.set_quantity(1, step, at(1_000 + step)).unwrap();
        }
        let listing = world.listing_by_sku("A-1").unwrap();
        assert_eq!(
            listing.quantity_at(at(150)),
            None,
            "older than the kept changes"
        );
        assert_eq!(listing.quantity_at(at(1_035)), Some(35));
    }

    #[test]
    fn a_bad_listing_refuses_the_whole_call() {
        let mut world = world_with(&[("A-1", 3)]);
        for bad in [
            vec![
                NewListing {
                    sku: "C".into(),
                    quantity: 1,
                },
                NewListing {
                    sku: "".into(),
                    quantity: 1,
                },
            ],
            vec![NewListing {
                sku: "C".into(),
                quantity: -1,
            }],
            vec![
                NewListing {
                    sku: "C".into(),
                    quantity: 1,
                },
                NewListing {
                    sku: "A-1".into(),
                    quantity: 1,
                },
            ],
            vec![
                NewListing {
                    sku: "C".into(),
                    quantity: 1,
                },
                NewListing {
                    sku: "C".into(),
                    quantity: 2,
                },
            ],
            vec![NewListing {
                sku: " C".into(),
                quantity: 1,
            }],
        ] {
            assert!(
                world.create_listings(&bad, Utc::now(), identity).is_err(),
                "{bad:?}"
            );
            assert_eq!(world.listing_count(), 1, "nothing of {bad:?} was created");
        }
    }

    #[test]
    fn an_order_sells_only_what_the_listing_shows() {
        let mut world = world_with(&[("A-1", 3)]);
        let now = Utc::now();
        let order = world
            .place_order("A-1", 2, now, |n| format!("o{n}"))
            .unwrap();
        assert_eq!((order.order_id.as_str(), order.quantity), ("o1", 2));
        assert_eq!(
            world.place_order("A-1", 2, now, |n| format!("o{n}")),
            Err(OrderRefusal::InsufficientQuantity { listed: 1 })
        );
        assert_eq!(
            world.place_order("NOPE", 1, now, |n| format!("o{n}")),
            Err(OrderRefusal::UnknownSku)
        );
        assert_eq!(world.listing_by_sku("A-1").unwrap().quantity, 1);
        assert_eq!((world.stats.orders, world.stats.orders_refused), (1, 1));
        assert_eq!(world.stats.units_sold["A-1"], 2);
    }

    #[test]
    fn a_cancellation_restocks_once() {
        let mut world = world_with(&[("A-1", 3)]);
        let now = Utc::now();
        world
            .place_order("A-1", 3, now, |n| format!("o{n}"))
            .unwrap();
        let later = now + Duration::seconds(5);
        let cancelled = world.cancel_order("o1", later).unwrap();
        assert_eq!(
            (cancelled.status, cancelled.updated_at),
            (OrderStatus::Cancelled, later)
        );
        assert_eq!(world.listing_by_sku("A-1").unwrap().quantity, 3);
        assert!(matches!(
            world.cancel_order("o1", later),
            Err(MockError::AlreadyCancelled { .. })
        ));
        assert!(matches!(
            world.cancel_order("o9", later),
            Err(MockError::UnknownOrder { .. })
        ));
        assert_eq!(world.stats.units_cancelled["A-1"], 3);
    }

    #[test]
    fn the_change_feed_is_sorted_by_last_change() {
        let mut world = world_with(&[("A-1", 10)]);
        let t0 = Utc::now();
        for step in 0..3 {
            world
                .place_order("A-1", 1, t0 + Duration::seconds(step), |n| format!("o{n}"))
                .unwrap();
        }
        world
            .cancel_order("o1", t0 + Duration::seconds(10))
            .unwrap();
        let feed: Vec<&str> = world
            .orders_changed_between(Some(t0 + Duration::seconds(1)), None)
            .iter()
            .map(|order| order.order_id.as_str())
            .collect();
        assert_eq!(feed, ["o2", "o3", "o1"]);
        let created: Vec<&str> = world
            .orders_created_between(None, Some(t0 + Duration::seconds(2)))
            .iter()
            .map(|order| order.order_id.as_str())
            .collect();
        assert_eq!(created, ["o1", "o2"]);
    }
}
