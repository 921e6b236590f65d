//! Local mode: a helve binary started without `AWS_LAMBDA_RUNTIME_API` runs its handler once on
//! an event file (or stdin), prints the response as the last stdout line, and exits; given
//! several event files, it runs them in turn in one execution environment.

mod support;

use serde_json::{Value, json};
use support::{
    Exit, InvocationKeys, LogLine, READY, emf_documents, fields, is_uuid_v4, local, log_lines,
    without_init_duration, workspace_file,
};

/// The log lines before the response (the EMF documents left out), and the response, the last
/// stdout line.
fn logs_and_response(exit: &Exit) -> (Vec<LogLine>, Value) {
    let (logs, response) = exit
        .stdout
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("log lines, then the response: {exit}"));
    let mut lines = log_lines(logs);
    without_init_duration(&mut lines);
    let response = serde_json::from_str(response)
        .unwrap_or_else(|error| panic!("the response is JSON ({error}): {exit}"));
    (lines, response)
}

#[tokio::test]
async fn an_event_file_prints_the_response_as_the_last_line() {
    let exit = local("example-hello")
        .arg(workspace_file("examples/hello/events/greeting.json"))
        .run()
        .await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    assert_eq!(
        exit.last_stdout_line(),
        r#"{"message":"Hello, Ada!"}"#,
        "{exit}"
    );
}

