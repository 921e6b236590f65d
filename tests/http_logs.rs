//! What an HTTP function logs and records when a request fails, through helve's whole stack
//! (the test kit runs `helve::http::http` in-process, with the JSON logger and the EMF writer).

use helve::{
    Context, ErrorStatus, Function,
    http::{Json, Path, Request, StatusCode, http},
    testing::{Level, Outcome, TestContext, TestFunction, fixtures},
};
use serde_json::{Value, json};

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

/// `GET /orders/{id}` through an HTTP API, the route's `id` parameter set.
fn get_order(id: &str) -> fixtures::Http {
    fixtures::api_gateway_http()
        .path(&format!("/orders/{id}"))
        .set("/routeKey", "GET /orders/{id}")
        .set("/requestContext/routeKey", "GET /orders/{id}")
        .set("/pathParameters", json!({ "id": id }))
        .request_id("api-req-1")
}

/// The environment of every function here: the service `orders`, metrics in `Shop`.
async fn invoke<H, T, M>(handler: H, id: &str, request_id: &str) -> Outcome
where
    H: helve::Handler<T, (), M>,
    T: serde::de::DeserializeOwned + Send + 'static,
    M: 'static,
{
    let mut function = TestFunction::builder(Function::new(handler).service("orders"))
        .env("POWERTOOLS_METRICS_NAMESPACE", "Shop")
        .start()
        .await
        .unwrap();
    function
        .invoke_with(TestContext::new().request_id(request_id), get_order(id))
        .await
}

#[tokio::test]
async fn a_server_error_is_logged_at_error_with_its_chain_and_counted_as_5xx() {
    let outcome = invoke(http(find), "broken", "req-1").await;
    let response = outcome.http();
    assert_eq!(response.status, 503);
    assert!(
        !response.text().contains("db-7"),
        "the client sees none of it"
    );
    outcome
        .logs()
        .at(Level::ERROR)
        .message(
            "the request failed with 503 Service Unavailable: the store failed: connection reset by db-7.internal",
        )
        .with("status", 503)
        .with("function_request_id", "req-1")
        .assert_one();
    outcome
        .metrics()
        .named("HttpResponses")
        .dimension("status_class", "5xx")
        .dimensions(&["service", "status_class"])
        .assert_value(1.0);
    outcome
        .metrics()
        .named("HttpRequestDuration")
        .unit("Milliseconds")
        .assert_recorded();
}

#[tokio::test]
async fn a_client_error_is_logged_at_info_with_its_code_and_counted_as_4xx() {
    let outcome = invoke(http(find), "o-404", "req-2").await;
    assert_eq!(outcome.http().status, 404);
    outcome
        .logs()
        .at(Level::INFO)
        .message("the request failed with 404 Not Found: order o-404 not found")
        .with("code", "order_not_found")
        .assert_one();
    outcome.logs().at(Level::ERROR).assert_none();
    outcome
        .metrics()
        .named("HttpResponses")
        .dimension("status_class", "4xx")
        .assert_value(1.0);
}

#[tokio::test]
async fn an_error_status_answered_without_a_problem_is_logged_once_by_class_with_the_path() {
    let teapot = invoke(http(bare_status), "o-1", "req-3").await;
    assert_eq!(teapot.http().status, 418);
    teapot
        .logs()
        .with("status", 418)
        .at(Level::INFO)
        .message(
            "the request failed with 418 I'm a teapot: answered without a problem body, for /orders/o-1",
        )
        .assert_one();

    let crash = invoke(http(bare_status), "crash", "req-4").await;
    assert_eq!(crash.http().status, 500);
    crash
        .logs()
        .with("status", 500)
        .at(Level::ERROR)
        .assert_one();
}

#[tokio::test]
async fn a_helve_error_is_a_500_logged_at_error_with_its_own_error_type_and_chain() {
    let outcome = invoke(http(declined), "o-1", "req-5").await;
    assert_eq!(outcome.http().status, 500);
    outcome
        .logs()
        .with("status", 500)
        .at(Level::ERROR)
        .with("error_type", "PaymentDeclined")
        .message("the request failed with 500 Internal Server Error: the card issuer said no")
        .assert_one();
}
