//! What a handler answers: [`IntoResponse`], and [`Problem`], the `application/problem+json`
//! answer of every error.

use std::{borrow::Cow, fmt};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use lambda_http::Body;
use serde::Serialize;

use super::{Response, exchange};
use crate::{ErrorStatus, error::codes, validation::FieldError};

/// The content type of helve's error answers (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Anything a handler can answer: normalised to an `http::Response<Body>`, so that tower-http
/// layers compose with every handler.
///
/// | The handler returns | The response |
/// |---|---|
/// | [`Json<T>`](super::Json) | 200, `application/json` |
/// | `(StatusCode, R)` | `R` with that status, as `(StatusCode::CREATED, Json(order))` |
/// | `(StatusCode, headers, R)` | the same, with the headers added: a `HeaderMap` or an array of pairs, as `[(header::LOCATION, "/orders/o-1")]` |
/// | [`Created<R>`](Created) | `R` with 201 and `Location` |
/// | `()` | 204 No Content |
/// | `StatusCode` | that status, no body |
/// | `String`, `&'static str` | 200, `text/plain; charset=utf-8` |
/// | `http::Response<B>` (`B` into [`Body`]: `String`, `Vec<u8>`, `()`, ...) | as it is |
/// | [`Problem`] | its status, `application/problem+json` |
/// | `Result<R, E>` where `E:` [`ErrorStatus`] | `R`, or the problem of `E` |
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HTTP response helve knows",
    label = "an HTTP handler returns something helve can turn into a response",
    note = "return `Json<T>`, `(StatusCode, Json<T>)`, `()` (204), `http::Response<_>`, or implement `helve::http::IntoResponse`"
)]
pub trait IntoResponse {
    /// The response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

macro_rules! response_with_body {
    ($($body:ty),*) => {$(
        impl IntoResponse for http::Response<$body> {
            fn into_response(self) -> Response {
                self.map(Body::from)
            }
        }
    )*};
}

response_with_body!(String, Vec<u8>, (), Cow<'static, str>, Cow<'static, [u8]>);

impl IntoResponse for http::Response<&'static str> {
    fn into_response(self) -> Response {
        self.map(|text| Body::from(text.to_owned()))
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        with_status(StatusCode::NO_CONTENT, Body::Empty)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        with_status(self, Body::Empty)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        text(self)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        text(self.to_owned())
    }
}

fn text(body: String) -> Response {
    let mut response = with_status(StatusCode::OK, Body::Text(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pub(super) fn with_status(status: StatusCode, body: Body) -> Response {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response
}

impl<R: IntoResponse> IntoResponse for (StatusCode, R) {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        // A body that failed to become a response (a 500 problem) keeps its status.
        if !is_problem(&response) {
            *response.status_mut() = self.0;
        }
        response
    }
}

impl<H: IntoHeaders, R: IntoResponse> IntoResponse for (StatusCode, H, R) {
    fn into_response(self) -> Response {
        let (status, headers, inner) = self;
        let mut response = inner.into_response();
        if let Err(problem) = headers.add_to(response.headers_mut()) {
            return problem.into_response();
        }
        // A problem keeps its status (a 500 for a body that failed), not its headers' absence.
        if !is_problem(&response) {
            *response.status_mut() = status;
        }
        response
    }
}

/// Marks a response made from a [`Problem`]: a status given around it does not replace the
/// problem's, and it is logged as a problem (once), not as a plain error status: where it was
/// made, or, when `unlogged` holds it, when the request is answered.
#[derive(Debug, Clone)]
pub(super) struct ProblemAnswer {
    /// The problem's status, which a status given around it (axum's `(StatusCode, R)`) does
    /// not replace.
    pub(super) status: StatusCode,
    pub(super) unlogged: Option<Unlogged>,
}

/// Whether `response` was made from a [`Problem`].
pub(super) fn is_problem(response: &Response) -> bool {
    response.extensions().get::<ProblemAnswer>().is_some()
}

impl<R: IntoResponse, E: ErrorStatus + 'static> IntoResponse for Result<R, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(response) => response.into_response(),
            Err(error) => {
                // A `Problem` answers as it is (with its field errors), logged like any error.
                let mut slot = Some(error);
                let problem = (&mut slot as &mut dyn std::any::Any)
                    .downcast_mut::<Option<Problem>>()
                    .and_then(Option::take);
                match (problem, slot) {
                    (Some(problem), _) => problem.into_response(),
                    (None, Some(error)) => Problem::from_error(&error).into_response(),
                    (None, None) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                        .logged()
                        .into_response(),
                }
            }
        }
    }
}

