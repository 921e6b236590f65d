//! The same subsegments as OpenTelemetry spans (`export = "otlp"`): an OTLP
//! `ExportTraceServiceRequest` in protobuf, base64-encoded after `T1S`, sent to the daemon's
//! socket as AWS's OpenTelemetry distributions do inside Lambda, one span per datagram. Only
//! OpenTelemetry's semantic conventions become attributes (`faas.*`, `cloud.*`, `rpc.*`,
//! `aws.*`, `http.*`, `service.name`); span fields, annotations and metadata stay in X-Ray
//! documents.
//!
//! The messages, from `opentelemetry/proto/trace/v1/trace.proto`, `common/v1/common.proto`
//! and `collector/trace/v1/trace_service.proto`, are written field by field: a handful of
//! nested messages do not justify a protobuf code generator in every function's build.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::document::Subsegment;
use crate::json_escape::truncated;

/// The longest text kept in a span's name or an attribute, so that a span always fits in a
/// datagram after base64.
const MAX_TEXT: usize = 4 * 1024;

/// What precedes the base64 of a sampled span batch.
pub(crate) const SAMPLED_PREFIX: &[u8] = b"T1S";

/// `Span.SpanKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// The resource of every span a function sends: `service.name`, `cloud.*` and `faas.*` of
/// the function, encoded once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resource(Vec<u8>);

impl Resource {
    /// The resource of the function `lookup` describes (Lambda's variables).
    pub(crate) fn new(service: &str, lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let mut attributes = Vec::new();
        string_attribute(&mut attributes, "service.name", service);
        string_attribute(&mut attributes, "cloud.provider", "aws");
        string_attribute(&mut attributes, "cloud.platform", "aws_lambda");
        for (key, variable) in [
            ("cloud.region", "AWS_REGION"),
            ("faas.name", "AWS_LAMBDA_FUNCTION_NAME"),
            ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION"),
        ] {
            if let Some(value) = lookup(variable).filter(|value| !value.is_empty()) {
                string_attribute(&mut attributes, key, &value);
            }
        }
        // `faas.max_memory` is in bytes.
        if let Some(bytes) = lookup("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .and_then(|memory| memory.trim().parse::<u32>().ok())
            .map(|megabytes| i64::from(megabytes) * 1024 * 1024)
        {
            int_attribute(&mut attributes, "faas.max_memory", bytes);
        }
        // Written as a span's attributes (field 9); a resource's are field 1.
        Self(retagged(&attributes, 1))
    }
}

/// What the invocation's own span adds to a subsegment: OpenTelemetry's `faas.*` attributes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invocation<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) cold_start: bool,
}

