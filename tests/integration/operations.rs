//! The operations layer through HTTP (issue 15, must-shows 2 and 5): an oversold sale opens an
//! exception in the client's queue; the client's escalation rule sends one signed delivery to a
//! receiver on loopback, which fails once and gets the same delivery id again; resolving it
//! records who and why; the same event again notifies nobody; and the audit log names the member
//! of every write.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use shelfsync::api::paging::NumberPageQuery;
use shelfsync::auth::Role;
use shelfsync::operations::escalation::sign;
use shelfsync::operations::sweep::{sweep_client, OperationsOptions};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::service::ServiceOptions;

use crate::api_support::{Api, ADMIN};
use crate::api_webhooks::{acme, deliver, get, order};
use crate::mock_receiver::Receiver;
use crate::mock_support::eventually;

/// A sweep every 50 ms and retries 100 ms apart: the test waits milliseconds, not minutes.
async fn started() -> Api {
    let api = Api::start_with(ServiceOptions {
        egress: EgressPolicy::LOOPBACK_MOCKS,
        operations: OperationsOptions {
            tick: Duration::from_millis(50),
            backoff_base: Duration::from_millis(100),
            delivery_timeout: Duration::from_secs(2),
            reorder_interval: Duration::from_millis(50),
        },
        ..ServiceOptions::default()
    })
    .await;
    acme(&api).await;
    api
}

async fn call(api: &Api, token: &str, method: Method, path: &str, body: Value) -> (u16, Value) {
    let (status, reply, _) = api
        .call(method, path, Some(token), Some(body.to_string()))
        .await;
    (status, reply)
}

#[tokio::test]
async fn an_oversell_is_escalated_once_signed_retried_with_its_id_resolved_with_who_and_why() {
    let api = started().await;
    let manager = api.member(Role::Manager, &["ACME"]).await;
    let receiver = Receiver::start(1);
    let (status, rules) = call(
        &api,
        &manager,
        Method::PUT,
        "/v1/clients/ACME/escalation",
        json!({"endpoint": receiver.url, "escalate": ["oversold"], "remind_when_overdue": false}),
    )
    .await;
    assert_eq!(status, 200, "{rules}");
    let secret = rules["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    // Shown once: never again.
    let shown = get(&api, "/v1/clients/ACME/escalation").await;
    assert_eq!(shown["configured"], true);
    assert!(
        shown.get("secret").is_none() && !shown.to_string().contains(&secret),
        "{shown}"
    );
    assert!(
        !shown.to_string().contains("/webhooks"),
        "only the origin is shown: {shown}"
    );

    // ACME-CAP has 4; a sale of 6 oversells 2. An unapplicable order (the agency's to handle) too.
    let sale = order(9001, json!([{"sku": "ACME-CAP", "quantity": 6}]));
    assert_eq!(deliver(&api, &sale, "wh-1").await.0, 200);
    let odd = order(9002, json!([{"sku": "ACME-CAP", "quantity": 0}]));
    assert_eq!(deliver(&api, &odd, "wh-2").await.0, 200);
    let queue = get(&api, "/v1/clients/ACME/exceptions?state=open").await;
    let exceptions = queue["exceptions"].as_array().unwrap();
    assert_eq!(exceptions.len(), 2, "{queue}");
    let oversold = exceptions.iter().find(|e| e["kind"] == "oversold").unwrap();
    assert_eq!(
        (oversold["units"].clone(), oversold["state"].clone()),
        (json!(2), json!("open"))
    );
    let id = oversold["id"].as_u64().unwrap();
    // Standard tier: a day to respond.
    let first_seen =
        chrono::DateTime::from_timestamp_millis(oversold["first_seen_ms"].as_i64().unwrap())
            .unwrap();
    let due: chrono::DateTime<chrono::Utc> = oversold["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due - first_seen, chrono::Duration::hours(24));

    // The first attempt fails (500); the retry carries the same id, signed again.
    let received = receiver.wait_for(2).await;
    let ids: Vec<&str> = received
        .iter()
        .map(|(headers, _)| headers["webhook-id"].as_str())
        .collect();
    assert_eq!(ids[0], ids[1], "a retry is the same delivery: {ids:?}");
    assert_eq!(ids[0], format!("esc_ACME_{id}_raised"));
    for (headers, body) in &received {
        let expected = sign(
            &secret,
            &headers["webhook-id"],
            headers["webhook-timestamp"].parse().unwrap(),
            body,
        )
        .unwrap();
        assert_eq!(
            headers["webhook-signature"], expected,
            "signed with the client's secret"
        );
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            (event["type"].as_str(), event["client"].as_str()),
            (Some("exception.raised"), Some("ACME"))
        );
        assert_eq!(event["exception"]["sku"], "ACME-CAP");
        // Negative control: another secret does not verify it.
        let other = shelfsync::operations::escalation::new_secret();
        assert_ne!(
            sign(
                &other,
                &headers["webhook-id"],
                headers["webhook-timestamp"].parse().unwrap(),
                body
            )
            .unwrap(),
            headers["webhook-signature"]
        );
    }
    assert!(
        eventually(Duration::from_secs(5), || async {
            let log = get(&api, "/v1/clients/ACME/escalation/deliveries").await;
            log["items"][0]["state"] == "delivered"
        })
        .await
    );
    let log = get(&api, "/v1/clients/ACME/escalation/deliveries").await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one delivery, not one per attempt: {log}");
    assert_eq!(
        (
            items[0]["attempts"].clone(),
            items[0]["last_status"].clone()
        ),
        (json!(2), json!(200))
    );

    // Resolved by the manager, with why.
    let (status, reply) = call(&api, &manager, Method::POST, &format!("/v1/clients/ACME/exceptions/{id}"),
        json!({"action": "resolve", "resolution": "order_cancelled", "note": "buyer refunded, 2 caps"})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["state"], "resolved");
    let change = &reply["trail"][0];
    assert_eq!(
        (
            change["member"].clone(),
            change["resolution"].clone(),
            change["note"].clone()
        ),
        (
            json!("m2"),
            json!("order_cancelled"),
            json!("buyer refunded, 2 caps")
        )
    );
    // A transition that does not apply changes nothing.
    let (status, refused) = call(
        &api,
        &manager,
        Method::POST,
        &format!("/v1/clients/ACME/exceptions/{id}"),
        json!({"action": "acknowledge"}),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("invalid_transition"))
    );

    // The same event again (the platform's retry): no new exception, no new delivery.
    assert_eq!(deliver(&api, &sale, "wh-1").await.0, 200);
    // Two whole passes of the sweep, run here rather than waited for.
    let acme_code = shelfsync_actors::ids::ClientCode::parse("ACME").unwrap();
    for _ in 0..2 {
        sweep_client(&api.service, &acme_code, OperationsOptions::default())
            .await
            .unwrap();
    }
    let all = get(&api, "/v1/clients/ACME/exceptions").await;
    assert_eq!(all["exceptions"].as_array().unwrap().len(), 2, "{all}");
    assert_eq!(
        receiver.deliveries().len(),
        2,
        "the same event notifies once"
    );
    // The unapplicable order is the agency's: never sent.
    assert!(received
        .iter()
        .all(|(_, body)| !String::from_utf8_lossy(body).contains("unapplicable")));

    // Across clients: the open one is listed, the resolved one is not.
    let open = get(&api, "/v1/exceptions").await;
    let kinds: Vec<&str> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["unapplicable_order"], "{open}");

    // The audit log names the member of each write, never the secret.
    let audit = api
        .client()
        .client_audit("ACME", &NumberPageQuery::default())
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = audit
        .items
        .iter()
        .map(|e| (e.action.as_str(), e.member.as_str()))
        .collect();
    assert!(actions.contains(&("put_escalation", "m2")), "{actions:?}");
    assert!(
        actions.contains(&("transition_exception", "m2")),
        "{actions:?}"
    );
    assert!(actions.contains(&("create_client", "m1")), "{actions:?}");
    assert!(actions.contains(&("import_catalog", "m1")), "{actions:?}");
    let text = serde_json::to_string(&audit).unwrap();
    assert!(
        !text.contains(&secret) && !text.contains("shpat-token"),
        "no secret in the audit log"
    );
    let resolve = audit
        .items
        .iter()
        .find(|e| e.action == "transition_exception")
        .unwrap();
    assert_eq!(resolve.before.as_ref().unwrap()["state"], "open");
    assert_eq!(resolve.after.as_ref().unwrap()["state"], "resolved");
    assert_eq!(resolve.member_name, "Manager member");
}

