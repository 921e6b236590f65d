//! The procedural macros of [helve](https://docs.rs/helve). Use them through the `helve`
//! crate: `#[helve::handler]` and `#[derive(helve::ErrorStatus)]`.

use proc_macro::TokenStream;

mod diagnostics;
mod error_status;
mod handler;
mod log;

/// Turns an `async fn` into a Lambda function: the attribute keeps the function as it is, so
/// tests call it by name, and writes `main` beside it.
///
/// ```no_run
/// use helve::prelude::*;
///
/// struct App { greeting: String }
///
/// async fn setup() -> Result<App, helve::Error> {
///     Ok(App { greeting: std::env::var("GREETING").unwrap_or_else(|_| "Hello".into()) })
/// }
///
/// #[derive(Deserialize)]
/// struct Greeting { name: String }
///
/// #[helve::handler(init = setup, service = "greeter")]
/// async fn greet(event: Greeting, ctx: &Context, app: &App) -> Result<String, helve::Error> {
///     Ok(format!("{}, {}! ({})", app.greeting, event.name, ctx.request_id()))
/// }
/// ```
///
/// # Parameters
///
/// In any order:
/// - exactly one event, taken by value: any `serde::de::DeserializeOwned` type, or
///   `helve::cfn::CustomResource<P>` for a CloudFormation custom resource (feature `cfn`), or
///   one record of a batch, `helve::batch::SqsMessage<T>`, `KinesisRecord<T>` or
///   `DynamoDbRecord<T>` (feature `batch`);
/// - optionally the context, `&Context` or `Context`;
/// - optionally the state built by the init function, `&State` (needs `init = ...`), or
///   `State<&State>` (any wrapper named `State` around a reference: axum's
///   `State(app): State<&'static App>`, as the routes of an axum router take it, so that one
///   route function serves as a handler and as a route).
///
/// With helve's feature `validate`, a plain event type that derives `validator::Validate` is
/// validated before the handler is called: one that does not validate fails the invocation
/// with `helve.ValidationFailed`, listing the fields, and the handler is not called.
///
/// The attribute knows each parameter by how its type is written, since it runs before
/// imports are resolved: `Context` is the context; `Json<T>`, `Valid<T>`, `Path<T>`,
/// `Query<T>`, `Claims<T>`, `HeaderMap` and `http::Request` make an HTTP handler;
/// `SqsMessage`, `KinesisRecord`, `DynamoDbRecord` and `KinesisEventRecord` a batch handler;
/// `CustomResource<P>` a custom resource handler. `Request` alone is not recognised (it may be
/// a type of your own): taken for a plain event, it fails to build with a note to write
/// `helve::http::Request` or `#[helve::handler(http)]`.
///
/// helve's own types (`Context`, the extractors `Json` to `Claims`, `CustomResource`) are
/// recognised when written alone (`Context`, as `use helve::prelude::*` imports it) or by a
/// path from `helve` (`helve::Context`, `::helve::http::Json<T>`). Written by any other path
/// (`model::Context`, `crate::model::Json<T>`, `self::Context`) or behind an alias
/// (`type Payload = model::Json<Order>;`), a type of your own with one of these names is an
/// ordinary event. A type of your own imported under the bare name `Context` is still taken
/// for the context, and the build fails at that parameter saying so (a bare `Json<T>` of your
/// own fails as "cannot be taken from an HTTP request"): name it by its path, or import it
/// under another name (`use model::Context as TenantContext;`).
///
/// # Return type
///
/// `Result<R, E>` (any type whose last path segment is `Result`, so `io::Result` and your own
/// `Result` aliases work), where `R: Serialize` and `E` is a `helve::FunctionError` or
/// `helve::Error`; or a plain `R`, for handlers that cannot fail. A custom resource handler
/// answers `helve::cfn::Outcome` or `()` instead of `R`; a batch handler answers `()` for each
/// record.
///
/// # Options
///
/// - `init = path`: an `async fn() -> Result<State, E>` run once per execution environment,
///   before the first invocation; its failure is reported to Lambda as an init error. A path
///   to anything else, or to one whose `State` is not the type the handler's `&State`
///   parameter borrows, is one compile error at `init = path` that says so.
/// - `shutdown = path`: an `async fn()` run when Lambda stops the execution environment (on
///   SIGTERM), within Lambda's shutdown budget: close pools, flush a sink. See
///   `helve::Function::on_shutdown`.
/// - `service = "name"`: the service name in logs and metrics (wins over
///   `POWERTOOLS_SERVICE_NAME`).
/// - `log_level = "debug"`: the log level (`trace`, `debug`, `info`, `warn`, `error`, `off`)
///   or `RUST_LOG`-style directives such as `info,hyper=warn` (wins over
///   `POWERTOOLS_LOG_LEVEL`; Lambda's `AWS_LAMBDA_LOG_LEVEL` wins over it); another level
///   name is a compile error listing these.
/// - `namespace = "Shop"`: the CloudWatch namespace of the function's metrics (wins over
///   `POWERTOOLS_METRICS_NAMESPACE`); with one, `metrics::counter!` and friends are written
///   as EMF documents.
/// - `correlation_id = "/detail/orderId"`: a JSON pointer to the event's correlation id, for
///   events helve's presets do not know.
/// - `log_buffer = 20480` (or `log_buffer` alone, for 20 KiB): holds each invocation's DEBUG lines in a buffer of that many bytes
///   and prints them only if the invocation fails or logs at ERROR.
/// - `runtime = "multi_thread"`: runs on tokio's multi-thread runtime (`Function::multi_thread`)
///   instead of the current-thread runtime helve picks for one invocation at a time
///   (`"current_thread"`, the default; helve goes multi-thread by itself when
///   `AWS_LAMBDA_MAX_CONCURRENCY` is above 1).
/// - `idempotency(key = "/order_id", expires = 3600, payload_validation = "/amount",
///   key_required, key_prefix = "orders.create", wait_in_progress = 5, local_cache = 256,
///   store = make_store)`
///   (feature `idempotency`): runs the handler once per value at the JSON pointer `key` of the
///   event and replays the stored response afterwards (`Function::idempotency`); every option
///   but `key` is optional. The records are kept in memory unless `store` names a function
///   `fn() -> impl helve::idempotency::Store`, called once at start (a `DynamoDbStore`, with
///   the feature `dynamodb`). For an HTTP handler, `key` is `"header:Idempotency-Key"` or a
///   JSON pointer into the JSON body, and a replay carries `x-idempotent-replay: true`
///   (`HttpHandler::idempotency`). See `helve::idempotency`.
/// - `custom_resource(deadline_margin_ms = 5000)`: for a `CustomResource<P>` handler, how long
///   before the deadline helve stops waiting for the handler and answers FAILED (default 2 s).
///
/// - `http(body_limit = 1048576, deadline_margin_ms = 200, request_metrics = false,
///   layer = CorsLayer::permissive())` (feature `http`): for an HTTP handler, the largest body
///   passed to it (larger is answered 413; default 6 MiB), how long before the deadline helve
///   stops waiting and answers 504 (default 100 ms), whether each request records
///   `HttpRequestDuration` and `HttpResponses` (default yes), and tower layers to run it in
///   (`layer = ...`, repeatable; the last is the outermost). `http` alone marks a handler whose
///   extractors are all your own as an HTTP handler. See `helve::http::HttpHandler`.
/// - `tracer(capture_response = false, capture_error = false, disabled, export = "otlp")`
///   (feature `tracer`): whether the `## {handler}` subsegment records the response and the
///   error (default yes, or `POWERTOOLS_TRACER_CAPTURE_RESPONSE` / `_ERROR`), no tracing at
///   all, and `"xray"` (segment documents to the X-Ray daemon, the default) or `"otlp"`
///   (OpenTelemetry spans). See `helve::tracer`.
/// - `batch(concurrency = 8, deadline_margin_ms = 1000, continue_on_failure, idempotency)`: for
///   a handler of one record, how many records (or FIFO message groups) run at once (default 1),
///   how long before the deadline helve stops and answers (default 500 ms), for streams, whether
///   to go on past a failed record, and (feature `idempotency`) whether each record runs once
///   per `messageId` (stream `eventID`), or with `idempotency(key = "/jobId")` per value at that
///   pointer into its payload (`BatchHandler::idempotency_at`), in memory or, with
///   `idempotency(store = make_store)`, in the store `make_store()` returns. `batch`
///   alone marks any other `helve::batch::Record` type as one record of a batch.
///
/// # HTTP
///
/// With helve's extractors as the parameters (`Json<T>`, `Valid<T>`, `Path<T>`, `Query<T>`,
/// `Claims<T>`, `HeaderMap`, `helve::http::Request`, in any order, with `Context` and the
/// state), the attribute wraps the handler with `helve::http::http`: behind API Gateway (REST
/// and HTTP APIs), an ALB or a Function URL, each extractor is taken in order and the first
/// that fails answers (400, 413, 415, 422 with problem+json); the answer (`Json<T>`,
/// `Created<R>`, `(StatusCode, R)`, `Problem`, or `Result<R, E>` with
/// `E: helve::ErrorStatus`) becomes the response.
///
/// # Batches
///
/// With a record as the event, the attribute wraps the handler with `helve::batch::batch`:
/// helve calls it once per record and answers Lambda with the records that failed
/// (`batchItemFailures`); it validates each record's payload first when it implements
/// `validator::Validate`.
///
/// # Custom resources
///
/// With a `CustomResource<P>` event, the attribute wraps the handler with
/// `helve::cfn::custom_resource`, which answers CloudFormation at the request's `ResponseURL`
/// whatever happens; validates `P` first when it implements `validator::Validate`; and takes
/// CloudFormation's `RequestId` as the correlation id (unless `correlation_id` names another).
///
/// # Features
///
/// An option or a parameter type that needs a helve feature the crate's helve dependency
/// lacks (an extractor or `http(...)`: `http`; a record or `batch(...)`: `batch`;
/// `CustomResource<P>` or `custom_resource(...)`: `cfn`; `idempotency(...)` or
/// `batch(idempotency)`: `idempotency`; `tracer(...)`: `tracer`) is one compile error at that
/// token, naming the feature and the Cargo.toml line that turns it on; the function itself is
/// then left out of the build. A `use helve::http::Json;` elsewhere in the file still fails on
/// its own, since `helve::http` does not exist without the feature.
///
/// # What it writes
///
/// A `main` (visible in the crate, so put the handler in `main.rs`) equivalent to
/// `helve::Function::new(..).init(..).service(..).run()`: on Lambda it serves invocations,
/// several at once when `AWS_LAMBDA_MAX_CONCURRENCY` says so; elsewhere it runs the handler
/// once on an event file (local mode).
///
/// In test builds (`#[cfg(test)]`), also `helve_function!()`, a macro that gives the same
/// `helve::Function`, every option applied, for the test kit:
/// `helve::testing::invoke(helve_function!(), event)` in a test module below the handler
/// that sees its types (`use super::*;`).
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into()).into()
}

