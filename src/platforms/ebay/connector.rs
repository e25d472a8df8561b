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

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};
use shelfsync_actors::channel::marketplace::{
    ListedQuantity, MarketFuture, Marketplace, MarketplaceError, OrderEvent, OrderEventKind,
    OrderPage, PermanentKind, PushItem, PushOutcome,
};
use shelfsync_actors::ids::Sku;

use crate::platforms::connector::{
    parse_sku, read_each, retry_after, send_error, status_error, ConnectorConfig, ConnectorError,
    ListingMap,
};
use crate::platforms::Platform;

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
    let marketplace_id = config.account_str(Platform::Ebay, "marketplace_id")?;
    let http = config.http_client()?;
    Ok(Arc::new(EbayConnector {
        config: Arc::new(config),
        http,
        marketplace_id,
        started: now_millis(),
        page_size: page_size.clamp(1, MAX_ORDERS_PER_PAGE),
    }))
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
        let reply = request.send().await.map_err(|error| send_error(&error))?;
        let status = reply.status();
        let headers = reply.headers().clone();
        let body = reply.text().await.map_err(|error| send_error(&error))?;
        if status.as_u16() == 429 {
            return Err(throttled(&headers));
        }
        if !status.is_success() {
            return Err(status_error(status, &headers, &body_summary(&body)));
        }
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

/// Where a poll starts: orders changed at or after `since`, from the `skip`th on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    since: DateTime<Utc>,
    skip: usize,
}

impl Cursor {
    /// Parses `<RFC 3339>` or `<RFC 3339>#<skip>`.
    fn parse(text: &str) -> Result<Cursor, MarketplaceError> {
        let bad = || {
            invalid(format!(
                "the stored eBay cursor {text:?} is not <RFC 3339 time>[#<offset>]"
            ))
        };
        let (time, skip) = match text.split_once('#') {
            Some((time, skip)) => (time, skip.parse::<usize>().map_err(|_| bad())?),
            None => (text, 0),
        };
        let since = DateTime::parse_from_rfc3339(time.trim())
            .map_err(|_| bad())?
            .with_timezone(&Utc);
        Ok(Cursor { since, skip })
    }

    /// The durable text of the cursor.
    fn text(&self) -> String {
        let since = self.since.to_rfc3339_opts(SecondsFormat::Millis, true);
        if self.skip == 0 {
            since
        } else {
            format!("{since}#{}", self.skip)
        }
    }

    /// The `filter` of `getOrders`: changed at or after `since`.
    fn filter(&self) -> String {
        format!(
            "lastmodifieddate:[{}..]",
            self.since.to_rfc3339_opts(SecondsFormat::Millis, true)
        )
    }
}

