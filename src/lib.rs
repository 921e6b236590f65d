//! helve turns a plain async function into a production-grade AWS Lambda function.
//!
//! ```no_run
//! use helve::prelude::*;
//!
//! #[derive(Deserialize)]
//! struct Greeting {
//!     name: String,
//! }
//!
//! #[derive(Serialize)]
//! struct Reply {
//!     message: String,
//! }
//!
//! #[helve::handler(service = "greeter")]
//! async fn greet(event: Greeting, ctx: &Context) -> Result<Reply, helve::Error> {
//!     Ok(Reply {
//!         message: format!("Hello, {}! (request {})", event.name, ctx.request_id()),
//!     })
//! }
//! ```
//!
//! `#[helve::handler]` keeps `greet` as it is (tests call it by name) and writes `main`: on
//! Lambda it serves invocations from the Runtime API; on a laptop, `cargo run -- event.json`
//! runs it once on an event file ([local mode](guide::local_mode)).
//!
//! Every line logged through `tracing` is one JSON object with the keys of Powertools for AWS
//! Lambda and the invocation's ids, correlation id included ([logging](guide::logging)).
//! With a metrics namespace, the `metrics` facade's counters, gauges and histograms are written
//! as CloudWatch EMF documents per invocation ([metrics](guide::metrics)).
//! Every invocation gets a [`Context`] (request id, cold start, deadline, trace id, ...);
//! an event that does not decode is reported as `helve.InvalidEvent` without calling the
//! handler; a panic fails only its own invocation; errors reach Lambda with a stable
//! `errorType` ([`FunctionError`]). Everything the attribute does can be written by hand with
//! [`Function`].
//!
//! # Feature flags
//!
//! | Name | Description | Default |
//! |---|---|---|
//! | (none) | the foundation: handler, init, context, errors, logs, metrics, local mode | always |
//! | `axum` | [many routes in one function](guide::http): helve's extractors and answers in an axum `Router`, so one route function serves as a single-route handler and as a route; turns on `http` | off |
//! | `batch` | [batches](batch) from SQS (standard and FIFO), Kinesis and DynamoDB Streams, with partial failures; turns on `validate` | off |
//! | `cfn` | [CloudFormation custom resources](cfn) that always answer; an HTTPS client (hyper and rustls, no OpenSSL); turns on `validate` | off |
//! | `cloudwatch` | [metrics published with PutMetricData](metrics::cloudwatch) through aws-sdk-cloudwatch instead of EMF; an HTTPS client (rustls and ring) | off |
//! | `dynamodb` | aws-sdk-dynamodb (no aws-config): the [`BatchWriter`](dynamodb::BatchWriter) that loses no item; with `idempotency`, the [DynamoDB store](idempotency::DynamoDbStore); an HTTPS client (rustls and ring) | off |
//! | `http` | [HTTP functions](http) behind API Gateway, ALB and Function URLs: extractors, problem+json errors, tower-http layers, axum routers; turns on `validate` | off |
//! | `idempotency` | [handlers that run once per idempotency key](idempotency) and replay the stored response, with keys a Powertools function computes the same | off |
//! | `invoke` | [calling other functions](invoke): a typed client on aws-sdk-lambda (no aws-config) that decodes the callee's errors, retries throttling within the caller's deadline, refuses oversized payloads, and passes the correlation id and trace along | off |
//! | `parameters` | [parameters and secrets](parameters) from SSM Parameter Store, Secrets Manager and AppConfig, cached and typed, secrets as `Secret<T>` and masked in logs, through the AWS Parameters and Secrets Lambda Extension (plain HTTP, no SDK); `parameters-ssm`, `parameters-secrets`, `parameters-appconfig` add the SDK backend of each service | off |
//! | `s3` | [S3](s3): notifications from S3, SQS, SNS and EventBridge with keys decoded (`SqsMessage<S3Notification>` acknowledges `s3:TestEvent`), an object's lines streamed from GetObject (aws-sdk-s3, gzip), and with `dynamodb` the [ingest](s3::ingest) of JSON lines into a table | off |
//! | `testing` | [the test kit](testing), for a function's tests (a dev-dependency feature): invocations run in-process through the whole stack with their log lines, metrics, batch failures and custom resource answers, assertions on them, event fixtures of every source, a Runtime API and a `ResponseURL` on 127.0.0.1 for end-to-end tests of a binary | off |
//! | `tracer` | [traces in AWS X-Ray](tracer): the function's `tracing` spans as subsegments (or OTLP spans), sent to the X-Ray daemon over UDP with no SDK; `trace_header()` and `traceparent()` for outgoing calls | off |
//! | `validate` | [`validation`] of decoded events with the `validator` crate | off |
//!
//! The areas to come each get a feature (`testing`), so a function pays only
//! for what it uses and the default build pulls no AWS SDK crate.
//!
//! # Examples
//!
//! Deployable starters live in the repository's `examples/` folder: `hello` (JSON in, JSON
//! out), `orders-api` (an HTTP API with validation, typed errors and CORS), `scheduled` (an
//! EventBridge schedule), `sqs-worker` (an SQS job worker with partial batch failures),
//! `s3-ingest` (S3 files through SQS into DynamoDB, one item per line), `task-api` (tasks
//! accepted with 202 and handed to a processor function with a fire-and-forget invoke) and
//! `custom-resource` (a database migration run by CloudFormation at deploy time). See the
//! [guide] for each topic.

