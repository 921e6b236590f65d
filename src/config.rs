//! Settings read once, when the function starts. An invalid value stops the function with a
//! [`ConfigError`] naming the setting, before any invocation.
//!
//! | setting | meaning | default |
//! |---|---|---|
//! | `service` option / [`Function::service`](crate::Function::service) | the service name in logs and metrics | |
//! | `POWERTOOLS_SERVICE_NAME` | the service name, when the code names none | `service_undefined` |
//!
//! The name given in code wins over the environment, as in Powertools for AWS Lambda.

use std::sync::Arc;

use crate::error::ConfigError;

/// The service name used when neither the code nor `POWERTOOLS_SERVICE_NAME` names one.
pub const DEFAULT_SERVICE: &str = "service_undefined";

/// The longest service name: it becomes a CloudWatch dimension value, limited to 1024 characters.
const MAX_SERVICE_LEN: usize = 1024;

/// helve's settings, checked once.
#[derive(Debug, Clone)]
pub struct Settings {
    service: Arc<str>,
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
        let service = match service {
            Some(name) => check_service("the `service` option", name)?,
            None => match lookup("POWERTOOLS_SERVICE_NAME") {
                Some(name) => check_service("POWERTOOLS_SERVICE_NAME", &name)?,
                None => Arc::from(DEFAULT_SERVICE),
            },
        };
        Ok(Self { service })
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    pub(crate) fn service_arc(&self) -> Arc<str> {
        Arc::clone(&self.service)
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
}
