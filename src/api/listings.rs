//! A listing's history and the explain query (issue 15: "why did Etsy show 3 at 14:02"):
//!
//! - `GET /v1/clients/{code}/channels/{channel}/listings/{sku}/history?after=&limit=`: what
//!   happened to the listing, oldest first: each push sent (with the ledger sequence number and
//!   the policy it was computed from), confirmed or refused, and each read that found the
//!   marketplace showing another number than the channel believed.
//! - `GET …/listings/{sku}/explain?at=<RFC 3339>`: what the marketplace showed at `at`, since
//!   when, the event that says so, the ledger entries and policy that made that number, and a
//!   newer number pending by then with why.
//!
//! Scoped like every client route (another team's client is a 404; viewers may read). A channel
//! the client does not have is a 404 `not_found`, like any path naming nothing (the code
//! `unknown_channel` is a 400 for a channel named in a body or a catalog row). A SKU the channel
//! never pushed or read is not an error: its history is empty and `shown` is `null` (a listing
//! may simply not have been pushed yet, and the ledger cannot tell that from a mistyped SKU
//! without its catalog, which `GET …/stock/{sku}` answers).
//!
//! Times in the history are the engine's clock (the one stamping journal entries), so `at` is
//! compared with both on one clock. Without `at`, the explanation covers everything recorded and
//! a pending number also tells why the channel waits now (its live state).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_actors::channel::policy::ListingPolicy;
use shelfsync_actors::ids::ChannelId;
use shelfsync_actors::inventory::history::{
    Explanation, LevelAt, ListingWhat, PendingWhy, RecordedEvent, MAX_HISTORY_PAGE,
};
use shelfsync_actors::inventory::ledger::JournalEntry;
use shelfsync_actors::inventory::messages::{ExplainListing, GetListingHistory};

use utoipa::{IntoParams, ToSchema};

use super::channels::Wait;
use super::clients::visible_client;
use super::error::{ApiError, Code};
use super::openapi::responses::{BadRequest, NotFound, Unauthorized, Unavailable};
use super::openapi::schemas;
use super::stock::path_sku;
use super::{ApiState, Caller};
use crate::auth::Action;
use crate::clients::channels::ChannelRecord;
use crate::service::ServiceError;

/// The client, channel and SKU of a listing's path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ListingPath {
    /// The client's code.
    #[param(example = "ACME")]
    code: String,
    /// The channel's id.
    #[param(example = "etsy", schema_with = schemas::channel_id)]
    channel: String,
    /// The SKU (trimmed and upper-cased).
    #[param(example = "ACME-MUG", schema_with = schemas::sku)]
    sku: String,
}

/// The query of `GET …/history`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Events after this id (the last page's `next_after`).
    #[serde(default)]
    pub after: u64,
    /// At most this many (1 to 1000, 100 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The query of `GET …/explain`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExplainQuery {
    /// The instant (RFC 3339); absent: now, with the channel's live reason for a pending number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(format = DateTime, example = "2026-12-03T14:02:00.000Z")]
    pub at: Option<String>,
}

/// One event of a listing's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListingEventView {
    /// Its id (orders the history; the cursor of its pages).
    pub id: u64,
    /// When it happened.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub at: DateTime<Utc>,
    /// `kind` (`sent`, `confirmed`, `refused`, `read`) and its fields: `quantity`, and
    /// `ledger_seq` for a push, `policy` for a sent one, `reason` (`invalid`, `not_found`,
    /// `auth`, `listing_suspended`, `account_flagged`) for a refused one, `drift` for a read.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub what: ListingWhat,
}

/// A page of a listing's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryPage {
    pub events: Vec<ListingEventView>,
    /// The last event's id (the query's `after` when the page is empty): ask again `after` it.
    pub next_after: u64,
}

/// What made the number shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComputedFromView {
    /// The ledger sequence number the pushed quantity was computed from.
    pub ledger_seq: u64,
    /// The policy it was computed by (the platform's largest quantity folded into `max`);
    /// `null` when the push's sent event is not in the history.
    #[schema(value_type = Option<Object>)]
    pub policy: Option<ListingPolicy>,
    /// The SKU's `on_hand`, `reserved` and `available` at `ledger_seq` (`null`: older than the
    /// journal window an explanation reads).
    #[schema(value_type = Option<Object>)]
    pub available_at_seq: Option<LevelAt>,
    /// The SKU's journal entries up to `ledger_seq`, the last 50.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<JournalEntry>,
    /// Whether older entries exist that `entries` leaves out.
    pub entries_cut: bool,
}

/// A newer number that the marketplace did not show yet.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PendingView {
    /// The last journal entry of the SKU by then.
    pub ledger_seq: u64,
    /// Available after it.
    pub available: i64,
    /// What the policy lists for it.
    pub target: u32,
    /// Since when the target differed from what was shown.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub since: DateTime<Utc>,
    /// What is known of why: `sent_not_confirmed` (`sent_at_ms`, `confirmed_at_ms` when it was
    /// later), `refused` (`reason`), or `not_sent`.
    #[schema(value_type = Object)]
    pub why: PendingWhy,
    /// Why the channel's pushes wait now (only when `at` was not given).
    pub waiting: Option<Wait>,
}

/// The answer of the explain query.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExplainView {
    /// The instant explained (`null`: now).
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    pub at: Option<DateTime<Utc>>,
    /// What the marketplace showed (`null`: nothing recorded of the listing by then).
    pub shown: Option<u32>,
    /// Since when.
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    pub since: Option<DateTime<Utc>>,
    /// The event that says so: a confirmed push or a read.
    pub evidence: Option<ListingEventView>,
    /// The ledger state and policy behind it (`null` for a read: the marketplace's own number).
    pub computed_from: Option<ComputedFromView>,
    /// A newer number pending by then.
    pub pending: Option<PendingView>,
}

