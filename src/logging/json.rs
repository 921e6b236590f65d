//! The JSON line formatter: one object per line, with the keys Powertools for AWS Lambda
//! writes, so Logs Insights queries and dashboards carry over unchanged.

use std::{
    cell::RefCell,
    fmt::{self, Write as _},
    io::Write as _,
    ops::Range,
    sync::Arc,
    time::SystemTime,
};

use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    layer,
    registry::LookupSpan,
};

use super::{LineSink, location::crate_relative, time::write_rfc3339_millis};
// `logging` escapes the lines it writes itself with it too.
use crate::json_escape::{escape_into, truncated};

/// Keys helve writes itself. A field of the event or of a span with one of these names is
/// written as `user_<name>` instead, so it never overwrites them.
pub const RESERVED_KEYS: &[&str] = &[
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
    "sampling_rate",
    "location",
];

/// A `tracing_subscriber` layer writing each event as one JSON line.
///
/// Inside an invocation each line carries the invocation's ids, read from the current
/// [`Context`](crate::Context); the event's own fields and those of its enclosing spans follow,
/// flattened at the top level (the event's win over a span's of the same name, an inner span's
/// over an outer one's).
#[derive(Clone)]
pub struct JsonLayer {
    sink: LineSink,
    base: Targets,
    service: Arc<str>,
    sampling_rate: Option<f64>,
    /// The most verbose level a sampled invocation prints: DEBUG, or Lambda's level when that
    /// is less verbose (Lambda would drop the rest).
    sample_ceiling: LevelFilter,
    /// With a layer beside it that sees spans the log level does not (the tracer's): the
    /// spans whose fields log lines carry, so that lines are the same with it as without.
    span_filter: Option<(Targets, LevelFilter)>,
}

impl fmt::Debug for JsonLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLayer")
            .field("base", &self.base)
            .field("service", &self.service)
            .field("sampling_rate", &self.sampling_rate)
            .finish_non_exhaustive()
    }
}

impl JsonLayer {
    /// A layer writing lines through `sink`. `base` is the level filter of ordinary
    /// invocations; lines it rejects are written only for a sampled invocation, or kept in the
    /// invocation's buffer when buffering is on.
    pub(crate) fn new(
        sink: LineSink,
        base: Targets,
        service: Arc<str>,
        sampling_rate: Option<f64>,
        sample_ceiling: LevelFilter,
    ) -> Self {
        Self {
            sink,
            base,
            service,
            sampling_rate,
            sample_ceiling,
            span_filter: None,
        }
    }

    /// Records the fields only of the spans `filter` enables.
    #[cfg(feature = "tracer")]
    pub(crate) fn span_filter(mut self, filter: Targets) -> Self {
        // The level every target enables at least: spans at or above it need no lookup.
        let everywhere = filter
            .iter()
            .map(|(_, level)| level)
            .chain(filter.default_level())
            .min()
            .unwrap_or(LevelFilter::OFF);
        self.span_filter = Some((filter, everywhere));
        self
    }
}

