//! The correlation id of an incoming event, read from the raw payload before it is decoded
//! into the handler's event type.
//!
//! helve puts one correlation id on every log line of an invocation (under `correlation_id`,
//! as Powertools for AWS Lambda does); HTTP functions (feature `http`) echo it in the
//! `x-correlation-id` response header. [`extract`] finds it with built-in presets, one per
//! event source; a [`Pointer`] reads it from a place you name, for any other event. When
//! neither applies, helve falls back to the Lambda request id.
//!
//! # From a calling helve function
//!
//! Before the presets (after a pointer or function you give), helve takes the id another helve
//! function passed when it called this one ([`from_caller`]): the client context's
//! `custom.correlation_id` of a synchronous call, or the `_helve.correlation_id` field an
//! event sent with `Invoker::send` carries (feature `invoke`). One id then follows a request
//! across functions.
//!
//! # Presets
//!
//! The first preset that matches the shape of the event and finds a non-empty string wins:
//!
//! | Event | Correlation id | [`Source`] |
//! |---|---|---|
//! | API Gateway REST, HTTP API, Function URL, ALB, VPC Lattice, carrying an `x-correlation-id` header (any case; `headers`, then the first value in `multiValueHeaders`) | that header | [`CorrelationHeader`](Source::CorrelationHeader) |
//! | API Gateway REST API (`resource` or `httpMethod`, and `requestContext`) | `requestContext.requestId` | [`ApiGatewayRest`](Source::ApiGatewayRest) |
//! | API Gateway HTTP API (`version` `"2.0"` and `routeKey`, or `version` `"1.0"` and `httpMethod`) | `requestContext.requestId` | [`ApiGatewayHttp`](Source::ApiGatewayHttp) |
//! | Lambda Function URL (the HTTP API 2.0 shape, `requestContext.domainName` `<id>.lambda-url.<region>.on.aws`) | `requestContext.requestId` | [`FunctionUrl`](Source::FunctionUrl) |
//! | API Gateway WebSocket API (`requestContext.connectionId` and `eventType`) | `requestContext.requestId` | [`ApiGatewayWebSocket`](Source::ApiGatewayWebSocket) |
//! | AppSync Lambda authorizer (`authorizationToken` and `requestContext`) | `requestContext.requestId` | [`AppSyncAuthorizer`](Source::AppSyncAuthorizer) |
//! | Application Load Balancer (`requestContext.elb`) | header `x-amzn-trace-id` | [`Alb`](Source::Alb) |
//! | VPC Lattice, payload 1.0 (`raw_path` and `method`) and 2.0 (`requestContext.serviceNetworkArn` or `serviceArn`) | header `x-amzn-trace-id` | [`VpcLattice`](Source::VpcLattice) |
//! | EventBridge (`detail-type`, `source` and `id`) | `id` | [`EventBridge`](Source::EventBridge) |
//! | AppSync direct resolver | `request.headers."x-amzn-trace-id"` | [`AppSyncResolver`](Source::AppSyncResolver) |
//! | S3 Object Lambda | `xAmzRequestId` | [`S3ObjectLambda`](Source::S3ObjectLambda) |
//! | SQS (first record with `eventSource` `"aws:sqs"`) | `Records[0].messageId` | [`Sqs`](Source::Sqs) |
//! | SNS (first record with `EventSource` `"aws:sns"`) | `Records[0].Sns.MessageId` | [`Sns`](Source::Sns) |
//! | S3 notification (first record with `eventSource` `"aws:s3"`) | `Records[0].responseElements."x-amz-request-id"` | [`S3`](Source::S3) |
//! | Kinesis Data Streams (first record with `eventSource` `"aws:kinesis"`) | `Records[0].eventID` | [`Kinesis`](Source::Kinesis) |
//! | DynamoDB Streams (first record with `eventSource` `"aws:dynamodb"`) | `Records[0].eventID` | [`DynamoDb`](Source::DynamoDb) |
//!
//! The API Gateway, Function URL, AppSync, ALB, VPC Lattice, EventBridge and S3 Object Lambda
//! presets read the same fields as Powertools' `correlation_paths`, so ids match across a
//! system written in several languages. A header's value may be a string or an array of
//! strings (VPC Lattice 2.0 sends arrays); the first string is used.
//!
//! Anything else (an unknown shape, a JSON array, a body that is not JSON at all) has no
//! correlation id: [`extract`] returns `None` and never fails, because the event's own decoding
//! error is reported by the handler, not here. An AppSync batch resolver receives a JSON
//! array, so it is not correlated by a preset.
//!
//! # Cost
//!
//! [`extract`] runs on every invocation. It reads the payload once with `serde_json` into small
//! borrowed structs that skip everything they do not need, and returns the id as a
//! [`Bytes`] slice of the payload: no allocation unless the id contains a JSON escape.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use helve::correlation::{Found, Pointer, Preset, extract};
//!
//! let body = Bytes::from_static(
//!     br#"{"Records":[{"eventSource":"aws:sqs","messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","body":"{}"}]}"#,
//! );
//! let found = extract(&body);
//! assert_eq!(found.as_ref().map(Found::as_str), Some("059f36b4-87a3-44ab-83d2-661975830a7d"));
//! assert_eq!(found.map(|found| found.source()), Some(Preset::Sqs));
//!
//! // Any other event: name the field yourself, once, when the function is built.
//! let order_id = Pointer::new("/detail/orderId")?;
//! let event = br#"{"detail":{"orderId":1042}}"#;
//! assert_eq!(order_id.extract(event).as_deref(), Some("1042"));
//! # Ok::<(), helve::correlation::InvalidPointer>(())
//! ```

