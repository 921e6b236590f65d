//! HTTP functions behind API Gateway (REST APIs, HTTP APIs), Application Load Balancers and
//! Function URLs (feature `http`).
//!
//! A handler whose parameters are extractors ([`Json`], [`Valid`], [`Path`], [`Query`],
//! [`Claims`], `http::HeaderMap`, [`Request`]) answers HTTP requests. It returns anything that
//! is [`IntoResponse`], or `Result<R, E>` where `E` maps to statuses with
//! [`ErrorStatus`](crate::ErrorStatus):
//!
//! ```no_run
//! use helve::http::{Json, Path, StatusCode, Valid};
//! use helve::prelude::*;
//!
//! #[derive(Deserialize, validator::Validate)]
//! struct NewOrder {
//!     #[validate(length(min = 1))]
//!     sku: String,
//!     #[validate(range(min = 1, max = 100))]
//!     quantity: u32,
//! }
//!
//! #[derive(Serialize)]
//! struct Order {
//!     id: String,
//!     sku: String,
//!     quantity: u32,
//! }
//!
//! #[derive(Debug, thiserror::Error, helve::ErrorStatus)]
//! enum OrderError {
//!     #[error("order {0} not found")]
//!     #[status(404, code = "order_not_found")]
//!     NotFound(String),
//! }
//!
//! #[helve::handler(service = "orders")]
//! async fn create(Valid(new): Valid<NewOrder>) -> Result<(StatusCode, Json<Order>), OrderError> {
//!     let order = Order { id: "o-1".into(), sku: new.sku, quantity: new.quantity };
//!     Ok((StatusCode::CREATED, Json(order)))
//! }
//! ```
//!
//! # Errors are responses
//!
//! Nothing an HTTP function does becomes a Lambda error, which API Gateway would turn into an
//! opaque 502: every failure is an `application/problem+json` answer ([`Problem`], RFC 9457)
//! carrying the invocation's `request_id` and `correlation_id`.
//!
//! | What happened | Status | `code` |
//! |---|---|---|
//! | the body is not JSON | 400 | `invalid_json` |
//! | the JSON has the wrong shape (the field is named, its value never shown) | 400 | `invalid_body` |
//! | no body where one is needed | 400 | `missing_body` |
//! | a path or query parameter does not decode | 400 | `invalid_path`, `invalid_query` |
//! | no authorizer claims, or not the expected ones | 401 | `unauthorized` |
//! | a body larger than the limit (6 MiB by default) | 413 | `payload_too_large` |
//! | a body whose `Content-Type` is not JSON | 415 | `unsupported_media_type` |
//! | [`Valid`] failed: every field error is listed (path, code, message; never the value) | 422 | `validation_failed` |
//! | the handler returned `Err(e)` | `e.status()` | `e.code()` |
//! | the handler panicked, or its response could not be sent | 500 | |
//! | the deadline came within 100 ms (`deadline_margin`) before the handler answered | 504 | `deadline_exceeded` |
//!
//! A client error's message is its `detail` (unless the error says not to expose it); a
//! server error's never is: it is logged at ERROR with its whole source chain, and the client
//! sees the status phrase, the request id and the correlation id to quote.
//!
//! # Composition
//!
//! Every response is an `http::Response<`[`Body`]`>`, and the handler runs as a tower service,
//! so tower-http layers compose: `#[helve::handler(http(layer = CorsLayer::permissive()))]`,
//! or [`HttpHandler::layer`] by hand. A function with many routes runs an axum `Router` (or
//! any tower service) with [`service`]. Each response carries the invocation's correlation id
//! in `x-correlation-id`; each request records the `HttpRequestDuration` histogram
//! (milliseconds) and the `HttpResponses` count with a `status_class` dimension (`2xx` ...
//! `5xx`), unless `request_metrics = false`.

mod extract;
mod lambda;
mod params;
mod response;
#[cfg(test)]
mod tests;

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

pub use http::{HeaderMap, Method, StatusCode, header};
pub use lambda_http::Body;
use tower::{Layer, Service};

pub use extract::{Claims, FromRequest, Json, Path, Query, Valid};
pub use lambda::{HttpEvent, HttpResponse};
pub use response::{Created, IntoHeaders, IntoResponse, PROBLEM_JSON, Problem};

use crate::{
    context::Context,
    handler::{Handler, Stateful, Stateless},
    layers::CatchUnwind,
};

/// An HTTP request as a handler sees it. Its extensions hold what the event said besides
/// (`lambda_http::RequestExt` reads them: the API Gateway request context, path and query
/// parameters, stage variables).
pub type Request = http::Request<Body>;

/// An HTTP response, as every handler's answer is normalised.
pub type Response = http::Response<Body>;

/// The largest body helve passes to a handler, when not told: 6 MiB, the most a synchronous
/// invocation can carry.
pub const DEFAULT_BODY_LIMIT: usize = 6 * 1024 * 1024;

/// How long before the deadline helve stops waiting for the handler and answers 504, when not
/// told.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(100);

/// The header that carries the invocation's correlation id back to the caller.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// [`CORRELATION_HEADER`], parsed once.
const CORRELATION_HEADER_NAME: http::HeaderName = http::HeaderName::from_static(CORRELATION_HEADER);

