//! The tracer end to end: real binaries served by a Runtime API on 127.0.0.1, sending their
//! subsegments to an X-Ray daemon socket on 127.0.0.1, each document asserted exactly (ids and
//! times normalised).

mod support;

use serde_json::{Value, json};
use support::{Outcome, Pushed, RuntimeApi, XRayDaemon, normalised, read_workspace_file};

const TRACED: &str = "traced";

/// The trace id and Lambda's segment id (`Root=`, `Parent=`) of a pushed event.
fn ids(pushed: &Pushed) -> (String, String) {
    let field = |key: &str| {
        pushed
            .trace_header
            .split(';')
            .find_map(|part| part.strip_prefix(key))
            .expect("the pushed header has the key")
            .to_owned()
    };
    (field("Root="), field("Parent="))
}

/// Runs `binary` with the daemon's address and `env` on each event, one after the other; the
/// responses and the documents sent for each.
async fn traced_run(
    binary: &str,
    env: &[(&str, &str)],
    events: &[&str],
) -> Vec<(Pushed, Outcome, Vec<Value>)> {
    let mut daemon = XRayDaemon::start().await;
    let mut api = RuntimeApi::start().await;
    let mut launch = api.function(binary);
    launch.env("AWS_XRAY_DAEMON_ADDRESS", daemon.address());
    for (name, value) in env {
        launch.env(name, value);
    }
    let function = launch.spawn();
    let mut runs = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let pushed = api.push(&format!("req-{}", index + 1), event);
        let outcome = api.next_outcome().await;
        let documents = daemon.documents().await;
        runs.push((pushed, outcome, documents));
    }
    function.stop().await;
    runs
}