mod lenient;
mod pointer;
mod presets;
#[cfg(test)]
mod tests;

use std::fmt;

use bytes::Bytes;

pub use pointer::{InvalidPointer, Pointer};

/// The longest `x-correlation-id` taken from a caller.
pub const MAX_HEADER_ID_LEN: usize = 256;

/// The key of the correlation id in the client context's `custom` map that a helve function
/// calling another one sends (`Invoker::call`, feature `invoke`).
pub const CLIENT_CONTEXT_KEY: &str = "correlation_id";

/// The key of the trace header in the same map.
pub const CLIENT_CONTEXT_TRACE_KEY: &str = "trace_header";

/// The field a helve function sending an event to another one (`Invoker::send`, where no
/// client context reaches the callee) adds beside the event's own fields:
/// `{"_helve":{"correlation_id":"..."},...}`. A callee that does not know it ignores it, as
/// serde ignores unknown fields by default.
pub const ENVELOPE_FIELD: &str = "_helve";

/// The correlation id a calling helve function passed along: the client context's
/// `custom.correlation_id`, else the event's `_helve.correlation_id`. Tried before the
/// presets; at most [`MAX_HEADER_ID_LEN`] bytes are taken.
pub fn from_caller(
    body: &[u8],
    client_context: Option<&std::collections::HashMap<String, String>>,
) -> Option<Bytes> {
    let cap = |id: &str| -> Option<Bytes> {
        let id = crate::json_escape::truncated(id.trim(), MAX_HEADER_ID_LEN);
        (!id.is_empty()).then(|| Bytes::copy_from_slice(id.as_bytes()))
    };
    if let Some(id) = client_context.and_then(|custom| custom.get(CLIENT_CONTEXT_KEY)) {
        return cap(id);
    }
    // The envelope's key, before any parsing: most events have none.
    memchr::memmem::find(body, b"\"_helve\"")?;
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(rename = "_helve", borrow)]
        helve: Option<Fields<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Fields<'a> {
        #[serde(borrow)]
        correlation_id: Option<std::borrow::Cow<'a, str>>,
    }
    let envelope: Envelope<'_> = serde_json::from_slice(body).ok()?;
    cap(&envelope.helve?.correlation_id?)
}

