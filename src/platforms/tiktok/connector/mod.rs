//! The TikTok Shop connector (reference/marketplace-apis.md §6, Partner API 202309): stock set
//! with `POST /product/202309/products/{product_id}/inventory/update`, read back with
//! `POST /product/202309/inventory/search`, orders polled from `POST /order/202309/orders/search`
//! by `update_time_ge`, one notified order read with `GET /order/202309/orders?ids=`.
//!
//! Decisions:
//!
//! - **Settings.** `listing_ref` is `{product_id}:{sku_id}`. The account needs `app_key`,
//!   `app_secret` and `shop_cipher`, and `warehouse_id` (the warehouse whose quantity is set); a
//!   missing one refuses the build. The app secret is never in a channel's settings: the channel
//!   names a credential with `app_secret_credential` (as Etsy's `shared_secret_credential`), which
//!   the service opens in memory only. The connector's credential is the shop's access token.
//! - **Auth (§6.4).** Every call sends `x-tts-access-token` (marked sensitive) and the query
//!   `app_key`, `timestamp` (unix seconds now), `shop_cipher` and `sign`: the request's path, then
//!   every other query parameter sorted by key as `{key}{value}`, then the raw body, wrapped in the
//!   app secret, hex HMAC-SHA256 keyed with it ([`sign`]). Neither secret appears in a log, a
//!   `Debug` output or an error message.
//! - **The envelope.** Every reply is `{code, message, request_id, data}`, and **a non-zero `code`
//!   is a failure whatever the HTTP status** (§6.1, 200 included), never a success. Codes follow
//!   the table the mock states ([U]): 105002 and 106001 `Permanent Auth`, 36009004 `NotFound`,
//!   36009003 `Invalid`, 36009009 `Throttled`; any other non-zero code is read by its HTTP status
//!   (`platforms::connector::status_error`), and under a 2xx it is `Transient` (retried, so an
//!   unknown failure neither passes for a success nor stops the channel). HTTP 429 is `Throttled`
//!   with `Retry-After` when sent; without it the engine's own backoff decides (§6.3's third-party
//!   clients wait 60 s, which the engine's backoff reaches on its own when throttles repeat).
//! - **Push (§6.1).** The items of a call are grouped by product, one call a product with every
//!   SKU of it, so a batch of n SKUs of one product costs one call (the engine gives one SKU a
//!   call, `Platform::batch_size`, see `shelfsync_actors::platform::profile::TIKTOK`). A code-0
//!   reply confirms each SKU at its pushed quantity (the update is synchronous and echoes nothing).
//!   A retryable failure stops the call (the engine retries the batch; setting a quantity again is
//!   harmless); a permanent one fails that product's items only. A SKU with no listing, or a
//!   `listing_ref` that is not `{product_id}:{sku_id}` of digits, fails without a call.
//! - **Read-back.** One search by `sku_ids` for the whole batch; a SKU's listed quantity is its
//!   `total_available_quantity`. A SKU the reply leaves out is `Permanent NotFound`.
//! - **Orders (§6.2).** Each line item yields a `Sale` (version `placed`) and, once the order is
//!   `CANCELLED`, a `Cancel` (version `cancelled`); the line is its 1-based position in
//!   `line_items`, its quantity `quantity` (1 when absent: a line item per unit), its SKU the
//!   `seller_sku`, else the SKU mapped to `{product_id}:{sku_id}`. [`Marketplace::fetch_order`]
//!   reads the detail of the one order a notification names and yields exactly these events, so
//!   a notification and the poll dedupe in the ledger.
//! - **The cursor** is JSON `{"since": S, "token": T}`: orders whose `update_time` is at or after
//!   unix second `S`, sorted on `update_time` ascending, from page token `T` (absent: the first
//!   page). While pages follow, `S` stays and `T` moves; after the last page `S` becomes the latest
//!   second seen (inclusive: orders of that second are read again, under the same keys), so a
//!   change in the same second is not skipped. No cursor starts at the second the connector was
//!   built, as on Walmart and Etsy: what sold before is in the catalog's stock already.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use shelfsync_actors::channel::marketplace::{
    ListedQuantity, MarketFuture, Marketplace, MarketplaceError, OrderEvent, OrderPage,
    PermanentKind, PushItem, PushOutcome,
};
use shelfsync_actors::ids::Sku;

use crate::platforms::connector::{
    send_error, shown_quantity, status_error, ConnectorConfig, ConnectorError,
};
use crate::platforms::Platform;

pub mod notify;
pub use self::notify::receive;
mod orders;

