//! `examples/s3-ingest` served by a Lambda Runtime API on 127.0.0.1, against moto's S3 and
//! DynamoDB: a Bedrock output file notified through SQS becomes one transaction item per line
//! (deterministic ids), its job moves `SUBMITTED -> COMPLETED`, the file moves to
//! `processed/{date}/`; the same notification through SNS is then acknowledged (the job is
//! finished), a redelivery of the file through EventBridge writes the same items again, and S3's
//! `s3:TestEvent` is acknowledged.
//!
//! Needs moto (`python3 -m pip install "moto[server]"`): without it the test says it is
//! skipped, except on CI, where it fails.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use helve::s3::S3Notification;
use serde_json::{Value, json};
use support::{Moto, Outcome, RuntimeApi, create_table, read_workspace_file};

const BUCKET: &str = "inference-results";
const KEY: &str = "batch-output/job-7/part 1.jsonl.out";

fn event(file: &str) -> String {
    read_workspace_file(&format!("examples/s3-ingest/events/{file}"))
}

fn credentials() -> aws_sdk_s3::config::Credentials {
    aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "moto")
}

fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .credentials_provider(credentials())
            .http_client(helve::aws::https_client())
            .build(),
    )
}

fn dynamodb(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(credentials())
            .http_client(helve::aws::https_client())
            .build(),
    )
}

/// The job as the API that submitted it wrote it.
async fn submit_job(client: &aws_sdk_dynamodb::Client) {
    client
        .put_item()
        .table_name("jobs")
        .item("jobId", AttributeValue::S("job-7".into()))
        .item("status", AttributeValue::S("SUBMITTED".into()))
        .send()
        .await
        .expect("the job");
}

async fn upload(client: &aws_sdk_s3::Client) {
    client
        .put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(ByteStream::from(event("part-1.jsonl.out").into_bytes()))
        .send()
        .await
        .expect("the output file");
}

async fn job(
    client: &aws_sdk_dynamodb::Client,
) -> std::collections::HashMap<String, AttributeValue> {
    client
        .get_item()
        .table_name("jobs")
        .key("jobId", AttributeValue::S("job-7".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
        .unwrap_or_default()
}

async fn transaction_ids(client: &aws_sdk_dynamodb::Client) -> Vec<String> {
    let mut ids: Vec<String> = client
        .scan()
        .table_name("transactions")
        .send()
        .await
        .expect("Scan")
        .items()
        .iter()
        .filter_map(|item| match item.get("id") {
            Some(AttributeValue::S(id)) => Some(id.clone()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

async fn batch(api: &mut RuntimeApi, request_id: &str, file: &str) -> Value {
    api.push(request_id, &event(file));
    match api.next_outcome().await {
        Outcome::Response {
            request_id: id,
            body,
        } if id == request_id => body,
        other => panic!(
            "expected a response to {request_id}, got {other:?}\n{}",
            api.process_output()
        ),
    }
}

#[tokio::test]
async fn a_bedrock_output_file_becomes_one_item_per_line_and_its_job_completes() {
    let Some(moto) = Moto::start_or_skip(
        "a_bedrock_output_file_becomes_one_item_per_line_and_its_job_completes",
    ) else {
        return;
    };
    let (s3, dynamodb) = (s3(moto.endpoint()), dynamodb(moto.endpoint()));
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("a bucket");
    create_table(&dynamodb, "transactions", "id").await;
    create_table(&dynamodb, "jobs", "jobId").await;
    submit_job(&dynamodb).await;
    upload(&s3).await;

    let mut api = RuntimeApi::start().await;
    let mut launch = api.function("example-s3-ingest");
    for (name, value) in [
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("TRANSACTIONS_TABLE", "transactions"),
        ("JOBS_TABLE", "jobs"),
    ] {
        launch.env(name, value);
    }
    let function = launch.spawn();
    let no_failures = json!({"batchItemFailures": []});

    assert_eq!(
        batch(&mut api, "from-sqs", "sqs-s3.json").await,
        no_failures
    );
    // One item per line, each id derived from the object and the line.
    let body: Value = serde_json::from_str(&event("sqs-s3.json")).expect("JSON");
    let notification: S3Notification =
        serde_json::from_str(body["Records"][0]["body"].as_str().expect("a body")).expect("S3");
    let object = &notification.objects()[0];
    assert_eq!(object.key, KEY, "the key arrives encoded and is decoded");
    let mut expected: Vec<String> = (1..=3).map(|line| object.item_id(line)).collect();
    expected.sort();
    assert_eq!(transaction_ids(&dynamodb).await, expected);
    let job = job(&dynamodb).await;
    assert_eq!(
        job.get("status"),
        Some(&AttributeValue::S("COMPLETED".into()))
    );
    assert_eq!(
        job.get("itemsWritten"),
        Some(&AttributeValue::N("3".into()))
    );
    // The file moved to processed/{date}/.
    assert!(
        s3.head_object()
            .bucket(BUCKET)
            .key(KEY)
            .send()
            .await
            .is_err()
    );
    s3.head_object()
        .bucket(BUCKET)
        .key(format!("processed/2026-12-03/{KEY}"))
        .send()
        .await
        .expect("the processed copy");

    // The same notification through SNS: the file is gone and its job finished: acknowledged.
    assert_eq!(
        batch(&mut api, "from-sns", "sqs-sns-s3.json").await,
        no_failures
    );
    // S3's test message: acknowledged.
    assert_eq!(
        batch(&mut api, "test-event", "sqs-test-event.json").await,
        no_failures
    );

    // The file delivered again (through EventBridge): the same items, overwritten.
    upload(&s3).await;
    submit_job(&dynamodb).await;
    assert_eq!(
        batch(&mut api, "from-eventbridge", "sqs-eventbridge.json").await,
        no_failures
    );
    assert_eq!(transaction_ids(&dynamodb).await, expected, "no duplicate");

    let exit = function.stop().await;
    assert!(
        exit.stdout.contains("s3:TestEvent") && exit.stdout.contains("job job-7: 3 lines of"),
        "{}",
        exit.stdout
    );
}
