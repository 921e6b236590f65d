//! How a custom resource request becomes an answer, without sending it (the integration tests
//! in `tests/custom_resource.rs` send real ones).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    physical_id::{default_physical_id, stack_name},
    *,
};
use crate::{context::Context, handler::Handler, validation::ValidationErrors};

const STACK: &str =
    "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop/4f1c0a10-c6b4-11ef-9c3a-0affd2c0b1a7";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Bucket {
    name: String,
    #[serde(default, deserialize_with = "from_string")]
    versions: u32,
}

fn request(request_type: &str, properties: Value) -> Value {
    json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:buckets",
        "ResponseURL": "https://example.com/response?X-Amz-Signature=x",
        "StackId": STACK,
        "RequestId": "0b0c0d0e-1111-4222-8333-444455556666",
        "LogicalResourceId": "Uploads",
        "ResourceType": "Custom::Bucket",
        "ResourceProperties": properties,
    })
}

fn update(properties: Value, old: Value) -> Value {
    let mut event = request("Update", properties);
    event["OldResourceProperties"] = old;
    event["PhysicalResourceId"] = json!("uploads-bucket");
    event
}

fn properties(name: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:buckets",
        "ServiceTimeout": "300",
        "Name": name,
        "Versions": "3",
    })
}

fn raw(event: Value) -> RawRequest {
    match event {
        Value::Object(map) => RawRequest::new(map),
        other => panic!("not an object: {other}"),
    }
}

fn context(timeout: Duration) -> Context {
    Context::builder().timeout(timeout).build()
}

/// The answer `handler` gets for `event`, with `timeout` left in the invocation.
async fn decide<H, M>(
    handler: CustomResourceHandler<H, Bucket>,
    event: Value,
    timeout: Duration,
) -> Value
where
    H: Handler<CustomResource<Bucket>, (), M>,
    H::Response: IntoOutcome,
{
    let context = context(timeout);
    let body = handler.decide(&raw(event), &context, &()).await.finish("");
    serde_json::to_value(body).unwrap()
}

async fn unit(_: CustomResource<Bucket>, _: Context) -> Result<(), crate::Error> {
    Ok(())
}

async fn never_called(_: CustomResource<Bucket>, _: Context) -> Result<(), crate::Error> {
    panic!("the handler is not called")
}

#[tokio::test]
async fn a_create_without_an_id_gets_one_stable_for_the_stack_and_logical_id() {
    let first = decide(
        custom_resource(unit),
        request("Create", properties("a")),
        Duration::from_secs(30),
    )
    .await;
    let second = decide(
        custom_resource(unit),
        request("Create", properties("b")),
        Duration::from_secs(30),
    )
    .await;
    let id = first["PhysicalResourceId"].as_str().unwrap();
    assert_eq!(first["Status"], "SUCCESS");
    assert_eq!(id, second["PhysicalResourceId"]);
    let hash = id
        .strip_prefix("shop-Uploads-")
        .expect("<stack>-<logical id>-<hash>");
    assert_eq!(hash.len(), 12);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(id, default_physical_id(STACK, "Uploads"));
    assert_ne!(id, default_physical_id(STACK, "Downloads"));
    assert_eq!(
        id, "shop-Uploads-4f0fab9dbe4d",
        "stacks hold this id: it never changes between helve versions"
    );
}

#[tokio::test]
async fn an_update_keeps_the_existing_id_and_decodes_both_sets_of_properties() {
    let handler = custom_resource(|request: CustomResource<Bucket>, _: Context| async move {
        assert_eq!(request.request_type(), RequestType::Update);
        assert_eq!(request.properties().name, "new");
        assert_eq!(request.properties().versions, 3);
        assert_eq!(
            request.previous_properties().map(|old| old.name.as_str()),
            Some("old")
        );
        assert_eq!(
            request.existing_physical_resource_id(),
            Some("uploads-bucket")
        );
        assert_eq!(request.stack_name(), "shop");
        assert_eq!(request.resource_type(), "Custom::Bucket");
        Ok::<_, crate::Error>(Outcome::new().data(json!({"Arn": "arn:aws:s3:::new"})))
    });
    let answer = decide(
        handler,
        update(properties("new"), properties("old")),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        answer,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": "uploads-bucket",
            "StackId": STACK,
            "RequestId": "0b0c0d0e-1111-4222-8333-444455556666",
            "LogicalResourceId": "Uploads",
            "NoEcho": false,
            "Data": {"Arn": "arn:aws:s3:::new"},
        })
    );
}

