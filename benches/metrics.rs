//! Flushing one invocation's metrics as EMF: helve's `MetricsLayer` against
//! `metrics_cloudwatch_embedded`'s `Collector::flush`, on the same input, side by side.
//!
//! Run with `cargo bench --bench metrics`. Three cases, each a criterion group `flush, <case>`
//! with both sides: nothing recorded (the baseline: what the rest costs), 10 counters with the
//! same 2 labels, and 100 counters without labels. In the last two cases each side writes one
//! EMF document per invocation, with the namespace `Shop` and the dimension `service=orders`
//! first; the bench prints what each side writes for one invocation before timing it. The groups
//! `record only, <case>` run the same invocations without writing anything, which tells the
//! cost of recording from the cost of writing.
//!
//! What one iteration includes, on each side (the event is cloned outside the timing):
//!
//! - **helve**: one call through `ContextLayer` (the invocation's `Context`, task-local scopes)
//!   and `MetricsLayer` (the invocation's collector) to a `tower::service_fn` handler that
//!   records the metrics through the `metrics` facade into an `EmfRecorder` (installed with
//!   `metrics::with_local_recorder`); when the invocation ends, `MetricsLayer` writes the EMF
//!   documents, one `&[u8]` line each, to a writer that only `black_box`es them. A warm-up call
//!   takes the cold start, whose ColdStart document is not measured.
//! - **metrics_cloudwatch_embedded**: one call to a bare `tower::service_fn` handler with the
//!   same body, recording into its global recorder (`Builder::init` installs it with
//!   `metrics::set_global_recorder`; the crate gives out its recorder in no other way), then
//!   `Collector::flush` to an `io::Write` that only `black_box`es what it is given. Its lambda
//!   layer (the `lambda` feature) is not used, so no cold-start metric, request id or
//!   task-local is involved.
//!
//! Both sides register each metric with the facade on every call (the `counter!` macro with a
//! non-literal name), as a handler recording through the macros does.
//!
//! The groups `emf write, <case>` time `MetricSet::write` alone, without a layer or the facade,
//! on a set built once (`write`) and on one built for each iteration (`build and write`): the
//! baseline of what writing the documents costs.

mod support;

use std::{
    hint::black_box,
    io,
    sync::{Arc, LazyLock, Mutex},
};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use helve::{
    Invocation, MetricsConfig, Options, Payload, Settings,
    layers::{ContextLayer, MetricsLayer},
    metrics::{
        EmfRecorder,
        emf::{MetricSet, Namespace, Resolution, Unit},
    },
};
use lambda_runtime::{Diagnostic, LambdaEvent};
use metrics_cloudwatch_embedded::Collector;
use serde_json::{Value, json};
use support::ready;
use tower::{Service, ServiceBuilder, service_fn};

/// The ten counters of the first case, each recorded with the same two labels.
const TEN: [&str; 10] = [
    "OrdersPlaced",
    "OrdersShipped",
    "OrdersCancelled",
    "ItemsAdded",
    "ItemsRemoved",
    "CouponsApplied",
    "PaymentsAccepted",
    "PaymentsDeclined",
    "EmailsSent",
    "InvoicesIssued",
];

/// The hundred counters of the second case.
static HUNDRED: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..100).map(|i| format!("Metric{i:02}")).collect());

/// One case: its name, what its handler records, and whether it is run with the flush, and
/// also without it (pointless when nothing is recorded).
struct Case {
    name: &'static str,
    record: fn(),
    flushes: &'static [bool],
}

fn record_nothing() {}

fn record_ten_with_two_dimensions() {
    for name in TEN {
        metrics::counter!(name, "region" => "eu-west-1", "tier" => "gold").increment(1);
    }
}

fn record_hundred() {
    for name in HUNDRED.iter() {
        metrics::counter!(name.as_str()).increment(1);
    }
}

fn lambda_context() -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
    context.deadline = 4_102_444_800_000;
    context.invoked_function_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:orders".to_owned();
    context
}

fn settings() -> Settings {
    let mut options = Options::default();
    options.service = Some("orders".into());
    options.namespace = Some("Shop".into());
    Settings::resolve(&options, |_| None).expect("valid settings")
}

