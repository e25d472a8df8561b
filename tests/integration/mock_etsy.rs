//! The Etsy mock against the documented request shapes (tests/fixtures/etsy/, from
//! reference/marketplace-apis.md §2).

use std::time::Duration;

use serde_json::{json, Value};
use shelfsync::platforms::etsy::mock::{KEYSTRING, SHOP_ID, USER_ID};
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::Platform;

use crate::mock_support::{
    assert_refused_and_unchanged, cancel_order, client, create_listings, eventually, first_429,
    fixture, info, listed, place_order, start, stats, throttled_calls,
};

const LIMIT_HEADERS: [&str; 4] = [
    "x-limit-per-second",
    "x-remaining-this-second",
    "x-limit-per-day",
    "x-remaining-today",
];

/// Adds Etsy's two auth headers: the mock app's key with any shared secret, and the bearer.
fn etsy(request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    request
        .header("x-api-key", format!("{KEYSTRING}:shared-secret-1"))
        .header("Authorization", format!("Bearer {USER_ID}.{token}"))
}

fn inventory_url(mock: &MockServer, listing_ref: &str) -> String {
    format!(
        "{}/v3/application/listings/{listing_ref}/inventory",
        mock.base_url()
    )
}

fn receipts_url(mock: &MockServer, query: &str) -> String {
    format!(
        "{}/v3/application/shops/{SHOP_ID}/receipts?{query}",
        mock.base_url()
    )
}

/// The docs' `PUT` example with its SKU patched.
fn docs_body(sku: &str) -> Value {
    let mut body = fixture("etsy", "update_inventory.json");
    body["products"][0]["sku"] = json!(sku);
    body
}

/// Creates one listing and returns its `listing_ref` (the listing id).
async fn one_listing(mock: &MockServer, sku: &str, quantity: i64) -> String {
    let created = create_listings(mock, &[(sku, quantity)]).await;
    created[0]["listing_ref"].as_str().unwrap().to_string()
}

async fn get_json(url: String) -> (u16, Value) {
    let reply = etsy(client().get(url), "mock-token").send().await.unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

async fn put_json(mock: &MockServer, listing_ref: &str, body: Vec<u8>) -> (u16, Value) {
    let reply = etsy(client().put(inventory_url(mock, listing_ref)), "mock-token")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

#[tokio::test]
async fn set_then_read_back_in_the_get_shape() {
    let mock = start(Platform::Etsy, "default");
    let listing_ref = one_listing(&mock, "SKU_0001", 3).await;
    assert_eq!(listing_ref, "1000000001");
    let put = etsy(
        client().put(inventory_url(&mock, &listing_ref)),
        "mock-token",
    )
    .json(&docs_body("SKU_0001"))
    .send()
    .await
    .unwrap();
    assert_eq!(put.status(), 200);
    for name in LIMIT_HEADERS {
        assert!(put.headers().contains_key(name), "{name} on a success");
    }
    let (status, read) = get_json(inventory_url(&mock, &listing_ref)).await;
    assert_eq!(status, 200);
    let product = &read["products"][0];
    assert_eq!(product["sku"], "SKU_0001");
    assert_eq!(product["product_id"], 10_000_000_001u64);
    assert_eq!(product["is_deleted"], false);
    assert_eq!(product["property_values"][0]["values"], json!(["Red"]));
    let offering = &product["offerings"][0];
    assert_eq!(offering["quantity"], 7);
    assert_eq!(
        offering["price"],
        json!({ "amount": 2200, "divisor": 100, "currency_code": "USD" })
    );
    assert_eq!(offering["readiness_state_id"], 12345);
    assert!(offering["offering_id"].is_u64() && offering["is_deleted"] == false);
    assert_eq!(read["quantity_on_property"], json!([200]));
    assert_eq!(listed(&mock).await["SKU_0001"], 7);
    // A sale on the marketplace shows on the next read.
    place_order(&mock, "SKU_0001", 2).await;
    let (_, read) = get_json(inventory_url(&mock, &listing_ref)).await;
    assert_eq!(read["products"][0]["offerings"][0]["quantity"], 5);
}

#[tokio::test]
async fn the_get_shape_sent_back_is_refused_and_the_put_shape_is_taken() {
    let mock = start(Platform::Etsy, "default");
    let listing_ref = one_listing(&mock, "SKU_0001", 3).await;
    let (_, read) = get_json(inventory_url(&mock, &listing_ref)).await;
    let (status, refused) = put_json(&mock, &listing_ref, serde_json::to_vec(&read).unwrap()).await;
    assert_eq!(status, 400);
    assert!(refused["error"].as_str().unwrap().contains("product_id"));
    assert_eq!(listed(&mock).await["SKU_0001"], 3);
    // Stripped of the GET-only fields, with a float price and a new quantity, it is taken.
    let mut body = read.clone();
    let product = body["products"][0].as_object_mut().unwrap();
    product.remove("product_id");
    product.remove("is_deleted");
    let offering = product["offerings"][0].as_object_mut().unwrap();
    offering.remove("offering_id");
    offering.remove("is_deleted");
    offering.insert("price".into(), json!(20.0));
    offering.insert("quantity".into(), json!(9));
    let (status, shown) = put_json(&mock, &listing_ref, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["products"][0]["offerings"][0]["quantity"], 9);
    assert_eq!(listed(&mock).await["SKU_0001"], 9);
}

#[tokio::test]
async fn a_missing_or_wrong_credential_is_refused_and_changes_nothing() {
    let mock = start(Platform::Etsy, "default");
    let listing_ref = one_listing(&mock, "SKU_0001", 3).await;
    let url = inventory_url(&mock, &listing_ref);
    let bearer = format!("Bearer {USER_ID}.mock-token");
    let http = client();
    let bad_keys = [
        None,
        Some(KEYSTRING.to_string()),
        Some("wrongkeystring:secret".to_string()),
    ];
    for key in bad_keys {
        let mut request = http.put(&url).header("Authorization", &bearer);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let reply = request.json(&docs_body("SKU_0001")).send().await.unwrap();
        assert_eq!(reply.status(), 403);
        assert!(LIMIT_HEADERS
            .iter()
            .all(|h| !reply.headers().contains_key(*h)));
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body, fixture("etsy", "invalid_api_key.json"));
    }
    for bearer in [None, Some(format!("Bearer {USER_ID}.wrong-token"))] {
        let mut request = http
            .put(&url)
            .header("x-api-key", format!("{KEYSTRING}:secret"));
        if let Some(bearer) = bearer {
            request = request.header("Authorization", bearer);
        }
        let reply = request.json(&docs_body("SKU_0001")).send().await.unwrap();
        assert_eq!(reply.status(), 401);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body, fixture("etsy", "invalid_token.json"));
    }
    assert_refused_and_unchanged(&mock, ("SKU_0001", 3), &[("update_listing_inventory", 5)]).await;
}