pub(crate) mod exchange {
    //! The request being answered, for the problems built while it runs: read from the
    //! invocation's scope, so a task spawned in it (`Context::scope`) sees it too.

    use crate::context::{Context, with_current};

    /// The invocation and the path of the request being answered.
    #[derive(Clone, Debug)]
    pub(crate) struct Exchange {
        context: Context,
        /// The request's URI: cloning it only counts a reference.
        uri: http::Uri,
    }

    impl Exchange {
        pub(crate) fn context(&self) -> &Context {
            &self.context
        }

        pub(crate) fn path(&self) -> &str {
            self.uri.path()
        }
    }

    /// Runs `f` with the request being answered, if any.
    pub(crate) fn with<R>(f: impl FnOnce(Option<&Exchange>) -> R) -> R {
        let exchange = with_current(|ctx| {
            ctx.state().request_uri().map(|uri| Exchange {
                context: ctx.clone(),
                uri,
            })
        })
        .flatten();
        f(exchange.as_ref())
    }
}

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

/// The invocation a request belongs to, in its extensions, for the handler at the end of the
/// tower stack.
struct Invoked<S: 'static> {
    context: Context,
    state: &'static S,
    /// What [`Guarded`] answers by itself.
    limits: Limits,
}

impl<S> Clone for Invoked<S> {
    fn clone(&self) -> Self {
        Self {
            context: self.context.clone(),
            state: self.state,
            limits: self.limits,
        }
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

/// A boxed future, for services whose futures have no name.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

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

/// The handler's service as helve runs it, under the layers added with
/// [`HttpHandler::layer`]: a body over the limit, a panic, an error of the service and the
/// deadline coming near are answered here, as problems, so that those layers (a CORS layer
/// adding its headers, for one) see them as they see every other answer.
pub struct Guarded<Svc, S> {
    inner: Svc,
    _state: PhantomData<fn(S)>,
}

impl<Svc, S> Guarded<Svc, S> {
    fn new(inner: Svc) -> Self {
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

/// What [`Guarded`] needs to know of the invocation, on the request's [`Invoked`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    body_limit: usize,
    /// When to stop waiting and answer 504: the deadline less the margin.
    stop_at: tokio::time::Instant,
    margin: Duration,
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
            let size = match request.body() {
                Body::Text(text) => text.len(),
                Body::Binary(bytes) => bytes.len(),
                _ => 0,
            };
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
async fn respond<Svc, B>(mut service: Svc, request: Request) -> Result<Response, String>
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
fn answer(
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

/// Options of an HTTP handler.
#[derive(Debug, Clone, Copy)]
struct Options {
    body_limit: usize,
    deadline_margin: Duration,
    request_metrics: bool,
}

impl Default for Options {
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
    service: Svc,
    options: Options,
    _state: PhantomData<fn(S)>,
}

impl<Svc: Clone, S> Clone for HttpHandler<Svc, S> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            options: self.options,
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
        options: Options::default(),
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
        options: Options::default(),
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

    fn call(&self, event: HttpEvent, context: Context, state: &'static S) -> Self::Future {
        let started = Instant::now();
        let origin = lambda::Origin::of(&event.0);
        let mut request: Request = event.0.into();
        let options = self.options;
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
            Ok(finish(response, &context, origin, started, options))
        }))
    }
}

/// The correlation header, the request's metrics, and the shape of the event's source.
fn finish(
    mut response: Response,
    context: &Context,
    origin: lambda::Origin,
    started: Instant,
    options: Options,
) -> HttpResponse {
    if let Some(problem) = response
        .extensions_mut()
        .get_mut::<response::ProblemAnswer>()
        .and_then(|answer| answer.unlogged.take())
    {
        let detail = problem.detail;
        response::log(problem.status, None, problem.code.as_deref(), || {
            detail.unwrap_or_else(|| problem.status.to_string())
        });
    } else if !response::is_problem(&response)
        && (response.status().is_client_error() || response.status().is_server_error())
    {
        // An error status made without a problem (a bare `StatusCode`, an `http::Response`,
        // a router's 404 or 405): logged here, once, as problems are where they are made.
        let status = response.status();
        response::log(status, None, None, || {
            exchange::with(|exchange| match exchange {
                Some(exchange) => {
                    format!("answered without a problem body, for {}", exchange.path())
                }
                None => "answered without a problem body".to_owned(),
            })
        });
    }
    if !response.headers().contains_key(&CORRELATION_HEADER_NAME)
        && let Ok(value) = http::HeaderValue::from_str(context.correlation_id())
    {
        response
            .headers_mut()
            .insert(CORRELATION_HEADER_NAME, value);
    }
    if options.request_metrics {
        record_metrics(response.status(), started.elapsed());
    }
    HttpResponse::new(origin, response)
}

fn record_metrics(status: StatusCode, elapsed: Duration) {
    // Described with each request, not once per process: the recorder may change (tests run
    // one per test), and describing is a map update where no recorder is a no-op.
    metrics::describe_histogram!(
        crate::metrics::HTTP_REQUEST_DURATION,
        metrics::Unit::Milliseconds,
        "how long helve took to answer an HTTP request"
    );
    let class = match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::histogram!(crate::metrics::HTTP_REQUEST_DURATION)
        .record(elapsed.as_secs_f64() * 1000.0);
    metrics::counter!(crate::metrics::HTTP_RESPONSES, "status_class" => class).increment(1);
}
