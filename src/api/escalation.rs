//! Escalation rules and their delivery log (issue 15; `crate::operations::escalation`):
//!
//! - `PUT /v1/clients/{code}/escalation`: where and how the client is told, and which kinds go
//!   to it. The first PUT (and one with `rotate_secret: true`) answers the signing secret, this
//!   once; it is sealed in the vault like the endpoint (a Slack URL is itself a secret). The
//!   endpoint must pass the deployment's egress policy, as a marketplace base URL must.
//! - `GET /v1/clients/{code}/escalation`: the rules, with the endpoint's origin only.
//! - `DELETE /v1/clients/{code}/escalation`: nothing more goes to the client.
//! - `GET /v1/clients/{code}/escalation/deliveries`: every delivery, oldest first, with its
//!   attempts, last status and state.

use std::collections::BTreeSet;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clients::{visible_client, ClientPath};
use super::error::{ApiError, Code};
use super::openapi::responses::{
    BadRequest, BodyTimeout, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType,
};
use super::paging::{NumberPageQuery, Page, PageRequest};
use super::{read_json, ApiState, Caller};
use crate::auth::Action;
use crate::operations::escalation::{
    new_secret, Delivery, DeliveryState, EscalationRules, Format, MAX_ENDPOINT_LEN,
};
use crate::operations::queue::QueueKind;
use crate::operations::store::StoredRules;
use crate::operations::sweep::{ENDPOINT_NAME, SECRET_NAME};
use crate::timestamp::rfc3339;
use crate::vault::Secret;

/// The body of `PUT …/escalation`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationInput {
    /// Where deliveries are posted (https; http only where the deployment allows private
    /// networks).
    #[schema(schema_with = super::openapi::schemas::endpoint_url)]
    pub endpoint: String,
    /// `json` (signed, Standard Webhooks) or `slack` (an incoming-webhook message).
    #[serde(default)]
    pub format: Format,
    /// The kinds sent to the client at once (`oversold`, `unapplicable_order`, `reorder`).
    #[schema(schema_with = super::openapi::schemas::exception_kinds)]
    pub escalate: Vec<String>,
    /// Whether an escalated exception still unresolved past its due time is sent once more.
    #[serde(default = "yes")]
    pub remind_when_overdue: bool,
    /// Whether to replace the signing secret (the new one is in the reply, this once).
    #[serde(default)]
    pub rotate_secret: bool,
    /// Whether each month's report is sent to the client when the month ends (from the month
    /// this is turned on in: on the first of the next month).
    #[serde(default)]
    pub monthly_report: bool,
}

fn yes() -> bool {
    true
}

/// The rules as the API shows them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EscalationView {
    /// Whether rules are set (when not, every exception stays the agency's and nothing is sent).
    pub configured: bool,
    /// The endpoint's origin (`https://host:port`); the path is not shown (it may be a secret).
    pub endpoint_origin: String,
    pub format: Format,
    pub escalate: Vec<String>,
    pub remind_when_overdue: bool,
    /// Whether each month's report is sent to the client when the month ends.
    pub monthly_report: bool,
    /// The first month whose report is sent (`YYYY-MM`), while `monthly_report` is on.
    pub monthly_report_from: Option<String>,
    pub updated_at: String,
    /// The signing secret (`whsec_…`): in the reply of the PUT that made it, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// One delivery as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub seq: u64,
    /// The `webhook-id` (the same on every attempt).
    pub id: String,
    /// The exception told of (`null` for a monthly report).
    pub exception_id: Option<u64>,
    /// Its kind (`null` for a monthly report).
    pub kind: Option<String>,
    /// `raised`, `overdue` or `monthly_report`.
    pub reason: String,
    /// The month of a monthly report (`YYYY-MM`).
    pub month: Option<String>,
    /// `pending`, `delivered` or `gave_up`.
    pub state: String,
    pub attempts: u32,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// What was sent.
    pub body: String,
}

