//! A Lambda `Invoke` endpoint on 127.0.0.1 for the real aws-sdk-lambda client that
//! `helve::invoke` calls other functions with (`endpoint_url(invoke.endpoint())`; any SigV4
//! signature is accepted). It is not Lambda: it speaks just enough of the restJson1 `Invoke`
//! operation to answer as Lambda does, and records every request.
//!
//! Each function name is either backed by a [`RuntimeApi`] ([`LambdaInvoke::backed`]), so that
//! a real helve function binary handles the invocations, or scripted
//! ([`LambdaInvoke::scripted`]): a queue of [`InvokeAnswer`]s, then a default. A backed name
//! takes queued answers too (a throttle before the function is reached, say); once its queue is
//! empty every invocation goes to the function. A name neither backed nor scripted does not
//! exist: `ResourceNotFoundException`.
//!
//! ```ignore
//! let api = RuntimeApi::start().await;
//! let _function = api.function("context-echo").spawn();
//! let invoke = LambdaInvoke::start().await;
//! invoke.backed("context-echo", api);
//! invoke.scripted("billing", InvokeAnswer::Payload(json!({"charged": true})));
//! invoke.answer_next("billing", [InvokeAnswer::Throttled { retry_after_seconds: 0 }]);
//! // ... a client with `endpoint_url(invoke.endpoint())` calls both ...
//! let calls = invoke.requests();
//! assert_eq!(calls[0].custom("correlation_id"), Some("c-1"));
//! assert_eq!(invoke.count("billing"), 2); // the throttled attempt, then the retry
//! ```
//!
//! What the fake relies on, and where it was read:
//!
//! - The request, from aws-sdk-lambda 1.115.0 (`src/operation/invoke.rs`,
//!   `src/protocol_serde/shape_invoke.rs`): `POST /2015-03-31/functions/{FunctionName}/
//!   invocations`, the label percent-encoded by `aws_smithy_http::label::fmt_string` (so `:` of
//!   an ARN or of `name:alias` arrives as `%3A`), an optional `?Qualifier=`, the headers
//!   `X-Amz-Invocation-Type`, `X-Amz-Log-Type`, `X-Amz-Client-Context` (the string the caller
//!   gave, sent as is: the SDK does not base64-encode it, the caller must), and newer
//!   `X-Amz-Tenant-Id` / `X-Amz-Durable-Execution-Name`; the payload as the body,
//!   `content-type: application/octet-stream`. `FunctionName` may be a name, `name:qualifier`,
//!   a partial ARN `account:function:name[:qualifier]` or an ARN (the input's documentation).
//! - The answer, from the same files: any 2xx (and 200) is a success, read from the headers
//!   `X-Amz-Executed-Version`, `X-Amz-Function-Error`, `X-Amz-Log-Result` and the body as the
//!   payload (none when the body is empty); the request id from `x-amzn-RequestId`. Anything
//!   else is an error whose code is the `x-amzn-ErrorType` header, else `code`, else `__type`
//!   in a JSON body, trimmed after a `:` and before a `#` (`src/json_errors.rs`); a body that is
//!   not JSON makes it an unhandled error, so every error body here is JSON. Each modeled error
//!   reads `Type` and `message` (TooManyRequests, RequestTooLarge, InvalidRequestContent) or
//!   `Message` (ResourceNotFound, Service), and falls back to the generic message (`message`,
//!   `Message` or `errorMessage`); TooManyRequestsException also reads `Reason` and the
//!   `Retry-After` header (its `retry_after_seconds`).
//! - Retries, from the same crate and aws-smithy-runtime 1.10 / aws-runtime 1.6: the client
//!   retries 500, 502, 503 and 504 (`HttpStatusCodeClassifier`) and the throttling codes,
//!   `TooManyRequestsException` among them (`AwsErrorCodeClassifier`), whose delay comes from
//!   an `x-amz-retry-after` header in milliseconds, never from `Retry-After` (not sent here).
//!   Each attempt is a request here, and takes the next queued answer.
//! - What Lambda answers: 200 with the function's response, or with its error body and
//!   `X-Amz-Function-Error: Unhandled`; 202 with no body for `Event`, 204 for `DryRun`; the last
//!   4 KB of the log, base64, in `X-Amz-Log-Result` for a synchronous call asking `Tail` (the
//!   Invoke API reference); the client context (up to 3,583 bytes of base64) reaches the
//!   function for synchronous invocations only (the same reference, as the SDK quotes it), as
//!   JSON in `Lambda-Runtime-Client-Context`; a client context that is not base64 of a JSON
//!   object: 400 `InvalidRequestContentException`, "Client context must be a valid
//!   Base64-encoded JSON object." (quoted in boto/boto3#2153 and aws/aws-sdk-js#1388); a payload
//!   that is not JSON: the same exception, "Could not parse request body into json: ..."
//!   (boto/boto3#2153). A payload of 6 MB (6,291,456 bytes) or more for a synchronous call, or over
//!   1 MB for `Event`, is answered 413 with the code Lambda sends, `RequestEntityTooLargeException`
//!   ("Request must be smaller than 6291456 bytes for the InvokeFunction operation", quoted in
//!   pelmers/streetwarp-web#14, 2024; "N byte payload is too large for the Event invocation type
//!   (limit L bytes)", faultline/faultline#12): not the modeled `RequestTooLargeException`, so
//!   the SDK gives a generic error with that code and status 413, not its typed variant
//!   ([`LambdaInvoke::set_too_large_code`] sends the modeled name instead).
//!
//! Not verified, chosen to look like Lambda: the error messages other than those quoted, the
//! `Reason` (`ConcurrentInvocationLimitExceeded`) and `Retry-After` of a throttle, the order in
//! which Lambda checks a request, what it does with a client context over 3,583 bytes (the fake
//! accepts it and records its length), an empty payload reaching the function as `{}`, the
//! answer to a function that outlives its timeout (200, `Unhandled`, `Sandbox.Timedout`), the
//! `X-Amz-Executed-Version` of an alias (`$LATEST` here), and the log's `START` / `END` /
//! `REPORT` lines around the function's output (`REPORT` without `Max Memory Used`; stdout only).

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, header::HeaderValue,
    server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::{
    net::TcpListener,
    sync::{Notify, oneshot},
    task::JoinHandle,
};

