//! The function builder: an init step run once, a handler, helve's layers, and the loop that
//! runs them on the Lambda Runtime API, or once on an event file in local mode.
//!
//! Everything `#[helve::handler]` generates is a call to this builder:
//!
//! ```no_run
//! use helve::{Context, Function};
//! use serde::{Deserialize, Serialize};
//!
//! struct App {
//!     greeting: String,
//! }
//!
//! async fn setup() -> Result<App, helve::Error> {
//!     let greeting = std::env::var("GREETING").unwrap_or_else(|_| "Hello".to_owned());
//!     Ok(App { greeting })
//! }
//!
//! #[derive(Deserialize)]
//! struct Request {
//!     name: String,
//! }
//!
//! #[derive(Serialize)]
//! struct Response {
//!     message: String,
//! }
//!
//! async fn greet(req: Request, _ctx: Context, app: &'static App) -> Result<Response, helve::Error> {
//!     Ok(Response { message: format!("{}, {}!", app.greeting, req.name) })
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     Function::new(greet).init(setup).service("greeter").run()
//! }
//! ```

use std::{borrow::Cow, fmt, future::Future, process::ExitCode, sync::Arc, time::Instant};

use lambda_runtime::Diagnostic;
use serde::de::DeserializeOwned;

use crate::{
    Settings,
    config::Options,
    context::Mode,
    error::{self, IntoDiagnostic, codes},
    handler::{Handler, HandlerService, short_type_name},
    layers::{self, Correlation, LoggingLayer, MetricsLayer, RawEventLayer},
    local, logging,
    metrics::{EmfRecorder, MetricsOutput},
    runtime_api,
};

/// A Lambda function: an optional init step, a handler, and settings.
///
/// Build it with [`Function::new`], then [`run`](Function::run) it from `main`.
#[must_use = "a function does nothing until it is run"]
pub struct Function<H, I = NoInit> {
    handler: H,
    init: I,
    init_name: Cow<'static, str>,
    /// The handler's name, in traces (`## {name}`).
    handler_name: Cow<'static, str>,
    options: Options,
    correlate: Option<CorrelateFn>,
    metrics_sink: MetricsOutput,
    multi_thread: bool,
    shutdown: Option<crate::shutdown::Hook>,
}

type CorrelateFn = crate::layers::FindCorrelationId;

/// What a [`Function`] is made of, for the test kit, which runs it in-process
/// (`helve::testing`): everything but where its output goes and how it is scheduled.
#[cfg(feature = "testing")]
pub(crate) struct Parts<H, I> {
    pub(crate) handler: H,
    pub(crate) init: I,
    pub(crate) init_name: Cow<'static, str>,
    pub(crate) options: Options,
    pub(crate) correlate: Option<CorrelateFn>,
}

impl<H, I> fmt::Debug for Function<H, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("handler", &std::any::type_name::<H>())
            .field("init", &self.init_name)
            .field("options", &self.options)
            .field("correlate", &self.correlate.as_ref().map(|_| ".."))
            .field("metrics_sink", &self.metrics_sink)
            .field("shutdown", &self.shutdown.as_ref().map(|_| ".."))
            .finish()
    }
}

/// The init step of a function without one: its state is `()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInit;

/// The init step: an async function run once per execution environment, before the first
/// invocation, whose result the handler receives as `&'static State`.
///
/// Implemented for every `FnOnce() -> impl Future<Output = Result<S, E>>` where `E` is a
/// [`FunctionError`](crate::FunctionError).
#[diagnostic::on_unimplemented(
    message = "`init = ...` must name an `async fn() -> Result<State, E>`; `{Self}` is not one",
    label = "not an `async fn() -> Result<State, E>`",
    note = "`State` is what the handler's `&State` parameter borrows (`Send + Sync + 'static`), and `E` implements `helve::FunctionError` (for example `helve::Error`)"
)]
pub trait Init: Send + 'static {
    /// What the init step builds, shared by every invocation.
    type State: Send + Sync + 'static;
    /// How the init step fails.
    type Error: IntoDiagnostic + Send + 'static;

    /// Runs the init step.
    fn init(self) -> impl Future<Output = Result<Self::State, Self::Error>> + Send;
}

/// An [`Init`] whose state is `S`: what `#[helve::handler]` requires of `init = ...` when the
/// handler takes `&S`, so that an init function that returns another state, or is not one, is
/// reported once, at the init path, with both types.
#[diagnostic::on_unimplemented(
    message = "`init = ...` must name an `async fn() -> Result<{S}, E>`, since the handler's state parameter is `&{S}`",
    label = "not an `async fn() -> Result<{S}, E>`",
    note = "the state parameter is `&T`, where `T` is what the init function returns; this one is `{Self}`"
)]
pub trait InitFor<S>: Init<State = S> {}