#[tokio::test]
async fn old_properties_that_do_not_decode_answer_failed_with_the_existing_id() {
    let handler = custom_resource(never_called);
    let answer = decide(
        handler,
        update(properties("new"), json!({"Name": 7})),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["PhysicalResourceId"], "uploads-bucket");
    assert_eq!(
        answer["Reason"],
        "invalid OldResourceProperties at Name: invalid type: integer, expected a string"
    );
}

#[tokio::test]
async fn an_unknown_property_is_named() {
    let mut props = properties("a");
    props["Colour"] = json!("blue");
    let answer = decide(
        custom_resource(unit),
        request("Create", props),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        answer["Reason"],
        "invalid ResourceProperties at Colour: unknown field `Colour`, expected `Name` or `Versions`"
    );
    assert_eq!(
        answer["PhysicalResourceId"],
        "helve:create-failed:0b0c0d0e-1111-4222-8333-444455556666"
    );
}

#[tokio::test]
async fn a_handler_error_is_the_reason_with_its_sources() {
    let handler = custom_resource(|_: CustomResource<Bucket>, _: Context| async move {
        let cause = std::io::Error::other("connection reset");
        Err::<(), _>(crate::Error::new("buckets.Unavailable", cause))
    });
    let answer = decide(
        handler,
        request("Create", properties("a")),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["Reason"], "connection reset");
}

