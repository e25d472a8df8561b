//! The agency HTTP API (issue 5, DESIGN §6), served by actix-web: JSON under `/v1`, errors as
//! `application/problem+json` with a stable code ([`error`]), bearer tokens checked against the
//! member store (`crate::auth`). Handlers are thin: they authenticate, parse, call the stores or
//! the engine, and answer.
//!
//! The routes are the operations of the generated OpenAPI document ([`openapi`]): members,
//! clients and their credentials, channels, catalog, stock and movements, ledger, orders,
//! exceptions, reorder settings and the reorder list, Shopify webhooks, `/healthz`, `/readyz`, `/metrics` and `/openapi.json`.

pub mod audit;
pub mod catalog;
pub mod channels;
pub mod checklists;
pub mod client;
pub mod clients;
pub mod error;
pub mod escalation;
pub mod exceptions;
pub mod head_guard;
pub mod journal;
pub mod listings;
pub mod members;
pub mod openapi;
pub mod paging;
pub mod profile;
pub mod reorders;
pub mod reports;
pub mod request_metrics;
pub mod server;
pub mod stock;
pub mod webhooks;

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use self::error::{ApiError, Code};
use crate::auth::store::MemberStore;
use crate::auth::{Action, Member, TokenHash};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The members and their token hashes.
    pub members: MemberStore,
    /// The clients and their sealed credentials.
    pub clients: crate::clients::ClientStore,
    /// Seals and opens credentials.
    pub vault: Arc<crate::vault::Vault>,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// Time and connection bounds of the HTTP edge (the server's, and the body deadline of
    /// [`read_body`]).
    pub edge: server::EdgeLimits,
    /// The running engine: clients, channels, ledgers.
    pub service: Arc<crate::service::Service>,
}

/// Adds every API route to an actix-web app whose data holds a `web::Data<ApiState>`: each
/// operation of the OpenAPI document ([`openapi::document`]) at its path and method, served by
/// the handler of its operation id. A method a path does not take is a 405 with `Allow`; a path
/// the document does not have is a 404.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for (path, item) in &openapi::document().paths.paths {
        let operations = openapi::operations(item);
        let allow: Vec<String> = operations
            .iter()
            .map(|(method, _)| method.to_string())
            .collect();
        let mut resource = web::resource(path.as_str());
        for (method, operation) in operations {
            let id = operation.operation_id.as_deref().unwrap_or_default();
            let Some(route) = handler(id) else {
                panic!("the OpenAPI operation {id} ({method} {path}) has no handler");
            };
            resource = resource.route(route.method(method));
        }
        let allow = allow.join(", ");
        cfg.service(resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<HttpResponse, ApiError>(ApiError::method_not_allowed(allow)) }
        })));
    }
    cfg.default_service(web::to(|| async {
        Err::<HttpResponse, ApiError>(ApiError::not_found("no such route"))
    }));
}

/// The handler of an operation of the document, by its `operation_id`.
fn handler(operation_id: &str) -> Option<actix_web::Route> {
    Some(match operation_id {
        "healthz" => web::to(healthz),
        "readyz" => web::to(readyz),
        "metrics" => web::to(metrics),
        "openapi" => web::to(openapi::serve),
        "receive_webhook" => web::to(webhooks::receive),
        "answer_webhook_challenge" => web::to(webhooks::challenge),
        "create_member" => web::to(members::create),
        "list_members" => web::to(members::list),
        "delete_member" => web::to(members::delete),
        "create_client" => web::to(clients::create),
        "list_clients" => web::to(clients::list),
        "get_client" => web::to(clients::get),
        "put_credential" => web::to(clients::put_credential),
        "list_credentials" => web::to(clients::credentials),
        "create_channel" => web::to(channels::create),
        "list_channels" => web::to(channels::list),
        "import_catalog" => web::to(catalog::import_catalog),
        "list_stock" => web::to(stock::list_stock),
        "get_stock" => web::to(stock::get_stock),
        "post_movement" => web::to(stock::post_movement),
        "ledger" => web::to(journal::ledger),
        "orders" => web::to(journal::orders),
        "list_exceptions" => web::to(exceptions::list),
        // The operations layer (issue 15).
        "list_all_exceptions" => web::to(exceptions::list_all),
        "transition_exception" => web::to(exceptions::transition),
        "put_escalation" => web::to(escalation::put),
        "get_escalation" => web::to(escalation::get),
        "delete_escalation" => web::to(escalation::delete),
        "list_escalation_deliveries" => web::to(escalation::deliveries),
        "get_profile" => web::to(profile::get),
        "put_profile" => web::to(profile::put),
        "client_audit" => web::to(audit::client_log),
        "agency_audit" => web::to(audit::agency_log),
        "put_reorder_settings" => web::to(reorders::put_settings),
        "delete_reorder_settings" => web::to(reorders::delete_settings),
        "list_reorders" => web::to(reorders::list),
        // Issue 15: the listing history and the explain query.
        "listing_history" => web::to(listings::history),
        "explain_listing" => web::to(listings::explain),
        // Issue 15: checklists and the end-to-end sync test.
        "list_checklists" => web::to(checklists::list),
        "create_checklist" => web::to(checklists::create),
        "get_checklist" => web::to(checklists::get),
        "tick_checklist_item" => web::to(checklists::tick),
        "start_sync_test" => web::to(checklists::start_sync_test),
        "get_sync_test" => web::to(checklists::get_sync_test),
        // Issue 16: the monthly client report.
        "get_monthly_report" => web::to(reports::get),
        "get_monthly_report_pdf" => web::to(reports::get_pdf),
        _ => return None,
    })
}

