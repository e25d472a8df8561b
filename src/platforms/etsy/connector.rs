//! The Etsy Open API v3 connector (reference/marketplace-apis.md §2): stock set per listing with
//! `GET` then `PUT /v3/application/listings/{listing_id}/inventory` (§2.1), read back with the
//! `GET`, orders polled from `GET /v3/application/shops/{shop_id}/receipts` by
//! `min_last_modified` (§2.2).
//!
//! Decisions:
//!
//! - **Settings.** `listing_ref` is the Etsy listing id. The account needs `shop_id`, `user_id`
//!   (the shop owner's numeric id, the `{user_id}` of the bearer), `keystring` (the app's key)
//!   and `shared_secret` (the app's shared secret); a missing one refuses the build
//!   (`MissingAccountField`). The connector's credential is the OAuth access token.
//! - **Auth (§2.4).** Every call sends `x-api-key: {keystring}:{shared_secret}` (the current
//!   docs' colon format) and `Authorization: Bearer {user_id}.{token}`. Both header values are
//!   built once, marked sensitive, and appear in no log, `Debug` output or error message.
//! - **Push (§2.1).** Etsy has no quantity-only call: the inventory is replaced in full. Each item
//!   is one `GET` of the listing's inventory and one `PUT` of every product back in the `PUT`
//!   shape ([`put_body`]): `product_id`, `offering_id` and `is_deleted` stripped, the Money price
//!   turned into a float (`amount / divisor`), the `*_on_property` arrays kept, and only the
//!   offering quantity of the product carrying the pushed SKU changed (its first enabled offering
//!   takes the quantity, its other enabled ones 0, so that the product shows exactly the pushed
//!   quantity; `is_enabled` is never changed: a variation the seller switched off stays off).
//!   Fields are copied by name (a whitelist), so that a `GET`-only field Etsy adds later does
//!   not make every `PUT` fail. **Each push costs two calls** against the app's queries per second
//!   and per day (§2.3); with the engine's batch of one item per call for Etsy, a listing update
//!   is two requests. `PushItem::previous` is not used: Etsy has no compare-and-set
//!   (`Platform::compare_and_set` is false), and a check between our `GET` and `PUT` would still
//!   race with buyers.
//! - **Confirmed quantity.** What the `PUT` reply shows for the SKU's product (the sum of its
//!   enabled, not deleted offerings), the same figure [`listed_quantity`] reads back.
//! - **Refused without a call.** A quantity above 999 (Etsy's per-offering cap, §2.1) is
//!   `Failed Invalid`; a SKU with no listing in the map is `Failed NotFound`; a listing with no
//!   product carrying the SKU is `Failed NotFound` after the `GET`.
//! - **Errors.** 429 is `Throttled` with Etsy's `retry-after` seconds (§2.3); 5xx and transport
//!   failures are `Transient` or `Timeout`; 401 (bad token) and 403 (bad key) are `Permanent
//!   Auth`; 404 `NotFound`; other 4xx `Invalid`. In a push, a retryable error stops the whole call
//!   (the engine retries the batch), a permanent one fails its item (`PushOutcome::Failed`), so a
//!   wrong credential shows per item. A reply that does not parse is `Permanent Invalid`.
//! - **Orders (§2.2).** A receipt yields one `Sale` per transaction (line = its 1-based position
//!   in `transactions`, as Etsy's transaction ids do not fit the engine's `u32` line) and, once its
//!   `status` is `canceled`, one `Cancel` per transaction. Refund statuses yield nothing: a refund
//!   does not say whether the goods came back. A transaction without a SKU takes the SKU mapped
//!   to its `listing_id`, else it is skipped with a warning.
//! - **The cursor** is JSON text `{"since": S, "offset": N}`: receipts whose last change is at or
//!   after unix second `S`, sorted on `updated` ascending, skipping the first `N`. Etsy's
//!   timestamps are whole seconds, so the next cursor starts *at* the latest second seen
//!   (inclusive; those receipts are read again, with the same idempotency keys), with offset 0
//!   whenever that makes progress; only a page whose receipts all share one second advances by
//!   offset (more than a page of receipts changed in one second). A poll with no cursor starts at
//!   the second the connector was built, like Walmart's: what sold before is already in the
//!   catalog's stock. `more` is true while `offset + page < count`.
//!   Residual risk, documented rather than hidden: while paging by offset inside one second, a
//!   receipt of that second that changes again leaves it and shifts the rest by one; Etsy offers
//!   no finer key. A page at offset beyond Etsy's 12 000 is refused as `Permanent Invalid`
//!   rather than skipping receipts.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderValue;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use shelfsync_actors::channel::marketplace::{
    ListedQuantity, MarketFuture, Marketplace, MarketplaceError, OrderEvent, OrderEventKind,
    OrderPage, PermanentKind, PushItem, PushOutcome,
};
use shelfsync_actors::ids::Sku;

