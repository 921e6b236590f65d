//! The function builder: an init step run once, a handler, helve's layers, and the loop that
//! runs them on `lambda_runtime`, or once on an event file in local mode.
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

use std::{borrow::Cow, fmt, future::Future, process::ExitCode, time::Instant};

use lambda_runtime::Diagnostic;
use serde::de::DeserializeOwned;
use tower::Layer;

use crate::{
    Settings,
    error::{self, IntoDiagnostic},
    handler::{Handler, HandlerService},
    layers::{CatchPanic, CatchPanicLayer, ContextLayer, ContextService},
    local, logging, runtime_api,
};

/// A Lambda function: an optional init step, a handler, and settings.
///
/// Build it with [`Function::new`], then [`run`](Function::run) it from `main`.
#[must_use = "a function does nothing until it is run"]
pub struct Function<H, I = NoInit> {
    handler: H,
    init: I,
    init_name: Cow<'static, str>,
    service: Option<Cow<'static, str>>,
}

impl<H, I> fmt::Debug for Function<H, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("handler", &std::any::type_name::<H>())
            .field("init", &self.init_name)
            .field("service", &self.service)
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
    message = "`{Self}` is not a helve init function",
    note = "an init function is `async fn() -> Result<State, E>` where `E` implements `helve::FunctionError` (for example `helve::Error`)"
)]
pub trait Init: Send + 'static {
    /// What the init step builds, shared by every invocation.
    type State: Send + Sync + 'static;
    /// How the init step fails.
    type Error: IntoDiagnostic + Send + 'static;

    /// Runs the init step.
    fn init(self) -> impl Future<Output = Result<Self::State, Self::Error>> + Send;
}

impl Init for NoInit {
    type State = ();
    type Error = std::convert::Infallible;

    async fn init(self) -> Result<(), std::convert::Infallible> {
        Ok(())
    }
}

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

/// The tower stack helve runs for a handler `H`: context, then panic safety, then the handler.
pub type FunctionService<H, T, S, M> = ContextService<CatchPanic<HandlerService<H, T, S, M>>>;

impl<H> Function<H, NoInit> {
    /// A function running `handler`: `async fn(event: T, ctx: Context) -> Result<R, E>`, or,
    /// once an [`init`](Function::init) step is added, `async fn(event: T, ctx: Context,
    /// state: &'static S) -> Result<R, E>`.
    pub fn new(handler: H) -> Self {
        Self {
            handler,
            init: NoInit,
            init_name: Cow::Borrowed("none"),
            service: None,
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
            service: self.service,
        }
    }

    /// The service name in logs and metrics; wins over `POWERTOOLS_SERVICE_NAME`.
    pub fn service(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.service = Some(name.into());
        self
    }

    /// Builds the tower service helve runs for each invocation, around the init step's state.
    ///
    /// This is what [`run`](Function::run) gives to `lambda_runtime`; it is public for teams
    /// that compose their own runtime, and for tests.
    pub fn into_service<T, M>(
        self,
        settings: Settings,
        state: &'static I::State,
    ) -> FunctionService<H, T, I::State, M>
    where
        I: Init,
        H: Handler<T, I::State, M>,
    {
        service_stack(self.handler, settings, state)
    }

