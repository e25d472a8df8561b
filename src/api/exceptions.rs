//! `GET /v1/clients/{code}/exceptions?after_id=&limit=`: the client's order exceptions, oldest
//! first, a page at a time: oversells, and orders a marketplace told of that cannot be applied
//! (a webhook's or a polled feed's; see `shelfsync_actors::inventory::exceptions`). Scoped like
//! every client route (another team's client is a 404); viewers may read.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::inventory::exceptions::{ExceptionKind, OrderException, UnapplicableReason};
use shelfsync_actors::inventory::ledger::Source;
use shelfsync_actors::inventory::messages::GetExceptionsPage;
use shelfsync_actors::inventory::messages::MAX_EXCEPTION_PAGE;

use utoipa::{IntoParams, ToSchema};

use super::clients::{visible_client, ClientPath};
use super::error::{ApiError, Code};
use super::openapi::responses::{BadRequest, NotFound, Unauthorized, Unavailable};
use super::{ApiState, Caller};
use crate::auth::Action;

/// The query of `GET …/exceptions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExceptionsQuery {
    /// Exceptions after this id (the last page's `next_after_id`).
    #[serde(default)]
    pub after_id: u64,
    /// At most this many (1 to 1000, 100 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One exception as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExceptionView {
    pub id: u64,
    /// `oversold` or `unapplicable_order`.
    #[schema(value_type = String)]
    pub kind: ExceptionKind,
    /// `channel:<id>` (or `api`, `import`).
    #[schema(value_type = String)]
    pub source: Source,
    pub order_id: Option<String>,
    pub line: Option<u32>,
    #[schema(value_type = Option<String>)]
    pub sku: Option<Sku>,
    pub units: i64,
    /// Why an order could not be applied.
    #[schema(value_type = Option<String>)]
    pub reason: Option<UnapplicableReason>,
    pub detail: Option<String>,
    /// The journal entry of an oversell; `null` when nothing was applied.
    pub journal_seq: Option<u64>,
    /// The key that makes it one exception (the ledger key of the order line, or of the delivery).
    pub key: String,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    pub count: u64,
}

/// A page of exceptions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExceptionsPage {
    pub exceptions: Vec<ExceptionView>,
    /// The last exception's id (the query's `after_id` when the page is empty).
    pub next_after_id: u64,
}

impl From<OrderException> for ExceptionView {
    fn from(exception: OrderException) -> Self {
        Self {
            id: exception.id,
            kind: exception.kind,
            source: exception.source,
            order_id: exception.order_id,
            line: exception.line,
            sku: exception.sku,
            units: exception.units,
            reason: exception.reason,
            detail: exception.detail,
            journal_seq: exception.seq,
            key: exception.key.as_str().to_string(),
            first_seen_ms: exception.at_ms,
            last_seen_ms: exception.last_seen_ms,
            count: exception.count,
        }
    }
}

/// `GET /v1/clients/{code}/exceptions?after_id=&limit=` (limit 1 to 1000, 100 by default):
/// `{exceptions, next_after_id}`; ask again from `next_after_id` until the page is short.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/exceptions",
    operation_id = "list_exceptions",
    tag = "stock",
    security(("bearer" = [])),
    params(ClientPath, ExceptionsQuery),
    responses(
        (status = 200, description = "Order exceptions, oldest first", body = ExceptionsPage),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    query: Result<web::Query<ExceptionsQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let query = query
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::invalid(format!("the query: {error}")))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_EXCEPTION_PAGE).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("limit must be 1 to {MAX_EXCEPTION_PAGE}"),
        ));
    }
    let page = state
        .service
        .ask_ledger(
            &code,
            GetExceptionsPage {
                after_id: query.after_id,
                limit,
            },
        )
        .await?
        .map_err(ApiError::internal)?;
    let next_after_id = page.last().map_or(query.after_id, |exception| exception.id);
    let exceptions: Vec<ExceptionView> = page.into_iter().map(ExceptionView::from).collect();
    Ok(HttpResponse::Ok().json(ExceptionsPage {
        exceptions,
        next_after_id,
    }))
}