use crate::platforms::connector::{
    parse_sku, push_each, read_each, send_error, status_error, ConnectorConfig, ConnectorError,
    ListingMap,
};
use crate::platforms::Platform;

/// Receipts asked for per page (Etsy's maximum `limit`).
pub const RECEIPTS_PER_PAGE: usize = 100;
/// The largest quantity one Etsy offering may hold.
pub const MAX_QUANTITY: u32 = 999;
/// The largest `offset` Etsy's pagination allows.
const MAX_OFFSET: usize = 12_000;

/// The Etsy connector for `config`, asking for [`RECEIPTS_PER_PAGE`] receipts a page.
pub fn build(config: ConnectorConfig) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    build_with_page_size(config, RECEIPTS_PER_PAGE)
}

/// The Etsy connector for `config` with `page_size` receipts a page (clamped to 1–100; smaller
/// pages let tests reach the paging path with a few orders).
pub fn build_with_page_size(
    config: ConnectorConfig,
    page_size: usize,
) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    let shop_id = config.account_str(Platform::Etsy, "shop_id")?;
    let user_id = config.account_str(Platform::Etsy, "user_id")?;
    let keystring = config.account_str(Platform::Etsy, "keystring")?;
    let shared_secret = config.account_str(Platform::Etsy, "shared_secret")?;
    // The values never go into the error: only which header could not be built.
    let sensitive = |value: String, what: &str| {
        HeaderValue::from_str(&value)
            .map(|mut header| {
                header.set_sensitive(true);
                header
            })
            .map_err(|_| {
                ConnectorError::Client(format!(
                    "the Etsy {what} holds characters not allowed in an HTTP header"
                ))
            })
    };
    let api_key = sensitive(
        format!("{keystring}:{shared_secret}"),
        "keystring or shared secret",
    )?;
    let bearer = sensitive(
        format!("Bearer {user_id}.{}", config.credential.expose()),
        "user id or token",
    )?;
    let http = config.http_client()?;
    Ok(Arc::new(EtsyConnector {
        config: Arc::new(config),
        http,
        shop_id,
        api_key,
        bearer,
        started_secs: now_secs(),
        page_size: page_size.clamp(1, RECEIPTS_PER_PAGE),
    }))
}

/// An Etsy shop (a cheap handle: settings and HTTP client are shared).
#[derive(Clone)]
struct EtsyConnector {
    config: Arc<ConnectorConfig>,
    http: reqwest::Client,
    shop_id: String,
    api_key: HeaderValue,
    bearer: HeaderValue,
    started_secs: i64,
    page_size: usize,
}

/// By hand: the account JSON holds the shared secret, so the config is not shown.
impl std::fmt::Debug for EtsyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtsyConnector")
            .field("base_url", &self.config.base_url.as_str())
            .field("shop_id", &self.shop_id)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

fn invalid(message: String) -> MarketplaceError {
    MarketplaceError::Permanent {
        kind: PermanentKind::Invalid,
        message,
    }
}

