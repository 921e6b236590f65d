//! The AWS SDK backend (features `parameters-ssm`, `parameters-secrets`,
//! `parameters-appconfig`): each service's client configured from what Lambda puts in the
//! environment, without aws-config.

use std::{fmt, time::Duration};

#[cfg(feature = "parameters-ssm")]
use super::extension::parameter_raw;
use super::{
    source::{Configuration, Fetch, Source, Version, unsupported},
    value::Raw,
};
use crate::{
    ConfigError,
    aws::Environment,
    error::{ParameterError, Service},
};

/// Builds `$sdk`'s client from `$environment` (a `Result<Environment, ConfigError>`), each
/// call giving up after `$timeout`.
macro_rules! client_from_env {
    ($sdk:ident, $environment:expr, $timeout:expr) => {
        $environment.map(|environment| {
            use $sdk::config::timeout::TimeoutConfig;
            let config = crate::aws::config_from_environment!($sdk, environment)
                .timeout_config(TimeoutConfig::builder().operation_timeout($timeout).build());
            $sdk::Client::from_conf(config.build())
        })
    };
}

/// A client built on its first use: configuring one costs the cold start of a function that
/// never reads through it (its TLS settings, its roots).
struct Lazy<C> {
    client: std::sync::OnceLock<Result<C, ConfigError>>,
    make: Box<dyn Fn() -> Result<C, ConfigError> + Send + Sync>,
}

impl<C> Lazy<C> {
    fn new(make: impl Fn() -> Result<C, ConfigError> + Send + Sync + 'static) -> Self {
        Self {
            client: std::sync::OnceLock::new(),
            make: Box::new(make),
        }
    }

    /// The client, or why it could not be configured.
    fn get(&self, service: Service, name: &str) -> Result<&C, ParameterError> {
        self.client
            .get_or_init(|| (self.make)())
            .as_ref()
            .map_err(|error| not_configured(service, name, error))
    }

    fn is_configured(&self) -> Option<bool> {
        self.client.get().map(Result::is_ok)
    }
}

/// The SDK clients of the services compiled in.
pub(crate) struct Sdk {
    #[cfg(feature = "parameters-ssm")]
    ssm: Lazy<aws_sdk_ssm::Client>,
    #[cfg(feature = "parameters-secrets")]
    secrets: Lazy<aws_sdk_secretsmanager::Client>,
    #[cfg(feature = "parameters-appconfig")]
    appconfig: Lazy<aws_sdk_appconfigdata::Client>,
    #[cfg(feature = "parameters-appconfig")]
    sessions: tokio::sync::Mutex<std::collections::HashMap<String, Session>>,
}

impl fmt::Debug for Sdk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Sdk");
        #[cfg(feature = "parameters-ssm")]
        debug.field("ssm", &self.ssm.is_configured());
        #[cfg(feature = "parameters-secrets")]
        debug.field("secrets", &self.secrets.is_configured());
        #[cfg(feature = "parameters-appconfig")]
        debug.field("appconfig", &self.appconfig.is_configured());
        debug.finish_non_exhaustive()
    }
}

/// The clients a user gives instead of those from the environment.
#[derive(Debug, Default, Clone)]
pub(crate) struct Clients {
    #[cfg(feature = "parameters-ssm")]
    pub(crate) ssm: Option<aws_sdk_ssm::Client>,
    #[cfg(feature = "parameters-secrets")]
    pub(crate) secrets: Option<aws_sdk_secretsmanager::Client>,
    #[cfg(feature = "parameters-appconfig")]
    pub(crate) appconfig: Option<aws_sdk_appconfigdata::Client>,
}

/// A client: the one given, else one from `environment` (read when the `Parameters` was
/// built), on first use.
macro_rules! lazy_client {
    ($sdk:ident, $given:expr, $var:expr, $endpoint_variable:literal, $timeout:expr) => {{
        let given = $given;
        let environment = Environment::read($var, $endpoint_variable);
        let timeout = $timeout;
        Lazy::new(move || match &given {
            Some(client) => Ok(client.clone()),
            None => client_from_env!($sdk, environment.clone(), timeout),
        })
    }};
}

