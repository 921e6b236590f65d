//! One INFO line with three fields through helve's JSON formatter against tracing-subscriber's
//! built-in JSON formatter, side by side; both write to a sink that discards the bytes.
//!
//! Run with `cargo bench --bench logging`.

use std::{convert::Infallible, hint::black_box, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use helve::{Context, Function, Payload, Settings, logging::json_layer_for};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tower::Service;
use tracing_subscriber::layer::SubscriberExt;

fn one_line() {
    tracing::info!(
        order_id = "o-7",
        qty = 3_u64,
        express = true,
        "order accepted"
    );
}

fn bench_logging(c: &mut Criterion) {
    let settings = Settings::from_lookup(Some("orders"), |_| None).expect("valid settings");
    let mut group = c.benchmark_group("one INFO line, three fields");

    let builtin = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(builtin, || {
        group.bench_function("tracing-subscriber json", |b| b.iter(one_line));
    });

    let helve = tracing_subscriber::registry().with(json_layer_for(&settings, |line: &[u8]| {
        black_box(line);
    }));
    tracing::subscriber::with_default(helve, || {
        group.bench_function("helve, outside an invocation", |b| b.iter(one_line));

        // Inside an invocation helve adds the invocation's ten keys to every line.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let mut context = lambda_runtime::Context::default();
        context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
        context.invoked_function_arn =
            "arn:aws:lambda:us-east-1:123456789012:function:orders".to_owned();
        context.xray_trace_id = Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
        );
        let event = LambdaEvent::new(Payload(Ok(json!({}))), context);
        let context = Arc::new(std::sync::Mutex::new(None::<Context>));
        let keep = Arc::clone(&context);
        let mut service = Function::new(move |_: Value, ctx: Context| {
            let keep = Arc::clone(&keep);
            async move {
                *keep.lock().expect("not poisoned") = Some(ctx);
                Ok::<_, Infallible>(())
            }
        })
        .into_service(settings.clone(), &());
        runtime
            .block_on(service.call(event))
            .expect("the invocation succeeds");
        let ctx = context
            .lock()
            .expect("not poisoned")
            .take()
            .expect("a context");
        runtime.block_on(ctx.scope(async {
            group.bench_function("helve, inside an invocation", |b| b.iter(one_line));
        }));
    });
    group.finish();
}

criterion_group!(benches, bench_logging);
criterion_main!(benches);
