//! The API's one error type and its one table of codes (issue 5: errors are
//! `application/problem+json`, RFC 9457, with a stable `code`). Every refusal says what is wrong
//! in `detail`; a refused write changes nothing.
//!
//! Meilisearch's pattern (`reference/style-anchors.md`): [`Code`] is one enum whose every variant
//! carries its name, HTTP status, error type and title, and each module's error type implements
//! [`ErrorCode`] with an exhaustive `match` on its own variants ([`mapping`]). A new variant in any
//! module error therefore does not compile until it is given a code, and so a status; nothing is
//! matched by its text and no code can be unknown at run time.

pub mod mapping;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use shelfsync_actors::metrics::events::{HttpRefused, InternalEvent};

/// Who is at fault, as the `type` of a problem (Meilisearch's error types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The request is wrong: fix it before sending it again.
    InvalidRequest,
    /// The caller is not authenticated or not allowed.
    Auth,
    /// The service is busy, starting or slow: the same request may succeed later.
    System,
    /// A failure inside shelfsync; it was logged.
    Internal,
}

impl ErrorType {
    /// The name in a problem's `error_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request",
            ErrorType::Auth => "auth",
            ErrorType::System => "system",
            ErrorType::Internal => "internal",
        }
    }
}

/// Declares [`Code`] from one table: variant, name, status, type, title (its doc line).
macro_rules! codes {
    ($($variant:ident = ($name:literal, $status:ident, $kind:ident, $title:literal);)*) => {
        /// Every code the API answers with. One table, so that a code always means the same
        /// status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $title] $variant,)*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable name callers match on.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The HTTP status.
            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => StatusCode::$status,)* }
            }

            /// Who is at fault.
            pub fn error_type(self) -> ErrorType {
                match self { $(Code::$variant => ErrorType::$kind,)* }
            }

            /// The problem's `title`.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
        }
    };
}

codes! {
    MalformedJson = ("malformed_json", BAD_REQUEST, InvalidRequest, "The body is not valid JSON");
    InvalidField = ("invalid_field", BAD_REQUEST, InvalidRequest, "A field is missing, unknown or has a bad value");
    InvalidSku = ("invalid_sku", BAD_REQUEST, InvalidRequest, "The SKU is not valid");
    InvalidQuantity = ("invalid_quantity", BAD_REQUEST, InvalidRequest, "The quantity is not valid");
    UnknownChannel = ("unknown_channel", BAD_REQUEST, InvalidRequest, "The client has no such channel");
    DuplicateSku = ("duplicate_sku", BAD_REQUEST, InvalidRequest, "The SKU appears twice in one import");
    BaseUrlNotAllowed = ("base_url_not_allowed", BAD_REQUEST, InvalidRequest, "This deployment does not allow connecting to that base URL");
    UnknownClient = ("unknown_client", BAD_REQUEST, InvalidRequest, "No client has that code");
    UnknownMember = ("unknown_member", BAD_REQUEST, InvalidRequest, "No active member who may see this client has that id");
    Unauthorized = ("unauthorized", UNAUTHORIZED, Auth, "A valid bearer token is required");
    // Every unauthenticated webhook delivery gets this one code, whatever the reason (unknown
    // client or channel, no webhooks or no secret on the channel, a missing or wrong signature):
    // a caller must not learn which clients and channels exist.
    BadSignature = ("bad_signature", UNAUTHORIZED, Auth, "The webhook signature does not match the body");
    Forbidden = ("forbidden", FORBIDDEN, Auth, "The token's role may not do this");
    NotFound = ("not_found", NOT_FOUND, InvalidRequest, "No such resource");
    MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED, InvalidRequest, "The path does not take this method; `Allow` lists those it takes");
    UnknownSku = ("unknown_sku", NOT_FOUND, InvalidRequest, "The client has no such SKU");
    Conflict = ("conflict", CONFLICT, InvalidRequest, "The resource exists already or changed");
    CodeUnavailable = ("code_unavailable", CONFLICT, InvalidRequest, "That client code cannot be used; choose another");
    CredentialHostMismatch = ("credential_host_mismatch", CONFLICT, InvalidRequest, "The credential is bound to other hosts; supply its secret again to use it there");
    MovementRejected = ("movement_rejected", CONFLICT, InvalidRequest, "The movement cannot apply to the current stock");
    InvalidTransition = ("invalid_transition", CONFLICT, InvalidRequest, "The exception's state does not allow this action");
    BodyTimeout = ("body_timeout", REQUEST_TIMEOUT, System, "The body was not received in time");
    BodyTooLarge = ("body_too_large", PAYLOAD_TOO_LARGE, InvalidRequest, "The body is too large");
    UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, InvalidRequest, "The content type is not supported");
    Internal = ("internal", INTERNAL_SERVER_ERROR, Internal, "Internal error");
    Unavailable = ("unavailable", SERVICE_UNAVAILABLE, System, "The service is not ready");
    Overloaded = ("overloaded", SERVICE_UNAVAILABLE, System, "Too many requests wait for this client's ledger; nothing was queued");
    EngineTimeout = ("engine_timeout", SERVICE_UNAVAILABLE, System, "The engine did not answer in time; a write it refused was not applied");
    OutcomeUnknown = ("outcome_unknown", SERVICE_UNAVAILABLE, System, "The ledger was still writing when the wait ended; retry with the same idempotency key");
}

