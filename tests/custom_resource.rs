//! `examples/custom-resource` served by a Lambda Runtime API on 127.0.0.1, answering
//! CloudFormation at a `ResponseURL` on 127.0.0.1: each test asserts the exact PUT body.

mod support;

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use support::{
    Moto, Outcome, ParametersExtension, Received, ResponseUrl, RuntimeApi, log_lines,
    read_workspace_file,
};

const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/shop/5b1f7f00-c6b4-11ef-9c3a-0affd2c0b1a7";

/// What `tests/support` names the log stream; a FAILED reason points at it.
const LOG_STREAM: &str = "2026/11/23/[$LATEST]0123456789abcdef0123456789abcdef";

/// An event file of the example, with its `ResponseURL` pointing at `server`.
fn event(file: &str, server: &ResponseUrl, tag: &str) -> Value {
    let text = read_workspace_file(&format!("examples/custom-resource/events/{file}"));
    let mut event: Value = serde_json::from_str(&text).expect("the event file is JSON");
    event["ResponseURL"] = Value::String(server.url(tag));
    event
}

fn push(api: &RuntimeApi, lambda_request_id: &str, event: &Value) {
    api.push(lambda_request_id, &event.to_string());
}

fn failed(reason: &str, physical_resource_id: &str, request_id: &str) -> Value {
    json!({
        "Status": "FAILED",
        "Reason": format!("{reason} (CloudWatch log stream {LOG_STREAM})"),
        "PhysicalResourceId": physical_resource_id,
        "StackId": STACK_ID,
        "RequestId": request_id,
        "LogicalResourceId": "OrdersSchema",
        "NoEcho": false,
    })
}

/// Checks what every answer shares: a PUT to the URL's path and query with an empty
/// Content-Type and the body's length.
fn assert_put(received: &Received, tag: &str) {
    assert_eq!(received.method, "PUT");
    assert_eq!(received.path_and_query, ResponseUrl::path_and_query(tag));
    assert_eq!(
        received.content_type.as_deref(),
        Some(""),
        "a set Content-Type breaks the URL's signature"
    );
    assert_eq!(
        received.content_length.as_deref(),
        Some(received.body_bytes.to_string().as_str())
    );
    assert!(received.body_bytes <= 4096);
}

/// The invocation's result: the answer, as the Runtime API received it.
async fn expect_response(api: &mut RuntimeApi, request_id: &str) -> Value {
    match api.next_outcome().await {
        Outcome::Response {
            request_id: id,
            body,
        } => {
            assert_eq!(id, request_id);
            body
        }
        other => panic!("expected the invocation to succeed, got {other:?}"),
    }
}

async fn expect_error(api: &mut RuntimeApi, request_id: &str) -> Value {
    match api.next_outcome().await {
        Outcome::Error {
            request_id: id,
            body,
            ..
        } => {
            assert_eq!(id, request_id);
            body
        }
        other => panic!("expected the invocation to fail, got {other:?}"),
    }
}

#[tokio::test]
async fn a_create_answers_success_with_the_schema_version_and_the_invocation_succeeds() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    push(&api, "create-1", &event("create.json", &url, "create"));

    let put = url.next().await;
    assert_put(&put, "create");
    let expected = json!({
        "Status": "SUCCESS",
        "PhysicalResourceId": "schema:orders",
        "StackId": STACK_ID,
        "RequestId": "1f8e4d36-1c58-4b5e-9a43-6a2f0d1b7e55",
        "LogicalResourceId": "OrdersSchema",
        "NoEcho": false,
        "Data": {"DatabaseName": "orders", "SchemaVersion": 2, "Applied": 2},
    });
    assert_eq!(put.body, expected);
    assert_eq!(expect_response(&mut api, "create-1").await, expected);
    assert!(url.try_next().is_none(), "one answer, one PUT");
}