use super::{
    HANG_GUARD,
    runtime_api::{DEFAULT_TIMEOUT, Outcome, RuntimeApi},
};

/// The path every `Invoke` request starts with; the function name and `/invocations` follow.
pub(crate) const INVOKE_PATH_PREFIX: &str = "/2015-03-31/functions/";

/// The largest payload of a synchronous (`RequestResponse` or `DryRun`) invocation: 6 MB.
pub(crate) const SYNC_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// The largest payload of an asynchronous (`Event`) invocation: 1 MB.
pub(crate) const EVENT_PAYLOAD_LIMIT: usize = 1024 * 1024;

/// The most base64 a client context may have, as the Invoke API reference says (not enforced:
/// [`InvokeRequest::client_context_len`] lets a test assert it).
pub(crate) const CLIENT_CONTEXT_LIMIT: usize = 3583;

/// How much of the log `X-Amz-Log-Result` carries: the last 4 KB.
pub(crate) const LOG_TAIL_LIMIT: usize = 4096;

/// The code Lambda sends with a 413 for a payload over its limit.
pub(crate) const REQUEST_ENTITY_TOO_LARGE: &str = "RequestEntityTooLargeException";

/// The code aws-sdk-lambda's model names for the same error (its typed
/// `InvokeError::RequestTooLargeException`).
pub(crate) const REQUEST_TOO_LARGE: &str = "RequestTooLargeException";

/// The region and account of every ARN the fake makes.
const ARN_REGION_ACCOUNT: &str = "us-east-1:123456789012";

/// The memory size `RuntimeApi::function` gives every function, for the `REPORT` line.
const MEMORY_SIZE_MB: u32 = 128;

/// How often a backed function's outcomes are collected from its Runtime API.
const OUTCOME_POLL: Duration = Duration::from_millis(2);

/// The longest the fake waits for a function's stdout to settle before cutting its log tail.
const LOG_SETTLE: Duration = Duration::from_millis(200);

/// The state behind `mutex`, even when a panicking thread poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the others.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `X-Amz-Invocation-Type` of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InvocationKind {
    /// `RequestResponse`, or no header (Lambda's default): synchronous.
    RequestResponse,
    /// `Event`: asynchronous, answered 202 before the function runs.
    Event,
    /// `DryRun`: validated, answered 204, never run.
    DryRun,
    /// Any other value, answered 400 `InvalidParameterValueException`.
    Other(String),
}

impl InvocationKind {
    /// The kind a header value names (`None`: the header is absent).
    fn from_header(value: Option<&str>) -> Self {
        match value {
            None | Some("RequestResponse") => Self::RequestResponse,
            Some("Event") => Self::Event,
            Some("DryRun") => Self::DryRun,
            Some(other) => Self::Other(other.to_owned()),
        }
    }

    /// The header value.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::RequestResponse => "RequestResponse",
            Self::Event => "Event",
            Self::DryRun => "DryRun",
            Self::Other(other) => other,
        }
    }
}

/// How the endpoint answers one invocation of a function.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InvokeAnswer {
    /// The function returns this JSON: 200 with it (202 for `Event`, 204 for `DryRun`).
    Payload(Value),
    /// The function fails: 200, `X-Amz-Function-Error: Unhandled`, and
    /// `{"errorType":..,"errorMessage":..}` (202 for `Event`, 204 for `DryRun`).
    FunctionError {
        /// The `errorType`.
        error_type: String,
        /// The `errorMessage`.
        error_message: String,
    },
    /// 429 `TooManyRequestsException`, `Reason` `ConcurrentInvocationLimitExceeded`, with this
    /// `Retry-After` header. The client retries it.
    Throttled {
        /// The `Retry-After` header, in seconds (the SDK's `retry_after_seconds`).
        retry_after_seconds: u32,
    },
    /// 500 `ServiceException`. The client retries it.
    ServiceError,
    /// 404 `ResourceNotFoundException`, as for a function that does not exist.
    NotFound,
    /// The answer, after this wait (on top of [`LambdaInvoke::set_delay`]).
    Delay(Duration, Box<InvokeAnswer>),
    /// What the function behind the name's [`RuntimeApi`] does: the default of a backed name.
    /// Queued on a name without one, it is answered 404 (and says so on stderr).
    Function,
}

impl InvokeAnswer {
    /// [`InvokeAnswer::FunctionError`] with these texts.
    pub(crate) fn function_error(error_type: &str, error_message: &str) -> Self {
        Self::FunctionError {
            error_type: error_type.to_owned(),
            error_message: error_message.to_owned(),
        }
    }

