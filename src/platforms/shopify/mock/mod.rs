//! The Shopify mock (reference/marketplace-apis.md §1, §0 and §7): the GraphQL Admin API at
//! `POST /admin/api/{version}/graphql.json` and the legacy REST inventory calls, both behind
//! `X-Shopify-Access-Token`, with Shopify's two throttle models, and signed order webhooks.
//!
//! What it serves:
//! - GraphQL (§1.1, §1.3): documents are parsed with `graphql-parser` (literals or `$variables`,
//!   fragments, `@skip`/`@include`, aliases, `__typename`) and checked against the slice of the
//!   Admin schema the mock serves (`graphql::field_kind`); an unknown field gets Shopify's
//!   `undefinedField` error. Only the selected fields are returned. Served: the mutation
//!   `inventorySetQuantities` with `@idempotent(key:)`; `inventoryItem(id:)` with
//!   `inventoryLevel(locationId:) { quantities(names:) }`, `inventoryItems`, `inventoryLevel`,
//!   `node`/`nodes`, `location`, `shop`; `order(id:)` and `orders(first/last, after/before,
//!   query, sortKey, reverse)` with edges, nodes, cursors and pageInfo.
//! - Cost (§1.3): requested cost by static analysis (scalar 0, object 1, connection 2 + `first`
//!   × one node, mutation 10); more than 1000 requested gets `MAX_COST_EXCEEDED`; the requested
//!   cost is reserved from a [`CostBucket`] before running and requested − actual refunded after
//!   (actual counts the nodes returned). `extensions.cost` is on every GraphQL reply that got past
//!   auth and the envelope (validation errors show a cost of 0).
//! - Throttled (§1.3): the community example's body exactly, `actualQueryCost: null`, HTTP 200
//!   (`ShopifyKnobs::graphql_throttle_status` switches to 429, which then carries `Retry-After`).
//! - REST (§1.1, §1.3): `POST inventory_levels/set.json` and `GET inventory_levels.json`, a
//!   [`LeakyBucket`] that passes or fails, `X-Shopify-Shop-Api-Call-Limit` on every reply after
//!   auth, 429 with `Retry-After: 2.0` and Shopify's body.
//! - Webhooks (§1.2): `orders/create` and `orders/cancelled` to every subscription, the REST order
//!   JSON signed with HMAC-SHA256 over the raw body (base64), with the seven `X-Shopify-*`
//!   headers; the core sender retries and injects duplicates and reordering.
//!
//! Decisions where the reference is silent or [U]:
//! - Plans: `standard` (= `default`) 2000 points restoring 100/s, REST 40 leaking 2/s; `advanced`
//!   4000/200, REST 80/4; `plus` 20000/1000, REST 400/20; `enterprise` 40000/2000, REST 800/40;
//!   `unlimited` never binds. The GraphQL bucket sizes are the [U] "20× the restore rate"; the
//!   REST Advanced and Enterprise buckets are 20× their leak rates like the two verified ones.
//!   The 1000-point cap per query stays in force on every plan (it is a query rule, not a rate).
//! - API versions: quarterly `YYYY-MM` from 2024-01 and `unstable` (newest); anything else is 404.
//!   Before 2026-01 the CAS field is `compareQuantity` (required unless `ignoreCompareQuantity`);
//!   2026-01 takes `changeFromQuantity` or `compareQuantity`, both optional, and `@idempotent` is
//!   optional; from 2026-04 `changeFromQuantity` must be present on every quantity (null = no
//!   check), `compareQuantity`/`ignoreCompareQuantity` are unknown fields and `@idempotent` is
//!   required. A missing `changeFromQuantity` is an `INVALID_VARIABLE` error; a missing
//!   directive is a top-level error coded `IDEMPOTENCY_KEY_REQUIRED` (the code is the mock's).
//! - All or nothing: any user error (unknown item, wrong location, negative or > 1e9 quantity,
//!   duplicate item, stale CAS) applies no quantity of the call; a stale CAS counts one
//!   `cas_conflicts`. Negative quantities are refused (`INVALID_QUANTITY_NEGATIVE`): a sync never
//!   sets one and the mock's listings never show one.
//! - `available` and `on_hand` are the same number in the mock (nothing committed); a set
//!   reports both changes, delta 0 included, so a connector always reads `quantityAfterChange`.
//! - `@idempotent`: the first result of a key (applied, or refused by user errors) is replayed
//!   for the same input without applying again; the same key with a different input is refused
//!   with `IDEMPOTENCY_KEY_REUSED` (the mock's code) and changes nothing. The cache keeps the
//!   last `ShopifyKnobs::idempotency_keys` keys (10 000 by default).
//! - Input errors of GraphQL get HTTP 200 with `errors` or `userErrors`, as Shopify answers; only
//!   a body that is not a GraphQL request (not JSON, no string `query`) gets 400
//!   `{"errors":{"query":"Required parameter missing or invalid"}}`. REST: a malformed body or a
//!   missing parameter is 400 with the same message under the parameter, an out-of-range
//!   `available` 422, an unknown item or location 404 `{"errors":"Not Found"}`.
//! - `orders(query:)` takes `updated_at`/`created_at` with `>`, `>=`, `<`, `<=` (quoted or not,
//!   RFC 3339, a zone-less time or a date) and `status:open|cancelled|any`; any other term is an
//!   `INVALID_SEARCH_QUERY` error rather than silently matching everything. Cursors are keyset
//!   (sort value and id), so paging stays stable while orders change.
//! - Times are RFC 3339 UTC with milliseconds everywhere (GraphQL, REST, webhooks), so that
//!   `updated_at:>` polling never loses a change within the same second.
//! - Limiter order: the GraphQL cost needs the parsed document, so a GraphQL request is admitted,
//!   authenticated, parsed and checked, and only then charged; REST is charged before its body is
//!   read. A 401 carries no call-limit header or cost (the call is not attributed to the app).
//! - An injected throttle storm answers each API in its own form (the core's `admit` builds one
//!   reply; the REST handlers swap in theirs).

