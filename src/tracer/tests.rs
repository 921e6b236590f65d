use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt as _;

use super::*;
use crate::Context;

const SAMPLED: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";

/// Runs `body` as a recorded invocation with the subscriber helve installs; the documents sent.
fn traced<F: Future<Output = ()>>(header: &str, body: impl FnOnce() -> F) -> Vec<Value> {
    traced_with(header, true, body)
}

fn traced_with<F: Future<Output = ()>>(
    header: &str,
    installed: bool,
    body: impl FnOnce() -> F,
) -> Vec<Value> {
    let sent: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = Arc::clone(&sent);
    let config = TracerConfig::resolve(&TracerOptions::new(), &|_: &str| None).unwrap();
    let tracer = Tracer::new(
        config,
        Output::Lines(Arc::new(move |line: &[u8]| {
            sink.lock()
                .unwrap()
                .push(serde_json::from_slice(line).unwrap());
        })),
        "orders",
    );
    let _guard = if installed {
        // Logging at WARN: the spans are recorded whatever the log level.
        let settings = crate::Settings::from_lookup(Some("orders"), |name| {
            (name == "POWERTOOLS_LOG_LEVEL").then(|| "WARN".to_owned())
        })
        .unwrap();
        tracing::subscriber::set_default(subscriber(&settings, &tracer, |_: &[u8]| {}))
    } else {
        tracing::subscriber::set_default(tracing_subscriber::registry().with(tracer.span_layer()))
    };
    let context = Context::builder().xray_trace_header(header).build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let scope = context.clone();
    runtime.block_on(scope.scope(async move {
        tracer.start(&context);
        body().await;
    }));
    sent.lock().unwrap().clone()
}

#[tracing::instrument]
async fn load(order: &str) {
    save(order.len()).await;
}

#[tracing::instrument(fields(annotation.order_id = order_len))]
async fn save(order_len: usize) {}

#[test]
fn nested_spans_are_subsegments_under_their_parents() {
    let docs = traced(SAMPLED, || load("o-1"));
    assert_eq!(docs.len(), 2, "{docs:#?}");
    let (save, load) = (&docs[0], &docs[1]);
    assert_eq!(load["name"], "load");
    assert_eq!(save["name"], "save");
    assert_eq!(save["parent_id"], load["id"]);
    assert_eq!(load["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(save["type"], "subsegment");
    assert_eq!(load["metadata"]["default"]["order"], "o-1");
    assert_eq!(save["annotations"]["order_id"], 3);
    assert!(save["start_time"].as_f64() <= save["end_time"].as_f64());
    assert!(load["start_time"].as_f64() <= save["start_time"].as_f64());
}

#[test]
fn a_span_outside_any_other_hangs_under_the_invocations_subsegment() {
    let mut handler = String::new();
    let docs = traced(SAMPLED, || async {
        handler = crate::context()
            .and_then(|context| {
                context
                    .state()
                    .trace
                    .get()
                    .map(|trace| trace.handler_id.as_str().to_owned())
            })
            .unwrap();
        let _span = tracing::info_span!("work").entered();
    });
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["parent_id"], handler.as_str());
}

#[test]
fn an_unsampled_invocation_sends_nothing() {
    let unsampled = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
    let docs = traced(unsampled, || async {
        load("o-1").await;
        annotate("ignored", 1);
        assert_eq!(
            trace_header().as_deref(),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0")
        );
    });
    assert!(docs.is_empty(), "{docs:#?}");
}

#[test]
fn the_aws_sdks_operation_spans_are_aws_subsegments_named_for_the_service() {
    let docs = traced(SAMPLED, || async {
        let _span = tracing::debug_span!(
            target: "aws_sdk_dynamodb::operation::put_item",
            "DynamoDB.PutItem",
            "rpc.service" = "DynamoDB",
            "rpc.method" = "PutItem",
            "sdk_invocation_id" = 4_123_456,
            "rpc.system" = "aws-api",
        )
        .entered();
        // The SDK's inner spans are not subsegments.
        let _inner =
            tracing::debug_span!(target: "aws_smithy_runtime::client::orchestrator", "try_attempt")
                .entered();
    });
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["name"], "DynamoDB");
    assert_eq!(docs[0]["namespace"], "aws");
    assert_eq!(docs[0]["aws"]["operation"], "PutItem");
    assert_eq!(
        docs[0]["metadata"]["default"]["sdk_invocation_id"],
        4_123_456
    );
}

