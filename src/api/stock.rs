//! A client's stock: each SKU with each channel's target, listed and pending quantities
//! (`GET …/stock`, `GET …/stock/{sku}`), and stock movements with idempotency keys
//! (`POST …/stock/{sku}/movements`). Every write goes through the client's InventoryActor and is
//! answered only once durable.

use std::collections::{BTreeMap, HashMap};

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use shelfsync_actors::channel::messages::ListingView;
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::inventory::ledger::{Change, IdempotencyKey, Movement, MovementKind, Source};
use shelfsync_actors::inventory::messages::{GetStock, GetStockPage, StockLevel};

use utoipa::{IntoParams, ToSchema};

use super::clients::{visible_client, ClientPath};
use super::error::{ApiError, Code};
use super::openapi::responses::{
    BadRequest, BodyTimeout, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, Unavailable,
    UnsupportedMediaType,
};
use super::openapi::schemas;
use super::paging::{Page, SkuPageQuery};
use super::{read_json, ApiState, Caller};
use crate::auth::Action;

/// The longest caller-chosen idempotency key (the ledger key adds a prefix).
const MAX_IDEMPOTENCY_KEY: usize = 200;
/// The longest reason of a movement.
const MAX_REASON: usize = 500;

/// The stock of one SKU as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StockView {
    #[schema(value_type = String)]
    pub sku: Sku,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    /// The journal sequence of its last movement (0: it never moved).
    pub last_seq: u64,
    /// Each channel that lists it, by channel id.
    pub channels: BTreeMap<String, ChannelStock>,
}

/// One channel's view of a SKU.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelStock {
    /// What the channel should list (the listing policy applied to the available stock).
    pub target: u32,
    /// What the marketplace last confirmed it lists (`null`: not yet known).
    pub listed: Option<u32>,
    /// Whether a push of the target is pending.
    pub pending: bool,
}

/// The reply of a movement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MovementReply {
    /// The journal sequence of the movement.
    pub seq: u64,
    /// Whether the idempotency key had been used already (nothing was changed).
    pub duplicate: bool,
    /// The SKU's stock after it.
    pub stock: Option<StockView>,
}

