//! The TikTok Shop mock (reference/marketplace-apis.md §6, Partner API version 202309):
//! `POST /product/202309/products/{product_id}/inventory/update` (many SKUs of one product a
//! call), `POST /product/202309/inventory/search`, `POST /order/202309/orders/search` and
//! `GET /order/202309/orders?ids=`, every call behind the `x-tts-access-token` header and the
//! signed query of §6.4, every reply in the envelope `{"code","message","request_id","data"}`,
//! and order webhooks (type 1) signed `hex(HMAC-SHA256(app_secret, app_key + body))` (§6.2),
//! delivered by the shared sender (retries, duplicates and reordering are its fault knobs).
//!
//! Decisions where the reference is [T] or [U] (each a knob in [`TikTokKnobs`] where it is a
//! number or a secret):
//!
//! - **Credentials.** The access token is the mock's `--token`; the app key and app secret are
//!   [`APP_KEY`] and [`APP_SECRET`] unless the knobs say otherwise. `/_mock/info` shows the app
//!   key, shop id and shop cipher, never the secret. A webhook subscription's `secret` is the app
//!   secret (§6.2 signs with it), so the mock signs each delivery with its subscription's secret.
//! - **Signing [T].** Exactly §6.4: the query parameters except `sign` and `access_token`, sorted
//!   by key and written `{key}{value}` (values percent-decoded), after the path and before the raw
//!   body, the whole wrapped in the app secret, hex HMAC-SHA256 keyed with the app secret, compared
//!   in lower case and in constant time. `timestamp` (unix seconds) must be within
//!   [`TikTokKnobs::timestamp_tolerance`] of now, either way ([U]: the reference states no window;
//!   five minutes, as for every other signed time here). A query key given twice is refused.
//! - **Codes [U].** The reference gives only `code` 0 for success and "non-zero is a failure,
//!   even under HTTP 200". The mock's table ([`code`]): a bad or missing access token 105002 and a
//!   bad signature, app key or timestamp 106001, both HTTP 401; a bad parameter 36009003 and an
//!   unknown product, SKU, warehouse or order 36009004, both **under HTTP 200**; throttled
//!   36009009 under HTTP 429; an injected outage 36009500 under the injected 500 or 503.
//! - **Limits [U] (§6.3).** One token bucket per app and shop for every call: 10 calls a second,
//!   burst 10 on the `default` plan (the engine's documented default,
//!   `shelfsync_actors::platform::profile::TIKTOK`); `unlimited` never binds; both numbers are
//!   knobs. A 429 carries `Retry-After` only when [`TikTokKnobs::retry_after_secs`] is set
//!   (third-party clients back off 60 s when it is missing, §6.3, so its absence is the default).
//! - **Products [U].** A product groups the listings whose seller SKU is the same up to its last
//!   `-` (`ACME-MUG-RED` and `ACME-MUG-BLUE` are two SKUs of product `ACME-MUG`); its id is a
//!   digest of that stem, so it is the same across listings and runs. A listing's `listing_ref`
//!   is `{product_id}:{sku_id}`. One warehouse, [`WAREHOUSE_ID`].
//! - **Bodies [U].** An update names each SKU once with one `inventory` entry of the warehouse
//!   (quantity 0 to [`MAX_QUANTITY`]) and is all or nothing: one bad SKU refuses the call. The
//!   search takes `sku_ids` or `product_ids` (at most [`MAX_SEARCH_IDS`]) and answers
//!   `data.inventory[]` of products with their `skus[]`, each with `total_available_quantity`
//!   and its `warehouse_inventory`. An order has one line item (the reference shows no order
//!   body): `id`, `product_id`, `sku_id`, `seller_sku`, `quantity`; its `status` is
//!   `AWAITING_SHIPMENT` or `CANCELLED`, its `create_time` and `update_time` unix seconds.
//! - **Order search.** The body filters `update_time_ge/lt` and `create_time_ge/lt` (unix
//!   seconds) and `order_status`; the query takes `page_size` 1–100 (required), `page_token`,
//!   `sort_field` (`update_time`, the default, or `create_time`) and `sort_order` (`ASC`, the
//!   default, or `DESC`). The page token is a keyset (the last order's change time and number),
//!   so paging neither skips nor repeats while orders change. The detail takes at most
//!   [`MAX_DETAIL_IDS`] ids; an unknown id refuses the call (36009004 under 200).
//! - **Webhooks.** On an order placed or cancelled, to every subscription:
//!   `{"type":1,"shop_id":…,"timestamp":<unix s>,"data":{"order_id","order_status","update_time"}}`
//!   with `Authorization` as above; the receiver reads the order named (a thin notice).

