//! `examples/sqs-worker` served by a Lambda Runtime API on 127.0.0.1, on the example's event
//! files: each test asserts the exact `batchItemFailures` helve answers (in record order), and
//! that the lines logged while a record is handled carry its message id as `correlation_id`.

mod support;

use std::collections::HashMap;

use serde_json::{Value, json};
use support::{InvocationKeys, LogLine, Outcome, RuntimeApi, log_lines, read_workspace_file};

const FUNCTION: &str = "example-sqs-worker";
const SERVICE: &str = "jobs-worker";

/// An event file of the example.
fn event(file: &str) -> String {
    read_workspace_file(&format!("examples/sqs-worker/events/{file}"))
}

/// The message id of each record of an event, with the `jobId` of its body (`None` when the
/// body is not a job).
fn records(event: &str) -> Vec<(String, Option<String>)> {
    let event: Value = serde_json::from_str(event).expect("the event file is JSON");
    event["Records"]
        .as_array()
        .expect("the event has Records")
        .iter()
        .map(|record| {
            let id = record["messageId"]
                .as_str()
                .expect("a messageId")
                .to_owned();
            let job = record["body"]
                .as_str()
                .and_then(|body| serde_json::from_str::<Value>(body).ok())
                .and_then(|body| body["jobId"].as_str().map(str::to_owned));
            (id, job)
        })
        .collect()
}

/// `{"batchItemFailures":[...]}` with these message ids, in this order.
fn failures(ids: &[&str]) -> Value {
    let items: Vec<Value> = ids.iter().map(|id| json!({"itemIdentifier": id})).collect();
    json!({ "batchItemFailures": items })
}

/// Starts the worker (10 ms steps, so that the tests are quick), invokes it once with
/// `event`, and returns the outcome and the log lines.
async fn invoke(event: &str) -> (Outcome, Vec<LogLine>) {
    let mut api = RuntimeApi::start().await;
    let function = api.function(FUNCTION).env("STEP_MILLIS", "10").spawn();
    api.push("batch-1", event);
    let outcome = api.next_outcome().await;
    let exit = function.stop().await;
    (outcome, log_lines(&exit.stdout))
}

fn response(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Response { request_id, body } => {
            assert_eq!(request_id, "batch-1");
            body
        }
        other => panic!("expected the invocation to succeed, got {other:?}"),
    }
}

/// Checks that every line about a job or a record, that is every line logged while a record
/// is handled, carries that record's message id as `correlation_id`, and the invocation's
/// request id.
fn assert_correlated(lines: &[LogLine], event: &str) {
    let records = records(event);
    let mut ids_of_job: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, job) in &records {
        if let Some(job) = job {
            ids_of_job.entry(job).or_default().push(id);
        }
    }
    let mut checked = 0;
    for line in lines {
        let correlation = line.get("correlation_id").as_str().unwrap_or_default();
        if let Some(record) = line.get("record_id").as_str() {
            assert_eq!(correlation, record, "{}", line.raw);
        } else if let Some(job) = line.get("job_id").as_str() {
            let ids = ids_of_job.get(job).map(Vec::as_slice).unwrap_or_default();
            assert!(ids.contains(&correlation), "{}", line.raw);
        } else {
            continue;
        }
        assert_eq!(line.get("function_request_id"), "batch-1", "{}", line.raw);
        checked += 1;
    }
    assert!(checked >= records.len(), "at least one line per record");
}

/// The lines whose message is `message`.
fn with_message<'a>(lines: &'a [LogLine], message: &str) -> Vec<&'a LogLine> {
    lines
        .iter()
        .filter(|line| line.message() == message)
        .collect()
}

#[tokio::test]
async fn a_batch_whose_jobs_all_complete_reports_no_failure() {
    let event = event("batch.json");
    let (outcome, lines) = invoke(&event).await;
    assert_eq!(response(outcome), failures(&[]));
    assert_correlated(&lines, &event);

    // One line in full: the record's message id is its correlation id.
    let mut completed = with_message(&lines, "job job-7d41e0 completed: exports/job-7d41e0.csv");
    assert_eq!(completed.len(), 1, "one completion per job");
    let line = completed.remove(0);
    let trace = line.get("xray_trace_id").as_str().expect("a trace id");
    let expected = InvocationKeys::new(FUNCTION, "batch-1", "e615dc02-0b7e-425e-b96d-fa336763df9c")
        .service(SERVICE)
        .cold_start(true)
        .trace(trace)
        .line(
            "INFO",
            "job job-7d41e0 completed: exports/job-7d41e0.csv",
            json!({"job_id": "job-7d41e0", "result": "exports/job-7d41e0.csv"}),
        );
    assert_eq!(line.fields, expected);
    for job in ["job-2f9c1a", "job-7d41e0", "job-b6e803"] {
        assert_eq!(
            lines
                .iter()
                .filter(|line| line.get("job_id") == job
                    && line.message().starts_with(&format!("job {job} completed")))
                .count(),
            1,
            "{job} completed once"
        );
    }
}

