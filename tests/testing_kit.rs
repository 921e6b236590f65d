//! The test kit, `helve::testing`, as a user's tests use it: a function run in-process through
//! helve's whole stack, once per event of each source, and what it gave back and wrote.

use std::time::Duration;

use helve::{
    Context, Function,
    batch::{DynamoDbRecord, KinesisRecord, SqsMessage, batch},
    cfn::{CustomResource, Outcome as Answer, custom_resource},
    http::{Json, Request, Response, http},
    testing::{Level, TestContext, TestFunction, fixtures, invoke},
};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct Job {
    id: u32,
}

async fn greet(event: Value, _ctx: Context) -> Result<Value, helve::Error> {
    let name = event["name"].as_str().unwrap_or("you").to_owned();
    tracing::info!(name = %name, "greeting");
    metrics::counter!("Greetings").increment(1);
    if name == "nobody" {
        return Err(helve::Error::new("greet.NoName", "nobody has no name"));
    }
    Ok(json!({ "message": format!("Hello, {name}!") }))
}

#[tokio::test]
async fn each_invocation_gives_its_response_its_lines_and_its_metrics() {
    let mut function = TestFunction::builder(Function::new(greet).service("greeter"))
        .env("POWERTOOLS_METRICS_NAMESPACE", "Shop")
        .start()
        .await
        .unwrap();

    let first = function
        .invoke_with(
            TestContext::new().request_id("req-1"),
            json!({"name": "Ada"}),
        )
        .await;
    assert_eq!(first.assert_response(), &json!({"message": "Hello, Ada!"}));
    assert_eq!(first.request_id(), "req-1");
    let line = first
        .logs()
        .at(Level::INFO)
        .message("greeting")
        .with("name", "Ada")
        .with("cold_start", true)
        .with("service", "greeter")
        .with("function_request_id", "req-1")
        .assert_one();
    assert_eq!(line.location_file(), "tests/testing_kit.rs");
    first
        .metrics()
        .named("Greetings")
        .dimension("service", "greeter")
        .unit("Count")
        .assert_value(1.0);
    first.metrics().named("ColdStart").assert_value(1.0);

    let second = function.invoke(json!({"name": "Grace"})).await;
    second
        .logs()
        .message("greeting")
        .with("cold_start", false)
        .assert_one();
    second.metrics().named("ColdStart").assert_none();
    second.metrics().named("Greetings").assert_value(1.0);
    assert_eq!(function.invocations(), 2);
}

#[tokio::test]
async fn a_handler_error_is_the_error_type_lambda_gets_and_its_error_line() {
    let outcome = invoke(greet, json!({"name": "nobody"})).await;
    let error = outcome.assert_error("greet.NoName");
    assert_eq!(error.error_message, "nobody has no name");
    outcome
        .logs()
        .at(Level::ERROR)
        .with("error_type", "greet.NoName")
        .assert_one();
}

#[tokio::test]
async fn a_context_decides_the_cold_start_the_trace_and_the_function_name() {
    let mut function = TestFunction::start(greet).await.unwrap();
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let outcome = function
        .invoke_with(
            TestContext::new()
                .cold_start(false)
                .trace_header(header)
                .function_name("orders")
                .memory_mb(512),
            json!({"name": "Ada"}),
        )
        .await;
    outcome
        .logs()
        .message("greeting")
        .with("cold_start", false)
        .with("xray_trace_id", "1-5759e988-bd862e3fe1be46a994272793")
        .with("function_name", "orders")
        .with("function_memory_size", 512)
        .assert_one();
}

async fn panics(_event: Value, _ctx: Context) -> Result<Value, helve::Error> {
    panic!("the handler lost its way")
}

#[tokio::test]
async fn a_panic_is_the_invocations_helve_panic_error_not_the_tests() {
    let outcome = invoke(panics, json!({})).await;
    let error = outcome.assert_error("helve.Panic");
    assert!(
        error.error_message.contains("the handler lost its way"),
        "{error:?}"
    );
    outcome.logs().at(Level::ERROR).assert_some();
}

async fn sleeps(_event: Value, _ctx: Context) -> Result<Value, helve::Error> {
    tokio::time::sleep(Duration::from_secs(600)).await;
    Ok(json!({}))
}

#[tokio::test(start_paused = true)]
async fn a_function_that_outlives_its_deadline_times_out_as_on_lambda() {
    let mut function = TestFunction::start(sleeps).await.unwrap();
    let outcome = function
        .invoke_with(
            TestContext::new().timeout(Duration::from_secs(3)),
            json!({}),
        )
        .await;
    let error = outcome.assert_error("Sandbox.Timedout");
    assert_eq!(error.error_message, "Task timed out after 3.00 seconds");
}

async fn setup() -> Result<String, helve::Error> {
    Err(helve::Error::new("setup.NoTable", "TABLE is not set"))
}

async fn with_state(
    _event: Value,
    _ctx: Context,
    _table: &'static String,
) -> Result<Value, helve::Error> {
    Ok(json!({}))
}

