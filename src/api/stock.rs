//! A client's stock: each SKU with each channel's target, listed and pending quantities
//! (`GET …/stock`, `GET …/stock/{sku}`), and stock movements with idempotency keys
//! (`POST …/stock/{sku}/movements`). Every write goes through the client's InventoryActor and is
//! answered only once durable.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shelfsync_actors::channel::messages::ListingView;
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::inventory::ledger::{Change, IdempotencyKey, Movement, MovementKind, Source};
use shelfsync_actors::inventory::messages::{GetStock, StockLevel};

use super::clients::visible_client;
use super::error::{ApiError, Code};
use super::{read_json, ApiState, Caller};
use crate::auth::Action;

/// The longest caller-chosen idempotency key (the ledger key adds a prefix).
const MAX_IDEMPOTENCY_KEY: usize = 200;
/// The longest reason of a movement.
const MAX_REASON: usize = 500;

/// The stock of one SKU as the API shows it.
#[derive(Debug, Serialize)]
struct StockView {
    sku: Sku,
    on_hand: i64,
    reserved: i64,
    available: i64,
    last_seq: u64,
    channels: BTreeMap<String, ChannelView>,
}

#[derive(Debug, Serialize)]
struct ChannelView {
    target: u32,
    listed: Option<u32>,
    pending: bool,
}

/// Stock levels joined with every channel's view of those SKUs.
async fn stock_views(
    state: &ApiState,
    code: &ClientCode,
    skus: Option<Vec<Sku>>,
) -> Result<Vec<StockView>, ApiError> {
    let levels: Vec<StockLevel> = state
        .service
        .ask_ledger(code, GetStock { skus: skus.clone() })
        .await??;
    let mut per_channel: Vec<(ChannelId, Vec<ListingView>)> = Vec::new();
    for record in state.service.channels().list(code)? {
        let listings = state
            .service
            .channel_listings(code, &record.id, skus.clone())
            .await?
            .unwrap_or_default();
        per_channel.push((record.id, listings));
    }
    Ok(levels
        .into_iter()
        .map(|level| {
            let channels = per_channel
                .iter()
                .filter_map(|(id, listings)| {
                    let view = listings.iter().find(|view| view.sku == level.sku)?;
                    Some((
                        id.as_str().to_string(),
                        ChannelView {
                            target: view.target,
                            listed: view.listed,
                            pending: view.pending,
                        },
                    ))
                })
                .collect();
            StockView {
                sku: level.sku,
                on_hand: level.on_hand,
                reserved: level.reserved,
                available: level.available,
                last_seq: level.last_seq,
                channels,
            }
        })
        .collect())
}

/// `GET /v1/clients/{code}/stock`: every SKU with a balance.
pub async fn list_stock(
    caller: Caller,
    state: web::Data<ApiState>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &code, Action::Read)?;
    Ok(HttpResponse::Ok().json(stock_views(&state, &code, None).await?))
}

pub(super) fn path_sku(sku: &str) -> Result<Sku, ApiError> {
    Sku::parse(sku).map_err(|error| ApiError::new(Code::InvalidSku, error.to_string()))
}

/// `GET /v1/clients/{code}/stock/{sku}`: 404 for a SKU that never moved.
pub async fn get_stock(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (code, sku) = path.into_inner();
    let code = visible_client(&caller, &state, &code, Action::Read)?;
    let sku = path_sku(&sku)?;
    let view = stock_views(&state, &code, Some(vec![sku.clone()]))
        .await?
        .into_iter()
        .next()
        .filter(|view| view.last_seq > 0)
        .ok_or_else(|| ApiError::not_found(format!("no stock of {sku}")))?;
    Ok(HttpResponse::Ok().json(view))
}

/// The body of `POST …/stock/{sku}/movements`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMovement {
    kind: String,
    /// Any JSON number, so that one beyond `i64` (`1e30`, `9223372036854775808`) or with a
    /// fraction is refused as `invalid_quantity` like every other bad quantity.
    quantity: serde_json::Number,
    #[serde(default)]
    reason: Option<String>,
    idempotency_key: String,
    /// Creates the SKU when the client has never had it (else such a movement is a 404
    /// `unknown_sku`: a mistyped SKU must not become a new one).
    #[serde(default)]
    create: bool,
}

