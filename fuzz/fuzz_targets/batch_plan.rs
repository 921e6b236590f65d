//! Batches through helve's whole stack: SQS standard and FIFO queues, Kinesis and DynamoDB
//! streams, whose records succeed, fail, panic or do not decode as the fuzzer says, with
//! FIFO message groups, duplicate ids, any concurrency and `continue_on_failure`.
//!
//! - `batchItemFailures` is exactly the records that did not succeed, in order, each once:
//!   a failed, panicked or undecodable record; in a FIFO group, every record after a failure;
//!   in a stream, every record after the first failure unless `continue_on_failure`.
//! - A batch where nothing succeeds is `helve.BatchFailed`; a record from another source or
//!   without an id makes the whole batch `helve.InvalidEvent`.
//! - Any bytes as an SQS batch (an input starting with `{`): never a panic; a response lists
//!   only ids of the batch's records, never one more often than records carry it.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use helve::{
    Context,
    batch::{DynamoDbRecord, KinesisRecord, SqsMessage, batch},
};
use helve_fuzz::{lines, one_object};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Job {
    outcome: String,
}

fn act(outcome: &str) -> Result<(), helve::Error> {
    match outcome {
        "ok" => Ok(()),
        "panic" => helve_fuzz::planned_panic("the record's handler panics"),
        _ => Err(helve::Error::msg("the record failed, as planned")),
    }
}

async fn sqs(message: SqsMessage<Job>, _ctx: Context) -> Result<(), helve::Error> {
    act(&message.body().outcome)
}

async fn kinesis(record: KinesisRecord<Job>, _ctx: Context) -> Result<(), helve::Error> {
    act(&record.data().outcome)
}

async fn dynamodb(record: DynamoDbRecord<Job>, _ctx: Context) -> Result<(), helve::Error> {
    act(record
        .new_image()
        .map_or("missing", |job| job.outcome.as_str()))
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Sqs,
    SqsFifo,
    Kinesis,
    DynamoDb,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Fails,
    Panics,
    DoesNotDecode,
}

#[derive(Arbitrary, Debug)]
enum Id {
    /// One of a few ids, so that some repeat.
    Numbered(u8),
    Text(String),
}

#[derive(Arbitrary, Debug)]
struct Rec {
    id: Id,
    group: Option<u8>,
    outcome: Outcome,
    /// Rarely: the record says it comes from another source.
    foreign: u8,
}

#[derive(Arbitrary, Debug)]
struct Input {
    source: Source,
    concurrency: u8,
    continue_on_failure: bool,
    records: Vec<Rec>,
}

fn record_json(source: Source, index: usize, id: &str, rec: &Rec) -> Value {
    let job = match rec.outcome {
        Outcome::Ok => r#"{"outcome":"ok"}"#,
        Outcome::Fails => r#"{"outcome":"fail"}"#,
        Outcome::Panics => r#"{"outcome":"panic"}"#,
        Outcome::DoesNotDecode => "not json {",
    };
    let mut record = match source {
        Source::Sqs | Source::SqsFifo => {
            let arn = if source == Source::SqsFifo {
                "arn:aws:sqs:eu-west-1:123456789012:jobs.fifo"
            } else {
                "arn:aws:sqs:eu-west-1:123456789012:jobs"
            };
            let mut attributes = json!({"ApproximateReceiveCount": "1"});
            if let Some(group) = rec.group {
                attributes["MessageGroupId"] = json!(format!("group-{}", group % 4));
            }
            json!({
                "messageId": id, "receiptHandle": "handle", "body": job,
                "attributes": attributes, "messageAttributes": {}, "md5OfBody": "",
                "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "eu-west-1"
            })
        }
        Source::Kinesis => json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0", "partitionKey": "p", "sequenceNumber": id,
                "data": base64::engine::general_purpose::STANDARD.encode(job),
                "approximateArrivalTimestamp": 1480641523.477
            },
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{index}"), "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/LambdaRole",
            "awsRegion": "eu-west-1",
            "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/jobs"
        }),
        Source::DynamoDb => {
            let image = match rec.outcome {
                Outcome::Ok => json!({"outcome": {"S": "ok"}}),
                Outcome::Fails => json!({"outcome": {"S": "fail"}}),
                Outcome::Panics => json!({"outcome": {"S": "panic"}}),
                Outcome::DoesNotDecode => json!({"other": {"S": "x"}}),
            };
            json!({
                "eventID": format!("event-{index}"), "eventName": "INSERT", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1480642020, "Keys": {"id": {"S": "k"}},
                    "NewImage": image, "SequenceNumber": id, "SizeBytes": 54,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"
                },
                "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Jobs/stream/2016-12-01T00:00:00.000"
            })
        }
    };
    if rec.foreign == 0xA5 {
        record["eventSource"] = json!("aws:sns");
    }
    record
}