use self::orders::{order_events, Cursor, OrderList};

/// Orders asked for per page (the search's maximum `page_size`).
pub const ORDERS_PER_PAGE: usize = 100;

/// The envelope codes of the mock's table ([U], see the module's decisions).
mod code {
    pub const INVALID_TOKEN: i64 = 105_002;
    pub const INVALID_SIGN: i64 = 106_001;
    pub const INVALID_PARAMS: i64 = 36_009_003;
    pub const NOT_FOUND: i64 = 36_009_004;
    pub const TOO_MANY_REQUESTS: i64 = 36_009_009;
}

/// The TikTok Shop connector for `config`, asking for [`ORDERS_PER_PAGE`] orders a page.
pub fn build(config: ConnectorConfig) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    build_with_page_size(config, ORDERS_PER_PAGE)
}

/// The connector with `page_size` orders a page (clamped to 1–100; tests page with a few).
pub fn build_with_page_size(
    config: ConnectorConfig,
    page_size: usize,
) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    let field = |name| config.account_str(Platform::TikTok, name);
    let app_key = field("app_key")?;
    let app_secret = field("app_secret")?;
    let shop_cipher = field("shop_cipher")?;
    let warehouse_id = field("warehouse_id")?;
    let mut token = HeaderValue::from_str(config.credential.expose()).map_err(|_| {
        ConnectorError::Client(
            "the TikTok Shop access token holds characters not allowed in an HTTP header".into(),
        )
    })?;
    token.set_sensitive(true);
    let http = config.http_client()?;
    Ok(Arc::new(TikTokConnector {
        inner: Arc::new(Inner {
            config,
            http,
            app_key,
            app_secret,
            shop_cipher,
            warehouse_id,
            token,
            started_secs: now_secs(),
            page_size: page_size.clamp(1, ORDERS_PER_PAGE),
        }),
    }))
}

/// A TikTok Shop shop (a cheap handle: everything is shared).
#[derive(Clone)]
struct TikTokConnector {
    inner: Arc<Inner>,
}

struct Inner {
    config: ConnectorConfig,
    http: reqwest::Client,
    app_key: String,
    app_secret: String,
    shop_cipher: String,
    warehouse_id: String,
    token: HeaderValue,
    started_secs: i64,
    page_size: usize,
}

/// By hand: the account holds the app secret, so neither it nor the config is shown.
impl std::fmt::Debug for TikTokConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TikTokConnector")
            .field("base_url", &self.inner.config.base_url.as_str())
            .field("app_key", &self.inner.app_key)
            .field("page_size", &self.inner.page_size)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

fn permanent(kind: PermanentKind, message: String) -> MarketplaceError {
    MarketplaceError::Permanent { kind, message }
}

