//! What a handler takes from the request: [`FromRequest`] and helve's extractors.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::{Body, RequestExt, request::RequestContext};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::{
    Request, Response, params,
    response::{IntoResponse, Problem, with_status},
};
use crate::{
    decode::{self, DecodeError},
    error::codes,
    outcome, validation,
};

/// Something a handler takes from the request: the body as [`Json`] or [`Valid`], the
/// [`Path`] and [`Query`] parameters, the headers (`http::HeaderMap`), the authorizer's
/// [`Claims`], or the whole [`Request`] (a copy).
///
/// When it cannot be taken, the handler is not called and the request is answered with the
/// [`Problem`]. Implement it for extractors of your own.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be taken from an HTTP request",
    label = "an HTTP handler's parameters are extractors",
    note = "use `Json<T>`, `Valid<T>`, `Path<T>`, `Query<T>`, `Claims<T>`, `http::HeaderMap` or `helve::http::Request`, or implement `helve::http::FromRequest`"
)]
pub trait FromRequest: Sized {
    /// Takes the value from the request, or the problem to answer with.
    fn from_request(request: &Request) -> Result<Self, Problem>;
}

/// The body, decoded from JSON; as a response, `T` encoded as JSON with status 200.
///
/// A body whose `Content-Type` is neither JSON (`application/json`, `*/*+json`) nor absent is
/// answered 415; an empty body, a body that is not JSON, and JSON of the wrong shape are
/// answered 400, the detail naming the line and column and the field that failed (never
/// the value it had).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Json<T> {
    fn from_request(request: &Request) -> Result<Self, Problem> {
        json_body(request.headers(), request.body().as_ref()).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_string(&self.0) {
            Ok(body) => {
                let mut response = with_status(StatusCode::OK, Body::Text(body));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(error) => {
                outcome::log_invalid_response(&error);
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                    .logged()
                    .into_response()
            }
        }
    }
}

/// The body, decoded from JSON and validated with the `validator` crate: a value that does not
/// validate is answered 422 with every field error (path, code and message, never the
/// value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Valid<T>(pub T);

/// What [`Valid<T>`] needs of `T`: `validator::Validate`. Implemented for every type that
/// implements it; an extractor `Valid<T>` whose `T` does not is reported at `T` with what to
/// derive.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is taken as `Valid<{Self}>`, so it must implement `validator::Validate`",
    label = "validated before the handler is called",
    note = "derive `validator::Validate` on `{Self}` (`#[derive(Deserialize, Validate)]`), or take `Json<{Self}>` to skip validation"
)]
pub trait Validates: validator::Validate {
    /// The type itself.
    type Checked;
}

// Reported as not `Validates`, with what to derive.
#[diagnostic::do_not_recommend]
impl<T: validator::Validate> Validates for T {
    type Checked = T;
}

impl<T: DeserializeOwned + Validates> FromRequest for Valid<T> {
    fn from_request(request: &Request) -> Result<Self, Problem> {
        valid_body(request.headers(), request.body().as_ref()).map(Valid)
    }
}

/// The body decoded from JSON and validated, or the problem to answer.
pub(super) fn valid_body<T: DeserializeOwned + validator::Validate>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Problem> {
    let value: T = json_body(headers, body)?;
    match value.validate() {
        Ok(()) => Ok(value),
        Err(errors) => {
            // The fields by the keys the client sent: the body decoded again, as JSON,
            // only when it fails.
            let fields = match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(sent) => validation::field_errors_as_sent(&errors, &sent),
                Err(_) => validation::field_errors(&errors),
            };
            Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                .with_detail("the request body failed validation")
                .with_code("validation_failed")
                .with_errors(fields))
        }
    }
}

/// The path parameters of the route (`/orders/{id}`): into a struct with a field per
/// parameter, a map, or, for a route with one parameter, that value (`Path<String>`,
/// `Path<u64>`). A parameter that does not decode is answered 400, naming it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Path<T> {
    fn from_request(request: &Request) -> Result<Self, Problem> {
        let parameters = request.path_parameters_ref();
        let pairs: Vec<(&str, &str)> = parameters
            .map(|map| map.iter().collect())
            .unwrap_or_default();
        path_parameters(&pairs, Routes::Event).map(Path)
    }
}

/// Where a request's path parameters come from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Routes {
    /// The event's: API Gateway's route match.
    Event,
    /// An axum `Router`'s route match.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    Router,
}

/// The path parameters decoded into `T`, or the problem to answer.
pub(super) fn path_parameters<T: DeserializeOwned>(
    pairs: &[(&str, &str)],
    routes: Routes,
) -> Result<T, Problem> {
    params::deserialize(pairs).map_err(|error| {
        if pairs.is_empty() {
            // Not the client's mistake: the route gives no parameters at all.
            match routes {
                Routes::Event => tracing::error!(
                    error_type = codes::NO_PATH_PARAMETERS,
                    "the handler takes `Path`, but the request's route has no path parameters \
                     ({error}): ALB and Function URL events carry none, and an API Gateway \
                     route names them in braces, `/orders/{{id}}`"
                ),
                Routes::Router => tracing::error!(
                    error_type = codes::NO_PATH_PARAMETERS,
                    "the route takes `Path`, but the router's route has no path parameters \
                     ({error}): name them in braces in the route, `.route(\"/orders/{{id}}\", ..)`"
                ),
            }
            return Problem::new(StatusCode::INTERNAL_SERVER_ERROR).logged();
        }
        Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(format!("invalid path parameter {error}"))
            .with_code("invalid_path")
    })
}

