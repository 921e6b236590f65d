//! The subsegment document, as AWS's segment document schema gives it: one independent
//! subsegment per datagram, at most 64 KB.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{
    context::SegmentId,
    json_escape::{escape_into, truncated},
};

/// The most a document may be: one UDP datagram to the daemon, header included (65,535
/// bytes of IPv4 less its IP and UDP headers).
pub(crate) const MAX_DATAGRAM: usize = 65_507;

/// What precedes each document sent to the daemon.
pub(crate) const DAEMON_HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

/// The most a document may be, after the daemon's header.
pub(crate) const MAX_DOCUMENT: usize = MAX_DATAGRAM - DAEMON_HEADER.len();

/// The longest error message kept in a `cause`.
const MAX_MESSAGE: usize = 4 * 1024;

/// The longest value kept in the `aws` object.
const MAX_AWS_FIELD: usize = 256;

/// The `aws` object of a subsegment for an AWS SDK call.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Aws<'a> {
    pub(crate) operation: Option<&'a str>,
    pub(crate) region: Option<&'a str>,
    pub(crate) request_id: Option<&'a str>,
}

/// An error recorded as the subsegment's `cause`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cause<'a> {
    pub(crate) kind: &'a str,
    pub(crate) message: &'a str,
}

/// One metadata namespace: its name and its members (`"key":value,` each).
pub(crate) type Namespace<'a> = (&'a str, &'a [u8]);

/// One subsegment, ready to be written.
#[derive(Debug)]
pub(crate) struct Subsegment<'a> {
    pub(crate) name: &'a str,
    pub(crate) id: SegmentId,
    pub(crate) trace_id: &'a str,
    pub(crate) parent_id: &'a str,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    /// `aws` for an AWS SDK call, `remote` for another downstream call.
    pub(crate) namespace: Option<&'static str>,
    pub(crate) aws: Aws<'a>,
    pub(crate) http_status: Option<u16>,
    /// Set for an error or a panic; a 5xx status sets it too.
    pub(crate) fault: bool,
    pub(crate) cause: Option<Cause<'a>>,
    /// Members of the `annotations` object (`"key":value,` each).
    pub(crate) annotations: &'a [u8],
    pub(crate) metadata: &'a [Namespace<'a>],
}

