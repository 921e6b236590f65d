//! Decoding with the path of the field that failed, for every place helve decodes what a user
//! sent: events, batch records and their payloads, HTTP queries, bodies, claims and path
//! parameters. Each caller words [`DecodeError`] for its source.

use std::fmt;

use serde::{Deserialize, Deserializer, de::DeserializeOwned};

/// Why a document did not decode: where, and the deserializer's own words without the value
/// it rejected (which may be a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// The field that failed, as `items[2].sku`; `None` for the document itself.
    path: Option<String>,
    /// The deserializer's message, without its position.
    message: String,
    /// The line and column of a JSON document where decoding stopped, when known.
    position: Option<(usize, usize)>,
    /// The input is not JSON at all (a syntax error, or it ends too soon).
    syntax: bool,
}

impl DecodeError {
    fn new<E: fmt::Display>(path: &serde_path_to_error::Path, error: E) -> Self {
        Self {
            path: document_or(path.to_string()),
            message: sanitize(&error.to_string()),
            position: None,
            syntax: false,
        }
    }

    fn json(path: Option<String>, error: &serde_json::Error) -> Self {
        let syntax = error.is_syntax() || error.is_eof();
        let text = error.to_string();
        let suffix = format!(" at line {} column {}", error.line(), error.column());
        match text.strip_suffix(&suffix) {
            Some(message) if error.line() != 0 => Self {
                path,
                message: sanitize(message),
                position: Some((error.line(), error.column())),
                syntax,
            },
            _ => Self {
                path,
                message: sanitize(&text),
                position: None,
                syntax,
            },
        }
    }

    /// The path of the field that failed, as `items[2].sku`; `None` when the document itself
    /// does not decode.
    pub(crate) fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The path as `serde_path_to_error` writes it: `.` for the document itself.
    pub(crate) fn path_or_root(&self) -> &str {
        self.path().unwrap_or(".")
    }

    /// The line of a JSON document where decoding stopped, when known.
    pub(crate) fn line(&self) -> Option<usize> {
        self.position.map(|(line, _)| line)
    }

    /// The column of a JSON document where decoding stopped, when known.
    pub(crate) fn column(&self) -> Option<usize> {
        self.position.map(|(_, column)| column)
    }

    /// Whether the input is not JSON at all (a syntax error, or it ends too soon), rather
    /// than JSON of the wrong shape.
    #[cfg(any(
        feature = "batch",
        feature = "http",
        feature = "s3",
        feature = "parameters",
        test
    ))]
    pub(crate) fn is_syntax(&self) -> bool {
        self.syntax
    }
}

/// The deserializer's message, then `at line L column C` when the position is known: exactly
/// what the deserializer itself would have written.
impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (self.line(), self.column()) {
            (Some(line), Some(column)) => write!(f, " at line {line} column {column}"),
            _ => Ok(()),
        }
    }
}

fn document_or(path: String) -> Option<String> {
    (path != ".").then_some(path)
}

/// Decodes `T` from any deserializer, naming the path of the field that fails.
pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<T, DecodeError>
where
    D: Deserializer<'de>,
    D::Error: fmt::Display,
    T: Deserialize<'de>,
{
    serde_path_to_error::deserialize(deserializer)
        .map_err(|error| DecodeError::new(error.path(), error.inner()))
}

/// Decodes `T` from a JSON deserializer, naming the path, line and column where it fails. What
/// follows the value is left for the caller.
pub(crate) fn json<'de, R, T>(
    deserializer: &mut serde_json::Deserializer<R>,
) -> Result<T, DecodeError>
where
    R: serde_json::de::Read<'de>,
    T: Deserialize<'de>,
{
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = document_or(error.path().to_string());
        DecodeError::json(path, error.inner())
    })
}

/// Decodes a whole JSON document into `T`: one value and nothing after it but whitespace. A
/// UTF-8 byte order mark before it (some editors and HTTP clients write one) is skipped.
pub(crate) fn json_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = json(&mut deserializer)?;
    deserializer
        .end()
        .map_err(|error| DecodeError::json(None, &error))?;
    Ok(value)
}

