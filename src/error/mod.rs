//! helve's errors, and how any error becomes the `errorType` and `errorMessage` that Lambda
//! records for a failed invocation.
//!
//! Every error that reaches the Runtime API does so through [`FunctionError`]: it names a
//! stable `errorType` (never a Rust type name, which changes with every refactor) and a message
//! that carries the whole `source()` chain. helve's own `errorType`s are the constants of
//! [`codes`], listed with their meaning in the [errors guide](crate::guide::errors).

pub mod codes;
#[cfg(feature = "invoke")]
mod invoke;
#[cfg(feature = "parameters")]
mod parameter;

use std::{borrow::Cow, error::Error as StdError, fmt};

#[cfg(feature = "invoke")]
#[cfg_attr(docsrs, doc(cfg(feature = "invoke")))]
pub use invoke::InvokeError;
#[cfg(feature = "parameters")]
#[cfg_attr(docsrs, doc(cfg(feature = "parameters")))]
pub use parameter::{ParameterError, Service};

/// A boxed error, as `lambda_runtime` and most AWS SDK code return it.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error type of your own that a handler or init function can return: it names the stable
/// `errorType` that Lambda records for the failed invocation.
///
/// Implement it for your error enums, or derive [`ErrorStatus`], which implements it too (the
/// `errorType` is the variant's `code`, or `Type.Variant`). The message Lambda records is the error's `Display` followed
/// by its whole `source()` chain. [`helve::Error`](Error) needs no implementation: it carries
/// its `errorType` itself.
///
/// ```
/// use std::borrow::Cow;
///
/// #[derive(Debug, thiserror::Error)]
/// enum OrderError {
///     #[error("order {0} not found")]
///     NotFound(String),
///     #[error("the store is unavailable")]
///     Store(#[source] std::io::Error),
/// }
///
/// impl helve::FunctionError for OrderError {
///     fn error_type(&self) -> Cow<'static, str> {
///         match self {
///             OrderError::NotFound(_) => "orders.NotFound".into(),
///             OrderError::Store(_) => "orders.StoreUnavailable".into(),
///         }
///     }
/// }
/// ```
pub trait FunctionError: StdError {
    /// The `errorType` Lambda records: short, stable and documented, for example
    /// `orders.NotFound`.
    fn error_type(&self) -> Cow<'static, str>;

    /// The `errorMessage` Lambda records. The default is the error's message followed by every
    /// `source()` in its chain, separated by `: `.
    fn error_message(&self) -> String
    where
        Self: Sized,
    {
        chain_message(self)
    }
}

/// Writes an error and its whole `source()` chain as one line: `outer: middle: root cause`.
///
/// A source whose message is already the end of the previous one (as `#[error(transparent)]`
/// and many wrappers produce) is not repeated.
pub fn chain_message(error: &(dyn StdError + '_)) -> String {
    let mut message = error.to_string();
    let mut previous = message.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // A wrapper that already shows its cause (`#[error(transparent)]`, or `"{0}"`, or
        // `"saving: {0}"`) is not repeated; any other cause is.
        let shown = previous == text || previous.ends_with(&format!(": {text}"));
        if !text.is_empty() && !shown {
            message.push_str(": ");
            message.push_str(&text);
        }
        previous = text;
        source = cause.source();
    }
    message
}

/// What helve can report to Lambda as a failed invocation: every [`FunctionError`] and
/// [`helve::Error`](Error). You implement [`FunctionError`]; this trait follows.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be reported to Lambda as a function error",
    label = "this error type has no stable `errorType`",
    note = "implement `helve::FunctionError` for `{Self}` to name its `errorType`, or return `helve::Error`, which converts from any error with `?` (and from a boxed error with `helve::Error::from_boxed`)"
)]
pub trait IntoDiagnostic {
    /// The `errorType` Lambda records.
    fn error_type(&self) -> Cow<'static, str>;
    /// The `errorMessage` Lambda records, with the whole `source()` chain.
    fn error_message(&self) -> String;
}

impl<E: FunctionError> IntoDiagnostic for E {
    fn error_type(&self) -> Cow<'static, str> {
        FunctionError::error_type(self)
    }

    fn error_message(&self) -> String {
        FunctionError::error_message(self)
    }
}

impl IntoDiagnostic for Error {
    fn error_type(&self) -> Cow<'static, str> {
        self.error_type.clone()
    }

    fn error_message(&self) -> String {
        chain_message(self.source.as_ref())
    }
}

