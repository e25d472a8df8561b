//! The Fulfillment API side of the eBay mock without HTTP (reference §5.2): the `getOrders` query
//! (`filter`, `limit`, `offset`, `orderIds`), which orders a filter selects, the page bounds and
//! links, and the `Order` JSON.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::wire::{error_id, item_title, legacy_item_id, ErrorDetail, DOMAIN_FULFILLMENT};
use crate::platforms::mock::rfc3339;
use crate::platforms::mock::world::{Order, OrderStatus};

/// The default page size of `getOrders`.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page size of `getOrders`.
pub const MAX_LIMIT: usize = 200;
/// The most ids one `orderIds` parameter takes (reference §5.2).
pub const MAX_ORDER_IDS: usize = 50;
/// How far back `getOrders` looks without a date filter (reference §5.2: the last 90 days).
pub const DEFAULT_LOOKBACK_DAYS: i64 = 90;
/// The fulfillment status of every mock order: the mock ships nothing.
pub const FULFILLMENT_STATUS: &str = "NOT_STARTED";
const FULFILLMENT_STATUSES: [&str; 3] = ["NOT_STARTED", "IN_PROGRESS", "FULFILLED"];

/// A date range of a filter, `[from..until]`, both ends inclusive (eBay's closed range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// The first time included.
    pub from: DateTime<Utc>,
    /// The last time included; open when absent (`[from..]`).
    pub until: Option<DateTime<Utc>>,
}

impl DateRange {
    /// Whether `time` is inside the range.
    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        time >= self.from && self.until.is_none_or(|until| time <= until)
    }
}

/// A parsed `filter` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// `creationdate:[..]`.
    pub created: Option<DateRange>,
    /// `lastmodifieddate:[..]`.
    pub modified: Option<DateRange>,
    /// `orderfulfillmentstatus:{A|B}`.
    pub fulfillment: Option<Vec<String>>,
}

fn invalid_filter(text: &str, why: &str) -> ErrorDetail {
    ErrorDetail::request(
        error_id::INVALID_FILTER,
        DOMAIN_FULFILLMENT,
        format!("Invalid filter: {why}"),
    )
    .parameter("filter", text)
}

fn invalid_filter_value(name: &str, value: &str) -> ErrorDetail {
    ErrorDetail::request(
        error_id::INVALID_FILTER_VALUE,
        DOMAIN_FULFILLMENT,
        format!("Invalid filter value {value} for filter {name}"),
    )
    .parameter("filter", name)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// Parses `[from..until]` or `[from..]`: the start is required, as in eBay's examples.
fn parse_range(name: &str, value: &str) -> Result<DateRange, ErrorDetail> {
    let bad = || invalid_filter_value(name, value);
    let inner = value
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(bad)?;
    let (from, until) = inner.split_once("..").ok_or_else(bad)?;
    let from = parse_time(from).ok_or_else(bad)?;
    let until = match until {
        "" => None,
        until => Some(parse_time(until).ok_or_else(bad)?),
    };
    if until.is_some_and(|until| until < from) {
        return Err(bad());
    }
    Ok(DateRange { from, until })
}

/// Parses `{A|B}` of known fulfillment statuses.
fn parse_statuses(name: &str, value: &str) -> Result<Vec<String>, ErrorDetail> {
    let inner = value
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| invalid_filter_value(name, value))?;
    inner
        .split('|')
        .map(|status| {
            FULFILLMENT_STATUSES
                .contains(&status)
                .then(|| status.to_string())
                .ok_or_else(|| invalid_filter_value(name, value))
        })
        .collect()
}

/// Parses a `filter` value: comma-separated `name:value` parts, each name at most once.
pub fn parse_filter(text: &str) -> Result<OrderFilter, ErrorDetail> {
    let mut filter = OrderFilter::default();
    for part in text.split(',').map(str::trim) {
        let Some((name, value)) = part.split_once(':') else {
            return Err(invalid_filter(text, &format!("{part:?} is not name:value")));
        };
        let duplicate = match name {
            "creationdate" => filter.created.replace(parse_range(name, value)?).is_some(),
            "lastmodifieddate" => filter.modified.replace(parse_range(name, value)?).is_some(),
            "orderfulfillmentstatus" => filter
                .fulfillment
                .replace(parse_statuses(name, value)?)
                .is_some(),
            other => return Err(invalid_filter(text, &format!("unknown filter {other:?}"))),
        };
        if duplicate {
            return Err(invalid_filter(text, &format!("{name} is given twice")));
        }
    }
    Ok(filter)
}

