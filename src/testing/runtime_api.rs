//! A Lambda Runtime API on 127.0.0.1, as AWS runs it for a function: long-polled
//! `/runtime/invocation/next`, then `/response` or `/error` per invocation, and
//! `/runtime/init/error`. It records every POST so a test can assert the exact JSON a function
//! sent: an end-to-end test of the built binary, started as Lambda starts it.
//!
//! ```no_run
//! use helve::testing::runtime_api::{Posted, RuntimeApi};
//! use serde_json::json;
//!
//! # async fn example() -> std::io::Result<()> {
//! let mut api = RuntimeApi::start().await;
//! // The binary (in an integration test of its package, `env!("CARGO_BIN_EXE_hello")`), with
//! // Lambda's environment and nothing of the test's.
//! let mut function = api.command("target/debug/hello", "hello").spawn()?;
//! api.push("req-1", r#"{"name":"Ada"}"#);
//! assert_eq!(
//!     api.next_outcome().await,
//!     Posted::Response { request_id: "req-1".into(), body: json!({"message": "Hello, Ada!"}) }
//! );
//! function.kill()?;
//! # Ok(())
//! # }
//! ```
//!
//! An event may carry a client context ([`RuntimeApi::push_with_client_context`]): Lambda hands
//! the function the JSON a caller of `Invoke` sent base64-encoded in `X-Amz-Client-Context`,
//! decoded, in the `Lambda-Runtime-Client-Context` header. `lambda_runtime` 1.5 parses that
//! header (`Context::new` in its `types.rs`) as `{"client":{..},"custom":{..},"environment":
//! {..}}`: `custom` must map strings to strings, and a `client` must have all five of its
//! fields (`installationId`, `appTitle`, `appVersionName`, `appVersionCode`,
//! `appPackageName`); the `env` key Lambda's other runtimes read is ignored. A header it cannot
//! parse is not an error of that invocation: the function's runtime loop ends, and the process
//! exits without answering.

use std::{
    collections::HashSet,
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::{
    net::TcpListener,
    sync::{Notify, mpsc},
    task::JoinHandle,
};

use super::HANG_GUARD;

/// The Runtime API version prefix every path starts with.
const PREFIX: &str = "/2018-06-01";

/// How long an invocation may run when the test names no deadline: its deadline is this long
/// after the event is handed to the function, as Lambda computes it from the function's timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a function told the Runtime API, one POST each (and any request it should not have
/// made).
#[derive(Debug, Clone, PartialEq)]
pub enum Posted {
    /// `POST /runtime/invocation/{id}/response`.
    Response {
        /// The `{id}` of the path.
        request_id: String,
        /// The body, as JSON (a JSON string holding the raw text if it is not JSON).
        body: Value,
    },
    /// `POST /runtime/invocation/{id}/error`.
    Error {
        /// The `{id}` of the path.
        request_id: String,
        /// The `lambda-runtime-function-error-type` header, if sent.
        error_type_header: Option<String>,
        /// The body: `{"errorType": ..., "errorMessage": ...}`.
        body: Value,
    },
    /// `POST /runtime/init/error`.
    InitError {
        /// The `lambda-runtime-function-error-type` header, if sent.
        error_type_header: Option<String>,
        /// The body: `{"errorType": ..., "errorMessage": ...}`.
        body: Value,
    },
    /// A request the Runtime API does not know, answered with 404.
    NotFound {
        /// The HTTP method.
        method: String,
        /// The whole path.
        path: String,
    },
}

/// An event waiting for the function to ask for it.
#[derive(Debug)]
struct Queued {
    request_id: String,
    body: Bytes,
    deadline: Option<SystemTime>,
    trace_header: String,
    /// The `lambda-runtime-client-context` header, when the event has one.
    client_context: Option<String>,
}

/// What the Runtime API will send with a pushed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The `lambda-runtime-aws-request-id` header.
    pub request_id: String,
    /// The `lambda-runtime-trace-id` header: `Root=1-...;Parent=...;Sampled=1`.
    pub trace_header: String,
}

