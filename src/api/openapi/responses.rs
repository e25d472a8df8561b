//! The error replies of the document: one response component per HTTP status the API refuses
//! with, its `application/problem+json` body listing exactly the [`Code`]s of that status (from
//! the code table, so a new code is documented where it can appear), 503s with their
//! `Retry-After`. A handler's `#[utoipa::path]` names the statuses it can really answer with the
//! marker types below (`responses(..., Unauthorized, NotFound)`).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};

use crate::api::error::Code;

/// The problem+json content type of every refusal.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Declares one marker per refusal status: `name = status`.
macro_rules! refusals {
    ($($(#[$doc:meta])* $name:ident = $status:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;

            impl utoipa::IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    BTreeMap::from([(
                        StatusCode::$status.as_u16().to_string(),
                        Ref::from_response_name(stringify!($name)).into(),
                    )])
                }
            }
        )*

        /// Every refusal component, by name, for the document's `components.responses`.
        pub fn components() -> Vec<(String, RefOr<Response>)> {
            vec![$((stringify!($name).to_string(), refusal(StatusCode::$status).into()),)*]
        }
    };
}

refusals! {
    /// 400: a malformed body, a bad field, query or path value.
    BadRequest = BAD_REQUEST;
    /// 401: no valid bearer token (or, for a webhook, no valid signature).
    Unauthorized = UNAUTHORIZED;
    /// 403: the token's role may not do this.
    Forbidden = FORBIDDEN;
    /// 404: no such resource, or one the token may not see (the same answer).
    NotFound = NOT_FOUND;
    /// 408: the body did not arrive in time.
    BodyTimeout = REQUEST_TIMEOUT;
    /// 409: the resource exists already, or the current state refuses the change.
    Conflict = CONFLICT;
    /// 413: the body is larger than the configured limit.
    TooLarge = PAYLOAD_TOO_LARGE;
    /// 415: the body's content type is not one the route reads.
    UnsupportedMediaType = UNSUPPORTED_MEDIA_TYPE;
    /// 503: busy, starting or slow; `Retry-After` says when to try again.
    Unavailable = SERVICE_UNAVAILABLE;
}

/// The response of `status`: the problem body with the codes of that status.
fn refusal(status: StatusCode) -> Response {
    let codes: Vec<&str> = Code::ALL
        .iter()
        .filter(|code| code.status() == status)
        .map(|code| code.name())
        .collect();
    let titles: Vec<String> = Code::ALL
        .iter()
        .filter(|code| code.status() == status)
        .map(|code| format!("`{}`: {}", code.name(), code.title()))
        .collect();
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("Problem"))
        .item(
            ObjectBuilder::new().property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(codes)),
            ),
        );
    let mut response = ResponseBuilder::new()
        .description(titles.join("; "))
        .content(
            PROBLEM_JSON,
            ContentBuilder::new().schema(Some(schema)).build(),
        );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )
                .description(Some("Seconds after which the same request may succeed"))
                .build(),
        );
    }
    response.build()
}