/// Appends to `out` the datagram's body for `subsegment`: `T1S` and the base64 of an
/// `ExportTraceServiceRequest` holding it as one span.
pub(crate) fn write_datagram(
    out: &mut Vec<u8>,
    resource: &Resource,
    subsegment: &Subsegment<'_>,
    kind: Kind,
    invocation: Option<Invocation<'_>>,
) {
    let request = export_request(resource, subsegment, kind, invocation);
    out.extend_from_slice(SAMPLED_PREFIX);
    let start = out.len();
    out.resize(
        start + base64::encoded_len(request.len(), true).unwrap_or(0),
        0,
    );
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(&request, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
}

/// The `ExportTraceServiceRequest` of one span.
pub(crate) fn export_request(
    resource: &Resource,
    subsegment: &Subsegment<'_>,
    kind: Kind,
    invocation: Option<Invocation<'_>>,
) -> Vec<u8> {
    let span = span(subsegment, kind, invocation);
    let mut scope = Vec::new();
    string_field(&mut scope, 1, "helve");
    string_field(&mut scope, 2, env!("CARGO_PKG_VERSION"));
    let mut scope_spans = Vec::new();
    message_field(&mut scope_spans, 1, &scope);
    message_field(&mut scope_spans, 2, &span);
    let mut resource_message = Vec::new();
    resource_message.extend_from_slice(&resource.0);
    let mut resource_spans = Vec::new();
    message_field(&mut resource_spans, 1, &resource_message);
    message_field(&mut resource_spans, 2, &scope_spans);
    let mut request = Vec::with_capacity(resource_spans.len() + 8);
    message_field(&mut request, 1, &resource_spans);
    request
}

/// One `Span`.
fn span(subsegment: &Subsegment<'_>, kind: Kind, invocation: Option<Invocation<'_>>) -> Vec<u8> {
    let mut span = Vec::with_capacity(256);
    bytes_field(&mut span, 1, &trace_id(subsegment.trace_id));
    bytes_field(&mut span, 2, &span_id(subsegment.id.as_str()));
    if !subsegment.parent_id.is_empty() {
        bytes_field(&mut span, 4, &span_id(subsegment.parent_id));
    }
    string_field(&mut span, 5, truncated(subsegment.name, MAX_TEXT));
    varint_field(&mut span, 6, kind as u64);
    fixed64_field(&mut span, 7, unix_nanos(subsegment.start));
    fixed64_field(
        &mut span,
        8,
        unix_nanos(subsegment.end.max(subsegment.start)),
    );
    let mut attributes = Vec::new();
    if let Some(invocation) = invocation {
        bool_attribute(&mut attributes, "faas.coldstart", invocation.cold_start);
        string_attribute(&mut attributes, "faas.invocation_id", invocation.request_id);
    }
    if subsegment.namespace == Some("aws") {
        string_attribute(&mut attributes, "rpc.system", "aws-api");
        string_attribute(&mut attributes, "rpc.service", subsegment.name);
    }
    if let Some(operation) = subsegment.aws.operation {
        string_attribute(&mut attributes, "rpc.method", operation);
    }
    if let Some(region) = subsegment.aws.region {
        string_attribute(&mut attributes, "cloud.region", region);
    }
    if let Some(request_id) = subsegment.aws.request_id {
        string_attribute(&mut attributes, "aws.request_id", request_id);
    }
    if let Some(status) = subsegment.http_status {
        int_attribute(
            &mut attributes,
            "http.response.status_code",
            i64::from(status),
        );
    }
    // Each attribute is a `KeyValue` message of `attributes = 9`, already framed.
    span.extend_from_slice(&attributes);
    if let Some(cause) = subsegment.cause {
        let mut event_attributes = Vec::new();
        string_attribute(&mut event_attributes, "exception.type", cause.kind);
        string_attribute(&mut event_attributes, "exception.message", cause.message);
        let mut event = Vec::new();
        fixed64_field(
            &mut event,
            1,
            unix_nanos(subsegment.end.max(subsegment.start)),
        );
        string_field(&mut event, 2, "exception");
        event.extend_from_slice(&retagged(&event_attributes, 3));
        message_field(&mut span, 11, &event);
    }
    let status_code =
        subsegment.fault || subsegment.http_status.is_some_and(|status| status >= 500);
    if status_code {
        let mut status = Vec::new();
        if let Some(cause) = subsegment.cause {
            string_field(&mut status, 2, truncated(cause.message, MAX_TEXT));
        }
        // `STATUS_CODE_ERROR`.
        varint_field(&mut status, 3, 2);
        message_field(&mut span, 15, &status);
    }
    span
}

/// The 16 bytes of an X-Ray trace id `1-{8 hex}-{24 hex}`: its epoch and random part.
fn trace_id(trace_id: &str) -> [u8; 16] {
    let mut bytes = [0; 16];
    let hex: Vec<u8> = trace_id
        .strip_prefix("1-")
        .unwrap_or(trace_id)
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .collect();
    decode_hex(&hex, &mut bytes);
    bytes
}

/// The 8 bytes of a 16-hex-digit span id.
fn span_id(id: &str) -> [u8; 8] {
    let mut bytes = [0; 8];
    decode_hex(id.as_bytes(), &mut bytes);
    bytes
}

fn decode_hex(hex: &[u8], out: &mut [u8]) {
    let value = |digit: u8| match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    };
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (value(pair[0]) << 4) | value(pair[1]);
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    })
}

// Protobuf's wire format: a key (field number and wire type) then the value.

fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, 0);
    varint(out, value);
}

fn fixed64_field(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, 1);
    out.extend_from_slice(&value.to_le_bytes());
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn string_field(out: &mut Vec<u8>, field: u32, text: &str) {
    bytes_field(out, field, text.as_bytes());
}

fn message_field(out: &mut Vec<u8>, field: u32, message: &[u8]) {
    bytes_field(out, field, message);
}

/// A `KeyValue` as field 9 (a span's attributes; a resource's are field 1, see [`retagged`]).
fn attribute(out: &mut Vec<u8>, name: &str, any_value: &[u8]) {
    let mut key_value = Vec::with_capacity(name.len() + any_value.len() + 4);
    string_field(&mut key_value, 1, name);
    message_field(&mut key_value, 2, any_value);
    message_field(out, 9, &key_value);
}

fn string_attribute(out: &mut Vec<u8>, name: &str, value: &str) {
    let value = truncated(value, MAX_TEXT);
    let mut any = Vec::with_capacity(value.len() + 2);
    string_field(&mut any, 1, value);
    attribute(out, name, &any);
}

fn bool_attribute(out: &mut Vec<u8>, name: &str, value: bool) {
    let mut any = Vec::new();
    varint_field(&mut any, 2, u64::from(value));
    attribute(out, name, &any);
}

fn int_attribute(out: &mut Vec<u8>, name: &str, value: i64) {
    let mut any = Vec::new();
    varint_field(&mut any, 3, value as u64);
    attribute(out, name, &any);
}

/// Attributes written as field 9 (a span's), renumbered as field `field` (a resource's are
/// 1, an event's 3): the field number is the key's only varint byte (`9 << 3 | 2` = 74).
fn retagged(attributes: &[u8], field: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(attributes.len());
    let mut rest = attributes;
    while let Some((&tag, after)) = rest.split_first() {
        debug_assert_eq!(tag, (9 << 3) | 2);
        let (len, after) = read_varint(after);
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(after.len());
        let (body, after) = after.split_at(len);
        message_field(&mut out, field, body);
        rest = after;
    }
    out
}

fn read_varint(bytes: &[u8]) -> (u64, &[u8]) {
    let mut value = 0;
    for (index, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return (value, bytes.get(index + 1..).unwrap_or_default());
        }
    }
    (value, &[])
}