#[tokio::test]
async fn a_burst_past_the_qps_limit_gets_the_exact_throttled_reply() {
    let mock = start(Platform::Etsy, "default");
    let listing_ref = one_listing(&mock, "SKU_0001", 3).await;
    let http = client();
    let mut successes: Vec<(u64, u64)> = Vec::new();
    let request = || etsy(http.get(inventory_url(&mock, &listing_ref)), "mock-token");
    let throttled = first_429(60, request, |reply| {
        let figure =
            |name: &str| -> u64 { reply.headers()[name].to_str().unwrap().parse().unwrap() };
        assert_eq!(
            (figure("x-limit-per-second"), figure("x-limit-per-day")),
            (10, 10_000)
        );
        successes.push((
            figure("x-remaining-this-second"),
            figure("x-remaining-today"),
        ));
    })
    .await;
    let reply = throttled.expect("60 quick calls pass 10 a second");
    assert_eq!(reply.headers()["retry-after"], "1");
    for name in LIMIT_HEADERS {
        assert!(!reply.headers().contains_key(name), "no {name} on a 429");
    }
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body, fixture("etsy", "throttled.json"));
    // The day's remainder falls by one per success; the second was spent right before the 429.
    assert!(successes.len() >= 10);
    for (n, pair) in successes.iter().enumerate() {
        assert_eq!(pair.1, 10_000 - 1 - n as u64);
    }
    assert_eq!(successes.last().unwrap().0, 0);
    assert!(successes.windows(2).any(|w| w[1].0 + 1 == w[0].0));
    assert!(throttled_calls(&mock, "get_listing_inventory").await >= 1);
}

