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
use crate::platforms::notify::Delivery;
use crate::service::webhooks::WebhookOutcome;
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
        ("X-Shopify-Topic" = Option<String>, Header, description = "Shopify: the event (`orders/create`, `orders/cancelled`); each platform authenticates with its own headers (`X-Shopify-Hmac-Sha256`; Etsy's `webhook-id`, `webhook-timestamp`, `webhook-signature`; eBay's `X-EBAY-SIGNATURE`; Walmart's `Authorization` or `WM_SEC.SIGNATURE` and `WM_SEC.TIMESTAMP`; the API destination's `x-api-key`; TikTok Shop's `Authorization`)"),
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
    let headers = header_pairs(&request);
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or(request.path(), |whole| whole.as_str());
    let delivery = Delivery {
        method: request.method().as_str(),
        path_and_query,
        headers: &headers,
        body: &body,
        now: state.service.now(),
    };
    let outcome = state
        .service
        .receive_webhook(&code, &channel, delivery)
        .await
        .map_err(webhook_error)?;
    Ok(HttpResponse::Ok().json(outcome))
}

/// The headers whose value is text, names in lowercase (as `http` keeps them). A header whose
/// value is not visible ASCII is left out: no platform signs with one.
fn header_pairs(request: &HttpRequest) -> Vec<(String, String)> {
    request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect()
}

/// The query of a platform's endpoint check.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChallengeQuery {
    /// eBay's challenge code.
    #[param(min_length = 1, max_length = 256)]
    pub challenge_code: String,
}

/// The longest challenge code answered (eBay's are UUID-like; anything far longer is not one).
const MAX_CHALLENGE: usize = 256;

/// `GET /webhooks/{code}/{channel}?challenge_code=`: eBay checks the endpoint before it sends
/// notifications there (§5.2) and expects the hash of the code, the channel's verification token
/// and the endpoint's URL as it called it (scheme and host as the request arrived: behind a proxy,
/// the proxy must pass `Forwarded` or `X-Forwarded-Proto`/`X-Forwarded-Host`, or eBay's hash will
/// not match and it will send nothing).
#[utoipa::path(
    get,
    path = "/webhooks/{code}/{channel}",
    operation_id = "answer_webhook_challenge",
    tag = "webhooks",
    security(("webhook_signature" = [])),
    params(
        ("code" = String, Path, description = "The client's code"),
        ("channel" = String, Path, description = "The channel's id"),
        ChallengeQuery,
    ),
    responses(
        (status = 200, description = "The answer (`{\"challengeResponse\": …}`)", body = Object),
        BadRequest, Unauthorized,
    )
)]
pub async fn challenge(
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
    query: Result<web::Query<ChallengeQuery>, actix_web::Error>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (code, channel) = path.into_inner();
    let query = query.map_err(|error| ApiError::invalid(format!("the query: {error}")))?;
    let challenge_code = &query.challenge_code;
    if challenge_code.is_empty() || challenge_code.len() > MAX_CHALLENGE {
        return Err(ApiError::invalid(format!(
            "challenge_code must be 1 to {MAX_CHALLENGE} characters"
        )));
    }
    let info = request.connection_info();
    let endpoint = format!("{}://{}{}", info.scheme(), info.host(), request.path());
    let answer = state
        .service
        .answer_challenge(&code, &channel, challenge_code, &endpoint)
        .map_err(webhook_error)?;
    Ok(HttpResponse::Ok().json(answer))
}