#[diagnostic::do_not_recommend]
impl<I: Init<State = S>, S> InitFor<S> for I {}

#[diagnostic::do_not_recommend]
impl Init for NoInit {
    type State = ();
    type Error = std::convert::Infallible;

    async fn init(self) -> Result<(), std::convert::Infallible> {
        Ok(())
    }
}

// A function that is not one is reported as not an `Init`, with what it must be, rather than
// by the first bound it misses ("`u32` is not a future").
#[diagnostic::do_not_recommend]
impl<F, Fut, S, E> Init for F
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<S, E>> + Send,
    S: Send + Sync + 'static,
    E: IntoDiagnostic + Send + 'static,
{
    type State = S;
    type Error = E;

    fn init(self) -> impl Future<Output = Result<S, E>> + Send {
        self()
    }
}

/// The tower stack helve runs for a handler `H`, outermost first: context, logging, metrics,
/// panic safety, then the handler.
pub type FunctionService<H, T, S, M> = layers::Stack<HandlerService<H, T, S, M>>;

impl<H> Function<H, NoInit> {
    /// A function running `handler`: `async fn(event: T, ctx: Context) -> Result<R, E>`, or,
    /// once an [`init`](Function::init) step is added, `async fn(event: T, ctx: Context,
    /// state: &'static S) -> Result<R, E>`.
    pub fn new(handler: H) -> Self {
        Self {
            handler,
            init: NoInit,
            init_name: Cow::Borrowed("none"),
            handler_name: Cow::Borrowed(match short_type_name::<H>() {
                "closure" => "handler",
                name => name,
            }),
            options: Options::default(),
            correlate: None,
            metrics_sink: MetricsOutput::default(),
            multi_thread: false,
            shutdown: None,
        }
    }
}

impl<H, I> Function<H, I> {
    /// Runs `init` once per execution environment, before the first invocation. Its error is
    /// reported to Lambda as an init error (`helve.InitError`) and the process exits.
    pub fn init<I2: Init>(self, init: I2) -> Function<H, I2> {
        Function {
            handler: self.handler,
            init,
            init_name: Cow::Borrowed(short_type_name::<I2>()),
            handler_name: self.handler_name,
            options: self.options,
            correlate: self.correlate,
            metrics_sink: self.metrics_sink,
            multi_thread: self.multi_thread,
            shutdown: self.shutdown,
        }
    }

