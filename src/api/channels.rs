//! A client's marketplace connections: `POST /v1/clients/{code}/channels` connects one (validated
//! completely, including its connector settings and credentials, before anything is stored), and
//! `GET /v1/clients/{code}/channels` shows each with its live state from the engine.
//!
//! A channel sends its credentials to its `base_url`, so two more refusals protect them (see
//! `Service::add_channel`): 400 `base_url_not_allowed` when the deployment's egress policy refuses
//! the URL (`security.base_urls`, `security.allow_private_networks`), and 409
//! `credential_host_mismatch` when a credential it names is bound to other hosts.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shelfsync_actors::channel::messages::ChannelState;
use shelfsync_actors::channel::policy::ListingPolicy;
use shelfsync_actors::channel::scheduler::PushOrder;
use shelfsync_actors::channel::waiting::{WaitReason, WaitView};
use shelfsync_actors::ids::ChannelId;
use shelfsync_actors::platform::Platform;
use shelfsync_actors::ratelimit::RateLimitOverrides;
use shelfsync_actors::tenant::restart::ChildStatus;

use utoipa::ToSchema;

use super::clients::{visible_client, ClientPath};
use super::error::ApiError;
use super::openapi::responses::{
    BadRequest, BodyTimeout, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, Unavailable,
    UnsupportedMediaType,
};
use super::openapi::schemas;
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannelBody {
    #[schema(schema_with = schemas::channel_id)]
    id: String,
    #[schema(schema_with = schemas::platform)]
    platform: String,
    /// The marketplace's API base URL (the deployment's egress policy decides which are allowed).
    #[schema(format = "uri")]
    base_url: String,
    /// The name of the credential holding the API secret.
    #[schema(schema_with = schemas::credential_name)]
    credential: String,
    /// The platform's account settings (shop, seller, location, ...); a secret goes into a
    /// credential, named by `<key>_credential`.
    #[serde(default)]
    #[schema(value_type = Object)]
    account: serde_json::Map<String, Value>,
    /// The secret that signs the marketplace's webhooks (Shopify), stored as a credential.
    #[serde(default)]
    webhook_secret: Option<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::listing_policy)]
    policy: ListingPolicy,
    #[serde(default)]
    #[schema(schema_with = schemas::rate_limit_overrides)]
    rate_limit: RateLimitOverrides,
    /// The marketplace app whose budgets the channel shares (`default`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    app: Option<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::push_order)]
    push_order: PushOrder,
    /// How often the order feed is polled.
    #[serde(default)]
    #[schema(minimum = 100, maximum = 300000)]
    poll_interval_ms: Option<u64>,
}

/// What the API shows of a stored channel (no secret is in a record).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    #[schema(value_type = String)]
    id: ChannelId,
    #[schema(schema_with = schemas::platform)]
    platform: Platform,
    base_url: String,
    credential: String,
    #[schema(value_type = Object)]
    account: Value,
    /// Whether the marketplace's webhooks are taken (a webhook secret is stored).
    webhooks: bool,
    #[schema(schema_with = schemas::listing_policy)]
    policy: ListingPolicy,
    #[schema(schema_with = schemas::rate_limit_overrides)]
    rate_limit: RateLimitOverrides,
    app: String,
    #[schema(schema_with = schemas::push_order)]
    push_order: PushOrder,
    poll_interval_ms: u64,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
}

/// A channel with its live state, as `GET …/channels` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelStatus {
    #[serde(flatten)]
    channel: ChannelView,
    /// `running`, `restarting`, `quarantined` or `stopped`.
    state: &'static str,
    /// Times the supervisor restarted it.
    restarts: u64,
    /// The listings it manages.
    listings: usize,
    /// Its actor's counters; absent while it does not run.
    #[serde(flatten)]
    live: Option<LiveChannel>,
}

/// The counters of a running channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveChannel {
    pending: usize,
    in_flight: usize,
    oldest_pending_seconds: f64,
    exposure_units: u64,
    skus_at_risk: usize,
    push_calls: u64,
    confirmed_items: u64,
    throttled: u64,
    failed: u64,
    last_error: Option<String>,
    waiting: Option<Wait>,
    feed: Option<Wait>,
    reconciliation: Option<Wait>,
    oldest_unverified_seconds: f64,
    drift_corrected: u64,
    stalls: u64,
}

/// Why an activity of a channel waits, for a person: the reason, for how long it has waited for
/// it, and until when (`null` when it waits for an answer or nothing is due).
#[derive(Debug, Serialize, ToSchema)]
pub struct Wait {
    #[schema(value_type = String)]
    reason: WaitReason,
    for_seconds: f64,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    until: Option<DateTime<Utc>>,
}

