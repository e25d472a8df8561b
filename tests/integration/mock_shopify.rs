//! The Shopify mock against the documented request shapes (tests/fixtures/shopify/, from
//! reference/marketplace-apis.md §1): GraphQL `inventorySetQuantities` and reads, cost and
//! throttling, the legacy REST inventory calls, order polling and signed webhooks.

use std::collections::HashMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::Platform;

use crate::mock_support::{
    assert_refused_and_unchanged, cancel_order, client, control, create_listings, fixture, listed,
    place_order, set_faults, start, stats, throttled_calls, wait_past, writes_and_conflicts,
};
use crate::webhook_support::{subscribe, Receiver};

const TOKEN: &str = "mock-token";
const LOCATION: &str = "gid://shopify/Location/124656943";

/// Posts `body` to the GraphQL endpoint of `version`; returns status, headers and JSON.
async fn graphql_at(
    mock: &MockServer,
    version: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = client()
        .post(format!(
            "{}/admin/api/{version}/graphql.json",
            mock.base_url()
        ))
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.header("X-Shopify-Access-Token", token);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    let headers = reply.headers().clone();
    (status, headers, reply.json().await.unwrap_or(Value::Null))
}

async fn graphql(mock: &MockServer, body: &Value) -> Value {
    let (status, _, reply) =
        graphql_at(mock, "2026-04", Some(TOKEN), body.to_string().into_bytes()).await;
    assert_eq!(status, 200, "{reply}");
    reply
}

/// The reference's request example aimed at `item`, setting `quantity` from `change_from`.
fn set_request(item: &Value, quantity: i64, change_from: Value, key: &str) -> Value {
    let mut body = fixture("shopify", "inventory_set_quantities.json");
    let entry = &mut body["variables"]["input"]["quantities"][0];
    entry["inventoryItemId"] = item.clone();
    entry["quantity"] = json!(quantity);
    entry["changeFromQuantity"] = change_from;
    body["variables"]["key"] = json!(key);
    body
}

fn available_query(item: &Value) -> Value {
    json!({
        "query": "query($id: ID!) { item: inventoryItem(id: $id) { id sku inventoryLevel(locationId: \"gid://shopify/Location/124656943\") { quantities(names: [\"available\"]) { name quantity } } } }",
        "variables": { "id": item },
    })
}

