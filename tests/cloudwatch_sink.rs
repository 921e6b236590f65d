//! The PutMetricData sink (feature `cloudwatch`), end to end through the real aws-sdk-cloudwatch
//! client: each invocation runs through helve's context and metrics layers, the sink's client
//! sends its real (signed, CBOR-encoded, gzip-compressed when large) requests to the CloudWatch
//! endpoint of `tests/support/cloudwatch.rs` on 127.0.0.1, and each test asserts what arrived.
//!
//! That endpoint is not CloudWatch: it decodes the Smithy RPC v2 CBOR protocol the SDK speaks
//! and answers as CloudWatch does (success, throttling, an internal error), which is what moto
//! cannot do. Against real CloudWatch the sink is the same code with a normal client.

mod support;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use aws_sdk_cloudwatch::{
    Client, Config,
    config::{BehaviorVersion, Credentials, Region, retry::RetryConfig},
};
use helve::{
    Invocation, Options, Payload, Settings,
    layers::{ContextLayer, MetricsLayer},
    metrics::{
        EmfRecorder,
        cloudwatch::{CloudWatchSink, MAX_METRICS_PER_REQUEST, MAX_REQUEST_BYTES, https_client},
        emf::{Resolution, Unit},
    },
};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use support::{Answer, CloudWatch, Datum, PUT_METRIC_DATA_PATH, PutRequest};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;

/// The first retry's backoff; the second is twice as long (the jitter is off in these tests).
const BACKOFF: Duration = Duration::from_millis(200);

/// A client as a function would build one, pointed at `cloudwatch`, with dummy credentials, the
/// SDK's standard retry strategy (3 attempts) and its jitter off, so backoffs can be asserted.
fn client(cloudwatch: &CloudWatch) -> Client {
    let config = Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(cloudwatch.endpoint_url())
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "helve-tests",
        ))
        .http_client(https_client())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(BACKOFF)
                .with_use_static_exponential_base(true),
        )
        .build();
    Client::from_conf(config)
}

/// Settings for the `orders` service in the `Shop` namespace, with these default dimensions
/// and environment.
fn settings(dimensions: &[(&str, &str)], env: &[(&str, &str)]) -> Settings {
    let mut options = Options::default();
    options.service = Some("orders".to_owned());
    options.namespace = Some("Shop".to_owned());
    options.metrics_sink = true;
    options.metric_dimensions = dimensions
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    Settings::resolve(&options, |name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("valid settings")
}

fn epoch_ms(time: SystemTime) -> i64 {
    let elapsed = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(elapsed.as_millis()).expect("in range")
}

/// An invocation of `orders-fn` whose deadline is `timeout` away.
fn event(timeout: Duration) -> LambdaEvent<Payload<Value>> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
    context.deadline = u64::try_from(epoch_ms(SystemTime::now() + timeout)).expect("positive");
    context.env_config = Arc::new(lambda_runtime::Config {
        function_name: "orders-fn".to_owned(),
        memory: 128,
        version: "$LATEST".to_owned(),
        ..lambda_runtime::Config::default()
    });
    LambdaEvent::new(Payload(Ok(json!({}))), context)
}

/// Everything helve logged, one JSON object per line.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("not poisoned").clone();
        String::from_utf8(bytes)
            .expect("UTF-8 logs")
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }

    fn errors(&self) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|line| line["level"] == "ERROR")
            .collect()
    }
}

/// Runs `body` with `recorder` as the `metrics` recorder and helve's JSON logs going to `logs`,
/// on a runtime of its own.
fn run<F: Future>(settings: &Settings, recorder: &EmfRecorder, logs: &Logs, body: F) -> F::Output {
    let bytes = Arc::clone(&logs.0);
    let subscriber = tracing_subscriber::registry().with(helve::logging::json_layer_for(
        settings,
        move |line| {
            bytes.lock().expect("not poisoned").extend_from_slice(line);
        },
    ));
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(recorder, || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(body)
        })
    })
}

