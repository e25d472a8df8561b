//! The Shopify connector (reference/marketplace-apis.md §1, §0): the GraphQL Admin API at
//! `POST /admin/api/2026-04/graphql.json` behind `X-Shopify-Access-Token` (§1.4).
//!
//! - **Push** (§1.1): one `inventorySetQuantities` mutation per call of at most 250 quantities
//!   (the global input-array cap), `name: "available"`, `reason: "correction"`, the location of
//!   `account.location_id`, the inventory item of the SKU's `listing_ref` (the inventory item gid;
//!   a bare numeric id is turned into one). API 2026-04 makes `changeFromQuantity` mandatory on
//!   every quantity: it is the item's `previous` (`null`, no check, when never confirmed). The
//!   `@idempotent(key:)` key is a SHA-256 of the location and of every sent item's inventory item,
//!   SKU, quantity, previous and ledger sequence: a retry of the same push (after a timeout, say)
//!   reuses the key and Shopify applies it once, while any other input gets another key (the same
//!   key with another input is refused as a reuse).
//! - **All or nothing.** Shopify refuses the whole mutation when any quantity has a user error
//!   (the mock does the same, see its module doc). The connector then gives each refused item its
//!   verdict (`CHANGE_FROM_QUANTITY_STALE` → `Stale` with the quantity read back, since the reply
//!   does not say it; an unknown item → `Failed` NotFound; other codes → `Failed` Invalid) and sends
//!   the remaining items again at once, under a new key, since nothing of the refused call was
//!   applied. So innocent items of a refused call still end `Confirmed` in the same engine call and
//!   a bad item does not hold its batch hostage. After [`MAX_ROUNDS`] refused rounds the rest are
//!   `Failed` Transient (not applied; the engine pushes them again).
//! - **Confirmation**: `quantityAfterChange` of the `available` change of each item. An item of an
//!   applied group with no change listed already showed the quantity (Shopify may leave out a
//!   zero delta): it is confirmed at the pushed quantity.
//! - **Read** (§1.1): `nodes(ids:)` on the inventory items, `inventoryLevel(locationId:)
//!   { quantities(names: ["available"]) }`, 250 ids a query. A SKU without a listing, an item
//!   Shopify no longer knows or one not stocked at the location is left out of the answer (with a
//!   warning) rather than failing the read of every other SKU.
//! - **Throttle** (§1.3): a GraphQL `THROTTLED` error, whether HTTP 200 or 429 (the reference
//!   leaves it open), is `Throttled` with the wait `(requestedQueryCost − currentlyAvailable) /
//!   restoreRate` of `extensions.cost`; 1 s (Shopify's advice) when the reply does not allow the
//!   computation or it gives no positive wait. A plain 429 uses `Retry-After`. 401/403 and the
//!   `ACCESS_DENIED` code are Permanent Auth (outer error: the whole call is refused), 5xx and
//!   `INTERNAL_SERVER_ERROR` Transient, no answer in time Timeout, other top-level errors
//!   Permanent Invalid. A reply that is not the expected JSON is Permanent Invalid, never a panic.
//! - **Orders** (§1.2): polled from `orders(first:, after:, query: "updated_at:>='…'", sortKey:
//!   UPDATED_AT)`, the reconciliation path (webhooks are received by the service's HTTP layer,
//!   which uses [`verify_webhook`] and [`webhook_events`]). Each order line is one `Sale` (version
//!   `placed`) and, once `cancelledAt` is set, one `Cancel` (version `cancelled`) of the line's
//!   ordered quantity (`platforms::connector` contract). The order id is `legacyResourceId`, the
//!   numeric id webhooks carry as `id`; the line number is the 1-based position of the line in the
//!   order (both APIs list lines in the same order), so polling and webhooks give identical
//!   events. Polled lines without a SKU the engine accepts are skipped with a warning (a webhook
//!   reports them, see [`webhook_events`]). An order with more
//!   than [`LINES_PER_ORDER`] lines has the rest read with `order(id:) { lineItems(after:) }`.
//!   The page size is [`ShopifyOptions::orders_per_page`] (15 by default, so that the query's
//!   requested cost, 2 + 15 × 53 points, stays under the 1000-point cap).
//! - **Cursor** (durable text): `<since>` when the last page was complete, `<since>|<endCursor>`
//!   while a poll is paging. `<since>` is an RFC 3339 UTC time with milliseconds: the latest
//!   `updatedAt` seen (never earlier than the time asked from). The next poll asks
//!   `updated_at:>='<since>'` inclusive, so orders changed in the same millisecond are read again
//!   rather than skipped (same events, same idempotency keys); while paging, the same query with
//!   `after: <endCursor>` continues in the keyset order, and an order updated meanwhile moves
//!   after it and is still reached. A poll without a cursor starts when the connector was built:
//!   the catalog's stock already counts what was sold before the channel was connected.
//! - The credential goes only into `X-Shopify-Access-Token`; error messages carry Shopify's reply,
//!   never the request headers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use shelfsync_actors::channel::marketplace::{
    ListedQuantity, MarketFuture, Marketplace, MarketplaceError, OrderPage, PermanentKind,
    PushItem, PushOutcome,
};
use shelfsync_actors::ids::Sku;