mod orders;
mod products;
mod sign;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::platforms::mock::throttle::TokenBucket;
use crate::platforms::mock::world::{Order, OrderChange, OrderStatus};
use crate::platforms::mock::{
    check_plan, constant_time_eq, header, Delivery, ListingIdentity, MockError, MockOptions,
    MockState, PlatformMock, UNLIMITED_PLAN,
};
use crate::platforms::Platform;

pub use self::sign::{request_sign, webhook_signature};

/// The mock app's key (`app_key`).
pub const APP_KEY: &str = "6abcmockttsappkey";
/// The mock app's secret: it signs every call and every webhook.
pub const APP_SECRET: &str = "mock-tts-app-secret-0123456789abcdef";
/// The shop's id (in webhooks).
pub const SHOP_ID: &str = "7494049642642441621";
/// The shop's cipher (`shop_cipher`, the shop-scoped calls' query parameter).
pub const SHOP_CIPHER: &str = "ROW_mockCipher_7494049642642441621";
/// The one warehouse.
pub const WAREHOUSE_ID: &str = "7068517275539719942";
/// The API version of every path.
pub const API_VERSION: &str = "202309";
/// The most units one SKU may hold in a warehouse ([U]).
pub const MAX_QUANTITY: i64 = 99_999;
/// The most ids one inventory search takes ([U]).
pub const MAX_SEARCH_IDS: usize = 100;
/// The most ids one order detail takes (§6.2).
pub const MAX_DETAIL_IDS: usize = 50;
/// The largest order search page (§6.2).
pub const MAX_PAGE_SIZE: usize = 100;

/// The mock's table of envelope codes ([U], see the module's decisions).
pub mod code {
    /// Success.
    pub const OK: i64 = 0;
    /// The access token is missing or wrong (HTTP 401).
    pub const INVALID_TOKEN: i64 = 105_002;
    /// The signature, app key or timestamp is wrong (HTTP 401).
    pub const INVALID_SIGN: i64 = 106_001;
    /// A parameter or body is invalid (HTTP 200).
    pub const INVALID_PARAMS: i64 = 36_009_003;
    /// A product, SKU, warehouse or order does not exist (HTTP 200).
    pub const NOT_FOUND: i64 = 36_009_004;
    /// Throttled (HTTP 429).
    pub const TOO_MANY_REQUESTS: i64 = 36_009_009;
    /// An internal error (HTTP 5xx).
    pub const INTERNAL: i64 = 36_009_500;
}

/// Operation names (the keys of `/_mock/stats`).
pub mod operation {
    /// `POST /product/202309/products/{product_id}/inventory/update`.
    pub const UPDATE_INVENTORY: &str = "update_inventory";
    /// `POST /product/202309/inventory/search`.
    pub const SEARCH_INVENTORY: &str = "search_inventory";
    /// `POST /order/202309/orders/search`.
    pub const SEARCH_ORDERS: &str = "search_orders";
    /// `GET /order/202309/orders`.
    pub const ORDER_DETAIL: &str = "order_detail";
}

/// The mock's [U] numbers and secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct TikTokKnobs {
    /// The app key calls must name.
    pub app_key: String,
    /// The app secret calls are signed with.
    pub app_secret: String,
    /// Calls a second the shop's bucket refills (`None`: never throttled).
    pub per_second: Option<f64>,
    /// The bucket's depth.
    pub burst: u32,
    /// The `Retry-After` seconds of a 429, if one is sent.
    pub retry_after_secs: Option<u64>,
    /// How far a call's `timestamp` may be from now.
    pub timestamp_tolerance: Duration,
}

impl TikTokKnobs {
    /// The knobs of `plan` (`default` or `unlimited`).
    pub fn for_plan(plan: &str) -> TikTokKnobs {
        TikTokKnobs {
            app_key: APP_KEY.to_string(),
            app_secret: APP_SECRET.to_string(),
            per_second: (plan != UNLIMITED_PLAN).then_some(10.0),
            burst: 10,
            retry_after_secs: None,
            timestamp_tolerance: Duration::from_secs(300),
        }
    }
}

