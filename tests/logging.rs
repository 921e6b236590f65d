//! The log lines of real binaries served by a Lambda Runtime API on 127.0.0.1, as a user reads
//! them in CloudWatch: every stdout line one JSON object with Powertools' keys, the incoming
//! event logged with its secrets redacted, the log level chosen by Lambda's controls.

mod support;

use serde_json::{Value, json};
use support::{
    Exit, InvocationKeys, LogLine, Outcome, Pushed, READY, RuntimeApi, fields, init_line,
    invocation_key_order, log_lines, read_workspace_file, without_init_duration,
};

/// The correlation id of the API Gateway REST API fixture: its `requestContext.requestId`.
const APIGW_REQUEST_ID: &str = "deef4878-7910-11e6-8f14-25afc3e9ae33";

/// The secrets [`greeting_with_secrets`] carries; none may reach the output.
const SECRETS: [&str; 3] = ["SECRET-1", "SECRET-2", "SECRET-3"];

/// The API Gateway REST API fixture as a greeting for `example-hello` (`"name": "Ada"`), with a
/// secret in each place an HTTP request carries one: an `Authorization` and a `Cookie` header,
/// in `headers` and in `multiValueHeaders` as API Gateway sends them, and a password in the
/// JSON body.
fn greeting_with_secrets() -> Value {
    let mut event: Value = serde_json::from_str(&read_workspace_file(
        "tests/fixtures/example-apigw-request.json",
    ))
    .expect("the fixture is JSON");
    event["name"] = json!("Ada");
    event["headers"]["Authorization"] = json!("Bearer SECRET-1");
    event["headers"]["Cookie"] = json!("session=SECRET-2");
    event["multiValueHeaders"]["Authorization"] = json!(["Bearer SECRET-1"]);
    event["multiValueHeaders"]["Cookie"] = json!(["session=SECRET-2"]);
    event["body"] = json!(r#"{"password":"SECRET-3"}"#);
    event
}

/// Starts `example-hello` with `env`, runs it on one event, stops it once it has answered
/// `{"message": "Hello, Ada!"}`, and returns the pushed event and everything it wrote.
async fn greet_once(request_id: &str, event: &str, env: &[(&str, &str)]) -> (Pushed, Exit) {
    let mut api = RuntimeApi::start().await;
    let mut launch = api.function("example-hello");
    for (name, value) in env {
        launch.env(name, value);
    }
    let function = launch.spawn();
    let pushed = api.push(request_id, event);
    assert_eq!(
        api.next_outcome().await,
        Outcome::Response {
            request_id: request_id.to_owned(),
            body: json!({"message": "Hello, Ada!"}),
        },
        "{}",
        api.process_output()
    );
    (pushed, function.stop().await)
}

/// The lines of `exit`, without the duration of the first invocation's [`READY`] line.
fn lines_of(exit: &Exit) -> Vec<LogLine> {
    let mut lines = log_lines(&exit.stdout);
    without_init_duration(&mut lines);
    lines
}

/// The keys of the cold start of `example-hello` (service `hello`) for `pushed`, correlated by
/// `correlation_id`.
fn hello_keys(pushed: &Pushed, correlation_id: &str) -> InvocationKeys {
    InvocationKeys::new("example-hello", &pushed.request_id, correlation_id)
        .service("hello")
        .trace(pushed.trace_root())
        .cold_start(true)
}

/// The line `example-hello`'s handler logs, with its own `function_version` field.
fn greeting_line(keys: &InvocationKeys) -> Value {
    keys.line(
        "INFO",
        "greeting Ada",
        json!({"function_version": "$LATEST"}),
    )
}

fn assert_no_secret_in(exit: &Exit) {
    for secret in SECRETS {
        assert!(
            !exit.stdout.contains(secret) && !exit.stderr.contains(secret),
            "{secret} reached the output: {exit}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Logging the incoming event
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_incoming_event_is_logged_once_with_every_secret_redacted() {
    let event = greeting_with_secrets();
    let (pushed, exit) = greet_once(
        "secrets-1",
        &event.to_string(),
        &[("POWERTOOLS_LOGGER_LOG_EVENT", "true")],
    )
    .await;
    assert_no_secret_in(&exit);

    let mut redacted = event;
    for (place, key) in [
        ("headers", "Authorization"),
        ("headers", "Cookie"),
        ("headers", "Postman-Token"),
        ("multiValueHeaders", "Authorization"),
        ("multiValueHeaders", "Cookie"),
        ("multiValueHeaders", "Postman-Token"),
    ] {
        redacted[place][key] = json!("[REDACTED]");
    }
    redacted["requestContext"]["identity"]["apiKey"] = json!("[REDACTED]");
    redacted["requestContext"]["identity"]["apiKeyId"] = json!("[REDACTED]");
    redacted["body"] = json!(r#"{"password":"[REDACTED]"}"#);

    let keys = hello_keys(&pushed, APIGW_REQUEST_ID);
    let lines = lines_of(&exit);
    assert_eq!(
        fields(&lines),
        [
            keys.line("INFO", READY, json!({})),
            keys.line("INFO", "incoming event", json!({ "event": redacted })),
            greeting_line(&keys),
        ],
        "{exit}"
    );
    assert_eq!(
        lines[2].location_file(),
        "examples/hello/src/main.rs",
        "{exit}"
    );
}

#[tokio::test]
async fn without_powertools_logger_log_event_the_event_is_not_logged() {
    let (pushed, exit) = greet_once("quiet-1", &greeting_with_secrets().to_string(), &[]).await;
    assert_no_secret_in(&exit);
    let keys = hello_keys(&pushed, APIGW_REQUEST_ID);
    assert_eq!(
        fields(&lines_of(&exit)),
        [keys.line("INFO", READY, json!({})), greeting_line(&keys)],
        "{exit}"
    );
}

// ---------------------------------------------------------------------------------------------
// Lambda's log format
// ---------------------------------------------------------------------------------------------

// With the function's log format set to JSON, Lambda captures a line that is already a JSON
// object as it is: it does not wrap it in its own `{"timestamp":...,"message":...}` object nor
// encode it again ("Lambda doesn't double-encode any logs that are already JSON encoded",
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html). So
// helve prints the same lines in both formats, and they reach CloudWatch as they are printed.
#[tokio::test]
async fn json_and_text_log_formats_print_the_same_one_object_lines() {
    let event = read_workspace_file("examples/hello/events/greeting.json");
    let mut runs = Vec::new();
    for format in ["JSON", "Text"] {
        let (pushed, exit) = greet_once(
            "format-1",
            &event,
            &[
                ("AWS_LAMBDA_LOG_FORMAT", format),
                ("POWERTOOLS_LOGGER_LOG_EVENT", "true"),
            ],
        )
        .await;
        let lines = lines_of(&exit);
        // The lines themselves, not a wrapper holding them: no line's message is a line.
        for line in &lines {
            assert!(
                !line.message().trim_start().starts_with('{'),
                "a line wrapped in another with AWS_LAMBDA_LOG_FORMAT={format}: {}",
                line.raw
            );
        }
        let keys = hello_keys(&pushed, &pushed.request_id);
        assert_eq!(
            fields(&lines),
            [
                keys.line("INFO", READY, json!({})),
                keys.line(
                    "INFO",
                    "incoming event",
                    json!({"event": serde_json::from_str::<Value>(&event).expect("JSON")})
                ),
                greeting_line(&keys),
            ],
            "AWS_LAMBDA_LOG_FORMAT={format}\n{exit}"
        );
        assert_eq!(
            lines[2].keys,
            invocation_key_order(&["function_version"]),
            "Powertools' key order with AWS_LAMBDA_LOG_FORMAT={format}"
        );
        runs.push(lines);
    }
    let keys = |lines: &[LogLine]| {
        lines
            .iter()
            .map(|line| line.keys.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(&runs[0]),
        keys(&runs[1]),
        "the same keys in both formats"
    );
}

// ---------------------------------------------------------------------------------------------
// Log levels
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn lambdas_log_level_wins_and_a_more_verbose_level_is_warned_about_at_start() {
    let (_, exit) = greet_once(
        "warn-1",
        &read_workspace_file("examples/hello/events/greeting.json"),
        &[
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("POWERTOOLS_LOG_LEVEL", "DEBUG"),
        ],
    )
    .await;
    // Only the warning, written at start, outside any invocation: neither the INFO greeting
    // nor any DEBUG line.
    assert_eq!(
        fields(&lines_of(&exit)),
        [init_line(
            "WARN",
            "the log level `DEBUG` from POWERTOOLS_LOG_LEVEL is more verbose than \
             AWS_LAMBDA_LOG_LEVEL `WARN`: Lambda drops the lines below `WARN`, so helve logs \
             at `WARN`",
            "hello",
            json!({})
        )],
        "{exit}"
    );
}

#[tokio::test]
async fn a_log_level_that_is_not_one_is_an_init_error_naming_the_variable() {
    let mut api = RuntimeApi::start().await;
    let function = api
        .function("example-hello")
        .env("POWERTOOLS_LOG_LEVEL", "loud")
        .spawn();
    let message = "invalid setting POWERTOOLS_LOG_LEVEL: `loud` is not a log level (TRACE, \
                   DEBUG, INFO, WARN, ERROR) or directives such as `info,hyper=warn`";
    assert_eq!(
        api.next_outcome().await,
        Outcome::InitError {
            error_type_header: Some("helve.ConfigError".to_owned()),
            body: json!({"errorType": "helve.ConfigError", "errorMessage": message}),
        }
    );
    let exit = function.wait().await;
    assert!(
        !exit.status.success(),
        "the process must exit non-zero: {exit}"
    );
    api.wait_for_disconnect().await;
    assert_eq!(api.try_next_outcome(), None, "exactly one POST");
    assert_eq!(api.polls(), 0, "no invocation is asked for");

    let mut lines = lines_of(&exit);
    // `service` is not asserted: with settings that do not resolve, helve logs with its
    // fallback settings, which do not know the service named in code.
    for line in &mut lines {
        line.take("service");
    }
    assert_eq!(
        fields(&lines),
        [json!({
            "level": "ERROR",
            "message": format!("init failed: {message}"),
            "error_type": "helve.ConfigError",
        })],
        "{exit}"
    );
}