impl From<Delivery> for DeliveryView {
    fn from(delivery: Delivery) -> Self {
        Self {
            seq: delivery.seq,
            id: delivery.id,
            exception_id: delivery.kind.is_some().then_some(delivery.exception_id),
            kind: delivery.kind.map(|kind| kind.as_str().to_string()),
            reason: delivery.reason.as_str().to_string(),
            month: delivery.month.map(|month| month.to_string()),
            state: match delivery.state {
                DeliveryState::Pending => "pending",
                DeliveryState::Delivered => "delivered",
                DeliveryState::GaveUp => "gave_up",
            }
            .to_string(),
            attempts: delivery.attempts,
            created_at: rfc3339(delivery.created_at),
            next_attempt_at: (delivery.state == DeliveryState::Pending)
                .then(|| rfc3339(delivery.next_attempt_at)),
            delivered_at: delivery.delivered_at.map(rfc3339),
            last_status: delivery.last_status,
            last_error: delivery.last_error,
            body: delivery.body,
        }
    }
}

fn origin_of(url: &reqwest::Url) -> String {
    url.origin().ascii_serialization()
}

fn view(rules: &EscalationRules, origin: String, secret: Option<String>) -> EscalationView {
    EscalationView {
        configured: true,
        endpoint_origin: origin,
        format: rules.format,
        escalate: rules
            .escalate
            .iter()
            .map(|kind| kind.as_str().to_string())
            .collect(),
        remind_when_overdue: rules.remind_when_overdue,
        monthly_report: rules.monthly_report_from.is_some(),
        monthly_report_from: rules.monthly_report_from.map(|month| month.to_string()),
        updated_at: rfc3339(rules.updated_at),
        secret,
    }
}

fn stored_origin(state: &ApiState, client: &str, rules: &StoredRules) -> Result<String, ApiError> {
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&rules.endpoint_sealed)
        .map_err(ApiError::internal)?;
    let endpoint = state
        .vault
        .open_secret(client, ENDPOINT_NAME, &sealed)
        .map_err(ApiError::from)?;
    let url = reqwest::Url::parse(endpoint.expose()).map_err(ApiError::internal)?;
    Ok(origin_of(&url))
}

/// `PUT /v1/clients/{code}/escalation`: replaces the rules.
#[utoipa::path(
    put,
    path = "/v1/clients/{code}/escalation",
    operation_id = "put_escalation",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath),
    request_body = EscalationInput,
    responses(
        (status = 200, description = "The rules; `secret` when one was made", body = EscalationView),
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
    let body: EscalationInput = read_json(&state, &request, payload).await?;
    if body.endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("endpoint must be at most {MAX_ENDPOINT_LEN} bytes"),
        ));
    }
    // The document's rule (`schemas::endpoint_url`), before the URL parser, which would trim
    // white space, accept a scheme in capitals and map a host in another script, all of which
    // the document refuses.
    let plain = (body.endpoint.starts_with("http://") || body.endpoint.starts_with("https://"))
        && body.endpoint.bytes().all(|b| b.is_ascii_graphic());
    if !plain {
        return Err(ApiError::new(
            Code::InvalidField,
            "endpoint must be an http(s) URL",
        ));
    }
    let url = reqwest::Url::parse(&body.endpoint)
        .map_err(|_| ApiError::new(Code::InvalidField, "endpoint must be an http(s) URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::new(
            Code::InvalidField,
            "endpoint must not carry a user or password",
        ));
    }
    state.service.egress().check_url(None, &url)?;
    let mut escalate = BTreeSet::new();
    for kind in &body.escalate {
        escalate.insert(QueueKind::parse(kind).ok_or_else(|| {
            ApiError::new(
                Code::InvalidField,
                format!(
                    "escalate: {kind:?} is not a kind ({})",
                    super::exceptions::kinds_text()
                ),
            )
        })?);
    }
    let store = state.service.operations();
    let previous = store.rules(&code)?;
    let now = state.service.now();
    // Kept from the rules before while it stays on: a PUT that changes something else does not
    // move the first month reported.
    let monthly_report_from = body.monthly_report.then(|| {
        previous
            .as_ref()
            .and_then(|previous| previous.rules.monthly_report_from)
            .unwrap_or_else(|| crate::report::Month::of(now))
    });
    let rules = EscalationRules {
        escalate,
        remind_when_overdue: body.remind_when_overdue,
        format: body.format,
        updated_at: now,
        monthly_report_from,
    };
    let seal = |name: &str, value: &str| {
        base64::engine::general_purpose::STANDARD.encode(state.vault.seal(
            code.as_str(),
            name,
            &Secret::new(value),
        ))
    };
    let (secret_sealed, shown) = match (&previous, body.rotate_secret) {
        (Some(previous), false) => (previous.secret_sealed.clone(), None),
        _ => {
            let secret = new_secret();
            (seal(SECRET_NAME, &secret), Some(secret))
        }
    };
    let stored = StoredRules {
        rules: rules.clone(),
        endpoint_sealed: seal(ENDPOINT_NAME, url.as_str()),
        secret_sealed,
    };
    store.put_rules(&code, &stored)?;
    let origin = origin_of(&url);
    let before = previous.as_ref().map(|previous| {
        super::audit::value(&view(
            &previous.rules,
            stored_origin(&state, code.as_str(), previous).unwrap_or_default(),
            None,
        ))
    });
    let mut after = super::audit::value(&view(&rules, origin.clone(), None));
    if let Some(object) = after.as_object_mut() {
        object.insert("secret_rotated".into(), shown.is_some().into());
    }
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "put_escalation",
        "escalation".into(),
        before,
        Some(after),
    );
    Ok(HttpResponse::Ok().json(view(&rules, origin, shown)))
}

