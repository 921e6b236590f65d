//! The Lambda side of HTTP: the event as API Gateway, an ALB or a Function URL sends it, and
//! the response in the shape that source expects.

use std::any::Any;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use http_body_util::BodyExt;
use lambda_http::{
    Body,
    aws_lambda_events::{
        alb::AlbTargetGroupResponse,
        apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse},
    },
    request::{LambdaRequest, RequestOrigin},
};
use serde::{Deserialize, Deserializer, Serialize};

use super::Response;

/// An HTTP event from API Gateway (REST API, or HTTP API payload 1.0 or 2.0), an Application
/// Load Balancer or a Lambda Function URL; base64 bodies are decoded.
#[derive(Debug)]
pub struct HttpEvent(pub(super) LambdaRequest);

impl<'de> Deserialize<'de> for HttpEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        LambdaRequest::deserialize(deserializer).map(HttpEvent)
    }
}

/// Who sent the event, so the response takes its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    RestApi,
    HttpApi,
    Alb,
}

impl Origin {
    pub(super) fn of(request: &LambdaRequest) -> Self {
        match request.request_origin() {
            RequestOrigin::ApiGatewayV2 => Origin::HttpApi,
            RequestOrigin::Alb => Origin::Alb,
            // REST APIs, and the sources whose response has the REST shape (WebSocket APIs).
            _ => Origin::RestApi,
        }
    }
}

/// What helve answers Lambda for an HTTP event: the response in its source's shape.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum HttpResponse {
    /// For a REST API (and HTTP API payload 1.0).
    RestApi(ApiGatewayProxyResponse),
    /// For an HTTP API (payload 2.0) and a Function URL.
    HttpApi(ApiGatewayV2httpResponse),
    /// For an Application Load Balancer.
    Alb(AlbTargetGroupResponse),
}

impl HttpResponse {
    /// The response's status.
    pub fn status(&self) -> u16 {
        let code = match self {
            HttpResponse::RestApi(response) => response.status_code,
            HttpResponse::HttpApi(response) => response.status_code,
            HttpResponse::Alb(response) => response.status_code,
        };
        u16::try_from(code).unwrap_or(500)
    }

    /// `response` in the shape `origin` expects.
    pub(super) fn new(origin: Origin, response: Response) -> Self {
        let (parts, body) = response.into_parts();
        let (body, is_base64_encoded) = match body {
            Body::Empty => (None, false),
            text @ Body::Text(_) => (Some(text), false),
            binary @ Body::Binary(_) => (Some(binary), true),
            _ => (None, false),
        };
        let status_code = i64::from(parts.status.as_u16());
        let headers = text_headers(parts.headers);
        match origin {
            Origin::RestApi => {
                let mut response = ApiGatewayProxyResponse::default();
                response.status_code = status_code;
                // API Gateway merges `headers` into `multiValueHeaders`: one of them only, so
                // that no header is sent twice.
                response.multi_value_headers = headers;
                response.body = body;
                response.is_base64_encoded = is_base64_encoded;
                HttpResponse::RestApi(response)
            }
            Origin::HttpApi => {
                let mut headers = headers;
                // An HTTP API takes cookies apart from the headers.
                let cookies = headers
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .filter_map(|value| value.to_str().ok().map(str::to_owned))
                    .collect();
                headers.remove(header::SET_COOKIE);
                let mut response = ApiGatewayV2httpResponse::default();
                response.status_code = status_code;
                // One value a name: repeated headers (`Vary`, `Link`) joined, not cut to the
                // first.
                response.headers = joined(headers);
                response.cookies = cookies;
                response.body = body;
                response.is_base64_encoded = is_base64_encoded;
                HttpResponse::HttpApi(response)
            }
            Origin::Alb => {
                let mut response = AlbTargetGroupResponse::default();
                response.status_code = status_code;
                response.status_description = Some(format!(
                    "{} {}",
                    parts.status.as_u16(),
                    parts.status.canonical_reason().unwrap_or_default()
                ));
                // A target group reads `headers` (one value a name: repeated ones joined) or
                // `multiValueHeaders`, as configured.
                response.headers = joined(headers.clone());
                response.multi_value_headers = headers;
                response.body = body;
                response.is_base64_encoded = is_base64_encoded;
                HttpResponse::Alb(response)
            }
        }
    }
}