#[tokio::test]
async fn several_event_files_are_invocations_of_one_execution_environment() {
    let exit = local("example-hello")
        .arg(workspace_file("examples/hello/events/greeting.json"))
        .arg(workspace_file("examples/hello/events/invalid.json"))
        .arg("-")
        .stdin(r#"{"name": "Grace"}"#)
        .run()
        .await;
    assert_eq!(exit.code(), Some(1), "one invocation failed: {exit}");
    let responses: Vec<&str> = exit
        .stdout
        .lines()
        .filter(|line| line.starts_with(r#"{"message""#))
        .collect();
    assert_eq!(
        responses,
        [
            r#"{"message":"Hello, Ada!"}"#,
            r#"{"message":"Hello, Grace!"}"#
        ],
        "{exit}"
    );
    assert!(
        exit.stderr.contains("helve.InvalidEvent"),
        "the second invocation's error: {exit}"
    );
    // Only the first is the cold start.
    let logs: Vec<&str> = exit
        .stdout
        .lines()
        .filter(|line| line.starts_with(r#"{"level""#))
        .collect();
    let lines = log_lines(&logs.join("\n"));
    let first = lines[0].get("function_request_id");
    for line in &lines {
        let cold = line.get("function_request_id") == first;
        assert_eq!(line.get("cold_start"), cold, "{}", line.raw);
    }
    let requests: std::collections::BTreeSet<&str> = lines
        .iter()
        .filter_map(|line| line.get("function_request_id").as_str())
        .collect();
    assert_eq!(requests.len(), 3, "a request id per invocation: {exit}");
}

#[tokio::test]
async fn a_mistyped_event_file_among_several_runs_nothing() {
    let exit = local("example-hello")
        .arg(workspace_file("examples/hello/events/greeting.json"))
        .arg("examples/hello/events/no-such-event.json")
        .run()
        .await;
    assert_eq!(exit.code(), Some(2), "{exit}");
    assert!(!exit.stdout.contains("Hello"), "{exit}");
    assert!(exit.stderr.contains("no-such-event.json"), "{exit}");
}

#[tokio::test]
async fn a_dash_reads_the_event_from_stdin() {
    let exit = local("example-hello")
        .arg("-")
        .stdin(r#"{"name": "Grace"}"#)
        .run()
        .await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    assert_eq!(
        exit.last_stdout_line(),
        r#"{"message":"Hello, Grace!"}"#,
        "{exit}"
    );
}

#[tokio::test]
async fn an_invalid_event_prints_the_lambda_error_and_exits_1() {
    let exit = local("example-hello")
        .arg(workspace_file("examples/hello/events/invalid.json"))
        .run()
        .await;
    assert_eq!(exit.code(), Some(1), "{exit}");
    assert!(
        exit.stderr_lines().contains(
            &r#"{"errorType":"helve.InvalidEvent","errorMessage":"invalid event at name: invalid type: integer, expected a string at line 1 column 11"}"#
        ),
        "{exit}"
    );
    assert!(
        !exit.stdout.contains(r#"{"message""#),
        "no response: {exit}"
    );
}

#[tokio::test]
async fn a_user_error_prints_its_error_type_and_exits_1() {
    let exit = local("example-hello")
        .arg(workspace_file("examples/hello/events/empty-name.json"))
        .run()
        .await;
    assert_eq!(exit.code(), Some(1), "{exit}");
    assert!(
        exit.stderr_lines().contains(
            &r#"{"errorType":"hello.EmptyName","errorMessage":"the name must not be empty"}"#
        ),
        "{exit}"
    );
}

#[tokio::test]
async fn a_failed_init_prints_the_init_error_and_exits_1() {
    let exit = local("example-hello")
        .env("GREETING", "")
        .arg(workspace_file("examples/hello/events/greeting.json"))
        .run()
        .await;
    assert_eq!(exit.code(), Some(1), "{exit}");
    assert!(
        exit.stderr_lines().contains(
            &r#"{"errorType":"helve.InitError","errorMessage":"the init function `setup` failed (hello.Config): GREETING must not be empty"}"#
        ),
        "{exit}"
    );
}

#[tokio::test]
async fn help_explains_local_mode_and_exits_0() {
    let exit = local("example-hello").arg("--help").run().await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    assert!(
        exit.stdout
            .contains("Usage: example-hello [OPTIONS] EVENT_FILE"),
        "{exit}"
    );
    assert!(
        exit.stdout
            .contains("--http METHOD PATH [--body JSON] [--header NAME:VALUE]..."),
        "{exit}"
    );
    assert!(
        exit.stdout
            .contains("Started without AWS_LAMBDA_RUNTIME_API"),
        "{exit}"
    );
    assert!(exit.stdout.contains("--timeout SECONDS"), "{exit}");
}

#[tokio::test]
async fn no_event_is_a_usage_error_with_exit_code_2() {
    let exit = local("example-hello").run().await;
    assert_eq!(exit.code(), Some(2), "{exit}");
    assert_eq!(
        exit.stderr_lines().first().copied(),
        Some(
            "error: no event: name an event file, `-` to read the event from stdin, or \
             `--http METHOD PATH` to make one"
        ),
        "{exit}"
    );
    assert!(exit.stderr.contains("Usage: example-hello"), "{exit}");
    assert_eq!(exit.stdout, "", "{exit}");
}

#[tokio::test]
async fn a_missing_event_file_is_named_with_exit_code_2() {
    let missing = workspace_file("examples/hello/events/no-such-event.json");
    let exit = local("example-hello").arg(&missing).run().await;
    assert_eq!(exit.code(), Some(2), "{exit}");
    assert!(
        exit.stderr.starts_with(&format!(
            "error: cannot read the event file {}: ",
            missing.display()
        )),
        "{exit}"
    );
}

#[tokio::test]
async fn a_handler_running_past_the_timeout_is_a_sandbox_timeout() {
    // The handler would sleep for two minutes, past the hang guard: only the timeout ends it.
    let exit = local("context-echo")
        .args(["--timeout", "1", "-"])
        .stdin(r#"{"sleep_ms": 120000}"#)
        .run()
        .await;
    assert_eq!(exit.code(), Some(1), "{exit}");
    assert!(
        exit.stderr_lines().contains(
            &r#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 1.00 seconds"}"#
        ),
        "{exit}"
    );
}

#[tokio::test]
async fn the_local_context_is_filled_as_lambda_would() {
    let exit = local("context-echo")
        .env("AWS_LAMBDA_FUNCTION_NAME", "orders")
        .arg("-")
        .stdin("{}")
        .run()
        .await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    let body: serde_json::Value =
        serde_json::from_str(exit.last_stdout_line()).expect("the response is JSON");
    assert_eq!(body["request_id"], body["current_request_id"], "{exit}");
    assert_eq!(
        body["correlation_id"], body["request_id"],
        "no preset for `{{}}`: {exit}"
    );
    assert!(
        body["request_id"].as_str().is_some_and(|id| id.len() == 36),
        "a uuid: {exit}"
    );
    assert_eq!(body["cold_start"], true, "{exit}");
    assert_eq!(body["function_name"], "orders", "{exit}");
    assert_eq!(body["memory_size_mb"], 128, "{exit}");
    assert_eq!(
        body["invoked_function_arn"], "arn:aws:lambda:us-east-1:123456789012:function:orders",
        "{exit}"
    );
    assert!(
        body["xray_trace_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("1-")),
        "{exit}"
    );
}

#[tokio::test]
async fn the_log_lines_before_the_response_are_those_of_a_cold_invocation() {
    let exit = local("example-hello")
        .arg(workspace_file("examples/hello/events/greeting.json"))
        .run()
        .await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    let (lines, response) = logs_and_response(&exit);
    assert_eq!(response, json!({"message": "Hello, Ada!"}), "{exit}");

    let first = lines.first().unwrap_or_else(|| panic!("log lines: {exit}"));
    let request_id = first
        .get("function_request_id")
        .as_str()
        .unwrap_or_default();
    assert!(is_uuid_v4(request_id), "a new UUID request id: {exit}");
    let trace = first.get("xray_trace_id").as_str().unwrap_or_default();
    assert!(trace.starts_with("1-"), "an X-Ray trace id: {exit}");
    // `{"name": "Ada"}` matches no preset: the correlation id is the request id.
    let keys = InvocationKeys::new("example-hello", request_id, request_id)
        .service("hello")
        .trace(trace)
        .cold_start(true);
    assert_eq!(
        fields(&lines),
        [
            keys.line("INFO", READY, json!({})),
            keys.line(
                "INFO",
                "greeting Ada",
                json!({"function_version": "$LATEST"})
            ),
        ],
        "{exit}"
    );
    assert_eq!(
        emf_documents(&exit.stdout),
        [
            json!({
                "_aws": {"CloudWatchMetrics": [{
                    "Namespace": "Hello",
                    "Dimensions": [["function_name", "service"]],
                    "Metrics": [{"Name": "ColdStart", "Unit": "Count"}]
                }]},
                "function_name": "example-hello",
                "service": "hello",
                "ColdStart": 1.0
            }),
            json!({
                "_aws": {"CloudWatchMetrics": [{
                    "Namespace": "Hello",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "Greetings", "Unit": "Count"}]
                }]},
                "service": "hello",
                "Greetings": 1.0
            }),
        ],
        "{exit}"
    );
}

#[tokio::test]
async fn local_mode_finds_the_correlation_id_as_lambda_does() {
    let exit = local("context-echo")
        .arg(workspace_file("tests/fixtures/example-sqs-event.json"))
        .run()
        .await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    let (lines, response) = logs_and_response(&exit);
    assert_eq!(response["correlation_id"], "MessageID_1", "{exit}");
    assert!(!lines.is_empty(), "{exit}");
    for line in &lines {
        assert_eq!(line.get("correlation_id"), "MessageID_1", "{}", line.raw);
        assert_eq!(
            line.get("function_request_id"),
            &response["request_id"],
            "{}",
            line.raw
        );
    }
}

#[tokio::test]
async fn the_default_local_timeout_is_three_seconds() {
    let exit = local("context-echo").arg("-").stdin("{}").run().await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    let (_, response) = logs_and_response(&exit);
    let remaining_ms = response["remaining_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("remaining_ms is a number: {exit}"));
    // A deadline 3 s after the context was made, read a moment later: more than 2 s remain.
    assert!(
        (2001..=3000).contains(&remaining_ms),
        "3 s from the start: {remaining_ms} ms remain\n{exit}"
    );
}

/// The body of the new order the HTTP tests send.
const NEW_ORDER: &str = r#"{"id":"o-2001","customer_email":"ada@example.com","items":[{"sku":"BOOK-42","quantity":1}]}"#;

#[tokio::test]
async fn an_http_request_on_the_command_line_runs_the_function_on_an_http_api_event() {
    let exit = local("create-order")
        .args(["--http", "POST", "/orders", "--body", NEW_ORDER])
        .run()
        .await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    let (lines, response) = logs_and_response(&exit);
    assert_eq!(response["statusCode"], 201, "{exit}");
    assert_eq!(response["headers"]["location"], "/orders/o-2001", "{exit}");
    let order: Value = serde_json::from_str(response["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|error| panic!("the body is JSON ({error}): {exit}"));
    assert_eq!(order["id"], "o-2001", "{exit}");
    assert_eq!(order["customer_email"], "ada@example.com", "{exit}");
    // The generated event's API Gateway request id is the correlation id, as on AWS.
    let correlation = lines
        .iter()
        .find_map(|line| line.get("correlation_id").as_str())
        .unwrap_or_else(|| panic!("a correlation id: {exit}"));
    assert_eq!(correlation.len(), 16, "an API Gateway request id: {exit}");
    assert!(correlation.ends_with('='), "{exit}");
}

#[tokio::test]
async fn an_http_request_with_a_route_reaches_the_path_parameter() {
    let exit = local("get-order")
        .args(["--http", "GET", "/orders/o-1001", "--route", "/orders/{id}"])
        .arg("--header")
        .arg("Accept: application/json")
        .run()
        .await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    let (_, response) = logs_and_response(&exit);
    assert_eq!(response["statusCode"], 200, "{exit}");
    let order: Value = serde_json::from_str(response["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|error| panic!("the body is JSON ({error}): {exit}"));
    assert_eq!(order["id"], "o-1001", "{exit}");
}

#[tokio::test]
async fn an_http_body_that_fails_validation_gets_the_422_problem() {
    let exit = local("create-order")
        .args(["--http", "POST", "/orders", "--body"])
        .arg(r#"{"id":"o-2002","customer_email":"not an email","items":[{"sku":"BOOK-42","quantity":1}]}"#)
        .run()
        .await;
    assert_eq!(exit.code(), Some(0), "an HTTP answer is a response: {exit}");
    let (_, response) = logs_and_response(&exit);
    assert_eq!(response["statusCode"], 422, "{exit}");
    assert_eq!(
        response["headers"]["content-type"], "application/problem+json",
        "{exit}"
    );
}

#[tokio::test]
async fn pretty_prints_the_log_lines_and_the_http_body_indented() {
    let exit = local("create-order")
        .args(["--pretty", "--http", "POST", "/orders", "--body", NEW_ORDER])
        .run()
        .await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    assert!(
        exit.stdout.starts_with("{\n  \"level\": \"INFO\",\n"),
        "{exit}"
    );
    let response = exit
        .stdout
        .rfind("\n{\n  \"statusCode\": 201,")
        .map(|start| &exit.stdout[start + 1..])
        .unwrap_or_else(|| panic!("the response, indented, last: {exit}"));
    let response: Value = serde_json::from_str(response)
        .unwrap_or_else(|error| panic!("the response is JSON ({error}): {exit}"));
    assert_eq!(response["body"]["id"], "o-2001", "the body decoded: {exit}");
    assert!(
        exit.stdout
            .contains("\n  \"body\": {\n    \"id\": \"o-2001\","),
        "{exit}"
    );
}

#[tokio::test]
async fn an_event_template_is_printed_for_every_kind_with_exit_code_0() {
    for kind in [
        "http-v2",
        "http-v1",
        "alb",
        "function-url",
        "sqs",
        "sqs-fifo",
        "kinesis",
        "dynamodb",
        "cfn-create",
        "cfn-update",
        "cfn-delete",
        "schedule",
        "s3",
    ] {
        let exit = local("example-hello")
            .args(["--event-template", kind])
            .run()
            .await;
        assert_eq!(exit.code(), Some(0), "{kind}: {exit}");
        assert_eq!(
            exit.stdout,
            support::read_workspace_file(&format!("src/local/templates/{kind}.json")),
            "{kind}: {exit}"
        );
        assert_eq!(exit.stderr, "", "no init, no logs: {exit}");
    }
}

#[tokio::test]
async fn an_unknown_event_template_lists_the_kinds_with_exit_code_2() {
    let exit = local("example-hello")
        .args(["--event-template", "sns"])
        .run()
        .await;
    assert_eq!(exit.code(), Some(2), "{exit}");
    assert_eq!(
        exit.stderr_lines().first().copied(),
        Some(
            "error: unknown event template `sns`; expected one of: http-v2, http-v1, alb, \
             function-url, sqs, sqs-fifo, kinesis, dynamodb, cfn-create, cfn-update, \
             cfn-delete, schedule, s3"
        ),
        "{exit}"
    );
    assert_eq!(exit.stdout, "", "{exit}");
}

#[tokio::test]
async fn the_templates_run_as_they_are_on_the_examples_of_their_source() {
    for (kind, binary) in [
        ("sqs", "example-sqs-worker"),
        ("schedule", "example-scheduled"),
    ] {
        let template = local(binary).args(["--event-template", kind]).run().await;
        let exit = local(binary).arg("-").stdin(template.stdout).run().await;
        assert_eq!(exit.code(), Some(0), "{kind}: {exit}");
        if kind == "sqs" {
            assert_eq!(
                exit.last_stdout_line(),
                r#"{"batchItemFailures":[]}"#,
                "{exit}"
            );
        }
    }
}