#![cfg_attr(docsrs, feature(doc_cfg))]

// `::helve` paths written by helve's macros resolve in helve's own tests too.
#[cfg(test)]
extern crate self as helve;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
#[cfg(any(
    feature = "cloudwatch",
    feature = "dynamodb",
    feature = "s3",
    feature = "invoke",
    feature = "parameters-ssm",
    feature = "parameters-secrets",
    feature = "parameters-appconfig"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "cloudwatch",
        feature = "dynamodb",
        feature = "s3",
        feature = "invoke",
        feature = "parameters-ssm",
        feature = "parameters-secrets",
        feature = "parameters-appconfig"
    )))
)]
pub mod aws;
#[cfg(feature = "batch")]
#[cfg_attr(docsrs, doc(cfg(feature = "batch")))]
pub mod batch;
#[cfg(feature = "cfn")]
#[cfg_attr(docsrs, doc(cfg(feature = "cfn")))]
pub mod cfn;
pub mod config;
pub mod context;
pub mod correlation;
mod decode;
#[cfg(feature = "dynamodb")]
#[cfg_attr(docsrs, doc(cfg(feature = "dynamodb")))]
pub mod dynamodb;
pub mod error;
mod fnv;
pub mod function;
pub mod handler;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
#[cfg(feature = "idempotency")]
#[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
pub mod idempotency;
#[cfg(feature = "invoke")]
#[cfg_attr(docsrs, doc(cfg(feature = "invoke")))]
pub mod invoke;
mod json_escape;
pub mod layers;
mod local;
pub mod logging;
pub mod metrics;
mod outcome;
#[cfg(feature = "parameters")]
#[cfg_attr(docsrs, doc(cfg(feature = "parameters")))]
pub mod parameters;
mod runtime_api;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub mod s3;
mod shutdown;
#[cfg(test)]
mod test_support;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(feature = "tracer")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracer")))]
pub mod tracer;
#[cfg(feature = "validate")]
#[cfg_attr(docsrs, doc(cfg(feature = "validate")))]
pub mod validation;

// What a function's code names: the rest lives in its module (`helve::config`,
// `helve::context`, `helve::handler`, `helve::function`, `helve::layers`, `helve::error`).
pub use config::env;
pub use context::{Context, context};
pub use error::{ConfigError, Error, ErrorStatus, FunctionError};
pub use function::Function;
pub use helve_macros::{ErrorStatus, handler};
#[cfg(feature = "validate")]
#[cfg_attr(docsrs, doc(cfg(feature = "validate")))]
pub use validator;

// The same items at the crate root, as helve named them before they moved to their modules:
// they keep working, and the documentation shows them where they live.
#[doc(hidden)]
pub use config::{DEFAULT_SERVICE, Options, Settings};
#[doc(hidden)]
pub use context::{ContextBuilder, Invocation, Mode};
#[doc(hidden)]
pub use error::{BoxError, IntoDiagnostic, InvalidEvent, Panic};
#[doc(hidden)]
pub use function::{FunctionService, Init, NoInit};
#[doc(hidden)]
pub use handler::FallbackAnswer;
#[doc(hidden)]
pub use handler::{Handler, HandlerFuture, HandlerService, Payload, Stateful, Stateless};
#[doc(hidden)]
pub use metrics::MetricsConfig;

