//! Checklists and the end-to-end sync test (issue 15; `crate::operations::checklist`):
//!
//! - `GET /v1/clients/{code}/checklists`: every checklist of the client, evaluated now (the
//!   launch checklist first: every client has one);
//! - `POST /v1/clients/{code}/checklists`: a checklist from a template (`holiday_preparation`,
//!   `platform_migration`);
//! - `GET /v1/clients/{code}/checklists/{id}`: one (`launch` or a number);
//! - `POST /v1/clients/{code}/checklists/{id}/items/{key}`: a person ticks (or unticks) a manual
//!   item; computed items are the service's to tick;
//! - `POST /v1/clients/{code}/sync-test`: starts the end-to-end sync test (one unit taken away
//!   from a SKU every channel lists, given back once every channel showed it);
//! - `GET /v1/clients/{code}/sync-test`: the last sync test.
//!
//! Scoped like every client route (another team's client is a 404); viewers may read.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::ClientCode;
use utoipa::{IntoParams, ToSchema};

use super::clients::{visible_client, ClientPath};
use super::error::{ApiError, Code};
use super::openapi::responses::{
    BadRequest, BodyTimeout, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, Unavailable,
    UnsupportedMediaType,
};
use super::{read_json, ApiState, Caller};
use crate::auth::Action;
use crate::operations::checklist::{
    ChecklistRecord, ItemKind, ItemRecord, ItemState, Template, MAX_CHECKLISTS,
};
use crate::operations::queue::MAX_NOTE_BYTES;
use crate::operations::sync_test::{SyncPhase, SyncTest};
use crate::service::checklists::EvaluatedChecklist;
use crate::timestamp::rfc3339;

/// One item as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChecklistItemView {
    /// Stable within the checklist (`channel_live:etsy`, `client_signed_off`).
    pub key: String,
    pub title: String,
    /// `computed` (the service ticks it when it has seen it happen) or `manual`.
    pub kind: String,
    /// The channel it is about.
    pub channel: Option<String>,
    /// `open`, `done` or `red` (done before, or expected, and broken now).
    pub state: ItemState,
    /// The evidence, or why it is not done.
    pub detail: String,
    /// When it was (first) done.
    pub done_at: Option<String>,
    /// Who ticked a manual item (member id and name).
    pub done_by: Option<String>,
    pub done_by_name: Option<String>,
    /// A manual item's note.
    pub note: Option<String>,
}

/// A checklist as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChecklistView {
    /// `launch`, or a number.
    pub id: String,
    pub template: Template,
    pub title: String,
    pub created_at: String,
    pub created_by: String,
    /// Every item done.
    pub complete: bool,
    pub done: usize,
    pub red: usize,
    pub total: usize,
    pub items: Vec<ChecklistItemView>,
}

impl From<EvaluatedChecklist> for ChecklistView {
    fn from(checklist: EvaluatedChecklist) -> Self {
        let items: Vec<ChecklistItemView> = checklist
            .items
            .into_iter()
            .map(|item| {
                let manual = item.def.kind == ItemKind::Manual;
                ChecklistItemView {
                    kind: if manual { "manual" } else { "computed" }.to_string(),
                    channel: item.def.channel.map(|channel| channel.to_string()),
                    state: item.state,
                    detail: item.detail,
                    done_at: item.record.done_at.map(rfc3339),
                    done_by: item.record.done_by,
                    done_by_name: item.record.done_by_name,
                    note: manual.then_some(item.record.note).flatten(),
                    key: item.def.key,
                    title: item.def.title,
                }
            })
            .collect();
        let count = |state| items.iter().filter(|item| item.state == state).count();
        let done = count(ItemState::Done);
        let red = count(ItemState::Red);
        let record = checklist.record;
        Self {
            id: record.id,
            title: record.template.title().to_string(),
            template: record.template,
            created_at: rfc3339(record.created_at),
            created_by: record.created_by,
            complete: done == items.len(),
            done,
            red,
            total: items.len(),
            items,
        }
    }
}

/// The body of `POST …/checklists`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChecklist {
    /// `holiday_preparation` or `platform_migration` (every client has its launch checklist).
    #[schema(schema_with = super::openapi::schemas::new_checklist_template)]
    pub template: Template,
}

/// The body of `POST …/checklists/{id}/items/{key}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TickItem {
    /// Done (`true`) or not (`false`).
    pub done: bool,
    /// What to keep with it (at most 1000 bytes).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// The path of one checklist.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ChecklistPath {
    /// The client's code.
    pub code: String,
    /// `launch`, or a number.
    pub id: String,
}

/// The path of one item.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ItemPath {
    /// The client's code.
    pub code: String,
    /// `launch`, or a number.
    pub id: String,
    /// The item's key.
    pub key: String,
}