#[tokio::test]
async fn bad_input_gets_etsys_4xx_and_changes_nothing() {
    // More than ten calls: the `current` plan (150 a second) keeps the limiter out of the way.
    let mock = start(Platform::Etsy, "current");
    let listing_ref = one_listing(&mock, "SKU_0001", 3).await;
    let (_, before) = get_json(inventory_url(&mock, &listing_ref)).await;
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"products\": [".to_vec(), "malformed JSON"),
        (
            br#"{"products": {"sku": "SKU_0001"}}"#.to_vec(),
            "wrong shape",
        ),
    ];
    let mut patched = |edit: &dyn Fn(&mut Value), what: &'static str| {
        let mut body = docs_body("SKU_0001");
        edit(&mut body);
        cases.push((serde_json::to_vec(&body).unwrap(), what));
    };
    patched(
        &|b| b["products"][0]["offerings"][0]["quantity"] = json!(1000),
        "quantity 1000",
    );
    patched(
        &|b| b["products"][0]["offerings"][0]["quantity"] = json!(-1),
        "quantity -1",
    );
    patched(
        &|b| b["products"][0]["offerings"][0]["price"] = json!(0),
        "price 0",
    );
    patched(
        &|b| b["products"][0]["sku"] = json!("OTHER"),
        "the listing's sku dropped",
    );
    patched(
        &|b| b["sku_on_property"] = json!([513]),
        "an unknown property",
    );
    patched(
        &|b| b["products"][0]["product_id"] = json!(1),
        "a GET-only field",
    );
    for (body, what) in cases {
        let (status, reply) = put_json(&mock, &listing_ref, body).await;
        assert_eq!(status, 400, "{what}");
        assert!(reply["error"].is_string(), "{what}: {reply}");
    }
    let (status, reply) = put_json(
        &mock,
        "1000000999",
        serde_json::to_vec(&docs_body("SKU_0001")).unwrap(),
    )
    .await;
    assert_eq!((status, reply["error"].is_string()), (404, true));
    let (status, _) = put_json(&mock, "abc", b"{}".to_vec()).await;
    assert_eq!(status, 400);
    let wrong_shop = format!("{}/v3/application/shops/1/receipts", mock.base_url());
    assert_eq!(get_json(wrong_shop).await.0, 404);
    assert_eq!(get_json(receipts_url(&mock, "limit=101")).await.0, 400);
    assert_eq!(get_json(receipts_url(&mock, "offset=12001")).await.0, 400);
    assert_eq!(listed(&mock).await["SKU_0001"], 3);
    let (_, after) = get_json(inventory_url(&mock, &listing_ref)).await;
    assert_eq!(after, before);
    assert_eq!(stats(&mock).await["quantity_writes"], 0);
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn receipts_are_filtered_paged_and_show_cancellations() {
    let mock = start(Platform::Etsy, "default");
    let listing_ref = one_listing(&mock, "SKU_0001", 10).await;
    let since = unix_now();
    let mut order_ids = Vec::new();
    for quantity in [1, 2, 3] {
        order_ids.push(place_order(&mock, "SKU_0001", quantity).await);
    }
    let query = format!("min_created={since}&sort_on=created&sort_order=asc&limit=2");
    let (status, first) = get_json(receipts_url(&mock, &format!("{query}&offset=0"))).await;
    assert_eq!(status, 200);
    assert_eq!(first["count"], 3);
    let page = first["results"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    let receipt = &page[0];
    assert_eq!(receipt["receipt_id"].to_string(), order_ids[0]);
    assert_eq!(
        (receipt["status"].as_str(), receipt["is_paid"].as_bool()),
        (Some("paid"), Some(true))
    );
    assert_eq!(receipt["shop_id"], SHOP_ID);
    let line = &receipt["transactions"][0];
    assert_eq!(line["sku"], "SKU_0001");
    assert_eq!(line["quantity"], 1);
    assert_eq!(line["listing_id"].to_string(), listing_ref);
    assert_eq!(line["product_id"], 10_000_000_001u64);
    let (_, second) = get_json(receipts_url(&mock, &format!("{query}&offset=2"))).await;
    let rest = second["results"].as_array().unwrap();
    assert_eq!((second["count"].as_u64(), rest.len()), (Some(3), 1));
    assert_eq!(rest[0]["transactions"][0]["quantity"], 3);
    // Unix seconds: cancel in a later second than every creation, so the change is visible.
    let created = page
        .iter()
        .chain(rest)
        .map(|r| r["created_timestamp"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(eventually(Duration::from_secs(3), || async { unix_now() > created }).await);
    cancel_order(&mock, &order_ids[1]).await;
    let changed = format!("min_last_modified={}", created + 1);
    let (_, changed) = get_json(receipts_url(&mock, &changed)).await;
    assert_eq!(changed["count"], 1);
    let canceled = &changed["results"][0];
    assert_eq!(canceled["receipt_id"].to_string(), order_ids[1]);
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled["updated_timestamp"].as_i64() > canceled["created_timestamp"].as_i64());
    let (_, only) = get_json(receipts_url(&mock, "was_canceled=true")).await;
    assert_eq!(only["count"], 1);
    assert_eq!(only["results"][0]["receipt_id"].to_string(), order_ids[1]);
    let (_, standing) = get_json(receipts_url(&mock, "was_canceled=false")).await;
    assert_eq!(standing["count"], 2);
    let one = format!(
        "{}/v3/application/shops/{SHOP_ID}/receipts/{}",
        mock.base_url(),
        order_ids[1]
    );
    let (status, single) = get_json(one).await;
    assert_eq!((status, single["status"].as_str()), (200, Some("canceled")));
    assert_eq!(listed(&mock).await["SKU_0001"], 10 - 1 - 3);
}

#[tokio::test]
async fn info_shows_the_account_and_the_plan() {
    let mock = start(Platform::Etsy, "current");
    let info: Value = info(&mock).await;
    assert_eq!(info["account"]["shop_id"], SHOP_ID);
    assert_eq!(info["account"]["user_id"], USER_ID);
    assert_eq!(info["limits"]["per_second"], 150);
    assert_eq!(info["limits"]["per_day"], 100_000);
}
