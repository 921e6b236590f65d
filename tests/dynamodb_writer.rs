//! `helve::dynamodb::BatchWriter` with the real aws-sdk-dynamodb client against an endpoint of
//! the test support on 127.0.0.1 that leaves items unprocessed, throttles and refuses calls as
//! each test plans: chunks of 25, retries with capped jittered backoff, duplicates dropped,
//! oversize items refused before sending, and a report in which nothing is missing.

mod support;

use std::time::Duration;

use aws_sdk_dynamodb::{
    Client,
    config::{BehaviorVersion, Credentials, Region, retry::RetryConfig},
};
use helve::{
    Context,
    dynamodb::{BatchWriter, Rejected, WriteReport},
};
use serde_json::json;
use support::{DynamoDbFaults, WriteAnswer};

/// A client of `endpoint` without the SDK's own retries, so that helve's are what is seen.
fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .http_client(helve::aws::https_client())
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

fn writer(faults: &DynamoDbFaults) -> BatchWriter {
    BatchWriter::new(client(faults.endpoint()), "transactions", "id")
        .backoff(Duration::from_millis(20), Duration::from_millis(80))
}

async fn write(writer: &mut BatchWriter, ids: impl IntoIterator<Item = usize>) {
    for id in ids {
        writer
            .put(&json!({"id": format!("t-{id:03}"), "amount": id, "line": id}))
            .await;
    }
}

fn sizes(faults: &DynamoDbFaults) -> Vec<usize> {
    faults.calls().iter().map(|call| call.items.len()).collect()
}

#[tokio::test]
async fn items_go_in_chunks_of_25_and_every_one_is_written() {
    let faults = DynamoDbFaults::start(&[], WriteAnswer::Accept).await;
    let mut writer = writer(&faults);
    write(&mut writer, 0..60).await;
    let report = writer.finish().await;
    assert_eq!(sizes(&faults), [25, 25, 10]);
    assert_eq!(
        report,
        WriteReport {
            written: 60,
            ..WriteReport::default()
        }
    );
    assert_eq!(faults.table().len(), 60);
    assert_eq!(faults.table()["t-042"]["amount"], json!({"N": "42"}));
}

#[tokio::test]
async fn unprocessed_items_are_sent_again_after_a_capped_backoff_until_written() {
    let faults = DynamoDbFaults::start(
        &[
            WriteAnswer::LeaveUnprocessed(10),
            WriteAnswer::LeaveUnprocessed(4),
        ],
        WriteAnswer::Accept,
    )
    .await;
    let mut writer = writer(&faults);
    write(&mut writer, 0..25).await;
    let report = writer.finish().await;
    assert_eq!(
        sizes(&faults),
        [25, 10, 4],
        "only what was left is sent again"
    );
    assert_eq!(report.written, 25);
    assert_eq!(report.retries, 2);
    assert!(report.is_complete());
    assert_eq!(faults.table().len(), 25);
    // The waits: at most 20 ms, then at most 40 ms (scheduling may add a little).
    let calls = faults.calls();
    for (pair, ceiling_ms) in calls.windows(2).zip([20u64, 40]) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap <= Duration::from_millis(ceiling_ms + 250),
            "a retry waited {gap:?}, over its ceiling of {ceiling_ms} ms"
        );
    }
}

#[tokio::test]
async fn a_chunk_refused_whole_for_throughput_is_sent_again() {
    let faults = DynamoDbFaults::start(
        &[WriteAnswer::Throttle, WriteAnswer::Throttle],
        WriteAnswer::Accept,
    )
    .await;
    let mut writer = writer(&faults);
    write(&mut writer, 0..5).await;
    let report = writer.finish().await;
    assert_eq!(sizes(&faults), [5, 5, 5]);
    assert_eq!((report.written, report.retries), (5, 2));
    assert!(report.is_complete());
}

#[tokio::test]
async fn items_still_unprocessed_when_the_attempts_run_out_are_reported_by_key() {
    let faults = DynamoDbFaults::start(&[], WriteAnswer::LeaveUnprocessed(2)).await;
    let mut writer = writer(&faults).max_attempts(3);
    write(&mut writer, 0..5).await;
    let report = writer.finish().await;
    assert_eq!(sizes(&faults), [5, 2, 2]);
    assert_eq!(report.written, 3);
    assert_eq!(report.unprocessed, ["id=t-003", "id=t-004"]);
    assert!(!report.is_complete());
}

