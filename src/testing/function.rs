//! A function run in-process through helve's whole stack: the init step once, then any number
//! of invocations, each giving back an [`Outcome`] with everything it wrote.

use std::{
    borrow::Cow,
    marker::PhantomData,
    sync::{Arc, OnceLock},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
#[cfg(feature = "cfn")]
use serde_json::Value;
use tracing::{Dispatch, instrument::WithSubscriber as _};
use tracing_subscriber::layer::SubscriberExt as _;

use super::{
    capture::Captured,
    event::IntoEvent,
    outcome::{Outcome, Written},
};
use crate::{
    Function, Handler, Payload, Settings,
    context::Mode,
    error::codes,
    function::{FunctionService, Init, NoInit},
    handler::HandlerService,
    layers::{self, LoggingLayer, MetricsLayer, RawEventLayer},
    metrics::EmfRecorder,
};

/// The name of the function in the ARN and on the log lines, unless a [`TestContext`] names
/// another.
pub const FUNCTION_NAME: &str = "test-function";

/// The timeout of an invocation, unless a [`TestContext`] gives another: its deadline is this
/// long after the invocation starts.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What can be run by [`TestFunction::start`] and [`invoke`]: a [`Function`] as the
/// builder made it (its init step, service, namespace, correlation id, idempotency, ...), or a
/// bare handler, `async fn(event, ctx) -> Result<R, E>`.
///
/// `Marker` only tells the two apart; it is inferred.
pub trait IntoFunction<Marker> {
    /// The handler.
    type Handler;
    /// The init step.
    type Init: Init;

    /// The function.
    fn into_function(self) -> Function<Self::Handler, Self::Init>;
}

/// The [`IntoFunction`] marker of a [`Function`].
#[derive(Debug)]
pub enum FromFunction {}

/// The [`IntoFunction`] marker of a bare handler.
#[derive(Debug)]
pub struct FromHandler<T, M>(PhantomData<fn() -> (T, M)>);

impl<H, I: Init> IntoFunction<FromFunction> for Function<H, I> {
    type Handler = H;
    type Init = I;

    fn into_function(self) -> Function<H, I> {
        self
    }
}

impl<H, T, M> IntoFunction<FromHandler<T, M>> for H
where
    H: Handler<T, (), M>,
{
    type Handler = H;
    type Init = NoInit;

    fn into_function(self) -> Function<H, NoInit> {
        Function::new(self)
    }
}

/// The context of one test invocation, as Lambda would fill it: the request id, the deadline,
/// the trace header, whether it is the cold start, the function's name and memory.
///
/// ```
/// use std::time::Duration;
/// use helve::testing::TestContext;
///
/// let context = TestContext::new()
///     .request_id("req-1")
///     .timeout(Duration::from_secs(3))
///     .trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
///     .cold_start(false);
/// # let _ = context;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct TestContext {
    request_id: Option<String>,
    timeout: Option<Duration>,
    deadline: Option<SystemTime>,
    trace_header: Option<String>,
    cold_start: Option<bool>,
    function_name: Option<String>,
    memory_mb: Option<u32>,
}

impl TestContext {
    /// The context Lambda gives an invocation of [`FUNCTION_NAME`] with 128 MB: a new request
    /// id (a UUID), a deadline [`TIMEOUT`] away, no trace header; the first invocation of a
    /// [`TestFunction`] is its cold start.
    pub fn new() -> Self {
        Self::default()
    }

    /// The request id (`function_request_id` on every line).
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// The deadline is `timeout` after the invocation starts; the invocation fails with
    /// `Sandbox.Timedout` when the function outlives it, as on Lambda.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self.deadline = None;
        self
    }

    /// The deadline, as a point in time.
    pub fn deadline(mut self, deadline: SystemTime) -> Self {
        self.deadline = Some(deadline);
        self.timeout = None;
        self
    }

    /// The X-Ray trace header, `Root=1-...;Parent=...;Sampled=1` (`xray_trace_id` on the lines).
    pub fn trace_header(mut self, header: impl Into<String>) -> Self {
        self.trace_header = Some(header.into());
        self
    }

    /// Whether the invocation is a cold start, whatever came before it.
    pub fn cold_start(mut self, cold_start: bool) -> Self {
        self.cold_start = Some(cold_start);
        self
    }

    /// The function's name, in its ARN and on every line.
    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = Some(name.into());
        self
    }

    /// The function's memory, in MB (`function_memory_size`).
    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = Some(memory_mb);
        self
    }

    /// How long the invocation may run, and the Lambda context it is given.
    fn lambda(&self) -> (Duration, lambda_runtime::Context) {
        let now = SystemTime::now();
        let (timeout, deadline) = match (self.deadline, self.timeout) {
            (Some(deadline), _) => (deadline.duration_since(now).unwrap_or_default(), deadline),
            (None, timeout) => {
                let timeout = timeout.unwrap_or(TIMEOUT);
                (timeout, now.checked_add(timeout).unwrap_or(now))
            }
        };
        let function_name = self.function_name.as_deref().unwrap_or(FUNCTION_NAME);
        let mut lambda = lambda_runtime::Context::default();
        lambda.request_id = self
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        lambda.deadline = deadline.duration_since(UNIX_EPOCH).map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
        lambda.invoked_function_arn =
            format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}");
        lambda.xray_trace_id = self.trace_header.clone();
        lambda.env_config = Arc::new(lambda_runtime::Config {
            function_name: function_name.to_owned(),
            memory: i32::try_from(self.memory_mb.unwrap_or(128)).unwrap_or(i32::MAX),
            version: "$LATEST".to_owned(),
            log_group: format!("/aws/lambda/{function_name}"),
            ..lambda_runtime::Config::default()
        });
        (timeout, lambda)
    }
}

