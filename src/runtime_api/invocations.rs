//! helve's loop over the Runtime API's invocations: take the next one, run helve's stack on it,
//! post its response or its error, again.
//!
//! helve runs this loop itself rather than `lambda_runtime`'s, for three reasons a function
//! sees:
//!
//! - memory stays flat: `lambda_runtime`'s one-at-a-time loop sets the `_X_AMZN_TRACE_ID`
//!   environment variable for every invocation, and the C library keeps every value ever set
//!   (about 140 bytes an invocation, 14 MB over 100,000). helve sets no variable: the trace
//!   header is in the invocation's context, and helve's AWS SDK clients send it from there
//!   (`crate::aws`);
//! - a client context or Cognito identity that is not valid JSON fails that invocation with
//!   `helve.InvalidEvent`, instead of ending the loop (and the execution environment);
//! - nothing in it panics: a Runtime API that leaves out a header gets a clear error.
//!
//! With `AWS_LAMBDA_MAX_CONCURRENCY` above 1 (Lambda Managed Instances), as many loops run at
//! once, each with its own clone of the stack, as `lambda_runtime` does.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, header::CONTENT_TYPE};
use http_body_util::BodyExt;
use lambda_runtime::{Diagnostic, LambdaEvent};
use lambda_runtime_api_client::{Client, body::Body, build_request};
use serde::{Serialize, de::DeserializeOwned};
use tower::Service;

use crate::{error::codes, handler::Payload, layers::RawEventLayer, outcome};

/// A failure that ends the loop: the Runtime API cannot be reached, or said something no
/// Lambda Runtime API says.
pub(crate) type LoopError = Box<dyn std::error::Error + Send + Sync>;

pub(super) const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
const FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
const TRACE_ID: &str = "lambda-runtime-trace-id";
const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";
const INVOCATION_ID: &str = "lambda-runtime-invocation-id";

/// How many invocations the environment takes at once: `AWS_LAMBDA_MAX_CONCURRENCY`, 1 when it
/// is unset or not a positive number.
pub(crate) fn concurrency() -> usize {
    concurrency_of(std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok().as_deref())
}

/// [`concurrency`] for a value of `AWS_LAMBDA_MAX_CONCURRENCY`.
pub(crate) fn concurrency_of(value: Option<&str>) -> usize {
    value
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|&workers| workers > 0)
        .unwrap_or(1)
}

/// Runs `service` on every invocation the Runtime API gives, until it cannot be reached.
pub(crate) async fn run<Svc, T>(service: Svc, events: RawEventLayer) -> Result<(), LoopError>
where
    Svc: Service<LambdaEvent<Payload<T>>, Error = Diagnostic> + Clone + Send + 'static,
    Svc::Response: Serialize,
    Svc::Future: Send,
    T: DeserializeOwned + Send + 'static,
{
    let workers = concurrency();
    let client = Arc::new(Client::builder().with_pool_size(workers).build()?);
    let config = Arc::new(function_config()?);
    let worker = Worker {
        service,
        events,
        client,
        config,
    };
    if workers == 1 {
        return worker.run().await;
    }
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..workers {
        running.spawn(worker.clone().run());
    }
    // Each loop runs until the Runtime API cannot be reached; the first to stop says why.
    match running.join_next().await {
        Some(Ok(stopped)) => stopped,
        Some(Err(join_error)) => Err(Box::new(join_error)),
        None => Ok(()),
    }
}

/// The function's settings as `lambda_runtime` reads them, without its panics: the
/// variables were checked at boot (`check_environment`).
fn function_config() -> Result<lambda_runtime::Config, LoopError> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let memory = var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        .parse::<i32>()
        .map_err(|_| "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not the memory size in MB")?;
    Ok(lambda_runtime::Config {
        function_name: var("AWS_LAMBDA_FUNCTION_NAME"),
        memory,
        version: var("AWS_LAMBDA_FUNCTION_VERSION"),
        log_stream: var("AWS_LAMBDA_LOG_STREAM_NAME"),
        log_group: var("AWS_LAMBDA_LOG_GROUP_NAME"),
    })
}

#[derive(Clone)]
struct Worker<Svc> {
    service: Svc,
    events: RawEventLayer,
    client: Arc<Client>,
    config: Arc<lambda_runtime::Config>,
}