/// The part of `getOrders`' reply the connector reads.
#[derive(Debug, Deserialize)]
struct OrdersReply {
    #[serde(default)]
    orders: Vec<EbayOrder>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EbayOrder {
    order_id: String,
    last_modified_date: String,
    #[serde(default)]
    cancel_status: Option<CancelStatus>,
    #[serde(default)]
    line_items: Vec<EbayLineItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelStatus {
    #[serde(default)]
    cancel_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EbayLineItem {
    line_item_id: String,
    #[serde(default)]
    sku: Option<String>,
    quantity: i64,
}

/// The engine SKU of an order line's eBay SKU: the catalog's mapping, else the SKU itself.
fn engine_sku(listings: &ListingMap, ebay_sku: &str) -> Option<Sku> {
    listings
        .sku_of(ebay_sku)
        .or_else(|| parse_sku(Platform::Ebay, ebay_sku))
}

/// The events of a page of orders and the cursor after it (see the module doc). A
/// `lastModifiedDate` that is not a time makes the whole reply invalid, since the cursor could
/// not move past it; a line without a usable SKU or quantity is skipped with a warning.
fn order_page(
    reply: OrdersReply,
    cursor: Cursor,
    listings: &ListingMap,
) -> Result<OrderPage, MarketplaceError> {
    let mut events = Vec::new();
    let mut latest = cursor.since;
    let count = reply.orders.len();
    for order in reply.orders {
        let modified = DateTime::parse_from_rfc3339(&order.last_modified_date)
            .map_err(|_| {
                invalid(format!(
                    "eBay order {} has lastModifiedDate {:?}, not an RFC 3339 time",
                    order.order_id, order.last_modified_date
                ))
            })?
            .with_timezone(&Utc);
        latest = latest.max(modified);
        let cancelled = order
            .cancel_status
            .as_ref()
            .and_then(|status| status.cancel_state.as_deref())
            == Some("CANCELED");
        let mut lines = order.line_items;
        // Numeric ids of one width sort as numbers; the length first keeps that true when
        // widths differ.
        lines.sort_by(|a, b| {
            (a.line_item_id.len(), &a.line_item_id).cmp(&(b.line_item_id.len(), &b.line_item_id))
        });
        for (index, line) in lines.iter().enumerate() {
            let Some(sku) = line
                .sku
                .as_deref()
                .and_then(|raw| engine_sku(listings, raw))
            else {
                tracing::warn!(order = %order.order_id, line = %line.line_item_id, "an eBay order line has no usable SKU; skipped");
                continue;
            };
            let Ok(quantity) = u32::try_from(line.quantity) else {
                tracing::warn!(order = %order.order_id, line = %line.line_item_id, quantity = line.quantity, "an eBay order line has a quantity out of range; skipped");
                continue;
            };
            let event = |kind, version: &str| OrderEvent {
                external_order_id: order.order_id.clone(),
                line: u32::try_from(index + 1).unwrap_or(u32::MAX),
                version: version.to_string(),
                sku: sku.clone(),
                kind,
                quantity,
            };
            events.push(event(OrderEventKind::Sale, "placed"));
            if cancelled {
                events.push(event(OrderEventKind::Cancel, "cancelled"));
            }
        }
    }
    // An empty page ends the run whatever the reply's links say, so a poll cannot loop.
    let more = reply.next.is_some() && count > 0;
    let next = if more && latest == cursor.since {
        // A full page all changed in the cursor's millisecond: move on by offset.
        Cursor {
            since: latest,
            skip: cursor.skip + count,
        }
    } else {
        Cursor {
            since: latest,
            skip: 0,
        }
    };
    Ok(OrderPage {
        events,
        next_cursor: next.text(),
        more,
        skipped: false,
    })
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
            let cursor = match cursor.as_deref() {
                Some(text) => Cursor::parse(text)?,
                None => Cursor {
                    since: this.started,
                    skip: 0,
                },
            };
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

    fn lists(&self, sku: &Sku) -> bool {
        self.config.listings.contains(sku)
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn sku(text: &str) -> Sku {
        Sku::parse(text).unwrap()
    }

    fn item(text: &str, quantity: u32) -> PushItem {
        PushItem {
            sku: sku(text),
            quantity,
            previous: None,
            ledger_seq: 1,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn order(id: &str, modified: &str, cancel: &str, lines: Value) -> Value {
        json!({"orderId": id, "lastModifiedDate": modified, "creationDate": modified,
            "cancelStatus": {"cancelState": cancel, "cancelRequests": []}, "lineItems": lines})
    }

    fn line(id: &str, sku: &str, quantity: i64) -> Value {
        json!({"lineItemId": id, "sku": sku, "quantity": quantity})
    }

    fn reply(orders: Vec<Value>, next: bool) -> OrdersReply {
        let mut body = json!({"total": orders.len(), "orders": orders});
        if next {
            body["next"] = json!("https://api.ebay.com/sell/fulfillment/v1/order?offset=2");
        }
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn the_bulk_body_sets_only_item_level_quantities() {
        let items = [item("ACME-MUG", 3), item("ACME-CAP", 0)];
        let body = bulk_body(&items, &["mug-1".to_string(), "ACME-CAP".to_string()]);
        assert_eq!(
            body,
            json!({"requests": [
                {"sku": "mug-1", "shipToLocationAvailability": {"quantity": 3}},
                {"sku": "ACME-CAP", "shipToLocationAvailability": {"quantity": 0}}
            ]})
        );
    }

    #[test]
    fn item_statuses_become_outcomes_in_the_items_order() {
        let reply: BulkReply = serde_json::from_value(json!({"responses": [
            {"statusCode": 404, "sku": "B", "errors": [{"errorId": 25710, "message": "not found"}]},
            {"statusCode": 200, "sku": "A", "offerId": "1", "errors": [], "warnings": []},
            {"statusCode": 400, "sku": "C", "errors": [{"errorId": 25709, "message": "bad"}]},
            {"statusCode": 500, "sku": "D", "errors": []},
            {"statusCode": 200, "sku": "A", "errors": []}
        ]}))
        .unwrap();
        let items = vec![
            item("A", 1),
            item("B", 2),
            item("C", 3),
            item("D", 4),
            item("A", 5),
            item("E", 6),
        ];
        let skus: Vec<String> = ["A", "B", "C", "D", "A", "E"].map(String::from).to_vec();
        let outcomes = push_outcomes(items, &skus, reply);
        let kinds: Vec<&str> = outcomes
            .iter()
            .map(|outcome| match outcome {
                PushOutcome::Confirmed { .. } => "confirmed",
                PushOutcome::Failed { error, .. } => error.kind(),
                PushOutcome::Stale { .. } => "stale",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "confirmed",
                "not_found",
                "invalid",
                "transient",
                "confirmed",
                "transient"
            ]
        );
        assert_eq!(
            outcomes[4],
            PushOutcome::Confirmed {
                sku: sku("A"),
                quantity: 5
            }
        );
        let PushOutcome::Failed { error, .. } = &outcomes[1] else {
            panic!("B failed");
        };
        assert!(error.to_string().contains("errorId 25710"), "{error}");
    }

    #[test]
    fn a_throttle_waits_for_the_header_or_the_default() {
        assert_eq!(
            throttled(&HeaderMap::new()),
            MarketplaceError::Throttled {
                retry_after: Some(DEFAULT_THROTTLE_WAIT)
            }
        );
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("90"));
        assert_eq!(
            throttled(&headers),
            MarketplaceError::Throttled {
                retry_after: Some(Duration::from_secs(90))
            }
        );
    }

    #[test]
    fn error_messages_carry_ebay_error_ids_not_the_raw_body() {
        let body = r#"{"errors":[{"errorId":1001,"domain":"OAuth","category":"REQUEST",
            "message":"Invalid access token","longMessage":"Check the header."}]}"#;
        assert_eq!(body_summary(body), "errorId 1001: Invalid access token");
        assert_eq!(body_summary("<html>down</html>"), "<html>down</html>");
        assert_eq!(body_summary(&"x".repeat(500)).len(), 300);
    }

    #[test]
    fn the_read_quantity_is_the_item_level_one() {
        let item: InventoryItem = serde_json::from_value(json!({"sku": "A",
            "availability": {"shipToLocationAvailability": {"quantity": 12}}}))
        .unwrap();
        assert_eq!(item.quantity(), 12);
        let none: InventoryItem = serde_json::from_value(json!({"sku": "A"})).unwrap();
        assert_eq!(none.quantity(), 0);
        assert!(serde_json::from_value::<InventoryItem>(
            json!({"availability": {"shipToLocationAvailability": {"quantity": "twelve"}}})
        )
        .is_err());
    }

    #[test]
    fn cursors_round_trip_and_nonsense_is_invalid() {
        let plain = Cursor::parse("2026-05-01T12:00:00.123Z").unwrap();
        assert_eq!(
            plain,
            Cursor {
                since: at("2026-05-01T12:00:00.123Z"),
                skip: 0
            }
        );
        assert_eq!(plain.text(), "2026-05-01T12:00:00.123Z");
        assert_eq!(
            plain.filter(),
            "lastmodifieddate:[2026-05-01T12:00:00.123Z..]"
        );
        let skipping = Cursor::parse("2026-05-01T12:00:00.123Z#4").unwrap();
        assert_eq!(skipping.skip, 4);
        assert_eq!(skipping.text(), "2026-05-01T12:00:00.123Z#4");
        for bad in [
            "",
            "yesterday",
            "2026-05-01T12:00:00Z#x",
            "2026-05-01T12:00:00Z#-1",
        ] {
            assert_eq!(Cursor::parse(bad).unwrap_err().kind(), "invalid", "{bad}");
        }
    }

    #[test]
    fn a_page_yields_a_sale_per_line_and_a_cancel_per_line_of_a_cancelled_order() {
        let listings = ListingMap::default();
        listings.insert(sku("ACME-MUG"), "mug-1".into());
        let page = order_page(
            reply(
                vec![
                    order(
                        "12-1",
                        "2026-05-01T12:00:00.100Z",
                        "NONE_REQUESTED",
                        json!([
                            line("10000000000002", "ACME-CAP", 1),
                            line("10000000000001", "mug-1", 2)
                        ]),
                    ),
                    order(
                        "12-2",
                        "2026-05-01T12:00:00.300Z",
                        "CANCELED",
                        json!([line("10000000000003", "ACME-CAP", 4)]),
                    ),
                ],
                false,
            ),
            Cursor::parse("2026-05-01T12:00:00.000Z").unwrap(),
            &listings,
        )
        .unwrap();
        let events: Vec<(&str, u32, &str, OrderEventKind, u32, &str)> = page
            .events
            .iter()
            .map(|e| {
                (
                    e.external_order_id.as_str(),
                    e.line,
                    e.sku.as_str(),
                    e.kind,
                    e.quantity,
                    e.version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            events,
            [
                ("12-1", 1, "ACME-MUG", OrderEventKind::Sale, 2, "placed"),
                ("12-1", 2, "ACME-CAP", OrderEventKind::Sale, 1, "placed"),
                ("12-2", 1, "ACME-CAP", OrderEventKind::Sale, 4, "placed"),
                (
                    "12-2",
                    1,
                    "ACME-CAP",
                    OrderEventKind::Cancel,
                    4,
                    "cancelled"
                ),
            ]
        );
        assert_eq!(
            (page.next_cursor.as_str(), page.more),
            ("2026-05-01T12:00:00.300Z", false)
        );
    }

    #[test]
    fn bad_lines_are_skipped_and_a_bad_date_is_invalid() {
        let listings = ListingMap::default();
        let since = Cursor::parse("2026-05-01T12:00:00.000Z").unwrap();
        let page = order_page(
            reply(
                vec![order(
                    "12-1",
                    "2026-05-01T12:00:00.100Z",
                    "NONE_REQUESTED",
                    json!([
                        line("1", "", 1),
                        line("2", "ACME-MUG", -1),
                        line("3", "ACME-MUG", 1)
                    ]),
                )],
                false,
            ),
            since,
            &listings,
        )
        .unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].line, 3, "the line keeps its position");
        let bad = order_page(
            reply(
                vec![order("12-1", "soon", "NONE_REQUESTED", json!([]))],
                false,
            ),
            since,
            &listings,
        )
        .unwrap_err();
        assert_eq!(bad.kind(), "invalid");
        assert!(bad.to_string().contains("12-1"), "{bad}");
        let malformed =
            serde_json::from_value::<OrdersReply>(json!({"orders": [{"orderId": "1"}]}));
        assert!(malformed.is_err(), "an order without lastModifiedDate");
    }

    #[test]
    fn the_cursor_moves_by_time_and_by_offset_only_when_stuck_in_one_millisecond() {
        let listings = ListingMap::default();
        let t0 = "2026-05-01T12:00:00.000Z";
        let t1 = "2026-05-01T12:00:00.005Z";
        let one = |modified: &str, id: &str| {
            order(
                id,
                modified,
                "NONE_REQUESTED",
                json!([line("1", "ACME-MUG", 1)]),
            )
        };
        // A full page with later changes: the next page starts at the latest change, offset 0
        // (the orders of that millisecond are read again).
        let page = order_page(
            reply(vec![one(t0, "a"), one(t1, "b")], true),
            Cursor::parse(t0).unwrap(),
            &listings,
        )
        .unwrap();
        assert_eq!((page.next_cursor.as_str(), page.more), (t1, true));
        // A full page all in the cursor's millisecond: move on by offset, adding up.
        let page = order_page(
            reply(vec![one(t1, "b"), one(t1, "c")], true),
            Cursor::parse(t1).unwrap(),
            &listings,
        )
        .unwrap();
        assert_eq!(page.next_cursor, format!("{t1}#2"));
        let page = order_page(
            reply(vec![one(t1, "d"), one(t1, "e")], true),
            Cursor::parse(&format!("{t1}#2")).unwrap(),
            &listings,
        )
        .unwrap();
        assert_eq!(page.next_cursor, format!("{t1}#4"));
        // The last page of a run resets the offset, and an empty page keeps the time.
        let page = order_page(
            reply(vec![one(t1, "f")], false),
            Cursor::parse(&format!("{t1}#4")).unwrap(),
            &listings,
        )
        .unwrap();
        assert_eq!((page.next_cursor.as_str(), page.more), (t1, false));
        let page = order_page(
            reply(vec![], true),
            Cursor::parse(&format!("{t1}#4")).unwrap(),
            &listings,
        )
        .unwrap();
        assert_eq!((page.next_cursor.as_str(), page.more), (t1, false));
        // A change older than the cursor never moves it back.
        let page = order_page(
            reply(vec![one(t0, "a")], false),
            Cursor::parse(t1).unwrap(),
            &listings,
        )
        .unwrap();
        assert_eq!(page.next_cursor, t1);
    }
}