pub mod graphql;
pub mod ids;
pub mod inventory;
pub mod orders;
pub mod resolve;
mod rest;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use graphql_parser::query::parse_query;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use self::graphql::{cost, parse_request, select_operation, validate, GqlError, MAX_QUERY_COST};
use self::inventory::{ApiVersion, IdempotencyCache};
use self::resolve::{execute, MutationEnv};
pub use self::rest::{parse_rest_set, RestRefusal, RestSet};
use self::rest::{rest_levels, rest_set};
use crate::platforms::mock::check_plan;
use crate::platforms::mock::throttle::{CostBucket, LeakyBucket, ThrottleStatus};
use crate::platforms::mock::world::{Order, OrderChange};
use crate::platforms::mock::{
    constant_time_eq, header, rfc3339, Delivery, ListingIdentity, MockError, MockOptions,
    MockState, PlatformMock, UNLIMITED_PLAN,
};
use crate::platforms::Platform;

/// The API version the mock advertises (the first with mandatory compare-and-swap).
pub const API_VERSION: &str = "2026-04";
/// The auth header of every Admin API call.
pub const TOKEN_HEADER: &str = "X-Shopify-Access-Token";
/// The REST call-limit header.
pub const CALL_LIMIT_HEADER: &str = "X-Shopify-Shop-Api-Call-Limit";
/// Shopify's 401 body.
pub const UNAUTHORIZED_MESSAGE: &str =
    "[API] Invalid API key or access token (unrecognized login or wrong password)";
/// The REST throttled body's message.
pub const REST_THROTTLED_MESSAGE: &str =
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.";
/// The documentation link of the GraphQL throttled reply.
pub const THROTTLE_DOCUMENTATION: &str = "https://shopify.dev/api/usage/rate-limits";
/// The plans the mock knows.
pub const PLANS: &[&str] = &[
    "default",
    "standard",
    "advanced",
    "plus",
    "enterprise",
    UNLIMITED_PLAN,
];