use crate::platforms::connector::{
    retry_after, send_error, status_error, ConnectorConfig, ConnectorError,
};
use crate::platforms::Platform;

mod inventory;
mod notify;
mod orders;

use self::inventory::{
    idempotency_key, read_levels, set_input, set_result, Refusal, Sent, SetResult,
};
pub use self::notify::{receive, verify_webhook, webhook_events, WebhookError};
use self::orders::{more_lines, order_page, orders_reply, Cursor};

/// The Admin API version spoken (the first with mandatory compare-and-swap, §1.1).
pub const API_VERSION: &str = "2026-04";
/// The auth header of every Admin API call (§1.4).
pub const TOKEN_HEADER: &str = "X-Shopify-Access-Token";
/// The most quantities of one `inventorySetQuantities` call, and ids of one `nodes` read (§1.1).
pub const MAX_BATCH: usize = 250;
/// Line items read with each order; more are read with a follow-up query.
pub const LINES_PER_ORDER: usize = 50;
/// Orders asked for per poll by default (2 + 15 × (1 + 2 + 50) = 797 requested points < 1000).
pub const DEFAULT_ORDERS_PER_PAGE: usize = 15;
/// How many times a push is sent again without the items Shopify refused.
pub const MAX_ROUNDS: usize = 3;
/// The wait of a throttle when the reply does not give one (Shopify's advice, §1.3).
const DEFAULT_THROTTLE_WAIT: Duration = Duration::from_secs(1);

const SET_MUTATION: &str = "mutation SetQuantities($input: InventorySetQuantitiesInput!, $key: String!) { inventorySetQuantities(input: $input) @idempotent(key: $key) { inventoryAdjustmentGroup { changes { name quantityAfterChange item { id } } } userErrors { code field message } } }";

const READ_QUERY: &str = "query ReadLevels($ids: [ID!]!, $location: ID!) { nodes(ids: $ids) { ... on InventoryItem { id inventoryLevel(locationId: $location) { quantities(names: [\"available\"]) { name quantity } } } } }";

/// `{LINES}` is replaced by [`LINES_PER_ORDER`].
const ORDERS_QUERY: &str = "query Orders($first: Int!, $after: String, $query: String!) { orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { edges { cursor node { id legacyResourceId updatedAt cancelledAt lineItems(first: {LINES}) { nodes { sku quantity } pageInfo { hasNextPage endCursor } } } } pageInfo { hasNextPage endCursor } } }";

const MORE_LINES_QUERY: &str = "query OrderLines($id: ID!, $after: String) { order(id: $id) { lineItems(first: 250, after: $after) { nodes { sku quantity } pageInfo { hasNextPage endCursor } } } }";

/// Knobs of the connector beyond its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifyOptions {
    /// Orders asked for per poll (1..=15 keeps the query under Shopify's 1000-point cap).
    pub orders_per_page: usize,
}

impl Default for ShopifyOptions {
    fn default() -> ShopifyOptions {
        ShopifyOptions {
            orders_per_page: DEFAULT_ORDERS_PER_PAGE,
        }
    }
}

