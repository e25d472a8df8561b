//! The eBay Sell APIs mock (reference/marketplace-apis.md §5, §0 and §7):
//!
//! - Inventory API (§5.1): `POST /sell/inventory/v1/bulk_update_price_quantity` with at most 25
//!   `requests`, answered 200 when every item succeeded and 207 Multi-Status otherwise, with one
//!   `responses` entry per offer (`statusCode`, `sku`, `offerId`, `errors`, `warnings`); and
//!   `GET /sell/inventory/v1/inventory_item/{sku}`.
//! - Fulfillment API (§5.2): `GET /sell/fulfillment/v1/order` with `filter` (`creationdate`,
//!   `lastmodifieddate`, `orderfulfillmentstatus`), `limit` (1–200, default 50), `offset` or
//!   `orderIds` (≤ 50), paged with `href`/`next`/`prev`; and `GET /sell/fulfillment/v1/order/{id}`.
//! - Notification API (§5.2): `ORDER_CONFIRMATION` deliveries signed in `X-EBAY-SIGNATURE`,
//!   `GET /commerce/notification/v1/public_key/{public_key_id}`, and the endpoint challenge on
//!   `POST /_mock/webhooks` (decisions in [`notify`]).
//! - Auth (§5.4): `Authorization: Bearer <token>`; anything else is the 401 of errorId 1001.
//! - Limits (§5.3, §7 note 1): one `DailyQuota` per API, Inventory (both inventory calls together),
//!   Fulfillment (both order calls) and Notification (the public key); a used-up quota is the 429
//!   of errorId 2001.
//!
//! Decisions where the reference is unsure ([U]) or silent:
//! - Quota reset time [U]: the core's `DailyQuota` day, 24 h from the mock's start, not midnight
//!   Pacific. `Retry-After` on 429 [U]: not sent (no `X-eBay-C-RateLimit-*` either);
//!   [`EbayMock::with_retry_after`] is the knob that adds one (seconds to the reset).
//! - Plans: `default` (Inventory 2 000 000/day, Fulfillment 100 000/day, §5.3 [T]), `unlimited`
//!   (no quota) and the mock-only test plan `tiny` (20 calls a day per API) so that a burst
//!   reaches the quota.
//! - Quantities (§5.1, B2): the listed quantity is min(item quantity, offer `availableQuantity`
//!   when a call set one). The item and offer quantities live in the mock's own table; the world
//!   holds the effective quantity. Sales and cancellations move item and offer quantity by the
//!   same amount, as eBay decrements both. `GET inventory_item` shows the item-level quantity.
//! - One published offer per listing, offer id = `500000000000 + number`, legacy item id
//!   `110000000000 + number`; `listing_ref` is the SKU (eBay addresses inventory by SKU).
//! - Bulk update: each request is applied whole or not at all; 207 also when every item failed;
//!   a request needs `shipToLocationAvailability` or `offers` (else an item 400); quantities
//!   0..=1 000 000 000; price must be a non-negative decimal in USD (the price is checked, not
//!   kept); a SKU twice in one call is applied in order. Request-level errors (not JSON, wrong
//!   shape: 2004; 0 or 26+ requests: 25709) are a 400 envelope and change nothing. Without
//!   offers in a request the response entry names the listing's own offer.
//! - Error ids not in the reference are mock-chosen, listed in [`super::wire::error_id`]:
//!   2003 (injected 500/503), 2004 (malformed body), 25709 (bad value), 25713 (foreign offer),
//!   30700 (unknown filter / filter syntax), 30800 (bad filter value), 30810 (limit),
//!   30820 (offset), 32100 (unknown order id, 404 on `getOrder`).
//! - Orders: sorted by last change, oldest first (stable for offset paging); date ranges are
//!   inclusive at both ends and need a start; creation and last-modified filters may be combined;
//!   without a date filter only the last 90 days; `orderIds` wins over `filter`. Every order is
//!   `NOT_STARTED`; payment `PAID`, or `FULLY_REFUNDED` once cancelled with `cancelState`
//!   `CANCELED`; `getOrders` keeps `cancelRequests` empty (§5.2) and `getOrder` lists the
//!   completed seller cancellation.
//! - `X-EBAY-C-MARKETPLACE-ID`, `Content-Type` and `Content-Language` are not required; the mock's
//!   one account is on `EBAY_US`.