/// The fields of a span, already encoded: `,"key":value` fragments.
#[derive(Default)]
struct SpanFields {
    json: Vec<u8>,
    keys: Vec<(&'static str, Range<usize>)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Buffers reused by every line formatted on a thread, so formatting allocates only while
/// they grow.
#[derive(Default)]
struct Scratch {
    line: Vec<u8>,
    message: Vec<u8>,
    fields: Vec<u8>,
    written: Vec<&'static str>,
}

impl<S> tracing_subscriber::Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: layer::Context<'_, S>) {
        // helve's own spans for traces (a batch record's) keep their fields out of log lines,
        // which are the same whether the invocation is traced or not.
        let metadata = attrs.metadata();
        if metadata.target() == super::TRACE_ONLY_TARGET
            || self
                .span_filter
                .as_ref()
                .is_some_and(|(filter, everywhere)| {
                    *metadata.level() > *everywhere
                        && !filter.would_enable(metadata.target(), metadata.level())
                })
        {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields::default();
        attrs.record(&mut SpanVisitor(&mut fields));
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: layer::Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut SpanVisitor(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: layer::Context<'_, S>) {
        let metadata = event.metadata();
        let level = *metadata.level();
        if level == Level::ERROR && is_runtime_repeat(event) {
            return;
        }
        let wanted = self.base.would_enable(metadata.target(), &level);
        let log = super::current_state();
        let verbose = level >= Level::DEBUG;
        // A sampled invocation logs as if the level were DEBUG, except for targets turned
        // off and above Lambda's own level.
        let sampled_in = log.sampled
            && LevelFilter::from_level(level) <= self.sample_ceiling
            && self.base.would_enable(metadata.target(), &Level::ERROR);
        let destination = if (wanted && !(verbose && log.buffering)) || sampled_in {
            Destination::Print
        } else if verbose && log.buffering {
            Destination::Buffer
        } else {
            return;
        };

        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.write_event(event, &ctx, &mut scratch, level, destination),
            // An event logged while formatting another (from a `Debug` impl): its own buffers.
            Err(_) => self.write_event(event, &ctx, &mut Scratch::default(), level, destination),
        });
    }
}

/// Where lambda_runtime logs each error a handler returns, `{error:?}` of its `Diagnostic`,
/// without the invocation's ids: helve has logged that error already, with them.
const RUNTIME_ERROR_TARGET: &str = "lambda_runtime::layers::panic";

/// Whether `event` is lambda_runtime's repeat of a handler error helve logged: its only field
/// is a message that is a `Diagnostic`'s `Debug`. Its line for a panic (a field `error`, the
/// message "user handler panicked") is kept.
fn is_runtime_repeat(event: &Event<'_>) -> bool {
    /// Reads whether the event is a message alone, starting `Diagnostic {`.
    struct Repeat {
        message: bool,
        other: bool,
    }
    impl tracing::field::Visit for Repeat {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
            if field.name() == "message" {
                let mut start = String::with_capacity(16);
                let _ = fmt::write(&mut start, format_args!("{value:?}"));
                self.message = start.starts_with("Diagnostic {");
            } else {
                self.other = true;
            }
        }
    }
    if event.metadata().target() != RUNTIME_ERROR_TARGET {
        return false;
    }
    let mut repeat = Repeat {
        message: false,
        other: false,
    };
    event.record(&mut repeat);
    repeat.message && !repeat.other
}

impl JsonLayer {
    fn write_event<S>(
        &self,
        event: &Event<'_>,
        ctx: &layer::Context<'_, S>,
        scratch: &mut Scratch,
        level: Level,
        destination: Destination,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let metadata = event.metadata();
        {
            let Scratch {
                line,
                message,
                fields,
                written,
            } = &mut *scratch;
            line.clear();
            message.clear();
            fields.clear();
            written.clear();

            let mut visitor = EventVisitor {
                message,
                fields,
                written,
            };
            event.record(&mut visitor);

            line.extend_from_slice(b"{\"level\":\"");
            line.extend_from_slice(level_name(level).as_bytes());
            line.extend_from_slice(b"\",\"message\":");
            if message.is_empty() {
                line.extend_from_slice(b"\"\"");
            } else {
                line.extend_from_slice(message);
            }
            line.extend_from_slice(b",\"timestamp\":\"");
            write_rfc3339_millis(line, SystemTime::now());
            line.push(b'"');
            self.write_context(line);
            line.extend_from_slice(b",\"location\":");
            match (metadata.file(), metadata.line()) {
                (Some(file), Some(number)) => {
                    line.push(b'"');
                    escape_into(line, crate_relative(file));
                    let _ = write!(line, ":{number}\"");
                }
                _ => {
                    line.push(b'"');
                    escape_into(line, metadata.target());
                    line.push(b'"');
                }
            }
            line.extend_from_slice(fields);

            if let Some(scope) = ctx.event_scope(event) {
                for span in scope {
                    // lambda_runtime's own spans (its worker's `task_id`) are not the
                    // function's fields, and Powertools has no such key.
                    if span.metadata().target().starts_with("lambda_runtime") {
                        continue;
                    }
                    let extensions = span.extensions();
                    let Some(span_fields) = extensions.get::<SpanFields>() else {
                        continue;
                    };
                    for (key, range) in &span_fields.keys {
                        if written.contains(key) {
                            continue;
                        }
                        if let Some(fragment) = span_fields.json.get(range.clone()) {
                            line.extend_from_slice(fragment);
                            written.push(key);
                        }
                    }
                }
            }
            line.extend_from_slice(b"}\n");
            super::mask::apply(line);
            if line.len() > MAX_LINE_BYTES {
                let original = line.len();
                self.truncated_line(line, event, level, original);
            }

            match destination {
                Destination::Print => {
                    if level == Level::ERROR {
                        super::flush_current(&self.sink);
                    }
                    (self.sink)(line);
                }
                Destination::Buffer => {
                    if !super::buffer_current(line) {
                        (self.sink)(line);
                    }
                }
            }
        }
    }

