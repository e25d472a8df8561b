//! The Etsy Open API v3 mock (reference/marketplace-apis.md §2, §0 and §7):
//!
//! - `GET` and `PUT /v3/application/listings/{listing_id}/inventory` (§2.1): full replacement of a
//!   listing's products and offerings, the `GET` shape (Money prices, `product_id`, `offering_id`,
//!   `is_deleted`) distinct from the `PUT` shape (float prices; the `GET`-only fields refused with
//!   400), the `*_on_property` arrays checked against the products, quantity 0–999 per offering,
//!   price above 0 (rules in [`super::inventory`]).
//! - `GET /v3/application/shops/{shop_id}/receipts` and `.../receipts/{receipt_id}` (§2.2): the
//!   created and last-modified windows, `limit`/`offset` paging, `sort_on`/`sort_order` and the
//!   `was_*` filters, `{count, results}` (rules in [`super::receipts`]).
//! - Webhooks (§2.2): `order.paid` and `order.canceled`, thin payloads signed the Standard
//!   Webhooks way, retried on Etsy's schedule compressed (decisions in [`webhooks`]).
//! - Auth (§2.4): `x-api-key: {keystring}:{shared_secret}` on every request, then
//!   `Authorization: Bearer {user_id}.{token}` (all four routes are scoped calls).
//! - Limits (§2.3): one [`EtsyLimiter`] per mock (limits are per app), queries per second checked
//!   first, then queries per day over a rolling 24 h window; 2xx replies carry exactly
//!   `x-limit-per-second`, `x-remaining-this-second`, `x-limit-per-day`, `x-remaining-today`; a 429
//!   carries `retry-after` (seconds) and none of the four.
//!
//! Decisions where the reference is silent or unsure:
//!
//! - Credentials: the keystring and the user id are the mock's ([`KEYSTRING`], [`USER_ID`], shown
//!   in `/_mock/info` with [`SHOP_ID`]); any non-empty shared secret is accepted; the mock's one
//!   credential (`--token`) is the `{token}` part of the bearer. A keystring alone (the older
//!   docs' format) is refused like a wrong key: the current docs require the colon format.
//! - Auth replies: a missing, malformed or wrong `x-api-key` gets 403 `{"error": ...}`; a missing
//!   or wrong bearer (or one of another user) gets 401 `{"error": "invalid_token",
//!   "error_description": ...}`. The key is checked before the bearer, both before the limiter, so
//!   refused calls spend no quota.
//! - The 429 body is `{"error": "Rate limit exceeded"}` (the reference gives no body); a request
//!   refused later for its input (400, 404) has spent quota and carries no limit headers, which the
//!   reference promises on success only.
//! - Plans: `default` 10 QPS / 10 000 QPD (the older page), `current` 150 / 100 000 (the current
//!   page's example), `unlimited` (limits of `u32::MAX`, headers still sent).
//! - Ids: listing `n` has `listing_id` 1 000 000 000 + n, `product_id` 10 000 000 000 + n and
//!   `offering_id` 20 000 000 000 + n; `listing_ref` is the listing id as a string. The product of
//!   the listing's own SKU keeps these ids through every `PUT` (orders' transactions name it);
//!   products of other SKUs keep the ids they had, new ones get fresh ids. Receipt ids are
//!   3 000 000 000 + order number.
//! - A listing's quantity is the sum of the enabled offerings of the product carrying its SKU; other
//!   products (variations of other SKUs) are kept and shown but not sold by the mock's shoppers.
//!   Sales and cancellations since the last `PUT` are moved onto that product's enabled offerings
//!   when the inventory is read.
//! - Prices: a `PUT` price is rounded to cents and must lie in (0, 50 000]; `GET` shows it as
//!   Money `{amount, divisor: 100, currency_code: "USD"}`. Unknown body fields are refused (400),
//!   except `scale_name` in property values, which `GET` shows and a round trip may echo.
//! - `*_on_property` agreement: all products have the same properties and distinct values; each
//!   listed property is one of them; price, quantity, SKU and processing profile may differ between
//!   products only on the properties their array names.
//! - A `PUT` that drops the listing's SKU is refused with 400 (the mock's listings are keyed by
//!   SKU), as are two products with the same SKU.
//! - `readiness_state_id` [U]: accepted with or without; when left out the offering shows the
//!   shop's processing profile ([`super::inventory::DEFAULT_READINESS_STATE_ID`]). Knob:
//!   [`InventoryRules::require_readiness_state_id`].
//! - "One offering must have quantity greater than 0" [U] (E4 #395): not enforced by default, so
//!   that a connector can sell a listing out with 0. Knob: [`InventoryRules::refuse_all_zero`].
//! - The inventory query flags (`legacy`, `show_deleted`, `includes`) and unknown receipt
//!   parameters are accepted and ignored. Time bounds of receipts are inclusive unix seconds.
//! - Receipts: every mock order is paid (`is_paid` true even once cancelled); none ships, so
//!   `was_shipped=true` and `was_delivered=true` match nothing. A cancelled order shows
//!   `status: "canceled"` and its cancellation time as `update_timestamp`.
//! - A wrong shop id gets 404; a non-numeric path id gets 400.

