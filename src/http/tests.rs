//! What an HTTP client sees when helve answers for a handler.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::*;
use crate::ErrorStatus;
use crate::Payload;
use crate::handler::Handler;

fn context() -> Context {
    Context::builder()
        .request_id("req-1")
        .correlation_id("corr-1")
        .timeout(Duration::from_secs(3))
        .build()
}

/// An HTTP API (payload 2.0) request.
fn v2(method: &str, path: &str, headers: Value, body: Option<&str>) -> Value {
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
            "requestId": "api-req-1",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "23/Nov/2026:18:00:00 +0000",
            "timeEpoch": 1_795_000_000_000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

fn json_headers() -> Value {
    json!({"content-type": "application/json"})
}

/// A REST API request.
fn v1(method: &str, path: &str, body: Option<&str>) -> Value {
    json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abc",
            "stage": "prod",
            "requestId": "api-req-1",
            "identity": {"sourceIp": "192.0.2.1"},
            "resourcePath": path,
            "httpMethod": method,
            "apiId": "api"
        },
        "body": body,
        "isBase64Encoded": false
    })
}

async fn invoke<H, M>(handler: &H, event: Value) -> Value
where
    H: Handler<HttpEvent, (), M>,
{
    let event: HttpEvent = serde_json::from_value(event).expect("an HTTP event");
    let response = match handler.call(event, context(), &()).await {
        Ok(response) => response,
        Err(_) => panic!("an HTTP handler always answers"),
    };
    serde_json::to_value(response).unwrap()
}

fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().expect("a text body")).unwrap()
}

#[derive(Debug, Deserialize, validator::Validate)]
struct NewOrder {
    #[validate(length(min = 1, message = "must not be empty"))]
    sku: String,
    #[validate(range(min = 1, max = 100))]
    quantity: u32,
}

#[derive(Debug, Serialize)]
struct Order {
    id: String,
    sku: String,
    quantity: u32,
}

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

    // What `#[derive(helve::ErrorStatus)]` writes.
    fn log_message(&self) -> String {
        crate::error::chain_message(self)
    }
}

async fn create(request: Request, _ctx: Context) -> Response {
    let Valid(new) = match Valid::<NewOrder>::from_request(&request) {
        Ok(valid) => valid,
        Err(problem) => return problem.into_response(),
    };
    (
        StatusCode::CREATED,
        [(header::LOCATION, "/orders/o-1")],
        Json(Order {
            id: "o-1".into(),
            sku: new.sku,
            quantity: new.quantity,
        }),
    )
        .into_response()
}

#[tokio::test]
async fn a_request_lambda_http_cannot_read_is_a_400_problem_not_a_crash() {
    let handler = http(create);
    let mut events = Vec::new();
    let mut bad_host = v2(
        "POST",
        "/orders",
        json!({"host": "api.example.com:99999"}),
        Some("{}"),
    );
    bad_host["requestContext"]["domainName"] = json!("api example.com");
    events.push(bad_host);
    let mut bad_query = v2("GET", "/orders", json!({}), None);
    bad_query["rawQueryString"] = json!("q=\"<script> x");
    events.push(bad_query);
    let mut not_base64 = v2(
        "POST",
        "/orders",
        json_headers(),
        Some("%%% not base64 %%%"),
    );
    not_base64["isBase64Encoded"] = json!(true);
    events.push(not_base64);
    let mut bad_proto = v1("POST", "/orders", Some("{}"));
    bad_proto["headers"]["X-Forwarded-Proto"] = json!("ht tp");
    bad_proto["headers"]["Host"] = json!("bad host");
    events.push(bad_proto);
    for event in events {
        let response = invoke(&handler, event.clone()).await;
        assert_eq!(response["statusCode"], 400, "{event}: {response}");
        let problem = body(&response);
        assert_eq!(problem["code"], "malformed_request", "{response}");
        assert_eq!(problem["request_id"], "req-1");
        assert_eq!(problem["correlation_id"], "corr-1");
    }
}

#[tokio::test]
async fn a_request_lambda_http_cannot_read_is_logged_once() {
    // Found by the `http_request` fuzz target: the 400 was logged as malformed, then again as
    // an error status "answered without a problem body".
    use tracing_subscriber::layer::SubscriberExt as _;
    let captured = crate::test_support::Captured::default();
    let settings = crate::Settings::resolve(&crate::Options::default(), |_| None).unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(crate::logging::json_layer(settings.log(), captured.sink()));
    let _logging = tracing::subscriber::set_default(subscriber);
    let mut event = v2("GET", "/orders", json!({}), None);
    event["rawQueryString"] = json!("q=\"<script> x");
    let response = invoke(&http(create), event).await;
    assert_eq!(response["statusCode"], 400);
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["error_type"], "helve.MalformedRequest");
}

#[derive(Debug, Deserialize, Serialize, validator::Validate)]
#[serde(rename_all = "camelCase")]
struct NewNote {
    #[serde(rename = "noteTitle")]
    #[validate(length(min = 1, max = 100))]
    note_title: String,
    #[validate(length(min = 1), nested)]
    line_items: Vec<NoteLine>,
}

