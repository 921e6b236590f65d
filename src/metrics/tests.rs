//! The EMF documents a user sees, parsed and compared whole.

use std::{convert::Infallible, sync::Arc, time::Duration};

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{
    EmfRecorder,
    emf::{Resolution, Unit},
};
use crate::{
    Context, Options, Payload, Settings,
    function::service_stack,
    layers::{LoggingLayer, MetricsLayer},
    test_support::Captured,
};

fn settings(env: &'static [(&'static str, &'static str)]) -> Settings {
    let options = Options {
        service: Some("orders".to_owned()),
        namespace: Some("Shop".to_owned()),
        ..Options::default()
    };
    Settings::resolve(&options, |name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .unwrap()
}

fn event(request_id: &str) -> LambdaEvent<Payload<Value>> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = crate::context::deadline_ms(Duration::from_secs(30));
    context.env_config = Arc::new(lambda_runtime::Config {
        function_name: "orders-fn".to_owned(),
        memory: 128,
        version: "$LATEST".to_owned(),
        ..lambda_runtime::Config::default()
    });
    LambdaEvent::new(Payload(Ok(json!({"request": request_id}))), context)
}

/// Runs `body` with `recorder` as the `metrics` recorder, on a current-thread runtime.
fn with_recorder<F: std::future::Future>(recorder: &EmfRecorder, body: F) -> F::Output {
    metrics::with_local_recorder(recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(body)
    })
}

fn layer(recorder: &EmfRecorder, settings: &Settings, captured: &Captured) -> MetricsLayer {
    MetricsLayer::with_sink(
        recorder.clone(),
        settings.metrics().cloned(),
        captured.sink(),
    )
}

/// helve's stack around `handler`, its EMF documents written to `documents` and its log lines
/// to `logs`.
fn stack<H, T, M>(
    handler: H,
    settings: &Settings,
    recorder: &EmfRecorder,
    documents: &Captured,
    logs: &Captured,
) -> crate::function::FunctionService<H, T, (), M>
where
    H: crate::Handler<T, (), M>,
{
    let logging = LoggingLayer::with_sink(settings, logs.sink(), None);
    service_stack(
        handler,
        settings,
        &(),
        logging,
        layer(recorder, settings, documents),
    )
}

fn cold_start() -> Value {
    json!({
        "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "Shop",
            "Dimensions": [["function_name", "service"]],
            "Metrics": [{"Name": "ColdStart", "Unit": "Count"}]}]},
        "function_name": "orders-fn", "service": "orders", "ColdStart": 1.0
    })
}

async fn record_everything(event: Value, _ctx: Context) -> Result<Value, Infallible> {
    metrics::counter!("OrdersPlaced").increment(1);
    metrics::counter!("OrdersPlaced").increment(2);
    metrics::gauge!("QueueDepth").set(7.0);
    metrics::gauge!("QueueDepth").set(4.0);
    metrics::histogram!("Latency").record(12.0);
    metrics::histogram!("Latency").record(15.5);
    metrics::counter!("Refunds", "reason" => "damaged").increment(1);
    Ok(event)
}

#[test]
fn counters_sum_gauges_keep_the_last_value_and_histograms_keep_every_value() {
    let settings = settings(&[]);
    let captured = Captured::default();
    let recorder = EmfRecorder::new();
    with_recorder(&recorder, async {
        metrics::describe_histogram!("Latency", metrics::Unit::Milliseconds, "time to place");
        recorder.describe_resolution("Latency", Resolution::High);
        let service = stack(
            record_everything,
            &settings,
            &recorder,
            &captured,
            &captured,
        );
        service.oneshot(event("req-1")).await.unwrap();
    });
    assert_eq!(
        captured.documents(),
        vec![
            cold_start(),
            json!({
                "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "Shop",
                    "Dimensions": [["service"]],
                    "Metrics": [
                        {"Name": "OrdersPlaced", "Unit": "Count"},
                        {"Name": "QueueDepth", "Unit": "None"},
                        {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1}
                    ]}]},
                "service": "orders", "OrdersPlaced": 3.0, "QueueDepth": 4.0, "Latency": [12.0, 15.5]
            }),
            json!({
                "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "Shop",
                    "Dimensions": [["service", "reason"]],
                    "Metrics": [{"Name": "Refunds", "Unit": "Count"}]}]},
                "service": "orders", "reason": "damaged", "Refunds": 1.0
            }),
        ]
    );
}

