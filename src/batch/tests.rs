//! How a batch runs: which records fail, in which order records run, what the deadline does,
//! and, over random batches, that no record is ever lost.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use aws_lambda_events::event::sqs::SqsMessage as RawSqsMessage;
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::validation::ValidationErrors;

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
struct Job {
    n: usize,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    sleep_ms: u64,
}

/// What the handler saw: the order records ran in, and how many ran at once.
#[derive(Debug, Default)]
struct Seen {
    started: Vec<usize>,
    succeeded: HashSet<usize>,
    running: usize,
    most_at_once: usize,
    correlation_ids: Vec<(usize, String)>,
}

type Shared = Arc<Mutex<Seen>>;

/// What a test handler's call returns.
type Call = Pin<Box<dyn Future<Output = Result<(), crate::Error>> + Send>>;

/// A changed DynamoDB item: the event name, the new and the old quantity.
type Change = (String, Option<u32>, Option<u32>);

fn lock(seen: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A handler that records what it does, then does what the job says: `ok`, `err`, `panic`.
fn recording(
    seen: Shared,
) -> impl Fn(SqsMessage<Job>, Context) -> Call + Clone + Send + Sync + 'static {
    move |message: SqsMessage<Job>, ctx: Context| {
        let seen = Arc::clone(&seen);
        Box::pin(async move {
            let job = message.into_body();
            {
                let mut seen = lock(&seen);
                seen.started.push(job.n);
                seen.running += 1;
                seen.most_at_once = seen.most_at_once.max(seen.running);
                let correlation = crate::context()
                    .map(|current| current.correlation_id().to_owned())
                    .unwrap_or_default();
                assert_eq!(correlation, ctx.correlation_id());
                seen.correlation_ids.push((job.n, correlation));
            }
            tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
            lock(&seen).running -= 1;
            match job.outcome.as_str() {
                "err" => Err(crate::Error::msg(format!("job {} failed", job.n))),
                "panic" => panic!("job {} panicked", job.n),
                _ => {
                    lock(&seen).succeeded.insert(job.n);
                    Ok(())
                }
            }
        })
    }
}

fn sqs_record(n: usize, body: &str, group: Option<&str>, fifo: bool) -> Value {
    let mut attributes = json!({"ApproximateReceiveCount": "1"});
    if let Some(group) = group {
        attributes["MessageGroupId"] = json!(group);
    }
    let queue = if fifo { "jobs.fifo" } else { "jobs" };
    json!({
        "messageId": format!("m-{n}"),
        "receiptHandle": "AQEB",
        "body": body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:eu-west-1:123456789012:{queue}"),
        "awsRegion": "eu-west-1"
    })
}

/// Standard-queue records whose jobs succeed after `sleep_ms`.
fn ok_records(numbers: impl IntoIterator<Item = usize>, sleep_ms: u64) -> Vec<Value> {
    numbers
        .into_iter()
        .map(|n| sqs_record(n, &job(n, "ok", sleep_ms), None, false))
        .collect()
}

fn job(n: usize, outcome: &str, sleep_ms: u64) -> String {
    json!({"n": n, "outcome": outcome, "sleep_ms": sleep_ms}).to_string()
}