/// `POST /v1/clients/{code}/channels`: managers and admins.
#[utoipa::path(
    post,
    path = "/v1/clients/{code}/channels",
    operation_id = "create_channel",
    tag = "channels",
    security(("bearer" = [])),
    params(ClientPath),
    request_body = NewChannelBody,
    responses(
        (status = 201, description = "The channel, started", body = ChannelView),
        BadRequest, Unauthorized, Forbidden, NotFound, BodyTimeout, Conflict, TooLarge,
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
        created_at: state.service.now(),
    };
    state
        .service
        .add_channel(&code, record.clone(), webhook_secret)
        .await?;
    Ok(HttpResponse::Created().json(ChannelView::from(&record)))
}

impl From<&ChannelRecord> for ChannelView {
    fn from(record: &ChannelRecord) -> Self {
        Self {
            id: record.id.clone(),
            platform: record.platform,
            base_url: record.base_url.clone(),
            credential: record.credential.clone(),
            account: record.account.clone(),
            webhooks: record.webhook_credential.is_some(),
            policy: record.policy,
            rate_limit: record.rate_limit.clone(),
            app: record.app.clone(),
            push_order: record.push_order,
            poll_interval_ms: record.poll_interval_ms,
            created_at: record.created_at,
        }
    }
}

impl Wait {
    /// The wait as seen at `now`: it ends `remaining_ms` after.
    fn at(wait: WaitView, now: DateTime<Utc>) -> Self {
        let until = wait
            .remaining_ms
            .map(|ms| now + chrono::Duration::milliseconds(ms.min(i64::MAX as u64) as i64));
        Self {
            reason: wait.reason,
            for_seconds: wait.for_ms as f64 / 1000.0,
            until,
        }
    }
}

impl LiveChannel {
    /// The counters of `live`, its waits seen at `now`.
    fn at(live: ChannelState, now: DateTime<Utc>) -> Self {
        let seconds = |ms: Option<u64>| ms.map_or(0.0, |ms| ms as f64 / 1000.0);
        Self {
            pending: live.queue.pending,
            in_flight: live.queue.in_flight,
            oldest_pending_seconds: seconds(live.queue.oldest_pending_ms),
            exposure_units: live.queue.exposure_units,
            skus_at_risk: live.queue.skus_at_risk,
            push_calls: live.push_calls,
            confirmed_items: live.confirmed_items,
            throttled: live.throttled,
            failed: live.failed,
            last_error: live.last_error,
            waiting: live.waiting.map(|wait| Wait::at(wait, now)),
            feed: live.feed.map(|wait| Wait::at(wait, now)),
            reconciliation: live.reconciliation.map(|wait| Wait::at(wait, now)),
            oldest_unverified_seconds: seconds(live.queue.oldest_unverified_ms),
            drift_corrected: live.drift_corrected,
            stalls: live.stalls,
        }
    }
}

/// `GET /v1/clients/{code}/channels`: each channel with its live state, and for each of its
/// activities (pushing pending changes, reading the order feed, reading listings back) why it
/// waits and until when.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/channels",
    operation_id = "list_channels",
    tag = "channels",
    security(("bearer" = [])),
    params(ClientPath),
    responses(
        (status = 200, description = "Each channel with its live state", body = Vec<ChannelStatus>),
        Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let records = state
        .service
        .channels()
        .list(&code)
        .map_err(ServiceError::from)?;
    let supervision = state.service.tenant_state(&code).await.ok();
    let mut channels = Vec::with_capacity(records.len());
    for record in records {
        let status = supervision
            .as_ref()
            .and_then(|tenant| tenant.channels.iter().find(|(id, _)| *id == record.id))
            .map(|(_, child)| child.clone());
        let listings = state
            .service
            .channels()
            .listings(&code, &record.id)
            .map_or(0, |listings| listings.len());
        let live = state.service.channel_state(&code, &record.id).await?;
        channels.push(ChannelStatus {
            channel: ChannelView::from(&record),
            state: match status.as_ref().map(|child| child.status) {
                Some(ChildStatus::Running) => "running",
                Some(ChildStatus::Restarting) => "restarting",
                Some(ChildStatus::Quarantined) => "quarantined",
                None => "stopped",
            },
            restarts: status.map_or(0, |child| child.restarts),
            listings,
            live: live.map(|live| LiveChannel::at(live, state.service.now())),
        });
    }
    Ok(HttpResponse::Ok().json(channels))
}