impl Sdk {
    /// The given clients, and for the others clients from the environment read through `var`,
    /// each call giving up after `timeout`; each built on its first use.
    #[cfg_attr(
        not(all(
            feature = "parameters-ssm",
            feature = "parameters-secrets",
            feature = "parameters-appconfig"
        )),
        allow(unused_variables)
    )]
    pub(crate) fn new(
        clients: Clients,
        var: &dyn Fn(&str) -> Option<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            #[cfg(feature = "parameters-ssm")]
            ssm: lazy_client!(
                aws_sdk_ssm,
                clients.ssm,
                var,
                "AWS_ENDPOINT_URL_SSM",
                timeout
            ),
            #[cfg(feature = "parameters-secrets")]
            secrets: lazy_client!(
                aws_sdk_secretsmanager,
                clients.secrets,
                var,
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                timeout
            ),
            #[cfg(feature = "parameters-appconfig")]
            appconfig: lazy_client!(
                aws_sdk_appconfigdata,
                clients.appconfig,
                var,
                "AWS_ENDPOINT_URL_APPCONFIGDATA",
                timeout
            ),
            #[cfg(feature = "parameters-appconfig")]
            sessions: tokio::sync::Mutex::default(),
        }
    }
}

/// The error of a service whose client could not be configured.
#[allow(dead_code)]
fn not_configured(service: Service, name: &str, error: &ConfigError) -> ParameterError {
    ParameterError::Unavailable {
        service,
        name: name.to_owned(),
        reason: format!("its SDK client is not configured: {error}"),
    }
}

/// The error of a failed SDK call: not found when `not_found`, else the service's error.
#[allow(dead_code)]
fn failed<E: crate::aws::OperationError>(
    service: Service,
    name: &str,
    error: &crate::aws::SdkError<E>,
    not_found: impl FnOnce(&E) -> bool,
) -> ParameterError {
    if error.as_service_error().is_some_and(not_found) {
        ParameterError::NotFound {
            service,
            name: name.to_owned(),
        }
    } else {
        ParameterError::Unavailable {
            service,
            name: name.to_owned(),
            reason: crate::aws::describe(error),
        }
    }
}

/// Why a service is not compiled in.
#[allow(dead_code)]
fn not_compiled(service: Service, name: &str) -> ParameterError {
    let feature = match service {
        Service::Ssm => "parameters-ssm",
        Service::SecretsManager => "parameters-secrets",
        Service::AppConfig => "parameters-appconfig",
    };
    unsupported(
        service,
        name,
        &format!("the SDK backend needs helve's feature `{feature}`"),
    )
}

/// An AppConfigData session: the token for the next poll, the last configuration received,
/// and when AppConfig allows the next poll.
#[cfg(feature = "parameters-appconfig")]
#[derive(Debug)]
struct Session {
    token: Option<String>,
    last: Option<Vec<u8>>,
    next_poll: tokio::time::Instant,
}

/// The shortest poll interval AppConfigData accepts, asked for when a session starts.
#[cfg(feature = "parameters-appconfig")]
const POLL_INTERVAL_SECONDS: i32 = 15;