#[tokio::test]
async fn a_standard_batch_reports_exactly_the_records_that_failed_in_record_order() {
    let event = event("failures.json");
    let (outcome, lines) = invoke(&event).await;
    // The body that is not JSON, the job that does not validate, the transient error and the
    // panic; not the completed job, nor the job that failed for good.
    assert_eq!(
        response(outcome),
        failures(&[
            "938661e9-1050-420f-b7eb-d6e8c1f39cf3",
            "1d605c1e-7a33-4ad9-9c14-a9268950c3b4",
            "d11e1407-5326-45a9-9c21-bab6a386dd7e",
            "a1049c13-8721-4532-93ae-26e15ed3952d",
        ])
    );
    assert_correlated(&lines, &event);

    let failed: Vec<(&str, &str)> = lines
        .iter()
        // A failed record's line, or, for a panic, the line that reports it.
        .filter(|line| {
            line.message().starts_with("record ") || line.get("error_type") == "helve.Panic"
        })
        .map(|line| {
            (
                line.get("correlation_id").as_str().unwrap_or_default(),
                line.get("error_type").as_str().unwrap_or_default(),
            )
        })
        .collect();
    let mut failed = failed;
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            (
                "1d605c1e-7a33-4ad9-9c14-a9268950c3b4",
                "helve.InvalidRecord"
            ),
            (
                "938661e9-1050-420f-b7eb-d6e8c1f39cf3",
                "helve.InvalidRecord"
            ),
            ("a1049c13-8721-4532-93ae-26e15ed3952d", "helve.Panic"),
            (
                "d11e1407-5326-45a9-9c21-bab6a386dd7e",
                "jobs.DownstreamUnavailable"
            ),
        ]
    );
    let invalid = with_message(
        &lines,
        "record 1d605c1e-7a33-4ad9-9c14-a9268950c3b4 failed: the record does not validate: \
         jobId: must be letters, digits, `-` and `_` (job_id); steps: must be 1 to 100 (range)",
    );
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].get("level"), "ERROR");

    // The job whose input can never work failed for good: a WARN, and its record succeeded.
    let unsupported = with_message(
        &lines,
        "job job-91c7d2 failed: export format `xlsx` is not supported; use `csv` or `json`",
    );
    assert_eq!(unsupported.len(), 1);
    assert_eq!(unsupported[0].get("level"), "WARN");
    assert_eq!(unsupported[0].get("error_type"), "jobs.UnsupportedFormat");
    assert_eq!(
        unsupported[0].get("correlation_id"),
        "d5c3c1c0-9834-4457-9e15-22dde720d294"
    );
}

#[tokio::test]
async fn a_fifo_batch_reports_the_failed_message_and_the_rest_of_its_group() {
    let event = event("fifo.json");
    let (outcome, lines) = invoke(&event).await;
    // customer-1042: job-1042-a completes, job-1042-b fails, job-1042-c does not run;
    // customer-2077 goes on.
    assert_eq!(
        response(outcome),
        failures(&[
            "87c9a1a1-3bce-49ac-8892-7502ab08c417",
            "73ef6117-27a7-42d5-82a7-2195a773b6ea",
        ])
    );
    assert_correlated(&lines, &event);
    assert!(
        !lines.iter().any(|line| line.get("job_id") == "job-1042-c"),
        "the message after the failure in its group does not run"
    );
    let skipped = with_message(
        &lines,
        "record 73ef6117-27a7-42d5-82a7-2195a773b6ea failed: not processed: an earlier message \
         of its message group failed (87c9a1a1-3bce-49ac-8892-7502ab08c417)",
    );
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].get("error_type"), "helve.RecordNotProcessed");
    assert_eq!(
        skipped[0].get("correlation_id"),
        "73ef6117-27a7-42d5-82a7-2195a773b6ea"
    );
    // Within a group, in order.
    let order: Vec<&str> = lines
        .iter()
        .filter(|line| line.message().ends_with("steps") || line.message().contains("completed"))
        .filter_map(|line| line.get("job_id").as_str())
        .filter(|job| job.starts_with("job-1042"))
        .collect();
    assert_eq!(order, ["job-1042-a", "job-1042-a", "job-1042-b"]);
}

