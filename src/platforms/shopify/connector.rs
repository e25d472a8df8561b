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

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shelfsync_actors::channel::intake::{OrderIntake, UnusableOrder};
use shelfsync_actors::channel::marketplace::{
    ListedQuantity, MarketFuture, Marketplace, MarketplaceError, OrderEvent, OrderEventKind,
    OrderPage, PermanentKind, PushItem, PushOutcome,
};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::inventory::exceptions::{bounded_text, UnapplicableReason};

use crate::platforms::connector::{
    parse_sku, retry_after, send_error, shown_quantity, status_error, ConnectorConfig,
    ConnectorError,
};
use crate::platforms::Platform;

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

/// One item of a push with its inventory item.
#[derive(Debug, Clone)]
struct Sent {
    inventory_item: String,
    item: PushItem,
}

/// `InventorySetQuantitiesInput` for `sent` at `location`.
fn set_input(location: &str, sent: &[Sent]) -> Value {
    let quantities: Vec<Value> = sent
        .iter()
        .map(|sent| {
            json!({
                "inventoryItemId": sent.inventory_item,
                "locationId": location,
                "quantity": sent.item.quantity,
                // Mandatory from 2026-04; null means "never confirmed: no check".
                "changeFromQuantity": sent.item.previous,
            })
        })
        .collect();
    json!({ "name": "available", "reason": "correction", "quantities": quantities })
}

/// The `@idempotent` key of a call: the same for the same input (a retry), another for any other.
fn idempotency_key(location: &str, sent: &[Sent]) -> String {
    let mut hash = Sha256::new();
    hash.update(location.as_bytes());
    for sent in sent {
        let previous = sent
            .item
            .previous
            .map_or_else(|| "-".to_string(), |p| p.to_string());
        hash.update(
            format!(
                "\n{}\t{}\t{}\t{}\t{}",
                sent.inventory_item,
                sent.item.sku,
                sent.item.quantity,
                previous,
                sent.item.ledger_seq
            )
            .as_bytes(),
        );
    }
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("shelfsync-{hex}")
}

/// Why Shopify refused one item of a call.
#[derive(Debug, Clone, PartialEq)]
enum Refusal {
    Stale,
    Failed(MarketplaceError),
}

