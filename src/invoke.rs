//! Calling other Lambda functions (feature `invoke`): an [`Invoker`] built once, in the init
//! step, that calls a function and waits for its typed answer ([`Invoker::call`]), sends it
//! an event Lambda queues ([`Invoker::send`]), or checks that the call would be allowed
//! ([`Invoker::dry_run`]), with the caller's correlation id and trace passed along.
//!
//! ```no_run
//! use helve::invoke::{InvokeError, Invoker};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize)]
//! struct Quote<'a> {
//!     sku: &'a str,
//!     quantity: u32,
//! }
//!
//! #[derive(Deserialize)]
//! struct Price {
//!     cents: u64,
//! }
//!
//! # async fn example() -> Result<(), InvokeError> {
//! let invoker = Invoker::from_env(); // once, in the init step
//! let price: Price = invoker
//!     .call("pricing", &Quote { sku: "A-1", quantity: 2 })
//!     .await?;
//! invoker.send("emails", &serde_json::json!({"template": "receipt"})).await?;
//! # let _ = price.cents;
//! # Ok(()) }
//! ```
//!
//! A function that fails still answers HTTP 200, with `X-Amz-Function-Error`: the invoker
//! turns that into [`InvokeError::Function`] with the callee's `errorType` and
//! `errorMessage`, so a `helve.InvalidEvent` comes back as one. Throttling and server errors
//! are retried with backoff, never past the caller's deadline less its margin; the payload is
//! checked against Lambda's limits before anything is sent. See the
//! [invoke guide](crate::guide::invoke).

use std::{fmt, time::Duration};

use aws_sdk_lambda::{
    Client,
    primitives::Blob,
    types::{InvocationType, LogType},
};
use base64::Engine as _;
use serde::{Serialize, de::DeserializeOwned};

pub use crate::error::InvokeError;
use crate::{
    ConfigError,
    correlation::{CLIENT_CONTEXT_KEY, CLIENT_CONTEXT_TRACE_KEY, ENVELOPE_FIELD},
};

/// Lambda's limit for the payload of a synchronous call (`RequestResponse`): a payload must be
/// smaller than 6 MB (6,291,456 bytes).
pub const CALL_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// The largest payload of an event (`Event`): 1 MB.
pub const EVENT_PAYLOAD_LIMIT: usize = 1024 * 1024;

/// The longest client context Lambda accepts, base64-encoded.
pub const CLIENT_CONTEXT_LIMIT: usize = 3_583;

/// How much of the caller's remaining time is kept for itself by default: a call gives up
/// this long before the caller's deadline, leaving time to answer.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// How many times a throttled or failed (5xx) call is tried in all.
pub const MAX_ATTEMPTS: u32 = 3;

/// The backoff before the second attempt; it doubles for each later one, with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Calls other Lambda functions. Build it once (in the init step) and share it: it holds one
/// SDK client, its connections and credentials.
#[derive(Clone)]
pub struct Invoker {
    client: Result<Client, ConfigError>,
    margin: Duration,
    log_tail: bool,
}

impl fmt::Debug for Invoker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invoker")
            .field("configured", &self.client.is_ok())
            .field("margin", &self.margin)
            .field("log_tail", &self.log_tail)
            .finish_non_exhaustive()
    }
}

/// How one invocation is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Call,
    Send,
    DryRun,
}

impl Invoker {
    /// An invoker on the configuration aws-config loads
    /// (`aws_config::load_defaults(BehaviorVersion::latest()).await`). The SDK's own retries are
    /// turned off: the invoker retries throttling and server errors itself, within the
    /// caller's deadline.
    pub fn new(config: &aws_types::SdkConfig) -> Self {
        let config = aws_sdk_lambda::config::Builder::from(config)
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .build();
        Self::with_client(Ok(Client::from_conf(config)))
    }

    /// An invoker on `client`, configured as you like it; its own retries are turned off.
    pub fn from_client(client: Client) -> Self {
        let config = client
            .config()
            .to_builder()
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .build();
        Self::with_client(Ok(Client::from_conf(config)))
    }

