//! The handler adapter: an [`HttpFn`] or a tower service made from the init step's state,
//! wrapped as a helve [`Handler`] of the event API Gateway, an ALB or a Function URL sends.

use std::{
    convert::Infallible,
    fmt,
    future::{Future, poll_fn},
    marker::PhantomData,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{self, Poll},
    time::{Duration, Instant},
};

use tower::{Layer, Service};

use super::{
    BoxFuture, DEFAULT_BODY_LIMIT, DEFAULT_DEADLINE_MARGIN, HttpEvent, HttpResponse, Invoked,
    Limits, Request, Response, StatusCode,
    finish::finish,
    guard::{Guarded, answer, respond},
    lambda,
    response::{IntoResponse, Problem},
};
use crate::{
    context::Context,
    handler::{Handler, Stateful, Stateless},
    layers::CatchUnwind,
};

/// The marker of an HTTP handler's signature, for [`Handler`]'s `M`.
#[derive(Debug)]
pub enum Http {}

/// An async function answering one HTTP request: `async fn(Request, Context) -> R` or, with
/// an init step, `async fn(Request, Context, &'static S) -> R`, where `R:` [`IntoResponse`]
/// (`Result<Json<T>, E>` with `E:` [`ErrorStatus`](crate::ErrorStatus), for example).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a helve HTTP handler",
    note = "an HTTP handler is `async fn(request: helve::http::Request, ctx: helve::Context) -> R` (with `&'static S` after the context when there is an init function), where `R: helve::http::IntoResponse`"
)]
pub trait HttpFn<S, M>: Clone + Send + Sync + 'static {
    /// What the handler answers.
    type Output: IntoResponse;
    /// The handler's future.
    type Future: Future<Output = Self::Output> + Send + 'static;

    /// Calls the handler.
    fn call(&self, request: Request, context: Context, state: &'static S) -> Self::Future;
}

impl<F, Fut> HttpFn<(), Stateless> for F
where
    F: Fn(Request, Context) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, request: Request, context: Context, _state: &'static ()) -> Fut {
        self(request, context)
    }
}

impl<F, Fut, S> HttpFn<S, Stateful> for F
where
    F: Fn(Request, Context, &'static S) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse,
    S: Sync + 'static,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, request: Request, context: Context, state: &'static S) -> Fut {
        self(request, context, state)
    }
}

/// The tower service at the end of the stack: calls an [`HttpFn`] with the invocation's
/// context and state. Made by [`http()`].
pub struct Endpoint<H, S, M> {
    handler: H,
    _marker: PhantomData<fn(S, M)>,
}

impl<H: Clone, S, M> Clone for Endpoint<H, S, M> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            _marker: PhantomData,
        }
    }
}

impl<H, S, M> fmt::Debug for Endpoint<H, S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("handler", &std::any::type_name::<H>())
            .finish()
    }
}

