//! Local mode: a helve binary started without `AWS_LAMBDA_RUNTIME_API` runs its handler once on
//! an event file (or stdin), prints the response as the last stdout line, and exits.

mod support;

use support::{local, workspace_file};

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
            &r#"{"errorType":"helve.InvalidEvent","errorMessage":"invalid event at name: invalid type: integer `42`, expected a string at line 1 column 11"}"#
        ),
        "{exit}"
    );
    assert!(!exit.stdout.contains("Hello"), "no response: {exit}");
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
            .contains("Usage: example-hello [--timeout SECONDS] EVENT_FILE"),
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
        Some("error: no event: name an event file, or `-` to read the event from stdin"),
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