impl EtsyConnector {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.config.url(path))
            .header("x-api-key", self.api_key.clone())
            .header(reqwest::header::AUTHORIZATION, self.bearer.clone())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Sends and returns the JSON body of a 2xx, or the engine's error (429 with `retry-after`
    /// is `Throttled` through [`status_error`]).
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, MarketplaceError> {
        let reply = request.send().await.map_err(|error| send_error(&error))?;
        let status = reply.status();
        let headers = reply.headers().clone();
        let body = reply.text().await.map_err(|error| send_error(&error))?;
        if !status.is_success() {
            return Err(status_error(status, &headers, &body));
        }
        serde_json::from_str(&body)
            .map_err(|error| invalid(format!("unexpected Etsy reply to {what}: {error}")))
    }

    fn inventory_path(listing_id: &str) -> String {
        format!("/v3/application/listings/{listing_id}/inventory")
    }

    /// The listing id of `sku`; `Err` is the item's failure.
    fn listing_of(&self, sku: &Sku) -> Result<String, MarketplaceError> {
        let listing = self
            .config
            .listings
            .get(sku)
            .ok_or_else(|| MarketplaceError::Permanent {
                kind: PermanentKind::NotFound,
                message: format!("no Etsy listing is mapped to SKU {}", sku.as_str()),
            })?;
        // The id goes into the path: anything but digits would address another resource.
        if listing.is_empty() || !listing.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "the Etsy listing_ref {listing:?} of SKU {} is not a numeric listing id",
                sku.as_str()
            )));
        }
        Ok(listing)
    }

    async fn get_inventory(&self, listing_id: &str) -> Result<Value, MarketplaceError> {
        let request = self.request(reqwest::Method::GET, &Self::inventory_path(listing_id));
        self.call(request, "getListingInventory").await
    }

    /// Sets one listing: its inventory read, then replaced whole with the new quantity.
    async fn replace_inventory(&self, item: PushItem) -> Result<PushOutcome, MarketplaceError> {
        if item.quantity > MAX_QUANTITY {
            return Err(invalid(format!(
                "quantity {} is above Etsy's cap of {MAX_QUANTITY} per offering",
                item.quantity
            )));
        }
        let listing_id = self.listing_of(&item.sku)?;
        let current = self.get_inventory(&listing_id).await?;
        let body = put_body(&current, item.sku.as_str(), item.quantity)?;
        let request = self
            .request(reqwest::Method::PUT, &Self::inventory_path(&listing_id))
            .json(&body);
        let shown: Value = self.call(request, "updateListingInventory").await?;
        Ok(PushOutcome::Confirmed {
            sku: item.sku.clone(),
            quantity: listed_quantity(&shown, item.sku.as_str())?,
        })
    }

    /// What the listing of `sku` shows.
    async fn read_listing(&self, sku: Sku) -> Result<ListedQuantity, MarketplaceError> {
        let listing_id = self.listing_of(&sku)?;
        let inventory = self.get_inventory(&listing_id).await?;
        let quantity = listed_quantity(&inventory, sku.as_str())?;
        Ok(ListedQuantity { sku, quantity })
    }
}

/// The `PUT` body of a listing whose `GET` reply is `inventory`, with the product carrying `sku`
/// listing `quantity`; every other product, property and price is sent back as it was.
fn put_body(inventory: &Value, sku: &str, quantity: u32) -> Result<Value, MarketplaceError> {
    let products = inventory
        .get("products")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Etsy's inventory reply has no products array".into()))?;
    let mut found = false;
    let mut sent = Vec::with_capacity(products.len());
    for (p, product) in products.iter().enumerate() {
        if product.get("is_deleted") == Some(&Value::Bool(true)) {
            continue; // Deleted products are not part of the listing any more.
        }
        let mut product = put_product(product, p)?;
        if product.get("sku").and_then(Value::as_str) == Some(sku) {
            found = true;
            set_quantity(&mut product, quantity);
        }
        sent.push(Value::Object(product));
    }
    if !found {
        return Err(MarketplaceError::Permanent {
            kind: PermanentKind::NotFound,
            message: format!("the Etsy listing has no product with SKU {sku}"),
        });
    }
    let mut body = Map::new();
    body.insert("products".into(), Value::Array(sent));
    for array in [
        "price_on_property",
        "quantity_on_property",
        "sku_on_property",
        "readiness_state_on_property",
    ] {
        match inventory.get(array) {
            Some(value @ Value::Array(_)) => {
                body.insert(array.into(), value.clone());
            }
            None | Some(Value::Null) => {}
            Some(_) => return Err(invalid(format!("Etsy's inventory {array} is not an array"))),
        }
    }
    Ok(Value::Object(body))
}

