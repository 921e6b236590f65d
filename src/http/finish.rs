//! Finishing an answer: the problem logged once, the correlation header, the request's
//! metrics, and the shape of the event's source.

use std::time::{Duration, Instant};

use super::{CORRELATION_HEADER, HttpResponse, Response, StatusCode, exchange, lambda, response};
use crate::context::Context;

/// [`CORRELATION_HEADER`], parsed once.
const CORRELATION_HEADER_NAME: http::HeaderName = http::HeaderName::from_static(CORRELATION_HEADER);

/// The correlation header, the request's metrics, and the shape of the event's source.
pub(super) fn finish(
    mut response: Response,
    context: &Context,
    origin: lambda::Origin,
    started: Instant,
    request_metrics: bool,
) -> HttpResponse {
    // A problem answered with a success status around it (axum's `(StatusCode::CREATED,
    // Json(value))` whose value did not serialize) keeps the problem's status.
    if let Some(status) = response
        .extensions()
        .get::<response::ProblemAnswer>()
        .map(|answer| answer.status)
        .filter(|status| {
            *status != response.status()
                && !response.status().is_client_error()
                && !response.status().is_server_error()
        })
    {
        *response.status_mut() = status;
    }
    if let Some(problem) = response
        .extensions_mut()
        .get_mut::<response::ProblemAnswer>()
        .and_then(|answer| answer.unlogged.take())
    {
        let detail = problem.detail;
        response::log_fields(
            problem.status,
            None,
            problem.code.as_deref(),
            problem.fields.as_deref(),
            || detail.unwrap_or_else(|| problem.status.to_string()),
        );
    } else if !response::is_problem(&response)
        && (response.status().is_client_error() || response.status().is_server_error())
    {
        // An error status made without a problem (a bare `StatusCode`, an `http::Response`,
        // a router's 404 or 405): logged here, once, as problems are where they are made.
        let status = response.status();
        response::log(status, None, None, || {
            exchange::with(|exchange| match exchange {
                Some(exchange) => {
                    format!("answered without a problem body, for {}", exchange.path())
                }
                None => "answered without a problem body".to_owned(),
            })
        });
    }
    if !response.headers().contains_key(&CORRELATION_HEADER_NAME)
        && let Ok(value) = http::HeaderValue::from_str(context.correlation_id())
    {
        response
            .headers_mut()
            .insert(CORRELATION_HEADER_NAME, value);
    }
    if request_metrics {
        record_metrics(response.status(), started.elapsed());
    }
    // The status marks the invocation's subsegment: an error for 4xx, a fault for 5xx.
    #[cfg(feature = "tracer")]
    context
        .state()
        .trace
        .set_http_status(response.status().as_u16());
    HttpResponse::new(origin, response)
}

fn record_metrics(status: StatusCode, elapsed: Duration) {
    // Described with each request, not once per process: the recorder may change (tests run
    // one per test), and describing is a map update where no recorder is a no-op.
    metrics::describe_histogram!(
        crate::metrics::HTTP_REQUEST_DURATION,
        metrics::Unit::Milliseconds,
        "how long helve took to answer an HTTP request"
    );
    let class = match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::histogram!(crate::metrics::HTTP_REQUEST_DURATION)
        .record(elapsed.as_secs_f64() * 1000.0);
    metrics::counter!(crate::metrics::HTTP_RESPONSES, "status_class" => class).increment(1);
}
