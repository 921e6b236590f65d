//! Any bytes as a raw event: what helve reads before decoding it.
//!
//! - The redacted event shows no value under a secret key, at any depth, in JSON held in
//!   strings, or in a `rawQueryString` parameter; a payload that is not JSON is described,
//!   never shown.
//! - The correlation id a preset finds is a non-empty string, the value at that preset's
//!   documented path of the event (read again with `serde_json`); a caller's header id is 1 to
//!   256 bytes of visible ASCII.
//! - Through helve's whole stack with event logging on: the handler sees the correlation id
//!   the presets found (cut to 256 bytes) or the request id; every log line is one JSON object
//!   under the line limit, with that correlation id; the logged event shows no secret.
#![no_main]

use bytes::Bytes;
use helve::{
    Context,
    correlation::{self, Preset},
    layers::MAX_CORRELATION_ID_BYTES,
    logging::redact::Redactor,
};
use helve_fuzz::{Strict, exposed_secrets, lines, one_object};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

async fn correlation_id(_event: Value, ctx: Context) -> Result<String, helve::Error> {
    Ok(ctx.correlation_id().to_owned())
}

fuzz_target!(|data: &[u8]| {
    helve_fuzz::init();
    let redactor = Redactor::default();

    // Redaction, as the event layer does it for the log.
    let redacted = redactor.redact_event(data);
    let json = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let parsed = serde_json::from_slice::<Value>(json).ok();
    if parsed.is_none() {
        assert_eq!(
            redacted,
            Value::String(format!("<{} bytes, not JSON>", data.len()))
        );
    }
    let mut found = Vec::new();
    exposed_secrets(&redactor, &redacted, "", &mut found);
    assert!(found.is_empty(), "secrets shown after redaction: {found:?}");

    // The presets.
    let body = Bytes::copy_from_slice(data);
    let preset = correlation::extract(&body);
    if let Some(found) = &preset {
        let id = found.as_str();
        assert!(
            !id.is_empty(),
            "an empty correlation id from {:?}",
            found.source()
        );
        assert_eq!(id.as_bytes(), &found.id()[..]);
        if found.source() == Preset::CorrelationHeader {
            assert!(id.len() <= correlation::MAX_HEADER_ID_LEN);
            assert!(id.bytes().all(|byte| byte.is_ascii_graphic()), "{id:?}");
        }
        // Read again, strictly (with a key twice, serde_json's Value keeps the last one).
        if let Ok(Strict(event)) = serde_json::from_slice::<Strict>(data) {
            let at = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
            let expected = match found.source() {
                Preset::EventBridge => at("/id"),
                Preset::Sqs => at("/Records/0/messageId"),
                Preset::Sns => at("/Records/0/Sns/MessageId"),
                Preset::S3 => at("/Records/0/responseElements/x-amz-request-id"),
                Preset::Kinesis | Preset::DynamoDb => at("/Records/0/eventID"),
                Preset::S3ObjectLambda => at("/xAmzRequestId"),
                Preset::ApiGatewayRest
                | Preset::ApiGatewayHttp
                | Preset::ApiGatewayWebSocket
                | Preset::FunctionUrl
                | Preset::AppSyncAuthorizer => at("/requestContext/requestId"),
                _ => Some(id),
            };
            assert_eq!(expected, Some(id), "{:?} found {id:?}", found.source());
        }
    }

    // The whole stack, with the event logged.
    let env = [("POWERTOOLS_LOGGER_LOG_EVENT", "true")];
    let invoked =
        helve::__fuzz::invoke(correlation_id, data, &Default::default(), &env).expect("settings");
    let Ok(response) = &invoked.response else {
        // Not JSON: lambda_runtime's own error, nothing logged by helve.
        assert!(
            parsed.is_none() || json.len() != data.len(),
            "{:?}",
            invoked.response
        );
        return;
    };
    let id = response.as_str().expect("the handler's string");
    assert!(
        !id.is_empty() && id.len() <= MAX_CORRELATION_ID_BYTES,
        "{id:?}"
    );
    let from_caller = correlation::from_caller(data, None);
    match (&from_caller, &preset) {
        (Some(caller), _) => assert_eq!(id.as_bytes(), &caller[..]),
        (None, Some(found)) => {
            let found = found.as_str();
            assert!(
                found.starts_with(id),
                "{id:?} is not the start of {found:?}"
            );
            assert!(found.len() > MAX_CORRELATION_ID_BYTES || found == id);
        }
        (None, None) => assert_eq!(id, helve::__fuzz::REQUEST_ID),
    }
    let mut logged_event = false;
    for line in lines(&invoked.logs) {
        assert!(
            line.len() < helve::__fuzz::MAX_LOG_LINE_BYTES,
            "a line of {} bytes",
            line.len()
        );
        let object = one_object(line)
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(line)));
        assert_eq!(
            object.get("correlation_id").and_then(Value::as_str),
            Some(id)
        );
        if object.get("message").and_then(Value::as_str) == Some("incoming event") {
            logged_event = true;
            if let Some(event) = object.get("event") {
                let mut found = Vec::new();
                exposed_secrets(&redactor, event, "", &mut found);
                assert!(found.is_empty(), "secrets in the logged event: {found:?}");
            } else {
                assert!(object.contains_key("event_start"), "{object:?}");
            }
        }
    }
    assert!(logged_event, "the event was not logged");
});