#[tokio::test]
async fn a_failing_migration_answers_failed_with_its_error() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    push(
        &api,
        "unknown-1",
        &event("unknown-version.json", &url, "unknown-version"),
    );

    let put = url.next().await;
    assert_put(&put, "unknown-version");
    let request_id = "8b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e";
    let expected = failed(
        "there is no migration 9 for orders; the latest is 3",
        &format!("helve:create-failed:{request_id}"),
        request_id,
    );
    assert_eq!(put.body, expected);
    // CloudFormation has its answer: the invocation itself succeeds.
    assert_eq!(expect_response(&mut api, "unknown-1").await, expected);
}

#[tokio::test]
async fn a_rollback_to_a_lower_version_succeeds_and_keeps_the_schema_where_it_is() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    push(
        &api,
        "rollback-1",
        &event("rollback.json", &url, "rollback"),
    );

    let put = url.next().await;
    assert_eq!(
        put.body,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": "schema:orders",
            "StackId": STACK_ID,
            "RequestId": "2b7c6d5e-4f3a-4b2c-9d1e-0f9a8b7c6d5e",
            "LogicalResourceId": "OrdersSchema",
            "NoEcho": false,
            "Data": {"DatabaseName": "orders", "SchemaVersion": 3, "Applied": 0},
        })
    );
    expect_response(&mut api, "rollback-1").await;
}

#[tokio::test]
async fn properties_that_do_not_decode_answer_failed_without_calling_the_handler() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api.function("example-custom-resource").spawn();
    push(
        &api,
        "invalid-1",
        &event("invalid-properties.json", &url, "invalid"),
    );

    let put = url.next().await;
    assert_put(&put, "invalid");
    let request_id = "3c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f";
    assert_eq!(
        put.body,
        failed(
            "invalid ResourceProperties at TargetVersion: `three` does not parse: invalid digit found in string",
            &format!("helve:create-failed:{request_id}"),
            request_id,
        )
    );
    expect_response(&mut api, "invalid-1").await;
    let output = function.stop().await.stdout;
    assert!(
        output.contains("\"function_request_id\":\"invalid-1\""),
        "{output}"
    );
    assert!(
        !output.contains("applying migration"),
        "the handler was not called:\n{output}"
    );
}

#[tokio::test]
async fn properties_that_fail_validation_answer_failed_naming_the_field() {
    let mut url = ResponseUrl::start().await;
    let api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    push(
        &api,
        "invalid-2",
        &event("invalid-name.json", &url, "invalid-name"),
    );

    let put = url.next().await;
    let request_id = "4d9e8f7a-6b5c-4d4e-9f3a-2b1c0d9e8f7a";
    assert_eq!(
        put.body,
        failed(
            "invalid ResourceProperties: DatabaseName: must be letters, digits and underscores, not starting with a digit (identifier)",
            &format!("helve:create-failed:{request_id}"),
            request_id,
        )
    );
    assert!(
        !put.body.to_string().contains("DROP TABLE"),
        "the rejected value is never echoed"
    );
}

#[tokio::test]
async fn a_panicking_handler_answers_failed_and_the_function_serves_the_next_request() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    push(&api, "panic-1", &event("panic.json", &url, "panic"));

    let put = url.next().await;
    assert_put(&put, "panic");
    let request_id = "5e0f9a8b-7c6d-4e5f-8a4b-3c2d1e0f9a8b";
    assert_eq!(
        put.body,
        failed(
            "the handler panicked: simulated bug in migration 1: index out of bounds",
            &format!("helve:create-failed:{request_id}"),
            request_id,
        )
    );
    expect_response(&mut api, "panic-1").await;

    push(&api, "create-2", &event("create.json", &url, "after-panic"));
    assert_eq!(url.next().await.body["Status"], "SUCCESS");
    expect_response(&mut api, "create-2").await;
}

#[tokio::test]
async fn a_handler_still_running_near_the_deadline_gets_failed_sent_before_the_timeout() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    // A 3 s timeout: helve answers at the 2 s margin, one second in.
    let deadline = SystemTime::now() + Duration::from_secs(3);
    api.push_with_deadline(
        "hang-1",
        &event("hang.json", &url, "hang").to_string(),
        deadline,
    );

    let put = url.next().await;
    assert_put(&put, "hang");
    let request_id = "6f1a0b9c-8d7e-4f6a-9b5c-4d3e2f1a0b9c";
    assert_eq!(
        put.body,
        failed(
            "the handler did not finish 2 s before the function's deadline, so helve answered without it (its result is ignored); raise the function's timeout",
            &format!("helve:create-failed:{request_id}"),
            request_id,
        )
    );
    assert!(
        SystemTime::now() < deadline,
        "the answer was sent before the deadline"
    );
    expect_response(&mut api, "hang-1").await;
}

