//! The TikTok Shop mock over HTTP (reference/marketplace-apis.md §6): signed calls accepted and
//! badly signed ones refused in the envelope, failures with a non-zero code under HTTP 200, the
//! 429 of its bucket with the `Retry-After` knob, order search pages and detail, and webhooks
//! signed with the app key and secret.

use serde_json::{json, Value};
use shelfsync::platforms::mock::{MockOptions, MockServer};
use shelfsync::platforms::tiktok::connector::notify;
use shelfsync::platforms::tiktok::mock::{
    build_with, code, request_sign, TikTokKnobs, APP_KEY, APP_SECRET, SHOP_CIPHER, WAREHOUSE_ID,
};
use shelfsync::platforms::Platform;

use crate::mock_receiver::{subscribe, Receiver};
use crate::mock_support::{
    assert_refused_and_unchanged, cancel_order, client, create_listings, first_429, listed,
    place_order, set_faults, start, throttled_calls,
};

/// Who signs a call, and when.
#[derive(Debug, Clone, Copy)]
struct Signer<'a> {
    token: &'a str,
    secret: &'a str,
    timestamp: i64,
}

const GOOD: Signer<'static> = Signer {
    token: "mock-token",
    secret: APP_SECRET,
    timestamp: 0,
};

/// A signed request of §6.4 (`timestamp` 0: now).
fn request(
    mock: &MockServer,
    signer: Signer<'_>,
    method: reqwest::Method,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<&Value>,
) -> reqwest::RequestBuilder {
    let timestamp = match signer.timestamp {
        0 => chrono::Utc::now().timestamp(),
        given => given,
    };
    let mut query: Vec<(String, String)> = extra
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    query.extend([
        ("app_key".to_string(), APP_KEY.to_string()),
        ("timestamp".to_string(), timestamp.to_string()),
        ("shop_cipher".to_string(), SHOP_CIPHER.to_string()),
    ]);
    let body = body.map(Value::to_string).unwrap_or_default();
    let sign = request_sign(signer.secret, path, &query, body.as_bytes());
    query.push(("sign".to_string(), sign));
    client()
        .request(method, format!("{}{path}", mock.base_url()))
        .query(&query)
        .header("x-tts-access-token", signer.token)
        .body(body)
}

/// Sends a call; returns the HTTP status and the envelope.
async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let reply = request.send().await.unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

/// The product and SKU ids of each created listing.
async fn listings(mock: &MockServer, rows: &[(&str, i64)]) -> Vec<(String, String)> {
    create_listings(mock, rows)
        .await
        .iter()
        .map(|listing| {
            let (product, sku) = listing["listing_ref"]
                .as_str()
                .unwrap()
                .split_once(':')
                .unwrap();
            (product.to_string(), sku.to_string())
        })
        .collect()
}

fn update_path(product: &str) -> String {
    format!("/product/202309/products/{product}/inventory/update")
}

fn update_body(skus: &[(&str, i64)]) -> Value {
    let skus: Vec<Value> = skus
        .iter()
        .map(|(id, quantity)| {
            json!({"id": id, "inventory": [{"warehouse_id": WAREHOUSE_ID, "quantity": quantity}]})
        })
        .collect();
    json!({ "skus": skus })
}

