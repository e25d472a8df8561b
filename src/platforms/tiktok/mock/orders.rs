//! The mock's order calls (§6.2): the search with its body filters and keyset page token, and
//! the detail of at most 50 ids.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::sign::query_pairs;
use super::{
    invalid, not_found, ok, operation, order_status, TikTokWire, MAX_DETAIL_IDS, MAX_PAGE_SIZE,
};
use crate::platforms::mock::world::{Order, World};
use crate::platforms::mock::MockState;

/// An order as the search and the detail show it.
fn order_json(world: &World, order: &Order) -> Value {
    let ids = world
        .listing(order.listing_number)
        .map(|listing| listing.ids.clone())
        .unwrap_or_default();
    json!({
        "id": order.order_id,
        "status": order_status(order),
        "create_time": order.created_at.timestamp(),
        "update_time": order.updated_at.timestamp(),
        "line_items": [{
            "id": format!("{}01", order.order_id),
            "product_id": ids["product_id"],
            "sku_id": ids["sku_id"],
            "seller_sku": order.sku,
            "quantity": order.quantity,
        }],
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchFilters {
    update_time_ge: Option<i64>,
    update_time_lt: Option<i64>,
    create_time_ge: Option<i64>,
    create_time_lt: Option<i64>,
    order_status: Option<String>,
}

/// The query of a search, parsed.
#[derive(Debug)]
struct SearchPage {
    page_size: usize,
    /// After this (sort time in milliseconds, order number).
    after: Option<(i64, u64)>,
    by_create_time: bool,
    descending: bool,
}

fn search_page(query: &str) -> Result<SearchPage, HttpResponse> {
    let pairs = query_pairs(query).unwrap_or_default();
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let page_size = value("page_size")
        .and_then(|text| text.parse::<usize>().ok())
        .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
        .ok_or_else(|| invalid(&format!("page_size must be 1 to {MAX_PAGE_SIZE}")))?;
    let after = match value("page_token").filter(|token| !token.is_empty()) {
        None => None,
        Some(token) => Some(
            token
                .split_once('_')
                .and_then(|(time, number)| Some((time.parse().ok()?, number.parse().ok()?)))
                .ok_or_else(|| invalid("page_token is not a token of this search"))?,
        ),
    };
    let by_create_time = match value("sort_field").unwrap_or("update_time") {
        "update_time" => false,
        "create_time" => true,
        other => return Err(invalid(&format!("sort_field {other:?} is not supported"))),
    };
    let descending = match value("sort_order").unwrap_or("ASC") {
        "ASC" => false,
        "DESC" => true,
        other => return Err(invalid(&format!("sort_order {other:?} is not ASC or DESC"))),
    };
    Ok(SearchPage {
        page_size,
        after,
        by_create_time,
        descending,
    })
}

/// Whether `time` (an order's, in seconds) is within `[ge, lt)`.
fn within(time: DateTime<Utc>, ge: Option<i64>, lt: Option<i64>) -> bool {
    let seconds = time.timestamp();
    ge.is_none_or(|ge| seconds >= ge) && lt.is_none_or(|lt| seconds < lt)
}

/// `POST /order/202309/orders/search`: orders matching the body's filters, sorted and paged by
/// the query.
pub(super) async fn search_orders(
    state: web::Data<MockState>,
    wire: web::Data<TikTokWire>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let filters: SearchFilters = match wire
        .admit_json(&state, &request, operation::SEARCH_ORDERS, &body)
        .await
    {
        Ok(filters) => filters,
        Err(reply) => return reply,
    };
    let page = match search_page(request.query_string()) {
        Ok(page) => page,
        Err(reply) => return reply,
    };
    let world = state.world();
    let sort_key = |order: &Order| {
        let time = if page.by_create_time {
            order.created_at
        } else {
            order.updated_at
        };
        (time.timestamp_millis(), order.number)
    };
    let mut matching: Vec<&Order> = world
        .orders()
        .iter()
        .filter(|order| {
            within(
                order.updated_at,
                filters.update_time_ge,
                filters.update_time_lt,
            )
        })
        .filter(|order| {
            within(
                order.created_at,
                filters.create_time_ge,
                filters.create_time_lt,
            )
        })
        .filter(|order| {
            filters
                .order_status
                .as_deref()
                .is_none_or(|status| status == order_status(order))
        })
        .collect();
    matching.sort_by_key(|order| sort_key(order));
    if page.descending {
        matching.reverse();
    }
    let total = matching.len();
    let rest: Vec<&Order> = matching
        .into_iter()
        .filter(|order| {
            page.after.is_none_or(|after| {
                if page.descending {
                    sort_key(order) < after
                } else {
                    sort_key(order) > after
                }
            })
        })
        .collect();
    let shown = &rest[..rest.len().min(page.page_size)];
    let next_page_token = match shown.last() {
        Some(last) if rest.len() > shown.len() => {
            let (time, number) = sort_key(last);
            format!("{time}_{number}")
        }
        _ => String::new(),
    };
    let orders: Vec<Value> = shown
        .iter()
        .map(|order| order_json(&world, order))
        .collect();
    ok(json!({
        "orders": orders,
        "next_page_token": next_page_token,
        "total_count": total,
    }))
}

/// `GET /order/202309/orders?ids=`: the orders of at most 50 comma-separated ids, in the order
/// asked; an unknown id refuses the call.
pub(super) async fn order_detail(
    state: web::Data<MockState>,
    wire: web::Data<TikTokWire>,
    request: HttpRequest,
) -> HttpResponse {
    if let Err(reply) = wire
        .guard(&state, &request, operation::ORDER_DETAIL, &[])
        .await
    {
        return reply;
    }
    let pairs = query_pairs(request.query_string()).unwrap_or_default();
    let ids: Vec<&str> = pairs
        .iter()
        .find(|(key, _)| key == "ids")
        .map(|(_, value)| value.split(',').filter(|id| !id.is_empty()).collect())
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > MAX_DETAIL_IDS {
        return invalid(&format!("ids must name 1 to {MAX_DETAIL_IDS} orders"));
    }
    let world = state.world();
    let mut orders = Vec::with_capacity(ids.len());
    for id in ids {
        match world.order(id) {
            Some(order) => orders.push(order_json(&world, order)),
            None => return not_found(&format!("order {id} does not exist")),
        }
    }
    ok(json!({ "orders": orders }))
}
