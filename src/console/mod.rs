//! The operator console (issue 16), served by the service itself on the API port: no separate
//! server, no build step, nothing fetched from the internet (the stylesheet and script are
//! embedded in the binary).
//!
//! **Why server-rendered pages with a little JavaScript.** The console shows state the service
//! already holds; rendering it where it lives (`maud`: markup checked at compile time, every value
//! escaped) needs no second application, no bundler and no JSON shapes to keep in step with a
//! client. Forms work without script; the script only refreshes the overview every few seconds
//! and submits the one-click sign-in link. Everything is on the service's own origin.
//!
//! **Security.** A member signs in with their token once (`POST /signin`); the browser then
//! holds only a session id in an `HttpOnly`, `SameSite=Strict` cookie ([`session`]). Every form
//! carries the session's CSRF token, checked before anything is read or changed; a viewer sees
//! no write control and the server refuses their writes anyway (the same authorization as the
//! API: [`crate::auth::Member::authorize`]). Every page is sent with a Content-Security-Policy
//! allowing only the console's own scripts, styles, images and requests, no framing, and forms
//! posting only to this origin.
//!
//! Routes: `GET /` (the overview, `?sort=&q=`), `GET /console/rows` (its rows, refreshed),
//! `GET /clients/{code}` (a client, `?q=&after=` pages its stock), `POST
//! /clients/{code}/exceptions/{id}` (work an exception), `POST
//! /clients/{code}/checklists/{id}/items/{key}` (tick an item), `GET /clients/{code}/skus/{sku}`
//! (a SKU's timeline, `?at=` explains an instant), `GET /clients/{code}/reports/{month}` and
//! `…/pdf` (the monthly report),
//! `GET`/`POST /signin`, `POST /signout`, `GET /console/assets/{file}`.

pub mod overview;
pub mod pages;
pub mod report;
pub mod session;
pub mod timeline;

use std::time::Instant;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::Markup;
use serde::Deserialize;
use shelfsync_actors::ids::ClientCode;

use self::overview::{arrange, ProgressCache, SortKey};
use self::pages::ChannelLine;
use self::session::{random_token, same_token, Session, Sessions, SESSION_COOKIE, SIGNIN_COOKIE};
use crate::api::exceptions::{apply_transition, ExceptionView};
use crate::api::{ApiState, Caller};
use crate::auth::{Action, Member, TokenHash};
use crate::operations::queue::{Resolution, Transition};
use crate::operations::rotation::rotation;

/// The Content-Security-Policy of every console response: only this origin's own assets and
/// requests, no inline script or style, no plugins, no framing, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("assets/console.css");
const SCRIPT: &str = include_str!("assets/console.js");

/// What the console keeps beside the API's state.
#[derive(Debug, Default)]
pub struct ConsoleState {
    /// The signed-in browsers.
    pub sessions: Sessions,
    /// Launch progress reused between overviews.
    pub progress: ProgressCache,
}

/// Adds the console's routes to an app whose data holds the API's and the console's state.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(overview_page))
        .route("/console/rows", web::get().to(overview_rows))
        .route("/clients/{code}", web::get().to(client_page))
        .route(
            "/clients/{code}/exceptions/{id}",
            web::post().to(work_exception),
        )
        .route(
            "/clients/{code}/checklists/{id}/items/{key}",
            web::post().to(tick_item),
        )
        .route("/clients/{code}/skus/{sku}", web::get().to(sku_page))
        .route(
            "/clients/{code}/reports/{month}",
            web::get().to(report_page),
        )
        .route(
            "/clients/{code}/reports/{month}/pdf",
            web::get().to(report_pdf),
        )
        .route("/signin", web::get().to(signin_page))
        .route("/signin", web::post().to(signin))
        .route("/signout", web::post().to(signout))
        .route("/console/assets/{file}", web::get().to(asset));
}

