//! The guard under the user's layers: a body over the limit (413), a panic or an error of the
//! service (500) and the deadline coming near (504) are answered here, as problems.

use std::{
    convert::Infallible,
    fmt,
    future::poll_fn,
    marker::PhantomData,
    task::{self, Poll},
    time::Duration,
};

use tower::Service;

use super::{
    BoxFuture, Invoked, Request, Response, StatusCode, lambda,
    response::{IntoResponse, Problem},
};
use crate::layers::CatchUnwind;

/// The handler's service as helve runs it, under the layers added with
/// [`HttpHandler::layer`](super::HttpHandler::layer): a body over the limit, a panic, an
/// error of the service and the deadline coming near are answered here, as problems, so that
/// those layers (a CORS layer adding its headers, for one) see them as they see every other
/// answer.
pub struct Guarded<Svc, S> {
    inner: Svc,
    _state: PhantomData<fn(S)>,
}

impl<Svc, S> Guarded<Svc, S> {
    pub(super) fn new(inner: Svc) -> Self {
        Self {
            inner,
            _state: PhantomData,
        }
    }
}

impl<Svc: Clone, S> Clone for Guarded<Svc, S> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone())
    }
}

impl<Svc, S> fmt::Debug for Guarded<Svc, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("service", &std::any::type_name::<Svc>())
            .finish()
    }
}

impl<Svc, S, B> Service<Request> for Guarded<Svc, S>
where
    S: Sync + 'static,
    Svc: Service<Request, Response = http::Response<B>> + Clone + Send + 'static,
    Svc::Future: Send + 'static,
    Svc::Error: fmt::Display,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: fmt::Display,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut task::Context<'_>) -> Poll<Result<(), Infallible>> {
        // The inner service's readiness is awaited in `call`, where its error can be answered.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let limits = request
            .extensions()
            .get::<Invoked<S>>()
            .map(|invoked| invoked.limits);
        let service = self.inner.clone();
        Box::pin(async move {
            let size = request.body().as_ref().len();
            if let Some(limits) = limits
                && size > limits.body_limit
            {
                return Ok(Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                    .with_detail(format!(
                        "the request body is {size} bytes; this endpoint takes at most {}",
                        limits.body_limit
                    ))
                    .with_code("payload_too_large")
                    .into_response());
            }
            let work = CatchUnwind::new(respond(service, request));
            let outcome = match limits {
                Some(limits) => tokio::time::timeout_at(limits.stop_at, work)
                    .await
                    .map_err(|_| limits.margin),
                None => Ok(work.await),
            };
            Ok(answer(outcome))
        })
    }
}

/// `service`'s answer to `request`, normalised; an error of the service (or of the answer's
/// body) as its message.
pub(super) async fn respond<Svc, B>(mut service: Svc, request: Request) -> Result<Response, String>
where
    Svc: Service<Request, Response = http::Response<B>>,
    Svc::Error: fmt::Display,
    B: http_body::Body + Send + 'static,
    B::Error: fmt::Display,
{
    poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(|error| error.to_string())?;
    let response = service
        .call(request)
        .await
        .map_err(|error| error.to_string())?;
    lambda::normalise(response).await
}

/// The answer to a request whose service finished (answered, failed or panicked), or did not
/// finish before the deadline margin (`Err(margin)`).
pub(super) fn answer(
    outcome: Result<Result<Result<Response, String>, crate::error::Panic>, Duration>,
) -> Response {
    match outcome {
        Ok(Ok(Ok(response))) => response,
        Ok(Ok(Err(message))) => {
            tracing::error!(
                error_type = crate::error::codes::INVALID_RESPONSE,
                "the request could not be answered: {message}"
            );
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .logged()
                .into_response()
        }
        // The panic is logged where it is caught.
        Ok(Err(_panic)) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .logged()
            .into_response(),
        Err(margin) => {
            tracing::error!(
                error_type = crate::error::codes::DEADLINE_EXCEEDED,
                margin_ms = margin.as_millis() as u64,
                "the handler had not answered when the deadline came near; answering 504"
            );
            Problem::new(StatusCode::GATEWAY_TIMEOUT)
                .with_detail("the function ran out of time before it could answer")
                .with_code("deadline_exceeded")
                .logged()
                .into_response()
        }
    }
}