fn raw_batch(records: Vec<Value>) -> RawBatch {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

async fn run_batch<H, R, M>(
    handler: BatchHandler<H, R>,
    records: Vec<Value>,
    timeout: Duration,
) -> Result<BatchResponse, BatchError>
where
    R: Record,
    H: Handler<R, (), M>,
    H::Response: RecordResponse,
    M: 'static,
{
    let context = Context::builder().timeout(timeout).build();
    engine::run(handler, raw_batch(records), context, &()).await
}

fn failures(response: &BatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect()
}

const LONG: Duration = Duration::from_secs(900);

#[tokio::test(start_paused = true)]
async fn records_that_fail_are_reported_and_the_others_succeed() {
    let seen = Shared::default();
    let records = vec![
        sqs_record(0, &job(0, "ok", 0), None, false),
        sqs_record(1, &job(1, "err", 0), None, false),
        sqs_record(2, "{not json", None, false),
        sqs_record(3, &json!({"n": "three"}).to_string(), None, false),
        sqs_record(4, &job(4, "panic", 0), None, false),
        sqs_record(5, &job(5, "ok", 0), None, false),
    ];
    let response = run_batch(batch(recording(Arc::clone(&seen))), records, LONG)
        .await
        .unwrap();
    assert_eq!(failures(&response), ["m-1", "m-2", "m-3", "m-4"]);
    assert_eq!(lock(&seen).succeeded, HashSet::from([0, 5]));
}

#[tokio::test(start_paused = true)]
async fn records_that_fail_are_reported_and_the_others_succeed_when_records_run_at_once() {
    let seen = Shared::default();
    let records = vec![
        sqs_record(0, &job(0, "ok", 0), None, false),
        sqs_record(1, &job(1, "err", 3), None, false),
        sqs_record(2, "{not json", None, false),
        sqs_record(3, &json!({"n": "three"}).to_string(), None, false),
        sqs_record(4, &job(4, "panic", 2), None, false),
        sqs_record(5, &job(5, "ok", 1), None, false),
        sqs_record(6, &job(6, "panic", 0), None, false),
        sqs_record(7, &job(7, "ok", 0), None, false),
    ];
    let response = run_batch(
        batch(recording(Arc::clone(&seen))).concurrency(3),
        records,
        LONG,
    )
    .await
    .unwrap();
    assert_eq!(failures(&response), ["m-1", "m-2", "m-3", "m-4", "m-6"]);
    assert_eq!(lock(&seen).succeeded, HashSet::from([0, 5, 7]));
}

/// A body whose decoding panics when `n` is 13.
#[derive(Debug)]
struct Touchy(usize);

impl<'de> Deserialize<'de> for Touchy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let job = Job::deserialize(deserializer)?;
        if job.n == 13 {
            panic!("thirteen is unlucky");
        }
        Ok(Touchy(job.n))
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_whose_decoding_panics_fails_alone() {
    for concurrency in [1, 4] {
        let records = ok_records([12, 13, 14], 1);
        let handled = Arc::new(Mutex::new(Vec::new()));
        let handler = {
            let handled = Arc::clone(&handled);
            move |message: SqsMessage<Touchy>, _ctx: Context| {
                handled.lock().unwrap().push(message.body().0);
                async { Ok::<(), crate::Error>(()) }
            }
        };
        let response = run_batch(batch(handler).concurrency(concurrency), records, LONG)
            .await
            .unwrap();
        assert_eq!(failures(&response), ["m-13"], "concurrency {concurrency}");
        assert_eq!(*handled.lock().unwrap(), [12, 14]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_whose_validation_or_handler_call_panics_fails_alone() {
    fn unlucky(job: &Job) -> Result<(), ValidationErrors> {
        assert!(job.n != 13, "thirteen is unlucky");
        Ok(())
    }
    for concurrency in [1, 4] {
        let records = || ok_records([12, 13, 14], 1);
        let seen = Shared::default();
        let response = run_batch(
            batch(recording(Arc::clone(&seen)))
                .concurrency(concurrency)
                .validate_with(unlucky),
            records(),
            LONG,
        )
        .await
        .unwrap();
        assert_eq!(failures(&response), ["m-13"], "concurrency {concurrency}");
        assert_eq!(lock(&seen).succeeded, HashSet::from([12, 14]));

        // A closure that panics before it returns its future.
        let handler = |message: SqsMessage<Job>, _ctx: Context| {
            assert!(message.body().n != 13, "thirteen is unlucky");
            async { Ok::<(), crate::Error>(()) }
        };
        let response = run_batch(batch(handler).concurrency(concurrency), records(), LONG)
            .await
            .unwrap();
        assert_eq!(failures(&response), ["m-13"], "concurrency {concurrency}");
    }
}

#[tokio::test(start_paused = true)]
async fn near_the_deadline_records_decoded_ahead_do_not_start() {
    let seen = Shared::default();
    let records = ok_records(0..10, 400);
    // Two at a time, 2 s to live, a 500 ms margin: 0 to 5 finish by 1.2 s, 6 and 7 are
    // stopped at 1.5 s, 8 and 9 (decoded while the others waited) never start.
    let response = run_batch(
        batch(recording(Arc::clone(&seen))).concurrency(2),
        records,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(failures(&response), ["m-6", "m-7", "m-8", "m-9"]);
    assert_eq!(lock(&seen).succeeded, HashSet::from([0, 1, 2, 3, 4, 5]));
    assert_eq!(lock(&seen).started, [0, 1, 2, 3, 4, 5, 6, 7]);
}

#[tokio::test(start_paused = true)]
async fn each_record_runs_with_its_own_correlation_id() {
    let seen = Shared::default();
    let records = ok_records(0..3, 0);
    run_batch(batch(recording(Arc::clone(&seen))), records, LONG)
        .await
        .unwrap();
    assert_eq!(
        lock(&seen).correlation_ids,
        [
            (0, "m-0".to_owned()),
            (1, "m-1".to_owned()),
            (2, "m-2".to_owned())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_standard_queue_runs_up_to_the_concurrency_at_once() {
    let seen = Shared::default();
    let records = ok_records(0..20, 10);
    run_batch(
        batch(recording(Arc::clone(&seen))).concurrency(4),
        records,
        LONG,
    )
    .await
    .unwrap();
    assert_eq!(lock(&seen).most_at_once, 4);
    assert_eq!(lock(&seen).succeeded.len(), 20);
}

#[tokio::test(start_paused = true)]
async fn a_fifo_batch_stops_its_message_group_at_the_first_failure() {
    let seen = Shared::default();
    let records = vec![
        sqs_record(0, &job(0, "ok", 5), Some("a"), true),
        sqs_record(1, &job(1, "ok", 1), Some("b"), true),
        sqs_record(2, &job(2, "err", 1), Some("a"), true),
        sqs_record(3, &job(3, "ok", 1), Some("b"), true),
        sqs_record(4, &job(4, "ok", 1), Some("a"), true),
        sqs_record(5, &job(5, "ok", 1), Some("a"), true),
    ];
    let response = run_batch(
        batch(recording(Arc::clone(&seen))).concurrency(2),
        records,
        LONG,
    )
    .await
    .unwrap();
    assert_eq!(failures(&response), ["m-2", "m-4", "m-5"]);
    let seen = lock(&seen);
    assert_eq!(seen.succeeded, HashSet::from([0, 1, 3]));
    assert!(!seen.started.contains(&4) && !seen.started.contains(&5));
    let group_a: Vec<_> = seen.started.iter().filter(|n| [0, 2].contains(n)).collect();
    assert_eq!(group_a, [&0, &2], "a group runs in order");
}

#[tokio::test(start_paused = true)]
async fn a_fifo_group_that_fails_drops_its_records_decoded_ahead_without_running_them() {
    let seen = Shared::default();
    // While 0 and 1 wait, 2 and 3 (their groups' next) are decoded ahead; 0 fails, so 2, 4
    // and 5 never run, and group b goes on.
    let records = vec![
        sqs_record(0, &job(0, "err", 5), Some("a"), true),
        sqs_record(1, &job(1, "ok", 5), Some("b"), true),
        sqs_record(2, &job(2, "ok", 1), Some("a"), true),
        sqs_record(3, &job(3, "ok", 1), Some("b"), true),
        sqs_record(4, &job(4, "ok", 1), Some("a"), true),
        sqs_record(5, &job(5, "ok", 1), Some("a"), true),
        sqs_record(6, &job(6, "ok", 1), Some("c"), true),
    ];
    let response = run_batch(
        batch(recording(Arc::clone(&seen))).concurrency(2),
        records,
        LONG,
    )
    .await
    .unwrap();
    assert_eq!(failures(&response), ["m-0", "m-2", "m-4", "m-5"]);
    let seen = lock(&seen);
    assert_eq!(seen.succeeded, HashSet::from([1, 3, 6]));
    let mut started = seen.started.clone();
    started.sort_unstable();
    assert_eq!(started, [0, 1, 3, 6]);
}

#[tokio::test(start_paused = true)]
async fn every_record_failing_fails_the_invocation() {
    let seen = Shared::default();
    let records = vec![
        sqs_record(0, &job(0, "err", 0), None, false),
        sqs_record(1, "[]", None, false),
    ];
    let error = run_batch(batch(recording(seen)), records, LONG)
        .await
        .unwrap_err();
    assert_eq!(FunctionError::error_type(&error), "helve.BatchFailed");
    assert_eq!(
        error.to_string(),
        "every record of the batch failed (2 of 2); the first, m-0: the handler failed: job 0 failed"
    );
}

#[tokio::test(start_paused = true)]
async fn near_the_deadline_no_record_starts_and_the_rest_are_reported() {
    let seen = Shared::default();
    let records = ok_records(0..10, 400);
    // 2 s to live, a 500 ms margin: records 0 to 2 finish (1.2 s), record 3 is still running
    // at 1.5 s and is stopped; 4 to 9 never start. Only the run that was stopped says so.
    let response = run_batch(
        batch(recording(Arc::clone(&seen))),
        records,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(
        failures(&response),
        ["m-3", "m-4", "m-5", "m-6", "m-7", "m-8", "m-9"]
    );
    assert_eq!(lock(&seen).succeeded, HashSet::from([0, 1, 2]));
    assert_eq!(lock(&seen).started, [0, 1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn a_payload_that_fails_validation_fails_its_record_without_calling_the_handler() {
    fn small(job: &Job) -> Result<(), ValidationErrors> {
        if job.n < 2 {
            return Ok(());
        }
        let mut errors = ValidationErrors::new();
        errors.add(
            "n",
            validator::ValidationError::new("range").with_message("must be below 2".into()),
        );
        Err(errors)
    }
    let seen = Shared::default();
    let records = ok_records(0..3, 0);
    let response = run_batch(
        batch(recording(Arc::clone(&seen))).validate_with(small),
        records,
        LONG,
    )
    .await
    .unwrap();
    assert_eq!(failures(&response), ["m-2"]);
    assert_eq!(lock(&seen).started, [0, 1]);
}

#[tokio::test]
async fn bad_batches_are_refused_with_a_clear_error() {
    async fn raw(_: RawSqsMessage, _: Context) -> Result<(), crate::Error> {
        Ok(())
    }
    let context = || Context::builder().timeout(LONG).build();
    let error = engine::run(batch(raw), RawBatch::default(), context(), &())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the event is not a batch: it has no `Records`; this handler takes SQS records (eventSource aws:sqs)"
    );
    let error = engine::run(batch(raw), raw_batch(vec![]), context(), &())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "the batch has no records");
    let kinesis = json!({"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": "1"}});
    let error = engine::run(batch(raw), raw_batch(vec![kinesis]), context(), &())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "record 0 comes from `aws:kinesis`; this handler takes SQS records (eventSource aws:sqs)"
    );
    let mut anonymous = sqs_record(0, "{}", None, false);
    anonymous.as_object_mut().unwrap().remove("messageId");
    let error = engine::run(batch(raw), raw_batch(vec![anonymous]), context(), &())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "record 0 has no messageId, so it could not be reported if it failed; the batch fails as a whole so that no record is lost"
    );
    assert_eq!(FunctionError::error_type(&error), "helve.InvalidEvent");
}

fn kinesis_record(n: usize, data: &str) -> Value {
    use base64::Engine as _;
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "p",
            "sequenceNumber": format!("4959{n:04}"),
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            "approximateArrivalTimestamp": 1_700_000_000.0
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:4959{n:04}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/worker",
        "awsRegion": "eu-west-1",
        "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks"
    })
}

fn kinesis_recording(
    seen: Shared,
) -> impl Fn(KinesisRecord<Job>, Context) -> Call + Clone + Send + Sync + 'static {
    let inner = recording(seen);
    move |record: KinesisRecord<Job>, ctx: Context| {
        let job = record.into_data();
        let body =
            serde_json::json!({"n": job.n, "outcome": job.outcome, "sleep_ms": job.sleep_ms})
                .to_string();
        let message = SqsMessage::new(
            format!("m-{}", job.n),
            serde_json::from_str::<Job>(&body).unwrap(),
        );
        inner(message, ctx)
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_stops_at_the_first_failure_and_reports_from_there() {
    let seen = Shared::default();
    let records = vec![
        kinesis_record(0, &job(0, "ok", 0)),
        kinesis_record(1, &job(1, "err", 0)),
        kinesis_record(2, &job(2, "ok", 0)),
    ];
    let response = run_batch(batch(kinesis_recording(Arc::clone(&seen))), records, LONG)
        .await
        .unwrap();
    assert_eq!(failures(&response), ["49590001", "49590002"]);
    assert_eq!(lock(&seen).started, [0, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_stream_can_continue_past_failures() {
    let seen = Shared::default();
    let records = vec![
        kinesis_record(0, &job(0, "err", 0)),
        kinesis_record(1, "not json"),
        kinesis_record(2, &job(2, "ok", 0)),
    ];
    let mut bad_base64 = kinesis_record(3, "");
    bad_base64["kinesis"]["data"] = json!("***");
    let mut records = records;
    records.push(bad_base64);
    let response = run_batch(
        batch(kinesis_recording(Arc::clone(&seen))).continue_on_failure(true),
        records,
        LONG,
    )
    .await
    .unwrap();
    assert_eq!(failures(&response), ["49590000", "49590001", "49590003"]);
    assert_eq!(lock(&seen).succeeded, HashSet::from([2]));
}

#[tokio::test(start_paused = true)]
async fn a_dynamodb_record_decodes_its_images() {
    #[derive(Debug, Deserialize)]
    struct Order {
        id: String,
        qty: u32,
    }
    let seen: Arc<Mutex<Vec<Change>>> = Arc::default();
    let seen_by_handler = Arc::clone(&seen);
    let handler = move |record: DynamoDbRecord<Order>, _: Context| {
        let seen = Arc::clone(&seen_by_handler);
        async move {
            seen.lock().unwrap().push((
                record.event_name().to_owned(),
                record.new_image().map(|order| order.qty),
                record.old_image().map(|order| order.qty),
            ));
            assert_eq!(record.new_image().map(|o| o.id.as_str()), Some("o-1"));
            Ok::<(), crate::Error>(())
        }
    };
    let record = json!({
        "eventID": "1",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "Keys": {"id": {"S": "o-1"}},
            "NewImage": {"id": {"S": "o-1"}, "qty": {"N": "3"}},
            "OldImage": {"id": {"S": "o-1"}, "qty": {"N": "2"}},
            "SequenceNumber": "111",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-11-23T00:00:00.000"
    });
    let mut broken = record.clone();
    broken["dynamodb"]["SequenceNumber"] = json!("112");
    broken["dynamodb"]["NewImage"]["qty"] = json!({"S": "three"});
    let response = run_batch(
        batch(handler).continue_on_failure(true),
        vec![record, broken],
        LONG,
    )
    .await
    .unwrap();
    assert_eq!(failures(&response), ["112"]);
    assert_eq!(
        *seen.lock().unwrap(),
        [("MODIFY".to_owned(), Some(3), Some(2))]
    );
}

/// One record of a random batch.
#[derive(Debug, Clone)]
struct Planned {
    outcome: &'static str,
    group: usize,
    sleep_ms: u64,
}

fn planned() -> impl Strategy<Value = Planned> {
    (
        prop_oneof![
            6 => Just("ok"),
            2 => Just("err"),
            1 => Just("panic"),
            1 => Just("invalid"),
        ],
        0..4usize,
        0..20u64,
    )
        .prop_map(|(outcome, group, sleep_ms)| Planned {
            outcome,
            group,
            sleep_ms,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Over random outcomes, groups, timings and concurrency: every record either succeeded or
    /// is reported (or the whole batch failed), never both; at most `concurrency` run at once;
    /// a FIFO group runs in order and stops at its first failure.
    #[test]
    fn no_record_is_ever_lost(
        plan in prop::collection::vec(planned(), 1..30),
        concurrency in 1..8usize,
        fifo in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let seen = Shared::default();
        let records: Vec<Value> = plan
            .iter()
            .enumerate()
            .map(|(n, planned)| {
                let body = if planned.outcome == "invalid" {
                    "{\"n\": ".to_owned()
                } else {
                    job(n, planned.outcome, planned.sleep_ms)
                };
                let group = format!("g{}", planned.group);
                sqs_record(n, &body, fifo.then_some(group.as_str()), fifo)
            })
            .collect();
        let handler = batch(recording(Arc::clone(&seen))).concurrency(concurrency);
        let result = runtime.block_on(run_batch(handler, records, LONG));
        let seen = lock(&seen);
        let reported: HashSet<usize> = match &result {
            Ok(response) => response
                .batch_item_failures
                .iter()
                .map(|failure| failure.item_identifier[2..].parse().unwrap())
                .collect(),
            Err(_) => (0..plan.len()).collect(),
        };
        for n in 0..plan.len() {
            let succeeded = seen.succeeded.contains(&n);
            prop_assert!(succeeded != reported.contains(&n), "record {n}: succeeded {succeeded}, reported {}", reported.contains(&n));
            prop_assert_eq!(succeeded, plan[n].outcome == "ok" && !(fifo && plan[..n].iter().any(|p| p.group == plan[n].group && p.outcome != "ok")));
        }
        prop_assert!(seen.most_at_once <= concurrency);
        if let Err(error) = &result {
            prop_assert!(seen.succeeded.is_empty(), "{error}");
        }
        if fifo {
            for group in 0..4 {
                let started: Vec<usize> = seen.started.iter().copied().filter(|&n| plan[n].group == group).collect();
                let mut sorted = started.clone();
                sorted.sort_unstable();
                prop_assert_eq!(&started, &sorted, "group {} ran out of order", group);
            }
        }
    }
}

#[cfg(feature = "idempotency")]
mod idempotency {
    use super::*;
    use crate::idempotency::{Idempotency, MemoryStore};

    fn idempotency(store: &MemoryStore) -> Idempotency {
        Idempotency::new(store.clone()).disabled(false)
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_delivered_again_is_handled_once() {
        let seen = Shared::default();
        let store = MemoryStore::new();
        let first = run_batch(
            batch(recording(Arc::clone(&seen))).idempotency(idempotency(&store)),
            ok_records([1, 2], 0),
            LONG,
        )
        .await
        .unwrap();
        assert!(failures(&first).is_empty());
        // SQS delivers message 2 again, with message 3.
        let again = run_batch(
            batch(recording(Arc::clone(&seen))).idempotency(idempotency(&store)),
            ok_records([2, 3], 0),
            LONG,
        )
        .await
        .unwrap();
        assert!(failures(&again).is_empty());
        assert_eq!(lock(&seen).started, [1, 2, 3], "message 2 ran once");
        assert_eq!(store.len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_duplicate_in_progress_fails_only_its_own_record() {
        let seen = Shared::default();
        let store = MemoryStore::new();
        // Two deliveries of message 1 in one batch, run at once: the second finds the first in
        // progress.
        let records = vec![
            sqs_record(1, &job(1, "ok", 100), None, false),
            sqs_record(1, &job(1, "ok", 100), None, false),
            sqs_record(2, &job(2, "ok", 0), None, false),
        ];
        let response = run_batch(
            batch(recording(Arc::clone(&seen)))
                .concurrency(3)
                .idempotency(idempotency(&store)),
            records,
            LONG,
        )
        .await
        .unwrap();
        assert_eq!(failures(&response), ["m-1"]);
        assert_eq!(lock(&seen).succeeded, HashSet::from([1, 2]));
        assert_eq!(lock(&seen).started.iter().filter(|&&n| n == 1).count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_record_is_handled_again_when_redelivered() {
        let seen = Shared::default();
        let store = MemoryStore::new();
        let failed = run_batch(
            batch(recording(Arc::clone(&seen))).idempotency(idempotency(&store)),
            vec![sqs_record(1, &job(1, "err", 0), None, false)],
            LONG,
        )
        .await;
        assert!(failed.is_err(), "the only record failed: the batch fails");
        let retried = run_batch(
            batch(recording(Arc::clone(&seen))).idempotency(idempotency(&store)),
            vec![sqs_record(1, &job(1, "ok", 0), None, false)],
            LONG,
        )
        .await
        .unwrap();
        assert!(failures(&retried).is_empty());
        assert_eq!(lock(&seen).started, [1, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn two_messages_carrying_the_same_job_run_it_once_when_keyed_by_the_body() {
        let seen = Shared::default();
        let store = MemoryStore::new();
        // The sender sent job 7 twice: two messages, two message ids, one job.
        let records = vec![
            sqs_record(1, &job(7, "ok", 0), None, false),
            sqs_record(2, &job(7, "ok", 0), None, false),
            sqs_record(3, &job(8, "ok", 0), None, false),
        ];
        let response = run_batch(
            batch(recording(Arc::clone(&seen))).idempotency_at(idempotency(&store), "/n"),
            records,
            LONG,
        )
        .await
        .unwrap();
        assert!(failures(&response).is_empty());
        assert_eq!(lock(&seen).started, [7, 8], "job 7 ran once");
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn a_body_key_that_is_not_a_pointer_stops_the_function_at_start() {
        let store = MemoryStore::new();
        let handler = batch(recording(Shared::default())).idempotency_at(idempotency(&store), "n");
        let error = Handler::<RawBatch, (), crate::Stateless>::check_idempotency(&handler).err();
        assert_eq!(
            error.as_ref().map(crate::ConfigError::setting),
            Some("idempotency key")
        );
        let valid = batch(recording(Shared::default())).idempotency_at(idempotency(&store), "/n");
        assert!(Handler::<RawBatch, (), crate::Stateless>::check_idempotency(&valid).is_ok());
    }
}

#[test]
fn every_record_of_the_dynamodb_fixture_decodes_into_json_binary_as_base64() {
    let event: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/example-dynamodb-event.json"
    ))
    .unwrap();
    let records = event["Records"].as_array().unwrap();
    assert!(!records.is_empty());
    for record in records {
        let raw = serde_json::value::to_raw_value(record).unwrap();
        let decoded = <DynamoDbRecord<serde_json::Value> as Record>::decode(&raw)
            .unwrap_or_else(|error| panic!("{error}"));
        if let Some(image) = decoded.new_image() {
            assert_eq!(image["asdf1"], "AAEqQQ==");
            assert_eq!(image["asdf2"][1], "QSoBAA==");
        }
    }
}

#[test]
fn a_dynamodb_number_is_kept_exactly_in_json() {
    let record = json!({
        "eventID": "1",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "SequenceNumber": "111",
            "SizeBytes": 26,
            "Keys": {"id": {"S": "1"}},
            "StreamViewType": "NEW_IMAGE",
            "NewImage": {
                "big": {"N": "12345678901234567890123456789012345678"},
                "price": {"N": "123.45"},
                "count": {"N": "35"},
                "tiny": {"N": "1E-130"},
                "set": {"NS": ["1", "0.1", "99999999999999999999"]}
            }
        }
    });
    let raw = serde_json::value::to_raw_value(&record).unwrap();
    let decoded = <DynamoDbRecord<serde_json::Value> as Record>::decode(&raw).unwrap();
    let image = decoded.new_image().unwrap();
    assert_eq!(image["big"], "12345678901234567890123456789012345678");
    assert_eq!(image["price"], 123.45);
    assert_eq!(image["count"], 35);
    assert_eq!(image["tiny"], 1e-130);
    assert_eq!(image["set"], json!([1, 0.1, "99999999999999999999"]));
}

#[test]
fn a_record_that_fails_validation_names_its_fields_by_the_senders_keys() {
    #[derive(Debug, Deserialize, validator::Validate)]
    #[serde(rename_all = "camelCase")]
    struct Reading {
        #[validate(range(max = 10))]
        sensor_level: u32,
    }
    let raw = |value: Value| serde_json::value::to_raw_value(&value).unwrap();
    let sqs = raw(sqs_record(1, r#"{"sensorLevel": 11}"#, None, false));
    let kinesis = raw(kinesis_record(1, r#"{"sensorLevel": 11}"#));
    let dynamodb = raw(json!({
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "Keys": {"id": {"S": "r-1"}},
            "NewImage": {"id": {"S": "r-1"}, "sensorLevel": {"N": "11"}},
            "SequenceNumber": "1",
            "SizeBytes": 26,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/readings/stream/2026-11-23T00:00:00.000"
    }));
    let sent = [
        SqsMessage::<Reading>::sent_payload(&sqs),
        KinesisRecord::<Reading>::sent_payload(&kinesis),
        DynamoDbRecord::<Reading>::sent_payload(&dynamodb),
    ];
    for (sent, raw) in sent.iter().zip([&sqs, &kinesis, &dynamodb]) {
        let sent = sent
            .as_ref()
            .unwrap_or_else(|| panic!("the payload of {raw}"));
        let reading: Reading = serde_json::from_value(sent.clone()).unwrap_or_else(|error| {
            panic!("{sent} as a reading: {error}");
        });
        let errors = validator::Validate::validate(&reading).unwrap_err();
        assert_eq!(
            crate::validation::describe_as_sent(&errors, sent),
            "sensorLevel: must be at most 10 (range)"
        );
    }
    // A raw record has no payload of its own: its fields keep their Rust names.
    assert_eq!(RawSqsMessage::sent_payload(&sqs), None);
}