async fn rest(
    mock: &MockServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = client().request(
        method,
        format!("{}/admin/api/2026-04/{path}", mock.base_url()),
    );
    if let Some(token) = token {
        request = request.header("X-Shopify-Access-Token", token);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    let headers = reply.headers().clone();
    (status, headers, reply.json().await.unwrap_or(Value::Null))
}

fn legacy_id(item: &Value) -> u64 {
    item.as_str()
        .and_then(|gid| gid.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn set_then_read_back_over_graphql_and_rest() {
    let mock = start(Platform::Shopify, "default");
    let created = create_listings(&mock, &[("SKU-1", 5), ("SKU-2", 1)]).await;
    let item = created[0]["listing_ref"].clone();
    assert!(item
        .as_str()
        .unwrap()
        .starts_with("gid://shopify/InventoryItem/"));
    let reply = graphql(&mock, &set_request(&item, 11, json!(5), "key-1")).await;
    assert_eq!(
        reply["data"],
        json!({ "inventorySetQuantities": {
            "inventoryAdjustmentGroup": { "changes": [
                { "name": "available", "delta": 6, "quantityAfterChange": 11 },
                { "name": "on_hand", "delta": 6, "quantityAfterChange": 11 },
            ]},
            "userErrors": [],
        }}),
        "only the selected fields come back"
    );
    assert_eq!(reply["extensions"]["cost"]["requestedQueryCost"], 10);
    assert_eq!(reply["extensions"]["cost"]["actualQueryCost"], 10);
    let read = graphql(&mock, &available_query(&item)).await;
    assert_eq!(
        read["data"]["item"],
        json!({ "id": item, "sku": "SKU-1", "inventoryLevel": {
            "quantities": [{ "name": "available", "quantity": 11 }] } })
    );
    assert_eq!(listed(&mock).await["SKU-1"], 11);

    // REST, legacy: the documented body with the second listing's numeric id.
    let second = legacy_id(&created[1]["listing_ref"]);
    let mut body = fixture("shopify", "inventory_levels_set.json");
    body["inventory_item_id"] = json!(second);
    let (status, headers, set) = rest(
        &mock,
        reqwest::Method::POST,
        "inventory_levels/set.json",
        Some(TOKEN),
        Some(body.to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(headers["x-shopify-shop-api-call-limit"], "1/40");
    assert_eq!(set["inventory_level"]["available"], 42);
    assert_eq!(set["inventory_level"]["inventory_item_id"], second);
    assert_eq!(
        set["inventory_level"]["admin_graphql_api_id"],
        format!("gid://shopify/InventoryLevel/124656943?inventory_item_id={second}")
    );
    let (status, _, levels) = rest(
        &mock,
        reqwest::Method::GET,
        &format!("inventory_levels.json?inventory_item_ids={second}&location_ids=124656943"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(levels["inventory_levels"].as_array().unwrap().len(), 1);
    assert_eq!(levels["inventory_levels"][0]["available"], 42);
    assert_eq!(listed(&mock).await["SKU-2"], 42);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_and_changes_nothing() {
    let mock = start(Platform::Shopify, "default");
    let created = create_listings(&mock, &[("SKU-1", 5)]).await;
    let body = set_request(&created[0]["listing_ref"], 11, json!(5), "key-1");
    for token in [None, Some("wrong-token")] {
        let (status, _, reply) =
            graphql_at(&mock, "2026-04", token, body.to_string().into_bytes()).await;
        assert_eq!(status, 401);
        assert_eq!(reply, fixture("shopify", "unauthorized.json"));
        let mut rest_body = fixture("shopify", "inventory_levels_set.json");
        rest_body["inventory_item_id"] = json!(legacy_id(&created[0]["listing_ref"]));
        let (status, _, reply) = rest(
            &mock,
            reqwest::Method::POST,
            "inventory_levels/set.json",
            token,
            Some(rest_body.to_string().into_bytes()),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(reply, fixture("shopify", "unauthorized.json"));
    }
    assert_refused_and_unchanged(
        &mock,
        ("SKU-1", 5),
        &[("graphql", 2), ("rest_inventory_levels_set", 2)],
    )
    .await;
}

#[tokio::test]
async fn a_graphql_burst_gets_the_exact_throttled_reply() {
    let mock = start(Platform::Shopify, "default");
    let skus: Vec<String> = (0..250).map(|n| format!("SKU-{n:03}")).collect();
    let listings: Vec<(&str, i64)> = skus.iter().map(|sku| (sku.as_str(), 1)).collect();
    create_listings(&mock, &listings).await;
    // 2 + 250 × 1 points requested, and used in full: eight fit in a bucket of 2000.
    let query = json!({ "query": "{ inventoryItems(first: 250) { nodes { sku } } }" });
    let mut throttled = None;
    for round in 0..20 {
        let (status, headers, reply) = graphql_at(
            &mock,
            "2026-04",
            Some(TOKEN),
            query.to_string().into_bytes(),
        )
        .await;
        assert_eq!(status, 200);
        if reply.get("errors").is_some() {
            throttled = Some((headers, reply));
            break;
        }
        let cost = &reply["extensions"]["cost"];
        assert_eq!(
            (
                cost["requestedQueryCost"].as_u64(),
                cost["actualQueryCost"].as_u64()
            ),
            (Some(252), Some(252))
        );
        if round == 0 {
            let available = cost["throttleStatus"]["currentlyAvailable"]
                .as_u64()
                .unwrap();
            assert!((1748..1800).contains(&available), "{available}");
        }
    }
    let (_, reply) = throttled.expect("a burst of 20 queries of 252 points is throttled");
    let available = reply["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        .as_u64()
        .unwrap();
    assert!(available < 252, "refused only when short: {available}");
    let mut expected = fixture("shopify", "graphql_throttled.json");
    expected["extensions"]["cost"]["requestedQueryCost"] = json!(252);
    expected["extensions"]["cost"]["throttleStatus"] = json!({ "maximumAvailable": 2000.0, "currentlyAvailable": available, "restoreRate": 100.0 });
    assert_eq!(reply, expected);
    assert!(throttled_calls(&mock, "graphql").await >= 1);
}

#[tokio::test]
async fn unused_cost_is_refunded_and_oversized_queries_are_refused() {
    let mock = start(Platform::Shopify, "default");
    let reply = graphql(
        &mock,
        &json!({ "query": "{ orders(first: 50) { nodes { id } } }" }),
    )
    .await;
    let cost = &reply["extensions"]["cost"];
    assert_eq!(
        (
            cost["requestedQueryCost"].as_u64(),
            cost["actualQueryCost"].as_u64()
        ),
        (Some(52), Some(2))
    );
    assert!(
        cost["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap()
            >= 1998
    );
    let big = graphql(
        &mock,
        &json!({ "query": "{ orders(first: 250) { nodes { id lineItems(first: 5) { nodes { sku } } } } }" }),
    )
    .await;
    assert_eq!(big["errors"][0]["extensions"]["code"], "MAX_COST_EXCEEDED");
    assert_eq!(big["extensions"]["cost"]["requestedQueryCost"], 2002);
    assert!(
        big["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap()
            >= 1998
    );
    assert!(big.get("data").is_none());
}

#[tokio::test]
async fn the_graphql_throttle_can_answer_429() {
    use shelfsync::platforms::mock::MockOptions;
    use shelfsync::platforms::shopify::mock::{build_with, ShopifyKnobs};
    let knobs = ShopifyKnobs {
        graphql_throttle_status: actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        ..ShopifyKnobs::default()
    };
    let options = MockOptions::default();
    let mock = MockServer::start_with(build_with(&options, knobs).unwrap(), options).unwrap();
    let created = create_listings(&mock, &[("SKU-1", 5)]).await;
    // A throttle storm answers every call with the platform's throttled reply.
    set_faults(&mock, json!({ "throttle_all_secs": 30 })).await;
    let body = available_query(&created[0]).to_string().into_bytes();
    let (status, headers, reply) = graphql_at(&mock, "2026-04", Some(TOKEN), body).await;
    assert_eq!(status, 429, "{reply}");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(reply["errors"][0]["extensions"]["code"], "THROTTLED");
    let default = start(Platform::Shopify, "default");
    let created = create_listings(&default, &[("SKU-1", 5)]).await;
    control(&default, "faults", json!({ "throttle_all_secs": 30 })).await;
    let body = available_query(&created[0]).to_string().into_bytes();
    let (status, _, reply) = graphql_at(&default, "2026-04", Some(TOKEN), body).await;
    assert_eq!(
        (status, &reply["errors"][0]["extensions"]["code"]),
        (200, &json!("THROTTLED"))
    );
}

#[tokio::test]
async fn a_rest_burst_past_40_gets_429_exactly() {
    let mock = start(Platform::Shopify, "default");
    let created = create_listings(&mock, &[("SKU-1", 5)]).await;
    let id = legacy_id(&created[0]["listing_ref"]);
    let mut throttled = None;
    for call in 1..=45 {
        let (status, headers, body) = rest(
            &mock,
            reqwest::Method::GET,
            &format!("inventory_levels.json?inventory_item_ids={id}"),
            Some(TOKEN),
            None,
        )
        .await;
        if status == 429 {
            throttled = Some((call, headers, body));
            break;
        }
        assert_eq!(status, 200);
        assert!(headers.contains_key("x-shopify-shop-api-call-limit"));
    }
    let (call, headers, body) = throttled.expect("45 quick calls overflow a bucket of 40");
    assert!(call >= 41, "not before the bucket is full: call {call}");
    assert_eq!(headers["retry-after"], "2.0");
    assert_eq!(headers["x-shopify-shop-api-call-limit"], "40/40");
    assert_eq!(body, fixture("shopify", "rest_throttled.json"));
    assert!(throttled_calls(&mock, "rest_inventory_levels").await >= 1);
}

#[tokio::test]
async fn bad_input_gets_shopify_errors_and_changes_nothing() {
    let mock = start(Platform::Shopify, "default");
    let created = create_listings(&mock, &[("SKU-1", 5)]).await;
    let item = created[0]["listing_ref"].clone();

    let (status, _, reply) =
        graphql_at(&mock, "2026-04", Some(TOKEN), b"{\"query\":".to_vec()).await;
    assert_eq!(
        (status, reply),
        (
            400,
            json!({ "errors": { "query": "Required parameter missing or invalid" } })
        )
    );
    let (status, _, _) = graphql_at(&mock, "2026-13", Some(TOKEN), b"{}".to_vec()).await;
    assert_eq!(status, 404, "unknown API version");

    let syntax = graphql(
        &mock,
        &json!({ "query": "mutation { inventorySetQuantities(" }),
    )
    .await;
    assert!(syntax["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("syntax error"));
    let unknown = graphql(&mock, &json!({ "query": "{ shop { id planName } }" })).await;
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "undefinedField");
    assert!(
        unknown["extensions"]["cost"].is_object(),
        "cost on every reply"
    );

    let mut wrong_shape = set_request(&item, 11, json!(5), "k-shape");
    wrong_shape["variables"]["input"]["quantities"][0]["quantity"] = json!("eleven");
    let reply = graphql(&mock, &wrong_shape).await;
    assert_eq!(reply["errors"][0]["extensions"]["code"], "INVALID_VARIABLE");
    assert!(reply.get("data").is_none());

    let unknown_item = graphql(
        &mock,
        &set_request(
            &json!("gid://shopify/InventoryItem/1"),
            11,
            json!(5),
            "k-item",
        ),
    )
    .await;
    let errors = &unknown_item["data"]["inventorySetQuantities"]["userErrors"];
    assert_eq!(errors[0]["code"], "INVALID_INVENTORY_ITEM");
    assert_eq!(
        errors[0]["field"],
        json!(["input", "quantities", "0", "inventoryItemId"])
    );
    assert_eq!(
        unknown_item["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"],
        Value::Null
    );
    for (quantity, code) in [
        (1_000_000_001, "INVALID_QUANTITY_TOO_HIGH"),
        (-3, "INVALID_QUANTITY_NEGATIVE"),
    ] {
        let reply = graphql(
            &mock,
            &set_request(&item, quantity, Value::Null, &format!("k{quantity}")),
        )
        .await;
        assert_eq!(
            reply["data"]["inventorySetQuantities"]["userErrors"][0]["code"],
            code
        );
    }
    let mut bad_location = set_request(&item, 11, json!(5), "k-location");
    bad_location["variables"]["input"]["quantities"][0]["locationId"] =
        json!("gid://shopify/Location/1");
    let reply = graphql(&mock, &bad_location).await;
    assert_eq!(
        reply["data"]["inventorySetQuantities"]["userErrors"][0]["code"],
        "INVALID_LOCATION"
    );

    let id = legacy_id(&item);
    for (body, status) in [
        (b"{not json".to_vec(), 400),
        (
            json!({ "location_id": 124656943, "inventory_item_id": id })
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            json!({ "location_id": 124656943, "inventory_item_id": 1, "available": 3 })
                .to_string()
                .into_bytes(),
            404,
        ),
        (
            json!({ "location_id": 124656943, "inventory_item_id": id, "available": -1 })
                .to_string()
                .into_bytes(),
            422,
        ),
    ] {
        let (got, headers, reply) = rest(
            &mock,
            reqwest::Method::POST,
            "inventory_levels/set.json",
            Some(TOKEN),
            Some(body),
        )
        .await;
        assert_eq!(got, status, "{reply}");
        assert!(reply["errors"].is_object() || reply["errors"].is_string());
        assert!(headers.contains_key("x-shopify-shop-api-call-limit"));
    }
    assert_eq!(listed(&mock).await["SKU-1"], 5);
    assert_eq!(stats(&mock).await["quantity_writes"], 0);
}

#[tokio::test]
async fn a_stale_change_from_quantity_applies_nothing_and_is_counted() {
    let mock = start(Platform::Shopify, "default");
    let created = create_listings(&mock, &[("SKU-1", 5), ("SKU-2", 7)]).await;
    let mut body = set_request(&created[0]["listing_ref"], 11, json!(5), "cas-1");
    // The second quantity is stale: the whole call is refused, the first not applied either.
    let stale = json!({ "inventoryItemId": created[1]["listing_ref"], "locationId": LOCATION,
                        "quantity": 1, "changeFromQuantity": 6 });
    body["variables"]["input"]["quantities"]
        .as_array_mut()
        .unwrap()
        .push(stale);
    let reply = graphql(&mock, &body).await;
    let payload = &reply["data"]["inventorySetQuantities"];
    assert_eq!(payload["inventoryAdjustmentGroup"], Value::Null);
    assert_eq!(
        payload["userErrors"],
        json!([{ "code": "CHANGE_FROM_QUANTITY_STALE",
                 "field": ["input", "quantities", "1", "changeFromQuantity"],
                 "message": "The changeFromQuantity argument no longer matches the persisted quantity." }])
    );
    let listed = listed(&mock).await;
    assert_eq!((listed["SKU-1"], listed["SKU-2"]), (5, 7));
    assert_eq!(writes_and_conflicts(&mock).await, (Some(0), Some(1)));
}

#[tokio::test]
async fn an_idempotent_replay_applies_once() {
    let mock = start(Platform::Shopify, "default");
    let created = create_listings(&mock, &[("SKU-1", 5)]).await;
    let item = created[0]["listing_ref"].clone();
    let body = set_request(&item, 11, json!(5), "replay-key");
    let first = graphql(&mock, &body).await;
    // A sale moves the listing on; the replay must neither re-apply nor see the stale CAS.
    place_order(&mock, "SKU-1", 2).await;
    let replay = graphql(&mock, &body).await;
    assert_eq!(replay["data"], first["data"]);
    assert_eq!(listed(&mock).await["SKU-1"], 9);
    let mut other = body.clone();
    other["variables"]["input"]["quantities"][0]["quantity"] = json!(3);
    let reused = graphql(&mock, &other).await;
    assert_eq!(
        reused["errors"][0]["extensions"]["code"],
        "IDEMPOTENCY_KEY_REUSED"
    );
    assert_eq!(listed(&mock).await["SKU-1"], 9);
    assert_eq!(writes_and_conflicts(&mock).await, (Some(1), Some(0)));
}

#[tokio::test]
async fn api_versions_apply_their_compare_and_swap_rules() {
    let mock = start(Platform::Shopify, "default");
    let created = create_listings(&mock, &[("SKU-1", 5)]).await;
    let item = created[0]["listing_ref"].clone();
    let mut missing = set_request(&item, 11, Value::Null, "v-1");
    missing["variables"]["input"]["quantities"][0]
        .as_object_mut()
        .unwrap()
        .remove("changeFromQuantity");
    let reply = graphql(&mock, &missing).await;
    assert_eq!(reply["errors"][0]["extensions"]["code"], "INVALID_VARIABLE");
    assert_eq!(
        reply["errors"][0]["extensions"]["problems"][0]["path"],
        json!(["quantities", 0, "changeFromQuantity"])
    );
    let mut compare = set_request(&item, 11, Value::Null, "v-2");
    compare["variables"]["input"]["quantities"][0]["compareQuantity"] = json!(5);
    assert_eq!(
        graphql(&mock, &compare).await["errors"][0]["extensions"]["code"],
        "INVALID_VARIABLE"
    );
    let without_key = json!({
        "query": "mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { userErrors { code } } }",
        "variables": { "input": set_request(&item, 11, Value::Null, "unused")["variables"]["input"] },
    });
    let reply = graphql(&mock, &without_key).await;
    assert_eq!(
        reply["errors"][0]["extensions"]["code"],
        "IDEMPOTENCY_KEY_REQUIRED"
    );
    assert_eq!(listed(&mock).await["SKU-1"], 5);
    // 2026-01: neither the directive nor changeFromQuantity is required.
    let (status, _, reply) = graphql_at(
        &mock,
        "2026-01",
        Some(TOKEN),
        missing_key_and_cas(&item).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        reply["data"]["inventorySetQuantities"]["userErrors"],
        json!([])
    );
    assert_eq!(listed(&mock).await["SKU-1"], 11);
}

fn missing_key_and_cas(item: &Value) -> Value {
    json!({
        "query": "mutation { inventorySetQuantities(input: {name: \"available\", reason: \"correction\", quantities: [{inventoryItemId: \"ITEM\", locationId: \"gid://shopify/Location/124656943\", quantity: 11}]}) { userErrors { code } } }"
            .replace("ITEM", item.as_str().unwrap()),
    })
}

const ORDERS_QUERY: &str = "query($q: String, $after: String) { orders(first: 2, after: $after, query: $q, sortKey: UPDATED_AT) { edges { cursor node { id name createdAt updatedAt cancelledAt lineItems(first: 5) { nodes { sku quantity } } } } pageInfo { hasNextPage endCursor } } }";

async fn orders_page(mock: &MockServer, query: &str, after: Option<&str>) -> Value {
    let reply = graphql(
        mock,
        &json!({ "query": ORDERS_QUERY, "variables": { "q": query, "after": after } }),
    )
    .await;
    assert!(reply.get("errors").is_none(), "{reply}");
    reply["data"]["orders"].clone()
}

#[tokio::test]
async fn orders_are_polled_by_updated_at_and_paged_and_show_cancellation() {
    let mock = start(Platform::Shopify, "default");
    create_listings(&mock, &[("SKU-1", 10)]).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut ids = Vec::new();
    for quantity in [1, 2, 3] {
        ids.push(place_order(&mock, "SKU-1", quantity).await);
    }
    let query = format!(
        "updated_at:>'{}'",
        since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    let first = orders_page(&mock, &query, None).await;
    assert_eq!(first["edges"].as_array().unwrap().len(), 2);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let node = &first["edges"][0]["node"];
    assert_eq!(node["id"], format!("gid://shopify/Order/{}", ids[0]));
    assert_eq!(node["name"], "#1001");
    assert_eq!(node["cancelledAt"], Value::Null);
    assert_eq!(
        node["lineItems"]["nodes"],
        json!([{ "sku": "SKU-1", "quantity": 1 }])
    );
    let second = orders_page(&mock, &query, first["pageInfo"]["endCursor"].as_str()).await;
    assert_eq!(second["edges"].as_array().unwrap().len(), 1);
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
    let last_update = second["edges"][0]["node"]["updatedAt"]
        .as_str()
        .unwrap()
        .to_string();
    let last = chrono::DateTime::parse_from_rfc3339(&last_update).unwrap();
    // The cancellation must land after the last placement on the millisecond clock.
    wait_past(last).await;
    cancel_order(&mock, &ids[1]).await;
    let changed = orders_page(&mock, &format!("updated_at:>'{last_update}'"), None).await;
    let edges = changed["edges"].as_array().unwrap();
    assert_eq!(
        edges.len(),
        1,
        "only the cancelled order changed since: {changed}"
    );
    let cancelled = &edges[0]["node"];
    assert_eq!(cancelled["id"], format!("gid://shopify/Order/{}", ids[1]));
    assert!(cancelled["cancelledAt"].is_string());
    assert!(cancelled["updatedAt"].as_str().unwrap() > cancelled["createdAt"].as_str().unwrap());
    // Sorted by update, the cancelled order now comes last.
    let all = orders_page(&mock, &query, None).await;
    let rest = orders_page(&mock, &query, all["pageInfo"]["endCursor"].as_str()).await;
    assert_eq!(
        rest["edges"][0]["node"]["id"],
        format!("gid://shopify/Order/{}", ids[1])
    );
}

fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return false;
    };
    mac.verify_slice(&signature).is_ok()
}

#[tokio::test]
async fn webhooks_are_signed_over_the_raw_body_and_carry_every_header() {
    let mock = start(Platform::Shopify, "default");
    let receiver = Receiver::start(0);
    subscribe(&mock, &receiver, "app-secret").await;
    create_listings(&mock, &[("SKU-1", 10)]).await;
    let order_id = place_order(&mock, "SKU-1", 2).await;
    cancel_order(&mock, &order_id).await;
    let deliveries = receiver.wait_for(2).await;
    let by_topic = |topic: &str| {
        deliveries
            .iter()
            .find(|(headers, _)| headers["x-shopify-topic"] == topic)
            .cloned()
            .unwrap_or_else(|| panic!("no {topic} delivery"))
    };
    for topic in ["orders/create", "orders/cancelled"] {
        let (headers, body) = by_topic(topic);
        for name in [
            "x-shopify-hmac-sha256",
            "x-shopify-shop-domain",
            "x-shopify-api-version",
            "x-shopify-webhook-id",
            "x-shopify-triggered-at",
            "x-shopify-event-id",
        ] {
            assert!(
                headers.get(name).is_some_and(|value| !value.is_empty()),
                "{topic}: {name}"
            );
        }
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            headers["x-shopify-shop-domain"],
            "shelfsync-mock.myshopify.com"
        );
        assert!(
            verify("app-secret", &body, &headers["x-shopify-hmac-sha256"]),
            "{topic} verifies"
        );
        assert!(!verify(
            "other-secret",
            &body,
            &headers["x-shopify-hmac-sha256"]
        ));
        let order: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(order["id"].to_string(), order_id);
        assert_eq!(
            order["admin_graphql_api_id"],
            format!("gid://shopify/Order/{order_id}")
        );
        assert_eq!(order["name"], "#1001");
        assert_eq!(order["line_items"][0]["sku"], "SKU-1");
        assert_eq!(order["line_items"][0]["quantity"], 2);
        assert_eq!(
            order["cancelled_at"].is_string(),
            topic == "orders/cancelled"
        );
    }
    assert_ne!(
        by_topic("orders/create").0["x-shopify-webhook-id"],
        by_topic("orders/cancelled").0["x-shopify-webhook-id"]
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_webhook_id() {
    let mock = start(Platform::Shopify, "default");
    let receiver = Receiver::start(1);
    subscribe(&mock, &receiver, "app-secret").await;
    create_listings(&mock, &[("SKU-1", 10)]).await;
    control(&mock, "orders", json!({ "sku": "SKU-1", "quantity": 1 })).await;
    let deliveries = receiver.wait_for(2).await;
    assert_eq!(
        deliveries[0].0["x-shopify-webhook-id"],
        deliveries[1].0["x-shopify-webhook-id"]
    );
    assert_eq!(deliveries[0].1, deliveries[1].1, "the original payload");
    let stats = stats(&mock).await;
    assert_eq!(
        (
            stats["webhook_attempts_failed"].as_u64(),
            stats["webhooks_delivered"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn duplicated_webhooks_arrive_twice_each() {
    let mock = start(Platform::Shopify, "default");
    let receiver = Receiver::start(0);
    subscribe(&mock, &receiver, "app-secret").await;
    create_listings(&mock, &[("SKU-1", 10)]).await;
    set_faults(&mock, json!({ "duplicate_webhook_rate": 1.0 })).await;
    for _ in 0..3 {
        control(&mock, "orders", json!({ "sku": "SKU-1", "quantity": 1 })).await;
    }
    let deliveries = receiver.wait_for(6).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (headers, _) in &deliveries {
        *counts
            .entry(headers["x-shopify-webhook-id"].clone())
            .or_default() += 1;
    }
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|count| *count == 2), "{counts:?}");
}

#[tokio::test]
async fn reordered_webhooks_arrive_out_of_order() {
    let mock = start(Platform::Shopify, "default");
    let receiver = Receiver::start(0);
    subscribe(&mock, &receiver, "app-secret").await;
    create_listings(&mock, &[("SKU-1", 100)]).await;
    control(&mock, "faults", json!({ "reorder_webhooks": true })).await;
    for _ in 0..20 {
        control(&mock, "orders", json!({ "sku": "SKU-1", "quantity": 1 })).await;
    }
    let deliveries = receiver.wait_for(20).await;
    let numbers: Vec<u64> = deliveries
        .iter()
        .map(|(_, body)| {
            serde_json::from_slice::<Value>(body).unwrap()["order_number"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (1001..=1020).collect::<Vec<_>>(),
        "every order once"
    );
    assert_ne!(numbers, sorted, "a burst of 20 arrives out of order");
}
