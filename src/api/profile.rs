//! The client's profile and access record (issue 15; `crate::operations::profile`):
//! `GET /v1/clients/{code}/profile` and `PUT` (the whole record). The reply adds, per stored
//! credential, where it stands against its rotate-by date (`crate::operations::rotation`), so
//! the access record shows what must be rotated without a second call.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clients::{visible_client, ClientPath};
use super::error::{ApiError, Code};
use super::openapi::responses::{
    BadRequest, BodyTimeout, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType,
};
use super::{read_json, ApiState, Caller};
use crate::auth::Action;
use crate::operations::profile::{ClientProfile, ProfileInput};
use crate::operations::rotation::{rotation, Rotation};
use crate::timestamp::rfc3339;
use shelfsync_actors::ids::ClientCode;

/// A credential's rotation, as the profile shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CredentialRotation {
    /// The credential's name.
    pub name: String,
    /// Its rotate-by date as given.
    pub rotate_by: Option<String>,
    /// `no_date`, `ok`, `due_soon` (within 14 days) or `overdue`.
    pub rotation: Rotation,
}

/// The profile as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfileView {
    /// The record (empty fields until one is written).
    pub profile: ProfileInput,
    /// When it was last written; `null` when never.
    pub updated_at: Option<String>,
    /// By which member.
    pub updated_by: Option<String>,
    /// The agency's response target for this client's exceptions, in hours (the profile's, or
    /// the tier's default).
    pub response_target_hours: i64,
    /// Every stored credential and its rotation.
    pub credentials: Vec<CredentialRotation>,
}

fn view_of(
    state: &ApiState,
    code: &ClientCode,
    stored: Option<ClientProfile>,
) -> Result<ProfileView, ApiError> {
    let now = state.service.now();
    let credentials = state
        .clients
        .credentials(code)?
        .into_iter()
        .map(|credential| CredentialRotation {
            rotate_by: credential.rotate_by.map(|due| {
                serde_json::to_value(due)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_default()
            }),
            rotation: rotation(credential.rotate_by, now),
            name: credential.name,
        })
        .collect();
    Ok(ProfileView {
        response_target_hours: state.service.response_target(code)?.num_hours(),
        updated_at: stored.as_ref().map(|stored| rfc3339(stored.updated_at)),
        updated_by: stored.as_ref().map(|stored| stored.updated_by.clone()),
        profile: stored.map(|stored| stored.profile).unwrap_or_default(),
        credentials,
    })
}

/// `GET /v1/clients/{code}/profile`.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/profile",
    operation_id = "get_profile",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath),
    responses(
        (status = 200, description = "The profile and access record", body = ProfileView),
        Unauthorized, NotFound,
    )
)]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let stored = state.service.operations().profile(&code)?;
    Ok(HttpResponse::Ok().json(view_of(&state, &code, stored)?))
}

/// `PUT /v1/clients/{code}/profile`: replaces the record. The account manager must be an active
/// member who may write for the client, and each access grant's credential must be stored.
#[utoipa::path(
    put,
    path = "/v1/clients/{code}/profile",
    operation_id = "put_profile",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath),
    request_body = ProfileInput,
    responses(
        (status = 200, description = "The stored profile", body = ProfileView),
        BadRequest, Unauthorized, Forbidden, NotFound, BodyTimeout, TooLarge, UnsupportedMediaType,
    )
)]
pub async fn put(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let input: ProfileInput = read_json(&state, &request, payload).await?;
    input.validate()?;
    if let Some(manager) = &input.account_manager {
        let ok = state
            .members
            .get(manager)
            .map_err(ApiError::internal)?
            .is_some_and(|member| member.may_work_on(code.as_str()));
        if !ok {
            return Err(ApiError::new(
                Code::UnknownMember,
                format!("account_manager {manager:?} is not an active manager or admin of {code}"),
            ));
        }
    }
    let stored_names: Vec<String> = state
        .clients
        .credentials(&code)?
        .into_iter()
        .map(|credential| credential.name)
        .collect();
    for (index, grant) in input.access.iter().enumerate() {
        if let Some(name) = &grant.credential {
            if !stored_names.contains(name) {
                return Err(ApiError::new(
                    Code::InvalidField,
                    format!("access[{index}].credential: {code} has no credential {name:?}"),
                ));
            }
        }
    }
    let store = state.service.operations();
    let before = store.profile(&code)?;
    let stored = ClientProfile {
        profile: input,
        updated_at: state.service.now(),
        updated_by: caller.0.id.clone(),
    };
    store.put_profile(&code, &stored)?;
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "put_profile",
        "profile".into(),
        before.map(|before| super::audit::value(&before.profile)),
        Some(super::audit::value(&stored.profile)),
    );
    Ok(HttpResponse::Ok().json(view_of(&state, &code, Some(stored))?))
}