/// One product in the `PUT` shape: `sku`, `property_values` and `offerings` copied by name.
fn put_product(product: &Value, p: usize) -> Result<Map<String, Value>, MarketplaceError> {
    let at = format!("Etsy's inventory products[{p}]");
    let offerings = product
        .get("offerings")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{at} has no offerings array")))?;
    let mut sent_offerings = Vec::with_capacity(offerings.len());
    for (o, offering) in offerings.iter().enumerate() {
        if offering.get("is_deleted") == Some(&Value::Bool(true)) {
            continue;
        }
        sent_offerings.push(put_offering(offering, &format!("{at}.offerings[{o}]"))?);
    }
    let mut values = Vec::new();
    if let Some(property_values) = product.get("property_values") {
        let property_values = property_values
            .as_array()
            .ok_or_else(|| invalid(format!("{at}.property_values is not an array")))?;
        for value in property_values {
            let mut kept = Map::new();
            for field in [
                "property_id",
                "value_ids",
                "scale_id",
                "property_name",
                "values",
            ] {
                if let Some(field_value) = value.get(field) {
                    kept.insert(field.into(), field_value.clone());
                }
            }
            values.push(Value::Object(kept));
        }
    }
    let mut sent = Map::new();
    sent.insert(
        "sku".into(),
        product.get("sku").cloned().unwrap_or(Value::Null),
    );
    sent.insert("property_values".into(), Value::Array(values));
    sent.insert("offerings".into(), Value::Array(sent_offerings));
    Ok(sent)
}

/// One offering in the `PUT` shape: the Money price as a float.
fn put_offering(offering: &Value, at: &str) -> Result<Value, MarketplaceError> {
    let price = match offering.get("price") {
        Some(Value::Object(money)) => {
            let amount = money.get("amount").and_then(Value::as_f64);
            let divisor = money.get("divisor").and_then(Value::as_f64);
            match (amount, divisor) {
                (Some(amount), Some(divisor)) if divisor > 0.0 => amount / divisor,
                _ => return Err(invalid(format!("{at}.price is not a Money object"))),
            }
        }
        // Tolerated: a price already a number is what the PUT wants.
        Some(Value::Number(number)) => number
            .as_f64()
            .ok_or_else(|| invalid(format!("{at}.price is not a number")))?,
        _ => return Err(invalid(format!("{at}.price is missing"))),
    };
    let quantity = offering
        .get("quantity")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid(format!("{at}.quantity is not an integer")))?;
    let is_enabled = offering
        .get("is_enabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| invalid(format!("{at}.is_enabled is not a boolean")))?;
    let mut sent = json!({ "price": price, "quantity": quantity, "is_enabled": is_enabled });
    // The current spec requires it; sending back what GET showed keeps the processing profile.
    if let Some(readiness) = offering.get("readiness_state_id").filter(|v| !v.is_null()) {
        sent["readiness_state_id"] = readiness.clone();
    }
    Ok(sent)
}

/// Makes a `PUT`-shape product show `quantity`: the first enabled offering holds it, the other
/// enabled ones 0; with none enabled, the first offering holds it (and stays disabled).
fn set_quantity(product: &mut Map<String, Value>, quantity: u32) {
    let Some(Value::Array(offerings)) = product.get_mut("offerings") else {
        return;
    };
    let enabled = |offering: &Value| offering["is_enabled"] == Value::Bool(true);
    let target = offerings
        .iter()
        .position(enabled)
        .or((!offerings.is_empty()).then_some(0));
    for (o, offering) in offerings.iter_mut().enumerate() {
        if Some(o) == target {
            offering["quantity"] = json!(quantity);
        } else if enabled(offering) {
            offering["quantity"] = json!(0);
        }
    }
}