    /// Runs `hook` when Lambda stops the execution environment: close connection pools, flush
    /// a buffered sink. Lambda sends SIGTERM before it stops an environment only when an
    /// extension is registered, so with a hook helve registers `lambda_runtime`'s internal
    /// no-op extension (no events, no cost while the function runs). The hook runs for at most
    /// 400 ms of Lambda's shutdown budget (about 500 ms): then it is stopped; a panic in it is
    /// caught. After it, the metrics recorded outside invocations (in the hook, say) are
    /// written, one INFO line says how the hook ended, and the process exits. Local mode runs
    /// the hook after the invocation.
    ///
    /// ```no_run
    /// async fn handle(event: serde_json::Value, _ctx: helve::Context) -> Result<serde_json::Value, helve::Error> {
    ///     Ok(event)
    /// }
    ///
    /// async fn close_pools() {
    ///     metrics::counter!("EnvironmentsStopped").increment(1);
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     helve::Function::new(handle).on_shutdown(close_pools).run()
    /// }
    /// ```
    pub fn on_shutdown<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shutdown = Some(Box::new(move || Box::pin(hook())));
        self
    }

    /// The handler's name, as traces show it (`## {name}`, as Powertools names the handler's
    /// subsegment); by default the name of the handler function. `#[helve::handler]` gives
    /// the name of the function it is on.
    pub fn handler_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.handler_name = name.into();
        self
    }

    /// How the function is traced in AWS X-Ray (see [`helve::tracer`](crate::tracer)): with
    /// the feature `tracer`, every sampled invocation is traced unless these options or
    /// `POWERTOOLS_TRACE_DISABLED` turn it off.
    #[cfg(feature = "tracer")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracer")))]
    pub fn tracer(mut self, options: crate::tracer::TracerOptions) -> Self {
        self.options.tracer = options;
        self
    }

    /// The service name in logs and metrics; wins over `POWERTOOLS_SERVICE_NAME`.
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.options.service = Some(name.into());
        self
    }

    /// The CloudWatch namespace of the function's metrics; wins over
    /// `POWERTOOLS_METRICS_NAMESPACE`. With a namespace, helve records the `metrics` facade's
    /// `counter!`, `gauge!` and `histogram!` calls and writes them as EMF documents.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.options.namespace = Some(namespace.into());
        self
    }

    /// A dimension added to every metric, after `service`. Needs a namespace: without one
    /// the function stops at start with `helve.ConfigError`.
    pub fn metric_dimension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options
            .metric_dimensions
            .push((key.into(), value.into()));
        self
    }

    /// Publishes the metrics with CloudWatch PutMetricData through `sink` when each invocation
    /// ends, instead of writing EMF documents to stdout (see
    /// [`helve::metrics::cloudwatch`](crate::metrics::cloudwatch)). Needs a namespace: without
    /// one the function stops at start with `helve.ConfigError`.
    /// `POWERTOOLS_METRICS_DISABLED=true` still turns metrics off.
    ///
    /// To build the client in the init step, with the rest of the function's clients, use
    /// [`metrics_sink_with`](Function::metrics_sink_with).
    #[cfg(feature = "cloudwatch")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cloudwatch")))]
    pub fn metrics_sink(mut self, sink: crate::metrics::cloudwatch::CloudWatchSink) -> Self {
        self.options.metrics_sink = true;
        self.metrics_sink.source = Some(crate::metrics::cloudwatch::SinkSource::Ready(sink));
        self
    }

    /// Publishes the metrics with CloudWatch PutMetricData through the sink `make` builds from
    /// the init step's state, once the init step has run, as
    /// [`metrics_sink`](Function::metrics_sink) does. Call it after [`init`](Function::init).
    ///
    /// ```no_run
    /// # #[cfg(feature = "cloudwatch")] {
    /// use helve::metrics::cloudwatch::CloudWatchSink;
    ///
    /// struct App {
    ///     cloudwatch: aws_sdk_cloudwatch::Client,
    /// }
    ///
    /// async fn setup() -> Result<App, helve::Error> {
    ///     let config = aws_sdk_cloudwatch::Config::builder()
    ///         .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
    ///         .http_client(helve::metrics::cloudwatch::https_client())
    ///         .build();
    ///     Ok(App { cloudwatch: aws_sdk_cloudwatch::Client::from_conf(config) })
    /// }
    ///
    /// async fn handle(
    ///     event: serde_json::Value,
    ///     _ctx: helve::Context,
    ///     _app: &'static App,
    /// ) -> Result<serde_json::Value, helve::Error> {
    ///     Ok(event)
    /// }
    ///
    /// helve::Function::new(handle)
    ///     .init(setup)
    ///     .namespace("Shop")
    ///     .metrics_sink_with(|app: &App| CloudWatchSink::new(app.cloudwatch.clone()))
    ///     .run();
    /// # }
    /// ```
    #[cfg(feature = "cloudwatch")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cloudwatch")))]
    pub fn metrics_sink_with<F>(mut self, make: F) -> Self
    where
        I: Init,
        F: FnOnce(&I::State) -> crate::metrics::cloudwatch::CloudWatchSink + Send + 'static,
    {
        self.options.metrics_sink = true;
        self.metrics_sink.source = Some(crate::metrics::cloudwatch::SinkSource::FromState(
            Box::new(move |state: &dyn std::any::Any| state.downcast_ref::<I::State>().map(make)),
        ));
        self
    }

    /// Runs the function on tokio's multi-thread runtime (one worker per CPU) instead of the
    /// current-thread runtime [`run`](Function::run) builds by default: for CPU-heavy handlers
    /// on functions with more than one vCPU, or handlers that call
    /// `tokio::task::block_in_place`. Without it, helve still picks the multi-thread runtime
    /// when `AWS_LAMBDA_MAX_CONCURRENCY` asks for more than one invocation at a time.
    pub fn multi_thread(mut self) -> Self {
        self.multi_thread = true;
        self
    }

    /// Runs the handler once per idempotency key, and replays the stored response for the
    /// requests that repeat it (see [`helve::idempotency`](crate::idempotency)): the key is
    /// the value at the JSON pointer `key` (RFC 6901, as `/order_id`; `""` for the whole
    /// event) in the event as Lambda delivered it, before decoding, as Powertools reads it.
    /// The key prefix defaults to `{function name}.{handler name}`. An invalid pointer stops
    /// the function at start with `helve.ConfigError`.
    ///
    /// ```no_run
    /// use helve::idempotency::{Idempotency, MemoryStore};
    /// # #[derive(serde::Deserialize)] struct Order { order_id: String }
    /// # async fn create(order: Order, _ctx: helve::Context) -> Result<serde_json::Value, helve::Error> { Ok(serde_json::json!({"id": order.order_id})) }
    ///
    /// helve::Function::new(create)
    ///     .idempotency(Idempotency::new(MemoryStore::new()), "/order_id")
    ///     .run();
    /// ```
    #[cfg(feature = "idempotency")]
    #[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
    pub fn idempotency(
        self,
        idempotency: crate::idempotency::Idempotency,
        key: impl Into<String>,
    ) -> Function<crate::idempotency::Idempotent<H, crate::idempotency::AtPointer>, I> {
        self.map_handler(|handler| {
            crate::idempotency::Idempotent::new(
                handler,
                idempotency,
                crate::idempotency::AtPointer,
                Some(key.into()),
            )
        })
    }

    /// [`idempotency`](Function::idempotency), with the key computed from the decoded event:
    /// `key` returns it as JSON (`None` for no key).
    ///
    /// ```no_run
    /// use helve::idempotency::{Idempotency, MemoryStore};
    /// use serde_json::json;
    /// # #[derive(serde::Deserialize)] struct Order { customer: String, cart: u64 }
    /// # async fn create(order: Order, _ctx: helve::Context) -> Result<serde_json::Value, helve::Error> { Ok(json!(order.cart)) }
    ///
    /// helve::Function::new(create)
    ///     .idempotency_with(Idempotency::new(MemoryStore::new()), |order: &Order| {
    ///         Some(json!([order.customer, order.cart]))
    ///     })
    ///     .run();
    /// ```
    #[cfg(feature = "idempotency")]
    #[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
    pub fn idempotency_with<K>(
        self,
        idempotency: crate::idempotency::Idempotency,
        key: K,
    ) -> Function<crate::idempotency::Idempotent<H, K>, I> {
        self.map_handler(|handler| {
            crate::idempotency::Idempotent::new(handler, idempotency, key, None)
        })
    }

    /// The same function around another handler.
    /// Takes the function apart for the test kit.
    #[cfg(feature = "testing")]
    pub(crate) fn into_parts(self) -> Parts<H, I> {
        Parts {
            handler: self.handler,
            init: self.init,
            init_name: self.init_name,
            options: self.options,
            correlate: self.correlate,
        }
    }

    #[cfg(feature = "idempotency")]
    fn map_handler<H2>(self, wrap: impl FnOnce(H) -> H2) -> Function<H2, I> {
        Function {
            handler: wrap(self.handler),
            init: self.init,
            init_name: self.init_name,
            handler_name: self.handler_name,
            options: self.options,
            correlate: self.correlate,
            metrics_sink: self.metrics_sink,
            multi_thread: self.multi_thread,
            shutdown: self.shutdown,
        }
    }

    /// The log level, or `RUST_LOG`-style directives (`"debug"`, `"info,hyper=warn"`): wins
    /// over `POWERTOOLS_LOG_LEVEL`; `AWS_LAMBDA_LOG_LEVEL` wins over it.
    pub fn log_level(mut self, level: impl Into<String>) -> Self {
        self.options.log_level = Some(level.into());
        self
    }

    /// Holds each invocation's DEBUG and TRACE lines in a buffer of at most `max_bytes`
    /// (oldest lines dropped first), and prints them only when the invocation fails, logs at
    /// ERROR, or comes within [`BUFFER_FLUSH_MARGIN`](crate::layers::BUFFER_FLUSH_MARGIN) of
    /// its deadline. [`DEFAULT_BUFFER_BYTES`](crate::logging::DEFAULT_BUFFER_BYTES) is 20 KiB.
    pub fn buffer_debug_logs(mut self, max_bytes: usize) -> Self {
        self.options.log_buffer_bytes = Some(max_bytes);
        self
    }

    /// Takes each invocation's correlation id from the event at this JSON pointer (RFC 6901,
    /// as `/detail/orderId`; a string or a number); helve's presets apply when it is missing.
    /// An invalid pointer stops the function at start with `helve.ConfigError`.
    pub fn correlation_id(mut self, pointer: impl Into<String>) -> Self {
        self.options.correlation_id = Some(pointer.into());
        self
    }

    /// Takes each invocation's correlation id from the event with `find`, which sees the
    /// event as JSON; helve's presets apply when it returns `None`. Wins over
    /// [`correlation_id`](Function::correlation_id).
    pub fn correlation_id_with(
        mut self,
        find: impl Fn(&serde_json::Value) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.correlate = Some(Arc::new(find));
        self
    }

    /// The keys whose values are replaced by `[REDACTED]` when events are logged
    /// (`POWERTOOLS_LOGGER_LOG_EVENT`), instead of the default list (`authorization`,
    /// `cookie`, `password`, `secret`, `token`, `api_key`). See
    /// [`Redactor`](crate::logging::redact::Redactor) for the rule.
    pub fn redact_keys<K: Into<String>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.options.redact_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Builds the tower service helve runs for each invocation, around the init step's state.
    ///
    /// This is what [`run`](Function::run) runs on each invocation; it is public for teams
    /// that compose their own runtime (a `lambda_runtime::Runtime`), and for tests. The settings come from `settings`, not
    /// from this builder's options, and the init step is not run: `state` is what it would
    /// have built. Correlation ids and event logging need [`RawEventLayer`] on the runtime;
    /// metrics need a [`MetricsLayer`] around an installed [`EmfRecorder`] (build the stack
    /// from [`helve::layers`](crate::layers) for that).
    pub fn into_service<T, M>(
        self,
        settings: Settings,
        state: &'static I::State,
    ) -> FunctionService<H, T, I::State, M>
    where
        I: Init,
        H: Handler<T, I::State, M>,
    {
        let layers = layers::Layers {
            logging: LoggingLayer::new(&settings),
            metrics: MetricsLayer::disabled(),
            #[cfg(feature = "tracer")]
            tracer: layers::TracerLayer::disabled(),
        };
        layers::stack(
            HandlerService::new(self.handler, state),
            &settings,
            Mode::Lambda,
            layers,
        )
    }

    /// Runs the function until the process ends, and returns the exit code for `main`.
    ///
    /// Started by Lambda (`AWS_LAMBDA_RUNTIME_API` is set), it runs the init step, then serves
    /// invocations from the Runtime API, several at once when `AWS_LAMBDA_MAX_CONCURRENCY` says
    /// so. Started without it, it runs in local mode: once, on the event file named on the
    /// command line (see the guide's local mode page).
    ///
    /// It builds tokio's current-thread runtime: a Lambda environment runs one invocation at a
    /// time, and moving it between worker threads only costs CPU time. It builds the
    /// multi-thread runtime when `AWS_LAMBDA_MAX_CONCURRENCY` is above 1, or when asked with
    /// [`multi_thread`](Function::multi_thread).
    pub fn run<T, M>(self) -> ExitCode
    where
        I: Init,
        H: Handler<T, I::State, M>,
        T: DeserializeOwned + Send + 'static,
        M: 'static,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            eprintln!(
                "helve: `Function::run` starts its own async runtime and cannot run inside one; \
                 call `Function::serve(..).await` instead"
            );
            return ExitCode::FAILURE;
        }
        let concurrency = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok();
        let mut builder = if wants_multi_thread(self.multi_thread, concurrency.as_deref()) {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let runtime = match builder.enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("helve: cannot start the async runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
        runtime.block_on(self.serve())
    }

    /// What [`run`](Function::run) does, on the caller's tokio runtime (current-thread or
    /// multi-thread, with time and I/O enabled): for a `main` that sets up its own.
    pub async fn serve<T, M>(self) -> ExitCode
    where
        I: Init,
        H: Handler<T, I::State, M>,
        T: DeserializeOwned + Send + 'static,
        M: 'static,
    {
        let boot = match Boot::from_environment() {
            Ok(boot) => boot,
            Err(code) => return code,
        };
        let Function {
            handler,
            init,
            init_name,
            handler_name,
            options,
            correlate,
            metrics_sink,
            multi_thread: _,
            shutdown,
        } = self;
        let sink = match &boot.local {
            Some(args) if args.pretty() => local::pretty::sink(),
            _ => logging::stdout_sink(),
        };
        let started_logging = settings_and_logging(&options, &sink, &boot);
        #[cfg(feature = "tracer")]
        let (settings, tracer) = match started_logging {
            Ok((settings, tracer)) => (Ok(settings), tracer),
            Err(diagnostic) => (Err(diagnostic), None),
        };
        #[cfg(not(feature = "tracer"))]
        let settings = started_logging.map(|(settings, ())| settings);
        #[cfg(not(feature = "tracer"))]
        let _ = &handler_name;
        // The recorder goes in before the init step, so what init records is kept (and written
        // with the first invocation).
        let recorder = settings.as_ref().ok().and_then(install_recorder);
        let started = Instant::now();
        #[cfg(feature = "idempotency")]
        let settings = settings.and_then(|settings| match handler.check_idempotency() {
            Err(error) => Err(error::diagnostic(&error)),
            Ok(()) => Ok(settings),
        });
        let outcome = match settings {
            Ok(settings) => start(init, &init_name, boot.mode == Mode::Lambda)
                .await
                .map(|state| (settings, state)),
            Err(diagnostic) => Err(diagnostic),
        };
        if let Ok((settings, _)) = &outcome {
            warn_of_metrics_without_namespace(settings);
        }
        // The output is chosen once the state exists: a sink may be built from it.
        let outcome = outcome.and_then(|(settings, state)| {
            let metrics = metrics_layer(metrics_sink, recorder, &settings, state, &sink)?;
            Ok((settings, state, metrics))
        });
        let (settings, state, metrics) = match outcome {
            Ok(started) => started,
            Err(diagnostic) => {
                report_init_failure::<H, T, I::State, M>(&handler, boot.mode, diagnostic).await;
                return ExitCode::FAILURE;
            }
        };
        let logging = LoggingLayer::with_sink(&settings, sink, Some(started.elapsed()));
        #[cfg(feature = "idempotency")]
        let event_keys = handler.event_keys();
        // Kept for a source that must hear back even about an event that cannot be decoded.
        let keep_raw_event = handler.keeps_raw_event();
        let shutdown = shutdown.map(|hook| crate::shutdown::Shutdown {
            hook,
            metrics: metrics.clone(),
            service: settings.service_arc().to_string(),
            mode: boot.mode,
        });
        let layers = layers::Layers {
            #[cfg(feature = "tracer")]
            tracer: layers::TracerLayer::with(tracer, &handler_name, settings.service_arc()),
            logging,
            metrics,
        };
        let service = layers::stack(
            HandlerService::new(handler, state),
            &settings,
            boot.mode,
            layers,
        );
        #[cfg(feature = "idempotency")]
        let events = event_layer(correlate, &settings).with_event_keys(event_keys);
        #[cfg(not(feature = "idempotency"))]
        let events = event_layer(correlate, &settings);
        let events = events.keep_raw_event(keep_raw_event);
        match boot.local {
            Some(args) => {
                let code = local::run(service, events, args).await;
                if let Some(shutdown) = shutdown {
                    shutdown.run("the local invocation ended").await;
                }
                code
            }
            None => {
                if let Some(shutdown) = shutdown {
                    crate::shutdown::register(shutdown).await;
                }
                run_on_lambda(service, events).await
            }
        }
    }
}

