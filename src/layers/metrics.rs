//! Per-invocation metrics: a collector for the invocation's `metrics` calls, written as EMF
//! documents (or, feature `cloudwatch`, published with PutMetricData) when it ends, whether it
//! succeeded, failed or panicked.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{self, Poll},
};

use tower::{Layer, Service};

use crate::{
    Context,
    context::{Collector, Invocation},
    logging::{self, LineSink},
    metrics::MetricsConfig,
    metrics::{EmfRecorder, MetricsOutput, write_invocation},
};

/// A layer collecting each invocation's metrics and writing them as EMF documents when it ends,
/// with the ColdStart metric on a cold start (or, with the `cloudwatch` feature, publishing
/// them with PutMetricData: [`with_cloudwatch`](MetricsLayer::with_cloudwatch)). Without a
/// [`MetricsConfig`] it still gives each invocation its (empty until used) collector, and
/// writes nothing.
///
/// Must run inside [`ContextLayer`](super::ContextLayer).
#[derive(Clone)]
pub struct MetricsLayer {
    writer: Option<Arc<Writer>>,
}

/// What a layer writes with, and where.
struct Writer {
    recorder: EmfRecorder,
    config: MetricsConfig,
    output: Output,
}

enum Output {
    /// EMF documents, one line each.
    Emf(LineSink),
    /// PutMetricData requests.
    #[cfg(feature = "cloudwatch")]
    CloudWatch(crate::metrics::cloudwatch::CloudWatchSink),
}

impl fmt::Debug for MetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let output = self.writer.as_ref().map(|writer| match writer.output {
            Output::Emf(_) => "emf",
            #[cfg(feature = "cloudwatch")]
            Output::CloudWatch(_) => "cloudwatch",
        });
        f.debug_struct("MetricsLayer")
            .field("enabled", &self.writer.is_some())
            .field("output", &output)
            .finish_non_exhaustive()
    }
}

impl MetricsLayer {
    /// A layer writing through `recorder` as `config` says, to stdout; `None` turns it off.
    pub fn new(recorder: EmfRecorder, config: Option<MetricsConfig>) -> Self {
        Self::with_sink(recorder, config, logging::stdout_sink())
    }

    /// A layer writing each document, one line ending in `\n`, through `write` instead of
    /// stdout: for tests and benchmarks.
    pub fn with_writer(
        recorder: EmfRecorder,
        config: Option<MetricsConfig>,
        write: impl Fn(&[u8]) + Send + Sync + 'static,
    ) -> Self {
        Self::with_sink(recorder, config, Arc::new(write))
    }

    /// A layer publishing each invocation's metrics with PutMetricData through `sink` when the
    /// invocation ends, instead of writing EMF documents; `None` turns it off. The invocation
    /// waits for the requests, never past its deadline less the sink's margin. Needs a tokio
    /// runtime with time and I/O enabled.
    #[cfg(feature = "cloudwatch")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cloudwatch")))]
    pub fn with_cloudwatch(
        recorder: EmfRecorder,
        config: Option<MetricsConfig>,
        sink: crate::metrics::cloudwatch::CloudWatchSink,
    ) -> Self {
        Self::with_output(recorder, config, Output::CloudWatch(sink))
    }

    pub(crate) fn with_sink(
        recorder: EmfRecorder,
        config: Option<MetricsConfig>,
        sink: LineSink,
    ) -> Self {
        Self::with_output(recorder, config, Output::Emf(sink))
    }

    fn with_output(recorder: EmfRecorder, config: Option<MetricsConfig>, output: Output) -> Self {
        let writer = config.map(|config| {
            // The default dimensions count towards each metric's 30, checked when a metric is
            // registered.
            recorder
                .shared
                .set_default_dimensions(config.dimensions.iter().map(|(key, _)| key.as_str()));
            Arc::new(Writer {
                recorder,
                config,
                output,
            })
        });
        Self { writer }
    }

    /// A layer that writes nothing.
    pub fn disabled() -> Self {
        Self { writer: None }
    }

