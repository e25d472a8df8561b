//! Clients and credentials through HTTP: a manager creates and manages its client, other scopes
//! get 404, viewers cannot write, and no secret is shown or stored in clear.

use reqwest::Method;
use serde_json::json;
use shelfsync::api::clients::{NewClient, PutCredential};
use shelfsync::api::error::Code;
use shelfsync::auth::Role;
use shelfsync_actors::ratelimit::ServiceTier;

use crate::api_support::{assert_refused, create_client, new_client, Api, ADMIN};

#[tokio::test]
async fn a_manager_creates_a_client_and_stores_a_credential_that_is_never_shown() {
    let api = Api::start().await;
    let manager = api.client_creating_manager().await;
    let as_manager = api.client_as(&manager);
    let acme = NewClient {
        tier: ServiceTier::Premium,
        ..new_client("ACME", "Acme Mugs")
    };
    let created = as_manager.create_client(&acme).await.unwrap();
    assert_eq!(created.tier, ServiceTier::Premium, "{created:?}");
    assert_refused(
        as_manager.create_client(&acme).await,
        409,
        Code::Conflict,
        "ACME again",
    );
    let listed = as_manager.clients().await.unwrap();
    assert_eq!(listed.len(), 1, "the manager now manages ACME: {listed:?}");

    // Raw from here: the whole of each reply must not show the secret.
    let secret = "shpat_this-must-never-be-seen-again-7c1d";
    let put = json!({ "secret": secret, "rotate_by": "2027-03-01" }).to_string();
    let (status, metadata, _) = api
        .call(
            Method::PUT,
            "/v1/clients/ACME/credentials/shopify-token",
            Some(&manager),
            Some(put),
        )
        .await;
    assert_eq!(
        (status, metadata["name"].as_str()),
        (200, Some("shopify-token")),
        "{metadata}"
    );
    let (status, listed, _) = api
        .call(
            Method::GET,
            "/v1/clients/ACME/credentials",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["rotate_by"], "2027-03-01");
    assert!(!listed.to_string().contains(secret) && !metadata.to_string().contains(secret));
    drop(api.call(Method::GET, "/healthz", None, None).await);
    for file in crate::api_support::files_under(api.dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is in {}",
            file.display()
        );
    }
}

#[tokio::test]
async fn other_scopes_get_404_and_viewers_cannot_write() {
    let api = Api::start().await;
    let admin = api.client();
    for code in ["ACME", "BOLT"] {
        create_client(&admin, code, code).await;
    }
    let acme_manager = api.member(Role::Manager, &["ACME"]).await;
    let acme_viewer = api.member(Role::Viewer, &["ACME"]).await;
    let put = json!({ "secret": "s" }).to_string();
    for (method, path, body) in [
        (Method::GET, "/v1/clients/BOLT", None),
        (Method::GET, "/v1/clients/BOLT/credentials", None),
        (Method::PUT, "/v1/clients/BOLT/credentials/token", Some(put)),
        (Method::GET, "/v1/clients/NOPE", None),
    ] {
        let (status, reply, _) = api
            .call(method.clone(), path, Some(&acme_manager), body)
            .await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
    }
    let viewer = api.client_as(&acme_viewer);
    assert_eq!(viewer.clients().await.unwrap().len(), 1);
    let secret = |secret: &str, rotate_by: Option<&str>| PutCredential {
        secret: secret.into(),
        rotate_by: rotate_by.map(str::to_string),
        hosts: None,
    };
    let credential = secret("s", None);
    let put = viewer.put_credential("ACME", "token", &credential).await;
    assert_refused(put, 403, Code::Forbidden, "a viewer's credential");
    let refused = viewer
        .create_client(&new_client("CORE", "x"))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    let credentials = admin.credentials("ACME").await.unwrap();
    assert_eq!(credentials.len(), 0, "nothing was stored");
    for (body, code) in [
        (json!({ "code": "acme corp", "name": "x" }), "invalid_field"),
        (
            json!({ "code": "CORE", "name": "x", "tier": "gold" }),
            "invalid_field",
        ),
        (
            json!({ "code": "CORE", "name": "x", "extra": 1 }),
            "invalid_field",
        ),
    ] {
        let (status, reply, _) = api
            .call(
                Method::POST,
                "/v1/clients",
                Some(ADMIN),
                Some(body.to_string()),
            )
            .await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    for (name, credential) in [
        ("token", secret("s", Some("soon"))),
        ("Bad Name", secret("s", None)),
    ] {
        let refused = admin
            .put_credential("ACME", name, &credential)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), Some(400), "{name}: {refused}");
    }
}

/// Every answered request is counted by its route template, method and status class, and timed
/// (issue 13: the `route` label existed, nothing emitted it); no value of a path becomes a label.
#[tokio::test]
async fn requests_are_counted_by_route_template_never_by_path() {
    // The process-wide recorder `serve` installs (idempotent: other tests may have installed it).
    shelfsync::telemetry::install().unwrap();
    let api = Api::start().await;
    for _ in 0..3 {
        let (status, _, _) = api
            .call(Method::GET, "/v1/clients/NOSUCHCLIENT7", Some(ADMIN), None)
            .await;
        assert_eq!(status, 404);
    }
    let (status, _, _) = api.call(Method::GET, "/no/such/path/xq9", None, None).await;
    assert_eq!(status, 404);
    let text = reqwest::get(format!("{}/metrics", api.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |needle: &str| -> f64 {
        text.lines()
            .find(|line| {
                line.starts_with("shelfsync_http_requests_total{") && line.contains(needle)
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(
        count(r#"route="/v1/clients/{code}",method="GET",status="4xx""#) >= 3.0,
        "{text}"
    );
    assert!(
        count(r#"route="unmatched",method="GET",status="4xx""#) >= 1.0,
        "{text}"
    );
    assert!(text.contains("shelfsync_http_request_seconds_bucket{route=\"/v1/clients/{code}\""));
    assert!(!text.contains("NOSUCHCLIENT7") && !text.contains("xq9"));
}
