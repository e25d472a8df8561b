//! Clients and their credentials: `POST`/`GET /v1/clients`, `GET /v1/clients/{code}`,
//! `PUT /v1/clients/{code}/credentials/{name}`, `GET /v1/clients/{code}/credentials`. A client the
//! caller may not see is a 404 on every route; a credential's secret is sealed by the vault and
//! never shown again.

use std::collections::BTreeSet;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::ratelimit::ServiceTier;

use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Code};
use super::openapi::responses::{
    BadRequest, BodyTimeout, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, Unavailable,
    UnsupportedMediaType,
};
use super::openapi::schemas;
use super::paging::{Page, PageQuery};
use super::{read_json, ApiState, Caller};
use crate::auth::{Action, Role};
use crate::clients::origin::Origin;
use crate::clients::{ClientRecord, ClientStoreError, CredentialMetadata};
use crate::timestamp::Due;
use crate::vault::Secret;

/// The longest client name.
pub const MAX_NAME: usize = 200;

/// The client code of a path, checked, and visible to the caller for `action` (else 404/403).
pub fn visible_client(
    caller: &Caller,
    state: &ApiState,
    code: &str,
    action: Action,
) -> Result<ClientCode, ApiError> {
    let code =
        ClientCode::parse(code).map_err(|_| ApiError::not_found(format!("no client {code}")))?;
    caller.may(action, Some(code.as_str()))?;
    if state.clients.get(&code)?.is_none() {
        return Err(ApiError::not_found(format!("no client {}", code.as_str())));
    }
    Ok(code)
}

/// The body of `POST /v1/clients`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    #[schema(schema_with = schemas::client_code)]
    pub code: String,
    #[schema(schema_with = client_name)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = schemas::tier)]
    pub tier: ServiceTier,
}

/// A client's name: as a member's, up to [`MAX_NAME`] characters.
fn client_name() -> utoipa::openapi::schema::Schema {
    let mut schema = schemas::printable_name();
    if let utoipa::openapi::schema::Schema::Object(object) = &mut schema {
        object.max_length = Some(MAX_NAME);
        object.description = Some(format!("1 to {MAX_NAME} printable characters"));
    }
    schema
}

/// `POST /v1/clients`: admins, and managers granted `may_create_clients` (403 for anyone else,
/// before the body is read); a manager then manages the new client. A code that is taken is 409
/// `conflict` for a caller that sees that client and 409 `code_unavailable`, with nothing about
/// the client, for one that does not (why this is acceptable: `crate::auth`).
#[utoipa::path(
    post,
    path = "/v1/clients",
    operation_id = "create_client",
    tag = "clients",
    security(("bearer" = [])),
    request_body = NewClient,
    responses(
        (status = 201, description = "The client, started in the engine", body = ClientRecord),
        BadRequest, Unauthorized, Forbidden, BodyTimeout, Conflict, TooLarge,
        UnsupportedMediaType, Unavailable,
    )
)]
pub async fn create(
    caller: Caller,
    state: web::Data<ApiState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Err(denied) = caller.0.authorize(Action::CreateClient, None) {
        let detail = match caller.0.role {
            Role::Viewer => "a viewer token may not create clients",
            _ => "this manager may not create clients (an admin grants may_create_clients)",
        };
        tracing::debug!(%denied, "client creation refused");
        return Err(ApiError::new(Code::Forbidden, detail));
    }
    let body: NewClient = read_json(&state, &request, payload).await?;
    let code = ClientCode::parse(&body.code)
        .map_err(|error| ApiError::invalid(format!("code: {error}")))?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("name must be 1 to {MAX_NAME} printable characters"),
        ));
    }
    let record = ClientRecord {
        code: code.as_str().to_string(),
        name: name.to_string(),
        tier: body.tier,
        created_at: state.service.now(),
    };
    match state.clients.create(&record) {
        Ok(()) => {}
        Err(ClientStoreError::Exists(_)) if !caller.0.sees(code.as_str()) => {
            return Err(ApiError::new(
                Code::CodeUnavailable,
                "this client code cannot be used; choose another",
            ))
        }
        Err(error) => return Err(error.into()),
    }
    // The client's ledger and supervisor start now; its channels join as they are connected.
    state.service.start_client(&record).await?;
    if caller.0.role == Role::Manager {
        state
            .members
            .grant(&caller.0.id, code.as_str())
            .map_err(ApiError::internal)?;
    }
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "create_client",
        format!("client/{code}"),
        None,
        Some(super::audit::value(&record)),
    );
    Ok(HttpResponse::Created().json(record))
}