impl<Svc> Worker<Svc> {
    async fn run<T>(mut self) -> Result<(), LoopError>
    where
        Svc: Service<LambdaEvent<Payload<T>>, Error = Diagnostic>,
        Svc::Response: Serialize,
        T: DeserializeOwned,
    {
        loop {
            self.serve_one().await?;
        }
    }

    /// Takes one invocation, runs it and posts what it gave.
    async fn serve_one<T>(&mut self) -> Result<(), LoopError>
    where
        Svc: Service<LambdaEvent<Payload<T>>, Error = Diagnostic>,
        Svc::Response: Serialize,
        T: DeserializeOwned,
    {
        let next = build_request()
            .method(Method::GET)
            .uri("/2018-06-01/runtime/invocation/next")
            .body(Body::empty())?;
        let response = self.client.call(next).await?;
        if !response.status().is_success() {
            return Err(format!(
                "the Runtime API answered {} for the next invocation",
                response.status()
            )
            .into());
        }
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        let request_id = header(&parts.headers, REQUEST_ID)
            .ok_or("the Runtime API sent an invocation without lambda-runtime-aws-request-id")?
            .to_owned();
        let invocation_id = header(&parts.headers, INVOCATION_ID).map(str::to_owned);
        let outcome = match context(&request_id, &self.config, &parts.headers)? {
            Ok(context) => self.invoke(body, context).await,
            Err(diagnostic) => Err(diagnostic),
        };
        let (path, failed, json) = match outcome {
            Ok(json) => ("response", false, json),
            Err(diagnostic) => (
                "error",
                true,
                serde_json::to_vec(&outcome::masked(diagnostic))?,
            ),
        };
        let mut answer = build_request()
            .method(Method::POST)
            .uri(format!(
                "/2018-06-01/runtime/invocation/{request_id}/{path}"
            ))
            .header(CONTENT_TYPE, "application/json");
        if failed {
            answer = answer.header("lambda-runtime-function-error-type", "unhandled");
        }
        if let Some(invocation_id) = invocation_id {
            answer = answer.header(INVOCATION_ID, invocation_id);
        }
        let answered = self.client.call(answer.body(Body::from(json))?).await?;
        if !answered.status().is_success() {
            // 413: the response is over Lambda's limit; 410: the invocation timed out meanwhile.
            // Lambda fails the invocation itself; the next one is served as usual.
            tracing::error!(
                request_id = %request_id,
                status = answered.status().as_u16(),
                "the Runtime API refused the invocation's {path}"
            );
        }
        Ok(())
    }

    /// Runs helve's stack on one event: its response as JSON, or its error.
    async fn invoke<T>(
        &mut self,
        body: Bytes,
        context: lambda_runtime::Context,
    ) -> Result<Vec<u8>, Diagnostic>
    where
        Svc: Service<LambdaEvent<Payload<T>>, Error = Diagnostic>,
        Svc::Response: Serialize,
        T: DeserializeOwned,
    {
        let client_context = context.client_context.clone();
        let client_context = client_context.as_ref().map(|client| &client.custom);
        let event = LambdaEvent::new(Payload::<T>::from_slice(&body), context);
        let response = self
            .events
            .call_once(&mut self.service, &body, client_context, event)
            .await?;
        serde_json::to_vec(&response).map_err(|error| outcome::invalid_response(&error))
    }
}

pub(super) fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The invocation's deadline, in milliseconds since the epoch.
pub(super) fn deadline_ms(headers: &HeaderMap) -> Option<u64> {
    header(headers, DEADLINE_MS).and_then(|ms| ms.trim().parse::<u64>().ok())
}

