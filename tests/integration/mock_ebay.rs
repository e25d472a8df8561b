//! The eBay mock against the documented request shapes (tests/fixtures/ebay/, from
//! reference/marketplace-apis.md §5.1, §5.3 and §5.4).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::Platform;

use crate::mock_support::{
    assert_refused_and_unchanged, cancel_order, client, create_listings, eventually, fixture, info,
    listed, place_order, set_faults, start, stats,
};

const BULK: &str = "/sell/inventory/v1/bulk_update_price_quantity";

fn ebay(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    let request = request
        .header("X-EBAY-C-MARKETPLACE-ID", "EBAY_US")
        .header("Accept", "application/json");
    match token {
        Some(token) => request.header("Authorization", format!("Bearer {token}")),
        None => request,
    }
}

/// The §5.1 request example with its SKU, offer id and quantities patched.
fn bulk_fixture(sku: &str, offer_id: &str, quantity: i64, available: i64) -> Value {
    let mut body = fixture("ebay", "bulk_update_price_quantity.json");
    let item = &mut body["requests"][0];
    item["sku"] = json!(sku);
    item["shipToLocationAvailability"]["quantity"] = json!(quantity);
    item["offers"][0]["offerId"] = json!(offer_id);
    item["offers"][0]["availableQuantity"] = json!(available);
    body
}

async fn post_bulk(mock: &MockServer, body: reqwest::Body) -> (u16, Value) {
    let reply = ebay(
        client().post(format!("{}{BULK}", mock.base_url())),
        Some("mock-token"),
    )
    .header("Content-Type", "application/json")
    .body(body)
    .send()
    .await
    .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

async fn post_bulk_json(mock: &MockServer, body: &Value) -> (u16, Value) {
    post_bulk(mock, serde_json::to_vec(body).unwrap().into()).await
}

async fn get(mock: &MockServer, path_and_query: &str) -> (u16, Value) {
    let url = if path_and_query.starts_with("http") {
        path_and_query.to_string()
    } else {
        format!("{}{path_and_query}", mock.base_url())
    };
    let reply = ebay(client().get(url), Some("mock-token"))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

fn offer_of(listing: &Value) -> String {
    listing["ids"]["offer_id"].as_str().unwrap().to_string()
}

fn item_request(sku: &str, quantity: i64) -> Value {
    json!({ "sku": sku, "shipToLocationAvailability": { "quantity": quantity } })
}

/// Waits (bounded) until the wall clock is past `time` by a millisecond, so that the next change
/// gets a later millisecond time stamp than `time`.
async fn clock_past(time: DateTime<Utc>) {
    let passed = eventually(Duration::from_secs(1), || async move {
        Utc::now() > time + chrono::Duration::milliseconds(1)
    })
    .await;
    assert!(passed, "the clock moves");
}

fn millis(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn set_then_read_back() {
    let mock = start(Platform::Ebay, "default");
    let created = create_listings(&mock, &[("SKU-1", 3)]).await;
    assert_eq!(created[0]["listing_ref"], "SKU-1");
    let offer_id = offer_of(&created[0]);
    let (status, reply) = post_bulk_json(&mock, &bulk_fixture("SKU-1", &offer_id, 12, 12)).await;
    assert_eq!(status, 200);
    let mut expected = fixture("ebay", "bulk_update_price_quantity_response.json");
    expected["responses"][0]["offerId"] = json!(offer_id);
    assert_eq!(reply, expected);
    let (status, item) = get(&mock, "/sell/inventory/v1/inventory_item/SKU-1").await;
    assert_eq!(status, 200);
    assert_eq!(
        item,
        json!({
            "sku": "SKU-1",
            "locale": "en_US",
            "condition": "NEW",
            "product": { "title": "Mock listing SKU-1" },
            "availability": { "shipToLocationAvailability": { "quantity": 12 } },
        })
    );
    assert_eq!(listed(&mock).await["SKU-1"], 12);
    let info: Value = info(&mock).await;
    assert_eq!(info["account"]["marketplace_id"], "EBAY_US");
    assert_eq!(info["limits"]["daily_quota"]["inventory"], 2_000_000);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_and_changes_nothing() {
    let mock = start(Platform::Ebay, "default");
    let created = create_listings(&mock, &[("SKU-1", 3)]).await;
    let body = bulk_fixture("SKU-1", &offer_of(&created[0]), 12, 12);
    let http = client();
    for token in [None, Some("wrong-token")] {
        let reply = ebay(http.post(format!("{}{BULK}", mock.base_url())), token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401);
        assert_eq!(
            reply.json::<Value>().await.unwrap(),
            fixture("ebay", "unauthorized.json")
        );
    }
    let basic = http
        .get(format!("{}/sell/fulfillment/v1/order", mock.base_url()))
        .header("Authorization", "Basic mock-token")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert_refused_and_unchanged(
        &mock,
        ("SKU-1", 3),
        &[("bulk_update_price_quantity", 2), ("get_orders", 1)],
    )
    .await;
}

#[tokio::test]
async fn a_burst_on_the_tiny_plan_gets_the_exact_2001_reply() {
    let mock = start(Platform::Ebay, "tiny");
    create_listings(&mock, &[("SKU-1", 3)]).await;
    let http = client();
    let mut throttled = None;
    for call in 1..=25 {
        let reply = ebay(
            http.get(format!(
                "{}/sell/inventory/v1/inventory_item/SKU-1",
                mock.base_url()
            )),
            Some("mock-token"),
        )
        .send()
        .await
        .unwrap();
        if reply.status() == 429 {
            throttled = Some((call, reply));
            break;
        }
        assert_eq!(reply.status(), 200);
    }
    let (call, reply) = throttled.expect("a burst of 25 calls uses up a quota of 20");
    assert_eq!(call, 21, "the quota is 20 calls a day");
    assert!(reply.headers().get("retry-after").is_none());
    assert_eq!(
        reply.json::<Value>().await.unwrap(),
        fixture("ebay", "throttled.json")
    );
    // The Inventory quota covers both inventory calls; Fulfillment has its own.
    let (status, body) =
        post_bulk_json(&mock, &json!({ "requests": [item_request("SKU-1", 9)] })).await;
    assert_eq!((status, body), (429, fixture("ebay", "throttled.json")));
    assert_eq!(listed(&mock).await["SKU-1"], 3);
    assert_eq!(get(&mock, "/sell/fulfillment/v1/order").await.0, 200);
    let stats = stats(&mock).await;
    assert_eq!(stats["throttled"]["get_inventory_item"], 1);
    assert_eq!(stats["throttled"]["bulk_update_price_quantity"], 1);
}

#[tokio::test]
async fn a_throttle_storm_on_the_default_plan_gets_the_same_reply() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 3)]).await;
    set_faults(&mock, json!({ "throttle_all_secs": 30 })).await;
    let (status, body) =
        post_bulk_json(&mock, &json!({ "requests": [item_request("SKU-1", 9)] })).await;
    assert_eq!((status, body), (429, fixture("ebay", "throttled.json")));
    assert_eq!(listed(&mock).await["SKU-1"], 3);
}

