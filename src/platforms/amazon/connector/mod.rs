//! The Amazon Selling Partner API connector (reference/marketplace-apis.md §3.1–§3.4, §0; the
//! mock's wire decisions in `platforms::amazon::mock`).
//!
//! What it does:
//! - **Push** (§3.1): `PATCH /listings/2021-08-01/items/{seller_id}/{sku}?marketplaceIds=` with a
//!   `replace` of `/attributes/fulfillment_availability` (`DEFAULT`, the merchant-fulfilled
//!   channel). `ACCEPTED` only means *queued*, so it is not a confirmation: the connector reads
//!   the listing back (`GET …?includedData=fulfillmentAvailability`) a bounded number of times
//!   with a doubling wait ([`AmazonTuning::confirm_reads`], [`AmazonTuning::confirm_first_wait`],
//!   [`AmazonTuning::confirm_max_wait`]) and returns `Confirmed` once the read shows the quantity.
//!   If it never shows within the bound the item is `Failed` with a `Transient` error (or the
//!   read's own throttle), so that the engine retries: re-sending an absolute quantity is
//!   harmless, and a later read finds the applied value. `INVALID` is `Failed` `Permanent
//!   Invalid` with the issues' codes and messages. A push with the quantity the listing already
//!   shows is confirmed at the first read even if an older patch is still queued behind it; the
//!   engine's next reconciliation corrects that rare case.
//! - **productType** is required by the patch body. It comes from `account.product_type` when
//!   set, otherwise from the listing's own summary (`includedData=summaries`), read once per
//!   listing and cached: Amazon refuses a patch under another product type.
//! - **Read** (`read_quantities`): the `DEFAULT` entry of `fulfillmentAvailability`; a listing
//!   without one offers nothing merchant-fulfilled and reads as 0.
//! - **listing_ref** is the seller SKU (the catalog's `ListingMap` entry when present, else the
//!   engine's SKU), percent-encoded as a path segment.
//! - **Orders** (§3.2): Orders v0 `getOrders` by `LastUpdatedAfter`, paged by `NextToken`, then
//!   `getOrderItems` per order for the SKU lines (getOrders carries no SKUs). Every order line
//!   yields a `Sale` (version `placed`) and, when the order is `Canceled`, a `Cancel` (version
//!   `cancelled`), per the contract in `platforms::connector`. Amazon has no line numbers: a
//!   line is its 1-based position in `OrderItems`. Every other status (`Pending` included, since
//!   Amazon reserves stock for it) is a sale. The lines of an order are cached by order id
//!   (bounded, cleared when full): they do not change, a cancellation then costs no second
//!   `getOrderItems`, and a page retried after a throttle makes progress instead of spending the
//!   same tokens again.
//! - **One notified order** (`fetch_order`, issue 14): `getOrder` for its status and
//!   `getOrderItems` for its lines (from the same cache as the feed's), each paced below its own
//!   budget, give exactly the events the feed gives for that order. `getOrder` has its own bucket
//!   at Amazon with the documented row it shares with `getOrderItems` (0.5/s, burst 30, §3.3).
//!
//! **The cursor** is durable text in one of two forms:
//! - `<LastUpdatedAfter>`, an RFC 3339 UTC time with milliseconds: the next poll's window start.
//!   It is the previous reply's `LastUpdatedBefore` (the mock's window is start-inclusive,
//!   end-exclusive, so every change is seen once; overlap would be harmless anyway).
//! - `<LastUpdatedAfter>|<NextToken>` while a window has more pages (`more` is true). The token
//!   is everything after the first `|` (an RFC 3339 time has none). If Amazon refuses a stored
//!   token (expired), the window is read again from its start: the events repeat with the same
//!   idempotency keys.
//!
//! A poll with no cursor starts when the connector was built: the catalog's stock already counts
//! what was sold before. Amazon's `LastUpdatedBefore` defaults to about two minutes before now
//! (the mock: `orders_lag_ms` of `/_mock/info`), and a window that would end before it starts is
//! a 400; so while the cursor is younger than [`AmazonTuning::orders_lag`] (plus a small margin)
//! the poll answers an empty page at the same cursor without calling Amazon, which also saves
//! the getOrders budget.
//!
//! **Cost** on the default plan (§3.3): getOrders is 0.0167/s (one a minute) with a burst of 20,
//! so a steady poll should not come more often than once a minute; each page is one call (up to
//! [`AmazonTuning::orders_per_page`] orders). getOrderItems is 0.5/s, burst 30: one call per new
//! order. A push costs one patch (5/s, burst 5), one getListingsItem per confirmation read (5/s,
//! burst 10) and one more the first time a listing's product type is needed.
//!
//! **Errors.** A 429 `QuotaExceeded` carries no wait header, so `Throttled.retry_after` is one
//! token of the operation's documented default rate (1/rate: 200 ms for the listings
//! operations, 2 s for getOrderItems, 60 s for getOrders). 5xx and transport failures are
//! `Transient` (`Timeout` when no answer came), 401/403 `Permanent Auth`, 404 `NotFound`, other
//! 4xx `Invalid`; messages are the `errors` envelope's codes and messages, never the credential.
//! In a push, a throttle or outage before the patch was accepted fails the whole call (the
//! engine retries the batch); a permanent failure is that item's `Failed`.
//!
//! Auth (§3.4): the credential is the Login with Amazon access token, sent as
//! `x-amz-access-token` and nowhere else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{json, Value};
use shelfsync_actors::channel::marketplace::{
    ListedQuantity, MarketFuture, Marketplace, MarketplaceError, OrderEvent, OrderPage,
    PermanentKind, PushItem, PushOutcome,
};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::ratelimit::{Bucket, Rate};