/// The Shopify connector for `config`; needs `account.location_id` (a location gid or id).
pub fn build(config: ConnectorConfig) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    build_with(config, ShopifyOptions::default())
}

/// The Shopify connector for `config` with `options`.
pub fn build_with(
    config: ConnectorConfig,
    options: ShopifyOptions,
) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    let location = gid(
        "Location",
        &config.account_str(Platform::Shopify, "location_id")?,
    );
    let http = config.http_client()?;
    Ok(Arc::new(ShopifyConnector {
        config: Arc::new(config),
        http,
        location,
        orders_per_page: options.orders_per_page.clamp(1, 15),
        started: Utc::now(),
    }))
}

/// A Shopify shop at one location (a cheap handle: settings and HTTP client are shared).
#[derive(Debug, Clone)]
struct ShopifyConnector {
    config: Arc<ConnectorConfig>,
    http: reqwest::Client,
    location: String,
    orders_per_page: usize,
    started: DateTime<Utc>,
}

/// `gid://shopify/<kind>/<id>` of a bare numeric id; anything else is kept as given.
fn gid(kind: &str, id: &str) -> String {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        format!("gid://shopify/{kind}/{id}")
    } else {
        id.to_string()
    }
}

fn invalid(message: impl Into<String>) -> MarketplaceError {
    MarketplaceError::Permanent {
        kind: PermanentKind::Invalid,
        message: message.into(),
    }
}

/// The wait of a throttled GraphQL reply: `(requestedQueryCost − currentlyAvailable) /
/// restoreRate` from `extensions.cost`, else [`DEFAULT_THROTTLE_WAIT`].
pub fn throttle_wait(reply: &Value) -> Duration {
    let cost = &reply["extensions"]["cost"];
    let requested = cost["requestedQueryCost"].as_f64();
    let available = cost["throttleStatus"]["currentlyAvailable"].as_f64();
    let restore = cost["throttleStatus"]["restoreRate"].as_f64();
    match (requested, available, restore) {
        (Some(requested), Some(available), Some(restore)) if restore > 0.0 => {
            let seconds = (requested - available) / restore;
            if seconds.is_finite() && seconds > 0.0 {
                Duration::from_secs_f64(seconds.min(3_600.0))
            } else {
                DEFAULT_THROTTLE_WAIT
            }
        }
        _ => DEFAULT_THROTTLE_WAIT,
    }
}