#[tokio::test]
async fn bad_input_gets_ebay_errors_and_changes_nothing() {
    let mock = start(Platform::Ebay, "default");
    let created = create_listings(&mock, &[("SKU-1", 3)]).await;
    let offer_id = offer_of(&created[0]);
    let (status, body) = post_bulk(&mock, "{\"requests\":[{".into()).await;
    assert_eq!(
        (status, body["errors"][0]["errorId"].as_u64()),
        (400, Some(2004))
    );
    let (status, body) = post_bulk_json(&mock, &json!({ "requests": { "sku": "SKU-1" } })).await;
    assert_eq!(
        (status, body["errors"][0]["errorId"].as_u64()),
        (400, Some(2004))
    );
    let (status, body) = post_bulk_json(
        &mock,
        &json!({ "requests": [{ "sku": "SKU-1", "shipToLocationAvailability": { "quantity": "7" } }] }),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["errorId"].as_u64()),
        (400, Some(2004))
    );
    for quantity in [-1, 1_000_000_001] {
        let (status, body) =
            post_bulk_json(&mock, &bulk_fixture("SKU-1", &offer_id, quantity, 1)).await;
        assert_eq!(status, 207);
        let item = &body["responses"][0];
        assert_eq!(item["statusCode"], 400);
        assert_eq!(item["errors"][0]["errorId"], 25709);
        assert_eq!(item["errors"][0]["domain"], "API_INVENTORY");
    }
    let (status, body) = post_bulk_json(&mock, &bulk_fixture("SKU-1", "500000000999", 5, 5)).await;
    assert_eq!(status, 207);
    assert_eq!(body["responses"][0]["errors"][0]["errorId"], 25713);
    let (status, body) = post_bulk_json(&mock, &bulk_fixture("NO-SUCH", &offer_id, 5, 5)).await;
    assert_eq!(
        (status, body["responses"][0]["statusCode"].as_u64()),
        (207, Some(404))
    );
    let (status, body) = get(&mock, "/sell/inventory/v1/inventory_item/NO-SUCH").await;
    assert_eq!(status, 404);
    assert_eq!(body["errors"][0]["errorId"], 25710);
    assert_eq!(
        body["errors"][0]["message"],
        "We didn't find the entity you are requesting. Please verify the request"
    );
    assert_eq!(listed(&mock).await["SKU-1"], 3);
    assert_eq!(stats(&mock).await["quantity_writes"], 0);
    let (_, item) = get(&mock, "/sell/inventory/v1/inventory_item/SKU-1").await;
    assert_eq!(
        item["availability"]["shipToLocationAvailability"]["quantity"],
        3
    );
}

