//! The API's one error type and its one table of codes to HTTP statuses (issue 5: errors are
//! `application/problem+json`, RFC 9457, with a stable `code`). Every refusal says what is wrong
//! in `detail`; a refused write changes nothing.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use shelfsync_actors::metrics;

use crate::service::ServiceError;

/// An API error: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    /// The stable code (a row of [`CODES`]).
    pub code: &'static str,
    /// What is wrong, for a person.
    pub detail: String,
    /// Seconds after which a retry may succeed (`Retry-After`); every 503 carries one, by
    /// default [`DEFAULT_RETRY_AFTER_SECS`].
    pub retry_after: Option<u64>,
}

/// The `Retry-After` of a 503 that sets none: the supervisor respawns a dead actor within about a
/// second (its watchdog ticks every 250 ms, `actors/src/tenant`).
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 1;

/// The codes of requests turned away for load or time, counted in
/// [`metrics::HTTP_REFUSED_TOTAL`] so that a refusal is never silent.
const REFUSALS: [&str; 4] = [
    "body_timeout",
    "overloaded",
    "engine_timeout",
    "outcome_unknown",
];

/// Every code the API answers with, its status and its title. One table, so that a code always
/// means the same status.
pub const CODES: &[(&str, u16, &str)] = &[
    ("malformed_json", 400, "The body is not valid JSON"),
    (
        "invalid_field",
        400,
        "A field is missing, unknown or has a bad value",
    ),
    ("invalid_sku", 400, "The SKU is not valid"),
    ("invalid_quantity", 400, "The quantity is not valid"),
    ("unknown_channel", 400, "The client has no such channel"),
    ("duplicate_sku", 400, "The SKU appears twice in one import"),
    (
        "base_url_not_allowed",
        400,
        "This deployment does not allow connecting to that base URL",
    ),
    ("unknown_client", 400, "No client has that code"),
    ("unauthorized", 401, "A valid bearer token is required"),
    // Every unauthenticated webhook delivery gets this one code, whatever the reason (unknown
    // client or channel, no webhooks or no secret on the channel, a missing or wrong signature):
    // a caller must not learn which clients and channels exist.
    (
        "bad_signature",
        401,
        "The webhook signature does not match the body",
    ),
    ("forbidden", 403, "The token's role may not do this"),
    ("not_found", 404, "No such resource"),
    ("unknown_sku", 404, "The client has no such SKU"),
    ("conflict", 409, "The resource exists already or changed"),
    (
        "code_unavailable",
        409,
        "That client code cannot be used; choose another",
    ),
    (
        "credential_host_mismatch",
        409,
        "The credential is bound to other hosts; supply its secret again to use it there",
    ),
    (
        "movement_rejected",
        409,
        "The movement cannot apply to the current stock",
    ),
    ("body_timeout", 408, "The body was not received in time"),
    ("body_too_large", 413, "The body is too large"),
    (
        "unsupported_media_type",
        415,
        "The content type is not supported",
    ),
    ("internal", 500, "Internal error"),
    ("unavailable", 503, "The service is not ready"),
    (
        "overloaded",
        503,
        "Too many requests wait for this client's ledger; nothing was queued",
    ),
    (
        "engine_timeout",
        503,
        "The engine did not answer in time; a write it refused was not applied",
    ),
    (
        "outcome_unknown",
        503,
        "The ledger was still writing when the wait ended; retry with the same idempotency key",
    ),
];

impl ApiError {
    /// An error with `code` (one of [`CODES`]).
    pub fn new(code: &'static str, detail: impl Into<String>) -> ApiError {
        debug_assert!(
            CODES.iter().any(|(known, _, _)| *known == code),
            "unknown API code {code}"
        );
        ApiError {
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// Sets `Retry-After`, rounded up to whole seconds (at least one).
    pub fn retry_after(mut self, after: Duration) -> ApiError {
        let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// The 503 of an engine call refused for load or time (issue 12: a full mailbox or a timeout
    /// is a 503 with `Retry-After`), or `None` when `error` is something else.
    pub fn engine_busy(error: &ServiceError) -> Option<ApiError> {
        let code = match error {
            ServiceError::Overloaded(_) => "overloaded",
            ServiceError::TimedOut { .. } => "engine_timeout",
            ServiceError::OutcomeUnknown { .. } => "outcome_unknown",
            _ => return None,
        };
        let reply = ApiError::new(code, error.to_string());
        Some(match error.retry_after() {
            Some(after) => reply.retry_after(after),
            None => reply,
        })
    }

    /// 404 for a resource the caller may not see or that does not exist (the same answer).
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new("not_found", what)
    }

    /// An internal failure: the detail is logged, the caller sees only that it failed.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "internal API error");
        ApiError::new(
            "internal",
            "the request failed inside shelfsync; it was logged",
        )
    }

    fn row(&self) -> (u16, &'static str) {
        CODES
            .iter()
            .find(|(code, _, _)| *code == self.code)
            .map_or((500, "Internal error"), |&(_, status, title)| {
                (status, title)
            })
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.row().0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let (status, title) = self.row();
        let mut reply = HttpResponse::build(self.status_code());
        let retry_after = match (self.retry_after, status) {
            (Some(seconds), _) => Some(seconds),
            (None, 503) => Some(DEFAULT_RETRY_AFTER_SECS),
            (None, _) => None,
        };
        if let Some(seconds) = retry_after {
            reply.insert_header(("retry-after", seconds.to_string()));
        }
        if REFUSALS.contains(&self.code) {
            ::metrics::counter!(
                metrics::HTTP_REFUSED_TOTAL.name,
                metrics::label::REASON => self.code
            )
            .increment(1);
        }
        if status == 408 {
            // The rest of a body that came too slowly is never read: the connection is closed
            // rather than drained (a chunked body would otherwise keep it busy).
            reply.force_close();
        }
        reply.content_type("application/problem+json").body(
            json!({
                "type": format!("https://shelfsync.dev/problems/{}", self.code),
                "title": title,
                "status": status,
                "detail": self.detail,
                "code": self.code,
            })
            .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_client_errors_are_4xx() {
        let mut seen = std::collections::BTreeSet::new();
        for (code, status, _) in CODES {
            assert!(seen.insert(*code), "{code} twice");
            assert!((400..600).contains(status));
        }
        assert_eq!(
            ApiError::new("invalid_sku", "x").status_code(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            ApiError::not_found("x").status_code(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_reply_is_problem_json_with_the_code() {
        let reply =
            ApiError::new("body_too_large", "the body is 9 MiB, the limit 4 MiB").error_response();
        assert_eq!(reply.status(), 413);
        assert_eq!(
            reply.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
    }

    #[test]
    fn every_503_says_when_to_retry() {
        for (code, status, _) in CODES.iter().filter(|(_, status, _)| *status == 503) {
            let reply = ApiError::new(code, "x").error_response();
            assert_eq!(reply.status(), *status);
            assert_eq!(
                reply.headers().get("retry-after").unwrap(),
                &DEFAULT_RETRY_AFTER_SECS.to_string(),
                "{code}"
            );
        }
        let timed_out = ServiceError::TimedOut {
            what: "the ledger of ACME".into(),
            retry_after: Duration::from_millis(2_500),
        };
        let reply = ApiError::engine_busy(&timed_out).unwrap().error_response();
        assert_eq!(reply.status(), 503);
        assert_eq!(reply.headers().get("retry-after").unwrap(), "3");
        assert!(ApiError::engine_busy(&ServiceError::Invalid("x".into())).is_none());
        let not_found = ApiError::not_found("x").error_response();
        assert!(not_found.headers().get("retry-after").is_none());
    }
}