/// The headers whose values are text: Lambda's response is JSON, so a header value that is not
/// UTF-8 cannot be sent, and is dropped with a warning rather than failing the response.
fn text_headers(headers: HeaderMap) -> HeaderMap {
    if headers
        .values()
        .all(|value| std::str::from_utf8(value.as_bytes()).is_ok())
    {
        return headers;
    }
    let mut kept = HeaderMap::with_capacity(headers.len());
    let mut name = None;
    for (key, value) in headers {
        if let Some(key) = key {
            name = Some(key);
        }
        let Some(name) = &name else { continue };
        if std::str::from_utf8(value.as_bytes()).is_ok() {
            kept.append(name.clone(), value);
        } else {
            tracing::warn!(header = %name, "a response header value is not UTF-8; it is not sent");
        }
    }
    kept
}

/// A response of any body type as one of Lambda's: helve's own [`Body`] as it is; any other
/// body (an axum `Router`'s, a tower-http layer's) read to the end, as text when it is text.
pub(super) async fn normalise<B>(response: http::Response<B>) -> Result<Response, String>
where
    B: http_body::Body + Send + 'static,
    B::Error: std::fmt::Display,
{
    let (parts, body) = response.into_parts();
    let mut slot = Some(body);
    if let Some(body) = (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<Body>>()
        .and_then(Option::take)
    {
        return Ok(http::Response::from_parts(parts, body));
    }
    let Some(body) = slot else {
        return Err("the response body was taken".to_owned());
    };
    let bytes = body
        .collect()
        .await
        .map_err(|error| format!("the response body failed: {error}"))?
        .to_bytes();
    let mut parts = parts;
    // The length of the body as it was streamed (an axum router sets it): API Gateway, an ALB
    // and a Function URL set their own from the body helve answers, as they do for a handler's.
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = into_body(&parts.headers, bytes);
    Ok(http::Response::from_parts(parts, body))
}

/// Text for a text content type (or none) when the bytes are UTF-8; base64 otherwise.
fn into_body(headers: &HeaderMap, bytes: Bytes) -> Body {
    if bytes.is_empty() {
        return Body::Empty;
    }
    let text_type = headers.get(header::CONTENT_ENCODING).is_none()
        && headers
            .get(header::CONTENT_TYPE)
            .is_none_or(|value| is_text(value.as_bytes()));
    if text_type {
        match String::from_utf8(bytes.into()) {
            Ok(text) => Body::Text(text),
            Err(error) => Body::Binary(error.into_bytes()),
        }
    } else {
        Body::Binary(bytes.into())
    }
}

fn is_text(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&byte| byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii()
        .to_ascii_lowercase();
    essence.starts_with(b"text/")
        || [
            b"application/json".as_slice(),
            b"application/javascript",
            b"application/xml",
            b"application/x-www-form-urlencoded",
            b"application/graphql",
        ]
        .contains(&essence.as_slice())
        || essence.ends_with(b"+json")
        || essence.ends_with(b"+xml")
}

/// The headers with one value a name: the values of a repeated header joined with `, `, as
/// HTTP allows for every header but `Set-Cookie` (which HTTP APIs take apart, as `cookies`).
fn joined(headers: HeaderMap) -> HeaderMap {
    if headers.keys_len() == headers.len() {
        return headers;
    }
    let mut one_each = HeaderMap::with_capacity(headers.keys_len());
    for name in headers.keys() {
        let mut values = headers.get_all(name).iter();
        let Some(first) = values.next() else {
            continue;
        };
        let mut value = first.as_bytes().to_vec();
        for more in values {
            value.extend_from_slice(b", ");
            value.extend_from_slice(more.as_bytes());
        }
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            one_each.insert(name.clone(), value);
        }
    }
    one_each
}