#[tokio::test]
async fn a_delete_after_a_failed_create_succeeds_without_calling_the_handler() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api.function("example-custom-resource").spawn();
    push(
        &api,
        "create-3",
        &event("invalid-properties.json", &url, "create"),
    );
    let create = url.next().await;
    assert_eq!(create.body["Status"], "FAILED");
    expect_response(&mut api, "create-3").await;

    // The rollback's Delete carries the id the failed Create answered with, and the same
    // invalid properties.
    let mut delete = event("delete-after-failed-create.json", &url, "delete");
    delete["PhysicalResourceId"] = create.body["PhysicalResourceId"].clone();
    push(&api, "delete-3", &delete);
    let put = url.next().await;
    assert_put(&put, "delete");
    assert_eq!(
        put.body,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": "helve:create-failed:3c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f",
            "StackId": STACK_ID,
            "RequestId": "7a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d",
            "LogicalResourceId": "OrdersSchema",
            "NoEcho": false,
        })
    );
    expect_response(&mut api, "delete-3").await;
    let output = function.stop().await.stdout;
    assert!(output.contains("there is nothing to delete"), "{output}");
    assert!(
        !output.contains("the schema is kept"),
        "the handler was not called for the Delete:\n{output}"
    );
}

#[tokio::test]
async fn a_response_url_that_fails_twice_gets_the_same_answer_on_the_third_attempt() {
    let mut url = ResponseUrl::failing_first(&[503, 500]).await;
    let mut api = RuntimeApi::start().await;
    let function = api.function("example-custom-resource").spawn();
    push(&api, "create-4", &event("create.json", &url, "flaky"));

    let attempts = [url.next().await, url.next().await, url.next().await];
    for attempt in &attempts {
        assert_put(attempt, "flaky");
        assert_eq!(
            attempt.body, attempts[0].body,
            "every attempt sends the same body"
        );
    }
    assert_eq!(attempts[0].body["Status"], "SUCCESS");
    expect_response(&mut api, "create-4").await;
    assert!(
        url.try_next().is_none(),
        "no attempt after the one that succeeded"
    );

    let stdout = function.stop().await.stdout;
    let lines = log_lines(&stdout);
    let sending: Vec<_> = lines
        .iter()
        .filter(|line| line.message() == "sending the answer to CloudFormation")
        .map(|line| line.get("attempt").clone())
        .collect();
    assert_eq!(sending, [json!(1), json!(2), json!(3)]);
    let retried: Vec<_> = lines
        .iter()
        .filter(|line| line.get("level") == "WARN")
        .map(|line| line.message().to_owned())
        .collect();
    assert_eq!(retried.len(), 2, "{retried:?}");
    assert!(retried[0].starts_with(
        "attempt 1 failed: the ResponseURL answered 503 Service Unavailable; retrying"
    ));
    assert!(retried[1].starts_with(
        "attempt 2 failed: the ResponseURL answered 500 Internal Server Error; retrying"
    ));
    assert!(
        !stdout.contains("X-Amz-Signature"),
        "the URL's signature is never logged"
    );
}

#[tokio::test]
async fn an_answer_that_cannot_be_sent_is_logged_and_fails_the_invocation() {
    let mut url = ResponseUrl::failing_first(&[503, 503, 503, 503, 503]).await;
    let mut api = RuntimeApi::start().await;
    let function = api.function("example-custom-resource").spawn();
    push(&api, "create-5", &event("create.json", &url, "down"));

    let error = expect_error(&mut api, "create-5").await;
    assert_eq!(error["errorType"], "helve.CustomResourceNotAnswered");
    assert_eq!(
        error["errorMessage"],
        "CloudFormation was not answered: 5 attempts failed; the last: the ResponseURL answered 503 Service Unavailable"
    );
    for _ in 0..5 {
        assert_put(&url.next().await, "down");
    }
    assert!(url.try_next().is_none(), "at most 5 attempts");

    let lines = log_lines(&function.stop().await.stdout);
    let logged = lines
        .iter()
        .find(|line| line.get("error_type") == "helve.CustomResourceNotAnswered")
        .expect("an ERROR line says the answer was not sent");
    let body: Value = serde_json::from_str(logged.get("body").as_str().unwrap()).unwrap();
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], "schema:orders");
}