/// What became of one `inventorySetQuantities` call.
#[derive(Debug, Clone, PartialEq)]
enum SetResult {
    /// Applied: an outcome per item.
    Applied(Vec<PushOutcome>),
    /// Refused as a whole: the refusal of each item named (by index), the others not applied.
    Refused(HashMap<usize, Refusal>),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetPayload {
    inventory_adjustment_group: Option<AdjustmentGroup>,
    #[serde(default)]
    user_errors: Vec<UserError>,
}

#[derive(Debug, Deserialize)]
struct AdjustmentGroup {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    name: String,
    quantity_after_change: Option<i64>,
    item: Option<ChangeItem>,
}

#[derive(Debug, Deserialize)]
struct ChangeItem {
    id: String,
}

#[derive(Debug, Deserialize)]
struct UserError {
    code: Option<String>,
    field: Option<Vec<String>>,
    message: Option<String>,
}

/// Reads the mutation's payload for the items `sent`, in order.
fn set_result(data: &Value, sent: &[Sent]) -> Result<SetResult, MarketplaceError> {
    let payload: SetPayload = serde_json::from_value(data["inventorySetQuantities"].clone())
        .map_err(|error| {
            invalid(format!(
                "unexpected Shopify inventorySetQuantities reply: {error}"
            ))
        })?;
    if !payload.user_errors.is_empty() {
        let mut refused = HashMap::new();
        for error in payload.user_errors {
            let code = error.code.unwrap_or_default();
            let message = error.message.unwrap_or_default();
            // `field` is ["input", "quantities", "<index>", ...] for an item's error.
            let index = error.field.as_deref().and_then(|field| match field {
                [_, quantities, index, ..] if quantities == "quantities" => index.parse().ok(),
                _ => None,
            });
            let refusal = match code.as_str() {
                "CHANGE_FROM_QUANTITY_STALE" | "COMPARE_QUANTITY_STALE" => Refusal::Stale,
                "INVALID_INVENTORY_ITEM" => Refusal::Failed(MarketplaceError::Permanent {
                    kind: PermanentKind::NotFound,
                    message: format!("{code}: {message}"),
                }),
                _ => Refusal::Failed(invalid(format!("{code}: {message}"))),
            };
            match index {
                Some(index) if index < sent.len() => {
                    refused.insert(index, refusal);
                }
                // An error of the whole input (name, reason) would refuse every retry too.
                _ => {
                    return Err(invalid(format!(
                        "Shopify refused inventorySetQuantities: {code}: {message}"
                    )))
                }
            }
        }
        return Ok(SetResult::Refused(refused));
    }
    let Some(group) = payload.inventory_adjustment_group else {
        return Err(invalid(
            "unexpected Shopify reply: neither an adjustment group nor user errors",
        ));
    };
    let after: HashMap<String, i64> = group
        .changes
        .into_iter()
        .filter(|change| change.name == "available")
        .filter_map(|change| Some((change.item?.id, change.quantity_after_change?)))
        .collect();
    Ok(SetResult::Applied(
        sent.iter()
            .map(|sent| PushOutcome::Confirmed {
                sku: sent.item.sku.clone(),
                quantity: after
                    .get(&sent.inventory_item)
                    .map_or(sent.item.quantity, |quantity| shown_quantity(*quantity)),
            })
            .collect(),
    ))
}

/// The available quantity of each inventory item of a `nodes` read (items Shopify does not know,
/// or not stocked at the location, are absent).
fn read_levels(data: &Value) -> Result<HashMap<String, u32>, MarketplaceError> {
    let Some(nodes) = data["nodes"].as_array() else {
        return Err(invalid("unexpected Shopify reply: no nodes"));
    };
    let mut levels = HashMap::new();
    for node in nodes {
        let Some(id) = node["id"].as_str() else {
            continue;
        };
        let quantity = node["inventoryLevel"]["quantities"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|quantity| quantity["name"] == "available")
            .and_then(|quantity| quantity["quantity"].as_i64());
        if let Some(quantity) = quantity {
            levels.insert(id.to_string(), shown_quantity(quantity));
        }
    }
    Ok(levels)
}

/// A position in the order feed (see the module doc for the text form).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    since: DateTime<Utc>,
    after: Option<String>,
}

fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, MarketplaceError> {
        let (since, after) = match text.split_once('|') {
            Some((since, after)) if !after.is_empty() => (since, Some(after.to_string())),
            Some(_) => return Err(bad_cursor(text)),
            None => (text, None),
        };
        let since = DateTime::parse_from_rfc3339(since)
            .map_err(|_| bad_cursor(text))?
            .with_timezone(&Utc);
        Ok(Cursor { since, after })
    }

    fn text(&self) -> String {
        match &self.after {
            Some(after) => format!("{}|{after}", time_text(self.since)),
            None => time_text(self.since),
        }
    }
}

fn bad_cursor(text: &str) -> MarketplaceError {
    invalid(format!(
        "the stored Shopify cursor {text:?} is not `<RFC 3339 time>[|<endCursor>]`"
    ))
}

/// One order line: the SKU as written (Shopify allows none) and the ordered quantity.
type Line = (Option<String>, i64);

/// A page of an order's lines and the cursor of more, when more wait.
type LinesPage = (Vec<Line>, Option<String>);

