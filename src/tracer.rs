//! Traces in AWS X-Ray (feature `tracer`): the function's `tracing` spans as subsegments of the
//! segment Lambda records for each invocation, sent to the X-Ray daemon Lambda runs beside the
//! function, with no SDK, collector or extension.
//!
//! With `Tracing: Active` on the function, each sampled invocation gets a subsegment named
//! `## {handler}` (annotations `ColdStart` and `Service`, the response or the error as
//! metadata), and every span opened inside it at INFO or above (`#[tracing::instrument]`
//! functions, the AWS SDK's operations, one per batch record) becomes a subsegment under it,
//! sent when the span closes. A span's fields become metadata; fields named
//! `annotation.<key>` (or [`annotate`]) become annotations, which X-Ray indexes for search.
//!
//! ```no_run
//! # async fn charge(_order: &str) {}
//! #[tracing::instrument(fields(annotation.order_id = %order))]
//! async fn bill(order: &str, amount_cents: u64) {
//!     charge(order).await;
//!     helve::tracer::annotate("paid", true);
//! }
//! ```
//!
//! With `POWERTOOLS_TRACER_EXPORT=otlp` the same spans go out as OpenTelemetry spans (OTLP,
//! after `T1S`), for CloudWatch Transaction Search.
//!
//! Calls to other services carry the trace on: [`trace_header`] is the `X-Amzn-Trace-Id` of
//! the current span, [`traceparent`] its W3C form. The guide's tracing page says what shows
//! up in X-Ray and what it costs.

mod document;
mod header;
mod otlp;
mod span;

use std::{
    cell::RefCell,
    fmt,
    io::Write as _,
    net::{SocketAddr, UdpSocket},
    sync::{Arc, Mutex, atomic::AtomicU16, atomic::AtomicUsize},
};

use serde::Serialize;
use tracing_subscriber::{Registry, registry::LookupSpan};

use crate::config::TracerConfig;
pub use crate::config::{DEFAULT_DAEMON_ADDRESS, Export, TracerOptions};
pub(crate) use document::{Cause, MAX_DOCUMENT, Subsegment, member_within};
pub(crate) use otlp::Invocation as OtlpInvocation;
pub(crate) use span::SpanLayer;

use crate::context::{Context, Fields, SegmentId, Trace, lock, with_current};
use header::TraceHeader;

/// X-Ray keeps at most this many annotations per trace.
pub const MAX_ANNOTATIONS: usize = 50;
/// The longest annotation key X-Ray takes.
const MAX_ANNOTATION_KEY: usize = 500;
/// The longest annotation value X-Ray takes, in characters.
pub const MAX_ANNOTATION_VALUE: usize = 1_000;

/// An annotation's value: X-Ray indexes strings, numbers and booleans.
#[derive(Debug, Clone, PartialEq)]
pub enum Annotation {
    /// A string, at most 1,000 characters.
    String(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

impl From<&str> for Annotation {
    fn from(value: &str) -> Self {
        Annotation::String(value.to_owned())
    }
}

impl From<String> for Annotation {
    fn from(value: String) -> Self {
        Annotation::String(value)
    }
}

impl From<bool> for Annotation {
    fn from(value: bool) -> Self {
        Annotation::Bool(value)
    }
}

macro_rules! number_annotation {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Annotation {
            fn from(value: $ty) -> Self {
                Annotation::Number(value as f64)
            }
        }
    )*};
}
number_annotation!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, usize, isize);

/// Annotates the current span's subsegment (or, outside the invocation's spans, the
/// `## {handler}` subsegment) with `key`: X-Ray indexes it, for filter expressions such as
/// `annotation.order_id = "o-1"`. Keys are letters, digits and `_`; at most 50 annotations
/// per trace, values at most 1,000 characters. One that breaks these rules is dropped, and the
/// invocation logs one WARN saying so; it never fails. Does nothing when the invocation is not
/// recorded.
pub fn annotate(key: &str, value: impl Into<Annotation>) {
    let Some(trace) = current_trace() else {
        return;
    };
    let value = value.into();
    if with_current_open(&trace, |open| {
        annotate_into(&trace, &mut open.fields, key, value.clone())
    })
    .is_none()
    {
        if HANDLER_ANNOTATIONS.contains(&key) {
            trace
                .drop_annotation(|| format!("`{key}` is helve's own annotation of the invocation"));
            return;
        }
        annotate_into(&trace, &mut lock(&trace.handler_fields), key, value);
    }
}

