//! The AWS Parameters and Secrets Lambda Extension and the AppConfig agent: plain HTTP to
//! localhost, no SDK, no TLS.
//!
//! - `GET /systemsmanager/parameters/get?name=..&withDecryption=true` answers SSM's
//!   `GetParameter` JSON, `GET /secretsmanager/get?secretId=..[&versionStage=..|&versionId=..]`
//!   Secrets Manager's `GetSecretValue` JSON, on `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`
//!   (2773), each request with the header `X-Aws-Parameters-Secrets-Token: $AWS_SESSION_TOKEN`.
//! - `GET /applications/{app}/environments/{env}/configurations/{profile}` answers the
//!   configuration's bytes, on `AWS_APPCONFIG_EXTENSION_HTTP_PORT` (2772).
//!
//! The extensions start with the function: until one has answered once, a refused connection
//! is retried for up to [`STARTING`].

use std::{
    fmt,
    net::{Ipv4Addr, SocketAddr},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::{
    source::{Configuration, Fetch, Source, Version},
    value::Raw,
};
use crate::{
    error::{ParameterError, Service},
    json_escape::truncated,
};

/// How long a refused connection is retried before the extension has answered once: it
/// starts with the function, and may not listen yet when the init step first asks.
pub const STARTING: Duration = Duration::from_secs(1);

/// How long to wait between two tries while the extension starts.
const RETRY_EVERY: Duration = Duration::from_millis(50);

/// The header that carries the function's session token.
const TOKEN_HEADER: &str = "x-aws-parameters-secrets-token";

/// What is percent-encoded in a query value or a path segment: all but `A-Z a-z 0-9 - _ . ~`.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The longest part of an error answer's body quoted in an error.
const QUOTED_BODY_BYTES: usize = 300;

/// The two extensions' ports on 127.0.0.1, and the token.
pub(crate) struct Extension {
    client: Client<HttpConnector, Empty<Bytes>>,
    parameters: SocketAddr,
    appconfig: SocketAddr,
    token: Option<HeaderValue>,
    timeout: Duration,
    /// Per extension (the Parameters and Secrets one, the AppConfig agent): whether it has
    /// answered once, and when it was first asked.
    starting: [Starting; 2],
}

/// What a refused connection means for one extension: it may still be starting, until it has
/// answered once or [`STARTING`] has passed since it was first asked.
#[derive(Debug, Default)]
struct Starting {
    answered: AtomicBool,
    first_asked: std::sync::OnceLock<tokio::time::Instant>,
}

impl Starting {
    /// Notes when the extension was first asked, once.
    fn asked(&self) {
        self.first_asked.get_or_init(tokio::time::Instant::now);
    }

    /// Whether a refused connection may be the extension still starting: it never answered,
    /// and it was first asked less than [`STARTING`] ago.
    fn may_still_start(&self) -> bool {
        let first = *self.first_asked.get_or_init(tokio::time::Instant::now);
        !self.answered.load(Ordering::Relaxed) && first.elapsed() + RETRY_EVERY < STARTING
    }
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("parameters", &self.parameters)
            .field("appconfig", &self.appconfig)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Extension {
    /// The extensions on `parameters_port` and `appconfig_port` of 127.0.0.1.
    pub(crate) fn new(
        parameters_port: u16,
        appconfig_port: u16,
        token: Option<&str>,
        timeout: Duration,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            parameters: SocketAddr::from((Ipv4Addr::LOCALHOST, parameters_port)),
            appconfig: SocketAddr::from((Ipv4Addr::LOCALHOST, appconfig_port)),
            // A token that is not a header value cannot be sent; the extension then refuses
            // the request, and says so.
            token: token.and_then(|token| HeaderValue::from_str(token).ok()),
            timeout,
            starting: [Starting::default(), Starting::default()],
        }
    }

    /// The address of the Parameters and Secrets extension.
    pub(crate) fn parameters_addr(&self) -> SocketAddr {
        self.parameters
    }

    /// The address of the AppConfig agent.
    pub(crate) fn appconfig_addr(&self) -> SocketAddr {
        self.appconfig
    }

    /// `GET path` on `addr`: the status and body, retrying a refused connection while the
    /// extension starts. `Err` is the reason.
    async fn get(&self, addr: SocketAddr, path: &str) -> Result<(StatusCode, Bytes), String> {
        let uri: Uri = format!("http://{addr}{path}")
            .parse()
            .map_err(|error| format!("the request's URL is not valid ({error})"))?;
        let starting = &self.starting[usize::from(addr == self.appconfig)];
        // Counted from the first request to this extension, whichever read made it.
        starting.asked();
        loop {
            let mut request = Request::get(uri.clone());
            if let Some(token) = &self.token {
                request = request.header(TOKEN_HEADER, token.clone());
            }
            let request = request
                .body(Empty::new())
                .map_err(|error| format!("the request could not be built ({error})"))?;
            let answer = tokio::time::timeout(self.timeout, async {
                let response = self.client.request(request).await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
            })
            .await;
            match answer {
                Ok(Ok(answer)) => {
                    starting.answered.store(true, Ordering::Relaxed);
                    return Ok(answer);
                }
                Ok(Err(error)) => {
                    let refused = is_refused(error.as_ref());
                    if refused && starting.may_still_start() {
                        tokio::time::sleep(RETRY_EVERY).await;
                        continue;
                    }
                    return Err(if refused {
                        format!(
                            "nothing listens on {addr}: is the extension's layer on the function?"
                        )
                    } else {
                        format!(
                            "the request to {addr} failed: {}",
                            crate::error::chain_message(error.as_ref())
                        )
                    });
                }
                Err(_) => {
                    return Err(format!(
                        "no answer from {addr} within {} ms",
                        self.timeout.as_millis()
                    ));
                }
            }
        }
    }

    /// The JSON answer of a read of `name`, or the error it means.
    async fn read_json<T: for<'de> Deserialize<'de>>(
        &self,
        service: Service,
        name: &str,
        addr: SocketAddr,
        path: &str,
    ) -> Result<T, ParameterError> {
        let body = self.read(service, name, addr, path).await?;
        serde_json::from_slice(&body).map_err(|error| ParameterError::Unavailable {
            service,
            name: name.to_owned(),
            reason: format!(
                "the extension's answer is not {service}'s JSON ({})",
                crate::decode::sanitize(&error.to_string())
            ),
        })
    }

    async fn read(
        &self,
        service: Service,
        name: &str,
        addr: SocketAddr,
        path: &str,
    ) -> Result<Bytes, ParameterError> {
        let unavailable = |reason: String| ParameterError::Unavailable {
            service,
            name: name.to_owned(),
            reason,
        };
        let (status, body) = self.get(addr, path).await.map_err(unavailable)?;
        if status.is_success() {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body);
        let text = truncated(text.trim(), QUOTED_BODY_BYTES);
        if is_not_found(status, text) {
            return Err(ParameterError::NotFound {
                service,
                name: name.to_owned(),
            });
        }
        Err(unavailable(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => format!(
                "the extension refused the request (HTTP {}): it needs the function's AWS_SESSION_TOKEN, and the function's role needs read access",
                status.as_u16()
            ),
            _ => format!("the extension answered HTTP {}: {text}", status.as_u16()),
        }))
    }
}

