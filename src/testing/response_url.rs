//! A CloudFormation custom resource `ResponseURL` on 127.0.0.1: the pre-signed S3 URL a
//! custom resource handler PUTs its JSON response to. It records every request before
//! answering it, so a test sees the attempts it answered with an error as well as the one it
//! accepted.

use std::{
    collections::VecDeque,
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};

/// The longest [`ResponseUrl::next`] waits for a request: the suite's guard against hangs.
const WAIT: Duration = super::HANG_GUARD;

/// The query string of every URL: the shape of a pre-signed S3 URL's.
const QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd";

/// One request the server received.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Received {
    /// The HTTP method: `"PUT"` when the handler does what CloudFormation expects.
    pub method: String,
    /// The path and query of the request target, e.g.
    /// `/responses/create-1?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd`.
    pub path_and_query: String,
    /// The raw `Content-Type` header, if sent (`""` when sent empty, as a pre-signed URL
    /// requires unless the content type was signed).
    pub content_type: Option<String>,
    /// The raw `Content-Length` header, if sent.
    pub content_length: Option<String>,
    /// The body, as JSON (a JSON string holding the raw text if it is not JSON).
    pub body: Value,
    /// The length of the raw body, in bytes.
    pub body_bytes: usize,
}

/// The state the server's connections share.
#[derive(Debug)]
struct Shared {
    /// The statuses still to answer with, in order; `200` once it is empty.
    statuses: Mutex<VecDeque<StatusCode>>,
    received_tx: mpsc::UnboundedSender<Received>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the others.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A pre-signed `ResponseURL` server on an ephemeral port of 127.0.0.1: a custom resource's
/// answers are recorded before they are answered, so a test sees the attempts answered with an
/// error as well as the one accepted. It stops when dropped.
///
/// ```no_run
/// use helve::testing::{ResponseUrl, fixtures};
///
/// # async fn example() {
/// let mut response_url = ResponseUrl::failing_first(&[503]).await;
/// let event = fixtures::custom_resource_create().response_url(&response_url.url("create-1"));
/// // ... the function's binary, started against a Runtime API, is given the event ...
/// let first = response_url.next().await; // answered 503
/// let second = response_url.next().await; // answered 200
/// assert_eq!(second.method, "PUT");
/// assert_eq!(second.body["Status"], "SUCCESS");
/// # let _ = (event, first);
/// # }
/// ```
#[derive(Debug)]
pub struct ResponseUrl {
    addr: SocketAddr,
    received_rx: mpsc::UnboundedReceiver<Received>,
    server: JoinHandle<()>,
}

impl Drop for ResponseUrl {
    fn drop(&mut self) {
        // Dropping the accept loop drops its connections too.
        self.server.abort();
    }
}

impl ResponseUrl {
    /// Starts a server that answers every request 200 with an empty body.
    ///
    /// # Panics
    ///
    /// If no port of 127.0.0.1 can be bound.
    pub async fn start() -> Self {
        Self::failing_first(&[]).await
    }

    /// Starts a server that answers the first requests with these statuses, in order (e.g.
    /// `&[503, 500]`), then 200 for every later request; every answer has an empty body.
    ///
    /// # Panics
    ///
    /// If a status is not a valid HTTP status code (100 to 999), or no port of 127.0.0.1 can
    /// be bound.
    pub async fn failing_first(statuses: &[u16]) -> Self {
        let statuses = statuses
            .iter()
            .map(|&status| {
                StatusCode::from_u16(status)
                    .unwrap_or_else(|_| panic!("{status} is not an HTTP status code"))
            })
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .and_then(|listener| Ok((listener.local_addr()?, listener)));
        let (addr, listener) = listener.unwrap_or_else(|error| {
            panic!("the test kit cannot bind the ResponseURL server to 127.0.0.1: {error}")
        });
        let (received_tx, received_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            statuses: Mutex::new(statuses),
            received_tx,
        });
        let server = tokio::spawn(serve(listener, shared));
        Self {
            addr,
            received_rx,
            server,
        }
    }

    /// The URL to put in an event's `ResponseURL`:
    /// `http://127.0.0.1:PORT/responses/{tag}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd`.
    /// The tag tells apart the invocations that share the server; it goes into the path as it
    /// is.
    ///
    /// # Panics
    ///
    /// If the tag holds a character that would change the URL's structure or need escaping.
    pub fn url(&self, tag: &str) -> String {
        format!("http://{}{}", self.addr, Self::path_and_query(tag))
    }

    /// What [`Received::path_and_query`] is for a request to [`url`](Self::url)`(tag)`.
    ///
    /// # Panics
    ///
    /// If the tag holds a character that would change the URL's structure or need escaping.
    pub fn path_and_query(tag: &str) -> String {
        assert!(
            tag.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte)),
            "the ResponseURL tag {tag:?} must hold only ASCII letters, digits and -._~"
        );
        format!("/responses/{tag}?{QUERY}")
    }

    /// The next request the server received, in arrival order (the ones answered with an error
    /// too), waiting for it up to 30 s; fails the test when none comes.
    pub async fn next(&mut self) -> Received {
        match tokio::time::timeout(WAIT, self.received_rx.recv()).await {
            Ok(Some(received)) => received,
            Ok(None) => unreachable!("the ResponseURL server holds a sender while it runs"),
            Err(_) => panic!(
                "hang guard: nothing was sent to the ResponseURL {} within {} s \
                 (a hang or a missing response, not a speed problem)",
                self.addr,
                WAIT.as_secs()
            ),
        }
    }

    /// The next request already received and not yet taken, without waiting; `None` when the
    /// test has taken every request received so far.
    pub fn try_next(&mut self) -> Option<Received> {
        self.received_rx.try_recv().ok()
    }
}

/// Accepts connections until the server is dropped; each connection is served on its own task.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |request| answer(Arc::clone(&shared), request));
                    // A connection the client closes (or drops mid-request) is not a failure.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Reads the whole request, records it, then answers it with the next status.
async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().to_string();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_owned(), ToString::to_string);
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let content_type = header("content-type");
    let content_length = header("content-length");
    let (body, body_bytes) = match request.into_body().collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let body = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            (body, bytes.len())
        }
        Err(error) => (
            Value::String(format!("<the body could not be read: {error}>")),
            0,
        ),
    };
    let received = Received {
        method,
        path_and_query,
        content_type,
        content_length,
        body,
        body_bytes,
    };
    let status = {
        // Taking the status and recording under one lock keeps the n-th request recorded the
        // n-th answered, when requests arrive on several connections at once.
        let mut statuses = lock(&shared.statuses);
        // The receiver lives as long as the server; a send can only fail while it is dropped.
        let _ = shared.received_tx.send(received);
        statuses.pop_front().unwrap_or(StatusCode::OK)
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    Ok(response)
}