impl Subsegment<'_> {
    /// Appends the document to `out`, leaving out metadata, then annotations, when the whole
    /// would not fit in a datagram; what was left out is said in the document's `default`
    /// metadata.
    /// Appends the document whole, whatever its size: to measure it.
    pub(crate) fn write_whole(&self, out: &mut Vec<u8>) {
        self.write_with(out, self.annotations, self.metadata);
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        self.write_with(out, self.annotations, self.metadata);
        let bytes = out.len() - start;
        if bytes <= MAX_DOCUMENT {
            return;
        }
        out.truncate(start);
        let note = left_out(
            bytes,
            "the subsegment's metadata was left out to fit the 64 KB document",
        );
        self.write_with(out, self.annotations, &[("default", &note)]);
        if out.len() - start <= MAX_DOCUMENT {
            return;
        }
        out.truncate(start);
        let note = left_out(
            bytes,
            "the subsegment's annotations and metadata were left out to fit the 64 KB document",
        );
        self.write_with(out, &[], &[("default", &note)]);
    }

    fn write_with(&self, out: &mut Vec<u8>, annotations: &[u8], metadata: &[Namespace<'_>]) {
        out.extend_from_slice(b"{\"name\":\"");
        escape_into(out, &valid_name(self.name));
        out.extend_from_slice(b"\",\"id\":\"");
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(b"\",\"trace_id\":\"");
        escape_into(out, self.trace_id);
        out.extend_from_slice(b"\",\"parent_id\":\"");
        escape_into(out, self.parent_id);
        out.extend_from_slice(b"\",\"type\":\"subsegment\",\"start_time\":");
        write_time(out, self.start);
        out.extend_from_slice(b",\"end_time\":");
        write_time(out, self.end.max(self.start));
        if let Some(namespace) = self.namespace {
            out.extend_from_slice(b",\"namespace\":\"");
            out.extend_from_slice(namespace.as_bytes());
            out.push(b'"');
        }
        let aws = [
            ("operation", self.aws.operation),
            ("region", self.aws.region),
            ("request_id", self.aws.request_id),
        ]
        .map(|(key, value)| (key, value.map(|value| truncated(value, MAX_AWS_FIELD))));
        if aws.iter().any(|(_, value)| value.is_some()) {
            out.extend_from_slice(b",\"aws\":{");
            let members = aws
                .iter()
                .filter_map(|(key, value)| value.map(|value| (key, value)));
            for (index, (key, value)) in members.enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":\"");
                escape_into(out, value);
                out.push(b'"');
            }
            out.push(b'}');
        }
        let status = self.http_status.unwrap_or(0);
        if let Some(status) = self.http_status {
            out.extend_from_slice(b",\"http\":{\"response\":{\"status\":");
            let _ = std::io::Write::write_fmt(out, format_args!("{status}"));
            out.extend_from_slice(b"}}");
        }
        if self.fault || status >= 500 {
            out.extend_from_slice(b",\"fault\":true");
        } else if (400..500).contains(&status) {
            out.extend_from_slice(b",\"error\":true");
            if status == 429 {
                out.extend_from_slice(b",\"throttle\":true");
            }
        }
        if let Some(cause) = self.cause {
            out.extend_from_slice(b",\"cause\":{\"exceptions\":[{\"id\":\"");
            out.extend_from_slice(&SegmentId::random().0);
            out.extend_from_slice(b"\",\"message\":\"");
            escape_into(out, truncated(cause.message, MAX_MESSAGE));
            out.extend_from_slice(b"\",\"type\":\"");
            escape_into(out, truncated(cause.kind, MAX_MESSAGE));
            out.extend_from_slice(b"\"}]}");
        }
        if !annotations.is_empty() {
            out.extend_from_slice(b",\"annotations\":");
            write_object(out, annotations);
        }
        let mut namespaces = metadata.iter().filter(|(_, members)| !members.is_empty());
        if let Some(first) = namespaces.next() {
            out.extend_from_slice(b",\"metadata\":{");
            for (index, (namespace, members)) in
                std::iter::once(first).chain(namespaces).enumerate()
            {
                if index > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                escape_into(out, namespace);
                out.extend_from_slice(b"\":");
                write_object(out, members);
            }
            out.push(b'}');
        }
        out.push(b'}');
    }
}

/// The `default` metadata member saying what was left out of a document of `bytes` bytes.
fn left_out(bytes: usize, what: &str) -> Vec<u8> {
    format!("\"helve\":\"{what} (it was {bytes} bytes)\",").into_bytes()
}

/// A name X-Ray takes: at most 200 characters of letters, digits, whitespace and
/// `_ . : / % & # = + \ - @`, others written `_`.
pub(crate) fn valid_name(name: &str) -> std::borrow::Cow<'_, str> {
    const MAX_NAME: usize = 200;
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(c);
    if name.chars().count() <= MAX_NAME && name.chars().all(allowed) {
        return std::borrow::Cow::Borrowed(name);
    }
    let name: String = name
        .chars()
        .take(MAX_NAME)
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    std::borrow::Cow::Owned(name)
}

/// `{` members `}`, the members' last comma dropped.
fn write_object(out: &mut Vec<u8>, members: &[u8]) {
    out.push(b'{');
    out.extend_from_slice(members.strip_suffix(b",").unwrap_or(members));
    out.push(b'}');
}

/// Epoch seconds with microseconds, as X-Ray reads `start_time` and `end_time`.
fn write_time(out: &mut Vec<u8>, time: SystemTime) {
    use std::io::Write as _;
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    // Six digits of microseconds, leading zeros kept; writing to a Vec cannot fail.
    let _ = write!(out, "{}.{:06}", since.as_secs(), since.subsec_micros());
}

