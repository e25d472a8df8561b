//! The Walmart Marketplace connector (reference/marketplace-apis.md §4): `PUT /v3/inventory?sku=`
//! per SKU with the `WM_SEC.ACCESS_TOKEN`, `WM_QOS.CORRELATION_ID` and `WM_SVC.NAME` headers,
//! read-back with `GET /v3/inventory?sku=`, orders polled from `GET /v3/orders` by
//! `lastModifiedStartDate`, and one notified purchase order read with
//! `GET /v3/orders/{purchaseOrderId}` (`fetch_order`, the same events as the feed gives for it).
//!
//! The cursor is the latest `statusDate` seen (epoch milliseconds, as text). A poll asks from that
//! instant inclusive, so orders changed in the same millisecond are read again rather than
//! skipped; their events carry the same idempotency keys (see `platforms::connector`). A poll with
//! no cursor starts when the connector was built: the catalog's stock already counts what was sold
//! before the channel was connected.
//!
//! A 429 is `Throttled` with the wait until `X-Next-Replenishment-Time` (epoch milliseconds, the
//! header matched case-insensitively under both names Walmart is seen to use).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use shelfsync_actors::channel::marketplace::{
    ListedQuantity, MarketFuture, Marketplace, MarketplaceError, OrderEvent, OrderEventKind,
    OrderPage, PermanentKind, PushItem, PushOutcome,
};
use shelfsync_actors::ids::Sku;

use crate::platforms::connector::{
    parse_sku, push_each, read_each, shown_quantity, success_body, ConnectorConfig, ConnectorError,
};
use crate::platforms::Platform;

/// Orders asked for per poll (Walmart's maximum page).
const ORDERS_PER_PAGE: usize = 200;

/// The Walmart connector for `config`.
pub fn build(config: ConnectorConfig) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    let http = config.http_client()?;
    let started_ms = now_ms();
    Ok(Arc::new(WalmartConnector {
        config: Arc::new(config),
        http,
        started_ms,
    }))
}

/// A Walmart seller account (a cheap handle: settings and HTTP client are shared).
#[derive(Debug, Clone)]
struct WalmartConnector {
    config: Arc<ConnectorConfig>,
    http: reqwest::Client,
    started_ms: i64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Walmart's throttle reply: the wait until the next token, when the header says.
fn throttled(headers: &HeaderMap) -> MarketplaceError {
    let next = ["x-next-replenishment-time", "x-next-replenish-time"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok());
    let retry_after =
        next.map(|at| Duration::from_millis((at - now_ms()).clamp(0, 3_600_000) as u64));
    MarketplaceError::Throttled { retry_after }
}

impl WalmartConnector {
    fn request(
        &self,
        method: reqwest::Method,
        url: impl reqwest::IntoUrl,
    ) -> reqwest::RequestBuilder {
        let correlation = format!("{:016x}", rand::thread_rng().next_u64());
        self.http
            .request(method, url)
            .header("WM_SEC.ACCESS_TOKEN", self.config.credential.expose())
            .header("WM_QOS.CORRELATION_ID", correlation)
            .header("WM_SVC.NAME", "Walmart Marketplace")
            .header("Accept", "application/json")
    }

    /// Sends and returns the JSON body of a 2xx, or the engine's error.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, MarketplaceError> {
        let (_, body) = success_body(request, throttled, str::to_string).await?;
        serde_json::from_str(&body).map_err(|error| MarketplaceError::Permanent {
            kind: PermanentKind::Invalid,
            message: format!("unexpected Walmart reply: {error}"),
        })
    }

    /// The Walmart SKU of an engine SKU: the catalog's listing reference, else the SKU itself
    /// (Walmart addresses inventory by the seller's SKU).
    fn walmart_sku(&self, sku: &Sku) -> String {
        self.config
            .listings
            .get(sku)
            .unwrap_or_else(|| sku.as_str().to_string())
    }

    /// `PUT /v3/inventory` of one SKU.
    async fn put_inventory(&self, item: PushItem) -> Result<PushOutcome, MarketplaceError> {
        let walmart_sku = self.walmart_sku(&item.sku);
        let body = serde_json::json!({ "sku": walmart_sku, "quantity": { "unit": "EACH", "amount": item.quantity } });
        let request = self
            .request(reqwest::Method::PUT, self.config.url("/v3/inventory"))
            .query(&[("sku", &walmart_sku)])
            .json(&body);
        let reply: InventoryReply = self.call(request).await?;
        Ok(PushOutcome::Confirmed {
            sku: item.sku,
            quantity: shown_quantity(reply.quantity.amount),
        })
    }

