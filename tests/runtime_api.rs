//! The real binaries (the examples and `tests/functions`) served by a Lambda Runtime API on
//! 127.0.0.1, exactly as Lambda runs them: each test asserts the exact JSON a function posts.

mod support;

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, SystemTime},
};

use serde_json::{Value, json};
use support::{Outcome, RuntimeApi, read_workspace_file};

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
            "errorMessage": "invalid event at name: invalid type: integer `42`, expected a string at line 1 column 11"
        })
    );
}

#[tokio::test]
async fn a_user_error_reaches_lambda_with_its_own_error_type() {
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-hello").spawn();
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
            r#"{"errorType":"helve.ConfigError","errorMessage":"invalid setting AWS_LAMBDA_RUNTIME_API: expected `host:port` of the Lambda Runtime API, found `not a host`"}"#
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