/// Which preset found the correlation id of an event, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Preset {
    /// An API Gateway REST API request: `requestContext.requestId`.
    ApiGatewayRest,
    /// An API Gateway HTTP API request, payload 1.0 or 2.0: `requestContext.requestId`.
    ApiGatewayHttp,
    /// An API Gateway WebSocket API event: `requestContext.requestId`.
    ApiGatewayWebSocket,
    /// A Lambda Function URL request: `requestContext.requestId`.
    FunctionUrl,
    /// An AppSync Lambda authorizer request: `requestContext.requestId`.
    AppSyncAuthorizer,
    /// An Application Load Balancer request: the `x-amzn-trace-id` header.
    Alb,
    /// A VPC Lattice request: the `x-amzn-trace-id` header.
    VpcLattice,
    /// An EventBridge event: `id`.
    EventBridge,
    /// An AppSync direct resolver invocation: `request.headers."x-amzn-trace-id"`.
    AppSyncResolver,
    /// An S3 Object Lambda request: `xAmzRequestId`.
    S3ObjectLambda,
    /// An SQS batch: the first record's `messageId`.
    Sqs,
    /// An SNS notification: the first record's `Sns.MessageId`.
    Sns,
    /// An S3 event notification: the first record's `responseElements."x-amz-request-id"`.
    S3,
    /// A Kinesis Data Streams batch: the first record's `eventID`.
    Kinesis,
    /// A DynamoDB Streams batch: the first record's `eventID`.
    DynamoDb,
    /// An HTTP request carrying an `x-correlation-id` header, which overrides the preset of
    /// its event source.
    CorrelationHeader,
}

/// The old name of [`Preset`].
#[deprecated(note = "renamed `Preset`: the preset that found the correlation id")]
pub type Source = Preset;

impl Preset {
    /// A stable snake_case name for the preset, such as `api_gateway_rest` or `sqs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::ApiGatewayRest => "api_gateway_rest",
            Preset::ApiGatewayHttp => "api_gateway_http",
            Preset::ApiGatewayWebSocket => "api_gateway_websocket",
            Preset::FunctionUrl => "function_url",
            Preset::AppSyncAuthorizer => "appsync_authorizer",
            Preset::Alb => "alb",
            Preset::VpcLattice => "vpc_lattice",
            Preset::EventBridge => "eventbridge",
            Preset::AppSyncResolver => "appsync_resolver",
            Preset::S3ObjectLambda => "s3_object_lambda",
            Preset::Sqs => "sqs",
            Preset::Sns => "sns",
            Preset::S3 => "s3",
            Preset::Kinesis => "kinesis",
            Preset::DynamoDb => "dynamodb",
            Preset::CorrelationHeader => "correlation_header",
        }
    }

    /// Whether an `x-correlation-id` header on this kind of event overrides its preset.
    fn honours_correlation_header(self) -> bool {
        matches!(
            self,
            Preset::ApiGatewayRest
                | Preset::ApiGatewayHttp
                | Preset::FunctionUrl
                | Preset::Alb
                | Preset::VpcLattice
        )
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A correlation id found by [`extract`], and the preset that found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Always valid UTF-8: only ever built from a `&str`.
    id: Bytes,
    source: Preset,
}

impl Found {
    /// The correlation id.
    pub fn as_str(&self) -> &str {
        // Cannot fail: `id` is only ever built from a `&str` (see `id_bytes`).
        std::str::from_utf8(&self.id).unwrap_or_default()
    }

    /// The correlation id as UTF-8 bytes: a slice of the payload when the id had no JSON
    /// escape, so it is cheap to clone and to keep for the whole invocation.
    pub fn id(&self) -> &Bytes {
        &self.id
    }

    /// The correlation id as UTF-8 bytes, by value.
    pub fn into_id(self) -> Bytes {
        self.id
    }

    /// The preset that found the id.
    pub fn source(&self) -> Preset {
        self.source
    }
}

/// The correlation id of an event, by the presets described in the [module docs](self);
/// `None` when no preset applies or the payload is not a JSON object.
///
/// `body` is the raw payload Lambda delivered. The id is a slice of `body` unless it
/// contained a JSON escape, in which case it is decoded into a new buffer.
pub fn extract(body: &Bytes) -> Option<Found> {
    let event = presets::Event::read(body)?;
    let (id, source) = event.correlation()?;
    Some(Found {
        id: id_bytes(body, id),
        source,
    })
}

/// `id` as `Bytes`: a slice of `body` when `id` points inside it, a copy otherwise.
fn id_bytes(body: &Bytes, id: &str) -> Bytes {
    let outer = body.as_ptr_range();
    let inner = id.as_bytes().as_ptr_range();
    if outer.start <= inner.start && inner.end <= outer.end {
        // Cannot panic: `slice_ref` only panics when `id` is outside `body`, checked above.
        body.slice_ref(id.as_bytes())
    } else {
        Bytes::copy_from_slice(id.as_bytes())
    }
}