use crate::platforms::connector::{
    parse_sku, read_each, send_error, status_error, ConnectorConfig, ConnectorError,
};
use crate::platforms::pacer::Pacer;
use crate::platforms::Platform;

mod listings;
pub mod notify;
pub use self::notify::receive;
mod orders;

use self::listings::{listed_quantity, patch_verdict, summary_product_type, PatchVerdict};
use self::orders::{
    lines_of, next_cursor, order_events, AmazonOrder, Cursor, ItemsReply, Line, OrderReply,
    OrdersPayload, OrdersReply,
};

/// The auth header (reference §3.4).
const TOKEN_HEADER: &str = "x-amz-access-token";
/// The merchant-fulfilled channel code (reference §3.1).
const DEFAULT_CHANNEL: &str = "DEFAULT";
/// How many orders' lines the cache keeps before it starts over.
const LINE_CACHE_LIMIT: usize = 10_000;
/// How many `getOrderItems` pages one order may have (a guard against a looping token).
const MAX_ITEM_PAGES: usize = 20;
/// Added to the orders lag before a window is asked for, so that a clock tick between the
/// connector and Amazon never makes the window end before it starts.
const LAG_MARGIN: Duration = Duration::from_millis(50);

/// How the connector paces confirmation reads and the order feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmazonTuning {
    /// How many reads may look for a pushed quantity before the item is `Failed` (retried).
    pub confirm_reads: u32,
    /// The wait before the first confirmation read; it doubles up to `confirm_max_wait`.
    pub confirm_first_wait: Duration,
    /// The longest wait between two confirmation reads.
    pub confirm_max_wait: Duration,
    /// `MaxResultsPerPage` of getOrders (1–100).
    pub orders_per_page: u32,
    /// How far behind now Amazon's order feed ends; a younger cursor is not asked about yet.
    pub orders_lag: Duration,
}

