//! The per-invocation context: who is being invoked, by which request, and how much time is
//! left.
//!
//! The handler receives it as `&Context`; any code running inside the invocation's task reaches
//! the same context with [`context()`]. Each invocation has its own, even when
//! `lambda_runtime` runs several at once in one process (`AWS_LAMBDA_MAX_CONCURRENCY`, Lambda
//! Managed Instances), so ids never leak from one invocation into another.
//!
//! A task started with `tokio::spawn` does not inherit it: pass the context along (it is cheap
//! to clone) or run the task inside [`Context::scope`].
//!
//! The context is also the invocation's one scope inside helve: the state its layers keep for
//! it (the logging decisions and buffer, the metrics collector, what was read from the raw
//! event, the HTTP request being answered) lives in the context's allocation
//! (`context/state.rs`), so whatever runs with the context current sees all of it.

mod collector;
#[cfg(feature = "idempotency")]
mod event_keys;
mod lock;
mod state;
#[cfg(feature = "tracer")]
mod trace;

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::task::futures::TaskLocalFuture;

pub(crate) use collector::{Collector, MetricHandle, MetricKind, Recorded};
#[cfg(feature = "idempotency")]
#[doc(hidden)]
pub use event_keys::{EventKeys, ReadKeys};
pub(crate) use state::{Findings, LogBuffer, State, lock};
#[cfg(feature = "tracer")]
pub(crate) use trace::{Fields, SegmentId, Trace};

tokio::task_local! {
    /// The invocation the task is running: the only task-local of helve.
    static SCOPE: Context;
}

/// What `#[helve::handler]` requires of a parameter written `Context` or `&Context`: that it is
/// helve's [`Context`], the only type that implements it. A type of the user's own named
/// `Context`, imported, is then reported at the parameter with what to do, instead of being
/// passed helve's.
#[diagnostic::on_unimplemented(
    message = "this `{Self}` is not helve's: `#[helve::handler]` passes helve's context to a parameter of type `Context`",
    label = "taken for helve's context",
    note = "name a type of your own by its path (`model::Context`), an alias or another name (`use model::Context as Tenant;`); helve's is `helve::Context`"
)]
pub trait ContextParameter: Sized {
    /// The context, borrowed: a `&Context` parameter.
    fn from_ref(context: &Context) -> &Self;
    /// The context, owned: a `Context` parameter.
    fn from_owned(context: Context) -> Self;
}

// Not listed in a diagnostic: the note names helve's context, without a path into helve.
#[diagnostic::do_not_recommend]
impl ContextParameter for Context {
    fn from_ref(context: &Context) -> &Self {
        context
    }

    fn from_owned(context: Context) -> Self {
        context
    }
}

/// One invocation as it travels through helve's layers: the event and its [`Context`].
#[derive(Debug, Clone)]
pub struct Invocation<T> {
    /// The event.
    pub event: T,
    /// The invocation's context.
    pub context: Context,
}

/// The context of one invocation. Cloning it is cheap: clones share one allocation.
#[derive(Clone, Debug)]
pub struct Context {
    inner: Arc<Inner>,
    /// The correlation id of one part of the invocation (a batch's record), over the
    /// invocation's.
    correlation: Option<Arc<str>>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) lambda: lambda_runtime::Context,
    pub(crate) service: Arc<str>,
    pub(crate) cold_start: bool,
    pub(crate) mode: Mode,
    pub(crate) correlation_id: Option<String>,
    pub(crate) state: State,
}

/// How the invocation runs: from Lambda, or in local mode (the binary started without
/// `AWS_LAMBDA_RUNTIME_API`, on an event file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Lambda invoked the function through the Runtime API.
    #[default]
    Lambda,
    /// Local mode: helve does not reach out to AWS on the function's behalf (a custom
    /// resource's answer is printed, not sent to its ResponseURL).
    Local,
}

/// The context of the invocation this task is running, or `None` outside an invocation (during
/// init, or in a task started with `tokio::spawn` without [`Context::scope`]).
///
/// ```
/// fn audit(action: &str) {
///     if let Some(ctx) = helve::context() {
///         println!("{action} for request {}", ctx.request_id());
///     }
/// }
/// ```
pub fn context() -> Option<Context> {
    SCOPE.try_with(Context::clone).ok()
}

/// Runs `f` with the current context, without cloning it; `None` outside an invocation.
pub(crate) fn with_current<R>(f: impl FnOnce(&Context) -> R) -> Option<R> {
    SCOPE.try_with(f).ok()
}

