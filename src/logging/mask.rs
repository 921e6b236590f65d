//! Secret values masked wherever they appear in a log line: what the key-based redactor
//! cannot catch, a secret's value logged under an innocent key or inside a message.
//!
//! [`mask_value`] adds a value; every line written afterwards (plain, buffered, the logged
//! event, a truncated line) has each occurrence of it in a value replaced with [`REDACTED`]
//! (object keys are names, and stay as they are). The parameters client adds every secret it
//! reads. Until a value is added, writing a line costs one atomic load more; afterwards, one
//! substring search per value and line.

use std::sync::{
    PoisonError, RwLock,
    atomic::{AtomicBool, Ordering},
};

use super::redact::REDACTED;
use crate::json_escape::escape_into;

/// Values shorter than this are not masked: a three-letter value would mask every word that
/// contains it.
pub const MIN_MASKED_BYTES: usize = 6;

/// The most values kept; adding one more forgets the one added or seen least recently (a
/// secret rotated many times in a long-lived execution environment). A value read again
/// moves to the end, so values still in use stay.
pub const MAX_MASKED_VALUES: usize = 1024;

/// Whether any value was added: the only cost of masking for a function without secrets.
static ANY: AtomicBool = AtomicBool::new(false);

/// A value in the forms it takes in a line.
#[derive(Debug)]
struct Masked {
    /// As written inside a JSON string: JSON-escaped, and the escaped `Debug` form.
    in_json: [Box<[u8]>; 2],
    /// As it is, for text masked before it is written.
    raw: Box<str>,
}

/// The values, least recently added or seen first.
static VALUES: RwLock<Vec<Masked>> = RwLock::new(Vec::new());

/// Masks `value` in every log line written from now on, in whatever field or message it
/// appears: written as text (`%value`, a string field) or with `Debug` (`?value`), and as a
/// JSON number (the whole number is then replaced by the string `"[REDACTED]"`, so the line
/// stays JSON). Object keys are names, not values, and are left as they are: a value that
/// happens to be part of a key (`function` in `function_name`) does not break the line's keys.
/// Values shorter than [`MIN_MASKED_BYTES`] are ignored.
///
/// ```
/// helve::logging::mask_value("s3cr3t-p4ssw0rd");
/// // From now on, `tracing::info!(dsn = %dsn, ...)` with the password in `dsn` logs
/// // `postgres://app:[REDACTED]@db`.
/// ```
pub fn mask_value(value: &str) {
    if value.len() < MIN_MASKED_BYTES {
        return;
    }
    {
        let values = VALUES.read().unwrap_or_else(PoisonError::into_inner);
        // Already last: nothing to do, without the write lock.
        if values.last().is_some_and(|last| *last.raw == *value) {
            return;
        }
    }
    let mut text = Vec::with_capacity(value.len());
    escape_into(&mut text, value);
    // `?value` writes Rust's escapes (`\n` as `\\n`, quotes), JSON-escaped in turn.
    let debug = format!("{value:?}");
    let mut debug_text = Vec::with_capacity(debug.len());
    escape_into(
        &mut debug_text,
        debug
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or(&debug),
    );
    let masked = Masked {
        in_json: [text.into_boxed_slice(), debug_text.into_boxed_slice()],
        raw: Box::from(value),
    };
    remember(
        &mut VALUES.write().unwrap_or_else(PoisonError::into_inner),
        masked,
        MAX_MASKED_VALUES,
    );
    ANY.store(true, Ordering::Release);
}

/// Forgets every value added: each fuzz input starts with none.
#[cfg(feature = "fuzzing")]
pub(crate) fn forget_all() {
    VALUES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    ANY.store(false, Ordering::Release);
}

/// Puts `masked` last in `values`: moved there when it is known, else added, forgetting the
/// first value when there are `max` already.
fn remember(values: &mut Vec<Masked>, masked: Masked, max: usize) {
    if let Some(index) = values.iter().position(|known| known.raw == masked.raw) {
        let known = values.remove(index);
        values.push(known);
        return;
    }
    if values.len() >= max {
        values.remove(0);
    }
    values.push(masked);
}

/// Replaces every masked value in `text` (not yet escaped) with [`REDACTED`]: for text cut
/// before it is written, so that no part of a value survives the cut.
pub(crate) fn apply_text(text: &mut String) {
    if !ANY.load(Ordering::Acquire) {
        return;
    }
    let values = VALUES.read().unwrap_or_else(PoisonError::into_inner);
    for value in values.iter().rev() {
        if text.contains(&*value.raw) {
            *text = text.replace(&*value.raw, REDACTED);
        }
    }
}

