//! A test function that answers with the context it ran in, as the handler received it and as
//! `helve::context()` sees it, to prove that concurrent invocations never see each other's.
//!
//! Event: any JSON object. It may hold `{"sleep_ms": 250, "wait_for": 4, "tag": "c-1"}`, all
//! optional; other keys are ignored, so real AWS payloads (SQS, API Gateway, EventBridge, ...)
//! work too, and helve finds their correlation id. The handler logs `invocation started`, then
//! waits until `wait_for` invocations have started in this process (at most 30 s, then it
//! fails with `test.RendezvousTimeout`), which proves they run at the same time; then it sleeps
//! `sleep_ms`, so that invocations finish in another order than they started; then it logs
//! `echoing the context` and answers with its context. Both lines carry the event's `tag`,
//! when it has one, so a test can tell whose line it is without trusting helve's ids.

use std::{
    process::ExitCode,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use helve::{Context, Function};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// How long the first invocations wait for each other before giving up.
const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(30);

/// How many invocations have started in this process.
static STARTED: AtomicUsize = AtomicUsize::new(0);
/// Wakes the invocations waiting for others to start.
static STARTED_CHANGED: Notify = Notify::const_new();

/// The event: every field is optional, and unknown fields are ignored.
#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    wait_for: usize,
    /// A name the test gives the event, written on the handler's log lines.
    #[serde(default)]
    tag: Option<String>,
}

async fn echo(event: Event, ctx: Context) -> Result<Value, helve::Error> {
    let tag = event.tag.as_deref();
    tracing::info!(tag, "invocation started");
    rendezvous(event.wait_for).await?;
    tokio::time::sleep(Duration::from_millis(event.sleep_ms)).await;
    tracing::info!(tag, "echoing the context");
    let current = helve::context().ok_or_else(|| {
        helve::Error::new(
            "test.NoCurrentContext",
            "helve::context() returned None inside the handler",
        )
    })?;
    Ok(json!({
        "request_id": ctx.request_id(),
        "correlation_id": ctx.correlation_id(),
        "current_request_id": current.request_id(),
        "cold_start": ctx.cold_start(),
        "function_name": ctx.function_name(),
        "function_version": ctx.function_version(),
        "memory_size_mb": ctx.memory_size_mb(),
        "invoked_function_arn": ctx.invoked_function_arn(),
        "xray_trace_id": ctx.xray_trace_id(),
        "remaining_ms": u64::try_from(ctx.remaining_time().as_millis()).unwrap_or(u64::MAX),
    }))
}

/// Counts this invocation as started, then waits until `count` invocations have.
async fn rendezvous(count: usize) -> Result<(), helve::Error> {
    STARTED.fetch_add(1, Ordering::SeqCst);
    STARTED_CHANGED.notify_waiters();
    let all_started = async {
        loop {
            // Registered before the check, so a start between the check and the wait wakes it.
            let changed = STARTED_CHANGED.notified();
            if STARTED.load(Ordering::SeqCst) >= count {
                return;
            }
            changed.await;
        }
    };
    tokio::time::timeout(RENDEZVOUS_TIMEOUT, all_started)
        .await
        .map_err(|_| {
            helve::Error::new(
                "test.RendezvousTimeout",
                format!(
                    "only {} of {count} invocations started together",
                    STARTED.load(Ordering::SeqCst)
                ),
            )
        })
}

fn main() -> ExitCode {
    Function::new(echo).service("context-echo").run()
}
