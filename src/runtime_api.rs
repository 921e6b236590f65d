//! What helve says to the Lambda Runtime API itself, outside `lambda_runtime`'s loop: the init
//! error, and the environment `lambda_runtime` requires.

use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::{Client, body::Body};

use crate::error::ConfigError;

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
            format!("expected `host:port` of the Lambda Runtime API, found `{value}`"),
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
        Ok(value) => Err(ConfigError::new(
            memory,
            format!("expected the memory size in MB, found `{value}`"),
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
    let client = Client::builder().build()?;
    let body = serde_json::to_vec(diagnostic)?;
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri("/2018-06-01/runtime/init/error")
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