pub mod notify;
pub mod orders;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use self::notify::NotificationKey;
use self::orders::OrdersQuery;
use self::wire::{ErrorDetail, ItemStock, KnownListing};
use crate::platforms::mock::check_plan;
use crate::platforms::mock::throttle::DailyQuota;
use crate::platforms::mock::world::{Order, OrderChange, World};
use crate::platforms::mock::{
    constant_time_eq, header, Delivery, ListingIdentity, MockError, MockOptions, MockState,
    PlatformMock, SubscriptionCheck, UNLIMITED_PLAN,
};
use crate::platforms::Platform;

/// The marketplace of the mock's account.
pub const MARKETPLACE_ID: &str = "EBAY_US";
/// The seller's eBay user name.
pub const SELLER_USERNAME: &str = "shelfsync_mock_seller";
/// The mock-only test plan whose quotas a test burst can use up.
pub const TINY_PLAN: &str = "tiny";
/// The plans of the mock.
pub const PLANS: [&str; 3] = ["default", UNLIMITED_PLAN, TINY_PLAN];

/// Operation names (the keys of `/_mock/stats`).
pub mod operation {
    /// `POST /sell/inventory/v1/bulk_update_price_quantity`.
    pub const BULK_UPDATE_PRICE_QUANTITY: &str = "bulk_update_price_quantity";
    /// `GET /sell/inventory/v1/inventory_item/{sku}`.
    pub const GET_INVENTORY_ITEM: &str = "get_inventory_item";
    /// `GET /sell/fulfillment/v1/order`.
    pub const GET_ORDERS: &str = "get_orders";
    /// `GET /sell/fulfillment/v1/order/{orderId}`.
    pub const GET_ORDER: &str = "get_order";
    /// `GET /commerce/notification/v1/public_key/{public_key_id}`.
    pub const GET_PUBLIC_KEY: &str = "get_public_key";
}

/// The two APIs whose daily quotas the mock keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The Inventory API.
    Inventory,
    /// The Fulfillment API.
    Fulfillment,
    /// The Notification API.
    Notification,
}

/// The daily quotas (Inventory, Fulfillment) of a plan; `None`: no quota (`unlimited`).
pub fn plan_quotas(plan: &str) -> Option<(u64, u64)> {
    match plan {
        UNLIMITED_PLAN => None,
        TINY_PLAN => Some((20, 20)),
        _ => Some((2_000_000, 100_000)),
    }
}

/// The Notification API's daily quota of a plan with quotas (`tiny` keeps its 20).
fn notification_quota(plan: &str) -> u64 {
    if plan == TINY_PLAN {
        20
    } else {
        notify::DAILY_QUOTA
    }
}

#[derive(Debug)]
struct Quotas {
    inventory: DailyQuota,
    fulfillment: DailyQuota,
    notification: DailyQuota,
}

/// The eBay mock for `options`.
pub fn build(options: &MockOptions) -> Result<Arc<dyn PlatformMock>, MockError> {
    Ok(Arc::new(EbayMock::new(options)?))
}

/// The eBay wire format; clones share the quotas and the item/offer table.
#[derive(Debug, Clone)]
pub struct EbayMock {
    token: String,
    plan: String,
    quotas: Option<Arc<Mutex<Quotas>>>,
    stock: Arc<Mutex<HashMap<u64, ItemStock>>>,
    retry_after: bool,
    key: Arc<NotificationKey>,
}

impl EbayMock {
    /// The mock for `options` (plans `default`, `unlimited` and `tiny`).
    pub fn new(options: &MockOptions) -> Result<EbayMock, MockError> {
        check_plan(Platform::Ebay, &options.plan, &PLANS)?;
        let now = Instant::now();
        let quotas = plan_quotas(&options.plan).map(|(inventory, fulfillment)| {
            Arc::new(Mutex::new(Quotas {
                inventory: DailyQuota::new(inventory, now),
                fulfillment: DailyQuota::new(fulfillment, now),
                notification: DailyQuota::new(notification_quota(&options.plan), now),
            }))
        });
        Ok(EbayMock {
            token: options.token.clone(),
            plan: options.plan.clone(),
            quotas,
            stock: Arc::new(Mutex::new(HashMap::new())),
            retry_after: false,
            key: Arc::new(NotificationKey::from_seed(options.seed)),
        })
    }

    /// The same mock, sending `Retry-After` (seconds to the quota reset) on its 429s or not: the
    /// knob of the unverified header (§5.3 [U]); off by default.
    pub fn with_retry_after(mut self, send: bool) -> EbayMock {
        self.retry_after = send;
        self
    }