#[tokio::test]
async fn signed_calls_are_served_and_a_bad_sign_token_or_timestamp_is_refused_in_the_envelope() {
    let mock = start(Platform::TikTok, "default");
    let ids = listings(&mock, &[("ACME-MUG-RED", 5), ("ACME-MUG-BLUE", 3)]).await;
    assert_eq!(ids[0].0, ids[1].0, "two variants of one product");
    let body = update_body(&[(&ids[0].1, 7), (&ids[1].1, 1)]);
    let path = update_path(&ids[0].0);
    let post = reqwest::Method::POST;
    let refusals = [
        (
            Signer {
                secret: "other-secret",
                ..GOOD
            },
            code::INVALID_SIGN,
        ),
        (
            Signer {
                token: "wrong",
                ..GOOD
            },
            code::INVALID_TOKEN,
        ),
        (
            Signer {
                timestamp: 1_600_000_000,
                ..GOOD
            },
            code::INVALID_SIGN,
        ),
    ];
    for (signer, expected) in refusals {
        let (status, reply) = send(request(
            &mock,
            signer,
            post.clone(),
            &path,
            &[],
            Some(&body),
        ))
        .await;
        assert_eq!(
            (status, reply["code"].as_i64()),
            (401, Some(expected)),
            "{reply}"
        );
        assert!(reply["request_id"].is_string() && reply["message"].is_string());
        assert!(!reply.to_string().contains(APP_SECRET));
    }
    // The body is signed: the right signature of another body is refused.
    let tampered = request(&mock, GOOD, post.clone(), &path, &[], Some(&body))
        .body(update_body(&[(&ids[0].1, 99)]).to_string());
    assert_eq!(tampered.send().await.unwrap().status(), 401);
    assert_refused_and_unchanged(&mock, ("ACME-MUG-RED", 5), &[("update_inventory", 4)]).await;

    let (status, reply) = send(request(&mock, GOOD, post.clone(), &path, &[], Some(&body))).await;
    assert_eq!((status, reply["code"].as_i64()), (200, Some(0)), "{reply}");
    assert_eq!(reply["message"], "Success");
    let shown = listed(&mock).await;
    assert_eq!((shown["ACME-MUG-RED"], shown["ACME-MUG-BLUE"]), (7, 1));
    let search = json!({ "product_ids": [ids[0].0] });
    let (_, reply) = send(request(
        &mock,
        GOOD,
        post,
        "/product/202309/inventory/search",
        &[],
        Some(&search),
    ))
    .await;
    let skus = &reply["data"]["inventory"][0]["skus"];
    assert_eq!(skus.as_array().unwrap().len(), 2, "{reply}");
    assert_eq!(skus[0]["total_available_quantity"], 7);
    assert_eq!(
        skus[0]["warehouse_inventory"][0]["warehouse_id"],
        WAREHOUSE_ID
    );
}

/// An order call: its path, query, body (`None`: a GET) and the code it must get.
type OrderCall<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<Value>, i64);

#[tokio::test]
async fn failures_under_http_200_carry_a_non_zero_code_and_change_nothing() {
    // More calls than the default bucket holds: limits that never bind.
    let mock = start(Platform::TikTok, "unlimited");
    let ids = listings(&mock, &[("ACME-MUG-RED", 5), ("ACME-CAP-RED", 2)]).await;
    let (mug, cap) = (&ids[0], &ids[1]);
    let post = reqwest::Method::POST;
    let two_warehouses = json!({"skus": [{"id": mug.1, "inventory": [
        {"warehouse_id": WAREHOUSE_ID, "quantity": 1}, {"warehouse_id": WAREHOUSE_ID, "quantity": 2}]}]});
    let cases = [
        (
            update_path(&mug.0),
            update_body(&[(&cap.1, 1)]),
            code::NOT_FOUND,
        ),
        (
            update_path(&mug.0),
            update_body(&[("1730999", 1)]),
            code::NOT_FOUND,
        ),
        (
            update_path("1729000000000000001"),
            update_body(&[(&mug.1, 1)]),
            code::NOT_FOUND,
        ),
        (
            update_path(&mug.0),
            update_body(&[(&mug.1, -1)]),
            code::INVALID_PARAMS,
        ),
        (
            update_path(&mug.0),
            update_body(&[(&mug.1, 1), (&mug.1, 2)]),
            code::INVALID_PARAMS,
        ),
        (update_path(&mug.0), two_warehouses, code::INVALID_PARAMS),
        (
            update_path(&mug.0),
            json!({"skus": []}),
            code::INVALID_PARAMS,
        ),
    ];
    for (path, body, expected) in cases {
        let (status, reply) =
            send(request(&mock, GOOD, post.clone(), &path, &[], Some(&body))).await;
        assert_eq!(
            (status, reply["code"].as_i64()),
            (200, Some(expected)),
            "{body}: {reply}"
        );
    }
    assert_refused_and_unchanged(&mock, ("ACME-MUG-RED", 5), &[]).await;
    let get = reqwest::Method::GET;
    let many: Vec<String> = (1..=51).map(|n| n.to_string()).collect();
    let many = many.join(",");
    let searches: [OrderCall<'_>; 5] = [
        (
            "/order/202309/orders",
            &[("ids", "42")],
            None,
            code::NOT_FOUND,
        ),
        (
            "/order/202309/orders",
            &[("ids", many.as_str())],
            None,
            code::INVALID_PARAMS,
        ),
        (
            "/order/202309/orders/search",
            &[("page_size", "0")],
            Some(json!({})),
            code::INVALID_PARAMS,
        ),
        (
            "/order/202309/orders/search",
            &[("page_size", "101")],
            Some(json!({})),
            code::INVALID_PARAMS,
        ),
        (
            "/order/202309/orders/search",
            &[("page_size", "5")],
            Some(json!({"since": 1})),
            code::INVALID_PARAMS,
        ),
    ];
    for (path, extra, body, expected) in searches {
        let method = if body.is_some() {
            post.clone()
        } else {
            get.clone()
        };
        let (status, reply) = send(request(&mock, GOOD, method, path, extra, body.as_ref())).await;
        assert_eq!(
            (status, reply["code"].as_i64()),
            (200, Some(expected)),
            "{path}: {reply}"
        );
    }
}