/// §6.4's `sign`: hex HMAC-SHA256, keyed with `secret`, of `secret + path + {key}{value}… +
/// body + secret` over the parameters sorted by key (`params` holds neither `sign` nor the token).
pub fn sign(secret: &str, path: &str, params: &[(&str, String)], body: &[u8]) -> String {
    let mut sorted: Vec<&(&str, String)> = params.iter().collect();
    sorted.sort_by_key(|(key, _)| *key);
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(secret.as_bytes());
    mac.update(path.as_bytes());
    for (key, value) in sorted {
        mac.update(key.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.update(body);
    mac.update(secret.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The envelope of every reply.
#[derive(Debug, Deserialize)]
struct Envelope {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: serde_json::Value,
}

/// The engine's error of a non-zero `code` under `status` (see the module's decisions).
fn code_error(
    code: i64,
    message: &str,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> MarketplaceError {
    let text = format!(
        "TikTok Shop code {code}: {}",
        message.chars().take(200).collect::<String>()
    );
    match code {
        code::INVALID_TOKEN | code::INVALID_SIGN => permanent(PermanentKind::Auth, text),
        code::NOT_FOUND => permanent(PermanentKind::NotFound, text),
        code::INVALID_PARAMS => permanent(PermanentKind::Invalid, text),
        code::TOO_MANY_REQUESTS => crate::platforms::connector::throttled_after(headers),
        _ if status.is_success() => MarketplaceError::Transient(text),
        _ => status_error(status, headers, &text),
    }
}

/// Reads a whole reply: the envelope's `data` when `code` is 0 under a 2xx, else the engine's
/// error (see the module's decisions).
fn read_reply<T: DeserializeOwned>(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    what: &str,
) -> Result<T, MarketplaceError> {
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(crate::platforms::connector::throttled_after(headers));
    }
    let envelope: Envelope = match serde_json::from_str(body) {
        Ok(envelope) => envelope,
        Err(_) if !status.is_success() => return Err(status_error(status, headers, body)),
        Err(error) => {
            return Err(permanent(
                PermanentKind::Invalid,
                format!("unexpected TikTok Shop reply to {what}: {error}"),
            ))
        }
    };
    if envelope.code != 0 {
        return Err(code_error(
            envelope.code,
            &envelope.message,
            status,
            headers,
        ));
    }
    if !status.is_success() {
        return Err(status_error(status, headers, &envelope.message));
    }
    serde_json::from_value(envelope.data).map_err(|error| {
        permanent(
            PermanentKind::Invalid,
            format!("unexpected TikTok Shop data of {what}: {error}"),
        )
    })
}

impl TikTokConnector {
    /// Sends one signed call: `params` besides the common ones, `body` as JSON when given.
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        params: Vec<(&str, String)>,
        body: Option<serde_json::Value>,
        what: &str,
    ) -> Result<T, MarketplaceError> {
        let inner = &self.inner;
        let url = reqwest::Url::parse(&inner.config.url(path))
            .map_err(|error| permanent(PermanentKind::Invalid, format!("{what}: {error}")))?;
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let mut params = params;
        params.extend([
            ("app_key", inner.app_key.clone()),
            ("timestamp", now_secs().to_string()),
            ("shop_cipher", inner.shop_cipher.clone()),
        ]);
        let signature = sign(&inner.app_secret, url.path(), &params, body.as_bytes());
        params.push(("sign", signature));
        let mut request = inner
            .http
            .request(method, url)
            .query(&params)
            .header("x-tts-access-token", inner.token.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if !body.is_empty() {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let reply = request.send().await.map_err(|error| send_error(&error))?;
        let status = reply.status();
        let headers = reply.headers().clone();
        let text = reply.text().await.map_err(|error| send_error(&error))?;
        read_reply(status, &headers, &text, what)
    }

    /// The product and SKU ids of `sku`'s listing; `Err` is the item's failure.
    fn ids_of(&self, sku: &Sku) -> Result<(String, String), MarketplaceError> {
        let listing = self.inner.config.listings.get(sku).ok_or_else(|| {
            permanent(
                PermanentKind::NotFound,
                format!("no TikTok Shop listing is mapped to SKU {}", sku.as_str()),
            )
        })?;
        let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        match listing.split_once(':') {
            // The product id goes into the path: anything but digits would address another call.
            Some((product, sku_id)) if digits(product) && digits(sku_id) => {
                Ok((product.to_string(), sku_id.to_string()))
            }
            _ => Err(permanent(
                PermanentKind::Invalid,
                format!(
                    "the TikTok Shop listing_ref {listing:?} of SKU {} is not product_id:sku_id",
                    sku.as_str()
                ),
            )),
        }
    }

    /// One update of the SKUs of one product.
    async fn update_product(
        &self,
        product: &str,
        skus: &[(String, u32)],
    ) -> Result<(), MarketplaceError> {
        let body = json!({ "skus": skus.iter().map(|(id, quantity)| json!({
            "id": id,
            "inventory": [{ "warehouse_id": self.inner.warehouse_id, "quantity": quantity }],
        })).collect::<Vec<_>>() });
        let path = format!("/product/202309/products/{product}/inventory/update");
        let _: serde_json::Value = self
            .call(
                reqwest::Method::POST,
                &path,
                Vec::new(),
                Some(body),
                "inventory update",
            )
            .await?;
        Ok(())
    }

    async fn push(&self, items: Vec<PushItem>) -> Result<Vec<PushOutcome>, MarketplaceError> {
        let mut outcomes: Vec<Option<PushOutcome>> = vec![None; items.len()];
        // Product → (index of the item, SKU id), in the order products first appear.
        let mut products: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
        for (index, item) in items.iter().enumerate() {
            match self.ids_of(&item.sku) {
                Ok((product, sku_id)) => products.entry(product).or_default().push((index, sku_id)),
                Err(error) => {
                    outcomes[index] = Some(PushOutcome::Failed {
                        sku: item.sku.clone(),
                        error,
                    })
                }
            }
        }
        for (product, members) in products {
            let skus: Vec<(String, u32)> = members
                .iter()
                .map(|(index, sku_id)| (sku_id.clone(), items[*index].quantity))
                .collect();
            let result = self.update_product(&product, &skus).await;
            if let Err(error) = &result {
                if error.is_retryable() {
                    return Err(error.clone());
                }
            }
            for (index, _) in members {
                let sku = items[index].sku.clone();
                outcomes[index] = Some(match &result {
                    Ok(()) => PushOutcome::Confirmed {
                        sku,
                        quantity: items[index].quantity,
                    },
                    Err(error) => PushOutcome::Failed {
                        sku,
                        error: error.clone(),
                    },
                });
            }
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    async fn read(&self, skus: Vec<Sku>) -> Result<Vec<ListedQuantity>, MarketplaceError> {
        let mut ids = Vec::with_capacity(skus.len());
        for sku in &skus {
            ids.push(self.ids_of(sku)?.1);
        }
        let mut shown: BTreeMap<String, i64> = BTreeMap::new();
        for chunk in ids.chunks(ORDERS_PER_PAGE) {
            let reply: InventoryReply = self
                .call(
                    reqwest::Method::POST,
                    "/product/202309/inventory/search",
                    Vec::new(),
                    Some(json!({ "sku_ids": chunk })),
                    "inventory search",
                )
                .await?;
            for product in reply.inventory {
                for sku in product.skus {
                    shown.insert(sku.id, sku.total_available_quantity);
                }
            }
        }
        skus.into_iter()
            .zip(ids)
            .map(|(sku, id)| match shown.get(&id) {
                Some(quantity) => Ok(ListedQuantity {
                    sku,
                    quantity: shown_quantity(*quantity),
                }),
                None => Err(permanent(
                    PermanentKind::NotFound,
                    format!("TikTok Shop shows no SKU {id} ({})", sku.as_str()),
                )),
            })
            .collect()
    }

    async fn orders_page(&self, cursor: Option<String>) -> Result<OrderPage, MarketplaceError> {
        let cursor = Cursor::resume(cursor.as_deref(), self.inner.started_secs)?;
        let mut params = vec![
            ("page_size", self.inner.page_size.to_string()),
            ("sort_field", "update_time".to_string()),
            ("sort_order", "ASC".to_string()),
        ];
        if let Some(token) = &cursor.token {
            params.push(("page_token", token.clone()));
        }
        let reply: OrderList = self
            .call(
                reqwest::Method::POST,
                "/order/202309/orders/search",
                params,
                Some(json!({ "update_time_ge": cursor.since })),
                "order search",
            )
            .await?;
        Ok(cursor.page(reply, &self.inner.config.listings))
    }

    async fn order(&self, order_id: String) -> Result<Vec<OrderEvent>, MarketplaceError> {
        if order_id.is_empty() || order_id.contains(',') {
            return Err(permanent(
                PermanentKind::Invalid,
                format!("{order_id:?} is not one TikTok Shop order id"),
            ));
        }
        let reply: OrderList = self
            .call(
                reqwest::Method::GET,
                "/order/202309/orders",
                vec![("ids", order_id.clone())],
                None,
                "order detail",
            )
            .await?;
        let order = reply
            .orders
            .iter()
            .find(|order| order.id == order_id)
            .ok_or_else(|| {
                permanent(
                    PermanentKind::NotFound,
                    format!("TikTok Shop shows no order {order_id}"),
                )
            })?;
        Ok(order_events(order, &self.inner.config.listings))
    }
}

#[derive(Debug, Deserialize)]
struct InventoryReply {
    #[serde(default)]
    inventory: Vec<ProductInventory>,
}

#[derive(Debug, Deserialize)]
struct ProductInventory {
    #[serde(default)]
    skus: Vec<SkuInventory>,
}

#[derive(Debug, Deserialize)]
struct SkuInventory {
    id: String,
    total_available_quantity: i64,
}

impl Marketplace for TikTokConnector {
    fn platform(&self) -> Platform {
        Platform::TikTok
    }

    fn push_quantities(&self, items: Vec<PushItem>) -> MarketFuture<Vec<PushOutcome>> {
        let this = self.clone();
        Box::pin(async move { this.push(items).await })
    }

    fn read_quantities(&self, skus: Vec<Sku>) -> MarketFuture<Vec<ListedQuantity>> {
        let this = self.clone();
        Box::pin(async move { this.read(skus).await })
    }

    fn fetch_orders(&self, cursor: Option<String>) -> MarketFuture<OrderPage> {
        let this = self.clone();
        Box::pin(async move { this.orders_page(cursor).await })
    }

    fn fetch_order(&self, order_id: String) -> MarketFuture<Vec<OrderEvent>> {
        let this = self.clone();
        Box::pin(async move { this.order(order_id).await })
    }

    fn lists(&self, sku: &Sku) -> bool {
        self.inner.config.listings.contains(sku)
    }
}

#[cfg(test)]
mod tests;
