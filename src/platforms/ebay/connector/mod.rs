//! The eBay Sell APIs connector (reference/marketplace-apis.md §5): the engine's `Marketplace`
//! port spoken in eBay's own wire format, the one the eBay mock (`super::mock`) speaks.
//!
//! - Push (§5.1): one `POST /sell/inventory/v1/bulk_update_price_quantity` per batch of at most
//!   [`MAX_BULK_ITEMS`] (25) items, each `{"sku", "shipToLocationAvailability": {"quantity"}}`.
//!   Only the item-level quantity is sent, never an offer `availableQuantity`: a listing shows
//!   min(item quantity, offer quantity) (§5.1, B2), so setting only the item quantity makes the
//!   listing show exactly what the engine asked (as long as nobody set an offer cap by hand).
//!   The reply is 200 or 207 Multi-Status with one `responses` entry per item; each entry's
//!   `statusCode` becomes that item's outcome: 200 `Confirmed` (with the pushed quantity: eBay
//!   echoes no quantity), 404 `Failed` NotFound, 400 `Failed` Invalid, anything else `Failed`
//!   Transient. An item the reply does not mention is `Failed` Transient (it may or may not have
//!   been applied; pushing it again is harmless, the quantity is absolute).
//! - More than 25 items are refused before anything is sent, as an outer `Permanent Invalid`:
//!   the engine never sends more than `batch_size()`, so such a call is a caller bug, and eBay
//!   would refuse it whole (400) anyway. An empty batch sends nothing.
//! - Read (§5.1): `GET /sell/inventory/v1/inventory_item/{sku}` per SKU, the item-level
//!   `availability.shipToLocationAvailability.quantity` (absent: 0, as eBay omits the container
//!   of an item that never had a quantity). An unknown SKU fails the read (`Permanent NotFound`),
//!   as on Walmart.
//! - Addressing: `listing_ref` is eBay's SKU (eBay addresses inventory by the seller's SKU): the
//!   catalog's [`ListingMap`] value when present, else the engine SKU itself. Order lines map
//!   back through the same map, else their SKU is parsed as an engine SKU.
//! - Auth (§5.4): `Authorization: Bearer <user access token>` (the credential, sent nowhere
//!   else and never put into an error), plus `X-EBAY-C-MARKETPLACE-ID` from the account's
//!   required `marketplace_id` (for example `EBAY_US`, as the mock's `/_mock/info` says).
//! - Errors: a 429 (errorId 2001, §5.3) is `Throttled`. eBay sends no `Retry-After` by default
//!   (§5.3 [U]); when it does, the header's wait is used, else [`DEFAULT_THROTTLE_WAIT`] (60 s):
//!   eBay's quotas are daily, so coming back after the engine's 1 s default would only burn calls
//!   that are throttled again, while a minute still recovers quickly from a short storm. 401/403
//!   are `Permanent Auth` for the whole call (a bulk call has one token), 5xx and 408 `Transient`,
//!   transport failures `Transient`/`Timeout` (see `platforms::connector`). Error messages carry
//!   eBay's `errorId` and `message`, not the raw body.
//!
//! Orders (§5.2): `GET /sell/fulfillment/v1/order?filter=lastmodifieddate:[SINCE..]&limit=N
//! &offset=K`, which eBay (and the mock) returns oldest change first. Each line item gives one
//! `Sale` (version `placed`) and, when `cancelStatus.cancelState` is `CANCELED`, one `Cancel`
//! (version `cancelled`), per the order intake contract of `platforms::connector`. The line
//! number is the 1-based position of the line among the order's line items sorted by
//! `lineItemId`: eBay's line item ids are 14+ digits (too large for the engine's `u32`), and
//! sorting by them keeps the number stable even if a reply listed the lines in another order.
//!
//! A notified order (issue 14, [`notify`]) is read with `getOrder`, `GET /sell/fulfillment/v1/
//! order/{orderId}` (the id one percent-encoded path segment of the connector's own base URL),
//! and turned into events by the feed's own code, so that the notice and the poll give the same
//! natural keys. The notification keys are fetched and cached by [`EbayKeys`].
//!
//! The cursor is durable text, `<SINCE>` or `<SINCE>#<SKIP>`: SINCE is the latest
//! `lastModifiedDate` seen, RFC 3339 UTC with milliseconds (eBay's filter precision), for example
//! `2026-05-01T12:00:00.123Z`; a poll asks `lastmodifieddate:[SINCE..]`, inclusive, so orders
//! changed in that same millisecond are read again rather than skipped (overlap is harmless: the
//! events carry the same idempotency keys). SKIP (the `offset` to ask for) appears only in one
//! case: a full page whose orders all changed in the cursor's own millisecond, where the time
//! alone could not move on; the next page then asks from the same instant past the orders
//! already read. Every other page resets SKIP to 0, and so does the last page of a run (`more`
//! false), so an order that changes again later is never hidden behind a stale offset. (The
//! residual risk, an order of such a same-millisecond run changing while the run is being paged,
//! needs more than a page of orders changed in one millisecond; the default page is eBay's
//! maximum, 200.) A poll with no cursor starts when the connector was built: the catalog's stock
//! already counts what was sold before the channel was connected.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};
use shelfsync_actors::channel::marketplace::{
    ListedQuantity, MarketFuture, Marketplace, MarketplaceError, OrderEvent, OrderPage,
    PermanentKind, PushItem, PushOutcome,
};
use shelfsync_actors::ids::Sku;