async fn fail_after_counting(_event: Value, _ctx: Context) -> Result<Value, crate::Error> {
    metrics::counter!("Attempts").increment(1);
    Err(crate::Error::msg("the payment provider is down"))
}

#[test]
fn cold_start_is_written_once_even_when_the_first_invocation_fails() {
    let settings = settings(&[]);
    let captured = Captured::default();
    let recorder = EmfRecorder::new();
    with_recorder(&recorder, async {
        let service = stack(
            fail_after_counting,
            &settings,
            &recorder,
            &captured,
            &captured,
        );
        assert!(service.clone().oneshot(event("req-1")).await.is_err());
        assert!(service.oneshot(event("req-2")).await.is_err());
    });
    let documents = captured.documents();
    let names: Vec<&str> = documents
        .iter()
        .map(|doc| {
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(names, vec!["ColdStart", "Attempts", "Attempts"]);
    assert_eq!(documents[0], cold_start());
}

async fn panic_after_counting(_event: Value, _ctx: Context) -> Result<Value, crate::Error> {
    metrics::counter!("Attempts").increment(1);
    metrics::histogram!("StepsDone").record(2.0);
    panic!("the order has no lines");
}

#[test]
fn a_panicking_invocation_still_writes_its_metrics_and_the_cold_start() {
    let settings = settings(&[]);
    let captured = Captured::default();
    let recorder = EmfRecorder::new();
    with_recorder(&recorder, async {
        let service = stack(
            panic_after_counting,
            &settings,
            &recorder,
            &captured,
            &captured,
        );
        assert!(service.clone().oneshot(event("req-1")).await.is_err());
        assert!(service.oneshot(event("req-2")).await.is_err());
    });
    let documents = captured.documents();
    assert_eq!(documents.len(), 3, "{documents:?}");
    assert_eq!(documents[0], cold_start());
    for document in &documents[1..] {
        assert_eq!(document["Attempts"], 1.0);
        assert_eq!(document["StepsDone"], 2.0);
    }
}

#[test]
fn metrics_recorded_during_init_are_written_with_the_first_invocation() {
    let settings = settings(&[]);
    let captured = Captured::default();
    let recorder = EmfRecorder::new();
    with_recorder(&recorder, async {
        // Outside any invocation, as an init function records.
        metrics::counter!("ConnectionsOpened").increment(2);
        let service = stack(record_nothing, &settings, &recorder, &captured, &captured);
        service.oneshot(event("req-1")).await.unwrap();
    });
    let documents = captured.documents();
    assert_eq!(documents.len(), 2);
    assert_eq!(documents[1]["ConnectionsOpened"], json!(2.0));
}

async fn record_nothing(event: Value, _ctx: Context) -> Result<Value, Infallible> {
    Ok(event)
}

async fn count_own_id(event: Value, ctx: Context) -> Result<Value, Infallible> {
    let n: u64 = ctx
        .request_id()
        .trim_start_matches("req-")
        .parse()
        .unwrap_or(0);
    for _ in 0..3 {
        metrics::counter!("Steps").increment(n);
        tokio::task::yield_now().await;
    }
    Ok(event)
}

#[test]
fn interleaved_invocations_write_only_their_own_metrics() {
    let settings = settings(&[]);
    let captured = Captured::default();
    let recorder = EmfRecorder::new();
    with_recorder(&recorder, async {
        let service = stack(count_own_id, &settings, &recorder, &captured, &captured);
        let call = |n: u32| service.clone().oneshot(event(&format!("req-{n}")));
        // Polled together on one thread: the invocations interleave at every yield.
        let (a, b, c, d) = tokio::join!(call(1), call(2), call(3), call(4));
        assert!(a.is_ok() && b.is_ok() && c.is_ok() && d.is_ok());
    });
    let mut totals: Vec<f64> = captured
        .documents()
        .iter()
        .filter_map(|doc| doc["Steps"].as_f64())
        .collect();
    totals.sort_by(f64::total_cmp);
    // Each invocation counted its own number three times: 3, 6, 9, 12.
    assert_eq!(totals, vec![3.0, 6.0, 9.0, 12.0]);
}

async fn count_in_spawned_task(event: Value, ctx: Context) -> Result<Value, Infallible> {
    let task = tokio::spawn(ctx.clone().scope(async {
        metrics::counter!("Background").increment(1);
    }));
    let _ = task.await;
    Ok(event)
}

#[test]
fn a_task_spawned_in_the_invocations_scope_records_into_it() {
    let settings = settings(&[]);
    let captured = Captured::default();
    let recorder = EmfRecorder::new();
    with_recorder(&recorder, async {
        let service = stack(
            count_in_spawned_task,
            &settings,
            &recorder,
            &captured,
            &captured,
        );
        service.oneshot(event("req-1")).await.unwrap();
    });
    let documents = captured.documents();
    assert_eq!(documents.last().unwrap()["Background"], json!(1.0));
}

#[test]
fn a_unit_metrics_has_no_name_for_is_named_through_the_recorder() {
    let settings = settings(&[]);
    let captured = Captured::default();
    let recorder = EmfRecorder::new();
    recorder.describe_unit("Throughput", Unit::KilobytesPerSecond);
    with_recorder(&recorder, async {
        let service = stack(
            |event: Value, _ctx: Context| async move {
                metrics::gauge!("Throughput").set(512.0);
                Ok::<_, Infallible>(event)
            },
            &settings,
            &recorder,
            &captured,
            &captured,
        );
        service.oneshot(event("req-1")).await.unwrap();
    });
    let documents = captured.documents();
    assert_eq!(
        documents.last().unwrap()["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
        json!({"Name": "Throughput", "Unit": "Kilobytes/Second"})
    );
}

#[test]
fn metrics_are_off_without_a_namespace_or_when_disabled() {
    let disabled = settings(&[("POWERTOOLS_METRICS_DISABLED", "true")]);
    assert!(disabled.metrics().is_none());
    let without = Settings::resolve(&Options::default(), |_| None).unwrap();
    assert!(without.metrics().is_none());
    let from_env = Settings::resolve(&Options::default(), |name| {
        (name == "POWERTOOLS_METRICS_NAMESPACE").then(|| "Payments".to_owned())
    })
    .unwrap();
    assert_eq!(from_env.metrics().unwrap().namespace.as_str(), "Payments");
}

#[test]
fn an_invalid_namespace_is_a_config_error_naming_the_setting() {
    let error = Settings::resolve(&Options::default(), |name| {
        (name == "POWERTOOLS_METRICS_NAMESPACE").then(|| "AWS/Lambda".to_owned())
    })
    .unwrap_err();
    assert_eq!(error.setting(), "POWERTOOLS_METRICS_NAMESPACE");
}

#[test]
fn metadata_goes_in_every_document_of_its_invocation_and_no_other() {
    let settings = settings(&[]);
    let captured = Captured::default();
    let recorder = EmfRecorder::new();
    with_recorder(&recorder, async {
        let service = stack(
            |event: Value, ctx: Context| async move {
                super::add_metadata("order_id", "o-7");
                super::add_metadata("function_request_id", ctx.request_id());
                metrics::counter!("Placed").increment(1);
                metrics::counter!("Placed", "tier" => "gold").increment(1);
                Ok::<_, Infallible>(event)
            },
            &settings,
            &recorder,
            &captured,
            &captured,
        );
        service.clone().oneshot(event("req-1")).await.unwrap();
        service.oneshot(event("req-2")).await.unwrap();
    });
    let documents: Vec<Value> = captured
        .documents()
        .into_iter()
        .filter(|doc| doc.get("Placed").is_some())
        .collect();
    assert_eq!(documents.len(), 4);
    for (doc, request) in documents.iter().zip(["req-1", "req-1", "req-2", "req-2"]) {
        assert_eq!(doc["order_id"], "o-7");
        assert_eq!(doc["function_request_id"], request);
    }
}

/// `count` labels `l0`, `l1`, ... on a metric.
fn labels(count: usize) -> Vec<metrics::Label> {
    (0..count)
        .map(|i| metrics::Label::new(format!("l{i}"), "x"))
        .collect()
}

#[test]
fn a_metric_over_30_dimensions_is_refused_when_registered_with_one_warn() {
    use tracing_subscriber::layer::SubscriberExt;

    // `service` and two default dimensions: 27 labels fit, 28 do not.
    let options = Options {
        service: Some("orders".to_owned()),
        namespace: Some("Shop".to_owned()),
        metric_dimensions: vec![
            ("region".to_owned(), "eu-west-1".to_owned()),
            ("stage".to_owned(), "prod".to_owned()),
        ],
        ..Options::default()
    };
    let settings = Settings::resolve(&options, |_| None).unwrap();
    let captured = Captured::default();
    let logs = Captured::default();
    let recorder = EmfRecorder::new();
    let subscriber = tracing_subscriber::registry()
        .with(crate::logging::json_layer(settings.log(), logs.sink()));
    tracing::subscriber::with_default(subscriber, || {
        with_recorder(&recorder, async {
            let service = stack(
                |event: Value, _ctx: Context| async move {
                    for _ in 0..3 {
                        metrics::counter!("Wide", labels(28)).increment(1);
                    }
                    metrics::counter!("Fits", labels(27)).increment(1);
                    // A label that is also a default dimension adds no dimension.
                    let mut again = labels(27);
                    again.push(metrics::Label::new("region", "us-east-1"));
                    metrics::counter!("Again", again).increment(1);
                    Ok::<_, Infallible>(event)
                },
                &settings,
                &recorder,
                &captured,
                &logs,
            );
            service.oneshot(event("req-1")).await.unwrap();
        });
    });
    let documents = captured.documents();
    let names: Vec<&str> = documents
        .iter()
        .map(|doc| {
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(names, vec!["ColdStart", "Fits", "Again"]);
    assert_eq!(
        documents[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
            .as_array()
            .unwrap()
            .len(),
        30
    );
    let warnings: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|line| line["level"] == "WARN")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["metric"], "Wide");
    assert_eq!(warnings[0]["dimensions"], 31);
    assert_eq!(
        warnings[0]["message"],
        "the metric is not recorded: with `service`, the default dimensions and its labels it \
         has 31 dimensions, and CloudWatch takes at most 30"
    );
}

#[test]
fn metrics_configured_in_code_without_a_namespace_are_a_config_error() {
    let dimensions = Options {
        metric_dimensions: vec![("region".to_owned(), "eu-west-1".to_owned())],
        ..Options::default()
    };
    let sink = Options {
        metrics_sink: true,
        ..Options::default()
    };
    for options in [&dimensions, &sink] {
        let error = Settings::resolve(options, |_| None).unwrap_err();
        assert_eq!(error.setting(), "POWERTOOLS_METRICS_NAMESPACE");
        let message = error.to_string();
        assert!(message.contains(r#"`namespace = "..""#), "{message}");
        assert!(
            message.contains("POWERTOOLS_METRICS_NAMESPACE"),
            "{message}"
        );
        // A namespace from the environment is enough.
        let with_env = Settings::resolve(options, |name| {
            (name == "POWERTOOLS_METRICS_NAMESPACE").then(|| "Shop".to_owned())
        })
        .unwrap();
        assert!(with_env.metrics().is_some());
        // Metrics turned off on purpose need none.
        let disabled = Settings::resolve(options, |name| {
            (name == "POWERTOOLS_METRICS_DISABLED").then(|| "true".to_owned())
        })
        .unwrap();
        assert!(disabled.metrics().is_none());
    }
    assert_eq!(
        Settings::resolve(&sink, |_| None).unwrap_err().to_string(),
        "invalid setting POWERTOOLS_METRICS_NAMESPACE: a metrics sink is configured \
         (`metrics_sink`), but no metrics namespace is set: name one with `namespace = \"..\"` \
         in `#[helve::handler]` (or `Function::namespace`), or with POWERTOOLS_METRICS_NAMESPACE"
    );
    // A function that never mentions metrics needs no namespace, even with
    // POWERTOOLS_METRICS_DISABLED=false, which is the default.
    let plain = Settings::resolve(&Options::default(), |name| {
        (name == "POWERTOOLS_METRICS_DISABLED").then(|| "false".to_owned())
    })
    .unwrap();
    assert!(plain.metrics().is_none());
}

#[test]
fn a_sink_needs_a_namespace_putmetricdata_takes() {
    let options = Options {
        namespace: Some("N".repeat(256)),
        metrics_sink: true,
        ..Options::default()
    };
    let error = Settings::resolve(&options, |_| None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid setting the `namespace` option: PutMetricData takes a namespace of at most 255 \
         characters"
    );
    let emf = Options {
        metrics_sink: false,
        ..options
    };
    assert!(Settings::resolve(&emf, |_| None).is_ok());
}

#[test]
fn describing_a_metric_again_changes_only_what_is_given() {
    let recorder = EmfRecorder::new();
    let shared = &recorder.shared;
    let kind = super::Kind::Histogram;
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("Latency", metrics::Unit::Milliseconds, "");
        // Described the same way with each request.
        metrics::describe_histogram!("Latency", metrics::Unit::Milliseconds, "");
    });
    assert_eq!(
        shared.unit("Latency", kind),
        (Unit::Milliseconds, Resolution::Standard)
    );
    recorder.describe_resolution("Latency", Resolution::High);
    assert_eq!(
        shared.unit("Latency", kind),
        (Unit::Milliseconds, Resolution::High)
    );
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("Latency", metrics::Unit::Seconds, "");
    });
    assert_eq!(
        shared.unit("Latency", kind),
        (Unit::Seconds, Resolution::High)
    );
    recorder.describe_unit("Latency", Unit::Seconds);
    assert_eq!(
        shared.unit("Latency", kind),
        (Unit::Seconds, Resolution::High)
    );
}

#[test]
fn a_counter_and_a_gauge_of_one_name_are_never_written_twice_in_a_document() {
    use tracing_subscriber::layer::SubscriberExt;

    let settings = settings(&[]);
    let captured = Captured::default();
    let logs = Captured::default();
    let recorder = EmfRecorder::new();
    let subscriber = tracing_subscriber::registry()
        .with(crate::logging::json_layer(settings.log(), logs.sink()));
    tracing::subscriber::with_default(subscriber, || {
        with_recorder(&recorder, async {
            let service = stack(
                |event: Value, _ctx: Context| async move {
                    metrics::counter!("Jobs").increment(2);
                    metrics::gauge!("Jobs").set(5.0);
                    // Same unit: one metric with both values.
                    metrics::gauge!("Depth").set(3.0);
                    metrics::histogram!("Depth").record(4.0);
                    Ok::<_, Infallible>(event)
                },
                &settings,
                &recorder,
                &captured,
                &logs,
            );
            service.oneshot(event("req-1")).await.unwrap();
        });
    });
    let documents = captured.documents();
    assert_eq!(
        documents[1],
        json!({
            "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "Shop",
                "Dimensions": [["service"]],
                "Metrics": [
                    {"Name": "Jobs", "Unit": "Count"},
                    {"Name": "Depth", "Unit": "None"}
                ]}]},
            "service": "orders", "Jobs": 2.0, "Depth": [3.0, 4.0]
        })
    );
    let warnings: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|line| line["level"] == "WARN")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["metric"], "Jobs");
}