/// Replaces every masked value in the JSON `line` with [`REDACTED`], longest values first (a
/// value that contains another is masked whole). Inside a string the value's bytes are
/// replaced; a JSON number that holds it is replaced whole by the string `"[REDACTED]"`; a
/// match in an object key, or one that would split an escape, is left alone, so the line
/// stays one JSON object with its keys.
pub(crate) fn apply(line: &mut Vec<u8>) {
    if !ANY.load(Ordering::Acquire) {
        return;
    }
    let values = VALUES.read().unwrap_or_else(PoisonError::into_inner);
    // Allocates only for a line that holds a masked value.
    let mut found: Vec<&[u8]> = Vec::new();
    for value in values.iter() {
        for form in &value.in_json {
            if !found.contains(&&form[..]) && memchr::memmem::find(line, form).is_some() {
                found.push(form);
            }
        }
    }
    if found.is_empty() {
        return;
    }
    found.sort_by_key(|form| std::cmp::Reverse(form.len()));
    let quoted = format!("\"{REDACTED}\"");
    for form in found {
        // The line is walked once per form, and copied once when it holds the form, not
        // once per match: a long line holding a value thousands of times is masked in linear
        // time.
        let mut walk = Walk::default();
        let mut masked: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut from = 0;
        while let Some(at) = line
            .get(from..)
            .and_then(|rest| memchr::memmem::find(rest, form))
        {
            let start = from + at;
            let end = start + form.len();
            walk.advance(line, start);
            let (replaced, with) = match place(line, &mut walk, start, end) {
                Place::InString => (start..end, REDACTED.as_bytes()),
                Place::InNumber { start, end } => (start.max(copied)..end, quoted.as_bytes()),
                Place::Elsewhere => {
                    from = start + 1;
                    continue;
                }
            };
            let out = masked.get_or_insert_with(|| Vec::with_capacity(line.len()));
            out.extend_from_slice(line.get(copied..replaced.start).unwrap_or_default());
            out.extend_from_slice(with);
            copied = replaced.end;
            from = replaced.end;
        }
        if let Some(mut out) = masked {
            out.extend_from_slice(line.get(copied..).unwrap_or_default());
            *line = out;
        }
    }
}

/// How far a line has been read, and what is known there: inside a string or not, just after
/// a backslash, and, once looked up, where the string ends and whether it is an object key.
#[derive(Default)]
struct Walk {
    at: usize,
    in_string: bool,
    escaped: bool,
    /// The closing quote of the string the walk is in, and whether a `:` follows it.
    string: Option<(usize, bool)>,
}

impl Walk {
    /// Reads on to `to`.
    fn advance(&mut self, line: &[u8], to: usize) {
        for &byte in line.get(self.at..to).unwrap_or_default() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                    self.string = None;
                }
            } else if byte == b'"' {
                self.in_string = true;
            }
        }
        self.at = self.at.max(to);
    }

    /// Whether the string the walk is in, at an unescaped position, is an object key: an
    /// object key is a name, not a value (helve's own keys, field names). Masked, it would
    /// break every query on it, and two keys could become the same.
    fn in_key(&mut self, line: &[u8]) -> bool {
        if let Some((_, key)) = self.string {
            return key;
        }
        let mut escaped = false;
        let rest = line.get(self.at..).unwrap_or_default();
        let key = rest.iter().enumerate().find_map(|(offset, &byte)| {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                let close = self.at + offset;
                return Some((close, line.get(close + 1) == Some(&b':')));
            }
            None
        });
        self.string = key;
        key.is_some_and(|(_, key)| key)
    }
}

/// Where a match lies in a JSON line.
enum Place {
    /// Wholly inside one string, not splitting an escape.
    InString,
    /// Inside the number token `start..end`.
    InNumber { start: usize, end: usize },
    /// Anywhere else (splitting an escape, across a string's end, in the syntax).
    Elsewhere,
}

