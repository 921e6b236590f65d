//! Idempotent HTTP handlers (features `http` and `idempotency`): a `POST` retried with the
//! same `Idempotency-Key` (or the same key in its JSON body) is answered with the first
//! response, marked `x-idempotent-replay: true`, without running the handler again.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    fmt,
    future::poll_fn,
    marker::PhantomData,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{self, Poll},
};

use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use lambda_http::Body;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::Service;

use super::{
    BoxFuture, Endpoint, FromState, Guarded, HttpHandler, Invoked, Request, Response, StatusCode,
    response::{IntoResponse, Problem},
};
use crate::{
    ConfigError,
    correlation::Pointer,
    error::codes,
    handler::short_type_name,
    idempotency::{Idempotency, IdempotencyError},
};

/// The header a replayed response carries: `x-idempotent-replay: true`.
pub const REPLAY_HEADER: &str = "x-idempotent-replay";

/// Where an HTTP request's idempotency key is: a header (`header:Idempotency-Key`) or a JSON
/// pointer into the JSON body (`/order_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpKey {
    /// The value of this header, as a JSON string.
    Header(HeaderName),
    /// The value at this JSON pointer into the body.
    Body(Pointer),
}

impl HttpKey {
    /// Reads `header:NAME` or a JSON pointer into the body (`""`, `/order_id`).
    pub fn parse(key: &str) -> Result<Self, ConfigError> {
        match key.strip_prefix("header:") {
            Some(name) => HeaderName::try_from(name.trim())
                .map(HttpKey::Header)
                .map_err(|_| {
                    ConfigError::new(
                        "idempotency key",
                        "`header:` must be followed by a header name, as `header:Idempotency-Key`",
                    )
                }),
            None => Pointer::new(key)
                .map(HttpKey::Body)
                .map_err(|error| ConfigError::new("idempotency key", error.to_string())),
        }
    }
}

/// The handler's name, for the default key prefix `{function}.{handler}`.
pub trait HandlerName {
    /// The name; `None` when the service has none (a router).
    fn handler_name() -> Option<&'static str>;
}

impl<H, S, M> HandlerName for Endpoint<H, S, M> {
    fn handler_name() -> Option<&'static str> {
        Some(short_type_name::<H>())
    }
}

impl<F, Svc, S> HandlerName for FromState<F, Svc, S> {
    fn handler_name() -> Option<&'static str> {
        None
    }
}

impl<Svc: HandlerName, S> HttpHandler<Guarded<Svc, S>, S> {
    /// Answers each request once per idempotency key, found at `key`: `header:Idempotency-Key`
    /// for a header, or a JSON pointer into the JSON body (`/order_id`). A retry with the same
    /// key gets the first response, with the header `x-idempotent-replay: true`, and the
    /// handler does not run again.
    ///
    /// - A request of a safe method (`GET`, `HEAD`, `OPTIONS`, `TRACE`) runs as it is: it is
    ///   idempotent by itself, so a router's reads need no key.
    /// - Under a router ([`service`](super::service)), the key is the route's: the method and
    ///   path with the key's value, so that one value sent to two routes runs each once.
    /// - Only successful and redirect responses (2xx, 3xx) are kept; any other answer (a
    ///   validation failure, a 500) releases the key, so a corrected retry runs.
    /// - A retry while the first request runs is answered `409 Conflict`
    ///   (`idempotency_in_progress`, with `Retry-After: 1`); one whose
    ///   [validated part](Idempotency::payload_validation) (a pointer into the body) differs,
    ///   `422` (`idempotency_key_reused`); no key with [`key_required`](Idempotency::key_required),
    ///   `400` (`idempotency_key_missing`); a store that fails, `503`
    ///   (`idempotency_unavailable`).
    /// - A key that is neither is reported when the function starts, as `helve.ConfigError`.
    ///
    /// Call it before [`layer`](HttpHandler::layer): the layers (CORS, say) then see a replay
    /// as they see every answer.
    ///
    /// ```no_run
    /// use helve::http::{Created, Json, Request, IntoResponse, Response, http};
    /// use helve::idempotency::{Idempotency, MemoryStore};
    ///
    /// async fn create(_request: Request, _ctx: helve::Context) -> Response {
    ///     let body = Json(serde_json::json!({"id": "o-1"}));
    ///     Created { location: "/orders/o-1".to_owned(), body }.into_response()
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     let idempotency = Idempotency::new(MemoryStore::new());
    ///     helve::Function::new(http(create).idempotency(idempotency, "header:Idempotency-Key"))
    ///         .run()
    /// }
    /// ```
    pub fn idempotency(
        self,
        idempotency: Idempotency,
        key: &str,
    ) -> HttpHandler<IdempotentHttp<Guarded<Svc, S>, S>, S> {
        // A service without a name of its own (a router) answers several routes: each route's
        // requests have keys of their own.
        let per_route = Svc::handler_name().is_none();
        let idempotency = match Svc::handler_name() {
            Some(name) => idempotency.named(name),
            None => idempotency,
        };
        let validation = idempotency.payload_validation.as_deref().map(|pointer| {
            Pointer::new(pointer).map_err(|error| {
                ConfigError::new("idempotency payload_validation", error.to_string())
            })
        });
        let keys = HttpKey::parse(key).and_then(|key| {
            let validation = validation.transpose()?;
            Ok(Keys { key, validation })
        });
        HttpHandler {
            config_error: keys.as_ref().err().cloned(),
            service: IdempotentHttp {
                inner: self.service,
                idempotency: Arc::new(idempotency),
                keys: Arc::new(keys),
                per_route,
                _state: PhantomData,
            },
            options: self.options,
            _state: PhantomData,
        }
    }
}

