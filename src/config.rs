//! Settings read once, when the function starts. An invalid value stops the function with a
//! [`ConfigError`] naming the setting, before any invocation.
//!
//! | setting | meaning | default |
//! |---|---|---|
//! | `service` option / [`Function::service`](crate::Function::service) | the service name in logs and metrics | |
//! | `POWERTOOLS_SERVICE_NAME` | the service name, when the code names none | `service_undefined` |
//! | `AWS_LAMBDA_LOG_LEVEL` | the log level set by Lambda's advanced logging controls; wins over everything | |
//! | `log_level` option / [`Function::log_level`](crate::Function::log_level) | the log level in code | |
//! | `POWERTOOLS_LOG_LEVEL` | the log level, when neither of the above is set | |
//! | `RUST_LOG` | the log level, when none of the above is set | `INFO` |
//! | `POWERTOOLS_LOGGER_SAMPLE_RATE` | the share of invocations (0.0 to 1.0) logged at DEBUG | `0` |
//! | `POWERTOOLS_LOGGER_LOG_EVENT` | `true` logs each incoming event once, secrets redacted | `false` |
//! | [`Function::buffer_debug_logs`](crate::Function::buffer_debug_logs) | hold DEBUG lines, print them only when the invocation fails | off |
//! | [`Function::redact_keys`](crate::Function::redact_keys) | the keys whose values are hidden in logged events | `authorization`, `cookie`, `password`, `secret`, `token`, `api_key` |
//! | `POWERTOOLS_TRACE_DISABLED` | (feature `tracer`) `true` turns the tracer off | `false` |
//! | `POWERTOOLS_TRACER_CAPTURE_RESPONSE` | (feature `tracer`) whether the handler's response is kept as trace metadata, unless the code says | `true` |
//! | `POWERTOOLS_TRACER_CAPTURE_ERROR` | (feature `tracer`) whether the handler's error is kept as trace metadata, unless the code says | `true` |
//! | `POWERTOOLS_TRACER_EXPORT` | (feature `tracer`) `xray` (segment documents) or `otlp` (OpenTelemetry spans), unless the code says | `xray` |
//! | `AWS_XRAY_DAEMON_ADDRESS` | (feature `tracer`, set by Lambda) where the X-Ray daemon listens | `127.0.0.1:2000` |
//! | `correlation_id` option / [`Function::correlation_id`](crate::Function::correlation_id) | a JSON pointer to the correlation id | helve's presets |
//!
//! The name given in code wins over the environment, as in Powertools for AWS Lambda. Log
//! levels may be a level name or `RUST_LOG`-style directives (`info,hyper=warn`).

#[cfg(feature = "tracer")]
mod tracer;

use std::sync::Arc;

use crate::{
    correlation::Pointer,
    error::ConfigError,
    logging::{LogConfig, config::LogOptions, redact::Redactor},
    metrics::{MetricsConfig, config::MetricsOptions},
};

#[cfg(feature = "tracer")]
pub(crate) use tracer::TracerConfig;
#[cfg(feature = "tracer")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracer")))]
pub use tracer::{DEFAULT_DAEMON_ADDRESS, Export, TracerOptions};

/// The service name used when neither the code nor `POWERTOOLS_SERVICE_NAME` names one.
pub const DEFAULT_SERVICE: &str = "service_undefined";

/// The longest service name: it becomes a CloudWatch dimension value, limited to 1024 characters.
const MAX_SERVICE_LEN: usize = 1024;

/// What the code says, before the environment is read: the options of `#[helve::handler]`
/// and of [`Function`](crate::Function).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// The service name.
    pub service: Option<String>,
    /// The log level or directives.
    pub log_level: Option<String>,
    /// The size of the DEBUG log buffer, when buffering is on.
    pub log_buffer_bytes: Option<usize>,
    /// The keys whose values are hidden when events are logged; `None` for the default list.
    pub redact_keys: Option<Vec<String>>,
    /// A JSON pointer to the correlation id in the event, such as `/detail/orderId`.
    pub correlation_id: Option<String>,
    /// The CloudWatch namespace of the function's metrics.
    pub namespace: Option<String>,
    /// Dimensions added to every metric, after `service`.
    pub metric_dimensions: Vec<(String, String)>,
    /// Whether metrics go to a sink of their own instead of EMF documents on stdout
    /// (`Function::metrics_sink`, feature `cloudwatch`): they then need a namespace of at most
    /// 255 characters, the most PutMetricData takes.
    pub metrics_sink: bool,
    /// What the code says about tracing (feature `tracer`).
    #[cfg(feature = "tracer")]
    pub tracer: TracerOptions,
}

/// helve's settings, checked once.
#[derive(Debug, Clone)]
pub struct Settings {
    log: LogConfig,
    correlation_pointer: Option<Pointer>,
    metrics: Option<MetricsConfig>,
    /// `POWERTOOLS_METRICS_DISABLED=true`: metrics turned off on purpose.
    metrics_disabled: bool,
    #[cfg(feature = "tracer")]
    tracer: TracerConfig,
}

