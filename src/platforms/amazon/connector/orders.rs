//! The order feed's wire (§3.2): the durable cursor, the `getOrders` and `getOrderItems` replies,
//! and the events of an order's lines.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use shelfsync_actors::channel::marketplace::{MarketplaceError, OrderEvent, OrderEventKind};
use shelfsync_actors::ids::Sku;

use super::invalid;
use crate::timestamp::rfc3339;

/// A cursor of the order feed (see the module doc for its text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cursor {
    /// The window start, inclusive.
    pub(super) after: DateTime<Utc>,
    /// The next page of the window, when one is waiting.
    pub(super) next_token: Option<String>,
}

impl Cursor {
    pub(super) fn parse(text: &str) -> Result<Cursor, MarketplaceError> {
        let (time, token) = match text.split_once('|') {
            Some((time, token)) => (time, Some(token)),
            None => (text, None),
        };
        let after = DateTime::parse_from_rfc3339(time.trim())
            .map_err(|_| {
                invalid(format!(
                    "the stored Amazon cursor {text:?} does not start with an RFC 3339 time"
                ))
            })?
            .with_timezone(&Utc);
        Ok(Cursor {
            after,
            next_token: token.filter(|token| !token.is_empty()).map(str::to_string),
        })
    }

    pub(super) fn to_text(&self) -> String {
        match &self.next_token {
            Some(token) => format!("{}|{token}", rfc3339(self.after)),
            None => rfc3339(self.after),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct OrdersReply {
    pub(super) payload: OrdersPayload,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct OrdersPayload {
    #[serde(default)]
    pub(super) orders: Vec<AmazonOrder>,
    pub(super) next_token: Option<String>,
    pub(super) last_updated_before: Option<String>,
}

/// The reply of `getOrder`.
#[derive(Debug, Deserialize)]
pub(super) struct OrderReply {
    pub(super) payload: AmazonOrder,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AmazonOrder {
    pub(super) amazon_order_id: String,
    pub(super) order_status: String,
    pub(super) last_update_date: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ItemsReply {
    pub(super) payload: ItemsPayload,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ItemsPayload {
    #[serde(default)]
    pub(super) order_items: Vec<OrderItem>,
    pub(super) next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct OrderItem {
    #[serde(rename = "SellerSKU")]
    pub(super) seller_sku: Option<String>,
    #[serde(default)]
    pub(super) quantity_ordered: i64,
}

/// One order line in the engine's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub(super) line: u32,
    pub(super) sku: Sku,
    pub(super) quantity: u32,
}

/// The lines of `items` (all pages of one order, in order): a line is its 1-based position;
/// lines with a SKU the engine cannot take, or no units, are skipped.
pub(super) fn lines_of(items: &[OrderItem], sku_of: impl Fn(&str) -> Option<Sku>) -> Vec<Line> {
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let sku = sku_of(item.seller_sku.as_deref()?)?;
            let quantity = u32::try_from(item.quantity_ordered)
                .ok()
                .filter(|q| *q > 0)?;
            Some(Line {
                line: index as u32 + 1,
                sku,
                quantity,
            })
        })
        .collect()
}

/// The events of one order: a sale per line and, once `Canceled`, a cancellation per line.
pub(super) fn order_events(order: &AmazonOrder, lines: &[Line]) -> Vec<OrderEvent> {
    let cancelled = order.order_status == "Canceled";
    let mut events = Vec::new();
    for line in lines {
        let event = |kind, version: &str| OrderEvent {
            external_order_id: order.amazon_order_id.clone(),
            line: line.line,
            version: version.to_string(),
            sku: line.sku.clone(),
            kind,
            quantity: line.quantity,
        };
        events.push(event(OrderEventKind::Sale, "placed"));
        if cancelled {
            events.push(event(OrderEventKind::Cancel, "cancelled"));
        }
    }
    events
}

/// Where the feed goes on after `payload` read at `cursor`, and whether more is waiting: the
/// same window's next page, else the window's end (`LastUpdatedBefore`; without one, the latest
/// update seen, read again next time rather than skipped).
pub(super) fn next_cursor(
    cursor: &Cursor,
    payload: &OrdersPayload,
) -> Result<(Cursor, bool), MarketplaceError> {
    if let Some(token) = payload
        .next_token
        .as_ref()
        .filter(|token| !token.is_empty())
    {
        return Ok((
            Cursor {
                after: cursor.after,
                next_token: Some(token.clone()),
            },
            true,
        ));
    }
    let parse = |name: &str, text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| invalid(format!("unexpected Amazon orders reply: {name} {text:?}")))
    };
    let end = match &payload.last_updated_before {
        Some(before) => parse("LastUpdatedBefore", before)?,
        None => {
            let mut latest = cursor.after;
            for order in &payload.orders {
                if let Some(updated) = &order.last_update_date {
                    latest = latest.max(parse("LastUpdateDate", updated)?);
                }
            }
            latest
        }
    };
    Ok((
        Cursor {
            after: end.max(cursor.after),
            next_token: None,
        },
        false,
    ))
}
