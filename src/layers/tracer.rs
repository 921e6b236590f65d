//! Per-invocation tracing (feature `tracer`): the invocation's own subsegment, `## {handler}`,
//! parent of its spans' subsegments, sent when the invocation ends, whatever its outcome.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, atomic::Ordering},
    task::{self, Poll},
    time::SystemTime,
};

use lambda_runtime::Diagnostic;
use serde::Serialize;
use tower::{Layer, Service};

use crate::{
    context::{Invocation, Trace, lock},
    tracer::{Cause, MAX_DOCUMENT, OtlpInvocation, Subsegment, Tracer, member_within},
};

/// A layer recording each sampled invocation as a subsegment of Lambda's segment for it,
/// named `## {handler}`, with the annotations `ColdStart` and `Service`, and the response or
/// the error as metadata (as the settings say). Spans opened inside the invocation become
/// its children. Without a tracer (turned off, or `Sampled=0`) it only passes the invocation
/// on.
///
/// Must run inside [`ContextLayer`](super::ContextLayer).
#[derive(Clone)]
pub struct TracerLayer {
    tracer: Option<Arc<Tracer>>,
    /// `## {handler}`.
    name: Arc<str>,
    handler: Arc<str>,
    service: Arc<str>,
}

impl fmt::Debug for TracerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracerLayer")
            .field("enabled", &self.tracer.is_some())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TracerLayer {
    /// A layer that records nothing.
    pub fn disabled() -> Self {
        Self {
            tracer: None,
            name: Arc::from("## handler"),
            handler: Arc::from("handler"),
            service: Arc::from(crate::config::DEFAULT_SERVICE),
        }
    }

    /// A layer recording the invocations of the handler named `handler` with `tracer`.
    pub fn new(tracer: Arc<Tracer>, handler: &str, settings: &crate::Settings) -> Self {
        Self::with(Some(tracer), handler, settings.service_arc())
    }

    pub(crate) fn with(tracer: Option<Arc<Tracer>>, handler: &str, service: Arc<str>) -> Self {
        Self {
            tracer,
            name: Arc::from(format!("## {handler}")),
            handler: Arc::from(handler),
            service,
        }
    }
}

impl<S> Layer<S> for TracerLayer {
    type Service = TracerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TracerService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`TracerLayer`].
#[derive(Clone, Debug)]
pub struct TracerService<S> {
    inner: S,
    layer: TracerLayer,
}

impl<S, T> Service<Invocation<T>> for TracerService<S>
where
    S: Service<Invocation<T>, Error = Diagnostic>,
    S::Response: Serialize,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TracerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: Invocation<T>) -> Self::Future {
        let run = self.layer.tracer.as_ref().and_then(|tracer| {
            debug_assert!(
                invocation.context.is_current(),
                "helve's TracerLayer runs inside its ContextLayer"
            );
            let trace = tracer.start(&invocation.context)?;
            // The invocation's own annotations count towards the trace's 50.
            trace.take_annotation(crate::tracer::MAX_ANNOTATIONS);
            trace.take_annotation(crate::tracer::MAX_ANNOTATIONS);
            Some(Run {
                tracer: Arc::clone(tracer),
                trace,
                start: SystemTime::now(),
                cold_start: invocation.context.cold_start(),
                request_id: invocation.context.request_id().into(),
                layer: self.layer.clone(),
            })
        });
        TracerFuture {
            inner: self.inner.call(invocation),
            run,
        }
    }
}

/// What a recorded invocation needs when it ends.
struct Run {
    tracer: Arc<Tracer>,
    trace: Arc<Trace>,
    start: SystemTime,
    cold_start: bool,
    request_id: Box<str>,
    layer: TracerLayer,
}

/// How the invocation ended, for its subsegment.
enum Ended<'a> {
    Answered(Option<Vec<u8>>),
    Failed(&'a Diagnostic),
    Stopped,
}

