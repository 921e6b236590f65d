//! Parameters and secrets (feature `parameters`): SSM Parameter Store, Secrets Manager and
//! AppConfig, read through the AWS Parameters and Secrets Lambda Extension or the AWS SDK,
//! cached, typed, and kept out of the logs.
//!
//! Build one [`Parameters`] in the function's init step and keep it in the state:
//!
//! ```no_run
//! use helve::parameters::{Parameters, Secret};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Database {
//!     host: String,
//!     username: String,
//!     password: String,
//! }
//!
//! struct State {
//!     parameters: Parameters,
//!     database: Secret<Database>,
//! }
//!
//! async fn setup() -> Result<State, helve::Error> {
//!     let parameters = Parameters::from_env()?;
//!     // A `Secret`: `{:?}` prints `[redacted]`; the password is masked in every log line.
//!     let database = parameters.secrets().get::<Database>("orders/db").await?;
//!     Ok(State { parameters, database })
//! }
//!
//! # async fn handler(state: &State) -> Result<(), helve::Error> {
//! // Cached for 5 seconds (`POWERTOOLS_PARAMETERS_MAX_AGE`): most invocations read nothing.
//! let endpoint = state.parameters.ssm().get::<String>("/orders/endpoint").await?;
//! let switches = state
//!     .parameters
//!     .appconfig()
//!     .get::<serde_json::Value>("orders", "prod", "switches")
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The type asked for decides how a value is read ([`ParameterValue`]): `String` as it is,
//! `Vec<u8>` from base64 (or a binary value as it is), any other `Deserialize` type as JSON.
//! Values are cached per name and type for [`DEFAULT_MAX_AGE`] (or
//! `POWERTOOLS_PARAMETERS_MAX_AGE` seconds; `0` caches nothing); callers asking for the same
//! value while it is being read share that one read; a value that does not convert is not
//! cached. See the [parameters guide](crate::guide::parameters) for the backends, IAM
//! policies and costs.

mod cache;
mod extension;
#[cfg(any(
    feature = "parameters-ssm",
    feature = "parameters-secrets",
    feature = "parameters-appconfig"
))]
mod sdk;
mod secret;
mod source;
mod value;

#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, fmt, net::SocketAddr, sync::Arc, time::Duration};

use tokio::sync::OnceCell;

use self::{
    cache::Cache,
    source::{Configuration, Source, Version},
    value::{Raw, transform},
};
pub use self::{
    cache::MAX_CACHED_NAMES, extension::STARTING, secret::Secret, value::ParameterValue,
};
use crate::ConfigError;
pub use crate::error::{ParameterError, Service};

/// How long a value is cached when neither the code nor `POWERTOOLS_PARAMETERS_MAX_AGE` says:
/// 5 seconds, as Powertools for TypeScript, Java and .NET (Powertools for Python: 300).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5);

/// The Parameters and Secrets extension's port when `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`
/// is not set.
pub const DEFAULT_EXTENSION_PORT: u16 = 2773;

/// The AppConfig agent's port when `AWS_APPCONFIG_EXTENSION_HTTP_PORT` is not set.
pub const DEFAULT_APPCONFIG_PORT: u16 = 2772;

/// How long one read may take before it fails: the extension's answer, or an SDK call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// SSM's limit of names in one `GetParameters` call.
const GET_PARAMETERS_LIMIT: usize = 10;

/// Which backend reads the values: `POWERTOOLS_PARAMETERS_BACKEND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backend {
    /// The extension when its port answers (checked once per service), else the SDK when its
    /// feature is compiled in. Without any SDK feature, always the extension.
    #[default]
    Auto,
    /// The AWS Parameters and Secrets Lambda Extension (and the AppConfig agent): plain HTTP
    /// to localhost, no SDK, the cheapest cold start. `extension`.
    Extension,
    /// The AWS SDK (features `parameters-ssm`, `parameters-secrets`, `parameters-appconfig`).
    /// `sdk`.
    Sdk,
}

impl Backend {
    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Backend::Auto),
            "extension" => Ok(Backend::Extension),
            "sdk" => Ok(Backend::Sdk),
            _ => Err(ConfigError::new(
                "POWERTOOLS_PARAMETERS_BACKEND",
                "expected `extension`, `sdk` or `auto`",
            )),
        }
    }
}