/// Whether `run` builds the multi-thread runtime: when the code asks for it, or when Lambda
/// runs several invocations at once in this process (`AWS_LAMBDA_MAX_CONCURRENCY` above 1).
fn wants_multi_thread(asked: bool, max_concurrency: Option<&str>) -> bool {
    asked || runtime_api::concurrency_of(max_concurrency) > 1
}

/// How the process was started: by Lambda, or in local mode with its arguments.
struct Boot {
    mode: Mode,
    local: Option<local::Args>,
}

impl Boot {
    /// Reads how the process was started; `Err` is the exit code when there is nothing to run
    /// (`--help`, bad arguments, an unusable Runtime API address).
    fn from_environment() -> Result<Self, ExitCode> {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            if let Err(error) = runtime_api::check_runtime_api() {
                // No usable Runtime API address: nobody to report to but the log.
                let diagnostic = error::diagnostic(&error);
                tracing::error!(error_type = %diagnostic.error_type, "{}", diagnostic.error_message);
                local::print_error(&diagnostic);
                return Err(ExitCode::FAILURE);
            }
            return Ok(Self {
                mode: Mode::Lambda,
                local: None,
            });
        }
        match local::Args::parse(std::env::args_os().skip(1)) {
            Ok(local::Command::Run(args)) => Ok(Self {
                mode: Mode::Local,
                local: Some(args),
            }),
            Ok(local::Command::Help) => {
                print!("{}", local::usage());
                Err(ExitCode::SUCCESS)
            }
            Ok(local::Command::Template(template)) => {
                print!("{}", template.json());
                Err(ExitCode::SUCCESS)
            }
            Err(error) => {
                eprintln!("error: {error}\n\n{}", local::usage());
                Err(ExitCode::from(2))
            }
        }
    }
}