fn response(outcome: &Outcome) -> &Value {
    match outcome {
        Outcome::Response { body, .. } => body,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[tokio::test]
async fn a_sampled_invocation_is_its_handlers_subsegment_over_its_spans() {
    let runs = traced_run(
        TRACED,
        &[],
        &[r#"{"order_id": "o-1"}"#, r#"{"order_id": "o-22"}"#],
    )
    .await;
    let (pushed, outcome, documents) = &runs[0];
    assert_eq!(
        response(outcome),
        &json!({"order_id": "o-1", "checked": true})
    );
    let (trace, lambda) = ids(pushed);
    // Each span's subsegment is sent when the span closes: the innermost first, the
    // invocation's own last, so nothing is left to send once the function has answered.
    assert_eq!(
        normalised(documents, &[&lambda]),
        [
            json!({
                "name": "stock", "id": "#1", "parent_id": "#2", "trace_id": trace,
                "type": "subsegment", "start_time": 0, "end_time": 0,
                "metadata": {"default": {"lines": 3}},
            }),
            json!({
                "name": "check", "id": "#2", "parent_id": "#3", "trace_id": trace,
                "type": "subsegment", "start_time": 0, "end_time": 0,
                "annotations": {"order_id": "o-1"},
                "metadata": {"default": {"order_id": "o-1"}},
            }),
            json!({
                "name": "## place_order", "id": "#3", "parent_id": lambda, "trace_id": trace,
                "type": "subsegment", "start_time": 0, "end_time": 0,
                "annotations": {"ColdStart": true, "Service": "traced-orders"},
                "metadata": {"traced-orders": {
                    "place_order response": {"order_id": "o-1", "checked": true},
                }},
            }),
        ]
    );
    // Nested spans start inside their parent and end before it.
    let time = |index: usize, key: &str| documents[index][key].as_f64().unwrap();
    assert!(time(2, "start_time") <= time(1, "start_time"));
    assert!(time(1, "start_time") <= time(0, "start_time"));
    assert!(time(0, "end_time") <= time(1, "end_time"));
    assert!(time(1, "end_time") <= time(2, "end_time"));

    // The next invocation is a warm start, in its own trace.
    let (pushed, _, documents) = &runs[1];
    let (trace, _) = ids(pushed);
    assert_eq!(documents.len(), 3);
    assert!(
        documents
            .iter()
            .all(|document| document["trace_id"] == trace.as_str())
    );
    assert_eq!(documents[2]["annotations"]["ColdStart"], false);
}

#[tokio::test]
async fn a_handler_error_is_a_fault_with_its_type_and_message() {
    let runs = traced_run(TRACED, &[], &[r#"{"order_id": "o-1", "fail": "error"}"#]).await;
    let (pushed, outcome, documents) = &runs[0];
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    let (trace, lambda) = ids(pushed);
    let handler = normalised(documents, &[&lambda]).pop().unwrap();
    assert_eq!(
        handler,
        json!({
            "name": "## place_order", "id": "#3", "parent_id": lambda, "trace_id": trace,
            "type": "subsegment", "start_time": 0, "end_time": 0,
            "fault": true,
            "cause": {"exceptions": [{
                "id": "#4", "type": "orders.Declined", "message": "order o-1 was declined",
            }]},
            "annotations": {"ColdStart": true, "Service": "traced-orders"},
            "metadata": {"traced-orders": {"place_order error": {
                "errorType": "orders.Declined", "errorMessage": "order o-1 was declined",
            }}},
        })
    );
}

#[tokio::test]
async fn a_panic_is_a_fault_and_the_next_invocation_is_traced_as_usual() {
    let runs = traced_run(
        TRACED,
        &[("POWERTOOLS_TRACER_CAPTURE_ERROR", "false")],
        &[
            r#"{"order_id": "o-1", "fail": "panic"}"#,
            r#"{"order_id": "o-2"}"#,
        ],
    )
    .await;
    let (pushed, _, documents) = &runs[0];
    let (trace, lambda) = ids(pushed);
    let handler = normalised(documents, &[&lambda]).pop().unwrap();
    assert_eq!(
        handler,
        json!({
            "name": "## place_order", "id": "#3", "parent_id": lambda, "trace_id": trace,
            "type": "subsegment", "start_time": 0, "end_time": 0,
            "fault": true,
            "cause": {"exceptions": [{
                "id": "#4", "type": "helve.Panic",
                "message": "the handler panicked: asked to panic for o-1",
            }]},
            // POWERTOOLS_TRACER_CAPTURE_ERROR=false: no error metadata, the cause stays.
            "annotations": {"ColdStart": true, "Service": "traced-orders"},
        })
    );
    let (_, outcome, documents) = &runs[1];
    assert_eq!(response(outcome)["checked"], true);
    assert_eq!(documents.len(), 3);
    assert!(documents[2].get("fault").is_none());
}

#[tokio::test]
async fn an_unsampled_invocation_sends_nothing() {
    let mut daemon = XRayDaemon::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api
        .function(TRACED)
        .env("AWS_XRAY_DAEMON_ADDRESS", daemon.address())
        .spawn();
    let header = "Root=1-6b115645-98716dad3424466bb062ff7b;Parent=53995c3f42cd8ad8;Sampled=0";
    api.push_with_trace("req-1", r#"{"order_id": "o-1"}"#, header);
    assert_eq!(response(&api.next_outcome().await)["checked"], true);
    // PassThrough: a root alone is not sampled either.
    api.push_with_trace(
        "req-2",
        r#"{"order_id": "o-2"}"#,
        "Root=1-6b115645-98716dad3424466bb062ff7b",
    );
    assert_eq!(response(&api.next_outcome().await)["checked"], true);
    assert_eq!(daemon.datagrams().await, Vec::<Vec<u8>>::new());
    function.stop().await;
}

#[tokio::test]
async fn the_tracer_turned_off_sends_nothing() {
    let runs = traced_run(
        TRACED,
        &[("POWERTOOLS_TRACE_DISABLED", "true")],
        &[r#"{"order_id": "o-1"}"#],
    )
    .await;
    assert_eq!(response(&runs[0].1)["checked"], true);
    assert!(runs[0].2.is_empty(), "{:?}", runs[0].2);
}

#[tokio::test]
async fn concurrent_invocations_keep_their_own_traces() {
    let mut daemon = XRayDaemon::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api
        .function(TRACED)
        .env("AWS_XRAY_DAEMON_ADDRESS", daemon.address())
        .env("AWS_LAMBDA_MAX_CONCURRENCY", "2")
        .spawn();
    // Both wait, so that their spans are open at the same time.
    let first = api.push("req-1", r#"{"order_id": "o-1", "wait_ms": 200}"#);
    let second = api.push("req-2", r#"{"order_id": "o-22", "wait_ms": 200}"#);
    let outcomes = api.next_outcomes(2).await;
    assert!(
        outcomes
            .iter()
            .all(|outcome| response(outcome)["checked"] == true)
    );
    let documents = daemon.documents().await;
    function.stop().await;
    assert_eq!(documents.len(), 6, "{documents:#?}");
    for (pushed, order) in [(&first, "o-1"), (&second, "o-22")] {
        let (trace, lambda) = ids(pushed);
        let mine: Vec<&Value> = documents
            .iter()
            .filter(|document| document["trace_id"] == trace.as_str())
            .collect();
        let names: Vec<&str> = mine
            .iter()
            .map(|document| document["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["stock", "check", "## place_order"]);
        // Each chain is whole within its own trace: stock under check, check under the
        // handler, the handler under Lambda's segment of that invocation.
        assert_eq!(mine[0]["parent_id"], mine[1]["id"]);
        assert_eq!(mine[1]["parent_id"], mine[2]["id"]);
        assert_eq!(mine[2]["parent_id"], lambda.as_str());
        assert_eq!(mine[1]["annotations"]["order_id"], order);
        assert_eq!(
            mine[2]["metadata"]["traced-orders"]["place_order response"]["order_id"],
            order
        );
    }
}

#[tokio::test]
async fn a_response_too_big_for_a_datagram_is_truncated_to_fit_and_says_so() {
    let runs = traced_run(TRACED, &[], &[r#"{"order_id": "o-1", "big": 100000}"#]).await;
    let (_, outcome, documents) = &runs[0];
    assert_eq!(
        response(outcome)["padding"].as_str().map(str::len),
        Some(100_000)
    );
    let captured = &documents[2]["metadata"]["traced-orders"]["place_order response"];
    assert_eq!(captured["truncated"], true);
    let full = serde_json::to_vec(response(outcome)).unwrap().len();
    assert_eq!(captured["bytes"], full);
    let start = captured["start"].as_str().unwrap();
    assert!(
        start.starts_with(r#"{"order_id":"o-1","checked":true,"padding":"xxx"#),
        "{start:.80}"
    );
    assert!(
        start.len() > 60_000,
        "as much as fits is kept: {}",
        start.len()
    );
}

/// An event file of `examples/orders-api`.
fn orders_event(file: &str) -> String {
    read_workspace_file(&format!("examples/orders-api/events/{file}"))
}

#[tokio::test]
async fn an_http_4xx_is_an_error_and_a_5xx_a_fault_of_the_handlers_subsegment() {
    let runs = traced_run("create-order", &[], &[&orders_event("create-invalid.json")]).await;
    let (_, outcome, documents) = &runs[0];
    assert_eq!(response(outcome)["statusCode"], 422);
    let handler = documents.last().unwrap();
    assert_eq!(handler["name"], "## create_order");
    assert_eq!(handler["http"], json!({"response": {"status": 422}}));
    assert_eq!(handler["error"], true);
    assert!(handler.get("fault").is_none() && handler.get("throttle").is_none());
    assert_eq!(handler["annotations"]["Service"], "orders");

    let runs = traced_run(
        "create-order",
        &[("ORDERS_STORE_UNAVAILABLE", "1")],
        &[&orders_event("create.json")],
    )
    .await;
    let (_, outcome, documents) = &runs[0];
    assert_eq!(response(outcome)["statusCode"], 503);
    let handler = documents.last().unwrap();
    assert_eq!(handler["http"], json!({"response": {"status": 503}}));
    assert_eq!(handler["fault"], true);
    assert!(handler.get("error").is_none());
    // The annotation the handler made before the store failed.
    assert_eq!(handler["annotations"]["order_id"], "o-1002");
}

#[cfg(feature = "dynamodb")]
#[tokio::test]
async fn an_aws_sdk_call_is_an_aws_subsegment_named_for_its_service() {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let Some(moto) =
        support::Moto::start_or_skip("an_aws_sdk_call_is_an_aws_subsegment_named_for_its_service")
    else {
        return;
    };
    let table = "orders";
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .http_client(helve::aws::https_client())
        .build();
    support::create_table(&aws_sdk_dynamodb::Client::from_conf(config), table, "id").await;
    let env = [
        ("ORDERS_TABLE", table),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let runs = traced_run("create-order", &env, &[&orders_event("create.json")]).await;
    let (pushed, outcome, documents) = &runs[0];
    assert_eq!(response(outcome)["statusCode"], 201, "{outcome:?}");
    let (trace, lambda) = ids(pushed);
    let documents = normalised(documents, &[&lambda]);
    let handler = documents.last().unwrap();
    let calls: Vec<&Value> = documents
        .iter()
        .filter(|document| document["namespace"] == "aws")
        .collect();
    assert!(!calls.is_empty(), "{documents:#?}");
    let put = calls
        .iter()
        .find(|call| call["aws"]["operation"] == "PutItem")
        .unwrap_or_else(|| panic!("no PutItem among {calls:#?}"));
    assert_eq!(put["name"], "DynamoDB");
    assert_eq!(put["parent_id"], handler["id"]);
    assert_eq!(put["trace_id"], trace.as_str());
    assert_eq!(
        put["metadata"]["default"]["rpc.system"],
        Value::Null,
        "rpc fields are not metadata"
    );
}

#[tokio::test]
async fn each_record_of_a_batch_is_a_subsegment_named_for_its_source_and_id() {
    let event = read_workspace_file("examples/sqs-worker/events/batch.json");
    let runs = traced_run("example-sqs-worker", &[("STEP_MILLIS", "1")], &[&event]).await;
    let (pushed, _, documents) = &runs[0];
    let (_, lambda) = ids(pushed);
    let handler = documents.last().unwrap();
    assert_eq!(handler["name"], "## work");
    assert_eq!(handler["parent_id"], lambda.as_str());
    let batch: Value = serde_json::from_str(&event).unwrap();
    for record in batch["Records"].as_array().unwrap() {
        let id = record["messageId"].as_str().unwrap();
        let name = format!("aws:sqs {id}");
        let subsegment = documents
            .iter()
            .find(|document| document["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no subsegment {name}"));
        assert_eq!(subsegment["parent_id"], handler["id"]);
        assert_eq!(subsegment["metadata"]["default"]["record_id"], id);
        // The job's steps are under their record, each one.
        let body: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
        let steps: Vec<&Value> = documents
            .iter()
            .filter(|document| document["parent_id"] == subsegment["id"])
            .collect();
        assert_eq!(
            steps.len() as u64,
            body["steps"].as_u64().unwrap(),
            "the steps of {id}: {steps:?}"
        );
        for step in steps {
            assert_eq!(step["name"], "simulate_step");
            assert_eq!(step["annotations"]["job_id"], body["jobId"]);
        }
    }
}

#[tokio::test]
async fn local_mode_with_trace_prints_each_document_on_stderr() {
    let mut launch = support::local(TRACED);
    launch
        .arg("--trace")
        .arg("-")
        .stdin(br#"{"order_id": "o-1"}"#.to_vec());
    let exit = launch.run().await;
    assert!(exit.status.success(), "{}", exit.stderr);
    let documents: Vec<Value> = exit
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a document: {line}")))
        .collect();
    let names: Vec<&str> = documents
        .iter()
        .map(|document| document["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["stock", "check", "## place_order"]);
    // Without `--trace`, nothing.
    let mut launch = support::local(TRACED);
    launch.arg("-").stdin(br#"{"order_id": "o-1"}"#.to_vec());
    let exit = launch.run().await;
    assert_eq!(exit.stderr, "");
}

/// Decodes OTLP datagram bodies with OpenTelemetry's own protobuf messages
/// (tests/python/otlp_decode.py); `None` when that cannot run outside CI (said on stderr).
fn decode_otlp(bodies: &[String]) -> Option<Vec<Value>> {
    use std::io::Write as _;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/otlp_decode.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut stdin = child.stdin.take().expect("a stdin");
    stdin
        .write_all(bodies.join("\n").as_bytes())
        .expect("the datagrams are written");
    drop(stdin);
    let output = child.wait_with_output().expect("the decoder ends");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No module named") && std::env::var_os("CI").is_none() {
            eprintln!(
                "skipped: OpenTelemetry's protobuf messages are not installed \
                 (python3 -m pip install opentelemetry-proto): {stderr}"
            );
            return None;
        }
        panic!("the OTLP decoder failed:\n{stderr}");
    }
    Some(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).expect("the decoder prints JSON"))
            .collect(),
    )
}

/// The attributes of a decoded resource or span, as `{key: value}` with protobuf's JSON values
/// (`{"stringValue": ...}` and the like) unwrapped.
fn attributes(owner: &Value) -> serde_json::Map<String, Value> {
    owner["attributes"]
        .as_array()
        .map(|attributes| {
            attributes
                .iter()
                .map(|attribute| {
                    let value = attribute["value"]
                        .as_object()
                        .and_then(|any| any.values().next().cloned())
                        .unwrap_or(Value::Null);
                    (attribute["key"].as_str().unwrap().to_owned(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn hex_of_base64(text: &Value) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.as_str().expect("an id in base64"))
        .expect("valid base64");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test]
async fn the_otlp_export_sends_the_same_spans_as_opentelemetry_decodes_them() {
    let mut daemon = XRayDaemon::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api
        .function(TRACED)
        .env("AWS_XRAY_DAEMON_ADDRESS", daemon.address())
        .env("POWERTOOLS_TRACER_EXPORT", "otlp")
        .spawn();
    let first = api.push("req-1", r#"{"order_id": "o-1"}"#);
    assert_eq!(response(&api.next_outcome().await)["checked"], true);
    let panicked = api.push("req-2", r#"{"order_id": "o-2", "fail": "panic"}"#);
    let _ = api.next_outcome().await;
    let datagrams = daemon.datagrams().await;
    function.stop().await;
    let bodies: Vec<String> = datagrams
        .iter()
        .map(|datagram| {
            let text = String::from_utf8(datagram.clone()).expect("UTF-8");
            let body = text
                .strip_prefix(support::DAEMON_HEADER)
                .expect("the daemon's header");
            assert!(body.starts_with("T1S"), "{body:.40}");
            body.to_owned()
        })
        .collect();
    // One span per datagram: the 10 spans AWS's distributions allow are never reached.
    assert_eq!(bodies.len(), 6);
    let Some(requests) = decode_otlp(&bodies) else {
        return;
    };
    let spans: Vec<(&Value, &Value)> = requests
        .iter()
        .map(|request| {
            let resource_spans = &request["resourceSpans"][0];
            let spans = resource_spans["scopeSpans"][0]["spans"].as_array().unwrap();
            assert_eq!(spans.len(), 1);
            assert_eq!(resource_spans["scopeSpans"][0]["scope"]["name"], "helve");
            (&resource_spans["resource"], &spans[0])
        })
        .collect();
    let resource = attributes(spans[0].0);
    assert_eq!(resource["service.name"], "traced-orders");
    assert_eq!(resource["cloud.provider"], "aws");
    assert_eq!(resource["cloud.platform"], "aws_lambda");
    assert_eq!(resource["cloud.region"], "us-east-1");
    assert_eq!(resource["faas.name"], TRACED);

    let (trace, lambda) = ids(&first);
    let trace_hex: String = trace.trim_start_matches("1-").replace('-', "");
    let names: Vec<&str> = spans
        .iter()
        .map(|(_, span)| span["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "stock",
            "check",
            "## place_order",
            "stock",
            "check",
            "## place_order"
        ]
    );
    let (stock, check, handler) = (spans[0].1, spans[1].1, spans[2].1);
    for span in [stock, check, handler] {
        assert_eq!(hex_of_base64(&span["traceId"]), trace_hex);
    }
    assert_eq!(
        hex_of_base64(&stock["parentSpanId"]),
        hex_of_base64(&check["spanId"])
    );
    assert_eq!(
        hex_of_base64(&check["parentSpanId"]),
        hex_of_base64(&handler["spanId"])
    );
    assert_eq!(hex_of_base64(&handler["parentSpanId"]), lambda);
    assert_eq!(stock["kind"], "SPAN_KIND_INTERNAL");
    assert_eq!(handler["kind"], "SPAN_KIND_SERVER");
    // Only semantic conventions: the spans' fields and annotations are not attributes.
    assert_eq!(attributes(stock), serde_json::Map::new());
    assert_eq!(attributes(check), serde_json::Map::new());
    let handler_attributes = attributes(handler);
    assert_eq!(handler_attributes["faas.coldstart"], true);
    assert_eq!(handler_attributes["faas.invocation_id"], "req-1");
    let start: u64 = handler["startTimeUnixNano"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let end: u64 = handler["endTimeUnixNano"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(1_700_000_000_000_000_000 < start && start <= end);
    assert!(handler.get("status").is_none(), "{handler}");

    // The panic: an error status and an exception event.
    let (trace, _) = ids(&panicked);
    let handler = spans[5].1;
    assert_eq!(
        hex_of_base64(&handler["traceId"]),
        trace.trim_start_matches("1-").replace('-', "")
    );
    assert_eq!(attributes(handler)["faas.coldstart"], false);
    assert_eq!(handler["status"]["code"], "STATUS_CODE_ERROR");
    assert_eq!(
        handler["status"]["message"],
        "the handler panicked: asked to panic for o-2"
    );
    let event = &handler["events"][0];
    assert_eq!(event["name"], "exception");
    assert_eq!(attributes(event)["exception.type"], "helve.Panic");
}

#[tokio::test]
async fn annotations_x_ray_would_refuse_are_dropped_with_one_warning() {
    let mut daemon = XRayDaemon::start().await;
    let mut api = RuntimeApi::start().await;
    let function = api
        .function(TRACED)
        .env("AWS_XRAY_DAEMON_ADDRESS", daemon.address())
        .spawn();
    api.push("req-1", r#"{"order_id": "o-1", "bad_annotations": true}"#);
    assert_eq!(response(&api.next_outcome().await)["checked"], true);
    let documents = daemon.documents().await;
    let exit = function.stop().await;
    // ColdStart, Service and 48 of the 50 lines: X-Ray's 50 per trace. The two last lines,
    // the key with `-`, and the span's `annotation.order_id` that came after are dropped.
    let handler = documents.last().unwrap();
    let annotations = handler["annotations"].as_object().unwrap();
    assert_eq!(annotations.len(), 50, "{annotations:?}");
    assert!(!annotations.contains_key("order-id") && !annotations.contains_key("line_48"));
    let check = documents
        .iter()
        .find(|document| document["name"] == "check")
        .unwrap();
    assert!(check.get("annotations").is_none(), "{check}");
    let warnings: Vec<support::LogLine> = support::log_lines(&exit.stdout)
        .into_iter()
        .filter(|line| line.get("level") == "WARN")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].message(),
        "4 trace annotation(s) were dropped, the first because the key `order-id` is not 1 to 500 letters, digits and `_`"
    );
    assert_eq!(warnings[0].get("dropped_annotations"), 4);
}