#[tokio::test]
async fn a_disabled_member_stays_in_the_trail_and_the_agency_log() {
    let api = started().await;
    let manager = api.member(Role::Manager, &["ACME"]).await;
    let (status, _) = call(&api, &manager, Method::PUT, "/v1/clients/ACME/profile",
        json!({"legal_name": "Acme Mugs Ltd", "response_target_hours": 4,
               "access": [{"platform": "shopify", "level": "collaborator", "granted_by": "Ana",
                           "granted_on": "2026-11-02", "two_factor_location": "1Password, ACME vault",
                           "credential": "shopify"}]})).await;
    assert_eq!(status, 200);
    let (status, _, _) = api
        .call(Method::DELETE, "/v1/members/m2", Some(ADMIN), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &api,
        &manager,
        Method::PUT,
        "/v1/clients/ACME/profile",
        json!({}),
    )
    .await;
    assert_eq!(status, 401, "a disabled member's token stops");
    let audit = api
        .client()
        .client_audit("ACME", &NumberPageQuery::default())
        .await
        .unwrap();
    let put = audit
        .items
        .iter()
        .find(|e| e.action == "put_profile")
        .unwrap();
    assert_eq!(
        (put.member.as_str(), put.member_name.as_str()),
        ("m2", "Manager member")
    );
    assert_eq!(put.after.as_ref().unwrap()["legal_name"], "Acme Mugs Ltd");
    let agency = api
        .client()
        .agency_audit(&NumberPageQuery::default())
        .await
        .unwrap();
    let actions: Vec<&str> = agency.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["create_member", "delete_member"], "{actions:?}");
    assert!(agency.items[1].after.as_ref().unwrap()["disabled_at"].is_string());
    // The profile's target drives the due time of the client's exceptions.
    let profile = get(&api, "/v1/clients/ACME/profile").await;
    assert_eq!(profile["response_target_hours"], 4);
    assert_eq!(profile["credentials"][0]["rotation"], "no_date");
    // A viewer reads the audit log of its client but not the agency's.
    let viewer = api.member(Role::Viewer, &["ACME"]).await;
    let (status, _, _) = api
        .call(Method::GET, "/v1/audit", Some(&viewer), None)
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = api
        .call(Method::GET, "/v1/clients/ACME/audit", Some(&viewer), None)
        .await;
    assert_eq!(status, 200);
}
