//! `examples/orders-api` served by a Lambda Runtime API on 127.0.0.1, on the example's event
//! files: each test asserts the exact response API Gateway receives (HTTP API payload 2.0 and
//! REST API shapes): status, headers, the order or the exact `application/problem+json` body;
//! the log line of each outcome; and the EMF documents of the request metrics.

mod support;

use serde_json::{Value, json};
use support::{
    InvocationKeys, LogLine, Outcome, Pushed, RuntimeApi, emf_documents, log_lines,
    read_workspace_file,
};

const CREATE: &str = "create-order";
const GET: &str = "get-order";
/// Both routes in one function: an axum router.
const ORDERS: &str = "orders";
const SERVICE: &str = "orders";

/// The `requestContext.requestId` of each event file: its correlation id.
const CREATE_ID: &str = "Kx7bJgH1IAMEVxw=";
const GET_ID: &str = "Kx7clhS8IAMEfPg=";

/// An event file of the example.
fn event(file: &str) -> String {
    read_workspace_file(&format!("examples/orders-api/events/{file}"))
}

/// What one function answered to each event, and everything it wrote.
struct Run {
    /// The responses, in the order of the events.
    responses: Vec<Value>,
    /// What the Runtime API sent with each event.
    pushed: Vec<Pushed>,
    /// The log lines.
    lines: Vec<LogLine>,
    /// The EMF documents, timestamps checked and set to 0.
    documents: Vec<Value>,
}

/// Starts `binary` with `env`, invokes it with each `(request id, event file)` in turn in the
/// same execution environment, and stops it.
async fn invoke(binary: &str, env: &[(&str, &str)], events: &[(&str, &str)]) -> Run {
    let mut api = RuntimeApi::start().await;
    let mut launch = api.function(binary);
    for (name, value) in env {
        launch.env(name, value);
    }
    let function = launch.spawn();
    let mut responses = Vec::new();
    let mut pushed = Vec::new();
    for (request_id, file) in events {
        pushed.push(api.push(request_id, &event(file)));
        match api.next_outcome().await {
            Outcome::Response {
                request_id: id,
                body,
            } if id == *request_id => responses.push(body),
            other => panic!(
                "expected a response to {request_id}, got {other:?}\n{}",
                api.process_output()
            ),
        }
    }
    let exit = function.stop().await;
    // The test kit reads them: the log lines, and the EMF documents with their timestamps
    // checked and removed.
    Run {
        responses,
        pushed,
        lines: log_lines(&exit.stdout),
        documents: emf_documents(&exit.stdout),
    }
}