/// Where the match `start..end` lies, `walk` having read the line up to `start`.
fn place(line: &[u8], walk: &mut Walk, start: usize, end: usize) -> Place {
    let (in_string, escaped) = (walk.in_string, walk.escaped);
    let matched = line.get(start..end).unwrap_or_default();
    if in_string {
        // The match must not start inside an escape, nor end a string early, nor end in the
        // middle of an escape.
        let mut trailing_backslashes = 0;
        for &byte in matched {
            trailing_backslashes = if byte == b'\\' {
                trailing_backslashes + 1
            } else {
                0
            };
        }
        let unescaped_quote = {
            let mut escape = false;
            matched.iter().any(|&byte| {
                let quote = byte == b'"' && !escape;
                escape = byte == b'\\' && !escape;
                quote
            })
        };
        if escaped || unescaped_quote || trailing_backslashes % 2 == 1 {
            return Place::Elsewhere;
        }
        if walk.in_key(line) {
            return Place::Elsewhere;
        }
        return Place::InString;
    }
    let is_number_byte =
        |byte: u8| byte.is_ascii_digit() || matches!(byte, b'-' | b'+' | b'.' | b'e' | b'E');
    if !matched.iter().all(|&byte| is_number_byte(byte)) {
        return Place::Elsewhere;
    }
    let token_start = line
        .get(..start)
        .unwrap_or_default()
        .iter()
        .rposition(|&byte| !is_number_byte(byte))
        .map_or(0, |at| at + 1);
    let token_end = line
        .get(end..)
        .unwrap_or_default()
        .iter()
        .position(|&byte| !is_number_byte(byte))
        .map_or(line.len(), |at| end + at);
    Place::InNumber {
        start: token_start,
        end: token_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> String {
        let mut line = Vec::new();
        line.extend_from_slice(b"{\"message\":\"");
        escape_into(&mut line, text);
        line.extend_from_slice(b"\"}");
        apply(&mut line);
        String::from_utf8(line).unwrap()
    }

    #[test]
    fn a_masked_value_is_hidden_wherever_it_appears_in_a_line() {
        mask_value("mask-test-hunter2");
        assert_eq!(
            masked("connecting with mask-test-hunter2 and mask-test-hunter2!"),
            r#"{"message":"connecting with [REDACTED] and [REDACTED]!"}"#
        );
        assert_eq!(masked("nothing here"), r#"{"message":"nothing here"}"#);
    }

    #[test]
    fn a_value_with_quotes_and_newlines_is_masked_as_text_and_as_debug() {
        let value = "mask-test \"quoted\"\nline";
        mask_value(value);
        assert_eq!(
            masked(&format!("a{value}b")),
            r#"{"message":"a[REDACTED]b"}"#
        );
        assert_eq!(
            masked(&format!("a{value:?}b")),
            r#"{"message":"a\"[REDACTED]\"b"}"#
        );
    }

    #[test]
    fn a_longer_value_containing_a_shorter_one_is_masked_whole() {
        mask_value("mask-test-abc");
        mask_value("mask-test-abcdef");
        assert_eq!(
            masked("x mask-test-abcdef y"),
            r#"{"message":"x [REDACTED] y"}"#
        );
    }

    #[test]
    fn a_value_in_a_number_is_replaced_by_a_string_and_the_line_stays_json() {
        mask_value("7712345");
        let mut line = br#"{"total":977123450,"pin":7712345,"text":"a7712345b"}"#.to_vec();
        apply(&mut line);
        let line = String::from_utf8(line).unwrap();
        assert_eq!(
            line,
            r#"{"total":"[REDACTED]","pin":"[REDACTED]","text":"a[REDACTED]b"}"#
        );
        serde_json::from_str::<serde_json::Value>(&line).unwrap();
    }

    #[test]
    fn a_match_that_would_split_an_escape_is_left_alone() {
        mask_value("nmask-test-escape");
        // `\n` followed by the value's tail: the bytes `nmask-test-escape` start inside `\n`.
        let mut line = br#"{"message":"a\nmask-test-escape"}"#.to_vec();
        apply(&mut line);
        let line = String::from_utf8(line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap();
    }

    #[test]
    fn a_value_that_is_part_of_a_key_leaves_the_key_alone() {
        // Found by the `log_lines` fuzz target: a masked value within `function_request_id`
        // turned helve's key into `[REDACTED]uest_id`.
        mask_value("mask-test-key");
        let mut line =
            br#"{"mask-test-key-name":"mask-test-key","a\"mask-test-key":"x mask-test-key"}"#
                .to_vec();
        apply(&mut line);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            r#"{"mask-test-key-name":"[REDACTED]","a\"mask-test-key":"x [REDACTED]"}"#
        );
    }

    #[test]
    fn a_value_thousands_of_times_in_one_line_is_masked_in_every_value() {
        // Found by the `log_lines` fuzz target: each match walked the line from its start and
        // moved the rest of it, so a long line holding a value thousands of times took seconds
        // to mask. Its speed is not asserted here (benches/ measure speed); what it gives is.
        mask_value("mask-test-many");
        let mut line = br#"{"mask-test-many":1,"message":""#.to_vec();
        let mut expected = line.clone();
        for _ in 0..5000 {
            line.extend_from_slice(br#"a \"mask-test-many\" "#);
            expected.extend_from_slice(br#"a \"[REDACTED]\" "#);
        }
        line.extend_from_slice(br#"","n":[1,2]}"#);
        expected.extend_from_slice(br#"","n":[1,2]}"#);
        apply(&mut line);
        assert!(
            line == expected,
            "{}",
            String::from_utf8_lossy(&line[..200])
        );
    }

    #[test]
    fn a_value_seen_again_is_kept_while_newer_ones_come_and_go() {
        let value = |text: &str| Masked {
            in_json: [Box::from(text.as_bytes()), Box::from(text.as_bytes())],
            raw: Box::from(text),
        };
        let mut values = Vec::new();
        remember(&mut values, value("kept"), 3);
        remember(&mut values, value("a"), 3);
        remember(&mut values, value("b"), 3);
        remember(&mut values, value("kept"), 3);
        remember(&mut values, value("c"), 3);
        let raw: Vec<&str> = values.iter().map(|masked| &*masked.raw).collect();
        assert_eq!(raw, ["b", "kept", "c"], "`a` was the least recently seen");
    }

    #[test]
    fn text_cut_before_it_is_written_is_masked_first() {
        mask_value("mask-test-raw-text");
        let mut text = String::from("before mask-test-raw-text after");
        apply_text(&mut text);
        assert_eq!(text, "before [REDACTED] after");
    }

    #[test]
    fn short_values_are_not_masked() {
        mask_value("abc");
        assert_eq!(masked("abc abc"), r#"{"message":"abc abc"}"#);
    }
}
