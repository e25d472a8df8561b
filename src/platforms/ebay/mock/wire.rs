//! eBay's wire shapes and the pure logic behind the Inventory API replies of the mock: the error
//! envelope, the `bulk_update_price_quantity` request and its per-item checks, the item/offer
//! quantity rule of reference §5.1 and the platform ids. No HTTP here: the handlers in `mock.rs`
//! call into these functions, and the unit tests below exercise them on their own.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::platforms::mock::world::MAX_CONTROL_QUANTITY;

/// The most inventory items one `bulk_update_price_quantity` call takes (reference §5.1).
pub const MAX_BULK_REQUESTS: usize = 25;
/// The largest item or offer quantity the mock accepts (the core's own listing bound).
pub const MAX_QUANTITY: i64 = MAX_CONTROL_QUANTITY;
/// The currency of the `EBAY_US` marketplace, the only one the mock's account sells on.
pub const CURRENCY: &str = "USD";

/// The eBay `errorId`s the mock sends. 1001 and 2001 are the reference's (§5.4, §5.3); 25710 is
/// the brief's; the others are mock-chosen in eBay's numbering ranges (2xxx gateway, 257xx
/// Inventory API, 30xxx/32xxx Fulfillment API) because the reference does not give them.
pub mod error_id {
    /// Missing or wrong access token (reference §5.4).
    pub const INVALID_ACCESS_TOKEN: u32 = 1001;
    /// The daily quota is used up (reference §5.3).
    pub const TOO_MANY_REQUESTS: u32 = 2001;
    /// An injected server error or downtime (mock-chosen).
    pub const INTERNAL_ERROR: u32 = 2003;
    /// A body that is not JSON or not the documented shape (mock-chosen).
    pub const INVALID_REQUEST: u32 = 2004;
    /// A field out of range: quantity, price, the number of requests (mock-chosen).
    pub const INVALID_VALUE: u32 = 25709;
    /// No inventory item has the SKU (the brief's 25710).
    pub const ENTITY_NOT_FOUND: u32 = 25710;
    /// The offer id is not an offer of the SKU (mock-chosen).
    pub const OFFER_NOT_AVAILABLE: u32 = 25713;
    /// An unknown filter name or a filter that does not parse (mock-chosen, "30700-ish").
    pub const INVALID_FILTER: u32 = 30700;
    /// A filter whose value does not parse: a bad date, an inverted range (mock-chosen).
    pub const INVALID_FILTER_VALUE: u32 = 30800;
    /// `limit` outside 1..=200 (mock-chosen).
    pub const INVALID_LIMIT: u32 = 30810;
    /// `offset` not a non-negative integer (mock-chosen).
    pub const INVALID_OFFSET: u32 = 30820;
    /// An unknown order id, or more than 50 `orderIds` (mock-chosen).
    pub const INVALID_ORDER_ID: u32 = 32100;
}

/// The `domain` of Inventory API errors.
pub const DOMAIN_INVENTORY: &str = "API_INVENTORY";
/// The `domain` of Fulfillment API errors.
pub const DOMAIN_FULFILLMENT: &str = "API_FULFILLMENT";

/// One entry of eBay's `errors` array.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDetail {
    /// The numeric `errorId`.
    pub error_id: u32,
    /// `domain`: `OAuth`, `ACCESS`, `API_INVENTORY`, ...
    pub domain: &'static str,
    /// `category`: `REQUEST` or `APPLICATION`.
    pub category: &'static str,
    /// `message`.
    pub message: String,
    /// `longMessage`, when eBay sends one.
    pub long_message: Option<String>,
    /// `parameters`, as `name`/`value` pairs.
    pub parameters: Vec<(String, String)>,
}

impl ErrorDetail {
    /// A `REQUEST` error with no long message and no parameters.
    pub fn request(error_id: u32, domain: &'static str, message: impl Into<String>) -> Self {
        ErrorDetail {
            error_id,
            domain,
            category: "REQUEST",
            message: message.into(),
            long_message: None,
            parameters: Vec::new(),
        }
    }

    /// The same error with a `longMessage`.
    pub fn long(mut self, long_message: impl Into<String>) -> Self {
        self.long_message = Some(long_message.into());
        self
    }

