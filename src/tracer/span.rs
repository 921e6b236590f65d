//! The `tracing_subscriber` layer that makes each span of a recorded invocation a subsegment,
//! sent when the span closes.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::SystemTime,
};

use tracing::{
    Level, Metadata, Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{layer::Context as LayerContext, registry::LookupSpan};

use super::{
    Annotation, Tracer,
    document::{Aws, Cause, Subsegment},
};
use crate::context::{Fields, SegmentId, Trace, with_current};

/// How many spans have a subsegment open, over the process: while none has, closing a span
/// costs the layer one load. A span that is never closed keeps it above zero (its
/// subsegment is never sent): closing spans then costs a lookup each, nothing worse.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// How many recorded invocations are running in the process (counted from the tracer's
/// start to the end of the invocation's own subsegment): while none is, a new span costs the
/// layer one load.
pub(crate) static RECORDING: AtomicUsize = AtomicUsize::new(0);

/// An open span's subsegment, kept in the span's extensions.
pub(super) struct Open {
    pub(super) trace: Arc<Trace>,
    id: SegmentId,
    parent: SegmentId,
    start: SystemTime,
    pub(super) fields: Fields,
    /// `otel.name`: the subsegment's name, over the span's.
    name: Option<String>,
    /// `otel.kind` is `client` or `producer`: a call to another service.
    remote: bool,
    /// `rpc.system = "aws-api"`: an AWS SDK operation.
    aws_api: bool,
    rpc_service: Option<String>,
    operation: Option<String>,
    region: Option<String>,
    request_id: Option<String>,
    http_status: Option<u16>,
    fault: bool,
    error_type: Option<String>,
    error_message: Option<String>,
}

impl Open {
    pub(super) fn id(&self) -> SegmentId {
        self.id
    }
}

/// The layer: subsegments for the spans of recorded invocations. Its filter
/// ([`SpanLayer::wants`]) lets through the spans at INFO and above, and the AWS SDK's operation
/// spans (DEBUG, target `aws_sdk_*`); a span opened while no recorded invocation is current is
/// left alone.
pub(crate) struct SpanLayer {
    tracer: Arc<Tracer>,
}

impl fmt::Debug for SpanLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpanLayer")
    }
}

impl SpanLayer {
    pub(crate) fn new(tracer: Arc<Tracer>) -> Self {
        Self { tracer }
    }

    /// Whether spans of this callsite may become subsegments.
    pub(crate) fn wants(metadata: &Metadata<'_>) -> bool {
        metadata.is_span()
            && (*metadata.level() <= Level::INFO || metadata.target().starts_with("aws_sdk_"))
    }
}

impl<S> tracing_subscriber::Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: LayerContext<'_, S>) {
        if RECORDING.load(Ordering::Relaxed) == 0 || !Self::wants(attrs.metadata()) {
            return;
        }
        let Some(trace) = with_current(|context| context.state().trace.get().cloned()).flatten()
        else {
            return;
        };
        let Some(span) = ctx.span(id) else {
            return;
        };
        // The nearest enclosing span of the same trace, else the invocation's subsegment.
        let parent = span
            .scope()
            .skip(1)
            .find_map(|ancestor| {
                let extensions = ancestor.extensions();
                let open = extensions.get::<Open>()?;
                Arc::ptr_eq(&open.trace, &trace).then_some(open.id)
            })
            .unwrap_or(trace.handler_id);
        let mut open = Open {
            trace,
            id: SegmentId::random(),
            parent,
            start: SystemTime::now(),
            fields: Fields::default(),
            name: None,
            remote: false,
            aws_api: false,
            rpc_service: None,
            operation: None,
            region: None,
            request_id: None,
            http_status: None,
            fault: false,
            error_type: None,
            error_message: None,
        };
        attrs.record(&mut Recorder(&mut open));
        // `replace`, not `insert`: a second span layer on the same registry (two tracers)
        // must not panic; the span keeps one subsegment.
        if span.extensions_mut().replace(open).is_none() {
            OPEN.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: LayerContext<'_, S>) {
        if OPEN.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(span) = ctx.span(id)
            && let Some(open) = span.extensions_mut().get_mut::<Open>()
        {
            values.record(&mut Recorder(open));
        }
    }

    fn on_close(&self, id: span::Id, ctx: LayerContext<'_, S>) {
        if OPEN.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        OPEN.fetch_sub(1, Ordering::Relaxed);
        let end = SystemTime::now();
        let name = match (&open.name, open.aws_api, &open.rpc_service) {
            (Some(name), _, _) => name.as_str(),
            (None, true, Some(service)) => service.as_str(),
            _ => span.name(),
        };
        let namespace = if open.aws_api {
            Some("aws")
        } else if open.remote {
            Some("remote")
        } else {
            None
        };
        let cause = match (&open.error_type, &open.error_message) {
            (None, None) => None,
            (kind, message) => Some(Cause {
                kind: kind.as_deref().unwrap_or("error"),
                message: message.as_deref().unwrap_or(""),
            }),
        };
        self.tracer.send(&Subsegment {
            name,
            id: open.id,
            trace_id: &open.trace.trace_id,
            parent_id: open.parent.as_str(),
            start: open.start,
            end,
            namespace,
            aws: Aws {
                operation: open.operation.as_deref(),
                region: open.region.as_deref(),
                request_id: open.request_id.as_deref(),
            },
            http_status: open.http_status,
            fault: open.fault || cause.is_some(),
            cause,
            annotations: &open.fields.annotations,
            metadata: &[("default", &open.fields.metadata)],
        });
    }
}