/// The query string, decoded into `T` (usually a struct; `Option` fields for optional
/// parameters). A parameter that does not decode is answered 400, naming it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    fn from_request(request: &Request) -> Result<Self, Problem> {
        query(request.uri()).map(Query)
    }
}

/// The query string of `uri` decoded into `T`, or the problem to answer.
pub(super) fn query<T: DeserializeOwned>(uri: &http::Uri) -> Result<T, Problem> {
    let query = uri.query().unwrap_or_default();
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    decode::deserialize(deserializer).map_err(|error| {
        let message = decode::sanitize(&error.to_string());
        let detail = match error.path() {
            None => format!("invalid query string: {message}"),
            Some(path) => format!("invalid query parameter `{path}`: {message}"),
        };
        Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(detail)
            .with_code("invalid_query")
    })
}

/// The claims of the request's authorizer, decoded into `T`: the JWT claims of an HTTP API
/// JWT authorizer, the Cognito claims of a REST API user pool authorizer, or the context of a
/// Lambda authorizer, whichever the request has. A request without them, or whose claims do
/// not decode into `T`, is answered 401.
///
/// An HTTP API passes JWT claims as strings (`"exp": "1700000000"`): declare such fields as
/// `String`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Claims<T> {
    fn from_request(request: &Request) -> Result<Self, Problem> {
        claims(request.request_context_ref()).map(Claims)
    }
}

/// The claims of the request's authorizer decoded into `T`, or the 401 to answer.
pub(super) fn claims<T: DeserializeOwned>(context: Option<&RequestContext>) -> Result<T, Problem> {
    let unauthorized = |detail: String| {
        tracing::info!(
            status = 401,
            code = "unauthorized",
            "the request failed with 401 Unauthorized: no usable authorizer claims: {detail}"
        );
        Problem::new(StatusCode::UNAUTHORIZED)
            .with_detail("the request is not authorized")
            .with_code("unauthorized")
            .logged()
    };
    let claims = context
        .and_then(claims_of)
        .ok_or_else(|| unauthorized("no authorizer claims or context".to_owned()))?;
    decode::deserialize(Value::Object(claims))
        .map_err(|error| unauthorized(describe_path_error(&error)))
}

/// The claims of whichever authorizer the request went through.
fn claims_of(context: &RequestContext) -> Option<Map<String, Value>> {
    let authorizer = context.authorizer()?;
    if let Some(jwt) = &authorizer.jwt
        && !jwt.claims.is_empty()
    {
        return Some(
            jwt.claims
                .iter()
                .map(|(key, value)| (key.clone(), Value::String(value.clone())))
                .collect(),
        );
    }
    if let Some(Value::Object(claims)) = authorizer.fields.get("claims") {
        return Some(claims.clone());
    }
    if authorizer.fields.is_empty() {
        return None;
    }
    Some(
        authorizer
            .fields
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    )
}

impl FromRequest for HeaderMap {
    fn from_request(request: &Request) -> Result<Self, Problem> {
        Ok(request.headers().clone())
    }
}

impl FromRequest for Request {
    /// A copy of the request: method, URI, headers, body and extensions (the API Gateway
    /// request context, path and query parameters).
    fn from_request(request: &Request) -> Result<Self, Problem> {
        let mut copy = http::Request::new(request.body().clone());
        *copy.method_mut() = request.method().clone();
        *copy.uri_mut() = request.uri().clone();
        *copy.version_mut() = request.version();
        *copy.headers_mut() = request.headers().clone();
        *copy.extensions_mut() = request.extensions().clone();
        Ok(copy)
    }
}

/// The body decoded from JSON, or the problem to answer.
pub(super) fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Problem> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE)
        && !is_json(content_type.as_bytes())
    {
        let shown = String::from_utf8_lossy(content_type.as_bytes());
        return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .with_detail(format!(
                "the request body is `{shown}`; this endpoint takes `application/json`"
            ))
            .with_code("unsupported_media_type"));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::new(StatusCode::BAD_REQUEST)
            .with_detail("the request has no body; this endpoint takes a JSON document")
            .with_code("missing_body"));
    }
    decode::json_slice(body).map_err(|error| {
        if error.is_syntax() {
            return Problem::new(StatusCode::BAD_REQUEST)
                .with_detail(format!("the request body is not valid JSON: {error}"))
                .with_code("invalid_json");
        }
        let message = decode::sanitize(&error.to_string());
        let detail = match error.path() {
            None => format!("the request body does not match: {message}"),
            Some(path) => format!("the request body does not match at `{path}`: {message}"),
        };
        Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(detail)
            .with_code("invalid_body")
    })
}

/// `application/json`, `application/json; charset=utf-8`, `application/problem+json`.
fn is_json(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&byte| byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"application/json")
        || (essence.len() > 5
            && essence[essence.len() - 5..].eq_ignore_ascii_case(b"+json")
            && essence.contains(&b'/'))
}

fn describe_path_error(error: &DecodeError) -> String {
    let message = decode::sanitize(&error.to_string());
    match error.path() {
        None => message,
        Some(path) => format!("at `{path}`: {message}"),
    }
}
