//! Why an idempotent execution did not give the function's own answer.

use std::{borrow::Cow, fmt};

use crate::error::{IntoDiagnostic, Panic, codes};

use super::store::StoreError;

/// What an idempotent execution returns instead of the response: the function's own error,
/// or one of idempotency's, each with its `errorType` (see the guide's errors page).
///
/// The messages name the idempotency key (`prefix#digest`), never the value it was computed
/// from.
#[derive(Debug)]
#[non_exhaustive]
pub enum IdempotencyError<E> {
    /// The function returned an error: its record was deleted, so that a retry runs it
    /// again. Reported as the function's error.
    Failed(E),
    /// The function panicked: its record was deleted, and the invocation (or the record)
    /// fails with `helve.Panic`.
    Panicked(Panic),
    /// `helve.IdempotencyAlreadyInProgress`: another execution with the same key has started
    /// and not finished.
    AlreadyInProgress {
        /// The idempotency key.
        key: String,
    },
    /// `helve.IdempotencyValidationFailed`: a record of the key exists, but the validated
    /// part of this request differs from the one that made it.
    ValidationFailed {
        /// The idempotency key.
        key: String,
    },
    /// `helve.IdempotencyKeyMissing`: the request has no key value (missing, `null`, `""`,
    /// `{}`, `[]` or a list of nulls) and a key is required.
    KeyMissing,
    /// `helve.IdempotencyReleased`: the deadline came near before the function finished, so
    /// helve deleted its in-progress record (a retry runs it again at once) and stopped
    /// waiting for it.
    Released {
        /// The idempotency key.
        key: String,
    },
    /// `helve.IdempotencyInconsistentState`: the record kept changing under this execution
    /// (it expired, or another took it over) through every retry.
    InconsistentState {
        /// The idempotency key.
        key: String,
    },
    /// `helve.IdempotencyStoreError`: the store could not be read or written, or holds a
    /// record helve cannot use.
    Store {
        /// The idempotency key.
        key: String,
        /// What the store said.
        error: StoreError,
    },
}

impl<E> IdempotencyError<E> {
    /// The function's own error, when that is what this is.
    pub fn into_function_error(self) -> Option<E> {
        match self {
            IdempotencyError::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// The `errorType` of one of idempotency's own errors; `None` for the function's.
    pub(crate) fn own_error_type(&self) -> Option<&'static str> {
        Some(match self {
            IdempotencyError::Failed(_) => return None,
            IdempotencyError::Panicked(_) => codes::PANIC,
            IdempotencyError::AlreadyInProgress { .. } => codes::IDEMPOTENCY_ALREADY_IN_PROGRESS,
            IdempotencyError::ValidationFailed { .. } => codes::IDEMPOTENCY_VALIDATION_FAILED,
            IdempotencyError::KeyMissing => codes::IDEMPOTENCY_KEY_MISSING,
            IdempotencyError::Released { .. } => codes::IDEMPOTENCY_RELEASED,
            IdempotencyError::InconsistentState { .. } => codes::IDEMPOTENCY_INCONSISTENT_STATE,
            IdempotencyError::Store { .. } => codes::IDEMPOTENCY_STORE_ERROR,
        })
    }

    /// The message of one of idempotency's own errors; `None` for the function's.
    pub(crate) fn own_message(&self) -> Option<String> {
        Some(match self {
            IdempotencyError::Failed(_) => return None,
            IdempotencyError::Panicked(panic) => panic.to_string(),
            IdempotencyError::AlreadyInProgress { key } => {
                format!("an execution with idempotency key {key} is already in progress")
            }
            IdempotencyError::ValidationFailed { key } => format!(
                "the request with idempotency key {key} differs in its validated part from the one that made the record"
            ),
            IdempotencyError::KeyMissing => {
                "the request has no idempotency key, and one is required".to_owned()
            }
            IdempotencyError::Released { key } => format!(
                "the deadline came near before the execution with idempotency key {key} finished: its record was released for a retry"
            ),
            IdempotencyError::InconsistentState { key } => format!(
                "the record of idempotency key {key} changed under every attempt to acquire it"
            ),
            IdempotencyError::Store { key, error } => format!(
                "the idempotency store failed for key {key}: {}",
                crate::error::chain_message(error)
            ),
        })
    }
}

impl<E: fmt::Display> fmt::Display for IdempotencyError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.own_message()) {
            (IdempotencyError::Failed(error), _) => error.fmt(f),
            (_, Some(message)) => f.write_str(&message),
            (_, None) => Ok(()),
        }
    }
}

impl<E: IntoDiagnostic> IntoDiagnostic for IdempotencyError<E> {
    fn error_type(&self) -> Cow<'static, str> {
        match (self, self.own_error_type()) {
            (IdempotencyError::Failed(error), _) => error.error_type(),
            (_, Some(error_type)) => Cow::Borrowed(error_type),
            (_, None) => Cow::Borrowed(codes::INTERNAL),
        }
    }

    fn error_message(&self) -> String {
        match (self, self.own_message()) {
            (IdempotencyError::Failed(error), _) => error.error_message(),
            (_, Some(message)) => message,
            (_, None) => String::new(),
        }
    }
}

/// Keeps the `errorType`: `?` in a handler that returns `helve::Error` reports
/// `helve.IdempotencyAlreadyInProgress` as such.
impl<E: IntoDiagnostic> From<IdempotencyError<E>> for crate::Error {
    fn from(error: IdempotencyError<E>) -> Self {
        crate::Error::new(error.error_type(), error.error_message())
    }
}