    /// `GET /v3/inventory` of one SKU.
    async fn get_inventory(&self, sku: Sku) -> Result<ListedQuantity, MarketplaceError> {
        let walmart_sku = self.walmart_sku(&sku);
        let request = self
            .request(reqwest::Method::GET, self.config.url("/v3/inventory"))
            .query(&[("sku", &walmart_sku)]);
        let reply: InventoryReply = self.call(request).await?;
        Ok(ListedQuantity {
            sku,
            quantity: shown_quantity(reply.quantity.amount),
        })
    }
}

#[derive(Debug, Deserialize)]
struct Quantity {
    amount: i64,
}

#[derive(Debug, Deserialize)]
struct InventoryReply {
    quantity: Quantity,
}

#[derive(Debug, Deserialize)]
struct OrdersReply {
    list: OrderList,
}

#[derive(Debug, Deserialize)]
struct OrderList {
    meta: OrderMeta,
    elements: OrderElements,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderMeta {
    next_cursor: Option<String>,
}

/// The reply of `GET /v3/orders/{purchaseOrderId}`.
#[derive(Debug, Deserialize)]
struct OrderReply {
    order: WalmartOrder,
}

#[derive(Debug, Deserialize)]
struct OrderElements {
    order: Vec<WalmartOrder>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WalmartOrder {
    purchase_order_id: String,
    order_lines: OrderLines,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderLines {
    order_line: Vec<OrderLine>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderLine {
    line_number: String,
    item: LineItem,
    order_line_quantity: LineQuantity,
    status_date: i64,
    order_line_statuses: LineStatuses,
}

#[derive(Debug, Deserialize)]
struct LineItem {
    sku: String,
}

#[derive(Debug, Deserialize)]
struct LineQuantity {
    amount: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineStatuses {
    order_line_status: Vec<LineStatus>,
}

#[derive(Debug, Deserialize)]
struct LineStatus {
    status: String,
}

/// The events of one purchase order: a sale per line, and a cancellation per cancelled line.
fn order_events(order: WalmartOrder) -> Vec<OrderEvent> {
    let mut events = Vec::new();
    for line in order.order_lines.order_line {
        let Some(sku) = parse_sku(Platform::Walmart, &line.item.sku) else {
            continue;
        };
        let Ok(quantity) = line.order_line_quantity.amount.trim().parse::<u32>() else {
            continue;
        };
        let line_number = line.line_number.trim().parse::<u32>().unwrap_or(1);
        let event = |kind, version: &str| OrderEvent {
            external_order_id: order.purchase_order_id.clone(),
            line: line_number,
            version: version.to_string(),
            sku: sku.clone(),
            kind,
            quantity,
        };
        events.push(event(OrderEventKind::Sale, "placed"));
        if line
            .order_line_statuses
            .order_line_status
            .iter()
            .any(|status| status.status == "Cancelled")
        {
            events.push(event(OrderEventKind::Cancel, "cancelled"));
        }
    }
    events
}

/// The events of a page of orders ([`order_events`] of each); the next cursor is the latest
/// status date seen (never before the one asked from).
fn order_page(reply: OrdersReply, since_ms: i64) -> OrderPage {
    let mut events = Vec::new();
    let mut latest = since_ms;
    for order in reply.list.elements.order {
        for line in &order.order_lines.order_line {
            latest = latest.max(line.status_date);
        }
        events.extend(order_events(order));
    }
    OrderPage {
        events,
        next_cursor: latest.to_string(),
        more: reply.list.meta.next_cursor.is_some(),
        skipped: false,
    }
}

impl Marketplace for WalmartConnector {
    fn platform(&self) -> Platform {
        Platform::Walmart
    }

    fn push_quantities(&self, items: Vec<PushItem>) -> MarketFuture<Vec<PushOutcome>> {
        let this = self.clone();
        Box::pin(async move { push_each(items, |item| this.put_inventory(item)).await })
    }

    fn read_quantities(&self, skus: Vec<Sku>) -> MarketFuture<Vec<ListedQuantity>> {
        let this = self.clone();
        Box::pin(async move { read_each(skus, |sku| this.get_inventory(sku)).await })
    }

    fn fetch_orders(&self, cursor: Option<String>) -> MarketFuture<OrderPage> {
        let this = self.clone();
        Box::pin(async move {
            let since_ms = match cursor.as_deref() {
                Some(text) => text
                    .parse::<i64>()
                    .map_err(|_| MarketplaceError::Permanent {
                        kind: PermanentKind::Invalid,
                        message: format!(
                            "the stored Walmart cursor {text:?} is not epoch milliseconds"
                        ),
                    })?,
                None => this.started_ms,
            };
            let request = this
                .request(reqwest::Method::GET, this.config.url("/v3/orders"))
                .query(&[
                    ("lastModifiedStartDate", since_ms.to_string()),
                    ("limit", ORDERS_PER_PAGE.to_string()),
                ]);
            let reply: OrdersReply = this.call(request).await?;
            Ok(order_page(reply, since_ms))
        })
    }

    fn fetch_order(&self, order_id: String) -> MarketFuture<Vec<OrderEvent>> {
        let this = self.clone();
        Box::pin(async move {
            let mut url = this.config.base_url.clone();
            // One path segment, percent-encoded, whatever the id holds.
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty()
                    .extend(["v3", "orders", order_id.as_str()]);
            }
            let reply: OrderReply = this.call(this.request(reqwest::Method::GET, url)).await?;
            Ok(order_events(reply.order))
        })
    }

    fn lists(&self, sku: &Sku) -> bool {
        self.config.listings.contains(sku)
    }
}

pub mod notify;
pub use self::notify::receive;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_quantity_beyond_u32_is_clamped_not_truncated() {
        let reply: InventoryReply = serde_json::from_value(serde_json::json!({
            "sku": "ACME-MUG", "quantity": {"unit": "EACH", "amount": 4_294_967_301_i64}
        }))
        .unwrap();
        assert_eq!(shown_quantity(reply.quantity.amount), u32::MAX);
    }

    #[test]
    fn a_page_yields_a_sale_per_line_and_a_cancel_per_cancelled_line() {
        let reply: OrdersReply = serde_json::from_value(serde_json::json!({"list": {
            "meta": {"totalCount": 2, "limit": 200},
            "elements": {"order": [
                {"purchaseOrderId": "P1", "orderLines": {"orderLine": [{"lineNumber": "1",
                  "item": {"sku": "ACME-MUG"}, "orderLineQuantity": {"amount": "2"}, "statusDate": 1000,
                  "orderLineStatuses": {"orderLineStatus": [{"status": "Created"}]}}]}},
                {"purchaseOrderId": "P2", "orderLines": {"orderLine": [{"lineNumber": "1",
                  "item": {"sku": "ACME-CAP"}, "orderLineQuantity": {"amount": "1"}, "statusDate": 3000,
                  "orderLineStatuses": {"orderLineStatus": [{"status": "Cancelled"}]}}]}}
            ]}
        }}))
        .unwrap();
        let page = order_page(reply, 500);
        let kinds: Vec<(&str, OrderEventKind, u32)> = page
            .events
            .iter()
            .map(|e| (e.external_order_id.as_str(), e.kind, e.quantity))
            .collect();
        assert_eq!(
            kinds,
            [
                ("P1", OrderEventKind::Sale, 2),
                ("P2", OrderEventKind::Sale, 1),
                ("P2", OrderEventKind::Cancel, 1)
            ]
        );
        assert_eq!((page.next_cursor.as_str(), page.more), ("3000", false));
    }

    #[test]
    fn the_throttle_wait_comes_from_the_replenishment_header() {
        let mut headers = HeaderMap::new();
        let at = now_ms() + 1500;
        headers.insert("x-next-replenishment-time", at.to_string().parse().unwrap());
        let MarketplaceError::Throttled {
            retry_after: Some(wait),
        } = throttled(&headers)
        else {
            panic!("a 429 is a throttle");
        };
        assert!(
            wait <= Duration::from_millis(1500) && wait >= Duration::from_millis(1000),
            "{wait:?}"
        );
        assert_eq!(
            throttled(&HeaderMap::new()),
            MarketplaceError::Throttled { retry_after: None }
        );
    }
}