/// Where the key and the validated part are read.
#[derive(Debug)]
pub(super) struct Keys {
    key: HttpKey,
    validation: Option<Pointer>,
}

/// The HTTP service of [`HttpHandler::idempotency`]: answers once per idempotency key.
pub struct IdempotentHttp<Svc, S> {
    inner: Svc,
    idempotency: Arc<Idempotency>,
    keys: Arc<Result<Keys, ConfigError>>,
    /// Whether the key is the route's (method and path) with the key's value: for a router.
    per_route: bool,
    _state: PhantomData<fn(S)>,
}

impl<Svc: Clone, S> Clone for IdempotentHttp<Svc, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            idempotency: Arc::clone(&self.idempotency),
            keys: Arc::clone(&self.keys),
            per_route: self.per_route,
            _state: PhantomData,
        }
    }
}

impl<Svc, S> fmt::Debug for IdempotentHttp<Svc, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotentHttp")
            .field("service", &std::any::type_name::<Svc>())
            .field("idempotency", &self.idempotency)
            .field("keys", &self.keys)
            .finish()
    }
}

impl<Svc, S> Service<Request> for IdempotentHttp<Svc, S>
where
    Svc: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    Svc::Future: Send + 'static,
    S: Sync + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut task::Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let mut inner = self.inner.clone();
        // A safe method (`GET`, `HEAD`, `OPTIONS`, `TRACE`) is idempotent by itself: a
        // router's reads run as they are, with no key asked for.
        if request.method().is_safe() {
            return Box::pin(async move {
                let Ok(()) = poll_fn(|cx| inner.poll_ready(cx)).await;
                inner.call(request).await
            });
        }
        let idempotency = Arc::clone(&self.idempotency);
        let keys = Arc::clone(&self.keys);
        let per_route = self.per_route;
        Box::pin(async move {
            let Ok(keys) = &*keys else {
                // Unreachable: the function does not start with an invalid key.
                return Ok(Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response());
            };
            let body_limit = request
                .extensions()
                .get::<Invoked<S>>()
                .map(|invoked| invoked.limits.body_limit);
            let (mut key, validated) = read_keys(keys, &request, body_limit);
            // `POST /orders` and `POST /refunds` with one key value are two requests.
            if per_route && !key.is_null() {
                key = Value::Array(vec![
                    Value::String(request.method().as_str().to_owned()),
                    Value::String(request.uri().path().to_owned()),
                    key,
                ]);
            }
            // Set when this request runs the handler: its answer is not a replay.
            let ran = AtomicBool::new(false);
            let run = || async {
                ran.store(true, Ordering::Relaxed);
                let Ok(()) = poll_fn(|cx| inner.poll_ready(cx)).await;
                let Ok(response) = inner.call(request).await;
                Stored::keep(response)
            };
            let outcome = idempotency.run(&key, validated.as_ref(), run).await;
            Ok(match outcome {
                Ok(stored) => stored.into_response(!ran.load(Ordering::Relaxed)),
                Err(IdempotencyError::Failed(response)) => *response,
                Err(error) => problem(&error),
            })
        })
    }
}