    /// An invoker configured from what Lambda puts in the environment, without aws-config
    /// (which costs tens of milliseconds of cold start): the region `AWS_REGION`, the role's
    /// credentials `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and
    /// the endpoint `AWS_ENDPOINT_URL_LAMBDA` (or `AWS_ENDPOINT_URL`) when one is set. A
    /// variable that is missing (only possible outside Lambda) is reported by every call.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        use aws_sdk_lambda::config::retry::RetryConfig;
        let client =
            crate::aws::Environment::read(var, "AWS_ENDPOINT_URL_LAMBDA").map(|environment| {
                let config = crate::aws::config_from_environment!(aws_sdk_lambda, environment)
                    .retry_config(RetryConfig::disabled());
                Client::from_conf(config.build())
            });
        Self::with_client(client)
    }

    fn with_client(client: Result<Client, ConfigError>) -> Self {
        Self {
            client,
            margin: DEFAULT_DEADLINE_MARGIN,
            log_tail: false,
        }
    }

    /// Keeps `margin` of the caller's remaining time for the caller: a call, its retries and
    /// the wait for its answer end that long before the caller's deadline. Default:
    /// [`DEFAULT_DEADLINE_MARGIN`].
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Asks Lambda for the last 4 KB of the callee's log with each call (`X-Amz-Log-Type:
    /// Tail`), given in [`InvokeError::Function::log_tail`] when the callee fails. Off by
    /// default.
    pub fn log_tail(mut self, on: bool) -> Self {
        self.log_tail = on;
        self
    }

    /// The SDK client.
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref().ok()
    }

    /// Calls `function` (a name, an ARN, or `name:alias`) with `request` and waits for its
    /// answer, decoded as a `Resp` (`RequestResponse`). The callee gets the caller's
    /// correlation id and trace header in the client context.
    pub async fn call<Req, Resp>(&self, function: &str, request: &Req) -> Result<Resp, InvokeError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let payload = encode(function, request, None)?;
        let answer = self.invoke(function, payload, Kind::Call).await?;
        crate::decode::json_slice::<Resp>(&answer).map_err(|error| InvokeError::Decode {
            function: function.to_owned(),
            reason: format!("at `{}`: {error}", error.path_or_root()),
        })
    }

    /// Sends `request` to `function` as an event (`Event`): Lambda queues it and this returns
    /// once Lambda accepted it (202), without waiting for the function. A JSON object gets
    /// the caller's correlation id beside its fields, in `"_helve":{"correlation_id":...}`
    /// (the client context does not reach an event's callee); any other payload goes as it is.
    pub async fn send<Req>(&self, function: &str, request: &Req) -> Result<(), InvokeError>
    where
        Req: Serialize + ?Sized,
    {
        let correlation_id = crate::context().map(|context| context.correlation_id().to_owned());
        let payload = encode(function, request, correlation_id.as_deref())?;
        self.invoke(function, payload, Kind::Send).await.map(drop)
    }

    /// Checks that `function` exists and that this function may call it with `request`
    /// (`DryRun`, 204): nothing runs.
    pub async fn dry_run<Req>(&self, function: &str, request: &Req) -> Result<(), InvokeError>
    where
        Req: Serialize + ?Sized,
    {
        let payload = encode(function, request, None)?;
        self.invoke(function, payload, Kind::DryRun).await.map(drop)
    }

    async fn invoke(
        &self,
        function: &str,
        payload: Vec<u8>,
        kind: Kind,
    ) -> Result<Vec<u8>, InvokeError> {
        let limit = if kind == Kind::Send {
            EVENT_PAYLOAD_LIMIT
        } else {
            CALL_PAYLOAD_LIMIT
        };
        // Lambda takes a call's payload only when it is smaller than 6 MB ("Request must be
        // smaller than 6291456 bytes"), and an event's up to 1 MB.
        let over = if kind == Kind::Send {
            payload.len() > limit
        } else {
            payload.len() >= limit
        };
        if over {
            return Err(InvokeError::TooLarge {
                function: function.to_owned(),
                size: payload.len(),
                limit,
            });
        }
        let context = crate::context();
        // Local mode runs one function: an event or a dry run is shown, not sent (a call needs
        // the other function's answer, so it is made, to a local endpoint if one is set).
        if kind != Kind::Call
            && context
                .as_ref()
                .is_some_and(|context| context.mode() == crate::Mode::Local)
        {
            tracing::info!(
                function,
                invocation_type = if kind == Kind::Send { "Event" } else { "DryRun" },
                payload = %String::from_utf8_lossy(&payload),
                "local mode: the invocation of `{function}` is not sent"
            );
            return Ok(Vec::new());
        }
        let client = self.client.as_ref().map_err(|error| InvokeError::Service {
            function: function.to_owned(),
            code: None,
            status: None,
            message: format!("the Lambda client is not configured: {error}"),
        })?;
        // The caller's own deadline, less its margin; none outside an invocation (the init
        // step), where the SDK's timeouts apply.
        let give_up = context.as_ref().map(|context| {
            tokio::time::Instant::now() + context.remaining_time().saturating_sub(self.margin)
        });
        let trace_header = trace_header(context.as_ref());
        let client_context = (kind == Kind::Call)
            .then(|| {
                let header = trace_header
                    .as_ref()
                    .and_then(|header| header.to_str().ok());
                client_context(context.as_ref(), header)
            })
            .flatten();
        let payload = Blob::new(payload);
        let mut attempt = 1;
        loop {
            let remaining =
                give_up.map(|at| at.saturating_duration_since(tokio::time::Instant::now()));
            if remaining.is_some_and(|remaining| remaining.is_zero()) {
                return Err(InvokeError::Deadline {
                    function: function.to_owned(),
                    remaining: Duration::ZERO,
                });
            }
            let mut request = client
                .invoke()
                .function_name(function)
                .invocation_type(match kind {
                    Kind::Call => InvocationType::RequestResponse,
                    Kind::Send => InvocationType::Event,
                    Kind::DryRun => InvocationType::DryRun,
                })
                .payload(payload.clone());
            if kind == Kind::Call && self.log_tail {
                request = request.log_type(LogType::Tail);
            }
            if let Some(client_context) = &client_context {
                request = request.client_context(client_context);
            }
            let header = trace_header.clone();
            let sent = request
                .customize()
                .mutate_request(move |request| {
                    // Lambda continues the caller's trace in the callee's.
                    if let Some(header) = &header {
                        request
                            .headers_mut()
                            .insert("x-amzn-trace-id", header.clone());
                    }
                })
                .send();
            let answer = match remaining {
                Some(remaining) => match tokio::time::timeout(remaining, sent).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        return Err(InvokeError::Deadline {
                            function: function.to_owned(),
                            remaining: Duration::ZERO,
                        });
                    }
                },
                None => sent.await,
            };
            match answer {
                Ok(output) => {
                    let body = output.payload.map(Blob::into_inner).unwrap_or_default();
                    if let Some(kind) = output.function_error {
                        return Err(function_error(
                            function,
                            &kind,
                            &body,
                            output.log_result.as_deref(),
                        ));
                    }
                    return Ok(body);
                }
                Err(error) => {
                    let status = error
                        .raw_response()
                        .map(|response| response.status().as_u16());
                    let retried = status.is_some_and(|status| status == 429 || status >= 500);
                    let backoff = backoff(attempt);
                    let time_for_it =
                        give_up.is_none_or(|at| tokio::time::Instant::now() + backoff < at);
                    if retried && attempt < MAX_ATTEMPTS && time_for_it {
                        tracing::debug!(
                            function,
                            attempt,
                            status,
                            "invoke: retrying after {} ms",
                            backoff.as_millis()
                        );
                        tokio::time::sleep(backoff).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(service_error(function, &error, status));
                }
            }
        }
    }
}