impl Run {
    fn finish(self, mut ended: Ended<'_>) {
        let Run {
            tracer,
            trace,
            start,
            cold_start,
            request_id,
            layer,
        } = self;
        let end = SystemTime::now();
        let handler_fields = std::mem::take(&mut *lock(&trace.handler_fields));
        let mut annotations = Vec::with_capacity(64 + handler_fields.annotations.len());
        annotations.extend_from_slice(b"\"ColdStart\":");
        annotations.extend_from_slice(if cold_start { b"true," } else { b"false," });
        annotations.extend_from_slice(b"\"Service\":\"");
        crate::json_escape::escape_into(&mut annotations, &layer.service);
        annotations.extend_from_slice(b"\",");
        annotations.extend_from_slice(&handler_fields.annotations);
        let status = trace.http_status.load(Ordering::Relaxed);
        let (cause, fault) = match &ended {
            Ended::Answered(_) => (None, false),
            Ended::Failed(diagnostic) => (
                Some(Cause {
                    kind: &diagnostic.error_type,
                    message: &diagnostic.error_message,
                }),
                true,
            ),
            Ended::Stopped => (
                Some(Cause {
                    kind: crate::error::codes::STOPPED,
                    message: "the invocation was stopped before it answered",
                }),
                true,
            ),
        };
        let mut subsegment = Subsegment {
            name: &layer.name,
            id: trace.handler_id,
            trace_id: &trace.trace_id,
            parent_id: &trace.lambda_parent,
            start,
            end,
            namespace: None,
            aws: Default::default(),
            http_status: (status != 0).then_some(status),
            fault,
            cause,
            annotations: &annotations,
            metadata: &[("default", &handler_fields.metadata)],
        };
        // The response or the error, under the service's namespace, cut to what the
        // document has room for.
        // OTLP spans carry no metadata: nothing to capture.
        let x_ray = tracer.config.export == crate::tracer::Export::XRay;
        let captured: Option<(String, Vec<u8>)> = match &mut ended {
            _ if !x_ray => None,
            Ended::Answered(Some(json)) => {
                Some((format!("{} response", layer.handler), std::mem::take(json)))
            }
            Ended::Failed(diagnostic) if tracer.config.capture_error => Some((
                format!("{} error", layer.handler),
                serde_json::to_vec(&ErrorMetadata {
                    error_type: &diagnostic.error_type,
                    error_message: &diagnostic.error_message,
                })
                .unwrap_or_default(),
            )),
            _ => None,
        };
        let members;
        let metadata;
        if let Some((key, json)) = captured {
            let mut base = Vec::new();
            subsegment.write_whole(&mut base);
            let room =
                MAX_DOCUMENT.saturating_sub(base.len() + layer.service.len() + key.len() + 32);
            let mut written = Vec::with_capacity(json.len().min(room) + key.len() + 8);
            member_within(&mut written, &key, &json, room);
            members = written;
            metadata = [
                ("default", &handler_fields.metadata[..]),
                (&*layer.service, &members[..]),
            ];
            subsegment.metadata = &metadata;
        }
        tracer.send_as(
            &subsegment,
            Some(OtlpInvocation {
                request_id: &request_id,
                cold_start,
            }),
        );
        crate::tracer::finished_recording();
        if let Some((count, reason)) = trace.take_dropped() {
            tracing::warn!(
                dropped_annotations = count,
                "{count} trace annotation(s) were dropped, the first because {reason}"
            );
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorMetadata<'a> {
    error_type: &'a str,
    error_message: &'a str,
}

pin_project_lite::pin_project! {
    /// The future of [`TracerService`].
    pub struct TracerFuture<F> {
        #[pin]
        inner: F,
        run: Option<Run>,
    }

    impl<F> PinnedDrop for TracerFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before it finished (a timeout, a shutdown): what was recorded is sent.
            if let Some(run) = this.project().run.take() {
                run.finish(Ended::Stopped);
            }
        }
    }
}

impl<F> fmt::Debug for TracerFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TracerFuture")
    }
}

impl<F, R> Future for TracerFuture<F>
where
    F: Future<Output = Result<R, Diagnostic>>,
    R: Serialize,
{
    type Output = Result<R, Diagnostic>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = this.inner.poll(cx);
        if let Poll::Ready(result) = &outcome
            && let Some(run) = this.run.take()
        {
            match result {
                Ok(response) => {
                    // X-Ray documents carry the response; OTLP spans do not.
                    let config = &run.tracer.config;
                    let json = (config.capture_response
                        && config.export == crate::tracer::Export::XRay)
                        .then(|| serde_json::to_vec(response).ok())
                        .flatten();
                    run.finish(Ended::Answered(json));
                }
                Err(diagnostic) => run.finish(Ended::Failed(diagnostic)),
            }
        }
        outcome
    }
}