/// `GET /v1/clients/{code}/escalation`: the rules (`configured: false` when none are set).
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/escalation",
    operation_id = "get_escalation",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath),
    responses(
        (status = 200, description = "The rules", body = EscalationView),
        Unauthorized, NotFound,
    )
)]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let Some(stored) = state.service.operations().rules(&code)? else {
        return Ok(HttpResponse::Ok().json(EscalationView {
            configured: false,
            endpoint_origin: String::new(),
            format: Format::Json,
            escalate: Vec::new(),
            remind_when_overdue: false,
            monthly_report: false,
            monthly_report_from: None,
            updated_at: String::new(),
            secret: None,
        }));
    };
    let origin = stored_origin(&state, code.as_str(), &stored)?;
    Ok(HttpResponse::Ok().json(view(&stored.rules, origin, None)))
}

/// `DELETE /v1/clients/{code}/escalation`: removes the rules; pending deliveries are given up.
#[utoipa::path(
    delete,
    path = "/v1/clients/{code}/escalation",
    operation_id = "delete_escalation",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath),
    responses(
        (status = 204, description = "Removed"),
        Unauthorized, Forbidden, NotFound,
    )
)]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let store = state.service.operations();
    let Some(previous) = store.rules(&code)? else {
        return Err(ApiError::not_found(format!(
            "{code} has no escalation rules"
        )));
    };
    store.remove_rules(&code)?;
    let origin = stored_origin(&state, code.as_str(), &previous).unwrap_or_default();
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "delete_escalation",
        "escalation".into(),
        Some(super::audit::value(&view(&previous.rules, origin, None))),
        None,
    );
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/clients/{code}/escalation/deliveries?cursor=&limit=`: the delivery log, oldest first.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/escalation/deliveries",
    operation_id = "list_escalation_deliveries",
    tag = "operations",
    security(("bearer" = [])),
    params(ClientPath, NumberPageQuery),
    responses(
        (status = 200, description = "Deliveries, oldest first", body = Page<DeliveryView>),
        BadRequest, Unauthorized, NotFound,
    )
)]
pub async fn deliveries(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    query: Result<web::Query<NumberPageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let request = NumberPageQuery::checked(query)?;
    let after = request.after.unwrap_or(0);
    let found = state
        .service
        .operations()
        .deliveries(&code, after, request.limit + 1)?;
    let page = PageRequest::<String> {
        after: None,
        limit: request.limit,
    }
    .page_from(found, |delivery| delivery.seq.to_string());
    Ok(HttpResponse::Ok().json(page.map(DeliveryView::from)))
}