/// The backoff before attempt `attempt + 1`: 100 ms, then 200 ms, ..., each with up to half
/// of it again at random.
fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    base + base.mul_f64(fastrand::f64() / 2.0)
}

/// `request` as JSON; with `correlation_id`, a JSON object gets the `_helve` envelope field.
fn encode<Req: Serialize + ?Sized>(
    function: &str,
    request: &Req,
    correlation_id: Option<&str>,
) -> Result<Vec<u8>, InvokeError> {
    let encode_error = |error: serde_json::Error| InvokeError::Encode {
        function: function.to_owned(),
        reason: crate::decode::sanitize(&error.to_string()),
    };
    match correlation_id {
        None => serde_json::to_vec(request).map_err(encode_error),
        Some(id) => {
            let mut value = serde_json::to_value(request).map_err(encode_error)?;
            if let serde_json::Value::Object(fields) = &mut value
                && !fields.contains_key(ENVELOPE_FIELD)
            {
                fields.insert(
                    ENVELOPE_FIELD.to_owned(),
                    serde_json::json!({ CLIENT_CONTEXT_KEY: id }),
                );
            }
            serde_json::to_vec(&value).map_err(encode_error)
        }
    }
}

/// The trace header to continue in the callee: the tracer's (with the current subsegment as
/// parent) or Lambda's.
fn trace_header(context: Option<&crate::Context>) -> Option<http::HeaderValue> {
    #[cfg(feature = "tracer")]
    if let Some(header) = crate::tracer::trace_header() {
        return http::HeaderValue::from_str(&header).ok();
    }
    context
        .and_then(crate::Context::xray_trace_header)
        .and_then(|header| http::HeaderValue::from_str(header).ok())
}