/// What starts with the logger: the tracer (feature `tracer`), whose spans layer goes on the
/// same subscriber.
#[cfg(feature = "tracer")]
type Started = Option<Arc<crate::tracer::Tracer>>;
#[cfg(not(feature = "tracer"))]
type Started = ();

/// Resolves the settings and installs the JSON logger (and, feature `tracer`, the tracer's
/// span layer); an invalid setting is still logged, with what is valid (the service named in
/// code, if it is).
fn settings_and_logging(
    options: &Options,
    sink: &logging::LineSink,
    boot: &Boot,
) -> Result<(Settings, Started), Diagnostic> {
    match Settings::resolve(options, |name| std::env::var(name).ok()) {
        Ok(settings) => {
            #[cfg(feature = "tracer")]
            {
                let tracer = start_tracer(&settings, boot);
                match &tracer {
                    Some(tracer) => crate::tracer::install(&settings, tracer, Arc::clone(sink)),
                    None => logging::init(settings.log(), Arc::clone(sink)),
                }
                Ok((settings, tracer))
            }
            #[cfg(not(feature = "tracer"))]
            {
                if boot.local.as_ref().is_some_and(local::Args::trace) {
                    eprintln!(
                        "helve: `--trace` needs helve's `tracer` feature, which this function is \
                         built without: nothing is traced"
                    );
                }
                logging::init(settings.log(), Arc::clone(sink));
                Ok((settings, ()))
            }
        }
        Err(error) => {
            let fallback = Options {
                service: options.service.clone(),
                ..Options::default()
            };
            let fallback = Settings::resolve(&fallback, |_| None)
                .or_else(|_| Settings::resolve(&Options::default(), |_| None));
            if let Ok(fallback) = fallback {
                logging::init(fallback.log(), Arc::clone(sink));
            }
            Err(error::diagnostic(&error))
        }
    }
}

