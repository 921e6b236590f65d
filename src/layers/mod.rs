//! helve's tower layers, one concern each. [`Function`](crate::Function) stacks them for you;
//! each also works on its own, around any `tower::Service`, for teams that build their own
//! `lambda_runtime` stack.
//!
//! ```no_run
//! use helve::layers::{CatchPanicLayer, ContextLayer};
//! use helve::{Context, Invocation, Settings};
//! use lambda_runtime::{Diagnostic, LambdaEvent};
//! use serde_json::Value;
//! use tower::{service_fn, ServiceBuilder};
//!
//! async fn handler(invocation: Invocation<Value>) -> Result<Value, Diagnostic> {
//!     let ctx: Context = invocation.context;
//!     Ok(serde_json::json!({ "request": ctx.request_id() }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     let settings = Settings::from_env(Some("orders"))?;
//!     let service = ServiceBuilder::new()
//!         .layer(ContextLayer::new(settings))
//!         .layer(CatchPanicLayer::new())
//!         .service(service_fn(handler));
//!     lambda_runtime::run(service).await
//! }
//! ```

mod context;
mod panic;

pub use context::{ContextLayer, ContextService};
pub use panic::{CatchPanic, CatchPanicFuture, CatchPanicLayer};
