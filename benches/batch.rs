//! Batches: a 10,000-record SQS batch through helve's batch handler against the same work done
//! by hand on `aws_lambda_events` types, side by side (helve's overhead per record); and
//! 1,000 records that each wait 5 ms, at concurrency 64, against the ideal time and against
//! the same sleeps with no batch handling (the floor tokio's timer sets).
//!
//! Run with `cargo bench --bench batch --features batch`.

use std::{hint::black_box, time::Duration};

use aws_lambda_events::event::sqs::SqsEvent;
use criterion::{Criterion, criterion_group, criterion_main};
use helve::{
    Context, Handler,
    batch::{BatchResponse, RawBatch, SqsMessage, batch},
};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
struct Job {
    id: String,
    steps: u32,
}

fn sqs_batch(records: usize) -> Vec<u8> {
    let records: Vec<_> = (0..records)
        .map(|n| {
            json!({
                "messageId": format!("2e1424d4-f796-459a-8184-9c92662b{n:04}"),
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": json!({"id": format!("job-{n}"), "steps": 3}).to_string(),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082649185"
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "Records": records })).expect("the batch serializes")
}

async fn noop(message: SqsMessage<Job>, _ctx: Context) -> Result<(), helve::Error> {
    black_box(message.body().steps);
    Ok(())
}

async fn sleepy(message: SqsMessage<Job>, _ctx: Context) -> Result<(), helve::Error> {
    black_box(&message.body().id);
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(())
}

/// The same work without helve: decode the event, decode each body, call the handler, answer.
async fn by_hand(bytes: &[u8]) -> Vec<u8> {
    let event: SqsEvent = serde_json::from_slice(bytes).expect("an SQS event");
    let mut failures = Vec::new();
    for message in event.records {
        let id = message.message_id.unwrap_or_default();
        let body = message.body.unwrap_or_default();
        match serde_json::from_str::<Job>(&body) {
            Ok(job) => {
                black_box(job.steps);
            }
            Err(_) => failures.push(json!({ "itemIdentifier": id })),
        }
    }
    serde_json::to_vec(&json!({ "batchItemFailures": failures })).expect("the answer serializes")
}

fn context() -> Context {
    Context::builder().timeout(Duration::from_secs(900)).build()
}

fn bench_overhead(c: &mut Criterion) {
    const RECORDS: usize = 10_000;
    let bytes = sqs_batch(RECORDS);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let handler = batch(noop);
    let helve = || async {
        let raw: RawBatch = serde_json::from_slice(&bytes).expect("a batch");
        let response: BatchResponse =
            Handler::<RawBatch, (), _>::call(&handler, raw, context(), &())
                .await
                .expect("the batch succeeds");
        serde_json::to_vec(&response).expect("the answer serializes")
    };
    assert_eq!(
        runtime.block_on(helve()),
        runtime.block_on(by_hand(&bytes)),
        "both sides answer the same"
    );

    let mut group = c.benchmark_group("sqs batch of 10,000 records");
    group.sample_size(20);
    group.bench_function("by hand on aws_lambda_events", |b| {
        b.iter(|| runtime.block_on(by_hand(black_box(&bytes))))
    });
    group.bench_function("helve batch handler", |b| {
        b.iter(|| runtime.block_on(helve()))
    });
    group.finish();
}

fn bench_concurrency(c: &mut Criterion) {
    const RECORDS: usize = 1_000;
    const CONCURRENCY: usize = 64;
    let bytes = sqs_batch(RECORDS);
    // Lambda runs helve on a multi-threaded runtime (`Function::run`).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let handler = batch(sleepy).concurrency(CONCURRENCY);
    let ideal = Duration::from_millis(5).mul_f64(RECORDS as f64 / CONCURRENCY as f64);
    println!("ideal time for {RECORDS} records of 5 ms at concurrency {CONCURRENCY}: {ideal:?}");

    let mut group = c.benchmark_group("1,000 records of 5 ms at concurrency 64");
    group.sample_size(10);
    // The floor: the same sleeps, 64 at a time, with no batch handling at all. tokio's timer
    // has a 1 ms resolution, so each 5 ms sleep takes a little longer than 5 ms.
    group.bench_function("bare buffer_unordered(64) of the sleeps", |b| {
        b.iter(|| {
            runtime.block_on(async {
                use futures_util::StreamExt as _;
                futures_util::stream::iter(0..RECORDS)
                    .map(|n| async move {
                        black_box(n);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    })
                    .buffer_unordered(CONCURRENCY)
                    .count()
                    .await
            })
        })
    });
    group.bench_function("helve batch handler", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let raw: RawBatch = serde_json::from_slice(&bytes).expect("a batch");
                Handler::<RawBatch, (), _>::call(&handler, raw, context(), &())
                    .await
                    .expect("the batch succeeds")
            })
        })
    });
    // lambda_runtime decodes the event before it calls the handler: the same, from there.
    group.bench_function("helve batch handler, from the decoded event", |b| {
        b.iter_batched(
            || serde_json::from_slice::<RawBatch>(&bytes).expect("a batch"),
            |raw| {
                runtime.block_on(async {
                    Handler::<RawBatch, (), _>::call(&handler, raw, context(), &())
                        .await
                        .expect("the batch succeeds")
                })
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_overhead, bench_concurrency);
criterion_main!(benches);
