//! Orders the Shopify way without HTTP (reference §1.2): the `orders(query:)` search syntax the
//! connector's reconciliation uses (`updated_at:>'…'`), keyset cursors for paging, and the REST
//! order JSON that webhooks carry.

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Value};

use super::ids;
use crate::platforms::mock::rfc3339;
use crate::platforms::mock::world::{Order, OrderStatus};

/// The time fields the search syntax filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    /// `created_at`.
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
}

/// A comparison of the search syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `>`.
    After,
    /// `>=`.
    AtOrAfter,
    /// `<`.
    Before,
    /// `<=`.
    AtOrBefore,
}

/// Which orders a `status:` term keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// `status:any` (the default).
    Any,
    /// `status:open`: not cancelled.
    Open,
    /// `status:cancelled`.
    Cancelled,
}

/// A parsed `query:` argument of `orders`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFilter {
    times: Vec<(TimeField, Cmp, DateTime<Utc>)>,
    status: StatusFilter,
}

/// The sort of `orders(sortKey:)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// `ID` (the default).
    Id,
    /// `CREATED_AT`.
    CreatedAt,
    /// `UPDATED_AT`.
    UpdatedAt,
}

impl SortKey {
    /// Parses the enum value; `None` for one the mock does not serve.
    pub fn parse(text: &str) -> Option<SortKey> {
        match text {
            "ID" => Some(SortKey::Id),
            "CREATED_AT" => Some(SortKey::CreatedAt),
            "UPDATED_AT" => Some(SortKey::UpdatedAt),
            _ => None,
        }
    }
}

/// Splits a search query into terms, keeping quoted values whole and dropping `AND`.
fn terms(query: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for ch in query.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => quote = Some(ch),
            (Some(open), _) if ch == open => quote = None,
            (None, ch) if ch.is_whitespace() => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(ch),
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms.retain(|term| term != "AND");
    terms
}

/// Reads a search time: RFC 3339, a zone-less date-time (UTC) or a date (midnight UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Some(time.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
}

/// Parses the search syntax of `orders(query:)`: `updated_at`/`created_at` with `>`, `>=`, `<`,
/// `<=` and `status:open|cancelled|any`. Anything else is refused (see the module doc of the
/// mock: a typo should show, not silently return every order).
pub fn parse_order_query(query: &str) -> Result<OrderFilter, String> {
    let mut filter = OrderFilter {
        times: Vec::new(),
        status: StatusFilter::Any,
    };
    for term in terms(query) {
        let Some((field, value)) = term.split_once(':') else {
            return Err(format!("search term {term:?} is not field:value"));
        };
        if field == "status" {
            filter.status = match value {
                "any" => StatusFilter::Any,
                "open" => StatusFilter::Open,
                "cancelled" => StatusFilter::Cancelled,
                _ => return Err(format!("status {value:?} is not open, cancelled or any")),
            };
            continue;
        }
        let field = match field {
            "updated_at" => TimeField::UpdatedAt,
            "created_at" => TimeField::CreatedAt,
            _ => {
                return Err(format!(
                    "search field {field:?} is not supported by the mock"
                ))
            }
        };
        let (cmp, rest) = if let Some(rest) = value.strip_prefix(">=") {
            (Cmp::AtOrAfter, rest)
        } else if let Some(rest) = value.strip_prefix("<=") {
            (Cmp::AtOrBefore, rest)
        } else if let Some(rest) = value.strip_prefix('>') {
            (Cmp::After, rest)
        } else if let Some(rest) = value.strip_prefix('<') {
            (Cmp::Before, rest)
        } else {
            return Err(format!("search term {term:?} needs >, >=, < or <="));
        };
        let rest = rest.trim_matches(|ch| ch == '\'' || ch == '"');
        let time = parse_time(rest).ok_or_else(|| format!("{rest:?} is not a date or time"))?;
        filter.times.push((field, cmp, time));
    }
    Ok(filter)
}

impl OrderFilter {
    /// Every order.
    pub fn all() -> OrderFilter {
        OrderFilter {
            times: Vec::new(),
            status: StatusFilter::Any,
        }
    }