/// The body of a response, decoded.
fn body(response: &Value) -> Value {
    let text = response["body"].as_str().expect("a text body");
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// `created_at` of an order body, checked to be a recent epoch ms, set to 0.
fn without_created_at(mut order: Value) -> Value {
    let created_at = order["created_at"].take();
    assert!(
        created_at.as_u64().is_some_and(|ms| ms > 1_700_000_000_000),
        "{order}"
    );
    order["created_at"] = json!(0);
    order
}

/// The headers every answer of the functions carries besides its own: the CORS layer's and
/// the correlation id. An answer with a body also has a `content-type`.
fn headers(correlation_id: &str, content_type: Option<&str>, extra: Value) -> Value {
    let mut headers = json!({
        "vary": "origin, access-control-request-method, access-control-request-headers",
        "access-control-allow-origin": "*",
        "access-control-expose-headers": "location,x-correlation-id,x-idempotent-replay",
        "x-correlation-id": correlation_id,
    });
    if let Some(content_type) = content_type {
        headers["content-type"] = json!(content_type);
    }
    for (name, value) in extra.as_object().expect("headers are an object") {
        headers[name] = value.clone();
    }
    headers
}

/// An HTTP API (payload 2.0) response, as API Gateway receives it.
fn v2_response(status: u16, headers: Value, body: Option<String>) -> Value {
    let mut response = json!({
        "statusCode": status,
        "headers": headers,
        "multiValueHeaders": {},
        "isBase64Encoded": false,
        "cookies": [],
    });
    if let Some(body) = body {
        response["body"] = json!(body);
    }
    response
}

/// The `application/problem+json` body of an error answer.
fn problem(
    status: u16,
    title: &str,
    detail: Option<&str>,
    instance: &str,
    code: &str,
    (request_id, correlation_id): (&str, &str),
) -> Value {
    let mut problem = json!({
        "type": "about:blank",
        "title": title,
        "status": status,
        "instance": instance,
        "code": code,
        "request_id": request_id,
        "correlation_id": correlation_id,
    });
    if let Some(detail) = detail {
        problem["detail"] = json!(detail);
    }
    problem
}

/// `headers` as a REST API takes them, in `multiValueHeaders`: each value in a list.
fn as_lists(headers: Value) -> Value {
    let lists: serde_json::Map<String, Value> = headers
        .as_object()
        .expect("headers are an object")
        .iter()
        .map(|(name, value)| (name.clone(), json!([value])))
        .collect();
    Value::Object(lists)
}

/// The EMF documents of one request: `extra` (the handler's own metrics, with
/// `HttpRequestDuration` in the `service` document), and `HttpResponses` by status class.
/// `HttpRequestDuration` is checked to be a duration in milliseconds and set to 0.
fn request_documents(documents: &[Value], class: &str, extra: &[(&str, &str)]) -> Vec<Value> {
    let mut documents = documents.to_vec();
    for document in &mut documents {
        if let Some(duration) = document.get_mut("HttpRequestDuration") {
            assert!(duration.as_f64().is_some_and(|ms| ms >= 0.0), "{duration}");
            *duration = json!(0.0);
        }
    }
    let mut metrics: Vec<Value> = extra
        .iter()
        .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
        .collect();
    metrics.push(json!({"Name": "HttpRequestDuration", "Unit": "Milliseconds"}));
    let mut service = json!({
        "_aws": {"CloudWatchMetrics": [{
            "Namespace": "Shop", "Dimensions": [["service"]], "Metrics": metrics
        }]},
        "service": SERVICE,
        "HttpRequestDuration": 0.0,
    });
    for (name, _) in extra {
        service[name] = json!(1.0);
    }
    let responses = json!({
        "_aws": {"CloudWatchMetrics": [{
            "Namespace": "Shop",
            "Dimensions": [["service", "status_class"]],
            "Metrics": [{"Name": "HttpResponses", "Unit": "Count"}]
        }]},
        "service": SERVICE,
        "status_class": class,
        "HttpResponses": 1.0,
    });
    assert_eq!(documents, [service, responses]);
    documents
}

/// The documents of the first invocation: `ColdStart`, then those of the request.
fn cold_start_document(function_name: &str) -> Value {
    json!({
        "_aws": {"CloudWatchMetrics": [{
            "Namespace": "Shop",
            "Dimensions": [["function_name", "service"]],
            "Metrics": [{"Name": "ColdStart", "Unit": "Count"}]
        }]},
        "function_name": function_name,
        "service": SERVICE,
        "ColdStart": 1.0,
    })
}

/// The lines logged during the invocation `request_id`, except helve's ready line.
fn lines_of<'a>(lines: &'a [LogLine], request_id: &str) -> Vec<&'a LogLine> {
    lines
        .iter()
        .filter(|line| line.get("function_request_id") == request_id)
        .filter(|line| line.message() != support::READY)
        .collect()
}