impl Default for AmazonTuning {
    /// Six reads from 250 ms (the mock's apply delay) up to 2 s: about 7.75 s at most; 100 orders
    /// a page (the maximum, fewest getOrders calls); Amazon's documented two-minute lag.
    fn default() -> AmazonTuning {
        AmazonTuning {
            confirm_reads: 6,
            confirm_first_wait: Duration::from_millis(250),
            confirm_max_wait: Duration::from_secs(2),
            orders_per_page: 100,
            orders_lag: Duration::from_secs(120),
        }
    }
}

impl AmazonTuning {
    /// The defaults, with the optional account fields `apply_delay_ms` (the first confirmation
    /// wait) and `orders_lag_ms` (as `/_mock/info` shows them) when present.
    pub fn from_account(account: &Value) -> AmazonTuning {
        let millis = |field: &str| {
            account
                .get(field)
                .and_then(Value::as_u64)
                .map(Duration::from_millis)
        };
        let defaults = AmazonTuning::default();
        AmazonTuning {
            confirm_first_wait: millis("apply_delay_ms").unwrap_or(defaults.confirm_first_wait),
            orders_lag: millis("orders_lag_ms").unwrap_or(defaults.orders_lag),
            ..defaults
        }
    }
}

/// The Amazon connector for `config`, tuned by [`AmazonTuning::from_account`]. Needs
/// `account.seller_id` and `account.marketplace_id`.
pub fn build(config: ConnectorConfig) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    let tuning = AmazonTuning::from_account(&config.account);
    build_with(config, tuning)
}

/// The Amazon connector for `config` with explicit `tuning`.
pub fn build_with(
    config: ConnectorConfig,
    tuning: AmazonTuning,
) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    let seller_id = config.account_str(Platform::Amazon, "seller_id")?;
    let marketplace_id = config.account_str(Platform::Amazon, "marketplace_id")?;
    let product_type = config
        .account
        .get("product_type")
        .and_then(Value::as_str)
        .filter(|value| !value.trim().is_empty())
        .map(str::to_string);
    let http = config.http_client()?;
    // Whole milliseconds, the precision of the cursor text.
    let started = millis_floor(Utc::now());
    Ok(Arc::new(AmazonConnector {
        config: Arc::new(config),
        http,
        seller_id,
        marketplace_id,
        product_type,
        tuning: AmazonTuning {
            orders_per_page: tuning.orders_per_page.clamp(1, 100),
            ..tuning
        },
        started,
        product_types: Arc::default(),
        lines: Arc::default(),
        order_items_pacer: Arc::new(Pacer::new(own_pacing(Bucket::AmazonGetOrderItems))),
        order_pacer: Arc::new(Pacer::new(own_pacing(Bucket::AmazonGetOrderItems))),
        listing_reads_pacer: Arc::new(Pacer::new(own_pacing(Bucket::AmazonGetListingsItem))),
    }))
}

/// An Amazon seller account in one marketplace (a cheap handle: settings, HTTP client, caches
/// and pacers are shared by every clone).
#[derive(Debug, Clone)]
struct AmazonConnector {
    config: Arc<ConnectorConfig>,
    http: reqwest::Client,
    seller_id: String,
    marketplace_id: String,
    product_type: Option<String>,
    tuning: AmazonTuning,
    started: DateTime<Utc>,
    /// listing_ref → productType, learnt from the listing's summary.
    product_types: Arc<Mutex<HashMap<String, String>>>,
    /// AmazonOrderId → its lines.
    lines: Arc<Mutex<HashMap<String, Vec<Line>>>>,
    /// `getOrderItems` (0.5/s, burst 30) is called once per new order inside one order poll,
    /// which the engine's limiter counts as one call: paced here, so a busy seller waits instead
    /// of drawing 429s (measured before: 9 throttled replies in `agency-100`, 20 in `flash-sale`).
    order_items_pacer: Arc<Pacer>,
    /// `getOrder` (a notified order's status): its own bucket at Amazon, with the documented row
    /// it shares with `getOrderItems` (0.5/s, burst 30, §3.3), so paced the same way.
    order_pacer: Arc<Pacer>,
    /// `getListingsItem` (5/s, burst 10) confirms each patch, outside the engine's limiter too.
    listing_reads_pacer: Arc<Pacer>,
}