impl Context {
    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        Self {
            inner,
            correlation: None,
        }
    }

    /// The same invocation's context, with another correlation id: what a batch's record runs
    /// with, so that its log lines carry its own id.
    pub fn with_correlation_id(&self, id: impl Into<Arc<str>>) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            correlation: Some(id.into()),
        }
    }

    /// A builder for a context, for calling a handler directly in a test.
    ///
    /// ```
    /// let ctx = helve::Context::builder().request_id("req-1").cold_start(true).build();
    /// assert_eq!(ctx.request_id(), "req-1");
    /// assert!(ctx.cold_start());
    /// ```
    pub fn builder() -> ContextBuilder {
        ContextBuilder::default()
    }

    /// The Lambda request id of this invocation (`function_request_id` in the logs).
    pub fn request_id(&self) -> &str {
        &self.inner.lambda.request_id
    }

    /// The correlation id of this invocation: the one taken from the event when there is one,
    /// otherwise the Lambda request id.
    pub fn correlation_id(&self) -> &str {
        if let Some(id) = &self.correlation {
            return id;
        }
        self.inner
            .correlation_id
            .as_deref()
            .unwrap_or(&self.inner.lambda.request_id)
    }

    /// The function's name, from `AWS_LAMBDA_FUNCTION_NAME`.
    pub fn function_name(&self) -> &str {
        &self.inner.lambda.env_config.function_name
    }

    /// The function's version, from `AWS_LAMBDA_FUNCTION_VERSION` (`$LATEST` unless published).
    pub fn function_version(&self) -> &str {
        &self.inner.lambda.env_config.version
    }

    /// The memory configured for the function, in MB.
    pub fn memory_size_mb(&self) -> u32 {
        u32::try_from(self.inner.lambda.env_config.memory).unwrap_or(0)
    }

    /// The ARN the function was invoked with (it names the alias or version, if any).
    pub fn invoked_function_arn(&self) -> &str {
        &self.inner.lambda.invoked_function_arn
    }

    /// The service name: the `service` option of `#[helve::handler]`, else
    /// `POWERTOOLS_SERVICE_NAME`, else `service_undefined`.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// `true` only for the first invocation of an execution environment.
    pub fn cold_start(&self) -> bool {
        self.inner.cold_start
    }

    /// Whether Lambda invoked the function or it runs in local mode.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// The moment Lambda stops the invocation.
    pub fn deadline(&self) -> SystemTime {
        self.inner.lambda.deadline()
    }

    /// The time left before the deadline; zero once it has passed.
    pub fn remaining_time(&self) -> Duration {
        self.deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }

    /// The time left until `margin` before the deadline; `None` when less than `margin` is
    /// left. Every "deadline less a margin" of helve is this.
    pub(crate) fn time_before(&self, margin: Duration) -> Option<Duration> {
        self.remaining_time().checked_sub(margin)
    }

    /// The moment `margin` before the deadline (now, when less is left): when helve stops
    /// waiting for something.
    pub(crate) fn stop_at(&self, margin: Duration) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.time_before(margin).unwrap_or_default()
    }

    /// The X-Ray trace id: the `Root=` value of the trace header, as Powertools logs it.
    pub fn xray_trace_id(&self) -> Option<&str> {
        let header = self.xray_trace_header()?;
        let root = header
            .split(';')
            .find_map(|part| part.trim().strip_prefix("Root="))
            .unwrap_or(header);
        Some(root)
    }

    /// The whole X-Ray trace header (`Root=...;Parent=...;Sampled=...`).
    pub fn xray_trace_header(&self) -> Option<&str> {
        self.inner.lambda.xray_trace_id.as_deref()
    }

    /// The tenant id, for functions with tenant isolation.
    pub fn tenant_id(&self) -> Option<&str> {
        self.inner.lambda.tenant_id.as_deref()
    }

    /// The `lambda_runtime` context, for what helve does not wrap (client context, Cognito
    /// identity, log group and stream).
    pub fn lambda(&self) -> &lambda_runtime::Context {
        &self.inner.lambda
    }

    /// Runs `future` with this context as the current one, so [`context()`] finds it: for tasks
    /// spawned from a handler.
    ///
    /// ```no_run
    /// # async fn handler(ctx: &helve::Context) {
    /// tokio::spawn(ctx.clone().scope(async {
    ///     assert!(helve::context().is_some());
    /// }));
    /// # }
    /// ```
    pub fn scope<F: Future>(self, future: F) -> TaskLocalFuture<Context, F> {
        // The whole invocation goes along: its logging state, its metrics collector, the
        // HTTP request being answered.
        SCOPE.scope(self, future)
    }

    /// Runs `f` with this context current.
    pub(crate) fn enter<R>(self, f: impl FnOnce() -> R) -> R {
        SCOPE.sync_scope(self, f)
    }

    /// The state helve's layers keep for this invocation.
    pub(crate) fn state(&self) -> &State {
        &self.inner.state
    }

    /// Whether this invocation is the one current on this task: what helve's layers check,
    /// in debug builds, to find them stacked inside the context layer.
    pub(crate) fn is_current(&self) -> bool {
        SCOPE
            .try_with(|current| Arc::ptr_eq(&current.inner, &self.inner))
            .unwrap_or(false)
    }
}

