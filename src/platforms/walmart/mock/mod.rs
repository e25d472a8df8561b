//! The Walmart Marketplace mock (reference/marketplace-apis.md §4): `PUT` and `GET /v3/inventory`
//! by SKU, `GET /v3/orders` with date filters and a `nextCursor`, `GET /v3/orders/{purchaseOrderId}`
//! (one purchase order, `{"order": …}`), the `WM_SEC.ACCESS_TOKEN`, `WM_QOS.CORRELATION_ID` and
//! `WM_SVC.NAME` headers, per-endpoint token buckets answering 429 with `x-current-token-count`
//! and `x-next-replenishment-time`, and `ORDER_UPDATES` notifications (`notify.rs`: payload,
//! sub-events, basic or HMAC auth per subscription, HMAC by default).
//!
//! Decisions where the reference is unsure: the SKU of a `PUT` may come in the query, the body or
//! both (both must then agree); the token headers are sent on every reply, not only on 429;
//! the per-endpoint rates are the third-party table (PUT and GET inventory 200/min, orders
//! 5 000/min), buckets as deep as one minute of calls; the single purchase order is an endpoint
//! of its own with the orders' limits (5 000/min, not in the reference's table); a failed
//! notification is tried three times in all ([`RetrySchedule::walmart`], [U]).

pub mod notify;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::platforms::mock::check_plan;
use crate::platforms::mock::throttle::OperationBuckets;
use crate::platforms::mock::world::{Order, OrderChange};
use crate::platforms::mock::{
    constant_time_eq, header, Delivery, ListingIdentity, MockError, MockOptions, MockState,
    PlatformMock, RetrySchedule, WebhookAuth, UNLIMITED_PLAN,
};
use crate::platforms::Platform;

/// The partner (seller) id of the mock's account.
pub const PARTNER_ID: &str = "10001234567";
/// The default ship node.
pub const SHIP_NODE: &str = "721407792";
/// The most orders one page of `GET /v3/orders` returns.
pub const MAX_ORDERS_LIMIT: usize = 200;
const DEFAULT_ORDERS_LIMIT: usize = 100;

/// Operation names (the keys of `/_mock/stats` and of the token buckets).
pub mod operation {
    /// `PUT /v3/inventory`.
    pub const UPDATE_INVENTORY: &str = "update_inventory";
    /// `GET /v3/inventory`.
    pub const GET_INVENTORY: &str = "get_inventory";
    /// `GET /v3/orders`.
    pub const GET_ORDERS: &str = "get_orders";
    /// `GET /v3/orders/{purchaseOrderId}`.
    pub const GET_ORDER: &str = "get_order";
}

/// Per-endpoint limits of a plan: (operation, calls per second, burst).
fn plan_table(plan: &str) -> Vec<(&'static str, f64, u32)> {
    if plan == UNLIMITED_PLAN {
        return vec![];
    }
    vec![
        (operation::UPDATE_INVENTORY, 200.0 / 60.0, 200),
        (operation::GET_INVENTORY, 200.0 / 60.0, 200),
        (operation::GET_ORDERS, 5000.0 / 60.0, 5000),
        (operation::GET_ORDER, 5000.0 / 60.0, 5000),
    ]
}

/// The Walmart mock for `options`.
pub fn build(options: &MockOptions) -> Result<Arc<dyn PlatformMock>, MockError> {
    Ok(Arc::new(WalmartMock::new(options)?))
}

/// The Walmart wire format; clones share the limiter and the event counter.
#[derive(Debug, Clone)]
pub struct WalmartMock {
    token: String,
    plan: String,
    seed: u64,
    buckets: Arc<Mutex<OperationBuckets>>,
    /// Notifications sent (their `eventId`s).
    events: Arc<AtomicU64>,
}

impl WalmartMock {
    /// The mock for `options` (plans `default` and `unlimited`).
    pub fn new(options: &MockOptions) -> Result<WalmartMock, MockError> {
        check_plan(
            Platform::Walmart,
            &options.plan,
            &["default", UNLIMITED_PLAN],
        )?;
        Ok(WalmartMock {
            token: options.token.clone(),
            plan: options.plan.clone(),
            seed: options.seed,
            buckets: Arc::new(Mutex::new(OperationBuckets::new(
                &plan_table(&options.plan),
                Instant::now(),
            ))),
            events: Arc::new(AtomicU64::new(1)),
        })
    }

