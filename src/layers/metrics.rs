//! Per-invocation metrics: a collector for the invocation's `metrics` calls, written as EMF
//! documents when it ends, whether it succeeded, failed or panicked.

use std::{
    cell::RefCell,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{self, Poll},
};

use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use crate::{
    Context,
    config::MetricsConfig,
    handler::Invocation,
    logging::{self, Sink},
    metrics::{COLLECTING, Collector, EmfRecorder, write_invocation},
};

type Slot = RefCell<Option<Arc<Mutex<Collector>>>>;

/// A layer collecting each invocation's metrics and writing them as EMF documents when it ends,
/// with the ColdStart metric on a cold start. Without a [`MetricsConfig`] it still gives each
/// invocation its (empty until used) collector, and writes nothing.
///
/// Must run inside [`ContextLayer`](super::ContextLayer).
#[derive(Clone)]
pub struct MetricsLayer {
    writer: Option<Arc<(EmfRecorder, MetricsConfig)>>,
    sink: Sink,
}

impl fmt::Debug for MetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsLayer")
            .field("enabled", &self.writer.is_some())
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

    pub(crate) fn with_sink(
        recorder: EmfRecorder,
        config: Option<MetricsConfig>,
        sink: Sink,
    ) -> Self {
        Self {
            writer: config.map(|config| Arc::new((recorder, config))),
            sink,
        }
    }

    /// A layer that writes nothing.
    pub fn disabled() -> Self {
        Self {
            writer: None,
            sink: logging::stdout_sink(),
        }
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
        let context = self
            .layer
            .writer
            .as_ref()
            .map(|_| invocation.context.clone());
        // What the synchronous `call` records goes into the same collector as the rest.
        let (future, early) = COLLECTING.sync_scope(RefCell::new(None), || {
            let future = self.inner.call(invocation);
            let early = COLLECTING
                .try_with(|slot| slot.borrow_mut().take())
                .ok()
                .flatten();
            (future, early)
        });
        MetricsFuture {
            inner: COLLECTING.scope(RefCell::new(early), future),
            writer: self.layer.writer.clone(),
            context,
            sink: Arc::clone(&self.layer.sink),
            done: false,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`MetricsService`].
    pub struct MetricsFuture<F> {
        #[pin]
        inner: TaskLocalFuture<Slot, F>,
        writer: Option<Arc<(EmfRecorder, MetricsConfig)>>,
        context: Option<Context>,
        sink: Sink,
        done: bool,
    }

    impl<F> PinnedDrop for MetricsFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before it finished: what it recorded is still written.
            let this = this.project();
            if !*this.done {
                *this.done = true;
                let collected = this.inner.take_value();
                write(this.writer, this.context, collected, this.sink);
            }
        }
    }
}

fn write(
    writer: &Option<Arc<(EmfRecorder, MetricsConfig)>>,
    context: &Option<Context>,
    slot: Option<Slot>,
    sink: &Sink,
) {
    let (Some(writer), Some(context)) = (writer, context) else {
        return;
    };
    let collected = slot.and_then(RefCell::into_inner).map(|shared| {
        match Arc::try_unwrap(shared) {
            Ok(collector) => collector
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
            // A task spawned in the invocation's scope still holds it: take what it has.
            Err(shared) => {
                std::mem::take(&mut *shared.lock().unwrap_or_else(PoisonError::into_inner))
            }
        }
    });
    let (recorder, config) = &**writer;
    write_invocation(recorder, config, context, collected, sink);
}

impl<F> fmt::Debug for MetricsFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsFuture")
    }
}

impl<F: Future> Future for MetricsFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let outcome = this.inner.as_mut().poll(cx);
        if outcome.is_ready() && !*this.done {
            *this.done = true;
            let collected = this.inner.take_value();
            write(this.writer, this.context, collected, this.sink);
        }
        outcome
    }
}