    /// [`InvokeAnswer::Delay`] of `answer`.
    pub(crate) fn delayed(wait: Duration, answer: Self) -> Self {
        Self::Delay(wait, Box::new(answer))
    }
}

/// One request the endpoint received, as it was answered.
#[derive(Debug, Clone)]
pub(crate) struct InvokeRequest {
    /// When the request had been read whole.
    pub(crate) at: Instant,
    /// The HTTP method (`POST`).
    pub(crate) method: String,
    /// The path as sent, still percent-encoded.
    pub(crate) path: String,
    /// The `{FunctionName}` of the path, decoded: as the caller named the function (a name,
    /// `name:qualifier`, a partial ARN or an ARN). Empty when the request is not an `Invoke`.
    pub(crate) function_name: String,
    /// The function's bare name, from whichever form [`function_name`](Self::function_name)
    /// has: what [`LambdaInvoke::backed`] and [`LambdaInvoke::scripted`] name.
    pub(crate) name: String,
    /// The `Qualifier` query parameter, decoded.
    pub(crate) qualifier: Option<String>,
    /// The version or alias after the name in [`function_name`](Self::function_name)
    /// (`orders:live`).
    pub(crate) name_qualifier: Option<String>,
    /// The invocation type (`RequestResponse` when the header is absent).
    pub(crate) invocation_type: InvocationKind,
    /// The `X-Amz-Invocation-Type` header as sent.
    pub(crate) invocation_type_header: Option<String>,
    /// The `X-Amz-Log-Type` header (`None` or `Tail`).
    pub(crate) log_type: Option<String>,
    /// The `X-Amz-Client-Context` header as sent (base64).
    pub(crate) client_context: Option<String>,
    /// Its length in bytes (0 without one): Lambda takes up to [`CLIENT_CONTEXT_LIMIT`].
    pub(crate) client_context_len: usize,
    /// The client context, base64-decoded and parsed (`None` without one, or when it is not
    /// base64 of JSON).
    pub(crate) client_context_json: Option<Value>,
    /// The `X-Amz-Tenant-Id` header.
    pub(crate) tenant_id: Option<String>,
    /// The `X-Amzn-Trace-Id` header: the calling invocation's trace.
    pub(crate) trace_header: Option<String>,
    /// The body: the payload's bytes.
    pub(crate) payload: Bytes,
    /// The `content-type` header (`application/octet-stream` from the SDK).
    pub(crate) content_type: Option<String>,
    /// Whether the request carries a SigV4 `Authorization` header.
    pub(crate) signed: bool,
    /// The `amz-sdk-request` header: `attempt=N; max=M`.
    pub(crate) sdk_request: Option<String>,
    /// The `amz-sdk-invocation-id` header: the same for every attempt of one call.
    pub(crate) invocation_id: Option<String>,
    /// The `x-amzn-RequestId` answered; for an invocation handed to a backed function, also
    /// the request id of the event it received.
    pub(crate) request_id: String,
    /// Whether an event was handed to a backed function's Runtime API.
    pub(crate) pushed: bool,
    /// The status answered; `None` while the answer is being made (a synchronous invocation
    /// waiting for its function).
    pub(crate) status: Option<u16>,
    /// The `x-amzn-ErrorType` answered with an error.
    pub(crate) error_code: Option<String>,
    /// The `X-Amz-Function-Error` answered.
    pub(crate) function_error: Option<String>,
    /// What the backed function posted for a synchronous invocation.
    pub(crate) outcome: Option<Outcome>,
    /// Whether the backed function did not answer within [`DEFAULT_TIMEOUT`], so that the
    /// invocation was answered as timed out.
    pub(crate) timed_out: bool,
}

impl InvokeRequest {
    /// The payload as JSON, if it is JSON.
    pub(crate) fn payload_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.payload).ok()
    }

    /// A value of the client context's `custom` map.
    pub(crate) fn custom(&self, key: &str) -> Option<&str> {
        self.client_context_json.as_ref()?["custom"][key].as_str()
    }
}

/// The base64 `X-Amz-Client-Context` header that carries `json` (for requests a test makes by
/// hand).
pub(crate) fn encode_client_context(json: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// A function name the endpoint knows.
#[derive(Debug)]
struct Function {
    /// The answers still to give, in order.
    queue: VecDeque<InvokeAnswer>,
    /// The answer once the queue is empty.
    default: InvokeAnswer,
    /// The function binary behind the name, when it is backed.
    backend: Option<Arc<Backend>>,
}

/// What the endpoint knows and has received.
#[derive(Debug)]
struct State {
    /// The functions that exist, by bare name.
    functions: HashMap<String, Function>,
    /// Every request, in arrival order.
    requests: Vec<InvokeRequest>,
    /// The wait before every answer.
    delay: Duration,
    /// The `x-amzn-ErrorType` of a payload over the limit.
    too_large_code: String,
}

/// The state the server's connections share with the test.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when a request has been answered.
    request_arrived: Notify,
}

/// A function binary behind a name: its Runtime API, and the outcomes it posts, each handed to
/// the synchronous invocation waiting for it or kept for the test.
#[derive(Debug)]
struct Backend {
    /// The name it is invoked by.
    name: String,
    /// Pushed to by the invocations, its outcomes taken by [`collect_outcomes`].
    api: Mutex<RuntimeApi>,
    /// The synchronous invocations waiting for their outcome, by request id.
    waiters: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// The outcomes no invocation waits for (`Event` invocations, init errors, late answers).
    unclaimed: Mutex<VecDeque<Outcome>>,
    /// Signalled when an outcome is kept for the test.
    unclaimed_arrived: Notify,
}