/// A mock whose shop bucket refills `per_second` with a depth of `burst`, and whose 429 carries
/// `Retry-After: retry_after_secs`.
pub fn start_throttling(per_second: f64, burst: u32, retry_after_secs: Option<u64>) -> MockServer {
    let options = MockOptions::default();
    let knobs = TikTokKnobs {
        per_second: Some(per_second),
        burst,
        retry_after_secs,
        ..TikTokKnobs::for_plan("default")
    };
    MockServer::start_with(build_with(&options, knobs).unwrap(), options).unwrap()
}

/// Searches one SKU's inventory back to back, at most `calls` times, until the mock answers 429.
async fn first_search_429(mock: &MockServer, calls: usize) -> reqwest::Response {
    let ids = listings(mock, &[("ACME-MUG-RED", 5)]).await;
    let search = json!({ "sku_ids": [ids[0].1] });
    let path = "/product/202309/inventory/search";
    let post = || request(mock, GOOD, reqwest::Method::POST, path, &[], Some(&search));
    first_429(calls, post, |_| {})
        .await
        .expect("a burst past the bucket is throttled")
}

#[tokio::test]
async fn a_burst_past_the_bucket_gets_429_with_the_knobs_retry_after() {
    let mock = start_throttling(0.5, 3, Some(7));
    let throttled = first_search_429(&mock, 10).await;
    assert_eq!(throttled.headers()["retry-after"], "7");
    let reply: Value = throttled.json().await.unwrap();
    assert_eq!(reply["code"], code::TOO_MANY_REQUESTS);
    assert_eq!(throttled_calls(&mock, "search_inventory").await, 1);

    // The default plan: 10 a second, and no Retry-After unless the knob sets one.
    let default = start(Platform::TikTok, "default");
    let throttled = first_search_429(&default, 200).await;
    assert!(throttled.headers().get("retry-after").is_none());
}

/// The order ids of every page of a search from `since`, `page_size` a page, and the pages.
async fn search_all(mock: &MockServer, since: i64, page_size: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut token = String::new();
    for pages in 1..=10 {
        let mut extra = vec![("page_size", page_size), ("sort_field", "update_time")];
        if !token.is_empty() {
            extra.push(("page_token", token.as_str()));
        }
        let body = json!({ "update_time_ge": since });
        let (status, reply) = send(request(
            mock,
            GOOD,
            reqwest::Method::POST,
            "/order/202309/orders/search",
            &extra,
            Some(&body),
        ))
        .await;
        assert_eq!((status, reply["code"].as_i64()), (200, Some(0)), "{reply}");
        for order in reply["data"]["orders"].as_array().unwrap() {
            ids.push(order["id"].as_str().unwrap().to_string());
        }
        token = reply["data"]["next_page_token"]
            .as_str()
            .unwrap()
            .to_string();
        if token.is_empty() {
            return (ids, pages);
        }
    }
    panic!("more than 10 pages");
}

