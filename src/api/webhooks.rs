//! `POST /webhooks/{code}/{channel}`: marketplace deliveries. No bearer token: the platform's own
//! signature authenticates the delivery ([`crate::service::webhooks`] checks it on the raw body
//! before parsing). The 2xx goes out only once the delivery is durable in the ledger (its orders
//! applied, or recorded as order exceptions when they cannot apply), so a delivery that got a 2xx
//! is never lost, and one that did not is retried by the platform. Every unauthenticated delivery
//! gets the same 401 `bad_signature`, byte for byte, whatever the reason.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{ApiError, Code, ErrorCode};
use super::openapi::responses::{BadRequest, BodyTimeout, TooLarge, Unauthorized, Unavailable};
use super::{read_body, ApiState};
use crate::service::webhooks::{WebhookHeaders, WebhookOutcome};
use crate::service::WebhookError;

/// The one detail of every unauthenticated delivery's reply (the reason is only logged).
const UNAUTHENTICATED: &str = "the webhook signature does not match the body";

fn webhook_error(error: WebhookError) -> ApiError {
    let code = error.error_code();
    let detail = match &error {
        WebhookError::Unauthenticated(_) => UNAUTHENTICATED.to_string(),
        // Nothing was recorded: 503 so that the platform retries. A busy or slow ledger says
        // so; otherwise the detail stays generic (a store can fail before the delivery is
        // authenticated) and the cause is logged.
        WebhookError::Service(service) => {
            if code == Code::Unavailable {
                tracing::warn!(error = %service, kind = service.kind(), "a webhook delivery could not be recorded; answered 503");
                "the delivery could not be recorded now; send it again later".to_string()
            } else {
                service.to_string()
            }
        }
    };
    let reply = ApiError::new(code, detail);
    match error.retry_after() {
        Some(after) => reply.retry_after(after),
        None => reply,
    }
}

/// `POST /webhooks/{code}/{channel}`.
#[utoipa::path(
    post,
    path = "/webhooks/{code}/{channel}",
    operation_id = "receive_webhook",
    tag = "webhooks",
    security(("webhook_signature" = [])),
    params(
        ("code" = String, Path, description = "The client's code"),
        ("channel" = String, Path, description = "The channel's id"),
        ("X-Shopify-Topic" = Option<String>, Header, description = "The event (`orders/create`, `orders/cancelled`)"),
    ),
    request_body(
        content = Object,
        description = "The marketplace's delivery, verified by its signature on the raw body",
        content_type = "application/json"
    ),
    responses(
        (status = 200, description = "Durable: applied, or recorded as order exceptions", body = WebhookOutcome),
        BadRequest, Unauthorized, BodyTimeout, TooLarge, Unavailable,
    )
)]
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
