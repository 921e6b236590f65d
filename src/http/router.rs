//! helve's extractors and answers in an axum `Router` (feature `axum`): the same route
//! function runs as a single-route `#[helve::handler]` and as a route of a router that
//! [`service`](super::service) runs.
//!
//! The extractors answer what they answer under `#[helve::handler]` (the same problems, codes
//! and log lines), reading the path parameters from the router's match. The answers become
//! axum responses whose bodies, statuses and headers are helve's; the function's own stack
//! (the correlation header, the request metrics, the problem logged once) then treats them as
//! it treats a handler's.

use ::axum::{
    extract::{FromRequest, FromRequestParts, RawPathParams, rejection::RawPathParamsRejection},
    response::IntoResponse,
};
use http::{StatusCode, request::Parts};
use lambda_http::RequestExt;
use serde::{Serialize, de::DeserializeOwned};

use super::{
    Created, Json, Path, Problem, Query, Valid,
    extract::{self, Routes},
    response::IntoResponse as HelveResponse,
};
use crate::{ErrorStatus, context::Context};

/// An axum response.
type AxumResponse = ::axum::response::Response;

/// helve's response as axum's: the same status, headers, body and extensions (a problem's
/// mark, so that it is logged once).
fn to_axum(response: super::Response) -> AxumResponse {
    response.map(::axum::body::Body::new)
}

/// The answer of an error that has a status, as `#[helve::handler]` answers it: a problem
/// logged at INFO (4xx) or ERROR (5xx, with its source chain, its message kept from the
/// client). `#[derive(helve::ErrorStatus)]` implements axum's `IntoResponse` with it.
#[doc(hidden)]
pub fn error_response<E: ErrorStatus + 'static>(error: E) -> AxumResponse {
    to_axum(HelveResponse::into_response(Err::<(), E>(error)))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> AxumResponse {
        to_axum(HelveResponse::into_response(self))
    }
}

impl<R: HelveResponse> IntoResponse for Created<R> {
    fn into_response(self) -> AxumResponse {
        to_axum(HelveResponse::into_response(self))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> AxumResponse {
        to_axum(HelveResponse::into_response(self))
    }
}

impl IntoResponse for crate::Error {
    fn into_response(self) -> AxumResponse {
        error_response(self)
    }
}

/// What `take` makes of the request's headers and whole body (helve has the body in memory
/// already, and its limit, `body_limit`, is enforced before the router runs), or the problem
/// it answers.
async fn from_body<T>(
    request: ::axum::extract::Request,
    take: impl FnOnce(&http::HeaderMap, &[u8]) -> Result<T, Problem>,
) -> Result<T, AxumResponse> {
    let (parts, body) = request.into_parts();
    let bytes = ::axum::body::to_bytes(body, usize::MAX).await.map_err(|_| {
        Problem::new(StatusCode::BAD_REQUEST)
            .with_detail("the request body could not be read")
            .with_code("invalid_body")
    });
    bytes
        .and_then(|bytes| take(&parts.headers, &bytes))
        .map_err(IntoResponse::into_response)
}

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AxumResponse;

    async fn from_request(request: ::axum::extract::Request, _: &S) -> Result<Self, AxumResponse> {
        from_body(request, extract::json_body).await.map(Json)
    }
}

impl<S, T> FromRequest<S> for Valid<T>
where
    S: Send + Sync,
    T: DeserializeOwned + validator::Validate,
{
    type Rejection = AxumResponse;

    async fn from_request(request: ::axum::extract::Request, _: &S) -> Result<Self, AxumResponse> {
        from_body(request, extract::valid_body).await.map(Valid)
    }
}

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AxumResponse;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AxumResponse> {
        match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => {
                let pairs: Vec<(&str, &str)> = params.iter().collect();
                extract::path_parameters(&pairs, Routes::Router)
            }
            Err(RawPathParamsRejection::InvalidUtf8InPathParam(_)) => {
                Err(Problem::new(StatusCode::BAD_REQUEST)
                    .with_detail("invalid path parameter: it is not UTF-8 once decoded")
                    .with_code("invalid_path"))
            }
            // Called outside a router's route: the parameters API Gateway matched.
            Err(_) => {
                let pairs: Vec<(&str, &str)> = parts
                    .path_parameters_ref()
                    .map(|map| map.iter().collect())
                    .unwrap_or_default();
                extract::path_parameters(&pairs, Routes::Event)
            }
        }
        .map(Path)
        .map_err(IntoResponse::into_response)
    }
}

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AxumResponse;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AxumResponse> {
        extract::query(&parts.uri)
            .map(Query)
            .map_err(IntoResponse::into_response)
    }
}

impl<S, T> FromRequestParts<S> for super::Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AxumResponse;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AxumResponse> {
        extract::claims(parts.request_context_ref())
            .map(super::Claims)
            .map_err(IntoResponse::into_response)
    }
}

/// The invocation's context, as a route's `ctx: Context` parameter.
impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = AxumResponse;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, AxumResponse> {
        crate::context::with_current(Context::clone).ok_or_else(|| {
            tracing::error!(
                "a route took the context outside a helve invocation; run the router with `helve::http::service`"
            );
            IntoResponse::into_response(Problem::new(StatusCode::INTERNAL_SERVER_ERROR).logged())
        })
    }
}
