//! Gives each invocation its [`Context`], and makes it the current one for the invocation's
//! task.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{self, Poll},
};

use lambda_runtime::LambdaEvent;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use crate::{
    Settings,
    context::{Context, Findings, Inner, Invocation, Mode, State},
};

/// A layer turning `LambdaEvent<T>` into an [`Invocation<T>`] carrying helve's [`Context`],
/// and running the rest of the stack with that context current ([`crate::context()`]).
///
/// The cold-start flag is shared by every clone of the layer: the first invocation through any
/// of them is the cold start.
#[derive(Clone, Debug)]
pub struct ContextLayer {
    settings: Settings,
    mode: Mode,
    cold_start: Arc<AtomicBool>,
}

impl ContextLayer {
    /// A layer with these settings, for invocations from Lambda; the next invocation through
    /// it is a cold start.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            mode: Mode::Lambda,
            cold_start: Arc::new(AtomicBool::new(true)),
        }
    }

    /// The same layer, for invocations run as `mode` says ([`Context::mode`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

impl<S> Layer<S> for ContextLayer {
    type Service = ContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ContextService {
            inner,
            service: self.settings.service_arc(),
            mode: self.mode,
            cold_start: Arc::clone(&self.cold_start),
            last: None,
        }
    }
}

/// The service of [`ContextLayer`].
pub struct ContextService<S> {
    inner: S,
    service: Arc<str>,
    mode: Mode,
    cold_start: Arc<AtomicBool>,
    /// The previous invocation's context, whose allocation is reused when nothing else holds
    /// it any more, so that steady-state invocations allocate nothing here.
    last: Option<Arc<Inner>>,
}

impl<S: Clone> Clone for ContextService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            service: Arc::clone(&self.service),
            mode: self.mode,
            cold_start: Arc::clone(&self.cold_start),
            last: None,
        }
    }
}

impl<S> ContextService<S> {
    /// Decides whether the next invocation is a cold start (the test kit's context builder).
    #[cfg(feature = "testing")]
    pub(crate) fn set_cold_start(&self, cold_start: bool) {
        self.cold_start.store(cold_start, Ordering::Relaxed);
    }
}

/// The longest correlation id kept from an event: it is on every log line, and an HTTP
/// client chooses its `x-correlation-id`.
pub const MAX_CORRELATION_ID_BYTES: usize = 256;

impl<S> fmt::Debug for ContextService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextService")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl<S> ContextService<S> {
    fn context(&mut self, lambda: lambda_runtime::Context, cold_start: bool) -> Context {
        // What the event layer read from the raw event, during this synchronous call.
        let Findings {
            correlation_id: correlation,
            logged_event,
            raw_event,
            #[cfg(feature = "idempotency")]
            event_keys,
        } = Findings::take().unwrap_or_default();
        let correlation = correlation
            .as_deref()
            .and_then(|id| std::str::from_utf8(id).ok())
            .map(|id| crate::json_escape::truncated(id, MAX_CORRELATION_ID_BYTES));
        if let Some(last) = self.last.as_mut()
            && let Some(reusable) = Arc::get_mut(last)
        {
            // Keep the correlation id's buffer and the state's: most invocations then allocate
            // nothing here.
            let mut correlation_id = reusable.correlation_id.take().unwrap_or_default();
            correlation_id.clear();
            reusable.correlation_id = correlation.map(|id| {
                correlation_id.push_str(id);
                correlation_id
            });
            reusable.lambda = lambda;
            reusable.service = Arc::clone(&self.service);
            reusable.cold_start = cold_start;
            reusable.mode = self.mode;
            reusable.state.reset(logged_event);
            reusable.state.put_raw_event(raw_event);
            #[cfg(feature = "idempotency")]
            reusable.state.put_event_keys(event_keys);
            return Context::from_inner(Arc::clone(last));
        }
        let shared = Arc::new(Inner {
            lambda,
            service: Arc::clone(&self.service),
            cold_start,
            mode: self.mode,
            correlation_id: correlation.map(str::to_owned),
            state: {
                let mut state = State::new(logged_event);
                state.put_raw_event(raw_event);
                #[cfg(feature = "idempotency")]
                state.put_event_keys(event_keys);
                state
            },
        });
        self.last = Some(Arc::clone(&shared));
        Context::from_inner(shared)
    }
}