pub mod inventory;
pub mod receipts;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use self::inventory::{
    enabled_quantity, parse_update, Inventory, InventoryRules, InventoryUpdate, ProductIds,
};
use self::receipts::{receipt_json, ReceiptContext, ReceiptQuery};
use crate::platforms::mock::check_plan;
use crate::platforms::mock::throttle::{EtsyAllowance, EtsyLimiter};
use crate::platforms::mock::world::{Listing, Order, OrderChange, World};
use crate::platforms::mock::{
    constant_time_eq, header, Delivery, ListingIdentity, MockError, MockOptions, MockState,
    PlatformMock, RetrySchedule, SubscriptionCheck, UNLIMITED_PLAN,
};
use crate::platforms::Platform;

/// The mock shop's id.
pub const SHOP_ID: u64 = 31_234_567;
/// The numeric id of the shop owner, the `{user_id}` of the bearer.
pub const USER_ID: u64 = 71_234_567;
/// The mock app's keystring, the first half of `x-api-key`.
pub const KEYSTRING: &str = "mock1etsy2keystring3abcd";
/// The plans: (name, queries per second, queries per day).
pub const PLANS: [(&str, u32, u32); 3] = [
    ("default", 10, 10_000),
    ("current", 150, 100_000),
    (UNLIMITED_PLAN, u32::MAX, u32::MAX),
];
const FIRST_FRESH_ID: u64 = 30_000_000_000;

/// Operation names (the keys of `/_mock/stats`).
pub mod operation {
    /// `GET /v3/application/listings/{listing_id}/inventory`.
    pub const GET_LISTING_INVENTORY: &str = "get_listing_inventory";
    /// `PUT /v3/application/listings/{listing_id}/inventory`.
    pub const UPDATE_LISTING_INVENTORY: &str = "update_listing_inventory";
    /// `GET /v3/application/shops/{shop_id}/receipts`.
    pub const GET_SHOP_RECEIPTS: &str = "get_shop_receipts";
    /// `GET /v3/application/shops/{shop_id}/receipts/{receipt_id}`.
    pub const GET_SHOP_RECEIPT: &str = "get_shop_receipt";
}

/// The Etsy mock for `options`.
pub fn build(options: &MockOptions) -> Result<Arc<dyn PlatformMock>, MockError> {
    Ok(Arc::new(EtsyMock::new(options, InventoryRules::default())?))
}

/// The Etsy wire format. Clones share the limiter and the inventories.
#[derive(Debug, Clone)]
pub struct EtsyMock {
    token: String,
    per_second: u32,
    per_day: u32,
    rules: InventoryRules,
    limiter: Arc<Mutex<EtsyLimiter>>,
    store: Arc<Mutex<Store>>,
    messages: Arc<webhooks::Messages>,
}

/// The inventory records of the listings a `PUT` or `GET` has touched, by listing number.
#[derive(Debug)]
struct Store {
    inventories: HashMap<u64, Inventory>,
    next_id: u64,
}

