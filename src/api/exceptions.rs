//! The exception queue (issue 15; `crate::operations::queue`):
//!
//! - `GET /v1/clients/{code}/exceptions?after_id=&limit=&state=&kind=`: one client's queue,
//!   oldest first: oversells and orders that could not be applied (from its ledger), SKUs to
//!   reorder, each with its work (state, assignee, due time, trail);
//! - `GET /v1/exceptions?state=&kind=&client=&overdue=&cursor=&limit=`: every client the token
//!   may see, by client then age (unresolved ones unless `state` says otherwise);
//! - `POST /v1/clients/{code}/exceptions/{id}`: acknowledge, assign, resolve (with a resolution
//!   and a note) or reopen; the member and time go into the exception's trail and the audit log.
//!
//! Scoped like every client route (another team's client is a 404); viewers may read.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::{ClientCode, Sku};
use shelfsync_actors::inventory::exceptions::UnapplicableReason;
use shelfsync_actors::inventory::messages::{GetExceptionsPage, MAX_EXCEPTION_PAGE};
use utoipa::{IntoParams, ToSchema};

use super::clients::{visible_client, ClientPath};
use super::error::{ApiError, Code};
use super::openapi::responses::{
    BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unavailable,
};
use super::openapi::schemas;
use super::paging::Page;
use super::{read_json, ApiState, Caller};
use crate::auth::Action;
use crate::operations::queue::{
    Actor, QueueEntry, QueueKind, Resolution, StateChange, Transition, WorkState,
};
use crate::operations::store::QueueFilter;
use crate::timestamp::rfc3339;

/// The query of `GET /v1/clients/{code}/exceptions`.
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
    /// `open`, `acknowledged`, `resolved`, `unresolved` (open or acknowledged) or `any` (the
    /// default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::exception_state_filter)]
    pub state: Option<String>,
    /// Only this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::exception_kind)]
    pub kind: Option<String>,
}

/// The query of `GET /v1/exceptions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AllExceptionsQuery {
    /// The `next` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::exceptions_cursor)]
    pub cursor: Option<String>,
    /// At most this many (1 to 1000, 100 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// `open`, `acknowledged`, `resolved`, `unresolved` (the default) or `any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::exception_state_filter)]
    pub state: Option<String>,
    /// Only this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::exception_kind)]
    pub kind: Option<String>,
    /// Only this client (one the token may see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::client_code)]
    pub client: Option<String>,
    /// Only exceptions past their due time (`true`), or not yet (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue: Option<bool>,
}

/// One change of an exception's work.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StateChangeView {
    pub at: String,
    pub member: String,
    pub member_name: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub assignee: Option<String>,
    pub resolution: Option<Resolution>,
    pub note: Option<String>,
}

/// One exception as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExceptionView {
    /// Its id in the client's queue.
    pub id: u64,
    /// The client.
    pub client: String,
    /// `oversold`, `unapplicable_order`, `reorder`, `listing_missing`, `listing_suspended`,
    /// `push_refused`, `repeated_drift`, `channel_failing` or `account_flagged`.
    pub kind: String,
    /// `channel:<id>`, `api`, `import`; `null` for one the service raised.
    pub source: Option<String>,
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
    /// The ledger key that makes a ledger exception one; `null` for one the service raised.
    pub key: Option<String>,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// How many times it was seen.
    pub count: u64,
    /// `open`, `acknowledged` or `resolved`.
    pub state: String,
    /// The member who has it.
    pub assignee: Option<String>,
    /// When the agency's response is due (RFC 3339; the client's response target after first
    /// seen).
    pub due_at: String,
    /// Unresolved past its due time.
    pub overdue: bool,
    pub resolution: Option<Resolution>,
    /// When it was resolved.
    pub resolved_at: Option<String>,
    /// Whether the client was sent it, and a reminder.
    pub escalated: bool,
    pub reminded: bool,
    /// Every change a person made, oldest first.
    pub trail: Vec<StateChangeView>,
}