impl Backend {
    /// Hands an outcome to the invocation waiting for it, or keeps it for the test.
    fn dispatch(&self, outcome: Outcome) {
        let request_id = match &outcome {
            Outcome::Response { request_id, .. } | Outcome::Error { request_id, .. } => {
                Some(request_id.clone())
            }
            Outcome::InitError { .. } | Outcome::NotFound { .. } => None,
        };
        let waiter = request_id.and_then(|id| lock(&self.waiters).remove(&id));
        let unclaimed = match waiter {
            // A waiter that gave up hands the outcome back.
            Some(waiter) => waiter.send(outcome).err(),
            None => Some(outcome),
        };
        if let Some(outcome) = unclaimed {
            lock(&self.unclaimed).push_back(outcome);
            self.unclaimed_arrived.notify_waiters();
        }
    }

    /// The stdout of each process started through the Runtime API so far.
    fn stdouts(&self) -> Vec<String> {
        stdouts(&lock(&self.api).process_output())
    }
}

/// Collects a backed function's outcomes until the endpoint is dropped.
async fn collect_outcomes(backend: Arc<Backend>) {
    loop {
        let outcome = lock(&backend.api).try_next_outcome();
        match outcome {
            Some(outcome) => backend.dispatch(outcome),
            None => tokio::time::sleep(OUTCOME_POLL).await,
        }
    }
}

/// The Lambda `Invoke` endpoint, on an ephemeral port of 127.0.0.1. It stops when dropped, and
/// drops the Runtime APIs it was given.
#[derive(Debug)]
pub(crate) struct LambdaInvoke {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    /// One [`collect_outcomes`] task per backed function.
    collectors: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for LambdaInvoke {
    fn drop(&mut self) {
        self.server.abort();
        for collector in lock(&self.collectors).drain(..) {
            collector.abort();
        }
    }
}

impl LambdaInvoke {
    /// An endpoint that knows no function yet.
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Lambda Invoke endpoint to 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("the Lambda Invoke endpoint's address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                functions: HashMap::new(),
                requests: Vec::new(),
                delay: Duration::ZERO,
                too_large_code: REQUEST_ENTITY_TOO_LARGE.to_owned(),
            }),
            request_arrived: Notify::new(),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Self {
            addr,
            shared,
            server,
            collectors: Mutex::new(Vec::new()),
        }
    }

    /// The URL to give the client as `endpoint_url`: `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The function `name` is the binary started through `api` (start it first:
    /// `api.function(binary).spawn()`; naming it as its binary keeps the ARN the function sees
    /// the one the caller named). A synchronous invocation is pushed to `api` with a fresh
    /// request id and the decoded client context, and answered with what the function posts;
    /// an `Event` invocation is pushed (without the client context, as Lambda does) and
    /// answered 202 at once; `DryRun` pushes nothing. Takes the Runtime API: its outcomes are
    /// the endpoint's to read now ([`next_outcome`](Self::next_outcome)).
    pub(crate) fn backed(&self, name: &str, api: RuntimeApi) {
        let backend = Arc::new(Backend {
            name: name.to_owned(),
            api: Mutex::new(api),
            waiters: Mutex::new(HashMap::new()),
            unclaimed: Mutex::new(VecDeque::new()),
            unclaimed_arrived: Notify::new(),
        });
        lock(&self.collectors).push(tokio::spawn(collect_outcomes(Arc::clone(&backend))));
        let mut state = lock(&self.shared.state);
        let function = state
            .functions
            .entry(name.to_owned())
            .or_insert_with(|| Function {
                queue: VecDeque::new(),
                default: InvokeAnswer::Function,
                backend: None,
            });
        function.default = InvokeAnswer::Function;
        function.backend = Some(backend);
    }

    /// The function `name` exists and answers `default` whenever its queue
    /// ([`answer_next`](Self::answer_next)) is empty.
    pub(crate) fn scripted(&self, name: &str, default: InvokeAnswer) {
        let mut state = lock(&self.shared.state);
        let function = state
            .functions
            .entry(name.to_owned())
            .or_insert_with(|| Function {
                queue: VecDeque::new(),
                default: default.clone(),
                backend: None,
            });
        function.default = default;
    }

    /// Queues answers for the next invocations of `name`, in arrival order (every request is
    /// one: each retry of the client takes the next). Requests refused before reaching the
    /// function (too large, a bad client context or payload) take none.
    ///
    /// # Panics
    ///
    /// If `name` is neither backed nor scripted.
    pub(crate) fn answer_next(&self, name: &str, answers: impl IntoIterator<Item = InvokeAnswer>) {
        let mut state = lock(&self.shared.state);
        let function = state.functions.get_mut(name).unwrap_or_else(|| {
            panic!("no function {name}: make it backed or scripted before queueing answers")
        });
        function.queue.extend(answers);
    }

    /// Waits `delay` before every answer (a backed function's included).
    pub(crate) fn set_delay(&self, delay: Duration) {
        lock(&self.shared.state).delay = delay;
    }

    /// The `x-amzn-ErrorType` of a 413: [`REQUEST_ENTITY_TOO_LARGE`] (what Lambda sends, the
    /// default) or [`REQUEST_TOO_LARGE`] (the SDK's modeled error).
    pub(crate) fn set_too_large_code(&self, code: &str) {
        lock(&self.shared.state).too_large_code = code.to_owned();
    }

    /// Every request received so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<InvokeRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// The requests received so far for the function `name` (by its bare name, however the
    /// caller named it), in arrival order.
    pub(crate) fn requests_for(&self, name: &str) -> Vec<InvokeRequest> {
        lock(&self.shared.state)
            .requests
            .iter()
            .filter(|request| request.name == name)
            .cloned()
            .collect()
    }

    /// How many requests the function `name` received (by its bare name).
    pub(crate) fn count(&self, name: &str) -> usize {
        lock(&self.shared.state)
            .requests
            .iter()
            .filter(|request| request.name == name)
            .count()
    }

    /// Waits until `count` requests have arrived and been answered, and returns every request;
    /// fails the test when they have not within the hang guard.
    pub(crate) async fn wait_for_requests(&self, count: usize) -> Vec<InvokeRequest> {
        let enough = async {
            loop {
                let arrived = self.shared.request_arrived.notified();
                {
                    let state = lock(&self.shared.state);
                    let answered = state
                        .requests
                        .iter()
                        .filter(|request| request.status.is_some())
                        .count();
                    if answered >= count {
                        return state.requests.clone();
                    }
                }
                arrived.await;
            }
        };
        match tokio::time::timeout(HANG_GUARD, enough).await {
            Ok(requests) => requests,
            Err(_) => panic!(
                "hang guard: {count} Invoke requests were not answered by {} within {} s \
                 (a hang or a missing call, not a speed problem); received: {:#?}",
                self.addr,
                HANG_GUARD.as_secs(),
                self.requests()
            ),
        }
    }

    /// The next outcome the backed function `name` posted that no synchronous invocation took
    /// (an `Event` invocation's, an init error), waiting for it; fails the test with the
    /// function's output when none comes within the hang guard.
    ///
    /// # Panics
    ///
    /// If `name` is not backed.
    pub(crate) async fn next_outcome(&self, name: &str) -> Outcome {
        let backend = self.backend(name);
        let next = async {
            loop {
                let arrived = backend.unclaimed_arrived.notified();
                if let Some(outcome) = lock(&backend.unclaimed).pop_front() {
                    return outcome;
                }
                arrived.await;
            }
        };
        match tokio::time::timeout(HANG_GUARD, next).await {
            Ok(outcome) => outcome,
            Err(_) => panic!(
                "hang guard: the function {name} posted nothing within {} s \
                 (a hang or a crash, not a speed problem)\n{}",
                HANG_GUARD.as_secs(),
                lock(&backend.api).process_output()
            ),
        }
    }

    /// An outcome of the backed function `name` that no invocation took, without waiting.
    ///
    /// # Panics
    ///
    /// If `name` is not backed.
    pub(crate) fn try_next_outcome(&self, name: &str) -> Option<Outcome> {
        lock(&self.backend(name).unclaimed).pop_front()
    }

    /// The output of every process started through the Runtime API behind `name`.
    ///
    /// # Panics
    ///
    /// If `name` is not backed.
    pub(crate) fn process_output(&self, name: &str) -> String {
        lock(&self.backend(name).api).process_output()
    }

    /// What backs `name`, failing the test when nothing does.
    fn backend(&self, name: &str) -> Arc<Backend> {
        lock(&self.shared.state)
            .functions
            .get(name)
            .and_then(|function| function.backend.clone())
            .unwrap_or_else(|| panic!("no Runtime API backs the function {name}"))
    }
}