    /// Rewrites a line CloudWatch would cut (breaking its JSON) as a shorter one: the start of
    /// the message, the invocation's keys, and how long the line was. Its fields are dropped.
    fn truncated_line(&self, line: &mut Vec<u8>, event: &Event<'_>, level: Level, original: usize) {
        struct MessageText(String);
        impl Visit for MessageText {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    let _ = write!(self.0, "{value:?}");
                }
            }
        }
        let mut message = MessageText(String::new());
        event.record(&mut message);
        // Masked before it is cut, so that no part of a secret survives the cut.
        super::mask::apply_text(&mut message.0);
        line.clear();
        start_line(line, level, truncated(&message.0, TRUNCATED_MESSAGE_BYTES));
        self.write_context(line);
        let _ = writeln!(line, ",\"truncated_from_bytes\":{original}}}");
        // The invocation's keys are written again: masked like those of any line.
        super::mask::apply(line);
    }
}

#[derive(Clone, Copy)]
enum Destination {
    Print,
    Buffer,
}

/// The longest line written: CloudWatch Logs cuts events at 256 KiB, which would break the
/// line's JSON.
pub(crate) const MAX_LINE_BYTES: usize = 250 * 1024;

/// How much of the message a truncated line keeps.
const TRUNCATED_MESSAGE_BYTES: usize = 16 * 1024;

impl JsonLayer {
    fn write_context(&self, line: &mut Vec<u8>) {
        write_context(line, &self.service, self.sampling_rate);
    }
}

/// Starts a line helve writes itself: `{"level":...,"message":...,"timestamp":...`.
pub(crate) fn start_line(line: &mut Vec<u8>, level: Level, message: &str) {
    line.extend_from_slice(b"{\"level\":\"");
    line.extend_from_slice(level_name(level).as_bytes());
    line.extend_from_slice(b"\",\"message\":\"");
    escape_into(line, message);
    line.extend_from_slice(b"\",\"timestamp\":\"");
    write_rfc3339_millis(line, SystemTime::now());
    line.push(b'"');
}

/// A whole line whose `key` holds a JSON value as it is (the logged event), with the same keys
/// as every other line.
pub(crate) fn raw_line(
    service: &str,
    sampling_rate: Option<f64>,
    message: &str,
    key: &str,
    value: &serde_json::Value,
) -> Vec<u8> {
    let mut line = Vec::with_capacity(512);
    start_line(&mut line, Level::INFO, message);
    write_context(&mut line, service, sampling_rate);
    line.extend_from_slice(b",\"location\":\"helve\"");
    let start = line.len();
    write_key(&mut line, key);
    if serde_json::to_writer(&mut line, value).is_err() {
        line.extend_from_slice(b"null");
    }
    line.extend_from_slice(b"}\n");
    // Masked before it may be cut, so that no part of a secret survives the cut.
    super::mask::apply(&mut line);
    if line.len() > MAX_LINE_BYTES {
        // CloudWatch would cut the line, breaking its JSON: the value's start, as a string,
        // and how long the line was.
        let original = line.len();
        let json = line.get(start..).unwrap_or_default().to_vec();
        line.truncate(start);
        let text =
            String::from_utf8_lossy(json.get(..json.len().saturating_sub(2)).unwrap_or_default());
        let rest = truncated(&text, TRUNCATED_MESSAGE_BYTES);
        // `rest` starts `,"key":`: keep the value's part only.
        let value_start = rest
            .find(':')
            .map_or(rest, |colon| rest.get(colon + 1..).unwrap_or_default());
        write_str_key(&mut line, &format!("{key}_start"), value_start);
        let _ = writeln!(line, ",\"truncated_from_bytes\":{original}}}");
    }
    line
}

