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
#[cfg(feature = "tracer")]
mod tracer;

pub use context::{ContextLayer, ContextService, MAX_CORRELATION_ID_BYTES};
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
pub use panic::{CatchPanic, CatchPanicFuture, CatchPanicLayer};
pub(crate) use panic::{CatchUnwind, catch};
#[cfg(feature = "tracer")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracer")))]
pub use tracer::{TracerFuture, TracerLayer, TracerService};

use tower::Layer as _;

use crate::{Settings, context::Mode};

/// helve's layers around an innermost service, outermost first: context, logging, metrics,
/// panic safety. The event layer goes on the runtime itself, around all of them.
#[cfg(not(feature = "tracer"))]
pub type Stack<S> = ContextService<LoggingService<MetricsService<CatchPanic<S>>>>;

/// helve's layers around an innermost service, outermost first: context, tracer, logging,
/// metrics, panic safety. The event layer goes on the runtime itself, around all of them.
#[cfg(feature = "tracer")]
pub type Stack<S> = ContextService<TracerService<LoggingService<MetricsService<CatchPanic<S>>>>>;

/// The layers of one function, as [`stack`] composes them.
pub(crate) struct Layers {
    pub(crate) logging: LoggingLayer,
    pub(crate) metrics: MetricsLayer,
    #[cfg(feature = "tracer")]
    pub(crate) tracer: TracerLayer,
}

/// Stacks helve's layers around `inner`: the one place they are composed.
pub(crate) fn stack<S>(inner: S, settings: &Settings, mode: Mode, layers: Layers) -> Stack<S> {
    let inner = layers
        .logging
        .layer(layers.metrics.layer(CatchPanicLayer::new().layer(inner)));
    #[cfg(feature = "tracer")]
    let inner = layers.tracer.layer(inner);
    ContextLayer::new(settings.clone()).mode(mode).layer(inner)
}
