//! The correlation id of an incoming event, read from the raw payload before it is decoded
//! into the handler's event type.
//!
//! helve puts one correlation id on every log line of an invocation (under `correlation_id`,
//! as Powertools for AWS Lambda does); HTTP functions (feature `http`) echo it in the
//! `x-correlation-id` response header. [`extract`] finds it with built-in presets, one per
//! event source; a [`Pointer`] reads it from a place you name, for any other event. When
//! neither applies, helve falls back to the Lambda request id.
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
//! use helve::correlation::{Found, Pointer, Source, extract};
//!
//! let body = Bytes::from_static(
//!     br#"{"Records":[{"eventSource":"aws:sqs","messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","body":"{}"}]}"#,
//! );
//! let found = extract(&body);
//! assert_eq!(found.as_ref().map(Found::as_str), Some("059f36b4-87a3-44ab-83d2-661975830a7d"));
//! assert_eq!(found.map(|found| found.source()), Some(Source::Sqs));
//!
//! // Any other event: name the field yourself, once, when the function is built.
//! let order_id = Pointer::new("/detail/orderId")?;
//! let event = br#"{"detail":{"orderId":1042}}"#;
//! assert_eq!(order_id.extract(event).as_deref(), Some("1042"));
//! # Ok::<(), helve::correlation::InvalidPointer>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    value::MapAccessDeserializer,
};

/// The longest `x-correlation-id` taken from a caller.
pub const MAX_HEADER_ID_LEN: usize = 256;

/// A caller's `x-correlation-id` is taken when it is 1 to [`MAX_HEADER_ID_LEN`] bytes of
/// visible ASCII; otherwise the event's own preset applies.
fn acceptable_header_id(id: &str) -> bool {
    (1..=MAX_HEADER_ID_LEN).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_graphic())
}

/// Which preset found the correlation id of an event, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
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

impl Source {
    /// A stable snake_case name for the preset, such as `api_gateway_rest` or `sqs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ApiGatewayRest => "api_gateway_rest",
            Source::ApiGatewayHttp => "api_gateway_http",
            Source::ApiGatewayWebSocket => "api_gateway_websocket",
            Source::FunctionUrl => "function_url",
            Source::AppSyncAuthorizer => "appsync_authorizer",
            Source::Alb => "alb",
            Source::VpcLattice => "vpc_lattice",
            Source::EventBridge => "eventbridge",
            Source::AppSyncResolver => "appsync_resolver",
            Source::S3ObjectLambda => "s3_object_lambda",
            Source::Sqs => "sqs",
            Source::Sns => "sns",
            Source::S3 => "s3",
            Source::Kinesis => "kinesis",
            Source::DynamoDb => "dynamodb",
            Source::CorrelationHeader => "correlation_header",
        }
    }

    /// Whether an `x-correlation-id` header on this kind of event overrides its preset.
    fn honours_correlation_header(self) -> bool {
        matches!(
            self,
            Source::ApiGatewayRest
                | Source::ApiGatewayHttp
                | Source::FunctionUrl
                | Source::Alb
                | Source::VpcLattice
        )
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A correlation id found by [`extract`], and the preset that found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Always valid UTF-8: only ever built from a `&str`.
    id: Bytes,
    source: Source,
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
    pub fn source(&self) -> Source {
        self.source
    }
}

/// The correlation id of an event, by the presets described in the [module docs](self);
/// `None` when no preset applies or the payload is not a JSON object.
///
/// `body` is the raw payload Lambda delivered. The id is a slice of `body` unless it
/// contained a JSON escape, in which case it is decoded into a new buffer.
pub fn extract(body: &Bytes) -> Option<Found> {
    let Obj(Some(event)) = serde_json::from_slice::<Obj<Event<'_>>>(body).ok()? else {
        return None;
    };
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

/// A user-configured JSON pointer (RFC 6901) naming where an event keeps its correlation id,
/// such as `/detail/orderId`. It reads the same value as `serde_json::Value::pointer`, without
/// building a `Value`.
///
/// ```
/// use helve::correlation::Pointer;
///
/// let pointer: Pointer = "/detail/orderId".parse()?;
/// assert_eq!(pointer.extract(br#"{"detail":{"orderId":"o-42"}}"#).as_deref(), Some("o-42"));
/// assert!(Pointer::new("detail/orderId").is_err());
/// # Ok::<(), helve::correlation::InvalidPointer>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    /// The reference tokens, unescaped (`~1` is `/`, `~0` is `~`).
    tokens: Vec<String>,
}

impl Pointer {
    /// Checks a JSON pointer: empty (the whole document) or `/`-separated reference tokens,
    /// where `~` may only appear as `~0` (a `~`) or `~1` (a `/`).
    ///
    /// # Errors
    ///
    /// [`InvalidPointer`] when the pointer is not empty and does not start with `/`, or has a
    /// `~` that is not followed by `0` or `1`.
    pub fn new(pointer: &str) -> Result<Self, InvalidPointer> {
        let mut tokens = Vec::new();
        if !pointer.is_empty() {
            let Some(rest) = pointer.strip_prefix('/') else {
                return Err(InvalidPointer::MissingLeadingSlash {
                    pointer: pointer.to_owned(),
                });
            };
            let mut token = String::new();
            let mut chars = rest.char_indices();
            while let Some((at, c)) = chars.next() {
                match c {
                    '/' => tokens.push(std::mem::take(&mut token)),
                    '~' => match chars.next() {
                        Some((_, '0')) => token.push('~'),
                        Some((_, '1')) => token.push('/'),
                        _ => {
                            return Err(InvalidPointer::InvalidEscape {
                                pointer: pointer.to_owned(),
                                // `at` counts from after the leading '/', one byte long.
                                offset: at + 1,
                            });
                        }
                    },
                    c => token.push(c),
                }
            }
            tokens.push(token);
        }
        Ok(Pointer {
            text: pointer.to_owned(),
            tokens,
        })
    }

