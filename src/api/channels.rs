//! A client's marketplace connections: `POST /v1/clients/{code}/channels` connects one (validated
//! completely, including its connector settings and credentials, before anything is stored), and
//! `GET /v1/clients/{code}/channels` shows each with its live state from the engine.
//!
//! A channel sends its credentials to its `base_url`, so two more refusals protect them (see
//! `Service::add_channel`): 400 `base_url_not_allowed` when the deployment's egress policy refuses
//! the URL (`security.base_urls`, `security.allow_private_networks`), and 409
//! `credential_host_mismatch` when a credential it names is bound to other hosts.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use shelfsync_actors::channel::policy::ListingPolicy;
use shelfsync_actors::channel::scheduler::PushOrder;
use shelfsync_actors::channel::waiting::WaitView;
use shelfsync_actors::ids::ChannelId;
use shelfsync_actors::platform::Platform;
use shelfsync_actors::ratelimit::RateLimitOverrides;
use shelfsync_actors::tenant::restart::ChildStatus;

use super::clients::visible_client;
use super::error::ApiError;
use super::{read_json, ApiState, Caller};
use crate::auth::Action;
use crate::clients::channels::ChannelRecord;
use crate::clients::validate_credential_name;
use crate::service::ServiceError;
use crate::vault::Secret;

/// The longest marketplace app name.
const MAX_APP: usize = 64;
/// Order feeds are polled at most this often (an agency's budget is shared by many clients).
const MIN_POLL_MS: u64 = 100;
/// And at least this often.
const MAX_POLL_MS: u64 = 300_000;
/// Account keys that would hold a secret; secrets go into credentials (`<name>_credential`).
const SECRET_WORDS: [&str; 4] = ["secret", "token", "password", "private"];

/// The body of `POST /v1/clients/{code}/channels`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChannelBody {
    id: String,
    platform: String,
    base_url: String,
    credential: String,
    #[serde(default)]
    account: serde_json::Map<String, Value>,
    #[serde(default)]
    webhook_secret: Option<String>,
    #[serde(default)]
    policy: ListingPolicy,
    #[serde(default)]
    rate_limit: RateLimitOverrides,
    #[serde(default)]
    app: Option<String>,
    #[serde(default)]
    push_order: PushOrder,
    #[serde(default)]
    poll_interval_ms: Option<u64>,
}

/// `POST /v1/clients/{code}/channels`: managers and admins.
pub async fn create(
    caller: Caller,
    state: web::Data<ApiState>,
    code: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &code, Action::Write)?;
    let body: NewChannelBody = read_json(&state, &request, payload).await?;
    let id =
        ChannelId::parse(&body.id).map_err(|error| ApiError::invalid(format!("id: {error}")))?;
    let platform = Platform::parse(&body.platform).ok_or_else(|| {
        ApiError::invalid(format!(
            "platform {:?} is not one of shopify, etsy, amazon, walmart, ebay",
            body.platform
        ))
    })?;
    validate_credential_name(&body.credential)
        .map_err(|error| ApiError::invalid(format!("credential: {error}")))?;
    for (key, value) in &body.account {
        let lower = key.to_lowercase();
        if key.ends_with("_credential") {
            let name = value.as_str().ok_or_else(|| {
                ApiError::invalid(format!("account.{key} must name a credential"))
            })?;
            validate_credential_name(name)
                .map_err(|error| ApiError::invalid(format!("account.{key}: {error}")))?;
        } else if SECRET_WORDS.iter().any(|word| lower.contains(word)) {
            return Err(ApiError::invalid(format!(
                "account.{key} looks like a secret: store it as a credential and send \
                 account.{key}_credential with its name instead"
            )));
        }
    }
    let app = body.app.unwrap_or_else(|| "default".to_string());
    if app.is_empty() || app.len() > MAX_APP || app.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "app must be 1 to {MAX_APP} characters"
        )));
    }
    let poll_interval_ms = body.poll_interval_ms.unwrap_or(5_000);
    if !(MIN_POLL_MS..=MAX_POLL_MS).contains(&poll_interval_ms) {
        return Err(ApiError::invalid(format!(
            "poll_interval_ms must be {MIN_POLL_MS} to {MAX_POLL_MS}"
        )));
    }
    let webhook_secret = body.webhook_secret.map(Secret::new);
    let record = ChannelRecord {
        webhook_credential: webhook_secret
            .as_ref()
            .map(|_| format!("webhook.{}", id.as_str())),
        id,
        platform,
        base_url: body.base_url,
        credential: body.credential,
        account: Value::Object(body.account),
        policy: body.policy,
        rate_limit: body.rate_limit,
        app,
        push_order: body.push_order,
        poll_interval_ms,
        created_at: crate::timestamp::rfc3339(chrono::Utc::now()),
    };
    state
        .service
        .add_channel(&code, record.clone(), webhook_secret)
        .await?;
    Ok(HttpResponse::Created().json(channel_json(&record)))
}