/// helve's stack: context, metrics (written to a writer that discards them, or not written
/// without `config`), and a handler calling `record`.
fn helve_stack(
    settings: &Settings,
    recorder: &EmfRecorder,
    config: Option<MetricsConfig>,
    record: fn(),
) -> impl Service<LambdaEvent<Payload<Value>>, Response = (), Error = Diagnostic> {
    helve_stack_writing_to(settings, recorder, config, record, |line: &[u8]| {
        black_box(line);
    })
}

/// helve's stack, writing each document to `write`.
fn helve_stack_writing_to(
    settings: &Settings,
    recorder: &EmfRecorder,
    config: Option<MetricsConfig>,
    record: fn(),
    write: impl Fn(&[u8]) + Send + Sync + 'static,
) -> impl Service<LambdaEvent<Payload<Value>>, Response = (), Error = Diagnostic> {
    ServiceBuilder::new()
        .layer(ContextLayer::new(settings.clone()))
        .layer(MetricsLayer::with_writer(recorder.clone(), config, write))
        .service(service_fn(
            move |_: Invocation<Payload<Value>>| async move {
                record();
                Ok::<_, Diagnostic>(())
            },
        ))
}

/// The same handler as a bare service, for metrics_cloudwatch_embedded.
fn bare_handler(
    record: fn(),
) -> impl Service<LambdaEvent<Value>, Response = (), Error = Diagnostic> {
    service_fn(move |_: LambdaEvent<Value>| async move {
        record();
        Ok::<_, Diagnostic>(())
    })
}

/// An `io::Write` that discards what it is given, as helve's writer does.
struct Discard;

