//! A function with a shutdown hook, served by a Lambda Runtime API on 127.0.0.1: it registers
//! the extension that makes Lambda send SIGTERM, and on SIGTERM runs its hook within Lambda's
//! budget, writes what the hook recorded, logs one line and exits.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Outcome, RuntimeApi};

/// Serves one invocation, then sends SIGTERM and returns the exit and how long it took.
async fn serve_then_terminate(hook: &str) -> (support::Exit, Duration, RuntimeApi) {
    let mut api = RuntimeApi::start().await;
    let function = api
        .function("shutdown-hook")
        .env("SHUTDOWN_HOOK", hook)
        .spawn();
    api.push("req-1", r#"{"n": 1}"#);
    match api.next_outcome().await {
        Outcome::Response { body, .. } => assert_eq!(body, json!({"n": 1})),
        other => panic!("expected a response, got {other:?}"),
    }
    let sent = Instant::now();
    function.terminate();
    let exit = function.wait().await;
    (exit, sent.elapsed(), api)
}

/// Every stdout line, log lines and EMF documents alike, each one JSON object.
fn log_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}\n{stdout}"))
        })
        .collect()
}

fn shutdown_line(lines: &[Value]) -> &Value {
    let found: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("shutdown_hook").is_some())
        .collect();
    assert_eq!(found.len(), 1, "one shutdown line: {lines:#?}");
    found[0]
}

#[tokio::test]
async fn on_sigterm_the_hook_runs_its_metrics_are_written_and_the_process_exits_cleanly() {
    let (exit, _, api) = serve_then_terminate("").await;
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr);
    // The extension that makes Lambda send SIGTERM, subscribed to no event.
    let extensions = api.extensions();
    assert_eq!(extensions.len(), 1, "{extensions:?}");
    assert_eq!(extensions[0].1, json!([]));

    let lines = log_lines(&exit.stdout);
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "closing the pool" && line["level"] == "INFO"),
        "{lines:#?}"
    );
    let written: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("PoolsClosed").is_some())
        .collect();
    assert_eq!(written.len(), 1, "{lines:#?}");
    assert_eq!(written[0]["PoolsClosed"], json!(1.0));
    assert_eq!(written[0]["service"], "orders");
    let shutdown = shutdown_line(&lines);
    assert_eq!(shutdown["level"], "INFO");
    assert_eq!(shutdown["shutdown_hook"], "completed");
    assert_eq!(
        shutdown["message"],
        "the function is shutting down (SIGTERM): the shutdown hook completed"
    );
    // The metrics document and the shutdown line come after the hook's own line.
    let position = |wanted: &Value| lines.iter().position(|line| line == wanted).unwrap();
    let hook_line = lines
        .iter()
        .find(|line| line["message"] == "closing the pool")
        .unwrap();
    assert!(position(hook_line) < position(written[0]));
    assert!(position(written[0]) < position(shutdown));
}

#[tokio::test]
async fn a_hook_that_outlasts_the_budget_is_stopped_and_the_process_still_exits_in_time() {
    let (exit, took, _api) = serve_then_terminate("hang").await;
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr);
    let lines = log_lines(&exit.stdout);
    let shutdown = shutdown_line(&lines);
    assert_eq!(shutdown["level"], "WARN");
    assert_eq!(shutdown["shutdown_hook"], "timed_out");
    // Stopped at the 400 ms budget (`timed_out`), not before; how soon after depends on the
    // machine's load, so only the process's exit below is bounded, generously.
    let elapsed = shutdown["elapsed_ms"].as_u64().unwrap();
    assert!(elapsed >= 400, "stopped after {elapsed} ms");
    // What the hook recorded before it was stopped is still written.
    assert!(
        lines.iter().any(|line| line["PoolsClosed"] == json!(1.0)),
        "{lines:#?}"
    );
    assert!(took < Duration::from_secs(10), "exited after {took:?}");
}

#[tokio::test]
async fn a_hook_that_panics_is_logged_as_a_panic_and_the_process_still_exits_cleanly() {
    let (exit, _, _api) = serve_then_terminate("panic").await;
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr);
    let lines = log_lines(&exit.stdout);
    let shutdown = shutdown_line(&lines);
    assert_eq!(shutdown["level"], "ERROR");
    assert_eq!(shutdown["shutdown_hook"], "panicked");
    assert_eq!(shutdown["error_type"], "helve.Panic");
}

#[tokio::test]
async fn in_local_mode_the_hook_runs_after_the_invocation() {
    let dir = std::env::temp_dir().join(format!("helve-shutdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let event = dir.join("event.json");
    std::fs::write(&event, r#"{"n": 2}"#).unwrap();
    let exit = support::local("shutdown-hook").arg(&event).run().await;
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr);
    let lines = log_lines(&exit.stdout);
    let shutdown = shutdown_line(&lines);
    assert_eq!(shutdown["shutdown_hook"], "completed");
    assert_eq!(
        shutdown["message"],
        "the function is shutting down (the local invocation ended): the shutdown hook completed"
    );
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "closing the pool")
    );
}
