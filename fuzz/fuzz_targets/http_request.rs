//! Any bytes as an HTTP event (API Gateway REST and HTTP APIs, ALB, Function URL), through
//! helve's whole stack to an HTTP handler that decodes a JSON body, reads the query, panics or
//! echoes, as the request's path says.
//!
//! - An event that decodes as an HTTP event always gets an HTTP response, never a panic nor a
//!   Lambda error: a status from 100 to 599, a 5xx only when the handler panicked (500).
//! - An error status (4xx/5xx) has an `application/problem+json` body: one JSON object whose
//!   `status` is the response's, with the invocation's `request_id` and `correlation_id`.
//! - Every response carries `x-correlation-id`, the invocation's correlation id (at most 256
//!   bytes), unless that id cannot be a header value; a base64 body decodes.
//! - A problem is logged once, never again as an error status without a problem body.
//! - Anything else is `helve.InvalidEvent` (or, not JSON at all, lambda_runtime's error).
//! - Every log line is one JSON object under the line limit.
#![no_main]

use std::{
    collections::HashMap,
    sync::atomic::{AtomicBool, Ordering},
};

use base64::Engine as _;
use helve::{
    Context,
    http::{FromRequest, IntoResponse, Json, Query, Request, Response, header::HeaderValue, http},
    layers::MAX_CORRELATION_ID_BYTES,
};
use helve_fuzz::{lines, one_object};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

static PANICKED: AtomicBool = AtomicBool::new(false);

async fn route(request: Request, _ctx: Context) -> Response {
    let path = request.uri().path().to_owned();
    if path.ends_with("/panic") {
        PANICKED.store(true, Ordering::SeqCst);
        helve_fuzz::planned_panic("the handler panics, as the path asks");
    }
    if path.ends_with("/json") {
        return match Json::<Value>::from_request(&request) {
            Ok(Json(value)) => Json(json!({ "received": value })).into_response(),
            Err(problem) => problem.into_response(),
        };
    }
    if path.ends_with("/query") {
        return match Query::<HashMap<String, String>>::from_request(&request) {
            Ok(Query(query)) => Json(json!({ "query": query })).into_response(),
            Err(problem) => problem.into_response(),
        };
    }
    Json(json!({
        "method": request.method().as_str(),
        "path": path,
        "headers": request.headers().len(),
        "body": request.body().len(),
    }))
    .into_response()
}

/// A header of the response, in whichever shape its source takes.
fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    let find = |map: &'a Value| {
        map.as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    };
    match find(&response["headers"]) {
        Some(value) => value.as_str(),
        None => find(&response["multiValueHeaders"])?.get(0)?.as_str(),
    }
}

fuzz_target!(|data: &[u8]| {
    helve_fuzz::init();
    PANICKED.store(false, Ordering::SeqCst);
    let decodes = serde_json::from_slice::<helve::http::HttpEvent>(data).is_ok();
    let invoked =
        helve::__fuzz::invoke(http(route), data, &Default::default(), &[]).expect("settings");
    let response = match &invoked.response {
        Ok(response) => response,
        Err((error_type, message)) => {
            assert!(
                !decodes,
                "an HTTP event got no response: {error_type}: {message}"
            );
            assert!(
                error_type == "helve.InvalidEvent" || error_type == "lambda_runtime.Deserialize",
                "{error_type}: {message}"
            );
            return;
        }
    };
    assert!(
        decodes,
        "a response to an event that does not decode: {response}"
    );
    let status = response["statusCode"].as_u64().expect("statusCode");
    assert!((100..=599).contains(&status), "status {status}");
    let panicked = PANICKED.load(Ordering::SeqCst);
    if status >= 500 {
        assert!(
            panicked && status == 500,
            "status {status} without a panic: {response}"
        );
    }
    // The invocation's correlation id, as its log lines carry it.
    let logged: Vec<_> = lines(&invoked.logs)
        .into_iter()
        .map(|line| {
            assert!(line.len() < helve::__fuzz::MAX_LOG_LINE_BYTES);
            one_object(line)
                .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(line)))
        })
        .collect();
    let correlation_id = logged
        .iter()
        .find_map(|line| line.get("correlation_id").and_then(Value::as_str));
    let correlation = header(response, "x-correlation-id");
    match (correlation, correlation_id) {
        (Some(header), id) => {
            assert!(!header.is_empty() && header.len() <= MAX_CORRELATION_ID_BYTES);
            assert!(id.is_none_or(|id| id == header), "{header:?} for {id:?}");
        }
        // An id a header cannot carry (a control character in `requestContext.requestId`)
        // is not echoed.
        (None, Some(id)) => assert!(HeaderValue::from_str(id).is_err(), "no x-correlation-id"),
        (None, None) => {}
    }
    let body = response["body"].as_str().unwrap_or_default();
    let body = if response["isBase64Encoded"] == Value::Bool(true) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("a base64 body");
        String::from_utf8(bytes).unwrap_or_default()
    } else {
        body.to_owned()
    };
    if status >= 400 {
        assert_eq!(
            header(response, "content-type"),
            Some("application/problem+json"),
            "{response}"
        );
        let problem = one_object(body.as_bytes()).expect("a problem+json body");
        assert_eq!(problem.get("status").and_then(Value::as_u64), Some(status));
        assert_eq!(
            problem.get("request_id").and_then(Value::as_str),
            Some(helve::__fuzz::REQUEST_ID),
            "{problem:?}"
        );
        let id = problem.get("correlation_id").and_then(Value::as_str);
        assert!(id.is_some(), "{problem:?}");
        assert!(
            correlation.is_none_or(|header| Some(header) == id),
            "{problem:?}"
        );
        // A problem is logged once, where it is made: never again as a bare error status.
        for line in &logged {
            let message = line
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            assert!(!message.contains("without a problem body"), "{line:?}");
        }
    }
});
