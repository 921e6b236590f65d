//! What an HTTP function logs and records when a request fails, through helve's public stack:
//! the layers of `helve::layers` around `helve::http::http`, the JSON logger and the EMF
//! writer. One test in a process of its own, so that the log capture sees every line.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use helve::{
    Context, ErrorStatus, HandlerService, Payload, Settings,
    http::{HttpEvent, Json, Path, Request, StatusCode, http},
    layers::{CatchPanicLayer, ContextLayer, LoggingLayer, MetricsLayer},
    metrics::EmfRecorder,
};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug, thiserror::Error)]
enum OrderError {
    #[error("order {0} not found")]
    NotFound(String),
    #[error("the store failed")]
    Store(#[source] std::io::Error),
}

impl ErrorStatus for OrderError {
    fn status(&self) -> StatusCode {
        match self {
            OrderError::NotFound(_) => StatusCode::NOT_FOUND,
            OrderError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> Option<&str> {
        match self {
            OrderError::NotFound(_) => Some("order_not_found"),
            OrderError::Store(_) => None,
        }
    }

    fn log_message(&self) -> String {
        helve::error::chain_message(self)
    }
}

async fn find(request: Request, _ctx: Context) -> Result<Json<Value>, OrderError> {
    use helve::http::FromRequest;
    let Path(id) = Path::<String>::from_request(&request)
        .map_err(|_| OrderError::Store(std::io::Error::other("no path parameter")))?;
    match id.as_str() {
        "broken" => Err(OrderError::Store(std::io::Error::other(
            "connection reset by db-7.internal",
        ))),
        _ => Err(OrderError::NotFound(id)),
    }
}

/// A handler failing with a `helve::Error` of its own error type.
async fn declined(_request: Request, _ctx: Context) -> Result<StatusCode, helve::Error> {
    Err(helve::Error::new(
        "PaymentDeclined",
        std::io::Error::other("the card issuer said no"),
    ))
}

/// A handler answering bare status codes, with no problem body.
async fn bare_status(request: Request, _ctx: Context) -> StatusCode {
    if request.uri().path().ends_with("/crash") {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::IM_A_TEAPOT
    }
}

fn get_order(id: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "GET /orders/{id}",
        "rawPath": format!("/orders/{id}"),
        "rawQueryString": "",
        "headers": {},
        "pathParameters": {"id": id},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {"method": "GET", "path": format!("/orders/{id}"), "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
            "requestId": "api-req-1",
            "routeKey": "GET /orders/{id}",
            "stage": "$default",
            "time": "23/Nov/2026:18:00:00 +0000",
            "timeEpoch": 1_795_000_000_000u64
        },
        "isBase64Encoded": false
    })
}

fn lines(bytes: &Mutex<Vec<u8>>) -> Vec<Value> {
    let bytes = std::mem::take(&mut *bytes.lock().unwrap());
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The one line logged about a request answered `status`, among the lines logged since the
/// last look.
/// The one line logged for `status`.
fn logged_once(logs: &Mutex<Vec<u8>>, status: u16) -> Value {
    let logged = lines(logs);
    let mut failed = logged.iter().filter(|line| line["status"] == status);
    let (Some(line), None) = (failed.next(), failed.next()) else {
        panic!("not one line for {status}: {logged:#?}");
    };
    line.clone()
}

#[tokio::test]
async fn a_failed_request_is_logged_by_class_and_counted_by_status_class() {
    let settings = Settings::from_lookup(Some("orders"), |name| {
        (name == "POWERTOOLS_METRICS_NAMESPACE").then(|| "Shop".to_owned())
    })
    .unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let emf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&logs);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(
        helve::logging::json_layer_for(&settings, move |line: &[u8]| {
            sink.lock().unwrap().extend_from_slice(line)
        }),
    ))
    .unwrap();
    let recorder = EmfRecorder::new();
    metrics::set_global_recorder(recorder.clone()).unwrap();
    let bare_stack = ContextLayer::new(settings.clone()).layer(
        LoggingLayer::new(&settings)
            .layer(CatchPanicLayer::new().layer(HandlerService::new(http(bare_status), &()))),
    );
    let declined_stack = ContextLayer::new(settings.clone()).layer(
        LoggingLayer::new(&settings)
            .layer(CatchPanicLayer::new().layer(HandlerService::new(http(declined), &()))),
    );
    let writer = Arc::clone(&emf);
    let metrics_layer = MetricsLayer::with_writer(
        recorder,
        settings.metrics().cloned(),
        move |line: &[u8]| writer.lock().unwrap().extend_from_slice(line),
    );
    let stack = ContextLayer::new(settings.clone()).layer(LoggingLayer::new(&settings).layer(
        metrics_layer.layer(CatchPanicLayer::new().layer(HandlerService::new(http(find), &()))),
    ));