    /// Every handler's prologue: admits the call ([`MockState::admit`]), checks the bearer token,
    /// then counts the call against `api`'s quota. `Err` is the reply.
    async fn guard(
        &self,
        state: &MockState,
        request: &HttpRequest,
        operation: &str,
        api: Api,
    ) -> Result<(), HttpResponse> {
        state.admit(operation).await?;
        if state.credential_revoked() || !bearer_ok(header(request, "Authorization"), &self.token) {
            return Err(state.refuse_auth(operation, unauthorized()));
        }
        let Some(quotas) = &self.quotas else {
            return Ok(());
        };
        let mut quotas = quotas.lock().unwrap_or_else(|p| p.into_inner());
        let quota = match api {
            Api::Inventory => &mut quotas.inventory,
            Api::Fulfillment => &mut quotas.fulfillment,
            Api::Notification => &mut quotas.notification,
        };
        match quota.try_take(Instant::now()) {
            Ok(_) => Ok(()),
            Err(reset) => Err(state.throttle(operation, self.too_many_requests(reset))),
        }
    }

    fn too_many_requests(&self, reset: Duration) -> HttpResponse {
        let mut reply = HttpResponse::TooManyRequests();
        if self.retry_after {
            reply.insert_header(("Retry-After", reset.as_secs().max(1).to_string()));
        }
        reply.json(wire::envelope(&[wire::too_many_requests()]))
    }

    /// The stock of listing `number` that now shows `listed` (the mock's table, reconciled).
    fn stock_of(&self, number: u64, listed: i64) -> ItemStock {
        let table = self.stock.lock().unwrap_or_else(|p| p.into_inner());
        ItemStock::reconcile(table.get(&number).copied(), listed)
    }
}

/// Whether `authorization` is `Bearer <token>`.
pub fn bearer_ok(authorization: Option<&str>, token: &str) -> bool {
    authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.as_bytes()))
}

impl PlatformMock for EbayMock {
    fn platform(&self) -> Platform {
        Platform::Ebay
    }

    fn api_version(&self) -> &'static str {
        "sell/inventory/v1, sell/fulfillment/v1"
    }

    fn account(&self) -> Value {
        json!({ "marketplace_id": MARKETPLACE_ID, "seller_username": SELLER_USERNAME,
                "notification_kid": self.key.kid() })
    }

    fn limits(&self) -> Value {
        let quotas = plan_quotas(&self.plan).map(|(inventory, fulfillment)| {
            json!({ "inventory": inventory, "fulfillment": fulfillment,
                    "notification": notification_quota(&self.plan) })
        });
        json!({
            "daily_quota": quotas,
            "reset": "24 h after the mock starts",
            "retry_after": self.retry_after,
        })
    }

    fn listing_identity(&self, number: u64, sku: &str) -> ListingIdentity {
        ListingIdentity {
            ids: json!({
                "sku": sku,
                "offer_id": wire::offer_id(number),
                "listing_id": wire::legacy_item_id(number),
            }),
            listing_ref: sku.to_string(),
        }
    }

    fn order_id(&self, number: u64) -> String {
        orders::order_id(number)
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route(
                "/sell/inventory/v1/bulk_update_price_quantity",
                web::post().to(bulk_update_price_quantity),
            )
            .route(
                "/sell/inventory/v1/inventory_item/{sku}",
                web::get().to(get_inventory_item),
            )
            .route("/sell/fulfillment/v1/order", web::get().to(get_orders))
            .route(
                "/sell/fulfillment/v1/order/{order_id}",
                web::get().to(get_order),
            )
            .route(
                "/commerce/notification/v1/public_key/{public_key_id}",
                web::get().to(get_public_key),
            );
    }

    fn throttled_reply(&self) -> HttpResponse {
        self.too_many_requests(Duration::from_secs(1))
    }

    fn server_error_reply(&self, status: StatusCode) -> HttpResponse {
        HttpResponse::build(status).json(wire::envelope(&[wire::internal_error()]))
    }

    fn sends_webhooks(&self) -> bool {
        true
    }

    fn order_changed(&self, state: &MockState, order: &Order, change: OrderChange) {
        if change == OrderChange::Created {
            let legacy_item_id = wire::legacy_item_id(order.listing_number);
            self.key.order_placed(state, order, legacy_item_id);
        }
    }

    fn prepare_retry(&self, state: &MockState, delivery: &mut Delivery) {
        self.key.prepare_retry(state, delivery);
    }

    fn check_subscription<'a>(&'a self, url: &'a str, secret: &'a str) -> SubscriptionCheck<'a> {
        Box::pin(notify::challenge(url, secret))
    }
}

