//! The members API through HTTP: tokens shown once, roles, revocation, and problem+json refusals
//! that change nothing.

use serde_json::json;
use shelfsync::api::error::Code;
use shelfsync::auth::Role;

use crate::api_support::{assert_refused, create_client, new_member, Api, ADMIN};

#[tokio::test]
async fn an_admin_creates_a_manager_whose_token_works_until_revoked() {
    let api = Api::start().await;
    create_client(&api.client(), "ACME", "Acme").await;
    let created = api
        .client()
        .create_member(&new_member("Dana", Role::Manager, &["ACME"]))
        .await
        .unwrap();
    let token = created.token;
    assert!(token.starts_with("ssk_"));
    let id = created.member.id;

    // Raw: the whole reply must not show a token again.
    let (status, members, _) = api
        .call(reqwest::Method::GET, "/v1/members", Some(ADMIN), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(members["items"].as_array().unwrap().len(), 2);
    assert!(
        !members.to_string().contains(&token) && !members.to_string().contains("token_hash"),
        "no token is shown again"
    );

    let (status, body, content_type) = api
        .call(reqwest::Method::GET, "/v1/members", Some(&token), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str(), content_type.as_str()),
        (403, Some("forbidden"), "application/problem+json")
    );

    let (status, _, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/members/{id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, body, _) = api
        .call(reqwest::Method::GET, "/v1/members", Some(&token), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "a revoked token stops at once"
    );
    // Disabled, not deleted: the member stays listed, so that trails keep naming it, and
    // disabling it again changes nothing.
    let listed = api.client().members().await.unwrap();
    let kept = listed.iter().find(|member| member.id == id).unwrap();
    assert!(kept.disabled_at.is_some(), "{kept:?}");
    api.client().delete_member(&id).await.unwrap();
    assert_eq!(
        api.client()
            .members()
            .await
            .unwrap()
            .iter()
            .find(|m| m.id == id)
            .unwrap()
            .disabled_at,
        kept.disabled_at
    );
    let unknown = api.client().delete_member("m999").await;
    assert_refused(unknown, 404, Code::NotFound, "a member that never existed");
}

#[tokio::test]
async fn bad_member_requests_get_a_stable_code_and_change_nothing() {
    let api = Api::start().await;
    let big = format!(
        "{{\"name\":\"{}\",\"role\":\"admin\"}}",
        "x".repeat(70 * 1024)
    );
    for (body, code) in [
        ("{\"name\":".to_string(), "malformed_json"),
        (
            json!({"name": "A", "role": "owner", "clients": ["ACME"]}).to_string(),
            "invalid_field",
        ),
        (
            json!({"name": "A", "role": "viewer", "clients": ["ACME"], "admin": true}).to_string(),
            "invalid_field",
        ),
        (
            json!({"name": "A", "role": "viewer", "clients": ["acme corp"]}).to_string(),
            "invalid_field",
        ),
        (
            json!({"name": "A", "role": "viewer", "clients": []}).to_string(),
            "invalid_field",
        ),
        (
            json!({"name": "  ", "role": "admin"}).to_string(),
            "invalid_field",
        ),
        (big, "body_too_large"),
    ] {
        let (status, reply, content_type) = api
            .call(
                reqwest::Method::POST,
                "/v1/members",
                Some(ADMIN),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            reply["code"],
            code,
            "{}: {reply}",
            &body[..body.len().min(80)]
        );
        assert!((400..500).contains(&status));
        assert_eq!(content_type, "application/problem+json");
        assert!(!reply["detail"].as_str().unwrap().is_empty());
    }
    let (status, body, _) = api
        .call(
            reqwest::Method::POST,
            "/v1/members",
            None,
            Some("{}".into()),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let members = api.client().members().await.unwrap();
    assert_eq!(members.len(), 1, "nothing was created");
    let (status, body, _) = api
        .call(reqwest::Method::GET, "/v1/nothing-here", Some(ADMIN), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, _, _) = api.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200);
    let (status, _, _) = api.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200);
}
