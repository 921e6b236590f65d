//! An idempotent function (`tests/functions`' `idempotent-orders`, in memory) served by a
//! Lambda Runtime API on 127.0.0.1, as Lambda runs it: a retried request replays the first
//! response without running the handler again.

mod support;

use serde_json::{Value, json};
use support::{Outcome, RuntimeApi, log_lines};

/// The response body of a successful invocation; fails on any other outcome.
fn response_body(outcome: Outcome, request_id: &str) -> Value {
    match outcome {
        Outcome::Response {
            request_id: id,
            body,
        } if id == request_id => body,
        other => panic!("expected the response of {request_id}, got {other:?}"),
    }
}

/// The error body of a failed invocation; fails on any other outcome.
fn error_body(outcome: Outcome, request_id: &str) -> Value {
    match outcome {
        Outcome::Error {
            request_id: id,
            body,
            ..
        } if id == request_id => body,
        other => panic!("expected the error of {request_id}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_retried_order_replays_the_first_response_without_running_again() {
    let mut api = RuntimeApi::start().await;
    let _function = api.function("idempotent-orders").spawn();
    api.push("first", r#"{"order_id": "o-1", "amount": 5}"#);
    api.push("retry", r#"{"order_id": "o-1", "amount": 5}"#);
    api.push("other", r#"{"order_id": "o-2", "amount": 5}"#);
    assert_eq!(
        response_body(api.next_outcome().await, "first"),
        json!({"order_id": "o-1", "run": 1})
    );
    assert_eq!(
        response_body(api.next_outcome().await, "retry"),
        json!({"order_id": "o-1", "run": 1}),
        "the retry replays the first response"
    );
    assert_eq!(
        response_body(api.next_outcome().await, "other"),
        json!({"order_id": "o-2", "run": 2})
    );
}

#[tokio::test]
async fn a_retry_with_another_amount_fails_validation_and_names_only_the_key() {
    let mut api = RuntimeApi::start().await;
    let _function = api.function("idempotent-orders").spawn();
    api.push("first", r#"{"order_id": "o-1", "amount": 5}"#);
    api.push("changed", r#"{"order_id": "o-1", "amount": 7}"#);
    response_body(api.next_outcome().await, "first");
    let body = error_body(api.next_outcome().await, "changed");
    assert_eq!(body["errorType"], "helve.IdempotencyValidationFailed");
    // The key is `{function}.{handler}#md5("o-1")`, never the order id itself.
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("idempotent-orders.create#cbcbdb948de16bfe7e49a81f91500ab1"),
        "{body}"
    );
    assert!(
        !message.contains("o-1") && !message.contains("amount"),
        "{body}"
    );
}

#[tokio::test]
async fn a_failed_order_runs_again_when_retried() {
    let mut api = RuntimeApi::start().await;
    let _function = api.function("idempotent-orders").spawn();
    api.push(
        "declined",
        r#"{"order_id": "o-1", "amount": 5, "fail": true}"#,
    );
    api.push("retry", r#"{"order_id": "o-1", "amount": 5}"#);
    assert_eq!(
        error_body(api.next_outcome().await, "declined"),
        json!({"errorType": "orders.Declined", "errorMessage": "the card was declined"})
    );
    assert_eq!(
        response_body(api.next_outcome().await, "retry"),
        json!({"order_id": "o-1", "run": 2})
    );
}

#[tokio::test]
async fn an_order_without_a_key_runs_every_time_with_a_warning() {
    let mut api = RuntimeApi::start().await;
    let function = api.function("idempotent-orders").spawn();
    api.push("no-key-1", r#"{"amount": 5}"#);
    api.push("no-key-2", r#"{"amount": 5}"#);
    assert_eq!(
        response_body(api.next_outcome().await, "no-key-1"),
        json!({"order_id": null, "run": 1})
    );
    assert_eq!(
        response_body(api.next_outcome().await, "no-key-2"),
        json!({"order_id": null, "run": 2})
    );
    let exit = function.stop().await;
    let warnings: Vec<_> = log_lines(&exit.stdout)
        .into_iter()
        .filter(|line| line.get("error_type") == "helve.IdempotencyKeyMissing")
        .collect();
    assert_eq!(warnings.len(), 2, "{exit}");
    assert_eq!(warnings[0].get("level"), "WARN", "{exit}");
}

#[tokio::test]
async fn two_deliveries_at_once_run_the_handler_once_and_the_other_is_told_it_is_in_progress() {
    let mut api = RuntimeApi::start().await;
    let _function = api
        .function("idempotent-orders")
        .env("AWS_LAMBDA_MAX_CONCURRENCY", "2")
        .spawn();
    api.push(
        "slow",
        r#"{"order_id": "o-1", "amount": 5, "sleep_ms": 500}"#,
    );
    api.push(
        "duplicate",
        r#"{"order_id": "o-1", "amount": 5, "sleep_ms": 500}"#,
    );
    let outcomes = api.next_outcomes(2).await;
    let mut responses = Vec::new();
    let mut errors = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Response { body, .. } => responses.push(body),
            Outcome::Error { body, .. } => errors.push(body),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(responses, [json!({"order_id": "o-1", "run": 1})]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["errorType"], "helve.IdempotencyAlreadyInProgress");
}