impl Pushed {
    /// The `Root=` value of the trace header: what Powertools logs as `xray_trace_id`.
    pub fn trace_root(&self) -> &str {
        self.trace_header
            .split(';')
            .find_map(|part| part.strip_prefix("Root="))
            .unwrap_or(&self.trace_header)
    }
}

/// The state the server's connections share with the test.
#[derive(Debug)]
struct Shared {
    queue_tx: mpsc::UnboundedSender<Queued>,
    /// One long poll at a time takes the next event; the others wait for the lock, so every
    /// event goes to exactly one poll, whichever comes first.
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    outcomes_tx: mpsc::UnboundedSender<Posted>,
    /// Request ids handed to the function and not answered yet.
    in_flight: Mutex<HashSet<String>>,
    /// The function name in the invoked ARN: the last function started through this API.
    function_name: Mutex<String>,
    /// How many `GET /runtime/invocation/next` requests arrived.
    polls: AtomicU64,
    /// When the first of them arrived: the end of the function's init.
    first_poll: OnceLock<Instant>,
    /// How many connections are open, and a signal when one closes.
    connections: AtomicU64,
    connection_closed: Notify,
    trace_counter: AtomicU64,
    /// What the test adds to a hang-guard message (the output of the functions it started).
    report: HangReport,
    /// The extensions registered through the Extensions API: name and events subscribed.
    extensions: Mutex<Vec<(String, Value)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the others.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A Lambda Runtime API server on an ephemeral port of 127.0.0.1. It stops when dropped.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    outcomes_rx: mpsc::UnboundedReceiver<Posted>,
    server: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Dropping the accept loop drops its connections, and any long poll still waiting.
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Starts the server.
    ///
    /// # Panics
    ///
    /// If no port of 127.0.0.1 can be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .and_then(|listener| Ok((listener.local_addr()?, listener)));
        let (addr, listener) = listener.unwrap_or_else(|error| {
            panic!("the test kit cannot bind the Runtime API to 127.0.0.1: {error}")
        });
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            outcomes_tx,
            in_flight: Mutex::new(HashSet::new()),
            function_name: Mutex::new("test-function".to_owned()),
            polls: AtomicU64::new(0),
            first_poll: OnceLock::new(),
            connections: AtomicU64::new(0),
            connection_closed: Notify::new(),
            trace_counter: AtomicU64::new(0),
            report: HangReport::default(),
            extensions: Mutex::new(Vec::new()),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Self {
            addr,
            shared,
            outcomes_rx,
            server,
        }
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Names the function in the ARN of the next events handed out
    /// (`arn:aws:lambda:us-east-1:123456789012:function:{name}`); `test-function` until then.
    pub fn set_function_name(&self, name: &str) {
        *lock(&self.shared.function_name) = name.to_owned();
    }

    /// The environment Lambda gives a function named `function_name` against this Runtime API:
    /// `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`
    /// (128), `AWS_LAMBDA_FUNCTION_VERSION` (`$LATEST`), the region (`us-east-1`), the log group
    /// and stream, and `TZ`.
    pub fn lambda_environment(&self, function_name: &str) -> Vec<(String, String)> {
        lambda_environment(&self.addr(), function_name)
    }

    /// A command that starts `program` as Lambda starts a function named `function_name`
    /// against this Runtime API: [`lambda_environment`](Self::lambda_environment) and `PATH`,
    /// nothing else of the test's environment; stdin closed. It also names the function in
    /// the ARNs ([`set_function_name`](Self::set_function_name)). Add variables with
    /// `Command::env`, then spawn it.
    pub fn command(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        function_name: &str,
    ) -> std::process::Command {
        self.set_function_name(function_name);
        let mut command = std::process::Command::new(program);
        command.env_clear().stdin(std::process::Stdio::null());
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command.envs(self.lambda_environment(function_name));
        command
    }

    /// What the test adds to the message of a hang guard that trips: the output of the
    /// functions it started, say.
    pub fn hang_report(&self) -> HangReport {
        self.shared.report.clone()
    }

    /// Queues an event: the next long poll receives it, with a deadline [`DEFAULT_TIMEOUT`]
    /// after that moment.
    pub fn push(&self, request_id: &str, body: &str) -> Pushed {
        self.enqueue(request_id, body, None)
    }