/// The engine's pacing of a budget the connector paces itself (below Amazon's rate and burst).
fn own_pacing(bucket: Bucket) -> Rate {
    bucket
        .default_limit()
        .pacing()
        .short_term
        .unwrap_or_else(|| Rate::per_second(1.0, 1))
}

/// The SP-API operations the connector calls, with their documented default rates (§3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    PatchListingsItem,
    GetListingsItem,
    GetOrders,
    GetOrder,
    GetOrderItems,
}

impl Operation {
    /// Requests per second of the default usage plan.
    fn rate(self) -> f64 {
        match self {
            Operation::PatchListingsItem | Operation::GetListingsItem => 5.0,
            Operation::GetOrders => 0.0167,
            Operation::GetOrder | Operation::GetOrderItems => 0.5,
        }
    }

    /// The wait for one token of the bucket: Amazon's 429 names none.
    fn throttle_wait(self) -> Duration {
        // 1/0.0167 s is 59.9 s: rounded to whole milliseconds.
        Duration::from_millis((1000.0 / self.rate()).round() as u64)
    }
}

/// A non-2xx reply in the engine's terms: 429 is a throttle with the operation's token wait,
/// anything else goes by status with the `errors` envelope as the message.
fn reply_error(operation: Operation, status: u16, body: &str) -> MarketplaceError {
    if status == 429 {
        return MarketplaceError::Throttled {
            retry_after: Some(operation.throttle_wait()),
        };
    }
    let detail = error_summary(body).unwrap_or_else(|| body.to_string());
    let status =
        reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::INTERNAL_SERVER_ERROR);
    status_error(status, &reqwest::header::HeaderMap::new(), &detail)
}