    /// Whether `order` matches.
    pub fn matches(&self, order: &Order) -> bool {
        let status_ok = match self.status {
            StatusFilter::Any => true,
            StatusFilter::Open => order.status == OrderStatus::Placed,
            StatusFilter::Cancelled => order.status == OrderStatus::Cancelled,
        };
        status_ok
            && self.times.iter().all(|(field, cmp, time)| {
                let value = shown(match field {
                    TimeField::CreatedAt => order.created_at,
                    TimeField::UpdatedAt => order.updated_at,
                });
                match cmp {
                    Cmp::After => value > *time,
                    Cmp::AtOrAfter => value >= *time,
                    Cmp::Before => value < *time,
                    Cmp::AtOrBefore => value <= *time,
                }
            })
    }
}

/// A time at the precision the API shows it (milliseconds), so that `updated_at:>` the last
/// `updatedAt` a poll saw never matches that same order again.
fn shown(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or(time)
}

/// The sort key of an order: (value, legacy id), unique.
pub fn sort_key(order: &Order, key: SortKey) -> (i64, u64) {
    let id = ids::order_id(order.number);
    let value = match key {
        SortKey::Id => id as i64,
        SortKey::CreatedAt => order.created_at.timestamp_millis(),
        SortKey::UpdatedAt => order.updated_at.timestamp_millis(),
    };
    (value, id)
}

/// An opaque cursor (base64 JSON, as Shopify's are) naming a position in a sort.
pub fn encode_cursor(position: (i64, u64)) -> String {
    let text = json!({ "last_id": position.1, "last_value": position.0 }).to_string();
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The position a cursor names, or `None` when it is not one of the mock's.
pub fn decode_cursor(cursor: &str) -> Option<(i64, u64)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    Some((
        value.get("last_value")?.as_i64()?,
        value.get("last_id")?.as_u64()?,
    ))
}

/// How to page a sorted sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// `first` (true) or `last` (false).
    pub from_start: bool,
    /// How many.
    pub size: usize,
    /// `after`.
    pub after: Option<(i64, u64)>,
    /// `before`.
    pub before: Option<(i64, u64)>,
    /// `reverse`.
    pub reverse: bool,
}

/// One page: the positions chosen, and whether more lie after and before them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items with their positions.
    pub items: Vec<((i64, u64), T)>,
    /// `hasNextPage`.
    pub has_next: bool,
    /// `hasPreviousPage`.
    pub has_previous: bool,
}

/// Pages `items` keyed by unique positions (keyset paging: stable while items change).
pub fn page<T>(mut items: Vec<((i64, u64), T)>, request: PageRequest) -> Page<T> {
    items.sort_by_key(|(position, _)| *position);
    if request.reverse {
        items.reverse();
    }
    let beyond = |position: &(i64, u64), cursor: &(i64, u64)| {
        if request.reverse {
            position < cursor
        } else {
            position > cursor
        }
    };
    let mut has_previous = false;
    let mut has_next = false;
    if let Some(after) = request.after {
        let before_len = items.len();
        items.retain(|(position, _)| beyond(position, &after));
        has_previous = items.len() < before_len;
    }
    if let Some(before) = request.before {
        let before_len = items.len();
        items.retain(|(position, _)| beyond(&before, position));
        has_next = items.len() < before_len;
    }
    if request.from_start {
        has_next |= items.len() > request.size;
        items.truncate(request.size);
    } else {
        has_previous |= items.len() > request.size;
        let skip = items.len().saturating_sub(request.size);
        items.drain(..skip);
    }
    Page {
        items,
        has_next,
        has_previous,
    }
}

