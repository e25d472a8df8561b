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
use super::paging::{Page, PageQuery};
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannelBody {
    #[schema(schema_with = schemas::channel_id)]
    pub id: String,
    #[schema(schema_with = schemas::platform)]
    pub platform: String,
    /// The marketplace's API base URL (the deployment's egress policy decides which are allowed).
    #[schema(format = "uri")]
    pub base_url: String,
    /// The name of the credential holding the API secret.
    #[schema(schema_with = schemas::credential_name)]
    pub credential: String,
    /// The platform's account settings (shop, seller, location, ...); a secret goes into a
    /// credential, named by `<key>_credential`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub account: serde_json::Map<String, Value>,
    /// The secret that authenticates the marketplace's order notifications, stored as a
    /// credential: Shopify's app client secret, Etsy's `whsec_` key, eBay's verification token,
    /// Walmart's `user:password` (basic auth) or client secret (HMAC), the EventBridge API
    /// destination's `x-api-key` value, TikTok Shop's app secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::listing_policy)]
    pub policy: ListingPolicy,
    #[serde(default)]
    #[schema(schema_with = schemas::rate_limit_overrides)]
    pub rate_limit: RateLimitOverrides,
    /// The marketplace app whose budgets the channel shares (`default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 64)]
    pub app: Option<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::push_order)]
    pub push_order: PushOrder,
    /// How often the order feed is polled. With notifications received (a `webhook_secret`),
    /// the poll is the backstop and runs at most every 60 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 100, maximum = 300000)]
    pub poll_interval_ms: Option<u64>,
}

/// What the API shows of a stored channel (no secret is in a record).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelView {
    #[schema(value_type = String)]
    pub id: ChannelId,
    #[schema(schema_with = schemas::platform)]
    pub platform: Platform,
    pub base_url: String,
    pub credential: String,
    #[schema(value_type = Object)]
    pub account: Value,
    /// Whether the marketplace's webhooks are taken (a webhook secret is stored).
    pub webhooks: bool,
    #[schema(schema_with = schemas::listing_policy)]
    pub policy: ListingPolicy,
    #[schema(schema_with = schemas::rate_limit_overrides)]
    pub rate_limit: RateLimitOverrides,
    pub app: String,
    #[schema(schema_with = schemas::push_order)]
    pub push_order: PushOrder,
    pub poll_interval_ms: u64,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// A channel with its live state, as `GET …/channels` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelStatus {
    #[serde(flatten)]
    pub channel: ChannelView,
    /// Whether its actor runs.
    pub state: RunState,
    /// Times the supervisor restarted it.
    pub restarts: u64,
    /// The listings it manages.
    pub listings: usize,
    /// Its actor's counters; absent while it does not run.
    #[serde(flatten)]
    pub live: Option<LiveChannel>,
}

/// Whether a channel's actor runs, as its supervisor says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// It runs.
    Running,
    /// It died and waits for its respawn.
    Restarting,
    /// It died too often and is not respawned.
    Quarantined,
    /// Its client's supervisor does not know it (it does not run).
    Stopped,
}

impl RunState {
    /// Its name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Restarting => "restarting",
            RunState::Quarantined => "quarantined",
            RunState::Stopped => "stopped",
        }
    }
}

/// The counters of a running channel.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LiveChannel {
    pub pending: usize,
    pub in_flight: usize,
    pub oldest_pending_seconds: f64,
    pub exposure_units: u64,
    pub skus_at_risk: usize,
    pub push_calls: u64,
    pub confirmed_items: u64,
    pub throttled: u64,
    pub failed: u64,
    pub last_error: Option<String>,
    pub waiting: Option<Wait>,
    pub feed: Option<Wait>,
    pub reconciliation: Option<Wait>,
    pub oldest_unverified_seconds: f64,
    pub drift_corrected: u64,
    pub stalls: u64,
    /// Order-feed pages applied (the poll; a backstop once notifications arrive).
    pub pages_applied: u64,
    /// Orders read because a notification named them.
    pub notified_reads: u64,
    /// When a read from the marketplace (a read-back or the order feed) last succeeded: the
    /// channel is verified live (RFC 3339; `null` before its first).
    pub last_read_at: Option<String>,
    /// Why the channel is failing now (its last call was refused for good, or several failed in
    /// a row); `null` while the marketplace answers.
    pub failing: Option<String>,
}

/// Why an activity of a channel waits, for a person: the reason, for how long it has waited for
/// it, and until when (`null` when it waits for an answer or nothing is due).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Wait {
    #[schema(value_type = String)]
    pub reason: WaitReason,
    pub for_seconds: f64,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    pub until: Option<DateTime<Utc>>,
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
    let view = ChannelView::from(&record);
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "create_channel",
        format!("channel/{}", record.id),
        None,
        Some(super::audit::value(&view)),
    );
    Ok(HttpResponse::Created().json(view))
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
    pub(super) fn at(wait: WaitView, now: DateTime<Utc>) -> Self {
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
            pages_applied: live.pages_applied,
            notified_reads: live.notified_reads,
            last_read_at: live
                .contact
                .last_read_ok_ms
                .map(crate::timestamp::rfc3339_ms),
            failing: live.contact.failing().map(|failure| {
                format!(
                    "{} failed ({:?}): {}",
                    failure.operation.as_str(),
                    failure.class,
                    failure.message
                )
            }),
        }
    }
}

/// `GET /v1/clients/{code}/channels?cursor=&limit=`: each channel with its live state, and for
/// each of its activities (pushing pending changes, reading the order feed, reading listings back)
/// why it waits and until when; a page at a time in channel id order.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/channels",
    operation_id = "list_channels",
    tag = "channels",
    security(("bearer" = [])),
    params(ClientPath, PageQuery),
    responses(
        (status = 200, description = "A page of channels with their live state", body = Page<ChannelStatus>),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let request = PageQuery::checked(query)?;
    let records = state
        .service
        .channels()
        .list(&code)
        .map_err(ServiceError::from)?;
    let page = request.page_of(records, |record| record.id.as_str());
    let supervision = state.service.tenant_state(&code).await.ok();
    let mut channels = Vec::with_capacity(page.items.len());
    for record in page.items {
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
                Some(ChildStatus::Running) => RunState::Running,
                Some(ChildStatus::Restarting) => RunState::Restarting,
                Some(ChildStatus::Quarantined) => RunState::Quarantined,
                None => RunState::Stopped,
            },
            restarts: status.map_or(0, |child| child.restarts),
            listings,
            live: live.map(|live| LiveChannel::at(live, state.service.now())),
        });
    }
    Ok(HttpResponse::Ok().json(Page {
        items: channels,
        next: page.next,
    }))
}