    /// The same error with one more `parameters` entry.
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.push((name.into(), value.into()));
        self
    }

    /// The JSON of the entry; `longMessage` and `parameters` only when set, as eBay omits them.
    pub fn to_json(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("errorId".into(), json!(self.error_id));
        entry.insert("domain".into(), json!(self.domain));
        entry.insert("category".into(), json!(self.category));
        entry.insert("message".into(), json!(self.message));
        if let Some(long_message) = &self.long_message {
            entry.insert("longMessage".into(), json!(long_message));
        }
        if !self.parameters.is_empty() {
            let parameters: Vec<Value> = self
                .parameters
                .iter()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect();
            entry.insert("parameters".into(), Value::Array(parameters));
        }
        Value::Object(entry)
    }
}

/// eBay's error envelope `{"errors":[...]}`.
pub fn envelope(errors: &[ErrorDetail]) -> Value {
    json!({ "errors": errors.iter().map(ErrorDetail::to_json).collect::<Vec<_>>() })
}

/// The 401 of a missing or wrong `Authorization` header (reference §5.4, verbatim).
pub fn invalid_access_token() -> ErrorDetail {
    ErrorDetail::request(
        error_id::INVALID_ACCESS_TOKEN,
        "OAuth",
        "Invalid access token",
    )
    .long("Invalid access token. Check the value of the Authorization HTTP request header.")
}

/// The 429 of a used-up daily quota (reference §5.3, verbatim).
pub fn too_many_requests() -> ErrorDetail {
    ErrorDetail::request(error_id::TOO_MANY_REQUESTS, "ACCESS", "Too many requests.")
        .long("The request limit has been reached for the resource.")
}

/// The 500/503 of an injected fault.
pub fn internal_error() -> ErrorDetail {
    ErrorDetail {
        category: "APPLICATION",
        ..ErrorDetail::request(error_id::INTERNAL_ERROR, "ACCESS", "Internal error")
    }
    .long(
        "There was a problem with an eBay internal system or process. Contact eBay developer \
         support for assistance.",
    )
}

/// The 400 of a body that is not JSON or not the documented shape; `reason` says what is wrong.
pub fn invalid_request(reason: &str) -> ErrorDetail {
    ErrorDetail::request(error_id::INVALID_REQUEST, "ACCESS", "Invalid request")
        .long("The request has errors. For help, see the documentation for this API.")
        .parameter("reason", reason)
}

/// The 404 of an unknown SKU (Inventory API).
pub fn entity_not_found(sku: &str) -> ErrorDetail {
    ErrorDetail::request(
        error_id::ENTITY_NOT_FOUND,
        DOMAIN_INVENTORY,
        "We didn't find the entity you are requesting. Please verify the request",
    )
    .parameter("sku", sku)
}

fn invalid_value(field: &str, info: &str) -> ErrorDetail {
    ErrorDetail::request(
        error_id::INVALID_VALUE,
        DOMAIN_INVENTORY,
        format!("Invalid value for {field}. {info}"),
    )
    .parameter("fieldName", field)
}

/// The body of `POST /sell/inventory/v1/bulk_update_price_quantity` (`BulkPriceQuantity`).
#[derive(Debug, Clone, Deserialize)]
pub struct BulkPriceQuantity {
    /// One entry per inventory item.
    pub requests: Vec<PriceQuantity>,
}

/// One inventory item of a bulk update (`PriceQuantity`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceQuantity {
    /// The seller's SKU.
    pub sku: String,
    /// The item-level quantity, when it changes.
    pub ship_to_location_availability: Option<ShipToLocationAvailability>,
    /// The published offers of the SKU to change.
    #[serde(default)]
    pub offers: Vec<OfferPriceQuantity>,
}

/// `shipToLocationAvailability` of a bulk update.
#[derive(Debug, Clone, Deserialize)]
pub struct ShipToLocationAvailability {
    /// The units available to ship.
    pub quantity: i64,
}

/// One offer of a bulk update (`OfferPriceQuantity`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferPriceQuantity {
    /// The offer id.
    pub offer_id: String,
    /// The offer's own cap on the listed quantity, when set.
    pub available_quantity: Option<i64>,
    /// The offer's new price, when set.
    pub price: Option<Amount>,
}

/// eBay's `Amount`: a decimal string and a currency code.
#[derive(Debug, Clone, Deserialize)]
pub struct Amount {
    /// The price, as a decimal string ("19.99").
    pub value: String,
    /// The currency code ("USD").
    pub currency: String,
}