/// The client of parameters, secrets and configurations: build it once (in the init step)
/// and share it; cloning it shares its cache.
#[derive(Clone)]
pub struct Parameters {
    inner: Arc<Inner>,
}

struct Inner {
    max_age: Duration,
    ssm: Route,
    secrets: Route,
    appconfig: Route,
    parameters: Cache,
    decrypted: Cache,
    by_path: Cache,
    secret_values: Cache,
    configurations: Cache,
}

impl fmt::Debug for Parameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parameters")
            .field("max_age", &self.inner.max_age)
            .field("ssm", &self.inner.ssm)
            .field("secrets", &self.inner.secrets)
            .field("appconfig", &self.inner.appconfig)
            .finish_non_exhaustive()
    }
}

/// The backend of one service: chosen once, on its first read.
struct Route {
    service: Service,
    backend: Backend,
    extension: Arc<dyn Source>,
    extension_addr: SocketAddr,
    sdk: Option<Arc<dyn Source>>,
    chosen: OnceCell<Arc<dyn Source>>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("backend", &self.backend)
            .field("chosen", &self.chosen.get().map(|source| source.name()))
            .finish_non_exhaustive()
    }
}

impl Route {
    async fn source(&self) -> &dyn Source {
        let source = self
            .chosen
            .get_or_init(|| async {
                match (self.backend, &self.sdk) {
                    (Backend::Extension, _) | (_, None) => Arc::clone(&self.extension),
                    (Backend::Sdk, Some(sdk)) => Arc::clone(sdk),
                    (Backend::Auto, Some(sdk)) => {
                        let answers = tokio::time::timeout(
                            Duration::from_millis(200),
                            tokio::net::TcpStream::connect(self.extension_addr),
                        )
                        .await
                        .is_ok_and(|connected| connected.is_ok());
                        tracing::debug!(
                            service = self.service.name(),
                            extension = answers,
                            "parameters: reading through {}",
                            if answers { "the extension" } else { "the SDK" }
                        );
                        if answers {
                            Arc::clone(&self.extension)
                        } else {
                            Arc::clone(sdk)
                        }
                    }
                }
            })
            .await;
        source.as_ref()
    }

    /// The SDK when it reaches this service, else the chosen backend: for what only the SDK
    /// does (reading by path).
    async fn sdk_or_source(&self) -> &dyn Source {
        match &self.sdk {
            Some(sdk) => sdk.as_ref(),
            None => self.source().await,
        }
    }
}

/// Builds a [`Parameters`]: what is not set here is read from the environment.
#[derive(Default)]
pub struct ParametersBuilder {
    max_age: Option<Duration>,
    backend: Option<Backend>,
    extension_port: Option<u16>,
    appconfig_port: Option<u16>,
    session_token: Option<String>,
    timeout: Option<Duration>,
    #[cfg(any(
        feature = "parameters-ssm",
        feature = "parameters-secrets",
        feature = "parameters-appconfig"
    ))]
    clients: sdk::Clients,
    #[cfg(test)]
    source: Option<Arc<dyn Source>>,
}

