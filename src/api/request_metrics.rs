//! Request metrics: every request the API answers is one [`RequestAnswered`] event, emitted by the
//! [`record`] middleware that wraps the whole app. Labels stay bounded: the route *template*
//! actix matched (`/v1/clients/{code}/stock`, never the client or SKU of the path), `unmatched`
//! for a path no route serves, the method among the four the API uses, and the status class.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use shelfsync_actors::metrics::{self, label};

/// The `route` of a request that matched no route (a 404 from the default service).
pub const UNMATCHED: &str = "unmatched";

/// One answered request (Vector's internal-event pattern: the metric is emitted in one place).
#[derive(Debug)]
pub struct RequestAnswered<'a> {
    /// The route template, or [`UNMATCHED`].
    pub route: &'a str,
    /// The method.
    pub method: &'a Method,
    /// The reply's status.
    pub status: StatusCode,
    /// From the request's head to the reply's head.
    pub elapsed: Duration,
}

impl RequestAnswered<'_> {
    /// Counts the request and records its time.
    pub fn emit(&self) {
        ::metrics::counter!(
            metrics::HTTP_REQUESTS_TOTAL.name,
            label::ROUTE => self.route.to_string(),
            label::METHOD => method_label(self.method),
            label::STATUS => status_class(self.status),
        )
        .increment(1);
        ::metrics::histogram!(
            metrics::HTTP_REQUEST_SECONDS.name,
            label::ROUTE => self.route.to_string(),
        )
        .record(self.elapsed.as_secs_f64());
    }
}

/// The `method` label: the API's four methods, anything else `other` (a caller must not be able
/// to mint series).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// The `status` label: the class of the status.
pub fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// The middleware: times the request, then emits its [`RequestAnswered`].
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let reply = next.call(request).await;
    let (route, status) = match &reply {
        Ok(response) => (
            response.request().match_pattern(),
            response.response().status(),
        ),
        Err(error) => (None, error.as_response_error().status_code()),
    };
    RequestAnswered {
        route: route.as_deref().unwrap_or(UNMATCHED),
        method: &method,
        status,
        elapsed: started.elapsed(),
    }
    .emit();
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::PATCH), "other");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(status_class(StatusCode::NO_CONTENT), "2xx");
        assert_eq!(status_class(StatusCode::SERVICE_UNAVAILABLE), "5xx");
    }
}