    /// The pointer as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value the pointer names in `body`, when it is a non-empty string or a number
    /// (written as `serde_json` writes it, such as `1042` or `12.5`); `None` when the path is
    /// missing, names another kind of value, or `body` is not JSON.
    pub fn extract(&self, body: &[u8]) -> Option<String> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let found = Walk {
            tokens: &self.tokens,
        }
        .deserialize(&mut deserializer)
        .ok()?;
        deserializer.end().ok()?;
        found.filter(|id| !id.is_empty())
    }
}

impl FromStr for Pointer {
    type Err = InvalidPointer;

    fn from_str(pointer: &str) -> Result<Self, Self::Err> {
        Pointer::new(pointer)
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A JSON pointer that [`Pointer::new`] rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidPointer {
    /// The pointer is neither empty nor starts with `/`.
    MissingLeadingSlash {
        /// The pointer as written.
        pointer: String,
    },
    /// A `~` is not followed by `0` or `1`.
    InvalidEscape {
        /// The pointer as written.
        pointer: String,
        /// The byte offset of the `~` in `pointer`.
        offset: usize,
    },
}

impl fmt::Display for InvalidPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidPointer::MissingLeadingSlash { pointer } => write!(
                f,
                "invalid correlation id pointer `{pointer}`: a json pointer must be empty or \
                 start with `/`, as in `/detail/orderId`"
            ),
            InvalidPointer::InvalidEscape { pointer, offset } => write!(
                f,
                "invalid correlation id pointer `{pointer}`: `~` at byte {offset} must be \
                 followed by `0` (for `~`) or `1` (for `/`)"
            ),
        }
    }
}

impl std::error::Error for InvalidPointer {}

// --- Presets -----------------------------------------------------------------------------
//
// The probe structs below borrow strings from the payload and skip every other value. Every
// field is lenient: a value of an unexpected JSON type reads as absent instead of failing the
// whole probe, so one odd field never hides a preset that would have matched.

/// The top-level fields any preset looks at.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(default, borrow)]
    version: Str<'a>,
    #[serde(rename = "routeKey")]
    route_key: Option<IgnoredAny>,
    resource: Option<IgnoredAny>,
    #[serde(rename = "httpMethod")]
    http_method: Option<IgnoredAny>,
    #[serde(default, borrow)]
    headers: Headers<'a>,
    #[serde(default, borrow, rename = "multiValueHeaders")]
    multi_value_headers: Headers<'a>,
    #[serde(default, borrow, rename = "requestContext")]
    request_context: Obj<RequestContext<'a>>,
    #[serde(rename = "authorizationToken")]
    authorization_token: Option<IgnoredAny>,
    /// VPC Lattice payload 1.0 spells its fields in snake_case.
    raw_path: Option<IgnoredAny>,
    method: Option<IgnoredAny>,
    #[serde(rename = "detail-type")]
    detail_type: Option<IgnoredAny>,
    source: Option<IgnoredAny>,
    #[serde(default, borrow)]
    id: Str<'a>,
    #[serde(default, borrow)]
    request: Obj<AppSyncRequest<'a>>,
    #[serde(default, borrow, rename = "xAmzRequestId")]
    x_amz_request_id: Str<'a>,
    #[serde(default, borrow, rename = "Records")]
    records: First<Record<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    #[serde(default, borrow)]
    request_id: Str<'a>,
    #[serde(default, borrow)]
    domain_name: Str<'a>,
    elb: Option<IgnoredAny>,
    service_network_arn: Option<IgnoredAny>,
    service_arn: Option<IgnoredAny>,
    connection_id: Option<IgnoredAny>,
    event_type: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct AppSyncRequest<'a> {
    #[serde(default, borrow)]
    headers: Headers<'a>,
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(default, borrow, rename = "eventSource")]
    event_source: Str<'a>,
    /// SNS spells it `EventSource`.
    #[serde(default, borrow, rename = "EventSource")]
    event_source_sns: Str<'a>,
    #[serde(default, borrow, rename = "messageId")]
    message_id: Str<'a>,
    #[serde(default, borrow, rename = "Sns")]
    sns: Obj<SnsMessage<'a>>,
    #[serde(default, borrow, rename = "responseElements")]
    response_elements: Obj<ResponseElements<'a>>,
    #[serde(default, borrow, rename = "eventID")]
    event_id: Str<'a>,
}

#[derive(Deserialize)]
struct SnsMessage<'a> {
    #[serde(default, borrow, rename = "MessageId")]
    message_id: Str<'a>,
}

#[derive(Deserialize)]
struct ResponseElements<'a> {
    #[serde(default, borrow, rename = "x-amz-request-id")]
    request_id: Str<'a>,
}