/// Operation names (the keys of `/_mock/stats`).
pub mod operation {
    /// `POST graphql.json`.
    pub const GRAPHQL: &str = "graphql";
    /// `POST inventory_levels/set.json`.
    pub const REST_SET: &str = "rest_inventory_levels_set";
    /// `GET inventory_levels.json`.
    pub const REST_LEVELS: &str = "rest_inventory_levels";
}

/// A plan's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// GraphQL `maximumAvailable`.
    pub graphql_maximum: f64,
    /// GraphQL `restoreRate` (points a second).
    pub graphql_restore: f64,
    /// REST bucket size.
    pub rest_bucket: u32,
    /// REST leak rate (requests a second).
    pub rest_leak: f64,
}

/// The limits of `plan` (`None` for an unknown one).
pub fn plan_limits(plan: &str) -> Option<Plan> {
    let (graphql_maximum, graphql_restore, rest_bucket, rest_leak) = match plan {
        "default" | "standard" => (2_000.0, 100.0, 40, 2.0),
        "advanced" => (4_000.0, 200.0, 80, 4.0),
        "plus" => (20_000.0, 1_000.0, 400, 20.0),
        "enterprise" => (40_000.0, 2_000.0, 800, 40.0),
        UNLIMITED_PLAN => (1e12, 1e12, u32::MAX, 1e9),
        _ => return None,
    };
    Some(Plan {
        graphql_maximum,
        graphql_restore,
        rest_bucket,
        rest_leak,
    })
}

/// Switches for the [U] parts of the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifyKnobs {
    /// The HTTP status of a throttled GraphQL reply: 200 (default) or 429.
    pub graphql_throttle_status: StatusCode,
    /// How many `@idempotent` keys the mock remembers.
    pub idempotency_keys: usize,
}

impl Default for ShopifyKnobs {
    fn default() -> ShopifyKnobs {
        ShopifyKnobs {
            graphql_throttle_status: StatusCode::OK,
            idempotency_keys: 10_000,
        }
    }
}

/// The Shopify mock for `options`, with the default knobs.
pub fn build(options: &MockOptions) -> Result<Arc<dyn PlatformMock>, MockError> {
    build_with(options, ShopifyKnobs::default())
}

/// The Shopify mock for `options` with `knobs`.
pub fn build_with(
    options: &MockOptions,
    knobs: ShopifyKnobs,
) -> Result<Arc<dyn PlatformMock>, MockError> {
    Ok(Arc::new(ShopifyMock::new(options, knobs)?))
}

/// The Shopify wire format; its state is shared by every server worker.
#[derive(Debug)]
pub struct ShopifyMock {
    shop: Arc<Shop>,
}

/// What the handlers share: the credential, the limiters, the idempotency cache, counters.
#[derive(Debug)]
struct Shop {
    token: String,
    plan: String,
    limits: Plan,
    knobs: ShopifyKnobs,
    seed: u64,
    graphql: Mutex<CostBucket>,
    rest: Mutex<LeakyBucket>,
    cache: Mutex<IdempotencyCache>,
    next_group: AtomicU64,
    next_event: AtomicU64,
    next_delivery: AtomicU64,
}

impl ShopifyMock {
    /// The mock for `options` and `knobs` (plans in [`PLANS`]).
    pub fn new(options: &MockOptions, knobs: ShopifyKnobs) -> Result<ShopifyMock, MockError> {
        check_plan(Platform::Shopify, &options.plan, PLANS)?;
        let limits = plan_limits(&options.plan).ok_or_else(|| MockError::UnknownPlan {
            platform: Platform::Shopify,
            plan: options.plan.clone(),
            known: PLANS.join(", "),
        })?;
        if !matches!(knobs.graphql_throttle_status.as_u16(), 200 | 429) {
            return Err(MockError::Start {
                message: "graphql_throttle_status must be 200 or 429".into(),
            });
        }
        let now = Instant::now();
        Ok(ShopifyMock {
            shop: Arc::new(Shop {
                token: options.token.clone(),
                plan: options.plan.clone(),
                limits,
                seed: options.seed,
                graphql: Mutex::new(CostBucket::new(
                    limits.graphql_maximum,
                    limits.graphql_restore,
                    now,
                )),
                rest: Mutex::new(LeakyBucket::new(limits.rest_bucket, limits.rest_leak, now)),
                cache: Mutex::new(IdempotencyCache::new(knobs.idempotency_keys)),
                knobs,
                next_group: AtomicU64::new(1),
                next_event: AtomicU64::new(1),
                next_delivery: AtomicU64::new(1),
            }),
        })
    }
}