    let event = |id: &str, request_id: &str| {
        let mut context = lambda_runtime::Context::default();
        context.request_id = request_id.to_owned();
        context.deadline = u64::try_from(
            (std::time::SystemTime::now() + Duration::from_secs(30))
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        let payload: Payload<HttpEvent> = serde_json::from_value(get_order(id)).unwrap();
        lambda_runtime::LambdaEvent::new(payload, context)
    };
    let invoke = |id: &str, request_id: &str| stack.clone().oneshot(event(id, request_id));

    // A server error: ERROR with the whole chain; the client sees none of it.
    let response = serde_json::to_value(invoke("broken", "req-1").await.unwrap()).unwrap();
    assert_eq!(response["statusCode"], 503);
    assert!(!response.to_string().contains("db-7"));
    let logged = lines(&logs);
    let error = logged
        .iter()
        .find(|line| line["level"] == "ERROR")
        .unwrap_or_else(|| panic!("an ERROR line in {logged:#?}"));
    assert_eq!(
        error["message"],
        "the request failed with 503 Service Unavailable: the store failed: connection reset by db-7.internal"
    );
    assert_eq!(error["status"], 503);
    assert_eq!(error["function_request_id"], "req-1");
    let documents = lines(&emf);
    let responses = documents
        .iter()
        .find(|document| document.get("HttpResponses").is_some())
        .unwrap_or_else(|| panic!("an HttpResponses document in {documents:#?}"));
    assert_eq!(responses["status_class"], "5xx");
    assert_eq!(responses["HttpResponses"], 1.0);
    assert_eq!(
        responses["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["service", "status_class"]])
    );
    let duration = documents
        .iter()
        .find(|document| document.get("HttpRequestDuration").is_some())
        .unwrap_or_else(|| panic!("an HttpRequestDuration document in {documents:#?}"));
    assert_eq!(
        duration["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
        json!({"Name": "HttpRequestDuration", "Unit": "Milliseconds"})
    );

    // A client error: INFO with its code, no ERROR; counted as 4xx.
    let response = serde_json::to_value(invoke("o-404", "req-2").await.unwrap()).unwrap();
    assert_eq!(response["statusCode"], 404);
    let logged = lines(&logs);
    let info = logged
        .iter()
        .find(|line| {
            line["message"] == "the request failed with 404 Not Found: order o-404 not found"
        })
        .unwrap_or_else(|| panic!("the client error's line in {logged:#?}"));
    assert_eq!(info["level"], "INFO");
    assert_eq!(info["code"], "order_not_found");
    assert!(logged.iter().all(|line| line["level"] != "ERROR"));
    let documents = lines(&emf);
    assert!(
        documents
            .iter()
            .any(|document| document["status_class"] == "4xx"),
        "{documents:#?}"
    );

    // An error status answered without a problem (a bare status code, a router's 404): logged
    // once too, by class, with the path.
    let response = bare_stack
        .clone()
        .oneshot(event("o-1", "req-3"))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(response).unwrap()["statusCode"], 418);
    let failed = logged_once(&logs, 418);
    assert_eq!(failed["level"], "INFO");
    assert_eq!(
        failed["message"],
        "the request failed with 418 I'm a teapot: answered without a problem body, for /orders/o-1"
    );
    let response = bare_stack.oneshot(event("crash", "req-4")).await.unwrap();
    assert_eq!(serde_json::to_value(response).unwrap()["statusCode"], 500);
    let failed = logged_once(&logs, 500);
    assert_eq!(failed["level"], "ERROR");

    // A `helve::Error`: a 500, logged at ERROR with its own error type and its chain.
    let response = declined_stack.oneshot(event("o-1", "req-5")).await.unwrap();
    assert_eq!(serde_json::to_value(response).unwrap()["statusCode"], 500);
    let failed = logged_once(&logs, 500);
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(failed["error_type"], "PaymentDeclined");
    assert_eq!(
        failed["message"],
        "the request failed with 500 Internal Server Error: the card issuer said no"
    );
}
