//! A CloudWatch endpoint on 127.0.0.1 for the `PutMetricData` requests of the real
//! aws-sdk-cloudwatch client. It is not CloudWatch: it speaks just enough of the Smithy RPC v2
//! CBOR protocol the SDK uses (`POST /service/GraniteServiceVersion20100801/operation/
//! PutMetricData`, `smithy-protocol: rpc-v2-cbor`, CBOR bodies, gzip when the SDK compresses)
//! to decode each request and answer it as CloudWatch does: success, throttling, an internal
//! error, or no answer at all. moto does not implement this protocol.
//!
//! ```ignore
//! let mut cloudwatch = CloudWatch::answering_first(&[Answer::Throttling]).await;
//! // ... publish through a client whose `endpoint_url` is `cloudwatch.endpoint_url()` ...
//! let first = cloudwatch.next().await; // answered with throttling
//! let second = cloudwatch.next().await; // answered 200
//! assert_eq!(second.namespace, "Shop");
//! ```

use std::{
    collections::VecDeque,
    convert::Infallible,
    io::Read,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bytes::Bytes;
use ciborium::Value;
use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};

/// The longest [`CloudWatch::next`] waits for a request: the suite's guard against hangs.
const WAIT: Duration = super::HANG_GUARD;

/// The path the SDK posts `PutMetricData` to.
pub(crate) const PUT_METRIC_DATA_PATH: &str =
    "/service/GraniteServiceVersion20100801/operation/PutMetricData";

/// How the server answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 200 with an empty CBOR map: the metrics are accepted.
    Accept,
    /// 400 with `__type` `ThrottlingException` and `x-amzn-query-error: Throttling;Sender`, as
    /// CloudWatch answers a caller over its request rate.
    Throttling,
    /// 500 with `__type` `InternalServiceFault` and
    /// `x-amzn-query-error: InternalServiceError;Receiver`.
    InternalError,
    /// No answer, ever: the connection stays open.
    Hang,
}

/// One metric datum of a request, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Datum {
    pub(crate) name: String,
    /// The dimensions, in the order sent.
    pub(crate) dimensions: Vec<(String, String)>,
    /// The timestamp, in epoch milliseconds (sent as a CBOR tag 1 epoch-seconds number).
    pub(crate) timestamp_ms: Option<i64>,
    pub(crate) value: Option<f64>,
    pub(crate) values: Vec<f64>,
    pub(crate) counts: Vec<f64>,
    pub(crate) unit: Option<String>,
    pub(crate) storage_resolution: Option<i64>,
}

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct PutRequest {
    /// When the request had been read whole.
    pub(crate) at: Instant,
    /// How the server answered it.
    pub(crate) answer: Answer,
    pub(crate) method: String,
    pub(crate) path: String,
    /// The `smithy-protocol` header.
    pub(crate) smithy_protocol: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    /// The `amz-sdk-request` header: `attempt=N; max=M`.
    pub(crate) sdk_request: Option<String>,
    /// The `amz-sdk-invocation-id` header: the same for every attempt of one call.
    pub(crate) invocation_id: Option<String>,
    /// Whether the request carries a SigV4 `Authorization` header.
    pub(crate) signed: bool,
    /// The body's length as sent (compressed, when it was).
    pub(crate) body_bytes: usize,
    /// The CBOR body's length, decompressed.
    pub(crate) cbor_bytes: usize,
    /// Why the body could not be decoded, if it could not (then the fields below are empty).
    pub(crate) problem: Option<String>,
    pub(crate) namespace: String,
    pub(crate) metric_data: Vec<Datum>,
}

#[derive(Debug)]
struct Shared {
    /// The answers still to give, in order; [`Answer::Accept`] once it is empty.
    answers: Mutex<VecDeque<Answer>>,
    received_tx: mpsc::UnboundedSender<PutRequest>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The CloudWatch endpoint, on an ephemeral port of 127.0.0.1. It stops when dropped.
#[derive(Debug)]
pub(crate) struct CloudWatch {
    addr: SocketAddr,
    received_rx: mpsc::UnboundedReceiver<PutRequest>,
    server: JoinHandle<()>,
}

impl Drop for CloudWatch {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl CloudWatch {
    /// An endpoint accepting every request.
    pub(crate) async fn start() -> Self {
        Self::answering_first(&[]).await
    }