#[test]
fn a_span_marked_as_a_client_call_is_remote_and_an_errored_one_a_fault() {
    let docs = traced(SAMPLED, || async {
        let span = tracing::info_span!(
            "payments",
            otel.kind = "client",
            otel.name = "POST payments.example.com",
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        span.record("http.response.status_code", 503);
        span.record("error.type", "PaymentsDown");
    });
    assert_eq!(docs[0]["name"], "POST payments.example.com");
    assert_eq!(docs[0]["namespace"], "remote");
    assert_eq!(docs[0]["http"]["response"]["status"], 503);
    assert_eq!(docs[0]["fault"], true);
    assert_eq!(docs[0]["cause"]["exceptions"][0]["type"], "PaymentsDown");
}

#[test]
fn annotate_and_put_metadata_write_into_the_current_spans_subsegment() {
    let docs = traced(SAMPLED, || async {
        let _span = tracing::info_span!("charge").entered();
        annotate("customer_tier", "gold");
        annotate("amount", 12.5);
        put_metadata("card", &serde_json::json!({"brand": "visa"}));
    });
    assert_eq!(docs[0]["annotations"]["customer_tier"], "gold");
    assert_eq!(docs[0]["annotations"]["amount"], 12.5);
    assert_eq!(docs[0]["metadata"]["default"]["card"]["brand"], "visa");
}

#[test]
fn annotations_x_ray_would_refuse_are_dropped_and_counted() {
    let mut dropped = None;
    let docs = traced(SAMPLED, || async {
        let _span = tracing::info_span!("charge").entered();
        annotate("order-id", "o-1");
        annotate("note", "x".repeat(1_001));
        for index in 0..60 {
            annotate(&format!("a{index}"), index);
        }
        dropped = crate::context().and_then(|context| {
            context
                .state()
                .trace
                .get()
                .and_then(|trace| trace.take_dropped())
        });
    });
    let annotations = docs[0]["annotations"].as_object().unwrap();
    assert_eq!(annotations.len(), MAX_ANNOTATIONS);
    assert!(!annotations.contains_key("order-id") && !annotations.contains_key("note"));
    let (count, reason) = dropped.unwrap();
    assert_eq!(count, 12);
    assert_eq!(
        reason,
        "the key `order-id` is not 1 to 500 letters, digits and `_`"
    );
}

#[test]
fn the_outgoing_header_names_the_current_subsegment_and_keeps_the_lineage() {
    let mut header = None;
    let mut parent = None;
    let docs = traced(SAMPLED, || async {
        let _span = tracing::info_span!("call").entered();
        header = trace_header();
        parent = traceparent();
    });
    let id = docs[0]["id"].as_str().unwrap();
    assert_eq!(
        header.unwrap(),
        format!(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent={id};Sampled=1;Lineage=a87bd80c:1"
        )
    );
    assert_eq!(
        parent.unwrap(),
        format!("00-5759e988bd862e3fe1be46a994272793-{id}-01")
    );
}

#[test]
fn a_huge_field_is_left_out_of_its_document_which_still_fits() {
    let docs = traced(SAMPLED, || async {
        let blob = "x".repeat(100_000);
        let _span = tracing::info_span!("upload", body = blob.as_str()).entered();
    });
    let note = docs[0]["metadata"]["default"]["helve"].as_str().unwrap();
    assert!(
        note.contains("left out to fit the 64 KB document"),
        "{note}"
    );
}

#[test]
fn a_registry_of_your_own_takes_the_span_layer() {
    let docs = traced_with(SAMPLED, false, || load("o-1"));
    let names: Vec<&str> = docs
        .iter()
        .map(|doc| doc["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["save", "load"]);
    assert_eq!(docs[0]["parent_id"], docs[1]["id"]);
}

#[test]
fn log_lines_carry_only_the_spans_the_log_level_shows() {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&lines);
    let settings = crate::Settings::from_lookup(Some("orders"), |name| {
        (name == "POWERTOOLS_LOG_LEVEL").then(|| "WARN".to_owned())
    })
    .unwrap();
    let config = TracerConfig::resolve(&TracerOptions::new(), &|_: &str| None).unwrap();
    let tracer = Tracer::new(config, Output::Lines(Arc::new(|_: &[u8]| {})), "orders");
    let subscriber = subscriber(&settings, &tracer, move |line: &[u8]| {
        sink.lock()
            .unwrap()
            .push(String::from_utf8_lossy(line).into_owned());
    });
    tracing::subscriber::with_default(subscriber, || {
        // An INFO span, hidden at WARN: the tracer sees it, the log line does not.
        let _work = tracing::info_span!("work", order = "o-1").entered();
        let _call = tracing::debug_span!(target: "aws_sdk_dynamodb::operation::put_item", "DynamoDB.PutItem", "rpc.service" = "DynamoDB").entered();
        tracing::warn!("the order is late");
    });
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("the order is late"), "{}", lines[0]);
    assert!(
        !lines[0].contains("o-1") && !lines[0].contains("rpc.service"),
        "{}",
        lines[0]
    );
}
