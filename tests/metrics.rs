//! The EMF documents a real binary writes, served by a Lambda Runtime API on 127.0.0.1, as
//! CloudWatch Logs receives them.

mod support;

use serde_json::{Value, json};
use support::{Exit, Outcome, RuntimeApi};

/// Runs `metrics-demo` with `env` on each event in turn and returns everything it wrote.
async fn run(events: &[(&str, &str)], env: &[(&str, &str)]) -> Exit {
    let mut api = RuntimeApi::start().await;
    let mut launch = api.function("metrics-demo");
    for (name, value) in env {
        launch.env(name, value);
    }
    let function = launch.spawn();
    for (request_id, event) in events {
        api.push(request_id, event);
        let outcome = api.next_outcome().await;
        assert!(
            matches!(&outcome, Outcome::Response { request_id: id, .. } if id == request_id),
            "{outcome:?}\n{}",
            api.process_output()
        );
    }
    function.stop().await
}

/// The EMF documents among the stdout lines, timestamps checked and set to 0.
fn documents(exit: &Exit) -> Vec<Value> {
    exit.stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|value| value.get("_aws").is_some())
        .map(|mut value| {
            let timestamp = &mut value["_aws"]["Timestamp"];
            assert!(
                timestamp.as_u64().is_some_and(|ms| ms > 1_700_000_000_000),
                "{value}"
            );
            *timestamp = json!(0);
            value
        })
        .collect()
}

fn document(dimensions: &[&str], metrics: Value, values: Value) -> Value {
    let mut document = json!({
        "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{
            "Namespace": "Shop", "Dimensions": [dimensions], "Metrics": metrics
        }]}
    });
    for (key, value) in values.as_object().expect("an object") {
        document[key] = value.clone();
    }
    document
}

#[tokio::test]
async fn each_invocation_writes_its_own_documents_and_the_first_one_its_cold_start() {
    let exit = run(
        &[
            ("first", r#"{"items": [2, 3], "refund": true}"#),
            ("second", r#"{"items": [5]}"#),
        ],
        &[],
    )
    .await;
    let count = |name: &str| json!({"Name": name, "Unit": "Count"});
    assert_eq!(
        documents(&exit),
        vec![
            document(
                &["function_name", "service"],
                json!([count("ColdStart")]),
                json!({"function_name": "metrics-demo", "service": "orders", "ColdStart": 1.0}),
            ),
            // What init recorded comes with the first invocation.
            document(
                &["service"],
                json!([
                    count("ConnectionsOpened"),
                    count("OrdersPlaced"),
                    count("BasketSize")
                ]),
                json!({"service": "orders", "ConnectionsOpened": 2.0, "OrdersPlaced": 1.0, "BasketSize": [2.0, 3.0]}),
            ),
            document(
                &["service", "reason"],
                json!([count("Refunds")]),
                json!({"service": "orders", "reason": "damaged", "Refunds": 1.0}),
            ),
            document(
                &["service"],
                json!([count("OrdersPlaced"), count("BasketSize")]),
                json!({"service": "orders", "OrdersPlaced": 1.0, "BasketSize": 5.0}),
            ),
        ],
        "{exit}"
    );
}

#[tokio::test]
async fn powertools_metrics_disabled_writes_no_document() {
    let exit = run(
        &[("only", r#"{"items": [1]}"#)],
        &[("POWERTOOLS_METRICS_DISABLED", "true")],
    )
    .await;
    assert_eq!(documents(&exit), Vec::<Value>::new(), "{exit}");
}

#[tokio::test]
async fn powertools_metrics_function_name_names_the_cold_start_dimension() {
    let exit = run(
        &[("only", r#"{}"#)],
        &[("POWERTOOLS_METRICS_FUNCTION_NAME", "orders-api")],
    )
    .await;
    let documents = documents(&exit);
    assert_eq!(documents[0]["function_name"], "orders-api", "{exit}");
    assert_eq!(documents[0]["ColdStart"], 1.0);
}