/// What most handlers need, in one import.
pub mod prelude {
    pub use crate::{Context, Error, Function, FunctionError};
    pub use serde::{Deserialize, Serialize};
}

/// The guide, one page per topic. The same pages are in the repository's `docs/` folder.
pub mod guide {
    // A page writes its links reference-style and defines them at its end for GitHub (`.md`
    // files, docs.rs URLs). `guide_links/<page>.md`, included before the page, defines the same
    // names as rustdoc paths, and the first definition wins; a definition of an item behind
    // another feature than the page's is included with that feature only, and without it the
    // page's docs.rs URL stands. tests/docs_links.rs checks the pages.
    #[doc = include_str!("guide_links/getting-started.md")]
    #[doc = include_str!("../docs/getting-started.md")]
    pub mod getting_started {}
    #[doc = include_str!("guide_links/handler-and-init.md")]
    #[doc = include_str!("../docs/handler-and-init.md")]
    pub mod handler_and_init {}
    #[doc = include_str!("guide_links/context.md")]
    #[doc = include_str!("../docs/context.md")]
    pub mod context {}
    #[doc = include_str!("../docs/local-mode.md")]
    pub mod local_mode {}
    #[cfg_attr(feature = "http", doc = include_str!("guide_links/errors-http.md"))]
    #[doc = include_str!("guide_links/errors.md")]
    #[doc = include_str!("../docs/errors.md")]
    pub mod errors {}
    #[doc = include_str!("guide_links/logging.md")]
    #[doc = include_str!("../docs/logging.md")]
    pub mod logging {}
    #[cfg_attr(
        feature = "cloudwatch",
        doc = include_str!("guide_links/metrics-cloudwatch.md")
    )]
    #[doc = include_str!("guide_links/metrics.md")]
    #[doc = include_str!("../docs/metrics.md")]
    pub mod metrics {}
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    #[doc = include_str!("guide_links/http.md")]
    #[doc = include_str!("../docs/http.md")]
    pub mod http {}
    #[cfg(feature = "batch")]
    #[cfg_attr(docsrs, doc(cfg(feature = "batch")))]
    #[doc = include_str!("guide_links/batch.md")]
    #[doc = include_str!("../docs/batch.md")]
    pub mod batch {}
    #[cfg(feature = "cfn")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cfn")))]
    #[doc = include_str!("../docs/custom-resources.md")]
    pub mod custom_resources {}
    #[cfg(feature = "idempotency")]
    #[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
    #[cfg_attr(feature = "http", doc = include_str!("guide_links/idempotency-http.md"))]
    #[cfg_attr(
        feature = "dynamodb",
        doc = include_str!("guide_links/idempotency-dynamodb.md")
    )]
    #[doc = include_str!("guide_links/idempotency.md")]
    #[doc = include_str!("../docs/idempotency.md")]
    pub mod idempotency {}
    #[cfg(all(feature = "s3", feature = "dynamodb", feature = "batch"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(all(feature = "s3", feature = "dynamodb", feature = "batch")))
    )]
    #[doc = include_str!("guide_links/s3-ingest.md")]
    #[doc = include_str!("../docs/s3-ingest.md")]
    pub mod s3_ingest {}
    #[cfg(feature = "invoke")]
    #[cfg_attr(docsrs, doc(cfg(feature = "invoke")))]
    #[doc = include_str!("guide_links/invoke.md")]
    #[doc = include_str!("../docs/invoke.md")]
    pub mod invoke {}
    #[cfg(feature = "parameters")]
    #[cfg_attr(docsrs, doc(cfg(feature = "parameters")))]
    #[doc = include_str!("guide_links/parameters.md")]
    #[doc = include_str!("../docs/parameters.md")]
    pub mod parameters {}
    #[cfg(feature = "tracer")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracer")))]
    #[doc = include_str!("guide_links/tracing.md")]
    #[doc = include_str!("../docs/tracing.md")]
    pub mod tracing {}
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    #[doc = include_str!("guide_links/testing.md")]
    #[doc = include_str!("../docs/testing.md")]
    pub mod testing {}
    #[doc = include_str!("../docs/performance.md")]
    pub mod performance {}
    #[doc = include_str!("guide_links/deploy.md")]
    #[doc = include_str!("../docs/deploy.md")]
    pub mod deploy {}
    #[doc = include_str!("../docs/architecture.md")]
    pub mod architecture {}
}