/// Logs an error answer: a server error at ERROR, a client error at INFO.
pub(super) fn log(
    status: StatusCode,
    error_type: Option<&str>,
    code: Option<&str>,
    message: impl FnOnce() -> String,
) {
    log_fields(status, error_type, code, None, message);
}

/// Logs an error answer as [`log`] does, with the paths of the fields that failed validation
/// (`fields`: `customer_email, items[0].quantity`; never their values).
pub(super) fn log_fields(
    status: StatusCode,
    error_type: Option<&str>,
    code: Option<&str>,
    fields: Option<&str>,
    message: impl FnOnce() -> String,
) {
    if status.is_server_error() {
        tracing::error!(
            status = status.as_u16(),
            error_type,
            code,
            fields,
            "the request failed with {status}: {}",
            message()
        );
    } else {
        tracing::info!(
            status = status.as_u16(),
            error_type,
            code,
            fields,
            "the request failed with {status}: {}",
            message()
        );
    }
}

/// A problem answered without being logged, noted on its response ([`ProblemAnswer`]) so
/// that helve logs it when the request is answered: bad input rejected by an extractor, for
/// example.
#[derive(Debug, Clone)]
pub(super) struct Unlogged {
    pub(super) status: StatusCode,
    pub(super) code: Option<Cow<'static, str>>,
    pub(super) detail: Option<String>,
    /// The paths of the fields that failed validation, comma-separated.
    pub(super) fields: Option<String>,
}

/// 201 Created, with the new resource's address in `Location`:
/// `Created { location: format!("/orders/{id}"), body: Json(order) }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created<R> {
    /// The new resource's address (a path, or an absolute URL).
    pub location: String,
    /// What is answered with it, usually `Json<T>`.
    pub body: R,
}

impl<R: IntoResponse> IntoResponse for Created<R> {
    fn into_response(self) -> Response {
        (
            StatusCode::CREATED,
            [(header::LOCATION, self.location)],
            self.body,
        )
            .into_response()
    }
}

/// Headers to add to a response: a `HeaderMap`, or an array of `(name, value)` pairs.
pub trait IntoHeaders {
    /// Adds the headers; a name or value that is not a valid header is a 500 problem.
    fn add_to(self, headers: &mut HeaderMap) -> Result<(), Problem>;
}

impl IntoHeaders for HeaderMap {
    fn add_to(self, headers: &mut HeaderMap) -> Result<(), Problem> {
        headers.extend(self);
        Ok(())
    }
}

impl<K, V, const N: usize> IntoHeaders for [(K, V); N]
where
    K: TryInto<HeaderName>,
    K::Error: fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: fmt::Display,
{
    fn add_to(self, headers: &mut HeaderMap) -> Result<(), Problem> {
        for (name, value) in self {
            let invalid = |error: &dyn fmt::Display| {
                tracing::error!(
                    error_type = codes::INVALID_RESPONSE,
                    "the handler answered a header that HTTP does not allow: {error}"
                );
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR).logged()
            };
            let name = name.try_into().map_err(|e| invalid(&e))?;
            let value = value.try_into().map_err(|e| invalid(&e))?;
            headers.insert(name, value);
        }
        Ok(())
    }
}

/// An error answer: an `application/problem+json` document (RFC 9457) with `type`, `title`,
/// `status`, `detail` and `instance`, the invocation's `request_id` and `correlation_id`, a
/// stable `code` when there is one, and, for a validation failure, every field error.
///
/// ```json
/// {
///   "type": "about:blank",
///   "title": "Unprocessable Entity",
///   "status": 422,
///   "detail": "the request body failed validation",
///   "instance": "/orders",
///   "code": "validation_failed",
///   "errors": [{"field": "quantity", "code": "range", "message": "must be 1 to 100"}],
///   "request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
///   "correlation_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
/// }
/// ```
///
/// Return it from a handler (`Result<_, Problem>`), or build it in your own
/// [`IntoResponse`]; helve answers with it for bad input and for handler errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    status: StatusCode,
    detail: Option<String>,
    code: Option<Cow<'static, str>>,
    errors: Vec<FieldError>,
    /// Already logged where it was made; otherwise helve logs it when the request is answered.
    logged: bool,
}