    /// Writes what was recorded outside any invocation since the last one (at shutdown: what
    /// the shutdown hook recorded); returns the future that publishes it, with a sink.
    pub(crate) fn write_pending(&self, context: &Context) -> Option<Publishing> {
        write(&self.writer, context, None)
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

// Where the builder chose to send metrics decides the layer: composed here, where the layer
// lives, so the metrics module knows nothing of layers.
impl MetricsOutput {
    /// The layer that writes (or publishes) each invocation's metrics, once the init step
    /// built `state`: EMF documents to `stdout` unless a sink was chosen.
    #[cfg(feature = "cloudwatch")]
    pub(crate) fn layer(
        self,
        recorder: EmfRecorder,
        config: MetricsConfig,
        state: &dyn std::any::Any,
        stdout: LineSink,
    ) -> Result<MetricsLayer, crate::ConfigError> {
        if let Some(source) = self.source {
            let sink = match source {
                crate::metrics::cloudwatch::SinkSource::Ready(sink) => sink,
                crate::metrics::cloudwatch::SinkSource::FromState(make) => {
                    make(state).ok_or_else(|| {
                        crate::ConfigError::new(
                            "the metrics sink",
                            "`metrics_sink_with` was given a closure taking another state than the \
                         init step's: call it after `init`",
                        )
                    })?
                }
            };
            return Ok(MetricsLayer::with_cloudwatch(recorder, Some(config), sink));
        }
        Ok(MetricsLayer::with_sink(recorder, Some(config), stdout))
    }

    /// The layer that writes each invocation's EMF documents to `stdout`: without the
    /// `cloudwatch` feature there is no sink to choose, so the state is not read.
    #[cfg(not(feature = "cloudwatch"))]
    pub(crate) fn layer(
        self,
        recorder: EmfRecorder,
        config: MetricsConfig,
        _state: &dyn std::any::Any,
        stdout: LineSink,
    ) -> Result<MetricsLayer, crate::ConfigError> {
        Ok(MetricsLayer::with_sink(recorder, Some(config), stdout))
    }
}

/// The service of [`MetricsLayer`].
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    layer: MetricsLayer,
}

impl<S, T> Service<Invocation<T>> for MetricsService<S>
where
    S: Service<Invocation<T>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: Invocation<T>) -> Self::Future {
        let context = invocation.context.clone();
        debug_assert!(
            context.is_current(),
            "helve's MetricsLayer runs inside its ContextLayer"
        );
        // From here on, what the invocation records (its synchronous `call` too) lands in its
        // own collector.
        context.state().start_collecting();
        MetricsFuture {
            inner: self.inner.call(invocation),
            writer: self.layer.writer.clone(),
            context,
            done: false,
            publishing: None,
        }
    }
}

/// The future publishing what an invocation recorded (feature `cloudwatch`).
type Publishing = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pin_project_lite::pin_project! {
    /// The future of [`MetricsService`].
    pub struct MetricsFuture<F: Future> {
        #[pin]
        inner: F,
        writer: Option<Arc<Writer>>,
        context: Context,
        done: bool,
        // The invocation's outcome, held while its metrics are published.
        publishing: Option<(F::Output, Publishing)>,
    }

    impl<F: Future> PinnedDrop for MetricsFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before it finished: what it recorded is still written (or published, on
            // a task of its own).
            let this = this.project();
            if !*this.done {
                *this.done = true;
                let collected = this.context.state().take_collected();
                if let Some(publishing) = write(this.writer, this.context, collected)
                    && let Ok(runtime) = tokio::runtime::Handle::try_current()
                {
                    drop(runtime.spawn(this.context.clone().scope(publishing)));
                }
            }
        }
    }
}

/// Writes (EMF) or prepares to publish (PutMetricData) what the invocation recorded; returns
/// the future that publishes, if there is one.
fn write(
    writer: &Option<Arc<Writer>>,
    context: &Context,
    collected: Option<Collector>,
) -> Option<Publishing> {
    let writer = writer.as_ref()?;
    let Writer {
        recorder,
        config,
        output,
    } = &**writer;
    match output {
        Output::Emf(sink) => {
            write_invocation(recorder, config, context, collected, sink);
            None
        }
        #[cfg(feature = "cloudwatch")]
        Output::CloudWatch(sink) => {
            let mut requests = crate::metrics::cloudwatch::Requests::new(
                &config.namespace,
                crate::metrics::now_ms(),
            );
            crate::metrics::for_each_set(recorder, config, context, collected, |set| {
                requests.add_set(set);
            });
            sink.publish(&config.namespace, context, requests)
        }
    }
}

impl<F: Future> fmt::Debug for MetricsFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsFuture")
    }
}

impl<F: Future> Future for MetricsFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some((_, publishing)) = this.publishing.as_mut() {
            if publishing.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            return match this.publishing.take() {
                Some((outcome, _)) => Poll::Ready(outcome),
                // Just seen to be `Some`.
                None => Poll::Pending,
            };
        }
        let outcome = this.inner.as_mut().poll(cx);
        let Poll::Ready(outcome) = outcome else {
            return Poll::Pending;
        };
        if *this.done {
            return Poll::Ready(outcome);
        }
        *this.done = true;
        let collected = this.context.state().take_collected();
        match write(this.writer, this.context, collected) {
            None => Poll::Ready(outcome),
            Some(mut publishing) => {
                if publishing.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(outcome);
                }
                *this.publishing = Some((outcome, publishing));
                Poll::Pending
            }
        }
    }
}