use crate::platforms::connector::{
    read_each, retry_after, success_body, ConnectorConfig, ConnectorError,
};
use crate::platforms::Platform;

mod keys;
pub mod notify;
mod orders;

pub use self::keys::{receive, EbayKeys, KeyError, CACHED_KEYS, KEY_READ_INTERVAL};
use self::orders::{order_events, order_page, Cursor, EbayOrder, OrdersReply};

/// The most items one `bulk_update_price_quantity` call takes (reference §5.1).
pub const MAX_BULK_ITEMS: usize = 25;
/// Orders asked for per poll by default: `getOrders`' largest page (§5.2).
pub const MAX_ORDERS_PER_PAGE: usize = 200;
/// The wait of a 429 that names none (eBay sends no `Retry-After` by default, §5.3 [U]).
pub const DEFAULT_THROTTLE_WAIT: Duration = Duration::from_secs(60);

const BULK_PATH: &str = "/sell/inventory/v1/bulk_update_price_quantity";
const ORDERS_PATH: &str = "/sell/fulfillment/v1/order";

/// The eBay connector for `config`, polling orders [`MAX_ORDERS_PER_PAGE`] at a time.
pub fn build(config: ConnectorConfig) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    build_with_page_size(config, MAX_ORDERS_PER_PAGE)
}

/// The eBay connector for `config`, polling orders `page_size` at a time (clamped to eBay's
/// 1..=200). The knob exists so that tests can page through a few orders.
pub fn build_with_page_size(
    config: ConnectorConfig,
    page_size: usize,
) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    Ok(Arc::new(EbayConnector::new(config, page_size)?))
}

/// An eBay seller account on one marketplace (a cheap handle: settings and HTTP client are
/// shared).
#[derive(Debug, Clone)]
struct EbayConnector {
    config: Arc<ConnectorConfig>,
    http: reqwest::Client,
    marketplace_id: String,
    /// When the connector was built, to the millisecond (rounded down, so that an order placed
    /// in that same millisecond is still read).
    started: DateTime<Utc>,
    page_size: usize,
}

/// The current time cut to whole milliseconds, the precision of eBay's date filters.
fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

fn invalid(message: String) -> MarketplaceError {
    MarketplaceError::Permanent {
        kind: PermanentKind::Invalid,
        message,
    }
}

/// A 429's throttle: the `Retry-After` header's wait when eBay sends one, else
/// [`DEFAULT_THROTTLE_WAIT`].
fn throttled(headers: &HeaderMap) -> MarketplaceError {
    MarketplaceError::Throttled {
        retry_after: Some(retry_after(headers).unwrap_or(DEFAULT_THROTTLE_WAIT)),
    }
}

/// eBay's error envelope `{"errors":[{"errorId","message",..}]}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorEntry {
    error_id: Option<u64>,
    message: Option<String>,
}

