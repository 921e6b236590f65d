//! helve's log lines as a test reads them: the test kit's ([`LogLine`], [`log_lines`]), and
//! the lines helve's own tests expect of an invocation ([`InvocationKeys`]).

pub(crate) use helve::testing::{LogLine, emf_documents, is_rfc3339_utc_millis, log_lines};
use serde_json::{Value, json};

/// The account and region of every function ARN the tests see, on the Runtime API server as in
/// local mode.
const ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

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
