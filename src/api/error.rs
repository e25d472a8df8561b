//! The API's one error type and its one table of codes to HTTP statuses (issue 5: errors are
//! `application/problem+json`, RFC 9457, with a stable `code`). Every refusal says what is wrong
//! in `detail`; a refused write changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// An API error: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    /// The stable code (a row of [`CODES`]).
    pub code: &'static str,
    /// What is wrong, for a person.
    pub detail: String,
}

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
    ("body_too_large", 413, "The body is too large"),
    (
        "unsupported_media_type",
        415,
        "The content type is not supported",
    ),
    ("internal", 500, "Internal error"),
    ("unavailable", 503, "The service is not ready"),
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
        }
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
        HttpResponse::build(self.status_code())
            .content_type("application/problem+json")
            .body(
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
}
