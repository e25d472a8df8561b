//! The order notifications of the Etsy and eBay mocks (issue 14; reference/marketplace-apis.md
//! §2.2 and §5.2), checked with the connectors' own verifiers: what the mocks send is what the
//! connectors accept.

use chrono::Utc;
use serde_json::{json, Value};
use shelfsync::platforms::ebay::connector::notify as ebay_notify;
use shelfsync::platforms::etsy::connector::notify::{self as etsy_notify, EtsyEvent};
use shelfsync::platforms::etsy::mock::{KEYSTRING, SHOP_ID, USER_ID};
use shelfsync::platforms::Platform;

use crate::mock_receiver::{subscribe, subscribed_ebay, Receiver};
use crate::mock_support::{
    cancel_order, client, control, create_listings, info, json_reply, place_order, start, stats,
};

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn etsy_headers(
    headers: &std::collections::HashMap<String, String>,
) -> etsy_notify::SignatureHeaders<'_> {
    etsy_notify::SignatureHeaders {
        id: headers.get("webhook-id").map(String::as_str),
        timestamp: headers.get("webhook-timestamp").map(String::as_str),
        signature: headers.get("webhook-signature").map(String::as_str),
    }
}

#[tokio::test]
async fn etsy_sends_signed_thin_notices_of_paid_and_canceled_receipts() {
    let mock = start(Platform::Etsy, "default");
    assert_eq!(info(&mock).await["webhooks"], true);
    let receiver = Receiver::start(0);
    subscribe(&mock, &receiver, WHSEC).await;
    create_listings(&mock, &[("SKU-1", 10)]).await;
    let order_id = place_order(&mock, "SKU-1", 2).await;
    cancel_order(&mock, &order_id).await;
    let deliveries = receiver.wait_for(2).await;
    let mut events = Vec::new();
    for (headers, body) in &deliveries {
        assert_eq!(
            etsy_notify::verify(WHSEC, etsy_headers(headers), body, Utc::now()),
            Ok(()),
            "{headers:?}"
        );
        let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx";
        assert!(etsy_notify::verify(other, etsy_headers(headers), body, Utc::now()).is_err());
        let notice = etsy_notify::read_notice(body, &SHOP_ID.to_string()).unwrap();
        assert_eq!(notice.receipt_id.to_string(), order_id);
        let payload: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            payload["resource_url"],
            format!(
                "{}/v3/application/shops/{SHOP_ID}/receipts/{order_id}",
                mock.base_url()
            )
        );
        assert_eq!(payload["shop_id"], SHOP_ID);
        events.push(notice.event);
    }
    events.sort_by_key(|event| format!("{event:?}"));
    assert_eq!(events, [Some(EtsyEvent::Canceled), Some(EtsyEvent::Paid)]);
    assert_ne!(
        deliveries[0].0["webhook-id"], deliveries[1].0["webhook-id"],
        "one id per event"
    );
    // The resource URL is served: one receipt, on the app's budget.
    let payload: Value = serde_json::from_slice(&deliveries[0].1).unwrap();
    let receipt = json_reply(
        client()
            .get(payload["resource_url"].as_str().unwrap())
            .header("x-api-key", format!("{KEYSTRING}:s"))
            .header("Authorization", format!("Bearer {USER_ID}.mock-token")),
    )
    .await;
    assert_eq!(receipt["receipt_id"].to_string(), order_id);
}

#[tokio::test]
async fn an_etsy_retry_keeps_its_id_and_verifies_and_a_secret_must_be_whsec() {
    let mock = start(Platform::Etsy, "default");
    let (status, reply) = control(
        &mock,
        "webhooks",
        json!({ "url": "http://127.0.0.1:9/x", "secret": "plain-secret" }),
    )
    .await;
    assert_eq!((status, reply["code"].as_str()), (400, Some("bad_request")));
    let receiver = Receiver::start(1);
    subscribe(&mock, &receiver, WHSEC).await;
    create_listings(&mock, &[("SKU-1", 10)]).await;
    place_order(&mock, "SKU-1", 1).await;
    let deliveries = receiver.wait_for(2).await;
    assert_eq!(deliveries[0].0["webhook-id"], deliveries[1].0["webhook-id"]);
    assert_eq!(deliveries[0].1, deliveries[1].1, "the same payload");
    for (headers, body) in &deliveries {
        assert_eq!(
            etsy_notify::verify(WHSEC, etsy_headers(headers), body, Utc::now()),
            Ok(())
        );
    }
    assert_eq!(
        stats(&mock).await["webhook_attempts_failed"].as_u64(),
        Some(1)
    );
}

