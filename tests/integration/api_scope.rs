//! Isolation and bad input through HTTP (issue 5, must-show 3 and 5), walking the API's generated
//! OpenAPI document (`shelfsync::api::openapi::routes`), so a route added later is covered without editing
//! this file: a token scoped to another client gets 404 on everything of ACME, a viewer cannot
//! write, a revoked token gets 401; every write route refuses malformed JSON, unknown fields, bad
//! SKUs, negative quantities, unknown channels and oversize bodies with a stable code, and
//! nothing changes.

use reqwest::Method;
use serde_json::{json, Value};
use shelfsync::api::error::Code;
use shelfsync::api::openapi::{routes, Auth, Route};
use shelfsync::api::stock::NewMovement;
use shelfsync::auth::Role;
use shelfsync_actors::inventory::ledger::MovementKind;

use crate::api_agency::{agency, Agency};
use crate::api_support::{assert_refused, create_client, import, item, journal_of, Api, ADMIN};

/// A route's path for client `code` with ACME's channel, SKU and credential names.
fn concrete(path: &str, code: &str) -> String {
    // A checklist's id and item key: the launch checklist every client has, and a manual item.
    let path = path
        .replace("/checklists/{id}", "/checklists/launch")
        .replace("{key}", "client_signed_off");
    path.replace("{code}", code)
        .replace("{channel}", "etsy")
        .replace("{sku}", "ACME-MUG")
        .replace("{name}", "etsy")
        .replace("{id}", "m-unknown")
        .replace("{month}", "2026-11")
}

/// A body a route would accept (so a refusal is the scope's, not the body's).
fn good_body(method: &str, path: &str) -> Option<String> {
    let body = match (method, path) {
        ("POST", "/v1/members") => json!({"name": "x", "role": "viewer", "clients": ["ACME"]}),
        ("POST", "/v1/clients") => json!({"code": "ZED", "name": "Zed"}),
        ("PUT", "/v1/clients/{code}/credentials/{name}") => json!({"secret": "s-new"}),
        ("POST", "/v1/clients/{code}/channels") => json!({
            "id": "walmart", "platform": "walmart", "base_url": "http://127.0.0.1:9",
            "credential": "etsy", "account": {"partner_id": "1", "ship_node": "2"}}),
        ("PUT", "/v1/clients/{code}/catalog") => {
            json!({"items": [{"sku": "ACME-MUG", "on_hand": 1}]})
        }
        ("POST", "/v1/clients/{code}/stock/{sku}/movements") => {
            json!({"kind": "receipt", "quantity": 5, "idempotency_key": "scope-1"})
        }
        ("POST", "/webhooks/{code}/{channel}") => json!({}),
        ("PUT", "/v1/clients/{code}/escalation") => json!({
            "endpoint": "http://127.0.0.1:9/hook", "escalate": ["oversold"]}),
        ("PUT", "/v1/clients/{code}/profile") => json!({"legal_name": "Acme Mugs Ltd"}),
        ("POST", "/v1/clients/{code}/exceptions/{id}") => json!({"action": "acknowledge"}),
        ("PUT", "/v1/clients/{code}/stock/{sku}/reorder") => json!({"lead_time_days": 5}),
        ("POST", "/v1/clients/{code}/checklists") => json!({"template": "holiday_preparation"}),
        ("POST", "/v1/clients/{code}/checklists/{id}/items/{key}") => json!({"done": true}),
        ("POST", "/v1/clients/{code}/sync-test") => json!({}),
        _ => return None,
    };
    Some(body.to_string())
}

/// Calls `route` on ACME's resources as `token`, with a body the route would accept.
async fn call_route(api: &Api, route: &Route, token: &str) -> (u16, Value) {
    let body = good_body(route.method.as_str(), &route.path).unwrap_or_default();
    let path = concrete(&route.path, "ACME");
    let method = method(&route.method);
    api.send_raw(
        method,
        &path,
        Some(token),
        "application/json",
        body.into_bytes(),
        &[],
    )
    .await
}

fn method(name: &actix_web::http::Method) -> Method {
    Method::from_bytes(name.as_str().as_bytes()).unwrap()
}