impl fmt::Debug for ParametersBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParametersBuilder")
            .field("max_age", &self.max_age)
            .field("backend", &self.backend)
            .field("extension_port", &self.extension_port)
            .field("appconfig_port", &self.appconfig_port)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ParametersBuilder {
    /// How long values are cached; zero caches nothing. Default:
    /// `POWERTOOLS_PARAMETERS_MAX_AGE` seconds, else [`DEFAULT_MAX_AGE`].
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Which backend reads the values. Default: `POWERTOOLS_PARAMETERS_BACKEND`, else
    /// [`Backend::Auto`].
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The Parameters and Secrets extension's port on 127.0.0.1. Default:
    /// `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`, else [`DEFAULT_EXTENSION_PORT`].
    pub fn extension_port(mut self, port: u16) -> Self {
        self.extension_port = Some(port);
        self
    }

    /// The AppConfig agent's port on 127.0.0.1. Default: `AWS_APPCONFIG_EXTENSION_HTTP_PORT`,
    /// else [`DEFAULT_APPCONFIG_PORT`].
    pub fn appconfig_port(mut self, port: u16) -> Self {
        self.appconfig_port = Some(port);
        self
    }

    /// The token the extensions check (`X-Aws-Parameters-Secrets-Token`). Default:
    /// `AWS_SESSION_TOKEN`, which Lambda sets for every function.
    pub fn session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// How long one read may take. Default: [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The SSM client of the SDK backend, instead of one configured from the environment.
    #[cfg(feature = "parameters-ssm")]
    #[cfg_attr(docsrs, doc(cfg(feature = "parameters-ssm")))]
    pub fn ssm_client(mut self, client: aws_sdk_ssm::Client) -> Self {
        self.clients.ssm = Some(client);
        self
    }

    /// The Secrets Manager client of the SDK backend, instead of one configured from the
    /// environment.
    #[cfg(feature = "parameters-secrets")]
    #[cfg_attr(docsrs, doc(cfg(feature = "parameters-secrets")))]
    pub fn secrets_client(mut self, client: aws_sdk_secretsmanager::Client) -> Self {
        self.clients.secrets = Some(client);
        self
    }

    /// The AppConfigData client of the SDK backend, instead of one configured from the
    /// environment.
    #[cfg(feature = "parameters-appconfig")]
    #[cfg_attr(docsrs, doc(cfg(feature = "parameters-appconfig")))]
    pub fn appconfig_client(mut self, client: aws_sdk_appconfigdata::Client) -> Self {
        self.clients.appconfig = Some(client);
        self
    }

    #[cfg(test)]
    pub(crate) fn source(mut self, source: Arc<dyn Source>) -> Self {
        self.source = Some(source);
        self
    }

    /// The client. `Err` names a setting of the environment that is invalid (never its
    /// value). Nothing is read from the services yet, and the SDK clients are configured
    /// without aws-config: region `AWS_REGION`, credentials `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and an endpoint from
    /// `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`,
    /// `AWS_ENDPOINT_URL_APPCONFIGDATA` or `AWS_ENDPOINT_URL` when set (a local endpoint).
    pub fn build(self) -> Result<Parameters, ConfigError> {
        self.build_with(&|name| std::env::var(name).ok())
    }

    fn build_with(self, var: &dyn Fn(&str) -> Option<String>) -> Result<Parameters, ConfigError> {
        let max_age = match self.max_age {
            Some(max_age) => max_age,
            None => match var("POWERTOOLS_PARAMETERS_MAX_AGE") {
                Some(value) if !value.trim().is_empty() => parse_seconds(&value)?,
                _ => DEFAULT_MAX_AGE,
            },
        };
        let backend = match self.backend {
            Some(backend) => backend,
            None => Backend::parse(&var("POWERTOOLS_PARAMETERS_BACKEND").unwrap_or_default())?,
        };
        let port = |given: Option<u16>, name: &'static str, default: u16| match given {
            Some(port) => Ok(port),
            None => match var(name) {
                Some(value) if !value.trim().is_empty() => value
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|port| *port != 0)
                    .ok_or_else(|| ConfigError::new(name, "expected a port number, 1 to 65535")),
                _ => Ok(default),
            },
        };
        let extension_port = port(
            self.extension_port,
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            DEFAULT_EXTENSION_PORT,
        )?;
        let appconfig_port = port(
            self.appconfig_port,
            "AWS_APPCONFIG_EXTENSION_HTTP_PORT",
            DEFAULT_APPCONFIG_PORT,
        )?;
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let token = self
            .session_token
            .or_else(|| var("AWS_SESSION_TOKEN"))
            .filter(|token| !token.is_empty());
        let extension =
            extension::Extension::new(extension_port, appconfig_port, token.as_deref(), timeout);
        let (parameters_addr, appconfig_addr) =
            (extension.parameters_addr(), extension.appconfig_addr());
        let extension: Arc<dyn Source> = Arc::new(extension);
        #[cfg(any(
            feature = "parameters-ssm",
            feature = "parameters-secrets",
            feature = "parameters-appconfig"
        ))]
        let sdk: Option<Arc<dyn Source>> =
            Some(Arc::new(sdk::Sdk::new(self.clients, var, timeout)));
        #[cfg(not(any(
            feature = "parameters-ssm",
            feature = "parameters-secrets",
            feature = "parameters-appconfig"
        )))]
        let sdk: Option<Arc<dyn Source>> = if backend == Backend::Sdk {
            return Err(ConfigError::new(
                "POWERTOOLS_PARAMETERS_BACKEND",
                "`sdk` needs one of helve's features `parameters-ssm`, `parameters-secrets`, `parameters-appconfig`",
            ));
        } else {
            None
        };
        #[cfg(test)]
        let (extension, sdk, backend) = match self.source {
            Some(source) => (source, None, Backend::Extension),
            None => (extension, sdk, backend),
        };
        let route = |service: Service, addr: SocketAddr| Route {
            service,
            backend,
            extension: Arc::clone(&extension),
            extension_addr: addr,
            // Asked for explicitly, the SDK answers even a service it was not compiled for:
            // its error names the feature to turn on.
            sdk: sdk
                .clone()
                .filter(|_| reaches(service) || backend == Backend::Sdk),
            chosen: OnceCell::new(),
        };
        Ok(Parameters {
            inner: Arc::new(Inner {
                max_age,
                ssm: route(Service::Ssm, parameters_addr),
                secrets: route(Service::SecretsManager, parameters_addr),
                appconfig: route(Service::AppConfig, appconfig_addr),
                parameters: Cache::default(),
                decrypted: Cache::default(),
                by_path: Cache::default(),
                secret_values: Cache::default(),
                configurations: Cache::default(),
            }),
        })
    }
}

