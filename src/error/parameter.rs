//! Why a parameter, secret or configuration could not be read (feature `parameters`).
//!
//! It lives with the other error types so that a [`crate::Error`] made from it keeps its
//! `errorType`: an init function that reads its database secret with `?` fails with
//! `helve.ParameterNotFound`, not a generic `helve.Error`.

use std::{borrow::Cow, error::Error as StdError, fmt};

use super::{FunctionError, codes};

/// Where a value is kept: the service helve asked, directly or through its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// AWS Systems Manager Parameter Store.
    Ssm,
    /// AWS Secrets Manager.
    SecretsManager,
    /// AWS AppConfig.
    AppConfig,
}

impl Service {
    /// What the service is called in messages: `SSM Parameter Store`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Ssm => "SSM Parameter Store",
            Service::SecretsManager => "Secrets Manager",
            Service::AppConfig => "AppConfig",
        }
    }

    /// What one value of the service is called: `parameter`, `secret`, `configuration`.
    fn item(self) -> &'static str {
        match self {
            Service::Ssm => "parameter",
            Service::SecretsManager => "secret",
            Service::AppConfig => "configuration",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parameter, secret or configuration that could not be read. Every message names what
/// was asked for, never a value.
///
/// Its [`FunctionError::error_type`] is `helve.ParameterNotFound`,
/// `helve.ParameterTransformFailed` or `helve.ParametersUnavailable` (see
/// [`crate::error::codes`]), also once it is a [`crate::Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParameterError {
    /// The service has no such name (or no such version of it).
    NotFound {
        /// Where it was looked for.
        service: Service,
        /// The name asked for: a parameter's name or path, a secret's id or ARN, or
        /// `application/environment/profile`.
        name: String,
    },
    /// The value was read but does not convert into the type asked for.
    TransformFailed {
        /// Where it was read from.
        service: Service,
        /// The name asked for.
        name: String,
        /// The type asked for, as `my_app::Config`.
        target: &'static str,
        /// The JSON path that failed (`.` for the value itself) and the decoder's words
        /// without the value.
        reason: String,
    },
    /// The service, or the extension in front of it, could not be reached or failed.
    Unavailable {
        /// The service asked.
        service: Service,
        /// The name asked for.
        name: String,
        /// What went wrong: the service's error code and message, an HTTP status, a timeout.
        reason: String,
    },
}

impl ParameterError {
    /// The service the value was asked of.
    pub fn service(&self) -> Service {
        match self {
            ParameterError::NotFound { service, .. }
            | ParameterError::TransformFailed { service, .. }
            | ParameterError::Unavailable { service, .. } => *service,
        }
    }

    /// The name asked for.
    pub fn name(&self) -> &str {
        match self {
            ParameterError::NotFound { name, .. }
            | ParameterError::TransformFailed { name, .. }
            | ParameterError::Unavailable { name, .. } => name,
        }
    }

    /// The `errorType`: one of [`codes::PARAMETER_NOT_FOUND`],
    /// [`codes::PARAMETER_TRANSFORM_FAILED`] and [`codes::PARAMETERS_UNAVAILABLE`].
    pub fn code(&self) -> &'static str {
        match self {
            ParameterError::NotFound { .. } => codes::PARAMETER_NOT_FOUND,
            ParameterError::TransformFailed { .. } => codes::PARAMETER_TRANSFORM_FAILED,
            ParameterError::Unavailable { .. } => codes::PARAMETERS_UNAVAILABLE,
        }
    }
}

impl fmt::Display for ParameterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParameterError::NotFound { service, name } => {
                write!(f, "{} `{name}` was not found in {service}", service.item())
            }
            ParameterError::TransformFailed {
                service,
                name,
                target,
                reason,
            } => write!(
                f,
                "{} `{name}` from {service} is not a `{target}`: {reason}",
                service.item()
            ),
            ParameterError::Unavailable {
                service,
                name,
                reason,
            } => write!(
                f,
                "{} `{name}` could not be read from {service}: {reason}",
                service.item()
            ),
        }
    }
}

impl StdError for ParameterError {}

impl FunctionError for ParameterError {
    fn error_type(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.code())
    }
}