/// `code: message` of each entry of Amazon's `{"errors": [...]}` envelope, joined by `; `.
fn error_summary(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let errors = value.get("errors")?.as_array()?;
    let parts: Vec<String> = errors
        .iter()
        .map(|error| {
            let field = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or("");
            format!("{}: {}", field("code"), field("message"))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn invalid(message: String) -> MarketplaceError {
    MarketplaceError::Permanent {
        kind: PermanentKind::Invalid,
        message,
    }
}

fn millis_floor(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or(time)
}

impl AmazonConnector {
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = self.config.base_url.clone();
        // Path segments are percent-encoded, so a SKU with `/` or spaces stays one segment.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn listing_url(&self, listing_ref: &str) -> reqwest::Url {
        self.url(&[
            "listings",
            "2021-08-01",
            "items",
            &self.seller_id,
            listing_ref,
        ])
    }

    /// Sends with the token and returns the body of a 2xx, or the engine's error.
    async fn call(
        &self,
        operation: Operation,
        request: reqwest::RequestBuilder,
    ) -> Result<String, MarketplaceError> {
        match operation {
            Operation::GetOrderItems => self.order_items_pacer.acquire().await,
            Operation::GetOrder => self.order_pacer.acquire().await,
            Operation::GetListingsItem => self.listing_reads_pacer.acquire().await,
            // The engine's limiter paces these call by call.
            Operation::PatchListingsItem | Operation::GetOrders => {}
        }
        let reply = request
            .header(TOKEN_HEADER, self.config.credential.expose())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|error| send_error(&error))?;
        let status = reply.status();
        let body = reply.text().await.map_err(|error| send_error(&error))?;
        if !status.is_success() {
            return Err(reply_error(operation, status.as_u16(), &body));
        }
        Ok(body)
    }

    /// The seller SKU of an engine SKU: the catalog's listing reference, else the SKU itself.
    fn listing_ref(&self, sku: &Sku) -> String {
        self.config
            .listings
            .get(sku)
            .unwrap_or_else(|| sku.as_str().to_string())
    }

    /// The engine SKU of a seller SKU of an order line.
    fn sku_of(&self, seller_sku: &str) -> Option<Sku> {
        self.config
            .listings
            .sku_of(seller_sku)
            .or_else(|| parse_sku(Platform::Amazon, seller_sku))
    }

    async fn get_listing(
        &self,
        listing_ref: &str,
        included: &str,
    ) -> Result<String, MarketplaceError> {
        let request = self
            .http
            .request(Method::GET, self.listing_url(listing_ref))
            .query(&[
                ("marketplaceIds", self.marketplace_id.as_str()),
                ("includedData", included),
            ]);
        self.call(Operation::GetListingsItem, request).await
    }

    async fn read_one(&self, listing_ref: &str) -> Result<u32, MarketplaceError> {
        let body = self
            .get_listing(listing_ref, "fulfillmentAvailability")
            .await?;
        listed_quantity(&body)
    }

    /// What the listing of `sku` shows.
    async fn listing_quantity(&self, sku: Sku) -> Result<ListedQuantity, MarketplaceError> {
        let quantity = self.read_one(&self.listing_ref(&sku)).await?;
        Ok(ListedQuantity { sku, quantity })
    }

    async fn product_type(&self, listing_ref: &str) -> Result<String, MarketplaceError> {
        if let Some(product_type) = &self.product_type {
            return Ok(product_type.clone());
        }
        let cached = self
            .product_types
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(listing_ref)
            .cloned();
        if let Some(product_type) = cached {
            return Ok(product_type);
        }
        let body = self.get_listing(listing_ref, "summaries").await?;
        let product_type = summary_product_type(&body, &self.marketplace_id)?;
        self.product_types
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(listing_ref.to_string(), product_type.clone());
        Ok(product_type)
    }

    async fn patch(
        &self,
        listing_ref: &str,
        quantity: u32,
    ) -> Result<PatchVerdict, MarketplaceError> {
        let product_type = self.product_type(listing_ref).await?;
        let body = json!({
            "productType": product_type,
            "patches": [{
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{ "fulfillment_channel_code": DEFAULT_CHANNEL, "quantity": quantity }],
            }],
        });
        let request = self
            .http
            .request(Method::PATCH, self.listing_url(listing_ref))
            .query(&[("marketplaceIds", self.marketplace_id.as_str())])
            .json(&body);
        let reply = self.call(Operation::PatchListingsItem, request).await?;
        patch_verdict(&reply)
    }

    /// Reads the accepted patches back until each shows its quantity, within the bound.
    async fn confirm(
        &self,
        items: &[PushItem],
        mut waiting: Vec<(usize, String, u32)>,
        outcomes: &mut [Option<PushOutcome>],
    ) {
        let mut wait = self.tuning.confirm_first_wait;
        let mut last_error: Option<MarketplaceError> = None;
        for _ in 0..self.tuning.confirm_reads {
            if waiting.is_empty() {
                return;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.tuning.confirm_max_wait);
            let mut still = Vec::new();
            for (index, listing_ref, quantity) in waiting {
                let sku = items[index].sku.clone();
                match self.read_one(&listing_ref).await {
                    Ok(shown) if shown == quantity => {
                        outcomes[index] = Some(PushOutcome::Confirmed { sku, quantity });
                    }
                    Ok(_) => still.push((index, listing_ref, quantity)),
                    // A throttled or failed read is tried again at the next round.
                    Err(error) if error.is_retryable() => {
                        last_error = Some(error);
                        still.push((index, listing_ref, quantity));
                    }
                    Err(error) => outcomes[index] = Some(PushOutcome::Failed { sku, error }),
                }
            }
            waiting = still;
        }
        for (index, _, quantity) in waiting {
            let error = match &last_error {
                Some(error @ MarketplaceError::Throttled { .. }) => error.clone(),
                _ => MarketplaceError::Transient(format!(
                    "Amazon accepted quantity {quantity} but {} reads did not show it yet",
                    self.tuning.confirm_reads
                )),
            };
            outcomes[index] = Some(PushOutcome::Failed {
                sku: items[index].sku.clone(),
                error,
            });
        }
    }

    async fn get_orders(&self, cursor: &Cursor) -> Result<OrdersPayload, MarketplaceError> {
        let mut query = vec![("MarketplaceIds", self.marketplace_id.clone())];
        match &cursor.next_token {
            Some(token) => query.push(("NextToken", token.clone())),
            None => {
                query.push(("LastUpdatedAfter", crate::timestamp::rfc3339(cursor.after)));
                query.push(("MaxResultsPerPage", self.tuning.orders_per_page.to_string()));
            }
        }
        let request = self
            .http
            .request(Method::GET, self.url(&["orders", "v0", "orders"]))
            .query(&query);
        let body = self.call(Operation::GetOrders, request).await?;
        let reply: OrdersReply = serde_json::from_str(&body)
            .map_err(|error| invalid(format!("unexpected Amazon orders reply: {error}")))?;
        Ok(reply.payload)
    }

    /// One order (`getOrder`): its status.
    async fn get_order(&self, order_id: &str) -> Result<AmazonOrder, MarketplaceError> {
        let request = self
            .http
            .request(Method::GET, self.url(&["orders", "v0", "orders", order_id]));
        let body = self.call(Operation::GetOrder, request).await?;
        let reply: OrderReply = serde_json::from_str(&body)
            .map_err(|error| invalid(format!("unexpected Amazon order reply: {error}")))?;
        Ok(reply.payload)
    }

    /// The lines of an order: from the cache, else every page of `getOrderItems`.
    async fn order_lines(&self, order_id: &str) -> Result<Vec<Line>, MarketplaceError> {
        if let Some(lines) = self
            .lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(order_id)
        {
            return Ok(lines.clone());
        }
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_ITEM_PAGES {
            let mut request = self.http.request(
                Method::GET,
                self.url(&["orders", "v0", "orders", order_id, "orderItems"]),
            );
            if let Some(token) = &token {
                request = request.query(&[("NextToken", token)]);
            }
            let body = self.call(Operation::GetOrderItems, request).await?;
            let reply: ItemsReply = serde_json::from_str(&body).map_err(|error| {
                invalid(format!("unexpected Amazon order items reply: {error}"))
            })?;
            items.extend(reply.payload.order_items);
            token = reply.payload.next_token.filter(|token| !token.is_empty());
            if token.is_none() {
                break;
            }
        }
        let lines = lines_of(&items, |seller_sku| self.sku_of(seller_sku));
        let mut cache = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= LINE_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(order_id.to_string(), lines.clone());
        Ok(lines)
    }

    /// The position a poll reads from: the stored cursor, or the connector's start.
    fn position(&self, cursor: Option<&str>) -> Result<Cursor, MarketplaceError> {
        match cursor {
            Some(text) => Cursor::parse(text),
            None => Ok(Cursor {
                after: self.started,
                next_token: None,
            }),
        }
    }

    /// How long until Amazon can show orders after `cursor`: its window ends `orders_lag`
    /// before now, so a window starting later holds nothing yet. `None` when it may be read now
    /// (or a next page is waiting).
    fn visible_in(&self, cursor: &Cursor) -> Option<Duration> {
        if cursor.next_token.is_some() {
            return None;
        }
        let open_at = cursor.after
            + chrono::Duration::from_std(self.tuning.orders_lag + LAG_MARGIN).unwrap_or_default();
        (open_at - Utc::now())
            .to_std()
            .ok()
            .filter(|wait| !wait.is_zero())
    }
}

