//! Why calling another function failed (feature `invoke`).
//!
//! It lives with the other error types so that a [`crate::Error`] made from it keeps its
//! `errorType`: a callee's `helve.InvalidEvent` stays `helve.InvalidEvent` for the caller.

use std::{borrow::Cow, error::Error as StdError, fmt, time::Duration};

use super::{FunctionError, codes};

/// A call to another function that did not give its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvokeError {
    /// The function ran and failed: Lambda answered with `X-Amz-Function-Error`, and the
    /// payload is its `errorType` and `errorMessage`.
    Function {
        /// The function called.
        function: String,
        /// Its `errorType`: `helve.InvalidEvent`, `orders.OutOfStock`, `Runtime.ExitError`.
        error_type: String,
        /// Its `errorMessage`.
        error_message: String,
        /// The last 4 KB of its log, when the invoker asks for it ([`log_tail`]).
        ///
        /// [`log_tail`]: crate::invoke::Invoker::log_tail
        log_tail: Option<String>,
    },
    /// The function's answer does not decode into the response type.
    Decode {
        /// The function called.
        function: String,
        /// The decoder's words and the path that failed, never the value.
        reason: String,
    },
    /// The payload is over Lambda's limit: nothing was sent.
    TooLarge {
        /// The function it was for.
        function: String,
        /// The payload's size in bytes.
        size: usize,
        /// The limit of the invocation type.
        limit: usize,
    },
    /// The request does not serialize to JSON: nothing was sent.
    Encode {
        /// The function it was for.
        function: String,
        /// serde_json's words.
        reason: String,
    },
    /// The caller's deadline (less its margin) left no time for a call, or for the answer.
    Deadline {
        /// The function called.
        function: String,
        /// How much time the caller had left when the call was given up.
        remaining: Duration,
    },
    /// Lambda refused the call or failed: the service's error, after the retries throttling
    /// and server errors get.
    Service {
        /// The function called.
        function: String,
        /// The service's error code (`ResourceNotFoundException`, `TooManyRequestsException`),
        /// when it sent one.
        code: Option<String>,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// The service's message, or the cause (a refused connection, a timeout).
        message: String,
    },
}

impl InvokeError {
    /// The function the call was for.
    pub fn function(&self) -> &str {
        match self {
            InvokeError::Function { function, .. }
            | InvokeError::Decode { function, .. }
            | InvokeError::TooLarge { function, .. }
            | InvokeError::Encode { function, .. }
            | InvokeError::Deadline { function, .. }
            | InvokeError::Service { function, .. } => function,
        }
    }

    /// The `errorType`: the callee's own for [`InvokeError::Function`], else one of
    /// [`codes::INVOKE_FAILED`], [`codes::INVOKE_PAYLOAD_TOO_LARGE`] and
    /// [`codes::INVOKE_INVALID_RESPONSE`].
    pub fn code(&self) -> &str {
        match self {
            InvokeError::Function { error_type, .. } => error_type,
            InvokeError::Decode { .. } => codes::INVOKE_INVALID_RESPONSE,
            InvokeError::TooLarge { .. } => codes::INVOKE_PAYLOAD_TOO_LARGE,
            InvokeError::Encode { .. }
            | InvokeError::Deadline { .. }
            | InvokeError::Service { .. } => codes::INVOKE_FAILED,
        }
    }
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::Function {
                function,
                error_type,
                error_message,
                ..
            } => write!(
                f,
                "function `{function}` failed ({error_type}): {error_message}"
            ),
            InvokeError::Decode { function, reason } => {
                write!(
                    f,
                    "the answer of function `{function}` does not decode: {reason}"
                )
            }
            InvokeError::TooLarge {
                function,
                size,
                limit,
            } => write!(
                f,
                "the payload for function `{function}` is {size} bytes, over Lambda's limit of {limit}: nothing was sent"
            ),
            InvokeError::Encode { function, reason } => write!(
                f,
                "the payload for function `{function}` does not serialize: {reason}"
            ),
            InvokeError::Deadline {
                function,
                remaining,
            } => write!(
                f,
                "function `{function}` was not called, or its answer not awaited: {} ms were left before this function's deadline margin",
                remaining.as_millis()
            ),
            InvokeError::Service {
                function,
                code,
                status,
                message,
            } => {
                write!(f, "calling function `{function}` failed")?;
                match (code, status) {
                    (Some(code), Some(status)) => write!(f, " ({code}, HTTP {status})")?,
                    (Some(code), None) => write!(f, " ({code})")?,
                    (None, Some(status)) => write!(f, " (HTTP {status})")?,
                    (None, None) => {}
                }
                write!(f, ": {message}")
            }
        }
    }
}

impl StdError for InvokeError {}

impl FunctionError for InvokeError {
    fn error_type(&self) -> Cow<'static, str> {
        Cow::Owned(self.code().to_owned())
    }
}
