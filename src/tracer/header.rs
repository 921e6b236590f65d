//! The X-Ray trace header: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;
//! Sampled=1;Lineage=a87bd80c:1`, read from the invocation's context, and written for the calls
//! the function makes.

use std::fmt::Write as _;

/// The parts of a trace header helve uses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TraceHeader<'a> {
    pub(crate) root: &'a str,
    pub(crate) parent: Option<&'a str>,
    /// `Some(true)` for `Sampled=1`, `Some(false)` for `Sampled=0`, `None` when absent or `?`.
    pub(crate) sampled: Option<bool>,
    /// The other keys (`Lineage=...`), verbatim and in order, each with its leading `;`;
    /// `Self=`, which a load balancer adds for its own hop, is left out.
    pub(crate) rest: String,
}

impl<'a> TraceHeader<'a> {
    /// Reads a header; `None` without a `Root=`.
    pub(crate) fn parse(header: &'a str) -> Option<Self> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = None;
        let mut rest = String::new();
        for part in header.split(';') {
            let part = part.trim();
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            match key.trim() {
                "Root" => root = Some(value.trim()),
                "Parent" => parent = Some(value.trim()),
                "Sampled" => {
                    sampled = match value.trim() {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    }
                }
                "Self" => {}
                _ => {
                    rest.push(';');
                    rest.push_str(part);
                }
            }
        }
        Some(Self {
            root: root.filter(|root| !root.is_empty())?,
            parent: parent.filter(|parent| !parent.is_empty()),
            sampled,
            rest,
        })
    }

    /// Whether the invocation is recorded: sampled, with the parent to hang its subsegments
    /// on, and ids of X-Ray's sizes (a root of at most 64 characters, a 16-hex-digit parent).
    pub(crate) fn recorded(&self) -> bool {
        self.sampled == Some(true)
            && self.root.len() <= 64
            && self.parent.is_some_and(|parent| {
                parent.len() == 16 && parent.bytes().all(|digit| digit.is_ascii_hexdigit())
            })
    }
}

/// Whether `header` has `Sampled=1` anywhere: the quick test before the header is read.
pub(crate) fn says_sampled(header: &[u8]) -> bool {
    const KEY: &[u8] = b"Sampled=1";
    let mut rest = header;
    while let Some(at) = rest.iter().position(|&byte| byte == b'S') {
        let Some(from) = rest.get(at..) else {
            return false;
        };
        if from.starts_with(KEY) {
            return true;
        }
        rest = from.get(1..).unwrap_or_default();
    }
    false
}

/// The header for a call made from `parent`: `Root=...;Parent=...;Sampled=...`, then the other
/// keys of the invocation's header verbatim.
pub(crate) fn outgoing(root: &str, parent: &str, sampled: bool, rest: &str) -> String {
    let mut header = String::with_capacity(80 + rest.len());
    let _ = write!(
        header,
        "Root={root};Parent={parent};Sampled={}{rest}",
        u8::from(sampled)
    );
    header
}

/// The W3C `traceparent` for a call made from `parent`: the X-Ray trace id's 32 hex digits
/// (its epoch and its random part), the parent span, and the sampled flag. `None` when the
/// trace id is not of the X-Ray shape.
pub(crate) fn traceparent(root: &str, parent: &str, sampled: bool) -> Option<String> {
    let mut parts = root.split('-');
    let (Some("1"), Some(epoch), Some(random), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|digit| digit.is_ascii_hexdigit())
    };
    if !(hex(epoch, 8) && hex(random, 24) && hex(parent, 16)) {
        return None;
    }
    Some(format!(
        "00-{}{}-{}-{}",
        epoch.to_ascii_lowercase(),
        random.to_ascii_lowercase(),
        parent.to_ascii_lowercase(),
        if sampled { "01" } else { "00" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAMBDA: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";

    #[test]
    fn lambdas_header_gives_the_root_the_parent_and_the_sampling_decision() {
        let header = TraceHeader::parse(LAMBDA).unwrap();
        assert_eq!(header.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(header.parent, Some("53995c3f42cd8ad8"));
        assert_eq!(header.sampled, Some(true));
        assert_eq!(header.rest, ";Lineage=a87bd80c:1");
        assert!(header.recorded());
    }

    #[test]
    fn an_unsampled_or_parentless_invocation_is_not_recorded() {
        let unsampled = TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        )
        .unwrap();
        assert!(!unsampled.recorded());
        let pass_through = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert!(!pass_through.recorded());
        assert_eq!(
            TraceHeader::parse("Parent=53995c3f42cd8ad8;Sampled=1"),
            None
        );
        assert_eq!(TraceHeader::parse(""), None);
    }

    #[test]
    fn the_quick_test_finds_the_sampled_flag_wherever_it_is() {
        assert!(says_sampled(LAMBDA.as_bytes()));
        assert!(says_sampled(b"Sampled=1"));
        assert!(!says_sampled(b"Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"));
        assert!(!says_sampled(b"Sampled=;Root=1"));
        assert!(!says_sampled(b""));
    }

    #[test]
    fn a_load_balancers_self_key_is_not_propagated() {
        let header = TraceHeader::parse("Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1;Tenant=a").unwrap();
        assert_eq!(header.root, "1-67891233-abcdef012345678912345678");
        assert_eq!(header.rest, ";Tenant=a");
    }

    #[test]
    fn the_outgoing_header_names_the_caller_as_parent_and_keeps_the_lineage() {
        let header = TraceHeader::parse(LAMBDA).unwrap();
        assert_eq!(
            outgoing(header.root, "0123456789abcdef", true, &header.rest),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0123456789abcdef;Sampled=1;Lineage=a87bd80c:1"
        );
    }

    #[test]
    fn traceparent_carries_the_xray_trace_id_in_w3c_form() {
        assert_eq!(
            traceparent(
                "1-5759e988-bd862e3fe1be46a994272793",
                "0123456789abcdef",
                true
            )
            .as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-0123456789abcdef-01")
        );
        assert_eq!(
            traceparent(
                "1-5759e988-bd862e3fe1be46a994272793",
                "0123456789abcdef",
                false
            )
            .as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-0123456789abcdef-00")
        );
        assert_eq!(traceparent("not-a-trace", "0123456789abcdef", true), None);
    }
}