/// A field's value, as `tracing` hands it over.
enum Value<'a> {
    Str(&'a str),
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Debug(&'a dyn fmt::Debug),
}

impl Value<'_> {
    fn text(&self) -> String {
        match self {
            Value::Str(text) => (*text).to_owned(),
            Value::Bool(value) => value.to_string(),
            Value::I64(value) => value.to_string(),
            Value::U64(value) => value.to_string(),
            Value::F64(value) => value.to_string(),
            Value::Debug(value) => format!("{value:?}"),
        }
    }

    fn annotation(&self) -> Annotation {
        match self {
            Value::Bool(value) => Annotation::Bool(*value),
            Value::I64(value) => Annotation::Number(*value as f64),
            Value::U64(value) => Annotation::Number(*value as f64),
            Value::F64(value) => Annotation::Number(*value),
            _ => Annotation::String(self.text()),
        }
    }

    /// Appends the value as JSON.
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Value::Bool(value) => out.extend_from_slice(if *value { b"true" } else { b"false" }),
            // Writing to a Vec cannot fail.
            Value::I64(value) => {
                let _ = std::io::Write::write_fmt(out, format_args!("{value}"));
            }
            Value::U64(value) => {
                let _ = std::io::Write::write_fmt(out, format_args!("{value}"));
            }
            Value::F64(value) if value.is_finite() => {
                let _ = std::io::Write::write_fmt(out, format_args!("{value}"));
            }
            Value::Str(text) => super::write_string(out, text),
            other => super::write_string(out, &other.text()),
        }
    }
}

/// Records a span's fields into its subsegment.
struct Recorder<'a>(&'a mut Open);

impl Recorder<'_> {
    fn record(&mut self, field: &Field, value: Value<'_>) {
        let open = &mut *self.0;
        let name = field.name();
        match name {
            "otel.name" => open.name = Some(value.text()),
            "otel.kind" => {
                let kind = value.text();
                open.remote =
                    kind.eq_ignore_ascii_case("client") || kind.eq_ignore_ascii_case("producer");
            }
            "otel.status_code" => open.fault = value.text().eq_ignore_ascii_case("error"),
            "otel.status_message" | "error.message" => open.error_message = Some(value.text()),
            "error.type" => open.error_type = Some(value.text()),
            "rpc.system" => open.aws_api = value.text() == "aws-api",
            "rpc.service" => open.rpc_service = Some(value.text()),
            "rpc.method" | "aws.operation" => open.operation = Some(value.text()),
            "aws.region" | "cloud.region" => open.region = Some(value.text()),
            "aws.request_id" | "aws.request.id" => open.request_id = Some(value.text()),
            "http.response.status_code" | "http.status_code" => {
                open.http_status = value.text().parse().ok();
            }
            _ => {
                if let Some(key) = name.strip_prefix("annotation.") {
                    super::annotate_into(&open.trace, &mut open.fields, key, value.annotation());
                } else {
                    let out = &mut open.fields.metadata;
                    super::write_string(out, name);
                    out.push(b':');
                    value.write_json(out);
                    out.push(b',');
                }
            }
        }
    }
}

impl Visit for Recorder<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, Value::Str(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, Value::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record(field, Value::F64(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, Value::Debug(value));
    }
}