fn error_reply(status: StatusCode, error: ErrorDetail) -> HttpResponse {
    HttpResponse::build(status).json(wire::envelope(&[error]))
}

fn unauthorized() -> HttpResponse {
    error_reply(StatusCode::UNAUTHORIZED, wire::invalid_access_token())
}

/// Decides and applies one request of a bulk update; returns its `responses` entries and
/// whether it succeeded. The caller holds the world lock for the whole call.
fn apply_request(
    wire: &EbayMock,
    world: &mut World,
    request: &wire::PriceQuantity,
    now: chrono::DateTime<chrono::Utc>,
) -> (Vec<Value>, bool) {
    let listing = world
        .listing_by_sku(&request.sku)
        .map(|listing| (listing.number, listing.quantity));
    let known = listing.map(|(number, listed)| KnownListing {
        offer_id: wire::offer_id(number),
        stock: wire.stock_of(number, listed),
    });
    let outcome = wire::apply_item(request, known.as_ref());
    if let (Some((number, _)), Some(stock)) = (listing, outcome.applied) {
        world.set_quantity(number, stock.listed, now);
        wire.stock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(number, stock);
    }
    let offer = known.as_ref().map(|known| known.offer_id.as_str());
    (
        wire::item_responses(request, offer, &outcome),
        outcome.status == 200,
    )
}

/// `POST /sell/inventory/v1/bulk_update_price_quantity`: 200 when every item succeeded, 207 with
/// per-item statuses otherwise (the good items applied).
async fn bulk_update_price_quantity(
    state: web::Data<MockState>,
    wire: web::Data<EbayMock>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let operation = operation::BULK_UPDATE_PRICE_QUANTITY;
    if let Err(reply) = wire
        .guard(&state, &request, operation, Api::Inventory)
        .await
    {
        return reply;
    }
    let requests = match wire::parse_bulk(&body) {
        Ok(requests) => requests,
        Err(error) => return error_reply(StatusCode::BAD_REQUEST, error),
    };
    let now = state.now();
    let mut world = state.world();
    let mut responses = Vec::new();
    let mut all_ok = true;
    for item in &requests {
        let (entries, ok) = apply_request(&wire, &mut world, item, now);
        responses.extend(entries);
        all_ok &= ok;
    }
    drop(world);
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    HttpResponse::build(status).json(json!({ "responses": responses }))
}

/// `GET /sell/inventory/v1/inventory_item/{sku}`: the item with its item-level quantity.
async fn get_inventory_item(
    state: web::Data<MockState>,
    wire: web::Data<EbayMock>,
    request: HttpRequest,
    sku: web::Path<String>,
) -> HttpResponse {
    let operation = operation::GET_INVENTORY_ITEM;
    if let Err(reply) = wire
        .guard(&state, &request, operation, Api::Inventory)
        .await
    {
        return reply;
    }
    let listing = state
        .world()
        .listing_by_sku(&sku)
        .map(|listing| (listing.number, listing.quantity));
    match listing {
        Some((number, listed)) => {
            let stock = wire.stock_of(number, listed);
            HttpResponse::Ok().json(wire::inventory_item_json(&sku, stock.item))
        }
        None => error_reply(StatusCode::NOT_FOUND, wire::entity_not_found(&sku)),
    }
}

/// The orders a query selects, in the feed's order.
fn select_orders<'w>(
    world: &'w World,
    query: &OrdersQuery,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<&'w Order> {
    match &query.order_ids {
        Some(ids) => ids.iter().filter_map(|id| world.order(id)).collect(),
        None => world
            .orders_changed_between(None, None)
            .into_iter()
            .filter(|order| query.filter.matches(order, now))
            .collect(),
    }
}

/// The URL of `getOrders` as the client called it (scheme and host of the request).
fn orders_base(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!(
        "{}://{}/sell/fulfillment/v1/order",
        info.scheme(),
        info.host()
    )
}