/// The key value and the validated value of `request`; `Null` for a key that is not there
/// (idempotency then counts it missing). The body is parsed only for a pointer into it, and
/// not when it is over the limit (the handler answers 413 for it).
fn read_keys(keys: &Keys, request: &Request, body_limit: Option<usize>) -> (Value, Option<Value>) {
    let needs_body = matches!(keys.key, HttpKey::Body(_)) || keys.validation.is_some();
    let body = needs_body
        .then(|| {
            let bytes: &[u8] = request.body().as_ref();
            if body_limit.is_some_and(|limit| bytes.len() > limit) {
                return None;
            }
            serde_json::from_slice::<Value>(bytes).ok()
        })
        .flatten();
    let at = |pointer: &Pointer| {
        body.as_ref()
            .and_then(|body| body.pointer(pointer.as_str()))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let key = match &keys.key {
        HttpKey::Header(name) => request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map_or(Value::Null, |value| Value::String(value.trim().to_owned())),
        HttpKey::Body(pointer) => at(pointer),
    };
    (key, keys.validation.as_ref().map(at))
}

/// A response as the record keeps it: the shape of a Lambda proxy response (`statusCode`,
/// `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`), which a Powertools Python
/// function behind the same API stores and replays too.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    status_code: u16,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    multi_value_headers: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

impl Stored {
    /// The record of `response` when it is one to keep (2xx or 3xx); otherwise the response
    /// itself, which releases the key.
    fn keep(response: Response) -> Result<Stored, Box<Response>> {
        let status = response.status();
        if !(status.is_success() || status.is_redirection()) {
            return Err(Box::new(response));
        }
        let (parts, body) = response.into_parts();
        let mut headers = BTreeMap::new();
        let mut multi_value_headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for name in parts.headers.keys() {
            // `Response` headers are made valid by helve: visible ASCII.
            let values: Vec<String> = parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok().map(str::to_owned))
                .collect();
            match <[String; 1]>::try_from(values) {
                Ok([value]) => {
                    headers.insert(name.as_str().to_owned(), value);
                }
                Err(values) if !values.is_empty() => {
                    multi_value_headers.insert(name.as_str().to_owned(), values);
                }
                Err(_) => {}
            }
        }
        let (body, is_base64_encoded) = match body {
            Body::Empty => (None, false),
            Body::Text(text) => (Some(text), false),
            Body::Binary(bytes) => match String::from_utf8(bytes) {
                Ok(text) => (Some(text), false),
                Err(error) => (
                    Some(base64::engine::general_purpose::STANDARD.encode(error.as_bytes())),
                    true,
                ),
            },
            _ => (None, false),
        };
        Ok(Stored {
            status_code: parts.status.as_u16(),
            headers,
            multi_value_headers,
            body,
            is_base64_encoded,
        })
    }

    /// The response again; a `replay` is marked `x-idempotent-replay: true`.
    fn into_response(self, replay: bool) -> Response {
        let body = match (self.body, self.is_base64_encoded) {
            (None, _) => Body::Empty,
            (Some(text), false) => Body::Text(text),
            (Some(text), true) => match base64::engine::general_purpose::STANDARD.decode(&text) {
                Ok(bytes) => Body::Binary(bytes),
                Err(_) => {
                    tracing::error!(
                        error_type = codes::IDEMPOTENCY_STORE_ERROR,
                        "the stored response's body is marked base64 and is not: answering 500"
                    );
                    return Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                        .logged()
                        .into_response();
                }
            },
        };
        let mut response = Response::new(body);
        *response.status_mut() = StatusCode::from_u16(self.status_code).unwrap_or(StatusCode::OK);
        let headers = response.headers_mut();
        let singles = self
            .headers
            .into_iter()
            .map(|(name, value)| (name, vec![value]));
        for (name, values) in singles.chain(self.multi_value_headers) {
            let Ok(name) = HeaderName::try_from(name) else {
                continue;
            };
            for value in values {
                if let Ok(value) = HeaderValue::try_from(value) {
                    headers.append(name.clone(), value);
                }
            }
        }
        if replay {
            headers.insert(
                HeaderName::from_static(REPLAY_HEADER),
                HeaderValue::from_static("true"),
            );
        }
        response
    }
}

/// The problem answering one of idempotency's own errors, logged with its `errorType`: 4xx at
/// INFO, 5xx at ERROR. The key (a digest) is logged, not shown to the client.
fn problem(error: &IdempotencyError<Box<Response>>) -> Response {
    let (status, code, detail) = match error {
        IdempotencyError::AlreadyInProgress { .. } => (
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "a request with this idempotency key is being answered; retry once it is",
        ),
        IdempotencyError::ValidationFailed { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this idempotency key was used with a different request",
        ),
        IdempotencyError::KeyMissing => (
            StatusCode::BAD_REQUEST,
            "idempotency_key_missing",
            "the request has no idempotency key, and this endpoint requires one",
        ),
        IdempotencyError::Released { .. } => (
            StatusCode::GATEWAY_TIMEOUT,
            "deadline_exceeded",
            "the function ran out of time before it could answer; retry with the same idempotency key",
        ),
        IdempotencyError::Store { .. } | IdempotencyError::InconsistentState { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "idempotency_unavailable",
            "the request could not be checked for duplicates; retry with the same idempotency key",
        ),
        IdempotencyError::Panicked(_) | IdempotencyError::Failed(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the request could not be answered",
        ),
    };
    let error_type = error.own_error_type().unwrap_or(codes::INTERNAL);
    let message = error.own_message().unwrap_or_default();
    if status.is_server_error() {
        tracing::error!(error_type = %error_type, status = status.as_u16(), "{message}");
    } else {
        tracing::info!(error_type = %error_type, status = status.as_u16(), "{message}");
    }
    let mut response = Problem::new(status)
        .with_code(code)
        .with_detail(detail)
        .logged()
        .into_response();
    if status == StatusCode::CONFLICT {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
