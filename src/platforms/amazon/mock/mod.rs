//! The Amazon Selling Partner API mock (reference/marketplace-apis.md §3, §0, §7).
//!
//! What it serves:
//! - `PATCH /listings/2021-08-01/items/{sellerId}/{sku}?marketplaceIds=` (`patchListingsItem`,
//!   §3.1): the `fulfillment_availability` JSON Patch. The reply is `ACCEPTED` and the quantity is
//!   applied later, after [`AmazonKnobs::apply_delay`], in submission order (§7 note 3: accepted is
//!   not applied). `mode=VALIDATION_PREVIEW` answers `VALID` and applies nothing. A well-formed
//!   request whose patch the listing refuses answers 200 `INVALID` with `issues`; a malformed
//!   request, a missing `marketplaceIds` or another seller's id answers 400 `InvalidInput`; an
//!   unknown SKU 404 `NotFound`.
//! - `GET /listings/2021-08-01/items/{sellerId}/{sku}` (`getListingsItem`) with `includedData`
//!   `summaries` (the default) and `fulfillmentAvailability`.
//! - Orders v0 (§3.2): `GET /orders/v0/orders` (`getOrders`), `GET /orders/v0/orders/{orderId}`
//!   (`getOrder`) and `GET /orders/v0/orders/{orderId}/orderItems` (`getOrderItems`).
//! - Auth (§3.4): `x-amz-access-token` must be the mock's token, else 403 `Unauthorized`.
//! - Limits (§3.3): one token bucket per operation with the reference's rates and bursts (plan
//!   `default`), or buckets that never run dry (plan `unlimited`). A throttled call answers 429
//!   `QuotaExceeded` with `x-amzn-RequestId`; every 2xx carries `x-amzn-RateLimit-Limit` and
//!   `x-amzn-RequestId`.
//!
//! Decisions where the reference is silent or unsure ([U]):
//! - The mock speaks for one seller (`seller_id` in `/_mock/info`) in one marketplace
//!   (`ATVPDKIKX0DER`); `marketplaceIds` / `MarketplaceIds` must name it, else 400.
//! - A query parameter given twice counts as a comma list (the API's own form is a comma list).
//! - Only `/attributes/fulfillment_availability` with `op` `add`, `replace` or `merge` and exactly
//!   one `DEFAULT` entry can be patched; any other attribute, `delete`, another channel code
//!   (FBA), a quantity that is not a whole number in `0..=1_000_000_000` or a missing field is an
//!   `INVALID` issue (code `90220` for a missing value, as in the model's example; `90244` and
//!   `90003` are the mock's own). `productType` must be present and not blank, otherwise free.
//! - `getListingsItem` shows status `BUYABLE` while the quantity is above zero and
//!   `DISCOVERABLE` at zero; `createdDate` is when the mock started; the product type is
//!   [`PRODUCT_TYPE`]. `includedData` values other than the two modelled are accepted and ignored;
//!   unknown ones are a 400.
//! - getOrders bounds are half-open: `...After` inclusive, `...Before` exclusive, so that a
//!   connector's next `LastUpdatedAfter` = this reply's `LastUpdatedBefore` sees every change once.
//!   Without a `...Before`, the bound is now less [`AmazonKnobs::orders_lag`] (default 200 ms;
//!   Amazon's own lag is minutes), to whole milliseconds; the lag keeps an order whose placement
//!   is in flight from landing behind a bound already handed out.
//! - `NextToken` is opaque (base64 of the query and the key of the last order shown); with a
//!   token the date filters of the request are ignored, `MarketplaceIds` is still required.
//! - Orders are merchant-fulfilled (`MFN`); placed orders are `Unshipped`, cancelled ones
//!   `Canceled` with `NumberOfItemsUnshipped` 0; their items keep `QuantityOrdered`.
//! - Times are RFC 3339 UTC with milliseconds. Request and submission ids are UUID-shaped,
//!   derived from a counter and the seed. 500 answers `InternalFailure`, 503 `ServiceUnavailable`.
//! - `getOrder` is served as well (same rate as `getOrderItems`, its own bucket).
//! - Order notifications: `ORDER_CHANGE` as the EventBridge event an API destination posts, sent
//!   at once with the connection's `x-api-key` and retried on EventBridge's compressed schedule
//!   (`notify.rs`).