/// Appends to `out` the member `"key":value,` with `json` (a JSON document) as the value
/// when it is at most `budget` bytes; otherwise a member saying it was truncated, with as
/// much of the document's start, as a string, as fits.
pub(crate) fn member_within(out: &mut Vec<u8>, key: &str, json: &[u8], budget: usize) {
    out.push(b'"');
    escape_into(out, key);
    out.extend_from_slice(b"\":");
    if json.len() <= budget {
        out.extend_from_slice(json);
        out.push(b',');
        return;
    }
    let text = String::from_utf8_lossy(json);
    out.extend_from_slice(b"{\"truncated\":true,\"bytes\":");
    out.extend_from_slice(json.len().to_string().as_bytes());
    out.extend_from_slice(b",\"start\":\"");
    // Escaped piece by piece, stopping before the budget is spent.
    let limit = out.len() + budget.saturating_sub(64);
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let piece = truncated(rest, 256.min(rest.len()));
        let piece = if piece.is_empty() {
            // A character longer than the piece: take it whole.
            rest.chars().next().map_or(rest, |c| &rest[..c.len_utf8()])
        } else {
            piece
        };
        let before = out.len();
        escape_into(out, piece);
        if out.len() > limit {
            out.truncate(before);
            break;
        }
        rest = &rest[piece.len()..];
    }
    out.extend_from_slice(b"\"},");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(micros)
    }

    fn subsegment<'a>(annotations: &'a [u8], metadata: &'a [Namespace<'a>]) -> Subsegment<'a> {
        Subsegment {
            name: "## greet",
            id: SegmentId::from_u64(0xabc),
            trace_id: "1-5759e988-bd862e3fe1be46a994272793",
            parent_id: "53995c3f42cd8ad8",
            start: at(1_700_000_000_000_001),
            end: at(1_700_000_000_250_000),
            namespace: None,
            aws: Aws::default(),
            http_status: None,
            fault: false,
            cause: None,
            annotations,
            metadata,
        }
    }

    #[test]
    fn a_subsegment_document_has_the_schemas_fields() {
        let mut out = Vec::new();
        subsegment(b"\"ColdStart\":true,", &[("orders", b"\"a\":1,")]).write(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r###"{"name":"## greet","id":"0000000000000abc","trace_id":"1-5759e988-bd862e3fe1be46a994272793","parent_id":"53995c3f42cd8ad8","type":"subsegment","start_time":1700000000.000001,"end_time":1700000000.250000,"annotations":{"ColdStart":true},"metadata":{"orders":{"a":1}}}"###
        );
    }

    #[test]
    fn a_name_x_ray_would_refuse_is_made_one_it_takes() {
        assert_eq!(valid_name("## place_order"), "## place_order");
        assert_eq!(valid_name("aws:sqs 059f-36b4"), "aws:sqs 059f-36b4");
        assert_eq!(
            valid_name("GET /orders/{id}?(all)"),
            "GET /orders/_id___all_"
        );
        assert_eq!(valid_name(&"é".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn http_statuses_set_error_throttle_and_fault() {
        let flags = |status: u16| {
            let mut out = Vec::new();
            Subsegment {
                http_status: Some(status),
                ..subsegment(b"", &[])
            }
            .write(&mut out);
            let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
            (
                doc["http"]["response"]["status"].as_u64(),
                doc.get("error").is_some(),
                doc.get("throttle").is_some(),
                doc.get("fault").is_some(),
            )
        };
        assert_eq!(flags(200), (Some(200), false, false, false));
        assert_eq!(flags(404), (Some(404), true, false, false));
        assert_eq!(flags(429), (Some(429), true, true, false));
        assert_eq!(flags(503), (Some(503), false, false, true));
    }

    #[test]
    fn a_document_too_big_for_a_datagram_leaves_its_metadata_out_and_says_so() {
        let big = format!("\"blob\":\"{}\",", "x".repeat(70_000));
        let mut out = Vec::new();
        subsegment(b"\"k\":1,", &[("default", big.as_bytes())]).write(&mut out);
        assert!(out.len() <= MAX_DOCUMENT);
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["annotations"]["k"], 1);
        let note = doc["metadata"]["default"]["helve"].as_str().unwrap();
        assert!(
            note.starts_with("the subsegment's metadata was left out"),
            "{note}"
        );
    }

    #[test]
    fn a_big_value_is_truncated_to_its_budget_and_says_how_big_it_was() {
        let json = serde_json::to_vec(&"é\"".repeat(10_000)).unwrap();
        let mut out = b"{".to_vec();
        member_within(&mut out, "greet response", &json, 1_000);
        out.pop();
        out.push(b'}');
        assert!(out.len() <= 1_100, "{}", out.len());
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["greet response"]["truncated"], true);
        assert_eq!(doc["greet response"]["bytes"], json.len());
        assert!(
            doc["greet response"]["start"]
                .as_str()
                .unwrap()
                .starts_with("\"é\\\"é")
        );
    }
}