/// Whether an error answer means that the name does not exist: a 404 (the AppConfig agent),
/// or the service's own error passed on by the extension (a 400 naming
/// `ParameterNotFound`, `ResourceNotFoundException`, ...).
fn is_not_found(status: StatusCode, body: &str) -> bool {
    status == StatusCode::NOT_FOUND
        || (status.is_client_error()
            && [
                "ParameterNotFound",
                "ParameterVersionNotFound",
                "ResourceNotFoundException",
            ]
            .iter()
            .any(|code| body.contains(code)))
}

fn is_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        if let Some(client) = error.downcast_ref::<hyper_util::client::legacy::Error>()
            && client.is_connect()
            && client.to_string().contains("refused")
        {
            return true;
        }
        source = error.source();
    }
    false
}

fn encoded(text: &str) -> percent_encoding::PercentEncode<'_> {
    utf8_percent_encode(text, ENCODED)
}

/// The part of `GetParameter`'s answer helve reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParameterAnswer {
    parameter: ParameterFields,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParameterFields {
    #[serde(default)]
    r#type: Option<String>,
    value: String,
}

/// The part of `GetSecretValue`'s answer helve reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecretAnswer {
    #[serde(default)]
    secret_string: Option<String>,
    #[serde(default)]
    secret_binary: Option<String>,
}