#[derive(Debug, Deserialize, Serialize, validator::Validate)]
#[serde(rename_all = "camelCase")]
struct NoteLine {
    #[validate(range(min = 1))]
    item_count: u32,
}

use validator::Validate as _;

async fn create_note(request: Request, _ctx: Context) -> Response {
    match Valid::<NewNote>::from_request(&request) {
        Ok(_) => StatusCode::CREATED.into_response(),
        Err(problem) => problem.into_response(),
    }
}

#[tokio::test]
async fn a_422_names_each_field_as_the_client_sent_it_and_its_log_line_lists_them() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let captured = crate::test_support::Captured::default();
    let settings = crate::Settings::resolve(&crate::Options::default(), |_| None).unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(crate::logging::json_layer(settings.log(), captured.sink()));
    let _logging = tracing::subscriber::set_default(subscriber);
    let response = invoke(
        &http(create_note),
        v2(
            "POST",
            "/notes",
            json_headers(),
            Some(r#"{"noteTitle":"","lineItems":[{"itemCount":1},{"itemCount":0}]}"#),
        ),
    )
    .await;
    assert_eq!(response["statusCode"], 422);
    assert_eq!(
        body(&response)["errors"],
        json!([
            {"field": "lineItems[1].itemCount", "code": "range", "message": "must be at least 1"},
            {"field": "noteTitle", "code": "length", "message": "must be 1 to 100 characters"},
        ])
    );
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], 422);
    assert_eq!(lines[0]["code"], "validation_failed");
    assert_eq!(lines[0]["fields"], "lineItems[1].itemCount, noteTitle");
    assert_eq!(
        lines[0]["message"],
        "the request failed with 422 Unprocessable Entity: the request body failed validation"
    );
}