/// Gives an error type its HTTP statuses: implements `helve::ErrorStatus` (the status, code
/// and exposure of each variant) and `helve::FunctionError` (its stable `errorType`), so the
/// same error answers HTTP requests and any other event.
///
/// ```
/// use helve::{ErrorStatus, FunctionError};
///
/// #[derive(Debug, thiserror::Error, helve::ErrorStatus)]
/// enum OrderError {
///     #[error("order {0} not found")]
///     #[status(404, code = "order_not_found")]
///     NotFound(String),
///     #[error("the order is locked")]
///     #[status(409, expose = false)]
///     Locked,
///     #[error("the store is unavailable")]
///     #[status(503)]
///     Store(#[source] std::io::Error),
///     #[error(transparent)]
///     #[status(transparent)]
///     Payment(PaymentError),
/// }
///
/// #[derive(Debug, thiserror::Error, helve::ErrorStatus)]
/// #[error("the card was declined")]
/// #[status(402, code = "card_declined")]
/// struct PaymentError;
///
/// let missing = OrderError::NotFound("o-1".into());
/// assert_eq!(missing.status().as_u16(), 404);
/// assert_eq!(missing.code(), Some("order_not_found"));
/// assert!(missing.expose());
/// assert_eq!(missing.error_type(), "order_not_found");
///
/// let store = OrderError::Store(std::io::Error::other("connection reset"));
/// assert!(!store.expose());
/// assert_eq!(store.log_message(), "the store is unavailable: connection reset");
/// assert_eq!(store.error_type(), "OrderError.Store");
///
/// let declined = OrderError::Payment(PaymentError);
/// assert_eq!(declined.status().as_u16(), 402);
/// assert_eq!(declined.error_type(), "card_declined");
/// ```
///
/// # Attributes
///
/// Each variant of an enum, or a struct itself, takes one `#[status(..)]`:
/// - `#[status(404)]`: the status, any client (4xx) or server (5xx) error;
/// - `, code = "order_not_found"`: a stable code clients match on, sent as the problem's `code`;
/// - `, expose = false` (or `expose`, `expose = true`): whether the message is sent as the
///   problem's `detail`; by default, yes for a 4xx status. A 5xx status never shows its message,
///   so `expose` is refused on one;
/// - `#[status(transparent)]`, on a variant (or struct) with exactly one field: that field's own
///   `ErrorStatus` gives the status, code, exposure and logged message.
///
/// # What it writes
///
/// - `helve::ErrorStatus`: `status`, `code` and `expose` as the attributes say, and
///   `log_message` as the message followed by the whole `source()` chain;
/// - `helve::FunctionError`: the `errorType` Lambda records is the `code` when there is one,
///   otherwise `Type.Variant` (or `Type` for a struct); a transparent variant takes its field's
///   code, if any.
///
/// Both need the type to be a `std::error::Error`, as `thiserror::Error` makes it. Generic types
/// work: the impls require the type to be a `std::error::Error`, and a transparent field whose
/// type names a type parameter to be an `ErrorStatus`.
#[proc_macro_derive(ErrorStatus, attributes(status))]
pub fn error_status(item: TokenStream) -> TokenStream {
    error_status::expand(item.into()).into()
}