/// Parses a bulk update body: `Err` is the whole call's 400 (not JSON, not the shape, no
/// requests or more than [`MAX_BULK_REQUESTS`]).
pub fn parse_bulk(body: &[u8]) -> Result<Vec<PriceQuantity>, ErrorDetail> {
    let bulk: BulkPriceQuantity =
        serde_json::from_slice(body).map_err(|error| invalid_request(&error.to_string()))?;
    if bulk.requests.is_empty() || bulk.requests.len() > MAX_BULK_REQUESTS {
        return Err(invalid_value(
            "requests",
            &format!(
                "A call takes 1 to {MAX_BULK_REQUESTS} requests, not {}.",
                bulk.requests.len()
            ),
        ));
    }
    Ok(bulk.requests)
}

/// The eBay quantities of one listing: the item-level quantity, the offer's `availableQuantity`
/// cap and what the world showed when they were last written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemStock {
    /// `shipToLocationAvailability.quantity`.
    pub item: i64,
    /// The offer's `availableQuantity`, once a call set it.
    pub offer: Option<i64>,
    /// The listed (effective) quantity these values gave, as written to the world.
    pub listed: i64,
}

impl ItemStock {
    /// A listing no call has written: the item quantity is what it shows, no offer cap.
    pub fn fresh(listed: i64) -> ItemStock {
        ItemStock {
            item: listed,
            offer: None,
            listed,
        }
    }

    /// The stock of a listing that now shows `listed_now`. Sales and cancellations move the world's
    /// quantity behind the mock's back; eBay moves the item quantity and the offer cap by the same
    /// amount, so the difference since the last write is applied to both (never below zero).
    pub fn reconcile(stored: Option<ItemStock>, listed_now: i64) -> ItemStock {
        let Some(stored) = stored else {
            return ItemStock::fresh(listed_now);
        };
        let delta = listed_now - stored.listed;
        ItemStock {
            item: (stored.item + delta).max(0),
            offer: stored.offer.map(|offer| (offer + delta).max(0)),
            listed: listed_now,
        }
    }

    /// The listed quantity: min(item quantity, offer `availableQuantity` when set) (§5.1, B2).
    pub fn effective(&self) -> i64 {
        self.offer.map_or(self.item, |offer| self.item.min(offer))
    }
}

/// What a bulk update knows of the listing of a request's SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownListing {
    /// The offer id of the listing's one published offer.
    pub offer_id: String,
    /// Its current stock (reconciled).
    pub stock: ItemStock,
}

/// The outcome of one request of a bulk update: its HTTP status, and the new stock when applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemOutcome {
    /// The item's `statusCode` (200, 400 or 404).
    pub status: u16,
    /// The errors of a refused item.
    pub errors: Vec<ErrorDetail>,
    /// The stock to write when the item succeeded.
    pub applied: Option<ItemStock>,
}

fn check_quantity(field: &str, quantity: i64) -> Option<ErrorDetail> {
    (!(0..=MAX_QUANTITY).contains(&quantity)).then(|| {
        invalid_value(
            field,
            &format!("The quantity must be 0 to {MAX_QUANTITY}, not {quantity}."),
        )
    })
}

fn check_price(price: &Amount) -> Option<ErrorDetail> {
    let value_ok = price
        .value
        .parse::<f64>()
        .is_ok_and(|value| value.is_finite() && value >= 0.0);
    if !value_ok {
        return Some(invalid_value(
            "price.value",
            &format!("{:?} is not a price.", price.value),
        ));
    }
    (price.currency != CURRENCY).then(|| {
        invalid_value(
            "price.currency",
            &format!(
                "The marketplace sells in {CURRENCY}, not {:?}.",
                price.currency
            ),
        )
    })
}

/// The field errors of a request, whatever its SKU: out-of-range quantities, bad prices, neither
/// an item quantity nor an offer.
pub fn field_errors(request: &PriceQuantity) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    if request.ship_to_location_availability.is_none() && request.offers.is_empty() {
        errors.push(invalid_value(
            "requests",
            "Each request needs shipToLocationAvailability or offers.",
        ));
    }
    if let Some(availability) = &request.ship_to_location_availability {
        errors.extend(check_quantity(
            "shipToLocationAvailability.quantity",
            availability.quantity,
        ));
    }
    for offer in &request.offers {
        if let Some(quantity) = offer.available_quantity {
            errors.extend(check_quantity("availableQuantity", quantity));
        }
        if let Some(price) = &offer.price {
            errors.extend(check_price(price));
        }
    }
    errors
}

