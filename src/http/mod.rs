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
//! any tower service) with [`service`]; with the feature `axum`, helve's extractors
//! ([`Json`], [`Valid`], [`Path`], [`Query`], [`Claims`], and [`Context`] by
//! value) are axum extractors and its answers ([`Json`], [`Created`], [`Problem`], and
//! `Result<R, E>` where `E` derives [`ErrorStatus`](crate::ErrorStatus)) axum responses, with
//! the same problems, statuses, codes and log lines, so one route function serves both ways
//! (see the HTTP guide page, "Many routes"). Each response carries the invocation's correlation id
//! in `x-correlation-id`; each request records the `HttpRequestDuration` histogram
//! (milliseconds) and the `HttpResponses` count with a `status_class` dimension (`2xx` ...
//! `5xx`), unless `request_metrics = false`.

mod extract;
mod finish;
mod guard;
mod handler;
#[cfg(feature = "idempotency")]
mod idempotency;
mod lambda;
mod params;
mod response;
#[cfg(feature = "axum")]
mod router;
#[cfg(test)]
mod tests;

use std::{future::Future, pin::Pin, time::Duration};

pub use http::{HeaderMap, Method, StatusCode, header};
pub use lambda_http::Body;

pub use extract::{Claims, FromRequest, Json, Path, Query, Valid, Validates};
pub use guard::Guarded;
pub use handler::{Endpoint, EndpointFuture, FromState, Http, HttpFn, HttpHandler, http, service};
#[cfg(feature = "idempotency")]
#[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
pub use idempotency::{HandlerName, HttpKey, IdempotentHttp, REPLAY_HEADER};
pub use lambda::{HttpEvent, HttpResponse};
pub use response::{Created, IntoHeaders, IntoResponse, PROBLEM_JSON, Problem};
#[cfg(feature = "axum")]
#[doc(hidden)]
pub use router::error_response as __axum_error_response;

use crate::context::Context;

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

/// A boxed future, for services whose futures have no name.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What [`Guarded`] needs to know of the invocation, on the request's [`Invoked`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    body_limit: usize,
    /// When to stop waiting and answer 504: the deadline less the margin.
    stop_at: tokio::time::Instant,
    margin: Duration,
}