/// `tracing::trace!`, with an `error` field recorded as an error: see [`error!`].
#[proc_macro]
pub fn trace(input: TokenStream) -> TokenStream {
    log::expand("trace", input.into()).into()
}

/// `tracing::debug!`, with an `error` field recorded as an error: see [`error!`].
#[proc_macro]
pub fn debug(input: TokenStream) -> TokenStream {
    log::expand("debug", input.into()).into()
}

/// `tracing::info!`, with an `error` field recorded as an error: see [`error!`].
#[proc_macro]
pub fn info(input: TokenStream) -> TokenStream {
    log::expand("info", input.into()).into()
}

/// `tracing::warn!`, with an `error` field recorded as an error: see [`error!`].
#[proc_macro]
pub fn warn(input: TokenStream) -> TokenStream {
    log::expand("warn", input.into()).into()
}

/// `tracing::error!`, taking the same arguments, except that a field named `error` given with
/// `%` or `?` is recorded as the error it is: the log line carries
/// `"error":{"type":..,"message":..,"sources":[..]}`.
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// #[error("order o-7 could not be saved")]
/// struct SaveFailed(#[source] std::io::Error);
///
/// let result: Result<(), SaveFailed> = Err(SaveFailed(std::io::Error::other("disk full")));
/// if let Err(e) = &result {
///     // "error":{"type":"SaveFailed","message":"order o-7 could not be saved","sources":["disk full"]}
///     helve::logging::error!(error = %e, order_id = "o-7", "saving failed");
/// }
/// ```
///
/// `error = %e`, `error = ?e`, `%error` and `?error` are recorded as an error when the value is
/// a `std::error::Error` (or a reference to one), or holds one (`Box<dyn Error + Send + Sync>`,
/// `Box<dyn Error>`, `anyhow::Error`); any other value is written as text, as `tracing` writes
/// it. Other fields, the message and its format arguments are passed to `tracing` untouched, so
/// a line written with these macros has the same target, level, location and filters as one
/// written with `tracing`'s.
///
/// The error must be `'static` (`tracing` records errors as `dyn Error + 'static`): in generic
/// code, bound it with `E: std::error::Error + 'static`. The guide's logging page says more.
#[proc_macro]
pub fn error(input: TokenStream) -> TokenStream {
    log::expand("error", input.into()).into()
}