#[test]
fn units_and_resolutions_described_before_or_after_helve_installs_its_recorder_are_kept() {
    // The only test in this process to install a recorder as `Function::run` does.
    super::describe_unit("UploadRate", Unit::KilobytesPerSecond);
    let recorder = EmfRecorder::new();
    recorder.mark_installed();
    super::describe_resolution("UploadRate", Resolution::High);
    super::describe_unit("Errors", Unit::CountPerSecond);
    let kind = super::Kind::Gauge;
    assert_eq!(
        recorder.shared.unit("UploadRate", kind),
        (Unit::KilobytesPerSecond, Resolution::High)
    );
    assert_eq!(
        recorder.shared.unit("Errors", kind),
        (Unit::CountPerSecond, Resolution::Standard)
    );
}

#[test]
fn without_a_namespace_the_first_metric_of_the_users_is_told_once_and_helves_own_never() {
    use tracing_subscriber::layer::SubscriberExt;

    let settings = settings(&[]);
    let logs = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(crate::logging::json_layer(settings.log(), logs.sink()));
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&super::NoNamespace::default(), || {
            metrics::histogram!("HttpRequestDuration").record(3.0);
            metrics::counter!("HttpResponses", "status_class" => "2xx").increment(1);
            metrics::counter!("BatchRecordsProcessed").increment(1);
            assert_eq!(logs.lines(), Vec::<Value>::new());
            metrics::counter!("OrdersPlaced").increment(1);
            metrics::counter!("OrdersShipped").increment(1);
        });
    });
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert_eq!(lines[0]["error_type"], "helve.MetricsNotConfigured");
    assert_eq!(lines[0]["metric"], "OrdersPlaced");
}

