//! helve's log lines as a test reads them: every stdout line is one JSON object; its
//! `timestamp` and `location` are checked and set apart, and the rest is compared whole with
//! the line the test expects.

use std::fmt;

use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};

/// The account and region of every function ARN the tests see, on the Runtime API server as in
/// local mode.
const ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

/// One line a function logged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogLine {
    /// The line's keys and values, without `timestamp` and `location`.
    pub(crate) fields: Value,
    /// `location`: `file:line` of the `tracing` event, or where helve wrote the line from.
    pub(crate) location: String,
    /// The keys as they appear in the line, `timestamp` and `location` included.
    pub(crate) keys: Vec<String>,
    /// The line as it was written.
    pub(crate) raw: String,
}

impl LogLine {
    /// The value of `key`; `Null` when the line has none.
    pub(crate) fn get(&self, key: &str) -> &Value {
        &self.fields[key]
    }

    /// `message`.
    pub(crate) fn message(&self) -> &str {
        self.get("message").as_str().unwrap_or_default()
    }

    /// Removes a key whose value differs from run to run (a duration), and returns its value.
    pub(crate) fn take(&mut self, key: &str) -> Value {
        self.fields
            .as_object_mut()
            .and_then(|fields| fields.remove(key))
            .unwrap_or_else(|| panic!("the line has no `{key}`: {}", self.raw))
    }

    /// The file of `location`, after checking that a line number follows it.
    pub(crate) fn location_file(&self) -> &str {
        match self.location.rsplit_once(':') {
            Some((file, line))
                if !file.is_empty()
                    && !line.is_empty()
                    && line.bytes().all(|b| b.is_ascii_digit()) =>
            {
                file
            }
            _ => panic!("`location` is not `file:line`: {}", self.raw),
        }
    }
}

/// How the EMF documents a function writes to stdout begin; its log lines never do.
const EMF_PREFIX: &str = r#"{"_aws":"#;

/// Every log line of `output` (its EMF documents left out), each parsed as one JSON object
/// with a valid `timestamp` (RFC 3339, UTC, milliseconds) and a `location`; fails the test,
/// showing the output, when one is not.
pub(crate) fn log_lines(output: &str) -> Vec<LogLine> {
    output
        .lines()
        .filter(|raw| !raw.starts_with(EMF_PREFIX))
        .map(|raw| parse_line(raw, output))
        .collect()
}

/// Every EMF document of `output`, in order, each without its `_aws.Timestamp` (the one value
/// that changes from run to run).
pub(crate) fn emf_documents(output: &str) -> Vec<Value> {
    output
        .lines()
        .filter(|raw| raw.starts_with(EMF_PREFIX))
        .map(|raw| {
            let mut document: Value = serde_json::from_str(raw).unwrap_or_else(|error| {
                panic!(
                    "an EMF line is not JSON ({error}): {raw}\n--- the whole output ---\n{output}"
                )
            });
            if let Some(aws) = document.get_mut("_aws").and_then(Value::as_object_mut) {
                aws.remove("Timestamp");
            }
            document
        })
        .collect()
}

fn parse_line(raw: &str, output: &str) -> LogLine {
    let fail = |problem: &str| -> ! {
        panic!("{problem}: {raw}\n--- the whole output ---\n{output}--- end ---")
    };
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(raw) else {
        fail("a stdout line is not one JSON object");
    };
    let keys = keys_in_order(raw);
    match fields.remove("timestamp") {
        Some(Value::String(timestamp)) if is_rfc3339_utc_millis(&timestamp) => {}
        _ => fail("`timestamp` is not RFC 3339 in UTC with milliseconds (`...T14:05:09.123Z`)"),
    }
    let location = match fields.remove("location") {
        Some(Value::String(location)) if !location.is_empty() => location,
        _ => fail("the line has no `location`"),
    };
    LogLine {
        fields: Value::Object(fields),
        location,
        keys,
        raw: raw.to_owned(),
    }
}

/// The keys of a JSON object in the order they are written (a `serde_json::Map` may sort them).
fn keys_in_order(raw: &str) -> Vec<String> {
    struct Keys;

    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                keys.push(key);
            }
            Ok(keys)
        }
    }

    serde_json::Deserializer::from_str(raw)
        .deserialize_map(Keys)
        .unwrap_or_else(|error| panic!("cannot read the keys of {raw}: {error}"))
}

