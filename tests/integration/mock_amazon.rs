//! The Amazon SP-API mock against the documented request shapes (tests/fixtures/amazon/, from
//! reference/marketplace-apis.md §3), and its `ORDER_CHANGE` events as an EventBridge API
//! destination posts them, against the connector's checks (§3.2).

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use shelfsync::platforms::amazon::connector::notify::{
    read_event, verify_connection, Notice, CONNECTION_HEADER,
};
use shelfsync::platforms::amazon::mock::{build_with, AmazonKnobs, MARKETPLACE_ID, SELLER_ID};
use shelfsync::platforms::mock::{MockOptions, MockServer};
use shelfsync::platforms::Platform;

use crate::mock_receiver::{assert_subscription_refused, subscribe, Receiver};
use crate::mock_support::{
    cancel_order, client, control, create_listings, eventually, fixture, info, listed, place_order,
    start, stats,
};

const TOKEN: &str = "mock-token";

fn item_url(base: &str, seller: &str, sku: &str) -> String {
    format!("{base}/listings/2021-08-01/items/{seller}/{sku}?marketplaceIds={MARKETPLACE_ID}")
}

fn amazon(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    let request = request.header("Accept", "application/json");
    match token {
        Some(token) => request.header("x-amz-access-token", token),
        None => request,
    }
}

/// `GET url` with the mock's token.
async fn get(url: String) -> reqwest::Response {
    amazon(client().get(url), Some(TOKEN)).send().await.unwrap()
}

/// The reference's patch body with another quantity.
fn patch_body(quantity: Value) -> Value {
    let mut body = fixture("amazon", "patch_listings_item.json");
    body["patches"][0]["value"][0]["quantity"] = quantity;
    body
}

async fn patch(base: &str, sku: &str, query: &str, body: Vec<u8>) -> reqwest::Response {
    amazon(
        client().patch(format!("{}{query}", item_url(base, SELLER_ID, sku))),
        Some(TOKEN),
    )
    .header("Content-Type", "application/json")
    .body(body)
    .send()
    .await
    .unwrap()
}

/// `patch`'s JSON reply.
async fn patch_reply(base: &str, sku: &str, query: &str, body: Vec<u8>) -> Value {
    patch(base, sku, query, body).await.json().await.unwrap()
}

/// The quantity a read shows, or `None` while the read is throttled (polls back off and retry).
async fn try_read_quantity(base: &str, sku: &str) -> Option<i64> {
    let reply = get(format!(
        "{}&includedData=fulfillmentAvailability",
        item_url(base, SELLER_ID, sku)
    ))
    .await;
    if reply.status() == 429 {
        return None;
    }
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    body["fulfillmentAvailability"][0]["quantity"].as_i64()
}

/// Sends a valid patch to `quantity` and waits until it shows: every change queued before it has
/// been applied by then (changes apply in submission order).
async fn settle(mock: &MockServer, sku: &str, quantity: i64) {
    let body = serde_json::to_vec(&patch_body(json!(quantity))).unwrap();
    let reply = patch(&mock.base_url(), sku, "", body).await;
    assert_eq!(reply.status(), 200);
    assert!(
        eventually(Duration::from_secs(3), || async {
            listed(mock).await[sku] == quantity
        })
        .await
    );
}