/// Builds a [`TestFunction`] with an environment of its own.
#[derive(Debug)]
#[must_use = "a test function does nothing until it is started"]
pub struct TestFunctionBuilder<H, I> {
    function: Function<H, I>,
    env: Vec<(String, String)>,
}

impl<H, I: Init> TestFunctionBuilder<H, I> {
    /// Sets an environment variable the function's settings read
    /// (`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_METRICS_NAMESPACE`, `POWERTOOLS_LOG_LEVEL`,
    /// `POWERTOOLS_LOGGER_LOG_EVENT`, ...). helve does not read the test process's own
    /// environment for them: each test function's settings are only what its test gives it.
    /// Code of the function's own that calls `std::env::var` (an init step reading `TABLE`)
    /// still reads the process's.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Resolves the settings and runs the init step, as a cold start does on Lambda.
    ///
    /// # Errors
    ///
    /// The init error Lambda would get (`helve.InitError`, `helve.ConfigError`, ...), with
    /// the lines written until then.
    pub async fn start<T, M>(self) -> Result<TestFunction<H, T, I::State, M>, InitFailure>
    where
        H: Handler<T, I::State, M>,
        T: DeserializeOwned + Send + 'static,
        M: 'static,
    {
        let parts = self.function.into_parts();
        let env = self.env;
        let captured = Captured::default();
        let fail = |captured: &Captured, diagnostic: Diagnostic| InitFailure {
            diagnostic,
            written: Written::take(captured),
        };
        // As `serve` does: the failure is logged, with the settings' logger when there is one.
        let logged = |dispatch: &Dispatch, captured: &Captured, diagnostic: Diagnostic| {
            tracing::dispatcher::with_default(dispatch, || {
                crate::function::log_init_failure(&diagnostic);
            });
            fail(captured, diagnostic)
        };
        let settings = match Settings::resolve(&parts.options, |name| {
            env.iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        }) {
            Ok(settings) => settings,
            Err(error) => return Err(fail(&captured, crate::error::diagnostic(&error))),
        };
        let dispatch = Dispatch::new(
            tracing_subscriber::registry()
                .with(crate::logging::json_layer(settings.log(), captured.sink())),
        );
        #[cfg(feature = "idempotency")]
        if let Err(error) = parts.handler.check_idempotency() {
            return Err(logged(
                &dispatch,
                &captured,
                crate::error::diagnostic(&error),
            ));
        }
        let started = Instant::now();
        let init = parts.init;
        let init_dispatch = dispatch.clone();
        let init_name: Cow<'static, str> = parts.init_name;
        let state = crate::function::start(
            move || async move { init.init().with_subscriber(init_dispatch).await },
            &init_name,
            false,
        )
        .with_subscriber(dispatch.clone())
        .await
        .map_err(|diagnostic| logged(&dispatch, &captured, diagnostic))?;
        let metrics = match (recorder(), settings.metrics()) {
            (Some(recorder), Some(config)) => {
                MetricsLayer::with_sink(recorder, Some(config.clone()), captured.sink())
            }
            _ => MetricsLayer::disabled(),
        };
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), Some(started.elapsed()));
        #[cfg(feature = "idempotency")]
        let event_keys = parts.handler.event_keys();
        let keep_raw_event = parts.handler.keeps_raw_event();
        let layers = layers::Layers {
            logging,
            metrics,
            #[cfg(feature = "tracer")]
            tracer: layers::TracerLayer::disabled(),
        };
        let service = layers::stack(
            HandlerService::new(parts.handler, state),
            &settings,
            Mode::Lambda,
            layers,
        );
        let events = crate::function::event_layer(parts.correlate, &settings);
        #[cfg(feature = "idempotency")]
        let events = events.with_event_keys(event_keys);
        let events = events.keep_raw_event(keep_raw_event);
        let init_written = Written::take(&captured);
        Ok(TestFunction {
            service,
            events,
            captured,
            dispatch,
            init_written,
            invocations: 0,
            #[cfg(feature = "cfn")]
            response_url: None,
        })
    }
}

