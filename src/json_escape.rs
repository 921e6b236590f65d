//! JSON string escaping, as `serde_json` escapes a string: one escaper for log lines, EMF
//! documents and the CloudFormation answer, so that the same text reads the same in all three.
//!
//! `"` and `\` are escaped, the control bytes below 0x20 are written `\b`, `\f`, `\n`, `\r`,
//! `\t` or `\u00XX` (lower-case hex); everything else, non-ASCII included, is copied as UTF-8.

/// What each byte is escaped with: `0` for none, `u` for `\u00XX`, otherwise the character
/// after the backslash. serde_json's table; the Python dialect of idempotency keys builds its
/// own from it.
pub(crate) const ESCAPE: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Lower-case hex digits, by value.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// `bytes` in lower-case hex (a digest, say).
#[cfg(any(feature = "idempotency", feature = "s3"))]
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(2 * bytes.len());
    for &byte in bytes {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

/// At most `max` bytes of `text`, cut at a character boundary: how every writer of helve
/// (log lines, trace documents, correlation ids) shortens a text.
pub(crate) fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// Appends `text` JSON-escaped, without the quotes.
#[inline]
pub(crate) fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
    // The start of the run of bytes not yet copied: each run is copied in one extend.
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(bytes.get(start..index).unwrap_or_default());
        if escape == b'u' {
            // `byte` is below 0x20: its high nibble is 0 or 1.
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        start = index + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// How many bytes [`escape_into`] appends for `text`.
#[inline]
pub(crate) fn escaped_len(text: &str) -> usize {
    text.bytes()
        .map(|byte| match ESCAPE[usize::from(byte)] {
            0 => 1,
            b'u' => 6,
            _ => 2,
        })
        .sum()
}

/// Text to check a JSON writer with: every ASCII byte alone, and non-ASCII strings.
#[cfg(test)]
pub(crate) fn samples() -> Vec<String> {
    let mut samples: Vec<String> = (0u8..=0x7f)
        .map(|byte| char::from(byte).to_string())
        .collect();
    samples.extend(
        [
            "",
            "plain text, nothing to escape",
            "é ü 中文 🦀",
            "mixed \"é\"\n\u{8}\u{c}\u{1f}\u{7f} 🦀\\",
            "\u{80}\u{9f}\u{a0}\u{2028}\u{2029}\u{feff}\u{10ffff}",
            "end\\",
            "\u{0}start",
        ]
        .map(str::to_owned),
    );
    samples
}

/// What serde_json writes between the quotes of `text`.
#[cfg(test)]
pub(crate) fn serde_json_escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_ascii_byte_and_non_ascii_text_as_serde_json_does() {
        for text in samples() {
            let mut out = Vec::new();
            escape_into(&mut out, &text);
            let expected = serde_json_escaped(&text);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{text:?}");
            assert_eq!(escaped_len(&text), expected.len(), "{text:?}");
        }
    }

    #[test]
    fn appends_to_what_is_there() {
        let mut out = b"{\"k\":\"".to_vec();
        escape_into(&mut out, "a\u{8}b\u{c}");
        assert_eq!(out, b"{\"k\":\"a\\bb\\f");
    }
}