#[tokio::test]
async fn a_batch_with_an_unknown_sku_is_207_and_applies_the_good_items() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 1), ("SKU-2", 2)]).await;
    let body = json!({ "requests": [
        item_request("SKU-1", 10),
        item_request("NO-SUCH", 11),
        item_request("SKU-2", 12),
    ]});
    let (status, reply) = post_bulk_json(&mock, &body).await;
    assert_eq!(status, 207);
    let statuses: Vec<(String, u64)> = reply["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["sku"].as_str().unwrap().to_string(),
                item["statusCode"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("SKU-1".to_string(), 200),
            ("NO-SUCH".to_string(), 404),
            ("SKU-2".to_string(), 200)
        ]
    );
    assert_eq!(reply["responses"][1]["errors"][0]["errorId"], 25710);
    assert!(reply["responses"][1].get("offerId").is_none());
    assert_eq!(reply["responses"][0]["offerId"], "500000000001");
    let listed = listed(&mock).await;
    assert_eq!((listed["SKU-1"], listed["SKU-2"]), (10, 12));
    assert!(!listed.contains_key("NO-SUCH"));
    assert_eq!(stats(&mock).await["quantity_writes"], 2);
}

#[tokio::test]
async fn twenty_six_requests_are_refused_whole() {
    let mock = start(Platform::Ebay, "default");
    let skus: Vec<String> = (1..=26).map(|n| format!("SKU-{n}")).collect();
    let listings: Vec<(&str, i64)> = skus.iter().map(|sku| (sku.as_str(), 1)).collect();
    create_listings(&mock, &listings).await;
    let requests = |count: usize| -> Value {
        let items: Vec<Value> = skus
            .iter()
            .take(count)
            .map(|sku| item_request(sku, 7))
            .collect();
        json!({ "requests": items })
    };
    let (status, body) = post_bulk_json(&mock, &requests(26)).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["errorId"], 25709);
    assert!(listed(&mock).await.values().all(|&quantity| quantity == 1));
    let (status, body) = post_bulk_json(&mock, &requests(25)).await;
    assert_eq!(status, 200);
    assert_eq!(body["responses"].as_array().unwrap().len(), 25);
    assert_eq!(listed(&mock).await["SKU-25"], 7);
}

#[tokio::test]
async fn the_offer_quantity_caps_the_listed_quantity() {
    let mock = start(Platform::Ebay, "default");
    let created = create_listings(&mock, &[("SKU-1", 3)]).await;
    let offer_id = offer_of(&created[0]);
    let (status, _) = post_bulk_json(&mock, &bulk_fixture("SKU-1", &offer_id, 12, 5)).await;
    assert_eq!(status, 200);
    assert_eq!(listed(&mock).await["SKU-1"], 5, "min(12, 5)");
    let (_, item) = get(&mock, "/sell/inventory/v1/inventory_item/SKU-1").await;
    assert_eq!(
        item["availability"]["shipToLocationAvailability"]["quantity"],
        12
    );
    // A sale takes units from the item and from the offer.
    place_order(&mock, "SKU-1", 2).await;
    assert_eq!(listed(&mock).await["SKU-1"], 3);
    let (_, item) = get(&mock, "/sell/inventory/v1/inventory_item/SKU-1").await;
    assert_eq!(
        item["availability"]["shipToLocationAvailability"]["quantity"],
        10
    );
    // Raising only the item quantity keeps the offer's cap.
    let body = json!({ "requests": [item_request("SKU-1", 20)] });
    assert_eq!(post_bulk_json(&mock, &body).await.0, 200);
    assert_eq!(listed(&mock).await["SKU-1"], 3);
    let (status, _) = post_bulk_json(&mock, &bulk_fixture("SKU-1", &offer_id, 2, 30)).await;
    assert_eq!(status, 200);
    assert_eq!(listed(&mock).await["SKU-1"], 2, "min(2, 30)");
}

