//! `POST /v1/members`, `GET /v1/members`, `DELETE /v1/members/{id}` (admins only). A new member's
//! token is in the 201 reply and nowhere else: only its hash is kept.
//!
//! A member's `clients` must name existing clients (400 `unknown_client` otherwise, nothing
//! stored); a manager needs at least one, or `may_create_clients: true` (it then manages the
//! clients it creates). Why, and what becomes of a scope, is in `crate::auth`.

use std::collections::BTreeSet;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::ClientCode;

use utoipa::ToSchema;

use super::error::{ApiError, Code};
use super::openapi::responses::{
    BadRequest, BodyTimeout, Conflict, Forbidden, NotFound, TooLarge, Unauthorized,
    UnsupportedMediaType,
};
use super::openapi::schemas;
use super::paging::{Page, PageQuery};
use super::{read_json, ApiState, Caller};
use crate::auth::{new_token, Action, Member, Role};

/// The body of `POST /v1/members`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    #[schema(schema_with = schemas::printable_name)]
    pub name: String,
    pub role: Role,
    /// The clients a manager or viewer works on (each must exist).
    #[serde(default)]
    #[schema(schema_with = client_codes)]
    pub clients: Vec<String>,
    /// Managers only: whether it may create clients.
    #[serde(default)]
    pub may_create_clients: bool,
}

/// A list of client codes, each by `ClientCode::parse`'s rule.
fn client_codes() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::Array::new(schemas::client_code())
}

/// A member as the API shows it: never its token or token hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub clients: BTreeSet<String>,
    pub may_create_clients: bool,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it was disabled; `null` for an active member.
    #[serde(default, serialize_with = "crate::timestamp::serialize_option")]
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The reply of `POST /v1/members`: the member and its token, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedMember {
    #[serde(flatten)]
    pub member: MemberView,
    /// The bearer token (`ssk_…`); only its hash is kept.
    pub token: String,
}

impl From<Member> for MemberView {
    fn from(member: Member) -> MemberView {
        MemberView {
            id: member.id,
            name: member.name,
            role: member.role,
            clients: member.clients,
            may_create_clients: member.may_create_clients,
            created_at: member.created_at,
            disabled_at: member.disabled_at,
        }
    }
}

/// The longest member name.
pub const MAX_NAME: usize = 100;

/// `POST /v1/members`: 201 with the member and its token, shown once.
#[utoipa::path(
    post,
    path = "/v1/members",
    operation_id = "create_member",
    tag = "members",
    security(("bearer" = [])),
    request_body = NewMember,
    responses(
        (status = 201, description = "The member and its token, shown once", body = CreatedMember),
        BadRequest, Unauthorized, Forbidden, BodyTimeout, TooLarge, UnsupportedMediaType,
    )
)]
pub async fn create(
    caller: Caller,
    state: web::Data<ApiState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.may(Action::Administer, None)?;
    let body: NewMember = read_json(&state, &request, payload).await?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("name must be 1 to {MAX_NAME} printable characters"),
        ));
    }
    let mut clients = BTreeSet::new();
    for code in &body.clients {
        let code = ClientCode::parse(code)
            .map_err(|error| ApiError::invalid(format!("clients: {error}")))?;
        // Only admins get here, and they see every client: naming the unknown one tells them
        // nothing they may not see.
        if state
            .clients
            .get(&code)
            .map_err(ApiError::internal)?
            .is_none()
        {
            return Err(ApiError::new(
                Code::UnknownClient,
                format!("clients: no client {}; create it first", code.as_str()),
            ));
        }
        clients.insert(code.as_str().to_string());
    }
    let may_create_clients = match body.role {
        Role::Admin => true,
        Role::Manager => body.may_create_clients,
        Role::Viewer if body.may_create_clients => {
            return Err(ApiError::new(
                Code::InvalidField,
                "may_create_clients is for managers: a viewer cannot create anything",
            ))
        }
        Role::Viewer => false,
    };
    if body.role != Role::Admin && clients.is_empty() && !may_create_clients {
        return Err(ApiError::new(
            Code::InvalidField,
            "a manager or viewer needs at least one client in `clients` (or, for a manager, \
             may_create_clients: true)",
        ));
    }
    let (token, token_hash) = new_token();
    let created_at = state.service.now();
    let member = state
        .members
        .add(|id| Member {
            id,
            name: name.clone(),
            role: body.role,
            clients: clients.clone(),
            may_create_clients,
            token_hash: token_hash.clone(),
            created_at,
            disabled_at: None,
        })
        .map_err(ApiError::internal)?;
    super::audit::record(
        &state,
        &caller,
        None,
        "create_member",
        format!("member/{}", member.id),
        None,
        Some(super::audit::value(&MemberView::from(member.clone()))),
    );
    Ok(HttpResponse::Created().json(CreatedMember {
        member: MemberView::from(member),
        token: token.expose().to_string(),
    }))
}

/// `GET /v1/members?cursor=&limit=`: the members, without tokens, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/members",
    operation_id = "list_members",
    tag = "members",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of members, without tokens", body = Page<MemberView>),
        BadRequest, Unauthorized, Forbidden,
    )
)]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    caller.may(Action::Administer, None)?;
    let request = PageQuery::checked(query)?;
    let members = state.members.list().map_err(ApiError::internal)?;
    let page = request.page_of(members, |member| member.id.as_str());
    Ok(HttpResponse::Ok().json(page.map(MemberView::from)))
}

/// `DELETE /v1/members/{id}`: disables the member; its token stops working when this answers.
/// Its record stays (listed with `disabled_at`), so that the audit log and the exception trails
/// keep naming it; disabling a disabled member answers 204 again.
#[utoipa::path(
    delete,
    path = "/v1/members/{id}",
    operation_id = "delete_member",
    tag = "members",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The member's id")),
    responses(
        (status = 204, description = "Disabled; its token stops working at once"),
        Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.may(Action::Administer, None)?;
    if id.as_str() == caller.0.id {
        return Err(ApiError::new(
            Code::Conflict,
            "a member cannot remove itself (another admin can)",
        ));
    }
    let before = state.members.get(&id).map_err(ApiError::internal)?;
    let member = state.members.disable(&id, state.service.now())?;
    if before.as_ref().is_some_and(Member::active) {
        super::audit::record(
            &state,
            &caller,
            None,
            "delete_member",
            format!("member/{}", member.id),
            before.map(|member| super::audit::value(&MemberView::from(member))),
            Some(super::audit::value(&MemberView::from(member))),
        );
    }
    Ok(HttpResponse::NoContent().finish())
}