impl ExceptionView {
    /// The view of `entry` of `client` at `now`.
    pub fn of(client: &ClientCode, entry: QueueEntry, now: chrono::DateTime<chrono::Utc>) -> Self {
        let millis = |time: chrono::DateTime<chrono::Utc>| time.timestamp_millis().max(0) as u64;
        Self {
            id: entry.id,
            client: client.as_str().to_string(),
            kind: entry.kind.as_str().to_string(),
            overdue: entry.overdue(now),
            resolved_at: entry.resolved_at().map(rfc3339),
            source: entry.source,
            order_id: entry.order_id,
            line: entry.line,
            sku: entry.sku,
            units: entry.units,
            reason: entry.reason,
            detail: entry.detail,
            journal_seq: entry.journal_seq,
            key: entry.key,
            first_seen_ms: millis(entry.first_seen),
            last_seen_ms: millis(entry.last_seen),
            count: entry.count,
            state: entry.state.as_str().to_string(),
            assignee: entry.assignee,
            due_at: rfc3339(entry.due_at),
            resolution: entry.resolution,
            escalated: entry.escalated,
            reminded: entry.reminded,
            trail: entry.trail.into_iter().map(StateChangeView::from).collect(),
        }
    }
}

impl From<StateChange> for StateChangeView {
    fn from(change: StateChange) -> Self {
        Self {
            at: rfc3339(change.at),
            member: change.member,
            member_name: change.member_name,
            action: change.action,
            from: change.from.as_str().to_string(),
            to: change.to.as_str().to_string(),
            assignee: change.assignee,
            resolution: change.resolution,
            note: change.note,
        }
    }
}

/// A page of one client's exceptions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExceptionsPage {
    pub exceptions: Vec<ExceptionView>,
    /// The last exception's id (the query's `after_id` when the page is empty).
    pub next_after_id: u64,
}

/// What a person does to an exception (`POST …/exceptions/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionAction {
    /// `acknowledge`, `assign` (with `assignee`), `resolve` (with `resolution`) or `reopen`.
    #[schema(schema_with = schemas::exception_action)]
    pub action: String,
    /// The member to assign it to (`assign`): an active manager or admin who sees the client.
    #[serde(default)]
    pub assignee: Option<String>,
    /// How it was resolved (`resolve`).
    #[serde(default)]
    pub resolution: Option<Resolution>,
    /// What to keep with the change (at most 1000 bytes).
    #[serde(default)]
    pub note: Option<String>,
}

/// The path of one exception.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExceptionPath {
    /// The client's code.
    pub code: String,
    /// The exception's id.
    pub id: String,
}

/// Parses a `state` filter: `unresolved` is its own flag.
fn state_filter(state: Option<&str>, default_unresolved: bool) -> Result<QueueFilter, ApiError> {
    let mut filter = QueueFilter::default();
    match state {
        None => filter.unresolved = default_unresolved,
        Some("unresolved") => filter.unresolved = true,
        Some("any") => {}
        Some(text) => {
            filter.state = Some(WorkState::parse(text).ok_or_else(|| {
                ApiError::invalid(
                    "state must be open, acknowledged, resolved, unresolved or any".to_string(),
                )
            })?);
        }
    }
    Ok(filter)
}

fn kind_filter(kind: Option<&str>) -> Result<Option<QueueKind>, ApiError> {
    kind.map(|text| {
        QueueKind::parse(text)
            .ok_or_else(|| ApiError::invalid(format!("kind must be one of {}", kinds_text())))
    })
    .transpose()
}

/// Every kind's name, for a refusal's detail.
pub(super) fn kinds_text() -> String {
    QueueKind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn limit_of(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_EXCEPTION_PAGE).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("limit must be 1 to {MAX_EXCEPTION_PAGE}"),
        ));
    }
    Ok(limit)
}

/// Brings a page's ledger exceptions up to what the ledger has seen since their import (a
/// platform's retry moves the ledger's count, not the queue's): one ledger read over the ids the
/// page spans (at most a page of the ledger's).
async fn refresh(
    state: &ApiState,
    client: &ClientCode,
    entries: &mut [QueueEntry],
) -> Result<(), ApiError> {
    let ids: Vec<u64> = entries.iter().filter_map(|e| e.ledger_id).collect();
    let (Some(first), Some(last)) = (ids.iter().min(), ids.iter().max()) else {
        return Ok(());
    };
    let span = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
    let exceptions = state
        .service
        .ask_ledger(
            client,
            GetExceptionsPage {
                after_id: first.saturating_sub(1),
                limit: span.min(MAX_EXCEPTION_PAGE),
            },
        )
        .await?
        .map_err(ApiError::internal)?;
    for entry in entries.iter_mut() {
        if let Some(exception) = exceptions.iter().find(|e| Some(e.id) == entry.ledger_id) {
            entry.refresh_from_ledger(exception);
        }
    }
    Ok(())
}

