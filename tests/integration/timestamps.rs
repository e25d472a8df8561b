//! Times through the API (issue 13, item 2): the service reads them from the clock its options
//! give (a test owns it), keeps them typed, and replies with them as it always did: RFC 3339 in
//! UTC with milliseconds, documented as `date-time` strings.

use reqwest::Method;
use serde_json::{json, Value};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::Platform;
use shelfsync::service::ServiceOptions;
use shelfsync::timestamp::Clock;

use crate::api_support::{Api, ADMIN};
use crate::mock_support::start;

/// The time of the test's clock, and how the API writes it.
const NOW: &str = "2026-12-03T06:00:00Z";
const NOW_WRITTEN: &str = "2026-12-03T06:00:00.000Z";

async fn call(api: &Api, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, reply, _) = api
        .call(method, path, Some(ADMIN), body.map(|body| body.to_string()))
        .await;
    (status, reply)
}

#[tokio::test]
async fn records_are_created_at_the_time_of_the_services_clock_and_shown_as_rfc3339_utc() {
    let walmart = start(Platform::Walmart, "default");
    let api = Api::start_with(ServiceOptions {
        egress: EgressPolicy::LOOPBACK_MOCKS,
        clock: Clock::fixed(NOW.parse().unwrap()),
        ..ServiceOptions::default()
    })
    .await;
    let client = json!({"code": "ACME", "name": "Acme"});
    let (status, created) = call(&api, Method::POST, "/v1/clients", Some(client)).await;
    assert_eq!((status, &created["created_at"]), (201, &json!(NOW_WRITTEN)));
    let (_, fetched) = call(&api, Method::GET, "/v1/clients/ACME", None).await;
    assert_eq!(fetched, created, "stored and read back, the same text");

    let member = json!({"name": "Dana", "role": "viewer", "clients": ["ACME"]});
    let (status, member) = call(&api, Method::POST, "/v1/members", Some(member)).await;
    assert_eq!((status, &member["created_at"]), (201, &json!(NOW_WRITTEN)));
    let (_, members) = call(&api, Method::GET, "/v1/members", None).await;
    for member in members["items"].as_array().unwrap() {
        assert_eq!(member["created_at"], NOW_WRITTEN, "the admin too: {member}");
    }

    // A time given with an offset comes back in UTC; a day stays a day.
    let path = "/v1/clients/ACME/credentials/token";
    let put = json!({"secret": "mock-token", "rotate_by": "2027-01-01T12:00:00+01:00"});
    let (status, credential) = call(&api, Method::PUT, path, Some(put)).await;
    assert_eq!(status, 200, "{credential}");
    assert_eq!(
        (
            &credential["created_at"],
            &credential["rotated_at"],
            &credential["rotate_by"]
        ),
        (
            &json!(NOW_WRITTEN),
            &Value::Null,
            &json!("2027-01-01T11:00:00.000Z")
        )
    );
    let put = json!({"secret": "mock-token", "rotate_by": "2027-03-01"});
    let (_, rotated) = call(&api, Method::PUT, path, Some(put)).await;
    assert_eq!(
        (&rotated["rotated_at"], &rotated["rotate_by"]),
        (&json!(NOW_WRITTEN), &json!("2027-03-01"))
    );

    let channel = json!({"id": "walmart", "platform": "walmart", "base_url": walmart.base_url(),
                         "credential": "token", "poll_interval_ms": 100});
    let (status, channel) = call(
        &api,
        Method::POST,
        "/v1/clients/ACME/channels",
        Some(channel),
    )
    .await;
    assert_eq!((status, &channel["created_at"]), (201, &json!(NOW_WRITTEN)));
}

#[tokio::test]
async fn the_document_says_times_are_date_time_strings() {
    let api = Api::start().await;
    let (status, document, _) = api.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let schemas = &document["components"]["schemas"];
    for (schema, field) in [
        ("ClientRecord", "created_at"),
        ("MemberView", "created_at"),
        ("ChannelView", "created_at"),
        ("CredentialMetadata", "created_at"),
        ("CredentialMetadata", "rotated_at"),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(
            (
                property["format"].as_str(),
                property.to_string().contains("string")
            ),
            (Some("date-time"), true),
            "{schema}.{field}: {property}"
        );
    }
}