/// The invocation's keys, or only the service outside an invocation.
fn write_context(line: &mut Vec<u8>, service: &str, sampling_rate: Option<f64>) {
    {
        let in_invocation = crate::context::with_current(|ctx| {
            write_str_key(line, "service", ctx.service());
            let _ = write!(line, ",\"cold_start\":{}", ctx.cold_start());
            write_str_key(line, "function_name", ctx.function_name());
            let _ = write!(line, ",\"function_memory_size\":{}", ctx.memory_size_mb());
            write_str_key(line, "function_arn", ctx.invoked_function_arn());
            write_str_key(line, "function_request_id", ctx.request_id());
            write_str_key(line, "correlation_id", ctx.correlation_id());
            if let Some(trace_id) = ctx.xray_trace_id() {
                write_str_key(line, "xray_trace_id", trace_id);
            }
        });
        if in_invocation.is_none() {
            write_str_key(line, "service", service);
        }
        if let Some(rate) = sampling_rate {
            let _ = write!(line, ",\"sampling_rate\":");
            write_f64(line, rate);
        }
    }
}

/// The `level` a line carries: `INFO`, `ERROR`, ...
pub(crate) fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

fn write_str_key(line: &mut Vec<u8>, key: &str, value: &str) {
    line.extend_from_slice(b",\"");
    line.extend_from_slice(key.as_bytes());
    line.extend_from_slice(b"\":\"");
    escape_into(line, value);
    line.push(b'"');
}

/// Writes `key` as a JSON object key. A reserved key gets the prefix `user_`, and so does a
/// key that already looks renamed (`user_level`), so the two can never collide.
fn write_key(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b",\"");
    let renamed = key
        .strip_prefix("user_")
        .is_some_and(|rest| RESERVED_KEYS.contains(&rest) || rest.starts_with("user_"));
    if RESERVED_KEYS.contains(&key) || renamed {
        out.extend_from_slice(b"user_");
    }
    escape_into(out, key);
    out.extend_from_slice(b"\":");
}

fn write_f64(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        // `Debug` keeps the decimal point (`1.0`), so the value stays a float in JSON.
        let _ = write!(out, "{value:?}");
    } else {
        let _ = write!(out, "\"{value}\"");
    }
}

/// `fmt::Write` into a byte buffer, JSON-escaping as it goes: `Debug` and `Display` values are
/// escaped without an intermediate `String`.
struct Escaping<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        escape_into(self.0, text);
        Ok(())
    }
}

fn write_debug_string(out: &mut Vec<u8>, value: &dyn fmt::Debug) {
    out.push(b'"');
    let _ = write!(Escaping(out), "{value:?}");
    out.push(b'"');
}

/// `{"type":...,"message":...,"sources":[...]}` for an error recorded as `&dyn Error`.
fn write_error(out: &mut Vec<u8>, error: &(dyn std::error::Error + 'static)) {
    out.extend_from_slice(b"{\"type\":\"");
    let mut kind = String::new();
    let _ = write!(kind, "{error:?}");
    escape_into(out, leading_identifier(&kind));
    out.extend_from_slice(b"\",\"message\":\"");
    let _ = write!(Escaping(out), "{error}");
    out.extend_from_slice(b"\",\"sources\":[");
    let mut source = error.source();
    let mut first = true;
    while let Some(cause) = source {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        let _ = write!(Escaping(out), "{cause}");
        out.push(b'"');
        source = cause.source();
    }
    out.extend_from_slice(b"]}");
}

/// The name a `Debug` output starts with: the struct or enum variant (`NotFound("7")` →
/// `NotFound`).
fn leading_identifier(debug: &str) -> &str {
    let end = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(debug.len());
    match debug.get(..end) {
        Some(name) if !name.is_empty() => name,
        _ => "error",
    }
}

struct EventVisitor<'a> {
    message: &'a mut Vec<u8>,
    fields: &'a mut Vec<u8>,
    written: &'a mut Vec<&'static str>,
}

