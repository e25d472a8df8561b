//! The mock core, through HTTP on the Walmart mock (the simplest wire format): shoppers and the
//! ground truth, orders, faults, and the control surface's refusals.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use shelfsync::platforms::Platform;

use crate::mock_receiver::assert_subscription_refused;
use crate::mock_support::{
    cancel_order, client, control, create_listings, eventually, info, listed, set_faults, start,
    stats,
};

fn orders_by_sku(orders: &[Value]) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let mut sold = BTreeMap::new();
    let mut cancelled = BTreeMap::new();
    for order in orders {
        let sku = order["sku"].as_str().unwrap().to_string();
        let quantity = order["quantity"].as_i64().unwrap();
        *sold.entry(sku.clone()).or_default() += quantity;
        if order["status"] == "cancelled" {
            *cancelled.entry(sku).or_default() += quantity;
        }
    }
    (sold, cancelled)
}

#[tokio::test]
async fn shoppers_never_sell_below_zero_and_stats_equal_the_orders() {
    let mock = start(Platform::Walmart, "default");
    let initial: Vec<(String, i64)> = (0..20)
        .map(|n| (format!("SKU-{n:02}"), (n % 5) as i64))
        .collect();
    let initial_refs: Vec<(&str, i64)> =
        initial.iter().map(|(sku, q)| (sku.as_str(), *q)).collect();
    create_listings(&mock, &initial_refs).await;
    let (status, _) = control(
        &mock,
        "shoppers",
        json!({ "orders_per_sec": 2000, "max_units": 3, "seed": 5, "cancel_rate": 0.2 }),
    )
    .await;
    assert_eq!(status, 200);
    // Shoppers keep buying until what is left cannot fill their orders; bounded wait.
    let refused_plenty = eventually(Duration::from_secs(20), || async {
        stats(&mock).await["orders_refused"].as_u64().unwrap_or(0) >= 2_000
    })
    .await;
    assert!(refused_plenty, "shoppers ran into sold-out listings");
    let (status, _) = control(&mock, "shoppers", json!({ "orders_per_sec": 0 })).await;
    assert_eq!(status, 200);

    let listed = listed(&mock).await;
    let stats = stats(&mock).await;
    let orders: Vec<Value> = client()
        .get(format!("{}/_mock/orders", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (sold, cancelled) = orders_by_sku(&orders);
    assert_eq!(stats["orders"].as_u64().unwrap() as usize, orders.len());
    assert!(
        stats["orders_cancelled"].as_u64().unwrap() > 0,
        "some orders were cancelled"
    );
    for (sku, start) in &initial {
        let quantity = listed[sku];
        assert!(quantity >= 0, "{sku} shows {quantity}");
        let units_sold = stats["units_sold"]
            .get(sku)
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let units_cancelled = stats["units_cancelled"]
            .get(sku)
            .and_then(Value::as_i64)
            .unwrap_or(0);
        assert_eq!(
            units_sold,
            sold.get(sku).copied().unwrap_or(0),
            "{sku}: stats = orders placed"
        );
        assert_eq!(
            units_cancelled,
            cancelled.get(sku).copied().unwrap_or(0),
            "{sku}"
        );
        assert_eq!(
            quantity,
            start - units_sold + units_cancelled,
            "{sku}: listing = start - sold + restocked"
        );
        assert!(
            units_sold - units_cancelled <= *start,
            "{sku}: never more sold than listed"
        );
    }
}

#[tokio::test]
async fn an_order_larger_than_the_listing_is_refused_and_changes_nothing() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("A-1", 2)]).await;
    let (status, body) = control(&mock, "orders", json!({ "sku": "A-1", "quantity": 3 })).await;
    assert_eq!(
        (status, body["code"].as_str(), body["listed"].as_i64()),
        (409, Some("insufficient_quantity"), Some(2))
    );
    let (status, body) = control(&mock, "orders", json!({ "sku": "NOPE", "quantity": 1 })).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_sku")));
    let (status, body) = control(&mock, "orders", json!({ "sku": "A-1", "quantity": 2 })).await;
    assert_eq!((status, body["outcome"].as_str()), (201, Some("sold")));
    let order_id = body["order_id"].as_str().unwrap().to_string();
    assert_eq!(listed(&mock).await["A-1"], 0);
    cancel_order(&mock, &order_id).await;
    assert_eq!(listed(&mock).await["A-1"], 2, "a cancellation restocks");
    let (status, body) = control(&mock, &format!("orders/{order_id}/cancel"), json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_cancelled"))
    );
    let stats = stats(&mock).await;
    assert_eq!(
        (stats["orders"].as_u64(), stats["orders_refused"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn an_endpoint_that_cannot_answer_ebays_challenge_is_not_subscribed() {
    // Every platform notifies its orders now (issue 14): what eBay refuses is an endpoint that
    // does not pass its challenge, here one nobody listens on.
    let mock = start(Platform::Ebay, "default");
    assert_subscription_refused(
        &mock,
        json!({ "url": "http://127.0.0.1:9/x", "secret": "s" }),
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn bad_control_requests_get_a_code_and_change_nothing() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("A-1", 2)]).await;
    let http = client();
    let raw = |path: &str, body: &'static str| {
        http.post(format!("{}/_mock/{path}", mock.base_url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (path, body, status, code) in [
        ("listings", "[{\"sku\":", 400, "bad_request"),
        (
            "listings",
            r#"[{"sku":"B","quantity":1,"colour":"red"}]"#,
            400,
            "bad_request",
        ),
        (
            "listings",
            r#"[{"sku":"B","quantity":-1}]"#,
            400,
            "bad_listing",
        ),
        (
            "listings",
            r#"[{"sku":"B","quantity":1},{"sku":"A-1","quantity":1}]"#,
            409,
            "duplicate_sku",
        ),
        (
            "orders",
            r#"{"sku":"A-1","quantity":0}"#,
            400,
            "bad_request",
        ),
        ("shoppers", r#"{"orders_per_sec":-5}"#, 400, "bad_request"),
        (
            "shoppers",
            r#"{"orders_per_sec":5,"max_units":0}"#,
            400,
            "bad_request",
        ),
        ("faults", r#"{"error_rate":2}"#, 400, "bad_request"),
        ("faults", r#"{"explode":true}"#, 400, "bad_request"),
        (
            "webhooks",
            r#"{"url":"http://127.0.0.1:9/x","secret":"s","auth":"oauth"}"#,
            400,
            "bad_request",
        ),
    ] {
        let reply = raw(path, body).await.unwrap();
        assert_eq!(reply.status().as_u16(), status, "{path} {body}");
        let reply: Value = reply.json().await.unwrap();
        assert_eq!(reply["code"], code, "{path} {body}: {reply}");
        assert!(!reply["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        listed(&mock).await,
        BTreeMap::from([("A-1".to_string(), 2)]),
        "nothing was created"
    );
    let faults: Value = http
        .get(format!("{}/_mock/faults", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["error_rate"], 0.0);
    let shoppers: Value = http
        .get(format!("{}/_mock/shoppers", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shoppers["orders_per_sec"], 0.0);
}

#[tokio::test]
async fn faults_answer_as_the_platform_would_and_clear() {
    let mock = start(Platform::Walmart, "default");
    create_listings(&mock, &[("A-1", 2)]).await;
    let http = client();
    let get = || {
        http.get(format!("{}/v3/inventory?sku=A-1", mock.base_url()))
            .header("WM_SEC.ACCESS_TOKEN", "mock-token")
            .header("WM_QOS.CORRELATION_ID", "c-1")
            .header("WM_SVC.NAME", "Walmart Marketplace")
            .send()
    };
    for (faults, expected) in [
        (json!({ "down": true }), 503),
        (json!({ "error_rate": 1.0 }), 500),
        (json!({ "throttle_all_secs": 30 }), 429),
        (json!({ "latency_ms": 50 }), 200),
        (json!({}), 200),
    ] {
        set_faults(&mock, faults.clone()).await;
        let started = std::time::Instant::now();
        let reply = get().await.unwrap();
        assert_eq!(reply.status().as_u16(), expected, "{faults}");
        if faults.get("latency_ms").is_some() {
            assert!(
                started.elapsed() >= Duration::from_millis(50),
                "latency is added"
            );
        }
    }
    let stats = stats(&mock).await;
    assert_eq!(stats["faulted"]["get_inventory"], 2);
    assert_eq!(stats["throttled"]["get_inventory"], 1);
    assert_eq!(stats["requests"]["get_inventory"], 5);
}

#[tokio::test]
async fn info_names_the_account_and_limits_but_never_the_token() {
    let mock = start(Platform::Walmart, "default");
    let info: Value = info(&mock).await;
    assert_eq!(
        (info["platform"].as_str(), info["plan"].as_str()),
        (Some("walmart"), Some("default"))
    );
    assert!(info["account"]["partner_id"].is_string());
    assert_eq!(
        info["limits"]["token_buckets"]["update_inventory"]["per_minute"],
        200.0
    );
    assert!(!info.to_string().contains("mock-token"));
}

#[test]
fn an_unknown_plan_is_refused_at_start() {
    let error = shelfsync::platforms::mock::MockServer::start(
        Platform::Walmart,
        shelfsync::platforms::mock::MockOptions {
            plan: "gold".into(),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(error.kind(), "unknown_plan");
    assert!(error.to_string().contains("default, unlimited"), "{error}");
}

#[tokio::test]
async fn start_mocks_starts_every_platform_on_its_own_loopback_port() {
    use shelfsync::platforms::mock::{start_mocks, MockOptions};
    let specs: Vec<(Platform, MockOptions)> = Platform::ALL
        .iter()
        .map(|platform| (*platform, MockOptions::default()))
        .collect();
    let mocks = start_mocks(&specs).unwrap();
    let mut ports = std::collections::BTreeSet::new();
    for (mock, platform) in mocks.iter().zip(Platform::ALL) {
        assert!(mock.addr().ip().is_loopback() && mock.addr().port() != 0);
        ports.insert(mock.addr().port());
        let info: Value = info(mock).await;
        assert_eq!(info["platform"], platform.as_str());
        assert!(
            !info["account"].as_object().unwrap().is_empty(),
            "{platform} names its account"
        );
        assert!(!info["limits"].is_null(), "{platform} shows its limits");
        let webhooks = info["webhooks"].as_bool().unwrap();
        assert_eq!(
            webhooks,
            matches!(
                platform,
                Platform::Shopify
                    | Platform::Etsy
                    | Platform::Ebay
                    | Platform::Walmart
                    | Platform::Amazon
                    | Platform::TikTok
            ),
            "{platform}: every platform pushes order notifications"
        );
    }
    assert_eq!(ports.len(), 6, "six ports");
}
