//! The JSON log writer, through a whole invocation: a handler logs what the fuzzer says
//! (messages of any size, fields of every kind, reserved names, errors with sources, spans),
//! with masked secret values, event logging, sampling and the DEBUG buffer chosen too.
//!
//! - Every line is exactly one JSON object (no key twice) and shorter than the line limit.
//! - Every line has helve's keys: a level, a message, the timestamp, the service, the
//!   invocation's request and correlation ids (each as written, or masked where a masked
//!   value is part of it); a field named like one of them is renamed.
//! - No masked value appears in any value (string or number) of any line; keys, which are
//!   names, stay as written.
//! - Each WARN and ERROR event is written exactly once (or as one line cut to
//!   `truncated_from_bytes`), never twice.
#![no_main]

use std::{convert::Infallible, fmt, sync::Arc};

use arbitrary::Arbitrary;
use helve::{
    Context,
    logging::{MIN_MASKED_BYTES, redact::REDACTED},
};
use helve_fuzz::{lines, one_object};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[derive(Arbitrary, Debug)]
struct Input {
    level: Level,
    log_event: bool,
    buffer: bool,
    sampled: bool,
    secrets: Vec<String>,
    event: String,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Level {
    Debug,
    Info,
    Warn,
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    /// One event with fields of every kind.
    Event {
        level: u8,
        message: String,
        repeat: u16,
        text: String,
        number: i64,
        unsigned: u64,
        float: f64,
        flag: bool,
    },
    /// Fields named like helve's own keys.
    Reserved { text: String, number: i64 },
    /// An error field, with its sources.
    Error { message: String, source: String },
    /// A `Debug` field.
    Debug { values: Vec<String> },
    /// A span with fields around the next operations, one recorded again.
    Span {
        text: String,
        again: String,
        inner: u8,
    },
}

#[derive(Debug)]
struct Failure {
    message: String,
    source: Option<Box<Failure>>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// Lines cut to the limit need messages far longer than an input: at most this much text in
/// one message, and in all the messages of an input (one line over the limit: the coverage
/// instrumentation makes every byte formatted costly).
const MAX_TEXT: usize = 300 * 1024;
const MAX_TEXT_PER_INPUT: usize = 320 * 1024;

thread_local! {
    static BUDGET: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn repeated(text: &str, times: u16) -> String {
    if times <= 1 || text.is_empty() {
        return text.to_owned();
    }
    let left = BUDGET.with(std::cell::Cell::get);
    let times = usize::from(times)
        .min(MAX_TEXT.min(left) / text.len())
        .max(1);
    BUDGET.with(|budget| budget.set(left.saturating_sub(times * text.len())));
    text.repeat(times)
}

/// Emits `ops`, numbering each event with `seq`, unique in the invocation.
fn emit(ops: &[Op], counter: &mut u64) {
    let mut index = 0;
    while let Some(op) = ops.get(index) {
        index += 1;
        *counter += 1;
        let seq = *counter;
        match op {
            Op::Event {
                level,
                message,
                repeat,
                text,
                number,
                unsigned,
                float,
                flag,
            } => {
                let message = repeated(message, *repeat);
                match level % 4 {
                    0 => {
                        tracing::debug!(seq, text = %text, number, unsigned, float, flag, "{message}")
                    }
                    1 => {
                        tracing::info!(seq, text = %text, number, unsigned, float, flag, "{message}")
                    }
                    2 => {
                        tracing::warn!(seq, warned = true, text = %text, number, unsigned, float, flag, "{message}")
                    }
                    _ => tracing::error!(
                        seq,
                        warned = true,
                        text = text.as_str(),
                        number,
                        unsigned,
                        float,
                        flag,
                        "{message}"
                    ),
                }
            }
            Op::Reserved { text, number } => tracing::warn!(
                seq,
                warned = true,
                level = %text,
                service = number,
                correlation_id = %text,
                user_level = %text,
                user_user_level = number,
                location = %text,
                message = %text
            ),
            Op::Error { message, source } => {
                let error = Failure {
                    message: message.clone(),
                    source: Some(Box::new(Failure {
                        message: source.clone(),
                        source: None,
                    })),
                };
                tracing::error!(
                    seq,
                    warned = true,
                    error = &error as &dyn std::error::Error,
                    "failed: {error}"
                );
            }
            Op::Debug { values } => tracing::info!(seq, values = ?values, "debug field"),
            Op::Span { text, again, inner } => {
                let span = tracing::info_span!("fuzz_span", order = %text, level = %text, seq);
                let _entered = span.enter();
                span.record("order", again.as_str());
                let end = ops.len().min(index + usize::from(*inner % 4));
                emit(&ops[index..end], counter);
                index = end;
            }
        }
    }
}

fn warned(ops: &[Op]) -> usize {
    // Counted the way `emit` runs them: an operation inside a span is emitted there, once.
    ops.iter()
        .filter(|op| match op {
            Op::Event { level, .. } => level % 4 >= 2,
            Op::Reserved { .. } | Op::Error { .. } => true,
            _ => false,
        })
        .count()
}

fuzz_target!(|input: Input| {
    helve_fuzz::init();
    helve::__fuzz::forget_masked_values();
    BUDGET.with(|budget| budget.set(MAX_TEXT_PER_INPUT));
    let secrets: Vec<String> = input
        .secrets
        .iter()
        .filter(|secret| secret.len() >= MIN_MASKED_BYTES)
        .take(4)
        .cloned()
        .collect();
    for secret in &secrets {
        helve::logging::mask_value(secret);
    }
    let ops = Arc::new(input.ops.clone());
    let handler = move |_event: Value, _ctx: Context| {
        let ops = Arc::clone(&ops);
        async move {
            emit(&ops, &mut 0);
            Ok::<_, Infallible>(())
        }
    };
    let level = match input.level {
        Level::Debug => "DEBUG",
        Level::Info => "INFO",
        Level::Warn => "WARN",
    };
    let mut env = vec![("POWERTOOLS_LOG_LEVEL", level)];
    if input.log_event {
        env.push(("POWERTOOLS_LOGGER_LOG_EVENT", "true"));
    }
    let mut options = helve::Options::default();
    options.log_buffer_bytes = input.buffer.then_some(helve::logging::DEFAULT_BUFFER_BYTES);
    if input.sampled {
        env.push(("POWERTOOLS_LOGGER_SAMPLE_RATE", "1"));
    }
    let payload = serde_json::to_vec(&input.event).unwrap();
    let invoked = helve::__fuzz::invoke(handler, &payload, &options, &env).expect("settings");
    assert!(invoked.response.is_ok(), "{:?}", invoked.response);

    let mut seen = std::collections::HashSet::new();
    let mut warned_lines = 0;
    let mut truncated = 0;
    for line in lines(&invoked.logs) {
        assert!(
            line.len() < helve::__fuzz::MAX_LOG_LINE_BYTES,
            "a line of {} bytes",
            line.len()
        );
        let object = one_object(line)
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(line)));
        let text = |key: &str| object.get(key).and_then(Value::as_str);
        assert!(
            matches!(
                text("level"),
                Some("TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR")
            ),
            "{object:?}"
        );
        assert!(text("message").is_some(), "{object:?}");
        // helve's own values are masked like any other (a masked value may be part of the
        // timestamp or a request id): each is there, as written or masked.
        let as_written = |key: &str, expected: Option<&str>| {
            let value = text(key).unwrap_or_else(|| panic!("no {key}: {object:?}"));
            let masked = !secrets.is_empty() && value.contains(REDACTED);
            assert!(
                masked || expected.is_none_or(|e| e == value),
                "{key}: {object:?}"
            );
            masked
        };
        if !as_written("timestamp", None) {
            assert_eq!(text("timestamp").map(str::len), Some(24), "{object:?}");
        }
        as_written("service", Some("fuzz"));
        as_written("function_request_id", Some(helve::__fuzz::REQUEST_ID));
        as_written("correlation_id", None);
        if object.contains_key("truncated_from_bytes") {
            truncated += 1;
        }
        if object.get("warned") == Some(&Value::Bool(true)) {
            warned_lines += 1;
            let seq = object.get("seq").and_then(Value::as_u64).expect("seq");
            assert!(seen.insert(seq), "event {seq} written twice");
        }
        for secret in &secrets {
            let mut shown = Vec::new();
            find(&Value::Object(object.clone()), secret, &mut shown);
            assert!(shown.is_empty(), "masked value {secret:?} shown: {shown:?}");
        }
    }
    // Events in spans count as well: every top-level and nested operation is emitted once.
    let expected = warned(&input.ops);
    assert!(
        warned_lines <= expected && warned_lines + truncated >= expected,
        "{warned_lines} WARN/ERROR lines and {truncated} cut ones for {expected} events"
    );
});

fn find(value: &Value, secret: &str, shown: &mut Vec<String>) {
    match value {
        Value::String(text) if text.contains(secret) => shown.push(text.clone()),
        Value::Number(number) if number.to_string().contains(secret) => {
            shown.push(number.to_string())
        }
        Value::Array(items) => items.iter().for_each(|item| find(item, secret, shown)),
        // Keys are names, which masking leaves alone: only values are searched.
        Value::Object(map) => map.values().for_each(|item| find(item, secret, shown)),
        _ => {}
    }
}