#[tokio::test]
async fn orders_are_polled_by_last_modified_date_and_paged() {
    let mock = start(Platform::Ebay, "default");
    let created = create_listings(&mock, &[("SKU-1", 10)]).await;
    let since = Utc::now() - chrono::Duration::seconds(1);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(place_order(&mock, "SKU-1", 2).await);
    }
    let filter = format!("lastmodifieddate:[{}..]", millis(since));
    let (status, first) = get(
        &mock,
        &format!("/sell/fulfillment/v1/order?filter={filter}&limit=2&offset=0"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (first["total"].as_u64(), first["limit"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(first["offset"], 0);
    assert!(first.get("prev").is_none());
    let orders = first["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2);
    let order = &orders[0];
    assert_eq!(order["orderId"], ids[0].as_str());
    assert_eq!(ids[0].len(), 14, "shaped like 12-34567-89012");
    assert_eq!(order["orderFulfillmentStatus"], "NOT_STARTED");
    assert_eq!(order["orderPaymentStatus"], "PAID");
    assert_eq!(
        order["cancelStatus"],
        json!({ "cancelState": "NONE_REQUESTED", "cancelRequests": [] })
    );
    let line = &order["lineItems"][0];
    assert_eq!(
        (line["sku"].as_str(), line["quantity"].as_i64()),
        (Some("SKU-1"), Some(2))
    );
    assert_eq!(line["legacyItemId"], created[0]["ids"]["listing_id"]);
    let next = first["next"].as_str().expect("a next page");
    let (status, second) = get(&mock, next).await;
    assert_eq!(status, 200);
    assert_eq!(second["offset"], 2);
    assert_eq!(second["orders"].as_array().unwrap().len(), 1);
    assert_eq!(second["orders"][0]["orderId"], ids[2].as_str());
    assert!(second.get("next").is_none());
    assert!(second["prev"].as_str().unwrap().contains("offset=0"));
    // A closed creation-date range that ends before the orders selects none of them.
    let before = millis(since - chrono::Duration::seconds(1));
    let (status, none) = get(
        &mock,
        &format!(
            "/sell/fulfillment/v1/order?filter=creationdate:[{before}..{}]",
            millis(since)
        ),
    )
    .await;
    assert_eq!((status, none["total"].as_u64()), (200, Some(0)));
    let (status, malformed) = get(
        &mock,
        "/sell/fulfillment/v1/order?filter=lastmodified:[2026-01-01T00:00:00.000Z..]",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(malformed["errors"][0]["errorId"], 30700);
    assert_eq!(malformed["errors"][0]["domain"], "API_FULFILLMENT");
    let (status, _) = get(&mock, "/sell/fulfillment/v1/order?limit=201").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_cancelled_order_shows_canceled_with_a_later_modified_date() {
    let mock = start(Platform::Ebay, "default");
    create_listings(&mock, &[("SKU-1", 10)]).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(place_order(&mock, "SKU-1", 1).await);
    }
    // The mark is a millisecond past every creation time, so the filter's millisecond
    // precision cannot take in an order that was only created.
    clock_past(Utc::now()).await;
    let mark = Utc::now();
    cancel_order(&mock, &ids[0]).await;
    let filter = format!("lastmodifieddate:[{}..]", millis(mark));
    let (status, feed) = get(
        &mock,
        &format!("/sell/fulfillment/v1/order?filter={filter}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        feed["total"], 1,
        "only the cancelled order changed since the mark"
    );
    let order = &feed["orders"][0];
    assert_eq!(order["orderId"], ids[0].as_str());
    assert_eq!(order["cancelStatus"]["cancelState"], "CANCELED");
    assert_eq!(order["cancelStatus"]["cancelRequests"], json!([]));
    let created: DateTime<Utc> = order["creationDate"].as_str().unwrap().parse().unwrap();
    let modified: DateTime<Utc> = order["lastModifiedDate"].as_str().unwrap().parse().unwrap();
    assert!(modified > created, "{modified} after {created}");
    let (status, detail) = get(&mock, &format!("/sell/fulfillment/v1/order/{}", ids[0])).await;
    assert_eq!(status, 200);
    assert_eq!(detail["cancelStatus"]["cancelState"], "CANCELED");
    assert_eq!(
        detail["cancelStatus"]["cancelRequests"][0]["cancelRequestState"],
        "COMPLETED"
    );
    let (status, still) = get(&mock, &format!("/sell/fulfillment/v1/order/{}", ids[1])).await;
    assert_eq!(
        (status, still["cancelStatus"]["cancelState"].as_str()),
        (200, Some("NONE_REQUESTED"))
    );
    let (status, missing) = get(&mock, "/sell/fulfillment/v1/order/99-99999-99999").await;
    assert_eq!(
        (status, missing["errors"][0]["errorId"].as_u64()),
        (404, Some(32100))
    );
    assert_eq!(
        listed(&mock).await["SKU-1"],
        9,
        "the cancelled unit is back"
    );
}