/// `2026-11-23T14:05:09.123Z`: RFC 3339, UTC (`Z`), exactly three fractional digits.
pub(crate) fn is_rfc3339_utc_millis(timestamp: &str) -> bool {
    let bytes = timestamp.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
    if bytes.len() != shape.len() {
        return false;
    }
    let shaped = bytes.iter().zip(shape).all(|(&byte, &expected)| {
        if expected == b'd' {
            byte.is_ascii_digit()
        } else {
            byte == expected
        }
    });
    let number = |range: std::ops::Range<usize>| {
        timestamp
            .get(range)
            .and_then(|digits| digits.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    };
    shaped
        && (1..=12).contains(&number(5..7))
        && (1..=31).contains(&number(8..10))
        && number(11..13) < 24
        && number(14..16) < 60
        && number(17..19) < 61
}

/// Whether `id` is a version 4 UUID in its hyphenated lower-case form, as a Lambda request id.
pub(crate) fn is_uuid_v4(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && groups.iter().all(|group| {
            group
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        && groups[2].starts_with('4')
}

/// What helve writes on every line of one invocation, before `location`.
#[derive(Debug, Clone)]
pub(crate) struct InvocationKeys {
    pub(crate) service: String,
    pub(crate) function_name: String,
    pub(crate) request_id: String,
    pub(crate) correlation_id: String,
    /// The `Root=` value of the trace header.
    pub(crate) xray_trace_id: Option<String>,
    pub(crate) cold_start: bool,
}

impl InvocationKeys {
    /// The keys of an invocation of a function with 128 MB, whose name is also its service.
    pub(crate) fn new(function_name: &str, request_id: &str, correlation_id: &str) -> Self {
        Self {
            service: function_name.to_owned(),
            function_name: function_name.to_owned(),
            request_id: request_id.to_owned(),
            correlation_id: correlation_id.to_owned(),
            xray_trace_id: None,
            cold_start: false,
        }
    }

    /// The service name, when it is not the function's name.
    pub(crate) fn service(mut self, service: &str) -> Self {
        self.service = service.to_owned();
        self
    }

    /// The `Root=` value of the invocation's trace header.
    pub(crate) fn trace(mut self, root: &str) -> Self {
        self.xray_trace_id = Some(root.to_owned());
        self
    }

    /// Whether the invocation is the cold start.
    pub(crate) fn cold_start(mut self, cold_start: bool) -> Self {
        self.cold_start = cold_start;
        self
    }

    /// The whole line, without `timestamp` and `location`, that this invocation writes for a
    /// `tracing` event with these fields.
    pub(crate) fn line(&self, level: &str, message: &str, fields: Value) -> Value {
        let mut line = json!({
            "level": level,
            "message": message,
            "service": self.service,
            "cold_start": self.cold_start,
            "function_name": self.function_name,
            "function_memory_size": 128,
            "function_arn": format!("{ARN_PREFIX}{}", self.function_name),
            "function_request_id": self.request_id,
            "correlation_id": self.correlation_id,
        });
        if let Some(trace) = &self.xray_trace_id {
            line["xray_trace_id"] = json!(trace);
        }
        merge(line, fields)
    }
}

/// A line written outside any invocation (during init): only `level`, `message`, `service`
/// and the event's fields, besides `timestamp` and `location`.
pub(crate) fn init_line(level: &str, message: &str, service: &str, fields: Value) -> Value {
    merge(
        json!({"level": level, "message": message, "service": service}),
        fields,
    )
}

fn merge(mut line: Value, fields: Value) -> Value {
    let (Some(line_map), Value::Object(fields)) = (line.as_object_mut(), fields) else {
        panic!("the fields of a line are a JSON object");
    };
    for (key, value) in fields {
        assert!(
            !line_map.contains_key(&key),
            "`{key}` is one of helve's own keys: a test expecting it as a field is wrong"
        );
        line_map.insert(key, value);
    }
    line
}

/// The keys helve writes, in the order Powertools writes them, on a line of an invocation
/// with a trace id, followed by the line's own fields.
pub(crate) fn invocation_key_order(fields: &[&str]) -> Vec<String> {
    [
        "level",
        "message",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "location",
    ]
    .iter()
    .chain(fields)
    .map(|key| (*key).to_owned())
    .collect()
}

/// The lines' fields, to compare with the lines a test expects.
pub(crate) fn fields(lines: &[LogLine]) -> Vec<Value> {
    lines.iter().map(|line| line.fields.clone()).collect()
}

/// The message of the line the first invocation writes, once, with `init_duration_ms`.
pub(crate) const READY: &str = "the execution environment is ready";

/// Removes `init_duration_ms` from the [`READY`] line, after checking that it is a duration in
/// milliseconds: its value differs from run to run.
pub(crate) fn without_init_duration(lines: &mut [LogLine]) {
    for line in lines.iter_mut().filter(|line| line.message() == READY) {
        let duration = line.take("init_duration_ms");
        assert!(
            duration.as_f64().is_some_and(|ms| ms >= 0.0),
            "`init_duration_ms` is a number of milliseconds: {}",
            line.raw
        );
    }
}