/// Turns an error into the diagnostic the Runtime API receives.
pub(crate) fn diagnostic<E: IntoDiagnostic + ?Sized>(error: &E) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error.error_type().into_owned(),
        error_message: error.error_message(),
    }
}

/// A general-purpose error carrying a stable `errorType`: convenient for init functions and
/// small handlers.
///
/// Like `anyhow::Error`, it converts from any error with `?`; the `errorType` is then
/// `helve.Error`, or `helve.ConfigError` for a missing environment variable. Name your own
/// with [`Error::new`].
///
/// ```
/// async fn setup() -> Result<String, helve::Error> {
///     let table = std::env::var("TABLE_NAME")?;
///     if table.is_empty() {
///         return Err(helve::Error::new("app.Config", "TABLE_NAME is empty"));
///     }
///     Ok(table)
/// }
/// ```
pub struct Error {
    error_type: Cow<'static, str>,
    source: BoxError,
}

impl Error {
    /// An error with the given `errorType` and cause.
    pub fn new(error_type: impl Into<Cow<'static, str>>, source: impl Into<BoxError>) -> Self {
        Self {
            error_type: error_type.into(),
            source: source.into(),
        }
    }

    /// An error with the `errorType` `helve.Error` and the given message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self::new(codes::ERROR, message.to_string())
    }

    /// An error from a boxed error, as `lambda_runtime` and AWS SDK code return them.
    pub fn from_boxed(source: BoxError) -> Self {
        match source.downcast::<ErrorWrapper>() {
            // A helve::Error that travelled as a boxed error keeps its errorType.
            Ok(wrapper) => wrapper.0,
            Err(source) => Self {
                error_type: default_error_type(source.as_ref()),
                source,
            },
        }
    }

    /// The `errorType` Lambda records for this error.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// The underlying error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self.source.as_ref()
    }

    /// The underlying error, boxed.
    pub fn into_inner(self) -> BoxError {
        self.source
    }
}

fn default_error_type(error: &(dyn StdError + 'static)) -> Cow<'static, str> {
    #[cfg(feature = "parameters")]
    if let Some(error) = error.downcast_ref::<ParameterError>() {
        return Cow::Borrowed(error.code());
    }
    // A called function's failure keeps the callee's `errorType`.
    #[cfg(feature = "invoke")]
    if let Some(error) = error.downcast_ref::<InvokeError>() {
        return Cow::Owned(error.code().to_owned());
    }
    if error.is::<std::env::VarError>() || error.is::<ConfigError>() {
        Cow::Borrowed(codes::CONFIG_ERROR)
    } else {
        Cow::Borrowed(codes::ERROR)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("error_type", &self.error_type)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Error {
    fn from(source: E) -> Self {
        Self {
            error_type: default_error_type(&source),
            source: Box::new(source),
        }
    }
}

impl From<Error> for BoxError {
    fn from(error: Error) -> Self {
        Box::new(ErrorWrapper(error))
    }
}

/// Lets a [`helve::Error`](Error) travel as a boxed error.
struct ErrorWrapper(Error);

impl fmt::Debug for ErrorWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ErrorWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for ErrorWrapper {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source.source()
    }
}

impl FunctionError for std::convert::Infallible {
    fn error_type(&self) -> Cow<'static, str> {
        match *self {}
    }
}

/// An error that answers an HTTP request: its status, an optional stable code, and whether its
/// message is shown to the client.
///
/// Derive it with `#[derive(helve::ErrorStatus)]` and a `#[status(..)]` on each variant (or on
/// the struct):
///
/// ```
/// #[derive(Debug, thiserror::Error, helve::ErrorStatus)]
/// enum OrderError {
///     #[error("order {0} not found")]
///     #[status(404, code = "order_not_found")]
///     NotFound(String),
///     #[error("the store is unavailable")]
///     #[status(503)]
///     Store(#[source] std::io::Error),
/// }
///
/// use helve::ErrorStatus;
/// let missing = OrderError::NotFound("o-1".into());
/// assert_eq!(missing.status().as_u16(), 404);
/// assert_eq!(missing.code(), Some("order_not_found"));
/// assert!(missing.expose());
/// ```
///
/// An HTTP handler's error becomes an `application/problem+json` response with this status.
/// The message (`Display`) is the problem's `detail` only when [`expose`](Self::expose) says
/// so, and never for a 5xx status: a server error answers with its status phrase alone, and is
/// logged at ERROR with its whole `source()` chain.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no HTTP status, so helve cannot answer a request that fails with it",
    label = "this error type does not implement `helve::ErrorStatus`",
    note = "derive it: `#[derive(helve::ErrorStatus)]` with `#[status(404)]` (or `#[status(404, code = \"not_found\")]`) on each variant; or return `helve::http::Problem`"
)]
pub trait ErrorStatus: fmt::Display {
    /// The response's status: a client (4xx) or server (5xx) error.
    fn status(&self) -> http::StatusCode;