/// Tells whether the client has `sku`: it has a balance (it moved) or a listing mapped by a
/// catalog import. A SKU is never removed, so the answer cannot turn false between this check and
/// the write that follows.
async fn sku_is_known(state: &ApiState, code: &ClientCode, sku: &Sku) -> Result<bool, ApiError> {
    let levels = state
        .service
        .ask_ledger(
            code,
            GetStock {
                skus: Some(vec![sku.clone()]),
            },
        )
        .await??;
    if levels.iter().any(|level| level.last_seq > 0) {
        return Ok(true);
    }
    let channels = state.service.channels();
    for record in channels.list(code)? {
        let listing = channels.listing(code, &record.id, sku)?;
        if listing.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `POST /v1/clients/{code}/stock/{sku}/movements`: a receipt, adjustment, count or shipment.
/// 201 once durable; the same key again answers 200 with the first result and changes nothing.
/// The quantity is checked by the ledger's own rule ([`Change::new`]); a SKU the client never had
/// is a 404 `unknown_sku` unless the body says `"create": true`.
pub async fn post_movement(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (code, sku) = path.into_inner();
    let code = visible_client(&caller, &state, &code, Action::Write)?;
    let sku = path_sku(&sku)?;
    let body: NewMovement = read_json(&state, &request, payload).await?;
    let kind = MovementKind::parse(&body.kind)
        .ok()
        .filter(|kind| {
            matches!(
                kind,
                MovementKind::Receipt
                    | MovementKind::Adjustment
                    | MovementKind::Count
                    | MovementKind::Ship
            )
        })
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidField,
                format!(
                    "kind {:?} is not one of receipt, adjustment, count, ship",
                    body.kind
                ),
            )
        })?;
    let quantity = body.quantity.as_i64().ok_or_else(|| {
        ApiError::new(
            Code::InvalidQuantity,
            format!("quantity {} is not a whole number of units", body.quantity),
        )
    })?;
    let change = Change::new(kind, quantity)
        .map_err(|error| ApiError::new(Code::InvalidQuantity, error.to_string()))?;
    let key = body.idempotency_key.trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || key.chars().any(char::is_control) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters"),
        ));
    }
    let reason = body.reason.map(|reason| reason.trim().to_string());
    if reason
        .as_ref()
        .is_some_and(|reason| reason.len() > MAX_REASON || reason.chars().any(char::is_control))
    {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("reason must be at most {MAX_REASON} printable characters"),
        ));
    }
    if !body.create && !sku_is_known(&state, &code, &sku).await? {
        return Err(ApiError::new(
            Code::UnknownSku,
            format!(
                "the client has no SKU {sku}: import it with the catalog, or send \"create\": true \
                 to create it with this movement"
            ),
        ));
    }
    let ledger_key = format!("api:{key}");
    let movement = Movement {
        key: IdempotencyKey::parse(&ledger_key)?,
        source: Source::Api,
        sku: sku.clone(),
        change,
        order: None,
    };
    let outcome = state
        .service
        .apply_movements(&code, vec![movement])
        .await??;
    let applied = outcome
        .results
        .first()
        .ok_or_else(|| ApiError::internal("the ledger answered no result"))?;
    if let Some(reason) = reason.filter(|reason| !reason.is_empty() && !applied.duplicate) {
        // The reason is an annotation kept beside the journal; losing it in a crash between the
        // two writes loses no stock.
        state.service.put_reason(&code, &ledger_key, &reason)?;
    }
    let level = stock_views(&state, &code, Some(vec![sku.clone()]))
        .await?
        .into_iter()
        .next();
    let reply = json!({
        "seq": applied.seq,
        "duplicate": applied.duplicate,
        "stock": level,
    });
    Ok(if applied.duplicate {
        HttpResponse::Ok().json(reply)
    } else {
        HttpResponse::Created().json(reply)
    })
}
