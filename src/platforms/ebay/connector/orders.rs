//! The order feed's wire (§5.2): the durable cursor (see the module doc of `connector`), the
//! `getOrders` reply, and the page of events it gives.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use shelfsync_actors::channel::marketplace::{
    MarketplaceError, OrderEvent, OrderEventKind, OrderPage,
};
use shelfsync_actors::ids::Sku;

use super::invalid;
use crate::platforms::connector::{parse_sku, ListingMap};
use crate::platforms::Platform;
use crate::timestamp::rfc3339;

/// Where a poll starts: orders changed at or after `since`, from the `skip`th on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cursor {
    pub(super) since: DateTime<Utc>,
    pub(super) skip: usize,
}

impl Cursor {
    /// Where a poll starts: the stored cursor, or `started` (the connector's start) without one.
    pub(super) fn resume(
        stored: Option<&str>,
        started: DateTime<Utc>,
    ) -> Result<Cursor, MarketplaceError> {
        match stored {
            Some(text) => Cursor::parse(text),
            None => Ok(Cursor {
                since: started,
                skip: 0,
            }),
        }
    }

    /// Parses `<RFC 3339>` or `<RFC 3339>#<skip>`.
    pub(super) fn parse(text: &str) -> Result<Cursor, MarketplaceError> {
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
    pub(super) fn text(&self) -> String {
        let since = rfc3339(self.since);
        if self.skip == 0 {
            since
        } else {
            format!("{since}#{}", self.skip)
        }
    }

    /// The `filter` of `getOrders`: changed at or after `since`.
    pub(super) fn filter(&self) -> String {
        format!("lastmodifieddate:[{}..]", rfc3339(self.since))
    }
}

/// The part of `getOrders`' reply the connector reads.
#[derive(Debug, Deserialize)]
pub(super) struct OrdersReply {
    #[serde(default)]
    pub(super) orders: Vec<EbayOrder>,
    #[serde(default)]
    pub(super) next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EbayOrder {
    pub(super) order_id: String,
    pub(super) last_modified_date: String,
    #[serde(default)]
    pub(super) cancel_status: Option<CancelStatus>,
    #[serde(default)]
    pub(super) line_items: Vec<EbayLineItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CancelStatus {
    #[serde(default)]
    pub(super) cancel_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EbayLineItem {
    pub(super) line_item_id: String,
    #[serde(default)]
    pub(super) sku: Option<String>,
    pub(super) quantity: i64,
}

/// The engine SKU of an order line's eBay SKU: the catalog's mapping, else the SKU itself.
fn engine_sku(listings: &ListingMap, ebay_sku: &str) -> Option<Sku> {
    listings
        .sku_of(ebay_sku)
        .or_else(|| parse_sku(Platform::Ebay, ebay_sku))
}

/// The events of one order: a `Sale` per line item and, once it is `CANCELED`, a `Cancel` per
/// line (the feed's natural keys: order id, position among the lines sorted by `lineItemId`,
/// version). A line without a usable SKU or quantity is skipped with a warning.
pub(super) fn order_events(order: EbayOrder, listings: &ListingMap) -> Vec<OrderEvent> {
    let mut events = Vec::new();
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
    events
}

/// The events of a page of orders and the cursor after it (see the module doc). A
/// `lastModifiedDate` that is not a time makes the whole reply invalid, since the cursor could
/// not move past it; a line without a usable SKU or quantity is skipped with a warning.
pub(super) fn order_page(
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
        events.extend(order_events(order, listings));
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