/// Builds a [`Context`], for tests. Every field has a plausible default.
#[derive(Debug, Clone)]
pub struct ContextBuilder {
    lambda: lambda_runtime::Context,
    function_name: String,
    version: String,
    memory: i32,
    service: String,
    cold_start: bool,
    mode: Mode,
    correlation_id: Option<String>,
    timeout: Duration,
}

impl Default for ContextBuilder {
    fn default() -> Self {
        let mut lambda = lambda_runtime::Context::default();
        lambda.request_id = "00000000-0000-4000-8000-000000000000".to_owned();
        Self {
            lambda,
            function_name: "test-function".to_owned(),
            version: "$LATEST".to_owned(),
            memory: 128,
            service: "service_undefined".to_owned(),
            cold_start: false,
            mode: Mode::Lambda,
            correlation_id: None,
            timeout: Duration::from_secs(3),
        }
    }
}

impl ContextBuilder {
    /// The Lambda request id.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.lambda.request_id = id.into();
        self
    }

    /// The correlation id (defaults to the request id).
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// The function name.
    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = name.into();
        self
    }

    /// The function version.
    pub fn function_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The memory size in MB.
    pub fn memory_size_mb(mut self, memory: u32) -> Self {
        self.memory = i32::try_from(memory).unwrap_or(i32::MAX);
        self
    }

    /// The invoked function ARN.
    pub fn invoked_function_arn(mut self, arn: impl Into<String>) -> Self {
        self.lambda.invoked_function_arn = arn.into();
        self
    }

    /// The service name.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// Whether this is the first invocation of the execution environment.
    pub fn cold_start(mut self, cold_start: bool) -> Self {
        self.cold_start = cold_start;
        self
    }

    /// How the invocation runs ([`Mode::Lambda`] by default).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The whole X-Ray trace header.
    pub fn xray_trace_header(mut self, header: impl Into<String>) -> Self {
        self.lambda.xray_trace_id = Some(header.into());
        self
    }

    /// The tenant id.
    pub fn tenant_id(mut self, tenant: impl Into<String>) -> Self {
        self.lambda.tenant_id = Some(tenant.into());
        self
    }

    /// The time from now until the deadline (3 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The context.
    pub fn build(self) -> Context {
        let mut lambda = self.lambda;
        lambda.deadline = deadline_ms(self.timeout);
        if lambda.invoked_function_arn.is_empty() {
            lambda.invoked_function_arn = format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                self.function_name
            );
        }
        lambda.env_config = Arc::new(lambda_runtime::Config {
            function_name: self.function_name,
            version: self.version,
            memory: self.memory,
            ..lambda_runtime::Config::default()
        });
        Context::from_inner(Arc::new(Inner {
            lambda,
            service: Arc::from(self.service),
            cold_start: self.cold_start,
            mode: self.mode,
            correlation_id: self.correlation_id,
            state: State::default(),
        }))
    }
}

/// The deadline `timeout` from now, in epoch milliseconds.
pub(crate) fn deadline_ms(timeout: Duration) -> u64 {
    let deadline = SystemTime::now()
        .checked_add(timeout)
        .unwrap_or_else(|| SystemTime::UNIX_EPOCH + Duration::from_millis(u64::MAX / 2));
    let since_epoch = deadline
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_id_is_the_root_of_the_trace_header() {
        let ctx = Context::builder()
            .xray_trace_header(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            )
            .build();
        assert_eq!(
            ctx.xray_trace_id(),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
    }

    #[test]
    fn the_correlation_id_falls_back_to_the_request_id() {
        let ctx = Context::builder().request_id("req-9").build();
        assert_eq!(ctx.correlation_id(), "req-9");
        let ctx = Context::builder()
            .request_id("req-9")
            .correlation_id("order-7")
            .build();
        assert_eq!(ctx.correlation_id(), "order-7");
    }

    #[test]
    fn remaining_time_counts_down_to_the_deadline() {
        let ctx = Context::builder().timeout(Duration::from_secs(60)).build();
        let remaining = ctx.remaining_time();
        assert!(remaining > Duration::from_secs(50) && remaining <= Duration::from_secs(60));
        let ctx = Context::builder().timeout(Duration::ZERO).build();
        assert_eq!(ctx.remaining_time(), Duration::ZERO);
    }

    #[tokio::test]
    async fn the_current_context_is_reachable_only_inside_its_scope() {
        assert!(context().is_none());
        let ctx = Context::builder().request_id("inside").build();
        let seen = ctx
            .scope(async { context().map(|c| c.request_id().to_owned()) })
            .await;
        assert_eq!(seen.as_deref(), Some("inside"));
        assert!(context().is_none());
    }
}