/// The annotations helve writes on the invocation's own subsegment.
const HANDLER_ANNOTATIONS: [&str; 2] = ["ColdStart", "Service"];

/// Adds `value` as metadata of the current span's subsegment (or of the `## {handler}`
/// subsegment), under the `default` namespace: kept with the trace, not indexed. Does nothing
/// when the invocation is not recorded or `value` does not serialize.
pub fn put_metadata(key: &str, value: &impl Serialize) {
    let Some(trace) = current_trace() else {
        return;
    };
    let Ok(json) = serde_json::to_vec(value) else {
        return;
    };
    let write = |fields: &mut Fields| {
        write_string(&mut fields.metadata, key);
        fields.metadata.push(b':');
        fields.metadata.extend_from_slice(&json);
        fields.metadata.push(b',');
    };
    if with_current_open(&trace, |open| write(&mut open.fields)).is_none() {
        write(&mut lock(&trace.handler_fields));
    }
}

/// The `X-Amzn-Trace-Id` for a call made now: the invocation's trace, with the current span's
/// subsegment as the parent (the `## {handler}` subsegment outside spans), the sampling
/// decision, and the header's other keys (`Lineage`) kept as Lambda gave them. For HTTP
/// requests to other services and SQS messages' `AWSTraceHeader` attribute. `None` outside
/// an invocation or without a trace header.
pub fn trace_header() -> Option<String> {
    propagate(|root, parent, sampled, rest| Some(header::outgoing(root, parent, sampled, rest)))
}

/// The W3C `traceparent` for a call made now, with the same trace and parent as
/// [`trace_header`]: for services traced with OpenTelemetry.
pub fn traceparent() -> Option<String> {
    propagate(|root, parent, sampled, _| header::traceparent(root, parent, sampled))
}

fn propagate(write: impl Fn(&str, &str, bool, &str) -> Option<String>) -> Option<String> {
    let context = crate::context()?;
    if let Some(trace) = context.state().trace.get() {
        let parent = with_current_open(trace, |open| open.id()).unwrap_or(trace.handler_id);
        return write(&trace.trace_id, parent.as_str(), true, &trace.rest);
    }
    // Not recorded: the call joins the same trace, under Lambda's segment.
    let header = TraceHeader::parse(context.xray_trace_header()?)?;
    write(
        header.root,
        header.parent?,
        header.sampled == Some(true),
        &header.rest,
    )
}

/// A recorded invocation sent its own subsegment: it is no longer recording.
pub(crate) fn finished_recording() {
    let _ = span::RECORDING.fetch_update(
        std::sync::atomic::Ordering::Relaxed,
        std::sync::atomic::Ordering::Relaxed,
        |running| running.checked_sub(1),
    );
}

/// The current invocation's trace, when it is recorded.
fn current_trace() -> Option<Arc<Trace>> {
    with_current(|context| context.state().trace.get().cloned()).flatten()
}

/// Runs `f` on the subsegment of the innermost open span of `trace`.
fn with_current_open<R>(trace: &Arc<Trace>, f: impl FnOnce(&mut span::Open) -> R) -> Option<R> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>()?;
            let span = registry.span(id)?;
            let owner = span.scope().find(|span| {
                span.extensions()
                    .get::<span::Open>()
                    .is_some_and(|open| Arc::ptr_eq(&open.trace, trace))
            })?;
            let mut extensions = owner.extensions_mut();
            extensions.get_mut::<span::Open>().map(f)
        })
        .flatten()
}

