//! The real binaries (the examples and `tests/functions`) served by a Lambda Runtime API on
//! 127.0.0.1, exactly as Lambda runs them: each test asserts the exact JSON a function posts.

mod support;

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, SystemTime},
};

use serde_json::{Value, json};
use support::{
    InvocationKeys, LogLine, Outcome, Pushed, READY, RuntimeApi, fields, init_line, log_lines,
    read_workspace_file, without_init_duration,
};

/// The outcome a successful invocation posts.
fn response(request_id: &str, body: Value) -> Outcome {
    Outcome::Response {
        request_id: request_id.to_owned(),
        body,
    }
}

/// The request id and body of an invocation error; fails on any other outcome.
fn expect_error(outcome: Outcome) -> (String, Value) {
    match outcome {
        Outcome::Error {
            request_id, body, ..
        } => (request_id, body),
        other => panic!("expected a POST to /runtime/invocation/{{id}}/error, got {other:?}"),
    }
}

/// The error-type header and body of an init error; fails on any other outcome.
fn expect_init_error(outcome: Outcome) -> (Option<String>, Value) {
    match outcome {
        Outcome::InitError {
            error_type_header,
            body,
        } => (error_type_header, body),
        other => panic!("expected a POST to /runtime/init/error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// examples/hello
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn hello_answers_a_greeting_with_the_exact_response() {
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-hello").spawn();
    api.push(
        "greeting-1",
        &read_workspace_file("examples/hello/events/greeting.json"),
    );
    assert_eq!(
        api.next_outcome().await,
        response("greeting-1", json!({"message": "Hello, Ada!"}))
    );
}

#[tokio::test]
async fn the_greeting_word_set_at_init_reaches_every_invocation() {
    let mut api = RuntimeApi::start().await;
    let _function = api
        .function("example-hello")
        .env("GREETING", "Bonjour")
        .spawn();
    api.push("bonjour-1", r#"{"name":"Ada"}"#);
    api.push("bonjour-2", r#"{"name":"Grace"}"#);
    assert_eq!(
        api.next_outcomes(2).await,
        [
            response("bonjour-1", json!({"message": "Bonjour, Ada!"})),
            response("bonjour-2", json!({"message": "Bonjour, Grace!"})),
        ]
    );
}

#[tokio::test]
async fn an_event_that_does_not_decode_is_reported_with_its_field_line_and_column() {
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-hello").spawn();
    api.push(
        "invalid-1",
        &read_workspace_file("examples/hello/events/invalid.json"),
    );
    let (request_id, body) = expect_error(api.next_outcome().await);
    assert_eq!(request_id, "invalid-1");
    assert_eq!(
        body,
        json!({
            "errorType": "helve.InvalidEvent",
            "errorMessage": "invalid event at name: invalid type: integer, expected a string at line 1 column 11"
        })
    );
}

#[tokio::test]
async fn a_user_error_reaches_lambda_with_its_own_error_type() {
    let mut api = RuntimeApi::start().await;
    let function = api.function("example-hello").spawn();
    api.push(
        "empty-1",
        &read_workspace_file("examples/hello/events/empty-name.json"),
    );
    api.push("after-empty", r#"{"name":"Ada"}"#);
    let (request_id, body) = expect_error(api.next_outcome().await);
    assert_eq!(request_id, "empty-1");
    assert_eq!(
        body,
        json!({"errorType": "hello.EmptyName", "errorMessage": "the name must not be empty"})
    );
    assert_eq!(
        api.next_outcome().await,
        response("after-empty", json!({"message": "Hello, Ada!"}))
    );
    // The error is logged once, by helve, with the invocation's ids: lambda_runtime's own
    // line for it (`Diagnostic { .. }`, without them) is not written.
    let exit = function.stop().await;
    let errors: Vec<_> = support::log_lines(&exit.stdout)
        .into_iter()
        .filter(|line| line.get("level") == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].get("function_request_id"), "empty-1");
}

#[tokio::test]
async fn a_failed_init_is_reported_once_and_the_process_exits() {
    let mut api = RuntimeApi::start().await;
    let function = api.function("example-hello").env("GREETING", "").spawn();
    let (error_type_header, body) = expect_init_error(api.next_outcome().await);
    assert_eq!(
        body,
        json!({
            "errorType": "helve.InitError",
            "errorMessage": "the init function `setup` failed (hello.Config): GREETING must not be empty"
        })
    );
    assert_eq!(error_type_header.as_deref(), Some("helve.InitError"));

    let exit = function.wait().await;
    assert!(
        !exit.status.success(),
        "the process must exit non-zero: {exit}"
    );
    api.wait_for_disconnect().await;
    assert_eq!(api.try_next_outcome(), None, "exactly one POST");
    assert_eq!(
        api.polls(),
        0,
        "no invocation is asked for after a failed init"
    );
}

#[tokio::test]
async fn a_missing_lambda_variable_is_a_config_error_not_a_panic() {
    let mut api = RuntimeApi::start().await;
    let function = api
        .function("example-hello")
        .env_remove("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        .spawn();
    let (error_type_header, body) = expect_init_error(api.next_outcome().await);
    assert_eq!(
        body,
        json!({
            "errorType": "helve.ConfigError",
            "errorMessage": "invalid setting AWS_LAMBDA_FUNCTION_MEMORY_SIZE: Lambda sets it for every function; it is missing"
        })
    );
    assert_eq!(error_type_header.as_deref(), Some("helve.ConfigError"));

    let exit = function.wait().await;
    assert!(
        !exit.status.success(),
        "the process must exit non-zero: {exit}"
    );
    assert!(!exit.stderr.contains("panicked"), "no panic: {exit}");
    api.wait_for_disconnect().await;
    assert_eq!(api.try_next_outcome(), None, "exactly one POST");
}

#[tokio::test]
async fn an_unusable_runtime_api_address_is_a_config_error_not_a_panic() {
    let api = RuntimeApi::start().await;
    let exit = api
        .function("example-hello")
        .env("AWS_LAMBDA_RUNTIME_API", "not a host")
        .run()
        .await;
    assert_eq!(exit.code(), Some(1), "{exit}");
    assert!(!exit.stderr.contains("panicked"), "no panic: {exit}");
    assert_eq!(
        exit.stderr_lines().last().copied(),
        Some(
            r#"{"errorType":"helve.ConfigError","errorMessage":"invalid setting AWS_LAMBDA_RUNTIME_API: expected `host:port` of the Lambda Runtime API; the value given is not repeated here"}"#
        ),
        "{exit}"
    );
}

// ---------------------------------------------------------------------------------------------
// examples/scheduled
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_scheduled_event_runs_the_job_for_the_day_before_its_time() {
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-scheduled").spawn();
    api.push(
        "schedule-1",
        &read_workspace_file("examples/scheduled/events/daily.json"),
    );
    assert_eq!(
        api.next_outcome().await,
        response(
            "schedule-1",
            json!({
                "job": "daily-report",
                "scheduled_for": "2026-11-23T06:00:00Z",
                "report_date": "2026-11-22",
                "status": "done"
            })
        )
    );
}

#[tokio::test]
async fn an_event_that_is_not_a_schedule_is_refused_by_name() {
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-scheduled").spawn();
    api.push(
        "ec2-1",
        &read_workspace_file("examples/scheduled/events/not-scheduled.json"),
    );
    let (request_id, body) = expect_error(api.next_outcome().await);
    assert_eq!(request_id, "ec2-1");
    assert_eq!(
        body,
        json!({
            "errorType": "scheduled.NotScheduled",
            "errorMessage": "expected a scheduled event from aws.events, got `EC2 Instance State-change Notification` from `aws.ec2`"
        })
    );
}

// ---------------------------------------------------------------------------------------------
// tests/functions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_panic_fails_only_its_own_invocation() {
    let mut api = RuntimeApi::start().await;
    let mut function = api.function("panicky").spawn();
    api.push("panics", r#"{"panic": true, "value": "lost"}"#);
    api.push("after-panic", r#"{"panic": false, "value": "kept"}"#);

    let (request_id, body) = expect_error(api.next_outcome().await);
    assert_eq!(request_id, "panics");
    assert_eq!(
        body,
        json!({"errorType": "helve.Panic", "errorMessage": "the handler panicked: asked to panic"})
    );
    assert_eq!(
        api.next_outcome().await,
        response("after-panic", json!({"value": "kept"}))
    );
    assert_eq!(
        function.try_status(),
        None,
        "the same process goes on serving"
    );
}

#[tokio::test]
async fn a_plain_event_that_does_not_validate_never_reaches_the_handler() {
    let mut api = RuntimeApi::start().await;
    let mut function = api.function("validated-signup").spawn();
    api.push("empty-name", r#"{"name": "", "email": "not-an-address"}"#);
    api.push("valid", r#"{"name": "Ada", "email": "ada@example.com"}"#);

    let (request_id, body) = expect_error(api.next_outcome().await);
    assert_eq!(request_id, "empty-name");
    assert_eq!(body["errorType"], "helve.ValidationFailed");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the event does not validate: email:"),
        "{message}"
    );
    assert!(message.contains("; name:"), "{message}");
    assert!(message.ends_with("the handler was not called"), "{message}");
    assert!(!message.contains("not-an-address"), "{message}");
    assert_eq!(
        api.next_outcome().await,
        response("valid", json!({"welcome": "Ada"}))
    );
    let output = api.process_output();
    assert_eq!(
        output.matches("handler called").count(),
        1,
        "only the valid event reached the handler:\n{output}"
    );
    assert_eq!(function.try_status(), None);
}

#[tokio::test]
async fn a_client_context_that_does_not_read_fails_only_its_own_invocation() {
    let mut api = RuntimeApi::start().await;
    let mut function = api.function("panicky").spawn();
    // A `custom` value must be a string: this one is a number, and must not be repeated.
    api.push_with_client_context(
        "bad-context",
        r#"{"panic": false, "value": "x"}"#,
        r#"{"custom":{"pin":98765432}}"#,
    );
    api.push_with_client_context(
        "not-json",
        r#"{"panic": false, "value": "x"}"#,
        r#"{"custom":"#,
    );
    api.push("after", r#"{"panic": false, "value": "kept"}"#);

    let (request_id, body) = expect_error(api.next_outcome().await);
    assert_eq!(request_id, "bad-context");
    assert_eq!(body["errorType"], "helve.InvalidEvent");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "the client context the caller passed (lambda-runtime-client-context) is not of the \
             shape Lambda gives it"
        ),
        "{message}"
    );
    assert!(!message.contains("98765432"), "{message}");
    let (request_id, body) = expect_error(api.next_outcome().await);
    assert_eq!(request_id, "not-json");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("is not valid JSON"),
        "{body}"
    );
    assert_eq!(
        api.next_outcome().await,
        response("after", json!({"value": "kept"}))
    );
    assert_eq!(
        function.try_status(),
        None,
        "the same process goes on serving"
    );
}

#[tokio::test]
async fn a_response_that_cannot_be_serialized_fails_only_its_own_invocation() {
    let mut api = RuntimeApi::start().await;
    let mut function = api.function("panicky").spawn();
    api.push(
        "unsendable",
        r#"{"panic": false, "value": "x", "unsendable": true}"#,
    );
    api.push("after", r#"{"panic": false, "value": "kept"}"#);

    let (request_id, body) = expect_error(api.next_outcome().await);
    assert_eq!(request_id, "unsendable");
    assert_eq!(
        body,
        json!({
            "errorType": "helve.InvalidResponse",
            "errorMessage": "the response does not serialize to JSON: this value cannot be sent"
        })
    );
    assert_eq!(
        api.next_outcome().await,
        response("after", json!({"value": "kept"}))
    );
    assert_eq!(
        function.try_status(),
        None,
        "the same process goes on serving"
    );
}

#[tokio::test]
async fn the_context_carries_what_lambda_sent_with_the_invocation() {
    let mut api = RuntimeApi::start().await;
    let _function = api.function("context-echo").spawn();
    let deadline = SystemTime::now() + Duration::from_secs(10 * 3600);
    let first = api.push_with_deadline("meta-1", "{}", deadline);
    let second = api.push("meta-2", "{}");

    let Outcome::Response { request_id, body } = api.next_outcome().await else {
        panic!("expected a response");
    };
    assert_eq!(request_id, "meta-1");
    let remaining_ms = body["remaining_ms"]
        .as_u64()
        .expect("remaining_ms is a number");
    // The deadline is ten hours away: far enough that no slow machine gets near it.
    assert!(
        (9 * 3600 * 1000..=10 * 3600 * 1000).contains(&remaining_ms),
        "the deadline header sets the remaining time: {remaining_ms} ms"
    );
    assert_eq!(
        body,
        json!({
            "request_id": "meta-1",
            "correlation_id": "meta-1",
            "current_request_id": "meta-1",
            "cold_start": true,
            "function_name": "context-echo",
            "function_version": "$LATEST",
            "memory_size_mb": 128,
            "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:context-echo",
            "xray_trace_id": first.trace_root(),
            "remaining_ms": remaining_ms,
        })
    );

    let Outcome::Response { request_id, body } = api.next_outcome().await else {
        panic!("expected a response");
    };
    assert_eq!(request_id, "meta-2");
    assert_eq!(body["cold_start"], json!(false), "only the first is cold");
    assert_eq!(body["xray_trace_id"], json!(second.trace_root()));
}

#[tokio::test]
async fn concurrent_invocations_each_see_only_their_own_context() {
    let mut api = RuntimeApi::start().await;
    let _function = api
        .function("context-echo")
        .env("AWS_LAMBDA_MAX_CONCURRENCY", "4")
        .spawn();
    // The first four wait for each other inside the handler, so they provably run at once;
    // their sleeps then make them finish in another order than they started, while the next
    // four start and finish in between.
    let events = [
        ("c-1", r#"{"wait_for": 4, "sleep_ms": 400}"#),
        ("c-2", r#"{"wait_for": 4, "sleep_ms": 0}"#),
        ("c-3", r#"{"wait_for": 4, "sleep_ms": 250}"#),
        ("c-4", r#"{"wait_for": 4, "sleep_ms": 50}"#),
        ("c-5", r#"{"sleep_ms": 100}"#),
        ("c-6", r#"{"sleep_ms": 0}"#),
        ("c-7", r#"{"sleep_ms": 200}"#),
        ("c-8", r#"{"sleep_ms": 20}"#),
    ];
    let mut traces = HashMap::new();
    for (request_id, event) in events {
        traces.insert(
            request_id,
            api.push(request_id, event).trace_root().to_owned(),
        );
    }

    let mut answered = HashSet::new();
    let mut cold_starts = 0;
    for outcome in api.next_outcomes(events.len()).await {
        let Outcome::Response { request_id, body } = outcome else {
            panic!("every invocation succeeds: {outcome:?}");
        };
        assert_eq!(
            body["request_id"],
            json!(request_id),
            "the handler's context"
        );
        assert_eq!(
            body["current_request_id"],
            json!(request_id),
            "helve::context() inside the handler"
        );
        assert_eq!(
            body["xray_trace_id"],
            json!(traces[request_id.as_str()]),
            "the trace id of this invocation, not of another"
        );
        if body["cold_start"] == json!(true) {
            cold_starts += 1;
        }
        assert!(answered.insert(request_id), "one answer per invocation");
    }
    assert_eq!(answered.len(), events.len());
    assert_eq!(cold_starts, 1, "exactly one invocation is the cold start");
}

// ---------------------------------------------------------------------------------------------
// Correlation ids and the log lines of an invocation
// ---------------------------------------------------------------------------------------------

/// Runs `context-echo` on one event with event logging on, stops it once it has answered, and
/// returns the pushed event, the response body, and every line the process logged: all of them
/// belong to that one invocation.
async fn echo_once(request_id: &str, event: &str) -> (Pushed, Value, Vec<LogLine>) {
    let mut api = RuntimeApi::start().await;
    let function = api
        .function("context-echo")
        .env("POWERTOOLS_LOGGER_LOG_EVENT", "true")
        .spawn();
    let pushed = api.push(request_id, event);
    let outcome = api.next_outcome().await;
    let Outcome::Response {
        request_id: answered,
        body,
    } = outcome
    else {
        panic!(
            "expected a response, got {outcome:?}\n{}",
            api.process_output()
        );
    };
    assert_eq!(answered, request_id);
    let exit = function.stop().await;
    let mut lines = log_lines(&exit.stdout);
    without_init_duration(&mut lines);
    (pushed, body, lines)
}

/// Asserts that `context-echo` answers `event` with `correlation_id`, and that every line it
/// logged for the invocation carries that correlation id and the invocation's request id.
async fn assert_correlated_by(event: &str, request_id: &str, correlation_id: &str) {
    let (pushed, body, lines) = echo_once(request_id, event).await;
    assert_eq!(
        body["correlation_id"],
        json!(correlation_id),
        "ctx.correlation_id() in the handler"
    );
    assert_eq!(body["request_id"], json!(request_id));

    let keys = InvocationKeys::new("context-echo", request_id, correlation_id)
        .trace(pushed.trace_root())
        .cold_start(true);
    let event: Value = serde_json::from_str(event).expect("the event is JSON");
    assert_eq!(
        fields(&lines),
        [
            keys.line("INFO", READY, json!({})),
            keys.line("INFO", "incoming event", json!({ "event": event })),
            keys.line("INFO", "invocation started", json!({})),
            keys.line("INFO", "echoing the context", json!({})),
        ]
    );
    for line in &lines[2..] {
        assert_eq!(
            line.location_file(),
            "tests/functions/src/bin/context-echo.rs",
            "the handler's own lines point at the handler: {}",
            line.raw
        );
    }
}

#[tokio::test]
async fn an_sqs_batch_is_correlated_by_its_first_message_id_on_every_line() {
    assert_correlated_by(
        &read_workspace_file("tests/fixtures/example-sqs-event.json"),
        "sqs-1",
        "MessageID_1",
    )
    .await;
}

#[tokio::test]
async fn an_http_api_request_is_correlated_by_its_request_id_on_every_line() {
    assert_correlated_by(
        &read_workspace_file("tests/fixtures/example-apigw-v2-request-no-authorizer.json"),
        "http-1",
        "LV7fzho-PHcEJPw=",
    )
    .await;
}

#[tokio::test]
async fn an_eventbridge_event_is_correlated_by_its_id_on_every_line() {
    assert_correlated_by(
        &read_workspace_file("tests/fixtures/example-eventbridge-event-obj.json"),
        "eventbridge-1",
        "7bf73129-1428-4cd3-a780-95db273d1602",
    )
    .await;
}

#[tokio::test]
async fn an_event_no_preset_knows_is_correlated_by_the_lambda_request_id_on_every_line() {
    assert_correlated_by(
        r#"{"order": {"id": "o-7"}, "sleep_ms": 0}"#,
        "plain-1",
        "plain-1",
    )
    .await;
}

#[tokio::test]
async fn a_json_pointer_names_the_correlation_id_and_the_presets_apply_without_it() {
    let mut api = RuntimeApi::start().await;
    let function = api.function("pointer-correlation").spawn();
    let invocations = [
        (
            "order-text",
            r#"{"detail": {"orderId": "o-42"}}"#.to_owned(),
            "o-42",
        ),
        (
            "order-number",
            r#"{"detail": {"orderId": 1042}}"#.to_owned(),
            "1042",
        ),
        // An EventBridge event without `detail.orderId`: the EventBridge preset, its `id`.
        (
            "no-order-id",
            read_workspace_file("tests/fixtures/example-eventbridge-event-obj.json"),
            "7bf73129-1428-4cd3-a780-95db273d1602",
        ),
        // Nothing at the pointer and no preset: the Lambda request id.
        ("nothing-known", "{}".to_owned(), "nothing-known"),
    ];
    let mut traces = Vec::new();
    for (request_id, event, _) in &invocations {
        traces.push(api.push(request_id, event).trace_root().to_owned());
    }
    for (request_id, _, correlation_id) in &invocations {
        assert_eq!(
            api.next_outcome().await,
            response(
                request_id,
                json!({"correlation_id": correlation_id, "request_id": request_id})
            )
        );
    }

    let exit = function.stop().await;
    let mut lines = log_lines(&exit.stdout);
    without_init_duration(&mut lines);
    let mut expected = Vec::new();
    for (index, ((request_id, _, correlation_id), trace)) in
        invocations.iter().zip(&traces).enumerate()
    {
        let keys = InvocationKeys::new("pointer-correlation", request_id, correlation_id)
            .service("orders")
            .trace(trace)
            .cold_start(index == 0);
        if index == 0 {
            expected.push(keys.line("INFO", READY, json!({})));
        }
        expected.push(keys.line("INFO", "order received", json!({})));
    }
    assert_eq!(fields(&lines), expected);
}

#[tokio::test]
async fn a_panic_in_init_is_an_init_error_naming_the_init_function() {
    let mut api = RuntimeApi::start().await;
    let function = api
        .function("pointer-correlation")
        .env("PANIC_AT_INIT", "1")
        .spawn();
    let (error_type_header, body) = expect_init_error(api.next_outcome().await);
    assert_eq!(
        body,
        json!({
            "errorType": "helve.InitError",
            "errorMessage": "the init function `setup` panicked: asked to panic at init"
        })
    );
    assert_eq!(error_type_header.as_deref(), Some("helve.InitError"));

    let exit = function.wait().await;
    assert!(
        !exit.status.success(),
        "the process must exit non-zero: {exit}"
    );
    // helve's panic hook replaces the default one, which would print
    // `thread '...' panicked at ...` on stderr: the panic is a JSON line on stdout instead.
    assert!(
        !exit.stderr.contains("panicked"),
        "the default panic hook ran: {exit}"
    );
    let mut lines = log_lines(&exit.stdout);
    let Some(panic_line) = lines.first_mut() else {
        panic!("the panic is logged: {exit}");
    };
    let panic_location = panic_line.take("panic_location");
    assert!(
        panic_location
            .as_str()
            .is_some_and(|at| at.starts_with("tests/functions/src/bin/pointer-correlation.rs:")),
        "the panic's location is in `setup`: {exit}"
    );
    assert_eq!(
        fields(&lines),
        [
            init_line(
                "ERROR",
                "a task panicked: asked to panic at init",
                "orders",
                json!({})
            ),
            init_line(
                "ERROR",
                "init failed: the init function `setup` panicked: asked to panic at init",
                "orders",
                json!({"error_type": "helve.InitError"})
            ),
        ],
        "{exit}"
    );
    api.wait_for_disconnect().await;
    assert_eq!(api.try_next_outcome(), None, "exactly one POST");
    assert_eq!(
        api.polls(),
        0,
        "no invocation is asked for after a failed init"
    );
}

#[tokio::test]
async fn concurrent_invocations_log_only_their_own_request_and_correlation_ids() {
    let mut api = RuntimeApi::start().await;
    let function = api
        .function("context-echo")
        .env("AWS_LAMBDA_MAX_CONCURRENCY", "4")
        .env("POWERTOOLS_LOGGER_LOG_EVENT", "true")
        .spawn();
    // (request id, wait_for, sleep_ms), as in the test of the context above: the first four
    // run at once and finish in another order than they started; the next four run in between.
    let plan = [
        ("c-1", 4, 400),
        ("c-2", 4, 0),
        ("c-3", 4, 250),
        ("c-4", 4, 50),
        ("c-5", 0, 100),
        ("c-6", 0, 0),
        ("c-7", 0, 200),
        ("c-8", 0, 20),
    ];
    let rendezvous = ["c-1", "c-2", "c-3", "c-4"];
    // Each event is an SQS batch whose correlation id (`msg-c-1`) differs from its request id
    // (`c-1`); its `tag` (`c-1`) says whose line a line is, without trusting helve's ids.
    let mut events = HashMap::new();
    let mut traces = HashMap::new();
    for (tag, wait_for, sleep_ms) in plan {
        let event = json!({
            "Records": [{"eventSource": "aws:sqs", "messageId": format!("msg-{tag}"), "body": "{}"}],
            "tag": tag,
            "wait_for": wait_for,
            "sleep_ms": sleep_ms,
        });
        let pushed = api.push(tag, &event.to_string());
        traces.insert(tag, pushed.trace_root().to_owned());
        events.insert(tag, event);
    }

    let mut cold = None;
    for outcome in api.next_outcomes(plan.len()).await {
        let Outcome::Response { request_id, body } = outcome else {
            panic!("every invocation succeeds: {outcome:?}");
        };
        assert_eq!(body["correlation_id"], json!(format!("msg-{request_id}")));
        if body["cold_start"] == json!(true) {
            assert_eq!(cold.replace(request_id), None, "one cold start");
        }
    }
    let cold = cold.expect("one invocation is the cold start");

    let exit = function.stop().await;
    let mut lines = log_lines(&exit.stdout);
    without_init_duration(&mut lines);
    let keys_of = |tag: &str| {
        InvocationKeys::new("context-echo", tag, &format!("msg-{tag}"))
            .trace(&traces[tag])
            .cold_start(tag == cold)
    };
    let mut by_tag: HashMap<&str, Vec<Value>> = HashMap::new();
    let mut untagged = Vec::new();
    let mut written = Vec::new();
    let mut workers: HashMap<String, Value> = HashMap::new();
    for line in &mut lines {
        let tag = line
            .get("tag")
            .as_str()
            .or_else(|| line.get("event")["tag"].as_str())
            .map(str::to_owned);
        // In concurrent mode lambda_runtime runs each invocation inside its `worker` span,
        // whose `task_id` field helve flattens onto the line like any span field. It names a
        // worker, not an invocation: the lines of one invocation share one.
        if let Some(task_id) = line
            .fields
            .as_object_mut()
            .and_then(|fields| fields.remove("task_id"))
        {
            let request_id = line.get("function_request_id").to_string();
            let first = workers.entry(request_id).or_insert_with(|| task_id.clone());
            assert_eq!(*first, task_id, "one worker per invocation: {}", line.raw);
        }
        match tag {
            Some(tag) => {
                let tag = plan
                    .iter()
                    .map(|(known, _, _)| *known)
                    .find(|known| *known == tag)
                    .unwrap_or_else(|| panic!("a line with an unknown tag: {}", line.raw));
                by_tag.entry(tag).or_default().push(line.fields.clone());
                written.push((tag, line.message().to_owned()));
            }
            None => untagged.push(line.fields.clone()),
        }
    }
    assert_eq!(
        untagged,
        [keys_of(&cold).line("INFO", READY, json!({}))],
        "only the cold start's first line has no tag"
    );
    for (tag, _, _) in plan {
        let keys = keys_of(tag);
        assert_eq!(
            by_tag.get(tag).map(Vec::as_slice).unwrap_or_default(),
            [
                keys.line("INFO", "incoming event", json!({ "event": events[tag] })),
                keys.line("INFO", "invocation started", json!({ "tag": tag })),
                keys.line("INFO", "echoing the context", json!({ "tag": tag })),
            ],
            "the lines of {tag}, and only its own ids on them"
        );
    }
    // The rendezvous makes the four first invocations log `invocation started` before any of
    // them logs `echoing the context`: their lines are interleaved on stdout.
    let last_start = written
        .iter()
        .rposition(|(tag, message)| rendezvous.contains(tag) && message == "invocation started")
        .expect("the first four logged `invocation started`");
    let first_echo = written
        .iter()
        .position(|(tag, message)| rendezvous.contains(tag) && message == "echoing the context")
        .expect("the first four logged `echoing the context`");
    assert!(
        last_start < first_echo,
        "the lines of concurrent invocations interleave: {written:?}"
    );
}
