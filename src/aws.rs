//! What helve's AWS SDK clients share (features `cloudwatch`, `dynamodb`, `s3` and the SDK
//! backends of `parameters`): an HTTPS client
//! without OpenSSL or aws-lc, the invocation's trace header on every request
//! ([`TraceHeader`]), and a client configuration read from the Lambda environment.

pub use aws_smithy_runtime_api::client::http::SharedHttpClient;

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{Intercept, context::BeforeTransmitInterceptorContextMut},
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::config_bag::ConfigBag;

/// An SDK interceptor that sends the current invocation's X-Ray trace header
/// (`X-Amzn-Trace-Id`) with every request: X-Ray links the call to the invocation's trace, and
/// Lambda's recursive loop detection follows it through SQS, SNS and S3.
///
/// The AWS SDK reads the header from the `_X_AMZN_TRACE_ID` environment variable, which helve
/// does not set for each invocation (every value set stays in the process's memory; with
/// several invocations at once one variable cannot be right for all of them). helve's own
/// clients carry this interceptor; add it to yours:
///
/// ```no_run
/// # #[cfg(feature = "dynamodb")]
/// # fn client() -> aws_sdk_dynamodb::Client {
/// // Or `aws_sdk_dynamodb::config::Builder::from(&sdk_config)` with aws-config.
/// let config = aws_sdk_dynamodb::Config::builder()
///     .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
///     .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
///     .http_client(helve::aws::https_client())
///     .interceptor(helve::aws::TraceHeader)
///     .build();
/// aws_sdk_dynamodb::Client::from_conf(config)
/// # }
/// ```
///
/// The header is the invocation's own, as Lambda gave it (its `Root`, `Parent`, `Sampled` and
/// `Lineage`). Outside an invocation (in the init step) the request is left as the SDK made
/// it.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceHeader;

impl TraceHeader {
    /// The header the current invocation's calls carry.
    fn current() -> Option<String> {
        crate::context().and_then(|context| context.xray_trace_header().map(str::to_owned))
    }
}

impl Intercept for TraceHeader {
    fn name(&self) -> &'static str {
        "helve::aws::TraceHeader"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(header) = Self::current() {
            // It replaces what the SDK took from the environment, which belongs to no
            // invocation. A header that is not a valid header value is not sent.
            let _ = context
                .request_mut()
                .headers_mut()
                .try_insert("x-amzn-trace-id", header);
        }
        Ok(())
    }
}

/// An HTTPS client for the AWS SDK: rustls with ring (no OpenSSL, no aws-lc to build or to
/// start), the system's roots; plain `http://` endpoints (a local DynamoDB) work too. For
/// `aws_config::defaults(..).http_client(https_client())` or any SDK's
/// `Config::builder().http_client(https_client())`: helve turns off the SDK's default client.
/// Add [`TraceHeader`] beside it, so that the client's calls join the invocation's trace.
pub fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::{
        Builder,
        tls::{Provider, rustls_provider::CryptoMode},
    };
    Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// A failed call of any SDK client.
pub(crate) type SdkError<E> = aws_smithy_runtime_api::client::result::SdkError<
    E,
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
>;

/// What every SDK operation's error is: its service code and message, an error.
pub(crate) trait OperationError:
    aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static
{
}

impl<E> OperationError for E where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static
{
}

/// A failed SDK call in a line: the service's error code, HTTP status and message, or the
/// whole chain of causes for an error that is not the service's (a timeout, a refused
/// connection).
pub(crate) fn describe<E: OperationError>(error: &SdkError<E>) -> String {
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    match (error, error.code()) {
        (SdkError::ServiceError(service), Some(code)) => format!(
            "{code} (HTTP {}): {}",
            service.raw().status().as_u16(),
            error.message().unwrap_or("no message")
        ),
        _ => aws_smithy_types::error::display::DisplayErrorContext(error).to_string(),
    }
}

/// What Lambda puts in a function's environment for its SDK clients: the region, the role's
/// credentials, and (locally) an endpoint to use instead of AWS's.
#[cfg(any(
    all(feature = "dynamodb", feature = "idempotency"),
    feature = "invoke",
    feature = "parameters-ssm",
    feature = "parameters-secrets",
    feature = "parameters-appconfig"
))]
#[derive(Clone)]
pub(crate) struct Environment {
    pub(crate) region: String,
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: Option<String>,
    pub(crate) endpoint_url: Option<String>,
}

#[cfg(any(
    all(feature = "dynamodb", feature = "idempotency"),
    feature = "invoke",
    feature = "parameters-ssm",
    feature = "parameters-secrets",
    feature = "parameters-appconfig"
))]
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

#[cfg(any(
    all(feature = "dynamodb", feature = "idempotency"),
    feature = "invoke",
    feature = "parameters-ssm",
    feature = "parameters-secrets",
    feature = "parameters-appconfig"
))]
impl Environment {
    /// Reads the environment through `var`; `service_variable` is the service's own endpoint
    /// variable (`AWS_ENDPOINT_URL_DYNAMODB`), which wins over `AWS_ENDPOINT_URL`. `Err` names
    /// the variable that is missing, never a value.
    pub(crate) fn read(
        var: impl Fn(&str) -> Option<String>,
        service_variable: &str,
    ) -> Result<Self, crate::ConfigError> {
        let non_empty = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let required = |name: &'static str| {
            non_empty(name).ok_or_else(|| {
                crate::ConfigError::new(
                    name,
                    "is not set: Lambda sets it for every function; locally, set it (any value works against a local endpoint)",
                )
            })
        };
        let region = non_empty("AWS_REGION")
            .or_else(|| non_empty("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                crate::ConfigError::new(
                    "AWS_REGION",
                    "is not set (nor AWS_DEFAULT_REGION): Lambda sets it for every function; locally, set it",
                )
            })?;
        Ok(Self {
            region,
            access_key_id: required("AWS_ACCESS_KEY_ID")?,
            secret_access_key: required("AWS_SECRET_ACCESS_KEY")?,
            session_token: non_empty("AWS_SESSION_TOKEN"),
            endpoint_url: non_empty(service_variable).or_else(|| non_empty("AWS_ENDPOINT_URL")),
        })
    }
}

/// `$sdk`'s `Config` builder for what `$environment` (an [`Environment`]) says: the latest
/// behaviour version, the region, the role's static credentials, helve's HTTPS client and,
/// when set, the local endpoint. The caller adds its timeouts or retries and builds.
#[cfg(any(
    all(feature = "dynamodb", feature = "idempotency"),
    feature = "invoke",
    feature = "parameters-ssm",
    feature = "parameters-secrets",
    feature = "parameters-appconfig"
))]
macro_rules! config_from_environment {
    ($sdk:ident, $environment:expr) => {{
        use $sdk::config::{BehaviorVersion, Credentials, Region};
        let environment: $crate::aws::Environment = $environment;
        let credentials = Credentials::new(
            environment.access_key_id,
            environment.secret_access_key,
            environment.session_token,
            None,
            "helve-environment",
        );
        let mut config = $sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(environment.region))
            .credentials_provider(credentials)
            .http_client($crate::aws::https_client())
            .interceptor($crate::aws::TraceHeader);
        if let Some(endpoint) = environment.endpoint_url {
            config = config.endpoint_url(endpoint);
        }
        config
    }};
}

#[cfg(any(
    all(feature = "dynamodb", feature = "idempotency"),
    feature = "invoke",
    feature = "parameters-ssm",
    feature = "parameters-secrets",
    feature = "parameters-appconfig"
))]
pub(crate) use config_from_environment;
