//! Secret values masked wherever they appear in a log line: what the key-based redactor
//! cannot catch, a secret's value logged under an innocent key or inside a message.
//!
//! [`mask_value`] adds a value; every line written afterwards (plain, buffered, the logged
//! event, a truncated line) has each occurrence of it replaced with [`REDACTED`]. The
//! parameters client adds every secret it reads. Until a value is added, writing a line costs
//! one atomic load more; afterwards, one substring search per value and line.

use std::sync::{
    RwLock,
    atomic::{AtomicBool, Ordering},
};

use super::redact::REDACTED;
use crate::json_escape::escape_into;

/// Values shorter than this are not masked: a three-letter value would mask every word that
/// contains it.
pub const MIN_MASKED_BYTES: usize = 6;

/// The most values kept; adding one more forgets the oldest (a secret rotated many times in a
/// long-lived execution environment).
pub const MAX_MASKED_VALUES: usize = 256;

/// Whether any value was added: the only cost of masking for a function without secrets.
static ANY: AtomicBool = AtomicBool::new(false);

/// The values as they appear in a line, JSON-escaped, oldest first.
static VALUES: RwLock<Vec<Box<[u8]>>> = RwLock::new(Vec::new());

/// Masks `value` in every log line written from now on, in whatever field or message it
/// appears: written as text (`%value`, a string field) or with `Debug` (`?value`). Values
/// shorter than [`MIN_MASKED_BYTES`] are ignored.
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
    let mut values = VALUES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for form in [text, debug_text] {
        if values.iter().any(|known| **known == *form) {
            continue;
        }
        if values.len() == MAX_MASKED_VALUES {
            values.remove(0);
        }
        values.push(form.into_boxed_slice());
    }
    ANY.store(true, Ordering::Release);
}

/// Replaces every masked value in `line` with [`REDACTED`], longest values first (a value
/// that contains another is masked whole).
pub(crate) fn apply(line: &mut Vec<u8>) {
    if !ANY.load(Ordering::Acquire) {
        return;
    }
    let values = VALUES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Allocates only for a line that holds a masked value.
    let mut by_length: Vec<&[u8]> = Vec::new();
    for value in values.iter() {
        if memchr::memmem::find(line, value).is_some() {
            by_length.push(value);
        }
    }
    if by_length.is_empty() {
        return;
    }
    by_length.sort_by_key(|value| std::cmp::Reverse(value.len()));
    for value in by_length {
        let mut from = 0;
        while let Some(at) = line
            .get(from..)
            .and_then(|rest| memchr::memmem::find(rest, value))
        {
            let start = from + at;
            line.splice(start..start + value.len(), REDACTED.bytes());
            from = start + REDACTED.len();
        }
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
    fn short_values_are_not_masked() {
        mask_value("abc");
        assert_eq!(masked("abc abc"), r#"{"message":"abc abc"}"#);
    }
}