/// What the listing shows for `sku` in a `GET`-shape inventory: the sum of the enabled, not
/// deleted offerings of its product.
fn listed_quantity(inventory: &Value, sku: &str) -> Result<u32, MarketplaceError> {
    let products = inventory
        .get("products")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Etsy's inventory reply has no products array".into()))?;
    let product = products
        .iter()
        .filter(|product| product.get("is_deleted") != Some(&Value::Bool(true)))
        .find(|product| product.get("sku").and_then(Value::as_str) == Some(sku))
        .ok_or_else(|| MarketplaceError::Permanent {
            kind: PermanentKind::NotFound,
            message: format!("the Etsy listing has no product with SKU {sku}"),
        })?;
    let offerings = product
        .get("offerings")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("Etsy's product of SKU {sku} has no offerings")))?;
    let mut total: u64 = 0;
    for offering in offerings {
        let counts = offering.get("is_enabled") == Some(&Value::Bool(true))
            && offering.get("is_deleted") != Some(&Value::Bool(true));
        if counts {
            let quantity = offering
                .get("quantity")
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid(format!("an offering of SKU {sku} has no quantity")))?;
            // Saturating: two offerings near u64::MAX in a reply must not wrap to a small total
            // (issue 12); what a listing shows beyond u32 reads as u32::MAX.
            total = total.saturating_add(quantity);
        }
    }
    Ok(u32::try_from(total).unwrap_or(u32::MAX))
}

/// Where a poll of receipts starts: changed at or after unix second `since`, skipping the first
/// `offset` of them (sorted on `updated` ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Cursor {
    /// Unix seconds, inclusive.
    pub since: i64,
    /// Receipts of the query to skip.
    pub offset: usize,
}

impl Cursor {
    /// Parses a stored cursor; `Err` is `Permanent Invalid` (a cursor is only ever ours).
    pub fn parse(text: &str) -> Result<Cursor, MarketplaceError> {
        serde_json::from_str(text).map_err(|_| {
            invalid(format!(
                "the stored Etsy cursor {text:?} is not {{\"since\": secs, \"offset\": n}}"
            ))
        })
    }

    /// The cursor as the text the engine stores.
    pub fn to_text(self) -> String {
        format!(r#"{{"since":{},"offset":{}}}"#, self.since, self.offset)
    }
}

#[derive(Debug, Deserialize)]
struct ReceiptsReply {
    count: usize,
    results: Vec<Receipt>,
}

#[derive(Debug, Deserialize)]
struct Receipt {
    receipt_id: u64,
    status: String,
    #[serde(default)]
    updated_timestamp: Option<i64>,
    #[serde(default)]
    update_timestamp: Option<i64>,
    #[serde(default)]
    transactions: Vec<Transaction>,
}

#[derive(Debug, Deserialize)]
struct Transaction {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    listing_id: Option<u64>,
    quantity: u32,
}

/// The events of a page of receipts asked for from `cursor`, and the cursor after it.
fn order_page(
    reply: ReceiptsReply,
    cursor: Cursor,
    listings: &ListingMap,
) -> Result<OrderPage, MarketplaceError> {
    let mut events = Vec::new();
    let mut latest = cursor.since;
    let mut at_latest = 0;
    for receipt in &reply.results {
        let updated = receipt
            .updated_timestamp
            .or(receipt.update_timestamp)
            .ok_or_else(|| {
                invalid(format!(
                    "Etsy receipt {} has no updated_timestamp",
                    receipt.receipt_id
                ))
            })?;
        // Sorted ascending; count the receipts of the page's last second.
        if updated > latest {
            latest = updated;
            at_latest = 1;
        } else if updated == latest {
            at_latest += 1;
        }
        let canceled = receipt.status.eq_ignore_ascii_case("canceled");
        for (position, line) in receipt.transactions.iter().enumerate() {
            let sku = match line.sku.as_deref().filter(|sku| !sku.trim().is_empty()) {
                Some(raw) => parse_sku(Platform::Etsy, raw),
                None => line
                    .listing_id
                    .and_then(|listing| listings.sku_of(&listing.to_string())),
            };
            let Some(sku) = sku else {
                tracing::warn!(
                    receipt = receipt.receipt_id,
                    "an Etsy order line has no SKU the engine knows; skipped"
                );
                continue;
            };
            let event = |kind, version: &str| OrderEvent {
                external_order_id: receipt.receipt_id.to_string(),
                line: u32::try_from(position + 1).unwrap_or(u32::MAX),
                version: version.to_string(),
                sku: sku.clone(),
                kind,
                quantity: line.quantity,
            };
            events.push(event(OrderEventKind::Sale, "placed"));
            if canceled {
                events.push(event(OrderEventKind::Cancel, "cancelled"));
            }
        }
    }
    let read = reply.results.len();
    let next = if read == 0 {
        // Nothing (left) at this offset: start the second again rather than skip.
        Cursor {
            since: cursor.since,
            offset: 0,
        }
    } else if at_latest == read {
        // The whole page shares one second: only the offset moves on.
        let before = if latest == cursor.since {
            cursor.offset
        } else {
            0
        };
        Cursor {
            since: latest,
            offset: before + read,
        }
    } else {
        // Ask again from the last second seen, inclusive: progress, since part of the page lies
        // before it, and nothing of that second can be missed.
        Cursor {
            since: latest,
            offset: 0,
        }
    };
    let more = cursor.offset + read < reply.count;
    // At the end of the feed, overlap the last second whole: a receipt of that second may change
    // again within it.
    let next = if more {
        next
    } else {
        Cursor {
            since: next.since,
            offset: 0,
        }
    };
    Ok(OrderPage {
        events,
        next_cursor: next.to_text(),
        more,
        skipped: false,
    })
}

impl Marketplace for EtsyConnector {
    fn platform(&self) -> Platform {
        Platform::Etsy
    }

