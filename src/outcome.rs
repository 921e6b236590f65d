//! What became of a call to the user's handler, said one way wherever helve reports it: the
//! "the handler failed" log of every event-kind adapter and the `helve.InvalidResponse`
//! diagnostic of a response that does not serialize to JSON.

use std::fmt;

use lambda_runtime::Diagnostic;

use crate::error::codes;

/// The message of a handler that returned an error: `the handler failed: {message}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HandlerFailed<'a>(pub(crate) &'a str);

impl fmt::Display for HandlerFailed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the handler failed: {}", self.0)
    }
}

/// `diagnostic` with every value given to [`mask_value`](crate::logging::mask_value) masked in
/// its message: what leaves the function (the Runtime API's `errorMessage`, which the caller
/// of a synchronous invocation reads, a custom resource's `Reason`, which the CloudFormation
/// console shows) holds no secret that a log line would not.
pub(crate) fn masked(mut diagnostic: Diagnostic) -> Diagnostic {
    crate::logging::mask_text(&mut diagnostic.error_message);
    diagnostic
}

/// Logs, at ERROR with its `error_type`, that the handler returned the error `diagnostic`
/// describes.
pub(crate) fn log_failure(diagnostic: &Diagnostic) {
    tracing::error!(
        error_type = %diagnostic.error_type,
        "{}",
        HandlerFailed(&diagnostic.error_message)
    );
}

/// The message of a response that does not serialize to JSON.
struct NotJson<'a>(&'a serde_json::Error);

impl fmt::Display for NotJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the response does not serialize to JSON: {}", self.0)
    }
}

/// What an invocation whose response does not serialize to JSON reports.
pub(crate) fn invalid_response(error: &serde_json::Error) -> Diagnostic {
    Diagnostic {
        error_type: codes::INVALID_RESPONSE.to_owned(),
        error_message: NotJson(error).to_string(),
    }
}

/// Logs, at ERROR with its `error_type`, that the response does not serialize to JSON.
pub(crate) fn log_invalid_response(error: &serde_json::Error) {
    tracing::error!(error_type = codes::INVALID_RESPONSE, "{}", NotJson(error));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_handler_is_said_one_way() {
        assert_eq!(
            HandlerFailed("the card was declined").to_string(),
            "the handler failed: the card was declined"
        );
    }

    #[test]
    fn a_response_that_is_not_json_is_an_invalid_response() {
        let error = serde_json::from_str::<u8>("x").unwrap_err();
        let diagnostic = invalid_response(&error);
        assert_eq!(diagnostic.error_type, codes::INVALID_RESPONSE);
        assert_eq!(
            diagnostic.error_message,
            format!("the response does not serialize to JSON: {error}")
        );
    }
}