    /// A stable code clients can match on, as `order_not_found`; sent as the problem's
    /// `code`. `None` by default.
    fn code(&self) -> Option<&str> {
        None
    }

    /// Whether the message is sent as the problem's `detail`. By default, yes for a client
    /// error (4xx); a server error (5xx) never shows its message, whatever this says.
    fn expose(&self) -> bool {
        self.status().is_client_error()
    }

    /// What helve logs when this error answers a request: the message and, for an error type
    /// that has one, its whole `source()` chain (the derive writes
    /// [`chain_message`]`(self)`). The default is the message alone.
    fn log_message(&self) -> String {
        self.to_string()
    }

    /// The `error_type` of the log line: the derive gives its
    /// [`FunctionError::error_type`]; otherwise the code, if any.
    #[doc(hidden)]
    fn logged_error_type(&self) -> Option<Cow<'static, str>> {
        self.code().map(|code| Cow::Owned(code.to_owned()))
    }
}

// helve's impls are not listed in a diagnostic: the message says what to derive, without a
// path into helve.
#[diagnostic::do_not_recommend]
impl ErrorStatus for std::convert::Infallible {
    fn status(&self) -> http::StatusCode {
        match *self {}
    }
}

#[diagnostic::do_not_recommend]
impl ErrorStatus for Error {
    /// A [`helve::Error`](Error) is an internal error: 500, its message not shown.
    fn status(&self) -> http::StatusCode {
        http::StatusCode::INTERNAL_SERVER_ERROR
    }

    fn log_message(&self) -> String {
        chain_message(self.source.as_ref())
    }

    fn logged_error_type(&self) -> Option<Cow<'static, str>> {
        Some(self.error_type.clone())
    }
}

/// The payload did not deserialize into the handler's event type.
///
/// Reported as `helve.InvalidEvent`; the message names the field path, line and column, for
/// example `invalid event at name: invalid type: integer, expected a string at line 1
/// column 10`; never the value that was sent, which may be a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEvent {
    path: String,
    message: String,
}

impl InvalidEvent {
    pub(crate) fn new(path: String, message: String) -> Self {
        Self { path, message }
    }

    /// The event did not decode, for the reason given.
    pub(crate) fn decoding(error: &crate::decode::DecodeError) -> Self {
        Self::new(error.path_or_root().to_owned(), error.to_string())
    }

    /// The path of the field that failed, as `items[2].sku`; `.` for the document itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The deserializer's message, with its line and column.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InvalidEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path == "." {
            write!(f, "invalid event: {}", self.message)
        } else {
            write!(f, "invalid event at {}: {}", self.path, self.message)
        }
    }
}

impl StdError for InvalidEvent {}

impl FunctionError for InvalidEvent {
    fn error_type(&self) -> Cow<'static, str> {
        Cow::Borrowed(codes::INVALID_EVENT)
    }
}

/// The handler panicked. Only this invocation fails; the next one runs normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic {
    message: String,
}

impl Panic {
    /// Reads the message out of a panic payload.
    pub(crate) fn from_payload(payload: &(dyn std::any::Any + Send)) -> Self {
        Self {
            message: panic_message(payload).to_owned(),
        }
    }

    /// The panic message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The message a panic was given, read from its payload: the `&str` or `String` of `panic!`,
/// or a placeholder for any other payload. For [`Panic`] and for the panic hook alike.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "a panic with a payload that is not a string"
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the handler panicked: {}", self.message)
    }
}

impl StdError for Panic {}

impl FunctionError for Panic {
    fn error_type(&self) -> Cow<'static, str> {
        Cow::Borrowed(codes::PANIC)
    }
}

impl From<Panic> for lambda_runtime::Diagnostic {
    fn from(panic: Panic) -> Self {
        diagnostic(&panic)
    }
}

