//! The procedural macros of [helve](https://docs.rs/helve). Use them through the `helve`
//! crate: `#[helve::handler]`.

use proc_macro::TokenStream;

mod handler;

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
/// - optionally the state built by the init function, `&State` (needs `init = ...`).
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
///   before the first invocation; its failure is reported to Lambda as an init error.
/// - `service = "name"`: the service name in logs and metrics (wins over
///   `POWERTOOLS_SERVICE_NAME`).
/// - `log_level = "debug"`: the log level or `RUST_LOG`-style directives (wins over
///   `POWERTOOLS_LOG_LEVEL`; Lambda's `AWS_LAMBDA_LOG_LEVEL` wins over it).
/// - `namespace = "Shop"`: the CloudWatch namespace of the function's metrics (wins over
///   `POWERTOOLS_METRICS_NAMESPACE`); with one, `metrics::counter!` and friends are written
///   as EMF documents.
/// - `correlation_id = "/detail/orderId"`: a JSON pointer to the event's correlation id, for
///   events helve's presets do not know.
/// - `log_buffer = 20480` (or `log_buffer` alone, for 20 KiB): holds each invocation's DEBUG lines in a buffer of that many bytes
///   and prints them only if the invocation fails or logs at ERROR.
/// - `custom_resource(deadline_margin_ms = 5000)`: for a `CustomResource<P>` handler, how long
///   before the deadline helve stops waiting for the handler and answers FAILED (default 2 s).
///
/// - `batch(concurrency = 8, deadline_margin_ms = 1000, continue_on_failure)`: for a handler of
///   one record, how many records (or FIFO message groups) run at once (default 1), how long
///   before the deadline helve stops and answers (default 500 ms), and, for streams, whether to
///   go on past a failed record. `batch` alone marks any other `helve::batch::Record` type as
///   one record of a batch.
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
/// # What it writes
///
/// A `main` (visible in the crate, so put the handler in `main.rs`) equivalent to
/// `helve::Function::new(..).init(..).service(..).run()`: on Lambda it serves invocations,
/// several at once when `AWS_LAMBDA_MAX_CONCURRENCY` says so; elsewhere it runs the handler
/// once on an event file (local mode).
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into()).into()
}
