//! Etsy's receipts feed without HTTP (reference/marketplace-apis.md §2.2): the query of
//! `getShopReceipts` parsed and checked, the selection and paging of orders, and a receipt's JSON.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::platforms::mock::world::{Order, OrderStatus};

/// The most receipts one page holds.
pub const MAX_LIMIT: usize = 100;
/// The page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 25;
/// The largest `offset` Etsy's pagination allows.
pub const MAX_OFFSET: usize = 12_000;
/// The earliest `min_created` / `max_created` Etsy takes (2000-01-01).
pub const MIN_CREATED: i64 = 946_684_800;

/// What receipts are sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOn {
    /// Creation time (Etsy's default).
    Created,
    /// Last change.
    Updated,
    /// Receipt id.
    ReceiptId,
}

/// A checked `GET /v3/application/shops/{shop_id}/receipts` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptQuery {
    /// `min_created`, inclusive.
    pub min_created: Option<i64>,
    /// `max_created`, inclusive.
    pub max_created: Option<i64>,
    /// `min_last_modified`, inclusive.
    pub min_last_modified: Option<i64>,
    /// `max_last_modified`, inclusive.
    pub max_last_modified: Option<i64>,
    /// Page size.
    pub limit: usize,
    /// Receipts skipped.
    pub offset: usize,
    /// Sort key.
    pub sort_on: SortOn,
    /// Whether the order is descending (Etsy's default).
    pub descending: bool,
    /// `was_paid`.
    pub was_paid: Option<bool>,
    /// `was_shipped`.
    pub was_shipped: Option<bool>,
    /// `was_delivered`.
    pub was_delivered: Option<bool>,
    /// `was_canceled`.
    pub was_canceled: Option<bool>,
}

impl Default for ReceiptQuery {
    fn default() -> ReceiptQuery {
        ReceiptQuery {
            min_created: None,
            max_created: None,
            min_last_modified: None,
            max_last_modified: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
            sort_on: SortOn::Created,
            descending: true,
            was_paid: None,
            was_shipped: None,
            was_delivered: None,
            was_canceled: None,
        }
    }
}

impl ReceiptQuery {
    /// Parses the query pairs; `Err` is the message of Etsy's 400. Parameters the mock does not
    /// know are ignored, as Etsy ignores them.
    pub fn parse(pairs: &[(String, String)]) -> Result<ReceiptQuery, String> {
        let mut query = ReceiptQuery::default();
        for (name, value) in pairs {
            match name.as_str() {
                "min_created" => query.min_created = Some(timestamp(name, value, MIN_CREATED)?),
                "max_created" => query.max_created = Some(timestamp(name, value, MIN_CREATED)?),
                "min_last_modified" => query.min_last_modified = Some(timestamp(name, value, 0)?),
                "max_last_modified" => query.max_last_modified = Some(timestamp(name, value, 0)?),
                "limit" => query.limit = bounded(name, value, 1, MAX_LIMIT)?,
                "offset" => query.offset = bounded(name, value, 0, MAX_OFFSET)?,
                "sort_on" => query.sort_on = sort_on(value)?,
                "sort_order" => query.descending = descending(value)?,
                "was_paid" => query.was_paid = Some(boolean(name, value)?),
                "was_shipped" => query.was_shipped = Some(boolean(name, value)?),
                "was_delivered" => query.was_delivered = Some(boolean(name, value)?),
                "was_canceled" => query.was_canceled = Some(boolean(name, value)?),
                _ => {}
            }
        }
        Ok(query)
    }

