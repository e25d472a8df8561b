//! The generated OpenAPI document is what is served (issue 13, item 6): every operation of
//! `/openapi.json` answers at its path and method (never the "no such route" 404), a method a
//! documented path does not take is a 405 with `Allow`, and a path the document lacks is a 404.

use reqwest::Method;
use serde_json::Value;
use shelfsync::api::openapi::routes;

use crate::api_support::{Api, ADMIN};

#[tokio::test]
async fn the_served_document_is_the_router() {
    let api = Api::start().await;
    let (status, served, content_type) = api.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(served["openapi"], "3.1.0", "{served}");
    let routes = routes();
    let paths = served["paths"].as_object().unwrap();
    assert_eq!(
        paths
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum::<usize>(),
        routes.len()
    );
    for route in &routes {
        let path = route
            .path
            .replace("{code}", "NOBODY")
            .replace("{channel}", "x")
            .replace("{sku}", "X")
            .replace("{name}", "x")
            .replace("{id}", "x");
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let (status, reply) = api
            .send_raw(
                method,
                &path,
                Some(ADMIN),
                "application/json",
                b"{}".to_vec(),
                &[],
            )
            .await;
        assert!(
            reply["detail"] != "no such route" && status != 405,
            "{} {path}: {status} {reply}",
            route.method
        );
        let documented: Vec<&str> = paths[&route.path]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for other in ["get", "put", "post", "delete", "patch"] {
            if documented.contains(&other) {
                continue;
            }
            let reply = reqwest::Client::new()
                .request(
                    Method::from_bytes(other.to_uppercase().as_bytes()).unwrap(),
                    format!("{}{path}", api.base_url()),
                )
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 405, "{other} {path}");
            let allow = reply.headers()["allow"].to_str().unwrap().to_lowercase();
            for method in &documented {
                assert!(allow.contains(method), "{other} {path}: Allow {allow}");
            }
            let problem: Value = reply.json().await.unwrap();
            assert_eq!(problem["code"], "method_not_allowed", "{problem}");
        }
    }
    let (status, reply, _) = api
        .call(Method::GET, "/v1/nowhere", Some(ADMIN), None)
        .await;
    assert_eq!((status, reply["code"].as_str()), (404, Some("not_found")));
}