/// Accepts connections until the endpoint is dropped, each served on its own task, so that
/// invocations waiting for their functions do not hold up the others.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |request| answer(Arc::clone(&shared), request));
                    // A client that closes its connection (a timeout, say) is not a failure.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What to answer, before it becomes a response.
#[derive(Debug, Default)]
struct Reply {
    status: u16,
    /// The headers besides `x-amzn-RequestId` and `content-type`.
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// What the request's record says of the answer (see [`InvokeRequest`]).
    error_code: Option<String>,
    function_error: Option<String>,
    outcome: Option<Outcome>,
    pushed: bool,
    timed_out: bool,
}

impl Reply {
    /// A restJson1 error: the code in `x-amzn-ErrorType`, and a JSON body.
    fn error(status: StatusCode, code: &str, body: Value) -> Self {
        Self {
            status: status.as_u16(),
            headers: vec![("x-amzn-ErrorType", code.to_owned())],
            body: body.to_string().into_bytes(),
            error_code: Some(code.to_owned()),
            ..Self::default()
        }
    }

    /// A success with no body.
    fn empty(status: StatusCode) -> Self {
        Self {
            status: status.as_u16(),
            ..Self::default()
        }
    }
}

/// Reads and records one request, answers it, and records the answer.
async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let payload = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let path = parts.uri.path().to_owned();
    let function_name = (parts.method == Method::POST)
        .then(|| {
            path.strip_prefix(INVOKE_PATH_PREFIX)
                .and_then(|rest| rest.strip_suffix("/invocations"))
                .filter(|label| !label.is_empty() && !label.contains('/'))
                .map(|label| percent_decode(label, false))
        })
        .flatten();
    let qualifier = parts.uri.query().and_then(|query| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == "Qualifier").then(|| percent_decode(value, true))
        })
    });
    let (name, name_qualifier) = function_name.as_deref().map(resolve).unwrap_or_default();
    let invocation_type_header = header("x-amz-invocation-type");
    let client_context = header("x-amz-client-context");
    let decoded_context = client_context.as_deref().map(decode_client_context);
    let record = InvokeRequest {
        at: Instant::now(),
        method: parts.method.to_string(),
        path,
        function_name: function_name.clone().unwrap_or_default(),
        name,
        qualifier,
        name_qualifier,
        invocation_type: InvocationKind::from_header(invocation_type_header.as_deref()),
        invocation_type_header,
        log_type: header("x-amz-log-type"),
        client_context_len: client_context.as_ref().map_or(0, String::len),
        client_context_json: decoded_context
            .as_ref()
            .and_then(|decoded| decoded.as_ref().ok())
            .map(|(_, json)| json.clone()),
        client_context,
        tenant_id: header("x-amz-tenant-id"),
        trace_header: header("x-amzn-trace-id"),
        payload,
        content_type: header("content-type"),
        signed: header("authorization").is_some_and(|value| value.starts_with("AWS4-HMAC-SHA256")),
        sdk_request: header("amz-sdk-request"),
        invocation_id: header("amz-sdk-invocation-id"),
        request_id: uuid::Uuid::new_v4().to_string(),
        pushed: false,
        status: None,
        error_code: None,
        function_error: None,
        outcome: None,
        timed_out: false,
    };
    let index = {
        let mut state = lock(&shared.state);
        state.requests.push(record.clone());
        state.requests.len() - 1
    };
    let reply = if function_name.is_none() {
        Reply::error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            json!({
                "message": "The fake Lambda endpoint knows only \
                            POST /2015-03-31/functions/{FunctionName}/invocations",
            }),
        )
    } else {
        let text = decoded_context.and_then(Result::ok).map(|(text, _)| text);
        invoke(&shared, &record, text).await
    };
    let mut response = Response::builder()
        .status(reply.status)
        .header("x-amzn-RequestId", &record.request_id);
    if !reply.body.is_empty() {
        response = response.header("content-type", "application/json");
    }
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    {
        let mut state = lock(&shared.state);
        let recorded = &mut state.requests[index];
        recorded.status = Some(reply.status);
        recorded.error_code = reply.error_code;
        recorded.function_error = reply.function_error;
        recorded.outcome = reply.outcome;
        recorded.pushed = reply.pushed;
        recorded.timed_out = reply.timed_out;
    }
    shared.request_arrived.notify_waiters();
    Ok(response
        .body(Full::new(Bytes::from(reply.body)))
        .expect("a valid Invoke response"))
}