impl Code {
    /// Whether the code turns a request away for load or time; counted in
    /// `shelfsync_http_refused_total` ([`HttpRefused`]) so that a refusal is never silent.
    pub fn is_refusal(self) -> bool {
        match self {
            Code::BodyTimeout | Code::Overloaded | Code::EngineTimeout | Code::OutcomeUnknown => {
                true
            }
            Code::MalformedJson
            | Code::InvalidField
            | Code::InvalidSku
            | Code::InvalidQuantity
            | Code::UnknownChannel
            | Code::DuplicateSku
            | Code::BaseUrlNotAllowed
            | Code::UnknownClient
            | Code::UnknownMember
            | Code::InvalidTransition
            | Code::Unauthorized
            | Code::BadSignature
            | Code::Forbidden
            | Code::NotFound
            | Code::MethodNotAllowed
            | Code::UnknownSku
            | Code::Conflict
            | Code::CodeUnavailable
            | Code::CredentialHostMismatch
            | Code::MovementRejected
            | Code::BodyTooLarge
            | Code::UnsupportedMediaType
            | Code::Internal
            | Code::Unavailable => false,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl Code {
    /// The code named `name`, as a caller reads it from a problem.
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|code| code.name() == name)
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Code, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Code::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown code {name:?}")))
    }
}

/// The document's `Code` schema: a string, one of every code's name.
impl utoipa::PartialSchema for Code {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Code::ALL.iter().map(|code| code.name())))
            .description(Some(
                "A stable error code; its status, type and title never change",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Code {}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// An error of a module that the API can answer with: its [`Code`], decided by an exhaustive
/// match on the module's own variants (see [`mapping`]), and when a retry may succeed.
pub trait ErrorCode: std::fmt::Display {
    /// The API code of this error.
    fn error_code(&self) -> Code;

    /// When a caller refused for load or time may try again (`Retry-After`); `None` leaves a 503
    /// at [`DEFAULT_RETRY_AFTER_SECS`].
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// The `application/problem+json` body of every refusal (RFC 9457, with Meilisearch's `code`
/// and `error_type`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://shelfsync.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The code's title.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What is wrong, for a person.
    pub detail: String,
    /// The stable code callers match on.
    pub code: Code,
    /// Who is at fault: `invalid_request`, `auth`, `system` or `internal`.
    pub error_type: &'static str,
}

/// An API error: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    /// The stable code.
    pub code: Code,
    /// What is wrong, for a person.
    pub detail: String,
    /// Seconds after which a retry may succeed (`Retry-After`); every 503 carries one, by
    /// default [`DEFAULT_RETRY_AFTER_SECS`].
    pub retry_after: Option<u64>,
    /// The methods a path takes, for a 405's `Allow`.
    pub allow: Option<String>,
}

/// The `Retry-After` of a 503 that sets none: the supervisor respawns a dead actor within about a
/// second (its watchdog ticks every 250 ms, `actors/src/tenant`).
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 1;

/// A module error becomes the API error of its code. An internal one is logged whole and shown
/// to the caller only as a failure (its text may name files, keys or stores).
impl<E: ErrorCode> From<E> for ApiError {
    fn from(error: E) -> ApiError {
        let code = error.error_code();
        if code == Code::Internal {
            return ApiError::internal(error);
        }
        let reply = ApiError::new(code, error.to_string());
        match error.retry_after() {
            Some(after) => reply.retry_after(after),
            None => reply,
        }
    }
}

impl ApiError {
    /// An error with `code`.
    pub fn new(code: Code, detail: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: detail.into(),
            retry_after: None,
            allow: None,
        }
    }

    /// Sets `Retry-After`, rounded up to whole seconds (at least one).
    pub fn retry_after(mut self, after: Duration) -> ApiError {
        let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 404 for a resource the caller may not see or that does not exist (the same answer).
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(Code::NotFound, what)
    }

    /// 405 for a method the path does not take; `allow` lists those it takes.
    pub fn method_not_allowed(allow: String) -> ApiError {
        ApiError {
            allow: Some(allow),
            ..ApiError::new(
                Code::MethodNotAllowed,
                "this path does not take this method; see `Allow`",
            )
        }
    }

    /// 400 `invalid_field`.
    pub fn invalid(detail: impl Into<String>) -> ApiError {
        ApiError::new(Code::InvalidField, detail)
    }

    /// An internal failure: the detail is logged, the caller sees only that it failed.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "internal API error");
        ApiError::new(
            Code::Internal,
            "the request failed inside shelfsync; it was logged",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.code.status();
        let mut reply = HttpResponse::build(status);
        let retry_after = match (self.retry_after, status) {
            (Some(seconds), _) => Some(seconds),
            (None, StatusCode::SERVICE_UNAVAILABLE) => Some(DEFAULT_RETRY_AFTER_SECS),
            (None, _) => None,
        };
        if let Some(seconds) = retry_after {
            reply.insert_header(("retry-after", seconds.to_string()));
        }
        if let Some(allow) = &self.allow {
            reply.insert_header(("allow", allow.as_str()));
        }
        if self.code.is_refusal() {
            HttpRefused {
                reason: self.code.name(),
            }
            .emit();
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            // The rest of a body that came too slowly is never read: the connection is closed
            // rather than drained (a chunked body would otherwise keep it busy).
            reply.force_close();
        }
        let problem = Problem {
            problem_type: format!("https://shelfsync.dev/problems/{}", self.code),
            title: self.code.title(),
            status: status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            error_type: self.code.error_type().as_str(),
        };
        reply
            .content_type("application/problem+json")
            .body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ServiceError;

    #[test]
    fn names_are_unique_snake_case_and_every_status_is_an_error() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.name()), "{code} twice");
            assert!(
                code.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            assert!(code.status().is_client_error() || code.status().is_server_error());
            // The type follows the status: a 5xx is never the caller's fault, a 4xx never ours.
            let server = code.status().is_server_error();
            match code.error_type() {
                ErrorType::Internal | ErrorType::System => {
                    assert!(server || *code == Code::BodyTimeout, "{code}")
                }
                ErrorType::InvalidRequest | ErrorType::Auth => assert!(!server, "{code}"),
            }
        }
        assert_eq!(
            ApiError::new(Code::InvalidSku, "x").status_code(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            ApiError::not_found("x").status_code(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_reply_is_problem_json_with_the_code() {
        let reply = ApiError::new(Code::BodyTooLarge, "the body is 9 MiB, the limit 4 MiB")
            .error_response();
        assert_eq!(reply.status(), 413);
        assert_eq!(
            reply.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
    }

    #[test]
    fn every_503_says_when_to_retry() {
        for code in Code::ALL
            .iter()
            .filter(|code| code.status() == StatusCode::SERVICE_UNAVAILABLE)
        {
            let reply = ApiError::new(*code, "x").error_response();
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
        let reply = ApiError::from(timed_out).error_response();
        assert_eq!(reply.status(), 503);
        assert_eq!(reply.headers().get("retry-after").unwrap(), "3");
        let not_found = ApiError::not_found("x").error_response();
        assert!(not_found.headers().get("retry-after").is_none());
    }

    #[test]
    fn an_internal_error_shows_nothing_of_its_cause() {
        let error = ApiError::from(ServiceError::Store(
            crate::clients::ClientStoreError::Corrupt {
                key: "k/ACME/secret-name".into(),
                message: "bad bytes".into(),
            },
        ));
        assert_eq!(error.code, Code::Internal);
        assert!(!error.detail.contains("ACME"), "{}", error.detail);
    }
}