#[tokio::test]
async fn creating_an_order_answers_201_with_the_order_and_its_location() {
    let run = invoke(CREATE, &[], &[("req-create", "create.json")]).await;
    let mut response = run.responses[0].clone();
    let order = without_created_at(body(&response));
    assert_eq!(
        order,
        json!({
            "id": "o-1002",
            "customer_email": "grace@example.com",
            "items": [{"sku": "BOOK-42", "quantity": 2}, {"sku": "PEN-7", "quantity": 10}],
            "created_at": 0,
        })
    );
    response["body"] = json!("<the order>");
    assert_eq!(
        response,
        v2_response(
            201,
            headers(
                CREATE_ID,
                Some("application/json"),
                json!({"location": "/orders/o-1002"})
            ),
            Some("<the order>".to_owned()),
        )
    );

    // The handler's line carries the request's correlation id, as every line of it does.
    let lines = lines_of(&run.lines, "req-create");
    assert_eq!(lines.len(), 1, "{:?}", run.lines);
    let expected = InvocationKeys::new(CREATE, "req-create", CREATE_ID)
        .service(SERVICE)
        .cold_start(true)
        .trace(run.pushed[0].trace_root())
        .line(
            "INFO",
            "order o-1002 created",
            json!({"order_id": "o-1002", "lines": 2}),
        );
    assert_eq!(lines[0].fields, expected);

    // ColdStart, then the business metric with the request's duration, then the response
    // count by status class.
    assert_eq!(run.documents[0], cold_start_document(CREATE));
    request_documents(&run.documents[1..], "2xx", &[("OrdersCreated", "Count")]);
}

#[tokio::test]
async fn the_same_create_from_a_rest_api_answers_in_the_rest_api_shape() {
    let run = invoke(CREATE, &[], &[("req-rest", "create-rest-api.json")]).await;
    let mut response = run.responses[0].clone();
    assert_eq!(
        without_created_at(body(&response)),
        json!({
            "id": "o-1003",
            "customer_email": "alan@example.com",
            "items": [{"sku": "MUG-3", "quantity": 4}],
            "created_at": 0,
        })
    );
    response["body"] = json!("<the order>");
    // A REST API takes every header as a list, in `multiValueHeaders`, and has no `cookies`.
    let correlation_id = "4f0d5c0b-8a43-4e0e-9d1f-6b2a7c3e9f10";
    let multi = as_lists(headers(
        correlation_id,
        Some("application/json"),
        json!({"location": "/orders/o-1003"}),
    ));
    assert_eq!(
        response,
        json!({
            "statusCode": 201,
            "headers": {},
            "multiValueHeaders": multi,
            "body": "<the order>",
            "isBase64Encoded": false,
        })
    );
    request_documents(&run.documents[1..], "2xx", &[("OrdersCreated", "Count")]);
}

#[tokio::test]
async fn a_bad_request_from_a_rest_api_is_a_problem_in_the_rest_api_shape() {
    let run = invoke(
        CREATE,
        &[],
        &[("req-rest-invalid", "create-rest-api-invalid.json")],
    )
    .await;
    let correlation_id = "8f2c1d9e-5b7a-4c3e-a1f0-2d4b6c8e0a13";
    // The path the client called, the REST API's stage included.
    let mut expected = problem(
        422,
        "Unprocessable Entity",
        Some("the request body failed validation"),
        "/prod/orders",
        "validation_failed",
        ("req-rest-invalid", correlation_id),
    );
    expected["errors"] = json!([
        {"field": "items[0].quantity", "code": "range", "message": "must be 1 to 100"},
    ]);
    let mut response = run.responses[0].clone();
    assert_eq!(body(&response), expected);
    response["body"] = json!("<the problem>");
    let multi = as_lists(headers(
        correlation_id,
        Some("application/problem+json"),
        json!({}),
    ));
    assert_eq!(
        response,
        json!({
            "statusCode": 422,
            "headers": {},
            "multiValueHeaders": multi,
            "body": "<the problem>",
            "isBase64Encoded": false,
        })
    );
    let logged = lines_of(&run.lines, "req-rest-invalid");
    assert_eq!(logged.len(), 1, "{:?}", run.lines);
    assert_eq!(logged[0].get("level"), "INFO");
    assert_eq!(logged[0].get("status"), 422);
    // The failing fields, never their values.
    assert_eq!(logged[0].get("fields"), "items[0].quantity");
}

