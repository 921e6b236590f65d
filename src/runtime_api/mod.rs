//! What helve says to the Lambda Runtime API: the loop over the invocations (`invocations.rs`),
//! the init error, the one invocation a function whose init failed still answers, and the
//! environment the loop requires.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::BodyExt;
use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::{Client, body::Body};

use crate::error::ConfigError;

mod invocations;

pub(crate) use invocations::{concurrency_of, run};

/// `AWS_LAMBDA_RUNTIME_API` must be `host:port` (a path prefix may follow): `lambda_runtime`'s
/// client panics on anything it cannot turn into a URL. Without a usable address there is no one
/// to report an init error to, so this is checked before anything else.
pub(crate) fn check_runtime_api() -> Result<(), ConfigError> {
    const NAME: &str = "AWS_LAMBDA_RUNTIME_API";
    let value = std::env::var(NAME).unwrap_or_default();
    let usable = !value.trim().is_empty()
        && http::Uri::try_from(format!("http://{value}"))
            .ok()
            .and_then(|uri| {
                uri.authority()
                    .map(|authority| !authority.host().is_empty())
            })
            .unwrap_or(false);
    if usable {
        Ok(())
    } else {
        Err(ConfigError::new(
            NAME,
            "expected `host:port` of the Lambda Runtime API; the value given is not repeated here",
        ))
    }
}

/// The variables Lambda always sets and `lambda_runtime` requires; missing, it would panic.
pub(crate) fn check_environment() -> Result<(), ConfigError> {
    for name in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION"] {
        if std::env::var_os(name).is_none() {
            return Err(ConfigError::new(
                name,
                "Lambda sets it for every function; it is missing",
            ));
        }
    }
    let memory = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
    match std::env::var(memory) {
        Ok(value) if value.parse::<i32>().is_ok() => Ok(()),
        Ok(_) => Err(ConfigError::new(
            memory,
            "expected the memory size in MB; the value given is not repeated here",
        )),
        Err(_) => Err(ConfigError::new(
            memory,
            "Lambda sets it for every function; it is missing",
        )),
    }
}

/// Posts the init error to `/runtime/init/error`. A failure to post is printed, not raised:
/// the process is about to exit with the error anyway.
pub(crate) async fn report_init_error(diagnostic: &Diagnostic) {
    if let Err(error) = post_init_error(diagnostic).await {
        eprintln!("helve: could not report the init error to the Lambda Runtime API: {error}");
    }
}

async fn post_init_error(diagnostic: &Diagnostic) -> Result<(), lambda_runtime::Error> {
    post_error("/2018-06-01/runtime/init/error", diagnostic).await
}

async fn post_error(path: &str, diagnostic: &Diagnostic) -> Result<(), lambda_runtime::Error> {
    let client = Client::builder().build()?;
    let body = serde_json::to_vec(&crate::outcome::masked(diagnostic.clone()))?;
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .header(
            "lambda-runtime-function-error-type",
            diagnostic.error_type.as_str(),
        )
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))?;
    let response = client.call(request).await?;
    if !response.status().is_success() {
        return Err(format!("the Runtime API answered {}", response.status()).into());
    }
    Ok(())
}

/// An invocation fetched outside `lambda_runtime`'s loop.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) request_id: String,
    pub(crate) deadline: Instant,
    pub(crate) body: Bytes,
}

/// Takes the next invocation from `/runtime/invocation/next`.
pub(crate) async fn next_invocation() -> Result<Fetched, lambda_runtime::Error> {
    let client = Client::builder().build()?;
    let request = http::Request::builder()
        .method(http::Method::GET)
        .uri("/2018-06-01/runtime/invocation/next")
        .body(Body::empty())?;
    let response = client.call(request).await?;
    if !response.status().is_success() {
        return Err(format!("the Runtime API answered {}", response.status()).into());
    }
    let request_id = invocations::header(response.headers(), invocations::REQUEST_ID)
        .ok_or("the Runtime API sent no lambda-runtime-aws-request-id")?
        .to_owned();
    let deadline_ms = invocations::deadline_ms(response.headers())
        .ok_or("the Runtime API sent no valid lambda-runtime-deadline-ms")?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    let deadline = Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Fetched {
        request_id,
        deadline,
        body,
    })
}

/// Posts an invocation's error. A failure to post is printed, not raised: the process is about
/// to exit anyway.
pub(crate) async fn report_invocation_error(request_id: &str, diagnostic: &Diagnostic) {
    let path = format!("/2018-06-01/runtime/invocation/{request_id}/error");
    if let Err(error) = post_error(&path, diagnostic).await {
        eprintln!(
            "helve: could not report the invocation's error to the Lambda Runtime API: {error}"
        );
    }
}
