//! CloudFormation custom resources that always answer (feature `cfn`).
//!
//! A handler whose event is a [`CustomResource<P>`] handles Create, Update and Delete; helve
//! sends CloudFormation its answer with an HTTP PUT to the request's pre-signed `ResponseURL`.
//! Whatever happens, an answer goes out before the function's deadline, so a stack never waits
//! an hour for one:
//!
//! | What happened | Status | `PhysicalResourceId` | `Reason` |
//! |---|---|---|---|
//! | the handler returned `Ok` | `SUCCESS` | the handler's, or the default below | (none) |
//! | the handler returned `Err` | `FAILED` | the existing one; on Create, the failed-Create id | the error and its sources |
//! | the handler panicked | `FAILED` | as above | `the handler panicked: ...` |
//! | `ResourceProperties` (or `OldResourceProperties`) do not decode or validate, or their JSON cannot be read at all | `FAILED`, the handler is not called | as above | the field and what is wrong |
//! | the handler still runs when the deadline margin starts (2 s before the deadline) | `FAILED`, the handler's future is dropped | as above | says so |
//! | a Delete of a resource whose Create failed | `SUCCESS`, the handler is not called | the failed-Create id | (none) |
//! | an unknown `RequestType` | `FAILED` | as above | names it |
//!
//! # The physical resource id
//!
//! On Create, the default is stable for the stack and the resource:
//! `<stack name>-<logical id>-<12 hex digits>`; on Update and Delete, the existing id. Return
//! [`Outcome::physical_resource_id`] to choose one: a new id on Update tells CloudFormation the
//! resource was replaced, and it sends a Delete for the old id once the stack update completes.
//!
//! When a Create fails, helve answers with the id `helve:create-failed:<RequestId>`.
//! CloudFormation then rolls back with a Delete carrying that id, which helve answers `SUCCESS`
//! without calling the handler: there is nothing to delete, and the rollback cannot hang on a
//! handler that fails again.
//!
//! # The answer
//!
//! The body has `Status`, `Reason` (on `FAILED`), `PhysicalResourceId`, `StackId`,
//! `RequestId`, `LogicalResourceId`, `NoEcho` and `Data`, and stays within the 4096 bytes
//! CloudFormation accepts: a long `Reason` is truncated; a `Data` too large to fit turns the
//! answer into `FAILED` with a `Reason` saying so. It is sent with an empty `Content-Type` (a
//! set one breaks the URL's signature), over HTTPS with rustls and the Mozilla root
//! certificates, or plain HTTP. Network errors and 5xx answers are retried with exponential
//! backoff and jitter, up to 5 attempts, all before the deadline; each attempt is logged. The
//! URL's query (its signature) is never logged.
//!
//! Once the answer is sent, the invocation succeeds: CloudFormation reads the `ResponseURL`,
//! not the function's result. If it cannot be sent, the body is logged at ERROR (with `Data`
//! masked when `NoEcho` is set) and the invocation fails with
//! `helve.CustomResourceNotAnswered`, so the stack's wait shows up in the function's errors.
//! In [local mode](crate::guide::local_mode) nothing is sent: the body is printed as the
//! function's response.
//!
//! # Properties
//!
//! CloudFormation sends every property value as a string (`Port: 5432` arrives as `"5432"`):
//! decode numbers and booleans with [`from_string`]. helve removes the `ServiceToken` and
//! `ServiceTimeout` properties before decoding, so `P` names only your own. When `P` implements
//! `validator::Validate`, `#[helve::handler]` validates `ResourceProperties` before calling the
//! handler; `OldResourceProperties` are decoded, not validated (they were valid when they were
//! sent). Give a new property a default (`#[serde(default)]`) so that the Update that adds it
//! can still decode the old ones.
//!
//! ```no_run
//! use helve::cfn::{CustomResource, Outcome, RequestType, from_string};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, validator::Validate)]
//! #[serde(rename_all = "PascalCase")]
//! struct Schema {
//!     #[validate(length(min = 1, max = 63))]
//!     database: String,
//!     #[serde(deserialize_with = "from_string")]
//!     #[validate(range(min = 1))]
//!     version: u32,
//! }
//!
//! #[helve::handler(service = "migrations")]
//! async fn migrate(request: CustomResource<Schema>) -> Result<Outcome, helve::Error> {
//!     match request.request_type() {
//!         RequestType::Create | RequestType::Update => {
//!             let schema = request.properties();
//!             // ... migrate `schema.database` up to `schema.version`, idempotently ...
//!             Ok(Outcome::new().data(serde_json::json!({ "Version": schema.version })))
//!         }
//!         RequestType::Delete => Ok(Outcome::new()),
//!     }
//! }
//! ```
//!
//! `#[helve::handler]` also takes the Lambda `RequestId` of CloudFormation's request as the
//! correlation id of every log line, and `custom_resource(deadline_margin_ms = 5000)` changes
//! the deadline margin. Without the attribute, wrap the handler with [`custom_resource`].

mod body;
mod handler;
mod outcome;
mod physical_id;
mod request;
mod send;

pub use body::MAX_BODY_BYTES;
#[cfg(feature = "fuzzing")]
pub(crate) use handler::answer_for_fuzzing;
pub use handler::{AnswerFuture, CustomResourceHandler, DEFAULT_DEADLINE_MARGIN, custom_resource};
pub use outcome::{Answered, IntoOutcome, NotAnswered, Outcome};
pub use physical_id::{FAILED_CREATE_PREFIX, MAX_PHYSICAL_ID_BYTES, is_failed_create};
pub use request::{CustomResource, RawRequest, RequestType, from_string};

#[cfg(test)]
mod tests;