    /// The orders this query selects, sorted and paged, with how many matched before paging.
    pub fn select<'o>(&self, orders: &'o [Order]) -> (usize, Vec<&'o Order>) {
        let mut matching: Vec<&Order> = orders.iter().filter(|o| self.matches(o)).collect();
        matching.sort_by_key(|order| match self.sort_on {
            SortOn::Created => (order.created_at, order.number),
            SortOn::Updated => (order.updated_at, order.number),
            SortOn::ReceiptId => (DateTime::<Utc>::UNIX_EPOCH, order.number),
        });
        if self.descending {
            matching.reverse();
        }
        let count = matching.len();
        let page = matching
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        (count, page)
    }

    fn matches(&self, order: &Order) -> bool {
        let created = order.created_at.timestamp();
        let updated = order.updated_at.timestamp();
        let canceled = order.status == OrderStatus::Cancelled;
        self.min_created.is_none_or(|min| created >= min)
            && self.max_created.is_none_or(|max| created <= max)
            && self.min_last_modified.is_none_or(|min| updated >= min)
            && self.max_last_modified.is_none_or(|max| updated <= max)
            // Every mock order was paid; none ships or is delivered.
            && self.was_paid.is_none_or(|paid| paid)
            && self.was_shipped.is_none_or(|shipped| !shipped)
            && self.was_delivered.is_none_or(|delivered| !delivered)
            && self.was_canceled.is_none_or(|wanted| wanted == canceled)
    }
}

fn timestamp(name: &str, value: &str, min: i64) -> Result<i64, String> {
    match value.parse::<i64>() {
        Ok(seconds) if seconds >= min => Ok(seconds),
        _ => Err(format!(
            "Expected int >= {min} (unix seconds) for '{name}', got '{value}'"
        )),
    }
}

fn bounded(name: &str, value: &str, min: usize, max: usize) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(format!(
            "Expected int >= {min} and <= {max} for '{name}', got '{value}'"
        )),
    }
}

fn boolean(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("Expected boolean for '{name}', got '{value}'")),
    }
}

fn sort_on(value: &str) -> Result<SortOn, String> {
    match value {
        "created" => Ok(SortOn::Created),
        "updated" => Ok(SortOn::Updated),
        "receipt_id" => Ok(SortOn::ReceiptId),
        _ => Err(format!(
            "sort_on must be one of created, updated, receipt_id; got '{value}'"
        )),
    }
}

fn descending(value: &str) -> Result<bool, String> {
    match value {
        "asc" | "ascending" | "up" => Ok(false),
        "desc" | "descending" | "down" => Ok(true),
        _ => Err(format!(
            "sort_order must be one of asc, ascending, desc, descending, up, down; got '{value}'"
        )),
    }
}

/// The ids a receipt shows besides the order's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptContext {
    /// The shop.
    pub shop_id: u64,
    /// The seller (the shop owner).
    pub seller_user_id: u64,
    /// The listing bought from.
    pub listing_id: u64,
    /// The product of the listing's SKU.
    pub product_id: u64,
}

/// The receipt id of an order id the mock gave (its digits).
pub fn receipt_id(order: &Order) -> u64 {
    order.order_id.parse().unwrap_or(order.number)
}

/// The transaction id of an order's one line.
pub fn transaction_id(order: &Order) -> u64 {
    4_000_000_000 + order.number
}