#[tokio::test]
async fn every_bad_request_is_a_problem_with_its_status_and_code() {
    // One execution environment answers them all, in turn.
    let events = [
        ("req-invalid", "create-invalid.json", "Kx7cKhZ3oAMEb4Q="),
        ("req-not-json", "create-not-json.json", "Kx7cQjB2IAMEcTw="),
        (
            "req-wrong-type",
            "create-wrong-type.json",
            "Kx7cVgN5IAMEdAg=",
        ),
        ("req-conflict", "create-conflict.json", "Kx7cZi4DoAMEdkw="),
        ("req-text", "create-text-plain.json", "Kx7ceW1pIAMEeQA="),
        ("req-too-large", "create-too-large.json", "Kx7cjQ9BoAMEfZg="),
    ];
    let files: Vec<(&str, &str)> = events.iter().map(|(id, file, _)| (*id, *file)).collect();
    let run = invoke(CREATE, &[], &files).await;

    let mut invalid = problem(
        422,
        "Unprocessable Entity",
        Some("the request body failed validation"),
        "/orders",
        "validation_failed",
        ("req-invalid", events[0].2),
    );
    // Every field that fails, sorted by path, with the rule and its message; never the value.
    invalid["errors"] = json!([
        {"field": "customer_email", "code": "email", "message": "must be an email address"},
        {"field": "id", "code": "order_id", "message": "must be `o-` then letters, digits and `-`"},
        {"field": "items[0].quantity", "code": "range", "message": "must be 1 to 100"},
        {"field": "items[0].sku", "code": "length", "message": "must be 1 to 64 characters"},
        {"field": "items[1].quantity", "code": "range", "message": "must be 1 to 100"},
    ]);
    let expected = [
        invalid,
        problem(
            400,
            "Bad Request",
            Some("the request body is not valid JSON: expected value at line 1 column 1"),
            "/orders",
            "invalid_json",
            ("req-not-json", events[1].2),
        ),
        problem(
            400,
            "Bad Request",
            Some(
                "the request body does not match at `items[0].quantity`: invalid type: string, \
                 expected u32 at line 1 column 94",
            ),
            "/orders",
            "invalid_body",
            ("req-wrong-type", events[2].2),
        ),
        problem(
            409,
            "Conflict",
            Some("order o-1001 already exists"),
            "/orders",
            "order_exists",
            ("req-conflict", events[3].2),
        ),
        problem(
            415,
            "Unsupported Media Type",
            Some(
                "the request body is `text/plain;charset=UTF-8`; this endpoint takes `application/json`",
            ),
            "/orders",
            "unsupported_media_type",
            ("req-text", events[4].2),
        ),
        problem(
            413,
            "Payload Too Large",
            Some("the request body is 70133 bytes; this endpoint takes at most 65536"),
            "/orders",
            "payload_too_large",
            ("req-too-large", events[5].2),
        ),
    ];
    for ((response, expected), (request_id, _, correlation_id)) in
        run.responses.iter().zip(expected).zip(events)
    {
        let status = expected["status"].as_u64().expect("a status");
        let mut response = response.clone();
        assert_eq!(body(&response), expected, "{request_id}");
        response["body"] = json!("<the problem>");
        assert_eq!(
            response,
            v2_response(
                u16::try_from(status).expect("an HTTP status"),
                headers(correlation_id, Some("application/problem+json"), json!({})),
                Some("<the problem>".to_owned()),
            ),
            "{request_id}"
        );
    }

    // Bad input is logged at INFO with its status, code and detail, so that a client quoting
    // its correlation id finds why.
    for (request_id, status, code) in [
        ("req-invalid", 422, "validation_failed"),
        ("req-not-json", 400, "invalid_json"),
        ("req-wrong-type", 400, "invalid_body"),
        ("req-text", 415, "unsupported_media_type"),
        ("req-too-large", 413, "payload_too_large"),
    ] {
        let logged = lines_of(&run.lines, request_id);
        assert_eq!(logged.len(), 1, "{request_id}: {:?}", run.lines);
        assert_eq!(logged[0].get("level"), "INFO", "{request_id}");
        assert_eq!(logged[0].get("status"), status, "{request_id}");
        assert_eq!(logged[0].get("code"), code, "{request_id}");
        assert!(
            logged[0].message().starts_with("the request failed with "),
            "{request_id}: {}",
            logged[0].message()
        );
    }

    // The handler's error is logged at INFO with its status and code; a bad body never
    // reaches the handler.
    let conflict = lines_of(&run.lines, "req-conflict");
    assert_eq!(conflict.len(), 1, "{:?}", run.lines);
    assert_eq!(
        conflict[0].fields,
        InvocationKeys::new(CREATE, "req-conflict", events[3].2)
            .service(SERVICE)
            .trace(run.pushed[3].trace_root())
            .line(
                "INFO",
                "the request failed with 409 Conflict: order o-1001 already exists",
                json!({"status": 409, "code": "order_exists", "error_type": "order_exists"}),
            )
    );
    assert!(
        !run.lines.iter().any(
            |line| line.message().starts_with("order ") && line.message().ends_with(" created")
        ),
        "no order was created"
    );

    // Each request counts one 4xx response, and creates nothing.
    assert_eq!(run.documents[0], cold_start_document(CREATE));
    for request in run.documents[1..].chunks(2) {
        request_documents(request, "4xx", &[]);
    }
}

