//! Where values come from: the extension or an SDK client, behind one trait.

use std::{fmt, future::Future, pin::Pin};

use super::value::Raw;
use crate::error::{ParameterError, Service};

/// A read in progress.
pub(crate) type Fetch<'a, T> = Pin<Box<dyn Future<Output = Result<T, ParameterError>> + Send + 'a>>;

/// Which version of a secret: the current one unless a stage or an id is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Version<'a> {
    /// `AWSCURRENT`.
    #[default]
    Current,
    /// A staging label: `AWSPREVIOUS`, `AWSPENDING`, or your own.
    Stage(&'a str),
    /// A version id.
    Id(&'a str),
}

/// An AppConfig configuration: application, environment and profile (names or ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Configuration<'a> {
    pub(crate) application: &'a str,
    pub(crate) environment: &'a str,
    pub(crate) profile: &'a str,
}

impl fmt::Display for Configuration<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.application, self.environment, self.profile
        )
    }
}

/// A backend. Each one answers the services it reaches; the others answer
/// [`ParameterError::Unavailable`] saying what is missing.
pub(crate) trait Source: Send + Sync + fmt::Debug {
    /// What the backend is called in messages: `the Parameters and Secrets extension`.
    fn name(&self) -> &'static str;

    /// One SSM parameter; a SecureString decrypted when `decrypt`.
    fn parameter<'a>(&'a self, name: &'a str, decrypt: bool) -> Fetch<'a, Raw>;

    /// Several SSM parameters (at most 10), each name with its value; any name missing is an
    /// error.
    fn parameters<'a>(
        &'a self,
        names: &'a [&'a str],
        decrypt: bool,
    ) -> Fetch<'a, Vec<(String, Raw)>>;

    /// Every SSM parameter under `path` (below it too when `recursive`), with its full name.
    fn parameters_by_path<'a>(
        &'a self,
        path: &'a str,
        recursive: bool,
        decrypt: bool,
    ) -> Fetch<'a, Vec<(String, Raw)>>;

    /// A Secrets Manager secret.
    fn secret<'a>(&'a self, id: &'a str, version: Version<'a>) -> Fetch<'a, Raw>;

    /// An AppConfig configuration's latest content.
    fn configuration<'a>(&'a self, configuration: Configuration<'a>) -> Fetch<'a, Raw>;
}

/// The error of a backend that cannot reach `service`.
pub(crate) fn unsupported(service: Service, name: &str, reason: &str) -> ParameterError {
    ParameterError::Unavailable {
        service,
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}