/// One receipt in Etsy's shape (`ShopReceipt` with its one `ShopReceiptTransaction`).
pub fn receipt_json(order: &Order, context: ReceiptContext) -> Value {
    let canceled = order.status == OrderStatus::Cancelled;
    let created = order.created_at.timestamp();
    let updated = order.updated_at.timestamp();
    let buyer_user_id = 800_000_000 + order.number;
    json!({
        "receipt_id": receipt_id(order),
        "receipt_type": 0,
        "shop_id": context.shop_id,
        "seller_user_id": context.seller_user_id,
        "buyer_user_id": buyer_user_id,
        "name": format!("Mock Buyer {}", order.number),
        "status": if canceled { "canceled" } else { "paid" },
        "is_paid": true,
        "is_shipped": false,
        "create_timestamp": created,
        "created_timestamp": created,
        "update_timestamp": updated,
        "updated_timestamp": updated,
        "is_gift": false,
        "transactions": [{
            "transaction_id": transaction_id(order),
            "receipt_id": receipt_id(order),
            "seller_user_id": context.seller_user_id,
            "buyer_user_id": buyer_user_id,
            "create_timestamp": created,
            "created_timestamp": created,
            "paid_timestamp": created,
            "shipped_timestamp": null,
            "quantity": order.quantity,
            "listing_id": context.listing_id,
            "product_id": context.product_id,
            "sku": order.sku,
            "is_digital": false,
            "variations": [],
            "product_data": [],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (name.to_string(), value.to_string())
            })
            .collect()
    }

    fn order(number: u64, created: i64, updated: i64, cancelled: bool) -> Order {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Order {
            number,
            order_id: (3_000_000_000 + number).to_string(),
            listing_number: 1,
            sku: "A".into(),
            quantity: 1,
            status: if cancelled {
                OrderStatus::Cancelled
            } else {
                OrderStatus::Placed
            },
            created_at: t0 + Duration::seconds(created),
            updated_at: t0 + Duration::seconds(updated),
        }
    }

    fn numbers(selected: &[&Order]) -> Vec<u64> {
        selected.iter().map(|order| order.number).collect()
    }

    #[test]
    fn defaults_and_bounds() {
        let query = ReceiptQuery::parse(&[]).unwrap();
        assert_eq!((query.limit, query.offset, query.descending), (25, 0, true));
        for bad in [
            "limit=0",
            "limit=101",
            "limit=x",
            "offset=12001",
            "offset=-1",
            "min_created=946684799",
            "min_last_modified=soon",
            "sort_on=price",
            "sort_order=sideways",
            "was_canceled=maybe",
        ] {
            assert!(ReceiptQuery::parse(&pairs(bad)).is_err(), "{bad}");
        }
        let ok =
            ReceiptQuery::parse(&pairs("limit=100&offset=12000&sort_order=asc&foo=bar")).unwrap();
        assert_eq!((ok.limit, ok.offset, ok.descending), (100, 12_000, false));
    }

    #[test]
    fn filters_sort_and_page() {
        let orders = vec![
            order(1, 0, 50, true),
            order(2, 10, 10, false),
            order(3, 20, 20, false),
        ];
        let base = 1_700_000_000;
        let select = |query: &str| {
            let query = ReceiptQuery::parse(&pairs(query)).unwrap();
            let (count, page) = query.select(&orders);
            (count, numbers(&page))
        };
        assert_eq!(select(""), (3, vec![3, 2, 1]));
        assert_eq!(select("sort_order=asc&sort_on=updated"), (3, vec![2, 3, 1]));
        assert_eq!(
            select("sort_on=receipt_id&sort_order=asc&limit=2&offset=1"),
            (3, vec![2, 3])
        );
        assert_eq!(
            select(&format!("min_last_modified={}&sort_order=asc", base + 20)),
            (2, vec![1, 3])
        );
        assert_eq!(
            select(&format!("max_created={}", base + 10)),
            (2, vec![2, 1])
        );
        assert_eq!(select("was_canceled=true"), (1, vec![1]));
        assert_eq!(select("was_canceled=false&sort_order=asc"), (2, vec![2, 3]));
        assert_eq!(select("was_shipped=true"), (0, vec![]));
    }

    #[test]
    fn a_cancelled_receipt_says_canceled() {
        let context = ReceiptContext {
            shop_id: 1,
            seller_user_id: 2,
            listing_id: 3,
            product_id: 4,
        };
        let shown = receipt_json(&order(1, 0, 50, true), context);
        assert_eq!(shown["status"], "canceled");
        assert_eq!(shown["receipt_id"], 3_000_000_001u64);
        assert_eq!(
            shown["updated_timestamp"].as_i64().unwrap()
                - shown["created_timestamp"].as_i64().unwrap(),
            50
        );
        assert_eq!(shown["transactions"][0]["product_id"], 4);
        assert_eq!(
            receipt_json(&order(2, 0, 0, false), context)["status"],
            "paid"
        );
    }
}