/// A page with the console's headers.
fn page(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn cookie(name: &'static str, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

/// Why a console request is not answered with its page. One taxonomy, each variant with its
/// status; a failure is logged whole and shown only as a failure.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: the browser is sent to the sign-in form.
    #[error("sign in first")]
    SignIn,
    /// No live session on a fragment a script fetches: a bare 401.
    #[error("sign in first")]
    Unauthorized,
    /// The client or exception does not exist, or the member may not see it.
    #[error("{0}")]
    NotFound(&'static str),
    /// The member's role may not, or the form's CSRF token is not the session's.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The form is not valid.
    #[error("{0}")]
    BadForm(&'static str),
    /// The operation refused it (the API's code and detail).
    #[error("{detail}")]
    Refused {
        /// The API code's status.
        status: u16,
        /// What is wrong.
        detail: String,
    },
    /// Something failed inside; logged where it happened.
    #[error("the service could not answer; try again")]
    Failure,
}

impl ConsoleError {
    fn failed(error: impl std::fmt::Display) -> ConsoleError {
        tracing::error!(%error, "a console page failed");
        ConsoleError::Failure
    }
}

impl From<crate::service::ServiceError> for ConsoleError {
    /// What the API would answer a caller's mistake with (its one error taxonomy: a 4xx with
    /// its detail), or a failure, logged.
    fn from(error: crate::service::ServiceError) -> Self {
        use crate::api::error::ErrorCode as _;
        let status = error.error_code().status();
        if status.is_client_error() {
            ConsoleError::Refused {
                status: status.as_u16(),
                detail: error.to_string(),
            }
        } else {
            ConsoleError::failed(error)
        }
    }
}

impl From<crate::clients::ClientStoreError> for ConsoleError {
    fn from(error: crate::clients::ClientStoreError) -> Self {
        ConsoleError::failed(error)
    }
}

impl From<crate::operations::OperationsError> for ConsoleError {
    fn from(error: crate::operations::OperationsError) -> Self {
        ConsoleError::failed(error)
    }
}

impl actix_web::ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn => StatusCode::SEE_OTHER,
            ConsoleError::Unauthorized => StatusCode::UNAUTHORIZED,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::BadForm(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Refused { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ConsoleError::Failure => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::SignIn => redirect("/signin"),
            ConsoleError::Unauthorized => HttpResponse::Unauthorized().finish(),
            _ => page(
                self.status_code(),
                pages::problem(None, "Refused", &self.to_string()),
            ),
        }
    }
}

/// The signed-in member of a request and their session.
fn signed_in(request: &HttpRequest) -> Result<(ApiStateRef, Member, Session), ConsoleError> {
    let state = api_state(request)?;
    let console = console_state(request)?;
    let id = request
        .cookie(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_string())
        .ok_or(ConsoleError::SignIn)?;
    let session = console
        .sessions
        .get(&id, Instant::now())
        .ok_or(ConsoleError::SignIn)?;
    // Looked up again each time: a member disabled since sign-in is signed out now.
    match state.members.get(&session.member) {
        Ok(Some(member)) if member.active() => Ok((state, member, session)),
        Ok(_) => {
            console.sessions.end(&id);
            Err(ConsoleError::SignIn)
        }
        Err(error) => Err(ConsoleError::failed(error)),
    }
}

type ApiStateRef = web::Data<ApiState>;

fn api_state(request: &HttpRequest) -> Result<ApiStateRef, ConsoleError> {
    request
        .app_data::<web::Data<ApiState>>()
        .cloned()
        .ok_or_else(|| ConsoleError::failed("no API state"))
}

fn console_state(request: &HttpRequest) -> Result<web::Data<ConsoleState>, ConsoleError> {
    request
        .app_data::<web::Data<ConsoleState>>()
        .cloned()
        .ok_or_else(|| ConsoleError::failed("no console state"))
}

/// The overview's query.
#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    /// The column to sort by.
    #[serde(default)]
    pub sort: Option<SortKey>,
    /// Only clients whose code or name contains this.
    #[serde(default)]
    pub q: Option<String>,
}

async fn rows_of(
    state: &ApiState,
    request: &HttpRequest,
    member: &Member,
    query: &OverviewQuery,
) -> Result<Vec<overview::ClientRow>, ConsoleError> {
    let console = console_state(request)?;
    let rows = overview::rows(
        &state.service,
        member,
        &console.progress,
        state.service.now(),
    )
    .await?;
    let filter: String = query
        .q
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect();
    Ok(arrange(rows, query.sort.unwrap_or(SortKey::Code), &filter))
}

async fn overview_page(
    request: HttpRequest,
    query: Option<web::Query<OverviewQuery>>,
) -> Result<HttpResponse, ConsoleError> {
    let (state, member, session) = signed_in(&request)?;
    let query = query.map(web::Query::into_inner).unwrap_or_default();
    let rows = rows_of(&state, &request, &member, &query).await?;
    let filter = query.q.as_deref().unwrap_or_default();
    let sort = query.sort.unwrap_or(SortKey::Code);
    Ok(page(
        StatusCode::OK,
        pages::overview(&member, &session.csrf, &rows, sort, filter),
    ))
}

async fn overview_rows(
    request: HttpRequest,
    query: Option<web::Query<OverviewQuery>>,
) -> Result<HttpResponse, ConsoleError> {
    let (state, member, _) = signed_in(&request).map_err(|error| match error {
        ConsoleError::SignIn => ConsoleError::Unauthorized,
        error => error,
    })?;
    let query = query.map(web::Query::into_inner).unwrap_or_default();
    let rows = rows_of(&state, &request, &member, &query).await?;
    Ok(page(StatusCode::OK, pages::overview_rows(&rows)))
}

/// The client a path names, if the member may `action` on it; a client they may not see is one
/// that does not exist (404), as in the API.
fn visible(member: &Member, code: &str, action: Action) -> Result<ClientCode, ConsoleError> {
    let not_found = ConsoleError::NotFound("There is no client with that code.");
    let code = ClientCode::parse(code).map_err(|_| not_found)?;
    match member.authorize(action, Some(code.as_str())) {
        Ok(()) => Ok(code),
        Err(crate::auth::Denied::UnknownClient { .. }) => {
            Err(ConsoleError::NotFound("There is no client with that code."))
        }
        Err(_) => Err(ConsoleError::Forbidden("Your role may not do this.")),
    }
}

/// The query of a client's page: its stock table's search and page.
#[derive(Debug, Default, Deserialize)]
pub struct StockQuery {
    /// Only SKUs that begin with this (upper-cased, like every SKU).
    #[serde(default)]
    pub q: Option<String>,
    /// The page after this SKU.
    #[serde(default)]
    pub after: Option<String>,
}

/// SKUs per page of a client's stock table.
const STOCK_PAGE: usize = 50;

/// A page of the client's stock with each channel's target, listed and pending: from `after`,
/// or the SKUs beginning with `q` (the one equal to it first).
async fn stock_page(
    state: &ApiState,
    code: &ClientCode,
    query: StockQuery,
) -> Result<pages::StockTable, ConsoleError> {
    use shelfsync_actors::ids::Sku;
    use shelfsync_actors::inventory::messages::{GetStock, GetStockPage};

    let prefix = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .and_then(|q| Sku::parse(q).ok());
    let after = query
        .after
        .as_deref()
        .and_then(|after| Sku::parse(after).ok());
    let mut levels = Vec::new();
    if let (Some(prefix), None) = (&prefix, &after) {
        let exact = state
            .service
            .ask_ledger(
                code,
                GetStock {
                    skus: Some(vec![prefix.clone()]),
                },
            )
            .await?
            .map_err(ConsoleError::failed)?;
        levels.extend(exact.into_iter().filter(|level| level.last_seq > 0));
    }
    let start = after.clone().or_else(|| prefix.clone());
    let page = state
        .service
        .ask_ledger(
            code,
            GetStockPage {
                after: start,
                limit: STOCK_PAGE + 1,
            },
        )
        .await?
        .map_err(ConsoleError::failed)?;
    levels.extend(page.into_iter().filter(|level| {
        prefix
            .as_ref()
            .is_none_or(|prefix| level.sku.as_str().starts_with(prefix.as_str()))
    }));
    let next = if levels.len() > STOCK_PAGE {
        levels.truncate(STOCK_PAGE);
        levels.last().map(|level| level.sku.to_string())
    } else {
        None
    };
    let rows = crate::api::stock::stock_views(state, code, levels)
        .await
        .map_err(|error| ConsoleError::failed(error.detail))?;
    Ok(pages::StockTable {
        rows,
        q: prefix.map(|sku| sku.to_string()).unwrap_or_default(),
        next,
    })
}

async fn client_page(
    request: HttpRequest,
    path: web::Path<String>,
    query: Option<web::Query<StockQuery>>,
) -> Result<HttpResponse, ConsoleError> {
    let (state, member, session) = signed_in(&request)?;
    let code = visible(&member, &path, Action::Read)?;
    let record = state
        .service
        .clients()
        .get(&code)?
        .ok_or(ConsoleError::NotFound("There is no client with that code."))?;
    let mut channels = Vec::new();
    for channel in state.service.channels().list(&code)? {
        let live = state.service.channel_state(&code, &channel.id).await?;
        channels.push(ChannelLine {
            id: channel.id.to_string(),
            platform: channel.platform.to_string(),
            problem: overview::channel_problem(live.as_ref()),
            last_error: live.as_ref().and_then(|live| live.last_error.clone()),
            last_read: live
                .as_ref()
                .and_then(|live| live.contact.last_read_ok_ms)
                .map(crate::timestamp::rfc3339_ms),
            pending: live.as_ref().map_or(0, |live| live.queue.pending),
            last_notification: state
                .service
                .last_notification(&code, &channel.id)
                .map(crate::timestamp::rfc3339),
        });
    }
    state.service.import_exceptions(&code).await?;
    let now = state.service.now();
    let exceptions: Vec<ExceptionView> = state
        .service
        .operations()
        .unresolved(&code)?
        .into_iter()
        .map(|entry| ExceptionView::of(&code, entry, now))
        .collect();
    let may_write = member.authorize(Action::Write, Some(code.as_str())).is_ok();
    let assignees = if may_write {
        state
            .members
            .list()
            .map_err(ConsoleError::failed)?
            .into_iter()
            .filter(|other| {
                other.active() && other.authorize(Action::Write, Some(code.as_str())).is_ok()
            })
            .map(|other| (other.id, other.name))
            .collect()
    } else {
        Vec::new()
    };
    let stock = stock_page(
        &state,
        &code,
        query.map(web::Query::into_inner).unwrap_or_default(),
    )
    .await?;
    let operations = state.service.operations();
    let deliveries = operations.latest_deliveries(&code, 20)?;
    let view = pages::ClientPage {
        code: code.as_str(),
        name: &record.name,
        channels,
        exceptions,
        checklists: state.service.checklists(&code).await?,
        profile: operations.profile(&code)?,
        credentials: state
            .service
            .clients()
            .credentials(&code)?
            .into_iter()
            .map(|credential| {
                let standing = rotation(credential.rotate_by, now);
                (credential.name, standing)
            })
            .collect(),
        escalation: operations.rules(&code)?.map(|stored| stored.rules),
        deliveries,
        reorders: state.service.reorder_alerts(&code).await?,
        may_write,
        assignees,
        stock,
        month: crate::report::Month::of(now),
    };
    Ok(page(
        StatusCode::OK,
        pages::client(&member, &session.csrf, &view),
    ))
}

/// The query of a SKU's page.
#[derive(Debug, Default, Deserialize)]
pub struct SkuQuery {
    /// The instant to explain (RFC 3339).
    #[serde(default)]
    pub at: Option<String>,
}

/// The most journal pages a timeline reads (a SKU moving every second for months still draws
/// its latest [`timeline::MAX_ENTRIES`] within this bound).
const MAX_JOURNAL_PAGES: usize = 500;
/// The most history pages read per channel (the history keeps at most 5 000 events a listing).
const MAX_HISTORY_PAGES: usize = 10;

async fn sku_page(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    query: Option<web::Query<SkuQuery>>,
) -> Result<HttpResponse, ConsoleError> {
    use shelfsync_actors::inventory::history::MAX_HISTORY_PAGE;
    use shelfsync_actors::inventory::messages::{GetListingHistory, GetStock};

    let (state, member, session) = signed_in(&request)?;
    let (code, sku) = path.into_inner();
    let code = visible(&member, &code, Action::Read)?;
    let sku = shelfsync_actors::ids::Sku::parse(&sku)
        .map_err(|_| ConsoleError::NotFound("There is no such SKU."))?;
    let query = query.map(web::Query::into_inner).unwrap_or_default();
    let at_text = query
        .at
        .as_deref()
        .map(str::trim)
        .filter(|at| !at.is_empty());
    let at = at_text
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .and_then(|time| u64::try_from(time.timestamp_millis()).ok())
                .ok_or(ConsoleError::BadForm(
                    "The instant must be an RFC 3339 time.",
                ))
        })
        .transpose()?;
    let service = &state.service;
    let level = service
        .ask_ledger(
            &code,
            GetStock {
                skus: Some(vec![sku.clone()]),
            },
        )
        .await?
        .map_err(ConsoleError::failed)?
        .pop()
        .ok_or(ConsoleError::NotFound("There is no such SKU."))?;
    if level.last_seq == 0 {
        return Err(ConsoleError::NotFound("There is no such SKU."));
    }
    let mut entries = std::collections::VecDeque::new();
    let mut after = 0;
    for _ in 0..MAX_JOURNAL_PAGES {
        let page = service.journal_after(&code, &sku, after, 1000).await?;
        let full = page.len() >= 1000;
        after = page.last().map_or(after, |entry| entry.seq);
        entries.extend(page);
        while entries.len() > timeline::MAX_ENTRIES {
            entries.pop_front();
        }
        if !full {
            break;
        }
    }
    let entries: Vec<_> = entries.into_iter().collect();
    let mut channels = Vec::new();
    let mut markers = timeline::movement_markers(&entries);
    let mut whys = Vec::new();
    for record in service.channels().list(&code)? {
        let mut events = Vec::new();
        let mut after_id = 0;
        for _ in 0..MAX_HISTORY_PAGES {
            let page = service
                .ask_ledger(
                    &code,
                    GetListingHistory {
                        channel: record.id.clone(),
                        sku: sku.clone(),
                        after_id,
                        limit: MAX_HISTORY_PAGE,
                    },
                )
                .await?
                .map_err(ConsoleError::failed)?;
            let full = page.len() >= MAX_HISTORY_PAGE;
            after_id = page.last().map_or(after_id, |event| event.id);
            events.extend(page);
            if !full {
                break;
            }
        }
        markers.extend(timeline::push_markers(record.id.as_str(), &events));
        channels.push(timeline::ChannelSeries {
            channel: record.id.to_string(),
            steps: timeline::listed_steps(&events),
        });
        if let Some(at) = at {
            let explained =
                crate::api::listings::explain_view(&state, &code, &record, sku.clone(), Some(at))
                    .await
                    .map_err(|error| ConsoleError::Refused {
                        status: error.code.status().as_u16(),
                        detail: error.detail,
                    })?;
            whys.push(pages::Why {
                channel: record.id.to_string(),
                explained,
            });
        }
    }
    let now_ms = shelfsync_actors::inventory::system_clock_ms();
    let first = entries
        .first()
        .map(|entry| entry.at_ms)
        .into_iter()
        .chain(
            channels
                .iter()
                .filter_map(|c| c.steps.first().map(|s| s.at_ms)),
        )
        .chain(markers.iter().map(|m| m.at_ms))
        .min()
        .unwrap_or(now_ms.saturating_sub(60 * 60 * 1000));
    let drawn = timeline::Timeline {
        available_start: timeline::available_before(&entries, level.available),
        available: timeline::available_steps(&entries, level.available),
        channels,
        markers,
        start_ms: first.saturating_sub(1_000),
        end_ms: now_ms.max(first + 1),
    };
    Ok(page(
        StatusCode::OK,
        pages::sku(
            &member,
            &session.csrf,
            code.as_str(),
            sku.as_str(),
            timeline::svg(&drawn),
            at_text,
            &whys,
        ),
    ))
}