/// A time of the engine's clock (milliseconds since the Unix epoch).
fn time(ms: u64) -> DateTime<Utc> {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl From<RecordedEvent> for ListingEventView {
    fn from(event: RecordedEvent) -> Self {
        Self {
            id: event.id,
            at: time(event.event.at_ms),
            what: event.event.what,
        }
    }
}

/// The listing a path names, checked: the client visible to the caller for reading, a channel
/// it has (else 404), a valid SKU (else 400 `invalid_sku`).
fn listing(
    caller: &Caller,
    state: &ApiState,
    path: &ListingPath,
) -> Result<
    (
        shelfsync_actors::ids::ClientCode,
        ChannelRecord,
        shelfsync_actors::ids::Sku,
    ),
    ApiError,
> {
    let code = visible_client(caller, state, &path.code, Action::Read)?;
    let no_channel = || ApiError::not_found(format!("{} has no channel {}", code, path.channel));
    let id = ChannelId::parse(&path.channel).map_err(|_| no_channel())?;
    let record = state
        .service
        .channels()
        .get(&code, &id)
        .map_err(ServiceError::from)?
        .ok_or_else(no_channel)?;
    let sku = path_sku(&path.sku)?;
    Ok((code, record, sku))
}

/// `GET /v1/clients/{code}/channels/{channel}/listings/{sku}/history?after=&limit=` (limit 1 to
/// 1000, 100 by default): `{events, next_after}`, oldest first; ask again from `next_after`
/// until the page is short.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/channels/{channel}/listings/{sku}/history",
    operation_id = "listing_history",
    tag = "channels",
    security(("bearer" = [])),
    params(ListingPath, HistoryQuery),
    responses(
        (status = 200, description = "The listing's events, oldest first", body = HistoryPage),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn history(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ListingPath>,
    query: Result<web::Query<HistoryQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let (code, record, sku) = listing(&caller, &state, &path)?;
    let query = query
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::invalid(format!("the query: {error}")))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("limit must be 1 to {MAX_HISTORY_PAGE}"),
        ));
    }
    let ask = GetListingHistory {
        channel: record.id,
        sku,
        after_id: query.after,
        limit,
    };
    let page = state.service.ask_ledger(&code, ask).await??;
    let next_after = page.last().map_or(query.after, |event| event.id);
    Ok(HttpResponse::Ok().json(HistoryPage {
        events: page.into_iter().map(ListingEventView::from).collect(),
        next_after,
    }))
}

/// `GET /v1/clients/{code}/channels/{channel}/listings/{sku}/explain?at=`: what the listing
/// showed at `at` (RFC 3339; now when absent) and why.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/channels/{channel}/listings/{sku}/explain",
    operation_id = "explain_listing",
    tag = "channels",
    security(("bearer" = [])),
    params(ListingPath, ExplainQuery),
    responses(
        (status = 200, description = "What the listing showed then, and why", body = ExplainView),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn explain(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ListingPath>,
    query: Result<web::Query<ExplainQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let (code, record, sku) = listing(&caller, &state, &path)?;
    let query = query
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::invalid(format!("the query: {error}")))?;
    let at = query
        .at
        .as_deref()
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .and_then(|time| u64::try_from(time.timestamp_millis()).ok())
                .ok_or_else(|| {
                    ApiError::invalid(format!("at: {text:?} is not an RFC 3339 time after 1970"))
                })
        })
        .transpose()?;
    Ok(HttpResponse::Ok().json(explain_view(&state, &code, &record, sku, at).await?))
}

/// What listing `sku` of channel `record` of `code` showed at `at` (Unix milliseconds; `None`:
/// now) and why: the API's explain query and the console's "why" panel both answer from here.
pub async fn explain_view(
    state: &ApiState,
    code: &shelfsync_actors::ids::ClientCode,
    record: &ChannelRecord,
    sku: shelfsync_actors::ids::Sku,
    at: Option<u64>,
) -> Result<ExplainView, ApiError> {
    let ask = ExplainListing {
        channel: record.id.clone(),
        sku,
        // No instant: everything recorded.
        at_ms: at.unwrap_or(u64::MAX),
        policy_now: record.policy,
    };
    let explanation: Explanation = state.service.ask_ledger(code, ask).await??;
    // Only "now" has a live reason: the channel's state says why it waits at this moment.
    let waiting = match (&explanation.pending, at) {
        (Some(_), None) => state
            .service
            .channel_state(code, &record.id)
            .await?
            .and_then(|live| live.waiting)
            .map(|wait| Wait::at(wait, state.service.now())),
        _ => None,
    };
    Ok(ExplainView {
        at: at.map(time),
        shown: explanation.shown,
        since: explanation.since_ms.map(time),
        evidence: explanation.evidence.map(ListingEventView::from),
        computed_from: explanation.computed_from.map(|from| ComputedFromView {
            ledger_seq: from.ledger_seq,
            policy: from.policy,
            available_at_seq: from.available_at_seq,
            entries: from.entries,
            entries_cut: from.entries_cut,
        }),
        pending: explanation.pending.map(|pending| PendingView {
            ledger_seq: pending.ledger_seq,
            available: pending.available,
            target: pending.target,
            since: time(pending.since_ms),
            why: pending.why,
            waiting,
        }),
    })
}