    /// An endpoint answering the first requests as `answers` says, in arrival order, and
    /// accepting every later one.
    pub(crate) async fn answering_first(answers: &[Answer]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the CloudWatch endpoint to 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("the CloudWatch endpoint's address");
        let (received_tx, received_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            answers: Mutex::new(answers.iter().copied().collect()),
            received_tx,
        });
        let server = tokio::spawn(serve(listener, shared));
        Self {
            addr,
            received_rx,
            server,
        }
    }

    /// The URL to give the client as `endpoint_url`: `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next request received, in arrival order, waiting for it; fails the test when none
    /// comes within the hang guard.
    pub(crate) async fn next(&mut self) -> PutRequest {
        match tokio::time::timeout(WAIT, self.received_rx.recv()).await {
            Ok(Some(received)) => received,
            Ok(None) => unreachable!("the CloudWatch endpoint holds a sender while it runs"),
            Err(_) => panic!(
                "hang guard: no PutMetricData request reached {} within {} s \
                 (a hang or a missing request, not a speed problem)",
                self.addr,
                WAIT.as_secs()
            ),
        }
    }

    /// Every request received and not yet taken, without waiting.
    pub(crate) fn take_received(&mut self) -> Vec<PutRequest> {
        let mut received = Vec::new();
        while let Ok(request) = self.received_rx.try_recv() {
            received.push(request);
        }
        received
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |request| answer(Arc::clone(&shared), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let smithy_protocol = header("smithy-protocol");
    let content_type = header("content-type");
    let content_encoding = header("content-encoding");
    let sdk_request = header("amz-sdk-request");
    let invocation_id = header("amz-sdk-invocation-id");
    let signed = header("authorization").is_some_and(|value| value.starts_with("AWS4-HMAC-SHA256"));
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let mut received = PutRequest {
        at: Instant::now(),
        answer: Answer::Accept,
        method,
        path,
        smithy_protocol,
        content_type,
        content_encoding: content_encoding.clone(),
        sdk_request,
        invocation_id,
        signed,
        body_bytes: body.len(),
        cbor_bytes: 0,
        problem: None,
        namespace: String::new(),
        metric_data: Vec::new(),
    };
    let cbor = match content_encoding.as_deref() {
        Some("gzip") => {
            let mut decompressed = Vec::new();
            match flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut decompressed) {
                Ok(_) => Ok(decompressed),
                Err(error) => Err(format!("the gzip body does not decompress: {error}")),
            }
        }
        None => Ok(body.to_vec()),
        Some(other) => Err(format!("unexpected content-encoding {other}")),
    };
    match cbor.and_then(|cbor| {
        received.cbor_bytes = cbor.len();
        decode(&cbor)
    }) {
        Ok((namespace, metric_data)) => {
            received.namespace = namespace;
            received.metric_data = metric_data;
        }
        Err(problem) => received.problem = Some(problem),
    }
    let answer = {
        // Taking the answer and recording under one lock keeps the n-th request recorded the
        // n-th answered.
        let mut answers = lock(&shared.answers);
        let answer = answers.pop_front().unwrap_or(Answer::Accept);
        received.answer = answer;
        let _ = shared.received_tx.send(received);
        answer
    };
    let (status, query_error, body) = match answer {
        Answer::Accept => (StatusCode::OK, None, Value::Map(Vec::new())),
        Answer::Throttling => (
            StatusCode::BAD_REQUEST,
            Some("Throttling;Sender"),
            error_body(
                "com.amazon.coral.availability#ThrottlingException",
                "Rate exceeded",
            ),
        ),
        Answer::InternalError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("InternalServiceError;Receiver"),
            error_body(
                "com.amazonaws.cloudwatch#InternalServiceFault",
                "Internal service error",
            ),
        ),
        Answer::Hang => {
            std::future::pending::<()>().await;
            unreachable!("a pending future never completes")
        }
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(&body, &mut bytes).expect("a CBOR map encodes");
    let mut response = Response::builder()
        .status(status)
        .header("smithy-protocol", "rpc-v2-cbor")
        .header("content-type", "application/cbor")
        .header("x-amzn-requestid", "5c1ee87f-3bb2-4b6c-9ad2-6c2e0c1a3f11");
    if let Some(query_error) = query_error {
        response = response.header("x-amzn-query-error", query_error);
    }
    Ok(response
        .body(Full::new(Bytes::from(bytes)))
        .expect("a valid response"))
}

/// An RPC v2 CBOR error body: the error's shape id under `__type`, and its message.
fn error_body(shape: &str, message: &str) -> Value {
    Value::Map(vec![
        (Value::Text("__type".into()), Value::Text(shape.into())),
        (Value::Text("message".into()), Value::Text(message.into())),
    ])
}

/// The namespace and metric data of a `PutMetricData` body.
fn decode(cbor: &[u8]) -> Result<(String, Vec<Datum>), String> {
    let value: Value =
        ciborium::from_reader(cbor).map_err(|error| format!("the body is not CBOR: {error}"))?;
    let input = map(&value, "the input")?;
    let mut namespace = String::new();
    let mut metric_data = Vec::new();
    for (key, value) in input {
        match text(key, "a key")? {
            "Namespace" => namespace = text(value, "Namespace")?.to_owned(),
            "MetricData" => {
                for datum in array(value, "MetricData")? {
                    metric_data.push(decode_datum(datum)?);
                }
            }
            other => return Err(format!("unexpected input member {other}")),
        }
    }
    Ok((namespace, metric_data))
}

fn decode_datum(value: &Value) -> Result<Datum, String> {
    let mut datum = Datum {
        name: String::new(),
        dimensions: Vec::new(),
        timestamp_ms: None,
        value: None,
        values: Vec::new(),
        counts: Vec::new(),
        unit: None,
        storage_resolution: None,
    };
    for (key, value) in map(value, "a datum")? {
        match text(key, "a key")? {
            "MetricName" => datum.name = text(value, "MetricName")?.to_owned(),
            "Dimensions" => {
                for dimension in array(value, "Dimensions")? {
                    let mut name = None;
                    let mut val = None;
                    for (key, value) in map(dimension, "a dimension")? {
                        match text(key, "a key")? {
                            "Name" => name = Some(text(value, "Name")?.to_owned()),
                            "Value" => val = Some(text(value, "Value")?.to_owned()),
                            other => return Err(format!("unexpected dimension member {other}")),
                        }
                    }
                    datum.dimensions.push((
                        name.ok_or("a dimension without a Name")?,
                        val.ok_or("a dimension without a Value")?,
                    ));
                }
            }
            "Timestamp" => match value {
                Value::Tag(1, seconds) => {
                    let seconds = number(seconds, "Timestamp")?;
                    datum.timestamp_ms = Some((seconds * 1000.0).round() as i64);
                }
                other => return Err(format!("Timestamp is not a tag 1 epoch time: {other:?}")),
            },
            "Value" => datum.value = Some(number(value, "Value")?),
            "Values" => {
                datum.values = array(value, "Values")?
                    .iter()
                    .map(|value| number(value, "Values"))
                    .collect::<Result<_, _>>()?;
            }
            "Counts" => {
                datum.counts = array(value, "Counts")?
                    .iter()
                    .map(|value| number(value, "Counts"))
                    .collect::<Result<_, _>>()?;
            }
            "Unit" => datum.unit = Some(text(value, "Unit")?.to_owned()),
            "StorageResolution" => match value {
                Value::Integer(integer) => {
                    datum.storage_resolution = Some(
                        i64::try_from(i128::from(*integer))
                            .map_err(|_| "StorageResolution out of range")?,
                    );
                }
                other => return Err(format!("StorageResolution is not an integer: {other:?}")),
            },
            other => return Err(format!("unexpected datum member {other}")),
        }
    }
    Ok(datum)
}

fn map<'a>(value: &'a Value, what: &str) -> Result<&'a [(Value, Value)], String> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(format!("{what} is not a map: {other:?}")),
    }
}

fn array<'a>(value: &'a Value, what: &str) -> Result<&'a [Value], String> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(format!("{what} is not an array: {other:?}")),
    }
}

fn text<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    match value {
        Value::Text(text) => Ok(text),
        other => Err(format!("{what} is not a text string: {other:?}")),
    }
}

fn number(value: &Value, what: &str) -> Result<f64, String> {
    match value {
        Value::Float(float) => Ok(*float),
        Value::Integer(integer) => Ok(i128::from(*integer) as f64),
        other => Err(format!("{what} is not a number: {other:?}")),
    }
}