/// One invocation through helve's context and metrics layers, publishing through `sink`, of a
/// handler that calls `record`.
async fn invoke(
    settings: &Settings,
    recorder: &EmfRecorder,
    sink: CloudWatchSink,
    event: LambdaEvent<Payload<Value>>,
    record: fn(),
) -> Result<(), Diagnostic> {
    let service = ServiceBuilder::new()
        .layer(ContextLayer::new(settings.clone()))
        .layer(MetricsLayer::with_cloudwatch(
            recorder.clone(),
            settings.metrics().cloned(),
            sink,
        ))
        .service(service_fn(
            move |_: Invocation<Payload<Value>>| async move {
                record();
                Ok::<_, Diagnostic>(())
            },
        ));
    service.oneshot(event).await
}

/// Checks what every request of the sink carries, whatever its metrics.
fn assert_put_metric_data(request: &PutRequest) {
    assert_eq!(request.problem, None, "{request:?}");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, PUT_METRIC_DATA_PATH);
    assert_eq!(request.smithy_protocol.as_deref(), Some("rpc-v2-cbor"));
    assert_eq!(request.content_type.as_deref(), Some("application/cbor"));
    assert!(request.signed, "the request is signed with SigV4");
    assert_eq!(request.namespace, "Shop");
    assert!(request.metric_data.len() <= MAX_METRICS_PER_REQUEST);
    assert!(request.cbor_bytes <= MAX_REQUEST_BYTES);
}