impl PlatformMock for ShopifyMock {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    fn api_version(&self) -> &'static str {
        API_VERSION
    }

    fn account(&self) -> Value {
        json!({
            "shop_domain": ids::SHOP_DOMAIN,
            "shop_id": ids::gid("Shop", ids::SHOP_ID),
            "location_id": ids::location_gid(),
            "location_legacy_id": ids::LOCATION_ID,
        })
    }

    fn limits(&self) -> Value {
        let limits = self.shop.limits;
        json!({
            "graphql": {
                "maximumAvailable": limits.graphql_maximum,
                "restoreRate": limits.graphql_restore,
                "max_query_cost": MAX_QUERY_COST,
                "throttle_status": self.shop.knobs.graphql_throttle_status.as_u16(),
            },
            "rest": { "bucket": limits.rest_bucket, "leak_per_sec": limits.rest_leak },
            "plan": self.shop.plan,
        })
    }

    fn listing_identity(&self, number: u64, sku: &str) -> ListingIdentity {
        let item = ids::inventory_item_id(number);
        ListingIdentity {
            ids: json!({
                "inventory_item_id": ids::gid("InventoryItem", item),
                "inventory_item_legacy_id": item,
                "variant_id": ids::gid("ProductVariant", ids::variant_id(number)),
                "product_id": ids::gid("Product", ids::product_id(number)),
                "sku": sku,
            }),
            listing_ref: ids::gid("InventoryItem", item),
        }
    }

    fn order_id(&self, number: u64) -> String {
        ids::order_id(number).to_string()
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::from(Arc::clone(&self.shop)))
            .route(
                "/admin/api/{version}/graphql.json",
                web::post().to(graphql_call),
            )
            .route(
                "/admin/api/{version}/inventory_levels/set.json",
                web::post().to(rest_set),
            )
            .route(
                "/admin/api/{version}/inventory_levels.json",
                web::get().to(rest_levels),
            );
    }

    fn throttled_reply(&self) -> HttpResponse {
        self.shop.graphql_throttled(0)
    }

    fn server_error_reply(&self, status: StatusCode) -> HttpResponse {
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "Service Unavailable"
        } else {
            "Internal Server Error"
        };
        HttpResponse::build(status).json(json!({ "errors": message }))
    }

    fn sends_webhooks(&self) -> bool {
        true
    }

    fn order_changed(&self, state: &MockState, order: &Order, change: OrderChange) {
        let topic = match change {
            OrderChange::Created => "orders/create",
            OrderChange::Cancelled => "orders/cancelled",
        };
        let body = match serde_json::to_vec(&orders::webhook_json(order)) {
            Ok(body) => web::Bytes::from(body),
            Err(_) => return,
        };
        let event = self.shop.next_event.fetch_add(1, Ordering::Relaxed);
        let event_id = uuid_like(self.shop.seed, 0xe, event);
        let triggered_at = rfc3339(order.updated_at);
        for subscription in state.webhooks().subscriptions() {
            let number = self.shop.next_delivery.fetch_add(1, Ordering::Relaxed);
            let headers = vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                ("X-Shopify-Topic".to_string(), topic.to_string()),
                (
                    "X-Shopify-Hmac-Sha256".to_string(),
                    sign(&subscription.secret, &body),
                ),
                (
                    "X-Shopify-Shop-Domain".to_string(),
                    ids::SHOP_DOMAIN.to_string(),
                ),
                ("X-Shopify-API-Version".to_string(), API_VERSION.to_string()),
                (
                    "X-Shopify-Webhook-Id".to_string(),
                    uuid_like(self.shop.seed, 0xa, number),
                ),
                ("X-Shopify-Triggered-At".to_string(), triggered_at.clone()),
                ("X-Shopify-Event-Id".to_string(), event_id.clone()),
            ];
            state.webhooks().enqueue(Delivery {
                url: subscription.url,
                headers,
                body: body.clone(),
                attempt: 0,
            });
        }
    }
}

