//! moto's server, a local DynamoDB (and more) on 127.0.0.1, started by a test ([`Moto`]); and a
//! proxy in front of it ([`DynamoDbProxy`]) that counts the DynamoDB calls a client makes and
//! can answer a failed condition without the item, as DynamoDB does when a request does not
//! ask for it.
//!
//! moto comes from PyPI (`python3 -m pip install "moto[server]"`). Without it a test is
//! skipped with a line on stderr, except on CI (`CI` set), where it fails.

use std::{
    collections::HashMap,
    convert::Infallible,
    fs::File,
    io::Write,
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::task::JoinHandle;

/// How long moto may take to answer after it starts (it imports a lot of Python).
const MOTO_START: Duration = Duration::from_secs(60);

/// moto's server, killed when dropped.
#[derive(Debug)]
pub(crate) struct Moto {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Already exited is fine: there is nothing left to stop.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Keep moto's log only when a test failed, to read why.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

impl Moto {
    /// moto, or `None` when it cannot be started and `test` is to be skipped (said on
    /// stderr); on CI that fails the test instead.
    pub(crate) fn start_or_skip(test: &str) -> Option<Moto> {
        match Moto::start() {
            Ok(moto) => Some(moto),
            Err(reason) if std::env::var_os("CI").is_some() => panic!(
                "{test}: moto is needed on CI and could not be started: {reason}\n\
                 install it with: python3 -m pip install \"moto[server]\""
            ),
            Err(reason) => {
                // Straight to stderr, past the test harness's capture, so the skip is seen.
                let _ = writeln!(std::io::stderr(), "{test}: skipped: {reason}");
                None
            }
        }
    }

    /// Starts `python3 -m moto.server` on a free port of 127.0.0.1 and waits until it accepts
    /// connections. `Err` says why it could not.
    fn start() -> Result<Moto, String> {
        match Command::new("python3")
            .args(["-c", "import moto.server"])
            .output()
        {
            Ok(output) if output.status.success() => {}
            Ok(_) => {
                return Err(
                    "moto is not installed (python3 -m pip install \"moto[server]\")".to_owned(),
                );
            }
            Err(error) => return Err(format!("python3 cannot be run ({error})")),
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("no free port on 127.0.0.1: {error}"))?
            .port();
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("moto-{port}.log"));
        let log_file = File::create(&log)
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|error| format!("cannot start python3 -m moto.server: {error}"))?;
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!(
                    "moto's server exited ({status}) before it answered:\n{}",
                    moto.output()
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(moto);
            }
            if started.elapsed() > MOTO_START {
                return Err(format!(
                    "moto's server did not answer on {addr} within {} s:\n{}",
                    MOTO_START.as_secs(),
                    moto.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// What moto wrote, for a failure message.
    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Creates the Secrets Manager secret `name` holding `value`, with a plain JSON 1.1
    /// request (moto checks no signature): for tests built without the SDK.
    pub(crate) async fn create_secret(&self, name: &str, value: &str) {
        let addr = self.endpoint.trim_start_matches("http://").to_owned();
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .unwrap_or_else(|error| panic!("moto on {addr}: {error}"));
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("an HTTP connection to moto");
        tokio::spawn(connection);
        let body = serde_json::json!({"Name": name, "SecretString": value}).to_string();
        let request = Request::post("/")
            .header("host", &addr)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "secretsmanager.CreateSecret")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(Full::new(Bytes::from(body)))
            .expect("a request");
        let response = sender.send_request(request).await.expect("moto answers");
        let status = response.status();
        let answer = response
            .into_body()
            .collect()
            .await
            .map(|body| body.to_bytes());
        assert!(
            status.is_success(),
            "CreateSecret {name}: HTTP {status}: {answer:?}"
        );
    }
}

/// A proxy on 127.0.0.1 in front of moto's DynamoDB: every request is forwarded as it came and
/// answered as moto answered it, and counted by its operation (`PutItem`, `GetItem`, ...,
/// from `X-Amz-Target`). With [`strip_failed_condition_items`](Self::strip_failed_condition_items)
/// a `ConditionalCheckFailedException` loses its `Item`, as when DynamoDB is not asked for it.
#[derive(Debug)]
pub(crate) struct DynamoDbProxy {
    endpoint: String,
    calls: Arc<Mutex<Vec<String>>>,
    strip: Arc<AtomicBool>,
    server: JoinHandle<()>,
}

impl Drop for DynamoDbProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DynamoDbProxy {
    /// A proxy forwarding to `upstream` (`http://127.0.0.1:PORT`).
    pub(crate) async fn start(upstream: &str) -> DynamoDbProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("moto's endpoint is http://IP:PORT");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let endpoint = format!("http://{}", listener.local_addr().expect("a bound address"));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let strip = Arc::new(AtomicBool::new(false));
        let (server_calls, server_strip) = (calls.clone(), strip.clone());
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (calls, strip) = (server_calls.clone(), server_strip.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        forward(upstream, request, calls.clone(), strip.clone())
                    });
                    // A client that goes away mid-request ends only its connection.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        DynamoDbProxy {
            endpoint,
            calls,
            strip,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`, the endpoint to give the client.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// From now on, a failed condition is answered without the item.
    pub(crate) fn strip_failed_condition_items(&self) {
        self.strip.store(true, Ordering::SeqCst);
    }

    /// The operations called since the last call of this method, in order.
    pub(crate) fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many times each operation was called since the last [`take_calls`](Self::take_calls),
    /// without taking them.
    pub(crate) fn counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for call in self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            *counts.entry(call.clone()).or_default() += 1;
        }
        counts
    }
}

async fn forward(
    upstream: SocketAddr,
    request: Request<Incoming>,
    calls: Arc<Mutex<Vec<String>>>,
    strip: Arc<AtomicBool>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or("unknown")
        .to_owned();
    calls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(operation);
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let answer = async {
        let stream = tokio::net::TcpStream::connect(upstream).await.ok()?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(connection);
        let response = sender
            .send_request(Request::from_parts(parts, Full::new(body)))
            .await
            .ok()?;
        let (mut parts, body) = response.into_parts();
        let mut body = body.collect().await.ok()?.to_bytes();
        if strip.load(Ordering::SeqCst)
            && let Ok(mut error) = serde_json::from_slice::<Value>(&body)
            && error["__type"]
                .as_str()
                .is_some_and(|kind| kind.ends_with("ConditionalCheckFailedException"))
        {
            if let Some(fields) = error.as_object_mut() {
                fields.remove("Item");
            }
            body = Bytes::from(error.to_string());
            parts.headers.remove("content-length");
            // A changed body must not be checked against moto's checksum.
            parts.headers.remove("x-amz-crc32");
        }
        Some(Response::from_parts(parts, Full::new(body)))
    };
    Ok(answer.await.unwrap_or_else(|| {
        Response::builder()
            .status(502)
            .body(Full::new(Bytes::from_static(b"moto did not answer")))
            .unwrap_or_default()
    }))
}

/// Creates the DynamoDB table `table`, partition key `key` (a string), on demand.
#[cfg(feature = "dynamodb")]
pub(crate) async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str, key: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("a complete attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .expect("a complete key schema"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|error| {
            panic!(
                "cannot create the table {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(error)
            )
        });
}