/// The function's tracer, when it is on: sending to the X-Ray daemon on Lambda, printing to
/// stderr in local mode with `--trace`.
#[cfg(feature = "tracer")]
fn start_tracer(settings: &Settings, boot: &Boot) -> Option<Arc<crate::tracer::Tracer>> {
    use crate::tracer::{Output, Tracer};
    let config = settings.tracer();
    if !config.enabled {
        return None;
    }
    let output = match &boot.local {
        Some(args) if args.trace() => Output::stderr(),
        Some(_) => return None,
        None => match Output::daemon(config.daemon) {
            Ok(output) => output,
            Err(error) => {
                eprintln!("helve: the tracer is off: no UDP socket for the X-Ray daemon: {error}");
                return None;
            }
        },
    };
    Some(Tracer::new(config.clone(), output, settings.service()))
}

/// No namespace, and metrics not turned off on purpose: a metric recorded from here on is told
/// about at ERROR, once, rather than lost silently; unless the program installed a recorder of
/// its own, in `main` or the init step.
fn warn_of_metrics_without_namespace(settings: &Settings) {
    if settings.metrics().is_none() && !settings.metrics_disabled() {
        let _ = metrics::set_global_recorder(crate::metrics::NoNamespace::default());
    }
}

/// The layer writing each invocation's metrics, to the output the builder chose.
fn metrics_layer(
    choice: MetricsOutput,
    recorder: Option<EmfRecorder>,
    settings: &Settings,
    state: &dyn std::any::Any,
    sink: &logging::LineSink,
) -> Result<MetricsLayer, Diagnostic> {
    match (recorder, settings.metrics()) {
        (Some(recorder), Some(config)) => choice
            .layer(recorder, config.clone(), state, Arc::clone(sink))
            .map_err(|error| error::diagnostic(&error)),
        _ => Ok(MetricsLayer::disabled()),
    }
}

