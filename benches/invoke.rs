//! One invocation through helve's whole stack (context, panic safety, event decoding check,
//! error mapping) against the same no-op handler as a bare `tower::service_fn`, side by side.
//!
//! Run with `cargo bench --bench invoke`. Besides criterion's timings it prints the heap
//! allocations of one invocation on each side, counted by a counting global allocator.

mod support;

use std::{convert::Infallible, hint::black_box};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use helve::{Context, Function, Payload, Settings};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use support::{lambda_context, ready};
use tower::Service;

fn traced_context() -> lambda_runtime::Context {
    let mut context = lambda_context();
    context.xray_trace_id = Some(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
    );
    context
}

async fn noop(event: Value, _ctx: Context) -> Result<Value, Infallible> {
    Ok(event)
}

fn bench_invoke(c: &mut Criterion) {
    let payload = json!({"name": "Ada", "qty": 2});
    let bare_event = LambdaEvent::new(payload.clone(), traced_context());
    let helve_event = LambdaEvent::new(Payload(Ok(payload)), traced_context());

    let mut bare =
        tower::service_fn(
            |event: LambdaEvent<Value>| async move { Ok::<_, Diagnostic>(event.payload) },
        );
    let settings = Settings::from_lookup(Some("bench"), |_| None).expect("valid settings");
    let mut stack = Function::new(noop).into_service(settings, &());

    // Warm up, so the context allocation helve reuses exists, then count one invocation each.
    for _ in 0..3 {
        let _ = ready(stack.call(helve_event.clone()));
    }
    let bare_allocs = allocation_counter::measure(|| {
        let event = bare_event.clone();
        black_box(ready(bare.call(event)).ok());
    });
    let helve_allocs = allocation_counter::measure(|| {
        let event = helve_event.clone();
        black_box(ready(stack.call(event)).ok());
    });
    println!(
        "allocations per invocation (event clone included): bare service_fn {} ({} bytes), helve stack {} ({} bytes)",
        bare_allocs.count_total,
        bare_allocs.bytes_total,
        helve_allocs.count_total,
        helve_allocs.bytes_total
    );

    let mut group = c.benchmark_group("invoke");
    group.bench_function("bare service_fn", |b| {
        b.iter_batched(
            || bare_event.clone(),
            |event| ready(bare.call(event)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("helve stack", |b| {
        b.iter_batched(
            || helve_event.clone(),
            |event| ready(stack.call(event)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_invoke);
criterion_main!(benches);