/// A setting read from the environment (or given in code) is missing or invalid.
///
/// Reported as `helve.ConfigError` when the function starts, before any invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    setting: Cow<'static, str>,
    reason: Cow<'static, str>,
}

impl ConfigError {
    /// A problem with the named setting.
    pub fn new(
        setting: impl Into<Cow<'static, str>>,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// The setting's name, for example `POWERTOOLS_SERVICE_NAME`.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// Reads a boolean setting as Powertools does (`true`/`1`/`yes`, `false`/`0`/`no`/empty).
    pub(crate) fn parse_bool(setting: &'static str, value: &str) -> Result<bool, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" | "" => Ok(false),
            _ => Err(ConfigError::new(
                setting,
                "expected `true` or `false` (or `1`/`0`, `yes`/`no`); the value given is not repeated here",
            )),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid setting {}: {}", self.setting, self.reason)
    }
}

impl StdError for ConfigError {}

impl FunctionError for ConfigError {
    fn error_type(&self) -> Cow<'static, str> {
        Cow::Borrowed(codes::CONFIG_ERROR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("order 7 could not be saved")]
    struct SaveFailed(#[source] std::io::Error);

    impl FunctionError for SaveFailed {
        fn error_type(&self) -> Cow<'static, str> {
            Cow::Borrowed("orders.SaveFailed")
        }
    }

    #[test]
    fn the_message_carries_the_whole_source_chain() {
        let error = SaveFailed(std::io::Error::other("disk full"));
        let diagnostic = diagnostic(&error);
        assert_eq!(diagnostic.error_type, "orders.SaveFailed");
        assert_eq!(
            diagnostic.error_message,
            "order 7 could not be saved: disk full"
        );
    }

    #[test]
    fn a_helve_error_from_any_error_keeps_the_chain() {
        let error = Error::from(SaveFailed(std::io::Error::other("disk full")));
        let diagnostic = diagnostic(&error);
        assert_eq!(diagnostic.error_type, "helve.Error");
        assert_eq!(
            diagnostic.error_message,
            "order 7 could not be saved: disk full"
        );
    }

    #[test]
    fn a_named_helve_error_keeps_its_error_type() {
        let error = Error::new("orders.NotFound", "order 7 not found");
        let diagnostic = diagnostic(&error);
        assert_eq!(diagnostic.error_type, "orders.NotFound");
        assert_eq!(diagnostic.error_message, "order 7 not found");
    }

    #[test]
    fn a_helve_error_keeps_its_error_type_through_a_box() {
        let boxed: BoxError = Error::new("orders.NotFound", "order 7 not found").into();
        let error = Error::from_boxed(boxed);
        assert_eq!(error.error_type(), "orders.NotFound");
        assert_eq!(error.to_string(), "order 7 not found");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the call timed out")]
    struct TimedOut(#[source] std::io::Error);

    #[test]
    fn a_cause_that_only_looks_like_the_end_of_the_message_is_kept() {
        let error = TimedOut(std::io::Error::other("out"));
        assert_eq!(chain_message(&error), "the call timed out: out");
    }

    #[test]
    fn a_boxed_error_becomes_a_helve_error() {
        let boxed: BoxError = "the queue is gone".into();
        let diagnostic = diagnostic(&Error::from_boxed(boxed));
        assert_eq!(diagnostic.error_type, "helve.Error");
        assert_eq!(diagnostic.error_message, "the queue is gone");
    }

    #[test]
    fn a_missing_environment_variable_is_a_config_error() {
        let error = Error::from(std::env::VarError::NotPresent);
        assert_eq!(error.error_type(), "helve.ConfigError");
        assert_eq!(
            diagnostic(&error).error_message,
            "environment variable not found"
        );
    }

    #[test]
    fn a_panic_payload_becomes_its_message() {
        let payload: Box<dyn std::any::Any + Send> = Box::new(String::from("index out of bounds"));
        let panic = Panic::from_payload(payload.as_ref());
        assert_eq!(
            panic.to_string(),
            "the handler panicked: index out of bounds"
        );
        let payload: Box<dyn std::any::Any + Send> = Box::new(42_u8);
        assert_eq!(
            Panic::from_payload(payload.as_ref()).message(),
            "a panic with a payload that is not a string"
        );
    }

    #[test]
    fn a_static_message_is_read_from_its_payload() {
        let payload: Box<dyn std::any::Any + Send> = Box::new("the stock is negative");
        assert_eq!(panic_message(payload.as_ref()), "the stock is negative");
    }
}