/// Whether the SDK backend reaches `service`: its feature is compiled in.
fn reaches(service: Service) -> bool {
    match service {
        Service::Ssm => cfg!(feature = "parameters-ssm"),
        Service::SecretsManager => cfg!(feature = "parameters-secrets"),
        Service::AppConfig => cfg!(feature = "parameters-appconfig"),
    }
}

/// `POWERTOOLS_PARAMETERS_MAX_AGE`: whole or fractional seconds, zero or more.
fn parse_seconds(value: &str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| {
            ConfigError::new(
                "POWERTOOLS_PARAMETERS_MAX_AGE",
                "expected a number of seconds, 0 or more (0 caches nothing)",
            )
        })
}

/// How one read uses the cache.
#[derive(Debug, Clone, Copy)]
struct Reading {
    max_age: Duration,
    force: bool,
}

impl Parameters {
    /// A client configured from the environment: [`ParametersBuilder::build`] with nothing
    /// set in code.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::builder().build()
    }

    /// A builder, for settings in code.
    pub fn builder() -> ParametersBuilder {
        ParametersBuilder::default()
    }

    fn reading(&self) -> Reading {
        Reading {
            max_age: self.inner.max_age,
            force: false,
        }
    }

    /// SSM Parameter Store.
    pub fn ssm(&self) -> Ssm<'_> {
        Ssm {
            parameters: self,
            reading: self.reading(),
        }
    }

    /// Secrets Manager.
    pub fn secrets(&self) -> Secrets<'_> {
        Secrets {
            parameters: self,
            reading: self.reading(),
            version: Version::Current,
        }
    }

    /// AppConfig.
    pub fn appconfig(&self) -> AppConfig<'_> {
        AppConfig {
            parameters: self,
            reading: self.reading(),
        }
    }
}

/// The value of `raw` as a `T`, or the error naming `name`.
fn converted<T: ParameterValue>(
    service: Service,
    name: &str,
    raw: Raw,
) -> Result<T, ParameterError> {
    transform::<T>(raw).map_err(|reason| ParameterError::TransformFailed {
        service,
        name: name.to_owned(),
        target: std::any::type_name::<T>(),
        reason,
    })
}

/// `max_age` and `force_fetch`, the same on every view.
macro_rules! reading_options {
    () => {
        /// Caches what this reads for `max_age` instead of the client's.
        pub fn max_age(mut self, max_age: Duration) -> Self {
            self.reading.max_age = max_age;
            self
        }

        /// Reads again even when a cached value is fresh, and caches what it reads.
        pub fn force_fetch(mut self) -> Self {
            self.reading.force = true;
            self
        }
    };
}

/// Reads from SSM Parameter Store: [`Parameters::ssm`].
#[derive(Debug, Clone, Copy)]
pub struct Ssm<'a> {
    parameters: &'a Parameters,
    reading: Reading,
}

