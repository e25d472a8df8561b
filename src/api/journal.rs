//! A client's journal: its entries (`GET …/ledger`) and the marketplace orders it holds
//! (`GET …/orders`), paged by sequence number.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::{ClientCode, Sku};
use shelfsync_actors::inventory::ledger::{JournalEntry, MovementKind, Source};
use shelfsync_actors::inventory::messages::GetJournal;
use shelfsync_actors::inventory::messages::MAX_JOURNAL_PAGE;

use utoipa::{IntoParams, ToSchema};

use super::clients::{visible_client, ClientPath};
use super::error::{ApiError, Code};
use super::openapi::responses::{BadRequest, NotFound, Unauthorized, Unavailable};
use super::openapi::schemas;
use super::stock::path_sku;
use super::{ApiState, Caller};
use crate::auth::Action;

/// Journal pages one `GET …/orders` reads at most before answering with where to go on.
const ORDER_SCAN_PAGES: usize = 10;

/// The query of `GET …/ledger` and `GET …/orders`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JournalQuery {
    /// Only this SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::sku)]
    pub sku: Option<String>,
    /// Entries after this sequence number (the last page's `next_after_seq`).
    #[serde(default)]
    pub after_seq: u64,
    /// At most this many (1 to 1000, 100 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// A journal entry as `GET …/ledger` shows it: the entry and the reason given with it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub entry: JournalEntry,
    /// The reason a movement was posted with (API movements only).
    pub reason: Option<String>,
}

/// A page of the ledger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// The last entry's sequence number: ask again `after_seq` it (`null`: the page is empty).
    pub next_after_seq: Option<u64>,
}

/// A page of order events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrdersPage {
    pub orders: Vec<OrderLine>,
    /// Where the scan stopped: ask again `after_seq` it.
    pub next_after_seq: u64,
}

fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_JOURNAL_PAGE).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("limit must be 1 to {MAX_JOURNAL_PAGE}"),
        ));
    }
    Ok(limit)
}

/// A journal query, checked.
#[derive(Debug)]
struct JournalRequest {
    sku: Option<Sku>,
    after_seq: u64,
    limit: usize,
}

/// The client (visible to the caller for reading) and the checked query of a journal route.
fn journal_request(
    caller: &Caller,
    state: &ApiState,
    code: &str,
    query: Result<web::Query<JournalQuery>, actix_web::Error>,
) -> Result<(ClientCode, JournalRequest), ApiError> {
    let code = visible_client(caller, state, code, Action::Read)?;
    let query = query
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::invalid(format!("the query: {error}")))?;
    let request = JournalRequest {
        sku: query.sku.as_deref().map(path_sku).transpose()?,
        after_seq: query.after_seq,
        limit: page_limit(query.limit)?,
    };
    Ok((code, request))
}
async fn journal_page(
    state: &ApiState,
    code: &ClientCode,
    sku: Option<Sku>,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<JournalEntry>, ApiError> {
    let query = GetJournal {
        sku,
        after_seq,
        limit,
    };
    state
        .service
        .ask_ledger(code, query)
        .await?
        .map_err(ApiError::from)
}

/// `GET /v1/clients/{code}/ledger?sku=&after_seq=&limit=`: journal entries in sequence order,
/// each movement's reason where one was given.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/ledger",
    operation_id = "ledger",
    tag = "stock",
    security(("bearer" = [])),
    params(ClientPath, JournalQuery),
    responses(
        (status = 200, description = "Journal entries in sequence order", body = LedgerPage),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn ledger(
    caller: Caller,
    state: web::Data<ApiState>,
    code: web::Path<String>,
    query: Result<web::Query<JournalQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let (code, query) = journal_request(&caller, &state, &code, query)?;
    let entries = journal_page(&state, &code, query.sku, query.after_seq, query.limit).await?;
    let next_after_seq = entries.last().map(|entry| entry.seq);
    let mut shown = Vec::with_capacity(entries.len());
    for entry in entries {
        let reason = match entry.source {
            Source::Api => state.service.reason(&code, entry.key.as_str())?,
            _ => None,
        };
        shown.push(LedgerEntry { entry, reason });
    }
    Ok(HttpResponse::Ok().json(LedgerPage {
        entries: shown,
        next_after_seq,
    }))
}

/// One order line event as `GET …/orders` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub seq: u64,
    pub at_ms: u64,
    pub channel: String,
    pub order_id: String,
    pub line: String,
    pub event: String,
    #[schema(value_type = String)]
    pub sku: Sku,
    #[schema(schema_with = schemas::movement_kind)]
    pub kind: MovementKind,
    pub quantity: i64,
    pub oversold_units: i64,
}

/// The order line an entry of a marketplace order event stands for, from its typed reference.
fn order_line(entry: &JournalEntry) -> Option<OrderLine> {
    let (Source::Channel(channel), Some(order)) = (&entry.source, &entry.order) else {
        return None;
    };
    Some(OrderLine {
        seq: entry.seq,
        at_ms: entry.at_ms,
        channel: channel.as_str().to_string(),
        order_id: order.order_id.clone(),
        line: order.line.to_string(),
        event: order.version.clone(),
        sku: entry.sku.clone(),
        kind: entry.kind(),
        quantity: entry.quantity(),
        oversold_units: entry.oversold_units,
    })
}

/// `GET /v1/clients/{code}/orders?after_seq=&limit=`: the marketplace order events in the
/// journal (sales, cancellations, restocks), oldest first, with oversells flagged. Reads at most
/// a bounded number of journal pages per call; `next_after_seq` says where to go on.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/orders",
    operation_id = "orders",
    tag = "stock",
    security(("bearer" = [])),
    params(ClientPath, JournalQuery),
    responses(
        (status = 200, description = "Marketplace order events, oldest first", body = OrdersPage),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn orders(
    caller: Caller,
    state: web::Data<ApiState>,
    code: web::Path<String>,
    query: Result<web::Query<JournalQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let (code, query) = journal_request(&caller, &state, &code, query)?;
    let (sku, limit) = (query.sku, query.limit);
    let mut after = query.after_seq;
    let mut lines = Vec::new();
    for _ in 0..ORDER_SCAN_PAGES {
        let entries = journal_page(&state, &code, sku.clone(), after, MAX_JOURNAL_PAGE).await?;
        let Some(last) = entries.last() else {
            break;
        };
        after = last.seq;
        for entry in &entries {
            if let Some(line) = order_line(entry) {
                lines.push(line);
                if lines.len() == limit {
                    after = entry.seq;
                    break;
                }
            }
        }
        if lines.len() == limit || entries.len() < MAX_JOURNAL_PAGE {
            break;
        }
    }
    Ok(HttpResponse::Ok().json(OrdersPage {
        orders: lines,
        next_after_seq: after,
    }))
}