/// The init step failed: what Lambda would be told, and what was written meanwhile.
#[derive(Debug)]
pub struct InitFailure {
    /// The init error: its `error_type` and `error_message`.
    pub diagnostic: Diagnostic,
    written: Written,
}

impl InitFailure {
    /// The lines written before the failure, the one saying why among them.
    pub fn logs(&self) -> super::Logs<'_> {
        super::Logs::new(&self.written.lines)
    }
}

impl std::fmt::Display for InitFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the function's init failed ({}): {}",
            self.diagnostic.error_type, self.diagnostic.error_message
        )
    }
}

impl std::error::Error for InitFailure {}

/// A function started in-process: its init step has run, once; each
/// [`invoke`](TestFunction::invoke) runs one invocation through the stack helve runs on
/// Lambda (the event layer, context, logging, metrics, panic safety, the event kind's adapter),
/// and gives back its [`Outcome`].
///
/// ```
/// use helve::testing::{Level, TestFunction};
/// use serde_json::{Value, json};
///
/// async fn greet(event: Value, _ctx: helve::Context) -> Result<Value, helve::Error> {
///     tracing::info!(name = %event["name"], "greeting");
///     Ok(json!({ "message": format!("Hello, {}!", event["name"].as_str().unwrap_or("you")) }))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut function = TestFunction::builder(helve::Function::new(greet).service("greeter"))
///     .env("POWERTOOLS_METRICS_NAMESPACE", "Shop")
///     .start()
///     .await
///     .unwrap();
/// let first = function.invoke(json!({ "name": "Ada" })).await;
/// assert_eq!(first.assert_response(), &json!({ "message": "Hello, Ada!" }));
/// first.logs().at(Level::INFO).message("greeting").with("cold_start", true).assert_one();
/// first.metrics().named("ColdStart").assert_value(1.0);
///
/// let second = function.invoke(json!({ "name": "Grace" })).await;
/// second.logs().message("greeting").with("cold_start", false).assert_one();
/// second.metrics().named("ColdStart").assert_none();
/// # }
/// ```
pub struct TestFunction<H, T, S: 'static, M> {
    service: FunctionService<H, T, S, M>,
    events: RawEventLayer,
    captured: Captured,
    dispatch: Dispatch,
    init_written: Written,
    invocations: u64,
    #[cfg(feature = "cfn")]
    response_url: Option<super::ResponseUrl>,
}

impl<H, T, S: 'static, M> std::fmt::Debug for TestFunction<H, T, S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestFunction")
            .field("invocations", &self.invocations)
            .finish_non_exhaustive()
    }
}

impl TestFunction<(), (), (), ()> {
    /// A test function of `function` (a [`Function`], or a bare handler), to give an
    /// environment before it [`start`](TestFunctionBuilder::start)s.
    pub fn builder<F, K>(function: F) -> TestFunctionBuilder<F::Handler, F::Init>
    where
        F: IntoFunction<K>,
    {
        TestFunctionBuilder {
            function: function.into_function(),
            env: Vec::new(),
        }
    }

    /// Starts `function` (a [`Function`], or a bare handler) with an empty environment: its
    /// init step runs now.
    ///
    /// # Errors
    ///
    /// The init error Lambda would get, with the lines written until then.
    pub async fn start<F, K, T, M>(
        function: F,
    ) -> Result<TestFunction<F::Handler, T, <F::Init as Init>::State, M>, InitFailure>
    where
        F: IntoFunction<K>,
        F::Handler: Handler<T, <F::Init as Init>::State, M>,
        T: DeserializeOwned + Send + 'static,
        M: 'static,
    {
        Self::builder(function).start().await
    }
}