/// The engine's error of a GraphQL reply's top-level `errors`, or `None` when it has none.
pub fn graphql_error(reply: &Value) -> Option<MarketplaceError> {
    let errors = reply.get("errors")?;
    let list = match errors {
        Value::Array(list) if !list.is_empty() => list.clone(),
        Value::Array(_) | Value::Null => return None,
        // The REST-style form `{"errors": "..."}` / `{"errors": {...}}`.
        other => vec![json!({ "message": other.to_string() })],
    };
    let code = |error: &Value| {
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let message = list
        .iter()
        .map(|error| {
            let text = error["message"].as_str().unwrap_or("(no message)");
            match code(error).as_str() {
                "" => text.to_string(),
                code => format!("{code}: {text}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
        .chars()
        .take(300)
        .collect::<String>();
    let codes: Vec<String> = list.iter().map(code).collect();
    let has = |wanted: &str| codes.iter().any(|code| code == wanted);
    Some(if has("THROTTLED") {
        MarketplaceError::Throttled {
            retry_after: Some(throttle_wait(reply)),
        }
    } else if has("ACCESS_DENIED") || has("UNAUTHORIZED") {
        MarketplaceError::Permanent {
            kind: PermanentKind::Auth,
            message,
        }
    } else if has("INTERNAL_SERVER_ERROR") || has("SERVICE_UNAVAILABLE") {
        MarketplaceError::Transient(message)
    } else {
        invalid(format!("Shopify refused the query: {message}"))
    })
}

/// The engine's error of a non-2xx reply: a GraphQL `THROTTLED` body (Shopify may send it with
/// 429) is a throttle with the cost-based wait, at least `Retry-After`; anything else by status.
fn http_error(status: StatusCode, headers: &HeaderMap, body: &str) -> MarketplaceError {
    if let Ok(reply) = serde_json::from_str::<Value>(body) {
        if let Some(MarketplaceError::Throttled { retry_after: wait }) = graphql_error(&reply) {
            let header = retry_after(headers);
            return MarketplaceError::Throttled {
                retry_after: wait.max(header),
            };
        }
    }
    match status_error(status, headers, body) {
        MarketplaceError::Throttled { retry_after: None } => MarketplaceError::Throttled {
            retry_after: Some(DEFAULT_THROTTLE_WAIT),
        },
        other => other,
    }
}

impl ShopifyConnector {
    /// Runs one GraphQL operation; `Ok` is the reply's `data` (an object).
    async fn graphql(&self, query: &str, variables: Value) -> Result<Value, MarketplaceError> {
        let reply = self
            .http
            .post(
                self.config
                    .url(&format!("/admin/api/{API_VERSION}/graphql.json")),
            )
            .header(TOKEN_HEADER, self.config.credential.expose())
            .header("Accept", "application/json")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|error| send_error(&error))?;
        let status = reply.status();
        let headers = reply.headers().clone();
        let body = reply.text().await.map_err(|error| send_error(&error))?;
        if !status.is_success() {
            return Err(http_error(status, &headers, &body));
        }
        let reply: Value = serde_json::from_str(&body)
            .map_err(|error| invalid(format!("unexpected Shopify reply (not JSON): {error}")))?;
        if let Some(error) = graphql_error(&reply) {
            return Err(error);
        }
        match reply.get("data") {
            Some(data @ Value::Object(_)) => Ok(data.clone()),
            _ => Err(invalid("unexpected Shopify reply: no data")),
        }
    }

    /// The inventory item of `sku`: its listing reference (a gid, or a bare id made one).
    fn item_of(&self, sku: &Sku) -> Option<String> {
        self.config
            .listings
            .get(sku)
            .map(|listing| gid("InventoryItem", &listing))
    }

    /// Pushes at most 250 items, sending again without the items Shopify refused.
    async fn push_chunk(
        &self,
        mut pending: Vec<Sent>,
    ) -> Result<Vec<PushOutcome>, MarketplaceError> {
        let mut outcomes = Vec::with_capacity(pending.len());
        for _ in 0..MAX_ROUNDS {
            if pending.is_empty() {
                return Ok(outcomes);
            }
            let variables = json!({
                "key": idempotency_key(&self.location, &pending),
                "input": set_input(&self.location, &pending),
            });
            let data = self.graphql(SET_MUTATION, variables).await?;
            match set_result(&data, &pending)? {
                SetResult::Applied(applied) => {
                    outcomes.extend(applied);
                    return Ok(outcomes);
                }
                SetResult::Refused(refused) => {
                    let mut stale = Vec::new();
                    let mut kept = Vec::new();
                    for (index, sent) in pending.into_iter().enumerate() {
                        match refused.get(&index) {
                            None => kept.push(sent),
                            Some(Refusal::Stale) => stale.push(sent.item.sku),
                            Some(Refusal::Failed(error)) => outcomes.push(PushOutcome::Failed {
                                sku: sent.item.sku,
                                error: error.clone(),
                            }),
                        }
                    }
                    if refused.is_empty() {
                        // Refused without naming an item: nothing to leave out, nothing to retry.
                        return Err(invalid(
                            "Shopify refused inventorySetQuantities without naming an item",
                        ));
                    }
                    outcomes.extend(self.stale_outcomes(stale).await);
                    pending = kept;
                }
            }
        }
        for sent in pending {
            outcomes.push(PushOutcome::Failed {
                sku: sent.item.sku,
                error: MarketplaceError::Transient(
                    "not applied: Shopify refused the call for other items".into(),
                ),
            });
        }
        Ok(outcomes)
    }

    /// `Stale` for each SKU, with what the listing shows when a read-back tells (the mutation's
    /// reply does not say).
    async fn stale_outcomes(&self, skus: Vec<Sku>) -> Vec<PushOutcome> {
        if skus.is_empty() {
            return Vec::new();
        }
        let actual: HashMap<Sku, u32> = match self.read_quantities(skus.clone()).await {
            Ok(listed) => listed
                .into_iter()
                .map(|listed| (listed.sku, listed.quantity))
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "reading back stale Shopify listings failed");
                HashMap::new()
            }
        };
        skus.into_iter()
            .map(|sku| PushOutcome::Stale {
                actual: actual.get(&sku).copied(),
                sku,
            })
            .collect()
    }
}

impl Marketplace for ShopifyConnector {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    fn push_quantities(&self, items: Vec<PushItem>) -> MarketFuture<Vec<PushOutcome>> {
        let this = self.clone();
        Box::pin(async move {
            let mut outcomes = Vec::with_capacity(items.len());
            let mut sendable = Vec::with_capacity(items.len());
            for item in items {
                match this.item_of(&item.sku) {
                    Some(inventory_item) => sendable.push(Sent {
                        inventory_item,
                        item,
                    }),
                    None => outcomes.push(PushOutcome::Failed {
                        error: MarketplaceError::Permanent {
                            kind: PermanentKind::NotFound,
                            message: format!("no Shopify inventory item is mapped to {}", item.sku),
                        },
                        sku: item.sku,
                    }),
                }
            }
            // The engine sends at most 250; more are sent in several calls rather than refused.
            let mut chunks = Vec::new();
            while sendable.len() > MAX_BATCH {
                let rest = sendable.split_off(MAX_BATCH);
                chunks.push(std::mem::replace(&mut sendable, rest));
            }
            chunks.push(sendable);
            for chunk in chunks {
                outcomes.extend(this.push_chunk(chunk).await?);
            }
            Ok(outcomes)
        })
    }

    fn read_quantities(&self, skus: Vec<Sku>) -> MarketFuture<Vec<ListedQuantity>> {
        let this = self.clone();
        Box::pin(async move {
            let mut mapped = Vec::with_capacity(skus.len());
            for sku in skus {
                match this.item_of(&sku) {
                    Some(item) => mapped.push((sku, item)),
                    None => tracing::warn!(%sku, "no Shopify inventory item is mapped; not read"),
                }
            }
            let mut listed = Vec::with_capacity(mapped.len());
            for chunk in mapped.chunks(MAX_BATCH) {
                let ids: Vec<&str> = chunk.iter().map(|(_, item)| item.as_str()).collect();
                let data = this
                    .graphql(READ_QUERY, json!({ "ids": ids, "location": this.location }))
                    .await?;
                let levels = read_levels(&data)?;
                for (sku, item) in chunk {
                    match levels.get(item) {
                        Some(quantity) => listed.push(ListedQuantity {
                            sku: sku.clone(),
                            quantity: *quantity,
                        }),
                        None => {
                            tracing::warn!(%sku, "Shopify shows no available quantity at the location")
                        }
                    }
                }
            }
            Ok(listed)
        })
    }

    fn fetch_orders(&self, cursor: Option<String>) -> MarketFuture<OrderPage> {
        let this = self.clone();
        Box::pin(async move {
            let position = match cursor.as_deref() {
                Some(text) => Cursor::parse(text)?,
                None => Cursor {
                    since: this.started,
                    after: None,
                },
            };
            let first = this.orders_per_page;
            let query = ORDERS_QUERY.replace("{LINES}", &LINES_PER_ORDER.to_string());
            let data = this
                .graphql(
                    &query,
                    json!({
                        "first": first,
                        "after": position.after,
                        "query": format!("updated_at:>='{}'", crate::timestamp::rfc3339(position.since)),
                    }),
                )
                .await?;
            let mut reply = orders_reply(&data)?;
            for order in &mut reply.orders {
                let mut after = order.more_lines.take();
                while let Some(cursor) = after {
                    let data = this
                        .graphql(
                            MORE_LINES_QUERY,
                            json!({ "id": order.gid, "after": cursor }),
                        )
                        .await?;
                    let (lines, next) = more_lines(&data)?;
                    if lines.is_empty() && next.is_some() {
                        return Err(invalid("Shopify paged an order's line items without lines"));
                    }
                    order.lines.extend(lines);
                    after = next;
                }
            }
            Ok(order_page(reply, &position))
        })
    }

    fn lists(&self, sku: &Sku) -> bool {
        self.config.listings.contains(sku)
    }
}

#[cfg(test)]
mod tests;