/// Decides one request of a bulk update against its listing (`None`: no listing has the SKU).
/// A request is applied whole or not at all: 400 for field errors or a foreign offer id, 404 for
/// an unknown SKU, else 200 with the new stock.
pub fn apply_item(request: &PriceQuantity, listing: Option<&KnownListing>) -> ItemOutcome {
    let refused = |status: u16, errors: Vec<ErrorDetail>| ItemOutcome {
        status,
        errors,
        applied: None,
    };
    let errors = field_errors(request);
    if !errors.is_empty() {
        return refused(400, errors);
    }
    let Some(listing) = listing else {
        return refused(404, vec![entity_not_found(&request.sku)]);
    };
    let foreign: Vec<ErrorDetail> = request
        .offers
        .iter()
        .filter(|offer| offer.offer_id != listing.offer_id)
        .map(|offer| {
            ErrorDetail::request(
                error_id::OFFER_NOT_AVAILABLE,
                DOMAIN_INVENTORY,
                format!("This Offer is not available : {}", offer.offer_id),
            )
            .parameter("offerId", offer.offer_id.as_str())
        })
        .collect();
    if !foreign.is_empty() {
        return refused(400, foreign);
    }
    let mut stock = listing.stock;
    if let Some(availability) = &request.ship_to_location_availability {
        stock.item = availability.quantity;
    }
    for offer in &request.offers {
        if let Some(quantity) = offer.available_quantity {
            stock.offer = Some(quantity);
        }
    }
    stock.listed = stock.effective();
    ItemOutcome {
        status: 200,
        errors: Vec::new(),
        applied: Some(stock),
    }
}

/// The `responses` entries of one request: one per offer named (or the listing's offer when the
/// request names none and the SKU is known), else one without `offerId`.
pub fn item_responses(
    request: &PriceQuantity,
    listing_offer: Option<&str>,
    outcome: &ItemOutcome,
) -> Vec<Value> {
    let errors: Vec<Value> = outcome.errors.iter().map(ErrorDetail::to_json).collect();
    let entry = |offer_id: Option<&str>| {
        let mut entry = json!({
            "statusCode": outcome.status,
            "sku": request.sku,
            "errors": errors,
            "warnings": [],
        });
        if let Some(offer_id) = offer_id {
            entry["offerId"] = json!(offer_id);
        }
        entry
    };
    if request.offers.is_empty() {
        vec![entry(listing_offer)]
    } else {
        request
            .offers
            .iter()
            .map(|offer| entry(Some(&offer.offer_id)))
            .collect()
    }
}

/// The offer id of listing `number`: a 12-digit number like the reference's `5**********6`.
pub fn offer_id(number: u64) -> String {
    (500_000_000_000 + number).to_string()
}

/// The legacy item id (the listing id shoppers see) of listing `number`: 12 digits.
pub fn legacy_item_id(number: u64) -> String {
    (110_000_000_000 + number).to_string()
}

/// The title of a listing (the mock keeps no product data; the SKU makes it unique).
pub fn item_title(sku: &str) -> String {
    format!("Mock listing {sku}")
}