    /// Queues an event that need not be text (bytes that are not UTF-8, say).
    pub fn push_bytes(&self, request_id: &str, body: &[u8]) -> Pushed {
        self.enqueue_with(request_id, body, None, self.trace_header(), None)
    }

    /// Queues an event with a fixed deadline.
    pub fn push_with_deadline(&self, request_id: &str, body: &str, deadline: SystemTime) -> Pushed {
        self.enqueue(request_id, body, Some(deadline))
    }

    /// Queues an event with this trace header (`Sampled=0`, say).
    pub fn push_with_trace(&self, request_id: &str, body: &str, trace_header: &str) -> Pushed {
        self.enqueue_traced(request_id, body, None, trace_header.to_owned())
    }

    /// Queues an event with a client context: the next long poll receives it with
    /// `client_context_json` as its `lambda-runtime-client-context` header, the JSON text as
    /// Lambda sends it (not base64), e.g. `{"custom":{"correlation_id":"c-1"}}`.
    ///
    /// # Panics
    ///
    /// If the text cannot be a header value (a line break, say).
    pub fn push_with_client_context(
        &self,
        request_id: &str,
        body: &str,
        client_context_json: &str,
    ) -> Pushed {
        assert!(
            hyper::header::HeaderValue::from_str(client_context_json).is_ok(),
            "a client context must fit in a header value (no line breaks): {client_context_json:?}"
        );
        self.enqueue_with(
            request_id,
            body.as_bytes(),
            None,
            self.trace_header(),
            Some(client_context_json.to_owned()),
        )
    }

    fn enqueue(&self, request_id: &str, body: &str, deadline: Option<SystemTime>) -> Pushed {
        self.enqueue_traced(request_id, body, deadline, self.trace_header())
    }

    fn enqueue_traced(
        &self,
        request_id: &str,
        body: &str,
        deadline: Option<SystemTime>,
        trace_header: String,
    ) -> Pushed {
        self.enqueue_with(request_id, body.as_bytes(), deadline, trace_header, None)
    }

    fn enqueue_with(
        &self,
        request_id: &str,
        body: &[u8],
        deadline: Option<SystemTime>,
        trace_header: String,
        client_context: Option<String>,
    ) -> Pushed {
        let pushed = Pushed {
            request_id: request_id.to_owned(),
            trace_header,
        };
        let queued = Queued {
            request_id: pushed.request_id.clone(),
            body: Bytes::copy_from_slice(body),
            deadline,
            trace_header: pushed.trace_header.clone(),
            client_context,
        };
        // The receiver is in `shared`, which this value holds: the send cannot fail.
        let _ = self.shared.queue_tx.send(queued);
        pushed
    }

    /// A trace header of the shape Lambda sends, unique per event.
    fn trace_header(&self) -> String {
        let n = self.shared.trace_counter.fetch_add(1, Ordering::Relaxed) + 1;
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let port = u64::from(self.addr.port());
        format!("Root=1-{seconds:08x}-{port:08x}{n:016x};Parent={n:016x};Sampled=1")
    }