/// Adds an annotation to `fields`, or drops it (noted in `trace`) when X-Ray would refuse it.
fn annotate_into(trace: &Trace, fields: &mut Fields, key: &str, value: Annotation) {
    let valid_key = !key.is_empty()
        && key.len() <= MAX_ANNOTATION_KEY
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    if !valid_key {
        trace.drop_annotation(|| {
            format!(
                "the key `{}` is not 1 to {MAX_ANNOTATION_KEY} letters, digits and `_`",
                crate::json_escape::truncated(key, 64).escape_debug()
            )
        });
        return;
    }
    if let Annotation::String(text) = &value
        && text.chars().count() > MAX_ANNOTATION_VALUE
    {
        trace.drop_annotation(|| {
            format!("the value of `{key}` is longer than {MAX_ANNOTATION_VALUE} characters")
        });
        return;
    }
    if let Annotation::Number(number) = value
        && !number.is_finite()
    {
        trace.drop_annotation(|| format!("the value of `{key}` is not a finite number"));
        return;
    }
    if !trace.take_annotation(MAX_ANNOTATIONS) {
        trace.drop_annotation(|| {
            format!("`{key}` came after the {MAX_ANNOTATIONS} annotations X-Ray keeps per trace")
        });
        return;
    }
    let out = &mut fields.annotations;
    write_string(out, key);
    out.push(b':');
    match value {
        Annotation::String(text) => write_string(out, &text),
        // Whole numbers as integers, as they were given.
        Annotation::Number(number) if number.fract() == 0.0 && number.abs() < 9e15 => {
            out.extend_from_slice((number as i64).to_string().as_bytes());
        }
        Annotation::Number(number) => {
            let _ = serde_json::to_writer(&mut *out, &number);
        }
        Annotation::Bool(value) => out.extend_from_slice(if value { b"true" } else { b"false" }),
    }
    out.push(b',');
}

/// Appends `text` as a JSON string.
fn write_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    crate::json_escape::escape_into(out, text);
    out.push(b'"');
}

/// Where documents go.
pub(crate) enum Output {
    /// The X-Ray daemon: one UDP datagram per document, after the daemon's header.
    Daemon {
        socket: UdpSocket,
        address: SocketAddr,
    },
    /// One line per document (local mode's stderr, tests).
    Lines(crate::logging::LineSink),
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Daemon { address, .. } => write!(f, "Daemon({address})"),
            Output::Lines(_) => f.write_str("Lines"),
        }
    }
}

impl Output {
    /// The daemon at `address`, through a socket of the same address family.
    pub(crate) fn daemon(address: SocketAddr) -> std::io::Result<Self> {
        let local: SocketAddr = if address.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        Ok(Output::Daemon { socket, address })
    }

    /// Each document on its own line on stderr: local mode's `--trace`.
    pub(crate) fn stderr() -> Self {
        Output::Lines(Arc::new(|line: &[u8]| {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(line);
        }))
    }
}

/// The tracer of a function: its settings and where its documents go, shared by its two
/// layers: [`span_layer`](Tracer::span_layer) on the `tracing` subscriber (a subsegment per
/// span) and [`TracerLayer`](crate::layers::TracerLayer) in the invocation's stack (the
/// invocation's own subsegment). [`Function`](crate::Function) builds and installs both; build
/// them yourself only for a stack of your own.
#[derive(Debug)]
pub struct Tracer {
    pub(crate) config: TracerConfig,
    output: Output,
    /// The resource of OTLP spans, encoded once.
    resource: otlp::Resource,
}