/// `GET /v1/clients/{code}/exceptions?after_id=&limit=&state=&kind=`: `{exceptions,
/// next_after_id}`; ask again from `next_after_id` until the page is short.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/exceptions",
    operation_id = "list_exceptions",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath, ExceptionsQuery),
    responses(
        (status = 200, description = "The client's exceptions, oldest first", body = ExceptionsPage),
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
    let limit = limit_of(query.limit)?;
    let mut filter = state_filter(query.state.as_deref(), false)?;
    filter.kind = kind_filter(query.kind.as_deref())?;
    state.service.import_exceptions(&code).await?;
    let mut page = state
        .service
        .operations()
        .page(&code, query.after_id, limit, filter)?;
    refresh(&state, &code, &mut page).await?;
    let now = state.service.now();
    let next_after_id = page.last().map_or(query.after_id, |entry| entry.id);
    Ok(HttpResponse::Ok().json(ExceptionsPage {
        exceptions: page
            .into_iter()
            .map(|entry| ExceptionView::of(&code, entry, now))
            .collect(),
        next_after_id,
    }))
}

/// `GET /v1/exceptions?state=&kind=&client=&overdue=&cursor=&limit=`: the exceptions of every
/// client the token may see, by client code then id; `next` is `{code}/{id}`.
#[utoipa::path(
    get,
    path = "/v1/exceptions",
    operation_id = "list_all_exceptions",
    tag = "operations",
    security(("bearer" = [])),
    params(AllExceptionsQuery),
    responses(
        (status = 200, description = "Exceptions across the clients the token may see", body = Page<ExceptionView>),
        BadRequest, Unauthorized, Unavailable,
    )
)]
pub async fn list_all(
    caller: Caller,
    state: web::Data<ApiState>,
    query: Result<web::Query<AllExceptionsQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = query
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::invalid(format!("the query: {error}")))?;
    let limit = limit_of(query.limit)?;
    let mut filter = state_filter(query.state.as_deref(), true)?;
    filter.kind = kind_filter(query.kind.as_deref())?;
    let cursor = match query.cursor.as_deref() {
        None => None,
        Some(text) => {
            // `schemas::exceptions_cursor`: a code, '/', 1 to 19 digits (no sign, which the
            // integer parser would take).
            let parsed = text.split_once('/').and_then(|(code, id)| {
                let digits = (1..=19).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
                Some((
                    ClientCode::parse(code).ok()?,
                    digits.then(|| id.parse::<u64>().ok())??,
                ))
            });
            Some(parsed.ok_or_else(|| {
                ApiError::invalid("cursor must be the `next` of a previous page".to_string())
            })?)
        }
    };
    let only = match query.client.as_deref() {
        None => None,
        // A client the token may not see is one that does not exist: an empty list, the same
        // answer as for a code no client has.
        Some(text) => Some(ClientCode::parse(text).map_err(|_| {
            ApiError::invalid("client must be a client code (2 to 16 of A-Z, 0-9)".to_string())
        })?),
    };
    let mut clients: Vec<ClientCode> = state
        .clients
        .list()?
        .into_iter()
        .filter(|record| caller.0.sees(&record.code))
        .filter_map(|record| ClientCode::parse(&record.code).ok())
        .filter(|code| only.as_ref().is_none_or(|only| only == code))
        .filter(|code| {
            cursor
                .as_ref()
                .is_none_or(|(after, _)| code.as_str() >= after.as_str())
        })
        .collect();
    clients.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let now = state.service.now();
    let mut found: Vec<ExceptionView> = Vec::new();
    for code in clients {
        if found.len() > limit {
            break;
        }
        let after = match &cursor {
            Some((client, id)) if *client == code => *id,
            _ => 0,
        };
        state.service.import_exceptions(&code).await?;
        let mut entries = state.service.operations().page(
            &code,
            after,
            if query.overdue.is_some() {
                usize::MAX
            } else {
                limit + 1 - found.len()
            },
            filter,
        )?;
        if let Some(overdue) = query.overdue {
            entries.retain(|entry| entry.overdue(now) == overdue);
            entries.truncate(limit + 1 - found.len());
        }
        refresh(&state, &code, &mut entries).await?;
        found.extend(
            entries
                .into_iter()
                .map(|entry| ExceptionView::of(&code, entry, now)),
        );
    }
    let more = found.len() > limit;
    found.truncate(limit);
    let next = if more {
        found
            .last()
            .map(|view| format!("{}/{}", view.client, view.id))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(Page { items: found, next }))
}