/// A short text of eBay's errors (`errorId 25710: We didn't find ...`), for error messages; the
/// body cut short when it is not eBay's envelope.
fn error_summary(errors: &[ErrorEntry]) -> String {
    errors
        .iter()
        .map(|error| {
            format!(
                "errorId {}: {}",
                error
                    .error_id
                    .map_or_else(|| "?".to_string(), |id| id.to_string()),
                error.message.as_deref().unwrap_or("(no message)")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn body_summary(body: &str) -> String {
    match serde_json::from_str::<ErrorEnvelope>(body) {
        Ok(envelope) if !envelope.errors.is_empty() => error_summary(&envelope.errors),
        _ => body.chars().take(300).collect(),
    }
}

impl EbayConnector {
    fn new(config: ConnectorConfig, page_size: usize) -> Result<EbayConnector, ConnectorError> {
        let marketplace_id = config.account_str(Platform::Ebay, "marketplace_id")?;
        let http = config.http_client()?;
        Ok(EbayConnector {
            config: Arc::new(config),
            http,
            marketplace_id,
            started: now_millis(),
            page_size: page_size.clamp(1, MAX_ORDERS_PER_PAGE),
        })
    }

    fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(self.config.credential.expose())
            .header("X-EBAY-C-MARKETPLACE-ID", &self.marketplace_id)
            .header("Accept", "application/json")
    }

    /// `base_url` with `segments` appended, each percent-encoded as one path segment (a SKU may
    /// hold `/`, spaces or `#`).
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, MarketplaceError> {
        let mut url = self.config.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| invalid("the eBay base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends and returns the JSON body of a 2xx (200 and 207 alike), or the engine's error.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, MarketplaceError> {
        let (status, body) = success_body(request, throttled, body_summary).await?;
        serde_json::from_str(&body)
            .map_err(|error| invalid(format!("unexpected eBay reply (HTTP {status}): {error}")))
    }

    /// eBay's SKU of an engine SKU: the catalog's listing reference, else the SKU itself.
    fn ebay_sku(&self, sku: &Sku) -> String {
        self.config
            .listings
            .get(sku)
            .unwrap_or_else(|| sku.as_str().to_string())
    }

    /// `GET inventory_item/{sku}`: the item-level quantity of one SKU.
    async fn get_inventory_item(&self, sku: Sku) -> Result<ListedQuantity, MarketplaceError> {
        let ebay_sku = self.ebay_sku(&sku);
        let mut segments = path_segments("/sell/inventory/v1/inventory_item");
        segments.push(&ebay_sku);
        let request = self.request(reqwest::Method::GET, self.url(&segments)?);
        let reply: InventoryItem = self.call(request).await?;
        Ok(ListedQuantity {
            sku,
            quantity: reply.quantity(),
        })
    }
}

fn path_segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|part| !part.is_empty()).collect()
}

/// The `BulkPriceQuantity` body: item-level quantities only (see the module doc).
fn bulk_body(items: &[PushItem], ebay_skus: &[String]) -> Value {
    let requests: Vec<Value> = items
        .iter()
        .zip(ebay_skus)
        .map(|(item, sku)| {
            json!({ "sku": sku, "shipToLocationAvailability": { "quantity": item.quantity } })
        })
        .collect();
    json!({ "requests": requests })
}

/// The reply of `bulk_update_price_quantity`.
#[derive(Debug, Deserialize)]
struct BulkReply {
    responses: Vec<BulkItemResponse>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkItemResponse {
    status_code: u16,
    sku: String,
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

/// One outcome per pushed item, in the items' order. Responses are matched to items by eBay
/// SKU, in order, so that a SKU pushed twice takes one response each; an item without a
/// response is `Failed` Transient.
fn push_outcomes(items: Vec<PushItem>, ebay_skus: &[String], reply: BulkReply) -> Vec<PushOutcome> {
    let mut responses: Vec<Option<BulkItemResponse>> =
        reply.responses.into_iter().map(Some).collect();
    items
        .into_iter()
        .zip(ebay_skus)
        .map(|(item, ebay_sku)| {
            let response = responses
                .iter_mut()
                .find(|slot| slot.as_ref().is_some_and(|r| &r.sku == ebay_sku))
                .and_then(Option::take);
            item_outcome(item, ebay_sku, response)
        })
        .collect()
}

fn item_outcome(item: PushItem, ebay_sku: &str, response: Option<BulkItemResponse>) -> PushOutcome {
    let Some(response) = response else {
        return PushOutcome::Failed {
            sku: item.sku,
            error: MarketplaceError::Transient(format!(
                "eBay's bulk reply has no result for SKU {ebay_sku}"
            )),
        };
    };
    let message = || {
        format!(
            "SKU {ebay_sku}: HTTP {}: {}",
            response.status_code,
            error_summary(&response.errors)
        )
    };
    let error = match response.status_code {
        200 => {
            return PushOutcome::Confirmed {
                sku: item.sku,
                quantity: item.quantity,
            }
        }
        404 => MarketplaceError::Permanent {
            kind: PermanentKind::NotFound,
            message: message(),
        },
        400 => invalid(message()),
        _ => MarketplaceError::Transient(message()),
    };
    PushOutcome::Failed {
        sku: item.sku,
        error,
    }
}

/// The part of `getInventoryItem`'s reply the connector reads.
#[derive(Debug, Deserialize)]
struct InventoryItem {
    #[serde(default)]
    availability: Option<Availability>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Availability {
    #[serde(default)]
    ship_to_location_availability: Option<ShipToLocation>,
}

#[derive(Debug, Deserialize)]
struct ShipToLocation {
    #[serde(default)]
    quantity: i64,
}

impl InventoryItem {
    /// The item-level quantity; absent or negative is 0.
    fn quantity(&self) -> u32 {
        self.availability
            .as_ref()
            .and_then(|availability| availability.ship_to_location_availability.as_ref())
            .map_or(0, |ship| ship.quantity.clamp(0, i64::from(u32::MAX)) as u32)
    }
}

impl Marketplace for EbayConnector {
    fn platform(&self) -> Platform {
        Platform::Ebay
    }

    fn push_quantities(&self, items: Vec<PushItem>) -> MarketFuture<Vec<PushOutcome>> {
        let this = self.clone();
        Box::pin(async move {
            if items.is_empty() {
                return Ok(Vec::new());
            }
            if items.len() > MAX_BULK_ITEMS {
                return Err(invalid(format!(
                    "{} items in one push; eBay's bulk_update_price_quantity takes at most \
                     {MAX_BULK_ITEMS}, so nothing was sent",
                    items.len()
                )));
            }
            let ebay_skus: Vec<String> =
                items.iter().map(|item| this.ebay_sku(&item.sku)).collect();
            let request = this
                .request(reqwest::Method::POST, this.url(&path_segments(BULK_PATH))?)
                .json(&bulk_body(&items, &ebay_skus));
            let reply: BulkReply = this.call(request).await?;
            Ok(push_outcomes(items, &ebay_skus, reply))
        })
    }

    fn read_quantities(&self, skus: Vec<Sku>) -> MarketFuture<Vec<ListedQuantity>> {
        let this = self.clone();
        Box::pin(async move { read_each(skus, |sku| this.get_inventory_item(sku)).await })
    }

    fn fetch_orders(&self, cursor: Option<String>) -> MarketFuture<OrderPage> {
        let this = self.clone();
        Box::pin(async move {
            let cursor = Cursor::resume(cursor.as_deref(), this.started)?;
            let request = this
                .request(reqwest::Method::GET, this.url(&path_segments(ORDERS_PATH))?)
                .query(&[
                    ("filter", cursor.filter()),
                    ("limit", this.page_size.to_string()),
                    ("offset", cursor.skip.to_string()),
                ]);
            let reply: OrdersReply = this.call(request).await?;
            order_page(reply, cursor, &this.config.listings)
        })
    }

    fn fetch_order(&self, order_id: String) -> MarketFuture<Vec<OrderEvent>> {
        let this = self.clone();
        Box::pin(async move {
            // URL paths drop `.` and `..` segments: such an id would read the order list.
            if matches!(order_id.as_str(), "" | "." | "..") {
                return Err(invalid(format!("{order_id:?} is not an eBay order id")));
            }
            let mut segments = path_segments(ORDERS_PATH);
            segments.push(&order_id);
            let request = this.request(reqwest::Method::GET, this.url(&segments)?);
            let order: EbayOrder = this.call(request).await?;
            Ok(order_events(order, &this.config.listings))
        })
    }

    fn lists(&self, sku: &Sku) -> bool {
        self.config.listings.contains(sku)
    }
}

#[cfg(test)]
mod tests;
