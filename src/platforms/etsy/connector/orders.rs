//! The receipts feed's wire (§2.2): the durable cursor, the `getShopReceipts` reply, and the
//! page of events it gives.

use serde::Deserialize;
use shelfsync_actors::channel::marketplace::{
    MarketplaceError, OrderEvent, OrderEventKind, OrderPage,
};

use super::invalid;
use crate::platforms::connector::{parse_sku, ListingMap};
use crate::platforms::Platform;

/// Where a poll of receipts starts: changed at or after unix second `since`, skipping the first
/// `offset` of them (sorted on `updated` ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) struct Cursor {
    /// Unix seconds, inclusive.
    pub(super) since: i64,
    /// Receipts of the query to skip.
    pub(super) offset: usize,
}

impl Cursor {
    /// Where a poll starts: the stored cursor, or unix second `started_secs` (the connector's
    /// start) without one.
    pub(super) fn resume(
        stored: Option<&str>,
        started_secs: i64,
    ) -> Result<Cursor, MarketplaceError> {
        stored.map_or(
            Ok(Cursor {
                since: started_secs,
                offset: 0,
            }),
            Cursor::parse,
        )
    }

    /// Parses a stored cursor; `Err` is `Permanent Invalid` (a cursor is only ever ours).
    pub(super) fn parse(text: &str) -> Result<Cursor, MarketplaceError> {
        serde_json::from_str(text).map_err(|_| {
            invalid(format!(
                "the stored Etsy cursor {text:?} is not {{\"since\": secs, \"offset\": n}}"
            ))
        })
    }

    /// The cursor as the text the engine stores.
    pub(super) fn to_text(self) -> String {
        format!(r#"{{"since":{},"offset":{}}}"#, self.since, self.offset)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ReceiptsReply {
    pub(super) count: usize,
    pub(super) results: Vec<Receipt>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Receipt {
    pub(super) receipt_id: u64,
    pub(super) status: String,
    #[serde(default)]
    pub(super) updated_timestamp: Option<i64>,
    #[serde(default)]
    pub(super) update_timestamp: Option<i64>,
    #[serde(default)]
    pub(super) transactions: Vec<Transaction>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Transaction {
    #[serde(default)]
    pub(super) sku: Option<String>,
    #[serde(default)]
    pub(super) listing_id: Option<u64>,
    pub(super) quantity: u32,
}

/// The events of one receipt: a `Sale` per transaction and, once it is canceled, a `Cancel` per
/// transaction (the feed's natural keys: receipt id, 1-based position, version).
pub(super) fn receipt_events(receipt: &Receipt, listings: &ListingMap) -> Vec<OrderEvent> {
    let mut events = Vec::new();
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
    events
}

/// The events of a page of receipts asked for from `cursor`, and the cursor after it.
pub(super) fn order_page(
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
        events.extend(receipt_events(receipt, listings));
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