impl Ssm<'_> {
    reading_options!();

    /// The parameter `name` (its name or ARN) as a `T`, not decrypted: a SecureString's
    /// value stays encrypted ([`get_decrypted`](Ssm::get_decrypted) decrypts it).
    ///
    /// A cached value costs a lock and a hash lookup, and allocates nothing.
    pub async fn get<T: ParameterValue>(&self, name: &str) -> Result<Arc<T>, ParameterError> {
        let inner = &self.parameters.inner;
        inner
            .parameters
            .get(name, self.reading.max_age, self.reading.force, || async {
                let raw = inner.ssm.source().await.parameter(name, false).await?;
                converted(Service::Ssm, name, raw)
            })
            .await
    }

    /// The parameter `name` decrypted (a SecureString), as a [`Secret`]: its text is masked
    /// in log lines from now on.
    pub async fn get_decrypted<T: ParameterValue>(
        &self,
        name: &str,
    ) -> Result<Secret<T>, ParameterError> {
        let inner = &self.parameters.inner;
        inner
            .decrypted
            .get(name, self.reading.max_age, self.reading.force, || async {
                let raw = inner.ssm.source().await.parameter(name, true).await?;
                raw.mask();
                converted(Service::Ssm, name, raw)
            })
            .await
            .map(Secret::from_arc)
    }

    /// Several parameters by name, not decrypted, read 10 to a `GetParameters` call (through
    /// the extension: one request each, three at a time), each cached on its own. Any name
    /// that does not exist fails the whole read with [`ParameterError::NotFound`] naming it.
    pub async fn get_many<T: ParameterValue>(
        &self,
        names: &[&str],
    ) -> Result<BTreeMap<String, Arc<T>>, ParameterError> {
        self.many(names, false).await
    }

    /// [`get_many`](Ssm::get_many), decrypted, each value a [`Secret`].
    pub async fn get_many_decrypted<T: ParameterValue>(
        &self,
        names: &[&str],
    ) -> Result<BTreeMap<String, Secret<T>>, ParameterError> {
        let values = self.many(names, true).await?;
        Ok(values
            .into_iter()
            .map(|(name, value)| (name, Secret::from_arc(value)))
            .collect())
    }

    async fn many<T: ParameterValue>(
        &self,
        names: &[&str],
        decrypt: bool,
    ) -> Result<BTreeMap<String, Arc<T>>, ParameterError> {
        let inner = &self.parameters.inner;
        let cache = if decrypt {
            &inner.decrypted
        } else {
            &inner.parameters
        };
        let mut values = BTreeMap::new();
        let mut missing = Vec::new();
        for name in names {
            let cached = (!self.reading.force && !self.reading.max_age.is_zero())
                .then(|| cache.fresh::<T>(name, self.reading.max_age, None))
                .flatten();
            match cached {
                Some(value) => {
                    values.insert((*name).to_owned(), value);
                }
                None if !missing.contains(name) => missing.push(*name),
                None => {}
            }
        }
        let source = inner.ssm.source().await;
        for batch in missing.chunks(GET_PARAMETERS_LIMIT) {
            let read = source.parameters(batch, decrypt).await?;
            for (name, raw) in read {
                if decrypt {
                    raw.mask();
                }
                let value = Arc::new(converted::<T>(Service::Ssm, &name, raw)?);
                if !self.reading.max_age.is_zero() {
                    cache.put(&name, Arc::clone(&value));
                }
                values.insert(name, value);
            }
        }
        Ok(values)
    }

    /// Every parameter under `path` (and below it when `recursive`), not decrypted, by name
    /// relative to the path (`/orders/db/host` under `/orders` is `db/host`), read page by
    /// page and cached as a whole. Needs the SDK backend (feature `parameters-ssm`): the
    /// extension does not read by path.
    pub async fn get_by_path<T: ParameterValue>(
        &self,
        path: &str,
        recursive: bool,
    ) -> Result<Arc<BTreeMap<String, T>>, ParameterError> {
        self.by_path(path, recursive, false).await
    }

    /// [`get_by_path`](Ssm::get_by_path), decrypted, as one [`Secret`].
    pub async fn get_by_path_decrypted<T: ParameterValue>(
        &self,
        path: &str,
        recursive: bool,
    ) -> Result<Secret<BTreeMap<String, T>>, ParameterError> {
        self.by_path(path, recursive, true)
            .await
            .map(Secret::from_arc)
    }

    async fn by_path<T: ParameterValue>(
        &self,
        path: &str,
        recursive: bool,
        decrypt: bool,
    ) -> Result<Arc<BTreeMap<String, T>>, ParameterError> {
        let inner = &self.parameters.inner;
        let key = format!(
            "{path}\u{0}{}{}",
            if recursive { "r" } else { "" },
            if decrypt { "d" } else { "" }
        );
        inner
            .by_path
            .get(&key, self.reading.max_age, self.reading.force, || async {
                let source = inner.ssm.sdk_or_source().await;
                let read = source.parameters_by_path(path, recursive, decrypt).await?;
                let prefix = path.trim_end_matches('/');
                let mut values = BTreeMap::new();
                for (name, raw) in read {
                    if decrypt {
                        raw.mask();
                    }
                    let value = converted::<T>(Service::Ssm, &name, raw)?;
                    let relative = name
                        .strip_prefix(prefix)
                        .unwrap_or(&name)
                        .trim_start_matches('/')
                        .to_owned();
                    values.insert(relative, value);
                }
                Ok(values)
            })
            .await
    }
}