impl Marketplace for AmazonConnector {
    fn platform(&self) -> Platform {
        Platform::Amazon
    }

    fn push_quantities(&self, items: Vec<PushItem>) -> MarketFuture<Vec<PushOutcome>> {
        let this = self.clone();
        Box::pin(async move {
            let mut outcomes: Vec<Option<PushOutcome>> = vec![None; items.len()];
            // (index, listing_ref, quantity) of the accepted patches, waiting to show.
            let mut waiting: Vec<(usize, String, u32)> = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let listing_ref = this.listing_ref(&item.sku);
                let failed = |error| {
                    Some(PushOutcome::Failed {
                        sku: item.sku.clone(),
                        error,
                    })
                };
                match this.patch(&listing_ref, item.quantity).await {
                    Ok(PatchVerdict::Accepted) => waiting.push((index, listing_ref, item.quantity)),
                    Ok(PatchVerdict::Refused(message)) => {
                        outcomes[index] = failed(invalid(message));
                    }
                    // A throttle or an outage stops the call: the engine retries the whole batch,
                    // and re-sending an absolute quantity is harmless.
                    Err(error) if error.is_retryable() => return Err(error),
                    Err(error) => outcomes[index] = failed(error),
                }
            }
            this.confirm(&items, waiting, &mut outcomes).await;
            Ok(items
                .into_iter()
                .zip(outcomes)
                .map(|(item, outcome)| {
                    outcome.unwrap_or(PushOutcome::Failed {
                        sku: item.sku,
                        error: MarketplaceError::Transient("the push was not answered".into()),
                    })
                })
                .collect())
        })
    }

    fn read_quantities(&self, skus: Vec<Sku>) -> MarketFuture<Vec<ListedQuantity>> {
        let this = self.clone();
        Box::pin(async move { read_each(skus, |sku| this.listing_quantity(sku)).await })
    }

    fn fetch_orders(&self, cursor: Option<String>) -> MarketFuture<OrderPage> {
        let this = self.clone();
        Box::pin(async move {
            let cursor = this.position(cursor.as_deref())?;
            if this.visible_in(&cursor).is_some() {
                // Amazon's window ends `orders_lag` before now: nothing to ask for yet. The channel
                // normally waits for `order_feed_ready_in` and never gets here; a clock tick may still.
                return Ok(OrderPage {
                    events: Vec::new(),
                    next_cursor: cursor.to_text(),
                    more: false,
                    skipped: true,
                });
            }
            let (cursor, payload) = match this.get_orders(&cursor).await {
                // A stored token Amazon no longer takes: read the window again from its start.
                Err(MarketplaceError::Permanent {
                    kind: PermanentKind::Invalid,
                    ..
                }) if cursor.next_token.is_some() => {
                    let restart = Cursor {
                        after: cursor.after,
                        next_token: None,
                    };
                    let payload = this.get_orders(&restart).await?;
                    (restart, payload)
                }
                other => (cursor, other?),
            };
            let mut events = Vec::new();
            for order in &payload.orders {
                let lines = this.order_lines(&order.amazon_order_id).await?;
                events.extend(order_events(order, &lines));
            }
            let (next, more) = next_cursor(&cursor, &payload)?;
            Ok(OrderPage {
                events,
                next_cursor: next.to_text(),
                more,
                skipped: false,
            })
        })
    }

    fn fetch_order(&self, order_id: String) -> MarketFuture<Vec<OrderEvent>> {
        let this = self.clone();
        Box::pin(async move {
            let order = this.get_order(&order_id).await?;
            let lines = this.order_lines(&order.amazon_order_id).await?;
            Ok(order_events(&order, &lines))
        })
    }

    fn order_feed_ready_in(&self, cursor: Option<&str>) -> Option<Duration> {
        // An unreadable cursor is the fetch's to report.
        self.position(cursor)
            .ok()
            .and_then(|cursor| self.visible_in(&cursor))
    }

    fn lists(&self, sku: &Sku) -> bool {
        self.config.listings.contains(sku)
    }
}

#[cfg(test)]
mod tests;