    fn push_quantities(&self, items: Vec<PushItem>) -> MarketFuture<Vec<PushOutcome>> {
        let this = self.clone();
        Box::pin(async move { push_each(items, |item| this.replace_inventory(item)).await })
    }

    fn read_quantities(&self, skus: Vec<Sku>) -> MarketFuture<Vec<ListedQuantity>> {
        let this = self.clone();
        Box::pin(async move { read_each(skus, |sku| this.read_listing(sku)).await })
    }

    fn fetch_orders(&self, cursor: Option<String>) -> MarketFuture<OrderPage> {
        let this = self.clone();
        Box::pin(async move {
            let cursor = match cursor.as_deref() {
                Some(text) => Cursor::parse(text)?,
                None => Cursor {
                    since: this.started_secs,
                    offset: 0,
                },
            };
            if cursor.offset > MAX_OFFSET {
                return Err(invalid(format!(
                    "more than {MAX_OFFSET} Etsy receipts changed in second {}: past Etsy's paging",
                    cursor.since
                )));
            }
            let path = format!("/v3/application/shops/{}/receipts", this.shop_id);
            let request = this.request(reqwest::Method::GET, &path).query(&[
                ("min_last_modified", cursor.since.to_string()),
                ("limit", this.page_size.to_string()),
                ("offset", cursor.offset.to_string()),
                ("sort_on", "updated".to_string()),
                ("sort_order", "asc".to_string()),
            ]);
            let reply: ReceiptsReply = this.call(request, "getShopReceipts").await?;
            order_page(reply, cursor, &this.config.listings)
        })
    }