/// The body of `POST …/sync-test`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSyncTest {
    /// The SKU to test (at least 1 unit available, listed on every channel); the first such
    /// SKU when absent.
    #[serde(default)]
    #[schema(schema_with = super::openapi::schemas::optional_sku)]
    pub sku: Option<String>,
}

/// A sync test as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncTestView {
    pub id: u64,
    pub sku: String,
    /// `lowering` (the change is made, awaited on every channel), `restoring` (the undo is
    /// made), `passed` or `failed`.
    pub phase: SyncPhase,
    pub channels: Vec<String>,
    pub started_at: String,
    pub started_by: String,
    pub started_by_name: String,
    /// When the current half fails if not seen on every channel.
    pub deadline: String,
    /// The journal entries of the change and of the undo.
    pub change_seq: u64,
    pub undo_seq: Option<u64>,
    /// When each channel's marketplace confirmed the change, and the undo.
    pub change_seen: BTreeMap<String, String>,
    pub undo_seen: BTreeMap<String, String>,
    pub finished_at: Option<String>,
    /// Why it failed.
    pub why: Option<String>,
}

/// The reply of `GET …/sync-test`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LastSyncTest {
    /// The last sync test; `null` before the first.
    pub last: Option<SyncTestView>,
}

impl From<SyncTest> for SyncTestView {
    fn from(test: SyncTest) -> Self {
        let seen =
            |map: BTreeMap<shelfsync_actors::ids::ChannelId, chrono::DateTime<chrono::Utc>>| {
                map.into_iter()
                    .map(|(channel, at)| (channel.to_string(), rfc3339(at)))
                    .collect()
            };
        Self {
            id: test.id,
            sku: test.sku.to_string(),
            phase: test.phase,
            channels: test.channels.iter().map(ToString::to_string).collect(),
            started_at: rfc3339(test.started_at),
            started_by: test.started_by,
            started_by_name: test.started_by_name,
            deadline: rfc3339(test.deadline),
            change_seq: test.lower_seq,
            undo_seq: test.restore_seq,
            change_seen: seen(test.lowered_seen),
            undo_seen: seen(test.restored_seen),
            finished_at: test.finished_at.map(rfc3339),
            why: test.why,
        }
    }
}

async fn evaluated(
    state: &ApiState,
    code: &ClientCode,
    id: &str,
) -> Result<EvaluatedChecklist, ApiError> {
    state
        .service
        .checklists(code)
        .await?
        .into_iter()
        .find(|checklist| checklist.record.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no checklist {id}")))
}

/// `GET /v1/clients/{code}/checklists`: every checklist, evaluated now.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/checklists",
    operation_id = "list_checklists",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath),
    responses(
        (status = 200, description = "The client's checklists, the launch checklist first", body = Vec<ChecklistView>),
        Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let views: Vec<ChecklistView> = state
        .service
        .checklists(&code)
        .await?
        .into_iter()
        .map(ChecklistView::from)
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// `GET /v1/clients/{code}/checklists/{id}`: one checklist, evaluated now.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/checklists/{id}",
    operation_id = "get_checklist",
    tag = "operations",
    security(("bearer" = [])),
    params(ChecklistPath),
    responses(
        (status = 200, description = "The checklist", body = ChecklistView),
        Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ChecklistPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let checklist = evaluated(&state, &code, &path.id).await?;
    Ok(HttpResponse::Ok().json(ChecklistView::from(checklist)))
}

/// `POST /v1/clients/{code}/checklists`: a checklist from a template; managers and admins.
#[utoipa::path(
    post,
    path = "/v1/clients/{code}/checklists",
    operation_id = "create_checklist",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath),
    request_body = NewChecklist,
    responses(
        (status = 201, description = "The new checklist, evaluated", body = ChecklistView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, BodyTimeout, TooLarge,
        UnsupportedMediaType, Unavailable,
    )
)]
pub async fn create(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let body: NewChecklist = read_json(&state, &request, payload).await?;
    if body.template == Template::Launch {
        return Err(ApiError::new(
            Code::Conflict,
            "every client has its launch checklist (id `launch`)",
        ));
    }
    let store = state.service.operations();
    if store.checklists(&code)?.len() >= MAX_CHECKLISTS {
        return Err(ApiError::new(
            Code::Conflict,
            format!("a client keeps at most {MAX_CHECKLISTS} checklists"),
        ));
    }
    let record = ChecklistRecord::new(
        store.new_checklist_id()?,
        body.template,
        state.service.now(),
        caller.0.id.clone(),
    );
    store.put_checklist(&code, &record)?;
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "create_checklist",
        format!("checklist/{}", record.id),
        None,
        Some(serde_json::json!({"template": record.template})),
    );
    let checklist = evaluated(&state, &code, &record.id).await?;
    Ok(HttpResponse::Created().json(ChecklistView::from(checklist)))
}