impl Event<'_> {
    /// The correlation id and its preset, first match wins.
    fn correlation(&self) -> Option<(&str, Source)> {
        self.request_kind()
            .and_then(|kind| self.request_correlation(kind))
            .or_else(|| self.event_bridge())
            .or_else(|| self.appsync_resolver())
            .or_else(|| Some((self.x_amz_request_id.get()?, Source::S3ObjectLambda)))
            .or_else(|| self.first_record())
    }

    /// Which kind of request this is, for the events described by a `requestContext` or by
    /// HTTP fields.
    fn request_kind(&self) -> Option<Source> {
        let context = self.request_context.0.as_ref();
        if let Some(context) = context {
            if context.elb.is_some() {
                return Some(Source::Alb);
            }
            if context.service_network_arn.is_some() || context.service_arn.is_some() {
                return Some(Source::VpcLattice);
            }
        }
        if self.raw_path.is_some() && self.method.is_some() {
            return Some(Source::VpcLattice);
        }
        let context = context?;
        let version = self.version.get();
        if version == Some("2.0") && self.route_key.is_some() {
            return Some(if context.domain_name.get().is_some_and(is_function_url) {
                Source::FunctionUrl
            } else {
                Source::ApiGatewayHttp
            });
        }
        if context.connection_id.is_some() && context.event_type.is_some() {
            return Some(Source::ApiGatewayWebSocket);
        }
        if self.resource.is_some() || self.http_method.is_some() {
            // HTTP APIs send payload 1.0 in the REST shape, with a `version`.
            return Some(if version == Some("1.0") {
                Source::ApiGatewayHttp
            } else {
                Source::ApiGatewayRest
            });
        }
        if self.authorization_token.is_some() {
            return Some(Source::AppSyncAuthorizer);
        }
        None
    }

    fn request_correlation(&self, kind: Source) -> Option<(&str, Source)> {
        if kind.honours_correlation_header() {
            let header = self.headers.correlation.as_deref();
            if let Some(id) = header.or(self.multi_value_headers.correlation.as_deref()) {
                // The caller chooses this value and it goes on every log line (and back in a
                // response header): only a short, printable id is taken.
                if acceptable_header_id(id) {
                    return Some((id, Source::CorrelationHeader));
                }
            }
        }
        let id = match kind {
            Source::Alb | Source::VpcLattice => {
                let header = self.headers.trace.as_deref();
                header.or(self.multi_value_headers.trace.as_deref())
            }
            _ => self.request_context.0.as_ref()?.request_id.get(),
        };
        Some((id?, kind))
    }

    fn event_bridge(&self) -> Option<(&str, Source)> {
        if self.detail_type.is_some() && self.source.is_some() {
            Some((self.id.get()?, Source::EventBridge))
        } else {
            None
        }
    }

    fn appsync_resolver(&self) -> Option<(&str, Source)> {
        let request = self.request.0.as_ref()?;
        Some((request.headers.trace.as_deref()?, Source::AppSyncResolver))
    }

    fn first_record(&self) -> Option<(&str, Source)> {
        let record = self.records.0.as_ref()?;
        match record.event_source.get() {
            Some("aws:sqs") => Some((record.message_id.get()?, Source::Sqs)),
            Some("aws:s3") => {
                let elements = record.response_elements.0.as_ref()?;
                Some((elements.request_id.get()?, Source::S3))
            }
            Some("aws:kinesis") => Some((record.event_id.get()?, Source::Kinesis)),
            Some("aws:dynamodb") => Some((record.event_id.get()?, Source::DynamoDb)),
            _ if record.event_source_sns.get() == Some("aws:sns") => {
                let message = record.sns.0.as_ref()?;
                Some((message.message_id.get()?, Source::Sns))
            }
            _ => None,
        }
    }
}

/// Whether `domain` is a Function URL's: `<url-id>.lambda-url.<region>.on.aws`.
fn is_function_url(domain: &str) -> bool {
    domain
        .strip_suffix(".on.aws")
        .and_then(|rest| rest.rsplit_once('.'))
        .and_then(|(rest, region)| (!region.is_empty()).then_some(rest))
        .and_then(|rest| rest.strip_suffix(".lambda-url"))
        .is_some_and(|url_id| !url_id.is_empty())
}

// --- Lenient probe types -----------------------------------------------------------------

/// Accepts any value and returns `$value` for the kinds a visitor does not care about.
macro_rules! skip_values {
    (scalars => $value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (strings => $value:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (arrays => $value:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_seq(seq)?;
            Ok($value)
        }
    };
    (objects => $value:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_map(map)?;
            Ok($value)
        }
    };
}

/// A string, borrowed from the payload unless it had escapes; absent for any other value.
#[derive(Default)]
struct Str<'a>(Option<Cow<'a, str>>);

impl Str<'_> {
    /// The string, when present and not empty.
    fn get(&self) -> Option<&str> {
        self.0.as_deref().filter(|text| !text.is_empty())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Borrowed(text))))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(text.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(text))))
    }

    skip_values!(scalars => Str(None));
    skip_values!(arrays => Str(None));
    skip_values!(objects => Str(None));
}

/// An object read as `T`; absent for any other value.
struct Obj<T>(Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjVisitor(PhantomData))
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|value| Obj(Some(value)))
    }

    skip_values!(scalars => Obj(None));
    skip_values!(strings => Obj(None));
    skip_values!(arrays => Obj(None));
}

/// The first element of an array, when it is an object read as `T`; absent otherwise.
struct First<T>(Option<T>);