/// The order as REST and webhooks show it (`orders/create`, `orders/cancelled`).
pub fn webhook_json(order: &Order) -> Value {
    let cancelled = order.status == OrderStatus::Cancelled;
    let id = ids::order_id(order.number);
    json!({
        "id": id,
        "admin_graphql_api_id": ids::gid("Order", id),
        "name": ids::order_name(order.number),
        "order_number": 1000 + order.number,
        "created_at": rfc3339(order.created_at),
        "updated_at": rfc3339(order.updated_at),
        "cancelled_at": cancelled.then(|| rfc3339(order.updated_at)),
        "cancel_reason": cancelled.then_some("customer"),
        "financial_status": if cancelled { "refunded" } else { "paid" },
        "fulfillment_status": Value::Null,
        "currency": "USD",
        "line_items": [{
            "id": ids::line_item_id(order.number),
            "admin_graphql_api_id": ids::gid("LineItem", ids::line_item_id(order.number)),
            "variant_id": ids::variant_id(order.listing_number),
            "product_id": ids::product_id(order.listing_number),
            "sku": order.sku,
            "title": format!("Item {}", order.sku),
            "quantity": order.quantity,
            "current_quantity": if cancelled { 0 } else { order.quantity },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(number: u64, updated_secs: i64, cancelled: bool) -> Order {
        let created = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Order {
            number,
            order_id: ids::order_id(number).to_string(),
            listing_number: 1,
            sku: "SKU-1".into(),
            quantity: 2,
            status: if cancelled {
                OrderStatus::Cancelled
            } else {
                OrderStatus::Placed
            },
            created_at: created,
            updated_at: created + chrono::Duration::seconds(updated_secs),
        }
    }

    #[test]
    fn the_search_syntax_filters_on_times_and_status() {
        let filter =
            parse_order_query("updated_at:>'2027-01-15T08:00:05Z' AND status:cancelled").unwrap();
        // 1_800_000_000 is 2027-01-15T08:00:00Z.
        assert!(filter.matches(&order(1, 10, true)));
        assert!(!filter.matches(&order(1, 5, true)), "strictly after");
        assert!(!filter.matches(&order(1, 10, false)));
        let inclusive = parse_order_query("updated_at:>=\"2027-01-15 08:00:05\"").unwrap();
        assert!(inclusive.matches(&order(1, 5, false)));
        assert!(parse_order_query("updated_at:>'yesterday'").is_err());
        assert!(parse_order_query("vendor:acme").is_err());
        assert!(parse_order_query("updated_at:2027-01-01").is_err());
        let mut precise = order(1, 5, false);
        precise.updated_at += chrono::Duration::microseconds(300);
        let shown_time = rfc3339(precise.updated_at);
        let since_shown = parse_order_query(&format!("updated_at:>'{shown_time}'")).unwrap();
        assert!(
            !since_shown.matches(&precise),
            "compared at the shown precision"
        );
    }

    #[test]
    fn keyset_pages_are_stable_and_report_more() {
        let items: Vec<((i64, u64), u64)> = (1..=5).map(|n| ((n as i64 * 10, n), n)).collect();
        let request = PageRequest {
            from_start: true,
            size: 2,
            after: None,
            before: None,
            reverse: false,
        };
        let first = page(items.clone(), request);
        assert_eq!(
            first.items.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(first.has_next && !first.has_previous);
        let cursor = decode_cursor(&encode_cursor(first.items[1].0)).unwrap();
        let second = page(
            items.clone(),
            PageRequest {
                after: Some(cursor),
                ..request
            },
        );
        assert_eq!(
            second.items.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [3, 4]
        );
        assert!(second.has_previous);
        let last = page(
            items,
            PageRequest {
                from_start: false,
                reverse: true,
                ..request
            },
        );
        assert_eq!(
            last.items.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(decode_cursor("not a cursor"), None);
    }

    #[test]
    fn webhook_orders_show_cancellation() {
        let placed = webhook_json(&order(1, 0, false));
        assert_eq!(placed["name"], "#1001");
        assert_eq!(placed["cancelled_at"], Value::Null);
        let cancelled = webhook_json(&order(1, 60, true));
        assert_eq!(cancelled["cancel_reason"], "customer");
        assert_eq!(cancelled["line_items"][0]["current_quantity"], 0);
        assert_eq!(cancelled["line_items"][0]["variant_id"], ids::variant_id(1));
    }
}