impl<S, T> Service<LambdaEvent<T>> for ContextService<S>
where
    S: Service<Invocation<T>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TaskLocalFuture<Context, S::Future>;

    fn poll_ready(&mut self, cx: &mut task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let LambdaEvent { payload, context } = event;
        let cold_start = self.cold_start.swap(false, Ordering::Relaxed);
        let context = self.context(context, cold_start);
        // The inner layers' synchronous `call` (where an invalid event is reported) runs with
        // the context current too, so its log lines carry the invocation's ids.
        let invocation = Invocation {
            event: payload,
            context: context.clone(),
        };
        let future = context.clone().enter(|| self.inner.call(invocation));
        context.scope(future)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{ServiceExt, service_fn};

    use super::*;

    fn event(request_id: &str) -> LambdaEvent<()> {
        let mut context = lambda_runtime::Context::default();
        context.request_id = request_id.to_owned();
        LambdaEvent::new((), context)
    }

    fn layer() -> ContextLayer {
        ContextLayer::new(Settings::from_lookup(Some("orders"), |_| None).unwrap())
    }

    #[tokio::test]
    async fn a_huge_correlation_id_from_the_event_is_cut_to_its_first_256_bytes() {
        let mut service = layer().layer(service_fn(|inv: Invocation<()>| async move {
            Ok::<_, Infallible>(inv.context.correlation_id().to_owned())
        }));
        // 300 KB of two-byte characters: the cut falls on a character boundary.
        let huge = "é".repeat(150_000);
        let findings = Findings {
            correlation_id: Some(bytes::Bytes::from(huge.clone())),
            ..Findings::default()
        };
        let id = findings
            .during(|| service.call(event("req-1")))
            .await
            .unwrap();
        assert_eq!(id.len(), MAX_CORRELATION_ID_BYTES);
        assert!(huge.starts_with(&id));
    }

    #[tokio::test]
    async fn only_the_first_invocation_is_a_cold_start() {
        let layer = layer();
        let service = layer.layer(service_fn(|inv: Invocation<()>| async move {
            Ok::<_, Infallible>(inv.context.cold_start())
        }));
        assert!(service.clone().oneshot(event("a")).await.unwrap());
        assert!(!service.clone().oneshot(event("b")).await.unwrap());
        let mut other_clone = layer.layer(service_fn(|inv: Invocation<()>| async move {
            Ok::<_, Infallible>(inv.context.cold_start())
        }));
        assert!(!other_clone.call(event("c")).await.unwrap());
    }

    #[tokio::test]
    async fn the_handler_and_current_context_agree() {
        let mut service = layer().layer(service_fn(|inv: Invocation<()>| async move {
            let current = crate::context().expect("a current context");
            Ok::<_, Infallible>((
                inv.context.request_id().to_owned(),
                current.request_id().to_owned(),
                current.service().to_owned(),
            ))
        }));
        let (given, current, service_name) = service.call(event("req-1")).await.unwrap();
        assert_eq!(given, "req-1");
        assert_eq!(current, "req-1");
        assert_eq!(service_name, "orders");
    }

    #[tokio::test]
    async fn a_context_kept_by_the_handler_is_not_overwritten() {
        let mut service = layer().layer(service_fn(|inv: Invocation<()>| async move {
            Ok::<_, Infallible>(inv.context)
        }));
        let first = service.call(event("first")).await.unwrap();
        let second = service.call(event("second")).await.unwrap();
        let third = service.call(event("third")).await.unwrap();
        assert_eq!(first.request_id(), "first");
        assert_eq!(second.request_id(), "second");
        assert_eq!(third.request_id(), "third");
    }
}