#[tokio::test]
async fn a_create_retried_with_the_same_idempotency_key_gets_the_first_answer_again() {
    let run = invoke(
        CREATE,
        &[],
        &[
            ("req-first", "create.json"),
            ("req-retry", "create.json"),
            ("req-new-key", "create-new-key.json"),
        ],
    )
    .await;
    let (first, retry) = (&run.responses[0], &run.responses[1]);
    assert_eq!(first["statusCode"], 201);
    assert!(first["headers"].get("x-idempotent-replay").is_none());
    // The same status, location and order (its `created_at` included), marked as a replay.
    assert_eq!(retry["statusCode"], 201);
    assert_eq!(retry["headers"]["location"], "/orders/o-1002");
    assert_eq!(retry["headers"]["x-idempotent-replay"], "true");
    assert_eq!(retry["body"], first["body"]);
    // The handler ran once: one "created" line, one OrdersCreated metric.
    let created: Vec<&LogLine> = run
        .lines
        .iter()
        .filter(|line| line.message() == "order o-1002 created")
        .collect();
    assert_eq!(created.len(), 1, "{:?}", run.lines);
    assert_eq!(created[0].get("function_request_id"), "req-first");

    // The same order under another key runs again, and the id is taken.
    assert_eq!(run.responses[2]["statusCode"], 409);
    assert_eq!(
        body(&run.responses[2]),
        problem(
            409,
            "Conflict",
            Some("order o-1002 already exists"),
            "/orders",
            "order_exists",
            ("req-new-key", "Kx7dB4fQIAMEhRw="),
        )
    );
}