    fn lists(&self, sku: &Sku) -> bool {
        self.config.listings.contains(sku)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `GET` shape of the docs' example listing, with a second variation (blue, other SKU).
    fn docs_inventory() -> Value {
        json!({
            "products": [
                {"product_id": 10000000001u64, "sku": "ACME-MUG-RED", "is_deleted": false,
                 "property_values": [{"property_id": 200, "property_name": "Primary color",
                    "scale_id": null, "scale_name": null, "value_ids": [1213], "values": ["Red"]}],
                 "offerings": [{"offering_id": 20000000001u64, "quantity": 7, "is_enabled": true,
                    "is_deleted": false, "price": {"amount": 2200, "divisor": 100, "currency_code": "USD"},
                    "readiness_state_id": 12345}]},
                {"product_id": 10000000002u64, "sku": "ACME-MUG-BLUE", "is_deleted": false,
                 "property_values": [{"property_id": 200, "property_name": "Primary color",
                    "scale_id": null, "scale_name": null, "value_ids": [1214], "values": ["Blue"]}],
                 "offerings": [{"offering_id": 20000000002u64, "quantity": 4, "is_enabled": true,
                    "is_deleted": false, "price": {"amount": 2450, "divisor": 100, "currency_code": "USD"},
                    "readiness_state_id": 12345}]}
            ],
            "price_on_property": [200], "quantity_on_property": [200], "sku_on_property": [200],
            "readiness_state_on_property": []
        })
    }

    #[test]
    fn the_put_body_is_the_get_shape_stripped_with_one_quantity_changed() {
        let body = put_body(&docs_inventory(), "ACME-MUG-RED", 3).unwrap();
        assert_eq!(
            body,
            json!({
                "products": [
                    {"sku": "ACME-MUG-RED",
                     "property_values": [{"property_id": 200, "property_name": "Primary color",
                        "scale_id": null, "value_ids": [1213], "values": ["Red"]}],
                     "offerings": [{"price": 22.0, "quantity": 3, "is_enabled": true,
                        "readiness_state_id": 12345}]},
                    {"sku": "ACME-MUG-BLUE",
                     "property_values": [{"property_id": 200, "property_name": "Primary color",
                        "scale_id": null, "value_ids": [1214], "values": ["Blue"]}],
                     "offerings": [{"price": 24.5, "quantity": 4, "is_enabled": true,
                        "readiness_state_id": 12345}]}
                ],
                "price_on_property": [200], "quantity_on_property": [200], "sku_on_property": [200],
                "readiness_state_on_property": []
            })
        );
        let missing = put_body(&docs_inventory(), "ACME-CAP", 3).unwrap_err();
        assert_eq!(missing.kind(), "not_found");
    }

    #[test]
    fn a_malformed_inventory_is_invalid_never_a_panic() {
        for bad in [
            json!({}),
            json!({"products": "x"}),
            json!({"products": [{"sku": "ACME-MUG-RED"}]}),
            json!({"products": [{"sku": "ACME-MUG-RED", "offerings": [{"quantity": 1, "is_enabled": true,
                "price": {"amount": 1, "divisor": 0}}]}]}),
            json!({"products": [{"sku": "ACME-MUG-RED", "offerings": [{"quantity": "1",
                "is_enabled": true, "price": 2.0}]}]}),
        ] {
            assert_eq!(
                put_body(&bad, "ACME-MUG-RED", 1).unwrap_err().kind(),
                "invalid",
                "{bad}"
            );
        }
    }

    #[test]
    fn offerings_beyond_u64_read_as_the_most_a_listing_shows_not_a_wrapped_sum() {
        let inventory = json!({"products": [{"sku": "ACME-MUG", "offerings": [
            {"quantity": u64::MAX, "is_enabled": true},
            {"quantity": 2, "is_enabled": true},
        ]}]});
        assert_eq!(listed_quantity(&inventory, "ACME-MUG").unwrap(), u32::MAX);
    }

    #[test]
    fn only_enabled_offerings_count_and_the_first_takes_the_quantity() {
        let inventory = json!({"products": [{"sku": "ACME-MUG", "offerings": [
            {"quantity": 2, "is_enabled": false, "price": 1.0},
            {"quantity": 5, "is_enabled": true, "price": 1.0},
            {"quantity": 6, "is_enabled": true, "price": 1.0}]}]});
        assert_eq!(listed_quantity(&inventory, "ACME-MUG").unwrap(), 11);
        let body = put_body(&inventory, "ACME-MUG", 9).unwrap();
        let quantities: Vec<&Value> = body["products"][0]["offerings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|offering| &offering["quantity"])
            .collect();
        assert_eq!(quantities, [&json!(2), &json!(9), &json!(0)]);
        assert_eq!(
            listed_quantity(&inventory, "OTHER").unwrap_err().kind(),
            "not_found"
        );
    }

    fn receipts(count: usize, rows: &[(u64, i64, &str)]) -> ReceiptsReply {
        let results: Vec<Value> = rows
            .iter()
            .map(|&(id, updated, status)| {
                json!({"receipt_id": id, "status": status, "updated_timestamp": updated,
                       "transactions": [{"sku": "ACME-MUG", "listing_id": 1, "quantity": 2}]})
            })
            .collect();
        serde_json::from_value(json!({"count": count, "results": results})).unwrap()
    }

    fn cursor(since: i64, offset: usize) -> Cursor {
        Cursor { since, offset }
    }

    #[test]
    fn receipts_become_sales_and_cancels() {
        let reply = receipts(2, &[(7, 100, "paid"), (8, 101, "canceled")]);
        let page = order_page(reply, cursor(100, 0), &ListingMap::default()).unwrap();
        let events: Vec<(&str, OrderEventKind, &str, u32)> = page
            .events
            .iter()
            .map(|e| {
                (
                    e.external_order_id.as_str(),
                    e.kind,
                    e.version.as_str(),
                    e.quantity,
                )
            })
            .collect();
        assert_eq!(
            events,
            [
                ("7", OrderEventKind::Sale, "placed", 2),
                ("8", OrderEventKind::Sale, "placed", 2),
                ("8", OrderEventKind::Cancel, "cancelled", 2)
            ]
        );
        assert!(!page.more);
        assert_eq!(Cursor::parse(&page.next_cursor).unwrap(), cursor(101, 0));
    }

    #[test]
    fn a_line_without_sku_takes_the_listings_sku_or_is_skipped() {
        let reply: ReceiptsReply = serde_json::from_value(json!({"count": 1, "results": [
            {"receipt_id": 9, "status": "paid", "update_timestamp": 100, "transactions": [
                {"sku": "", "listing_id": 1000000001u64, "quantity": 1},
                {"sku": null, "listing_id": 5, "quantity": 1}]}]}))
        .unwrap();
        let listings = ListingMap::default();
        listings.insert(Sku::parse("ACME-MUG").unwrap(), "1000000001".into());
        let page = order_page(reply, cursor(100, 0), &listings).unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].sku.as_str(), "ACME-MUG");
    }

