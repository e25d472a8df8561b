//! Replenishment (issue 15): a SKU's reorder settings (`PUT`/`DELETE
//! …/stock/{sku}/reorder`) and the client's reorder list (`GET …/reorders`): each SKU with
//! settings, its velocities, days of cover, projected stock-out, reorder-by day and whether it
//! alerts (the rules: `crate::replenishment`). Scoped like every client route (another team's
//! client is a 404); viewers read the list but cannot change settings.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::clients::{visible_client, ClientPath};
use super::error::{ApiError, Code};
use super::openapi::responses::{
    BadRequest, BodyTimeout, Forbidden, NotFound, TooLarge, Unauthorized, Unavailable,
    UnsupportedMediaType,
};
use super::openapi::schemas;
use super::paging::{Page, SkuPageQuery};
use super::stock::{path_sku, sku_is_known};
use super::{read_json, ApiState, Caller};
use crate::auth::Action;
use crate::replenishment::{ReorderLine, ReorderSettings, ReorderSettingsBody};

/// The client code and SKU of a reorder path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReorderPath {
    /// The client's code.
    #[param(example = "ACME")]
    code: String,
    /// The SKU (trimmed and upper-cased).
    #[param(example = "ACME-MUG", schema_with = schemas::sku)]
    sku: String,
}

/// The query of `GET …/reorders`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReordersQuery {
    /// The `next` of the previous page (absent: from the first SKU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::sku)]
    pub cursor: Option<String>,
    /// At most this many SKUs with settings are read for the page (1 to 1000, 100 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Only the SKUs that alert (`true`) or that do not (`false`); absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerting: Option<bool>,
}

/// `PUT /v1/clients/{code}/stock/{sku}/reorder`: sets the SKU's reorder settings (replacing any)
/// and answers them as stored, once durable. The SKU must be one the client has (like a
/// movement's: a mistyped SKU must not get settings nobody sees alert); bad values are a 400
/// naming the field, and nothing is stored.
#[utoipa::path(
    put,
    path = "/v1/clients/{code}/stock/{sku}/reorder",
    operation_id = "put_reorder_settings",
    tag = "stock",
    security(("bearer" = [])),
    params(ReorderPath),
    request_body = ReorderSettingsBody,
    responses(
        (status = 200, description = "Stored and durable", body = ReorderSettingsBody),
        BadRequest, Unauthorized, Forbidden, NotFound, BodyTimeout, TooLarge,
        UnsupportedMediaType, Unavailable,
    )
)]
pub async fn put_settings(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ReorderPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let sku = path_sku(&path.sku)?;
    let body: ReorderSettingsBody = read_json(&state, &request, payload).await?;
    let settings = ReorderSettings::try_from(body)?;
    if !sku_is_known(&state, &code, &sku).await? {
        return Err(ApiError::new(
            Code::UnknownSku,
            format!("the client has no SKU {sku}: import it with the catalog first"),
        ));
    }
    state.service.reorders().put(&code, &sku, &settings).await?;
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "put_reorder_settings",
        format!("reorder/{sku}"),
        None,
        Some(super::audit::value(&settings)),
    );
    Ok(HttpResponse::Ok().json(settings))
}

/// `DELETE /v1/clients/{code}/stock/{sku}/reorder`: removes the SKU's reorder settings, so it
/// leaves the reorder list and never alerts. 204 whether or not it had any: a retry after a lost
/// reply must not look like a failure.
#[utoipa::path(
    delete,
    path = "/v1/clients/{code}/stock/{sku}/reorder",
    operation_id = "delete_reorder_settings",
    tag = "stock",
    security(("bearer" = [])),
    params(ReorderPath),
    responses(
        (status = 204, description = "The SKU has no reorder settings (durable)"),
        BadRequest, Unauthorized, Forbidden, NotFound, Unavailable,
    )
)]
pub async fn delete_settings(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ReorderPath>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let sku = path_sku(&path.sku)?;
    state.service.reorders().delete(&code, &sku).await?;
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "delete_reorder_settings",
        format!("reorder/{sku}"),
        None,
        None,
    );
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/clients/{code}/reorders?cursor=&limit=&alerting=`: the client's reorder list, the
/// SKUs with reorder settings in SKU order, each assessed now. A page reads `limit` SKUs with
/// settings; with `alerting` it shows only those of them that match, so a filtered page may hold
/// fewer (even none) while `next` still leads on: each page costs at most `limit` assessments.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/reorders",
    operation_id = "list_reorders",
    tag = "stock",
    security(("bearer" = [])),
    params(ClientPath, ReordersQuery),
    responses(
        (status = 200, description = "A page of the reorder list", body = Page<ReorderLine>),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    query: Result<web::Query<ReordersQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Read)?;
    let query = query
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::invalid(format!("the query: {error}")))?;
    let alerting = query.alerting;
    let request = SkuPageQuery::checked(Ok(web::Query(SkuPageQuery {
        cursor: query.cursor,
        limit: query.limit,
    })))?;
    // One more than the page, to know whether another follows.
    let settings =
        state
            .service
            .reorders()
            .page(&code, request.after.as_ref(), request.limit + 1)?;
    let page = request.page_from(settings, |(sku, _)| sku.as_str().to_string());
    let skus = page
        .items
        .into_iter()
        .map(|(sku, settings)| (sku, Some(settings)))
        .collect();
    let lines = state.service.reorder_lines(&code, skus).await?;
    let items = lines
        .into_iter()
        .filter(|line| alerting.is_none_or(|alerting| line.alert == alerting))
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        items,
        next: page.next,
    }))
}