impl Problem {
    /// A problem with this status, its title the status's reason phrase.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            detail: None,
            code: None,
            errors: Vec::new(),
            logged: false,
        }
    }

    /// The same problem, logged already by whoever made it.
    pub(crate) fn logged(mut self) -> Self {
        self.logged = true;
        self
    }

    /// The human-readable explanation, shown to the client.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// A stable code clients can match on, as `order_not_found`.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The field errors of a validation failure.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// The problem's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The explanation, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The stable code, if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The field errors of a validation failure.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// The problem a handler's error answers with, logged: a server error (5xx) at ERROR with
    /// its whole source chain, its message kept from the client; a client error (4xx) at
    /// INFO, its message the `detail` when the error exposes it.
    pub fn from_error<E: ErrorStatus + ?Sized>(error: &E) -> Self {
        let status = error.status();
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            tracing::warn!(
                status = status.as_u16(),
                "an error answered a status that is not an error; answering 500 instead"
            );
            StatusCode::INTERNAL_SERVER_ERROR
        };
        let code = error.code().map(|code| Cow::Owned(code.to_owned()));
        let error_type = error.logged_error_type();
        if status.is_server_error() {
            log(status, error_type.as_deref(), code.as_deref(), || {
                error.log_message()
            });
            return Self {
                status,
                detail: None,
                code,
                errors: Vec::new(),
                logged: true,
            };
        }
        let mut message = error.to_string();
        // The `detail` a client reads holds no secret a log line would not.
        crate::logging::mask_text(&mut message);
        log(status, error_type.as_deref(), code.as_deref(), || {
            message.clone()
        });
        Self {
            status,
            detail: error.expose().then_some(message),
            code,
            errors: Vec::new(),
            logged: true,
        }
    }

    /// The problem as a response, with the ids of the invocation running.
    pub(super) fn render(&self, instance: Option<&str>, ids: Option<(&str, &str)>) -> Response {
        #[derive(Serialize)]
        struct Document<'a> {
            r#type: &'static str,
            title: &'static str,
            status: u16,
            #[serde(skip_serializing_if = "Option::is_none")]
            detail: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            instance: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            code: Option<&'a str>,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            errors: Vec<Field<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            request_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            correlation_id: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Field<'a> {
            field: &'a str,
            code: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            message: Option<&'a str>,
        }
        let document = Document {
            r#type: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: self.detail.as_deref(),
            instance,
            code: self.code.as_deref(),
            errors: self
                .errors
                .iter()
                .map(|error| Field {
                    field: &error.path,
                    code: &error.code,
                    message: error.message.as_deref(),
                })
                .collect(),
            request_id: ids.map(|(request, _)| request),
            correlation_id: ids.map(|(_, correlation)| correlation),
        };
        // Strings and numbers only: this cannot fail, but an empty body beats a panic.
        let body = serde_json::to_string(&document).unwrap_or_default();
        let mut response = with_status(self.status, Body::Text(body));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.status),
            None => write!(f, "{}", self.status),
        }
    }
}

impl std::error::Error for Problem {}

// Not listed in a diagnostic (see `ErrorStatus for Error`).
#[diagnostic::do_not_recommend]
impl ErrorStatus for Problem {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    fn expose(&self) -> bool {
        true
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = exchange::with(|exchange| match exchange {
            Some(exchange) => self.render(
                Some(exchange.path()),
                Some((
                    exchange.context().request_id(),
                    exchange.context().correlation_id(),
                )),
            ),
            None => self.render(None, None),
        });
        let unlogged = (!self.logged).then(|| Unlogged {
            status: self.status,
            code: self.code,
            detail: self.detail,
            fields: (!self.errors.is_empty()).then(|| crate::validation::paths(&self.errors)),
        });
        response.extensions_mut().insert(ProblemAnswer {
            status: self.status,
            unlogged,
        });
        response
    }
}