/// Base64 HMAC-SHA256 of `body` keyed with `secret` (`X-Shopify-Hmac-Sha256`, reference §1.2).
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; the error arm cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A UUID-shaped id, unique per `kind` and `number` within a mock.
fn uuid_like(seed: u64, kind: u8, number: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8000-{:012x}",
        (seed & 0xffff_ffff) as u32,
        (seed >> 32) & 0xffff,
        kind,
        number
    )
}

impl Shop {
    fn authorized(&self, state: &MockState, request: &HttpRequest) -> bool {
        !state.credential_revoked()
            && header(request, TOKEN_HEADER)
                .is_some_and(|token| constant_time_eq(token.as_bytes(), self.token.as_bytes()))
    }

    fn graphql_status(&self) -> ThrottleStatus {
        self.graphql
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .status_at(Instant::now())
    }

    /// The throttled GraphQL reply of the reference, for a query requesting `requested`.
    fn graphql_throttled(&self, requested: u64) -> HttpResponse {
        let status = self.graphql_status();
        let mut reply = HttpResponse::build(self.knobs.graphql_throttle_status);
        if self.knobs.graphql_throttle_status == StatusCode::TOO_MANY_REQUESTS {
            let missing = requested.saturating_sub(status.currently_available) as f64;
            let wait = (missing / status.restore_rate).ceil().max(1.0);
            reply.insert_header(("Retry-After", format!("{wait:.1}")));
        }
        reply.json(throttled_body(requested, status))
    }

    /// The REST throttled reply (bucket full).
    fn rest_throttled(&self, used: u32) -> HttpResponse {
        HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "2.0"))
            .insert_header((CALL_LIMIT_HEADER, self.call_limit(used)))
            .json(json!({ "errors": REST_THROTTLED_MESSAGE }))
    }

    fn call_limit(&self, used: u32) -> String {
        format!("{used}/{}", self.limits.rest_bucket)
    }
}

/// The body of a throttled GraphQL reply (reference §1.3).
pub fn throttled_body(requested: u64, status: ThrottleStatus) -> Value {
    json!({
        "errors": [{
            "message": "Throttled",
            "extensions": { "code": "THROTTLED", "documentation": THROTTLE_DOCUMENTATION },
        }],
        "extensions": { "cost": cost_json(requested, None, status) },
    })
}

/// `extensions.cost`.
pub fn cost_json(requested: u64, actual: Option<u64>, status: ThrottleStatus) -> Value {
    json!({
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": status.maximum_available,
            "currentlyAvailable": status.currently_available,
            "restoreRate": status.restore_rate,
        },
    })
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({ "errors": UNAUTHORIZED_MESSAGE }))
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "errors": "Not Found" }))
}

/// Shopify's 400 for a missing or malformed parameter.
fn missing_parameter(parameter: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .json(json!({ "errors": { parameter: "Required parameter missing or invalid" } }))
}

/// A GraphQL reply with `errors` (when any) and `extensions.cost`.
fn graphql_reply(
    data: Option<Value>,
    errors: &[GqlError],
    requested: u64,
    actual: u64,
    status: ThrottleStatus,
) -> HttpResponse {
    let mut body = Map::new();
    if let Some(data) = data {
        body.insert("data".into(), data);
    }
    if !errors.is_empty() {
        body.insert(
            "errors".into(),
            Value::Array(errors.iter().map(GqlError::to_json).collect()),
        );
    }
    body.insert(
        "extensions".into(),
        json!({ "cost": cost_json(requested, Some(actual), status) }),
    );
    HttpResponse::Ok().json(Value::Object(body))
}