impl<H, T, S, M> TestFunction<H, T, S, M>
where
    H: Handler<T, S, M>,
    T: DeserializeOwned + Send + 'static,
    S: Send + Sync + 'static,
    M: 'static,
{
    /// Runs one invocation on `event` (a fixture, a `serde_json::Value`, or the raw JSON text)
    /// with a new [`TestContext`].
    pub async fn invoke(&mut self, event: impl IntoEvent) -> Outcome {
        self.invoke_with(TestContext::new(), event).await
    }

    /// Runs one invocation on `event` with this context.
    ///
    /// A custom resource request's `ResponseURL` is replaced by one on 127.0.0.1, so that the
    /// answer helve PUTs is in the outcome
    /// ([`custom_resource_response`](Outcome::custom_resource_response)) rather than sent.
    pub async fn invoke_with(&mut self, context: TestContext, event: impl IntoEvent) -> Outcome {
        self.invocations += 1;
        let bytes = event.into_event();
        #[cfg(feature = "cfn")]
        let bytes = self.answer_here(bytes).await;
        let bytes = Bytes::from(bytes);
        let (timeout, lambda) = context.lambda();
        let request_id = lambda.request_id.clone();
        if let Some(cold_start) = context.cold_start {
            self.service.set_cold_start(cold_start);
        }
        let event = LambdaEvent::new(Payload::<T>::from_slice(&bytes), lambda);
        let call = self
            .events
            .call_once(&mut self.service, &bytes, None, event);
        let outcome = tokio::time::timeout(timeout, call)
            .with_subscriber(self.dispatch.clone())
            .await;
        let response = match outcome {
            Ok(Ok(response)) => serde_json::to_value(&response)
                .map_err(|error| crate::outcome::invalid_response(&error)),
            Ok(Err(diagnostic)) => Err(diagnostic),
            Err(_) => Err(Diagnostic {
                error_type: codes::SANDBOX_TIMEDOUT.to_owned(),
                error_message: format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
            }),
        };
        #[cfg(feature = "cfn")]
        let custom_resource = self.answers();
        Outcome {
            request_id,
            response,
            written: Written::take(&self.captured),
            #[cfg(feature = "cfn")]
            custom_resource,
        }
    }

    /// Points a custom resource request's `ResponseURL` at this function's recorder.
    #[cfg(feature = "cfn")]
    async fn answer_here(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        let Ok(Value::Object(mut request)) = serde_json::from_slice::<Value>(&bytes) else {
            return bytes;
        };
        if !request.contains_key("RequestType") || !request.contains_key("ResponseURL") {
            return bytes;
        }
        let recorder = match &mut self.response_url {
            Some(recorder) => recorder,
            None => self.response_url.insert(super::ResponseUrl::start().await),
        };
        let url = recorder.url(&format!("invocation-{}", self.invocations));
        request.insert("ResponseURL".to_owned(), Value::String(url));
        serde_json::to_vec(&request).unwrap_or(bytes)
    }

    /// What the function PUT to its recorder during the invocation.
    #[cfg(feature = "cfn")]
    fn answers(&mut self) -> Vec<super::Received> {
        let mut answers = Vec::new();
        if let Some(recorder) = &mut self.response_url {
            while let Some(received) = recorder.try_next() {
                answers.push(received);
            }
        }
        answers
    }

    /// The lines the init step wrote (outside any invocation).
    pub fn init_logs(&self) -> super::Logs<'_> {
        super::Logs::new(&self.init_written.lines)
    }

    /// How many invocations ran so far.
    pub fn invocations(&self) -> u64 {
        self.invocations
    }
}

/// Runs `function` (a [`Function`], or a bare handler) once on `event`, in-process through
/// helve's whole stack, with an empty environment: the init step, then one invocation, its
/// cold start. An init failure is the outcome's error, as Lambda reports it for the
/// invocation that was waiting.
///
/// ```
/// use helve::testing::{Level, fixtures, invoke};
/// use serde_json::{Value, json};
///
/// async fn count(event: Value, _ctx: helve::Context) -> Result<Value, helve::Error> {
///     let records = event["Records"].as_array().map_or(0, Vec::len);
///     tracing::info!(records, "counted");
///     Ok(json!({ "records": records }))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let outcome = invoke(count, fixtures::sqs().body(json!({"id": 1}))).await;
/// assert_eq!(outcome.assert_response(), &json!({ "records": 1 }));
/// outcome.logs().at(Level::INFO).with("records", 1).assert_one();
/// # }
/// ```
pub async fn invoke<F, K, T, M>(function: F, event: impl IntoEvent) -> Outcome
where
    F: IntoFunction<K>,
    F::Handler: Handler<T, <F::Init as Init>::State, M>,
    T: DeserializeOwned + Send + 'static,
    M: 'static,
{
    match TestFunction::start(function).await {
        Ok(mut function) => function.invoke(event).await,
        Err(failure) => Outcome {
            request_id: String::new(),
            response: Err(failure.diagnostic),
            written: failure.written,
            #[cfg(feature = "cfn")]
            custom_resource: Vec::new(),
        },
    }
}

/// helve's `metrics` recorder, installed once for the test process (the `metrics` facade has
/// one global recorder); each invocation's metrics go to its own context, so test functions
/// running at once keep theirs apart. `None` when the process installed another recorder.
fn recorder() -> Option<EmfRecorder> {
    static RECORDER: OnceLock<Option<EmfRecorder>> = OnceLock::new();
    RECORDER
        .get_or_init(|| {
            let recorder = EmfRecorder::new();
            metrics::set_global_recorder(recorder.clone()).ok()?;
            recorder.mark_installed();
            Some(recorder)
        })
        .clone()
}