/// The TikTok Shop mock for `options`.
pub fn build(options: &MockOptions) -> Result<Arc<dyn PlatformMock>, MockError> {
    build_with(options, TikTokKnobs::for_plan(&options.plan))
}

/// The TikTok Shop mock with `knobs` (tests).
pub fn build_with(
    options: &MockOptions,
    knobs: TikTokKnobs,
) -> Result<Arc<dyn PlatformMock>, MockError> {
    check_plan(
        Platform::TikTok,
        &options.plan,
        &["default", UNLIMITED_PLAN],
    )?;
    let bucket = knobs
        .per_second
        .map(|rate| TokenBucket::new(rate, knobs.burst, Instant::now()));
    Ok(Arc::new(TikTokMock {
        wire: Arc::new(TikTokWire {
            token: options.token.clone(),
            knobs,
            bucket: Mutex::new(bucket),
        }),
    }))
}

/// The TikTok Shop wire format.
#[derive(Debug)]
pub struct TikTokMock {
    wire: Arc<TikTokWire>,
}

/// What the handlers share: the credentials and the shop's bucket.
#[derive(Debug)]
struct TikTokWire {
    token: String,
    knobs: TikTokKnobs,
    bucket: Mutex<Option<TokenBucket>>,
}

impl TikTokWire {
    /// Every handler's prologue: admits the call ([`MockState::admit`]), checks the token and
    /// the signature of §6.4 over `body`, then takes a token of the shop's bucket. `Err` is the
    /// reply to send.
    async fn guard(
        &self,
        state: &MockState,
        request: &HttpRequest,
        operation: &str,
        body: &[u8],
    ) -> Result<(), HttpResponse> {
        state.admit(operation).await?;
        let token_ok = !state.credential_revoked()
            && header(request, "x-tts-access-token")
                .is_some_and(|token| constant_time_eq(token.as_bytes(), self.token.as_bytes()));
        if !token_ok {
            return Err(state.refuse_auth(
                operation,
                envelope_error(
                    StatusCode::UNAUTHORIZED,
                    code::INVALID_TOKEN,
                    "Invalid access token",
                ),
            ));
        }
        if let Err(message) = sign::check(&self.knobs, request, body) {
            return Err(state.refuse_auth(
                operation,
                envelope_error(StatusCode::UNAUTHORIZED, code::INVALID_SIGN, &message),
            ));
        }
        let query = sign::query_pairs(request.query_string()).unwrap_or_default();
        let cipher = query.iter().find(|(key, _)| key == "shop_cipher");
        if cipher.is_none_or(|(_, value)| value != SHOP_CIPHER) {
            return Err(invalid(
                "shop_cipher is missing or names no shop of this app",
            ));
        }
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = bucket.as_mut() {
            if bucket.try_take(Instant::now()).is_err() {
                return Err(state.throttle(operation, self.throttled()));
            }
        }
        Ok(())
    }

    /// [`TikTokWire::guard`], then the JSON body read as `T` (an empty body is `T::default()`:
    /// every filter left out). `Err` is the reply to send.
    async fn admit_json<T: DeserializeOwned + Default>(
        &self,
        state: &MockState,
        request: &HttpRequest,
        operation: &str,
        body: &[u8],
    ) -> Result<T, HttpResponse> {
        self.guard(state, request, operation, body).await?;
        if body.is_empty() {
            return Ok(T::default());
        }
        serde_json::from_slice(body).map_err(|error| invalid(&format!("invalid body: {error}")))
    }

    /// 429 in the envelope, with `Retry-After` when the knob sets one.
    fn throttled(&self) -> HttpResponse {
        let mut reply = envelope_error(
            StatusCode::TOO_MANY_REQUESTS,
            code::TOO_MANY_REQUESTS,
            "Too many requests",
        );
        if let Some(seconds) = self.knobs.retry_after_secs {
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&seconds.to_string())
            {
                reply
                    .headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
        }
        reply
    }
}

/// A request id, unique enough for a log line.
fn request_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("2026{nanos:022X}")
}