/// `POST /v1/clients/{code}/exceptions/{id}`: acknowledge, assign, resolve or reopen. A
/// transition the state does not allow is 409 `invalid_transition`; nothing changes.
#[utoipa::path(
    post,
    path = "/v1/clients/{code}/exceptions/{id}",
    operation_id = "transition_exception",
    tag = "operations",
    security(("bearer" = [])),
    params(ExceptionPath),
    request_body = ExceptionAction,
    responses(
        (status = 200, description = "The exception after the change", body = ExceptionView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unavailable,
    )
)]
pub async fn transition(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ExceptionPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let id: u64 = path
        .id
        .parse()
        .map_err(|_| ApiError::not_found(format!("no exception {}", path.id)))?;
    let body: ExceptionAction = read_json(&state, &request, payload).await?;
    let transition = match (body.action.as_str(), &body.assignee, body.resolution) {
        ("acknowledge", None, None) => Transition::Acknowledge,
        ("assign", Some(assignee), None) => {
            check_assignee(&state, &code, assignee)?;
            Transition::Assign {
                assignee: assignee.clone(),
            }
        }
        ("resolve", None, Some(resolution)) => Transition::Resolve { resolution },
        ("reopen", None, None) => Transition::Reopen,
        ("assign", None, _) => return Err(ApiError::invalid("assign needs an assignee")),
        ("resolve", _, None) => return Err(ApiError::invalid("resolve needs a resolution")),
        ("acknowledge" | "assign" | "resolve" | "reopen", _, _) => {
            return Err(ApiError::invalid(
                "assignee goes with assign only, resolution with resolve only",
            ))
        }
        _ => {
            return Err(ApiError::invalid(
                "action must be acknowledge, assign, resolve or reopen",
            ))
        }
    };
    let after =
        apply_transition(&state, &caller, &code, id, transition, body.note.as_deref()).await?;
    let now = state.service.now();
    Ok(HttpResponse::Ok().json(ExceptionView::of(&code, after, now)))
}

/// Applies `transition` to exception `id` of `code` as `caller` (checked for writing the client
/// already), with its note; records it in the exception's trail and the audit log. The API and
/// the console both work the queue through here.
pub async fn apply_transition(
    state: &ApiState,
    caller: &Caller,
    code: &ClientCode,
    id: u64,
    transition: Transition,
    note: Option<&str>,
) -> Result<QueueEntry, ApiError> {
    let who = Actor {
        id: caller.0.id.clone(),
        name: caller.0.name.clone(),
    };
    let now = state.service.now();
    // The entry must exist before its import races matter: import first, so an id the ledger
    // raised a moment ago is found.
    state.service.import_exceptions(code).await?;
    let (before, after) = state.service.operations().update(code, id, |entry| {
        entry
            .apply(transition.clone(), &who, note, now)
            .map_err(Into::into)
    })?;
    super::audit::record(
        state,
        caller,
        Some(code),
        "transition_exception",
        format!("exception/{id}"),
        Some(serde_json::json!({"state": before.state.as_str(), "assignee": before.assignee})),
        Some(serde_json::json!({
            "state": after.state.as_str(),
            "assignee": after.assignee,
            "resolution": after.resolution,
            "note": after.trail.last().and_then(|change| change.note.clone()),
        })),
    );
    Ok(after)
}

/// An assignee must be an active member who may write for the client.
fn check_assignee(state: &ApiState, client: &ClientCode, id: &str) -> Result<(), ApiError> {
    let member = state.members.get(id).map_err(ApiError::internal)?;
    let ok = member.is_some_and(|member| member.may_work_on(client.as_str()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::UnknownMember,
            format!("{id:?} is not an active manager or admin of {client}"),
        ))
    }
}