pub mod notify;
pub mod orders;
pub mod patch;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use self::orders::{order_status, Params};
use crate::platforms::mock::check_plan;
use crate::platforms::mock::throttle::OperationBuckets;
use crate::platforms::mock::world::{Order, OrderChange, OrderStatus};
use crate::platforms::mock::{
    constant_time_eq, header, rfc3339, ListingIdentity, MockError, MockOptions, MockState,
    PlatformMock, RetrySchedule, UNLIMITED_PLAN,
};
use crate::platforms::Platform;

/// The seller id of the mock's account.
pub const SELLER_ID: &str = "A1X5QGJ3N6T8RZ";
/// The one marketplace of the mock (Amazon.com, reference §3.1).
pub const MARKETPLACE_ID: &str = "ATVPDKIKX0DER";
/// The product type of every listing (the reference example's).
pub const PRODUCT_TYPE: &str = "LUGGAGE";
/// The auth header (reference §3.4).
pub const TOKEN_HEADER: &str = "x-amz-access-token";
/// The throttled reply's body (reference §3.3).
pub const QUOTA_EXCEEDED_MESSAGE: &str = "You exceeded your quota for the requested resource.";

/// Operation names (the keys of `/_mock/stats` and of the token buckets).
pub mod operation {
    /// `PATCH /listings/2021-08-01/items/{sellerId}/{sku}`.
    pub const PATCH_LISTINGS_ITEM: &str = "patchListingsItem";
    /// `GET /listings/2021-08-01/items/{sellerId}/{sku}`.
    pub const GET_LISTINGS_ITEM: &str = "getListingsItem";
    /// `GET /orders/v0/orders`.
    pub const GET_ORDERS: &str = "getOrders";
    /// `GET /orders/v0/orders/{orderId}`.
    pub const GET_ORDER: &str = "getOrder";
    /// `GET /orders/v0/orders/{orderId}/orderItems`.
    pub const GET_ORDER_ITEMS: &str = "getOrderItems";
}

/// Rate and burst of every operation of a plan (reference §3.3).
fn plan_table(plan: &str) -> Vec<(&'static str, f64, u32)> {
    let table = [
        (operation::PATCH_LISTINGS_ITEM, 5.0, 5),
        (operation::GET_LISTINGS_ITEM, 5.0, 10),
        (operation::GET_ORDERS, 0.0167, 20),
        (operation::GET_ORDER, 0.5, 30),
        (operation::GET_ORDER_ITEMS, 0.5, 30),
    ];
    if plan == UNLIMITED_PLAN {
        // Buckets that never run dry, so that the rate header is still sent.
        return table
            .iter()
            .map(|&(operation, _, _)| (operation, 1_000_000.0, 1_000_000))
            .collect();
    }
    table.to_vec()
}

/// Settings of the Amazon mock beyond [`MockOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmazonKnobs {
    /// How long after an `ACCEPTED` patch its quantity is applied.
    pub apply_delay: Duration,
    /// How far behind now the default upper bound of `getOrders` is.
    pub orders_lag: Duration,
}

impl Default for AmazonKnobs {
    fn default() -> AmazonKnobs {
        AmazonKnobs {
            apply_delay: Duration::from_millis(250),
            orders_lag: Duration::from_millis(200),
        }
    }
}

/// The Amazon mock for `options`, with the default knobs.
pub fn build(options: &MockOptions) -> Result<Arc<dyn PlatformMock>, MockError> {
    build_with(options, AmazonKnobs::default())
}