    /// The next POST the function made, waiting for it up to [`HANG_GUARD`]; fails the test
    /// with the functions' output when none comes.
    pub async fn next_outcome(&mut self) -> Posted {
        match tokio::time::timeout(HANG_GUARD, self.outcomes_rx.recv()).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => unreachable!("the Runtime API holds a sender of its own"),
            Err(_) => panic!(
                "hang guard: the function posted nothing to the Runtime API within {} s \
                 (a hang or a crash, not a speed problem); it asked for an event {} times\n{}",
                HANG_GUARD.as_secs(),
                self.polls(),
                self.process_output()
            ),
        }
    }

    /// The next `count` POSTs, in the order they arrived.
    pub async fn next_outcomes(&mut self, count: usize) -> Vec<Posted> {
        let mut outcomes = Vec::with_capacity(count);
        for _ in 0..count {
            outcomes.push(self.next_outcome().await);
        }
        outcomes
    }

    /// A POST already recorded and not yet taken, without waiting.
    pub fn try_next_outcome(&mut self) -> Option<Posted> {
        self.outcomes_rx.try_recv().ok()
    }

    /// Waits until every connection to the server is closed, so that every request a function
    /// sent before it exited has been recorded.
    pub async fn wait_for_disconnect(&self) {
        let all_closed = async {
            loop {
                let closed = self.shared.connection_closed.notified();
                if self.shared.connections.load(Ordering::SeqCst) == 0 {
                    return;
                }
                closed.await;
            }
        };
        if tokio::time::timeout(HANG_GUARD, all_closed).await.is_err() {
            panic!(
                "hang guard: {} connections to the Runtime API still open after {} s\n{}",
                self.shared.connections.load(Ordering::SeqCst),
                HANG_GUARD.as_secs(),
                self.process_output()
            );
        }
    }

    /// The extensions the function registered (`POST /2020-01-01/extension/register`): each
    /// `Lambda-Extension-Name` and the events it subscribed to.
    pub fn extensions(&self) -> Vec<(String, Value)> {
        lock(&self.shared.extensions).clone()
    }

    /// How many times the function asked for an event (`GET /runtime/invocation/next`).
    pub fn polls(&self) -> u64 {
        self.shared.polls.load(Ordering::SeqCst)
    }

    /// When the function first asked for an event: the moment its init ended.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.first_poll.get().copied()
    }

    /// What the [`hang_report`](Self::hang_report) holds now: the output of every function
    /// the test registered there.
    pub fn process_output(&self) -> String {
        self.shared.report.describe()
    }
}

/// The environment Lambda gives a function named `function_name` whose Runtime API is at
/// `addr` (`127.0.0.1:PORT`); see [`RuntimeApi::lambda_environment`].
pub fn lambda_environment(addr: &str, function_name: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", addr),
        ("AWS_LAMBDA_FUNCTION_NAME", function_name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("TZ", ":UTC"),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/23/[$LATEST]0123456789abcdef0123456789abcdef",
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .chain([(
        "AWS_LAMBDA_LOG_GROUP_NAME".to_owned(),
        format!("/aws/lambda/{function_name}"),
    )])
    .collect()
}

/// What a test adds to the message of a [`RuntimeApi`] hang guard: each part is asked for its
/// text when the guard trips (the output a function wrote so far, say). Clones share the parts.
#[derive(Clone, Default)]
pub struct HangReport(Arc<Mutex<Vec<Describe>>>);

/// One part of a [`HangReport`].
type Describe = Box<dyn Fn() -> String + Send + Sync>;

impl std::fmt::Debug for HangReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HangReport")
            .field("parts", &lock(&self.0).len())
            .finish()
    }
}

impl HangReport {
    /// Adds a part: `describe` is called when a hang guard trips.
    pub fn add(&self, describe: impl Fn() -> String + Send + Sync + 'static) {
        lock(&self.0).push(Box::new(describe));
    }