/// The items given, when helve has the feature `axum` (an error's axum `IntoResponse`, which
/// `#[derive(helve::ErrorStatus)]` writes); nothing otherwise.
#[cfg(feature = "axum")]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_axum {
    ($($item:item)*) => {
        $($item)*
    };
}

/// The items given, when helve has the feature `axum`; nothing otherwise.
#[cfg(not(feature = "axum"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_axum {
    ($($item:item)*) => {};
}

/// What `#[helve::handler]` generates code against. Not a public API: it changes without
/// notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::{Context, Function, Init};

    /// What `#[derive(helve::ErrorStatus)]` writes an axum `IntoResponse` with (feature `axum`).
    #[cfg(feature = "axum")]
    pub mod axum {
        pub use crate::http::__axum_error_response as error_response;
        pub use ::axum::response::{IntoResponse, Response};
    }
    pub use tracing;
    pub use {
        crate::error::IntoDiagnostic, crate::logging::DEFAULT_BUFFER_BYTES, serde::Serialize,
    };

    /// What `helve::logging::error!` and its siblings make of an `error` field.
    pub mod logging {
        pub use crate::logging::error_field::*;
    }
    pub use core::convert::Infallible;
    pub use http::StatusCode;
    pub use std::process::ExitCode;

    /// Gives the handler's return value the `Result` shape the builder expects.
    pub fn infallible<R>(response: R) -> Result<R, Infallible> {
        Ok(response)
    }

    /// The event type must deserialize from the payload.
    pub fn assert_event<T: serde::de::DeserializeOwned + Send + 'static>() {}

    /// The state is shared by concurrent invocations.
    pub fn assert_state<S: Send + Sync + 'static>() {}

    /// The status of an `ErrorStatus` variant; the derive checks at compile time that it is a
    /// 4xx or 5xx status.
    pub fn status_code(code: u16) -> http::StatusCode {
        http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The response must serialize to the function's result.
    pub fn assert_response<R: serde::Serialize + Send + 'static>() {}

    /// The error must have a stable `errorType`.
    pub fn assert_error<E: crate::IntoDiagnostic + Send + 'static>() {}

    /// The error type of a `Result` alias with one argument (`io::Result<T>`).
    pub trait ResultParts {
        /// The error type.
        type Error;
    }

    impl<T, E> ResultParts for Result<T, E> {
        type Error = E;
    }

    /// An HTTP handler's parameters are extractors.
    #[cfg(feature = "http")]
    pub fn assert_extractor<T: crate::http::FromRequest>() {}

    /// An HTTP handler answers a response.
    #[cfg(feature = "http")]
    pub fn assert_http_response<R: crate::http::IntoResponse>() {}

    /// An HTTP handler's error maps to a status.
    #[cfg(feature = "http")]
    pub fn assert_error_status<E: crate::ErrorStatus + Send + 'static>() {}

    /// A batch handler takes one record.
    #[cfg(feature = "batch")]
    pub fn assert_record<R: crate::batch::Record>() {}

    /// A batch handler answers `()` for a record.
    #[cfg(feature = "batch")]
    pub fn assert_record_response<R: crate::batch::RecordResponse>() {}

    /// A custom resource's properties must deserialize.
    #[cfg(feature = "cfn")]
    pub fn assert_properties<P: serde::de::DeserializeOwned + Send + 'static>() {}

    /// A custom resource handler answers an [`Outcome`](crate::cfn::Outcome) or `()`.
    #[cfg(feature = "cfn")]
    pub fn assert_outcome<R: crate::cfn::IntoOutcome + serde::Serialize + Send + 'static>() {}
}
