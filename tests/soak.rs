//! Soak and load: release builds of helve functions served by a Lambda Runtime API on
//! 127.0.0.1 for a long run, their memory and CPU time read from `/proc` (`tests/support/soak.rs`).
//!
//! - 100,000 invocations each of `examples/hello`, an HTTP function with metrics and event
//!   logging (`soak-http`), and an SQS batch of 10 records with failures and panics
//!   (`soak-sqs`): the resident memory (`VmRSS`) at the end is within 10 % of what it is after
//!   the first 1,000, every answer is checked;
//! - SQS batches of 10,000 records at concurrency 64, standard and FIFO, some records failing
//!   and some panicking at random (seeded): every failed message id is reported exactly once,
//!   no other.
//!
//! They are `#[ignore]`d: a minute or more, and release binaries. Run them with `.ci/soak`, or
//!
//! ```text
//! cargo test --release --test soak -- --ignored --test-threads=1 --nocapture
//! ```
//!
//! The binaries are built with `cargo build --release` in the target directory (see
//! `tests/support/soak.rs`; `HELVE_SOAK_BIN_DIR` to use others). `HELVE_SOAK_INVOCATIONS`
//! (default 100,000), `HELVE_SOAK_BATCH_RECORDS` (default 10,000) and `HELVE_SOAK_SEED` change
//! the run, `HELVE_SOAK_FIXED_TRACE=1` sends one trace header with every event; the figures are
//! printed. The reference figures are in `docs/reliability.md`.
//!
//! Each event has its own trace header, as on Lambda: a runtime that put each one in the
//! process environment (as `lambda_runtime`'s own loop does, with `_X_AMZN_TRACE_ID`) would keep
//! about 144 bytes of every one and fail the memory bound (`docs/reliability.md`).

mod support;

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet},
};

use serde_json::{Value, json};
use support::{Figures, Outcome, RuntimeApi, Soak, SoakProcess, SplitMix, read_workspace_file};

/// How far the resident memory at the end may be above the mark.
const RSS_BOUND: f64 = 0.10;
/// Lambda's limit on an event: 6 MB.
const EVENT_LIMIT: usize = 6 * 1024 * 1024;
/// The batch function's concurrency (`batch(concurrency = 64)` in `soak-sqs`).
const BATCH_CONCURRENCY: f64 = 64.0;

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")),
        Err(_) => default,
    }
}

fn invocations() -> usize {
    usize::try_from(setting("HELVE_SOAK_INVOCATIONS", 100_000)).expect("a count that fits")
}

fn batch_records() -> usize {
    usize::try_from(setting("HELVE_SOAK_BATCH_RECORDS", 10_000)).expect("a count that fits")
}

/// `HELVE_SOAK_FIXED_TRACE=1`: every event with the same trace header, a diagnostic that tells
/// memory kept per distinct trace header from the rest. Lambda sends a new trace id with every
/// invocation, so the real run is without it.
fn soak(scenario: &str) -> Soak {
    let soak = Soak::new(scenario, invocations());
    if std::env::var_os("HELVE_SOAK_FIXED_TRACE").is_some_and(|value| value != "0") {
        soak.with_fixed_trace(FIXED_TRACE)
    } else {
        soak
    }
}

/// The trace header of every event under `HELVE_SOAK_FIXED_TRACE`.
const FIXED_TRACE: &str =
    "Root=1-6930a000-000000000000000000000001;Parent=0000000000000001;Sampled=1";

fn seed() -> u64 {
    setting("HELVE_SOAK_SEED", 0x5eed_2026)
}

/// Checks what the function logged at its start (`expected` substrings, one line each) and
/// that it wrote at least one line per invocation, and is still running.
fn check_output(process: &mut SoakProcess, figures: &Figures, expected: &[&str]) {
    let head = process.stdout_head();
    for wanted in expected {
        assert!(
            head.iter().any(|line| line.contains(wanted)),
            "{}: no line with {wanted} among the first ones\n{}",
            figures.scenario,
            head.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
        );
    }
    let (_, lines) = process.stdout_written();
    assert!(
        lines >= figures.invocations as u64,
        "{}: {lines} lines for {} invocations",
        figures.scenario,
        figures.invocations
    );
    assert!(
        process.is_running(),
        "{} exited\n{}",
        figures.scenario,
        process.describe()
    );
}