/// What helve must answer: the ids to retry, `Err("helve.BatchFailed")` when nothing
/// succeeds, `Err("helve.InvalidEvent")` for a batch it cannot take.
fn expected(input: &Input, ids: &[String]) -> Result<Vec<String>, &'static str> {
    if input.records.is_empty()
        || ids.iter().any(String::is_empty)
        || input.records.iter().any(|rec| rec.foreign == 0xA5)
    {
        return Err("helve.InvalidEvent");
    }
    let stream = matches!(input.source, Source::Kinesis | Source::DynamoDb);
    let mut failed_groups = std::collections::HashSet::new();
    let mut stream_failed = false;
    let mut failures = Vec::new();
    let mut succeeded = 0;
    for (rec, id) in input.records.iter().zip(ids) {
        let stopped = match input.source {
            Source::SqsFifo => rec.group.is_some_and(|g| failed_groups.contains(&(g % 4))),
            Source::Kinesis | Source::DynamoDb => stream_failed,
            Source::Sqs => false,
        };
        if !stopped && rec.outcome == Outcome::Ok {
            succeeded += 1;
            continue;
        }
        failures.push(id.clone());
        if let Some(group) = rec.group {
            failed_groups.insert(group % 4);
        }
        if stream && !input.continue_on_failure {
            stream_failed = true;
        }
    }
    if succeeded == 0 {
        return Err("helve.BatchFailed");
    }
    Ok(failures)
}

fn invoke_batch(input: &Input, payload: &[u8]) -> helve::__fuzz::Invoked {
    let concurrency = usize::from(input.concurrency % 9);
    let result = match input.source {
        Source::Sqs | Source::SqsFifo => helve::__fuzz::invoke(
            batch(sqs)
                .concurrency(concurrency)
                .continue_on_failure(input.continue_on_failure),
            payload,
            &Default::default(),
            &[],
        ),
        Source::Kinesis => helve::__fuzz::invoke(
            batch(kinesis).continue_on_failure(input.continue_on_failure),
            payload,
            &Default::default(),
            &[],
        ),
        Source::DynamoDb => helve::__fuzz::invoke(
            batch(dynamodb).continue_on_failure(input.continue_on_failure),
            payload,
            &Default::default(),
            &[],
        ),
    };
    result.expect("settings")
}

fn check_logs(invoked: &helve::__fuzz::Invoked) {
    for line in lines(&invoked.logs) {
        assert!(line.len() < helve::__fuzz::MAX_LOG_LINE_BYTES);
        one_object(line)
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(line)));
    }
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|failure| {
            failure["itemIdentifier"]
                .as_str()
                .expect("itemIdentifier")
                .to_owned()
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    helve_fuzz::init();
    if data.first() == Some(&b'{') {
        return raw(data);
    }
    let Ok(mut input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    input.records.truncate(64);
    let ids: Vec<String> = input
        .records
        .iter()
        .map(|rec| match &rec.id {
            Id::Numbered(n) => format!("id-{}", n % 12),
            Id::Text(text) => text.clone(),
        })
        .collect();
    let records: Vec<Value> = input
        .records
        .iter()
        .zip(&ids)
        .enumerate()
        .map(|(index, (rec, id))| record_json(input.source, index, id, rec))
        .collect();
    let payload = serde_json::to_vec(&json!({ "Records": records })).expect("a batch");
    let invoked = invoke_batch(&input, &payload);
    check_logs(&invoked);
    let answered = match &invoked.response {
        Ok(response) => Ok(failures(response)),
        Err((error_type, _)) => Err(error_type.as_str()),
    };
    assert_eq!(answered, expected(&input, &ids), "{:?}", invoked.response);
});

/// Any bytes as an SQS batch, each record's handler deciding by its body.
fn raw(data: &[u8]) {
    let input = Input {
        source: Source::Sqs,
        concurrency: 1 + data.len() as u8 % 4,
        continue_on_failure: false,
        records: Vec::new(),
    };
    let invoked = invoke_batch(&input, data);
    check_logs(&invoked);
    let Ok(response) = &invoked.response else {
        return;
    };
    // The ids the records carry.
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        panic!("a response to a batch that is not JSON: {response}");
    };
    let ids: Vec<&str> = event["Records"]
        .as_array()
        .expect("a response to a batch without records")
        .iter()
        .filter_map(|record| record["messageId"].as_str())
        .collect();
    let reported = failures(response);
    for id in &reported {
        let carried = ids.iter().filter(|known| *known == id).count();
        let listed = reported.iter().filter(|other| *other == id).count();
        assert!(
            listed <= carried,
            "{id:?} listed {listed} times for {carried} records"
        );
    }
    assert!(
        reported.len() < ids.len(),
        "a response with every record failed"
    );
}