/// The requested cost of a body, or 0 when it is not a valid document (for the storm reply).
fn requested_cost_of(body: &[u8]) -> u64 {
    let Ok(request) = parse_request(body) else {
        return 0;
    };
    let Ok(document) = parse_query::<String>(&request.query).map(|d| d.into_static()) else {
        return 0;
    };
    let Ok(operation) = select_operation(
        &document,
        request.operation_name.as_deref(),
        &request.variables,
    ) else {
        return 0;
    };
    let root = operation.kind.root_type();
    if validate(operation.selection, root, &operation.ctx, &mut Vec::new()).is_err() {
        return 0;
    }
    cost(operation.selection, root, &operation.ctx, None)
}

/// `POST /admin/api/{version}/graphql.json`.
async fn graphql_call(
    state: web::Data<MockState>,
    shop: web::Data<Shop>,
    request: HttpRequest,
    version: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let operation_name = operation::GRAPHQL;
    if let Err(reply) = state.admit(operation_name).await {
        if reply.status().is_server_error() {
            return reply;
        }
        // A throttle storm (already counted): the reply with this query's cost.
        return shop.graphql_throttled(requested_cost_of(&body));
    }
    if !shop.authorized(&state, &request) {
        return state.refuse_auth(operation_name, unauthorized());
    }
    let Some(version) = ApiVersion::parse(&version) else {
        return not_found();
    };
    let Ok(graphql_request) = parse_request(&body) else {
        return missing_parameter("query");
    };
    let refused = |error: GqlError| graphql_reply(None, &[error], 0, 0, shop.graphql_status());
    let document = match parse_query::<String>(&graphql_request.query).map(|d| d.into_static()) {
        Ok(document) => document,
        Err(error) => {
            return refused(GqlError {
                message: format!("syntax error: {error}"),
                extensions: None,
                path: None,
            })
        }
    };
    let operation = match select_operation(
        &document,
        graphql_request.operation_name.as_deref(),
        &graphql_request.variables,
    ) {
        Ok(operation) => operation,
        Err(error) => return refused(error),
    };
    let root = operation.kind.root_type();
    if let Err(error) = validate(operation.selection, root, &operation.ctx, &mut Vec::new()) {
        return refused(error);
    }
    let requested = cost(operation.selection, root, &operation.ctx, None);
    if requested > MAX_QUERY_COST {
        return max_cost_exceeded(requested, shop.graphql_status());
    }
    let reserved = shop
        .graphql
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .try_reserve(requested, Instant::now());
    if reserved.is_err() {
        return state.throttle(operation_name, shop.graphql_throttled(requested));
    }
    let env = MutationEnv {
        version,
        cache: &shop.cache,
        next_group: &shop.next_group,
        now: state.now(),
    };
    let outcome = execute(&mut state.world(), &operation, &env);
    let actual = cost(
        operation.selection,
        root,
        &operation.ctx,
        Some(outcome.data.as_ref().unwrap_or(&Value::Null)),
    )
    .min(requested);
    let status = {
        let mut bucket = shop.graphql.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        bucket.refund(requested - actual, now);
        bucket.status_at(now)
    };
    graphql_reply(outcome.data, &outcome.errors, requested, actual, status)
}

fn max_cost_exceeded(requested: u64, status: ThrottleStatus) -> HttpResponse {
    let error = GqlError {
        message: format!(
            "Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
        ),
        extensions: Some(json!({
            "code": "MAX_COST_EXCEEDED",
            "cost": requested,
            "maxCost": MAX_QUERY_COST,
        })),
        path: None,
    };
    HttpResponse::Ok().json(json!({
        "errors": [error.to_json()],
        "extensions": { "cost": cost_json(requested, None, status) },
    }))
}

#[cfg(test)]
mod tests;