#[tokio::test]
#[ignore = "soak: 100,000 invocations of a release build; run .ci/soak"]
async fn hello_keeps_its_memory_flat_over_100_000_invocations() {
    let mut api = RuntimeApi::start().await;
    let mut process = SoakProcess::spawn(&api, "example-hello", &[]);
    let soak = soak("hello");
    let figures = soak
        .run(
            &mut api,
            &process,
            |n| format!(r#"{{"name":"Ada {n}"}}"#),
            |n, outcome| match outcome {
                Outcome::Response { body, .. }
                    if body["message"].as_str() == Some(&format!("Hello, Ada {n}!")) => {}
                other => panic!("invocation {n}: {other:?}"),
            },
        )
        .await;
    println!("{figures}");
    check_output(
        &mut process,
        &figures,
        &[r#""message":"greeting Ada 0""#, r#""Greetings":1"#],
    );
    figures.assert_rss_within(RSS_BOUND);
}

/// An HTTP API (payload 2.0) `POST /orders` with a JSON body, split around the body so that
/// each invocation's event is written without parsing the rest again.
fn http_event_parts() -> (String, String) {
    let mut event: Value = serde_json::from_str(&read_workspace_file(
        "tests/fixtures/example-apigw-v2-request-no-authorizer.json",
    ))
    .expect("the fixture is JSON");
    event["routeKey"] = json!("POST /orders");
    event["rawPath"] = json!("/orders");
    event["requestContext"]["routeKey"] = json!("POST /orders");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["requestContext"]["http"]["path"] = json!("/orders");
    let headers = &mut event["headers"];
    headers["content-type"] = json!("application/json");
    headers["authorization"] = json!("Bearer soak-secret-token");
    headers
        .as_object_mut()
        .expect("headers")
        .remove("content-length");
    event["body"] = json!("BODY");
    let text = event.to_string();
    let (before, after) = text
        .split_once(r#""BODY""#)
        .expect("the body's place in the event");
    (before.to_owned(), after.to_owned())
}

#[tokio::test]
#[ignore = "soak: 100,000 invocations of a release build; run .ci/soak"]
async fn an_http_function_with_metrics_and_event_logging_keeps_its_memory_flat_over_100_000_requests()
 {
    let (before, after) = http_event_parts();
    let mut api = RuntimeApi::start().await;
    let mut process = SoakProcess::spawn(
        &api,
        "soak-http",
        &[("POWERTOOLS_LOGGER_LOG_EVENT", "true")],
    );
    let quantity = |n: usize| n % 50 + 1;
    let soak = soak("http");
    let figures = soak
        .run(
            &mut api,
            &process,
            |n| {
                let body = format!(r#"{{"sku":"SKU-{}","quantity":{}}}"#, n % 100, quantity(n));
                format!("{before}{}{after}", Value::String(body))
            },
            |n, outcome| {
                let Outcome::Response { body, .. } = outcome else {
                    panic!("request {n}: {outcome:?}")
                };
                let answer: Value = body["body"]
                    .as_str()
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or(Value::Null);
                let cents = quantity(n) as u64 * 1_250;
                assert!(
                    body["statusCode"] == 200 && answer["total_cents"] == cents,
                    "request {n}: {body}"
                );
            },
        )
        .await;
    println!("{figures}");
    check_output(
        &mut process,
        &figures,
        &[
            r#""message":"incoming event""#,
            r#""message":"order priced""#,
            r#""OrdersPriced":1"#,
            r#""OrderQuantity":1"#,
        ],
    );
    assert!(
        !process
            .stdout_head()
            .iter()
            .any(|line| line.contains("soak-secret-token")),
        "the logged event's authorization header is redacted"
    );
    figures.assert_rss_within(RSS_BOUND);
}

/// What becomes of a record of `soak-sqs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Ok,
    Fail,
    Panic,
}

impl Fate {
    /// `fail_per_mille` records in 1,000 fail and `panic_per_mille` panic.
    fn pick(rng: &mut SplitMix, fail_per_mille: u64, panic_per_mille: u64) -> Self {
        match rng.below(1_000) {
            n if n < fail_per_mille => Fate::Fail,
            n if n < fail_per_mille + panic_per_mille => Fate::Panic,
            _ => Fate::Ok,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Fate::Ok => "ok",
            Fate::Fail => "fail",
            Fate::Panic => "panic",
        }
    }
}

/// A record of an SQS batch, as Lambda sends it, small: `group` for a FIFO queue.
#[derive(Debug, Clone)]
struct Message {
    id: String,
    fate: Fate,
    group: Option<String>,
}

/// The SQS event holding `messages`, `pause_us` in each body.
fn sqs_event(messages: &[Message], pause_us: u64) -> String {
    let fifo = messages.iter().any(|message| message.group.is_some());
    let queue = if fifo { "soak.fifo" } else { "soak" };
    let mut event = String::from(r#"{"Records":["#);
    for (n, message) in messages.iter().enumerate() {
        if n > 0 {
            event.push(',');
        }
        let body = format!(
            r#"{{"n":{n},"fate":"{}","pause_us":{pause_us}}}"#,
            message.fate.name()
        );
        let fifo_attributes = message.group.as_ref().map_or(String::new(), |group| {
            format!(
                r#","MessageGroupId":"{group}","MessageDeduplicationId":"{}","SequenceNumber":"{}""#,
                message.id,
                18_000_000_000_000_000_000_u128 + n as u128
            )
        });
        event.push_str(&format!(
            r#"{{"messageId":"{id}","receiptHandle":"rh-{id}","body":{body},"attributes":{{"ApproximateReceiveCount":"1","SentTimestamp":"1764780000000","SenderId":"AIDAIENQZJOLO23YVJ4VO","ApproximateFirstReceiveTimestamp":"1764780000001"{fifo_attributes}}},"messageAttributes":{{}},"md5OfBody":"0","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:{queue}","awsRegion":"us-east-1"}}"#,
            id = message.id,
            body = Value::String(body),
        ));
    }
    event.push_str("]}");
    event
}

/// A message id of the shape SQS gives, unique per `(batch, n)`.
fn message_id(rng: &mut SplitMix, batch: usize, n: usize) -> String {
    let random = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:06x}{:06x}",
        random >> 32,
        (random >> 16) & 0xffff,
        random & 0xfff,
        (random >> 12) & 0xfff,
        batch & 0xff_ffff,
        n
    )
}

/// The ids helve must report: every record that does not succeed, and in a FIFO group every
/// record after the first that does not (it does not run, so the group's order holds).
fn expected_failures(messages: &[Message]) -> Vec<&str> {
    let mut stopped: HashSet<&str> = HashSet::new();
    messages
        .iter()
        .filter(|message| match &message.group {
            Some(group) if stopped.contains(group.as_str()) => true,
            Some(group) if message.fate != Fate::Ok => {
                stopped.insert(group);
                true
            }
            _ => message.fate != Fate::Ok,
        })
        .map(|message| message.id.as_str())
        .collect()
}

/// Checks a batch's answer: every expected id listed exactly once, no other. When every
/// record fails, the invocation fails as a whole with `helve.BatchFailed`.
fn check_batch(label: &str, messages: &[Message], outcome: &Outcome) -> usize {
    let expected = expected_failures(messages);
    if expected.len() == messages.len() {
        assert!(
            matches!(outcome, Outcome::Error { body, .. } if body["errorType"] == "helve.BatchFailed"),
            "{label}: every record failed, so the batch fails: {outcome:?}"
        );
        return expected.len();
    }
    let Outcome::Response { body, .. } = outcome else {
        panic!("{label}: {outcome:?}")
    };
    let listed: Vec<&str> = body["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("{label}: no batchItemFailures in {body}"))
        .iter()
        .map(|item| {
            item["itemIdentifier"]
                .as_str()
                .unwrap_or_else(|| panic!("{label}: an item without its identifier: {item}"))
        })
        .collect();
    let mut times: HashMap<&str, usize> = HashMap::new();
    for id in &listed {
        *times.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = times.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        twice.is_empty(),
        "{label}: listed more than once: {twice:?}"
    );
    let expected_set: HashSet<&str> = expected.iter().copied().collect();
    let listed_set: HashSet<&str> = listed.iter().copied().collect();
    let missing: Vec<_> = expected_set.difference(&listed_set).collect();
    let extra: Vec<_> = listed_set.difference(&expected_set).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{label}: {} failed ids not listed {:?}, {} listed that succeeded {:?}",
        missing.len(),
        missing.iter().take(10).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(10).collect::<Vec<_>>()
    );
    listed.len()
}

#[tokio::test]
#[ignore = "soak: 100,000 invocations of a release build; run .ci/soak"]
async fn an_sqs_batch_of_10_records_keeps_its_memory_flat_over_100_000_invocations() {
    const RECORDS: usize = 10;
    let mut api = RuntimeApi::start().await;
    let mut process = SoakProcess::spawn(&api, "soak-sqs", &[]);
    let mut rng = SplitMix::new(seed());
    // The batches pushed and not answered yet.
    let batches: RefCell<HashMap<usize, Vec<Message>>> = RefCell::default();
    let soak = soak("sqs-10");
    let figures = soak
        .run(
            &mut api,
            &process,
            |n| {
                let messages: Vec<Message> = (0..RECORDS)
                    .map(|i| Message {
                        id: message_id(&mut rng, n, i),
                        // One record in ten fails, one in twenty panics.
                        fate: Fate::pick(&mut rng, 100, 50),
                        group: None,
                    })
                    .collect();
                let event = sqs_event(&messages, 0);
                batches.borrow_mut().insert(n, messages);
                event
            },
            |n, outcome| {
                let messages = batches
                    .borrow_mut()
                    .remove(&n)
                    .expect("the batch was pushed");
                check_batch(&format!("batch {n}"), &messages, outcome);
            },
        )
        .await;
    println!("{figures}");
    check_output(
        &mut process,
        &figures,
        &[
            r#""BatchRecordsProcessed":10"#,
            "task ",
            "panics (on purpose)",
        ],
    );
    figures.assert_rss_within(RSS_BOUND);
}

/// The value of the metric `name` in the last EMF document the function wrote with it.
async fn last_metric(process: &SoakProcess, name: &str) -> f64 {
    let key = format!("\"{name}\":");
    let line = process
        .wait_for_line(|line| line.starts_with(r#"{"_aws":"#) && line.contains(&key))
        .await;
    let document: Value = serde_json::from_str(&line).expect("an EMF document is JSON");
    document[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} is not a number in {line}"))
}

/// Runs `rounds` batches of [`batch_records`] records through one `soak-sqs` process at
/// concurrency 64, and checks each answer and the function's own count of failed records.
async fn large_batches(fifo: bool, fail_per_mille: u64, panic_per_mille: u64) {
    const ROUNDS: usize = 5;
    const GROUPS: u64 = 100;
    let records = batch_records();
    let mut api = RuntimeApi::start().await;
    let mut process = SoakProcess::spawn(&api, "soak-sqs", &[]);
    let mut rng = SplitMix::new(seed() ^ u64::from(fifo));
    let kind = if fifo { "FIFO" } else { "standard" };
    let cpu_at_start = process.cpu();
    let mut busy = std::time::Duration::ZERO;
    for round in 0..ROUNDS {
        let messages: Vec<Message> = (0..records)
            .map(|n| Message {
                id: message_id(&mut rng, round, n),
                fate: Fate::pick(&mut rng, fail_per_mille, panic_per_mille),
                group: fifo.then(|| format!("group-{}", rng.below(GROUPS))),
            })
            .collect();
        // Records that wait up to a millisecond, so that 64 of them run at once.
        let event = sqs_event(&messages, 500);
        assert!(
            event.len() < EVENT_LIMIT,
            "{} bytes: more than Lambda's limit on an event",
            event.len()
        );
        let started = std::time::Instant::now();
        api.push(&format!("{kind}-{round}"), &event);
        let outcome = api.next_outcome().await;
        let elapsed = started.elapsed();
        busy += elapsed;
        let label = format!("{kind} batch {round}");
        let listed = check_batch(&label, &messages, &outcome);
        let failed = messages.iter().filter(|m| m.fate == Fate::Fail).count();
        let panicked = messages.iter().filter(|m| m.fate == Fate::Panic).count();
        // The batch's own count, in its EMF document.
        let metrics_failed = last_metric(&process, "BatchRecordsFailed").await;
        let in_flight = last_metric(&process, "RecordsInFlightMax").await;
        assert_eq!(metrics_failed, listed as f64, "{label}: BatchRecordsFailed");
        assert_eq!(
            in_flight, BATCH_CONCURRENCY,
            "{label}: at most 64 records at once, and 64 at some point"
        );
        println!(
            "soak: {label}: {records} records ({} bytes), {failed} failing, {panicked} panicking, \
             {listed} listed once each; {:.0} ms, {:.0} records/s; {}",
            event.len(),
            elapsed.as_secs_f64() * 1e3,
            records as f64 / elapsed.as_secs_f64(),
            process.memory()
        );
    }
    // Over every round: one batch alone is too short for /proc's 10 ms ticks.
    let all = (ROUNDS * records) as f64;
    println!(
        "soak: {kind} batches: {ROUNDS} x {records} records at concurrency 64, \
         CPU {:.1} µs per record (user + system), {:.0} records/s",
        process.cpu().saturating_sub(cpu_at_start).as_secs_f64() * 1e6 / all,
        all / busy.as_secs_f64()
    );
    assert!(
        process.is_running(),
        "{kind}: exited\n{}",
        process.describe()
    );
}

#[tokio::test]
#[ignore = "soak: 10,000-record batches of a release build; run .ci/soak"]
async fn an_sqs_batch_of_10_000_records_at_concurrency_64_reports_each_failed_message_exactly_once()
{
    // One record in ten fails, one in twenty panics.
    large_batches(false, 100, 50).await;
}

#[tokio::test]
#[ignore = "soak: 10,000-record batches of a release build; run .ci/soak"]
async fn a_fifo_batch_of_10_000_records_at_concurrency_64_reports_each_failed_or_skipped_message_exactly_once()
 {
    // Rarer failures, so that about a third of the 100 groups run to their end.
    large_batches(true, 5, 5).await;
}