/// The answer to an `Invoke` request: its checks, then the function's next answer.
async fn invoke(shared: &Shared, request: &InvokeRequest, client_context: Option<String>) -> Reply {
    let user_error = |status: StatusCode, code: &str, message: String| {
        Reply::error(status, code, json!({"Type": "User", "message": message}))
    };
    let kind = &request.invocation_type;
    if let InvocationKind::Other(other) = kind {
        return user_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            format!("Unsupported invocation type: {other}"),
        );
    }
    let too_large_code = lock(&shared.state).too_large_code.clone();
    let size = request.payload.len();
    if *kind == InvocationKind::Event && size > EVENT_PAYLOAD_LIMIT {
        return user_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &too_large_code,
            format!(
                "{size} byte payload is too large for the Event invocation type \
                 (limit {EVENT_PAYLOAD_LIMIT} bytes)"
            ),
        );
    }
    if *kind != InvocationKind::Event && size >= SYNC_PAYLOAD_LIMIT {
        return user_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &too_large_code,
            format!(
                "Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction \
                 operation"
            ),
        );
    }
    if !lock(&shared.state).functions.contains_key(&request.name) {
        return not_found(request);
    }
    if request.client_context.is_some() && client_context.is_none() {
        return user_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.".to_owned(),
        );
    }
    if *kind != InvocationKind::DryRun
        && !request.payload.is_empty()
        && let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&request.payload)
    {
        return user_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {error}"),
        );
    }
    let (answer, backend, mut wait) = {
        let mut state = lock(&shared.state);
        let delay = state.delay;
        let function = state
            .functions
            .get_mut(&request.name)
            .expect("checked above; functions are never removed");
        let answer = function
            .queue
            .pop_front()
            .unwrap_or_else(|| function.default.clone());
        (answer, function.backend.clone(), delay)
    };
    let mut answer = answer;
    while let InvokeAnswer::Delay(delay, inner) = answer {
        wait += delay;
        answer = *inner;
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let started = Instant::now();
    let tail =
        *kind == InvocationKind::RequestResponse && request.log_type.as_deref() == Some("Tail");
    let mut reply = match answer {
        InvokeAnswer::Throttled {
            retry_after_seconds,
        } => {
            let mut reply = Reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                json!({
                    "Reason": "ConcurrentInvocationLimitExceeded",
                    "Type": "User",
                    "message": "Rate Exceeded.",
                }),
            );
            reply
                .headers
                .push(("Retry-After", retry_after_seconds.to_string()));
            return reply;
        }
        InvokeAnswer::ServiceError => {
            return Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                json!({"Type": "Service", "Message": "Lambda encountered an internal error."}),
            );
        }
        InvokeAnswer::NotFound => return not_found(request),
        InvokeAnswer::Delay(..) => unreachable!("delays are unwrapped above"),
        _ if *kind == InvocationKind::DryRun => return Reply::empty(StatusCode::NO_CONTENT),
        InvokeAnswer::Payload(payload) => {
            if *kind == InvocationKind::Event {
                return Reply::empty(StatusCode::ACCEPTED);
            }
            Reply {
                status: 200,
                body: payload.to_string().into_bytes(),
                ..Reply::default()
            }
        }
        InvokeAnswer::FunctionError {
            error_type,
            error_message,
        } => {
            if *kind == InvocationKind::Event {
                return Reply::empty(StatusCode::ACCEPTED);
            }
            Reply {
                status: 200,
                body: json!({"errorType": error_type, "errorMessage": error_message})
                    .to_string()
                    .into_bytes(),
                function_error: Some("Unhandled".to_owned()),
                ..Reply::default()
            }
        }
        InvokeAnswer::Function => {
            let Some(backend) = backend else {
                eprintln!(
                    "fake Lambda: InvokeAnswer::Function queued for {}, which no Runtime API \
                     backs; answered ResourceNotFoundException",
                    request.name
                );
                return not_found(request);
            };
            if *kind == InvocationKind::Event {
                // Lambda hands an asynchronous invocation no client context.
                lock(&backend.api).push(&request.request_id, &event_body(request));
                let mut reply = Reply::empty(StatusCode::ACCEPTED);
                reply.pushed = true;
                return reply;
            }
            let Called { mut reply, output } =
                call_function(&backend, request, client_context, tail).await;
            if let Some(output) = output {
                reply
                    .headers
                    .push(("X-Amz-Log-Result", log_tail(request, &output, started)));
            }
            reply
        }
    };
    reply
        .headers
        .push(("X-Amz-Executed-Version", executed_version(request)));
    if let Some(function_error) = &reply.function_error {
        reply
            .headers
            .push(("X-Amz-Function-Error", function_error.clone()));
    }
    if tail
        && !reply
            .headers
            .iter()
            .any(|(name, _)| *name == "X-Amz-Log-Result")
    {
        reply
            .headers
            .push(("X-Amz-Log-Result", log_tail(request, "", started)));
    }
    reply
}