fn millis(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn get_orders(base: &str, query: &[(&str, String)]) -> (u16, Value) {
    let mut query: Vec<(&str, String)> = query.to_vec();
    query.push(("MarketplaceIds", MARKETPLACE_ID.to_string()));
    let reply = amazon(
        client().get(format!("{base}/orders/v0/orders")),
        Some(TOKEN),
    )
    .query(&query)
    .send()
    .await
    .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn set_then_read_back() {
    let mock = start(Platform::Amazon, "default");
    let created = create_listings(&mock, &[("SKU-0001", 3)]).await;
    assert_eq!(created[0]["listing_ref"], "SKU-0001");
    let asin = created[0]["ids"]["asin"].as_str().unwrap().to_string();
    assert!(asin.starts_with("B0") && asin.len() == 10, "{asin}");
    let body = serde_json::to_vec(&fixture("amazon", "patch_listings_item.json")).unwrap();
    let reply = patch(&mock.base_url(), "SKU-0001", "", body).await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["x-amzn-RateLimit-Limit"], "5.0");
    assert!(reply.headers().contains_key("x-amzn-RequestId"));
    let accepted: Value = reply.json().await.unwrap();
    assert_eq!(
        (&accepted["sku"], &accepted["status"], &accepted["issues"]),
        (&json!("SKU-0001"), &json!("ACCEPTED"), &json!([]))
    );
    assert!(accepted["submissionId"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    // Waits on the control surface, which has no limits, then reads through the API.
    assert!(
        eventually(Duration::from_secs(3), || async {
            listed(&mock).await["SKU-0001"] == 10
        })
        .await
    );
    assert_eq!(
        try_read_quantity(&mock.base_url(), "SKU-0001").await,
        Some(10)
    );
    // Without includedData the read holds the summaries only.
    let read: Value = get(item_url(&mock.base_url(), SELLER_ID, "SKU-0001"))
        .await
        .json()
        .await
        .unwrap();
    assert!(read.get("fulfillmentAvailability").is_none());
    let summary = &read["summaries"][0];
    assert_eq!(
        (
            &summary["asin"],
            &summary["marketplaceId"],
            &summary["status"]
        ),
        (&json!(asin), &json!(MARKETPLACE_ID), &json!(["BUYABLE"]))
    );
    let info: Value = info(&mock).await;
    assert_eq!(info["account"]["seller_id"], SELLER_ID);
    assert_eq!(info["account"]["marketplace_id"], MARKETPLACE_ID);
    assert_eq!(info["limits"]["token_buckets"]["getOrders"]["burst"], 20);
}

/// A mock started with explicit knobs.
fn start_with_knobs(knobs: AmazonKnobs) -> MockServer {
    let options = MockOptions::default();
    MockServer::start_with(build_with(&options, knobs).unwrap(), options).unwrap()
}

#[tokio::test]
async fn accepted_is_applied_later_not_at_once() {
    let delay = Duration::from_millis(300);
    let mock = start_with_knobs(AmazonKnobs {
        apply_delay: delay,
        ..AmazonKnobs::default()
    });
    let base = mock.base_url();
    let created = client()
        .post(format!("{base}/_mock/listings"))
        .json(&json!([{ "sku": "SKU-0001", "quantity": 3 }]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let sent = Instant::now();
    let body = serde_json::to_vec(&fixture("amazon", "patch_listings_item.json")).unwrap();
    let reply: Value = patch_reply(&base, "SKU-0001", "", body).await;
    assert_eq!(reply["status"], "ACCEPTED");
    assert_eq!(
        try_read_quantity(&base, "SKU-0001").await,
        Some(3),
        "accepted is not applied"
    );
    assert!(
        sent.elapsed() < delay,
        "the immediate read came before the delay"
    );
    assert!(
        eventually(Duration::from_secs(3), || async {
            try_read_quantity(&base, "SKU-0001").await == Some(10)
        })
        .await
    );
    assert!(sent.elapsed() >= delay, "applied no sooner than the delay");
}

#[tokio::test]
async fn validation_preview_and_invalid_patches_change_nothing() {
    // More patches than the burst of 5: the limits are tested on their own below.
    let mock = start(Platform::Amazon, UNLIMITED_PLAN);
    create_listings(&mock, &[("SKU-0001", 3)]).await;
    let base = mock.base_url();
    let body = serde_json::to_vec(&fixture("amazon", "patch_listings_item.json")).unwrap();
    let preview: Value = patch_reply(&base, "SKU-0001", "&mode=VALIDATION_PREVIEW", body).await;
    assert_eq!(
        (&preview["status"], &preview["issues"]),
        (&json!("VALID"), &json!([]))
    );
    let mut no_channel = patch_body(json!(4));
    no_channel["patches"][0]["value"][0]
        .as_object_mut()
        .unwrap()
        .remove("fulfillment_channel_code");
    let mut wrong_path = patch_body(json!(4));
    wrong_path["patches"][0]["path"] = json!("/attributes/item_name");
    let mut wrong_op = patch_body(json!(4));
    wrong_op["patches"][0]["op"] = json!("move");
    for bad in [patch_body(json!(-1)), no_channel, wrong_path, wrong_op] {
        let reply = patch(&base, "SKU-0001", "", serde_json::to_vec(&bad).unwrap()).await;
        assert_eq!(reply.status(), 200);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["status"], "INVALID", "{bad}");
        let issue = &body["issues"][0];
        assert_eq!(issue["severity"], "ERROR");
        assert_eq!(issue["attributeNames"], json!(["fulfillment_availability"]));
        assert!(issue["code"].is_string() && issue["message"].is_string());
    }
    settle(&mock, "SKU-0001", 6).await;
    assert_eq!(
        stats(&mock).await["quantity_writes"],
        1,
        "only the last, valid patch was applied"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_and_changes_nothing() {
    let mock = start(Platform::Amazon, "default");
    create_listings(&mock, &[("SKU-0001", 3)]).await;
    let base = mock.base_url();
    for token in [None, Some("wrong-token")] {
        let reply = amazon(
            client().patch(item_url(&base, SELLER_ID, "SKU-0001")),
            token,
        )
        .json(&fixture("amazon", "patch_listings_item.json"))
        .send()
        .await
        .unwrap();
        assert_eq!(reply.status(), 403);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body, fixture("amazon", "unauthorized.json"));
        let read = amazon(client().get(item_url(&base, SELLER_ID, "SKU-0001")), token)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 403);
    }
    let counted = stats(&mock).await;
    assert_eq!(counted["auth_refused"]["patchListingsItem"], 2);
    assert_eq!(counted["auth_refused"]["getListingsItem"], 2);
    settle(&mock, "SKU-0001", 6).await;
    assert_eq!(stats(&mock).await["quantity_writes"], 1);
}

#[tokio::test]
async fn a_get_orders_burst_of_21_gets_the_exact_quota_exceeded_reply() {
    let mock = start(Platform::Amazon, "default");
    let since = millis(Utc::now() - chrono::Duration::hours(1));
    for call in 1..=20 {
        let (status, _) = get_orders(&mock.base_url(), &[("CreatedAfter", since.clone())]).await;
        assert_eq!(status, 200, "call {call} of the burst of 20");
    }
    let reply = amazon(
        client().get(format!("{}/orders/v0/orders", mock.base_url())),
        Some(TOKEN),
    )
    .query(&[
        ("MarketplaceIds", MARKETPLACE_ID),
        ("CreatedAfter", since.as_str()),
    ])
    .send()
    .await
    .unwrap();
    assert_eq!(reply.status(), 429);
    assert!(reply.headers().contains_key("x-amzn-RequestId"));
    assert!(!reply.headers().contains_key("x-amzn-RateLimit-Limit"));
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body, fixture("amazon", "throttled.json"));
    assert_eq!(stats(&mock).await["throttled"]["getOrders"], 1);
}

#[tokio::test]
async fn a_patch_burst_past_five_is_throttled() {
    let mock = start(Platform::Amazon, "default");
    create_listings(&mock, &[("SKU-0001", 3)]).await;
    let body = serde_json::to_vec(&fixture("amazon", "patch_listings_item.json")).unwrap();
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let reply = patch(&mock.base_url(), "SKU-0001", "", body.clone()).await;
        statuses.push(reply.status().as_u16());
        if reply.status() == 429 {
            assert_eq!(
                reply.json::<Value>().await.unwrap(),
                fixture("amazon", "throttled.json")
            );
            break;
        }
    }
    assert_eq!(statuses[..5], [200; 5], "the burst of 5 passes");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

#[tokio::test]
async fn bad_input_gets_amazon_errors_and_changes_nothing() {
    // More patches than the burst of 5: the limits are tested on their own below.
    let mock = start(Platform::Amazon, UNLIMITED_PLAN);
    create_listings(&mock, &[("SKU-0001", 3)]).await;
    let base = mock.base_url();
    let good = serde_json::to_vec(&patch_body(json!(4))).unwrap();
    let cases: Vec<(String, Vec<u8>, u16, &str)> = vec![
        (
            item_url(&base, SELLER_ID, "SKU-0001"),
            b"{\"productType\":".to_vec(),
            400,
            "InvalidInput",
        ),
        (
            item_url(&base, SELLER_ID, "SKU-0001"),
            serde_json::to_vec(
                &json!({ "productType": "LUGGAGE", "patches": { "op": "replace" } }),
            )
            .unwrap(),
            400,
            "InvalidInput",
        ),
        (
            format!("{base}/listings/2021-08-01/items/{SELLER_ID}/SKU-0001"),
            good.clone(),
            400,
            "InvalidInput",
        ),
        (
            item_url(&base, "A0THERSELLER00", "SKU-0001"),
            good.clone(),
            400,
            "InvalidInput",
        ),
        (
            item_url(&base, SELLER_ID, "NO-SUCH-SKU"),
            good.clone(),
            404,
            "NotFound",
        ),
    ];
    for (url, body, status, code) in cases {
        let reply = amazon(client().patch(&url), Some(TOKEN))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), status, "{url}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], code, "{url}");
        assert_eq!(body["errors"][0]["details"], "");
    }
    let out_of_range = serde_json::to_vec(&patch_body(json!(-5))).unwrap();
    let reply: Value = patch_reply(&base, "SKU-0001", "", out_of_range).await;
    assert_eq!(reply["status"], "INVALID");
    let (status, body) = get_orders(
        &base,
        &[
            ("CreatedAfter", "2026-01-01T00:00:00Z".into()),
            ("LastUpdatedAfter", "2026-01-01T00:00:00Z".into()),
        ],
    )
    .await;
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (400, &json!("InvalidInput"))
    );
    let (status, _) = get_orders(
        &base,
        &[
            ("CreatedAfter", "2026-01-01T00:00:00Z".into()),
            (
                "CreatedBefore",
                millis(Utc::now() - chrono::Duration::seconds(60)),
            ),
        ],
    )
    .await;
    assert_eq!(status, 400, "CreatedBefore must be 2 minutes old");
    let (status, _) = get_orders(
        &base,
        &[
            ("CreatedAfter", "2026-01-01T00:00:00Z".into()),
            ("MaxResultsPerPage", "101".into()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = get_orders(&base, &[("NextToken", "not-a-token".into())]).await;
    assert_eq!(status, 400);
    assert_eq!(listed(&mock).await["SKU-0001"], 3);
    settle(&mock, "SKU-0001", 6).await;
    assert_eq!(stats(&mock).await["quantity_writes"], 1);
}

#[tokio::test]
async fn a_listings_feed_message_is_a_valid_patch_body() {
    let mock = start(Platform::Amazon, "default");
    create_listings(&mock, &[("My-SKU-D", 0)]).await;
    let document = fixture("amazon", "listings_feed_document.json");
    let message = &document["messages"][0];
    let body = json!({ "productType": message["productType"], "patches": message["patches"] });
    let sku = message["sku"].as_str().unwrap();
    let reply: Value = patch_reply(
        &mock.base_url(),
        sku,
        "",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(reply["status"], "ACCEPTED");
    assert!(
        eventually(Duration::from_secs(3), || async {
            listed(&mock).await[sku] == 10
        })
        .await
    );
}

/// The orders of a `getOrders` reply by id.
fn order_ids(body: &Value) -> Vec<String> {
    body["payload"]["Orders"]
        .as_array()
        .map(|orders| {
            orders
                .iter()
                .map(|order| order["AmazonOrderId"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

// The order feed tests run on the `unlimited` plan: getOrders refills one call a minute, and
// waiting (with `eventually`) for the feed's lag would spend the burst of 20.
#[tokio::test]
async fn orders_are_polled_by_last_update_and_paged_by_next_token() {
    let mock = start(Platform::Amazon, UNLIMITED_PLAN);
    create_listings(&mock, &[("SKU-0001", 10)]).await;
    let base = mock.base_url();
    let since = millis(Utc::now() - chrono::Duration::seconds(1));
    let mut placed = Vec::new();
    for _ in 0..3 {
        placed.push(place_order(&mock, "SKU-0001", 2).await);
    }
    assert!(
        placed[0].split('-').map(str::len).eq([3, 7, 7]),
        "{}",
        placed[0]
    );
    let query = [
        ("LastUpdatedAfter", since.clone()),
        ("MaxResultsPerPage", "2".to_string()),
    ];
    let seen = std::cell::RefCell::new(Value::Null);
    let cell = &seen;
    let poll_base = base.clone();
    assert!(
        eventually(Duration::from_secs(3), move || {
            let base = poll_base.clone();
            let query = query.clone();
            async move {
                let (status, body) = get_orders(&base, &query).await;
                assert_eq!(status, 200);
                let more = body["payload"]["NextToken"].is_string();
                *cell.borrow_mut() = body;
                more
            }
        })
        .await
    );
    let first = seen.take();
    assert_eq!(order_ids(&first), placed[..2]);
    let order = &first["payload"]["Orders"][0];
    assert_eq!(
        (
            &order["OrderStatus"],
            &order["FulfillmentChannel"],
            &order["NumberOfItemsUnshipped"],
            &order["MarketplaceId"]
        ),
        (
            &json!("Unshipped"),
            &json!("MFN"),
            &json!(2),
            &json!(MARKETPLACE_ID)
        )
    );
    let bound = first["payload"]["LastUpdatedBefore"]
        .as_str()
        .unwrap()
        .to_string();
    let token = first["payload"]["NextToken"].as_str().unwrap().to_string();
    // With a NextToken the other filters come from the token.
    let (status, second) = get_orders(&base, &[("NextToken", token)]).await;
    assert_eq!(status, 200);
    assert_eq!(order_ids(&second), placed[2..]);
    assert!(second["payload"].get("NextToken").is_none());
    assert_eq!(second["payload"]["LastUpdatedBefore"], bound.as_str());

    // A cancellation shows in the next poll, from where the last one ended.
    cancel_order(&mock, &placed[0]).await;
    let seen = std::cell::RefCell::new(Value::Null);
    let cell = &seen;
    let (poll_base, poll_bound) = (base.clone(), bound.clone());
    assert!(
        eventually(Duration::from_secs(3), move || {
            let (base, bound) = (poll_base.clone(), poll_bound.clone());
            async move {
                let (_, body) = get_orders(&base, &[("LastUpdatedAfter", bound)]).await;
                let found = !order_ids(&body).is_empty();
                *cell.borrow_mut() = body;
                found
            }
        })
        .await
    );
    let next = seen.take();
    assert_eq!(order_ids(&next), placed[..1]);
    let cancelled = &next["payload"]["Orders"][0];
    assert_eq!(cancelled["OrderStatus"], "Canceled");
    assert_eq!(cancelled["NumberOfItemsUnshipped"], 0);
    let updated =
        DateTime::parse_from_rfc3339(cancelled["LastUpdateDate"].as_str().unwrap()).unwrap();
    let before = DateTime::parse_from_rfc3339(order["LastUpdateDate"].as_str().unwrap()).unwrap();
    assert!(updated > before, "the cancellation is a later update");
    assert_eq!(cancelled["PurchaseDate"], order["PurchaseDate"]);

    // By creation, with a status filter.
    let (status, canceled) = get_orders(
        &base,
        &[
            ("CreatedAfter", since.clone()),
            ("OrderStatuses", "Canceled".to_string()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(order_ids(&canceled), placed[..1]);
    assert!(canceled["payload"]["CreatedBefore"].is_string());
}

#[tokio::test]
async fn order_items_name_the_sku_asin_and_quantity() {
    let mock = start(Platform::Amazon, UNLIMITED_PLAN);
    let created = create_listings(&mock, &[("SKU-0001", 10)]).await;
    let (_, order) = control(&mock, "orders", json!({ "sku": "SKU-0001", "quantity": 3 })).await;
    let order_id = order["order_id"].as_str().unwrap();
    let reply = get(format!(
        "{}/orders/v0/orders/{order_id}/orderItems",
        mock.base_url()
    ))
    .await;
    assert_eq!(reply.status(), 200);
    assert!(reply.headers().contains_key("x-amzn-RateLimit-Limit"));
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["payload"]["AmazonOrderId"], order_id);
    let item = &body["payload"]["OrderItems"][0];
    assert_eq!(
        (
            &item["SellerSKU"],
            &item["ASIN"],
            &item["QuantityOrdered"],
            &item["QuantityShipped"]
        ),
        (
            &json!("SKU-0001"),
            &created[0]["ids"]["asin"],
            &json!(3),
            &json!(0)
        )
    );
    assert!(item["OrderItemId"].is_string() && item["Title"].is_string());
    let missing = get(format!(
        "{}/orders/v0/orders/902-0000000-0000000/orderItems",
        mock.base_url()
    ))
    .await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "NotFound");
}

const UNLIMITED_PLAN: &str = shelfsync::platforms::mock::UNLIMITED_PLAN;

fn summary_status(body: &[u8]) -> Value {
    let event: Value = serde_json::from_slice(body).unwrap();
    event["detail"]["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"].clone()
}

#[tokio::test]
async fn an_order_change_arrives_at_once_with_the_connection_key_and_names_the_order() {
    // getOrders shows nothing younger than a minute here: the event must not wait for it.
    let mock = start_with_knobs(AmazonKnobs {
        orders_lag: Duration::from_secs(60),
        ..AmazonKnobs::default()
    });
    let receiver = Receiver::start(0);
    subscribe(&mock, &receiver, "key-123").await;
    create_listings(&mock, &[("ACME-MUG", 10)]).await;
    let before = Utc::now() - chrono::Duration::minutes(5);
    let order_id = place_order(&mock, "ACME-MUG", 2).await;
    receiver.wait_for(1).await;
    let (status, polled) =
        get_orders(&mock.base_url(), &[("LastUpdatedAfter", millis(before))]).await;
    assert_eq!(status, 200, "{polled}");
    assert_eq!(order_ids(&polled), Vec::<String>::new(), "not polled yet");

    cancel_order(&mock, &order_id).await;
    let deliveries = receiver.wait_for(2).await;
    for (headers, body) in &deliveries {
        let key = headers.get(CONNECTION_HEADER).map(String::as_str);
        assert_eq!(verify_connection(key, "key-123"), Ok(()));
        assert!(verify_connection(key, "key-124").is_err());
        assert_eq!(
            read_event(body),
            Ok(Notice::Order {
                amazon_order_id: order_id.clone()
            })
        );
    }
    let statuses: Vec<Value> = deliveries
        .iter()
        .map(|(_, body)| summary_status(body))
        .collect();
    assert_eq!(statuses, [json!("Unshipped"), json!("Canceled")]);
    let event: Value = serde_json::from_slice(&deliveries[0].1).unwrap();
    assert_eq!(
        (&event["version"], &event["detail-type"], &event["source"]),
        (
            &json!("0"),
            &json!("ORDER_CHANGE"),
            &json!("aws.partner/sellingpartnerapi.amazon")
        )
    );
    assert_eq!(event["resources"], json!([]));
    let item = &event["detail"]["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0];
    assert_eq!(
        (&item["SellerSKU"], &item["Quantity"]),
        (&json!("ACME-MUG"), &json!(2))
    );
}

#[tokio::test]
async fn eventbridge_retries_a_5xx_and_drops_an_event_answered_400() {
    let mock = start(Platform::Amazon, "default");
    let flaky = Receiver::start_failing_with(2, 503);
    subscribe(&mock, &flaky, "key-123").await;
    create_listings(&mock, &[("ACME-MUG", 10)]).await;
    place_order(&mock, "ACME-MUG", 1).await;
    let attempts = flaky.wait_for(3).await;
    assert_eq!(attempts[0].1, attempts[2].1, "the same event again");
    assert!(
        eventually(Duration::from_secs(5), || async {
            stats(&mock).await["webhooks_delivered"] == 1
        })
        .await
    );

    let mock = start(Platform::Amazon, "default");
    let refusing = Receiver::start_failing_with(1, 400);
    subscribe(&mock, &refusing, "key-123").await;
    create_listings(&mock, &[("ACME-MUG", 10)]).await;
    place_order(&mock, "ACME-MUG", 1).await;
    refusing.wait_for(1).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            stats(&mock).await["webhooks_given_up"] == 1
        })
        .await,
        "a 400 drops the event at once"
    );
    // A retry would have come 0.5 s after the first attempt.
    assert!(
        !eventually(Duration::from_secs(1), || async {
            refusing.deliveries().len() > 1
        })
        .await,
        "no retry"
    );
    assert_eq!(stats(&mock).await["webhook_attempts_failed"], 1);
}

#[tokio::test]
async fn a_subscription_cannot_choose_an_auth_amazon_does_not_offer() {
    let mock = start(Platform::Amazon, "default");
    assert_subscription_refused(
        &mock,
        json!({ "url": "http://127.0.0.1:9/hook", "secret": "key-123", "auth": "basic" }),
        400,
        "bad_request",
    )
    .await;
}
