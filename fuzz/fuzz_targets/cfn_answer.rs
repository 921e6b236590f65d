//! The custom resource request reader, on any bytes as the raw event: what helve answers
//! CloudFormation, and where.
//!
//! - A request that is JSON with a top-level text `ResponseURL` is always answered, at that
//!   URL, whatever else it holds (properties that do not decode, a missing id, an unknown
//!   type); one that is not JSON is answered whenever a top-level `ResponseURL` can be read.
//! - Every answer is one JSON object CloudFormation takes: `Status` `SUCCESS` or `FAILED`, a
//!   non-empty `PhysicalResourceId`, `StackId`, `RequestId` and `LogicalResourceId` as text
//!   (the request's own when it has them), a `Reason` on FAILED, and at most 4,096 bytes
//!   whenever the ids it repeats fit in 2,048 (CloudFormation's own are far shorter: an ARN,
//!   a UUID, a logical id of at most 255 characters, a physical id of at most 1,024; a request
//!   with longer ones is not CloudFormation's, and its ids cannot be cut).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let answer = helve::__fuzz::cfn_answer(data);
    // Read independently of helve: a JSON object and its top-level `ResponseURL`.
    let strict = serde_json::from_slice::<Value>(data).ok();
    let strict_url = strict
        .as_ref()
        .and_then(|event| event.get("ResponseURL"))
        .and_then(Value::as_str);
    if let Some(url) = strict_url {
        let (to, _) = answer
            .as_ref()
            .unwrap_or_else(|| panic!("a request with a ResponseURL was not answered"));
        assert_eq!(to, url, "answered somewhere else");
    }
    let Some((_, body)) = answer else {
        return;
    };
    let bytes = body.len();
    let body: Value = serde_json::from_slice(&body).expect("the answer is JSON");
    let ids: usize = [
        "PhysicalResourceId",
        "StackId",
        "RequestId",
        "LogicalResourceId",
    ]
    .iter()
    .map(|field| body[*field].to_string().len())
    .sum();
    if ids <= 2048 {
        assert!(
            bytes <= 4096,
            "an answer of {bytes} bytes, {ids} of them ids"
        );
    }
    let status = body["Status"].as_str().expect("a Status");
    assert!(status == "SUCCESS" || status == "FAILED", "Status {status}");
    if status == "FAILED" {
        assert!(
            body["Reason"].is_string(),
            "a FAILED answer says why: {body}"
        );
    }
    let physical = body["PhysicalResourceId"]
        .as_str()
        .expect("a PhysicalResourceId");
    assert!(!physical.is_empty(), "an empty PhysicalResourceId");
    for field in ["StackId", "RequestId", "LogicalResourceId"] {
        assert!(body[field].is_string(), "{field} is not text: {body}");
        if let Some(Value::String(given)) = strict.as_ref().and_then(|event| event.get(field)) {
            assert_eq!(&body[field], given, "{field} is not the request's");
        }
    }
});
