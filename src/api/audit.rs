//! The audit log (issue 15; `crate::operations::audit`): `GET /v1/clients/{code}/audit` (a
//! client's writes; anyone who sees the client may read it) and `GET /v1/audit` (the agency's:
//! members; admins only), oldest first, paged by `cursor` (the last entry's `seq`).
//!
//! Every write handler calls [`record`] once its write is durable. The entry is written after
//! the write it describes, not in the same transaction (they live in different trees, some in a
//! client's ledger): a failure to write it is logged at `error` with the action and member, and
//! the write's answer stands. The caller's change happened; answering 500 would make it retry a
//! write that succeeded.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use shelfsync_actors::ids::ClientCode;

use super::clients::{visible_client, ClientPath};
use super::error::ApiError;
use super::openapi::responses::{BadRequest, Forbidden, NotFound, Unauthorized};
use super::paging::{NumberPageQuery, Page};
use super::{ApiState, Caller};
use crate::auth::Action;
use crate::operations::audit::AuditEntry;

/// Records a write of `caller` (see the module doc for what happens when this fails).
pub fn record(
    state: &ApiState,
    caller: &Caller,
    client: Option<&ClientCode>,
    action: &str,
    target: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) {
    let entry = AuditEntry {
        seq: 0,
        at: state.service.now(),
        member: caller.0.id.clone(),
        member_name: caller.0.name.clone(),
        token: caller.0.token_hash.as_str().chars().take(8).collect(),
        client: client.map(|client| client.as_str().to_string()),
        action: action.to_string(),
        target,
        before,
        after,
    };
    if let Err(error) = state.service.operations().audit(entry) {
        tracing::error!(member = %caller.0.id, action, kind = error.kind(), %error, "a write was made but its audit entry could not be written");
    }
}

/// A view as an audit value (views never carry a secret).
pub fn value<T: Serialize>(view: &T) -> serde_json::Value {
    serde_json::to_value(view).unwrap_or(serde_json::Value::Null)
}

fn page(entries: Vec<AuditEntry>, limit: usize) -> Page<AuditEntry> {
    super::paging::PageRequest::<String> { after: None, limit }
        .page_from(entries, |entry| entry.seq.to_string())
}

/// `GET /v1/clients/{code}/audit?cursor=&limit=`: the client's writes, oldest first.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/audit",
    operation_id = "client_audit",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath, NumberPageQuery),
    responses(
        (status = 200, description = "The client's audit log, oldest first", body = Page<AuditEntry>),
        BadRequest, Unauthorized, NotFound,
    )
)]
pub async fn client_log(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    query: Result<web::Query<NumberPageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let request = NumberPageQuery::checked(query)?;
    let after = request.after.unwrap_or(0);
    let entries = state
        .service
        .operations()
        .audit_page(Some(&code), after, request.limit + 1)
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(page(entries, request.limit)))
}

/// `GET /v1/audit?cursor=&limit=`: the agency's writes that belong to no client (members),
/// oldest first; admins only.
#[utoipa::path(
    get,
    path = "/v1/audit",
    operation_id = "agency_audit",
    tag = "operations",
    security(("bearer" = [])),
    params(NumberPageQuery),
    responses(
        (status = 200, description = "The agency's audit log, oldest first", body = Page<AuditEntry>),
        BadRequest, Unauthorized, Forbidden,
    )
)]
pub async fn agency_log(
    caller: Caller,
    state: web::Data<ApiState>,
    query: Result<web::Query<NumberPageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    caller.may(Action::Administer, None)?;
    let request = NumberPageQuery::checked(query)?;
    let after = request.after.unwrap_or(0);
    let entries = state
        .service
        .operations()
        .audit_page(None, after, request.limit + 1)
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(page(entries, request.limit)))
}