/// The body of `/healthz` and `/readyz`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (the process answers) or `ready` (the stores and the engine answer).
    pub status: &'static str,
}

/// `GET /metrics`: the Prometheus text of every metric of the table.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "service",
    security(()),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::telemetry::render())
}

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "service",
    security(()),
    responses((status = 200, description = "The process answers", body = Health))
)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// `GET /readyz`: the stores answer and the engine runs every stored client.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "service",
    security(()),
    responses(
        (status = 200, description = "The stores and the engine answer", body = Health),
        openapi::responses::Unavailable,
    )
)]
async fn readyz(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    state
        .members
        .list()
        .map_err(|_| ApiError::new(Code::Unavailable, "the member store does not answer"))?;
    if !state.service.is_ready() {
        return Err(ApiError::new(
            Code::Unavailable,
            "the engine is not running every client",
        ));
    }
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}

/// The member a request's bearer token belongs to. A missing, malformed, unknown or revoked
/// token is a 401 before anything else is looked at.
#[derive(Debug, Clone)]
pub struct Caller(pub Member);

impl Caller {
    /// Refuses `action` on `client` (404 for a client outside the member's list, 403 for a role
    /// that may not).
    pub fn may(&self, action: Action, client: Option<&str>) -> Result<(), ApiError> {
        self.0
            .authorize(action, client)
            .map_err(|denied| match denied {
                crate::auth::Denied::UnknownClient { client } => {
                    ApiError::not_found(format!("no client {client}"))
                }
                crate::auth::Denied::Forbidden { role } => ApiError::new(
                    Code::Forbidden,
                    format!("a {role:?} token may not do this").to_lowercase(),
                ),
            })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(authenticate(request))
    }
}

fn authenticate(request: &HttpRequest) -> Result<Caller, ApiError> {
    let unauthorized = || {
        ApiError::new(
            Code::Unauthorized,
            "send `Authorization: Bearer <token>` with a valid token",
        )
    };
    let state = request
        .app_data::<web::Data<ApiState>>()
        .ok_or_else(|| ApiError::internal("no API state"))?;
    let header = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(unauthorized)?;
    let token = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(unauthorized)?;
    match state.members.by_token(&TokenHash::of(token)) {
        Ok(Some(member)) => Ok(Caller(member)),
        Ok(None) => Err(unauthorized()),
        Err(error) => Err(ApiError::internal(error)),
    }
}

/// Reads a JSON body of at most the configured size into `T` (whose fields deny unknown keys):
/// too large → 413, not JSON → `malformed_json`, wrong shape → `invalid_field`, each saying where.
pub async fn read_json<T: DeserializeOwned>(
    state: &ApiState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !content_type.is_empty() && !content_type.starts_with("application/json") {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!("expected application/json, got {content_type}"),
        ));
    }
    let body = read_body(state, payload).await?;
    parse_json(&body)
}

/// Reads a raw body of at most the configured size (too large → 413 `body_too_large`) within the
/// body deadline (too slow → 408 `body_timeout`, and the connection is closed).
///
/// actix-web bounds the head of a request (`client_request_timeout`) but not its body: a client
/// dripping a byte every half second held a connection, and a worker's share of the
/// connection limit, for as long as it liked (issue 12). One total deadline per body, not an
/// idle timeout per chunk, because a drip never goes idle.
pub async fn read_body(state: &ApiState, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let deadline = state.edge.body_timeout;
    match tokio::time::timeout(deadline, read_limited(state.max_body_bytes, payload)).await {
        Ok(body) => body,
        Err(_) => Err(ApiError::new(
            Code::BodyTimeout,
            format!("the body did not arrive within {} ms", deadline.as_millis()),
        )),
    }
}

/// Reads a body of at most `limit` bytes.
async fn read_limited(limit: usize, mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::new(
                Code::MalformedJson,
                format!("the body could not be read: {error}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                Code::BodyTooLarge,
                format!("the body is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON body, telling a syntax error from a shape error.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        let code = match error.classify() {
            serde_json::error::Category::Data => Code::InvalidField,
            serde_json::error::Category::Io
            | serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof => Code::MalformedJson,
        };
        ApiError::new(code, error.to_string())
    })
}

/// The API as an actix-web app factory's data, for `serve`, the demo and tests.
pub fn state_data(state: ApiState) -> web::Data<ApiState> {
    web::Data::from(Arc::new(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
    }

    #[test]
    fn syntax_and_shape_errors_have_their_own_codes() {
        assert_eq!(
            parse_json::<Body>(b"{\"name\":").unwrap_err().code,
            "malformed_json"
        );
        assert_eq!(
            parse_json::<Body>(b"{\"name\":1}").unwrap_err().code,
            "invalid_field"
        );
        let unknown = parse_json::<Body>(b"{\"name\":\"a\",\"x\":1}").unwrap_err();
        assert_eq!(unknown.code, "invalid_field");
        assert!(
            unknown.detail.contains("unknown field `x`"),
            "{}",
            unknown.detail
        );
        assert!(parse_json::<Body>(b"{\"name\":\"a\"}").is_ok());
    }
}