/// The Amazon mock for `options` and `knobs`.
pub fn build_with(
    options: &MockOptions,
    knobs: AmazonKnobs,
) -> Result<Arc<dyn PlatformMock>, MockError> {
    Ok(Arc::new(AmazonMock::new(options, knobs)?))
}

/// A quantity waiting to be applied.
#[derive(Debug, Clone, Copy)]
struct Pending {
    due: Instant,
    listing: u64,
    quantity: i64,
}

/// The Amazon wire format; clones share the limiter, the apply queue and the id counter.
#[derive(Debug, Clone)]
pub struct AmazonMock {
    token: String,
    plan: String,
    seed: u64,
    knobs: AmazonKnobs,
    started: DateTime<Utc>,
    buckets: Arc<Mutex<OperationBuckets>>,
    pending: Arc<Mutex<VecDeque<Pending>>>,
    ids: Arc<AtomicU64>,
}

impl AmazonMock {
    /// The mock for `options` (plans `default` and `unlimited`) and `knobs`.
    pub fn new(options: &MockOptions, knobs: AmazonKnobs) -> Result<AmazonMock, MockError> {
        check_plan(
            Platform::Amazon,
            &options.plan,
            &["default", UNLIMITED_PLAN],
        )?;
        Ok(AmazonMock {
            token: options.token.clone(),
            plan: options.plan.clone(),
            seed: options.seed,
            knobs,
            started: Utc::now(),
            buckets: Arc::new(Mutex::new(OperationBuckets::new(
                &plan_table(&options.plan),
                Instant::now(),
            ))),
            pending: Arc::new(Mutex::new(VecDeque::new())),
            ids: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A fresh UUID-shaped id (request ids, submission ids).
    fn next_id(&self) -> String {
        let count = self.ids.fetch_add(1, Ordering::Relaxed);
        uuid_like(splitmix(self.seed ^ count.wrapping_mul(0x9E37_79B9)), count)
    }

    /// Every handler's prologue: admits the call ([`MockState::admit`]), checks the token, then
    /// takes a token of `operation`: `Ok(rate)` for the success header, or
    /// the reply to send.
    async fn guard(
        &self,
        state: &MockState,
        request: &HttpRequest,
        operation: &str,
    ) -> Result<f64, HttpResponse> {
        state.admit(operation).await?;
        let token_ok = !state.credential_revoked()
            && header(request, TOKEN_HEADER)
                .is_some_and(|token| constant_time_eq(token.as_bytes(), self.token.as_bytes()));
        if !token_ok {
            return Err(state.refuse_auth(operation, self.unauthorized()));
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        match buckets.try_take(operation, Instant::now()) {
            Ok(_) => Ok(buckets.rate(operation).unwrap_or(0.0)),
            Err(_) => Err(state.throttle(operation, self.quota_exceeded())),
        }
    }

    /// Amazon's error envelope with a request id.
    fn error(&self, status: StatusCode, code: &str, message: &str) -> HttpResponse {
        HttpResponse::build(status)
            .insert_header(("x-amzn-RequestId", self.next_id()))
            .json(error_body(code, message))
    }

    fn invalid_input(&self, message: &str) -> HttpResponse {
        self.error(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    fn not_found(&self, message: &str) -> HttpResponse {
        self.error(StatusCode::NOT_FOUND, "NotFound", message)
    }

    fn unauthorized(&self) -> HttpResponse {
        self.error(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.",
        )
    }

    fn quota_exceeded(&self) -> HttpResponse {
        self.error(
            StatusCode::TOO_MANY_REQUESTS,
            "QuotaExceeded",
            QUOTA_EXCEEDED_MESSAGE,
        )
    }

    /// A 200 with the rate and request id headers.
    fn ok(&self, rate: f64, body: Value) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header(("x-amzn-RateLimit-Limit", format!("{rate:?}")))
            .insert_header(("x-amzn-RequestId", self.next_id()))
            .json(body)
    }

    /// Checks `marketplaceIds` (or `MarketplaceIds`) of a query.
    fn check_marketplace(&self, params: &Params, name: &str) -> Result<(), HttpResponse> {
        let ids = params.list(name);
        if ids.is_empty() {
            return Err(self.invalid_input(&format!("Missing required parameter {name}.")));
        }
        match ids.iter().find(|id| id.as_str() != MARKETPLACE_ID) {
            Some(id) => Err(self.invalid_input(&format!(
                "Invalid {name}: {id} is not a marketplace of this seller."
            ))),
            None => Ok(()),
        }
    }

    /// Checks the seller id of a listings path and the query's marketplaces.
    fn check_listing_request(
        &self,
        seller_id: &str,
        request: &HttpRequest,
    ) -> Result<Params, HttpResponse> {
        let params = Params::parse(request.query_string()).map_err(|m| self.invalid_input(&m))?;
        if seller_id != SELLER_ID {
            return Err(self.invalid_input(&format!(
                "Invalid sellerId {seller_id}: the access token does not belong to that seller."
            )));
        }
        self.check_marketplace(&params, "marketplaceIds")?;
        Ok(params)
    }

    /// Queues `quantity` for listing `listing` and wakes a task that applies every due change,
    /// oldest first, once the delay has passed.
    fn queue(&self, state: web::Data<MockState>, listing: u64, quantity: i64) {
        let delay = self.knobs.apply_delay;
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            // Taken under the lock, so that due times follow the queue order.
            let due = Instant::now() + delay;
            pending.push_back(Pending {
                due,
                listing,
                quantity,
            });
        }
        let queue = Arc::clone(&self.pending);
        actix_rt::spawn(async move {
            actix_rt::time::sleep(delay).await;
            apply_due(&queue, &state, Instant::now());
        });
    }

    fn listing_json(&self, state: &MockState, sku: &str, included: &[String]) -> Option<Value> {
        let world = state.world();
        let listing = world.listing_by_sku(sku)?;
        let mut body = json!({ "sku": sku });
        if included.iter().any(|data| data == "summaries") {
            let status = if listing.quantity > 0 {
                "BUYABLE"
            } else {
                "DISCOVERABLE"
            };
            body["summaries"] = json!([{
                "marketplaceId": MARKETPLACE_ID,
                "asin": listing.ids["asin"],
                "productType": PRODUCT_TYPE,
                "conditionType": "new_new",
                "status": [status],
                "itemName": item_name(sku),
                "createdDate": rfc3339(self.started.min(listing.updated_at)),
                "lastUpdatedDate": rfc3339(listing.updated_at),
            }]);
        }
        if included
            .iter()
            .any(|data| data == "fulfillmentAvailability")
        {
            body["fulfillmentAvailability"] = json!([{
                "fulfillmentChannelCode": patch::DEFAULT_CHANNEL,
                "quantity": listing.quantity,
            }]);
        }
        Some(body)
    }
}

/// Applies every queued change that is due by `now`, in queue order.
fn apply_due(queue: &Mutex<VecDeque<Pending>>, state: &MockState, now: Instant) {
    let due: Vec<Pending> = {
        let mut pending = queue.lock().unwrap_or_else(|p| p.into_inner());
        let ready = pending
            .iter()
            .take_while(|change| change.due <= now)
            .count();
        pending.drain(..ready).collect()
    };
    if due.is_empty() {
        return;
    }
    let at = state.now();
    let mut world = state.world();
    for change in due {
        world.set_quantity(change.listing, change.quantity, at);
    }
}

fn error_body(code: &str, message: &str) -> Value {
    json!({ "errors": [{ "code": code, "message": message, "details": "" }] })
}

fn item_name(sku: &str) -> String {
    format!("Item {sku}")
}

/// A 64-bit mix (splitmix64's finaliser).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A UUID-shaped id: 64 mixed bits and the counter, so ids never repeat within a mock.
fn uuid_like(mixed: u64, count: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        mixed >> 32,
        (mixed >> 16) & 0xFFFF,
        mixed & 0xFFF,
        (count >> 48) & 0xFFF,
        count & 0xFFFF_FFFF_FFFF
    )
}

/// The ASIN of listing `number`: `B0` and eight base-36 characters, distinct per number.
pub fn asin(number: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const SPACE: u64 = 36u64.pow(8);
    // An odd multiplier not divisible by 3 is a bijection modulo 36^8.
    let mut value = (number % SPACE).wrapping_mul(2_654_435_761) % SPACE;
    let mut chars = [b'0'; 8];
    for slot in chars.iter_mut().rev() {
        *slot = DIGITS[(value % 36) as usize];
        value /= 36;
    }
    format!("B0{}", String::from_utf8_lossy(&chars))
}

/// The Amazon order id of order `number` (`3-7-7` digits, distinct per number).
pub fn amazon_order_id(number: u64) -> String {
    const SEVEN: u64 = 10_000_000;
    // 7919 and 104729 are primes, so each middle and last group is a bijection modulo 10^7.
    let middle = (3_159_896 + number % SEVEN * 7_919) % SEVEN;
    let last = (1_390_916 + number % SEVEN * 104_729) % SEVEN;
    format!("902-{middle:07}-{last:07}")
}

fn order_item_id(number: u64) -> String {
    format!("{:014}", 68_828_574_383_266u64 + number)
}

impl PlatformMock for AmazonMock {
    fn platform(&self) -> Platform {
        Platform::Amazon
    }

    fn api_version(&self) -> &'static str {
        "listings 2021-08-01, orders v0"
    }

    fn account(&self) -> Value {
        json!({
            "seller_id": SELLER_ID,
            "marketplace_id": MARKETPLACE_ID,
            "region": "na",
            "apply_delay_ms": self.knobs.apply_delay.as_millis() as u64,
            "orders_lag_ms": self.knobs.orders_lag.as_millis() as u64,
        })
    }

    fn limits(&self) -> Value {
        let table: serde_json::Map<String, Value> = plan_table(&self.plan)
            .into_iter()
            .map(|(operation, rate, burst)| {
                (
                    operation.to_string(),
                    json!({ "rate_per_sec": rate, "burst": burst }),
                )
            })
            .collect();
        json!({ "token_buckets": table })
    }

    fn listing_identity(&self, number: u64, sku: &str) -> ListingIdentity {
        // Listings are addressed by seller id and SKU; the ASIN is what reads and orders show.
        ListingIdentity {
            ids: json!({ "sku": sku, "asin": asin(number) }),
            listing_ref: sku.to_string(),
        }
    }

    fn order_id(&self, number: u64) -> String {
        amazon_order_id(number)
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route(
                "/listings/2021-08-01/items/{seller_id}/{sku}",
                web::patch().to(patch_listings_item),
            )
            .route(
                "/listings/2021-08-01/items/{seller_id}/{sku}",
                web::get().to(get_listings_item),
            )
            .route("/orders/v0/orders", web::get().to(get_orders))
            .route("/orders/v0/orders/{order_id}", web::get().to(get_order))
            .route(
                "/orders/v0/orders/{order_id}/orderItems",
                web::get().to(get_order_items),
            );
    }

    fn throttled_reply(&self) -> HttpResponse {
        self.quota_exceeded()
    }

    fn server_error_reply(&self, status: StatusCode) -> HttpResponse {
        if status == StatusCode::SERVICE_UNAVAILABLE {
            self.error(
                status,
                "ServiceUnavailable",
                "Service temporarily unavailable. Please try again later.",
            )
        } else {
            self.error(
                status,
                "InternalFailure",
                "We encountered an internal error. Please try again.",
            )
        }
    }

    fn sends_webhooks(&self) -> bool {
        true
    }

    fn webhook_retries(&self) -> RetrySchedule {
        RetrySchedule::amazon_eventbridge()
    }

    fn order_changed(&self, state: &MockState, order: &Order, change: OrderChange) {
        notify::send(self, state, order, change);
    }
}

/// `PATCH /listings/2021-08-01/items/{sellerId}/{sku}`: queues the quantity of one SKU.
async fn patch_listings_item(
    state: web::Data<MockState>,
    wire: web::Data<AmazonMock>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let operation = operation::PATCH_LISTINGS_ITEM;
    let rate = match wire.guard(&state, &request, operation).await {
        Ok(rate) => rate,
        Err(reply) => return reply,
    };
    let (seller_id, sku) = path.into_inner();
    let params = match wire.check_listing_request(&seller_id, &request) {
        Ok(params) => params,
        Err(reply) => return reply,
    };
    let preview = match params.get("mode").as_deref() {
        None => false,
        Some("VALIDATION_PREVIEW") => true,
        Some(other) => {
            return wire.invalid_input(&format!("Invalid mode {other}: only VALIDATION_PREVIEW."))
        }
    };
    let patch_request = match patch::parse(&body) {
        Ok(patch_request) => patch_request,
        Err(message) => return wire.invalid_input(&message),
    };
    let Some(listing) = state.world().listing_by_sku(&sku).map(|l| l.number) else {
        return wire.not_found(&format!(
            "SKU '{sku}' not found in marketplace {MARKETPLACE_ID}."
        ));
    };
    let (status, issues) = match patch::validate(&patch_request) {
        Err(issues) => ("INVALID", issues),
        Ok(_) if preview => ("VALID", vec![]),
        Ok(quantity) => {
            wire.queue(state.clone(), listing, quantity);
            ("ACCEPTED", vec![])
        }
    };
    wire.ok(
        rate,
        json!({
            "sku": sku,
            "status": status,
            "submissionId": wire.next_id().replace('-', ""),
            "issues": issues,
        }),
    )
}

/// The `includedData` values of `getListingsItem`.
const INCLUDED_DATA: [&str; 8] = [
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
];

/// `GET /listings/2021-08-01/items/{sellerId}/{sku}`: the listing's summary and quantity.
async fn get_listings_item(
    state: web::Data<MockState>,
    wire: web::Data<AmazonMock>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let operation = operation::GET_LISTINGS_ITEM;
    let rate = match wire.guard(&state, &request, operation).await {
        Ok(rate) => rate,
        Err(reply) => return reply,
    };
    let (seller_id, sku) = path.into_inner();
    let params = match wire.check_listing_request(&seller_id, &request) {
        Ok(params) => params,
        Err(reply) => return reply,
    };
    let mut included = params.list("includedData");
    if included.is_empty() {
        included.push("summaries".to_string());
    }
    if let Some(bad) = included
        .iter()
        .find(|data| !INCLUDED_DATA.contains(&data.as_str()))
    {
        return wire.invalid_input(&format!("Invalid includedData value {bad}."));
    }
    match wire.listing_json(&state, &sku, &included) {
        Some(body) => wire.ok(rate, body),
        None => wire.not_found(&format!(
            "SKU '{sku}' not found in marketplace {MARKETPLACE_ID}."
        )),
    }
}

fn order_json(order: &Order) -> Value {
    let unshipped = match order.status {
        OrderStatus::Placed => order.quantity,
        OrderStatus::Cancelled => 0,
    };
    json!({
        "AmazonOrderId": order.order_id,
        "PurchaseDate": rfc3339(order.created_at),
        "LastUpdateDate": rfc3339(order.updated_at),
        "OrderStatus": order_status(order),
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com",
        "ShipServiceLevel": "Std US D2D Dom",
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": unshipped,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": MARKETPLACE_ID,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "IsBusinessOrder": false,
        "IsPrime": false,
        "IsPremiumOrder": false,
        "IsGlobalExpressEnabled": false,
        "IsReplacementOrder": false,
        "IsSoldByAB": false,
        "IsISPU": false,
    })
}

/// `GET /orders/v0/orders`: orders by creation or last update, paged by `NextToken`.
async fn get_orders(
    state: web::Data<MockState>,
    wire: web::Data<AmazonMock>,
    request: HttpRequest,
) -> HttpResponse {
    let operation = operation::GET_ORDERS;
    let rate = match wire.guard(&state, &request, operation).await {
        Ok(rate) => rate,
        Err(reply) => return reply,
    };
    let params = match Params::parse(request.query_string()) {
        Ok(params) => params,
        Err(message) => return wire.invalid_input(&message),
    };
    if let Err(reply) = wire.check_marketplace(&params, "MarketplaceIds") {
        return reply;
    }
    let now = state.now();
    let lagged = now - chrono::Duration::from_std(wire.knobs.orders_lag).unwrap_or_default();
    let default_before =
        DateTime::from_timestamp_millis(lagged.timestamp_millis()).unwrap_or(lagged);
    let feed = match orders::parse_feed(&params, now, default_before) {
        Ok(feed) => feed,
        Err(message) => return wire.invalid_input(&message),
    };
    let (page, next_token) = {
        let world = state.world();
        let candidates = match feed.by {
            orders::FeedBy::Created => {
                world.orders_created_between(Some(feed.after), Some(feed.before))
            }
            orders::FeedBy::Updated => {
                world.orders_changed_between(Some(feed.after), Some(feed.before))
            }
        };
        let (page, token) = feed.page(candidates);
        (page.into_iter().map(order_json).collect::<Vec<_>>(), token)
    };
    let mut payload = json!({ "Orders": page });
    if let Some(token) = next_token {
        payload["NextToken"] = Value::String(token);
    }
    payload[orders::before_name(feed.by)] = Value::String(rfc3339(feed.before));
    wire.ok(rate, json!({ "payload": payload }))
}

/// `GET /orders/v0/orders/{orderId}`: one order.
async fn get_order(
    state: web::Data<MockState>,
    wire: web::Data<AmazonMock>,
    request: HttpRequest,
    order_id: web::Path<String>,
) -> HttpResponse {
    let operation = operation::GET_ORDER;
    let rate = match wire.guard(&state, &request, operation).await {
        Ok(rate) => rate,
        Err(reply) => return reply,
    };
    let body = state.world().order(&order_id).map(order_json);
    match body {
        Some(order) => wire.ok(rate, json!({ "payload": order })),
        None => wire.not_found(&format!("Order {order_id} not found.")),
    }
}

/// `GET /orders/v0/orders/{orderId}/orderItems`: the one line of an order.
async fn get_order_items(
    state: web::Data<MockState>,
    wire: web::Data<AmazonMock>,
    request: HttpRequest,
    order_id: web::Path<String>,
) -> HttpResponse {
    let operation = operation::GET_ORDER_ITEMS;
    let rate = match wire.guard(&state, &request, operation).await {
        Ok(rate) => rate,
        Err(reply) => return reply,
    };
    let body = {
        let world = state.world();
        world.order(&order_id).map(|order| {
            let asin = world
                .listing(order.listing_number)
                .map(|listing| listing.ids["asin"].clone())
                .unwrap_or(Value::Null);
            json!({ "payload": {
                "AmazonOrderId": order.order_id,
                "OrderItems": [{
                    "ASIN": asin,
                    "SellerSKU": order.sku,
                    "OrderItemId": order_item_id(order.number),
                    "Title": item_name(&order.sku),
                    "QuantityOrdered": order.quantity,
                    "QuantityShipped": 0,
                    "IsGift": "false",
                    "ConditionId": "New",
                    "ConditionSubtypeId": "New",
                }],
            }})
        })
    };
    match body {
        Some(body) => wire.ok(rate, body),
        None => wire.not_found(&format!("Order {order_id} not found.")),
    }
}

#[cfg(test)]
mod tests;