    #[test]
    fn the_cursor_overlaps_the_last_second_and_pages_by_offset_only_within_one() {
        let none = ListingMap::default();
        // Part of the page is before its last second: ask again from that second, offset 0.
        let page = order_page(
            receipts(5, &[(1, 100, "paid"), (2, 102, "paid")]),
            cursor(100, 0),
            &none,
        )
        .unwrap();
        assert!(page.more);
        assert_eq!(Cursor::parse(&page.next_cursor).unwrap(), cursor(102, 0));
        // The whole page in the cursor's second: the offset moves on.
        let page = order_page(
            receipts(5, &[(3, 102, "paid"), (4, 102, "paid")]),
            cursor(102, 1),
            &none,
        )
        .unwrap();
        assert!(page.more);
        assert_eq!(Cursor::parse(&page.next_cursor).unwrap(), cursor(102, 3));
        // The whole page in a later second: offset from that second's start.
        let page = order_page(
            receipts(5, &[(3, 104, "paid"), (4, 104, "paid")]),
            cursor(102, 0),
            &none,
        )
        .unwrap();
        assert_eq!(Cursor::parse(&page.next_cursor).unwrap(), cursor(104, 2));
        // The end of the feed: the last second again, whole.
        let page = order_page(receipts(4, &[(5, 102, "paid")]), cursor(102, 3), &none).unwrap();
        assert!(!page.more);
        assert_eq!(Cursor::parse(&page.next_cursor).unwrap(), cursor(102, 0));
        // Nothing new: the same second, from its start.
        let page = order_page(receipts(0, &[]), cursor(105, 2), &none).unwrap();
        assert_eq!(
            (Cursor::parse(&page.next_cursor).unwrap(), page.more),
            (cursor(105, 0), false)
        );
    }

    #[test]
    fn a_foreign_cursor_or_receipt_is_invalid() {
        assert_eq!(Cursor::parse("1700000000").unwrap_err().kind(), "invalid");
        assert_eq!(cursor(5, 1).to_text(), r#"{"since":5,"offset":1}"#);
        let reply: ReceiptsReply = serde_json::from_value(
            json!({"count": 1, "results": [{"receipt_id": 1, "status": "paid"}]}),
        )
        .unwrap();
        assert_eq!(
            order_page(reply, cursor(1, 0), &ListingMap::default())
                .unwrap_err()
                .kind(),
            "invalid"
        );
    }
}