#[tokio::test]
async fn at_the_deadline_margin_the_writer_stops_and_reports_what_is_left() {
    let faults = DynamoDbFaults::start(&[], WriteAnswer::LeaveUnprocessed(2)).await;
    let context = Context::builder().timeout(Duration::from_secs(2)).build();
    let report = context
        .scope(async {
            // The margin is the whole invocation: what is given is sent once, never again.
            let mut writer = writer(&faults).deadline_margin(Duration::from_secs(2));
            assert!(writer.out_of_time());
            write(&mut writer, 0..5).await;
            writer.finish().await
        })
        .await;
    assert_eq!(
        sizes(&faults),
        [5],
        "sent once, not retried past the margin"
    );
    assert_eq!(report.written, 3);
    assert_eq!(report.unprocessed, ["id=t-003", "id=t-004"]);

    let context = Context::builder()
        .timeout(Duration::from_millis(1300))
        .build();
    let report = context
        .scope(async {
            let mut writer = writer(&faults).deadline_margin(Duration::from_secs(1));
            write(&mut writer, 10..15).await;
            // The margin comes while the items wait in their chunk.
            tokio::time::sleep(Duration::from_millis(400)).await;
            assert!(writer.out_of_time());
            writer.finish().await
        })
        .await;
    // What was buffered is sent once, within the margin; no retry starts past it.
    assert_eq!(sizes(&faults), [5, 5]);
    assert_eq!(report.written, 3);
    assert_eq!(report.unprocessed, ["id=t-013", "id=t-014"]);
}

#[tokio::test]
async fn a_duplicate_key_in_a_chunk_is_dropped_and_the_last_one_written() {
    let faults = DynamoDbFaults::start(&[], WriteAnswer::Accept).await;
    let mut writer = writer(&faults);
    writer.put(&json!({"id": "t-1", "version": 1})).await;
    writer.put(&json!({"id": "t-2", "version": 1})).await;
    writer.put(&json!({"id": "t-1", "version": 2})).await;
    let report = writer.finish().await;
    assert_eq!(sizes(&faults), [2]);
    assert_eq!((report.written, report.duplicates), (2, 1));
    assert_eq!(faults.table()["t-1"]["version"], json!({"N": "2"}));
}

#[tokio::test]
async fn items_that_cannot_be_written_are_refused_before_sending_with_their_key() {
    let faults = DynamoDbFaults::start(&[], WriteAnswer::Accept).await;
    let mut writer = writer(&faults);
    writer
        .put(&json!({"id": "t-big", "text": "x".repeat(410 * 1024)}))
        .await;
    writer.put(&json!({"amount": 3})).await;
    writer.put(&json!(["not", "an", "item"])).await;
    writer.put(&json!({"id": "t-ok"})).await;
    let report = writer.finish().await;
    assert_eq!(sizes(&faults), [1], "only the good item is sent");
    assert_eq!(report.written, 1);
    let keys: Vec<&str> = report.rejected.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["id=t-big", "item #2", "item #3"]);
    assert!(
        report.rejected[0]
            .reason
            .contains("over DynamoDB's item limit of 409600")
    );
    assert_eq!(
        report.rejected[1].reason,
        "it has no `id`, the table's partition key"
    );
    assert!(
        report.rejected[2]
            .reason
            .starts_with("it does not serialize as a DynamoDB item")
    );
}

#[tokio::test]
async fn a_call_dynamodb_refuses_as_invalid_rejects_its_items_with_the_reason() {
    let faults = DynamoDbFaults::start(&[WriteAnswer::Invalid], WriteAnswer::Accept).await;
    let mut writer = writer(&faults);
    write(&mut writer, 0..2).await;
    let report = writer.finish().await;
    assert_eq!(sizes(&faults), [2], "an invalid call is not retried");
    assert_eq!(report.rejected.len(), 2);
    let Rejected { key, reason } = &report.rejected[0];
    assert_eq!(key, "id=t-000");
    assert!(reason.contains("ValidationException"), "{reason}");
}

#[tokio::test]
async fn a_table_with_a_sort_key_keys_items_by_both() {
    let faults = DynamoDbFaults::start(&[], WriteAnswer::LeaveUnprocessed(1)).await;
    let mut writer = BatchWriter::new(client(faults.endpoint()), "lines", "id")
        .sort_key("line")
        .max_attempts(1);
    writer.put(&json!({"id": "f-1", "line": 1})).await;
    writer.put(&json!({"id": "f-1", "line": 2})).await;
    let report = writer.finish().await;
    assert_eq!(report.duplicates, 0, "same partition key, other sort key");
    assert_eq!(report.unprocessed, ["id=f-1, line=2"]);
}