impl<H, S, M> Service<Request> for Endpoint<H, S, M>
where
    H: HttpFn<S, M>,
    S: Sync + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EndpointFuture<H::Future>;

    fn poll_ready(&mut self, _cx: &mut task::Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        match request.extensions_mut().remove::<Invoked<S>>() {
            Some(invoked) => EndpointFuture {
                state: EndpointState::Running {
                    future: self.handler.call(request, invoked.context, invoked.state),
                },
            },
            None => {
                tracing::error!(
                    "the HTTP handler was called outside a helve invocation; run it with `helve::http::http`"
                );
                EndpointFuture {
                    state: EndpointState::Done {
                        response: Some(
                            Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                                .logged()
                                .into_response(),
                        ),
                    },
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Endpoint`].
    pub struct EndpointFuture<F> {
        #[pin]
        state: EndpointState<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = EndpointProj]
    enum EndpointState<F> {
        // The handler is running.
        Running { #[pin] future: F },
        // The answer is known without the handler.
        Done { response: Option<Response> },
    }
}

impl<F> fmt::Debug for EndpointFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointFuture")
    }
}

impl<F> Future for EndpointFuture<F>
where
    F: Future,
    F::Output: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            EndpointProj::Running { future } => future.poll(cx).map(|r| Ok(r.into_response())),
            EndpointProj::Done { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                    Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response()
                })))
            }
        }
    }
}

/// A tower service made, once, from the init step's state: an axum `Router`, for example.
/// Made by [`service`].
pub struct FromState<F, Svc, S> {
    make: Arc<(F, OnceLock<Svc>)>,
    _state: PhantomData<fn(S)>,
}

impl<F, Svc, S> Clone for FromState<F, Svc, S> {
    fn clone(&self) -> Self {
        Self {
            make: Arc::clone(&self.make),
            _state: PhantomData,
        }
    }
}

impl<F, Svc, S> fmt::Debug for FromState<F, Svc, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromState")
            .field("service", &std::any::type_name::<Svc>())
            .field("made", &self.make.1.get().is_some())
            .finish()
    }
}

impl<F, Svc, S> Service<Request> for FromState<F, Svc, S>
where
    F: Fn(&'static S) -> Svc + Send + Sync + 'static,
    Svc: Service<Request> + Clone + Send + Sync + 'static,
    Svc::Future: Send + 'static,
    Svc::Error: fmt::Display,
    S: Sync + 'static,
{
    type Response = Svc::Response;
    type Error = String;
    type Future = BoxFuture<Result<Svc::Response, String>>;

    fn poll_ready(&mut self, _cx: &mut task::Context<'_>) -> Poll<Result<(), String>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let Some(invoked) = request.extensions_mut().remove::<Invoked<S>>() else {
            return Box::pin(async {
                Err("the service was called outside a helve invocation".to_owned())
            });
        };
        let (make, made) = &*self.make;
        let mut service = made.get_or_init(|| make(invoked.state)).clone();
        Box::pin(async move {
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(|error| error.to_string())?;
            service
                .call(request)
                .await
                .map_err(|error| error.to_string())
        })
    }
}

/// HttpOptions of an HTTP handler.
#[derive(Debug, Clone, Copy)]
pub(super) struct HttpOptions {
    body_limit: usize,
    deadline_margin: Duration,
    request_metrics: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
            request_metrics: true,
        }
    }
}

/// An HTTP function: a tower service answering requests (an [`Endpoint`] or what [`service`]
/// made, inside the layers added with [`layer`](Self::layer)), as a helve [`Handler`] of the
/// event API Gateway, an ALB or a Function URL sends. Made by [`http()`] and [`service()`].
pub struct HttpHandler<Svc, S> {
    pub(super) service: Svc,
    pub(super) options: HttpOptions,
    /// What is wrong with the handler's configuration, reported when the function starts.
    pub(super) config_error: Option<crate::ConfigError>,
    pub(super) _state: PhantomData<fn(S)>,
}

impl<Svc: Clone, S> Clone for HttpHandler<Svc, S> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            options: self.options,
            config_error: self.config_error.clone(),
            _state: PhantomData,
        }
    }
}

impl<Svc, S> fmt::Debug for HttpHandler<Svc, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpHandler")
            .field("service", &std::any::type_name::<Svc>())
            .field("options", &self.options)
            .finish()
    }
}

/// Wraps an HTTP handler for [`Function::new`](crate::Function::new): `#[helve::handler]`
/// does this for a handler whose parameters are extractors.
///
/// ```no_run
/// use helve::http::{Request, Response, IntoResponse, http};
///
/// async fn hello(request: Request, _ctx: helve::Context) -> Response {
///     format!("hello from {}", request.uri().path()).into_response()
/// }
///
/// fn main() -> std::process::ExitCode {
///     helve::Function::new(http(hello)).run()
/// }
/// ```
pub fn http<H, S, M>(handler: H) -> HttpHandler<Guarded<Endpoint<H, S, M>, S>, S>
where
    H: HttpFn<S, M>,
{
    HttpHandler {
        service: Guarded::new(Endpoint {
            handler,
            _marker: PhantomData,
        }),
        options: HttpOptions::default(),
        config_error: None,
        _state: PhantomData,
    }
}

/// Runs a tower service that `make` builds from the init step's state (once, at the first
/// request), for functions with many routes: an axum `Router`, for example. Without an init
/// step the state is `()`.
///
/// ```ignore
/// use axum::{Router, routing::get};
///
/// fn routes(_: &'static ()) -> Router {
///     Router::new().route("/health", get(|| async { "ok" }))
/// }
///
/// fn main() -> std::process::ExitCode {
///     helve::Function::new(helve::http::service(routes)).run()
/// }
/// ```
pub fn service<F, Svc, S>(make: F) -> HttpHandler<Guarded<FromState<F, Svc, S>, S>, S>
where
    F: Fn(&'static S) -> Svc + Send + Sync + 'static,
    S: 'static,
{
    HttpHandler {
        service: Guarded::new(FromState {
            make: Arc::new((make, OnceLock::new())),
            _state: PhantomData,
        }),
        options: HttpOptions::default(),
        config_error: None,
        _state: PhantomData,
    }
}

impl<Svc, S> HttpHandler<Svc, S> {
    /// Runs the handler inside `layer`: a tower-http `CorsLayer`, a `SetRequestIdLayer`, a
    /// `ServiceBuilder` of several. The layer added last is the outermost.
    pub fn layer<L: Layer<Svc>>(self, layer: L) -> HttpHandler<L::Service, S> {
        HttpHandler {
            service: layer.layer(self.service),
            options: self.options,
            config_error: self.config_error,
            _state: PhantomData,
        }
    }

    /// The largest body passed to the handler; a larger one is answered 413 (default 6 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.options.body_limit = bytes;
        self
    }

    /// How long before the deadline helve stops waiting and answers 504 (default 100 ms).
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.options.deadline_margin = margin;
        self
    }

    /// Whether each request records `HttpRequestDuration` and `HttpResponses` (default yes).
    pub fn request_metrics(mut self, record: bool) -> Self {
        self.options.request_metrics = record;
        self
    }
}

impl<Svc, S, B> Handler<HttpEvent, S, Http> for HttpHandler<Svc, S>
where
    Svc: Service<Request, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    Svc::Future: Send + 'static,
    Svc::Error: fmt::Display,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: fmt::Display,
    S: Sync + 'static,
{
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = BoxFuture<Result<HttpResponse, Infallible>>;

    // `HttpResponse::new` drops the header values that are not UTF-8, the one thing that
    // could fail to serialize.
    const RESPONSE_SERIALIZES: bool = true;

    #[cfg(feature = "idempotency")]
    fn check_idempotency(&self) -> Result<(), crate::ConfigError> {
        self.config_error.clone().map_or(Ok(()), Err)
    }

    fn call(&self, event: HttpEvent, context: Context, state: &'static S) -> Self::Future {
        let started = Instant::now();
        let origin = lambda::Origin::of(&event.0);
        let options = self.options;
        // lambda_http panics on some requests a client can send (a `Host` with a space or a
        // bad port, a query with `"` or `<`, a bad `x-forwarded-proto`, a body marked base64
        // that is not): such a request is the client's mistake, a 400, not a crash that API
        // Gateway would answer 502.
        let mut request: Request = match crate::layers::catch(|| Request::from(event.0)) {
            Ok(request) => request,
            Err(panic) => {
                let _ = crate::logging::take_panic_location();
                tracing::warn!(
                    error_type = crate::error::codes::MALFORMED_REQUEST,
                    reason = panic.message(),
                    "the request could not be read; answering 400"
                );
                // Logged above, once: rendered without the request it could not read, and
                // marked as a problem answered, so that it is not logged again as a bare 400.
                let mut response = Problem::new(StatusCode::BAD_REQUEST)
                    .with_detail("the request could not be read: its host, path, query string, headers or body is malformed")
                    .with_code("malformed_request")
                    .render(None, Some((context.request_id(), context.correlation_id())));
                response
                    .extensions_mut()
                    .insert(super::response::ProblemAnswer {
                        status: StatusCode::BAD_REQUEST,
                        unlogged: None,
                    });
                return Box::pin(context.clone().scope(async move {
                    Ok(finish(
                        response,
                        &context,
                        origin,
                        started,
                        options.request_metrics,
                    ))
                }));
            }
        };
        // Problems made while the request runs name it.
        context.state().set_request_uri(request.uri().clone());
        let stop_at = context.stop_at(options.deadline_margin);
        // The body limit, panics and the deadline are answered under the layers (see
        // `Guarded`); here only what the layers themselves do is guarded, half the margin
        // later.
        let half_margin = options.deadline_margin / 2;
        request.extensions_mut().insert(Invoked {
            context: context.clone(),
            state,
            limits: Limits {
                body_limit: options.body_limit,
                stop_at,
                margin: options.deadline_margin,
            },
        });
        let service = self.service.clone();
        // In the invocation's scope, also when called without the context layer (in a test).
        Box::pin(context.clone().scope(async move {
            let work = CatchUnwind::new(respond(service, request));
            let outcome = tokio::time::timeout_at(stop_at + half_margin, work)
                .await
                .map_err(|_| half_margin);
            let response = answer(outcome);
            Ok(finish(
                response,
                &context,
                origin,
                started,
                options.request_metrics,
            ))
        }))
    }
}