#[tokio::test]
async fn a_response_url_that_refuses_the_answer_is_not_retried() {
    let mut url = ResponseUrl::failing_first(&[403]).await;
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    push(&api, "create-6", &event("create.json", &url, "expired"));

    let error = expect_error(&mut api, "create-6").await;
    assert_eq!(
        error["errorMessage"],
        "CloudFormation was not answered: the ResponseURL answered 403 on attempt 1, which retrying cannot change"
    );
    url.next().await;
    assert!(url.try_next().is_none(), "a 403 is not retried");
}

#[tokio::test]
async fn a_request_without_a_response_url_fails_the_invocation_and_sends_nothing() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    let mut request = event("create.json", &url, "none");
    request.as_object_mut().unwrap().remove("ResponseURL");
    push(&api, "no-url-1", &request);

    let error = expect_error(&mut api, "no-url-1").await;
    assert_eq!(error["errorType"], "helve.CustomResourceNotAnswered");
    assert_eq!(
        error["errorMessage"],
        "CloudFormation was not answered: the request has no ResponseURL, so there is nowhere to answer; is this function the ServiceToken of a custom resource?"
    );
    assert!(url.try_next().is_none());
}

#[tokio::test]
async fn an_unknown_request_type_answers_failed_naming_it() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    let mut request = event("update.json", &url, "unknown");
    request["RequestType"] = json!("Replace");
    push(&api, "unknown-type-1", &request);

    let put = url.next().await;
    assert_eq!(
        put.body,
        failed(
            "unknown RequestType `Replace`; expected Create, Update or Delete",
            "schema:orders",
            "6c0d9a1e-5b7f-4e2a-8c3d-2f9b1a0e4d67",
        )
    );
    expect_response(&mut api, "unknown-type-1").await;
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_cloudformations_request_id() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api.function("example-custom-resource").spawn();
    push(&api, "create-7", &event("create.json", &url, "correlated"));
    url.next().await;
    expect_response(&mut api, "create-7").await;
    let lines = log_lines(&function.stop().await.stdout);
    let invocation: Vec<_> = lines
        .iter()
        .filter(|line| line.get("function_request_id") == "create-7")
        .collect();
    assert!(invocation.len() >= 4, "{invocation:?}");
    for line in invocation {
        assert_eq!(
            line.get("correlation_id"),
            "1f8e4d36-1c58-4b5e-9a43-6a2f0d1b7e55"
        );
    }
}

#[tokio::test]
async fn an_init_failure_answers_failed_then_the_process_exits_for_a_fresh_start() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api
        .function("custom-resource-init")
        .env_remove("DATABASE_URL")
        .spawn();
    push(&api, "create-8", &event("create.json", &url, "init"));

    let put = url.next().await;
    assert_put(&put, "init");
    let request_id = "1f8e4d36-1c58-4b5e-9a43-6a2f0d1b7e55";
    assert_eq!(
        put.body,
        failed(
            "the function's init failed, so the handler was not called: the init function `connect` failed (helve.Error): DATABASE_URL is not set",
            &format!("helve:create-failed:{request_id}"),
            request_id,
        )
    );
    let error = expect_error(&mut api, "create-8").await;
    assert_eq!(error["errorType"], "helve.InitError");
    let exit = function.wait().await;
    assert_eq!(exit.code(), Some(1), "{}", exit.stdout);
}

#[tokio::test]
async fn a_rollback_delete_after_an_init_failure_succeeds() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let _function = api
        .function("custom-resource-init")
        .env_remove("DATABASE_URL")
        .spawn();
    push(
        &api,
        "delete-9",
        &event("delete-after-failed-create.json", &url, "rollback"),
    );
    let put = url.next().await;
    assert_eq!(put.body["Status"], "SUCCESS");
    assert_eq!(
        put.body["PhysicalResourceId"],
        "helve:create-failed:3c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f"
    );
    expect_error(&mut api, "delete-9").await;
}