#[tokio::test]
async fn getting_an_order_answers_it_and_404_for_an_order_that_does_not_exist() {
    let run = invoke(
        GET,
        &[],
        &[("req-get", "get.json"), ("req-missing", "get-missing.json")],
    )
    .await;
    // The body exactly as the client reads it, fields in their declared order.
    let order = concat!(
        r#"{"id":"o-1001","customer_email":"ada@example.com","#,
        r#""items":[{"sku":"BOOK-42","quantity":1},{"sku":"PEN-7","quantity":3}],"#,
        r#""created_at":1795449600000}"#,
    );
    assert_eq!(
        run.responses[0],
        v2_response(
            200,
            headers(GET_ID, Some("application/json"), json!({})),
            Some(order.to_owned()),
        )
    );

    let missing_id = "Kx7cpjW0oAMEf0A=";
    let mut missing = run.responses[1].clone();
    assert_eq!(
        body(&missing),
        problem(
            404,
            "Not Found",
            Some("order o-9999 not found"),
            "/orders/o-9999",
            "order_not_found",
            ("req-missing", missing_id),
        )
    );
    missing["body"] = json!("<the problem>");
    assert_eq!(
        missing,
        v2_response(
            404,
            headers(missing_id, Some("application/problem+json"), json!({})),
            Some("<the problem>".to_owned()),
        )
    );

    assert_eq!(run.documents[0], cold_start_document(GET));
    request_documents(&run.documents[1..3], "2xx", &[]);
    request_documents(&run.documents[3..], "4xx", &[]);
}

#[tokio::test]
async fn a_preflight_is_answered_by_the_cors_layer_for_the_allowed_origins() {
    let preflight_id = "Kx7cuhT4IAMEgbg=";
    let preflight = |allow_origin: Option<&str>| {
        let mut headers = json!({
            "vary": "origin, access-control-request-method, access-control-request-headers",
            "access-control-allow-methods": "GET,POST",
            "access-control-allow-headers": "content-type,authorization,idempotency-key",
            "access-control-max-age": "600",
            "x-correlation-id": preflight_id,
        });
        if let Some(origin) = allow_origin {
            headers["access-control-allow-origin"] = json!(origin);
        }
        v2_response(200, headers, None)
    };

    // Any origin by default.
    let run = invoke(CREATE, &[], &[("req-preflight", "cors-preflight.json")]).await;
    assert_eq!(run.responses[0], preflight(Some("*")));
    assert!(
        lines_of(&run.lines, "req-preflight").is_empty(),
        "the handler does not run for a preflight: {:?}",
        run.lines
    );
    request_documents(&run.documents[1..], "2xx", &[]);

    // The request's origin when it is listed; none when it is not.
    let listed = [(
        "ALLOWED_ORIGINS",
        "https://admin.example.com, https://shop.example.com",
    )];
    let run = invoke(GET, &listed, &[("req-listed", "cors-preflight.json")]).await;
    assert_eq!(
        run.responses[0],
        preflight(Some("https://shop.example.com"))
    );
    let other = [("ALLOWED_ORIGINS", "https://admin.example.com")];
    let run = invoke(GET, &other, &[("req-other", "cors-preflight.json")]).await;
    assert_eq!(run.responses[0], preflight(None));
}

#[tokio::test]
async fn a_store_that_fails_answers_503_and_never_shows_why() {
    let env = [("ORDERS_STORE_UNAVAILABLE", "1")];
    let run = invoke(CREATE, &env, &[("req-down", "create.json")]).await;
    let mut response = run.responses[0].clone();
    // No `detail`: the store's message stays in the logs.
    assert_eq!(
        body(&response),
        problem(
            503,
            "Service Unavailable",
            None,
            "/orders",
            "store_unavailable",
            ("req-down", CREATE_ID),
        )
    );
    response["body"] = json!("<the problem>");
    assert_eq!(
        response,
        v2_response(
            503,
            headers(CREATE_ID, Some("application/problem+json"), json!({})),
            Some("<the problem>".to_owned()),
        )
    );
    let lines = lines_of(&run.lines, "req-down");
    assert_eq!(lines.len(), 1, "{:?}", run.lines);
    assert_eq!(
        lines[0].fields,
        InvocationKeys::new(CREATE, "req-down", CREATE_ID)
            .service(SERVICE)
            .cold_start(true)
            .trace(run.pushed[0].trace_root())
            .line(
                "ERROR",
                "the request failed with 503 Service Unavailable: the order store is \
                 unavailable: the in-memory store is made unavailable (ORDERS_STORE_UNAVAILABLE)",
                json!({"status": 503, "code": "store_unavailable", "error_type": "store_unavailable"}),
            )
    );
    request_documents(&run.documents[1..], "5xx", &[]);

    // The same for `get-order`.
    let run = invoke(GET, &env, &[("req-down", "get.json")]).await;
    assert_eq!(
        body(&run.responses[0]),
        problem(
            503,
            "Service Unavailable",
            None,
            "/orders/o-1001",
            "store_unavailable",
            ("req-down", GET_ID),
        )
    );
}