    /// Runs the function until the process ends, and returns the exit code for `main`.
    ///
    /// Started by Lambda (`AWS_LAMBDA_RUNTIME_API` is set), it runs the init step, then serves
    /// invocations from the Runtime API, several at once when `AWS_LAMBDA_MAX_CONCURRENCY` says
    /// so. Started without it, it runs in local mode: once, on the event file named on the
    /// command line (see the guide's local mode page).
    pub fn run<T, M>(self) -> ExitCode
    where
        I: Init,
        H: Handler<T, I::State, M>,
        T: DeserializeOwned + Send + 'static,
        M: 'static,
    {
        logging::init();
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("helve: cannot start the async runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
        runtime.block_on(self.serve())
    }

    /// What [`run`](Function::run) does, on the caller's tokio runtime (which must be
    /// multi-threaded, with time and I/O enabled): for a `main` that sets up its own.
    pub async fn serve<T, M>(self) -> ExitCode
    where
        I: Init,
        H: Handler<T, I::State, M>,
        T: DeserializeOwned + Send + 'static,
        M: 'static,
    {
        logging::init();
        let lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
        let local_args = if lambda {
            None
        } else {
            match local::Args::parse(std::env::args_os().skip(1)) {
                Ok(local::Command::Run(args)) => Some(args),
                Ok(local::Command::Help) => {
                    print!("{}", local::usage());
                    return ExitCode::SUCCESS;
                }
                Err(error) => {
                    eprintln!("error: {error}\n\n{}", local::usage());
                    return ExitCode::from(2);
                }
            }
        };

        if lambda {
            if let Err(error) = runtime_api::check_runtime_api() {
                // No usable Runtime API address: nobody to report to but the log.
                let diagnostic = error::diagnostic(&error);
                tracing::error!(error_type = %diagnostic.error_type, "{}", diagnostic.error_message);
                local::print_error(&diagnostic);
                return ExitCode::FAILURE;
            }
        }

        let Function {
            handler,
            init,
            init_name,
            service,
        } = self;
        let started = Instant::now();
        let (settings, state) = match start(init, &init_name, service.as_deref(), lambda).await {
            Ok(started) => started,
            Err(diagnostic) => {
                tracing::error!(
                    error_type = %diagnostic.error_type,
                    "init failed: {}",
                    diagnostic.error_message
                );
                if lambda {
                    runtime_api::report_init_error(&diagnostic).await;
                } else {
                    local::print_error(&diagnostic);
                }
                return ExitCode::FAILURE;
            }
        };
        tracing::debug!(init_ms = started.elapsed().as_secs_f64() * 1e3, "init done");

        let service = service_stack(handler, settings, state);
        match local_args {
            Some(args) => local::run_once(service, args).await,
            None => run_on_lambda(service).await,
        }
    }
}

/// The stack helve runs around a handler: context, then panic safety, then the handler.
fn service_stack<H, T, S, M>(
    handler: H,
    settings: Settings,
    state: &'static S,
) -> FunctionService<H, T, S, M>
where
    H: Handler<T, S, M>,
{
    let handler = HandlerService::new(handler, state);
    ContextLayer::new(settings).layer(CatchPanicLayer::new().layer(handler))
}

/// Reads the settings and runs the init step; any failure becomes the init error.
async fn start<I: Init>(
    init: I,
    init_name: &str,
    service: Option<&str>,
    lambda: bool,
) -> Result<(Settings, &'static I::State), Diagnostic> {
    let settings = Settings::from_env(service).map_err(|e| error::diagnostic(&e))?;
    if lambda {
        runtime_api::check_environment().map_err(|e| error::diagnostic(&e))?;
    }
    let state = match tokio::spawn(init.init()).await {
        Ok(Ok(state)) => state,
        Ok(Err(failure)) => {
            return Err(Diagnostic {
                error_type: "helve.InitError".to_owned(),
                error_message: format!(
                    "the init function `{init_name}` failed ({}): {}",
                    failure.error_type(),
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
                error_type: "helve.InitError".to_owned(),
                error_message: format!("the init function `{init_name}` panicked: {reason}"),
            });
        }
    };
    // The state lives as long as the execution environment: every invocation borrows it.
    Ok((settings, Box::leak(Box::new(state))))
}

async fn run_on_lambda<H, T, S, M>(service: FunctionService<H, T, S, M>) -> ExitCode
where
    H: Handler<T, S, M>,
    T: DeserializeOwned + Send + 'static,
    S: Sync + 'static,
    M: 'static,
{
    match lambda_runtime::Runtime::new(service).run_concurrent().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("the Lambda runtime stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    name.rsplit("::").next().unwrap_or(name)
}