#[cfg(feature = "parameters-appconfig")]
impl Sdk {
    async fn latest_configuration(
        &self,
        configuration: Configuration<'_>,
    ) -> Result<Raw, ParameterError> {
        use aws_sdk_appconfigdata::operation::{
            get_latest_configuration::GetLatestConfigurationError,
            start_configuration_session::StartConfigurationSessionError,
        };
        let name = configuration.to_string();
        let client = self.appconfig.get(Service::AppConfig, &name)?;
        let mut sessions = self.sessions.lock().await;
        let now = tokio::time::Instant::now();
        let session = sessions.entry(name.clone()).or_insert(Session {
            token: None,
            last: None,
            next_poll: now,
        });
        // Polled sooner than AppConfig allows: the last configuration is still the latest.
        if let Some(last) = &session.last
            && now < session.next_poll
        {
            return Ok(Raw::Bytes(last.clone()));
        }
        // A token is used once; an expired one (sessions last 24 hours) starts a new session.
        for attempt in 0..2 {
            let token = match session.token.take() {
                Some(token) => token,
                None => client
                    .start_configuration_session()
                    .application_identifier(configuration.application)
                    .environment_identifier(configuration.environment)
                    .configuration_profile_identifier(configuration.profile)
                    .required_minimum_poll_interval_in_seconds(POLL_INTERVAL_SECONDS)
                    .send()
                    .await
                    .map_err(|error| {
                        failed(Service::AppConfig, &name, &error, |error| {
                            matches!(
                                error,
                                StartConfigurationSessionError::ResourceNotFoundException(_)
                            )
                        })
                    })?
                    .initial_configuration_token
                    .ok_or_else(|| {
                        unsupported(
                            Service::AppConfig,
                            &name,
                            "StartConfigurationSession answered no token",
                        )
                    })?,
            };
            let answer = match client
                .get_latest_configuration()
                .configuration_token(token)
                .send()
                .await
            {
                Ok(answer) => answer,
                Err(error)
                    if attempt == 0
                        && error.as_service_error().is_some_and(|error| {
                            matches!(error, GetLatestConfigurationError::BadRequestException(_))
                        }) =>
                {
                    continue;
                }
                Err(error) => {
                    return Err(failed(Service::AppConfig, &name, &error, |error| {
                        matches!(
                            error,
                            GetLatestConfigurationError::ResourceNotFoundException(_)
                        )
                    }));
                }
            };
            session.token = answer.next_poll_configuration_token;
            session.next_poll = now
                + Duration::from_secs(
                    u64::try_from(answer.next_poll_interval_in_seconds).unwrap_or(0),
                );
            // An empty configuration means "unchanged since this session's last one".
            if let Some(content) = answer
                .configuration
                .filter(|blob| !blob.as_ref().is_empty())
            {
                session.last = Some(content.into_inner());
            }
            return Ok(Raw::Bytes(session.last.clone().unwrap_or_default()));
        }
        Err(unsupported(
            Service::AppConfig,
            &name,
            "AppConfigData refused a new session's token",
        ))
    }
}