#[tokio::test]
async fn orders_are_searched_by_update_time_in_pages_and_read_by_id() {
    let mock = start(Platform::TikTok, "default");
    listings(&mock, &[("ACME-MUG-RED", 50)]).await;
    let since = chrono::Utc::now().timestamp() - 1;
    let mut placed = Vec::new();
    for _ in 0..5 {
        placed.push(place_order(&mock, "ACME-MUG-RED", 1).await);
    }
    assert_eq!(search_all(&mock, since, "2").await, (placed.clone(), 3));
    let (later, _) = search_all(&mock, since + 3_600, "2").await;
    assert!(later.is_empty(), "update_time_ge filters");
    cancel_order(&mock, &placed[0]).await;
    let (after_cancel, _) = search_all(&mock, since, "100").await;
    assert_eq!(
        after_cancel.last(),
        Some(&placed[0]),
        "the cancelled order changed last"
    );

    let ids = format!("{},{}", placed[0], placed[1]);
    let (status, reply) = send(request(
        &mock,
        GOOD,
        reqwest::Method::GET,
        "/order/202309/orders",
        &[("ids", &ids)],
        None,
    ))
    .await;
    assert_eq!((status, reply["code"].as_i64()), (200, Some(0)), "{reply}");
    let orders = &reply["data"]["orders"];
    assert_eq!(
        (orders[0]["id"].as_str(), orders[0]["status"].as_str()),
        (Some(placed[0].as_str()), Some("CANCELLED"))
    );
    assert_eq!(orders[1]["status"], "AWAITING_SHIPMENT");
    assert_eq!(orders[1]["line_items"][0]["seller_sku"], "ACME-MUG-RED");
    assert_eq!(orders[1]["line_items"][0]["quantity"], 1);
}

/// The notification bodies a receiver got, each checked against the app's key and secret.
fn verified_bodies(deliveries: &[crate::mock_receiver::Received]) -> Vec<Value> {
    deliveries
        .iter()
        .map(|(headers, body)| {
            let signature = headers.get("authorization").map(String::as_str);
            assert_eq!(notify::verify(APP_KEY, APP_SECRET, signature, body), Ok(()));
            assert_eq!(
                notify::verify(APP_KEY, "other-secret", signature, body),
                Err(notify::NotifyError::BadSignature)
            );
            serde_json::from_slice(body).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn webhooks_are_signed_with_the_app_key_and_secret_and_retried() {
    let mock = start(Platform::TikTok, "default");
    let receiver = Receiver::start(1);
    subscribe(&mock, &receiver, APP_SECRET).await;
    listings(&mock, &[("ACME-MUG-RED", 5)]).await;
    let order_id = place_order(&mock, "ACME-MUG-RED", 2).await;
    let first = receiver.wait_for(2).await;
    assert_eq!(
        first[0].1, first[1].1,
        "a failed delivery is retried with its body"
    );
    cancel_order(&mock, &order_id).await;
    let bodies = verified_bodies(&receiver.wait_for(3).await);
    for (body, status) in bodies[1..].iter().zip(["AWAITING_SHIPMENT", "CANCELLED"]) {
        assert_eq!(
            (body["type"].as_u64(), body["shop_id"].as_str()),
            (Some(1), Some("7494049642642441621"))
        );
        assert!(body["timestamp"].as_i64().unwrap() > 1_700_000_000);
        assert_eq!(body["data"]["order_id"], order_id.as_str());
        assert_eq!(body["data"]["order_status"], status);
        assert!(body["data"]["update_time"].is_i64());
    }
}

#[tokio::test]
async fn duplicated_webhooks_arrive_twice_each() {
    let mock = start(Platform::TikTok, "default");
    let receiver = Receiver::start(0);
    subscribe(&mock, &receiver, APP_SECRET).await;
    listings(&mock, &[("ACME-MUG-RED", 5)]).await;
    set_faults(&mock, json!({ "duplicate_webhook_rate": 1.0 })).await;
    let orders = [
        place_order(&mock, "ACME-MUG-RED", 1).await,
        place_order(&mock, "ACME-MUG-RED", 1).await,
    ];
    let bodies = verified_bodies(&receiver.wait_for(4).await);
    for order in orders {
        let copies = bodies
            .iter()
            .filter(|body| body["data"]["order_id"] == order.as_str());
        assert_eq!(copies.count(), 2, "{order}");
    }
}
