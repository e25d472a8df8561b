//! The order feed's wire (§1.2): the durable cursor, the `orders` connection and an order's
//! further lines, and the events of an order line, which the webhook intake shares so that both
//! paths give the same events.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use shelfsync_actors::channel::marketplace::{MarketplaceError, OrderEvent, OrderPage};

use super::invalid;
use crate::platforms::connector::{line_events, parse_sku};
use crate::platforms::Platform;
use crate::timestamp::rfc3339;

/// A position in the order feed (see the module doc for the text form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cursor {
    pub(super) since: DateTime<Utc>,
    pub(super) after: Option<String>,
}

impl Cursor {
    pub(super) fn parse(text: &str) -> Result<Cursor, MarketplaceError> {
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

    pub(super) fn text(&self) -> String {
        match &self.after {
            Some(after) => format!("{}|{after}", rfc3339(self.since)),
            None => rfc3339(self.since),
        }
    }
}

fn bad_cursor(text: &str) -> MarketplaceError {
    invalid(format!(
        "the stored Shopify cursor {text:?} is not `<RFC 3339 time>[|<endCursor>]`"
    ))
}

/// One order line: the SKU as written (Shopify allows none) and the ordered quantity.
pub(super) type Line = (Option<String>, i64);

/// A page of an order's lines and the cursor of more, when more wait.
pub(super) type LinesPage = (Vec<Line>, Option<String>);

/// One order as polling or a webhook shows it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ShopifyOrder {
    pub(super) gid: String,
    pub(super) id: String,
    pub(super) updated_at: Option<DateTime<Utc>>,
    pub(super) cancelled: bool,
    /// (SKU as written, ordered quantity), in the order's line order.
    pub(super) lines: Vec<Line>,
    /// The end cursor of the line items when more lines wait.
    pub(super) more_lines: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct OrdersReply {
    pub(super) orders: Vec<ShopifyOrder>,
    pub(super) has_next: bool,
    pub(super) end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlOrders {
    pub(super) edges: Vec<GqlEdge>,
    pub(super) page_info: GqlPageInfo,
}

#[derive(Debug, Deserialize)]
pub(super) struct GqlEdge {
    pub(super) node: GqlOrder,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlPageInfo {
    pub(super) has_next_page: bool,
    pub(super) end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlOrder {
    pub(super) id: String,
    pub(super) legacy_resource_id: String,
    pub(super) updated_at: String,
    pub(super) cancelled_at: Option<String>,
    pub(super) line_items: GqlLines,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlLines {
    pub(super) nodes: Vec<GqlLine>,
    pub(super) page_info: GqlPageInfo,
}

#[derive(Debug, Deserialize)]
pub(super) struct GqlLine {
    pub(super) sku: Option<String>,
    pub(super) quantity: i64,
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
pub(super) fn orders_reply(data: &Value) -> Result<OrdersReply, MarketplaceError> {
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
pub(super) fn more_lines(data: &Value) -> Result<LinesPage, MarketplaceError> {
    let lines: GqlLines = serde_json::from_value(data["order"]["lineItems"].clone())
        .map_err(|error| invalid(format!("unexpected Shopify order lines reply: {error}")))?;
    Ok(lines_of(lines))
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
pub(super) fn order_page(reply: OrdersReply, position: &Cursor) -> OrderPage {
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