impl EtsyMock {
    /// The mock for `options` (plans `default`, `current`, `unlimited`) with inventory `rules`.
    pub fn new(options: &MockOptions, rules: InventoryRules) -> Result<EtsyMock, MockError> {
        let names: Vec<&str> = PLANS.iter().map(|&(name, _, _)| name).collect();
        check_plan(Platform::Etsy, &options.plan, &names)?;
        let (per_second, per_day) = PLANS
            .iter()
            .find(|&&(name, _, _)| name == options.plan)
            .map_or((u32::MAX, u32::MAX), |&(_, qps, qpd)| (qps, qpd));
        Ok(EtsyMock {
            token: options.token.clone(),
            per_second,
            per_day,
            rules,
            limiter: Arc::new(Mutex::new(EtsyLimiter::new(
                per_second,
                per_day,
                Instant::now(),
            ))),
            store: Arc::new(Mutex::new(Store {
                inventories: HashMap::new(),
                next_id: FIRST_FRESH_ID,
            })),
            messages: Arc::default(),
        })
    }

    /// Another shop of the same app: its own listings and inventories, drawing on this mock's
    /// limiter. Etsy's QPS and QPD are per app key, so every shop an agency connects through one
    /// app shares them; the `agency-100` bench starts one mock per client shop this way.
    pub fn sharing_app_budget(&self) -> EtsyMock {
        EtsyMock {
            store: Arc::new(Mutex::new(Store {
                inventories: HashMap::new(),
                next_id: FIRST_FRESH_ID,
            })),
            ..self.clone()
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every handler's prologue: admits the call ([`MockState::admit`]), checks the credentials,
    /// then takes one request of the limiter. `Err` is the reply to send.
    async fn guard(
        &self,
        state: &MockState,
        request: &HttpRequest,
        operation: &str,
    ) -> Result<EtsyAllowance, HttpResponse> {
        state.admit(operation).await?;
        let checked = check_auth(
            header(request, "x-api-key"),
            header(request, "authorization"),
            &self.token,
        );
        // A revoked grant: the OAuth token no longer works (the API key still identifies the app).
        let checked = match checked {
            Ok(()) if state.credential_revoked() => Err(AuthRefusal::Token),
            checked => checked,
        };
        match checked {
            Ok(()) => {}
            Err(AuthRefusal::ApiKey) => return Err(state.refuse_auth(operation, forbidden())),
            Err(AuthRefusal::Token) => return Err(state.refuse_auth(operation, invalid_token())),
        }
        let taken = self
            .limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .try_take(Instant::now());
        taken.map_err(|retry_after| state.throttle(operation, throttled(retry_after)))
    }
}

impl PlatformMock for EtsyMock {
    fn platform(&self) -> Platform {
        Platform::Etsy
    }

    fn api_version(&self) -> &'static str {
        "v3"
    }

    fn account(&self) -> Value {
        json!({
            "shop_id": SHOP_ID,
            "user_id": USER_ID,
            "keystring": KEYSTRING,
            "x_api_key": format!("{KEYSTRING}:<any non-empty shared secret>"),
            "authorization": format!("Bearer {USER_ID}.<token>"),
        })
    }

    fn limits(&self) -> Value {
        json!({
            "per_second": self.per_second,
            "per_day": self.per_day,
            "day_window": "rolling 24 h of twelve 2-hour buckets",
            "scope": "per app (one limiter per mock)",
        })
    }

    fn listing_identity(&self, number: u64, _sku: &str) -> ListingIdentity {
        let ids = own_ids(number);
        ListingIdentity {
            ids: json!({
                "listing_id": listing_id(number),
                "product_id": ids.product_id,
                "offering_id": ids.offering_id,
                "shop_id": SHOP_ID,
            }),
            listing_ref: listing_id(number).to_string(),
        }
    }

    fn order_id(&self, number: u64) -> String {
        (3_000_000_000 + number).to_string()
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        let inventory = "/v3/application/listings/{listing_id}/inventory";
        cfg.app_data(web::Data::new(self.clone()))
            .route(inventory, web::get().to(get_listing_inventory))
            .route(inventory, web::put().to(update_listing_inventory))
            .route(
                "/v3/application/shops/{shop_id}/receipts",
                web::get().to(get_shop_receipts),
            )
            .route(
                "/v3/application/shops/{shop_id}/receipts/{receipt_id}",
                web::get().to(get_shop_receipt),
            );
    }

    fn throttled_reply(&self) -> HttpResponse {
        throttled(1)
    }

    fn sends_webhooks(&self) -> bool {
        true
    }

    fn order_changed(&self, state: &MockState, order: &Order, change: OrderChange) {
        self.messages.order_changed(state, SHOP_ID, order, change);
    }

    fn webhook_retries(&self) -> RetrySchedule {
        webhooks::retry_schedule()
    }

    fn prepare_retry(&self, state: &MockState, delivery: &mut Delivery) {
        webhooks::resign(state, delivery);
    }

    fn check_subscription<'a>(&'a self, _url: &'a str, secret: &'a str) -> SubscriptionCheck<'a> {
        let checked = webhooks::check_secret(secret);
        Box::pin(async move { checked })
    }

    fn server_error_reply(&self, status: StatusCode) -> HttpResponse {
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "Service temporarily unavailable"
        } else {
            "An internal error occurred"
        };
        error_reply(status, message)
    }
}

