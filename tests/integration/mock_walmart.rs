//! The Walmart mock against the documented request shapes (tests/fixtures/walmart/, from
//! reference/marketplace-apis.md §4), and its `ORDER_UPDATES` notifications against the
//! connector's verifiers (§4.2).

use std::time::Duration;

use serde_json::{json, Value};
use shelfsync::platforms::walmart::connector::notify::{
    read_notice, verify_basic, verify_hmac, HmacScheme, Notice,
};
use shelfsync::platforms::Platform;

use crate::mock_receiver::{
    assert_subscription_refused, subscribe, subscribe_with, Received, Receiver,
};
use crate::mock_support::{
    cancel_order, client, create_listings, eventually, first_429, fixture, place_order, start,
    stats, throttled_calls,
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

/// Checks an HMAC delivery to `receiver` (path `/webhooks`) with the client secret, now.
fn hmac_verifies(secret: &str, (headers, body): &Received) -> bool {
    let request = HmacScheme {
        method: "POST",
        path_and_query: "/webhooks",
        timestamp: headers.get("wm_sec.timestamp").map(String::as_str),
        signature: headers.get("wm_sec.signature").map(String::as_str),
    };
    verify_hmac(secret.as_bytes(), request, body, chrono::Utc::now()).is_ok()
}

fn sub_event(body: &[u8]) -> String {
    let notice: Value = serde_json::from_slice(body).unwrap();
    notice["payload"]["subEventType"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn order_updates_are_signed_by_hmac_by_default_and_sent_with_basic_auth_when_asked() {
    let mock = start(Platform::Walmart, "default");
    let signed = Receiver::start(0);
    let basic = Receiver::start(0);
    subscribe(&mock, &signed, "client-secret").await;
    subscribe_with(
        &mock,
        json!({ "url": basic.url, "secret": "walmart:s3cret", "auth": "basic" }),
    )
    .await;
    create_listings(&mock, &[("ACME-MUG", 10)]).await;
    let order_id = place_order(&mock, "ACME-MUG", 2).await;
    cancel_order(&mock, &order_id).await;

    for delivery in signed.wait_for(2).await {
        assert!(hmac_verifies("client-secret", &delivery), "{delivery:?}");
        assert!(!hmac_verifies("other-secret", &delivery));
        assert!(!delivery.0.contains_key("authorization"));
    }
    let deliveries = basic.wait_for(2).await;
    for (headers, body) in &deliveries {
        let authorization = headers.get("authorization").map(String::as_str);
        assert_eq!(verify_basic(authorization, "walmart", "s3cret"), Ok(()));
        assert!(verify_basic(authorization, "walmart", "other").is_err());
        assert!(!headers.contains_key("wm_sec.signature"));
        assert_eq!(
            read_notice(body),
            Ok(Notice::PurchaseOrder {
                purchase_order_id: order_id.clone()
            })
        );
    }
    let (_, placed) = &deliveries[0];
    assert_eq!(sub_event(placed), "PO_CREATED");
    let notice: Value = serde_json::from_slice(placed).unwrap();
    assert_eq!(notice["source"]["eventType"], "ORDER_UPDATES");
    assert_eq!(notice["payload"]["partnerId"], "10001234567");
    let line = &notice["payload"]["orderLines"][0];
    assert_eq!(
        (
            &line["lineNumber"],
            &line["sku"],
            &line["orderLineQuantity"]["amount"]
        ),
        (&json!("1"), &json!("ACME-MUG"), &json!("2"))
    );
    assert!(
        ["PO_LINE_AUTOCANCELLED", "INTENT_TO_CANCEL", "FRAUD_CANCEL"]
            .contains(&sub_event(&deliveries[1].1).as_str()),
        "a cancellation sub-event"
    );
}

#[tokio::test]
async fn an_auth_walmart_does_not_offer_or_a_basic_secret_without_a_user_is_refused() {
    let mock = start(Platform::Walmart, "default");
    for body in [
        json!({ "url": "http://127.0.0.1:9/hook", "secret": "s", "auth": "oauth" }),
        json!({ "url": "http://127.0.0.1:9/hook", "secret": "s3cret", "auth": "basic" }),
    ] {
        assert_subscription_refused(&mock, body, 400, "bad_request").await;
    }
}

#[tokio::test]
async fn a_failing_receiver_gets_three_attempts_each_signed_when_sent() {
    let mock = start(Platform::Walmart, "default");
    let receiver = Receiver::start(usize::MAX);
    subscribe(&mock, &receiver, "client-secret").await;
    create_listings(&mock, &[("ACME-MUG", 10)]).await;
    place_order(&mock, "ACME-MUG", 1).await;
    let attempts = receiver.wait_for(3).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            stats(&mock).await["webhooks_given_up"] == 1
        })
        .await,
        "Walmart gives up after three attempts"
    );
    let stats = stats(&mock).await;
    assert_eq!(stats["webhook_attempts_failed"], 3);
    assert_eq!(receiver.deliveries().len(), 3, "no fourth attempt");
    let timestamps: Vec<i64> = attempts
        .iter()
        .map(|(headers, _)| headers["wm_sec.timestamp"].parse().unwrap())
        .collect();
    // Retries wait 0.5 s then 1 s, and each is signed afresh.
    assert!(timestamps[1] - timestamps[0] >= 450, "{timestamps:?}");
    assert!(timestamps[2] - timestamps[1] >= 950, "{timestamps:?}");
    for attempt in &attempts {
        assert!(hmac_verifies("client-secret", attempt));
        assert_eq!(attempt.1, attempts[0].1, "the same notice");
    }
}

#[tokio::test]
async fn one_purchase_order_is_served_with_walmarts_auth_and_its_own_bucket() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("ACME-MUG", 10)]).await;
    let order_id = place_order(&mock, "ACME-MUG", 3).await;
    let http = client();
    let get = |id: &str, token: &str| {
        walmart(
            http.get(format!("{}/v3/orders/{id}", mock.base_url())),
            token,
        )
        .send()
    };
    let reply = get(&order_id, "mock-token").await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.headers().contains_key("x-current-token-count"));
    let order: Value = reply.json().await.unwrap();
    assert_eq!(order["order"]["purchaseOrderId"], order_id.as_str());
    let line = &order["order"]["orderLines"]["orderLine"][0];
    assert_eq!(line["item"]["sku"], "ACME-MUG");
    assert_eq!(line["orderLineQuantity"]["amount"], "3");
    assert_eq!(get("404", "mock-token").await.unwrap().status(), 404);
    assert_eq!(get(&order_id, "wrong").await.unwrap().status(), 401);
    let stats = stats(&mock).await;
    assert_eq!(stats["requests"]["get_order"], 3);
    assert_eq!(stats["auth_refused"]["get_order"], 1);
    let info = crate::mock_support::info(&mock).await;
    assert_eq!(
        info["limits"]["token_buckets"]["get_order"],
        json!({ "per_minute": 5000.0, "burst": 5000 })
    );
}
