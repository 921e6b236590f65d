//! A DynamoDB endpoint on 127.0.0.1 for `BatchWriteItem` only, that answers each call as a
//! test plans it: all written, some items left in `UnprocessedItems`, the whole call refused
//! for throughput, or refused as invalid. moto never leaves items unprocessed nor throttles;
//! this speaks the same wire format (AWS JSON 1.0, `X-Amz-Target:
//! DynamoDB_20120810.BatchWriteItem`) so the real SDK client can be pointed at it.

use std::{
    collections::{BTreeMap, VecDeque},
    convert::Infallible,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// How the endpoint answers one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteAnswer {
    /// Every item written.
    Accept,
    /// The last `n` items of the call left in `UnprocessedItems`, the others written.
    LeaveUnprocessed(usize),
    /// 400 `ProvisionedThroughputExceededException`: nothing written.
    Throttle,
    /// 400 `ValidationException`: nothing written.
    Invalid,
}

/// One call the endpoint received.
#[derive(Debug, Clone)]
pub(crate) struct WriteCall {
    pub(crate) at: Instant,
    /// The items of the call, in order, as DynamoDB JSON (`{"id": {"S": "t-1"}, ...}`).
    pub(crate) items: Vec<Value>,
    pub(crate) answer: WriteAnswer,
}

#[derive(Debug, Default)]
struct State {
    plan: VecDeque<WriteAnswer>,
    /// The answer once the plan is used up.
    then: Option<WriteAnswer>,
    calls: Vec<WriteCall>,
    /// The items written, by their `id`'s string.
    table: BTreeMap<String, Value>,
}

/// The endpoint; stops when dropped.
#[derive(Debug)]
pub(crate) struct DynamoDbFaults {
    endpoint: String,
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

impl Drop for DynamoDbFaults {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DynamoDbFaults {
    /// An endpoint answering its calls with `plan`, then with `then` for every later call.
    pub(crate) async fn start(plan: &[WriteAnswer], then: WriteAnswer) -> DynamoDbFaults {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let endpoint = format!("http://{}", listener.local_addr().expect("a bound address"));
        let state = Arc::new(Mutex::new(State {
            plan: plan.iter().copied().collect(),
            then: Some(then),
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(request, Arc::clone(&state)));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        DynamoDbFaults {
            endpoint,
            state,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The calls so far.
    pub(crate) fn calls(&self) -> Vec<WriteCall> {
        self.lock().calls.clone()
    }

    /// The items written, by `id`.
    pub(crate) fn table(&self) -> BTreeMap<String, Value> {
        self.lock().table.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn json_response(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", "faults-1")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

async fn answer(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    if target != "DynamoDB_20120810.BatchWriteItem" {
        return Ok(json_response(
            400,
            json!({"__type": "com.amazonaws.dynamodb.v20120810#UnknownOperationException", "message": target}),
        ));
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some((table, requests)) = request["RequestItems"]
        .as_object()
        .and_then(|tables| tables.iter().next())
        .map(|(table, requests)| {
            (
                table.clone(),
                requests.as_array().cloned().unwrap_or_default(),
            )
        })
    else {
        return Ok(json_response(
            400,
            json!({"__type": "com.amazonaws.dynamodb.v20120810#ValidationException", "message": "no RequestItems"}),
        ));
    };
    let items: Vec<Value> = requests
        .iter()
        .map(|request| request["PutRequest"]["Item"].clone())
        .collect();
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    let answer = match state.plan.pop_front() {
        Some(answer) => answer,
        None => state.then.unwrap_or(WriteAnswer::Accept),
    };
    state.calls.push(WriteCall {
        at: Instant::now(),
        items: items.clone(),
        answer,
    });
    let left = match answer {
        WriteAnswer::Throttle => {
            return Ok(json_response(
                400,
                json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "message": "The level of configured provisioned throughput for the table was exceeded."
                }),
            ));
        }
        WriteAnswer::Invalid => {
            return Ok(json_response(
                400,
                json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
                    "message": "One or more parameter values were invalid"
                }),
            ));
        }
        WriteAnswer::Accept => 0,
        WriteAnswer::LeaveUnprocessed(n) => n.min(items.len()),
    };
    let (written, unprocessed) = items.split_at(items.len() - left);
    for item in written {
        let id = item["id"]["S"].as_str().unwrap_or_default().to_owned();
        state.table.insert(id, item.clone());
    }
    let unprocessed: Vec<Value> = unprocessed
        .iter()
        .map(|item| json!({"PutRequest": {"Item": item}}))
        .collect();
    let mut tables = serde_json::Map::new();
    if !unprocessed.is_empty() {
        tables.insert(table, Value::Array(unprocessed));
    }
    Ok(json_response(200, json!({"UnprocessedItems": tables})))
}