impl EventVisitor<'_> {
    fn key(&mut self, field: &Field) -> Option<&mut Vec<u8>> {
        if field.name() == "message" {
            self.message.clear();
            return Some(self.message);
        }
        if self.written.contains(&field.name()) {
            return None;
        }
        self.written.push(field.name());
        write_key(self.fields, field.name());
        Some(self.fields)
    }
}

impl Visit for EventVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(out) = self.key(field) {
            out.push(b'"');
            escape_into(out, value);
            out.push(b'"');
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Some(out) = self.key(field) {
            let _ = write!(out, "{value}");
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Some(out) = self.key(field) {
            let _ = write!(out, "{value}");
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if let Some(out) = self.key(field) {
            write_f64(out, value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if let Some(out) = self.key(field) {
            let _ = write!(out, "{value}");
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if let Some(out) = self.key(field) {
            write_error(out, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let Some(out) = self.key(field) {
            write_debug_string(out, value);
        }
    }
}

struct SpanVisitor<'a>(&'a mut SpanFields);

impl SpanVisitor<'_> {
    fn field(&mut self, field: &Field, write: impl FnOnce(&mut Vec<u8>)) {
        let fields = &mut *self.0;
        // A field recorded again replaces its earlier value; the old bytes are reclaimed once
        // they are half the buffer, so a span recorded again and again does not grow.
        let before = fields.keys.len();
        fields.keys.retain(|(key, _)| *key != field.name());
        if fields.keys.len() != before {
            let live: usize = fields.keys.iter().map(|(_, range)| range.len()).sum();
            if live * 2 < fields.json.len() {
                let mut json = Vec::with_capacity(live);
                for (_, range) in &mut fields.keys {
                    let start = json.len();
                    json.extend_from_slice(fields.json.get(range.clone()).unwrap_or_default());
                    *range = start..json.len();
                }
                fields.json = json;
            }
        }
        let start = fields.json.len();
        write_key(&mut fields.json, field.name());
        write(&mut fields.json);
        let end = fields.json.len();
        fields.keys.insert(0, (field.name(), start..end));
    }
}

impl Visit for SpanVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |out| {
            out.push(b'"');
            escape_into(out, value);
            out.push(b'"');
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |out| {
            let _ = write!(out, "{value}");
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |out| {
            let _ = write!(out, "{value}");
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |out| write_f64(out, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |out| {
            let _ = write!(out, "{value}");
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, |out| write_error(out, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |out| write_debug_string(out, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_escape::{samples, serde_json_escaped};

    #[test]
    fn messages_keys_and_values_are_escaped_as_serde_json_escapes_them() {
        for text in samples() {
            let expected = serde_json_escaped(&text);

            let mut line = Vec::new();
            start_line(&mut line, Level::INFO, &text);
            let line = String::from_utf8(line).unwrap();
            assert!(
                line.contains(&format!("\"message\":\"{expected}\",")),
                "{text:?}: {line}"
            );

            let mut line = Vec::new();
            write_key(&mut line, &text);
            write_str_key(&mut line, "k", &text);
            assert_eq!(
                String::from_utf8(line).unwrap(),
                format!(",\"{expected}\":,\"k\":\"{expected}\"")
            );

            let mut line = Vec::new();
            write_debug_string(&mut line, &format_args!("{text}"));
            assert_eq!(String::from_utf8(line).unwrap(), format!("\"{expected}\""));
        }
    }
}