/// `GET /v1/clients?cursor=&limit=`: the clients the caller may see, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/clients",
    operation_id = "list_clients",
    tag = "clients",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of the clients the token may see", body = Page<ClientRecord>),
        BadRequest, Unauthorized,
    )
)]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let request = PageQuery::checked(query)?;
    let visible = state
        .clients
        .list()?
        .into_iter()
        .filter(|client| caller.0.sees(&client.code));
    Ok(HttpResponse::Ok().json(request.page_of(visible, |client| client.code.as_str())))
}

/// `GET /v1/clients/{code}`.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}",
    operation_id = "get_client",
    tag = "clients",
    security(("bearer" = [])),
    params(ClientPath),
    responses(
        (status = 200, description = "The client", body = ClientRecord),
        Unauthorized, NotFound,
    )
)]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let record = state
        .clients
        .get(&code)?
        .ok_or_else(|| ApiError::not_found("no such client"))?;
    Ok(HttpResponse::Ok().json(record))
}

/// The client code of a path (a code the caller may not see is a 404, like one that is not).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClientPath {
    /// The client's code.
    #[param(example = "ACME")]
    pub code: String,
}

/// The body of `PUT /v1/clients/{code}/credentials/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCredential {
    /// The secret, sealed by the vault and never shown again (1 to 8192 bytes).
    #[schema(min_length = 1, max_length = 8192)]
    pub secret: String,
    /// When it should be rotated: a date (`YYYY-MM-DD`) or an RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    pub rotate_by: Option<String>,
    /// The hosts (origins) the secret may be sent to; left out, the credential keeps its bindings,
    /// or, when new, is bound to the first channel that uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schemas::origins)]
    pub hosts: Option<Vec<String>>,
}

/// `PUT /v1/clients/{code}/credentials/{name}`: seals and stores a secret; answers its metadata
/// (with the hosts it is bound to). `hosts` binds it to those origins (`https://host[:port]`, a
/// bare host meaning https) together with those of the channels that use it already: supplying
/// the secret is what allows sending it somewhere new.
#[utoipa::path(
    put,
    path = "/v1/clients/{code}/credentials/{name}",
    operation_id = "put_credential",
    tag = "clients",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "The client's code", example = "ACME"),
        ("name" = String, Path, description = "The credential's name", example = "walmart", pattern = "^[a-z0-9._-]{1,64}$", max_length = 64),
    ),
    request_body = PutCredential,
    responses(
        (status = 200, description = "The credential's metadata (never its secret)", body = CredentialMetadata),
        BadRequest, Unauthorized, Forbidden, NotFound, BodyTimeout, Conflict, TooLarge,
        UnsupportedMediaType, Unavailable,
    )
)]
pub async fn put_credential(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (code, name) = path.into_inner();
    let code = visible_client(&caller, &state, &code, Action::Write)?;
    let body: PutCredential = read_json(&state, &request, payload).await?;
    let rotate_by = body
        .rotate_by
        .as_deref()
        .map(Due::parse)
        .transpose()
        .map_err(|_| {
            ApiError::new(
                Code::InvalidField,
                "rotate_by must be a date (YYYY-MM-DD) or an RFC 3339 time",
            )
        })?;
    let hosts = match body.hosts {
        None => None,
        Some(hosts) if hosts.is_empty() => {
            return Err(ApiError::new(
                Code::InvalidField,
                "hosts must name at least one host; leave it out to keep the current bindings",
            ))
        }
        Some(hosts) => Some(
            hosts
                .iter()
                .map(|host| Origin::parse(host))
                .collect::<Result<BTreeSet<Origin>, _>>()
                .map_err(|error| ApiError::invalid(format!("hosts: {error}")))?,
        ),
    };
    let before = state
        .clients
        .credentials(&code)?
        .into_iter()
        .find(|credential| credential.name == name);
    let metadata = state
        .service
        .put_credential(&code, &name, &Secret::new(body.secret), rotate_by, hosts)
        .await?;
    // The metadata only: the secret is never in the log (`operations::audit`).
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "put_credential",
        format!("credential/{name}"),
        before.map(|before| super::audit::value(&before)),
        Some(super::audit::value(&metadata)),
    );
    Ok(HttpResponse::Ok().json(metadata))
}

/// `GET /v1/clients/{code}/credentials`: metadata only.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/credentials",
    operation_id = "list_credentials",
    tag = "clients",
    security(("bearer" = [])),
    params(ClientPath),
    responses(
        (status = 200, description = "Every credential's metadata, never a secret", body = Vec<CredentialMetadata>),
        Unauthorized, NotFound,
    )
)]
pub async fn credentials(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    Ok(HttpResponse::Ok().json(state.clients.credentials(&code)?))
}