/// The listing id of listing `number`.
pub fn listing_id(number: u64) -> u64 {
    1_000_000_000 + number
}

/// The product and offering ids of listing `number`'s own product.
pub fn own_ids(number: u64) -> ProductIds {
    ProductIds {
        product_id: 10_000_000_000 + number,
        offering_id: 20_000_000_000 + number,
    }
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRefusal {
    /// `x-api-key` is missing, malformed or not the mock app's (403).
    ApiKey,
    /// The bearer is missing, malformed, of another user or not the mock's token (401).
    Token,
}

/// Checks `x-api-key` (`{KEYSTRING}:{non-empty secret}`), then the bearer
/// (`Bearer {USER_ID}.{token}`).
pub fn check_auth(
    api_key: Option<&str>,
    authorization: Option<&str>,
    token: &str,
) -> Result<(), AuthRefusal> {
    let key_ok = api_key
        .and_then(|key| key.split_once(':'))
        .is_some_and(|(keystring, secret)| {
            constant_time_eq(keystring.as_bytes(), KEYSTRING.as_bytes()) && !secret.is_empty()
        });
    if !key_ok {
        return Err(AuthRefusal::ApiKey);
    }
    let expected = format!("{USER_ID}.{token}");
    let bearer_ok = authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|bearer| constant_time_eq(bearer.as_bytes(), expected.as_bytes()));
    if bearer_ok {
        Ok(())
    } else {
        Err(AuthRefusal::Token)
    }
}

/// Etsy's error body `{"error": message}`.
fn error_reply(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message }))
}

fn bad_request(message: &str) -> HttpResponse {
    error_reply(StatusCode::BAD_REQUEST, message)
}

fn not_found(message: &str) -> HttpResponse {
    error_reply(StatusCode::NOT_FOUND, message)
}

fn forbidden() -> HttpResponse {
    error_reply(
        StatusCode::FORBIDDEN,
        "Invalid API key: x-api-key must be 'keystring:shared_secret' of an active app",
    )
}

fn invalid_token() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({
        "error": "invalid_token",
        "error_description": "The access token is missing, malformed or not valid for this user",
    }))
}

/// 429 with `retry-after` in seconds and none of the limit headers.
fn throttled(retry_after: u64) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header(("retry-after", retry_after.to_string()))
        .json(json!({ "error": "Rate limit exceeded" }))
}

/// A 200 with the four limit headers.
fn ok(allowance: EtsyAllowance, body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("x-limit-per-second", allowance.per_second.to_string()))
        .insert_header((
            "x-remaining-this-second",
            allowance.remaining_this_second.to_string(),
        ))
        .insert_header(("x-limit-per-day", allowance.per_day.to_string()))
        .insert_header(("x-remaining-today", allowance.remaining_today.to_string()))
        .json(body)
}