fn dimensions(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn datum(name: &str, dims: &[(&str, &str)], unit: &str) -> Datum {
    Datum {
        name: name.to_owned(),
        dimensions: dimensions(dims),
        timestamp_ms: None,
        value: None,
        values: Vec::new(),
        counts: Vec::new(),
        unit: Some(unit.to_owned()),
        storage_resolution: None,
    }
}

fn record_an_order() {
    metrics::describe_histogram!("Latency", metrics::Unit::Milliseconds, "time to place");
    metrics::counter!("OrdersPlaced").increment(1);
    metrics::counter!("OrdersPlaced").increment(2);
    metrics::gauge!("QueueDepth").set(7.0);
    metrics::gauge!("QueueDepth").set(4.0);
    metrics::gauge!("Throughput").set(512.0);
    metrics::histogram!("Latency").record(12.0);
    metrics::histogram!("Latency").record(15.5);
    metrics::histogram!("Latency").record(12.0);
    metrics::counter!("Refunds", "reason" => "damaged").increment(1);
}

#[test]
fn an_invocation_publishes_its_metrics_with_put_metric_data_when_it_ends() {
    let settings = settings(&[("region", "eu-west-1")], &[]);
    let recorder = EmfRecorder::new();
    recorder.describe_resolution("Latency", Resolution::High);
    recorder.describe_unit("Throughput", Unit::KilobytesPerSecond);
    let logs = Logs::default();
    let (before, after, received) = run(&settings, &recorder, &logs, async {
        let mut cloudwatch = CloudWatch::start().await;
        let sink = CloudWatchSink::new(client(&cloudwatch));
        let before = epoch_ms(SystemTime::now());
        let outcome = invoke(
            &settings,
            &recorder,
            sink,
            event(Duration::from_secs(30)),
            record_an_order,
        )
        .await;
        let after = epoch_ms(SystemTime::now());
        assert!(outcome.is_ok(), "{outcome:?}");
        // The invocation ended only once its metrics were published.
        (before, after, cloudwatch.take_received())
    });
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    assert_put_metric_data(request);
    assert_eq!(request.answer, Answer::Accept);
    let timestamp = request.metric_data[0].timestamp_ms.expect("a timestamp");
    assert!((before..=after).contains(&timestamp), "{timestamp}");
    let mut data = request.metric_data.clone();
    for datum in &mut data {
        assert_eq!(datum.timestamp_ms, Some(timestamp), "one time for all");
        datum.timestamp_ms = None;
    }
    let service = [("service", "orders"), ("region", "eu-west-1")];
    assert_eq!(
        data,
        vec![
            Datum {
                value: Some(1.0),
                ..datum(
                    "ColdStart",
                    &[("function_name", "orders-fn"), ("service", "orders")],
                    "Count"
                )
            },
            Datum {
                value: Some(3.0),
                ..datum("OrdersPlaced", &service, "Count")
            },
            Datum {
                value: Some(4.0),
                ..datum("QueueDepth", &service, "None")
            },
            Datum {
                value: Some(512.0),
                ..datum("Throughput", &service, "Kilobytes/Second")
            },
            Datum {
                values: vec![12.0, 15.5],
                counts: vec![2.0, 1.0],
                storage_resolution: Some(1),
                ..datum("Latency", &service, "Milliseconds")
            },
            Datum {
                value: Some(1.0),
                ..datum(
                    "Refunds",
                    &[
                        ("service", "orders"),
                        ("region", "eu-west-1"),
                        ("reason", "damaged")
                    ],
                    "Count"
                )
            },
        ]
    );
    assert_eq!(logs.errors(), Vec::<Value>::new());
}

fn record_2400_counters_and_a_wide_histogram() {
    for i in 0..2400 {
        metrics::counter!(format!("Counter{i:04}")).increment(1);
    }
    for _ in 0..2 {
        for value in 0..400 {
            metrics::histogram!("BasketSize").record(f64::from(value));
        }
    }
}

#[test]
fn more_than_1000_metrics_go_in_several_requests_within_the_api_limits() {
    let settings = settings(&[], &[]);
    let recorder = EmfRecorder::new();
    let logs = Logs::default();
    let received = run(&settings, &recorder, &logs, async {
        let mut cloudwatch = CloudWatch::start().await;
        let sink = CloudWatchSink::new(client(&cloudwatch));
        let outcome = invoke(
            &settings,
            &recorder,
            sink,
            event(Duration::from_secs(30)),
            record_2400_counters_and_a_wide_histogram,
        )
        .await;
        assert!(outcome.is_ok(), "{outcome:?}");
        cloudwatch.take_received()
    });
    // ColdStart, 2400 counters and BasketSize's 400 distinct values in datums of 150, 150
    // and 100: 2404 datums, sent at once, so in any order.
    let mut sizes: Vec<usize> = received
        .iter()
        .map(|request| request.metric_data.len())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![404, 1000, 1000]);
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut basket: BTreeMap<i64, f64> = BTreeMap::new();
    for request in &received {
        assert_put_metric_data(request);
        assert_eq!(request.answer, Answer::Accept);
        // Large bodies go compressed, as the SDK compresses them for CloudWatch.
        assert_eq!(request.content_encoding.as_deref(), Some("gzip"));
        assert!(request.body_bytes < request.cbor_bytes);
        for datum in &request.metric_data {
            *names.entry(datum.name.clone()).or_default() += 1;
            if datum.name == "BasketSize" {
                assert!(datum.values.len() <= 150);
                assert_eq!(datum.values.len(), datum.counts.len());
                for (value, count) in datum.values.iter().zip(&datum.counts) {
                    *basket.entry(*value as i64).or_default() += count;
                }
            }
        }
    }
    assert_eq!(names.len(), 2402);
    assert_eq!(names["BasketSize"], 3);
    assert!(
        names
            .iter()
            .all(|(name, count)| name == "BasketSize" || *count == 1)
    );
    assert_eq!(basket, (0..400).map(|value| (value, 2.0)).collect());
    assert_eq!(logs.errors(), Vec::<Value>::new());
}

fn record_100_counters() {
    for i in 0..100 {
        metrics::counter!(format!("Wide{i:03}")).increment(1);
    }
}

