//! The test kit (feature `testing`): a function's tests run its invocations in-process
//! through the same stack as on Lambda, and assert what a user sees: the response, the log
//! lines, the metrics, the records that failed, the answer a custom resource sends.
//!
//! ```
//! use helve::testing::{Level, TestFunction, fixtures};
//! use serde_json::{Value, json};
//!
//! async fn on_message(event: Value, _ctx: helve::Context) -> Result<Value, helve::Error> {
//!     tracing::warn!(records = event["Records"].as_array().map_or(0, Vec::len), "received");
//!     Ok(json!({}))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // The init step runs once; each invocation after it is one more on the same environment.
//! let mut function = TestFunction::start(on_message).await.unwrap();
//! let outcome = function
//!     .invoke(fixtures::sqs().message_id("m-1").body(json!({"job": 7})))
//!     .await;
//! outcome.assert_response();
//! outcome.logs().at(Level::WARN).message("received").with("records", 1).assert_one();
//! # }
//! ```
//!
//! - [`TestFunction`] (and [`invoke`], for one invocation): a [`Function`](crate::Function) or
//!   a bare handler, its init step run once, then invocations with a [`TestContext`] (request
//!   id, deadline, trace header, cold start); each gives an [`Outcome`].
//! - [`Outcome`]: the response or error, [`Logs`], [`Metrics`], the batch item failures, the
//!   [`HttpResponse`], the answer a custom resource PUT to CloudFormation.
//! - [`fixtures`]: events of every source, a few fields changed.
//! - For end-to-end tests of a built binary: [`runtime_api::RuntimeApi`], a Lambda Runtime API
//!   on 127.0.0.1, and [`ResponseUrl`], a CloudFormation `ResponseURL` that records what it
//!   receives; [`log_lines`] and [`emf_documents`] read the binary's stdout.
//!
//! Logs and metrics are kept apart per test function: each has its own log subscriber, set
//! while its invocation runs (a task the handler spawns with `tokio::spawn` logs to the
//! process's default subscriber instead; `Context::scope` keeps the invocation's), and helve's
//! `metrics` recorder is installed once for the test process and sends each invocation's
//! metrics to its own context. The guide's page is [testing](crate::guide::testing).

mod capture;
mod event;
pub mod fixtures;
mod function;
mod logs;
mod metrics;
mod outcome;
mod response_url;
pub mod runtime_api;

use std::time::Duration;

#[cfg(test)]
pub(crate) use capture::Captured;
pub use event::IntoEvent;
pub use function::{
    FUNCTION_NAME, FromFunction, FromHandler, InitFailure, IntoFunction, TIMEOUT, TestContext,
    TestFunction, TestFunctionBuilder, invoke,
};
pub use logs::{Level, LogLine, Logs, emf_documents, is_rfc3339_utc_millis, log_lines};
pub use metrics::{Metric, Metrics};
pub use outcome::{HttpResponse, Outcome};
pub use response_url::{Received, ResponseUrl};

/// The longest the kit's servers wait for a function ([`RuntimeApi::next_outcome`],
/// [`ResponseUrl::next`]): generous, so that only a real hang trips it; a guard, never an
/// assertion about speed.
///
/// [`RuntimeApi::next_outcome`]: runtime_api::RuntimeApi::next_outcome
pub const HANG_GUARD: Duration = Duration::from_secs(60);
