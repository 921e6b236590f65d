//! What the integration tests share beside the test kit (`helve::testing`, whose Runtime API,
//! ResponseURL recorder and log reading these re-export): a Lambda Runtime API server on
//! 127.0.0.1 ([`RuntimeApi`]),
//! the binaries under test, built once and started as Lambda starts them ([`binary`],
//! [`Launch`], [`Process`]), and their log lines, parsed ([`log_lines`], [`InvocationKeys`]).
//!
//! ```ignore
//! let mut api = RuntimeApi::start().await;
//! let function = api.function("example-hello").spawn();
//! api.push("req-1", r#"{"name":"Ada"}"#);
//! assert_eq!(
//!     api.next_outcome().await,
//!     Outcome::Response { request_id: "req-1".into(), body: json!({"message": "Hello, Ada!"}) }
//! );
//! ```
//!
//! Every wait is bounded by [`HANG_GUARD`]: a function that never answers fails its test with a
//! message (and the function's output) instead of hanging the suite. It is a guard against
//! hangs, never an assertion about speed.

// Each test binary uses its own part of the support code.
#![allow(dead_code, unused_imports)]

mod cloudwatch;
mod dynamodb_faults;
mod lambda;
mod logs;
mod moto;
mod parameters;
mod process;
mod response_url;
mod runtime_api;
mod soak;
mod xray;

pub(crate) use cloudwatch::{Answer, CloudWatch, Datum, PUT_METRIC_DATA_PATH, PutRequest};
pub(crate) use dynamodb_faults::{DynamoDbFaults, WriteAnswer, WriteCall};
pub(crate) use lambda::{
    CLIENT_CONTEXT_LIMIT, EVENT_PAYLOAD_LIMIT, INVOKE_PATH_PREFIX, InvocationKind, InvokeAnswer,
    InvokeRequest, LOG_TAIL_LIMIT, LambdaInvoke, REQUEST_ENTITY_TOO_LARGE, REQUEST_TOO_LARGE,
    SYNC_PAYLOAD_LIMIT, encode_client_context,
};
pub(crate) use logs::{
    InvocationKeys, LogLine, READY, emf_documents, fields, init_line, invocation_key_order,
    is_rfc3339_utc_millis, is_uuid_v4, log_lines, without_init_duration,
};
#[cfg(feature = "dynamodb")]
pub(crate) use moto::create_table;
pub(crate) use moto::{DynamoDbProxy, Moto};
pub(crate) use parameters::{
    APPCONFIG_PORT_VARIABLE, AgentRequest, AppConfigAgent, AppConfigData, DataOperation,
    DataRequest, ExtensionRequest, PARAMETERS_SECRETS_PORT_VARIABLE, ParameterType,
    ParametersExtension, Route, TOKEN_HEADER, url_encode,
};
pub(crate) use process::{Exit, Launch, Process, binary, local};
pub(crate) use response_url::{Received, ResponseUrl};
pub(crate) use runtime_api::{DEFAULT_TIMEOUT, Outcome, Pushed, RuntimeApi};
pub(crate) use soak::{Figures, Memory, Soak, SoakProcess, SplitMix, soak_binary};
pub(crate) use xray::{DAEMON_HEADER, XRayDaemon, normalised};

/// The longest any test waits for a function: the test kit's guard, generous, so that only a
/// real hang trips it.
pub(crate) use helve::testing::HANG_GUARD;

/// The path of a file in the workspace, from its path relative to the workspace root.
pub(crate) fn workspace_file(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The contents of a file in the workspace, with a clear failure when it is missing.
pub(crate) fn read_workspace_file(relative: &str) -> String {
    let path = workspace_file(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}