#[test]
fn metrics_with_30_long_dimensions_are_split_to_stay_under_1_mb_per_request() {
    // `service` and 29 default dimensions with the longest keys and values EMF allows: about
    // 38 KB a datum, so about 25 datums to the megabyte.
    let keys: Vec<String> = (0..29).map(|i| format!("{i:0>250}")).collect();
    let value = "v".repeat(1024);
    let pairs: Vec<(&str, &str)> = keys
        .iter()
        .map(|key| (key.as_str(), value.as_str()))
        .collect();
    let settings = settings(&pairs, &[]);
    let recorder = EmfRecorder::new();
    let logs = Logs::default();
    let received = run(&settings, &recorder, &logs, async {
        let mut cloudwatch = CloudWatch::start().await;
        let sink = CloudWatchSink::new(client(&cloudwatch));
        let outcome = invoke(
            &settings,
            &recorder,
            sink,
            event(Duration::from_secs(30)),
            record_100_counters,
        )
        .await;
        assert!(outcome.is_ok(), "{outcome:?}");
        cloudwatch.take_received()
    });
    assert!(received.len() >= 4, "{} requests", received.len());
    let mut wide = 0;
    for request in &received {
        assert_put_metric_data(request);
        for datum in &request.metric_data {
            if datum.name.starts_with("Wide") {
                assert_eq!(datum.dimensions.len(), 30);
                wide += 1;
            }
        }
    }
    assert_eq!(wide, 100);
    let largest = received
        .iter()
        .map(|request| request.cbor_bytes)
        .max()
        .unwrap_or(0);
    assert!(
        largest > MAX_REQUEST_BYTES / 2,
        "requests are filled, not split one datum each: {largest} bytes"
    );
    assert_eq!(logs.errors(), Vec::<Value>::new());
}

fn record_one_counter() {
    metrics::counter!("Retried").increment(1);
}

#[test]
fn throttling_and_a_500_are_retried_with_backoff() {
    let settings = settings(&[], &[]);
    let recorder = EmfRecorder::new();
    let logs = Logs::default();
    let received = run(&settings, &recorder, &logs, async {
        let mut cloudwatch =
            CloudWatch::answering_first(&[Answer::Throttling, Answer::InternalError]).await;
        let sink = CloudWatchSink::new(client(&cloudwatch));
        let outcome = invoke(
            &settings,
            &recorder,
            sink,
            event(Duration::from_secs(30)),
            record_one_counter,
        )
        .await;
        assert!(outcome.is_ok(), "{outcome:?}");
        cloudwatch.take_received()
    });
    let answers: Vec<Answer> = received.iter().map(|request| request.answer).collect();
    assert_eq!(
        answers,
        vec![Answer::Throttling, Answer::InternalError, Answer::Accept]
    );
    let attempts: Vec<&str> = received
        .iter()
        .map(|request| request.sdk_request.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        attempts,
        vec!["attempt=1; max=3", "attempt=2; max=3", "attempt=3; max=3"]
    );
    for request in &received {
        assert_put_metric_data(request);
        // The same call, the same metrics.
        assert_eq!(request.invocation_id, received[0].invocation_id);
        assert_eq!(request.metric_data, received[0].metric_data);
    }
    // Exponential backoff: at least 200 ms, then at least 400 ms.
    let first_wait = received[1].at - received[0].at;
    let second_wait = received[2].at - received[1].at;
    assert!(first_wait >= BACKOFF, "{first_wait:?}");
    assert!(second_wait >= 2 * BACKOFF, "{second_wait:?}");
    assert_eq!(logs.errors(), Vec::<Value>::new());
}