/// `POST /v1/clients/{code}/checklists/{id}/items/{key}`: ticks or unticks a manual item, with
/// who and when; a computed item is 409 `conflict` (the service ticks it when it has seen it).
#[utoipa::path(
    post,
    path = "/v1/clients/{code}/checklists/{id}/items/{key}",
    operation_id = "tick_checklist_item",
    tag = "operations",
    security(("bearer" = [])),
    params(ItemPath),
    request_body = TickItem,
    responses(
        (status = 200, description = "The checklist after the change", body = ChecklistView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, BodyTimeout, TooLarge,
        UnsupportedMediaType, Unavailable,
    )
)]
pub async fn tick(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ItemPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let body: TickItem = read_json(&state, &request, payload).await?;
    let checklist = tick_item(
        &state,
        &caller,
        &code,
        &path.id,
        &path.key,
        body.done,
        body.note.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ChecklistView::from(checklist)))
}

/// Ticks (`done`) or unticks manual item `key` of checklist `id` of `code` as `caller` (checked
/// for writing the client already), with a note; records it in the audit log and answers the
/// checklist evaluated again. A computed item is 409. The API and the console both tick here.
pub async fn tick_item(
    state: &ApiState,
    caller: &Caller,
    code: &ClientCode,
    id: &str,
    key: &str,
    done: bool,
    note: Option<&str>,
) -> Result<EvaluatedChecklist, ApiError> {
    let note = note.map(str::trim).filter(|note| !note.is_empty());
    if note.is_some_and(|note| note.len() > MAX_NOTE_BYTES || note.chars().any(char::is_control)) {
        return Err(ApiError::invalid(format!(
            "note must be at most {MAX_NOTE_BYTES} bytes of printable characters"
        )));
    }
    let checklist = evaluated(state, code, id).await?;
    let item = checklist
        .items
        .iter()
        .find(|item| item.def.key == key)
        .ok_or_else(|| ApiError::not_found(format!("no item {key} in checklist {id}")))?;
    if item.def.kind != ItemKind::Manual {
        return Err(ApiError::new(
            Code::Conflict,
            format!("{key} is computed: the service ticks it when it has seen it happen"),
        ));
    }
    let mut record = checklist.record;
    let before = record.items.get(key).cloned().unwrap_or_default();
    let after = if done {
        ItemRecord {
            done_at: Some(state.service.now()),
            done_by: Some(caller.0.id.clone()),
            done_by_name: Some(caller.0.name.clone()),
            note: note.map(str::to_string),
        }
    } else {
        ItemRecord::default()
    };
    record.items.insert(key.to_string(), after.clone());
    state.service.operations().put_checklist(code, &record)?;
    super::audit::record(
        state,
        caller,
        Some(code),
        "tick_checklist_item",
        format!("checklist/{}/{key}", record.id),
        Some(serde_json::json!({"done": before.done_at.is_some(), "note": before.note})),
        Some(serde_json::json!({"done": after.done_at.is_some(), "note": after.note})),
    );
    evaluated(state, code, id).await
}

/// `POST /v1/clients/{code}/sync-test`: starts the end-to-end sync test; managers and admins.
/// 409 `conflict` while one runs, or when no SKU can be tested.
#[utoipa::path(
    post,
    path = "/v1/clients/{code}/sync-test",
    operation_id = "start_sync_test",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath),
    request_body = StartSyncTest,
    responses(
        (status = 202, description = "The test, started: the change is made", body = SyncTestView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, BodyTimeout, TooLarge,
        UnsupportedMediaType, Unavailable,
    )
)]
pub async fn start_sync_test(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let body: StartSyncTest = read_json(&state, &request, payload).await?;
    let sku = body
        .sku
        .as_deref()
        .map(super::stock::path_sku)
        .transpose()?;
    let test = state
        .service
        .start_sync_test(&code, sku, &caller.0.id, &caller.0.name)
        .await??;
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "start_sync_test",
        format!("sync-test/{}", test.id),
        None,
        Some(
            serde_json::json!({"sku": test.sku, "channels": test.channels, "change_seq": test.lower_seq}),
        ),
    );
    Ok(HttpResponse::Accepted().json(SyncTestView::from(test)))
}

/// `GET /v1/clients/{code}/sync-test`: `{last}`, the last sync test moved on to now (`null`
/// before the first).
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/sync-test",
    operation_id = "get_sync_test",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath),
    responses(
        (status = 200, description = "The last sync test", body = LastSyncTest),
        Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn get_sync_test(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    state.service.advance_sync_test(&code).await?;
    let last = state.service.operations().sync_test(&code)?;
    Ok(HttpResponse::Ok().json(LastSyncTest {
        last: last.map(SyncTestView::from),
    }))
}