    /// Every handler's prologue: admits the call ([`MockState::admit`]), checks the auth headers,
    /// then takes a token of `operation`. `Err` is the reply to send.
    async fn guard(
        &self,
        state: &MockState,
        request: &HttpRequest,
        operation: &str,
    ) -> Result<Option<u64>, HttpResponse> {
        state.admit(operation).await?;
        let token_ok = !state.credential_revoked()
            && header(request, "WM_SEC.ACCESS_TOKEN")
                .is_some_and(|token| constant_time_eq(token.as_bytes(), self.token.as_bytes()));
        if !token_ok {
            return Err(state.refuse_auth(operation, unauthorized()));
        }
        for required in ["WM_QOS.CORRELATION_ID", "WM_SVC.NAME"] {
            if header(request, required).is_none_or(str::is_empty) {
                return Err(error_reply(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST_HEADER.GMP_GATEWAY_API",
                    required,
                    &format!("header {required} is required"),
                ));
            }
        }
        let taken = self
            .buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .try_take(operation, Instant::now());
        match taken {
            Ok(left) => Ok((left != u64::MAX).then_some(left)),
            Err(wait) => Err(state.throttle(operation, throttled(wait))),
        }
    }
}

impl PlatformMock for WalmartMock {
    fn platform(&self) -> Platform {
        Platform::Walmart
    }

    fn api_version(&self) -> &'static str {
        "v3"
    }

    fn account(&self) -> Value {
        json!({ "partner_id": PARTNER_ID, "ship_node": SHIP_NODE })
    }

    fn limits(&self) -> Value {
        let table: serde_json::Map<String, Value> = plan_table(&self.plan)
            .into_iter()
            .map(|(operation, rate, burst)| {
                (
                    operation.to_string(),
                    json!({ "per_minute": (rate * 60.0).round(), "burst": burst }),
                )
            })
            .collect();
        json!({ "token_buckets": table })
    }

    fn listing_identity(&self, number: u64, sku: &str) -> ListingIdentity {
        // Walmart addresses inventory by the seller's SKU; the item id and WPID are shown for
        // realism only.
        ListingIdentity {
            ids: json!({
                "sku": sku,
                "item_id": (100_000_000 + number).to_string(),
                "wpid": format!("5{:011X}", number),
            }),
            listing_ref: sku.to_string(),
        }
    }

    fn order_id(&self, number: u64) -> String {
        (1_796_277_083_000 + number).to_string()
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route("/v3/inventory", web::put().to(update_inventory))
            .route("/v3/inventory", web::get().to(get_inventory))
            .route("/v3/orders", web::get().to(get_orders))
            .route("/v3/orders/{purchase_order_id}", web::get().to(get_order));
    }

    fn throttled_reply(&self) -> HttpResponse {
        throttled(Duration::from_secs(1))
    }

    fn server_error_reply(&self, status: StatusCode) -> HttpResponse {
        error_reply(
            status,
            "SYSTEM_ERROR.GMP_GATEWAY_API",
            "",
            "Internal error, please retry",
        )
    }

    fn sends_webhooks(&self) -> bool {
        true
    }

    fn webhook_retries(&self) -> RetrySchedule {
        RetrySchedule::walmart()
    }

    fn check_auth(&self, auth: Option<WebhookAuth>, secret: &str) -> Result<(), MockError> {
        notify::check_subscription(auth, secret)
    }

    fn order_changed(&self, state: &MockState, order: &Order, change: OrderChange) {
        notify::send(self, state, order, change);
    }

    fn prepare_retry(&self, state: &MockState, delivery: &mut Delivery) {
        notify::resign(state, delivery);
    }
}

/// What the handlers share (the same limiter as [`WalmartMock`]).
type WalmartWire = WalmartMock;

/// Walmart's error envelope.
fn error_reply(status: StatusCode, code: &str, field: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "errors": [{
            "code": code,
            "field": field,
            "description": description,
            "info": description,
            "severity": "ERROR",
            "category": "DATA",
            "causes": [],
        }]
    }))
}

fn unauthorized() -> HttpResponse {
    error_reply(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED.GMP_GATEWAY_API",
        "UNAUTHORIZED",
        "Unauthorized token or invalid Consumer/Channel ID",
    )
}

/// 429 with the token headers: none left, the next one at `wait` from now (epoch milliseconds).
fn throttled(wait: Duration) -> HttpResponse {
    let next = SystemTime::now() + wait;
    let next_ms = next
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let mut reply = error_reply(
        StatusCode::TOO_MANY_REQUESTS,
        "REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API",
        "REQUEST_THRESHOLD_VIOLATED",
        "Request Threshold Violated",
    );
    let headers = reply.headers_mut();
    headers.insert(
        actix_web::http::header::HeaderName::from_static("x-current-token-count"),
        actix_web::http::header::HeaderValue::from_static("0"),
    );
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&next_ms.to_string()) {
        headers.insert(
            actix_web::http::header::HeaderName::from_static("x-next-replenishment-time"),
            value,
        );
    }
    reply
}