    /// Every part's text, one after the other.
    pub fn describe(&self) -> String {
        lock(&self.0)
            .iter()
            .map(|describe| describe())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Accepts connections until the server is dropped; each connection is served on its own task,
/// so several long polls can wait at once.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = {
                        let shared = Arc::clone(&shared);
                        service_fn(move |request| route(Arc::clone(&shared), request))
                    };
                    // A connection closed by the function (killed, or exiting) is not a failure.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    shared.connections.fetch_sub(1, Ordering::SeqCst);
                    shared.connection_closed.notify_waiters();
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

type HttpResponse = Response<Full<Bytes>>;

async fn route(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // The Extensions API, as Lambda serves it on the same address: a registration answers
    // with an identifier; the next event of an extension that subscribed to none never comes.
    if method == Method::POST && path == "/2020-01-01/extension/register" {
        let name = request
            .headers()
            .get("lambda-extension-name")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = read_json(request).await;
        lock(&shared.extensions).push((name, body["events"].clone()));
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header(
                "lambda-extension-identifier",
                "5d2c1a0e-extension-identifier",
            )
            .body(Full::new(Bytes::from_static(
                br#"{"functionName":"f","functionVersion":"$LATEST","handler":"bootstrap"}"#,
            )))
            .unwrap_or_else(|error| broken(&error)));
    }
    if method == Method::GET && path == "/2020-01-01/extension/event/next" {
        return Ok(std::future::pending().await);
    }
    let route = path.strip_prefix(PREFIX).unwrap_or("");
    if method == Method::GET && route == "/runtime/invocation/next" {
        return Ok(next_invocation(&shared).await);
    }
    if method == Method::POST {
        if route == "/runtime/init/error" {
            let error_type_header = error_type_header(&request);
            let body = read_json(request).await;
            return Ok(record(
                &shared,
                Posted::InitError {
                    error_type_header,
                    body,
                },
                StatusCode::ACCEPTED,
            ));
        }
        if let Some((request_id, kind)) = route
            .strip_prefix("/runtime/invocation/")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(id, kind)| {
                !id.is_empty() && !id.contains('/') && matches!(*kind, "response" | "error")
            })
        {
            let request_id = request_id.to_owned();
            // Lambda accepts one answer per invocation it handed out, and rejects the others.
            let status = if lock(&shared.in_flight).remove(&request_id) {
                StatusCode::ACCEPTED
            } else {
                StatusCode::BAD_REQUEST
            };
            let outcome = if kind == "response" {
                Posted::Response {
                    request_id,
                    body: read_json(request).await,
                }
            } else {
                let error_type_header = error_type_header(&request);
                Posted::Error {
                    request_id,
                    error_type_header,
                    body: read_json(request).await,
                }
            };
            return Ok(record(&shared, outcome, status));
        }
    }
    Ok(record(
        &shared,
        Posted::NotFound {
            method: method.to_string(),
            path,
        },
        StatusCode::NOT_FOUND,
    ))
}

/// Long-polls until an event is queued, then hands it out with Lambda's headers.
async fn next_invocation(shared: &Shared) -> HttpResponse {
    let _ = shared.first_poll.set(Instant::now());
    shared.polls.fetch_add(1, Ordering::SeqCst);
    let queued = {
        let mut queue = shared.queue_rx.lock().await;
        queue.recv().await
    };
    let Some(queued) = queued else {
        return json_response(StatusCode::INTERNAL_SERVER_ERROR, "the queue is closed");
    };
    lock(&shared.in_flight).insert(queued.request_id.clone());
    let deadline = queued
        .deadline
        .unwrap_or_else(|| SystemTime::now() + DEFAULT_TIMEOUT);
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let function_name = lock(&shared.function_name).clone();
    let mut response = Response::builder();
    if let Some(client_context) = &queued.client_context {
        response = response.header("lambda-runtime-client-context", client_context);
    }
    response
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &queued.request_id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        )
        .header("lambda-runtime-trace-id", &queued.trace_header)
        .body(Full::new(queued.body))
        .unwrap_or_else(|error| broken(&error))
}

/// The answer to a request whose response cannot be built (a request id that cannot be a
/// header value, say): 500, saying why.
fn broken(error: &hyper::http::Error) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(format!(
        "the test kit's Runtime API cannot build this response: {error}"
    ))));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

fn error_type_header(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get("lambda-runtime-function-error-type")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// The body as JSON, or as a JSON string holding the raw text when it is not JSON (so a test
/// comparing JSON fails and shows what was sent).
async fn read_json(request: Request<Incoming>) -> Value {
    match request.into_body().collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Err(error) => Value::String(format!("<the body could not be read: {error}>")),
    }
}

fn record(shared: &Shared, outcome: Posted, status: StatusCode) -> HttpResponse {
    // The receiver lives as long as the server; a send can only fail while it is dropped.
    let _ = shared.outcomes_tx.send(outcome);
    if status == StatusCode::ACCEPTED {
        json_response(status, "")
    } else {
        json_response(status, "the Runtime API does not accept this request")
    }
}

fn json_response(status: StatusCode, error: &str) -> HttpResponse {
    let body = if error.is_empty() {
        r#"{"status":"OK"}"#.to_owned()
    } else {
        serde_json::json!({ "errorType": "InvalidRequest", "errorMessage": error }).to_string()
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|error| broken(&error))
}