#[tokio::test]
async fn an_init_failure_is_the_init_error_lambda_gets() {
    let failure = TestFunction::start(Function::new(with_state).init(setup))
        .await
        .unwrap_err();
    assert_eq!(failure.diagnostic.error_type, "helve.InitError");
    assert!(
        failure
            .diagnostic
            .error_message
            .contains("TABLE is not set"),
        "{failure}"
    );
    failure
        .logs()
        .at(Level::ERROR)
        .containing("init failed")
        .assert_one();
}

async fn job(message: SqsMessage<Job>, _ctx: Context) -> Result<(), helve::Error> {
    if message.body().id == 2 {
        return Err(helve::Error::new("job.Failed", "job 2 fails"));
    }
    Ok(())
}

#[tokio::test]
async fn the_records_that_failed_are_the_batch_item_failures() {
    let event = fixtures::sqs()
        .message_id("m-1")
        .body(json!({"id": 1}))
        .record()
        .message_id("m-2")
        .body(json!({"id": 2}))
        .record()
        .message_id("m-3")
        .body(json!({"id": 3}));
    let outcome = invoke(Function::new(batch(job)), event).await;
    outcome.assert_failed_records(&["m-2"]);
    outcome
        .logs()
        .at(Level::ERROR)
        .with("error_type", "job.Failed")
        .assert_some();
}

#[tokio::test]
async fn a_fifo_batch_stops_its_group_at_the_first_failure() {
    let event = fixtures::sqs_fifo()
        .message_id("m-1")
        .body(json!({"id": 1}))
        .record()
        .message_id("m-2")
        .body(json!({"id": 2}))
        .record()
        .message_id("m-3")
        .body(json!({"id": 3}));
    let outcome = invoke(Function::new(batch(job)), event).await;
    outcome.assert_failed_records(&["m-2", "m-3"]);
    outcome
        .logs()
        .with("record_id", "m-3")
        .with("error_type", "helve.RecordNotProcessed")
        .assert_one();
}

async fn reading(record: KinesisRecord<Job>, _ctx: Context) -> Result<(), helve::Error> {
    if record.data().id == 2 {
        return Err(helve::Error::new("job.Failed", "job 2 fails"));
    }
    Ok(())
}

#[tokio::test]
async fn a_kinesis_record_that_fails_is_named_by_its_sequence_number() {
    let event = fixtures::kinesis()
        .data(json!({"id": 1}))
        .record()
        .sequence_number("49590338271490256608559692540925702759324208523137515618")
        .data(json!({"id": 2}));
    let outcome = invoke(Function::new(batch(reading)), event).await;
    outcome.assert_failed_records(&["49590338271490256608559692540925702759324208523137515618"]);
}

#[derive(Debug, Deserialize)]
struct Item {
    id: String,
}

async fn changed(record: DynamoDbRecord<Item>, _ctx: Context) -> Result<(), helve::Error> {
    match record.new_image() {
        Some(item) if item.id == "item-2" => Err(helve::Error::new("item.Refused", "no item 2")),
        Some(item) => {
            tracing::info!(id = %item.id, event = record.event_name(), "changed");
            Ok(())
        }
        None => Ok(()),
    }
}

#[tokio::test]
async fn a_dynamodb_stream_record_is_read_from_its_image_and_failed_by_its_sequence_number() {
    let event = fixtures::dynamodb()
        .event_name("MODIFY")
        .record()
        .sequence_number("900");
    let outcome = invoke(Function::new(batch(changed)), event).await;
    outcome.assert_failed_records(&["900"]);
    outcome
        .logs()
        .message("changed")
        .with("id", "item-1")
        .with("event", "MODIFY")
        .assert_one();
}

async fn echo(request: Request, _ctx: Context) -> Response {
    use helve::http::IntoResponse as _;
    let path = request.uri().path().to_owned();
    let method = request.method().to_string();
    (
        http_status(&method),
        Json(json!({ "method": method, "path": path })),
    )
        .into_response()
}

fn http_status(method: &str) -> helve::http::StatusCode {
    if method == "POST" {
        helve::http::StatusCode::CREATED
    } else {
        helve::http::StatusCode::OK
    }
}

#[tokio::test]
async fn every_http_source_reaches_the_handler_and_gets_its_response() {
    let mut function = TestFunction::start(Function::new(http(echo)))
        .await
        .unwrap();
    for (source, request, path) in [
        // A REST API's default endpoint has the stage in front of the path.
        ("REST API", fixtures::api_gateway_rest(), "/prod/orders"),
        ("HTTP API", fixtures::api_gateway_http(), "/orders"),
        ("ALB", fixtures::alb(), "/orders"),
        ("Function URL", fixtures::function_url(), "/orders"),
    ] {
        let outcome = function
            .invoke(
                request
                    .method("POST")
                    .path("/orders")
                    .json_body(json!({"sku": "A"})),
            )
            .await;
        let response = outcome.http();
        assert_eq!(response.status, 201, "{source}");
        assert_eq!(
            response.json(),
            json!({"method": "POST", "path": path}),
            "{source}"
        );
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "{source}"
        );
    }
}