impl OrderFilter {
    /// Whether `order` passes. Without a date filter only orders created within the last
    /// [`DEFAULT_LOOKBACK_DAYS`] of `now` pass (reference §5.2).
    pub fn matches(&self, order: &Order, now: DateTime<Utc>) -> bool {
        let dates = match (self.created, self.modified) {
            (None, None) => order.created_at >= now - Duration::days(DEFAULT_LOOKBACK_DAYS),
            (created, modified) => {
                created.is_none_or(|range| range.contains(order.created_at))
                    && modified.is_none_or(|range| range.contains(order.updated_at))
            }
        };
        let status = self
            .fulfillment
            .as_ref()
            .is_none_or(|statuses| statuses.iter().any(|s| s == FULFILLMENT_STATUS));
        dates && status
    }
}

/// A parsed `getOrders` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersQuery {
    /// The raw `filter`, repeated in the page links.
    pub filter_text: Option<String>,
    /// The parsed filter.
    pub filter: OrderFilter,
    /// `orderIds`: when given, the filter is ignored, as on eBay.
    pub order_ids: Option<Vec<String>>,
    /// The page size.
    pub limit: usize,
    /// The first order of the page.
    pub offset: usize,
}

/// Parses the query pairs of `getOrders`; unknown parameters (`fieldGroups`) are ignored.
pub fn parse_orders_query(pairs: &[(String, String)]) -> Result<OrdersQuery, ErrorDetail> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                ErrorDetail::request(
                    error_id::INVALID_LIMIT,
                    DOMAIN_FULFILLMENT,
                    format!("Invalid limit: {text}. The limit must be 1 to {MAX_LIMIT}."),
                )
            })?,
    };
    let offset = match get("offset") {
        None => 0,
        Some(text) => text.parse::<usize>().map_err(|_| {
            ErrorDetail::request(
                error_id::INVALID_OFFSET,
                DOMAIN_FULFILLMENT,
                format!("Invalid offset: {text}."),
            )
        })?,
    };
    let order_ids = match get("orderIds") {
        None => None,
        Some(text) => {
            let ids: Vec<String> = text.split(',').map(|id| id.trim().to_string()).collect();
            if ids.len() > MAX_ORDER_IDS || ids.iter().any(String::is_empty) {
                return Err(invalid_order_id(text));
            }
            Some(ids)
        }
    };
    let filter_text = get("filter").map(str::to_string);
    let filter = match &filter_text {
        Some(text) => parse_filter(text)?,
        None => OrderFilter::default(),
    };
    Ok(OrdersQuery {
        filter_text,
        filter,
        order_ids,
        limit,
        offset,
    })
}

/// The 404/400 of an unknown order id, or of an `orderIds` list that is too long.
pub fn invalid_order_id(order_id: &str) -> ErrorDetail {
    ErrorDetail::request(
        error_id::INVALID_ORDER_ID,
        DOMAIN_FULFILLMENT,
        format!("Invalid Order Id: {order_id}"),
    )
    .parameter("orderId", order_id)
}

/// The bounds of a page: the orders `start..end` of `total`, and the offsets of the next and
/// previous pages when there are any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// First index of the page.
    pub start: usize,
    /// One past the last index.
    pub end: usize,
    /// The offset of the next page.
    pub next: Option<usize>,
    /// The offset of the previous page.
    pub prev: Option<usize>,
}

/// The page of `total` orders at `offset` of size `limit`.
pub fn page(total: usize, limit: usize, offset: usize) -> Page {
    let start = offset.min(total);
    let end = offset.saturating_add(limit).min(total);
    Page {
        start,
        end,
        next: (end < total).then_some(end),
        prev: (offset > 0).then(|| offset.saturating_sub(limit)),
    }
}

