//! helve's tower layers, one concern each. [`Function`](crate::Function) stacks them for you;
//! each also works on its own, around any `tower::Service`, for teams that build their own
//! `lambda_runtime` stack.
//!
//! ```no_run
//! use helve::layers::{CatchPanicLayer, ContextLayer, RawEventLayer, LoggingLayer};
//! use helve::{Context, Invocation, Payload, Settings};
//! use lambda_runtime::{Diagnostic, Runtime};
//! use serde_json::Value;
//! use tower::{ServiceBuilder, service_fn};
//!
//! async fn handler(invocation: Invocation<Payload<Value>>) -> Result<Value, Diagnostic> {
//!     let ctx: Context = invocation.context;
//!     tracing::info!("handling {}", ctx.correlation_id());
//!     Ok(serde_json::json!({ "request": ctx.request_id() }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     let settings = Settings::from_env(Some("orders"))?;
//!     helve::logging::install(&settings);
//!     let service = ServiceBuilder::new()
//!         .layer(ContextLayer::new(settings.clone()))
//!         .layer(LoggingLayer::new(&settings))
//!         .layer(CatchPanicLayer::new())
//!         .service(service_fn(handler));
//!     // The event layer reads the raw payload (correlation ids, event logging), so it goes
//!     // on the runtime itself.
//!     Runtime::new(service)
//!         .layer(RawEventLayer::default())
//!         .run()
//!         .await
//! }
//! ```

mod context;
mod event;
mod logging;
mod metrics;
mod panic;

pub use context::{ContextLayer, ContextService};
pub use event::{Correlation, FindCorrelationId, RawEventLayer, RawEventService};

/// The old name of [`RawEventLayer`].
#[deprecated(
    note = "renamed `RawEventLayer`: it reads the raw event (correlation id, event logging)"
)]
pub type EventLayer = RawEventLayer;
/// The old name of [`RawEventService`].
#[deprecated(note = "renamed `RawEventService`")]
pub type EventService<S> = RawEventService<S>;
pub use logging::{BUFFER_FLUSH_MARGIN, LoggingFuture, LoggingLayer, LoggingService};
pub use metrics::{MetricsFuture, MetricsLayer, MetricsService};
#[cfg(any(
    feature = "cfn",
    feature = "batch",
    feature = "http",
    feature = "idempotency"
))]
pub(crate) use panic::CatchUnwind;
#[cfg(feature = "batch")]
pub(crate) use panic::catch;
pub use panic::{CatchPanic, CatchPanicFuture, CatchPanicLayer};

use tower::Layer as _;

use crate::{Settings, context::Mode};

/// helve's layers around an innermost service, outermost first: context, logging, metrics,
/// panic safety. The event layer goes on the runtime itself, around all of them.
pub type Stack<S> = ContextService<LoggingService<MetricsService<CatchPanic<S>>>>;

/// Stacks helve's layers around `inner`: the one place they are composed.
pub(crate) fn stack<S>(
    inner: S,
    settings: &Settings,
    mode: Mode,
    logging: LoggingLayer,
    metrics: MetricsLayer,
) -> Stack<S> {
    ContextLayer::new(settings.clone())
        .mode(mode)
        .layer(logging.layer(metrics.layer(CatchPanicLayer::new().layer(inner))))
}