impl<T> Default for First<T> {
    fn default() -> Self {
        First(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FirstVisitor(PhantomData))
    }
}

struct FirstVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
    type Value = First<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element::<Obj<T>>()?.and_then(|first| first.0);
        IgnoredAny.visit_seq(seq)?;
        Ok(First(first))
    }

    skip_values!(scalars => First(None));
    skip_values!(strings => First(None));
    skip_values!(objects => First(None));
}

/// The two headers the presets read from a headers object, matched case-insensitively. A
/// value is a string or an array of strings (multi-value headers, VPC Lattice 2.0), of which
/// the first is used; empty values are ignored.
#[derive(Default)]
struct Headers<'a> {
    correlation: Option<Cow<'a, str>>,
    trace: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeadersVisitor)
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = Headers<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut headers = Headers::default();
        while let Some(name) = map.next_key_seed(HeaderNameSeed)? {
            let slot = match name {
                HeaderName::Correlation if headers.correlation.is_none() => {
                    &mut headers.correlation
                }
                HeaderName::Trace if headers.trace.is_none() => &mut headers.trace,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map
                .next_value::<HeaderValue<'de>>()?
                .0
                .filter(|value| !value.is_empty());
        }
        Ok(headers)
    }

    skip_values!(scalars => Headers::default());
    skip_values!(strings => Headers::default());
    skip_values!(arrays => Headers::default());
}

enum HeaderName {
    Correlation,
    Trace,
    Other,
}

/// Reads a header name without allocating, even when it has escapes.
struct HeaderNameSeed;

impl<'de> DeserializeSeed<'de> for HeaderNameSeed {
    type Value = HeaderName;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<HeaderName, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for HeaderNameSeed {
    type Value = HeaderName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a header name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<HeaderName, E> {
        Ok(if name.eq_ignore_ascii_case("x-correlation-id") {
            HeaderName::Correlation
        } else if name.eq_ignore_ascii_case("x-amzn-trace-id") {
            HeaderName::Trace
        } else {
            HeaderName::Other
        })
    }
}

/// A header value: a string, or the first element of an array when it is a string.
struct HeaderValue<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for HeaderValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeaderValueVisitor)
    }
}

struct HeaderValueVisitor;

impl<'de> Visitor<'de> for HeaderValueVisitor {
    type Value = HeaderValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        StrVisitor
            .visit_borrowed_str(text)
            .map(|text| HeaderValue(text.0))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        StrVisitor.visit_str(text).map(|text| HeaderValue(text.0))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        StrVisitor
            .visit_string(text)
            .map(|text| HeaderValue(text.0))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element::<Str<'de>>()?.and_then(|first| first.0);
        IgnoredAny.visit_seq(seq)?;
        Ok(HeaderValue(first))
    }

    skip_values!(scalars => HeaderValue(None));
    skip_values!(objects => HeaderValue(None));
}

// --- Pointer walk ------------------------------------------------------------------------