const DB_SECRET: &str = "orders-db";
const DB_PASSWORD: &str = "m1grat0r-Pa55word-from-secrets";
const SESSION_TOKEN: &str = "the-function-session-token";

fn db_secret() -> String {
    json!({
        "username": "migrator",
        "password": DB_PASSWORD,
        "host": "orders-db.internal",
        "port": 5432,
    })
    .to_string()
}

/// A Create with the credentials read in the init step: it succeeds, logs whom it connects as,
/// and never the password.
async fn assert_create_with_credentials(
    mut api: RuntimeApi,
    function: support::Process,
    mut url: ResponseUrl,
    tag: &str,
) {
    push(&api, "create-db", &event("create.json", &url, tag));
    let put = url.next().await;
    assert_eq!(put.body["Status"], "SUCCESS", "{}", api.process_output());
    expect_response(&mut api, "create-db").await;
    let exit = function.stop().await;
    let output = format!("{}{}", exit.stdout, exit.stderr);
    let lines = log_lines(&exit.stdout);
    assert!(!output.contains(DB_PASSWORD), "{output}");
    let connecting = lines
        .iter()
        .find(|line| line.message() == "connecting to the database")
        .unwrap_or_else(|| panic!("no connecting line:\n{output}"));
    assert_eq!(connecting.get("username"), "migrator");
    assert_eq!(connecting.get("host"), "orders-db.internal");
    assert_eq!(connecting.get("port"), 5432);
    let done = lines
        .iter()
        .find(|line| line.message() == "the schema is up to date")
        .unwrap_or_else(|| panic!("no summary line:\n{output}"));
    assert_eq!(done.get("user"), "migrator");
}

#[tokio::test]
async fn the_database_credentials_are_read_from_the_secret_through_the_extension() {
    let extension = ParametersExtension::start(SESSION_TOKEN).await;
    extension.put_secret_string(DB_SECRET, &db_secret());
    let url = ResponseUrl::start().await;
    let api = RuntimeApi::start().await;
    let function = api
        .function("example-custom-resource")
        .env("DB_SECRET_ARN", extension.secret_arn(DB_SECRET))
        .env("POWERTOOLS_PARAMETERS_BACKEND", "extension")
        .env(
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            extension.port().to_string(),
        )
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .spawn();
    assert_create_with_credentials(api, function, url, "with-extension").await;
}

#[tokio::test]
async fn the_database_credentials_are_read_through_the_sdk_against_moto_locally() {
    let Some(moto) =
        Moto::start_or_skip("the_database_credentials_are_read_through_the_sdk_against_moto")
    else {
        return;
    };
    moto.create_secret(DB_SECRET, &db_secret()).await;
    let url = ResponseUrl::start().await;
    let api = RuntimeApi::start().await;
    let function = api
        .function("example-custom-resource")
        .env("DB_SECRET_ARN", DB_SECRET)
        .env("POWERTOOLS_PARAMETERS_BACKEND", "sdk")
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .spawn();
    assert_create_with_credentials(api, function, url, "with-sdk").await;
}

#[tokio::test]
async fn a_missing_database_secret_fails_the_init_and_answers_failed_naming_it() {
    let extension = ParametersExtension::start(SESSION_TOKEN).await;
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api
        .function("example-custom-resource")
        .env("DB_SECRET_ARN", DB_SECRET)
        .env("POWERTOOLS_PARAMETERS_BACKEND", "extension")
        .env(
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            extension.port().to_string(),
        )
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .spawn();
    push(
        &api,
        "create-no-secret",
        &event("create.json", &url, "no-secret"),
    );
    let put = url.next().await;
    let request_id = "1f8e4d36-1c58-4b5e-9a43-6a2f0d1b7e55";
    assert_eq!(
        put.body,
        failed(
            "the function's init failed, so the handler was not called: the init function `connect` failed (helve.ParameterNotFound): secret `orders-db` was not found in Secrets Manager",
            &format!("helve:create-failed:{request_id}"),
            request_id,
        )
    );
    let error = expect_error(&mut api, "create-no-secret").await;
    assert_eq!(error["errorType"], "helve.ParameterNotFound");
    assert_eq!(function.wait().await.code(), Some(1));
}

