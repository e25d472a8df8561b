//! The REST side of the Shopify mock (the legacy `inventory_levels` endpoints): its guard (REST is
//! charged before its body is read, module doc of `mock`), `set.json` and the levels read.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::inventory::{ApiVersion, MAX_QUANTITY};
use super::{ids, operation, unauthorized, Shop, CALL_LIMIT_HEADER};
use crate::platforms::mock::{rfc3339, MockState};

/// Admits, authenticates and charges one REST call: `Ok(used)` for the call-limit header.
async fn rest_guard(
    state: &MockState,
    shop: &Shop,
    request: &HttpRequest,
    operation_name: &str,
) -> Result<u32, HttpResponse> {
    if let Err(reply) = state.admit(operation_name).await {
        if reply.status().is_server_error() {
            return Err(reply);
        }
        // A throttle storm (already counted) looks like a full bucket.
        return Err(shop.rest_throttled(shop.limits.rest_bucket));
    }
    if !shop.authorized(state, request) {
        return Err(state.refuse_auth(operation_name, unauthorized()));
    }
    let added = shop
        .rest
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .try_add(Instant::now());
    added.map_err(|used| state.throttle(operation_name, shop.rest_throttled(used)))
}

/// A REST reply with the call-limit header.
fn rest_reply(shop: &Shop, used: u32, status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CALL_LIMIT_HEADER, shop.call_limit(used)))
        .json(body)
}

/// The body of `inventory_levels/set.json`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestSet {
    /// `location_id`.
    pub location_id: u64,
    /// `inventory_item_id`.
    pub inventory_item_id: u64,
    /// `available`.
    pub available: i64,
}

/// A REST refusal: status and body.
pub type RestRefusal = (StatusCode, Value);

/// Reads the body of `inventory_levels/set.json` from raw bytes (ids as numbers or numeric
/// strings, as Shopify takes them).
pub fn parse_rest_set(body: &[u8]) -> Result<RestSet, RestRefusal> {
    let missing = |parameter: &str| {
        (
            StatusCode::BAD_REQUEST,
            json!({ "errors": { parameter: "Required parameter missing or invalid" } }),
        )
    };
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return Err(missing("inventory_level"));
    };
    let id = |name: &str| -> Result<u64, RestRefusal> {
        match object.get(name) {
            Some(Value::Number(number)) => number.as_u64().ok_or_else(|| missing(name)),
            Some(Value::String(text)) => text.parse().map_err(|_| missing(name)),
            _ => Err(missing(name)),
        }
    };
    let location_id = id("location_id")?;
    let inventory_item_id = id("inventory_item_id")?;
    let available = object
        .get("available")
        .and_then(Value::as_i64)
        .ok_or_else(|| missing("available"))?;
    if !(0..=MAX_QUANTITY).contains(&available) {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "errors": { "available": [format!("must be between 0 and {MAX_QUANTITY}")] } }),
        ));
    }
    Ok(RestSet {
        location_id,
        inventory_item_id,
        available,
    })
}

fn level_json(number: u64, available: i64, updated_at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "inventory_item_id": ids::inventory_item_id(number),
        "location_id": ids::LOCATION_ID,
        "available": available,
        "updated_at": rfc3339(updated_at),
        "admin_graphql_api_id": ids::inventory_level_gid(number),
    })
}

/// `POST /admin/api/{version}/inventory_levels/set.json`.
pub(super) async fn rest_set(
    state: web::Data<MockState>,
    shop: web::Data<Shop>,
    request: HttpRequest,
    version: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let used = match rest_guard(&state, &shop, &request, operation::REST_SET).await {
        Ok(used) => used,
        Err(reply) => return reply,
    };
    let refuse = |(status, body): RestRefusal| rest_reply(&shop, used, status, body);
    if ApiVersion::parse(&version).is_none() {
        return refuse((StatusCode::NOT_FOUND, json!({ "errors": "Not Found" })));
    }
    let set = match parse_rest_set(&body) {
        Ok(set) => set,
        Err(refusal) => return refuse(refusal),
    };
    let item_gid = ids::gid("InventoryItem", set.inventory_item_id);
    let now = state.now();
    let mut world = state.world();
    let number = world
        .listing_by_ref(&item_gid)
        .map(|listing| listing.number);
    let (Some(number), true) = (number, set.location_id == ids::LOCATION_ID) else {
        return refuse((StatusCode::NOT_FOUND, json!({ "errors": "Not Found" })));
    };
    world.set_quantity(number, set.available, now);
    rest_reply(
        &shop,
        used,
        StatusCode::OK,
        json!({ "inventory_level": level_json(number, set.available, now) }),
    )
}

/// Reads a comma-separated id list of the REST query string.
fn id_list(text: &str) -> Option<Vec<u64>> {
    text.split(',')
        .map(|id| id.trim().parse().ok())
        .collect::<Option<Vec<u64>>>()
        .filter(|ids| !ids.is_empty() && ids.len() <= 250)
}

/// `GET /admin/api/{version}/inventory_levels.json?inventory_item_ids=&location_ids=`.
pub(super) async fn rest_levels(
    state: web::Data<MockState>,
    shop: web::Data<Shop>,
    request: HttpRequest,
    version: web::Path<String>,
) -> HttpResponse {
    let used = match rest_guard(&state, &shop, &request, operation::REST_LEVELS).await {
        Ok(used) => used,
        Err(reply) => return reply,
    };
    if ApiVersion::parse(&version).is_none() {
        return rest_reply(
            &shop,
            used,
            StatusCode::NOT_FOUND,
            json!({ "errors": "Not Found" }),
        );
    }
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(request.query_string())
            .map(web::Query::into_inner)
            .unwrap_or_default();
    let mut filters = Vec::new();
    for name in ["inventory_item_ids", "location_ids"] {
        match query.get(name).map(|text| id_list(text)) {
            None => filters.push(None),
            Some(Some(ids)) => filters.push(Some(ids)),
            Some(None) => {
                let body = json!({ "errors": { name: "Required parameter missing or invalid" } });
                return rest_reply(&shop, used, StatusCode::BAD_REQUEST, body);
            }
        }
    }
    let (items, locations) = (filters[0].take(), filters[1].take());
    if items.is_none() && locations.is_none() {
        let body =
            json!({ "errors": { "inventory_item_ids": "Required parameter missing or invalid" } });
        return rest_reply(&shop, used, StatusCode::BAD_REQUEST, body);
    }
    let here = locations.is_none_or(|ids| ids.contains(&ids::LOCATION_ID));
    let world = state.world();
    let levels: Vec<Value> = world
        .listings()
        .filter(|_| here)
        .filter(|listing| {
            items
                .as_ref()
                .is_none_or(|ids| ids.contains(&ids::inventory_item_id(listing.number)))
        })
        .take(250)
        .map(|listing| level_json(listing.number, listing.quantity, listing.updated_at))
        .collect();
    rest_reply(
        &shop,
        used,
        StatusCode::OK,
        json!({ "inventory_levels": levels }),
    )
}
