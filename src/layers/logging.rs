//! Per-invocation logging: debug sampling, the DEBUG log buffer, and the init duration logged
//! once, by the cold start.

use std::{
    fmt,
    future::Future,
    hash::{BuildHasher, RandomState},
    pin::Pin,
    sync::Arc,
    task::{self, Poll},
    time::{Duration, Instant},
};

use tower::{Layer, Service};

use crate::{
    Context, Settings,
    context::Invocation,
    logging::{self, LineSink},
};

/// How long before the deadline a log buffer is written out, so that the lines of an
/// invocation Lambda is about to stop are not lost.
pub const BUFFER_FLUSH_MARGIN: Duration = Duration::from_millis(200);

/// A layer that gives each invocation its logging state: whether it is sampled for DEBUG
/// (`POWERTOOLS_LOGGER_SAMPLE_RATE`, decided per invocation) and, with log buffering on, the
/// buffer holding its DEBUG lines until it fails or logs at ERROR.
///
/// Must run inside [`ContextLayer`](super::ContextLayer), so its lines carry the invocation's
/// ids.
#[derive(Clone)]
pub struct LoggingLayer {
    sink: LineSink,
    sample_rate: f64,
    buffer_bytes: Option<usize>,
    /// How long init took, logged by the cold-start invocation.
    init_duration: Option<Duration>,
    service: Arc<str>,
    /// Whether INFO lines of helve's own target are written: the logged event is one.
    log_info: bool,
}

impl fmt::Debug for LoggingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggingLayer")
            .field("sample_rate", &self.sample_rate)
            .field("buffer_bytes", &self.buffer_bytes)
            .finish_non_exhaustive()
    }
}

impl LoggingLayer {
    /// A layer with these settings, writing buffered lines to stdout.
    pub fn new(settings: &Settings) -> Self {
        Self::with_sink(settings, logging::stdout_sink(), None)
    }

    pub(crate) fn with_sink(
        settings: &Settings,
        sink: LineSink,
        init_duration: Option<Duration>,
    ) -> Self {
        Self {
            sink,
            sample_rate: settings.sample_rate(),
            buffer_bytes: settings.log_buffer_bytes(),
            init_duration,
            service: settings.service_arc(),
            log_info: settings
                .log()
                .level()
                .targets
                .would_enable("helve", &tracing::Level::INFO),
        }
    }
}

impl<S> Layer<S> for LoggingLayer {
    type Service = LoggingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoggingService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`LoggingLayer`].
#[derive(Clone, Debug)]
pub struct LoggingService<S> {
    inner: S,
    layer: LoggingLayer,
}

impl<S, T> Service<Invocation<T>> for LoggingService<S>
where
    S: Service<Invocation<T>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = LoggingFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: Invocation<T>) -> Self::Future {
        let context = invocation.context.clone();
        debug_assert!(
            context.is_current(),
            "helve's LoggingLayer runs inside its ContextLayer"
        );
        let sampled = sampled(self.layer.sample_rate);
        let buffering = self.layer.buffer_bytes.is_some();
        context.state().log.start(sampled, self.layer.buffer_bytes);
        let flush_at = buffering.then(|| {
            Box::pin(tokio::time::sleep_until(
                context.stop_at(BUFFER_FLUSH_MARGIN),
            ))
        });
        // The cold start is decided once, by the context layer: the same invocation logs how
        // long init took, also when several invocations start at once.
        let init = self.layer.init_duration.filter(|_| context.cold_start());
        let event = if self.layer.log_info {
            context.state().take_logged_event()
        } else {
            None
        };
        // Inside the invocation's scope (the context layer's `call` made it current), so these
        // lines carry the invocation's keys, and come before anything the handler logs.
        if let Some(duration) = init {
            tracing::info!(
                init_duration_ms = (duration.as_secs_f64() * 1e6).round() / 1e3,
                "the execution environment is ready"
            );
        }
        if let Some(event) = event {
            let sampling_rate = (self.layer.sample_rate > 0.0).then_some(self.layer.sample_rate);
            let line = logging::raw_line(
                &self.layer.service,
                sampling_rate,
                "incoming event",
                "event",
                &event,
            );
            (self.layer.sink)(&line);
        }
        LoggingFuture {
            inner: self.inner.call(invocation),
            context: buffering.then_some(context),
            flush_at,
            sink: Arc::clone(&self.layer.sink),
            done: false,
        }
    }
}

/// Decides whether this invocation is sampled for DEBUG.
fn sampled(rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    // A fresh random value per invocation; no need for a cryptographic generator.
    let random = RandomState::new().hash_one(Instant::now());
    (random >> 11) as f64 / (1_u64 << 53) as f64 <= rate
}

pin_project_lite::pin_project! {
    /// The future of [`LoggingService`].
    pub struct LoggingFuture<F> {
        #[pin]
        inner: F,
        // The invocation, while its DEBUG lines are buffered.
        context: Option<Context>,
        flush_at: Option<Pin<Box<tokio::time::Sleep>>>,
        sink: LineSink,
        done: bool,
    }

    impl<F> PinnedDrop for LoggingFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Dropped before it finished (a timeout, a shutdown): the invocation did not
            // succeed, so what it buffered is written out.
            if !*this.done
                && let Some(context) = this.context.as_ref() {
                    logging::flush(&context.state().log.buffer, this.sink);
                }
        }
    }
}

impl<F> fmt::Debug for LoggingFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoggingFuture")
    }
}

impl<F, R, E> Future for LoggingFuture<F>
where
    F: Future<Output = Result<R, E>>,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = this.inner.poll(cx);
        if outcome.is_ready() {
            *this.done = true;
        }
        let buffer = this
            .context
            .as_ref()
            .map(|context| &context.state().log.buffer);
        if let (Some(buffer), Poll::Ready(result)) = (buffer, &outcome) {
            if result.is_err() {
                logging::flush(buffer, this.sink);
            }
            logging::report_evicted(buffer);
            return outcome;
        }
        if let (Some(buffer), Some(flush_at)) = (buffer, this.flush_at.as_mut())
            && flush_at.as_mut().poll(cx).is_ready()
        {
            // The deadline is near: write out what the invocation logged so far, and from
            // now on write its lines at once.
            logging::flush_and_pass_through(buffer, this.sink);
            *this.flush_at = None;
        }
        outcome
    }
}
