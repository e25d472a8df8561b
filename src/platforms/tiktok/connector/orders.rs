//! TikTok Shop's orders as the engine's events (§6.2), and the order feed's cursor.

use serde::{Deserialize, Serialize};
use shelfsync_actors::channel::marketplace::{
    MarketplaceError, OrderEvent, OrderPage, PermanentKind,
};

use crate::platforms::connector::{line_events, parse_sku, ListingMap};
use crate::platforms::Platform;

/// The `data` of an order search or detail.
#[derive(Debug, Deserialize)]
pub(super) struct OrderList {
    #[serde(default)]
    pub(super) orders: Vec<TikTokOrder>,
    #[serde(default)]
    next_page_token: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct TikTokOrder {
    pub(super) id: String,
    status: String,
    update_time: i64,
    #[serde(default)]
    line_items: Vec<LineItem>,
}

#[derive(Debug, Deserialize)]
struct LineItem {
    #[serde(default)]
    product_id: String,
    #[serde(default)]
    sku_id: String,
    #[serde(default)]
    seller_sku: String,
    quantity: Option<u32>,
}

/// The events of one order: a sale per line item, and a cancellation per line once the order is
/// `CANCELLED` (see the connector's decisions). A line whose SKU cannot be told is skipped with a
/// warning, like every platform's.
pub(super) fn order_events(order: &TikTokOrder, listings: &ListingMap) -> Vec<OrderEvent> {
    let mut events = Vec::new();
    for (index, line) in order.line_items.iter().enumerate() {
        let sku = if line.seller_sku.is_empty() {
            listings.sku_of(&format!("{}:{}", line.product_id, line.sku_id))
        } else {
            parse_sku(Platform::TikTok, &line.seller_sku)
        };
        let Some(sku) = sku else {
            tracing::warn!(order = %order.id, line = index + 1, "a TikTok Shop line item names no SKU the channel knows; skipped");
            continue;
        };
        let quantity = line.quantity.unwrap_or(1);
        if quantity == 0 {
            continue;
        }
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let cancelled = order.status == "CANCELLED";
        events.extend(line_events(&order.id, line, &sku, quantity, cancelled));
    }
    events
}

/// Where the feed resumes: orders changed at or after unix second `since`, from page `token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Cursor {
    pub(super) since: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) token: Option<String>,
}

impl Cursor {
    /// The stored cursor, or the connector's start when there is none.
    pub(super) fn resume(
        stored: Option<&str>,
        started_secs: i64,
    ) -> Result<Cursor, MarketplaceError> {
        match stored {
            None => Ok(Cursor {
                since: started_secs,
                token: None,
            }),
            Some(text) => serde_json::from_str(text).map_err(|_| MarketplaceError::Permanent {
                kind: PermanentKind::Invalid,
                message: format!("the stored TikTok Shop cursor {text:?} is not one"),
            }),
        }
    }

    /// The page of `reply` read from this cursor, and where the next read resumes.
    pub(super) fn page(&self, reply: OrderList, listings: &ListingMap) -> OrderPage {
        let latest = reply
            .orders
            .iter()
            .map(|order| order.update_time)
            .fold(self.since, i64::max);
        let events = reply
            .orders
            .iter()
            .flat_map(|order| order_events(order, listings))
            .collect();
        let more = !reply.next_page_token.is_empty();
        let next = if more {
            Cursor {
                since: self.since,
                token: Some(reply.next_page_token),
            }
        } else {
            Cursor {
                since: latest,
                token: None,
            }
        };
        OrderPage {
            events,
            next_cursor: serde_json::to_string(&next).unwrap_or_default(),
            more,
            skipped: false,
        }
    }
}