async fn order(request: Request, _ctx: Context) -> Response {
    use helve::http::{FromRequest as _, IntoResponse as _, Path};
    match Path::<String>::from_request(&request) {
        Ok(Path(id)) => Json(json!({ "id": id })).into_response(),
        Err(problem) => problem.into_response(),
    }
}

#[tokio::test]
async fn a_path_parameter_reaches_the_handler_from_either_api_gateway() {
    let mut function = TestFunction::start(Function::new(http(order)))
        .await
        .unwrap();
    for (source, request) in [
        ("REST API", fixtures::api_gateway_rest()),
        ("HTTP API", fixtures::api_gateway_http()),
    ] {
        let outcome = function
            .invoke(request.path("/orders/o-7").path_parameter("id", "o-7"))
            .await;
        assert_eq!(outcome.http().json(), json!({ "id": "o-7" }), "{source}");
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Schema {
    version: String,
}

async fn migrate(request: CustomResource<Schema>, _ctx: Context) -> Result<Answer, helve::Error> {
    if request.properties().version == "0" {
        return Err(helve::Error::new(
            "migrate.NoVersion",
            "version 0 does not exist",
        ));
    }
    Ok(Answer::new()
        .physical_resource_id("schema")
        .data(json!({"Version": request.properties().version})))
}

#[tokio::test]
async fn a_custom_resource_answer_is_the_body_it_would_put() {
    let mut function = TestFunction::start(Function::new(custom_resource(migrate)))
        .await
        .unwrap();

    let created = function
        .invoke(fixtures::custom_resource_create().properties(json!({"Version": "3"})))
        .await;
    let answer = created.assert_custom_resource_response();
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(answer["PhysicalResourceId"], "schema");
    assert_eq!(answer["Data"], json!({"Version": "3"}));
    assert_eq!(created.custom_resource_requests()[0].method, "PUT");

    let failed = function
        .invoke(fixtures::custom_resource_update().properties(json!({"Version": "0"})))
        .await;
    let answer = failed.assert_custom_resource_response();
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["PhysicalResourceId"], "resource-1");

    let deleted = function
        .invoke(fixtures::custom_resource_delete().properties(json!({"Version": "3"})))
        .await;
    assert_eq!(
        deleted.assert_custom_resource_response()["Status"],
        "SUCCESS"
    );
}

#[derive(Debug, Deserialize)]
struct Scheduled {
    time: String,
}

async fn nightly(event: Scheduled, _ctx: Context) -> Result<Value, helve::Error> {
    Ok(json!({ "ran_for": event.time }))
}

#[tokio::test]
async fn a_schedule_event_reaches_a_typed_handler() {
    let outcome = invoke(nightly, fixtures::schedule().time("2026-11-24T06:00:00Z")).await;
    assert_eq!(
        outcome.assert_response(),
        &json!({"ran_for": "2026-11-24T06:00:00Z"})
    );
}

#[tokio::test]
async fn a_fixture_is_also_the_event_type_of_aws_lambda_events() {
    let event: aws_lambda_events::sqs::SqsEvent = fixtures::sqs()
        .message_id("m-9")
        .body("plain text")
        .to()
        .unwrap();
    assert_eq!(event.records[0].message_id.as_deref(), Some("m-9"));
    assert_eq!(event.records[0].body.as_deref(), Some("plain text"));
}

#[cfg(feature = "s3")]
mod s3 {
    use helve::s3::S3Notification;

    use super::*;

    async fn keys(message: SqsMessage<S3Notification>, _ctx: Context) -> Result<(), helve::Error> {
        for object in message.body().objects() {
            tracing::info!(bucket = %object.bucket, key = %object.key, "object");
        }
        Ok(())
    }

    #[tokio::test]
    async fn an_s3_notification_reaches_the_handler_through_sqs_and_sns() {
        for event in [
            fixtures::s3().key("in coming/a.csv").via_sqs(),
            fixtures::s3().key("in coming/a.csv").via_sns_sqs(),
        ] {
            let outcome = invoke(Function::new(batch(keys)), event).await;
            outcome.assert_failed_records(&[]);
            outcome
                .logs()
                .message("object")
                .with("bucket", "uploads")
                .with("key", "in coming/a.csv")
                .assert_one();
        }
    }

    async fn direct(notification: S3Notification, _ctx: Context) -> Result<Value, helve::Error> {
        let keys: Vec<String> = notification
            .objects()
            .iter()
            .map(|object| object.key.clone())
            .collect();
        Ok(json!(keys))
    }

    #[tokio::test]
    async fn an_s3_notification_reaches_the_handler_straight_and_from_eventbridge() {
        for event in [
            fixtures::s3().key("a.csv").into_value(),
            fixtures::s3().key("a.csv").via_sns().into_value(),
            fixtures::s3_eventbridge()
                .set("/detail/object/key", "a.csv")
                .into_value(),
        ] {
            let outcome = invoke(direct, &event).await;
            assert_eq!(outcome.assert_response(), &json!(["a.csv"]), "{event}");
        }
    }
}