/// Stock levels (of named SKUs, or a page of them) joined with every channel's view
/// of those SKUs.
pub(crate) async fn stock_views(
    state: &ApiState,
    code: &ClientCode,
    levels: Vec<StockLevel>,
) -> Result<Vec<StockView>, ApiError> {
    let skus: Vec<Sku> = levels.iter().map(|level| level.sku.clone()).collect();
    // Each channel's listings of these SKUs, built once per request: a lookup per SKU and
    // channel, not a scan of the channel's listings (issue 13, item 5).
    let mut per_channel: Vec<(ChannelId, HashMap<Sku, ListingView>)> = Vec::new();
    for record in state.service.channels().list(code)? {
        let listings = state
            .service
            .channel_listings(code, &record.id, Some(skus.clone()))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|view| (view.sku.clone(), view))
            .collect();
        per_channel.push((record.id, listings));
    }
    Ok(levels
        .into_iter()
        .map(|level| {
            let channels = per_channel
                .iter()
                .filter_map(|(id, listings)| {
                    let view = listings.get(&level.sku)?;
                    Some((
                        id.as_str().to_string(),
                        ChannelStock {
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

/// The stock of one SKU (zero balances for a SKU that never moved).
async fn stock_of(
    state: &ApiState,
    code: &ClientCode,
    sku: &Sku,
) -> Result<Option<StockView>, ApiError> {
    let levels = level_of(state, code, sku).await?;
    Ok(stock_views(state, code, levels).await?.into_iter().next())
}

/// The ledger's level of one SKU (one item; zero balances for a SKU that never moved).
async fn level_of(
    state: &ApiState,
    code: &ClientCode,
    sku: &Sku,
) -> Result<Vec<StockLevel>, ApiError> {
    let skus = Some(vec![sku.clone()]);
    Ok(state.service.ask_ledger(code, GetStock { skus }).await??)
}

/// `GET /v1/clients/{code}/stock?cursor=&limit=`: the SKUs that have a balance, in SKU order, a
/// page at a time.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/stock",
    operation_id = "list_stock",
    tag = "stock",
    security(("bearer" = [])),
    params(ClientPath, SkuPageQuery),
    responses(
        (status = 200, description = "A page of SKUs with each channel's target, listed and pending", body = Page<StockView>),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn list_stock(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    query: Result<web::Query<SkuPageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let request = SkuPageQuery::checked(query)?;
    // One more than the page, to know whether another follows.
    let levels = state
        .service
        .ask_ledger(
            &code,
            GetStockPage {
                after: request.after.clone(),
                limit: request.limit + 1,
            },
        )
        .await??;
    let page = request.page_from(levels, |level| level.sku.as_str().to_string());
    let items = stock_views(&state, &code, page.items).await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next: page.next,
    }))
}

pub(super) fn path_sku(sku: &str) -> Result<Sku, ApiError> {
    Sku::parse(sku).map_err(|error| ApiError::new(Code::InvalidSku, error.to_string()))
}

/// `GET /v1/clients/{code}/stock/{sku}`: 404 for a SKU that never moved.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/stock/{sku}",
    operation_id = "get_stock",
    tag = "stock",
    security(("bearer" = [])),
    params(SkuPath),
    responses(
        (status = 200, description = "The SKU's stock", body = StockView),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn get_stock(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<SkuPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let sku = path_sku(&path.sku)?;
    let view = stock_of(&state, &code, &sku)
        .await?
        .filter(|view| view.last_seq > 0)
        .ok_or_else(|| ApiError::not_found(format!("no stock of {sku}")))?;
    Ok(HttpResponse::Ok().json(view))
}

/// The client code and SKU of a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SkuPath {
    /// The client's code.
    #[param(example = "ACME")]
    code: String,
    /// The SKU (trimmed and upper-cased).
    #[param(example = "ACME-MUG", schema_with = schemas::sku)]
    sku: String,
}

/// The body of `POST …/stock/{sku}/movements` (its schema: [`schemas::new_movement`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMovement {
    pub kind: String,
    /// Any JSON number, so that one beyond `i64` (`1e30`, `9223372036854775808`) or with a
    /// fraction is refused as `invalid_quantity` like every other bad quantity.
    pub quantity: serde_json::Number,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub idempotency_key: String,
    /// Creates the SKU when the client has never had it (else such a movement is a 404
    /// `unknown_sku`: a mistyped SKU must not become a new one).
    #[serde(default)]
    pub create: bool,
}

impl NewMovement {
    /// A movement of `kind` (the API takes receipts, shipments, adjustments and counts) by
    /// `quantity`, applied once under `idempotency_key`.
    pub fn new(kind: MovementKind, quantity: i64, idempotency_key: &str) -> NewMovement {
        NewMovement {
            kind: kind.as_str().to_string(),
            quantity: quantity.into(),
            reason: None,
            idempotency_key: idempotency_key.to_string(),
            create: false,
        }
    }
}

impl utoipa::PartialSchema for NewMovement {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schemas::new_movement().into()
    }
}

impl ToSchema for NewMovement {}

/// Tells whether the client has `sku`: it has a balance (it moved) or a listing mapped by a
/// catalog import. A SKU is never removed, so the answer cannot turn false between this check and
/// the write that follows.
pub(super) async fn sku_is_known(
    state: &ApiState,
    code: &ClientCode,
    sku: &Sku,
) -> Result<bool, ApiError> {
    let levels = level_of(state, code, sku).await?;
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
#[utoipa::path(
    post,
    path = "/v1/clients/{code}/stock/{sku}/movements",
    operation_id = "post_movement",
    tag = "stock",
    security(("bearer" = [])),
    params(SkuPath),
    request_body = NewMovement,
    responses(
        (status = 201, description = "Applied and durable", body = MovementReply),
        (status = 200, description = "The key was used already: the first result, nothing changed", body = MovementReply),
        BadRequest, Unauthorized, Forbidden, NotFound, BodyTimeout, Conflict, TooLarge,
        UnsupportedMediaType, Unavailable,
    )
)]
pub async fn post_movement(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<SkuPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let sku = path_sku(&path.sku)?;
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
    if reason.as_ref().is_some_and(|reason| {
        reason.chars().count() > MAX_REASON || reason.chars().any(char::is_control)
    }) {
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
    let before = stock_of(&state, &code, &sku).await?;
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
    if let Some(reason) = reason
        .as_deref()
        .filter(|reason| !reason.is_empty() && !applied.duplicate)
    {
        // The reason is an annotation kept beside the journal; losing it in a crash between the
        // two writes loses no stock.
        state.service.put_reason(&code, &ledger_key, reason)?;
    }
    let level = stock_of(&state, &code, &sku).await?;
    let reply = MovementReply {
        seq: applied.seq,
        duplicate: applied.duplicate,
        stock: level,
    };
    if !applied.duplicate {
        super::audit::record(
            &state,
            &caller,
            Some(&code),
            "post_movement",
            format!("stock/{sku}"),
            Some(super::audit::value(&before)),
            Some(serde_json::json!({
                "movement": {"kind": body.kind, "quantity": quantity, "idempotency_key": key,
                             "reason": reason, "seq": applied.seq},
                "stock": super::audit::value(&reply.stock),
            })),
        );
    }
    Ok(if applied.duplicate {
        HttpResponse::Ok().json(reply)
    } else {
        HttpResponse::Created().json(reply)
    })
}