/// The form of `POST /clients/{code}/checklists/{id}/items/{key}`.
#[derive(Debug, Deserialize)]
pub struct TickForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// Tick (`true`) or untick (`false`).
    pub done: bool,
}

async fn tick_item(
    request: HttpRequest,
    path: web::Path<(String, String, String)>,
    form: Result<web::Form<TickForm>, actix_web::Error>,
) -> Result<HttpResponse, ConsoleError> {
    let (state, member, session) = signed_in(&request)?;
    let form = form.map_err(|_| ConsoleError::BadForm("The form is not valid."))?;
    if !same_token(&form.csrf, &session.csrf) {
        return Err(ConsoleError::Forbidden(
            "The form's token is not this session's; reload the page.",
        ));
    }
    let (code, id, key) = path.into_inner();
    let code = visible(&member, &code, Action::Write)?;
    let caller = Caller(member);
    crate::api::checklists::tick_item(&state, &caller, &code, &id, &key, form.done, None)
        .await
        .map_err(|error| ConsoleError::Refused {
            status: error.code.status().as_u16(),
            detail: error.detail,
        })?;
    Ok(redirect(&format!("/clients/{}", code.as_str())))
}

/// The form of `POST /clients/{code}/exceptions/{id}`.
#[derive(Debug, Deserialize)]
pub struct WorkForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// `acknowledge`, `assign` or `resolve`.
    pub action: String,
    /// The member to assign it to (`assign`).
    #[serde(default)]
    pub assignee: Option<String>,
    /// How it was resolved (`resolve`).
    #[serde(default)]
    pub resolution: Option<Resolution>,
    /// A note.
    #[serde(default)]
    pub note: Option<String>,
}

