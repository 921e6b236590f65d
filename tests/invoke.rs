//! `helve::invoke` against a Lambda Invoke endpoint on 127.0.0.1 (the test support's fake, which
//! speaks the restJson1 `Invoke` operation to the real aws-sdk-lambda client): a real helve
//! function calling another real one, each served by its own Runtime API, and scripted answers
//! for throttling, server errors, deadlines and limits.

mod support;

use std::time::Duration;

use helve::{
    Context,
    error::codes,
    invoke::{CALL_PAYLOAD_LIMIT, EVENT_PAYLOAD_LIMIT, InvokeError, Invoker},
};
use serde_json::{Value, json};
use support::{InvocationKind, InvokeAnswer, LambdaInvoke, Outcome, RuntimeApi, log_lines};

/// A caller and a callee, each a real helve function served by its own Runtime API, the
/// callee behind the Invoke endpoint.
struct Functions {
    caller: RuntimeApi,
    invoke: LambdaInvoke,
    _caller_process: support::Process,
    _callee_process: support::Process,
}

impl Functions {
    async fn start() -> Self {
        let invoke = LambdaInvoke::start().await;
        let callee = RuntimeApi::start().await;
        let callee_process = callee.function("invoke-callee").spawn();
        invoke.backed("invoke-callee", callee);
        let caller = RuntimeApi::start().await;
        let caller_process = caller
            .function("invoke-caller")
            .env("AWS_ENDPOINT_URL_LAMBDA", invoke.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .spawn();
        Self {
            caller,
            invoke,
            _caller_process: caller_process,
            _callee_process: callee_process,
        }
    }

    /// Sends the caller a job, and says what it answered.
    async fn run(&mut self, request_id: &str, job: Value) -> Outcome {
        self.caller.push(request_id, &job.to_string());
        self.caller.next_outcome().await
    }

    /// The callee's log line `quoted` with this correlation id, once it is written.
    async fn callee_quoted(&self, correlation_id: &str) -> Value {
        let started = std::time::Instant::now();
        loop {
            let output = self.invoke.process_output("invoke-callee");
            // The log lines, without the headings of the process's output.
            let lines: Vec<&str> = output
                .lines()
                .filter(|line| line.starts_with('{'))
                .collect();
            if let Some(line) = log_lines(&lines.join("\n")).into_iter().find(|line| {
                line.message() == "quoted" && line.get("correlation_id") == correlation_id
            }) {
                return line.fields;
            }
            assert!(
                started.elapsed() < support::HANG_GUARD,
                "the callee logged no `quoted` line with correlation id {correlation_id}:\n{output}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn error_of(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Error { body, .. } => body,
        other => panic!("expected the caller to fail, got {other:?}"),
    }
}

#[tokio::test]
async fn a_call_returns_the_callees_answer_and_its_errors_typed_with_one_correlation_id() {
    let mut functions = Functions::start().await;
    let answer = functions
        .run(
            "call-1",
            json!({"correlation": "checkout-42", "mode": "call", "quote": {"sku": "A-1", "quantity": 2}}),
        )
        .await;
    match answer {
        Outcome::Response { body, .. } => assert_eq!(body, json!({"cents": 500})),
        other => panic!("expected the price, got {other:?}"),
    }
    let request = &functions.invoke.requests_for("invoke-callee")[0];
    assert_eq!(request.invocation_type, InvocationKind::RequestResponse);
    assert_eq!(request.custom("correlation_id"), Some("checkout-42"));
    assert!(request.client_context_len <= 3_583);
    // The callee's log lines carry the caller's correlation id.
    let quoted = functions.callee_quoted("checkout-42").await;
    assert_eq!(quoted["caller_correlation"], "checkout-42");

    // The callee's own error comes back with its errorType.
    let failed = error_of(
        functions
            .run(
                "call-2",
                json!({"correlation": "c-2", "mode": "call", "quote": {"sku": "A-1", "quantity": 0}}),
            )
            .await,
    );
    assert_eq!(failed["errorType"], "pricing.OutOfStock");
    assert_eq!(
        failed["errorMessage"],
        "function `invoke-callee` failed (pricing.OutOfStock): no stock for A-1"
    );

    // A helve callee's own errors too: an event it cannot decode, a panic.
    let invalid = error_of(
        functions
            .run(
                "call-3",
                json!({"correlation": "c-3", "mode": "call", "quote": {"sku": "A-1"}}),
            )
            .await,
    );
    assert_eq!(invalid["errorType"], codes::INVALID_EVENT);
    assert!(
        invalid["errorMessage"]
            .as_str()
            .unwrap()
            .contains("missing field `quantity`"),
        "{invalid}"
    );
    let panicked = error_of(
        functions
            .run(
                "call-4",
                json!({"correlation": "c-4", "mode": "call", "quote": {"sku": "panic", "quantity": 1}}),
            )
            .await,
    );
    assert_eq!(panicked["errorType"], codes::PANIC);
    assert!(
        panicked["errorMessage"]
            .as_str()
            .unwrap()
            .contains("the price list is missing"),
        "{panicked}"
    );
}

#[tokio::test]
async fn each_call_carries_the_trace_of_the_invocation_that_made_it() {
    let mut functions = Functions::start().await;
    let mut roots = Vec::new();
    for n in 1..=3 {
        let pushed = functions.caller.push(
            &format!("traced-{n}"),
            &json!({"correlation": format!("t-{n}"), "mode": "call", "quote": {"sku": "A-1", "quantity": 1}})
                .to_string(),
        );
        assert!(matches!(
            functions.caller.next_outcome().await,
            Outcome::Response { .. }
        ));
        roots.push(pushed.trace_root().to_owned());
    }
    let requests = functions.invoke.requests_for("invoke-callee");
    let sent: Vec<String> = requests
        .iter()
        .map(|request| {
            let header = request.trace_header.as_deref().unwrap_or_default();
            header
                .split(';')
                .find_map(|part| part.strip_prefix("Root="))
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    // Every call joins its own invocation's trace, not the first one's, nor none.
    assert_eq!(sent, roots);
}

#[tokio::test]
async fn a_sent_event_carries_the_correlation_id_beside_its_fields_to_the_callees_logs() {
    let mut functions = Functions::start().await;
    let answer = functions
        .run(
            "send-1",
            json!({"correlation": "checkout-77", "mode": "send", "quote": {"sku": "B-2", "quantity": 1}}),
        )
        .await;
    match answer {
        Outcome::Response { body, .. } => assert_eq!(body, json!({"sent": true})),
        other => panic!("expected the caller to answer, got {other:?}"),
    }
    let request = &functions.invoke.requests_for("invoke-callee")[0];
    assert_eq!(request.invocation_type, InvocationKind::Event);
    assert_eq!(request.status, Some(202));
    assert_eq!(
        request.payload_json(),
        Some(json!({"sku": "B-2", "quantity": 1, "_helve": {"correlation_id": "checkout-77"}}))
    );
    let quoted = functions.callee_quoted("checkout-77").await;
    assert_eq!(quoted["sku"], "B-2");
}

/// An invoker of the endpoint, as a function builds it.
fn invoker(invoke: &LambdaInvoke) -> Invoker {
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
    Invoker::from_client(aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(invoke.endpoint())
            .http_client(helve::aws::https_client())
            .build(),
    ))
}

/// An invocation's context with `remaining` before its deadline.
fn invocation_with(remaining: Duration) -> Context {
    Context::builder()
        .correlation_id("caller-1")
        .timeout(remaining)
        .build()
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_and_other_errors_are_not() {
    let invoke = LambdaInvoke::start().await;
    invoke.scripted("billing", InvokeAnswer::Payload(json!({"charged": true})));
    invoke.answer_next(
        "billing",
        [
            InvokeAnswer::Throttled {
                retry_after_seconds: 0,
            },
            InvokeAnswer::ServiceError,
        ],
    );
    let invoker = invoker(&invoke);
    let answer: Value = invoker
        .call("billing", &json!({"amount": 5}))
        .await
        .unwrap();
    assert_eq!(answer, json!({"charged": true}));
    assert_eq!(
        invoke.count("billing"),
        3,
        "a throttle, a 500, then the answer"
    );

    invoke.scripted(
        "always-busy",
        InvokeAnswer::Throttled {
            retry_after_seconds: 0,
        },
    );
    let error = invoker
        .call::<_, Value>("always-busy", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(invoke.count("always-busy"), 3, "three attempts in all");
    match &error {
        InvokeError::Service { code, status, .. } => {
            assert_eq!(code.as_deref(), Some("TooManyRequestsException"));
            assert_eq!(*status, Some(429));
        }
        other => panic!("expected the throttle, got {other:?}"),
    }
    assert_eq!(error.code(), codes::INVOKE_FAILED);

    let error = invoker
        .call::<_, Value>("no-such-function", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(invoke.count("no-such-function"), 1, "not retried");
    assert!(
        error.to_string().starts_with(
            "calling function `no-such-function` failed (ResourceNotFoundException, HTTP 404)"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn nothing_outlives_the_callers_deadline_less_its_margin() {
    let invoke = LambdaInvoke::start().await;
    invoke.scripted(
        "slow",
        InvokeAnswer::delayed(Duration::from_secs(20), InvokeAnswer::Payload(json!({}))),
    );
    invoke.scripted(
        "busy",
        InvokeAnswer::Throttled {
            retry_after_seconds: 0,
        },
    );
    let invoker = invoker(&invoke).deadline_margin(Duration::from_millis(500));

    // 1.5 s left, 0.5 s kept: the wait for the slow answer ends after about a second.
    let started = std::time::Instant::now();
    let error = invocation_with(Duration::from_millis(1_500))
        .scope(async { invoker.call::<_, Value>("slow", &json!({})).await })
        .await
        .unwrap_err();
    assert!(matches!(error, InvokeError::Deadline { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the call was given up"
    );

    // No time left past the margin: nothing is sent.
    let error = invocation_with(Duration::from_millis(400))
        .scope(async { invoker.send("slow", &json!({})).await })
        .await
        .unwrap_err();
    assert!(matches!(error, InvokeError::Deadline { .. }), "{error:?}");
    assert_eq!(
        invoke.count("slow"),
        1,
        "only the first call reached Lambda"
    );

    // 50 ms past the margin: no time for a backoff of 100 ms, so no retry.
    let error = invocation_with(Duration::from_millis(550))
        .scope(async { invoker.call::<_, Value>("busy", &json!({})).await })
        .await
        .unwrap_err();
    assert!(invoke.count("busy") <= 1, "no retry past the deadline");
    assert!(
        matches!(
            error,
            InvokeError::Service { .. } | InvokeError::Deadline { .. }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_oversized_payload_is_refused_before_anything_is_sent() {
    let invoke = LambdaInvoke::start().await;
    invoke.scripted("sink", InvokeAnswer::Payload(json!({})));
    let invoker = invoker(&invoke);
    // Exactly the limit: Lambda takes only smaller payloads.
    let big = "x".repeat(CALL_PAYLOAD_LIMIT - 2);
    let error = invoker.call::<_, Value>("sink", &big).await.unwrap_err();
    assert_eq!(
        error,
        InvokeError::TooLarge {
            function: "sink".to_owned(),
            size: CALL_PAYLOAD_LIMIT,
            limit: CALL_PAYLOAD_LIMIT,
        }
    );
    assert_eq!(error.code(), codes::INVOKE_PAYLOAD_TOO_LARGE);
    let event = "x".repeat(EVENT_PAYLOAD_LIMIT);
    let error = invoker.send("sink", &event).await.unwrap_err();
    assert!(
        matches!(error, InvokeError::TooLarge { limit, .. } if limit == EVENT_PAYLOAD_LIMIT),
        "{error:?}"
    );
    assert_eq!(invoke.count("sink"), 0, "nothing reached Lambda");
    // Just under the limit of an event, it is sent.
    invoker
        .send("sink", &"x".repeat(EVENT_PAYLOAD_LIMIT - 2))
        .await
        .unwrap();
    assert_eq!(invoke.count("sink"), 1);
}

#[tokio::test]
async fn an_answer_of_another_shape_names_the_path_and_a_dry_run_runs_nothing() {
    let invoke = LambdaInvoke::start().await;
    invoke.scripted(
        "pricing",
        InvokeAnswer::Payload(json!({"cents": "a lot, secretly"})),
    );
    let invoker = invoker(&invoke).log_tail(true);

    #[derive(Debug, serde::Deserialize)]
    struct Price {
        #[allow(dead_code)]
        cents: u64,
    }
    let error = invoker
        .call::<_, Price>("pricing", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(error.code(), codes::INVOKE_INVALID_RESPONSE);
    assert_eq!(
        error.to_string(),
        "the answer of function `pricing` does not decode: at `cents`: invalid type: string, expected u64 at line 1 column 26"
    );
    assert!(!error.to_string().contains("secretly"));
    assert_eq!(
        invoke.requests_for("pricing")[0].log_type.as_deref(),
        Some("Tail")
    );

    invoker.dry_run("pricing", &json!({})).await.unwrap();
    let dry = invoke.requests_for("pricing").pop().unwrap();
    assert_eq!(dry.invocation_type, InvocationKind::DryRun);
    assert_eq!(dry.status, Some(204));
}