impl Source for Sdk {
    fn name(&self) -> &'static str {
        "the AWS SDK"
    }

    fn parameter<'a>(&'a self, name: &'a str, decrypt: bool) -> Fetch<'a, Raw> {
        Box::pin(async move {
            #[cfg(feature = "parameters-ssm")]
            {
                use aws_sdk_ssm::operation::get_parameter::GetParameterError;
                let client = self.ssm.get(Service::Ssm, name)?;
                let answer = client
                    .get_parameter()
                    .name(name)
                    .with_decryption(decrypt)
                    .send()
                    .await
                    .map_err(|error| {
                        failed(Service::Ssm, name, &error, |error| {
                            matches!(
                                error,
                                GetParameterError::ParameterNotFound(_)
                                    | GetParameterError::ParameterVersionNotFound(_)
                            )
                        })
                    })?;
                let parameter = answer.parameter.ok_or_else(|| ParameterError::NotFound {
                    service: Service::Ssm,
                    name: name.to_owned(),
                })?;
                Ok(ssm_raw(parameter))
            }
            #[cfg(not(feature = "parameters-ssm"))]
            {
                let _ = decrypt;
                Err(not_compiled(Service::Ssm, name))
            }
        })
    }

    fn parameters<'a>(
        &'a self,
        names: &'a [&'a str],
        decrypt: bool,
    ) -> Fetch<'a, Vec<(String, Raw)>> {
        Box::pin(async move {
            let first = names.first().copied().unwrap_or_default();
            #[cfg(feature = "parameters-ssm")]
            {
                let client = self.ssm.get(Service::Ssm, first)?;
                let answer = client
                    .get_parameters()
                    .set_names(Some(names.iter().map(|name| (*name).to_owned()).collect()))
                    .with_decryption(decrypt)
                    .send()
                    .await
                    .map_err(|error| failed(Service::Ssm, first, &error, |_| false))?;
                if let Some(missing) = answer.invalid_parameters().first() {
                    return Err(ParameterError::NotFound {
                        service: Service::Ssm,
                        name: missing.clone(),
                    });
                }
                // Each under the name it was asked by: SSM answers the bare name, with a
                // version or label (`/db/url:2`) in `Selector`.
                Ok(answer
                    .parameters
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|parameter| {
                        let name = parameter.name.clone()?;
                        let selected = format!(
                            "{name}{}",
                            parameter.selector.as_deref().unwrap_or_default()
                        );
                        let asked = names
                            .iter()
                            .find(|asked| **asked == selected || **asked == name)
                            .map_or(selected, |asked| (*asked).to_owned());
                        Some((asked, ssm_raw(parameter)))
                    })
                    .collect())
            }
            #[cfg(not(feature = "parameters-ssm"))]
            {
                let _ = decrypt;
                Err(not_compiled(Service::Ssm, first))
            }
        })
    }

    fn parameters_by_path<'a>(
        &'a self,
        path: &'a str,
        recursive: bool,
        decrypt: bool,
    ) -> Fetch<'a, Vec<(String, Raw)>> {
        Box::pin(async move {
            #[cfg(feature = "parameters-ssm")]
            {
                let client = self.ssm.get(Service::Ssm, path)?;
                let mut values = Vec::new();
                let mut next_token = None;
                loop {
                    let answer = client
                        .get_parameters_by_path()
                        .path(path)
                        .recursive(recursive)
                        .with_decryption(decrypt)
                        .set_next_token(next_token.take())
                        .send()
                        .await
                        .map_err(|error| failed(Service::Ssm, path, &error, |_| false))?;
                    for parameter in answer.parameters.unwrap_or_default() {
                        if let Some(name) = parameter.name.clone() {
                            values.push((name, ssm_raw(parameter)));
                        }
                    }
                    match answer.next_token {
                        Some(token) if !token.is_empty() => next_token = Some(token),
                        _ => return Ok(values),
                    }
                }
            }
            #[cfg(not(feature = "parameters-ssm"))]
            {
                let _ = (recursive, decrypt);
                Err(not_compiled(Service::Ssm, path))
            }
        })
    }

    fn secret<'a>(&'a self, id: &'a str, version: Version<'a>) -> Fetch<'a, Raw> {
        Box::pin(async move {
            #[cfg(feature = "parameters-secrets")]
            {
                use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
                let client = self.secrets.get(Service::SecretsManager, id)?;
                let mut request = client.get_secret_value().secret_id(id);
                match version {
                    Version::Current => {}
                    Version::Stage(stage) => request = request.version_stage(stage),
                    Version::Id(version) => request = request.version_id(version),
                }
                let answer = request.send().await.map_err(|error| {
                    failed(Service::SecretsManager, id, &error, |error| {
                        matches!(error, GetSecretValueError::ResourceNotFoundException(_))
                    })
                })?;
                match (answer.secret_string, answer.secret_binary) {
                    (Some(text), _) => Ok(Raw::Text(text)),
                    (None, Some(binary)) => Ok(Raw::Bytes(binary.into_inner())),
                    (None, None) => Err(unsupported(
                        Service::SecretsManager,
                        id,
                        "GetSecretValue answered neither SecretString nor SecretBinary",
                    )),
                }
            }
            #[cfg(not(feature = "parameters-secrets"))]
            {
                let _ = version;
                Err(not_compiled(Service::SecretsManager, id))
            }
        })
    }

    fn configuration<'a>(&'a self, configuration: Configuration<'a>) -> Fetch<'a, Raw> {
        Box::pin(async move {
            #[cfg(feature = "parameters-appconfig")]
            {
                self.latest_configuration(configuration).await
            }
            #[cfg(not(feature = "parameters-appconfig"))]
            {
                Err(not_compiled(Service::AppConfig, &configuration.to_string()))
            }
        })
    }
}

#[cfg(feature = "parameters-ssm")]
fn ssm_raw(parameter: aws_sdk_ssm::types::Parameter) -> Raw {
    let kind = parameter.r#type.as_ref().map(|kind| kind.as_str());
    parameter_raw(kind, parameter.value.unwrap_or_default())
}