async fn work_exception(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    form: Result<web::Form<WorkForm>, actix_web::Error>,
) -> Result<HttpResponse, ConsoleError> {
    let (state, member, session) = signed_in(&request)?;
    // The CSRF token first: a forged post learns nothing and changes nothing.
    let form = form.map_err(|_| ConsoleError::BadForm("The form is not valid."))?;
    if !same_token(&form.csrf, &session.csrf) {
        return Err(ConsoleError::Forbidden(
            "The form's token is not this session's; reload the page.",
        ));
    }
    let (code, id) = path.into_inner();
    let code = visible(&member, &code, Action::Write)?;
    let id = id
        .parse::<u64>()
        .map_err(|_| ConsoleError::NotFound("There is no exception with that id."))?;
    let transition = match (form.action.as_str(), form.resolution) {
        ("acknowledge", _) => Transition::Acknowledge,
        ("assign", _) => Transition::Assign {
            assignee: form
                .assignee
                .clone()
                .filter(|assignee| !assignee.is_empty())
                .ok_or(ConsoleError::BadForm("Assigning needs a member."))?,
        },
        ("resolve", Some(resolution)) => Transition::Resolve { resolution },
        ("resolve", None) => return Err(ConsoleError::BadForm("Resolving needs a resolution.")),
        _ => {
            return Err(ConsoleError::BadForm(
                "The action must be acknowledge, assign or resolve.",
            ))
        }
    };
    let note = form
        .note
        .as_deref()
        .map(str::trim)
        .filter(|note| !note.is_empty());
    let caller = Caller(member);
    apply_transition(&state, &caller, &code, id, transition, note)
        .await
        .map_err(|error| ConsoleError::Refused {
            status: error.code.status().as_u16(),
            detail: error.detail,
        })?;
    Ok(redirect(&format!("/clients/{}", code.as_str())))
}

