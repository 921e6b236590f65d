//! `helve::s3::ingest`: an object's JSON lines from moto's S3 into a table (the DynamoDB
//! endpoint of the test support, which keeps what it is sent): bad lines counted and skipped,
//! a redelivery overwriting the same items, and an ingest that meets its deadline margin
//! mid-file stopping with where to resume, the rerun from there completing it.
//!
//! Needs moto (`python3 -m pip install "moto[server]"`): without it the tests say they are
//! skipped, except on CI, where they fail.

mod support;

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_s3::primitives::ByteStream;
use helve::{
    Context, IntoDiagnostic,
    dynamodb::BatchWriter,
    s3::{IngestIncomplete, ObjectCreated, ingest},
};
use serde_json::{Value, json};
use support::{DynamoDbFaults, Moto, WriteAnswer};

const BUCKET: &str = "exports";

fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .http_client(helve::aws::https_client())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn writer(faults: &DynamoDbFaults) -> BatchWriter {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(faults.endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .http_client(helve::aws::https_client())
        .retry_config(RetryConfig::disabled())
        .build();
    BatchWriter::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        "transactions",
        "id",
    )
}

async fn setup(test: &str, key: &str, body: String) -> Option<(Moto, aws_sdk_s3::Client)> {
    let moto = Moto::start_or_skip(test)?;
    let client = s3(moto.endpoint());
    client
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("a bucket");
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .expect("an object");
    Some((moto, client))
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    record_id: String,
    tokens: u64,
}

/// `count` lines of Bedrock-like output; every line in `bad` is not an output.
fn body(count: u64, bad: &[u64]) -> String {
    (1..=count)
        .map(|n| {
            if bad.contains(&n) {
                format!("{}\n", json!({"recordId": n, "error": "no output"}))
            } else {
                format!("{}\n", json!({"recordId": format!("r-{n}"), "tokens": n}))
            }
        })
        .collect()
}

fn object(key: &str) -> ObjectCreated {
    ObjectCreated::new(BUCKET, key)
}

/// The item of one output line, with the line's deterministic id.
fn item(object: &ObjectCreated) -> impl FnMut(Output, &helve::s3::Line) -> Value + '_ {
    move |output, line| {
        json!({
            "id": object.item_id(line.number),
            "recordId": output.record_id,
            "tokens": output.tokens,
        })
    }
}

#[tokio::test]
async fn every_good_line_becomes_one_item_and_a_redelivery_overwrites_the_same_items() {
    let key = "batch-output/job-1/part-1.jsonl.out";
    let Some((_moto, s3)) = setup(
        "every_good_line_becomes_one_item_and_a_redelivery_overwrites_the_same_items",
        key,
        body(1_000, &[10, 500, 999]),
    )
    .await
    else {
        return;
    };
    let faults =
        DynamoDbFaults::start(&[WriteAnswer::LeaveUnprocessed(5)], WriteAnswer::Accept).await;
    let object = object(key);
    let report = ingest(&s3, writer(&faults), &object, None, item(&object))
        .await
        .expect("the whole object");
    assert_eq!((report.lines_read, report.lines_rejected), (1_000, 3));
    assert_eq!(report.write.written, 997);
    assert_eq!(
        report.write.retries, 1,
        "the unprocessed items were sent again"
    );
    let first = faults.table();
    assert_eq!(first.len(), 997);
    assert!(first.contains_key(&object.item_id(1)));
    assert!(
        !first.contains_key(&object.item_id(10)),
        "a bad line makes no item"
    );

    // SQS delivers the notification again: the same ids, so the same items.
    let again = ingest(&s3, writer(&faults), &object, None, item(&object))
        .await
        .expect("the whole object again");
    assert_eq!(again.write.written, 997);
    assert_eq!(
        faults.table().keys().collect::<Vec<_>>(),
        first.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn an_ingest_that_meets_its_deadline_margin_says_where_to_resume_and_the_rerun_completes_it()
{
    let key = "batch-output/job-2/part-1.jsonl.out";
    let lines = 20_000;
    let Some((_moto, s3)) = setup(
        "an_ingest_that_meets_its_deadline_margin_says_where_to_resume_and_the_rerun_completes_it",
        key,
        body(lines, &[]),
    )
    .await
    else {
        return;
    };
    let faults = DynamoDbFaults::start(&[], WriteAnswer::Accept).await;
    let object = object(key);
    // 400 ms before the margin: far less than 800 calls of 25 items take (about 2.5 s here).
    let context = Context::builder()
        .timeout(Duration::from_millis(1400))
        .build();
    let outcome = context
        .scope(async {
            // Made in the invocation, whose deadline it reads.
            let writer = writer(&faults).deadline_margin(Duration::from_secs(1));
            ingest(&s3, writer, &object, None, item(&object)).await
        })
        .await;
    let incomplete: IngestIncomplete = match outcome {
        Err(incomplete) => incomplete,
        Ok(report) => panic!("the ingest was not stopped by its margin: {report:?}"),
    };
    assert_eq!(incomplete.error_type(), "helve.IngestIncomplete");
    assert_eq!(incomplete.reason, "the deadline margin came");
    assert!(
        incomplete
            .error_message()
            .contains("s3://exports/batch-output/job-2/part-1.jsonl.out")
    );
    let (line, offset) = incomplete.resume_at;
    assert!(
        line > 1 && line <= lines,
        "stopped mid-file, at line {line}"
    );
    let done = incomplete.report.write.written as u64;
    assert!(
        incomplete.report.write.unprocessed.is_empty(),
        "what was read was written"
    );
    assert_eq!(
        done,
        line - 1,
        "every line before the resume point is written"
    );

    // The redelivery resumes there and writes the rest.
    let rest = ingest(
        &s3,
        writer(&faults),
        &object,
        Some((line, offset)),
        item(&object),
    )
    .await
    .expect("the rest of the object");
    assert_eq!(rest.lines_read, lines - done);
    assert_eq!(faults.table().len() as u64, lines);
}

#[tokio::test]
async fn an_object_that_cannot_be_read_is_an_incomplete_ingest_naming_it() {
    let Some((_moto, s3)) = setup(
        "an_object_that_cannot_be_read_is_an_incomplete_ingest_naming_it",
        "present.jsonl",
        body(1, &[]),
    )
    .await
    else {
        return;
    };
    let faults = DynamoDbFaults::start(&[], WriteAnswer::Accept).await;
    let missing = object("missing.jsonl");
    let error = ingest(&s3, writer(&faults), &missing, None, item(&missing))
        .await
        .expect_err("no such object");
    assert_eq!(error.resume_at, (1, 0));
    assert!(error.to_string().contains("NoSuchKey"), "{error}");
}