#[tokio::test]
async fn data_that_is_not_an_object_answers_failed_and_keeps_the_new_resource_id() {
    let handler = custom_resource(|_: CustomResource<Bucket>, _: Context| async move {
        Ok::<_, crate::Error>(
            Outcome::new()
                .physical_resource_id("uploads")
                .data(vec![1, 2]),
        )
    });
    let answer = decide(
        handler,
        request("Create", properties("a")),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(
        answer["PhysicalResourceId"], "uploads",
        "the Delete reaches the resource"
    );
    assert_eq!(
        answer["Reason"],
        "the handler's Data must serialize to a JSON object of attributes, not an array"
    );
}

#[tokio::test]
async fn a_physical_id_over_1024_bytes_answers_failed() {
    let handler = custom_resource(|_: CustomResource<Bucket>, _: Context| async move {
        Ok::<_, crate::Error>(Outcome::new().physical_resource_id("x".repeat(1025)))
    });
    let answer = decide(
        handler,
        request("Create", properties("a")),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(
        answer["Reason"],
        "the handler's PhysicalResourceId is 1025 bytes; CloudFormation accepts 1 to 1024"
    );
}

#[tokio::test]
async fn no_echo_is_sent_with_the_data_and_masked_in_what_helve_shows() {
    let handler = custom_resource(|_: CustomResource<Bucket>, _: Context| async move {
        Ok::<_, crate::Error>(
            Outcome::new()
                .data(json!({"Password": "hunter2"}))
                .no_echo(true),
        )
    });
    let context = context(Duration::from_secs(30));
    let body = handler
        .decide(&raw(request("Create", properties("a"))), &context, &())
        .await
        .finish("");
    assert!(body.no_echo);
    assert_eq!(body.data.as_ref().unwrap()["Password"], "hunter2");
    let shown = serde_json::to_value(Answered(body.masked())).unwrap();
    assert_eq!(shown["Data"], json!({"Password": "*****"}));
    assert_eq!(shown["NoEcho"], true);
}

#[tokio::test]
async fn a_request_missing_an_id_answers_failed_naming_it() {
    let mut event = request("Create", properties("a"));
    event.as_object_mut().unwrap().remove("LogicalResourceId");
    let answer = decide(custom_resource(unit), event, Duration::from_secs(30)).await;
    assert_eq!(answer["Reason"], "the request has no LogicalResourceId");

    let mut event = update(properties("a"), properties("a"));
    event.as_object_mut().unwrap().remove("PhysicalResourceId");
    let answer = decide(custom_resource(unit), event, Duration::from_secs(30)).await;
    assert_eq!(
        answer["Reason"],
        "the Update request has no PhysicalResourceId"
    );

    let mut event = request("Create", properties("a"));
    event.as_object_mut().unwrap().remove("RequestType");
    let answer = decide(custom_resource(unit), event, Duration::from_secs(30)).await;
    assert_eq!(answer["Reason"], "the request has no RequestType");
}

#[tokio::test]
async fn properties_that_are_not_an_object_are_named() {
    let answer = decide(
        custom_resource(unit),
        request("Create", json!("Name=a")),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        answer["Reason"],
        "invalid ResourceProperties: expected a JSON object, found a string"
    );
}

#[tokio::test]
async fn a_timeout_shorter_than_the_margin_answers_failed_without_calling_the_handler() {
    let handler = custom_resource(never_called);
    let answer = decide(
        handler,
        request("Create", properties("a")),
        Duration::from_millis(1500),
    )
    .await;
    assert_eq!(
        answer["Reason"],
        "the function's timeout leaves no time for the handler before helve's deadline margin (2 s before the deadline); raise the function's timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_past_the_margin_is_dropped_and_failed_is_answered() {
    let handler = custom_resource(|_: CustomResource<Bucket>, _: Context| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<(), crate::Error>(())
    })
    .deadline_margin(Duration::from_millis(500));
    let answer = decide(
        handler,
        request("Create", properties("a")),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        answer["Reason"],
        "the handler did not finish 500 ms before the function's deadline, so helve answered without it (its result is ignored); raise the function's timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_whose_state_panics_when_dropped_at_the_margin_still_gets_failed_answered() {
    /// A connection that panics when it is dropped mid-request.
    struct Connection;
    impl Drop for Connection {
        fn drop(&mut self) {
            panic!("the connection panicked while it was dropped");
        }
    }
    let handler = custom_resource(|_: CustomResource<Bucket>, _: Context| async move {
        let _connection = Connection;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<(), crate::Error>(())
    })
    .deadline_margin(Duration::from_millis(500));
    let answer = decide(
        handler,
        request("Create", properties("a")),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(
        answer["Reason"],
        "the handler did not finish 500 ms before the function's deadline, so helve answered without it (its result is ignored); raise the function's timeout"
    );
}

#[tokio::test]
async fn validation_runs_before_the_handler_and_names_the_property_as_the_template_does() {
    fn at_most_two_versions(bucket: &Bucket) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if bucket.versions > 2 {
            errors.add(
                "versions",
                validator::ValidationError::new("range").with_message("must be at most 2".into()),
            );
            return Err(errors);
        }
        Ok(())
    }
    let answer = decide(
        custom_resource(unit).validate_with(at_most_two_versions),
        request("Create", properties("a")),
        Duration::from_secs(30),
    )
    .await;
    // `versions` is `Versions` in the template (`rename_all = "PascalCase"`).
    assert_eq!(
        answer["Reason"],
        "invalid ResourceProperties: Versions: must be at most 2 (range)"
    );
}

#[test]
fn from_string_reads_strings_numbers_and_booleans() {
    #[derive(Debug, Deserialize)]
    struct Flags {
        #[serde(deserialize_with = "from_string")]
        port: u16,
        #[serde(deserialize_with = "from_string")]
        enabled: bool,
    }
    let flags: Flags = serde_json::from_value(json!({"port": " 5432", "enabled": "true"})).unwrap();
    assert_eq!((flags.port, flags.enabled), (5432, true));
    let flags: Flags = serde_json::from_value(json!({"port": 80, "enabled": false})).unwrap();
    assert_eq!((flags.port, flags.enabled), (80, false));
    let error =
        serde_json::from_value::<Flags>(json!({"port": "80000", "enabled": true})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`80000` does not parse: number too large to fit in target type"
    );
}

#[test]
fn the_stack_name_is_read_from_its_arn() {
    assert_eq!(stack_name(STACK), "shop");
    assert_eq!(stack_name("not an arn"), "stack");
}

#[tokio::test]
async fn in_local_mode_the_answer_is_the_response_and_nothing_is_sent() {
    // A ResponseURL on a loopback port that accepts nothing: a send would connect to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut event = request("Create", properties("a"));
    event["ResponseURL"] = json!(format!("http://127.0.0.1:{port}/answer?X-Amz-Signature=x"));
    let local = Context::builder()
        .timeout(Duration::from_secs(30))
        .mode(crate::Mode::Local)
        .build();
    let answered = custom_resource(unit)
        .call(raw(event), local, &())
        .await
        .expect("answered");
    let answer = serde_json::to_value(answered).unwrap();
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(answer["LogicalResourceId"], "Uploads");
    match listener.accept() {
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("local mode sent the answer: {other:?}"),
    }
}

#[tokio::test]
async fn properties_whose_json_cannot_be_read_are_answered_failed_naming_the_field() {
    let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    for (properties, why) in [
        (r#"{"Name": "\ud800"}"#.to_owned(), "hex escape"),
        (r#"{"Size": 1e400}"#.to_owned(), "number out of range"),
        (format!(r#"{{"Tree": {deep}}}"#), "recursion limit exceeded"),
    ] {
        let event = format!(
            r#"{{"RequestType": "Create", "RequestId": "r-1", "ResponseURL": "https://example.com/answer",
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/shop/1",
                "LogicalResourceId": "Bucket", "ResourceType": "Custom::Bucket",
                "ResourceProperties": {properties}}}"#
        );
        // As lambda_runtime decodes the event: the request itself decodes.
        let crate::handler::Payload(request) =
            crate::handler::Payload::<super::RawRequest>::from_slice(event.as_bytes());
        let request = request.unwrap_or_else(|error| panic!("{why}: {error}"));
        assert_eq!(
            request.text("ResponseURL"),
            Some("https://example.com/answer")
        );
        let context = context(Duration::from_secs(30));
        let handler = custom_resource(never_called);
        let body = handler.decide(&request, &context, &()).await.finish("");
        let answer = serde_json::to_value(body).unwrap();
        assert_eq!(answer["Status"], "FAILED", "{why}");
        let reason = answer["Reason"].as_str().unwrap();
        assert!(
            reason.starts_with("invalid ResourceProperties: its JSON cannot be read: ")
                && reason.contains(why),
            "{reason}"
        );
    }
}

#[test]
fn the_scan_of_a_request_that_is_not_json_reads_only_top_level_text_fields() {
    let scanned = RawRequest::scan(
        b"{\"RequestType\" : \"Create\", \"Count\": 3, \"ResourceProperties\": {\"ResponseURL\": \
          \"http://nested\", \"Bad\": \"\xff\"}, \"ResponseURL\":\"https://a\\/b?x=\\\"1\\\"\", \
          \"StackId\": \"s\xfe\", \"RequestId\": \"r-1\", \"LogicalResourceId\": [\"x\"], \
          \"PhysicalResourceId\": \"p-1",
    );
    assert_eq!(scanned.text("RequestType"), Some("Create"));
    assert_eq!(scanned.text("ResponseURL"), Some("https://a/b?x=\"1\""));
    assert_eq!(scanned.text("RequestId"), Some("r-1"));
    // Not UTF-8, not text, or never closed: not read.
    assert_eq!(scanned.text("StackId"), None);
    assert_eq!(scanned.text("LogicalResourceId"), None);
    assert_eq!(scanned.text("PhysicalResourceId"), None);
    assert_eq!(scanned.text("Count"), None);
    assert_eq!(scanned.text("Bad"), None);
    assert_eq!(RawRequest::scan(b"").text("ResponseURL"), None);
    assert_eq!(
        RawRequest::scan(b"[\"ResponseURL\",\"x\"]").text("ResponseURL"),
        None
    );
}
