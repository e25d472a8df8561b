//! `POST /webhooks/{code}/{channel}`: marketplace deliveries. No bearer token: the platform's own
//! signature authenticates the delivery ([`crate::service`] checks it on the raw body before
//! parsing). The 2xx goes out only once the delivery's events are durable in the ledger, so a
//! delivery that got a 2xx is never lost, and one that did not is retried by the platform.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::{read_body, ApiState};
use crate::service::webhooks::WebhookHeaders;
use crate::service::WebhookError;

fn webhook_error(error: WebhookError) -> ApiError {
    // A 503 makes the platform retry the delivery later, which is what a busy ledger wants.
    if let Some(busy) = match &error {
        WebhookError::Service(service) => ApiError::engine_busy(service),
        _ => None,
    } {
        return busy;
    }
    match error.kind() {
        "not_found" => ApiError::not_found(error.to_string()),
        "webhooks_unsupported" => ApiError::new("webhooks_unsupported", error.to_string()),
        "webhooks_not_configured" => ApiError::new("webhooks_not_configured", error.to_string()),
        "bad_signature" => ApiError::new("bad_signature", error.to_string()),
        "invalid_field" => ApiError::new("invalid_field", error.to_string()),
        "unavailable" | "inventory_unavailable" | "stopped" => {
            ApiError::new("unavailable", error.to_string())
        }
        _ => ApiError::internal(error),
    }
}

/// `POST /webhooks/{code}/{channel}`.
pub async fn receive(
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (code, channel) = path.into_inner();
    let body = read_body(&state, payload).await?;
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let headers = WebhookHeaders {
        hmac: header("x-shopify-hmac-sha256"),
        topic: header("x-shopify-topic"),
    };
    let outcome = state
        .service
        .receive_webhook(&code, &channel, headers, &body)
        .await
        .map_err(webhook_error)?;
    Ok(HttpResponse::Ok().json(outcome))
}