#[tokio::test]
async fn an_invalid_setting_fails_init_and_names_it() {
    let mut api = RuntimeApi::start().await;
    let function = api
        .function(GET)
        .env("ALLOWED_ORIGINS", "https://shop.example.com/")
        .spawn();
    match api.next_outcome().await {
        Outcome::InitError { body, .. } => assert_eq!(
            body,
            json!({
                "errorType": "helve.InitError",
                "errorMessage": "the init function `setup` failed (helve.ConfigError): invalid \
                    setting ALLOWED_ORIGINS: `https://shop.example.com/` is not an origin; write \
                    `https://host` or `https://host:port`, without a path",
            })
        ),
        other => panic!("expected an init error, got {other:?}"),
    }
    function.stop().await;
}

#[tokio::test]
async fn the_router_function_finds_the_order_it_created_and_answers_as_each_route_function() {
    let run = invoke(
        ORDERS,
        &[],
        &[
            ("req-create", "create.json"),
            ("req-get", "get-created.json"),
            ("req-retry", "create.json"),
            ("req-missing", "get-missing.json"),
            ("req-invalid", "create-invalid.json"),
        ],
    )
    .await;
    let created = &run.responses[0];
    assert_eq!(created["statusCode"], 201, "{created}");
    let mut answer = created.clone();
    answer["body"] = json!("<the order>");
    assert_eq!(
        answer,
        v2_response(
            201,
            headers(
                CREATE_ID,
                Some("application/json"),
                json!({"location": "/orders/o-1002"})
            ),
            Some("<the order>".to_owned()),
        ),
        "the same answer as `create-order`'s"
    );

    // The same store: the order created is found, as it was answered.
    let found = &run.responses[1];
    assert_eq!(found["statusCode"], 200, "{found}");
    assert_eq!(found["body"], created["body"]);
    assert_eq!(found["headers"]["x-correlation-id"], "Kx7dQ2bNIAMEgTw=");

    // The create is idempotent; the read needs no key, and no line says it had none.
    assert_eq!(run.responses[2]["headers"]["x-idempotent-replay"], "true");
    assert_eq!(run.responses[2]["body"], created["body"]);
    assert_eq!(lines_of(&run.lines, "req-get"), Vec::<&LogLine>::new());

    let missing_id = "Kx7cpjW0oAMEf0A=";
    assert_eq!(
        body(&run.responses[3]),
        problem(
            404,
            "Not Found",
            Some("order o-9999 not found"),
            "/orders/o-9999",
            "order_not_found",
            ("req-missing", missing_id),
        )
    );
    let invalid = body(&run.responses[4]);
    assert_eq!(invalid["status"], 422);
    assert_eq!(invalid["code"], "validation_failed");
    assert_eq!(
        invalid["errors"].as_array().map(Vec::len),
        Some(5),
        "{invalid}"
    );
    // Each failure logged once, by the function, as the single-route functions log it.
    for (request_id, status) in [("req-missing", 404), ("req-invalid", 422)] {
        let lines = lines_of(&run.lines, request_id);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].get("status"), status);
    }
    assert_eq!(run.documents[0], cold_start_document(ORDERS));
}