/// A synchronous invocation's reply from its function, and the function's output during it.
#[derive(Debug)]
struct Called {
    reply: Reply,
    /// What the function wrote on stdout, when the caller asked for the log's tail.
    output: Option<String>,
}

/// Pushes a synchronous invocation to the backed function and waits for its outcome, at most
/// as long as the invocation's timeout.
async fn call_function(
    backend: &Backend,
    request: &InvokeRequest,
    client_context: Option<String>,
    tail: bool,
) -> Called {
    let (sender, receiver) = oneshot::channel();
    lock(&backend.waiters).insert(request.request_id.clone(), sender);
    let marks: Option<Vec<usize>> = tail.then(|| {
        backend
            .stdouts()
            .iter()
            .map(String::len)
            .collect::<Vec<_>>()
    });
    let body = event_body(request);
    {
        let api = lock(&backend.api);
        match client_context {
            Some(text) => {
                // As sent when it can be a header value; compact JSON when it spans lines.
                let text = if HeaderValue::from_str(&text).is_ok() {
                    text
                } else {
                    serde_json::from_str::<Value>(&text)
                        .map(|json| json.to_string())
                        .unwrap_or(text)
                };
                api.push_with_client_context(&request.request_id, &body, &text)
            }
            None => api.push(&request.request_id, &body),
        };
    }
    let outcome = match tokio::time::timeout(DEFAULT_TIMEOUT, receiver).await {
        Ok(Ok(outcome)) => Some(outcome),
        _ => {
            lock(&backend.waiters).remove(&request.request_id);
            None
        }
    };
    let output = match &marks {
        Some(marks) => Some(output_since(backend, marks).await),
        None => None,
    };
    let reply = match outcome {
        Some(Outcome::Response { body, .. }) => Reply {
            status: 200,
            body: body.to_string().into_bytes(),
            outcome: Some(Outcome::Response {
                request_id: request.request_id.clone(),
                body,
            }),
            pushed: true,
            ..Reply::default()
        },
        Some(Outcome::Error {
            error_type_header,
            body,
            ..
        }) => Reply {
            status: 200,
            body: body.to_string().into_bytes(),
            function_error: Some("Unhandled".to_owned()),
            outcome: Some(Outcome::Error {
                request_id: request.request_id.clone(),
                error_type_header,
                body,
            }),
            pushed: true,
            ..Reply::default()
        },
        Some(other) => unreachable!("only answers carry a request id: {other:?}"),
        None => {
            eprintln!(
                "fake Lambda: the function {} did not answer the invocation {} within {} s; \
                 answered as timed out\n{}",
                backend.name,
                request.request_id,
                DEFAULT_TIMEOUT.as_secs(),
                lock(&backend.api).process_output()
            );
            Reply {
                status: 200,
                body: json!({
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": format!(
                        "RequestId: {} Error: Task timed out after {}.00 seconds",
                        request.request_id,
                        DEFAULT_TIMEOUT.as_secs()
                    ),
                })
                .to_string()
                .into_bytes(),
                function_error: Some("Unhandled".to_owned()),
                pushed: true,
                timed_out: true,
                ..Reply::default()
            }
        }
    };
    Called { reply, output }
}

