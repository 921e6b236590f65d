//! The logging settings, resolved once from the code's options and the environment.

use std::sync::Arc;

use super::{LogLevel, redact::Redactor, resolve_level};
use crate::error::ConfigError;

/// How the function logs: the service name, the level, sampling, event logging and DEBUG
/// buffering. Part of [`Settings`](crate::Settings), which hands it out with `AsRef`, so
/// [`install`](super::install) takes either.
#[derive(Debug, Clone)]
pub struct LogConfig {
    service: Arc<str>,
    level: LogLevel,
    sample_rate: f64,
    log_event: bool,
    buffer_bytes: Option<usize>,
    redactor: Redactor,
}

/// What the code says about logging; the environment fills in the rest.
#[derive(Debug, Default)]
pub(crate) struct LogOptions<'a> {
    pub(crate) level: Option<&'a str>,
    pub(crate) buffer_bytes: Option<usize>,
    pub(crate) redact_keys: Option<&'a [String]>,
}

impl LogConfig {
    /// Combines `options` with the environment, read through `lookup`.
    pub(crate) fn resolve(
        service: Arc<str>,
        options: LogOptions<'_>,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let level = resolve_level(options.level, lookup)?;
        let sample_rate = match lookup("POWERTOOLS_LOGGER_SAMPLE_RATE") {
            Some(value) if !value.trim().is_empty() => value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|rate| (0.0..=1.0).contains(rate))
                .ok_or_else(|| {
                    ConfigError::new(
                        "POWERTOOLS_LOGGER_SAMPLE_RATE",
                        "expected a number from 0.0 to 1.0; the value given is not repeated here",
                    )
                })?,
            _ => 0.0,
        };
        let log_event = match lookup("POWERTOOLS_LOGGER_LOG_EVENT") {
            Some(value) => ConfigError::parse_bool("POWERTOOLS_LOGGER_LOG_EVENT", &value)?,
            None => false,
        };
        let buffer_bytes = match options.buffer_bytes {
            Some(0) => {
                return Err(ConfigError::new(
                    "the log buffer size",
                    "a log buffer must hold at least one byte",
                ));
            }
            other => other,
        };
        let redactor = match options.redact_keys {
            Some(keys) => Redactor::new(keys)
                .map_err(|error| ConfigError::new("the redaction keys", error.to_string()))?,
            None => Redactor::default(),
        };
        Ok(Self {
            service,
            level,
            sample_rate,
            log_event,
            buffer_bytes,
            redactor,
        })
    }

    /// The service name, the `service` key of every line.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The share of invocations logged at DEBUG (`POWERTOOLS_LOGGER_SAMPLE_RATE`).
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Whether each incoming event is logged (`POWERTOOLS_LOGGER_LOG_EVENT`).
    pub fn log_event(&self) -> bool {
        self.log_event
    }

    /// The DEBUG log buffer's size, when buffering is on.
    pub fn buffer_bytes(&self) -> Option<usize> {
        self.buffer_bytes
    }

    /// The redactor applied to logged events.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub(crate) fn level(&self) -> &LogLevel {
        &self.level
    }

    pub(crate) fn service_arc(&self) -> Arc<str> {
        Arc::clone(&self.service)
    }
}

impl AsRef<LogConfig> for LogConfig {
    fn as_ref(&self) -> &LogConfig {
        self
    }
}