/// One order as polling or a webhook shows it.
#[derive(Debug, Clone, PartialEq)]
struct ShopifyOrder {
    gid: String,
    id: String,
    updated_at: Option<DateTime<Utc>>,
    cancelled: bool,
    /// (SKU as written, ordered quantity), in the order's line order.
    lines: Vec<Line>,
    /// The end cursor of the line items when more lines wait.
    more_lines: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct OrdersReply {
    orders: Vec<ShopifyOrder>,
    has_next: bool,
    end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlOrders {
    edges: Vec<GqlEdge>,
    page_info: GqlPageInfo,
}

#[derive(Debug, Deserialize)]
struct GqlEdge {
    node: GqlOrder,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlPageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlOrder {
    id: String,
    legacy_resource_id: String,
    updated_at: String,
    cancelled_at: Option<String>,
    line_items: GqlLines,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlLines {
    nodes: Vec<GqlLine>,
    page_info: GqlPageInfo,
}

#[derive(Debug, Deserialize)]
struct GqlLine {
    sku: Option<String>,
    quantity: i64,
}

fn lines_of(lines: GqlLines) -> LinesPage {
    let more = if lines.page_info.has_next_page {
        lines.page_info.end_cursor
    } else {
        None
    };
    (
        lines
            .nodes
            .into_iter()
            .map(|line| (line.sku, line.quantity))
            .collect(),
        more,
    )
}

/// Reads the `orders` connection of a poll.
fn orders_reply(data: &Value) -> Result<OrdersReply, MarketplaceError> {
    let reply: GqlOrders = serde_json::from_value(data["orders"].clone())
        .map_err(|error| invalid(format!("unexpected Shopify orders reply: {error}")))?;
    let mut orders = Vec::with_capacity(reply.edges.len());
    for edge in reply.edges {
        let order = edge.node;
        let updated_at = DateTime::parse_from_rfc3339(&order.updated_at)
            .map_err(|_| {
                invalid(format!(
                    "Shopify order {} has updatedAt {:?}, not RFC 3339",
                    order.legacy_resource_id, order.updated_at
                ))
            })?
            .with_timezone(&Utc);
        let (lines, more_lines) = lines_of(order.line_items);
        orders.push(ShopifyOrder {
            gid: order.id,
            id: order.legacy_resource_id,
            updated_at: Some(updated_at),
            cancelled: order.cancelled_at.is_some(),
            lines,
            more_lines,
        });
    }
    if reply.page_info.has_next_page && reply.page_info.end_cursor.is_none() {
        return Err(invalid(
            "Shopify says more orders wait but gives no end cursor",
        ));
    }
    Ok(OrdersReply {
        orders,
        has_next: reply.page_info.has_next_page,
        end_cursor: reply.page_info.end_cursor,
    })
}

/// Reads the follow-up page of one order's lines: the lines and the cursor of more.
fn more_lines(data: &Value) -> Result<LinesPage, MarketplaceError> {
    let lines: GqlLines = serde_json::from_value(data["order"]["lineItems"].clone())
        .map_err(|error| invalid(format!("unexpected Shopify order lines reply: {error}")))?;
    Ok(lines_of(lines))
}

/// The event version of a line's sale.
const PLACED: &str = "placed";
/// The event version of a line's cancellation.
const CANCELLED: &str = "cancelled";

/// The events of one order line (1-based `line`, its position in the order): a sale, and a
/// cancellation once the order is cancelled. Polling and webhooks both build events here, so the
/// same order gives the same events (and ledger keys) whichever way it arrives.
fn line_events(
    order_id: &str,
    line: u32,
    sku: &Sku,
    quantity: u32,
    cancelled: bool,
) -> Vec<OrderEvent> {
    let event = |kind, version: &str| OrderEvent {
        external_order_id: order_id.to_string(),
        line,
        version: version.to_string(),
        sku: sku.clone(),
        kind,
        quantity,
    };
    let mut events = vec![event(OrderEventKind::Sale, PLACED)];
    if cancelled {
        events.push(event(OrderEventKind::Cancel, CANCELLED));
    }
    events
}

/// The events of one polled order: a sale per line, and a cancellation per line once cancelled.
fn order_events(order: &ShopifyOrder) -> Vec<OrderEvent> {
    let mut events = Vec::new();
    for (index, (sku, quantity)) in order.lines.iter().enumerate() {
        let Some(sku) = parse_sku(Platform::Shopify, sku.as_deref().unwrap_or_default()) else {
            continue;
        };
        let Ok(quantity) = u32::try_from(*quantity) else {
            tracing::warn!(order = %order.id, "an order line has a negative quantity; skipped");
            continue;
        };
        events.extend(line_events(
            &order.id,
            index as u32 + 1,
            &sku,
            quantity,
            order.cancelled,
        ));
    }
    events
}

/// The page of events of a poll from `position`; the next cursor continues the paging while
/// Shopify has more, else it is the latest `updatedAt` seen (never before the one asked from).
fn order_page(reply: OrdersReply, position: &Cursor) -> OrderPage {
    let latest = reply
        .orders
        .iter()
        .filter_map(|order| order.updated_at)
        .fold(position.since, DateTime::max);
    let events = reply.orders.iter().flat_map(order_events).collect();
    let next = match (reply.has_next, reply.end_cursor) {
        (true, Some(end)) => Cursor {
            since: position.since,
            after: Some(end),
        },
        _ => Cursor {
            since: latest,
            after: None,
        },
    };
    OrderPage {
        events,
        next_cursor: next.text(),
        more: reply.has_next,
        skipped: false,
    }
}

/// Whether `hmac_header` (`X-Shopify-Hmac-Sha256`) is the base64 HMAC-SHA256 of the raw body
/// keyed with the app's client secret (§1.2); compared in constant time. The MAC is computed over
/// the whole body before the header is even decoded, so an empty or malformed header costs what
/// a wrong one costs: an unauthenticated caller must not tell the cases apart by timing.
pub fn verify_webhook(secret: &[u8], raw_body: &[u8], hmac_header: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(raw_body);
    let claimed = base64::engine::general_purpose::STANDARD
        .decode(hmac_header.trim())
        .unwrap_or_default();
    mac.verify_slice(&claimed).is_ok()
}

/// Why a webhook delivery gives no order intake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A topic other than `orders/create` and `orders/cancelled` (acknowledge and ignore).
    #[error("webhook topic {0:?} is not handled")]
    UnsupportedTopic(String),
}

/// The longest piece of a line (a SKU, a quantity) quoted in an exception's detail.
const QUOTED_BYTES: usize = 40;

/// What an `orders/create` or `orders/cancelled` webhook body (the REST order JSON) tells:
/// the same events a poll gives for the same order (an order whose body shows `cancelled_at`
/// carries its cancellations whatever the topic, as a poll would), and everything that cannot be
/// an event, each with its reason: a body that is not an order object, an order without an id or
/// without line items, a line without SKU or with one the ledger does not accept, a quantity that
/// is negative, not an integer or above `u32` (zero and quantities above the ledger's bound are
/// events the ledger refuses, recorded the same way by the intake). Nothing is dropped: the
/// service records each problem as an order exception and acknowledges the delivery. Details
/// quote at most a short, cleaned piece of a line, never the body.
pub fn webhook_events(topic: &str, raw_body: &[u8]) -> Result<OrderIntake, WebhookError> {
    if !matches!(topic, "orders/create" | "orders/cancelled") {
        return Err(WebhookError::UnsupportedTopic(topic.to_string()));
    }
    let whole = |reason, order_id: Option<String>, detail: String| OrderIntake {
        unusable: vec![UnusableOrder {
            order_id,
            line: None,
            version: None,
            sku: None,
            quantity: None,
            reason,
            detail,
        }],
        ..OrderIntake::default()
    };
    let order = match serde_json::from_slice::<Value>(raw_body) {
        Ok(Value::Object(order)) => order,
        Ok(_) => {
            let detail = "the body is JSON but not an order object".to_string();
            return Ok(whole(UnapplicableReason::NotAnOrder, None, detail));
        }
        Err(error) => {
            let detail = format!(
                "the body is not JSON ({:?} error at line {}, column {})",
                error.classify(),
                error.line(),
                error.column()
            );
            return Ok(whole(UnapplicableReason::NotAnOrder, None, detail));
        }
    };
    let id = match order.get("id") {
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) if !text.is_empty() => text.clone(),
        _ => {
            let detail = "the order has no id".to_string();
            return Ok(whole(UnapplicableReason::InvalidOrderId, None, detail));
        }
    };
    let lines = match order.get("line_items") {
        Some(Value::Array(lines)) if !lines.is_empty() => lines,
        Some(Value::Array(_) | Value::Null) | None => {
            let detail = "the order has no line items".to_string();
            return Ok(whole(UnapplicableReason::NoLines, Some(id), detail));
        }
        Some(_) => {
            let detail = "line_items is not a list".to_string();
            return Ok(whole(UnapplicableReason::NotAnOrder, Some(id), detail));
        }
    };
    let cancelled = order
        .get("cancelled_at")
        .is_some_and(|cancelled_at| !cancelled_at.is_null());
    let mut intake = OrderIntake::default();
    for (index, line) in lines.iter().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        match usable_line(number, line) {
            Ok((sku, quantity)) => {
                intake
                    .events
                    .extend(line_events(&id, number, &sku, quantity, cancelled));
            }
            Err(mut unusable) => {
                unusable.order_id = Some(id.clone());
                intake.unusable.push(unusable);
            }
        }
    }
    Ok(intake)
}

/// The SKU and quantity of a webhook line item, or why it cannot be an event (order id left for
/// the caller to fill in).
fn usable_line(number: u32, line: &Value) -> Result<(Sku, u32), UnusableOrder> {
    let unusable = |reason, sku: Option<&str>, quantity, detail| UnusableOrder {
        order_id: None,
        line: Some(number),
        version: Some(PLACED.to_string()),
        sku: sku.map(str::to_string),
        quantity,
        reason,
        detail,
    };
    let quoted = |value: &Value| bounded_text(&value.to_string(), QUOTED_BYTES);
    let sku_text = match line.get("sku") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.as_str(),
        None | Some(Value::Null | Value::String(_)) => {
            let detail = format!("line {number} has no SKU");
            return Err(unusable(UnapplicableReason::MissingSku, None, None, detail));
        }
        Some(other) => {
            let detail = format!("line {number}: SKU {} is not text", quoted(other));
            return Err(unusable(UnapplicableReason::InvalidSku, None, None, detail));
        }
    };
    let sku = Sku::parse(sku_text).map_err(|error| {
        let detail = format!(
            "line {number}: SKU {:?} is not one the ledger accepts ({})",
            bounded_text(sku_text, QUOTED_BYTES),
            error.kind()
        );
        unusable(UnapplicableReason::InvalidSku, Some(sku_text), None, detail)
    })?;
    let quantity = line.get("quantity").unwrap_or(&Value::Null);
    let counted = quantity.as_i64();
    match counted.map(u32::try_from) {
        Some(Ok(units)) => Ok((sku, units)),
        _ => {
            let detail = format!(
                "line {number}: quantity {} is not a count of units",
                quoted(quantity)
            );
            Err(unusable(
                UnapplicableReason::QuantityOutOfRange,
                Some(sku_text),
                counted,
                detail,
            ))
        }
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
                        "query": format!("updated_at:>='{}'", time_text(position.since)),
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
mod tests {
    use super::*;

    fn sku(text: &str) -> Sku {
        Sku::parse(text).unwrap()
    }

    fn sent(text: &str, item: &str, quantity: u32, previous: Option<u32>) -> Sent {
        Sent {
            inventory_item: item.to_string(),
            item: PushItem {
                sku: sku(text),
                quantity,
                previous,
                ledger_seq: 7,
            },
        }
    }

    #[test]
    fn the_input_carries_change_from_on_every_quantity_and_the_key_follows_the_input() {
        let items = [
            sent("SKU-1", "gid://shopify/InventoryItem/1", 3, Some(5)),
            sent("SKU-2", "gid://shopify/InventoryItem/2", 4, None),
        ];
        let input = set_input("gid://shopify/Location/9", &items);
        assert_eq!(input["name"], "available");
        assert_eq!(input["reason"], "correction");
        assert_eq!(input["quantities"][0]["changeFromQuantity"], 5);
        assert!(input["quantities"][1]
            .as_object()
            .unwrap()
            .contains_key("changeFromQuantity"));
        assert_eq!(input["quantities"][1]["changeFromQuantity"], Value::Null);
        assert_eq!(
            input["quantities"][1]["locationId"],
            "gid://shopify/Location/9"
        );
        let key = idempotency_key("L", &items);
        assert_eq!(key, idempotency_key("L", &items), "a retry reuses the key");
        let mut other = items.clone();
        other[0].item.ledger_seq = 8;
        assert_ne!(key, idempotency_key("L", &other));
        other = items.clone();
        other[1].item.previous = Some(4);
        assert_ne!(key, idempotency_key("L", &other));
    }

    #[test]
    fn an_applied_group_confirms_quantity_after_change() {
        let items = [
            sent("SKU-1", "gid://shopify/InventoryItem/1", 3, Some(5)),
            sent("SKU-2", "gid://shopify/InventoryItem/2", 4, None),
        ];
        let data = json!({ "inventorySetQuantities": {
            "inventoryAdjustmentGroup": { "changes": [
                { "name": "available", "quantityAfterChange": 3, "item": { "id": "gid://shopify/InventoryItem/1" } },
                { "name": "on_hand", "quantityAfterChange": 99, "item": { "id": "gid://shopify/InventoryItem/1" } },
            ]},
            "userErrors": [],
        }});
        assert_eq!(
            set_result(&data, &items).unwrap(),
            SetResult::Applied(vec![
                PushOutcome::Confirmed {
                    sku: sku("SKU-1"),
                    quantity: 3
                },
                PushOutcome::Confirmed {
                    sku: sku("SKU-2"),
                    quantity: 4
                },
            ])
        );
    }

    #[test]
    fn user_errors_name_the_refused_items() {
        let items = [
            sent("SKU-1", "gid://shopify/InventoryItem/1", 3, Some(5)),
            sent("SKU-2", "gid://shopify/InventoryItem/2", 4, Some(1)),
            sent("SKU-3", "gid://shopify/InventoryItem/3", 4, None),
        ];
        let data = json!({ "inventorySetQuantities": {
            "inventoryAdjustmentGroup": null,
            "userErrors": [
                { "code": "CHANGE_FROM_QUANTITY_STALE", "field": ["input", "quantities", "1", "changeFromQuantity"], "message": "stale" },
                { "code": "INVALID_INVENTORY_ITEM", "field": ["input", "quantities", "2", "inventoryItemId"], "message": "gone" },
            ],
        }});
        let SetResult::Refused(refused) = set_result(&data, &items).unwrap() else {
            panic!("refused");
        };
        assert_eq!(refused.len(), 2);
        assert_eq!(refused[&1], Refusal::Stale);
        assert!(matches!(&refused[&2], Refusal::Failed(error) if error.kind() == "not_found"));
        let whole = json!({ "inventorySetQuantities": { "inventoryAdjustmentGroup": null,
            "userErrors": [{ "code": "INVALID_REASON", "field": ["input", "reason"], "message": "x" }] } });
        assert_eq!(set_result(&whole, &items).unwrap_err().kind(), "invalid");
        assert_eq!(
            set_result(&json!({ "inventorySetQuantities": 5 }), &items)
                .unwrap_err()
                .kind(),
            "invalid",
            "a malformed reply is an error, not a panic"
        );
    }

    #[test]
    fn a_throttle_waits_for_the_missing_points() {
        let reply = json!({
            "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED" } }],
            "extensions": { "cost": { "requestedQueryCost": 752, "actualQueryCost": null,
                "throttleStatus": { "maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0 } } },
        });
        assert_eq!(
            graphql_error(&reply),
            Some(MarketplaceError::Throttled {
                retry_after: Some(Duration::from_secs_f64(86.0 / 50.0))
            })
        );
        let bare = json!({ "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED" } }] });
        assert_eq!(
            graphql_error(&bare),
            Some(MarketplaceError::Throttled {
                retry_after: Some(Duration::from_secs(1))
            })
        );
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3.0".parse().unwrap());
        assert_eq!(
            http_error(StatusCode::TOO_MANY_REQUESTS, &headers, &reply.to_string()),
            MarketplaceError::Throttled {
                retry_after: Some(Duration::from_secs(3))
            },
            "a 429 throttle waits at least Retry-After"
        );
        assert_eq!(
            http_error(
                StatusCode::UNAUTHORIZED,
                &HeaderMap::new(),
                "{\"errors\":\"[API] Invalid\"}"
            )
            .kind(),
            "auth"
        );
        assert_eq!(
            graphql_error(&json!({ "errors": [{ "message": "x", "extensions": { "code": "MAX_COST_EXCEEDED" } }] }))
                .unwrap()
                .kind(),
            "invalid"
        );
        assert_eq!(graphql_error(&json!({ "data": {} })), None);
    }

    #[test]
    fn levels_are_read_by_inventory_item() {
        let data = json!({ "nodes": [
            { "id": "gid://shopify/InventoryItem/1", "inventoryLevel": { "quantities": [{ "name": "available", "quantity": 7 }] } },
            { "id": "gid://shopify/InventoryItem/2", "inventoryLevel": null },
            null,
        ]});
        let levels = read_levels(&data).unwrap();
        assert_eq!(levels.len(), 1);
        assert_eq!(levels["gid://shopify/InventoryItem/1"], 7);
        assert!(read_levels(&json!({})).is_err());
    }

    fn order(id: &str, updated: &str, cancelled: bool) -> Value {
        json!({ "cursor": format!("c-{id}"), "node": {
            "id": format!("gid://shopify/Order/{id}"), "legacyResourceId": id, "updatedAt": updated,
            "cancelledAt": if cancelled { json!(updated) } else { Value::Null },
            "lineItems": { "nodes": [{ "sku": "ACME-MUG", "quantity": 2 }, { "sku": null, "quantity": 1 }, { "sku": "ACME-CAP", "quantity": 1 }],
                           "pageInfo": { "hasNextPage": false, "endCursor": "l" } } } })
    }

    #[test]
    fn a_page_yields_sales_and_cancels_and_the_cursor_pages_then_advances() {
        let since = Cursor::parse("2026-05-01T00:00:00.000Z").unwrap();
        let data = json!({ "orders": {
            "edges": [order("11", "2026-05-01T00:00:01.500Z", false), order("12", "2026-05-01T00:00:02.250Z", true)],
            "pageInfo": { "hasNextPage": true, "endCursor": "abc=" } } });
        let page = order_page(orders_reply(&data).unwrap(), &since);
        let events: Vec<(&str, u32, OrderEventKind, &str)> = page
            .events
            .iter()
            .map(|e| {
                (
                    e.external_order_id.as_str(),
                    e.line,
                    e.kind,
                    e.version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            events,
            [
                ("11", 1, OrderEventKind::Sale, "placed"),
                ("11", 3, OrderEventKind::Sale, "placed"),
                ("12", 1, OrderEventKind::Sale, "placed"),
                ("12", 1, OrderEventKind::Cancel, "cancelled"),
                ("12", 3, OrderEventKind::Sale, "placed"),
                ("12", 3, OrderEventKind::Cancel, "cancelled"),
            ]
        );
        assert!(page.more);
        assert_eq!(page.next_cursor, "2026-05-01T00:00:00.000Z|abc=");
        let paging = Cursor::parse(&page.next_cursor).unwrap();
        assert_eq!(paging.after.as_deref(), Some("abc="));
        let last = json!({ "orders": { "edges": [order("13", "2026-05-01T00:00:03.000Z", false)],
            "pageInfo": { "hasNextPage": false, "endCursor": "def=" } } });
        let page = order_page(orders_reply(&last).unwrap(), &paging);
        assert!(!page.more);
        assert_eq!(page.next_cursor, "2026-05-01T00:00:03.000Z");
        let empty = json!({ "orders": { "edges": [], "pageInfo": { "hasNextPage": false, "endCursor": null } } });
        let page = order_page(orders_reply(&empty).unwrap(), &since);
        assert_eq!(
            page.next_cursor, "2026-05-01T00:00:00.000Z",
            "never goes back"
        );
        assert!(Cursor::parse("yesterday").is_err());
        assert!(Cursor::parse("2026-05-01T00:00:00.000Z|").is_err());
        assert!(orders_reply(&json!({ "orders": { "edges": [{}] } })).is_err());
    }

    fn webhook_body(cancelled: bool) -> Vec<u8> {
        json!({
            "id": 5500000000001u64, "admin_graphql_api_id": "gid://shopify/Order/5500000000001",
            "updated_at": "2026-05-01T00:00:01.500Z",
            "cancelled_at": if cancelled { json!("2026-05-01T00:00:01.500Z") } else { Value::Null },
            "line_items": [{ "id": 1, "sku": "ACME-MUG", "quantity": 2 }, { "id": 2, "sku": null, "quantity": 1 }, { "id": 3, "sku": "ACME-CAP", "quantity": 1 }],
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn webhooks_verify_and_give_the_events_of_a_poll() {
        let body = webhook_body(false);
        let header = crate::platforms::shopify::mock::sign("app-secret", &body);
        assert!(verify_webhook(b"app-secret", &body, &header));
        assert!(!verify_webhook(b"other-secret", &body, &header));
        let mut tampered = body.clone();
        tampered[5] ^= 1;
        assert!(!verify_webhook(b"app-secret", &tampered, &header));
        assert!(!verify_webhook(b"app-secret", &body, "not base64!"));
        assert!(!verify_webhook(b"app-secret", &body, ""));

        let created = webhook_events("orders/create", &body).unwrap();
        let cancelled = webhook_events("orders/cancelled", &webhook_body(true)).unwrap();
        let polled = order_page(
            orders_reply(&json!({ "orders": { "edges": [order("5500000000001", "2026-05-01T00:00:01.500Z", true)],
                "pageInfo": { "hasNextPage": false, "endCursor": null } } }))
            .unwrap(),
            &Cursor::parse("2026-05-01T00:00:00Z").unwrap(),
        );
        assert_eq!(
            cancelled.events, polled.events,
            "the same events as polling"
        );
        assert_eq!(created.events.len(), 2);
        assert_eq!(
            created.events[..],
            [polled.events[0].clone(), polled.events[2].clone()]
        );
        // The line without SKU is reported, not dropped.
        let missing: Vec<_> = created
            .unusable
            .iter()
            .map(|unusable| (unusable.order_id.as_deref(), unusable.line, unusable.reason))
            .collect();
        assert_eq!(
            missing,
            [(
                Some("5500000000001"),
                Some(2),
                UnapplicableReason::MissingSku
            )]
        );
        assert!(matches!(
            webhook_events("products/update", &body),
            Err(WebhookError::UnsupportedTopic(_))
        ));
    }

    /// The reason and line of each problem a body shows, in order.
    fn problems(body: Value) -> Vec<(Option<u32>, UnapplicableReason, Option<i64>)> {
        webhook_events("orders/create", body.to_string().as_bytes())
            .unwrap()
            .unusable
            .into_iter()
            .map(|unusable| (unusable.line, unusable.reason, unusable.quantity))
            .collect()
    }

    #[test]
    fn webhook_lines_that_cannot_be_events_are_reported_with_their_reason() {
        let order = |lines: Value| json!({ "id": 77, "line_items": lines });
        let line = |sku: Value, quantity: Value| json!({ "sku": sku, "quantity": quantity });
        use UnapplicableReason::*;
        let body = order(json!([
            line(json!("ACME-MUG"), json!(1)),
            line(json!(null), json!(1)),
            line(json!(""), json!(1)),
            line(json!("BAD\u{7}SKU"), json!(1)),
            line(json!(12), json!(1)),
            line(json!("ACME-MUG"), json!(-1)),
            line(json!("ACME-MUG"), json!(4_294_967_296u64)),
            line(json!("ACME-MUG"), json!(1.5)),
            line(json!("ACME-MUG"), json!("3")),
            json!({ "sku": "ACME-MUG" }),
            json!("not a line"),
        ]));
        assert_eq!(
            problems(body.clone()),
            [
                (Some(2), MissingSku, None),
                (Some(3), MissingSku, None),
                (Some(4), InvalidSku, None),
                (Some(5), InvalidSku, None),
                (Some(6), QuantityOutOfRange, Some(-1)),
                (Some(7), QuantityOutOfRange, Some(4_294_967_296)),
                (Some(8), QuantityOutOfRange, None),
                (Some(9), QuantityOutOfRange, None),
                (Some(10), QuantityOutOfRange, None),
                (Some(11), MissingSku, None),
            ]
        );
        let intake = webhook_events("orders/create", body.to_string().as_bytes()).unwrap();
        assert_eq!(intake.events.len(), 1, "the good line is still an event");
        // Zero is an event: the ledger refuses it, and the intake records that the same way.
        let zero = webhook_events(
            "orders/create",
            order(json!([line(json!("ACME-MUG"), json!(0))]))
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!((zero.events.len(), zero.unusable.len()), (1, 0));

        assert_eq!(problems(order(json!([]))), [(None, NoLines, None)]);
        assert_eq!(problems(json!({ "id": 77 })), [(None, NoLines, None)]);
        assert_eq!(problems(order(json!({}))), [(None, NotAnOrder, None)]);
        assert_eq!(
            problems(json!({ "line_items": [line(json!("A"), json!(1))] })),
            [(None, InvalidOrderId, None)]
        );
        assert_eq!(problems(json!([1, 2])), [(None, NotAnOrder, None)]);
        let garbage = webhook_events("orders/create", b"{\"id\": 1, secret stuff").unwrap();
        let detail = &garbage.unusable[0].detail;
        assert_eq!(garbage.unusable[0].reason, NotAnOrder);
        assert!(!detail.contains("secret"), "never the body: {detail}");
    }

    #[test]
    fn bare_ids_become_gids() {
        assert_eq!(
            gid("Location", "124656943"),
            "gid://shopify/Location/124656943"
        );
        assert_eq!(
            gid("InventoryItem", "gid://shopify/InventoryItem/5"),
            "gid://shopify/InventoryItem/5"
        );
    }
}