impl io::Write for Discard {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        black_box(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Prints what each side writes for one warm invocation of a case.
fn print_output(
    case: &str,
    settings: &Settings,
    collector: &Collector,
    helve_event: &LambdaEvent<Payload<Value>>,
    bare_event: &LambdaEvent<Value>,
    record: fn(),
) {
    let written = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&written);
    let recorder = EmfRecorder::new();
    let mut helve = helve_stack_writing_to(
        settings,
        &recorder,
        settings.metrics().cloned(),
        record,
        move |line: &[u8]| sink.lock().expect("not poisoned").extend_from_slice(line),
    );
    metrics::with_local_recorder(&recorder, || {
        ready(helve.call(helve_event.clone())).expect("the warm-up succeeds");
        written.lock().expect("not poisoned").clear();
        ready(helve.call(helve_event.clone())).expect("the invocation succeeds");
    });
    let helve_output = std::mem::take(&mut *written.lock().expect("not poisoned"));

    let mut bare = bare_handler(record);
    let mut embedded_output = Vec::new();
    ready(bare.call(bare_event.clone())).expect("the invocation succeeds");
    collector
        .flush(&mut embedded_output)
        .expect("a Vec takes every byte");

    for (side, output) in [
        ("helve", helve_output),
        ("metrics_cloudwatch_embedded", embedded_output),
    ] {
        let text = String::from_utf8_lossy(&output);
        let first = text.lines().next().unwrap_or("");
        let shown: String = first.chars().take(220).collect();
        println!(
            "{case}: {side} writes {} documents, {} bytes; the first: {shown}{}",
            text.lines().count(),
            output.len(),
            if first.len() > shown.len() { "..." } else { "" }
        );
    }
}

fn bench_flush(c: &mut Criterion) {
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace("Shop")
        .with_dimension("service", "orders")
        .init()
        .expect("the only global recorder");
    // Without a unit it writes none, where helve writes `Count`: described, both sides write
    // the same documents (but for the order of keys, and `1` where helve writes `1.0`).
    for name in TEN.into_iter().chain(HUNDRED.iter().map(String::as_str)) {
        metrics::describe_counter!(name, metrics::Unit::Count, "");
    }
    let settings = settings();
    let payload = json!({"order_id": "o-7", "qty": 3});
    let helve_event = LambdaEvent::new(Payload(Ok(payload.clone())), lambda_context());
    let bare_event = LambdaEvent::new(payload, lambda_context());

    let cases = [
        Case {
            name: "nothing recorded",
            record: record_nothing,
            flushes: &[true],
        },
        Case {
            name: "10 metrics x 2 dimensions",
            record: record_ten_with_two_dimensions,
            flushes: &[true, false],
        },
        Case {
            name: "100 metrics",
            record: record_hundred,
            flushes: &[true, false],
        },
    ];
    for Case {
        name: case,
        record,
        flushes,
    } in cases
    {
        // Also the warm-up of metrics_cloudwatch_embedded, which registers each metric for
        // good: its flush walks every metric registered so far, so the 100-metric case also
        // walks (and skips, as unchanged) the ten counters of the case before.
        print_output(
            case,
            &settings,
            collector,
            &helve_event,
            &bare_event,
            record,
        );
        // Record and flush, then record only: the second tells the two costs apart.
        for &flush in flushes {
            let name = if flush {
                format!("flush, {case}")
            } else {
                format!("record only, {case}")
            };
            let mut group = c.benchmark_group(name);

            // Without a metrics configuration, `MetricsLayer` still gives the invocation its
            // collector, and writes nothing.
            let recorder = EmfRecorder::new();
            let mut helve = helve_stack(
                &settings,
                &recorder,
                settings.metrics().filter(|_| flush).cloned(),
                record,
            );
            metrics::with_local_recorder(&recorder, || {
                // The first invocation is the cold start, which also writes ColdStart: not
                // measured.
                ready(helve.call(helve_event.clone())).expect("the warm-up succeeds");
                group.bench_function("helve", |b| {
                    b.iter_batched(
                        || helve_event.clone(),
                        |event| ready(helve.call(event)),
                        BatchSize::SmallInput,
                    )
                });
            });

            let mut bare = bare_handler(record);
            group.bench_function("metrics_cloudwatch_embedded", |b| {
                b.iter_batched(
                    || bare_event.clone(),
                    |event| {
                        let response = ready(bare.call(event));
                        if flush {
                            collector.flush(Discard).expect("Discard takes every byte");
                        }
                        response
                    },
                    BatchSize::SmallInput,
                )
            });
            group.finish();
        }
        // What "record only" added up, so that the next case starts from zero.
        collector
            .flush(io::sink())
            .expect("a sink takes every byte");
    }
}

/// The timestamp every `emf write` document carries.
const TS: u64 = 1_700_000_000_000;

/// Ten metrics with two dimensions, each with one value.
fn set_of_ten_with_two_dimensions() -> MetricSet {
    let mut set = MetricSet::new(Namespace::new("Shop").expect("a valid namespace"));
    set.dimension("service", "orders")
        .expect("a valid dimension");
    set.dimension("region", "eu-west-1")
        .expect("a valid dimension");
    for i in 0..10 {
        set.metric(
            &format!("metric_{i}"),
            Unit::Milliseconds,
            Resolution::Standard,
            12.5,
        )
        .expect("a valid metric");
    }
    set
}

/// A hundred metrics with one dimension, each with one value.
fn set_of_hundred_with_one_dimension() -> MetricSet {
    let mut set = MetricSet::new(Namespace::new("Shop").expect("a valid namespace"));
    set.dimension("service", "orders")
        .expect("a valid dimension");
    for i in 0..100 {
        set.metric(
            &format!("metric_{i}"),
            Unit::Count,
            Resolution::Standard,
            1.0,
        )
        .expect("a valid metric");
    }
    set
}

/// A named way to build the set a write benchmark writes.
type WriteCase = (&'static str, fn() -> MetricSet);

/// `MetricSet::write` alone: on a set built once, and on a set built for each write.
fn bench_write(c: &mut Criterion) {
    let cases: [WriteCase; 2] = [
        ("10 metrics x 2 dimensions", set_of_ten_with_two_dimensions),
        (
            "100 metrics x 1 dimension",
            set_of_hundred_with_one_dimension,
        ),
    ];
    for (case, build) in cases {
        let mut group = c.benchmark_group(format!("emf write, {case}"));
        let set = build();
        group.bench_function("write", |b| {
            b.iter(|| {
                black_box(&set).write(TS, &mut |line| {
                    black_box(line);
                })
            })
        });
        group.bench_function("build and write", |b| {
            b.iter(|| {
                let set = build();
                black_box(&set).write(TS, &mut |line| {
                    black_box(line);
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_flush, bench_write);
criterion_main!(benches);