/// `GET /sell/fulfillment/v1/order`: one page of the selected orders with eBay's paging links.
async fn get_orders(
    state: web::Data<MockState>,
    wire: web::Data<EbayMock>,
    request: HttpRequest,
) -> HttpResponse {
    let operation = operation::GET_ORDERS;
    if let Err(reply) = wire
        .guard(&state, &request, operation, Api::Fulfillment)
        .await
    {
        return reply;
    }
    let pairs = match web::Query::<Vec<(String, String)>>::from_query(request.query_string()) {
        Ok(pairs) => pairs.into_inner(),
        Err(error) => {
            return error_reply(
                StatusCode::BAD_REQUEST,
                wire::invalid_request(&error.to_string()),
            )
        }
    };
    let query = match orders::parse_orders_query(&pairs) {
        Ok(query) => query,
        Err(error) => return error_reply(StatusCode::BAD_REQUEST, error),
    };
    let now = state.now();
    let world = state.world();
    let selected = select_orders(&world, &query, now);
    let page = orders::page(selected.len(), query.limit, query.offset);
    let listed: Vec<Value> = selected[page.start..page.end]
        .iter()
        .map(|order| orders::order_json(order, false))
        .collect();
    let total = selected.len();
    drop(world);
    let base = orders_base(&request);
    let mut body = json!({
        "href": orders::page_href(&base, &query, query.offset),
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
        "orders": listed,
    });
    if let Some(next) = page.next {
        body["next"] = json!(orders::page_href(&base, &query, next));
    }
    if let Some(prev) = page.prev {
        body["prev"] = json!(orders::page_href(&base, &query, prev));
    }
    HttpResponse::Ok().json(body)
}

/// `GET /sell/fulfillment/v1/order/{orderId}`: one order with its cancellation detail.
async fn get_order(
    state: web::Data<MockState>,
    wire: web::Data<EbayMock>,
    request: HttpRequest,
    order_id: web::Path<String>,
) -> HttpResponse {
    let operation = operation::GET_ORDER;
    if let Err(reply) = wire
        .guard(&state, &request, operation, Api::Fulfillment)
        .await
    {
        return reply;
    }
    let order = state
        .world()
        .order(&order_id)
        .map(|order| orders::order_json(order, true));
    match order {
        Some(order) => HttpResponse::Ok().json(order),
        None => error_reply(StatusCode::NOT_FOUND, orders::invalid_order_id(&order_id)),
    }
}

/// `GET /commerce/notification/v1/public_key/{public_key_id}`: the mock's key, or 404.
async fn get_public_key(
    state: web::Data<MockState>,
    wire: web::Data<EbayMock>,
    request: HttpRequest,
    kid: web::Path<String>,
) -> HttpResponse {
    let operation = operation::GET_PUBLIC_KEY;
    if let Err(reply) = wire
        .guard(&state, &request, operation, Api::Notification)
        .await
    {
        return reply;
    }
    if kid.as_str() == wire.key.kid() {
        HttpResponse::Ok().json(wire.key.public_key_json())
    } else {
        error_reply(StatusCode::NOT_FOUND, notify::unknown_key(&kid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bearer_token_passes() {
        assert!(bearer_ok(Some("Bearer mock-token"), "mock-token"));
        assert!(!bearer_ok(Some("Bearer wrong"), "mock-token"));
        assert!(!bearer_ok(Some("mock-token"), "mock-token"));
        assert!(!bearer_ok(Some("Basic mock-token"), "mock-token"));
        assert!(!bearer_ok(None, "mock-token"));
    }

    #[test]
    fn plans_have_the_documented_quotas() {
        assert_eq!(plan_quotas("default"), Some((2_000_000, 100_000)));
        assert_eq!(plan_quotas(TINY_PLAN), Some((20, 20)));
        assert_eq!(plan_quotas(UNLIMITED_PLAN), None);
        let options = MockOptions {
            plan: "premium".into(),
            ..MockOptions::default()
        };
        assert!(EbayMock::new(&options).is_err());
    }

    #[test]
    fn retry_after_is_a_knob_off_by_default() {
        let mock = EbayMock::new(&MockOptions::default()).expect("the mock");
        let reply = mock.too_many_requests(Duration::from_secs(90));
        assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(reply.headers().get("Retry-After").is_none());
        let reply = mock
            .with_retry_after(true)
            .too_many_requests(Duration::from_secs(90));
        assert_eq!(
            reply
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok()),
            Some("90")
        );
    }

    #[test]
    fn listings_are_addressed_by_sku_with_offer_and_item_ids() {
        let mock = EbayMock::new(&MockOptions::default()).expect("the mock");
        let identity = mock.listing_identity(6, "SKU-1");
        assert_eq!(identity.listing_ref, "SKU-1");
        assert_eq!(identity.ids["offer_id"], "500000000006");
        assert_eq!(identity.ids["listing_id"], "110000000006");
    }
}
