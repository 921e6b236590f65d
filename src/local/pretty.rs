//! `--pretty`: log lines and the response indented, an HTTP response's body decoded.

use std::io::Write as _;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::logging::LineSink;

/// Writes each line to stdout indented (a line that is not JSON as it is).
pub(crate) fn sink() -> LineSink {
    std::sync::Arc::new(|line: &[u8]| {
        let text = std::str::from_utf8(line).ok().map(str::trim_end);
        let pretty = text
            .filter(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
            .map(indent);
        let mut stdout = std::io::stdout().lock();
        let _ = match pretty {
            Some(pretty) => writeln!(stdout, "{pretty}"),
            None => stdout.write_all(line),
        };
        let _ = stdout.flush();
    })
}

/// The response JSON indented; an HTTP response's body decoded: base64 decoded when it is
/// text, and JSON in place of the string that holds it.
pub(crate) fn response(json: &str) -> String {
    indent(&with_body_decoded(json).unwrap_or_else(|| json.to_owned()))
}

/// The object's members in their order, each as its JSON.
#[derive(Deserialize)]
struct Members(#[serde(with = "members")] Vec<(String, Box<RawValue>)>);

mod members {
    use std::fmt;

    use serde::{
        Deserializer,
        de::{MapAccess, Visitor},
    };
    use serde_json::value::RawValue;

    type Entries = Vec<(String, Box<RawValue>)>;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Entries, D::Error> {
        struct InOrder;

        impl<'de> Visitor<'de> for InOrder {
            type Value = Entries;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(entries)
            }
        }

        deserializer.deserialize_map(InOrder)
    }
}

/// `json` with its `body` decoded, when it is an HTTP response (a `statusCode` and a text
/// `body`).
fn with_body_decoded(json: &str) -> Option<String> {
    let Members(members) = serde_json::from_str(json).ok()?;
    let member = |name: &str| {
        members
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.get())
    };
    member("statusCode")?;
    let body: String = serde_json::from_str(member("body")?).ok()?;
    let body = if member("isBase64Encoded") == Some("true") {
        String::from_utf8(base64_decode(&body)?).ok()?
    } else {
        body
    };
    let body = if serde_json::from_str::<serde::de::IgnoredAny>(&body).is_ok() {
        body
    } else {
        serde_json::to_string(&body).ok()?
    };
    let mut out = String::from("{");
    for (index, (key, value)) in members.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).ok()?);
        out.push(':');
        out.push_str(if key == "body" { &body } else { value.get() });
    }
    out.push('}');
    Some(out)
}

/// Standard base64 (padding optional); `None` when `text` is not base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut bits: u32 = 0;
    let mut count = 0;
    for byte in text.trim_end_matches('=').bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Valid JSON indented by two spaces, its members in their order.
fn indent(json: &str) -> String {
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }

    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0;
    let mut chars = json.chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|next| next.is_whitespace()) {
                    chars.next();
                }
                match chars.peek() {
                    Some(&close @ ('}' | ']')) => {
                        out.push(close);
                        chars.next();
                    }
                    _ => {
                        depth += 1;
                        newline(&mut out, depth);
                    }
                }
            }
            '}' | ']' => {
                depth = usize::saturating_sub(depth, 1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_is_indented_with_its_keys_in_their_order() {
        assert_eq!(
            indent(r#"{"level":"INFO","message":"a, \"b\": {c}","n":[1,{}],"e":[]}"#),
            "{\n  \"level\": \"INFO\",\n  \"message\": \"a, \\\"b\\\": {c}\",\n  \"n\": [\n    1,\n    {}\n  ],\n  \"e\": []\n}"
        );
    }

    #[test]
    fn an_http_response_shows_its_json_body_as_json() {
        let response = r#"{"statusCode":201,"headers":{"content-type":"application/json"},"body":"{\"id\":\"o-1\"}","isBase64Encoded":false}"#;
        assert_eq!(
            super::response(response),
            "{\n  \"statusCode\": 201,\n  \"headers\": {\n    \"content-type\": \"application/json\"\n  },\n  \"body\": {\n    \"id\": \"o-1\"\n  },\n  \"isBase64Encoded\": false\n}"
        );
    }

    #[test]
    fn a_base64_body_is_shown_decoded_when_it_is_text() {
        // "héllo" in base64.
        let response = r#"{"statusCode":200,"body":"aMOpbGxv","isBase64Encoded":true}"#;
        assert_eq!(
            super::response(response),
            "{\n  \"statusCode\": 200,\n  \"body\": \"héllo\",\n  \"isBase64Encoded\": true\n}"
        );
        // Bytes that are not UTF-8 stay base64.
        let binary = r#"{"statusCode":200,"body":"/w==","isBase64Encoded":true}"#;
        assert!(super::response(binary).contains("\"body\": \"/w==\""));
    }

    #[test]
    fn a_response_that_is_not_http_is_only_indented() {
        assert_eq!(
            super::response(r#"{"message":"Hello, Ada!"}"#),
            "{\n  \"message\": \"Hello, Ada!\"\n}"
        );
        assert_eq!(super::response("42"), "42");
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("aGk").unwrap(), b"hi");
        assert_eq!(base64_decode("not base64!"), None);
    }
}