/// A numeric path segment; `Err` is Etsy's 400.
fn path_id(request: &HttpRequest, name: &str) -> Result<u64, HttpResponse> {
    let value = request.match_info().get(name).unwrap_or_default();
    match value.parse::<u64>() {
        Ok(id) if id >= 1 => Ok(id),
        _ => Err(bad_request(&format!(
            "Expected int >= 1 for '{name}', got '{value}'"
        ))),
    }
}

/// The listing a `listing_id` names.
fn find_listing(world: &World, listing_id: u64) -> Result<&Listing, HttpResponse> {
    world
        .listing_by_ref(&listing_id.to_string())
        .ok_or_else(|| not_found(&format!("Listing {listing_id} not found")))
}

/// `GET /v3/application/listings/{listing_id}/inventory`: the inventory in the `GET` shape.
async fn get_listing_inventory(
    state: web::Data<MockState>,
    wire: web::Data<EtsyMock>,
    request: HttpRequest,
) -> HttpResponse {
    let operation = operation::GET_LISTING_INVENTORY;
    let allowance = match wire.guard(&state, &request, operation).await {
        Ok(allowance) => allowance,
        Err(reply) => return reply,
    };
    let listing_id = match path_id(&request, "listing_id") {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let world = state.world();
    let listing = match find_listing(&world, listing_id) {
        Ok(listing) => listing,
        Err(reply) => return reply,
    };
    let mut store = wire.store();
    let inventory = store.inventories.entry(listing.number).or_insert_with(|| {
        Inventory::initial(&listing.sku, listing.quantity, own_ids(listing.number))
    });
    inventory.reconcile(&listing.sku, listing.quantity);
    ok(allowance, inventory.to_json())
}

/// `PUT /v3/application/listings/{listing_id}/inventory`: replaces every product and offering; the
/// listing then shows the enabled quantity of its SKU's product. Replies with the new inventory in
/// the `GET` shape.
async fn update_listing_inventory(
    state: web::Data<MockState>,
    wire: web::Data<EtsyMock>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let operation = operation::UPDATE_LISTING_INVENTORY;
    let allowance = match wire.guard(&state, &request, operation).await {
        Ok(allowance) => allowance,
        Err(reply) => return reply,
    };
    let listing_id = match path_id(&request, "listing_id") {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let update = match parse_update(&body, wire.rules) {
        Ok(update) => update,
        Err(message) => return bad_request(&message),
    };
    match apply_update(&state, &wire, listing_id, update) {
        Ok(shown) => ok(allowance, shown),
        Err(reply) => reply,
    }
}

/// Stores a checked update and sets the listing's quantity; the new inventory's `GET` shape.
fn apply_update(
    state: &MockState,
    wire: &EtsyMock,
    listing_id: u64,
    update: InventoryUpdate,
) -> Result<Value, HttpResponse> {
    let now = state.now();
    let mut world = state.world();
    let listing = find_listing(&world, listing_id)?;
    let (number, sku) = (listing.number, listing.sku.clone());
    if !update.has_sku(&sku) {
        return Err(bad_request(&format!(
            "products must keep the listing's sku {sku:?}: the inventory is replaced in full"
        )));
    }
    let mut store = wire.store();
    let Store {
        inventories,
        next_id,
    } = &mut *store;
    let inventory = update.into_inventory(&sku, own_ids(number), inventories.get(&number), || {
        *next_id += 1;
        *next_id
    });
    let quantity = inventory.product(&sku).map_or(0, enabled_quantity);
    world.set_quantity(number, quantity, now);
    let shown = inventory.to_json();
    inventories.insert(number, inventory);
    Ok(shown)
}

/// The shop id of the path, which must be the mock's (404 otherwise).
fn check_shop(request: &HttpRequest) -> Result<(), HttpResponse> {
    let shop_id = path_id(request, "shop_id")?;
    if shop_id == SHOP_ID {
        Ok(())
    } else {
        Err(not_found(&format!("Shop {shop_id} not found")))
    }
}

fn receipt_context(world: &World, order: &Order) -> ReceiptContext {
    let number = world
        .listing(order.listing_number)
        .map_or(order.listing_number, |listing| listing.number);
    ReceiptContext {
        shop_id: SHOP_ID,
        seller_user_id: USER_ID,
        listing_id: listing_id(number),
        product_id: own_ids(number).product_id,
    }
}

/// `GET /v3/application/shops/{shop_id}/receipts`: `{count, results}` of the matching receipts.
async fn get_shop_receipts(
    state: web::Data<MockState>,
    wire: web::Data<EtsyMock>,
    request: HttpRequest,
) -> HttpResponse {
    let operation = operation::GET_SHOP_RECEIPTS;
    let allowance = match wire.guard(&state, &request, operation).await {
        Ok(allowance) => allowance,
        Err(reply) => return reply,
    };
    if let Err(reply) = check_shop(&request) {
        return reply;
    }
    let pairs = match web::Query::<Vec<(String, String)>>::from_query(request.query_string()) {
        Ok(pairs) => pairs.into_inner(),
        Err(error) => return bad_request(&format!("Invalid query string: {error}")),
    };
    let query = match ReceiptQuery::parse(&pairs) {
        Ok(query) => query,
        Err(message) => return bad_request(&message),
    };
    let world = state.world();
    let (count, page) = query.select(world.orders());
    let results: Vec<Value> = page
        .into_iter()
        .map(|order| receipt_json(order, receipt_context(&world, order)))
        .collect();
    ok(allowance, json!({ "count": count, "results": results }))
}

/// `GET /v3/application/shops/{shop_id}/receipts/{receipt_id}`: one receipt.
async fn get_shop_receipt(
    state: web::Data<MockState>,
    wire: web::Data<EtsyMock>,
    request: HttpRequest,
) -> HttpResponse {
    let operation = operation::GET_SHOP_RECEIPT;
    let allowance = match wire.guard(&state, &request, operation).await {
        Ok(allowance) => allowance,
        Err(reply) => return reply,
    };
    if let Err(reply) = check_shop(&request) {
        return reply;
    }
    let receipt_id = match path_id(&request, "receipt_id") {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let world = state.world();
    match world.order(&receipt_id.to_string()) {
        Some(order) => ok(
            allowance,
            receipt_json(order, receipt_context(&world, order)),
        ),
        None => not_found(&format!("Receipt {receipt_id} not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        format!("{KEYSTRING}:any-secret")
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {USER_ID}.{token}")
    }

    #[test]
    fn auth_checks_the_key_then_the_bearer() {
        let token = "mock-token";
        assert_eq!(
            check_auth(Some(&key()), Some(&bearer(token)), token),
            Ok(())
        );
        for bad_key in [None, Some(KEYSTRING), Some("other:secret")] {
            assert_eq!(
                check_auth(bad_key, Some(&bearer(token)), token),
                Err(AuthRefusal::ApiKey)
            );
        }
        let empty_secret = format!("{KEYSTRING}:");
        assert_eq!(
            check_auth(Some(&empty_secret), Some(&bearer(token)), token),
            Err(AuthRefusal::ApiKey)
        );
        let other_user = format!("Bearer 1.{token}");
        for bad_bearer in [
            None,
            Some(token.to_string()),
            Some(bearer("wrong")),
            Some(other_user),
        ] {
            assert_eq!(
                check_auth(Some(&key()), bad_bearer.as_deref(), token),
                Err(AuthRefusal::Token)
            );
        }
    }

    #[test]
    fn plans_and_ids() {
        let options = |plan: &str| MockOptions {
            plan: plan.to_string(),
            ..MockOptions::default()
        };
        let mock = EtsyMock::new(&options("current"), InventoryRules::default()).unwrap();
        assert_eq!(mock.limits()["per_second"], 150);
        assert!(EtsyMock::new(&options("unlimited"), InventoryRules::default()).is_ok());
        assert!(EtsyMock::new(&options("gold"), InventoryRules::default()).is_err());
        let identity = mock.listing_identity(7, "A");
        assert_eq!(identity.listing_ref, "1000000007");
        assert_eq!(identity.ids["product_id"], 10_000_000_007u64);
        assert_eq!(mock.order_id(2), "3000000002");
    }
}