/// Follows the remaining reference tokens of a [`Pointer`] through one JSON value, skipping
/// everything off the path, and returns the string or number at its end.
struct Walk<'p> {
    tokens: &'p [String],
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Walk<'_> {
    fn leaf(&self, value: impl FnOnce() -> Option<String>) -> Option<String> {
        if self.tokens.is_empty() {
            value()
        } else {
            None
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Some(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Some(text)))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Some(number.to_string())))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Some(number.to_string())))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        // Formatted as `serde_json::Value` formats it; JSON has no NaN or infinity, so
        // `from_f64` always succeeds here.
        Ok(self.leaf(|| serde_json::Number::from_f64(number).map(|number| number.to_string())))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((token, rest)) = self.tokens.split_first() else {
            IgnoredAny.visit_map(map)?;
            return Ok(None);
        };
        // Like `serde_json::Value`, the last of duplicated keys wins.
        let mut found = None;
        while let Some(matches) = map.next_key_seed(KeyIs(token))? {
            if matches {
                found = map.next_value_seed(Walk { tokens: rest })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Some((token, rest)) = self.tokens.split_first() else {
            IgnoredAny.visit_seq(seq)?;
            return Ok(None);
        };
        let wanted = array_index(token);
        let mut found = None;
        let mut index = 0_usize;
        loop {
            if wanted == Some(index) {
                match seq.next_element_seed(Walk { tokens: rest })? {
                    Some(value) => found = value,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            index = index.saturating_add(1);
        }
        Ok(found)
    }
}

/// An array index as `serde_json::Value::pointer` reads it: digits without a sign or a
/// leading zero (`-`, the element after the last, never matches).
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// Compares an object key with a reference token, without allocating.
struct KeyIs<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/",
                $name,
                ".json"
            ))
        };
    }

    /// Extracts from a fixture and returns the id and source.
    fn found(body: &[u8]) -> Option<(String, Source)> {
        extract(&Bytes::copy_from_slice(body))
            .map(|found| (found.as_str().to_owned(), found.source()))
    }

    /// A copy of a real payload changed by `edit`.
    fn edited(body: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut event: Value = serde_json::from_slice(body).expect("fixture is json");
        edit(&mut event);
        serde_json::to_vec(&event).expect("value serializes")
    }

    /// The object at `pointer` in `event`, which the test expects to exist.
    fn object<'v>(event: &'v mut Value, pointer: &str) -> &'v mut serde_json::Map<String, Value> {
        event
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .expect("fixture has this object")
    }

    fn some(id: &str, source: Source) -> Option<(String, Source)> {
        Some((id.to_owned(), source))
    }

    // --- One test per preset, on real payloads ---

    #[test]
    fn a_rest_api_request_is_correlated_by_its_request_id() {
        assert_eq!(
            found(fixture!("example-apigw-request")),
            some(
                "deef4878-7910-11e6-8f14-25afc3e9ae33",
                Source::ApiGatewayRest
            )
        );
    }

    #[test]
    fn an_http_api_request_is_correlated_by_its_request_id_not_its_trace_header() {
        assert_eq!(
            found(fixture!("example-apigw-v2-request-no-authorizer")),
            some("LV7fzho-PHcEJPw=", Source::ApiGatewayHttp)
        );
    }

    #[test]
    fn an_http_api_request_in_payload_format_1_is_told_apart_from_a_rest_api_request() {
        let body = edited(fixture!("example-apigw-request"), |event| {
            object(event, "").insert("version".into(), json!("1.0"));
        });
        assert_eq!(
            found(&body),
            some(
                "deef4878-7910-11e6-8f14-25afc3e9ae33",
                Source::ApiGatewayHttp
            )
        );
    }

    #[test]
    fn a_function_url_request_is_correlated_by_its_request_id() {
        assert_eq!(
            found(fixture!("lambda_function_url_request")),
            some("MIZRNhJtIAMEMDw=", Source::FunctionUrl)
        );
    }

    #[test]
    fn a_websocket_event_is_correlated_by_its_request_id() {
        assert_eq!(
            found(fixture!("example-apigw-websocket-request")),
            some(
                "deef4878-7910-11e6-8f14-25afc3e9ae33",
                Source::ApiGatewayWebSocket
            )
        );
    }

    #[test]
    fn an_appsync_authorizer_request_is_correlated_by_its_request_id() {
        assert_eq!(
            found(fixture!("example-appsync-lambda-auth-request")),
            some(
                "f4081827-1111-4444-5555-5cf4695f339f",
                Source::AppSyncAuthorizer
            )
        );
    }

    #[test]
    fn an_alb_request_is_correlated_by_its_trace_header() {
        assert_eq!(
            found(fixture!("example-alb-lambda-target-request-headers-only")),
            some("Root=1-5c34e93e-4dea0086f9763ac0667b115a", Source::Alb)
        );
    }

    #[test]
    fn an_alb_request_with_multi_value_headers_is_correlated_by_its_first_trace_header() {
        assert_eq!(
            found(fixture!(
                "example-alb-lambda-target-request-multivalue-headers"
            )),
            some("Root=1-5c34e7d4-00ca239424b68028d4c56d68", Source::Alb)
        );
    }

    #[test]
    fn a_vpc_lattice_2_request_is_correlated_by_its_first_trace_header() {
        // The fixtures carry no trace header; Lattice 2.0 sends every header as an array.
        let body = edited(fixture!("example-vpc-lattice-v2-request"), |event| {
            object(event, "/headers").insert(
                "x-amzn-trace-id".into(),
                json!(["Root=1-66cf5a37-2c9d1e6b0d7f4a0e8c1b3a59", "Root=ignored"]),
            );
        });
        assert_eq!(
            found(&body),
            some(
                "Root=1-66cf5a37-2c9d1e6b0d7f4a0e8c1b3a59",
                Source::VpcLattice
            )
        );
    }

    #[test]
    fn a_vpc_lattice_1_request_is_correlated_by_its_trace_header() {
        let body = edited(fixture!("example-vpc-lattice-v1-request"), |event| {
            object(event, "/headers").insert(
                "x-amzn-trace-id".into(),
                json!("Root=1-66cf5a37-2c9d1e6b0d7f4a0e8c1b3a59"),
            );
        });
        assert_eq!(
            found(&body),
            some(
                "Root=1-66cf5a37-2c9d1e6b0d7f4a0e8c1b3a59",
                Source::VpcLattice
            )
        );
    }

    #[test]
    fn a_vpc_lattice_request_without_a_trace_header_is_not_correlated() {
        assert_eq!(found(fixture!("example-vpc-lattice-v2-request")), None);
        assert_eq!(found(fixture!("example-vpc-lattice-v1-request")), None);
    }

    #[test]
    fn an_eventbridge_event_is_correlated_by_its_id() {
        assert_eq!(
            found(fixture!("example-eventbridge-event-obj")),
            some("7bf73129-1428-4cd3-a780-95db273d1602", Source::EventBridge)
        );
        assert_eq!(
            found(fixture!("example-eventbridge-schedule")),
            some("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", Source::EventBridge)
        );
    }

    #[test]
    fn an_appsync_resolver_invocation_is_correlated_by_its_trace_header() {
        assert_eq!(
            found(fixture!("example-appsync-direct-resolver")),
            some(
                "Root=1-68713e21-7a03739120ad60703e794b22",
                Source::AppSyncResolver
            )
        );
    }

    #[test]
    fn an_s3_object_lambda_request_is_correlated_by_its_request_id() {
        assert_eq!(
            found(fixture!("example-s3-object-lambda-event-get-object-iam")),
            some("requestId", Source::S3ObjectLambda)
        );
    }

    #[test]
    fn an_sqs_batch_is_correlated_by_its_first_message_id() {
        let body = edited(fixture!("example-sqs-event"), |event| {
            let records = event["Records"]
                .as_array_mut()
                .expect("fixture has records");
            let mut second = records[0].clone();
            second["messageId"] = json!("MessageID_2");
            records.push(second);
        });
        assert_eq!(found(&body), some("MessageID_1", Source::Sqs));
    }

    #[test]
    fn an_sns_notification_is_correlated_by_its_message_id() {
        assert_eq!(
            found(fixture!("example-sns-event")),
            some("82833b5c-8d5d-56d0-b0e1-7511f8253eb8", Source::Sns)
        );
    }

    #[test]
    fn an_s3_notification_is_correlated_by_its_s3_request_id() {
        assert_eq!(
            found(fixture!("example-s3-event")),
            some("C3D13FE58DE4C810", Source::S3)
        );
    }

    #[test]
    fn a_kinesis_batch_is_correlated_by_its_first_event_id() {
        assert_eq!(
            found(fixture!("example-kinesis-event")),
            some(
                "shardId-000000000000:49568167373333333333333333333333333333333333333333333333",
                Source::Kinesis
            )
        );
    }

    #[test]
    fn a_dynamodb_stream_batch_is_correlated_by_its_first_event_id() {
        assert_eq!(
            found(fixture!("example-dynamodb-event")),
            some("f07f8ca4b0b26cb9c4e5e77e69f274ee", Source::DynamoDb)
        );
    }

    // --- The x-correlation-id header ---

    fn with_header(body: &[u8], headers: &str, name: &str, value: Value) -> Vec<u8> {
        edited(body, |event| {
            object(event, headers).insert(name.into(), value);
        })
    }

    #[test]
    fn an_x_correlation_id_header_overrides_the_preset_of_every_http_event() {
        let cases: [(&[u8], &str, Value); 6] = [
            (
                fixture!("example-apigw-request"),
                "/headers",
                json!("from-client"),
            ),
            (
                fixture!("example-apigw-v2-request-no-authorizer"),
                "/headers",
                json!("from-client"),
            ),
            (
                fixture!("lambda_function_url_request"),
                "/headers",
                json!("from-client"),
            ),
            (
                fixture!("example-alb-lambda-target-request-headers-only"),
                "/headers",
                json!("from-client"),
            ),
            (
                fixture!("example-vpc-lattice-v2-request"),
                "/headers",
                json!(["from-client"]),
            ),
            (
                fixture!("example-vpc-lattice-v1-request"),
                "/headers",
                json!("from-client"),
            ),
        ];
        for (body, headers, value) in cases {
            let body = with_header(body, headers, "x-correlation-id", value);
            assert_eq!(found(&body), some("from-client", Source::CorrelationHeader));
        }
    }

    #[test]
    fn the_x_correlation_id_header_name_is_case_insensitive() {
        let body = with_header(
            fixture!("example-apigw-request"),
            "/headers",
            "X-Correlation-ID",
            json!("from-client"),
        );
        assert_eq!(found(&body), some("from-client", Source::CorrelationHeader));
    }

    #[test]
    fn an_x_correlation_id_in_multi_value_headers_overrides_the_preset() {
        let body = with_header(
            fixture!("example-alb-lambda-target-request-multivalue-headers"),
            "/multiValueHeaders",
            "x-correlation-id",
            json!(["first", "second"]),
        );
        assert_eq!(found(&body), some("first", Source::CorrelationHeader));
        let body = with_header(
            fixture!("example-apigw-request"),
            "/multiValueHeaders",
            "X-Correlation-Id",
            json!(["first"]),
        );
        assert_eq!(found(&body), some("first", Source::CorrelationHeader));
    }

    #[test]
    fn an_empty_x_correlation_id_header_is_ignored() {
        let body = with_header(
            fixture!("example-apigw-request"),
            "/headers",
            "x-correlation-id",
            json!(""),
        );
        assert_eq!(
            found(&body),
            some(
                "deef4878-7910-11e6-8f14-25afc3e9ae33",
                Source::ApiGatewayRest
            )
        );
    }

    #[test]
    fn an_x_correlation_id_header_does_not_override_non_http_events() {
        let body = with_header(
            fixture!("example-appsync-direct-resolver"),
            "/request/headers",
            "x-correlation-id",
            json!("from-client"),
        );
        assert_eq!(
            found(&body),
            some(
                "Root=1-68713e21-7a03739120ad60703e794b22",
                Source::AppSyncResolver
            )
        );
    }

    // --- Escapes and allocation ---

    #[test]
    fn an_id_with_json_escapes_is_decoded() {
        let body = String::from_utf8(fixture!("example-sqs-event").to_vec())
            .expect("fixture is utf-8")
            .replace(r#""MessageID_1""#, r#""Message\u0049D_1\/\u00e9""#);
        let body = Bytes::from(body);
        let found = extract(&body).expect("sqs event is correlated");
        assert_eq!(found.as_str(), "MessageID_1/é");
        assert!(!points_inside(&body, found.id()));
    }

    #[test]
    fn an_escaped_header_name_is_still_recognised() {
        let body = Bytes::from_static(
            br#"{"requestContext":{"elb":{}},"headers":{"x-amzn-trace-\u0069d":"Root=1-abc"}}"#,
        );
        let found = extract(&body).expect("alb event is correlated");
        assert_eq!(
            (found.as_str(), found.source()),
            ("Root=1-abc", Source::Alb)
        );
    }

    fn points_inside(outer: &Bytes, inner: &Bytes) -> bool {
        let outer = outer.as_ptr_range();
        let inner = inner.as_ptr_range();
        outer.start <= inner.start && inner.end <= outer.end
    }

    #[test]
    fn an_http_api_request_id_without_escapes_is_a_slice_of_the_payload() {
        let body = Bytes::from_static(fixture!("example-apigw-v2-request-no-authorizer"));
        let found = extract(&body).expect("http api request is correlated");
        assert_eq!(found.as_str(), "LV7fzho-PHcEJPw=");
        assert!(points_inside(&body, found.id()));
    }

    #[test]
    fn every_preset_id_without_escapes_is_a_slice_of_the_payload() {
        let bodies: [&'static [u8]; 4] = [
            fixture!("example-apigw-request"),
            fixture!("example-alb-lambda-target-request-multivalue-headers"),
            fixture!("example-sns-event"),
            fixture!("example-s3-event"),
        ];
        for body in bodies {
            let body = Bytes::from_static(body);
            let found = extract(&body).expect("event is correlated");
            assert!(
                points_inside(&body, found.id()),
                "{:?} was copied",
                found.source()
            );
        }
    }

    // --- Events without a correlation id ---

    #[test]
    fn a_payload_that_is_not_json_is_not_correlated() {
        for body in [
            &b""[..],
            b"   ",
            b"not json",
            b"{\"id\":",
            b"\xff\xfe",
            b"{\"Records\":[}",
        ] {
            assert_eq!(found(body), None, "{body:?}");
        }
    }

    #[test]
    fn a_json_value_that_is_not_an_object_is_not_correlated() {
        for body in [&b"[]"[..], b"null", b"42", b"\"id\"", b"true"] {
            assert_eq!(found(body), None, "{body:?}");
        }
        // An AppSync batch resolver receives an array of resolver events.
        let batch = format!(
            "[{}]",
            String::from_utf8_lossy(fixture!("example-appsync-direct-resolver"))
        );
        assert_eq!(found(batch.as_bytes()), None);
        // An array is never read positionally into the probe's fields.
        assert_eq!(found(br#"["2.0", null, "/", "GET"]"#), None);
    }

    #[test]
    fn events_without_a_preset_are_not_correlated() {
        let bodies: [&[u8]; 6] = [
            fixture!("example-cloudformation-custom-resource-create-request"),
            fixture!("example-cloudwatch_logs-event"),
            fixture!("example-appsync-invoke"),
            fixture!("example-appsync-batchinvoke"),
            fixture!("example-apigw-custom-auth-request"),
            b"{}",
        ];
        for body in bodies {
            assert_eq!(found(body), None, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn unexpected_value_types_read_as_absent_instead_of_failing() {
        // `id` is a number and `source` an object: not EventBridge, but still an SQS batch.
        let body = br#"{"id":7,"detail-type":"x","source":{"a":[1,2]},"requestContext":"nope",
            "headers":[1],"Records":[{"eventSource":"aws:sqs","messageId":"m-1","Sns":3}]}"#;
        assert_eq!(found(body), some("m-1", Source::Sqs));
        let body = br#"{"Records":[{"eventSource":"aws:sqs","messageId":null}]}"#;
        assert_eq!(found(body), None);
        let body = br#"{"Records":["aws:sqs",{"eventSource":"aws:sqs","messageId":"m-2"}]}"#;
        assert_eq!(found(body), None);
        let body = br#"{"Records":{"eventSource":"aws:sqs","messageId":"m-2"}}"#;
        assert_eq!(found(body), None);
    }

    #[test]
    fn an_unknown_event_source_in_records_is_not_correlated() {
        let body = edited(fixture!("example-sqs-event"), |event| {
            event["Records"][0]["eventSource"] = json!("aws:kafka");
        });
        assert_eq!(found(&body), None);
    }

    #[test]
    fn a_function_url_is_recognised_by_its_domain_only() {
        assert!(is_function_url("abc.lambda-url.eu-west-2.on.aws"));
        assert!(!is_function_url(".lambda-url.eu-west-2.on.aws"));
        assert!(!is_function_url("abc.lambda-url..on.aws"));
        assert!(!is_function_url("abc.lambda-url.on.aws"));
        assert!(!is_function_url("abc.execute-api.eu-west-2.amazonaws.com"));
        assert!(!is_function_url(""));
    }

    #[test]
    fn found_and_source_read_well_in_logs() {
        let body = Bytes::from_static(fixture!("example-kinesis-event"));
        let found = extract(&body).expect("kinesis batch is correlated");
        assert_eq!(found.source().to_string(), "kinesis");
        assert_eq!(Source::CorrelationHeader.as_str(), "correlation_header");
        assert_eq!(found.clone().into_id(), found.id().clone());
    }

    // --- Pointer ---

    #[test]
    fn a_pointer_reads_a_string_or_a_number() -> Result<(), InvalidPointer> {
        let body = br#"{"detail":{"orderId":"o-42","count":1042,"price":12.5,"big":1e3,"neg":-7,
            "list":["a",{"b":"in-array"}],"a/b":"slash","m~n":"tilde","":"empty-key"}}"#;
        let read = |pointer: &str| Pointer::new(pointer).map(|pointer| pointer.extract(body));
        assert_eq!(read("/detail/orderId")?.as_deref(), Some("o-42"));
        assert_eq!(read("/detail/count")?.as_deref(), Some("1042"));
        assert_eq!(read("/detail/price")?.as_deref(), Some("12.5"));
        assert_eq!(read("/detail/big")?.as_deref(), Some("1000.0"));
        assert_eq!(read("/detail/neg")?.as_deref(), Some("-7"));
        assert_eq!(read("/detail/list/0")?.as_deref(), Some("a"));
        assert_eq!(read("/detail/list/1/b")?.as_deref(), Some("in-array"));
        assert_eq!(read("/detail/a~1b")?.as_deref(), Some("slash"));
        assert_eq!(read("/detail/m~0n")?.as_deref(), Some("tilde"));
        assert_eq!(read("/detail/")?.as_deref(), Some("empty-key"));
        Ok(())
    }

    #[test]
    fn a_pointer_to_a_missing_path_or_another_kind_of_value_reads_nothing()
    -> Result<(), InvalidPointer> {
        let body = br#"{"detail":{"orderId":"","flag":true,"none":null,"obj":{},"list":[1,2]}}"#;
        for pointer in [
            "/detail/missing",
            "/missing/orderId",
            "/detail/orderId/deeper",
            "/detail/orderId",
            "/detail/flag",
            "/detail/none",
            "/detail/obj",
            "/detail/list",
            "/detail/list/2",
            "/detail/list/-",
            "/detail/list/01",
            "/detail/list/+1",
            "",
        ] {
            assert_eq!(Pointer::new(pointer)?.extract(body), None, "{pointer}");
        }
        assert_eq!(Pointer::new("/id")?.extract(b"not json"), None);
        assert_eq!(
            Pointer::new("/id")?.extract(br#"{"id":"x"} trailing"#),
            None
        );
        Ok(())
    }

    #[test]
    fn the_empty_pointer_reads_the_whole_document() -> Result<(), InvalidPointer> {
        assert_eq!(
            Pointer::new("")?.extract(br#""whole""#).as_deref(),
            Some("whole")
        );
        assert_eq!(Pointer::new("")?.extract(b"17").as_deref(), Some("17"));
        Ok(())
    }

    #[test]
    fn an_invalid_pointer_is_rejected_when_built_with_a_clear_message() {
        assert_eq!(
            Pointer::new("detail/orderId"),
            Err(InvalidPointer::MissingLeadingSlash {
                pointer: "detail/orderId".into()
            })
        );
        assert_eq!(
            Pointer::new("detail/orderId").map_err(|error| error.to_string()),
            Err(
                "invalid correlation id pointer `detail/orderId`: a json pointer must be empty \
                 or start with `/`, as in `/detail/orderId`"
                    .into()
            )
        );
        assert_eq!(
            Pointer::new("/a~2b"),
            Err(InvalidPointer::InvalidEscape {
                pointer: "/a~2b".into(),
                offset: 2
            })
        );
        assert_eq!(
            Pointer::new("/a/b~").map_err(|error| error.to_string()),
            Err(
                "invalid correlation id pointer `/a/b~`: `~` at byte 4 must be followed by `0` \
                 (for `~`) or `1` (for `/`)"
                    .into()
            )
        );
        assert!("/ok".parse::<Pointer>().is_ok());
        assert_eq!(
            Pointer::new("/a~1b").map(|pointer| pointer.to_string()),
            Ok("/a~1b".into())
        );
    }

    #[test]
    fn a_pointer_reads_what_serde_json_value_pointer_reads() -> Result<(), InvalidPointer> {
        let bodies: [&[u8]; 4] = [
            fixture!("example-eventbridge-event-obj"),
            fixture!("example-dynamodb-event"),
            fixture!("example-apigw-request"),
            br#"{"a":{"b":1},"a":{"c":"last"},"n":[0.1,1e300,-0.0,18446744073709551615,-9223372036854775808]}"#,
        ];
        let pointers = [
            "/id",
            "/detail/instance-id",
            "/resources/0",
            "/Records/1/dynamodb/SizeBytes",
            "/Records/0/dynamodb/NewImage/asdf2/BS/1",
            "/Records/1/eventID",
            "/requestContext/requestTimeEpoch",
            "/requestContext/authorizer/clientId",
            "/headers/Accept",
            "/multiValueHeaders/Accept/0",
            "/a/b",
            "/a/c",
            "/n/0",
            "/n/1",
            "/n/2",
            "/n/3",
            "/n/4",
        ];
        for body in bodies {
            let value: Value = serde_json::from_slice(body).expect("json");
            for text in pointers {
                let expected = match value.pointer(text) {
                    Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
                    Some(Value::Number(number)) => Some(number.to_string()),
                    _ => None,
                };
                assert_eq!(Pointer::new(text)?.extract(body), expected, "{text}");
            }
        }
        Ok(())
    }

    #[test]
    fn an_overlong_or_unprintable_correlation_header_is_ignored() {
        let base: serde_json::Value =
            serde_json::from_slice(fixture!("example-apigw-v2-request-no-authorizer")).unwrap();
        for bad in [
            "x".repeat(MAX_HEADER_ID_LEN + 1),
            "two words".to_owned(),
            "line\nbreak".to_owned(),
        ] {
            let mut event = base.clone();
            event["headers"]["x-correlation-id"] = serde_json::Value::String(bad);
            let body = Bytes::from(serde_json::to_vec(&event).unwrap());
            let found = extract(&body).unwrap();
            assert_eq!(found.source(), Source::ApiGatewayHttp);
        }
    }
}