/// A deserializer's message without the value it rejected, which may be a secret:
/// `invalid type: string "hunter2", expected u32` becomes `invalid type: string, expected
/// u32`; `unknown variant `x`, expected one of ...` loses the `x`.
pub(crate) fn sanitize(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            // The last `, expected`: a rejected string may itself contain the words.
            let (unexpected, expected) = match rest.rfind(", expected") {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            // `string "..."`, `integer `7``, `floating point `1.5``, `map`, `unit value`.
            let kind = match unexpected.split_once([' ', '`', '"']) {
                Some(("floating", _)) => "floating point",
                Some(("unit", _)) => "unit value",
                Some((kind, _)) => kind,
                None => unexpected,
            };
            return format!("{prefix}{kind}{expected}");
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((_, after)) = rest.split_once('`')
    {
        return format!("unknown variant{after}");
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Order {
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        qty: u32,
    }

    #[test]
    fn a_document_after_a_byte_order_mark_decodes() {
        let item: Item = json_slice(b"\xEF\xBB\xBF{\"qty\": 2}").unwrap();
        assert_eq!(item.qty, 2);
    }

    #[test]
    fn a_field_that_fails_is_named_with_its_line_and_column() {
        let error = json_slice::<Order>(br#"{"items": [{"qty": "two"}]}"#).unwrap_err();
        assert_eq!(error.path(), Some("items[0].qty"));
        assert_eq!((error.line(), error.column()), (Some(1), Some(24)));
        assert!(!error.is_syntax());
        assert_eq!(
            error.to_string(),
            "invalid type: string, expected u32 at line 1 column 24",
            "the value sent is not repeated"
        );
    }

    #[test]
    fn the_message_is_the_one_serde_json_writes_without_the_value() {
        for input in [
            &br#"{"items": [{"qty": -1}]}"#[..],
            br#"{"items": 3}"#,
            br#"{"items": [{"qty": 1}"#,
            b"{} {}",
            b"not json",
        ] {
            let expected = match serde_json::from_slice::<Order>(input) {
                Err(error) => sanitize(&error.to_string()),
                Ok(_) => unreachable!("the input does not decode"),
            };
            assert_eq!(
                json_slice::<Order>(input).unwrap_err().to_string(),
                expected
            );
        }
    }

    #[test]
    fn a_rejected_value_is_never_repeated_even_when_it_reads_like_the_message() {
        for (input, expected) in [
            (
                &br#"{"items": [{"qty": "a, expected u8, secret"}]}"#[..],
                "invalid type: string, expected u32 at line 1 column 43",
            ),
            (
                br#"{"items": [{"qty": 98765432123}]}"#,
                "invalid value: integer, expected u32 at line 1 column 30",
            ),
            (
                br#"{"items": [{"qty": 1.5}]}"#,
                "invalid type: floating point, expected u32 at line 1 column 22",
            ),
        ] {
            let error = json_slice::<Order>(input).unwrap_err().to_string();
            assert_eq!(error, expected);
        }
    }

    #[test]
    fn the_document_itself_has_no_path() {
        let error = json_slice::<Order>(br#""an order""#).unwrap_err();
        assert_eq!(error.path(), None);
        assert_eq!(error.path_or_root(), ".");
    }

    #[test]
    fn what_is_not_json_is_told_apart() {
        assert!(json_slice::<Order>(b"{").unwrap_err().is_syntax());
        assert!(
            json_slice::<BTreeMap<String, u32>>(b"{} x")
                .unwrap_err()
                .is_syntax()
        );
        assert!(!json_slice::<Order>(b"{}").unwrap_err().is_syntax());
    }

    #[test]
    fn any_deserializer_names_the_path() {
        let value = serde_json::json!({"items": [{"qty": true}]});
        let error = deserialize::<_, Order>(value).unwrap_err();
        assert_eq!(error.path(), Some("items[0].qty"));
        assert_eq!(error.line(), None);
        assert_eq!(error.to_string(), "invalid type: boolean, expected u32");
        let map: Result<BTreeMap<String, u32>, _> = deserialize(serde_json::json!([]));
        assert_eq!(map.unwrap_err().path(), None);
    }
}
