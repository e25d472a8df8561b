//! `GET /openapi.json`: an OpenAPI 3.1 description of every route, built from one table
//! ([`ROUTES`]) that the tests also walk (every route answers; every client route hides other
//! clients), so the description cannot drift from what is served.

use actix_web::HttpResponse;
use serde_json::{json, Map, Value};

/// How a route is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// None (health, metrics, this document).
    Public,
    /// A bearer token.
    Bearer,
    /// The marketplace's signature on the raw body.
    Signature,
}

/// One route of the API.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The path template, `{name}` for parameters.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// How it is authenticated.
    pub auth: Auth,
    /// Whether it changes data (viewers are refused).
    pub writes: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    auth: Auth,
    writes: bool,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        summary,
        auth,
        writes,
    }
}

/// Every route the API serves.
pub const ROUTES: &[RouteDoc] = &[
    route("GET", "/healthz", "The process answers", Auth::Public, false),
    route("GET", "/readyz", "The stores and the engine answer", Auth::Public, false),
    route("GET", "/metrics", "Prometheus metrics", Auth::Public, false),
    route("GET", "/openapi.json", "This document", Auth::Public, false),
    route("POST", "/v1/members", "Create a member {name, role, clients, may_create_clients?}; its token is shown once", Auth::Bearer, true),
    route("GET", "/v1/members", "List members (never a token)", Auth::Bearer, false),
    route("DELETE", "/v1/members/{id}", "Revoke a member; its token stops working at once", Auth::Bearer, true),
    route("POST", "/v1/clients", "Create a client {code, name, tier} (admins, managers granted may_create_clients)", Auth::Bearer, true),
    route("GET", "/v1/clients", "List the clients the token may see", Auth::Bearer, false),
    route("GET", "/v1/clients/{code}", "One client", Auth::Bearer, false),
    route("PUT", "/v1/clients/{code}/credentials/{name}", "Store a secret {secret, rotate_by?, hosts?}, sealed; hosts binds it to where it may be sent", Auth::Bearer, true),
    route("GET", "/v1/clients/{code}/credentials", "Credential metadata, never a secret", Auth::Bearer, false),
    route("POST", "/v1/clients/{code}/channels", "Connect a marketplace {id, platform, base_url, credential, account, webhook_secret?, policy?, rate_limit?, app?, push_order?, poll_interval_ms?}", Auth::Bearer, true),
    route("GET", "/v1/clients/{code}/channels", "Channels with state, pending, oldest pending, exposure, last error", Auth::Bearer, false),
    route("PUT", "/v1/clients/{code}/catalog", "Import a catalog: JSON {items:[{sku,on_hand,listings,listed?}]} or text/csv sku,on_hand,<channel>...; replies {imported, adopted, rejected, unmanaged}: unmanaged lists the listings rejected rows leave without a SKU", Auth::Bearer, true),
    route("GET", "/v1/clients/{code}/stock", "Stock of every SKU with each channel's target, listed, pending", Auth::Bearer, false),
    route("GET", "/v1/clients/{code}/stock/{sku}", "Stock of one SKU", Auth::Bearer, false),
    route("POST", "/v1/clients/{code}/stock/{sku}/movements", "A receipt, adjustment, count or ship {kind, quantity, reason?, idempotency_key, create?}; a SKU the client never had is 404 unknown_sku unless create is true", Auth::Bearer, true),
    route("GET", "/v1/clients/{code}/ledger", "Journal entries ?sku=&after_seq=&limit=", Auth::Bearer, false),
    route("GET", "/v1/clients/{code}/orders", "Marketplace order events in the journal ?sku=&after_seq=&limit=", Auth::Bearer, false),
    route("GET", "/v1/clients/{code}/exceptions", "Order exceptions (oversells; orders a marketplace told of that cannot be applied: reason, first and last seen, count) ?after_id=&limit=", Auth::Bearer, false),
    route("POST", "/webhooks/{code}/{channel}", "A marketplace delivery, verified by its signature; 2xx once durable (applied, or recorded as order exceptions), 503 only when nothing can be recorded, the same 401 for every unauthenticated delivery", Auth::Signature, true),
];

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for doc in ROUTES {
        let parameters: Vec<Value> = doc
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut responses = json!({
            "2XX": {"description": "Success", "content": {"application/json": {}}},
            "4XX": {"description": "Refused: application/problem+json with a stable `code`",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
        });
        if doc.path == "/metrics" {
            responses["2XX"] =
                json!({"description": "Prometheus text format", "content": {"text/plain": {}}});
        }
        let mut operation = json!({
            "summary": doc.summary,
            "parameters": parameters,
            "responses": responses,
        });
        match doc.auth {
            Auth::Bearer => operation["security"] = json!([{"bearer": []}]),
            Auth::Public | Auth::Signature => operation["security"] = json!([]),
        }
        let entry = paths
            .entry(doc.path.to_string())
            .or_insert_with(|| json!({}));
        entry[doc.method.to_lowercase()] = operation;
    }
    let codes: Vec<Value> = super::error::Code::ALL
        .iter()
        .map(|code| {
            json!({
                "code": code.name(),
                "status": code.status().as_u16(),
                "type": code.error_type().as_str(),
                "title": code.title(),
            })
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "shelfsync",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Keeps every marketplace listing of an agency's clients in step with one stock ledger per client.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": {
                "type": "object",
                "required": ["code", "status", "title", "detail"],
                "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}, "code": {"type": "string"},
                    "error_type": {"type": "string"}
                }
            }},
            "x-error-codes": codes,
        },
    })
}

/// `GET /openapi.json`.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_route_is_in_the_table() {
        // One `.route(` per served route in `configure`, so a route added there without a row
        // here (or the reverse) fails this test.
        let source = include_str!("mod.rs");
        let configure = source
            .split("pub fn configure")
            .nth(1)
            .and_then(|rest| rest.split("\n}\n").next())
            .unwrap();
        assert_eq!(configure.matches(".route(").count(), ROUTES.len());
        for doc in ROUTES {
            let local = doc.path.strip_prefix("/v1").unwrap_or(doc.path);
            assert!(
                configure.contains(&format!("\"{local}\"")),
                "{} is not configured",
                doc.path
            );
        }
    }

    #[test]
    fn the_document_has_every_path_and_method() {
        let document = document();
        for doc in ROUTES {
            assert!(
                document["paths"][doc.path][doc.method.to_lowercase()].is_object(),
                "{} {}",
                doc.method,
                doc.path
            );
        }
    }
}
