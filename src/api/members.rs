//! `POST /v1/members`, `GET /v1/members`, `DELETE /v1/members/{id}` (admins only). A new member's
//! token is in the 201 reply and nowhere else: only its hash is kept.
//!
//! A member's `clients` must name existing clients (400 `unknown_client` otherwise, nothing
//! stored); a manager needs at least one, or `may_create_clients: true` (it then manages the
//! clients it creates). Why, and what becomes of a scope, is in `crate::auth`.

use std::collections::BTreeSet;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::ClientCode;

use super::error::{ApiError, Code};
use super::{read_json, ApiState, Caller};
use crate::auth::{new_token, Action, Member, Role};

/// The body of `POST /v1/members`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    name: String,
    role: Role,
    #[serde(default)]
    clients: Vec<String>,
    /// Managers only: whether it may create clients.
    #[serde(default)]
    may_create_clients: bool,
}

/// A member as the API shows it: never its token or token hash.
#[derive(Debug, Serialize)]
pub struct MemberView {
    id: String,
    name: String,
    role: Role,
    clients: BTreeSet<String>,
    may_create_clients: bool,
    created_at: String,
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
        }
    }
}

/// The longest member name.
pub const MAX_NAME: usize = 100;

/// `POST /v1/members`: 201 with the member and its token, shown once.
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
    let created_at = crate::timestamp::rfc3339(chrono::Utc::now());
    let member = state
        .members
        .add(|id| Member {
            id,
            name: name.clone(),
            role: body.role,
            clients: clients.clone(),
            may_create_clients,
            token_hash: token_hash.clone(),
            created_at: created_at.clone(),
        })
        .map_err(ApiError::internal)?;
    let mut reply = serde_json::to_value(MemberView::from(member)).map_err(ApiError::internal)?;
    reply["token"] = serde_json::Value::String(token.expose().to_string());
    Ok(HttpResponse::Created().json(reply))
}

/// `GET /v1/members`: every member, without tokens.
pub async fn list(caller: Caller, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    caller.may(Action::Administer, None)?;
    let members: Vec<MemberView> = state
        .members
        .list()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(MemberView::from)
        .collect();
    Ok(HttpResponse::Ok().json(members))
}

/// `DELETE /v1/members/{id}`: removes the member; its token stops working when this answers.
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
    match state.members.remove(&id) {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(error) => Err(error.into()),
    }
}