/// The key `kid` as the mock's Notification API serves it, with the app token.
async fn public_key(base_url: &str, kid: &str, token: &str) -> (u16, Value) {
    let reply = client()
        .get(format!(
            "{base_url}/commerce/notification/v1/public_key/{kid}"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

#[tokio::test]
async fn ebay_order_confirmations_verify_with_the_key_its_api_serves() {
    let (mock, receiver) = subscribed_ebay(0, "verification-token").await;
    assert_eq!(info(&mock).await["webhooks"], true);
    assert_eq!(receiver.challenges(), 1, "challenged before subscribing");
    let order_id = place_order(&mock, "SKU-1", 2).await;
    cancel_order(&mock, &order_id).await;
    let (headers, body) = receiver.wait_for(1).await.remove(0);
    let header =
        ebay_notify::parse_signature(headers.get("x-ebay-signature").map(String::as_str)).unwrap();
    let (status, key) = public_key(&mock.base_url(), &header.kid, "mock-token").await;
    assert_eq!(status, 200, "{key}");
    assert_eq!(
        (key["algorithm"].as_str(), key["digest"].as_str()),
        (Some("ECDSA"), Some("SHA1"))
    );
    let key: ebay_notify::PublicKey = serde_json::from_value(key).unwrap();
    let key = ebay_notify::verifying_key(&key).unwrap();
    assert_eq!(ebay_notify::verify(&key, &header, &body), Ok(()));
    let mut tampered = body.clone();
    tampered[body.len() / 2] ^= 1;
    assert!(ebay_notify::verify(&key, &header, &tampered).is_err());
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["metadata"]["topic"], "ORDER_CONFIRMATION");
    let notification = &payload["notification"];
    assert_eq!(notification["data"]["orderId"], order_id);
    assert_eq!(notification["data"]["sku"], "SKU-1");
    assert_eq!(notification["data"]["quantity"], 2);
    assert_eq!(notification["publishAttemptCount"], 1);
    assert!(notification["notificationId"].is_string() && notification["eventDate"].is_string());
    // Compact JSON, so that eBay's SDK (which re-serializes the parsed body) sees these bytes.
    assert_eq!(serde_json::to_vec(&payload).unwrap(), body);
    // A cancellation is no ORDER_CONFIRMATION.
    assert_eq!(receiver.deliveries().len(), 1);
    // The key needs the token; another kid is not found.
    assert_eq!(
        public_key(&mock.base_url(), &header.kid, "wrong").await.0,
        401
    );
    assert_eq!(
        public_key(&mock.base_url(), "other-kid", "mock-token")
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn an_ebay_retry_counts_its_attempt_and_is_signed_anew() {
    let (mock, receiver) = subscribed_ebay(1, "token-1").await;
    place_order(&mock, "SKU-1", 1).await;
    let deliveries = receiver.wait_for(2).await;
    let mut attempts = Vec::new();
    let mut ids = Vec::new();
    for (headers, body) in &deliveries {
        let header =
            ebay_notify::parse_signature(headers.get("x-ebay-signature").map(String::as_str))
                .unwrap();
        let (_, key) = public_key(&mock.base_url(), &header.kid, "mock-token").await;
        let key = ebay_notify::verifying_key(&serde_json::from_value(key).unwrap()).unwrap();
        assert_eq!(ebay_notify::verify(&key, &header, body), Ok(()));
        let payload: Value = serde_json::from_slice(body).unwrap();
        attempts.push(payload["notification"]["publishAttemptCount"].clone());
        ids.push(payload["notification"]["notificationId"].clone());
    }
    assert_eq!(attempts, [json!(1), json!(2)]);
    assert_eq!(ids[0], ids[1], "the same notification");
}

#[tokio::test]
async fn an_ebay_subscription_must_answer_the_challenge() {
    let mock = start(Platform::Ebay, "default");
    for receiver in [
        Receiver::answering(0, Some("another-token")),
        Receiver::answering(0, None),
    ] {
        let (status, reply) = control(
            &mock,
            "webhooks",
            json!({ "url": receiver.url, "secret": "verification-token" }),
        )
        .await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some("bad_request")),
            "{reply}"
        );
        assert!(
            reply["message"].as_str().unwrap().contains("challenge"),
            "{reply}"
        );
        assert_eq!(receiver.challenges(), 1);
    }
    let subscribed = json_reply(client().get(format!("{}/_mock/webhooks", mock.base_url()))).await;
    assert_eq!(subscribed, json!([]), "nothing subscribed");
}
