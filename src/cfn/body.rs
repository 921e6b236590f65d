//! The answer's JSON body, within the 4096 bytes CloudFormation accepts.

use crate::error::codes;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::request::Ids;
use crate::json_escape::escaped_len;

/// The largest answer CloudFormation accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 4096;

/// What stands in for each `Data` value in logs when `NoEcho` is set.
const MASK: &str = "*****";

/// Ends a `Reason` that was cut to fit.
const TRUNCATED: &str = " [truncated]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Success,
    Failed,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The body of the PUT, in the order CloudFormation's documentation lists the fields.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Body {
    pub(crate) status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    pub(crate) physical_resource_id: String,
    pub(crate) stack_id: String,
    pub(crate) request_id: String,
    pub(crate) logical_resource_id: String,
    pub(crate) no_echo: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<Map<String, Value>>,
}

impl Body {
    pub(crate) fn new(status: Status, physical_resource_id: String, ids: &Ids) -> Self {
        Self {
            status,
            reason: None,
            physical_resource_id,
            stack_id: ids.stack_id.clone(),
            request_id: ids.request_id.clone(),
            logical_resource_id: ids.logical_resource_id.clone(),
            no_echo: false,
            data: None,
        }
    }

    /// The body as it will be sent: a `FAILED` reason points at the log stream, and the whole
    /// fits in [`MAX_BODY_BYTES`] (the reason is cut first; `Data` that cannot fit turns the
    /// answer into `FAILED`).
    pub(crate) fn finish(mut self, log_stream: &str) -> Self {
        // A panic's message or a validation's may hold a secret the handler read.
        if let Some(reason) = &mut self.reason {
            crate::logging::mask_text(reason);
        }
        let suffix = if log_stream.is_empty() {
            String::new()
        } else {
            format!(" (CloudWatch log stream {log_stream})")
        };
        if self.len() + suffix.len() <= MAX_BODY_BYTES || self.reason.is_none() {
            if let Some(reason) = &mut self.reason {
                reason.push_str(&suffix);
            }
            if self.len() <= MAX_BODY_BYTES {
                return self;
            }
        }
        if let Some(reason) = self.reason.take() {
            // Without its reason the body is this long; the reason gets what is left.
            self.reason = Some(String::new());
            let room = MAX_BODY_BYTES.saturating_sub(self.len() + escaped_len(&suffix));
            if room >= TRUNCATED.len() {
                let mut reason = truncate(&reason, room - TRUNCATED.len());
                reason.push_str(TRUNCATED);
                reason.push_str(&suffix);
                self.reason = Some(reason);
                return self;
            }
            self.reason = Some(reason);
        }
        if let Some(data) = self.data.take() {
            let data_bytes = serde_json::to_vec(&data).map_or(0, |bytes| bytes.len());
            let reason = format!(
                "the handler's Data is {data_bytes} bytes as JSON, too large for the {MAX_BODY_BYTES}-byte answer CloudFormation accepts; return less Data"
            );
            tracing::error!(
                error_type = codes::INVALID_CUSTOM_RESOURCE_ANSWER,
                "{reason}"
            );
            self.status = Status::Failed;
            self.reason = Some(reason);
            return self.finish(log_stream);
        }
        // Only ids CloudFormation sent are left, and they always fit.
        self
    }

    /// The serialized length in bytes.
    fn len(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |bytes| bytes.len())
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings, booleans and JSON values always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The body with each `Data` value replaced by `*****` when `NoEcho` is set: what helve
    /// logs and returns.
    pub(crate) fn masked(&self) -> Self {
        let mut masked = self.clone();
        if masked.no_echo
            && let Some(data) = &mut masked.data
        {
            for value in data.values_mut() {
                *value = Value::String(MASK.to_owned());
            }
        }
        masked
    }
}

/// The longest prefix of `text` (on a character boundary) that takes at most `room` bytes in a
/// JSON string.
fn truncate(text: &str, room: usize) -> String {
    let mut used = 0;
    let mut end = 0;
    for (index, c) in text.char_indices() {
        let len = escaped_len(c.encode_utf8(&mut [0; 4]));
        if used + len > room {
            break;
        }
        used += len;
        end = index + c.len_utf8();
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Ids {
        Ids {
            stack_id: "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop/1a2b".to_owned(),
            request_id: "5e0c1c5f-1234-4f3a-9d6e-0123456789ab".to_owned(),
            logical_resource_id: "Schema".to_owned(),
        }
    }

    #[test]
    fn a_long_reason_is_cut_to_fit_and_keeps_the_log_stream() {
        let mut body = Body::new(Status::Failed, "id".to_owned(), &ids());
        body.reason = Some("é\"\n".repeat(2000));
        let body = body.finish("2026/11/23/[$LATEST]abc");
        let bytes = body.to_bytes();
        assert!(bytes.len() <= MAX_BODY_BYTES, "{} bytes", bytes.len());
        assert!(
            bytes.len() > MAX_BODY_BYTES - 8,
            "the reason uses the room it has"
        );
        let reason = body.reason.unwrap();
        assert!(reason.ends_with(" [truncated] (CloudWatch log stream 2026/11/23/[$LATEST]abc)"));
        assert!(reason.starts_with("é\"\n"));
    }

    #[test]
    fn a_short_reason_is_sent_whole_with_the_log_stream() {
        let mut body = Body::new(Status::Failed, "id".to_owned(), &ids());
        body.reason = Some("the migration failed".to_owned());
        let body = body.finish("stream-1");
        assert_eq!(
            body.reason.as_deref(),
            Some("the migration failed (CloudWatch log stream stream-1)")
        );
    }

    #[test]
    fn data_too_large_to_fit_answers_failed_without_it() {
        let mut body = Body::new(Status::Success, "orders-schema".to_owned(), &ids());
        let mut data = Map::new();
        data.insert("Blob".to_owned(), Value::String("x".repeat(5000)));
        body.data = Some(data);
        let body = body.finish("");
        assert_eq!(body.status, Status::Failed);
        assert!(body.data.is_none());
        assert_eq!(body.physical_resource_id, "orders-schema");
        assert_eq!(
            body.reason.as_deref(),
            Some(
                "the handler's Data is 5011 bytes as JSON, too large for the 4096-byte answer CloudFormation accepts; return less Data"
            )
        );
        assert!(body.to_bytes().len() <= MAX_BODY_BYTES);
    }

    #[test]
    fn data_that_fits_is_kept() {
        let mut body = Body::new(Status::Success, "id".to_owned(), &ids());
        let mut data = Map::new();
        data.insert("Blob".to_owned(), Value::String("x".repeat(3500)));
        body.data = Some(data);
        let body = body.finish("");
        assert_eq!(body.status, Status::Success);
        assert!(body.data.is_some());
    }

    #[test]
    fn no_echo_masks_every_data_value() {
        let mut body = Body::new(Status::Success, "id".to_owned(), &ids());
        body.no_echo = true;
        let mut data = Map::new();
        data.insert("Password".to_owned(), Value::String("hunter2".to_owned()));
        body.data = Some(data);
        let masked = serde_json::to_value(body.masked()).unwrap();
        assert_eq!(masked["Data"], serde_json::json!({"Password": "*****"}));
        assert_eq!(
            body.data.unwrap()["Password"],
            "hunter2",
            "the sent body keeps it"
        );
    }
}