/// What the API shows of a stored channel (no secret is in a record).
fn channel_json(record: &ChannelRecord) -> Value {
    json!({
        "id": record.id,
        "platform": record.platform,
        "base_url": record.base_url,
        "credential": record.credential,
        "account": record.account,
        "webhooks": record.webhook_credential.is_some(),
        "policy": record.policy,
        "rate_limit": record.rate_limit,
        "app": record.app,
        "push_order": record.push_order,
        "poll_interval_ms": record.poll_interval_ms,
        "created_at": record.created_at,
    })
}

/// Why an activity of a channel waits, for a person: the reason, for how long it has waited for
/// it, and until when (`null` when it waits for an answer or nothing is due).
fn wait_json(wait: Option<WaitView>) -> Value {
    let Some(wait) = wait else {
        return Value::Null;
    };
    let until = wait.remaining_ms.map(|ms| {
        let at =
            chrono::Utc::now() + chrono::Duration::milliseconds(ms.min(i64::MAX as u64) as i64);
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    });
    json!({
        "reason": wait.reason,
        "for_seconds": wait.for_ms as f64 / 1000.0,
        "until": until,
    })
}

/// `GET /v1/clients/{code}/channels`: each channel with its live state, and for each of its
/// activities (pushing pending changes, reading the order feed, reading listings back) why it
/// waits and until when.
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &code, Action::Read)?;
    let records = state
        .service
        .channels()
        .list(&code)
        .map_err(ServiceError::from)?;
    let supervision = state.service.tenant_state(&code).await.ok();
    let mut channels = Vec::with_capacity(records.len());
    for record in records {
        let mut shown = channel_json(&record);
        let status = supervision
            .as_ref()
            .and_then(|tenant| tenant.channels.iter().find(|(id, _)| *id == record.id))
            .map(|(_, child)| child.clone());
        shown["state"] = json!(match status.as_ref().map(|child| child.status) {
            Some(ChildStatus::Running) => "running",
            Some(ChildStatus::Restarting) => "restarting",
            Some(ChildStatus::Quarantined) => "quarantined",
            None => "stopped",
        });
        shown["restarts"] = json!(status.map_or(0, |child| child.restarts));
        shown["listings"] = json!(state
            .service
            .channels()
            .listings(&code, &record.id)
            .map_or(0, |listings| listings.len()));
        if let Some(live) = state.service.channel_state(&code, &record.id).await? {
            shown["pending"] = json!(live.queue.pending);
            shown["in_flight"] = json!(live.queue.in_flight);
            shown["oldest_pending_seconds"] = json!(live
                .queue
                .oldest_pending_ms
                .map_or(0.0, |ms| ms as f64 / 1000.0));
            shown["exposure_units"] = json!(live.queue.exposure_units);
            shown["skus_at_risk"] = json!(live.queue.skus_at_risk);
            shown["push_calls"] = json!(live.push_calls);
            shown["confirmed_items"] = json!(live.confirmed_items);
            shown["throttled"] = json!(live.throttled);
            shown["failed"] = json!(live.failed);
            shown["last_error"] = json!(live.last_error);
            shown["waiting"] = wait_json(live.waiting);
            shown["feed"] = wait_json(live.feed);
            shown["reconciliation"] = wait_json(live.reconciliation);
            shown["oldest_unverified_seconds"] = json!(live
                .queue
                .oldest_unverified_ms
                .map_or(0.0, |ms| ms as f64 / 1000.0));
            shown["drift_corrected"] = json!(live.drift_corrected);
            shown["stalls"] = json!(live.stalls);
        }
        channels.push(shown);
    }
    Ok(HttpResponse::Ok().json(channels))
}