impl Settings {
    /// Reads the settings from the process environment; `service` is the name given in code,
    /// if any.
    pub fn from_env(service: Option<&str>) -> Result<Self, ConfigError> {
        Self::from_lookup(service, |name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, for tests and for embedding.
    pub fn from_lookup(
        service: Option<&str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let options = Options {
            service: service.map(str::to_owned),
            ..Options::default()
        };
        Self::resolve(&options, lookup)
    }

    /// Combines what the code says with the environment, read through `lookup`.
    pub fn resolve(
        options: &Options,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        // The service name, and the setting it comes from (for errors naming it).
        let (service_setting, service) = match &options.service {
            Some(name) => {
                let setting = "the `service` option";
                (setting, check_service(setting, name)?)
            }
            None => {
                let setting = "POWERTOOLS_SERVICE_NAME";
                match lookup(setting) {
                    Some(name) => (setting, check_service(setting, &name)?),
                    None => (setting, Arc::from(DEFAULT_SERVICE)),
                }
            }
        };
        let log = LogConfig::resolve(
            Arc::clone(&service),
            LogOptions {
                level: options.log_level.as_deref(),
                buffer_bytes: options.log_buffer_bytes,
                redact_keys: options.redact_keys.as_deref(),
            },
            &lookup,
        )?;
        let correlation_pointer = match &options.correlation_id {
            Some(pointer) => Some(Pointer::new(pointer).map_err(|error| {
                ConfigError::new("the `correlation_id` option", error.to_string())
            })?),
            None => None,
        };
        let metrics_disabled = match lookup("POWERTOOLS_METRICS_DISABLED") {
            Some(value) => ConfigError::parse_bool("POWERTOOLS_METRICS_DISABLED", &value)?,
            None => false,
        };
        let metrics = MetricsConfig::resolve(
            MetricsOptions {
                namespace: options.namespace.as_deref(),
                dimensions: &options.metric_dimensions,
                sink: options.metrics_sink,
            },
            (service_setting, &service),
            metrics_disabled,
            &lookup,
        )?;
        #[cfg(feature = "tracer")]
        let tracer = TracerConfig::resolve(&options.tracer, &lookup)?;
        Ok(Self {
            log,
            correlation_pointer,
            metrics,
            metrics_disabled,
            #[cfg(feature = "tracer")]
            tracer,
        })
    }

    /// The service name.
    pub fn service(&self) -> &str {
        self.log.service()
    }

    /// How the function logs.
    pub fn log(&self) -> &LogConfig {
        &self.log
    }

    /// The share of invocations logged at DEBUG (`POWERTOOLS_LOGGER_SAMPLE_RATE`).
    pub fn sample_rate(&self) -> f64 {
        self.log.sample_rate()
    }

    /// Whether each incoming event is logged (`POWERTOOLS_LOGGER_LOG_EVENT`).
    pub fn log_event(&self) -> bool {
        self.log.log_event()
    }

    /// The DEBUG log buffer's size, when buffering is on.
    pub fn log_buffer_bytes(&self) -> Option<usize> {
        self.log.buffer_bytes()
    }

    /// How metrics are written; `None` when no namespace is configured (and the code configures
    /// no metrics sink and no metric dimension, which would be an error) or metrics are
    /// disabled (`POWERTOOLS_METRICS_DISABLED=true`).
    pub fn metrics(&self) -> Option<&MetricsConfig> {
        self.metrics.as_ref()
    }

    /// Whether `POWERTOOLS_METRICS_DISABLED=true` turned metrics off on purpose.
    pub(crate) fn metrics_disabled(&self) -> bool {
        self.metrics_disabled
    }

    /// The redactor applied to logged events.
    pub fn redactor(&self) -> &Redactor {
        self.log.redactor()
    }

    /// The JSON pointer to the correlation id, when the code names one.
    pub fn correlation_pointer(&self) -> Option<&Pointer> {
        self.correlation_pointer.as_ref()
    }

    /// The tracer's settings (feature `tracer`).
    #[cfg(feature = "tracer")]
    pub(crate) fn tracer(&self) -> &TracerConfig {
        &self.tracer
    }

    pub(crate) fn service_arc(&self) -> Arc<str> {
        self.log.service_arc()
    }
}

impl AsRef<LogConfig> for Settings {
    fn as_ref(&self) -> &LogConfig {
        &self.log
    }
}

/// Reads a required environment variable, with an error that names it: for init functions.
///
/// ```
/// async fn setup() -> Result<String, helve::Error> {
///     let table = helve::env("TABLE_NAME")?;
///     Ok(table)
/// }
/// ```
pub fn env(name: &str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        Ok(_) => Err(ConfigError::new(name.to_owned(), "it is set but empty")),
        Err(std::env::VarError::NotPresent) => {
            Err(ConfigError::new(name.to_owned(), "it is not set"))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(ConfigError::new(name.to_owned(), "it is not valid Unicode"))
        }
    }
}

fn check_service(setting: &'static str, name: &str) -> Result<Arc<str>, ConfigError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ConfigError::new(
            setting,
            "the service name must not be empty",
        ));
    }
    if name.chars().count() > MAX_SERVICE_LEN {
        return Err(ConfigError::new(
            setting,
            format!("the service name must be at most {MAX_SERVICE_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ConfigError::new(
            setting,
            "the service name must not contain control characters",
        ));
    }
    Ok(Arc::from(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_service_named_in_code_wins_over_the_environment() {
        let settings = Settings::from_lookup(
            Some("orders"),
            env(&[("POWERTOOLS_SERVICE_NAME", "payments")]),
        )
        .unwrap();
        assert_eq!(settings.service(), "orders");
    }

    #[test]
    fn the_service_comes_from_powertools_service_name() {
        let settings =
            Settings::from_lookup(None, env(&[("POWERTOOLS_SERVICE_NAME", "payments")])).unwrap();
        assert_eq!(settings.service(), "payments");
    }

    #[test]
    fn without_a_name_the_service_is_undefined() {
        let settings = Settings::from_lookup(None, env(&[])).unwrap();
        assert_eq!(settings.service(), "service_undefined");
    }

    #[test]
    fn an_empty_service_name_is_a_config_error_naming_the_setting() {
        let error =
            Settings::from_lookup(None, env(&[("POWERTOOLS_SERVICE_NAME", "  ")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid setting POWERTOOLS_SERVICE_NAME: the service name must not be empty"
        );
        let long = "x".repeat(1025);
        let error = Settings::from_lookup(Some(&long), env(&[])).unwrap_err();
        assert_eq!(error.setting(), "the `service` option");
    }

    #[test]
    fn a_service_name_cloudwatch_refuses_as_a_dimension_stops_a_function_with_metrics() {
        let metrics = [("POWERTOOLS_METRICS_NAMESPACE", "Shop")];
        let error = Settings::from_lookup(Some("commandes-é"), env(&metrics)).unwrap_err();
        assert_eq!(error.setting(), "the `service` option");
        assert!(
            error
                .to_string()
                .contains("the service name is the `service` dimension of every metric"),
            "{error}"
        );
        let error = Settings::from_lookup(
            None,
            env(&[
                ("POWERTOOLS_METRICS_NAMESPACE", "Shop"),
                ("POWERTOOLS_SERVICE_NAME", "commandes-é"),
            ]),
        )
        .unwrap_err();
        assert_eq!(error.setting(), "POWERTOOLS_SERVICE_NAME");
        let error = Settings::from_lookup(
            Some("orders"),
            env(&[
                ("POWERTOOLS_METRICS_NAMESPACE", "Shop"),
                ("POWERTOOLS_METRICS_FUNCTION_NAME", "fonction-é"),
            ]),
        )
        .unwrap_err();
        assert_eq!(error.setting(), "POWERTOOLS_METRICS_FUNCTION_NAME");

        // Without metrics, or with metrics turned off, the name is only logged: any name goes.
        assert!(Settings::from_lookup(Some("commandes-é"), env(&[])).is_ok());
        let off = [
            ("POWERTOOLS_METRICS_NAMESPACE", "Shop"),
            ("POWERTOOLS_METRICS_DISABLED", "true"),
        ];
        assert!(Settings::from_lookup(Some("commandes-é"), env(&off)).is_ok());
    }

    #[test]
    fn the_sample_rate_is_a_share_between_zero_and_one() {
        let settings =
            Settings::from_lookup(None, env(&[("POWERTOOLS_LOGGER_SAMPLE_RATE", "0.25")])).unwrap();
        assert_eq!(settings.sample_rate(), 0.25);
        let error = Settings::from_lookup(None, env(&[("POWERTOOLS_LOGGER_SAMPLE_RATE", "25%")]))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid setting POWERTOOLS_LOGGER_SAMPLE_RATE: expected a number from 0.0 to 1.0; the value given is not repeated here"
        );
        assert!(
            Settings::from_lookup(None, env(&[("POWERTOOLS_LOGGER_SAMPLE_RATE", "1.5")])).is_err()
        );
    }

    #[test]
    fn event_logging_is_a_boolean() {
        let settings =
            Settings::from_lookup(None, env(&[("POWERTOOLS_LOGGER_LOG_EVENT", "TRUE")])).unwrap();
        assert!(settings.log_event());
        let error = Settings::from_lookup(None, env(&[("POWERTOOLS_LOGGER_LOG_EVENT", "maybe")]))
            .unwrap_err();
        assert_eq!(error.setting(), "POWERTOOLS_LOGGER_LOG_EVENT");
    }

    #[test]
    fn a_rejected_boolean_is_not_echoed() {
        let error = Settings::from_lookup(
            None,
            env(&[("POWERTOOLS_METRICS_DISABLED", "s3cr3t-token")]),
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("POWERTOOLS_METRICS_DISABLED"), "{message}");
        assert!(message.contains("expected `true` or `false`"), "{message}");
        assert!(!message.contains("s3cr3t-token"), "{message}");
    }
}