async fn view_pages(event: Value, ctx: Context) -> Result<Value, Infallible> {
    let n: usize = ctx
        .request_id()
        .trim_start_matches("req-")
        .parse()
        .unwrap_or(0);
    for page in 0..1_000 {
        metrics::counter!("PageViews", "path" => format!("/p/{}", n * 1_000 + page)).increment(1);
    }
    Ok(event)
}

#[test]
fn a_label_with_unbounded_values_keeps_a_bounded_number_of_keys_and_loses_no_value() {
    let settings = settings(&[]);
    let captured = Captured::default();
    let recorder = EmfRecorder::new();
    with_recorder(&recorder, async {
        let service = stack(view_pages, &settings, &recorder, &captured, &captured);
        for n in 0..10 {
            service
                .clone()
                .oneshot(event(&format!("req-{n}")))
                .await
                .unwrap();
            assert!(
                recorder.shared.registered() <= super::recorder::MAX_KEYS,
                "{} keys after invocation {n}",
                recorder.shared.registered()
            );
        }
    });
    // 10,000 paths, each written once with its one view.
    let mut paths: Vec<String> = captured
        .documents()
        .iter()
        .filter(|doc| doc["PageViews"] == json!(1.0))
        .map(|doc| doc["path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 10_000);
}

async fn forget_a_key_while_recording_it(event: Value, _ctx: Context) -> Result<Value, Infallible> {
    let held = metrics::counter!("Held");
    metrics::counter!("Jobs", "queue" => "a").increment(1);
    // Enough new keys that the recorder forgets the least recent ones, "Jobs" and "Held".
    for n in 0..super::recorder::MAX_KEYS {
        metrics::gauge!("Filler", "n" => n.to_string()).set(1.0);
    }
    metrics::counter!("Jobs", "queue" => "a").increment(2);
    held.increment(5);
    Ok(event)
}

#[test]
fn a_metric_whose_key_is_forgotten_during_its_invocation_is_written_whole_in_one_document() {
    use tracing_subscriber::layer::SubscriberExt;

    let settings = settings(&[]);
    let captured = Captured::default();
    let logs = Captured::default();
    let recorder = EmfRecorder::new();
    let subscriber = tracing_subscriber::registry()
        .with(crate::logging::json_layer(settings.log(), logs.sink()));
    tracing::subscriber::with_default(subscriber, || {
        with_recorder(&recorder, async {
            let service = stack(
                forget_a_key_while_recording_it,
                &settings,
                &recorder,
                &captured,
                &logs,
            );
            service.oneshot(event("req-1")).await.unwrap();
        });
    });
    let documents = captured.documents();
    let jobs: Vec<&Value> = documents
        .iter()
        .filter(|doc| doc.get("Jobs").is_some())
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["queue"], "a");
    assert_eq!(jobs[0]["Jobs"], json!([1.0, 2.0]));
    let held: Vec<&Value> = documents
        .iter()
        .filter(|doc| doc.get("Held").is_some())
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["Held"], json!(5.0));
    let warnings: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|line| line["level"] != "INFO")
        .collect();
    assert_eq!(warnings, Vec::<Value>::new());
}