/// The link to the page at `offset` of `query`, under `base` (the URL of `getOrders`).
pub fn page_href(base: &str, query: &OrdersQuery, offset: usize) -> String {
    let mut href = format!("{base}?");
    if let Some(ids) = &query.order_ids {
        href.push_str(&format!(
            "orderIds={}&",
            crate::platforms::mock::query_value(&ids.join(","))
        ));
    } else if let Some(filter) = &query.filter_text {
        href.push_str(&format!(
            "filter={}&",
            crate::platforms::mock::query_value(filter)
        ));
    }
    href.push_str(&format!("limit={}&offset={offset}", query.limit));
    href
}

/// The `Order` of `getOrders` (`detail` false: `cancelRequests` is always empty, §5.2) or of
/// `getOrder` (`detail` true: a cancelled order lists its completed seller cancellation).
pub fn order_json(order: &Order, detail: bool) -> Value {
    let cancelled = order.status == OrderStatus::Cancelled;
    let cancel_requests = if cancelled && detail {
        json!([{
            "cancelCompletedDate": rfc3339(order.updated_at),
            "cancelInitiator": "SELLER",
            "cancelReason": "OUT_OF_STOCK_OR_CANNOT_FULFILL",
            "cancelRequestId": (5_000_000_000u64 + order.number).to_string(),
            "cancelRequestState": "COMPLETED",
            "cancelRequestedDate": rfc3339(order.updated_at),
        }])
    } else {
        json!([])
    };
    json!({
        "orderId": order.order_id,
        "creationDate": rfc3339(order.created_at),
        "lastModifiedDate": rfc3339(order.updated_at),
        "orderFulfillmentStatus": FULFILLMENT_STATUS,
        "orderPaymentStatus": if cancelled { "FULLY_REFUNDED" } else { "PAID" },
        "sellerId": super::SELLER_USERNAME,
        "cancelStatus": {
            "cancelState": if cancelled { "CANCELED" } else { "NONE_REQUESTED" },
            "cancelRequests": cancel_requests,
        },
        "lineItems": [{
            "lineItemId": line_item_id(order.number),
            "legacyItemId": legacy_item_id(order.listing_number),
            "sku": order.sku,
            "quantity": order.quantity,
            "title": item_title(&order.sku),
            "lineItemFulfillmentStatus": FULFILLMENT_STATUS,
        }],
    })
}

/// The id of the one line item of order `number`: 14 digits.
pub fn line_item_id(number: u64) -> String {
    (10_000_000_000_000 + number).to_string()
}