/// Everything a caller could observe of ACME and of the service, to compare before and after.
async fn snapshot(agency: &Agency) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        "/v1/members",
        "/v1/clients",
        "/v1/clients/ACME/credentials",
        "/v1/clients/ACME/stock",
        "/v1/clients/ACME/ledger?limit=1000",
        "/v1/clients/ACME/reorders",
        "/v1/clients/ACME/sync-test",
    ] {
        let (status, reply, _) = agency.api.call(Method::GET, path, Some(ADMIN), None).await;
        assert_eq!(status, 200, "{path}: {reply}");
        seen.push(reply);
    }
    // The checklists a person made and the items a person ticked (computed items move with the
    // channels' live reads on their own).
    let (status, checklists, _) = agency
        .api
        .call(
            Method::GET,
            "/v1/clients/ACME/checklists",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{checklists}");
    let made: Vec<Value> = checklists
        .as_array()
        .unwrap()
        .iter()
        .map(|checklist| {
            let ticked: Vec<&Value> = checklist["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|item| item["kind"] == "manual")
                .map(|item| &item["state"])
                .collect();
            json!([checklist["id"], checklist["template"], ticked])
        })
        .collect();
    seen.push(Value::Array(made));
    let channels = agency.api.client().channels("ACME").await.unwrap();
    // Only the stored settings: live counters move on their own.
    let settings: Vec<Value> = channels
        .iter()
        .map(|status| {
            let channel = &status.channel;
            json!([
                channel.id,
                channel.platform,
                channel.account,
                channel.policy
            ])
        })
        .collect();
    seen.push(Value::Array(settings));
    seen
}

#[tokio::test]
async fn every_client_route_hides_other_clients_refuses_viewers_writes_and_revoked_tokens() {
    let agency = agency().await;
    let api = &agency.api;
    create_client(&api.client(), "ZETA", "Zeta").await;
    let other_manager = api.member(Role::Manager, &["ZETA"]).await;
    let acme_viewer = api.member(Role::Viewer, &["ACME"]).await;
    let before = snapshot(&agency).await;

    let mut client_routes = 0;
    for route in routes().iter().filter(|route| route.auth == Auth::Bearer) {
        if route.path.contains("{code}") {
            client_routes += 1;
            let (status, reply) = call_route(api, route, &other_manager).await;
            assert_eq!(
                (status, reply["code"].as_str()),
                (404, Some("not_found")),
                "ZETA's manager on {} {}: {reply}",
                route.method,
                route.path
            );
            let (status, reply) = call_route(api, route, &acme_viewer).await;
            if route.writes {
                assert_eq!(
                    (status, reply["code"].as_str()),
                    (403, Some("forbidden")),
                    "ACME's viewer on {} {}: {reply}",
                    route.method,
                    route.path
                );
            } else {
                assert_eq!(status, 200, "ACME's viewer reads {}: {reply}", route.path);
            }
        }
    }
    assert!(client_routes >= 10, "the table lists the client routes");
    assert_eq!(
        snapshot(&agency).await,
        before,
        "no refused call changed anything"
    );

    // Revoked: 401 on every bearer route, at once.
    let members = api.client().members().await.unwrap();
    let viewer_id = &members
        .iter()
        .find(|member| member.role == Role::Viewer)
        .unwrap()
        .id;
    let (status, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/members/{viewer_id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert!(status == 200 || status == 204, "{status}");
    for route in routes().iter().filter(|route| route.auth == Auth::Bearer) {
        let (status, reply) = call_route(api, route, &acme_viewer).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (401, Some("unauthorized")),
            "revoked token on {} {}: {reply}",
            route.method,
            route.path
        );
    }
}

#[tokio::test]
async fn bad_input_on_every_write_route_gets_a_stable_code_and_changes_nothing() {
    let agency = agency().await;
    let api = &agency.api;
    let before = snapshot(&agency).await;
    let oversize = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    let cases: Vec<(Method, &str, String, u16, &str)> = vec![
        // Malformed JSON and oversize bodies on every write route that takes a body.
        (Method::POST, "/v1/members", "{\"name\":".into(), 400, "malformed_json"),
        (Method::POST, "/v1/clients", "{\"code\":".into(), 400, "malformed_json"),
        (Method::PUT, "/v1/clients/ACME/credentials/etsy", "[".into(), 400, "malformed_json"),
        (Method::POST, "/v1/clients/ACME/channels", "{".into(), 400, "malformed_json"),
        (Method::PUT, "/v1/clients/ACME/catalog", "{\"items\": [".into(), 400, "malformed_json"),
        (Method::POST, "/v1/clients/ACME/stock/ACME-MUG/movements", "nope".into(), 400, "malformed_json"),
        (Method::POST, "/v1/members", oversize.clone(), 413, "body_too_large"),
        (Method::POST, "/v1/clients", oversize.clone(), 413, "body_too_large"),
        (Method::PUT, "/v1/clients/ACME/credentials/etsy", oversize.clone(), 413, "body_too_large"),
        (Method::POST, "/v1/clients/ACME/channels", oversize.clone(), 413, "body_too_large"),
        (Method::PUT, "/v1/clients/ACME/catalog", oversize.clone(), 413, "body_too_large"),
        (Method::POST, "/v1/clients/ACME/stock/ACME-MUG/movements", oversize.clone(), 413, "body_too_large"),
        // Unknown fields.
        (Method::POST, "/v1/members", json!({"name": "x", "role": "viewer", "clients": ["ACME"], "admin": true}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients", json!({"code": "NEW", "name": "n", "plan": "x"}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/credentials/etsy", json!({"secret": "s", "note": 1}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/channels", json!({"id": "w", "platform": "walmart", "base_url": "http://127.0.0.1:9", "credential": "etsy", "colour": 1}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/catalog", json!({"items": [], "mode": "replace"}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/stock/ACME-MUG/movements", json!({"kind": "receipt", "quantity": 1, "idempotency_key": "k", "by": "me"}).to_string(), 400, "invalid_field"),
        // Bad SKU, negative quantity, unknown channel.
        (Method::POST, "/v1/clients/ACME/stock/%20%20/movements", json!({"kind": "receipt", "quantity": 1, "idempotency_key": "k2"}).to_string(), 400, "invalid_sku"),
        (Method::POST, "/v1/clients/ACME/stock/ACME-MUG/movements", json!({"kind": "receipt", "quantity": -4, "idempotency_key": "k3"}).to_string(), 400, "invalid_quantity"),
        (Method::POST, "/v1/clients/ACME/stock/ACME-MUG/movements", json!({"kind": "ship", "quantity": 0, "idempotency_key": "k4"}).to_string(), 400, "invalid_quantity"),
        (Method::POST, "/v1/clients/ACME/stock/ACME-MUG/movements", json!({"kind": "sale", "quantity": 1, "idempotency_key": "k5"}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/stock/ACME-MUG/movements", json!({"kind": "ship", "quantity": 500, "idempotency_key": "k6"}).to_string(), 409, "movement_rejected"),
        (Method::POST, "/v1/clients/ACME/channels", json!({"id": "shop", "platform": "shopify", "base_url": "http://127.0.0.1:9", "credential": "shopify", "account": {"location_id": "x"}}).to_string(), 409, "conflict"),
        (Method::POST, "/v1/clients/ACME/channels", json!({"id": "w2", "platform": "myspace", "base_url": "http://127.0.0.1:9", "credential": "etsy"}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/channels", json!({"id": "w3", "platform": "walmart", "base_url": "http://127.0.0.1:9", "credential": "no-such-credential", "account": {"partner_id": "1", "ship_node": "2"}}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/channels", json!({"id": "w4", "platform": "walmart", "base_url": "ftp://x", "credential": "etsy", "account": {"partner_id": "1", "ship_node": "2"}}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/channels", json!({"id": "w5", "platform": "amazon", "base_url": "http://127.0.0.1:9", "credential": "etsy", "account": {"seller_id": "2"}}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/channels", json!({"id": "w6", "platform": "walmart", "base_url": "http://127.0.0.1:9", "credential": "etsy", "account": {"partner_id": "1", "ship_node": "2", "client_secret": "plain"}}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/channels", json!({"id": "w7", "platform": "walmart", "base_url": "http://127.0.0.1:9", "credential": "etsy", "account": {"partner_id": "1", "ship_node": "2"}, "policy": {"percent": 150}}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/channels", json!({"id": "Bad Id", "platform": "walmart", "base_url": "http://127.0.0.1:9", "credential": "etsy"}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/credentials/BAD%20NAME", json!({"secret": "s"}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/catalog", "sku,on_hand,nowhere\nACME-MUG,1,x\n".into(), 400, "unknown_channel"),
        // Reorder settings: malformed, oversize, unknown field, bad SKU, values out of bounds.
        (Method::PUT, "/v1/clients/ACME/stock/ACME-MUG/reorder", "{\"lead".into(), 400, "malformed_json"),
        (Method::PUT, "/v1/clients/ACME/stock/ACME-MUG/reorder", oversize.clone(), 413, "body_too_large"),
        (Method::PUT, "/v1/clients/ACME/stock/ACME-MUG/reorder", json!({"lead_time_days": 5, "moq": 10}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/stock/%20%20/reorder", json!({"lead_time_days": 5}).to_string(), 400, "invalid_sku"),
        (Method::DELETE, "/v1/clients/ACME/stock/%20%20/reorder", String::new(), 400, "invalid_sku"),
        (Method::PUT, "/v1/clients/ACME/stock/ACME-MUG/reorder", json!({"lead_time_days": 0}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/stock/ACME-MUG/reorder", json!({"reorder_point": 5, "safety_days": 2}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/stock/ACME-MUG/reorder", json!({}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/stock/ACME-NOPE/reorder", json!({"lead_time_days": 5}).to_string(), 404, "unknown_sku"),
        (Method::GET, "/v1/clients/ACME/reorders?limit=0", String::new(), 400, "invalid_field"),
        (Method::GET, "/v1/clients/ACME/reorders?cursor=%20", String::new(), 400, "invalid_sku"),
        // The operations layer: exceptions, escalation, profile, audit.
        (Method::POST, "/v1/clients/ACME/exceptions/1", "{".into(), 400, "malformed_json"),
        (Method::POST, "/v1/clients/ACME/exceptions/1", oversize.clone(), 413, "body_too_large"),
        (Method::POST, "/v1/clients/ACME/exceptions/1", json!({"action": "acknowledge", "by": 1}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/exceptions/1", json!({"action": "close"}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/exceptions/1", json!({"action": "resolve"}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/exceptions/1", json!({"action": "resolve", "resolution": "vanished"}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/exceptions/1", json!({"action": "assign", "assignee": "m999"}).to_string(), 400, "unknown_member"),
        (Method::POST, "/v1/clients/ACME/exceptions/99999", json!({"action": "acknowledge"}).to_string(), 404, "not_found"),
        (Method::POST, "/v1/clients/ACME/exceptions/-1", json!({"action": "acknowledge"}).to_string(), 404, "not_found"),
        (Method::GET, "/v1/clients/ACME/exceptions?state=closed", String::new(), 400, "invalid_field"),
        (Method::GET, "/v1/clients/ACME/exceptions?kind=fire", String::new(), 400, "invalid_field"),
        (Method::GET, "/v1/exceptions?cursor=nope", String::new(), 400, "invalid_field"),
        (Method::GET, "/v1/exceptions?client=bad%20code", String::new(), 400, "invalid_field"),
        (Method::GET, "/v1/exceptions?limit=5000", String::new(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/escalation", "[".into(), 400, "malformed_json"),
        (Method::PUT, "/v1/clients/ACME/escalation", oversize.clone(), 413, "body_too_large"),
        (Method::PUT, "/v1/clients/ACME/escalation", json!({"endpoint": "not a url", "escalate": []}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/escalation", json!({"endpoint": "ftp://127.0.0.1/x", "escalate": []}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/escalation", json!({"endpoint": "http://u:p@127.0.0.1/x", "escalate": []}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/escalation", json!({"endpoint": "http://127.0.0.1/x", "escalate": ["fire"]}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/escalation", json!({"endpoint": "http://127.0.0.1/x", "escalate": [], "format": "xml"}).to_string(), 400, "invalid_field"),
        (Method::DELETE, "/v1/clients/ACME/escalation", String::new(), 404, "not_found"),
        (Method::GET, "/v1/clients/ACME/escalation/deliveries?cursor=x", String::new(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/profile", "{".into(), 400, "malformed_json"),
        (Method::PUT, "/v1/clients/ACME/profile", oversize.clone(), 413, "body_too_large"),
        (Method::PUT, "/v1/clients/ACME/profile", json!({"legal_name": "A", "vat": 1}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/profile", json!({"billing_email": "nobody"}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/profile", json!({"account_manager": "m999"}).to_string(), 400, "unknown_member"),
        (Method::PUT, "/v1/clients/ACME/profile", json!({"access": [{"platform": "etsy", "level": "admin", "granted_by": "Ana", "granted_on": "2026-11-02", "two_factor_location": "codes 123456 789012"}]}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/profile", json!({"access": [{"platform": "etsy", "level": "admin", "granted_by": "Ana", "granted_on": "2026-11-02", "credential": "nope"}]}).to_string(), 400, "invalid_field"),
        (Method::PUT, "/v1/clients/ACME/profile", json!({"response_target_hours": 0}).to_string(), 400, "invalid_field"),
        (Method::GET, "/v1/clients/ACME/audit?cursor=x", String::new(), 400, "invalid_field"),
        // The monthly report: not a month, before 2000, not begun.
        (Method::GET, "/v1/clients/ACME/reports/2026-13", String::new(), 400, "invalid_field"),
        (Method::GET, "/v1/clients/ACME/reports/1999-12/pdf", String::new(), 400, "invalid_field"),
        (Method::GET, "/v1/clients/ACME/reports/9999-01", String::new(), 400, "invalid_field"),
        (Method::GET, "/v1/clients/ACME/reports/2026-1%0A/pdf", String::new(), 400, "invalid_field"),
        (Method::GET, "/v1/audit?limit=0", String::new(), 400, "invalid_field"),
        // Checklists and the sync test.
        (Method::POST, "/v1/clients/ACME/checklists", "{".into(), 400, "malformed_json"),
        (Method::POST, "/v1/clients/ACME/checklists", oversize.clone(), 413, "body_too_large"),
        (Method::POST, "/v1/clients/ACME/checklists", json!({"template": "wedding"}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/checklists", json!({"template": "launch"}).to_string(), 409, "conflict"),
        (Method::POST, "/v1/clients/ACME/checklists", json!({"template": "holiday_preparation", "due": 1}).to_string(), 400, "invalid_field"),
        (Method::GET, "/v1/clients/ACME/checklists/12345", String::new(), 404, "not_found"),
        (Method::POST, "/v1/clients/ACME/checklists/launch/items/client_signed_off", "[".into(), 400, "malformed_json"),
        (Method::POST, "/v1/clients/ACME/checklists/launch/items/client_signed_off", oversize.clone(), 413, "body_too_large"),
        (Method::POST, "/v1/clients/ACME/checklists/launch/items/client_signed_off", json!({"done": "yes"}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/checklists/launch/items/client_signed_off", json!({"done": true, "note": "x".repeat(1001)}).to_string(), 400, "invalid_field"),
        (Method::POST, "/v1/clients/ACME/checklists/launch/items/no_such_item", json!({"done": true}).to_string(), 404, "not_found"),
        (Method::POST, "/v1/clients/ACME/checklists/launch/items/catalog", json!({"done": true}).to_string(), 409, "conflict"),
        (Method::POST, "/v1/clients/ACME/checklists/777/items/client_signed_off", json!({"done": true}).to_string(), 404, "not_found"),
        (Method::POST, "/v1/clients/ACME/sync-test", "{".into(), 400, "malformed_json"),
        (Method::POST, "/v1/clients/ACME/sync-test", oversize.clone(), 413, "body_too_large"),
        (Method::POST, "/v1/clients/ACME/sync-test", json!({"sku": "  "}).to_string(), 400, "invalid_sku"),
        (Method::POST, "/v1/clients/ACME/sync-test", json!({"sku": "ACME-NOPE"}).to_string(), 409, "conflict"),
        (Method::POST, "/v1/clients/ACME/sync-test", json!({"sku": "ACME-MUG", "dry": true}).to_string(), 400, "invalid_field"),
    ];
    for (method, path, body, status, code) in cases {
        let content_type = if body.starts_with("sku,") {
            "text/csv"
        } else {
            "application/json"
        };
        let (got, reply) = api
            .send_raw(
                method.clone(),
                path,
                Some(ADMIN),
                content_type,
                body.into_bytes(),
                &[],
            )
            .await;
        assert_eq!(
            (got, reply["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {reply}"
        );
        assert_eq!(
            reply
                .get("detail")
                .and_then(Value::as_str)
                .map(str::is_empty),
            Some(false),
            "{method} {path}: the detail says what is wrong"
        );
    }
    assert_eq!(
        snapshot(&agency).await,
        before,
        "no refused call changed anything"
    );

    // A catalog with bad rows imports the good ones and reports each bad one.
    let admin = api.client();
    let catalog = [
        item("ACME-NEW", 3, &[]),
        item("  ", 1, &[]),
        item("ACME-NEG", -1, &[]),
        item("ACME-ELSEWHERE", 1, &[("walmart", "1")]),
        item("ACME-NEW", 9, &[]),
    ];
    let reply = import(&admin, "ACME", &catalog).await;
    let rejected: Vec<(usize, Code)> = reply
        .rejected
        .iter()
        .map(|row| (row.line, row.code))
        .collect();
    assert_eq!(reply.imported, 1);
    assert_eq!(
        rejected,
        [
            (2, Code::InvalidSku),
            (3, Code::InvalidQuantity),
            (4, Code::UnknownChannel),
            (5, Code::DuplicateSku)
        ]
    );
    let stock = admin.sku_stock("ACME", "ACME-NEW").await.unwrap();
    assert_eq!(stock.on_hand, 3, "{stock:?}");
    for sku in ["ACME-NEG", "ACME-ELSEWHERE"] {
        let missing = admin.sku_stock("ACME", sku).await.unwrap_err();
        assert_eq!(missing.status(), Some(404), "{sku} was not imported");
    }
}

#[tokio::test]
async fn a_movement_is_applied_once_per_idempotency_key_with_its_reason() {
    let agency = agency().await;
    let api = &agency.api;
    let body = json!({"kind": "receipt", "quantity": 5, "reason": "PO 1142 arrived", "idempotency_key": "po-1142"}).to_string();
    let (status, first, _) = api
        .call(
            Method::POST,
            "/v1/clients/ACME/stock/ACME-MUG/movements",
            Some(&agency.manager),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["stock"]["on_hand"], 15, "{first}");
    let (status, again, _) = api
        .call(
            Method::POST,
            "/v1/clients/ACME/stock/ACME-MUG/movements",
            Some(&agency.manager),
            Some(body),
        )
        .await;
    assert_eq!(
        (status, &again["duplicate"]),
        (200, &json!(true)),
        "{again}"
    );
    assert_eq!(again["seq"], first["seq"]);
    assert_eq!(again["stock"]["on_hand"], 15, "applied once");
    let manager = agency.manager();
    let reused = NewMovement::new(MovementKind::Receipt, 6, "po-1142");
    let refused = manager.post_movement("ACME", "ACME-MUG", &reused).await;
    assert_refused(
        refused,
        409,
        Code::Conflict,
        "a key used for another movement",
    );
    let journal = journal_of(&manager, "ACME", "ACME-MUG").await;
    let last = journal.last().unwrap();
    assert_eq!(
        (
            last.entry.change.kind(),
            last.entry.source.to_string(),
            last.reason.as_deref()
        ),
        (
            MovementKind::Receipt,
            "api".to_string(),
            Some("PO 1142 arrived")
        ),
        "{journal:?}"
    );
    for (query, code) in [
        ("limit=0", "invalid_field"),
        ("limit=5000", "invalid_field"),
        ("after_seq=x", "invalid_field"),
        ("sku=%20", "invalid_sku"),
    ] {
        let (status, reply, _) = api
            .call(
                Method::GET,
                &format!("/v1/clients/ACME/ledger?{query}"),
                Some(&agency.manager),
                None,
            )
            .await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some(code)),
            "{query}: {reply}"
        );
    }
}