#[tokio::test]
async fn a_batch_whose_records_all_fail_fails_the_invocation() {
    let event = event("all-failed.json");
    let (outcome, lines) = invoke(&event).await;
    match outcome {
        Outcome::Error {
            request_id, body, ..
        } => {
            assert_eq!(request_id, "batch-1");
            assert_eq!(
                body,
                json!({
                    "errorType": "helve.BatchFailed",
                    "errorMessage": "every record of the batch failed (2 of 2); the first, \
                        9238fd7c-9714-4e11-8303-c5c3a9bfdd7a: the handler failed: job job-d4a7c3 \
                        could not finish step 2: the service it calls is unavailable (simulated)",
                })
            );
        }
        other => panic!("expected the invocation to fail, got {other:?}"),
    }
    assert_correlated(&lines, &event);
}

#[tokio::test]
async fn a_job_sent_twice_in_one_batch_runs_once() {
    // A standard queue: both copies start at once; the second finds the job held.
    let event = event("duplicate.json");
    let (outcome, lines) = invoke(&event).await;
    assert_eq!(response(outcome), failures(&[]));
    assert_correlated(&lines, &event);
    let started = with_message(&lines, "job job-6f1d09 started: 3 steps");
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].get("correlation_id"),
        "a66be077-ad81-4d35-952f-79944e4bac68"
    );
    let dropped = with_message(
        &lines,
        "job job-6f1d09 is being processed by another delivery; this copy is dropped",
    );
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        dropped[0].get("correlation_id"),
        "50e735ff-8307-4cc7-864a-237c5718b690"
    );
    assert_eq!(
        dropped[0].get("held_by"),
        "a66be077-ad81-4d35-952f-79944e4bac68"
    );

    // A FIFO queue: the copy runs after the first finished, and finds the job completed.
    let event = self::event("redelivery.json");
    let (outcome, lines) = invoke(&event).await;
    assert_eq!(response(outcome), failures(&[]));
    assert_correlated(&lines, &event);
    assert_eq!(
        with_message(&lines, "job job-3e8b52 started: 3 steps").len(),
        1
    );
    let skipped = with_message(&lines, "job job-3e8b52 is already completed: nothing to do");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].get("level"), "INFO");
    assert_eq!(
        skipped[0].get("correlation_id"),
        "0c15b1e7-fadd-4821-bd54-3a685039fb3e"
    );
}

#[tokio::test]
async fn a_batch_delivered_again_to_the_same_process_runs_nothing_twice() {
    // The execution environment stays warm between invocations, and so does its in-memory
    // store: the second delivery of the batch finds every job completed.
    let event = event("batch.json");
    let mut api = RuntimeApi::start().await;
    let function = api.function(FUNCTION).env("STEP_MILLIS", "10").spawn();
    api.push("batch-1", &event);
    assert_eq!(response(api.next_outcome().await), failures(&[]));
    api.push("batch-2", &event);
    match api.next_outcome().await {
        Outcome::Response { request_id, body } => {
            assert_eq!(request_id, "batch-2");
            assert_eq!(body, failures(&[]));
        }
        other => panic!("expected the invocation to succeed, got {other:?}"),
    }
    let lines = log_lines(&function.stop().await.stdout);
    let second: Vec<&LogLine> = lines
        .iter()
        .filter(|line| line.get("function_request_id") == "batch-2")
        .collect();
    let messages: Vec<(&str, &str)> = second
        .iter()
        .map(|line| {
            (
                line.get("correlation_id").as_str().unwrap_or_default(),
                line.message(),
            )
        })
        .collect();
    let mut messages = messages;
    messages.sort_unstable();
    assert_eq!(
        messages,
        [
            (
                "3fae0f14-43d5-4ffb-88f7-02393fd08dfb",
                "job job-b6e803 is already completed: nothing to do"
            ),
            (
                "e615dc02-0b7e-425e-b96d-fa336763df9c",
                "job job-7d41e0 is already completed: nothing to do"
            ),
            (
                "f6fadfa7-e5c1-4b62-9362-da5cc13da58a",
                "job job-2f9c1a is already completed: nothing to do"
            ),
        ]
    );
}