/// Logs why init failed and tells whoever waits: the Runtime API (or, for a source that must
/// always hear back, the next invocation's caller too), or stderr in local mode.
async fn report_init_failure<H, T, S, M>(handler: &H, mode: Mode, diagnostic: Diagnostic)
where
    H: Handler<T, S, M>,
{
    log_init_failure(&diagnostic);
    match mode {
        Mode::Local => local::print_error(&diagnostic),
        _ => match handler.fallback_answer() {
            Some(answer) => answer_init_failure(answer, diagnostic).await,
            None => runtime_api::report_init_error(&diagnostic).await,
        },
    }
}

/// The one line that says why init failed.
pub(crate) fn log_init_failure(diagnostic: &Diagnostic) {
    tracing::error!(
        error_type = %diagnostic.error_type,
        "init failed: {}",
        diagnostic.error_message
    );
}

/// The event layer: how correlation ids are found, and whether events are logged.
pub(crate) fn event_layer(correlate: Option<CorrelateFn>, settings: &Settings) -> RawEventLayer {
    let correlation = match (correlate, settings.correlation_pointer()) {
        (Some(find), _) => Correlation::Custom(find),
        (None, Some(pointer)) => Correlation::Pointer(pointer.clone()),
        (None, None) => Correlation::Presets,
    };
    RawEventLayer::new(
        correlation,
        settings.log_event().then(|| settings.redactor().clone()),
    )
}