/// The create request as bytes, its `ResponseURL` at `server`, with `ResourceProperties`
/// replaced by `properties` (raw bytes, which need not be JSON) and `after` appended.
fn create_bytes(server: &ResponseUrl, tag: &str, properties: &[u8], after: &[u8]) -> Vec<u8> {
    let mut request = event("create.json", server, tag);
    request
        .as_object_mut()
        .unwrap()
        .remove("ResourceProperties");
    let text = request.to_string();
    let mut bytes = text.strip_suffix('}').unwrap().as_bytes().to_vec();
    bytes.extend_from_slice(b",\"ResourceProperties\":");
    bytes.extend_from_slice(properties);
    bytes.extend_from_slice(after);
    bytes
}

#[tokio::test]
async fn a_request_that_is_not_json_is_answered_failed_when_its_response_url_is_readable() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api.function("example-custom-resource").spawn();
    let request_id = "1f8e4d36-1c58-4b5e-9a43-6a2f0d1b7e55";
    let cases: [(&str, Vec<u8>); 4] = [
        // A byte that is not UTF-8 in a property.
        (
            "not-utf8",
            create_bytes(&url, "not-utf8", b"{\"DatabaseName\":\"ord\xffers\"}", b"}"),
        ),
        // Cut short in the middle of the properties.
        (
            "cut",
            create_bytes(&url, "cut", b"{\"DatabaseName\":\"ord", b""),
        ),
        // A nested `ResponseURL` in the properties is not where the answer goes.
        (
            "nested",
            create_bytes(
                &url,
                "nested",
                b"{\"ResponseURL\":\"http://127.0.0.1:9/elsewhere\",\"x\":tru",
                b"",
            ),
        ),
        // Properties nested deeper than any JSON reader follows.
        ("deep", create_bytes(&url, "deep", &[b'['; 100_000], b"")),
    ];
    for (tag, bytes) in &cases {
        api.push_bytes(&format!("bytes-{tag}"), bytes);
        let put = url.next().await;
        assert_put(&put, tag);
        assert_eq!(put.body["Status"], "FAILED", "{tag}: {}", put.body);
        assert_eq!(put.body["RequestId"], request_id);
        assert_eq!(put.body["StackId"], STACK_ID);
        assert_eq!(put.body["LogicalResourceId"], "OrdersSchema");
        assert_eq!(
            put.body["PhysicalResourceId"],
            format!("helve:create-failed:{request_id}")
        );
        let reason = put.body["Reason"].as_str().unwrap();
        assert!(
            reason.starts_with(
                "the request could not be read, so the handler was not called: invalid event"
            ),
            "{tag}: {reason}"
        );
        let error = expect_error(&mut api, &format!("bytes-{tag}")).await;
        assert_eq!(error["errorType"], "helve.InvalidEvent", "{tag}");
    }
    let output = function.stop().await.stdout;
    assert!(
        !output.contains("applying migration"),
        "the handler was not called:\n{output}"
    );
}

#[tokio::test]
async fn a_request_that_is_not_json_and_has_no_readable_response_url_sends_nothing() {
    let mut url = ResponseUrl::start().await;
    let mut api = RuntimeApi::start().await;
    let _function = api.function("example-custom-resource").spawn();
    let mut bytes = b"{\"RequestType\":\"Create\",\"ResponseURL\":\"".to_vec();
    bytes.extend_from_slice(url.url("unreadable").as_bytes());
    // The URL's text is not UTF-8, so it cannot be the URL.
    bytes.extend_from_slice(b"\xff\",\"RequestId\":\"r-1\"");
    api.push_bytes("unreadable-1", &bytes);

    let error = expect_error(&mut api, "unreadable-1").await;
    assert_eq!(error["errorType"], "helve.InvalidEvent");
    assert!(url.try_next().is_none());
}
