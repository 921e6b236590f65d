//! The built-in presets, one per event source, that find an event's correlation id.
//!
//! The probe structs below borrow strings from the payload and skip every other value. Every
//! field is lenient: a value of an unexpected JSON type reads as absent instead of failing the
//! whole probe, so one odd field never hides a preset that would have matched.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::lenient::{First, Headers, Obj, Str};
use super::{MAX_HEADER_ID_LEN, Preset};

/// A caller's `x-correlation-id` is taken when it is 1 to [`MAX_HEADER_ID_LEN`] bytes of
/// visible ASCII; otherwise the event's own preset applies.
fn acceptable_header_id(id: &str) -> bool {
    (1..=MAX_HEADER_ID_LEN).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_graphic())
}

/// The top-level fields any preset looks at.
#[derive(Deserialize)]
pub(super) struct Event<'a> {
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

impl<'a> Event<'a> {
    /// The fields of `body` the presets look at; `None` when `body` is not a JSON object.
    pub(super) fn read(body: &'a [u8]) -> Option<Self> {
        let Obj(Some(event)) = serde_json::from_slice::<Obj<Event<'a>>>(body).ok()? else {
            return None;
        };
        Some(event)
    }

    /// The correlation id and its preset, by the presets described in the
    /// [module docs](super), first match wins.
    pub(super) fn correlation(&self) -> Option<(&str, Preset)> {
        self.request_kind()
            .and_then(|kind| self.request_correlation(kind))
            .or_else(|| self.event_bridge())
            .or_else(|| self.appsync_resolver())
            .or_else(|| Some((self.x_amz_request_id.get()?, Preset::S3ObjectLambda)))
            .or_else(|| self.first_record())
    }

    /// Which kind of request this is, for the events described by a `requestContext` or by
    /// HTTP fields.
    fn request_kind(&self) -> Option<Preset> {
        let context = self.request_context.0.as_ref();
        if let Some(context) = context {
            if context.elb.is_some() {
                return Some(Preset::Alb);
            }
            if context.service_network_arn.is_some() || context.service_arn.is_some() {
                return Some(Preset::VpcLattice);
            }
        }
        if self.raw_path.is_some() && self.method.is_some() {
            return Some(Preset::VpcLattice);
        }
        let context = context?;
        let version = self.version.get();
        if version == Some("2.0") && self.route_key.is_some() {
            return Some(if context.domain_name.get().is_some_and(is_function_url) {
                Preset::FunctionUrl
            } else {
                Preset::ApiGatewayHttp
            });
        }
        if context.connection_id.is_some() && context.event_type.is_some() {
            return Some(Preset::ApiGatewayWebSocket);
        }
        if self.resource.is_some() || self.http_method.is_some() {
            // HTTP APIs send payload 1.0 in the REST shape, with a `version`.
            return Some(if version == Some("1.0") {
                Preset::ApiGatewayHttp
            } else {
                Preset::ApiGatewayRest
            });
        }
        if self.authorization_token.is_some() {
            return Some(Preset::AppSyncAuthorizer);
        }
        None
    }

    fn request_correlation(&self, kind: Preset) -> Option<(&str, Preset)> {
        if kind.honours_correlation_header() {
            let header = self.headers.correlation.as_deref();
            if let Some(id) = header.or(self.multi_value_headers.correlation.as_deref()) {
                // The caller chooses this value and it goes on every log line (and back in a
                // response header): only a short, printable id is taken.
                if acceptable_header_id(id) {
                    return Some((id, Preset::CorrelationHeader));
                }
            }
        }
        let id = match kind {
            Preset::Alb | Preset::VpcLattice => {
                let header = self.headers.trace.as_deref();
                header.or(self.multi_value_headers.trace.as_deref())
            }
            _ => self.request_context.0.as_ref()?.request_id.get(),
        };
        Some((id?, kind))
    }

    fn event_bridge(&self) -> Option<(&str, Preset)> {
        if self.detail_type.is_some() && self.source.is_some() {
            Some((self.id.get()?, Preset::EventBridge))
        } else {
            None
        }
    }

    fn appsync_resolver(&self) -> Option<(&str, Preset)> {
        let request = self.request.0.as_ref()?;
        Some((request.headers.trace.as_deref()?, Preset::AppSyncResolver))
    }

    fn first_record(&self) -> Option<(&str, Preset)> {
        let record = self.records.0.as_ref()?;
        match record.event_source.get() {
            Some("aws:sqs") => Some((record.message_id.get()?, Preset::Sqs)),
            Some("aws:s3") => {
                let elements = record.response_elements.0.as_ref()?;
                Some((elements.request_id.get()?, Preset::S3))
            }
            Some("aws:kinesis") => Some((record.event_id.get()?, Preset::Kinesis)),
            Some("aws:dynamodb") => Some((record.event_id.get()?, Preset::DynamoDb)),
            _ if record.event_source_sns.get() == Some("aws:sns") => {
                let message = record.sns.0.as_ref()?;
                Some((message.message_id.get()?, Preset::Sns))
            }
            _ => None,
        }
    }
}

/// Whether `domain` is a Function URL's: `<url-id>.lambda-url.<region>.on.aws`.
pub(super) fn is_function_url(domain: &str) -> bool {
    domain
        .strip_suffix(".on.aws")
        .and_then(|rest| rest.rsplit_once('.'))
        .and_then(|(rest, region)| (!region.is_empty()).then_some(rest))
        .and_then(|rest| rest.strip_suffix(".lambda-url"))
        .is_some_and(|url_id| !url_id.is_empty())
}