/// The client context of a call: `{"custom":{"correlation_id":..,"trace_header":..}}`, base64,
/// within [`CLIENT_CONTEXT_LIMIT`] (the trace header is left out if both do not fit).
fn client_context(context: Option<&crate::Context>, trace_header: Option<&str>) -> Option<String> {
    let correlation_id = context.map(crate::Context::correlation_id)?;
    let encoded = |custom: serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .encode(ascii_json(&serde_json::json!({ "custom": custom })))
    };
    let mut custom = serde_json::json!({ CLIENT_CONTEXT_KEY: correlation_id });
    if let Some(header) = trace_header {
        custom[CLIENT_CONTEXT_TRACE_KEY] = serde_json::Value::from(header);
    }
    let full = encoded(custom);
    if full.len() <= CLIENT_CONTEXT_LIMIT {
        return Some(full);
    }
    let id_only = encoded(serde_json::json!({ CLIENT_CONTEXT_KEY: correlation_id }));
    (id_only.len() <= CLIENT_CONTEXT_LIMIT).then_some(id_only)
}

/// `value` as JSON with every character beyond ASCII escaped (`\u00e9`): Lambda hands the
/// client context to the callee in an HTTP header, which its runtime reads only as ASCII (a
/// header it cannot read stops `lambda_runtime`'s loop).
fn ascii_json(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.bytes().all(|byte| byte.is_ascii() && byte != 0x7f) {
        return text;
    }
    let mut ascii = String::with_capacity(text.len() + 16);
    let mut units = [0u16; 2];
    for character in text.chars() {
        // Visible ASCII only: DEL is not a header character either.
        if character.is_ascii() && character != '\u{7f}' {
            ascii.push(character);
        } else {
            // Only inside strings: JSON's syntax is ASCII.
            for unit in character.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    ascii
}

/// The callee's failure, from its payload `{"errorType","errorMessage"}`.
fn function_error(
    function: &str,
    kind: &str,
    body: &[u8],
    log_result: Option<&str>,
) -> InvokeError {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Reported {
        error_type: Option<String>,
        error_message: Option<String>,
    }
    let reported = serde_json::from_slice::<Reported>(body).ok();
    let error_type = reported
        .as_ref()
        .and_then(|reported| reported.error_type.clone())
        .unwrap_or_else(|| kind.to_owned());
    let error_message = reported
        .and_then(|reported| reported.error_message)
        .unwrap_or_else(|| {
            crate::json_escape::truncated(&String::from_utf8_lossy(body), 1024).to_owned()
        });
    let log_tail = log_result.and_then(|tail| {
        base64::engine::general_purpose::STANDARD
            .decode(tail)
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    });
    InvokeError::Function {
        function: function.to_owned(),
        error_type,
        error_message,
        log_tail,
    }
}

fn service_error<E: crate::aws::OperationError>(
    function: &str,
    error: &crate::aws::SdkError<E>,
    status: Option<u16>,
) -> InvokeError {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    InvokeError::Service {
        function: function.to_owned(),
        code: error.code().map(str::to_owned),
        status,
        message: error
            .message()
            .map_or_else(|| crate::aws::describe(error), str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_object_carries_the_correlation_id_beside_its_fields() {
        let payload = encode("f", &serde_json::json!({"task": "t-1"}), Some("c-1")).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&payload).unwrap(),
            serde_json::json!({"task": "t-1", "_helve": {"correlation_id": "c-1"}})
        );
        // Anything but an object goes as it is.
        assert_eq!(encode("f", &[1, 2], Some("c-1")).unwrap(), b"[1,2]");
        assert_eq!(encode("f", "text", None).unwrap(), b"\"text\"");
    }

    #[test]
    fn the_client_context_holds_the_correlation_id_and_trace_header_within_lambdas_limit() {
        let context = crate::Context::builder().correlation_id("c-9").build();
        let encoded = client_context(Some(&context), Some("Root=1-a-b;Sampled=1")).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&decoded).unwrap(),
            serde_json::json!({"custom": {"correlation_id": "c-9", "trace_header": "Root=1-a-b;Sampled=1"}})
        );
        let long_header = "x".repeat(4_000);
        let encoded = client_context(Some(&context), Some(&long_header)).unwrap();
        assert!(encoded.len() <= CLIENT_CONTEXT_LIMIT);
        assert!(client_context(None, None).is_none());
    }

    #[test]
    fn a_correlation_id_beyond_ascii_reaches_the_callee_escaped() {
        let context = crate::Context::builder()
            .correlation_id("commande-é-😀")
            .build();
        let encoded = client_context(Some(&context), None).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert!(decoded.iter().all(|byte| (0x20..0x7f).contains(byte)));
        let json: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(json["custom"]["correlation_id"], "commande-é-😀");
        // DEL is no header character either.
        let text = ascii_json(&serde_json::json!({"id": "a\u{7f}b"}));
        assert_eq!(text, r#"{"id":"a\u007fb"}"#);
    }

    #[test]
    fn a_callee_failure_keeps_its_error_type_and_message() {
        let error = function_error(
            "pricing",
            "Unhandled",
            br#"{"errorType":"helve.InvalidEvent","errorMessage":"invalid event at sku: missing field"}"#,
            Some(&base64::engine::general_purpose::STANDARD.encode("END RequestId: 1")),
        );
        assert_eq!(error.code(), "helve.InvalidEvent");
        assert_eq!(
            error.to_string(),
            "function `pricing` failed (helve.InvalidEvent): invalid event at sku: missing field"
        );
        let InvokeError::Function { log_tail, .. } = &error else {
            unreachable!()
        };
        assert_eq!(log_tail.as_deref(), Some("END RequestId: 1"));
        let helve_error = crate::Error::from(error);
        assert_eq!(helve_error.error_type(), "helve.InvalidEvent");

        let unreadable = function_error("pricing", "Unhandled", b"not json", None);
        assert_eq!(unreadable.code(), "Unhandled");
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        for attempt in 1..=3 {
            let base = FIRST_BACKOFF * 2u32.pow(attempt - 1);
            let backoff = backoff(attempt);
            assert!(backoff >= base && backoff <= base + base / 2, "{backoff:?}");
        }
    }
}
