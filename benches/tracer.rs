//! One invocation with five nested `#[instrument]` spans through helve's context and tracer
//! layers, side by side in one run: the tracer off (no span layer, the tracer layer disabled:
//! what a function without the feature runs), on but the invocation not sampled (`Sampled=0`),
//! and sampled (six documents sent by UDP to a socket on 127.0.0.1). Also the bare `send_to`
//! of one document, to tell the tracer's own cost from the system call's.
//!
//! Run with `cargo bench --bench tracer --features tracer`.

mod support;

use std::{convert::Infallible, hint::black_box, net::UdpSocket, sync::Arc};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use helve::{
    Context, Payload, Settings,
    handler::HandlerService,
    layers::{CatchPanicLayer, ContextLayer, TracerLayer},
    tracer::Tracer,
};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use support::{lambda_context, ready};
use tower::{Service, ServiceBuilder};
use tracing_subscriber::layer::SubscriberExt as _;

fn context(sampled: bool) -> lambda_runtime::Context {
    let mut context = lambda_context();
    context.xray_trace_id = Some(format!(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={}",
        u8::from(sampled)
    ));
    context
}

#[tracing::instrument]
fn one(order: u32) -> u32 {
    two(order + 1)
}

#[tracing::instrument]
fn two(order: u32) -> u32 {
    three(order + 1)
}

#[tracing::instrument]
fn three(order: u32) -> u32 {
    four(order + 1)
}

#[tracing::instrument]
fn four(order: u32) -> u32 {
    five(order + 1)
}

#[tracing::instrument]
fn five(order: u32) -> u32 {
    black_box(order)
}

async fn handler(event: Value, _ctx: Context) -> Result<Value, Infallible> {
    black_box(one(1));
    Ok(event)
}

fn bench_tracer(c: &mut Criterion) {
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
    let address = daemon.local_addr().expect("its address").to_string();
    let settings = Settings::from_lookup(Some("bench"), |name| {
        (name == "AWS_XRAY_DAEMON_ADDRESS").then(|| address.clone())
    })
    .expect("valid settings");
    let tracer = Tracer::daemon(&settings)
        .expect("a UDP socket")
        .expect("the tracer is on");
    let json = helve::logging::json_layer_for(&settings, |_: &[u8]| {});

    let service = |layer: TracerLayer| {
        ServiceBuilder::new()
            .layer(ContextLayer::new(settings.clone()))
            .layer(layer)
            .layer(CatchPanicLayer::new())
            .service(HandlerService::new(handler, &()))
    };
    let payload = json!({"order_id": "o-1"});
    let event = |sampled: bool| LambdaEvent::new(Payload(Ok(payload.clone())), context(sampled));

    let mut group = c.benchmark_group("tracer");
    {
        // What `Function` installs with the feature off.
        let subscriber = tracing_subscriber::registry().with(json);
        let _default = tracing::subscriber::set_default(subscriber);
        let mut off = service(TracerLayer::disabled());
        group.bench_function("off", |b| {
            b.iter_batched(
                || event(true),
                |event| ready(off.call(event)),
                BatchSize::SmallInput,
            )
        });
    }
    {
        let subscriber = tracing_subscriber::registry()
            .with(helve::logging::json_layer_for(&settings, |_: &[u8]| {}));
        let _default = tracing::subscriber::set_default(subscriber);
        let mut only = service(TracerLayer::new(Arc::clone(&tracer), "handler", &settings));
        group.bench_function("tracer layer only, not sampled", |b| {
            b.iter_batched(
                || event(false),
                |event| ready(only.call(event)),
                BatchSize::SmallInput,
            )
        });
    }
    {
        let subscriber = helve::tracer::subscriber(&settings, &tracer, |_: &[u8]| {});
        let _default = tracing::subscriber::set_default(subscriber);
        let mut only = service(TracerLayer::disabled());
        group.bench_function("span layer only, not sampled", |b| {
            b.iter_batched(
                || event(false),
                |event| ready(only.call(event)),
                BatchSize::SmallInput,
            )
        });
    }
    // What `Function` installs with the feature on.
    let subscriber = helve::tracer::subscriber(&settings, &tracer, |_: &[u8]| {});
    let _default = tracing::subscriber::set_default(subscriber);
    let mut on = service(TracerLayer::new(Arc::clone(&tracer), "handler", &settings));
    group.bench_function("on, not sampled", |b| {
        b.iter_batched(
            || event(false),
            |event| ready(on.call(event)),
            BatchSize::SmallInput,
        )
    });
    {
        // Off once more, right after: how far the machine drifts between two measurements.
        let subscriber = tracing_subscriber::registry()
            .with(helve::logging::json_layer_for(&settings, |_: &[u8]| {}));
        let _off = tracing::subscriber::set_default(subscriber);
        let mut off = service(TracerLayer::disabled());
        group.bench_function("off, again", |b| {
            b.iter_batched(
                || event(true),
                |event| ready(off.call(event)),
                BatchSize::SmallInput,
            )
        });
    }
    group.bench_function("on, sampled (6 documents sent)", |b| {
        b.iter_batched(
            || event(true),
            |event| ready(on.call(event)),
            BatchSize::SmallInput,
        )
    });
    let sender = UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
    let document = vec![b'x'; 420];
    group.bench_function("send_to of one 420-byte document", |b| {
        b.iter(|| sender.send_to(black_box(&document), &address))
    });
    group.finish();
}

criterion_group!(benches, bench_tracer);
criterion_main!(benches);