/// A handler whose event source must always hear back (a custom resource) still takes the next
/// invocation after the init step failed, answers it with the failure, and reports the failure
/// as that invocation's error; the process then exits, and Lambda runs init again for the next.
async fn answer_init_failure(answer: crate::handler::FallbackAnswer, diagnostic: Diagnostic) {
    match runtime_api::next_invocation().await {
        Ok(invocation) => {
            let reason = format!(
                "the function's init failed, so the handler was not called: {}",
                diagnostic.error_message
            );
            answer(invocation.body, invocation.deadline, reason, Mode::Lambda).await;
            runtime_api::report_invocation_error(&invocation.request_id, &diagnostic).await;
        }
        Err(error) => {
            eprintln!("helve: could not take the next invocation to answer it: {error}");
            runtime_api::report_init_error(&diagnostic).await;
        }
    }
}

/// Installs helve's `metrics` recorder when a namespace is configured; otherwise, or when the
/// program installed another recorder, metrics are off.
pub(crate) fn install_recorder(settings: &Settings) -> Option<EmfRecorder> {
    let config = settings.metrics()?;
    let recorder = EmfRecorder::new();
    // Known before init records anything: the default dimensions count towards each
    // metric's 30.
    recorder
        .shared
        .set_default_dimensions(config.dimensions.iter().map(|(key, _)| key.as_str()));
    if metrics::set_global_recorder(recorder.clone()).is_err() {
        tracing::warn!(
            "another `metrics` recorder is already installed: helve writes no metrics documents"
        );
        return None;
    }
    recorder.mark_installed();
    Some(recorder)
}

/// The stack helve runs around a handler, for tests (and `helve::__fuzz`) that build it by hand.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn service_stack<H, T, S, M>(
    handler: H,
    settings: &Settings,
    state: &'static S,
    logging: LoggingLayer,
    metrics: MetricsLayer,
) -> FunctionService<H, T, S, M>
where
    H: Handler<T, S, M>,
{
    let layers = layers::Layers {
        logging,
        metrics,
        #[cfg(feature = "tracer")]
        tracer: layers::TracerLayer::disabled(),
    };
    layers::stack(
        HandlerService::new(handler, state),
        settings,
        Mode::Lambda,
        layers,
    )
}

/// Checks the Lambda environment and runs the init step; any failure becomes the init error.
pub(crate) async fn start<I: Init>(
    init: I,
    init_name: &str,
    lambda: bool,
) -> Result<&'static I::State, Diagnostic> {
    if lambda {
        runtime_api::check_environment().map_err(|e| error::diagnostic(&e))?;
    }
    let state = match tokio::spawn(init.init()).await {
        Ok(Ok(state)) => state,
        Ok(Err(failure)) => {
            let failure_type = failure.error_type();
            // A value the init step could not read keeps its own type (an alarm on
            // `helve.ParameterNotFound` sees it wherever it happens); any other failure is
            // `helve.InitError`, its type in the message.
            let error_type = if codes::KEPT_BY_INIT.contains(&failure_type.as_ref()) {
                failure_type.clone().into_owned()
            } else {
                codes::INIT_ERROR.to_owned()
            };
            return Err(Diagnostic {
                error_type,
                error_message: format!(
                    "the init function `{init_name}` failed ({failure_type}): {}",
                    failure.error_message()
                ),
            });
        }
        Err(join_error) => {
            let reason = match join_error.try_into_panic() {
                Ok(payload) => crate::error::Panic::from_payload(payload.as_ref())
                    .message()
                    .to_owned(),
                Err(join_error) => join_error.to_string(),
            };
            return Err(Diagnostic {
                error_type: codes::INIT_ERROR.to_owned(),
                error_message: format!("the init function `{init_name}` panicked: {reason}"),
            });
        }
    };
    // The state lives as long as the execution environment: every invocation borrows it.
    Ok(Box::leak(Box::new(state)))
}

async fn run_on_lambda<H, T, S, M>(
    service: FunctionService<H, T, S, M>,
    events: RawEventLayer,
) -> ExitCode
where
    H: Handler<T, S, M>,
    T: DeserializeOwned + Send + 'static,
    S: Sync + 'static,
    M: 'static,
{
    match runtime_api::run(service, events).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("the Lambda runtime stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wants_multi_thread;

    #[test]
    fn one_invocation_at_a_time_runs_on_the_current_thread_runtime() {
        assert!(!wants_multi_thread(false, None));
        assert!(!wants_multi_thread(false, Some("1")));
        assert!(!wants_multi_thread(false, Some("")));
        assert!(!wants_multi_thread(false, Some("many")));
    }

    #[test]
    fn several_invocations_at_once_or_the_code_asking_get_the_multi_thread_runtime() {
        assert!(wants_multi_thread(false, Some("4")));
        assert!(wants_multi_thread(false, Some(" 2 ")));
        assert!(wants_multi_thread(true, None));
        assert!(wants_multi_thread(true, Some("1")));
    }
}