#[tokio::test]
async fn a_valid_order_is_created_with_201_json_and_the_correlation_id() {
    let response = invoke(
        &http(create),
        v2(
            "POST",
            "/orders",
            json_headers(),
            Some(r#"{"sku":"A-1","quantity":2}"#),
        ),
    )
    .await;
    assert_eq!(response["statusCode"], 201);
    assert_eq!(response["headers"]["content-type"], "application/json");
    assert_eq!(response["headers"]["location"], "/orders/o-1");
    assert_eq!(response["headers"]["x-correlation-id"], "corr-1");
    assert_eq!(response["isBase64Encoded"], false);
    assert_eq!(
        body(&response),
        json!({"id": "o-1", "sku": "A-1", "quantity": 2})
    );
}

#[tokio::test]
async fn a_rest_api_gets_the_rest_shape_and_an_alb_its_status_line() {
    let response = invoke(
        &http(create),
        v1("POST", "/orders", Some(r#"{"sku":"A-1","quantity":2}"#)),
    )
    .await;
    assert_eq!(response["statusCode"], 201);
    assert_eq!(
        response["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );

    let mut alb = serde_json::from_str::<Value>(include_str!(
        "../../tests/fixtures/example-alb-lambda-target-request-headers-only.json"
    ))
    .unwrap();
    alb["headers"]["content-type"] = json!("application/json");
    alb["body"] = json!(r#"{"sku":"A-1","quantity":2}"#);
    alb["isBase64Encoded"] = json!(false);
    let response = invoke(&http(create), alb).await;
    assert_eq!(response["statusCode"], 201);
    assert_eq!(response["statusDescription"], "201 Created");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400_problem_saying_where() {
    let response = invoke(
        &http(create),
        v2("POST", "/orders", json_headers(), Some("{\"sku\": oops}")),
    )
    .await;
    assert_eq!(response["statusCode"], 400);
    assert_eq!(
        response["headers"]["content-type"],
        "application/problem+json"
    );
    assert_eq!(
        body(&response),
        json!({
            "type": "about:blank",
            "title": "Bad Request",
            "status": 400,
            "detail": "the request body is not valid JSON: expected value at line 1 column 9",
            "instance": "/orders",
            "code": "invalid_json",
            "request_id": "req-1",
            "correlation_id": "corr-1"
        })
    );
}

#[tokio::test]
async fn json_of_the_wrong_shape_names_the_field_but_not_its_value() {
    let response = invoke(
        &http(create),
        v2(
            "POST",
            "/orders",
            json_headers(),
            Some(r#"{"sku":"A-1","quantity":"hunter2"}"#),
        ),
    )
    .await;
    assert_eq!(response["statusCode"], 400);
    let problem = body(&response);
    assert_eq!(problem["code"], "invalid_body");
    assert_eq!(
        problem["detail"],
        "the request body does not match at `quantity`: invalid type: string, expected u32 at line 1 column 33"
    );
    assert!(!response.to_string().contains("hunter2"));
}

#[tokio::test]
async fn a_validation_failure_is_a_422_listing_every_field_without_values() {
    let response = invoke(
        &http(create),
        v2(
            "POST",
            "/orders",
            json_headers(),
            Some(r#"{"sku":"","quantity":500}"#),
        ),
    )
    .await;
    assert_eq!(response["statusCode"], 422);
    let problem = body(&response);
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(
        problem["errors"],
        json!([
            {"field": "quantity", "code": "range", "message": "must be 1 to 100"},
            {"field": "sku", "code": "length", "message": "must not be empty"}
        ])
    );
    assert!(!response.to_string().contains("500,"));
}

#[tokio::test]
async fn a_body_that_is_not_json_by_its_content_type_is_415() {
    let response = invoke(
        &http(create),
        v2(
            "POST",
            "/orders",
            json!({"content-type": "text/plain"}),
            Some("sku=A-1"),
        ),
    )
    .await;
    assert_eq!(response["statusCode"], 415);
    assert_eq!(body(&response)["code"], "unsupported_media_type");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_the_handler_is_not_called() {
    let handler = http(|_: Request, _: Context| async {
        if true {
            panic!("not called");
        }
        StatusCode::OK
    })
    .body_limit(16);
    let response = invoke(
        &handler,
        v2(
            "POST",
            "/orders",
            json_headers(),
            Some(r#"{"sku":"A-1","quantity":2,"note":"long enough"}"#),
        ),
    )
    .await;
    assert_eq!(response["statusCode"], 413);
    assert_eq!(body(&response)["code"], "payload_too_large");
}

#[tokio::test]
async fn an_empty_body_is_400_missing_body() {
    let response = invoke(&http(create), v2("POST", "/orders", json_headers(), None)).await;
    assert_eq!(response["statusCode"], 400);
    assert_eq!(body(&response)["code"], "missing_body");
}

#[tokio::test]
async fn a_base64_body_is_decoded_before_the_handler_reads_it() {
    use base64::Engine;
    let mut event = v2("POST", "/orders", json_headers(), None);
    event["body"] =
        json!(base64::engine::general_purpose::STANDARD.encode(r#"{"sku":"B-2","quantity":1}"#));
    event["isBase64Encoded"] = json!(true);
    let response = invoke(&http(create), event).await;
    assert_eq!(response["statusCode"], 201);
    assert_eq!(body(&response)["sku"], "B-2");
}

async fn find(request: Request, _ctx: Context) -> Result<Json<Order>, OrderError> {
    let Path(id) = Path::<String>::from_request(&request)
        .map_err(|_| OrderError::Store(std::io::Error::other("no path parameter")))?;
    match id.as_str() {
        "o-1" => Ok(Json(Order {
            id,
            sku: "A-1".into(),
            quantity: 1,
        })),
        "broken" => Err(OrderError::Store(std::io::Error::other(
            "connection reset by db-7.internal",
        ))),
        _ => Err(OrderError::NotFound(id)),
    }
}

fn get_order(id: &str) -> Value {
    let mut event = v2("GET", &format!("/orders/{id}"), json!({}), None);
    event["routeKey"] = json!("GET /orders/{id}");
    event["pathParameters"] = json!({"id": id});
    event
}

#[tokio::test]
async fn a_handler_error_answers_its_status_code_and_message() {
    let response = invoke(&http(find), get_order("o-404")).await;
    assert_eq!(response["statusCode"], 404);
    assert_eq!(
        body(&response),
        json!({
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "order o-404 not found",
            "instance": "/orders/o-404",
            "code": "order_not_found",
            "request_id": "req-1",
            "correlation_id": "corr-1"
        })
    );
    let found = invoke(&http(find), get_order("o-1")).await;
    assert_eq!(found["statusCode"], 200);
    assert_eq!(body(&found)["id"], "o-1");
}

#[tokio::test]
async fn a_server_error_never_shows_its_message() {
    let response = invoke(&http(find), get_order("broken")).await;
    assert_eq!(response["statusCode"], 503);
    let problem = body(&response);
    assert_eq!(problem["title"], "Service Unavailable");
    assert!(problem.get("detail").is_none());
    assert!(!response.to_string().contains("db-7"));
}

#[tokio::test]
async fn a_panic_is_a_500_problem_not_a_lambda_error() {
    let handler = http(|_: Request, _: Context| async {
        if true {
            panic!("the basket at db-7 is gone");
        }
        StatusCode::OK
    });
    let response = invoke(&handler, v2("GET", "/", json!({}), None)).await;
    assert_eq!(response["statusCode"], 500);
    let problem = body(&response);
    assert_eq!(problem["title"], "Internal Server Error");
    assert_eq!(problem["request_id"], "req-1");
    assert!(!response.to_string().contains("db-7"));
}

#[tokio::test(start_paused = true)]
async fn a_handler_still_running_near_the_deadline_is_answered_504() {
    let handler = http(|_: Request, _: Context| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        StatusCode::OK
    });
    let response = invoke(&handler, v2("GET", "/slow", json!({}), None)).await;
    assert_eq!(response["statusCode"], 504);
    assert_eq!(body(&response)["code"], "deadline_exceeded");
}

fn allow_any_origin() -> tower_http::cors::CorsLayer {
    tower_http::cors::CorsLayer::new().allow_origin(tower_http::cors::Any)
}

fn from_the_shop(method: &str, path: &str, body: Option<&str>) -> Value {
    let mut event = v2(
        method,
        path,
        json!({"origin": "https://shop.example.com", "content-type": "application/json"}),
        body,
    );
    event["requestContext"]["http"]["method"] = json!(method);
    event
}

#[tokio::test(start_paused = true)]
async fn answers_helve_makes_itself_pass_through_the_layers_so_a_browser_can_read_them() {
    // 413: a body over the limit.
    let handler = http(create).body_limit(8).layer(allow_any_origin());
    let event = from_the_shop("POST", "/orders", Some(r#"{"sku":"A-1","quantity":2}"#));
    let response = invoke(&handler, event).await;
    assert_eq!(response["statusCode"], 413);
    assert_eq!(response["headers"]["access-control-allow-origin"], "*");

    // 500: a panic.
    let handler = http(|_: Request, _: Context| async {
        if true {
            panic!("the basket is gone");
        }
        StatusCode::OK
    })
    .layer(allow_any_origin());
    let response = invoke(&handler, from_the_shop("GET", "/", None)).await;
    assert_eq!(response["statusCode"], 500);
    assert_eq!(response["headers"]["access-control-allow-origin"], "*");

    // 504: the deadline.
    let handler = http(|_: Request, _: Context| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        StatusCode::OK
    })
    .layer(allow_any_origin());
    let response = invoke(&handler, from_the_shop("GET", "/slow", None)).await;
    assert_eq!(response["statusCode"], 504);
    assert_eq!(response["headers"]["access-control-allow-origin"], "*");
    assert_eq!(response["headers"]["x-correlation-id"], "corr-1");
}

#[tokio::test]
async fn unit_is_204_and_a_status_has_no_body() {
    let response = invoke(
        &http(|_: Request, _: Context| async {}),
        v2("DELETE", "/orders/o-1", json!({}), None),
    )
    .await;
    assert_eq!(response["statusCode"], 204);
    assert!(response.get("body").is_none_or(Value::is_null));
}

#[derive(Debug, Deserialize)]
struct Page {
    limit: u32,
    after: Option<String>,
}

#[tokio::test]
async fn query_parameters_decode_and_a_bad_one_is_named() {
    let handler = http(|request: Request, _: Context| async move {
        Query::<Page>::from_request(&request)
            .map(|Query(page)| format!("limit {} after {:?}", page.limit, page.after))
    });
    let mut event = v2("GET", "/orders", json!({}), None);
    event["rawQueryString"] = json!("limit=10&after=o-9");
    event["queryStringParameters"] = json!({"limit": "10", "after": "o-9"});
    let response = invoke(&handler, event.clone()).await;
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["body"], "limit 10 after Some(\"o-9\")");

    event["rawQueryString"] = json!("limit=ten");
    event["queryStringParameters"] = json!({"limit": "ten"});
    let response = invoke(&handler, event).await;
    assert_eq!(response["statusCode"], 400);
    let problem = body(&response);
    assert_eq!(problem["code"], "invalid_query");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("invalid query parameter `limit`"),
        "{problem}"
    );
}

#[derive(Debug, Deserialize)]
struct User {
    sub: String,
}

async fn whoami(request: Request, _ctx: Context) -> Result<String, Problem> {
    let Claims(user) = Claims::<User>::from_request(&request)?;
    Ok(user.sub)
}

#[tokio::test]
async fn claims_come_from_a_jwt_a_cognito_or_a_lambda_authorizer_and_are_401_when_missing() {
    let mut jwt = v2("GET", "/me", json!({}), None);
    jwt["requestContext"]["authorizer"] =
        json!({"jwt": {"claims": {"sub": "user-1", "exp": "1700000000"}, "scopes": null}});
    assert_eq!(invoke(&http(whoami), jwt).await["body"], "user-1");

    let mut lambda = v2("GET", "/me", json!({}), None);
    lambda["requestContext"]["authorizer"] = json!({"lambda": {"sub": "user-2"}});
    assert_eq!(invoke(&http(whoami), lambda).await["body"], "user-2");

    let mut cognito = v1("GET", "/me", None);
    cognito["requestContext"]["authorizer"] = json!({"claims": {"sub": "user-3"}});
    assert_eq!(invoke(&http(whoami), cognito).await["body"], "user-3");

    let missing = invoke(&http(whoami), v2("GET", "/me", json!({}), None)).await;
    assert_eq!(missing["statusCode"], 401);
    assert_eq!(body(&missing)["code"], "unauthorized");
}

#[tokio::test]
async fn cors_preflight_is_answered_by_the_layer() {
    use tower_http::cors::{Any, CorsLayer};
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    let handler = http(create).layer(cors);

    let preflight = v2(
        "OPTIONS",
        "/orders",
        json!({
            "origin": "https://shop.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type"
        }),
        None,
    );
    let response = invoke(&handler, preflight).await;
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["headers"]["access-control-allow-origin"], "*");
    assert!(
        response["headers"]["access-control-allow-methods"]
            .as_str()
            .unwrap()
            .contains("POST")
    );

    let mut post = v2(
        "POST",
        "/orders",
        json!({"origin": "https://shop.example.com", "content-type": "application/json"}),
        Some(r#"{"sku":"A-1","quantity":2}"#),
    );
    post["requestContext"]["http"]["method"] = json!("POST");
    let response = invoke(&handler, post).await;
    assert_eq!(response["statusCode"], 201);
    assert_eq!(response["headers"]["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn a_request_id_layer_sets_and_echoes_x_request_id() {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    let handler = http(|request: Request, _: Context| async move {
        request
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("none")
            .to_owned()
    })
    .layer(PropagateRequestIdLayer::x_request_id())
    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));

    let response = invoke(&handler, v2("GET", "/", json!({}), None)).await;
    let id = response["headers"]["x-request-id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(response["body"], id);

    let given = invoke(
        &handler,
        v2("GET", "/", json!({"x-request-id": "from-client"}), None),
    )
    .await;
    assert_eq!(given["headers"]["x-request-id"], "from-client");
}

#[tokio::test]
async fn an_axum_router_runs_as_the_service_with_its_routes() {
    use axum::{Router, extract::Path as AxumPath, routing::get};
    fn routes(_: &'static ()) -> Router {
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route(
                "/orders/{id}",
                get(|AxumPath(id): AxumPath<String>| async move { axum::Json(json!({"id": id})) }),
            )
    }
    let handler = service(routes);
    let response = invoke(&handler, v2("GET", "/health", json!({}), None)).await;
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["body"], "ok");
    assert_eq!(response["headers"]["x-correlation-id"], "corr-1");

    let response = invoke(&handler, v2("GET", "/orders/o-7", json!({}), None)).await;
    assert_eq!(response["statusCode"], 200);
    assert_eq!(body(&response), json!({"id": "o-7"}));

    let response = invoke(&handler, v2("GET", "/nowhere", json!({}), None)).await;
    assert_eq!(response["statusCode"], 404);
}

#[tokio::test]
async fn an_http_api_sends_cookies_apart_and_binary_bodies_as_base64() {
    let handler = http(|_: Request, _: Context| async {
        http::Response::builder()
            .header(header::SET_COOKIE, "session=abc; Secure")
            .header(header::CONTENT_TYPE, "image/png")
            .body(vec![0x89u8, b'P', b'N', b'G'])
            .unwrap_or_default()
    });
    let response = invoke(&handler, v2("GET", "/logo.png", json!({}), None)).await;
    assert_eq!(response["cookies"], json!(["session=abc; Secure"]));
    assert!(response["headers"].get("set-cookie").is_none());
    assert_eq!(response["isBase64Encoded"], true);
    assert_eq!(response["body"], "iVBORw==");
}

#[test]
fn a_rejected_value_is_not_repeated_in_messages() {
    use crate::decode::sanitize;
    assert_eq!(
        sanitize("invalid type: string \"hunter2\", expected u32 at line 1 column 9"),
        "invalid type: string, expected u32 at line 1 column 9"
    );
    assert_eq!(
        sanitize("invalid value: integer `-4`, expected u8"),
        "invalid value: integer, expected u8"
    );
    assert_eq!(
        sanitize("invalid type: floating point `1.5`, expected u32"),
        "invalid type: floating point, expected u32"
    );
    assert_eq!(
        sanitize("unknown variant `sekret`, expected `a` or `b`"),
        "unknown variant, expected `a` or `b`"
    );
    assert_eq!(sanitize("missing field `sku`"), "missing field `sku`");
}

#[tokio::test]
async fn a_header_value_that_is_not_text_is_dropped_not_fatal() {
    let handler = http(|_: Request, _: Context| async {
        let mut response = "ok".into_response();
        response.headers_mut().insert(
            "x-binary",
            http::HeaderValue::from_bytes(&[b'a', 0xff])
                .unwrap_or(http::HeaderValue::from_static("a")),
        );
        response
            .headers_mut()
            .insert("x-text", http::HeaderValue::from_static("kept"));
        response
    });
    let response = invoke(&handler, v2("GET", "/", json!({}), None)).await;
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["headers"]["x-text"], "kept");
    assert!(response["headers"].get("x-binary").is_none());
}

#[tokio::test]
async fn an_event_that_is_not_http_is_an_invalid_event_for_lambda() {
    let Payload(result) = Payload::<HttpEvent>::from_slice(br#"{"Records": []}"#);
    let invalid = result.unwrap_err();
    assert!(
        invalid.message().contains("API Gateway"),
        "{}",
        invalid.message()
    );
}

async fn repeated_headers(_request: Request, _ctx: Context) -> http::Response<String> {
    http::Response::builder()
        .header(header::VARY, "origin")
        .header(header::VARY, "accept-encoding")
        .header(header::SET_COOKIE, "a=1")
        .header(header::SET_COOKIE, "b=2")
        .body("ok".to_owned())
        .unwrap()
}

#[tokio::test]
async fn repeated_headers_reach_http_api_and_alb_clients_whole() {
    let response = invoke(&http(repeated_headers), v2("GET", "/", json!({}), None)).await;
    assert_eq!(response["headers"]["vary"], "origin, accept-encoding");
    assert_eq!(response["cookies"], json!(["a=1", "b=2"]));

    let mut alb = serde_json::from_str::<Value>(include_str!(
        "../../tests/fixtures/example-alb-lambda-target-request-headers-only.json"
    ))
    .unwrap();
    alb["isBase64Encoded"] = json!(false);
    let response = invoke(&http(repeated_headers), alb).await;
    assert_eq!(response["headers"]["vary"], "origin, accept-encoding");
    assert_eq!(
        response["multiValueHeaders"]["vary"],
        json!(["origin", "accept-encoding"])
    );
}

async fn created_with_a_null_body(_request: Request, _ctx: Context) -> Created<Json<Value>> {
    Created {
        location: "/orders/o-1".to_owned(),
        body: Json(json!(null)),
    }
}

/// A body `serde_json` cannot write: a map whose keys are not strings.
async fn unserializable_map(
    _request: Request,
    _ctx: Context,
) -> (StatusCode, Json<std::collections::BTreeMap<(u8, u8), u8>>) {
    (
        StatusCode::CREATED,
        Json(std::collections::BTreeMap::from([((1, 2), 3)])),
    )
}

#[tokio::test]
async fn a_status_given_around_a_body_that_fails_to_serialize_answers_500_not_the_status() {
    let response = invoke(&http(unserializable_map), v2("GET", "/", json!({}), None)).await;
    assert_eq!(response["statusCode"], 500);
    assert_eq!(body(&response)["status"], 500);
    // The same status around a body that serializes is kept.
    let response = invoke(
        &http(created_with_a_null_body),
        v2("GET", "/", json!({}), None),
    )
    .await;
    assert_eq!(response["statusCode"], 201);
}

#[tokio::test]
async fn headers_given_around_a_problem_are_sent_with_it() {
    let handler = http(|_: Request, _: Context| async {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(http::header::RETRY_AFTER, "30")],
            Problem::new(StatusCode::TOO_MANY_REQUESTS),
        )
    });
    let response = invoke(&handler, v2("GET", "/", json!({}), None)).await;
    assert_eq!(response["statusCode"], 429);
    assert_eq!(response["headers"]["retry-after"], "30");
}

#[derive(Debug, Deserialize)]
struct Params {
    parameter2: String,
}

#[tokio::test]
async fn a_function_url_request_is_answered_in_the_http_api_shape() {
    let event = serde_json::from_str::<Value>(include_str!(
        "../../tests/fixtures/lambda_function_url_request.json"
    ))
    .unwrap();
    let handler = http(|request: Request, _: Context| async move {
        let Ok(Query(params)) = Query::<Params>::from_request(&request) else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        Json(json!({
            "path": request.uri().path(),
            "method": request.method().as_str(),
            "query": request.uri().query(),
            "parameter2": params.parameter2,
        }))
        .into_response()
    });
    let response = invoke(&handler, event).await;
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["headers"]["content-type"], "application/json");
    assert_eq!(response["headers"]["x-correlation-id"], "corr-1");
    assert!(
        response
            .get("multiValueHeaders")
            .is_none_or(|headers| headers.as_object().is_none_or(|h| h.is_empty()))
    );
    assert_eq!(
        body(&response),
        json!({
            "path": "/my/path",
            "method": "GET",
            "query": "parameter1=value1&parameter1=value2&parameter2=value",
            "parameter2": "value"
        })
    );
}

#[tokio::test]
async fn a_path_the_route_does_not_give_is_the_functions_mistake_not_the_clients() {
    async fn by_number(request: Request, _ctx: Context) -> Response {
        match Path::<u64>::from_request(&request) {
            Ok(Path(number)) => Json(json!({"number": number})).into_response(),
            Err(problem) => problem.into_response(),
        }
    }
    // A route with a parameter the client got wrong: 400, naming it.
    let mut event = v2("GET", "/orders/abc", json!({}), None);
    event["pathParameters"] = json!({"id": "abc"});
    let response = invoke(&http(by_number), event).await;
    assert_eq!(response["statusCode"], 400);
    assert_eq!(body(&response)["code"], "invalid_path");

    // A route with no parameters at all (a Function URL, an ALB): 500, and nothing blamed on
    // the client.
    let response = invoke(&http(by_number), v2("GET", "/orders", json!({}), None)).await;
    assert_eq!(response["statusCode"], 500);
    assert!(body(&response).get("code").is_none());
}

#[tokio::test]
async fn a_problem_made_in_a_task_spawned_in_the_scope_names_the_request() {
    let handler = http(|_: Request, ctx: Context| async move {
        tokio::spawn(ctx.clone().scope(async {
            Problem::new(StatusCode::NOT_FOUND)
                .with_detail("no such order")
                .into_response()
        }))
        .await
        .expect("the task finishes")
    });
    let response = invoke(&handler, get_order("o-404")).await;
    assert_eq!(response["statusCode"], 404);
    assert_eq!(
        body(&response),
        json!({
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "no such order",
            "instance": "/orders/o-404",
            "request_id": "req-1",
            "correlation_id": "corr-1"
        })
    );
}

#[cfg(feature = "idempotency")]
mod idempotency {
    //! What a client retrying a request with the same idempotency key sees.

    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;
    use crate::idempotency::{Idempotency, MemoryStore, Now, Record, Status, Store};

    fn post(headers: Value, body: &str) -> Value {
        v2("POST", "/orders", headers, Some(body))
    }

    fn keyed(key: &str) -> Value {
        json!({"content-type": "application/json", "idempotency-key": key})
    }

    /// A handler that creates an order and counts its runs; `status` is what it answers.
    fn creating(
        runs: &Arc<AtomicUsize>,
        status: StatusCode,
    ) -> impl HttpFn<(), crate::Stateless, Output = Response> {
        let runs = Arc::clone(runs);
        move |_: Request, _: Context| {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                (
                    status,
                    [(header::LOCATION, format!("/orders/o-{run}"))],
                    Json(json!({"id": format!("o-{run}"), "run": run})),
                )
                    .into_response()
            }
        }
    }

    fn idempotency(store: &MemoryStore) -> Idempotency {
        Idempotency::new(store.clone()).key_prefix("orders.create")
    }

    #[tokio::test]
    async fn a_retried_post_gets_the_first_response_marked_as_a_replay() {
        let (store, runs) = (MemoryStore::new(), Arc::new(AtomicUsize::new(0)));
        let handler = http(creating(&runs, StatusCode::CREATED))
            .idempotency(idempotency(&store), "header:Idempotency-Key");
        let first = invoke(&handler, post(keyed("k-1"), r#"{"sku": "BOOK"}"#)).await;
        assert_eq!(first["statusCode"], 201);
        assert_eq!(first["headers"]["location"], "/orders/o-1");
        assert!(first["headers"].get(REPLAY_HEADER).is_none());

        let replay = invoke(&handler, post(keyed("k-1"), r#"{"sku": "BOOK"}"#)).await;
        assert_eq!(replay["statusCode"], 201);
        assert_eq!(replay["headers"]["location"], "/orders/o-1");
        assert_eq!(replay["headers"]["content-type"], "application/json");
        assert_eq!(replay["headers"][REPLAY_HEADER], "true");
        assert_eq!(body(&replay), json!({"id": "o-1", "run": 1}));
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler ran once");

        let other = invoke(&handler, post(keyed("k-2"), r#"{"sku": "BOOK"}"#)).await;
        assert_eq!(body(&other), json!({"id": "o-2", "run": 2}));
    }

    #[tokio::test]
    async fn the_record_holds_a_lambda_proxy_response_as_powertools_stores_it() {
        let (store, runs) = (MemoryStore::new(), Arc::new(AtomicUsize::new(0)));
        let idempotency = idempotency(&store);
        let key = idempotency.key_of(&json!("k-1")).expect("a key");
        let handler = http(creating(&runs, StatusCode::CREATED))
            .idempotency(idempotency, "header:Idempotency-Key");
        invoke(&handler, post(keyed("k-1"), "{}")).await;
        let data = store.record(&key).and_then(|record| record.data);
        let stored: Value = serde_json::from_str(data.as_deref().unwrap_or("null")).unwrap();
        assert_eq!(
            stored,
            json!({
                "statusCode": 201,
                "headers": {"content-type": "application/json", "location": "/orders/o-1"},
                "body": r#"{"id":"o-1","run":1}"#,
                "isBase64Encoded": false
            })
        );
    }

    #[tokio::test]
    async fn a_failed_answer_is_not_kept_and_a_retry_runs_again() {
        for status in [
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::SERVICE_UNAVAILABLE,
        ] {
            let (store, runs) = (MemoryStore::new(), Arc::new(AtomicUsize::new(0)));
            let handler = http(creating(&runs, status))
                .idempotency(idempotency(&store), "header:Idempotency-Key");
            let first = invoke(&handler, post(keyed("k-1"), "{}")).await;
            assert_eq!(first["statusCode"], status.as_u16());
            let retry = invoke(&handler, post(keyed("k-1"), "{}")).await;
            assert!(retry["headers"].get(REPLAY_HEADER).is_none());
            assert_eq!(runs.load(Ordering::SeqCst), 2, "{status} is not replayed");
            assert!(store.is_empty(), "the key is released");
        }
    }

    #[tokio::test]
    async fn the_key_can_be_a_field_of_the_json_body() {
        let (store, runs) = (MemoryStore::new(), Arc::new(AtomicUsize::new(0)));
        let handler = http(creating(&runs, StatusCode::CREATED))
            .idempotency(idempotency(&store), "/order_id");
        let order = r#"{"order_id": "o-77", "sku": "BOOK"}"#;
        invoke(&handler, post(json_headers(), order)).await;
        let replay = invoke(&handler, post(json_headers(), order)).await;
        assert_eq!(replay["headers"][REPLAY_HEADER], "true");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let key = idempotency(&store).key_of(&json!("o-77"));
        assert!(store.record(&key.unwrap_or_default()).is_some());
    }

    #[tokio::test]
    async fn a_retry_while_the_first_request_runs_is_a_409_to_retry_later() {
        let (store, runs) = (MemoryStore::new(), Arc::new(AtomicUsize::new(0)));
        let idempotency = idempotency(&store);
        let key = idempotency.key_of(&json!("k-1")).expect("a key");
        let now = Now::at(std::time::SystemTime::now());
        let running = Record {
            key,
            status: Status::InProgress,
            expiration: now.seconds() + 3600,
            in_progress_expiration: Some(now.millis() + 60_000),
            data: None,
            validation: None,
        };
        store.put_in_progress(&running, now).await.expect("written");
        let handler = http(creating(&runs, StatusCode::CREATED))
            .idempotency(idempotency, "header:Idempotency-Key");
        let response = invoke(&handler, post(keyed("k-1"), "{}")).await;
        assert_eq!(response["statusCode"], 409);
        assert_eq!(response["headers"]["retry-after"], "1");
        assert_eq!(response["headers"]["content-type"], PROBLEM_JSON);
        let problem = body(&response);
        assert_eq!(problem["code"], "idempotency_in_progress");
        assert!(
            !problem.to_string().contains("orders.create#"),
            "the key is not shown to the client: {problem}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_required_key_that_is_missing_is_a_400() {
        let (store, runs) = (MemoryStore::new(), Arc::new(AtomicUsize::new(0)));
        let handler = http(creating(&runs, StatusCode::CREATED)).idempotency(
            idempotency(&store).key_required(true),
            "header:Idempotency-Key",
        );
        let response = invoke(&handler, post(json_headers(), "{}")).await;
        assert_eq!(response["statusCode"], 400);
        assert_eq!(body(&response)["code"], "idempotency_key_missing");
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn without_a_key_the_request_runs_every_time_when_none_is_required() {
        let (store, runs) = (MemoryStore::new(), Arc::new(AtomicUsize::new(0)));
        let handler = http(creating(&runs, StatusCode::CREATED))
            .idempotency(idempotency(&store), "header:Idempotency-Key");
        invoke(&handler, post(json_headers(), "{}")).await;
        invoke(&handler, post(json_headers(), "{}")).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(store.is_empty());
    }

    #[tokio::test]
    async fn a_key_reused_with_another_body_is_a_422() {
        let (store, runs) = (MemoryStore::new(), Arc::new(AtomicUsize::new(0)));
        let handler = http(creating(&runs, StatusCode::CREATED)).idempotency(
            idempotency(&store).payload_validation("/amount"),
            "header:Idempotency-Key",
        );
        invoke(&handler, post(keyed("k-1"), r#"{"amount": 5}"#)).await;
        let same = invoke(&handler, post(keyed("k-1"), r#"{"amount": 5}"#)).await;
        assert_eq!(same["headers"][REPLAY_HEADER], "true");
        let changed = invoke(&handler, post(keyed("k-1"), r#"{"amount": 7}"#)).await;
        assert_eq!(changed["statusCode"], 422);
        assert_eq!(body(&changed)["code"], "idempotency_key_reused");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn under_a_router_one_key_sent_to_two_routes_runs_each_once_and_reads_need_none() {
        let (store, runs) = (MemoryStore::new(), Arc::new(AtomicUsize::new(0)));
        let counted = Arc::clone(&runs);
        let router = super::super::service(move |_: &'static ()| {
            let runs = Arc::clone(&counted);
            tower::service_fn(move |request: Request| {
                let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                let path = request.uri().path().to_owned();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        Json(json!({"path": path, "run": run})).into_response(),
                    )
                }
            })
        })
        .idempotency(idempotency(&store), "header:Idempotency-Key");
        let orders = invoke(&router, post(keyed("k-1"), "{}")).await;
        let refunds = invoke(&router, v2("POST", "/refunds", keyed("k-1"), Some("{}"))).await;
        assert_eq!(body(&orders), json!({"path": "/orders", "run": 1}));
        assert_eq!(body(&refunds), json!({"path": "/refunds", "run": 2}));
        let replay = invoke(&router, post(keyed("k-1"), "{}")).await;
        assert_eq!(replay["headers"][REPLAY_HEADER], "true");
        assert_eq!(body(&replay), json!({"path": "/orders", "run": 1}));
        // A read runs each time, with or without a key.
        for _ in 0..2 {
            invoke(&router, v2("GET", "/orders/o-1", keyed("k-1"), None)).await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_binary_answer_is_replayed_byte_for_byte() {
        let store = MemoryStore::new();
        let handler = http(|_: Request, _: Context| async {
            http::Response::builder()
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::Binary(vec![0, 159, 146, 150, 255]))
                .unwrap_or_default()
        })
        .idempotency(idempotency(&store), "header:Idempotency-Key");
        let first = invoke(&handler, post(keyed("k-1"), "{}")).await;
        let replay = invoke(&handler, post(keyed("k-1"), "{}")).await;
        assert_eq!(replay["headers"][REPLAY_HEADER], "true");
        assert_eq!(replay["body"], first["body"]);
        assert_eq!(replay["isBase64Encoded"], true);
    }

    #[test]
    fn a_key_that_is_neither_a_header_nor_a_pointer_stops_the_function_at_start() {
        let store = MemoryStore::new();
        for key in ["header:", "header:not a name", "order_id"] {
            let handler =
                http(|_: Request, _: Context| async { "ok" }).idempotency(idempotency(&store), key);
            let error = Handler::<HttpEvent, (), Http>::check_idempotency(&handler).err();
            assert_eq!(
                error.as_ref().map(crate::ConfigError::setting),
                Some("idempotency key"),
                "{key}"
            );
        }
        let handler = http(|_: Request, _: Context| async { "ok" })
            .idempotency(idempotency(&store), "header:Idempotency-Key");
        assert!(Handler::<HttpEvent, (), Http>::check_idempotency(&handler).is_ok());
    }
}