thread_local! {
    /// The buffer documents are written in, kept between them.
    static DOCUMENT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Tracer {
    pub(crate) fn new(config: TracerConfig, output: Output, service: &str) -> Arc<Self> {
        let resource = match config.export {
            Export::Otlp => otlp::Resource::new(service, &|name: &str| std::env::var(name).ok()),
            _ => otlp::Resource::default(),
        };
        Arc::new(Self {
            config,
            output,
            resource,
        })
    }

    /// The tracer `settings` describe, sending to the X-Ray daemon at
    /// `AWS_XRAY_DAEMON_ADDRESS`; `None` when the settings turn it off. `Err` when no UDP
    /// socket can be opened.
    pub fn daemon(settings: &crate::Settings) -> std::io::Result<Option<Arc<Self>>> {
        let config = settings.tracer();
        if !config.enabled {
            return Ok(None);
        }
        Ok(Some(Self::new(
            config.clone(),
            Output::daemon(config.daemon)?,
            settings.service(),
        )))
    }

    /// The `tracing_subscriber` layer making each span of a recorded invocation a
    /// subsegment: spans at INFO and above, and the AWS SDK's operation spans, while a sampled
    /// invocation is current. It filters for itself, so it goes beside the layers of a
    /// registry of your own; [`subscriber`] builds the one helve installs.
    pub fn span_layer<S>(self: &Arc<Self>) -> impl tracing_subscriber::Layer<S> + Send + Sync
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        span_layer(Arc::clone(self))
    }

    /// Starts recording the invocation of `context` when its trace header says it is sampled:
    /// the invocation's subsegment gets its id, and spans opened from now on theirs.
    pub(crate) fn start(&self, context: &Context) -> Option<Arc<Trace>> {
        let header = context.xray_trace_header()?;
        // Most invocations are not sampled: one scan tells them apart.
        if !header::says_sampled(header.as_bytes()) {
            return None;
        }
        let header = TraceHeader::parse(header)?;
        if !header.recorded() {
            return None;
        }
        let trace = Arc::new(Trace {
            trace_id: header.root.into(),
            lambda_parent: header.parent.unwrap_or_default().into(),
            rest: header.rest.into_boxed_str(),
            handler_id: SegmentId::random(),
            annotations: AtomicUsize::new(0),
            dropped: Mutex::new((0, None)),
            http_status: AtomicU16::new(0),
            handler_fields: Mutex::new(Fields::default()),
        });
        // A second tracer layer on the same invocation records nothing of its own.
        if !context.state().trace.start(Arc::clone(&trace)) {
            return None;
        }
        span::RECORDING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(trace)
    }

    /// Writes and sends one span's document. A failed send is not the invocation's failure.
    pub(crate) fn send(&self, subsegment: &Subsegment<'_>) {
        self.send_as(subsegment, None);
    }

    /// Writes and sends one document: a span's, or with `invocation` the invocation's own.
    pub(crate) fn send_as(
        &self,
        subsegment: &Subsegment<'_>,
        invocation: Option<otlp::Invocation<'_>>,
    ) {
        DOCUMENT.with(|document| {
            let Ok(mut out) = document.try_borrow_mut() else {
                return;
            };
            out.clear();
            if let Output::Daemon { .. } = self.output {
                out.extend_from_slice(document::DAEMON_HEADER);
            }
            match self.config.export {
                Export::Otlp => {
                    let kind = if invocation.is_some() {
                        otlp::Kind::Server
                    } else if subsegment.namespace.is_some() {
                        otlp::Kind::Client
                    } else {
                        otlp::Kind::Internal
                    };
                    otlp::write_datagram(&mut out, &self.resource, subsegment, kind, invocation);
                }
                _ => subsegment.write(&mut out),
            }
            match &self.output {
                Output::Daemon { socket, address } => {
                    let _ = socket.send_to(&out, address);
                }
                Output::Lines(write) => {
                    out.push(b'\n');
                    write(&out);
                }
            }
        });
    }
}

/// The subscriber [`Function`](crate::Function) installs for these settings: helve's JSON
/// logger writing each line through `sink`, and `tracer`'s spans over it, both behind one
/// filter. For benchmarks, and for programs that install it themselves
/// (`tracing::subscriber::set_global_default`).
pub fn subscriber(
    settings: &crate::Settings,
    tracer: &Arc<Tracer>,
    sink: impl Fn(&[u8]) + Send + Sync + 'static,
) -> impl tracing::Subscriber + Send + Sync + for<'a> LookupSpan<'a> {
    crate::logging::subscriber_with(
        settings.log(),
        Arc::new(sink),
        SpanLayer::new(Arc::clone(tracer)),
        SpanLayer::wants,
    )
}

/// Installs the JSON logger writing to `sink` with `tracer`'s spans over it, as
/// [`Function`](crate::Function) starts.
pub(crate) fn install(
    settings: &crate::Settings,
    tracer: &Arc<Tracer>,
    sink: crate::logging::LineSink,
) {
    let spans = SpanLayer::new(Arc::clone(tracer));
    crate::logging::init_with(settings.log(), sink, spans, SpanLayer::wants);
}

/// The span layer with a filter of its own, for a subscriber helve does not install: the
/// callsites of the spans it records, decided once per callsite.
fn span_layer<S>(tracer: Arc<Tracer>) -> impl tracing_subscriber::Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    use tracing_subscriber::{Layer as _, filter};
    // `always` or `never`, never `sometimes`: that would have the registry ask every layer's
    // filter again for each span.
    let filter = filter::dynamic_filter_fn(
        |metadata: &tracing::Metadata<'_>, _: &tracing_subscriber::layer::Context<'_, S>| {
            SpanLayer::wants(metadata)
        },
    )
    .with_callsite_filter(|metadata| {
        if SpanLayer::wants(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    })
    .with_max_level_hint(tracing::level_filters::LevelFilter::DEBUG);
    SpanLayer::new(tracer).with_filter(filter)
}

#[cfg(test)]
mod tests;