/// Reads from Secrets Manager: [`Parameters::secrets`].
#[derive(Debug, Clone, Copy)]
pub struct Secrets<'a> {
    parameters: &'a Parameters,
    reading: Reading,
    version: Version<'a>,
}

impl<'a> Secrets<'a> {
    reading_options!();

    /// Reads the version with this staging label (`AWSPREVIOUS`, `AWSPENDING`, your own)
    /// instead of `AWSCURRENT`.
    pub fn version_stage(mut self, stage: &'a str) -> Self {
        self.version = Version::Stage(stage);
        self
    }

    /// Reads the version with this id instead of `AWSCURRENT`.
    pub fn version_id(mut self, id: &'a str) -> Self {
        self.version = Version::Id(id);
        self
    }

    /// The secret `id` (its name or ARN) as a [`Secret`] of `T`: its `SecretString` (or
    /// `SecretBinary`), masked in log lines from now on.
    pub async fn get<T: ParameterValue>(&self, id: &str) -> Result<Secret<T>, ParameterError> {
        self.read(id).await.map(Secret::from_arc)
    }

    /// The secret `id` as a plain value, for one that is not secret after all (a public
    /// certificate): not a [`Secret`], though still masked in log lines.
    pub async fn get_plain<T: ParameterValue>(&self, id: &str) -> Result<Arc<T>, ParameterError> {
        self.read(id).await
    }

    async fn read<T: ParameterValue>(&self, id: &str) -> Result<Arc<T>, ParameterError> {
        let inner = &self.parameters.inner;
        let key = match self.version {
            Version::Current => std::borrow::Cow::Borrowed(id),
            Version::Stage(stage) => format!("{id}\u{0}stage\u{0}{stage}").into(),
            Version::Id(version) => format!("{id}\u{0}id\u{0}{version}").into(),
        };
        let version = self.version;
        inner
            .secret_values
            .get(&key, self.reading.max_age, self.reading.force, || async {
                let raw = inner.secrets.source().await.secret(id, version).await?;
                raw.mask();
                converted(Service::SecretsManager, id, raw)
            })
            .await
    }
}

/// Reads from AppConfig: [`Parameters::appconfig`].
#[derive(Debug, Clone, Copy)]
pub struct AppConfig<'a> {
    parameters: &'a Parameters,
    reading: Reading,
}

impl AppConfig<'_> {
    reading_options!();

    /// The latest configuration of `profile` in `application`'s `environment` (names or
    /// ids) as a `T`. Through the SDK, a session is kept per configuration and AppConfig's
    /// "unchanged" answer keeps the last value.
    pub async fn get<T: ParameterValue>(
        &self,
        application: &str,
        environment: &str,
        profile: &str,
    ) -> Result<Arc<T>, ParameterError> {
        let inner = &self.parameters.inner;
        let configuration = Configuration {
            application,
            environment,
            profile,
        };
        let key = format!("{application}\u{0}{environment}\u{0}{profile}");
        inner
            .configurations
            .get(&key, self.reading.max_age, self.reading.force, || async {
                let raw = inner
                    .appconfig
                    .source()
                    .await
                    .configuration(configuration)
                    .await?;
                converted(Service::AppConfig, &configuration.to_string(), raw)
            })
            .await
    }
}