/// A successful reply with the remaining tokens of the endpoint.
fn ok_with_tokens(tokens: Option<u64>, body: Value) -> HttpResponse {
    let mut reply = HttpResponse::Ok();
    if let Some(tokens) = tokens {
        reply.insert_header(("x-current-token-count", tokens.to_string()));
    }
    reply.json(body)
}

#[derive(Debug, Deserialize)]
struct SkuQuery {
    sku: Option<String>,
    #[serde(rename = "shipNode")]
    #[allow(dead_code)]
    ship_node: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Quantity {
    unit: String,
    amount: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryBody {
    sku: Option<String>,
    quantity: Quantity,
}

fn inventory_json(sku: &str, amount: i64) -> Value {
    json!({ "sku": sku, "quantity": { "unit": "EACH", "amount": amount } })
}

fn bad_content(field: &str, description: &str) -> HttpResponse {
    error_reply(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API",
        field,
        description,
    )
}

fn not_found(sku: &str) -> HttpResponse {
    error_reply(
        StatusCode::NOT_FOUND,
        "CONTENT_NOT_FOUND.GMP_INVENTORY_API",
        "sku",
        &format!("Inventory not found for sku {sku}"),
    )
}

/// `PUT /v3/inventory?sku=`: sets the listed quantity of one SKU and echoes it.
async fn update_inventory(
    state: web::Data<MockState>,
    wire: web::Data<WalmartWire>,
    request: HttpRequest,
    query: web::Query<SkuQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let operation = operation::UPDATE_INVENTORY;
    let tokens = match wire.guard(&state, &request, operation).await {
        Ok(tokens) => tokens,
        Err(reply) => return reply,
    };
    let body: InventoryBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => return bad_content("body", &format!("Invalid inventory body: {error}")),
    };
    let sku = match (query.sku.as_deref(), body.sku.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return bad_content(
                "sku",
                &format!("sku {a:?} in the query differs from {b:?} in the body"),
            )
        }
        (Some(sku), _) | (None, Some(sku)) => sku.to_string(),
        (None, None) => return bad_content("sku", "sku is required"),
    };
    if body.quantity.unit != "EACH" {
        return bad_content(
            "quantity.unit",
            &format!("unit {:?} is not EACH", body.quantity.unit),
        );
    }
    if body.quantity.amount < 0 {
        return bad_content("quantity.amount", "amount must not be negative");
    }
    let now = state.now();
    let mut world = state.world();
    let Some(number) = world.listing_by_sku(&sku).map(|listing| listing.number) else {
        return not_found(&sku);
    };
    world.set_quantity(number, body.quantity.amount, now);
    ok_with_tokens(tokens, inventory_json(&sku, body.quantity.amount))
}

