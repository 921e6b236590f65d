//! The EMF documents a real binary writes, served by a Lambda Runtime API on 127.0.0.1, as
//! CloudWatch Logs receives them.

mod support;

use helve::testing::emf_documents;
use serde_json::{Value, json};
use support::{Exit, Outcome, RuntimeApi};

/// Runs `metrics-demo` with `env` on each event in turn and returns everything it wrote.
async fn run(events: &[(&str, &str)], env: &[(&str, &str)]) -> Exit {
    run_binary("metrics-demo", events, env).await
}

/// Runs `binary` with `env` on each event in turn and returns everything it wrote.
async fn run_binary(binary: &str, events: &[(&str, &str)], env: &[(&str, &str)]) -> Exit {
    let mut api = RuntimeApi::start().await;
    let mut launch = api.function(binary);
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

/// The EMF documents among the stdout lines, timestamps checked and removed (the test kit's
/// reading).
fn documents(exit: &Exit) -> Vec<Value> {
    emf_documents(&exit.stdout)
}

fn document(dimensions: &[&str], metrics: Value, values: Value) -> Value {
    let mut document = json!({
        "_aws": {"CloudWatchMetrics": [{
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

/// The lines of `exit`'s stdout at `level`.
fn lines_at(exit: &Exit, level: &str) -> Vec<Value> {
    exit.stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["level"] == level)
        .collect()
}

#[tokio::test]
async fn metrics_recorded_without_a_namespace_are_an_error_told_once_not_lost_silently() {
    let events = [("first", r#"{}"#), ("second", r#"{}"#)];
    let exit = run_binary("metrics-without-namespace", &events, &[]).await;
    assert_eq!(documents(&exit), Vec::<Value>::new(), "{exit}");
    let errors = lines_at(&exit, "ERROR");
    assert_eq!(errors.len(), 1, "{exit}");
    assert_eq!(errors[0]["error_type"], "helve.MetricsNotConfigured");
    assert_eq!(errors[0]["metric"], "OrdersPlaced");
    assert_eq!(errors[0]["function_request_id"], "first");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("set POWERTOOLS_METRICS_NAMESPACE"),
        "{exit}"
    );

    // Turned off on purpose: nothing to tell.
    let exit = run_binary(
        "metrics-without-namespace",
        &events,
        &[("POWERTOOLS_METRICS_DISABLED", "true")],
    )
    .await;
    assert_eq!(lines_at(&exit, "ERROR"), Vec::<Value>::new(), "{exit}");

    // With a namespace from the environment, the same function writes its metrics.
    let exit = run_binary(
        "metrics-without-namespace",
        &events,
        &[("POWERTOOLS_METRICS_NAMESPACE", "Shop")],
    )
    .await;
    assert_eq!(lines_at(&exit, "ERROR"), Vec::<Value>::new(), "{exit}");
    let orders: Vec<Value> = documents(&exit)
        .into_iter()
        .filter(|document| document.get("OrdersPlaced").is_some())
        .collect();
    assert_eq!(orders.len(), 2, "{exit}");
}
