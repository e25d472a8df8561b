//! The monthly client report (issue 16, `crate::report`): `GET /v1/clients/{code}/reports/{month}`
//! answers it as JSON, `GET …/reports/{month}/pdf` as a PDF document with its charts. Both are
//! made on request from the ledger, the listing history and the exception queue (nothing is
//! cached, so a report of the current month is as of the request). Scoped like every client
//! route (another team's client is a 404); viewers may read. A month that has not begun is a 400
//! `invalid_field`.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::clients::visible_client;
use super::error::ApiError;
use super::openapi::responses::{BadRequest, NotFound, Unauthorized, Unavailable};
use super::openapi::schemas;
use super::{ApiState, Caller};
use crate::auth::Action;
use crate::report::{pdf, Month, MonthlyReport};

/// The client code and month of a report path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReportPath {
    /// The client's code.
    #[param(example = "ACME")]
    code: String,
    /// The month, in UTC.
    #[param(example = "2026-11", schema_with = schemas::month)]
    month: String,
}

async fn report_of(
    caller: &Caller,
    state: &ApiState,
    path: &ReportPath,
) -> Result<MonthlyReport, ApiError> {
    let code = visible_client(caller, state, &path.code, Action::Read)?;
    let month = Month::parse(&path.month).map_err(crate::service::ServiceError::from)?;
    Ok(state.service.monthly_report(&code, month).await?)
}

/// `GET /v1/clients/{code}/reports/{month}`: the client's report of the month.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/reports/{month}",
    operation_id = "get_monthly_report",
    tag = "reports",
    security(("bearer" = [])),
    params(ReportPath),
    responses(
        (status = 200, description = "The month's report (to now for the current month)", body = MonthlyReport),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ReportPath>,
) -> Result<HttpResponse, ApiError> {
    let report = report_of(&caller, &state, &path).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// `GET /v1/clients/{code}/reports/{month}/pdf`: the same report as a PDF document.
#[utoipa::path(
    get,
    path = "/v1/clients/{code}/reports/{month}/pdf",
    operation_id = "get_monthly_report_pdf",
    tag = "reports",
    security(("bearer" = [])),
    params(ReportPath),
    responses(
        (status = 200, description = "The month's report as a PDF document", body = String, content_type = "application/pdf"),
        BadRequest, Unauthorized, NotFound, Unavailable,
    )
)]
pub async fn get_pdf(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ReportPath>,
) -> Result<HttpResponse, ApiError> {
    let report = report_of(&caller, &state, &path).await?;
    Ok(pdf_response(&report))
}

/// The PDF reply of `report`, offered as a download named after the client and month.
pub fn pdf_response(report: &MonthlyReport) -> HttpResponse {
    let name = format!("{}-{}.pdf", report.client, report.month);
    HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name)],
        })
        .body(pdf::render(report))
}
