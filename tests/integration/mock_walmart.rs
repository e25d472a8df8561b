//! The Walmart mock against the documented request shapes (tests/fixtures/walmart/, from
//! reference/marketplace-apis.md §4).

use serde_json::{json, Value};
use shelfsync::platforms::Platform;

use crate::mock_support::{
    client, create_listings, first_429, fixture, start, stats, throttled_calls,
};

fn walmart(request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    request
        .header("WM_SEC.ACCESS_TOKEN", token)
        .header(
            "WM_QOS.CORRELATION_ID",
            "b3261d2d-028a-4ef7-8602-633c23200af6",
        )
        .header("WM_SVC.NAME", "Walmart Marketplace")
        .header("Accept", "application/json")
}

#[tokio::test]
async fn set_then_read_back() {
    let mock = start(Platform::Walmart, "default");
    let created = create_listings(&mock, &[("SKU_0001", 3)]).await;
    assert_eq!(created[0]["listing_ref"], "SKU_0001");
    let http = client();
    let put = walmart(
        http.put(format!("{}/v3/inventory?sku=SKU_0001", mock.base_url())),
        "mock-token",
    )
    .json(&fixture("walmart", "update_inventory.json"))
    .send()
    .await
    .unwrap();
    assert_eq!(put.status(), 200);
    assert!(put.headers().contains_key("x-current-token-count"));
    let echoed: Value = put.json().await.unwrap();
    assert_eq!(
        echoed,
        json!({ "sku": "SKU_0001", "quantity": { "unit": "EACH", "amount": 10 } })
    );
    let get = walmart(
        http.get(format!("{}/v3/inventory?sku=SKU_0001", mock.base_url())),
        "mock-token",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(get.status(), 200);
    let read: Value = get.json().await.unwrap();
    assert_eq!(read["quantity"]["amount"], 10);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_and_changes_nothing() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("SKU_0001", 3)]).await;
    let http = client();
    for token in ["", "wrong-token"] {
        let put = walmart(
            http.put(format!("{}/v3/inventory?sku=SKU_0001", mock.base_url())),
            token,
        )
        .json(&fixture("walmart", "update_inventory.json"))
        .send()
        .await
        .unwrap();
        assert_eq!(put.status(), 401);
        let body: Value = put.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED.GMP_GATEWAY_API");
    }
    let no_correlation = http
        .put(format!("{}/v3/inventory?sku=SKU_0001", mock.base_url()))
        .header("WM_SEC.ACCESS_TOKEN", "mock-token")
        .header("WM_SVC.NAME", "Walmart Marketplace")
        .json(&fixture("walmart", "update_inventory.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_correlation.status(), 400);
    assert_eq!(crate::mock_support::listed(&mock).await["SKU_0001"], 3);
    assert_eq!(stats(&mock).await["auth_refused"]["update_inventory"], 2);
}

#[tokio::test]
async fn a_burst_past_the_bucket_gets_the_exact_throttled_reply() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("SKU_0001", 3)]).await;
    let http = client();
    // The bucket holds 200 calls and refills 3.3 a second: 260 quick calls must overflow it.
    let url = format!("{}/v3/inventory?sku=SKU_0001", mock.base_url());
    let throttled = first_429(260, || walmart(http.get(&url), "mock-token"), |_| {}).await;
    let reply = throttled.expect("a burst of 260 calls is throttled");
    assert_eq!(reply.headers()["x-current-token-count"], "0");
    let next: u128 = reply.headers()["x-next-replenishment-time"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(
        next > now - 1_000 && next < now + 60_000,
        "replenishment {next} near now {now}"
    );
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body, fixture("walmart", "throttled.json"));
    assert!(throttled_calls(&mock, "get_inventory").await >= 1);
}

#[tokio::test]
async fn orders_are_polled_by_date_and_paged_by_cursor() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("SKU_0001", 10)]).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    for _ in 0..3 {
        let (status, _) = crate::mock_support::control(
            &mock,
            "orders",
            json!({ "sku": "SKU_0001", "quantity": 2 }),
        )
        .await;
        assert_eq!(status, 201);
    }
    let http = client();
    let url = format!(
        "{}/v3/orders?limit=2&lastModifiedStartDate={}",
        mock.base_url(),
        since
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .replace('+', "%2B")
    );
    let first: Value = walmart(http.get(url), "mock-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let orders = first["list"]["elements"]["order"].as_array().unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(first["list"]["meta"]["totalCount"], 3);
    let line = &orders[0]["orderLines"]["orderLine"][0];
    assert_eq!(
        (
            line["item"]["sku"].as_str(),
            line["orderLineQuantity"]["amount"].as_str()
        ),
        (Some("SKU_0001"), Some("2"))
    );
    let cursor = first["list"]["meta"]["nextCursor"].as_str().unwrap();
    let second: Value = walmart(
        http.get(format!("{}/v3/orders{cursor}", mock.base_url())),
        "mock-token",
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        second["list"]["elements"]["order"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(second["list"]["meta"].get("nextCursor").is_none());
}
