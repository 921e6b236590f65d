//! Graceful shutdown: the hook given to [`Function::on_shutdown`](crate::Function::on_shutdown),
//! run when Lambda stops the execution environment, within its budget, then what is left to
//! write.
//!
//! Lambda sends SIGTERM before it stops an environment only when an extension is registered:
//! helve then registers `lambda_runtime`'s internal no-op extension (its `graceful-shutdown`
//! support), which subscribes to no event and costs nothing while the function runs. With an
//! internal extension, Lambda gives the runtime about 500 ms after SIGTERM, then SIGKILL.

use std::{future::Future, pin::Pin, time::Duration, time::Instant};

use crate::{Context, context::Mode, layers::MetricsLayer};

/// The shutdown hook, boxed.
pub(crate) type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// How long the hook may run: Lambda's budget (about 500 ms with an internal extension) less
/// the time to write what is left.
pub(crate) const HOOK_BUDGET: Duration = Duration::from_millis(400);

/// How long publishing the metrics left (PutMetricData) may take after the hook.
const FLUSH_BUDGET: Duration = Duration::from_millis(50);

/// What shutting down does: the hook, then the metrics recorded outside any invocation (in the
/// hook, say), then one log line.
pub(crate) struct Shutdown {
    pub(crate) hook: Hook,
    pub(crate) metrics: MetricsLayer,
    pub(crate) service: String,
    pub(crate) mode: Mode,
}

/// How the hook ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Completed,
    Panicked,
    TimedOut,
}

impl Shutdown {
    /// Runs the hook (at most [`HOOK_BUDGET`], a panic caught), writes the metrics recorded
    /// outside invocations, and logs one line saying what happened and why.
    pub(crate) async fn run(self, why: &str) {
        let Shutdown {
            hook,
            metrics,
            service,
            mode,
        } = self;
        let started = Instant::now();
        // A task of its own: a panic in the hook is the task's, not the process's.
        let task = tokio::spawn(hook());
        let abort = task.abort_handle();
        let ended = match tokio::time::timeout(HOOK_BUDGET, task).await {
            Ok(Ok(())) => Ended::Completed,
            Ok(Err(_)) => Ended::Panicked,
            Err(_) => {
                abort.abort();
                Ended::TimedOut
            }
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let context = Context::builder().service(service).mode(mode).build();
        if let Some(publishing) = metrics.write_pending(&context)
            && tokio::time::timeout(FLUSH_BUDGET, publishing)
                .await
                .is_err()
        {
            tracing::warn!("the metrics recorded at shutdown were not all published in time");
        }
        match ended {
            Ended::Completed => tracing::info!(
                shutdown_hook = "completed",
                elapsed_ms,
                "the function is shutting down ({why}): the shutdown hook completed"
            ),
            Ended::Panicked => tracing::error!(
                error_type = crate::error::codes::PANIC,
                shutdown_hook = "panicked",
                elapsed_ms,
                "the function is shutting down ({why}): the shutdown hook panicked"
            ),
            Ended::TimedOut => tracing::warn!(
                shutdown_hook = "timed_out",
                elapsed_ms,
                "the function is shutting down ({why}): the shutdown hook was stopped after \
                 {} ms, Lambda's shutdown budget less the time to write what is left",
                HOOK_BUDGET.as_millis()
            ),
        }
        use std::io::Write as _;
        let _ = std::io::stdout().lock().flush();
    }
}

/// Registers the internal no-op extension, so that Lambda sends SIGTERM, and runs `shutdown`
/// when it comes (or SIGINT); the process then exits with success. A registration that fails
/// is logged, and the function runs on without a hook.
pub(crate) async fn register(shutdown: Shutdown) {
    let registering = tokio::spawn(lambda_runtime::spawn_graceful_shutdown_handler(
        move || async move { shutdown.run("SIGTERM").await },
    ));
    if registering.await.is_err() {
        tracing::error!(
            error_type = crate::error::codes::CONFIG_ERROR,
            "the shutdown hook is not registered: the Lambda Extensions API refused the \
             extension that makes Lambda send SIGTERM; the function runs without it"
        );
    }
}