/// eBay's order id of order `number`, shaped like `12-34567-89012`.
pub fn order_id(number: u64) -> String {
    let value = 12_34567_00000u64.saturating_add(number);
    format!(
        "{}-{:05}-{:05}",
        value / 10_000_000_000,
        (value / 100_000) % 100_000,
        value % 100_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse_time(text).expect("a time")
    }

    fn order(created: &str, updated: &str, status: OrderStatus) -> Order {
        Order {
            number: 1,
            order_id: order_id(1),
            listing_number: 1,
            sku: "A".into(),
            quantity: 1,
            status,
            created_at: at(created),
            updated_at: at(updated),
        }
    }

    #[test]
    fn filters_parse_open_and_closed_ranges_and_statuses() {
        let filter = parse_filter(
            "lastmodifieddate:[2026-01-01T00:00:00.000Z..],\
             creationdate:[2026-01-01T00:00:00.000Z..2026-01-02T00:00:00.000Z],\
             orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}",
        )
        .expect("a filter");
        assert_eq!(
            filter.modified,
            Some(DateRange {
                from: at("2026-01-01T00:00:00Z"),
                until: None
            })
        );
        assert_eq!(
            filter.created.and_then(|range| range.until),
            Some(at("2026-01-02T00:00:00Z"))
        );
        assert_eq!(filter.fulfillment.map(|s| s.len()), Some(2));
    }

    #[test]
    fn malformed_filters_are_refused_with_their_error_ids() {
        for (text, id) in [
            ("lastmodified:[2026-01-01T00:00:00.000Z..]", 30700),
            ("lastmodifieddate", 30700),
            ("lastmodifieddate:2026-01-01", 30800),
            ("lastmodifieddate:[yesterday..]", 30800),
            ("lastmodifieddate:[..2026-01-01T00:00:00.000Z]", 30800),
            (
                "creationdate:[2026-01-02T00:00:00.000Z..2026-01-01T00:00:00.000Z]",
                30800,
            ),
            ("orderfulfillmentstatus:{SHIPPED}", 30800),
            (
                "creationdate:[2026-01-01T00:00:00Z..],creationdate:[2026-01-01T00:00:00Z..]",
                30700,
            ),
        ] {
            assert_eq!(
                parse_filter(text).map_err(|e| e.error_id),
                Err(id),
                "{text}"
            );
        }
    }

    #[test]
    fn ranges_are_inclusive_and_the_default_looks_back_90_days() {
        let now = at("2026-06-01T00:00:00Z");
        let placed = order(
            "2026-05-01T00:00:00Z",
            "2026-05-02T00:00:00Z",
            OrderStatus::Placed,
        );
        let filter = parse_filter("lastmodifieddate:[2026-05-02T00:00:00Z..]").unwrap();
        assert!(filter.matches(&placed, now));
        let filter =
            parse_filter("creationdate:[2026-04-01T00:00:00Z..2026-05-01T00:00:00Z]").unwrap();
        assert!(filter.matches(&placed, now));
        let filter = parse_filter("lastmodifieddate:[2026-05-02T00:00:00.001Z..]").unwrap();
        assert!(!filter.matches(&placed, now));
        assert!(OrderFilter::default().matches(&placed, now));
        let old = order(
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            OrderStatus::Placed,
        );
        assert!(!OrderFilter::default().matches(&old, now));
        let fulfilled = parse_filter("orderfulfillmentstatus:{FULFILLED}").unwrap();
        assert!(!fulfilled.matches(&placed, now));
    }

    #[test]
    fn the_query_takes_limit_offset_and_order_ids() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let query = parse_orders_query(&pairs(&[])).unwrap();
        assert_eq!((query.limit, query.offset), (DEFAULT_LIMIT, 0));
        for (name, value, id) in [
            ("limit", "0", 30810),
            ("limit", "201", 30810),
            ("limit", "x", 30810),
            ("offset", "-1", 30820),
        ] {
            assert_eq!(
                parse_orders_query(&pairs(&[(name, value)])).map_err(|e| e.error_id),
                Err(id)
            );
        }
        let ids = parse_orders_query(&pairs(&[("orderIds", "a,b")])).unwrap();
        assert_eq!(ids.order_ids, Some(vec!["a".to_string(), "b".to_string()]));
    }

    #[test]
    fn pages_link_forward_and_back() {
        assert_eq!(
            page(3, 2, 0),
            Page {
                start: 0,
                end: 2,
                next: Some(2),
                prev: None
            }
        );
        assert_eq!(
            page(3, 2, 2),
            Page {
                start: 2,
                end: 3,
                next: None,
                prev: Some(0)
            }
        );
        assert_eq!(page(3, 2, 9).start, 3);
    }

    #[test]
    fn orders_show_their_cancellation() {
        let cancelled = order(
            "2026-05-01T00:00:00Z",
            "2026-05-02T00:00:00Z",
            OrderStatus::Cancelled,
        );
        let listed = order_json(&cancelled, false);
        assert_eq!(listed["cancelStatus"]["cancelState"], "CANCELED");
        assert_eq!(listed["cancelStatus"]["cancelRequests"], json!([]));
        let detail = order_json(&cancelled, true);
        assert_eq!(
            detail["cancelStatus"]["cancelRequests"][0]["cancelRequestState"],
            "COMPLETED"
        );
        assert_eq!(order_id(1), "12-34567-00001");
        assert_eq!(order_id(123_456), "12-34568-23456");
    }
}