/// The inventory item of `GET /sell/inventory/v1/inventory_item/{sku}`.
pub fn inventory_item_json(sku: &str, item_quantity: i64) -> Value {
    json!({
        "sku": sku,
        "locale": "en_US",
        "condition": "NEW",
        "product": { "title": item_title(sku) },
        "availability": { "shipToLocationAvailability": { "quantity": item_quantity } },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> PriceQuantity {
        serde_json::from_value(body).expect("a request")
    }

    fn known(item: i64, offer: Option<i64>) -> KnownListing {
        let mut stock = ItemStock::fresh(item);
        stock.offer = offer;
        stock.listed = stock.effective();
        KnownListing {
            offer_id: offer_id(1),
            stock,
        }
    }

    #[test]
    fn the_envelope_omits_what_is_unset() {
        assert_eq!(
            envelope(&[too_many_requests()]),
            json!({"errors":[{"errorId":2001,"domain":"ACCESS","category":"REQUEST",
                "message":"Too many requests.",
                "longMessage":"The request limit has been reached for the resource."}]})
        );
        let entry = entity_not_found("A").to_json();
        assert!(entry.get("longMessage").is_none());
        assert_eq!(
            entry["parameters"],
            json!([{ "name": "sku", "value": "A" }])
        );
    }

    #[test]
    fn a_bulk_body_is_refused_whole_when_malformed_or_too_long() {
        assert_eq!(
            parse_bulk(b"{not json").unwrap_err().error_id,
            error_id::INVALID_REQUEST
        );
        assert_eq!(
            parse_bulk(br#"{"requests":{"sku":"A"}}"#)
                .unwrap_err()
                .error_id,
            error_id::INVALID_REQUEST
        );
        assert_eq!(
            parse_bulk(br#"{"requests":[]}"#).unwrap_err().error_id,
            error_id::INVALID_VALUE
        );
        let item = json!({"sku":"A","shipToLocationAvailability":{"quantity":1}});
        let body = |n: usize| serde_json::to_vec(&json!({ "requests": vec![item.clone(); n] }));
        assert_eq!(parse_bulk(&body(25).unwrap()).map(|r| r.len()), Ok(25));
        assert_eq!(
            parse_bulk(&body(26).unwrap()).unwrap_err().error_id,
            error_id::INVALID_VALUE
        );
    }

    #[test]
    fn the_listed_quantity_is_the_smaller_of_item_and_offer() {
        let listing = known(3, None);
        let outcome = apply_item(
            &request(
                json!({"sku":"A","shipToLocationAvailability":{"quantity":12},
                "offers":[{"offerId": offer_id(1), "availableQuantity":5}]}),
            ),
            Some(&listing),
        );
        assert_eq!(outcome.status, 200);
        assert_eq!(
            outcome.applied,
            Some(ItemStock {
                item: 12,
                offer: Some(5),
                listed: 5
            })
        );
        let only_item = apply_item(
            &request(json!({"sku":"A","shipToLocationAvailability":{"quantity":2}})),
            Some(&known(12, Some(5))),
        );
        assert_eq!(only_item.applied.map(|stock| stock.listed), Some(2));
    }

    #[test]
    fn bad_items_are_refused_whole_with_their_status() {
        let negative = apply_item(
            &request(json!({"sku":"A","shipToLocationAvailability":{"quantity":-1}})),
            Some(&known(3, None)),
        );
        assert_eq!((negative.status, negative.applied), (400, None));
        assert_eq!(negative.errors[0].error_id, error_id::INVALID_VALUE);
        let unknown = apply_item(
            &request(json!({"sku":"A","shipToLocationAvailability":{"quantity":1}})),
            None,
        );
        assert_eq!((unknown.status, unknown.applied), (404, None));
        let foreign = apply_item(
            &request(
                json!({"sku":"A","shipToLocationAvailability":{"quantity":1},
                "offers":[{"offerId":"999","availableQuantity":1}]}),
            ),
            Some(&known(3, None)),
        );
        assert_eq!(foreign.status, 400);
        assert_eq!(foreign.errors[0].error_id, error_id::OFFER_NOT_AVAILABLE);
        let bad_price = apply_item(
            &request(json!({"sku":"A","offers":[{"offerId": offer_id(1),
                "price":{"value":"abc","currency":"USD"}}]})),
            Some(&known(3, None)),
        );
        assert_eq!(bad_price.status, 400);
        let nothing = apply_item(&request(json!({"sku":"A"})), Some(&known(3, None)));
        assert_eq!(nothing.status, 400);
    }

    #[test]
    fn sales_move_item_and_offer_by_the_same_amount() {
        let stored = ItemStock {
            item: 20,
            offer: Some(5),
            listed: 5,
        };
        let after_sale = ItemStock::reconcile(Some(stored), 3);
        assert_eq!(
            after_sale,
            ItemStock {
                item: 18,
                offer: Some(3),
                listed: 3
            }
        );
        assert_eq!(after_sale.effective(), 3);
        assert_eq!(ItemStock::reconcile(Some(after_sale), 5), stored);
        assert_eq!(ItemStock::reconcile(None, 7), ItemStock::fresh(7));
    }

    #[test]
    fn responses_name_each_offer_or_the_listing_offer() {
        let outcome = ItemOutcome {
            status: 200,
            errors: vec![],
            applied: None,
        };
        let plain = request(json!({"sku":"A","shipToLocationAvailability":{"quantity":1}}));
        assert_eq!(
            item_responses(&plain, Some("500000000001"), &outcome),
            vec![json!({"statusCode":200,"sku":"A","offerId":"500000000001",
                "errors":[],"warnings":[]})]
        );
        assert!(item_responses(&plain, None, &outcome)[0]
            .get("offerId")
            .is_none());
    }

    #[test]
    fn ids_look_like_ebay_ids() {
        assert_eq!(offer_id(6), "500000000006");
        assert_eq!(legacy_item_id(1).len(), 12);
    }
}