async fn monthly_report(
    request: &HttpRequest,
    path: (String, String),
) -> Result<
    (
        ApiStateRef,
        Member,
        Session,
        crate::report::MonthlyReport,
        crate::report::Month,
    ),
    ConsoleError,
> {
    let (state, member, session) = signed_in(request)?;
    let (code, month) = path;
    let code = visible(&member, &code, Action::Read)?;
    // A bad or future month is a 400, an unknown client a 404, as the API answers them.
    let month = crate::report::Month::parse(&month).map_err(crate::service::ServiceError::from)?;
    let report = state.service.monthly_report(&code, month).await?;
    Ok((state, member, session, report, month))
}

/// `GET /clients/{code}/reports/{month}`: the monthly report page.
async fn report_page(
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (_, member, session, report, month) = monthly_report(&request, path.into_inner()).await?;
    Ok(page(
        StatusCode::OK,
        report::page(&member, &session.csrf, &report, month),
    ))
}

/// `GET /clients/{code}/reports/{month}/pdf`: the same report as a PDF download.
async fn report_pdf(
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (_, _, _, report, _) = monthly_report(&request, path.into_inner()).await?;
    let mut response = crate::api::reports::pdf_response(&report);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    Ok(response)
}

/// `GET /signin`: the form, with a fresh double-submit token in its cookie.
async fn signin_page() -> HttpResponse {
    let csrf = random_token();
    let mut reply = page(StatusCode::OK, pages::signin(&csrf, None));
    let _ = reply.add_cookie(&cookie(SIGNIN_COOKIE, csrf, 600));
    reply
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SigninForm {
    /// The double-submit token.
    pub csrf: String,
    /// The member's token.
    pub token: String,
}

/// `POST /signin`: a valid token of an active member starts a session.
async fn signin(
    request: HttpRequest,
    form: Result<web::Form<SigninForm>, actix_web::Error>,
) -> Result<HttpResponse, ConsoleError> {
    let again = |error: &str| {
        let csrf = random_token();
        let mut reply = page(StatusCode::UNAUTHORIZED, pages::signin(&csrf, Some(error)));
        let _ = reply.add_cookie(&cookie(SIGNIN_COOKIE, csrf, 600));
        reply
    };
    let Ok(form) = form else {
        return Ok(again("Enter your member token."));
    };
    let expected = request
        .cookie(SIGNIN_COOKIE)
        .map(|cookie| cookie.value().to_string());
    if !expected.is_some_and(|expected| same_token(&expected, &form.csrf)) {
        return Ok(again("The sign-in form expired; try again."));
    }
    let state = api_state(&request)?;
    let console = console_state(&request)?;
    let member = match state.members.by_token(&TokenHash::of(form.token.trim())) {
        Ok(Some(member)) => member,
        Ok(None) => return Ok(again("That token is not valid.")),
        Err(error) => return Err(ConsoleError::failed(error)),
    };
    let (id, _) = console.sessions.start(&member.id, Instant::now());
    tracing::info!(member = %member.id, "a member signed in to the console");
    let mut reply = redirect("/");
    let _ = reply.add_cookie(&cookie(
        SESSION_COOKIE,
        id,
        session::SESSION_TTL.as_secs() as i64,
    ));
    let _ = reply.add_removal_cookie(&cookie(SIGNIN_COOKIE, String::new(), 0));
    Ok(reply)
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct SignoutForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// `POST /signout`: ends the session (with the session's CSRF token: another site cannot sign a
/// member out).
async fn signout(
    request: HttpRequest,
    form: Result<web::Form<SignoutForm>, actix_web::Error>,
) -> Result<HttpResponse, ConsoleError> {
    let (_, _, session) = signed_in(&request)?;
    if !form.is_ok_and(|form| same_token(&form.csrf, &session.csrf)) {
        return Err(ConsoleError::Forbidden(
            "The form's token is not this session's; reload the page.",
        ));
    }
    if let (Some(id), Ok(console)) = (request.cookie(SESSION_COOKIE), console_state(&request)) {
        console.sessions.end(id.value());
    }
    let mut reply = redirect("/signin");
    let _ = reply.add_removal_cookie(&cookie(SESSION_COOKIE, String::new(), 0));
    Ok(reply)
}

/// `GET /console/assets/{file}`: the embedded stylesheet and script.
async fn asset(file: web::Path<String>) -> HttpResponse {
    let (body, content_type) = match file.as_str() {
        "console.css" => (STYLESHEET, "text/css; charset=utf-8"),
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}
