//! Turns a panic in the handler into a failure of that invocation only.

use std::{
    fmt,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    task::{self, Poll},
};

use tower::{Layer, Service};

use crate::error::{Panic, codes};

/// A layer that catches a panic in the inner service, whether in `call` or while its future
/// runs, and returns it as the error [`Panic`] (`helve.Panic`), so the runtime goes on to the
/// next invocation.
///
/// The inner service's error type must convert from [`Panic`]: `lambda_runtime::Diagnostic`
/// and boxed errors do.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanicLayer {
    _private: (),
}

impl CatchPanicLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

/// The service of [`CatchPanicLayer`].
#[derive(Clone, Debug)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S, R> Service<R> for CatchPanic<S>
where
    S: Service<R>,
    S::Error: From<Panic>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        match catch(|| self.inner.call(request)) {
            Ok(future) => CatchPanicFuture {
                state: State::Running {
                    future: CatchUnwind::new(future),
                },
            },
            Err(panic) => CatchPanicFuture {
                state: State::Panicked {
                    panic: Some(report(panic)),
                },
            },
        }
    }
}

/// Runs `f`, catching a panic for the caller to report: the panic hook stays quiet, and the
/// panic's location waits in [`crate::logging::take_panic_location`].
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Panic> {
    crate::logging::catching(|| catch_unwind(AssertUnwindSafe(f)))
        .map_err(|payload| Panic::from_payload(payload.as_ref()))
}

/// Logs a caught panic, with its location, in the current scope.
fn report(panic: Panic) -> Panic {
    match crate::logging::take_panic_location() {
        Some(location) => {
            tracing::error!(error_type = codes::PANIC, panic_location = %location, "{panic}")
        }
        None => tracing::error!(error_type = codes::PANIC, "{panic}"),
    }
    panic
}

pin_project_lite::pin_project! {
    /// The future of [`CatchPanic`].
    pub struct CatchPanicFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        // The inner future is running.
        Running { #[pin] future: CatchUnwind<F> },
        // The inner service panicked; the panic is reported once.
        Panicked { panic: Option<Panic> },
    }
}

impl<F> fmt::Debug for CatchPanicFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CatchPanicFuture")
    }
}

impl<F, T, E> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: From<Panic>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Running { future } => match future.poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(output)) => Poll::Ready(output),
                Poll::Ready(Err(panic)) => Poll::Ready(Err(E::from(panic))),
            },
            StateProj::Panicked { panic } => {
                Poll::Ready(Err(E::from(panic.take().unwrap_or_else(|| {
                    Panic::from_payload(&"the invocation's future was polled after it completed")
                }))))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A future that catches a panic while `F` runs: `Ok(output)`, or the [`Panic`], logged
    /// once. The layer's future runs on it, and so do helve's own wrappers that must answer
    /// even when the handler panics (a custom resource answers FAILED, a batch's record fails).
    ///
    /// Dropping `F` is caught too: a future cancelled at a deadline whose state panics in its
    /// `Drop` is dropped (once it finished, or when this is dropped) inside the catch, and the
    /// panic is logged instead of unwinding into helve.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for CatchUnwind<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut future = this.project().future;
            if future.is_some()
                && let Err(panic) = catch(|| future.set(None))
            {
                report(panic);
            }
        }
    }
}

impl<F> CatchUnwind<F> {
    /// Catches the panics of `future`.
    pub(crate) fn new(future: F) -> Self {
        Self {
            future: Some(future),
        }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.project().future;
        let Some(future) = slot.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Panic::from_payload(
                &"the invocation's future was polled after it completed",
            )));
        };
        let outcome = match catch(|| future.poll(cx)) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(panic) => Err(report(panic)),
        };
        // Finished: its state goes now, inside the catch as well.
        if let Err(panic) = catch(|| slot.set(None)) {
            report(panic);
        }
        Poll::Ready(outcome)
    }
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Diagnostic;
    use tower::{ServiceExt, service_fn};

    use super::*;

    /// State that panics when it is dropped.
    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("the connection pool panicked while it was dropped");
        }
    }

    #[tokio::test]
    async fn a_future_that_panics_when_cancelled_is_caught_too() {
        let future = CatchUnwind::new(async {
            let _state = PanicsOnDrop;
            std::future::pending::<()>().await;
        });
        // Cancelled at a deadline: the drop's panic does not unwind out of the timeout.
        let outcome = tokio::time::timeout(std::time::Duration::from_millis(5), future).await;
        assert!(outcome.is_err(), "timed out");
    }

    #[tokio::test]
    async fn a_panic_while_running_becomes_a_helve_panic_error() {
        let service = CatchPanicLayer::new().layer(service_fn(|fail: bool| async move {
            tokio::task::yield_now().await;
            if fail {
                panic!("the basket is empty");
            }
            Ok::<_, Diagnostic>("done")
        }));
        let error = service.clone().oneshot(true).await.unwrap_err();
        assert_eq!(error.error_type, "helve.Panic");
        assert_eq!(
            error.error_message,
            "the handler panicked: the basket is empty"
        );
        assert_eq!(service.oneshot(false).await.unwrap(), "done");
    }

    #[derive(Clone)]
    struct PanicsInCall;

    impl Service<()> for PanicsInCall {
        type Response = ();
        type Error = Diagnostic;
        type Future = std::future::Ready<Result<(), Diagnostic>>;

        fn poll_ready(&mut self, _: &mut task::Context<'_>) -> Poll<Result<(), Diagnostic>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, (): ()) -> Self::Future {
            panic!("no future for you")
        }
    }

    #[tokio::test]
    async fn a_panic_in_call_becomes_a_helve_panic_error() {
        let error = CatchPanicLayer::new()
            .layer(PanicsInCall)
            .oneshot(())
            .await
            .unwrap_err();
        assert_eq!(
            error.error_message,
            "the handler panicked: no future for you"
        );
    }
}