/// What the function writes on stdout after `marks` (the lengths of each process's stdout
/// before the event was pushed), once its output has settled.
async fn output_since(backend: &Backend, marks: &[usize]) -> String {
    let total = |stdouts: &[String]| stdouts.iter().map(String::len).sum::<usize>();
    let settle_until = Instant::now() + LOG_SETTLE;
    let mut stdouts = backend.stdouts();
    // The pipes are read by other tasks: wait until two looks 10 ms apart agree.
    while Instant::now() < settle_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let again = backend.stdouts();
        let settled = total(&again) == total(&stdouts);
        stdouts = again;
        if settled {
            break;
        }
    }
    let mut output = String::new();
    for (index, stdout) in stdouts.iter().enumerate() {
        let mut from = marks.get(index).copied().unwrap_or(0).min(stdout.len());
        while !stdout.is_char_boundary(from) {
            from -= 1;
        }
        output.push_str(&stdout[from..]);
    }
    output
}

/// `X-Amz-Log-Result`: base64 of the last 4 KB of the invocation's log, framed as Lambda frames
/// it.
fn log_tail(request: &InvokeRequest, output: &str, started: Instant) -> String {
    let id = &request.request_id;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let log = format!(
        "START RequestId: {id} Version: {version}\n{output}END RequestId: {id}\n\
         REPORT RequestId: {id}\tDuration: {millis:.2} ms\tBilled Duration: {billed} ms\t\
         Memory Size: {MEMORY_SIZE_MB} MB\t\n",
        version = executed_version(request),
        billed = millis.ceil().max(1.0) as u64,
    );
    let bytes = log.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(LOG_TAIL_LIMIT)..];
    base64::engine::general_purpose::STANDARD.encode(tail)
}

/// The event the function receives: the payload, `{}` when there is none.
fn event_body(request: &InvokeRequest) -> String {
    if request.payload.is_empty() {
        "{}".to_owned()
    } else {
        String::from_utf8_lossy(&request.payload).into_owned()
    }
}

/// `X-Amz-Executed-Version`: the version named, else `$LATEST`.
fn executed_version(request: &InvokeRequest) -> String {
    request
        .qualifier
        .as_deref()
        .or(request.name_qualifier.as_deref())
        .filter(|qualifier| {
            *qualifier == "$LATEST"
                || (!qualifier.is_empty() && qualifier.bytes().all(|byte| byte.is_ascii_digit()))
        })
        .unwrap_or("$LATEST")
        .to_owned()
}

/// 404 `ResourceNotFoundException` for the function the request names.
fn not_found(request: &InvokeRequest) -> Reply {
    let qualifier = request
        .qualifier
        .as_deref()
        .or(request.name_qualifier.as_deref())
        .map(|qualifier| format!(":{qualifier}"))
        .unwrap_or_default();
    Reply::error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        json!({
            "Type": "User",
            "Message": format!(
                "Function not found: arn:aws:lambda:{ARN_REGION_ACCOUNT}:function:{}{qualifier}",
                request.name
            ),
        }),
    )
}

/// The bare name and the qualifier in a `FunctionName`: `name`, `name:qualifier`,
/// `account:function:name[:qualifier]` or `arn:PARTITION:lambda:region:account:function:name
/// [:qualifier]`.
fn resolve(function_name: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = function_name.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name, rest @ ..] => (*name, rest.first()),
        [_, "function", name, rest @ ..] => (*name, rest.first()),
        [name, qualifier] => (*name, Some(qualifier)),
        _ => (function_name, None),
    };
    (
        name.to_owned(),
        qualifier.map(|qualifier| (*qualifier).to_owned()),
    )
}

/// The client context's JSON text and value, if the header is base64 of a JSON object.
fn decode_client_context(header: &str) -> Result<(String, Value), ()> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(drop)?;
    let text = String::from_utf8(bytes).map_err(drop)?;
    let json: Value = serde_json::from_str(&text).map_err(drop)?;
    if json.is_object() {
        Ok((text, json))
    } else {
        Err(())
    }
}

/// The stdout sections of `RuntimeApi::process_output`, one per process, in start order: each
/// process's output is `--- NAME: stdout ---\n...--- NAME: stderr ---\n...--- end of NAME ---`.
fn stdouts(output: &str) -> Vec<String> {
    const STDOUT: &str = ": stdout ---\n";
    let mut stdouts = Vec::new();
    let mut rest = output;
    while let Some(start) = rest.find("--- ") {
        let after = &rest[start + 4..];
        let Some(header_end) = after.find(STDOUT) else {
            break;
        };
        let name = &after[..header_end];
        let body = &after[header_end + STDOUT.len()..];
        let stderr = format!("--- {name}: stderr ---\n");
        let Some(body_end) = body.find(&stderr) else {
            break;
        };
        stdouts.push(body[..body_end].to_owned());
        let end = format!("--- end of {name} ---");
        let after_stdout = &body[body_end..];
        rest = after_stdout
            .find(&end)
            .map_or("", |index| &after_stdout[index + end.len()..]);
    }
    stdouts
}

/// `text` with its `%XX` escapes decoded (and `+` as a space when `plus_is_space`); an escape
/// that is not one is kept as it is.
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[index]) {
            (Some(byte), _) => {
                decoded.push(byte);
                index += 3;
            }
            (None, b'+') if plus_is_space => {
                decoded.push(b' ');
                index += 1;
            }
            (None, byte) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