/// `GET /v3/inventory?sku=`: the listed quantity of one SKU.
async fn get_inventory(
    state: web::Data<MockState>,
    wire: web::Data<WalmartWire>,
    request: HttpRequest,
    query: web::Query<SkuQuery>,
) -> HttpResponse {
    let operation = operation::GET_INVENTORY;
    let tokens = match wire.guard(&state, &request, operation).await {
        Ok(tokens) => tokens,
        Err(reply) => return reply,
    };
    let Some(sku) = query.sku.as_deref() else {
        return bad_content("sku", "sku is required");
    };
    let world = state.world();
    match world.listing_by_sku(sku) {
        Some(listing) => ok_with_tokens(tokens, inventory_json(sku, listing.quantity)),
        None => not_found(sku),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrdersQuery {
    created_start_date: Option<String>,
    created_end_date: Option<String>,
    last_modified_start_date: Option<String>,
    last_modified_end_date: Option<String>,
    limit: Option<usize>,
    /// The position after the previous page (inside `nextCursor`).
    offset: Option<usize>,
}

fn parse_date(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, HttpResponse> {
    let Some(value) = value else { return Ok(None) };
    // Walmart takes ISO 8601 timestamps (or dates); epoch milliseconds are accepted too.
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(time.with_timezone(&Utc)));
    }
    if let Ok(millis) = value.parse::<i64>() {
        if let Some(time) = DateTime::from_timestamp_millis(millis) {
            return Ok(Some(time));
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(Some(
            date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
        ));
    }
    Err(error_reply(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST_PARAM.GMP_ORDER_API",
        field,
        &format!("{field} {value:?} is not an ISO 8601 date"),
    ))
}

/// The customer's order id of `order` (the order API's and the notifications').
fn customer_order_id(order: &Order) -> String {
    (5_281_956_426_000u64 + order.number).to_string()
}

fn order_json(order: &Order) -> Value {
    let status = match order.status {
        crate::platforms::mock::world::OrderStatus::Placed => "Created",
        crate::platforms::mock::world::OrderStatus::Cancelled => "Cancelled",
    };
    let amount = order.quantity.to_string();
    json!({
        "purchaseOrderId": order.order_id,
        "customerOrderId": customer_order_id(order),
        "orderDate": order.created_at.timestamp_millis(),
        "orderLines": { "orderLine": [{
            "lineNumber": "1",
            "item": { "productName": format!("Item {}", order.sku), "sku": order.sku },
            "orderLineQuantity": { "unitOfMeasurement": "EACH", "amount": amount },
            "statusDate": order.updated_at.timestamp_millis(),
            "orderLineStatuses": { "orderLineStatus": [{
                "status": status,
                "statusQuantity": { "unitOfMeasurement": "EACH", "amount": amount },
            }]},
        }]},
    })
}

/// `GET /v3/orders`: orders by creation or last-modified date, oldest change first, paged by a
/// `nextCursor` that is the query string of the next page (appended to `/v3/orders`, as Walmart's
/// is).
async fn get_orders(
    state: web::Data<MockState>,
    wire: web::Data<WalmartWire>,
    request: HttpRequest,
    query: web::Query<OrdersQuery>,
) -> HttpResponse {
    let operation = operation::GET_ORDERS;
    let tokens = match wire.guard(&state, &request, operation).await {
        Ok(tokens) => tokens,
        Err(reply) => return reply,
    };
    let limit = query.limit.unwrap_or(DEFAULT_ORDERS_LIMIT);
    if !(1..=MAX_ORDERS_LIMIT).contains(&limit) {
        return error_reply(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_PARAM.GMP_ORDER_API",
            "limit",
            &format!("limit {limit} is outside 1..={MAX_ORDERS_LIMIT}"),
        );
    }
    let dates = (|| {
        Ok::<_, HttpResponse>((
            parse_date("createdStartDate", query.created_start_date.as_deref())?,
            parse_date("createdEndDate", query.created_end_date.as_deref())?,
            parse_date(
                "lastModifiedStartDate",
                query.last_modified_start_date.as_deref(),
            )?,
            parse_date(
                "lastModifiedEndDate",
                query.last_modified_end_date.as_deref(),
            )?,
        ))
    })();
    let (created_from, created_until, modified_from, modified_until) = match dates {
        Ok(dates) => dates,
        Err(reply) => return reply,
    };
    let offset = query.offset.unwrap_or(0);
    let world = state.world();
    let matching: Vec<&Order> = world
        .orders_changed_between(modified_from, modified_until)
        .into_iter()
        .filter(|order| created_from.is_none_or(|from| order.created_at >= from))
        .filter(|order| created_until.is_none_or(|until| order.created_at < until))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|order| order_json(order))
        .collect();
    let next = offset + page.len();
    let mut meta = json!({ "totalCount": matching.len(), "limit": limit });
    if next < matching.len() {
        // The next page repeats the filters and moves the offset.
        let mut cursor = format!("?limit={limit}&offset={next}");
        for (name, value) in [
            ("createdStartDate", &query.created_start_date),
            ("createdEndDate", &query.created_end_date),
            ("lastModifiedStartDate", &query.last_modified_start_date),
            ("lastModifiedEndDate", &query.last_modified_end_date),
        ] {
            if let Some(value) = value {
                cursor.push_str(&format!(
                    "&{name}={}",
                    crate::platforms::mock::query_value(value)
                ));
            }
        }
        meta["nextCursor"] = Value::String(cursor);
    }
    ok_with_tokens(
        tokens,
        json!({ "list": { "meta": meta, "elements": { "order": page } } }),
    )
}

/// `GET /v3/orders/{purchaseOrderId}`: one purchase order, as the list shows it.
async fn get_order(
    state: web::Data<MockState>,
    wire: web::Data<WalmartWire>,
    request: HttpRequest,
    purchase_order_id: web::Path<String>,
) -> HttpResponse {
    let tokens = match wire.guard(&state, &request, operation::GET_ORDER).await {
        Ok(tokens) => tokens,
        Err(reply) => return reply,
    };
    let order = state.world().order(&purchase_order_id).map(order_json);
    match order {
        Some(order) => ok_with_tokens(tokens, json!({ "order": order })),
        None => error_reply(
            StatusCode::NOT_FOUND,
            "CONTENT_NOT_FOUND.GMP_ORDER_API",
            "purchaseOrderId",
            &format!("No order found for purchaseOrderId {purchase_order_id}"),
        ),
    }
}