/// The invocation's context, from the Runtime API's headers. The outer error is the Runtime
/// API's (a header Lambda always sends is missing); the inner one the caller's (a client context
/// or Cognito identity that does not read), which fails only this invocation.
fn context(
    request_id: &str,
    config: &Arc<lambda_runtime::Config>,
    headers: &HeaderMap,
) -> Result<Result<lambda_runtime::Context, Diagnostic>, LoopError> {
    let deadline = deadline_ms(headers)
        .ok_or("the Runtime API sent an invocation without a valid lambda-runtime-deadline-ms")?;
    let lossy = |name: &str| {
        headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = deadline;
    context.invoked_function_arn = lossy(FUNCTION_ARN).unwrap_or_default();
    context.xray_trace_id = lossy(TRACE_ID);
    context.tenant_id = lossy(TENANT_ID);
    context.env_config = Arc::clone(config);
    let caller = (|| {
        context.client_context = from_caller(headers, CLIENT_CONTEXT, "client context")?;
        context.identity = from_caller(headers, COGNITO_IDENTITY, "Cognito identity")?;
        Ok(())
    })();
    Ok(caller.map(|()| context))
}

/// A header the caller filled (the client context of an Invoke call, a mobile SDK's Cognito
/// identity), read as Lambda's JSON shape. What does not read fails the invocation with
/// `helve.InvalidEvent`, saying where, never what was sent.
fn from_caller<V: DeserializeOwned>(
    headers: &HeaderMap,
    name: &str,
    what: &str,
) -> Result<Option<V>, Diagnostic> {
    let Some(value) = headers.get(name).filter(|value| !value.is_empty()) else {
        return Ok(None);
    };
    serde_json::from_slice(value.as_bytes())
        .map(Some)
        .map_err(|error| {
            let problem = match error.classify() {
                serde_json::error::Category::Data => "is not of the shape Lambda gives it",
                _ => "is not valid JSON",
            };
            Diagnostic {
                error_type: codes::INVALID_EVENT.to_owned(),
                error_message: format!(
                    "the {what} the caller passed ({name}) {problem} (line {}, column {}); the \
                     handler is not called",
                    error.line(),
                    error.column()
                ),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().expect("a test header value"));
        }
        headers
    }

    fn config() -> Arc<lambda_runtime::Config> {
        Arc::new(lambda_runtime::Config {
            function_name: "orders".to_owned(),
            memory: 128,
            ..lambda_runtime::Config::default()
        })
    }

    #[test]
    fn the_context_is_read_from_the_runtime_apis_headers() {
        let headers = headers(&[
            (DEADLINE_MS, "1700000000000"),
            (
                FUNCTION_ARN,
                "arn:aws:lambda:eu-west-1:123456789012:function:orders",
            ),
            (
                TRACE_ID,
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            ),
            (CLIENT_CONTEXT, r#"{"custom":{"correlation_id":"c-1"}}"#),
            (TENANT_ID, "tenant-a"),
        ]);
        let context = context("r-1", &config(), &headers)
            .expect("the Runtime API's headers are all there")
            .expect("the caller's headers read");
        assert_eq!(context.request_id, "r-1");
        assert_eq!(context.deadline, 1_700_000_000_000);
        assert_eq!(
            context.xray_trace_id.as_deref(),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
        );
        assert_eq!(context.tenant_id.as_deref(), Some("tenant-a"));
        assert_eq!(
            context.client_context.map(|client| client.custom),
            Some([("correlation_id".to_owned(), "c-1".to_owned())].into())
        );
        assert_eq!(context.env_config.function_name, "orders");
    }

    #[test]
    fn a_runtime_api_without_a_deadline_ends_the_loop_with_a_reason_not_a_panic() {
        let error = context("r-1", &config(), &headers(&[])).expect_err("no deadline");
        assert!(error.to_string().contains("lambda-runtime-deadline-ms"));
        let error =
            context("r-1", &config(), &headers(&[(DEADLINE_MS, "soon")])).expect_err("no number");
        assert!(error.to_string().contains("lambda-runtime-deadline-ms"));
    }

    #[test]
    fn an_unreadable_cognito_identity_fails_the_invocation_without_repeating_it() {
        let headers = headers(&[
            (DEADLINE_MS, "1700000000000"),
            (COGNITO_IDENTITY, r#"{"identity_id":["secret-pool"]}"#),
        ]);
        let diagnostic = context("r-1", &config(), &headers)
            .expect("the Runtime API's headers are all there")
            .expect_err("the identity does not read");
        assert_eq!(diagnostic.error_type, codes::INVALID_EVENT);
        assert!(
            diagnostic
                .error_message
                .starts_with("the Cognito identity the caller passed"),
            "{}",
            diagnostic.error_message
        );
        assert!(!diagnostic.error_message.contains("secret-pool"));
    }

    #[test]
    fn concurrency_is_one_unless_lambda_says_more() {
        assert_eq!(concurrency_of(None), 1);
        assert_eq!(concurrency_of(Some("")), 1);
        assert_eq!(concurrency_of(Some("0")), 1);
        assert_eq!(concurrency_of(Some("many")), 1);
        assert_eq!(concurrency_of(Some(" 4 ")), 4);
    }
}