#[test]
fn a_request_that_keeps_failing_is_logged_and_the_invocation_still_succeeds() {
    let settings = settings(&[], &[]);
    let recorder = EmfRecorder::new();
    let logs = Logs::default();
    let received = run(&settings, &recorder, &logs, async {
        let mut cloudwatch = CloudWatch::answering_first(&[Answer::InternalError; 3]).await;
        let sink = CloudWatchSink::new(client(&cloudwatch));
        let outcome = invoke(
            &settings,
            &recorder,
            sink,
            event(Duration::from_secs(30)),
            record_one_counter,
        )
        .await;
        assert!(outcome.is_ok(), "{outcome:?}");
        cloudwatch.take_received()
    });
    assert_eq!(received.len(), 3, "every attempt the client allows");
    let errors = logs.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["datums"], 2, "ColdStart and Retried");
    assert_eq!(
        errors[0]["message"],
        "metrics not published to CloudWatch: PutMetricData failed: InternalServiceError \
         (HTTP 500): Internal service error"
    );
    assert_eq!(
        errors[0]["function_request_id"],
        "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
    );
}

#[test]
fn publishing_gives_up_before_the_deadline() {
    let settings = settings(&[], &[]);
    let recorder = EmfRecorder::new();
    let logs = Logs::default();
    let timeout = Duration::from_secs(2);
    let (received, ended, deadline) = run(&settings, &recorder, &logs, async {
        let mut cloudwatch = CloudWatch::answering_first(&[Answer::Hang]).await;
        let sink = CloudWatchSink::new(client(&cloudwatch));
        let deadline = Instant::now() + timeout;
        let outcome = invoke(
            &settings,
            &recorder,
            sink,
            event(timeout),
            record_one_counter,
        )
        .await;
        let ended = Instant::now();
        assert!(outcome.is_ok(), "{outcome:?}");
        (cloudwatch.take_received(), ended, deadline)
    });
    assert_eq!(received.len(), 1);
    assert!(
        ended < deadline,
        "the invocation must end before its deadline, margin kept"
    );
    let errors = logs.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["requests"], 1);
    let message = errors[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("were abandoned"), "{message}");
}

#[test]
fn powertools_metrics_disabled_publishes_nothing() {
    let settings = settings(&[], &[("POWERTOOLS_METRICS_DISABLED", "true")]);
    assert!(settings.metrics().is_none());
    let recorder = EmfRecorder::new();
    let logs = Logs::default();
    let received = run(&settings, &recorder, &logs, async {
        let mut cloudwatch = CloudWatch::start().await;
        let sink = CloudWatchSink::new(client(&cloudwatch));
        let outcome = invoke(
            &settings,
            &recorder,
            sink,
            event(Duration::from_secs(30)),
            record_an_order,
        )
        .await;
        assert!(outcome.is_ok(), "{outcome:?}");
        cloudwatch.take_received()
    });
    assert!(received.is_empty(), "{received:?}");
}

#[test]
fn an_invocation_dropped_before_it_ends_still_publishes_what_it_recorded() {
    let settings = settings(&[], &[]);
    let recorder = EmfRecorder::new();
    let logs = Logs::default();
    let received = run(&settings, &recorder, &logs, async {
        let mut cloudwatch = CloudWatch::start().await;
        let sink = CloudWatchSink::new(client(&cloudwatch));
        let service = ServiceBuilder::new()
            .layer(ContextLayer::new(settings.clone()))
            .layer(MetricsLayer::with_cloudwatch(
                recorder.clone(),
                settings.metrics().cloned(),
                sink,
            ))
            .service(service_fn(|_: Invocation<Payload<Value>>| async {
                metrics::counter!("Started").increment(1);
                std::future::pending::<Result<(), Diagnostic>>().await
            }));
        let invocation = service.oneshot(event(Duration::from_secs(30)));
        // The invocation is dropped (as at shutdown) while the handler still runs.
        let dropped = tokio::time::timeout(Duration::from_millis(50), invocation).await;
        assert!(dropped.is_err(), "the handler never ends");
        cloudwatch.next().await
    });
    assert_put_metric_data(&received);
    let names: Vec<&str> = received
        .metric_data
        .iter()
        .map(|datum| datum.name.as_str())
        .collect();
    assert_eq!(names, vec!["ColdStart", "Started"]);
}