/// A parameter's value as `Raw`: a `StringList` keeps that it is one.
pub(crate) fn parameter_raw(kind: Option<&str>, value: String) -> Raw {
    if kind == Some("StringList") {
        Raw::List(value)
    } else {
        Raw::Text(value)
    }
}

impl Source for Extension {
    fn name(&self) -> &'static str {
        "the Parameters and Secrets extension"
    }

    fn parameter<'a>(&'a self, name: &'a str, decrypt: bool) -> Fetch<'a, Raw> {
        Box::pin(async move {
            let path = format!(
                "/systemsmanager/parameters/get?name={}&withDecryption={decrypt}",
                encoded(name)
            );
            let answer: ParameterAnswer = self
                .read_json(Service::Ssm, name, self.parameters, &path)
                .await?;
            Ok(parameter_raw(
                answer.parameter.r#type.as_deref(),
                answer.parameter.value,
            ))
        })
    }

    fn parameters<'a>(
        &'a self,
        names: &'a [&'a str],
        decrypt: bool,
    ) -> Fetch<'a, Vec<(String, Raw)>> {
        use futures_util::{StreamExt as _, TryStreamExt as _};
        Box::pin(async move {
            // One request per name, three at a time: the extension's default connection limit.
            let reads: Vec<Fetch<'a, Raw>> = names
                .iter()
                .map(|name| self.parameter(name, decrypt))
                .collect();
            let values: Vec<Raw> = futures_util::stream::iter(reads)
                .buffered(3)
                .try_collect()
                .await?;
            Ok(names
                .iter()
                .map(|name| (*name).to_owned())
                .zip(values)
                .collect())
        })
    }

    fn parameters_by_path<'a>(
        &'a self,
        path: &'a str,
        _recursive: bool,
        _decrypt: bool,
    ) -> Fetch<'a, Vec<(String, Raw)>> {
        Box::pin(async move {
            Err(super::source::unsupported(
                Service::Ssm,
                path,
                "the Parameters and Secrets extension cannot read parameters by path: enable helve's feature `parameters-ssm` to read them through the SDK",
            ))
        })
    }

    fn secret<'a>(&'a self, id: &'a str, version: Version<'a>) -> Fetch<'a, Raw> {
        Box::pin(async move {
            let mut path = format!("/secretsmanager/get?secretId={}", encoded(id));
            match version {
                Version::Current => {}
                Version::Stage(stage) => {
                    path.push_str("&versionStage=");
                    path.extend(encoded(stage));
                }
                Version::Id(version) => {
                    path.push_str("&versionId=");
                    path.extend(encoded(version));
                }
            }
            let answer: SecretAnswer = self
                .read_json(Service::SecretsManager, id, self.parameters, &path)
                .await?;
            match (answer.secret_string, answer.secret_binary) {
                (Some(text), _) => Ok(Raw::Text(text)),
                (None, Some(binary)) => base64::engine::general_purpose::STANDARD
                    .decode(binary.trim())
                    .map(Raw::Bytes)
                    .map_err(|_| ParameterError::Unavailable {
                        service: Service::SecretsManager,
                        name: id.to_owned(),
                        reason: "the extension's SecretBinary is not base64".to_owned(),
                    }),
                (None, None) => Err(ParameterError::Unavailable {
                    service: Service::SecretsManager,
                    name: id.to_owned(),
                    reason: "the extension's answer has neither SecretString nor SecretBinary"
                        .to_owned(),
                }),
            }
        })
    }

    fn configuration<'a>(&'a self, configuration: Configuration<'a>) -> Fetch<'a, Raw> {
        Box::pin(async move {
            let path = format!(
                "/applications/{}/environments/{}/configurations/{}",
                encoded(configuration.application),
                encoded(configuration.environment),
                encoded(configuration.profile)
            );
            let name = configuration.to_string();
            let body = self
                .read(Service::AppConfig, &name, self.appconfig, &path)
                .await?;
            Ok(Raw::Bytes(body.to_vec()))
        })
    }
}