/// The envelope of a success carrying `data`.
fn ok(data: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "code": code::OK,
        "message": "Success",
        "request_id": request_id(),
        "data": data,
    }))
}

/// The envelope of a failure: a non-zero `code` under `status` (often 200, §6.1).
fn envelope_error(status: StatusCode, code: i64, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "code": code,
        "message": message,
        "request_id": request_id(),
        "data": {},
    }))
}

/// A bad parameter: code 36009003 under HTTP 200.
fn invalid(message: &str) -> HttpResponse {
    envelope_error(StatusCode::OK, code::INVALID_PARAMS, message)
}

/// An unknown product, SKU, warehouse or order: code 36009004 under HTTP 200.
fn not_found(message: &str) -> HttpResponse {
    envelope_error(StatusCode::OK, code::NOT_FOUND, message)
}

/// The product a seller SKU belongs to: everything before its last `-` (the whole SKU without
/// one).
fn product_stem(sku: &str) -> &str {
    sku.rsplit_once('-').map_or(sku, |(stem, _)| stem)
}

/// The product id of a stem: 19 digits from an FNV-1a digest, stable across runs.
fn product_id(stem: &str) -> String {
    let digest = stem.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("1729{:015}", digest % 1_000_000_000_000_000)
}

/// The status an order shows.
fn order_status(order: &Order) -> &'static str {
    match order.status {
        OrderStatus::Placed => "AWAITING_SHIPMENT",
        OrderStatus::Cancelled => "CANCELLED",
    }
}

impl PlatformMock for TikTokMock {
    fn platform(&self) -> Platform {
        Platform::TikTok
    }

    fn api_version(&self) -> &'static str {
        API_VERSION
    }

    fn account(&self) -> Value {
        json!({
            "app_key": self.wire.knobs.app_key,
            "shop_id": SHOP_ID,
            "shop_cipher": SHOP_CIPHER,
            "warehouse_id": WAREHOUSE_ID,
        })
    }

    fn limits(&self) -> Value {
        json!({
            "per_second": self.wire.knobs.per_second,
            "burst": self.wire.knobs.burst,
            "retry_after_secs": self.wire.knobs.retry_after_secs,
            "scope": "app and shop, every call",
        })
    }

    fn listing_identity(&self, number: u64, sku: &str) -> ListingIdentity {
        let product = product_id(product_stem(sku));
        let sku_id = format!("1730{:015}", number);
        ListingIdentity {
            listing_ref: format!("{product}:{sku_id}"),
            ids: json!({ "product_id": product, "sku_id": sku_id }),
        }
    }

    fn order_id(&self, number: u64) -> String {
        (576_460_752_303_423_488 + number).to_string()
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::from(Arc::clone(&self.wire)))
            .route(
                "/product/202309/products/{product_id}/inventory/update",
                web::post().to(products::update_inventory),
            )
            .route(
                "/product/202309/inventory/search",
                web::post().to(products::search_inventory),
            )
            .route(
                "/order/202309/orders/search",
                web::post().to(orders::search_orders),
            )
            .route("/order/202309/orders", web::get().to(orders::order_detail));
    }

    fn throttled_reply(&self) -> HttpResponse {
        self.wire.throttled()
    }

    fn server_error_reply(&self, status: StatusCode) -> HttpResponse {
        envelope_error(status, code::INTERNAL, "Internal error, please retry")
    }

    fn sends_webhooks(&self) -> bool {
        true
    }

    fn order_changed(&self, state: &MockState, order: &Order, _change: OrderChange) {
        let body = json!({
            "type": 1,
            "shop_id": SHOP_ID,
            "timestamp": state.now().timestamp(),
            "data": {
                "order_id": order.order_id,
                "order_status": order_status(order),
                "update_time": order.updated_at.timestamp(),
            },
        });
        let Ok(body) = serde_json::to_vec(&body) else {
            return;
        };
        let body = web::Bytes::from(body);
        for subscription in state.webhooks().subscriptions() {
            let signature =
                webhook_signature(&self.wire.knobs.app_key, &subscription.secret, &body);
            state.webhooks().enqueue(Delivery {
                url: subscription.url,
                headers: vec![
                    ("Content-Type".to_string(), "application/json".to_string()),
                    ("Authorization".to_string(), signature),
                ],
                body: body.clone(),
                attempt: 0,
            });
        }
    }
}
