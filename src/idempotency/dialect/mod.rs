//! The canonical JSON of an idempotency key's value and its digest, as Powertools computes them.
//!
//! Both dialects write the canonical JSON straight into one buffer in one walk of the value;
//! the only other allocation is, per object whose map does not already iterate its keys in
//! the dialect's order, the list of its keys in that order. (`serde_json::Map` iterates in
//! code-point order by default: [`Dialect::Python`]'s order, and [`Dialect::TypeScript`]'s
//! too for ASCII keys without array indices or upper case that would order them otherwise.)

use std::{borrow::Cow, cmp::Ordering};

use base64::Engine as _;
use md5::{Digest as _, Md5};
use serde_json::{Map, Number, Value};

use crate::json_escape::{self, HEX};

mod number;

#[cfg(test)]
mod tests;

use number::Decimal;

/// How a key's value becomes the digest in its idempotency key: the canonical JSON and the
/// digest of the Powertools for AWS Lambda runtime whose records a helve function shares.
///
/// ```
/// use helve::idempotency::Dialect;
/// use serde_json::json;
///
/// let value = json!({"user_id": "u-1", "quantity": 2, "note": "café"});
/// assert_eq!(
///     Dialect::Python.canonical(&value),
///     r#"{"note": "caf\u00e9", "quantity": 2, "user_id": "u-1"}"#,
/// );
/// assert_eq!(
///     Dialect::TypeScript.canonical(&value),
///     r#"{"note":"café","quantity":2,"user_id":"u-1"}"#,
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// Powertools for AWS Lambda (Python): `json.dumps(value, sort_keys=True)`, md5 in hex.
    ///
    /// The canonical JSON is exactly what CPython's `json.dumps` writes with its default
    /// arguments besides `sort_keys=True`: `", "` and `": "` between items, object keys sorted
    /// by code point at every depth, every character outside printable ASCII escaped as a
    /// lower-case `\uXXXX` (a UTF-16 surrogate pair above U+FFFF), integers as their digits and
    /// floats as Python's `repr` writes them (`100.0`, `1e-07`, `1e+16`). The digest is the md5
    /// of that text in lower-case hex.
    ///
    /// The value is the one serde_json read, which is Python's but for two kinds of number
    /// that serde_json reads as floats where Python reads integers: an integer beyond the
    /// range of `u64` and `i64` (`18446744073709551616` is written `1.8446744073709552e+19`,
    /// Python writes its digits) and the integer `-0` (written `-0.0`, Python writes `0`).
    #[default]
    Python,
    /// Powertools for AWS Lambda (TypeScript): `JSON.stringify` of the value with its object
    /// keys sorted case-insensitively, md5 in base64.
    ///
    /// The canonical JSON is what `JSON.stringify(deepSort(value))` writes once `JSON.parse`
    /// has read the value: no spaces, text as UTF-8 with only `"`, `\` and the control
    /// characters escaped, every number as the `f64` JavaScript holds written as
    /// `Number.prototype.toString` writes it (`100`, `0.5`, `1e+21`; an integer beyond 2^53
    /// loses precision, as it does in JavaScript), and object keys in the order a JavaScript
    /// object lists them: the array-index keys (`"0"`, `"42"`) first in numeric order, then the
    /// others sorted by their lower-cased text in UTF-16 code-unit order. Keys that lower-case
    /// to the same text (`"A"` and `"a"`) keep, in JavaScript, the order of the event's text;
    /// helve orders them by code point (`"A"` before `"a"`), which is that order whenever the
    /// event lists them so, and does not depend on how the `serde_json::Map` was built. The
    /// digest is the md5 of that text in standard base64 with padding.
    TypeScript,
}

impl Dialect {
    /// The canonical JSON of `value` in this dialect.
    pub fn canonical(&self, value: &Value) -> String {
        // Only whole `str`s and ASCII are written: the bytes are UTF-8.
        String::from_utf8(self.canonical_bytes(value))
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
    }

    /// The canonical JSON of `value`, as its UTF-8 bytes.
    fn canonical_bytes(&self, value: &Value) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        match self {
            Dialect::Python => python_value(&mut out, value),
            Dialect::TypeScript => typescript_value(&mut out, value),
        }
        out
    }

    /// The digest of `value`'s canonical JSON: what follows the `#` in an idempotency key.
    ///
    /// The md5 of the canonical JSON's UTF-8 bytes, in lower-case hex for
    /// [`Dialect::Python`] and in standard base64 with padding for [`Dialect::TypeScript`].
    pub fn digest(&self, value: &Value) -> String {
        let md5 = Md5::digest(self.canonical_bytes(value));
        match self {
            Dialect::Python => json_escape::lower_hex(&md5),
            Dialect::TypeScript => base64::engine::general_purpose::STANDARD.encode(md5),
        }
    }
}

/// What each byte of a string is escaped with in [`Dialect::Python`]: `0` for none, `u` for
/// `\u00XX`, [`NON_ASCII`] for a byte of a character above U+007F, otherwise the character
/// after the backslash. `json.dumps`'s escapes with `ensure_ascii=True`: the escapes of every
/// JSON string helve writes ([`json_escape::ESCAPE`]: `"`, `\`, the short forms of
/// `\b \f \n \r \t`, `\u00XX` for the other control characters), plus `\u007f` for DEL
/// and `\uXXXX` for every character above U+007F.
const PYTHON_ESCAPE: [u8; 256] = {
    let mut table = json_escape::ESCAPE;
    table[0x7f] = b'u';
    let mut byte = 0x80;
    while byte < 0x100 {
        table[byte] = NON_ASCII;
        byte += 1;
    }
    table
};

/// The mark, in [`PYTHON_ESCAPE`], of a byte of a non-ASCII character.
const NON_ASCII: u8 = 1;

/// Appends `\uXXXX` for each UTF-16 code unit of `units`, in lower-case hex.
#[inline]
fn push_unicode_escapes(out: &mut Vec<u8>, units: &[u16]) {
    let mut escaped = [0u8; 12];
    for (unit, escape) in units.iter().zip(escaped.chunks_exact_mut(6)) {
        escape.copy_from_slice(&[
            b'\\',
            b'u',
            HEX[usize::from((unit >> 12) & 0xf)],
            HEX[usize::from((unit >> 8) & 0xf)],
            HEX[usize::from((unit >> 4) & 0xf)],
            HEX[usize::from(unit & 0xf)],
        ]);
    }
    out.extend_from_slice(escaped.get(..6 * units.len()).unwrap_or_default());
}

/// Appends `text` as `json.dumps` writes a string, quotes included.
#[inline]
fn push_python_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // The start of the run of bytes not yet copied: each run is copied in one extend.
    let mut start = 0;
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escape = PYTHON_ESCAPE[usize::from(byte)];
        if escape == 0 {
            index += 1;
            continue;
        }
        out.extend_from_slice(bytes.get(start..index).unwrap_or_default());
        match escape {
            b'u' => {
                push_unicode_escapes(out, &[u16::from(byte)]);
                index += 1;
            }
            NON_ASCII => {
                // `index` is where a character starts: the bytes before it were ASCII or whole
                // characters.
                let Some(character) = text.get(index..).and_then(|rest| rest.chars().next()) else {
                    break;
                };
                let mut units = [0; 2];
                push_unicode_escapes(out, character.encode_utf16(&mut units));
                index += character.len_utf8();
            }
            short => {
                out.extend_from_slice(&[b'\\', short]);
                index += 1;
            }
        }
        start = index;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

/// Appends `text` as `JSON.stringify` writes a string, quotes included: `"`, `\` and the
/// control characters escaped as serde_json escapes them, everything else as it is.
#[inline]
fn push_typescript_string(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    json_escape::escape_into(out, text);
    out.push(b'"');
}

/// Appends the decimal digits of `value`.
#[inline]
fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    for digit in digits.iter_mut().rev() {
        // `value % 10` is below 10.
        *digit = b'0' + (value % 10) as u8;
        start -= 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// Appends the decimal digits of `value`, with a `-` if it is negative.
#[inline]
fn push_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    push_u64(out, value.unsigned_abs());
}

fn python_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => python_number(out, number),
        Value::String(text) => push_python_string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.extend_from_slice(b", ");
                }
                python_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            if map.keys().is_sorted() {
                python_entries(out, map.iter());
            } else {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                // Keys are unique: an unstable sort orders them all the same.
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                python_entries(out, entries.into_iter());
            }
            out.push(b'}');
        }
    }
}

fn python_entries<'a>(out: &mut Vec<u8>, entries: impl Iterator<Item = (&'a String, &'a Value)>) {
    for (index, (key, value)) in entries.enumerate() {
        if index > 0 {
            out.extend_from_slice(b", ");
        }
        push_python_string(out, key);
        out.extend_from_slice(b": ");
        python_value(out, value);
    }
}

fn python_number(out: &mut Vec<u8>, number: &Number) {
    if let Some(value) = number.as_u64() {
        push_u64(out, value);
    } else if let Some(value) = number.as_i64() {
        push_i64(out, value);
    } else if let Some(value) = number.as_f64() {
        python_float(out, value);
    } else {
        // Not u64, i64 nor f64: no such serde_json Number. JSON's null, not a panic.
        out.extend_from_slice(b"null");
    }
}

/// Appends `value` as Python's `repr(float)` writes it.
fn python_float(out: &mut Vec<u8>, value: f64) {
    if !value.is_finite() {
        // serde_json holds no NaN nor infinity; `json.dumps` would write these.
        out.extend_from_slice(if value.is_nan() {
            b"NaN"
        } else if value > 0.0 {
            b"Infinity"
        } else {
            b"-Infinity"
        });
        return;
    }
    // Python writes these in fixed notation (and no others): serde_json often does too.
    if (1e-4..1e16).contains(&value.abs()) && number::push_plain(out, value, true) {
        return;
    }
    let Some(decimal) = Decimal::shortest(value) else {
        out.extend_from_slice(b"null");
        return;
    };
    if value.is_sign_negative() {
        out.push(b'-');
    }
    let digits = decimal.digits();
    let exponent = decimal.exponent();
    if (-4..16).contains(&exponent) {
        push_fixed(out, digits, exponent);
        if i64::from(exponent) + 1 >= digits.len() as i64 {
            // An integral value: `100.0`.
            out.extend_from_slice(b".0");
        }
    } else {
        push_scientific(out, digits);
        out.push(if exponent < 0 { b'-' } else { b'+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        push_u64(out, u64::from(magnitude));
    }
}

/// Appends `digits` × 10^(`exponent` + 1 − `digits.len()`) in fixed notation, without a
/// trailing `.0` when it is integral (`100`, `1.5`, `0.0001`).
fn push_fixed(out: &mut Vec<u8>, digits: &[u8], exponent: i32) {
    // Where the point goes: after `point` digits (before them when negative).
    let point = i64::from(exponent) + 1;
    let length = digits.len() as i64;
    if point <= 0 {
        out.extend_from_slice(b"0.");
        for _ in point..0 {
            out.push(b'0');
        }
        push_digits(out, digits);
    } else if point >= length {
        push_digits(out, digits);
        for _ in length..point {
            out.push(b'0');
        }
    } else {
        let split = usize::try_from(point).unwrap_or_default();
        push_digits(out, digits.get(..split).unwrap_or_default());
        out.push(b'.');
        push_digits(out, digits.get(split..).unwrap_or_default());
    }
}

/// Appends `d[.ddd]e` for `digits`: the part of the scientific notation before its exponent.
fn push_scientific(out: &mut Vec<u8>, digits: &[u8]) {
    if let Some((first, rest)) = digits.split_first() {
        out.push(*first);
        if !rest.is_empty() {
            out.push(b'.');
            push_digits(out, rest);
        }
    }
    out.push(b'e');
}

#[inline]
fn push_digits(out: &mut Vec<u8>, digits: &[u8]) {
    out.extend_from_slice(digits);
}

fn typescript_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => typescript_number(out, number),
        Value::String(text) => push_typescript_string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                typescript_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            // A map of ASCII keys often iterates in the order JavaScript lists them already.
            if in_ascii_order(map) {
                typescript_entries(out, map.iter());
            } else {
                let entries = typescript_order(map);
                typescript_entries(out, entries.iter().map(|entry| (entry.key, entry.value)));
            }
            out.push(b'}');
        }
    }
}

fn typescript_entries<'a>(
    out: &mut Vec<u8>,
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
) {
    for (index, (key, value)) in entries.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_typescript_string(out, key);
        out.push(b':');
        typescript_value(out, value);
    }
}

/// Whether every key is ASCII and the keys come in the order `deepSort` gives them: each key
/// is checked for ASCII once, and compared with the one before it; keys that start with a
/// digit (array indices, maybe) are compared as [`ascii_key_order`] compares them.
fn in_ascii_order(map: &Map<String, Value>) -> bool {
    let mut previous: Option<&str> = None;
    for key in map.keys() {
        if !key.is_ascii() {
            return false;
        }
        if let Some(previous) = previous {
            let starts_with_digit =
                |key: &str| key.as_bytes().first().is_some_and(u8::is_ascii_digit);
            let order = if starts_with_digit(previous) || starts_with_digit(key) {
                ascii_key_order(previous, key)
            } else {
                ascii_case_insensitive(previous, key)
            };
            if order != Ordering::Less {
                return false;
            }
        }
        previous = Some(key);
    }
    true
}

/// `a.toLowerCase()` against `b.toLowerCase()` for ASCII keys, the keys themselves breaking a
/// tie.
fn ascii_case_insensitive(a: &str, b: &str) -> Ordering {
    for (a, b) in a.bytes().zip(b.bytes()) {
        let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
        if a != b {
            return a.cmp(&b);
        }
    }
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The order of two ASCII keys in a JavaScript object's keys once `deepSort` has sorted them:
/// what [`typescript_order`] sorts by, without lower-casing anything but ASCII.
fn ascii_key_order(a: &str, b: &str) -> Ordering {
    let starts_with_digit = |key: &str| key.as_bytes().first().is_some_and(u8::is_ascii_digit);
    if starts_with_digit(a) || starts_with_digit(b) {
        match (array_index(a), array_index(b)) {
            (Some(a), Some(b)) => return a.cmp(&b),
            (Some(_), None) => return Ordering::Less,
            (None, Some(_)) => return Ordering::Greater,
            (None, None) => {}
        }
    }
    ascii_case_insensitive(a, b)
}

/// An object's entry, with what orders it among its siblings in a JavaScript object.
struct Entry<'a> {
    key: &'a String,
    value: &'a Value,
    /// The key's value if it is an array index, which a JavaScript object lists first.
    index: Option<u32>,
    /// The key lower-cased (as the key itself if it is ASCII: lower-cased as it is compared).
    lower: Cow<'a, str>,
}

/// The entries of `map` in the order `JSON.stringify(deepSort(map))` lists them.
fn typescript_order(map: &Map<String, Value>) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry<'_>> = map
        .iter()
        .map(|(key, value)| Entry {
            key,
            value,
            index: array_index(key),
            lower: if key.is_ascii() {
                Cow::Borrowed(key.as_str())
            } else {
                Cow::Owned(key.to_lowercase())
            },
        })
        .collect();
    // Keys are unique, and the order below is total over distinct keys.
    entries.sort_unstable_by(|a, b| match (a.index, b.index) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => case_insensitive(a, b).then_with(|| a.key.cmp(b.key)),
    });
    entries
}

/// `a.toLowerCase() < b.toLowerCase()`: the lower-cased keys in UTF-16 code-unit order.
fn case_insensitive(a: &Entry<'_>, b: &Entry<'_>) -> Ordering {
    if a.key.is_ascii() && b.key.is_ascii() {
        // ASCII's UTF-16 code units are its bytes.
        return ascii_lowercase(a.key).cmp(ascii_lowercase(b.key));
    }
    utf16_lowercase(&a.lower).cmp(utf16_lowercase(&b.lower))
}

fn ascii_lowercase(text: &str) -> impl Iterator<Item = u8> + '_ {
    text.bytes().map(|byte| byte.to_ascii_lowercase())
}

/// The UTF-16 code units of `text` with ASCII lower-cased: an ASCII key is not lower-cased
/// yet, and lower-casing ASCII in a key already lower-cased changes nothing.
fn utf16_lowercase(text: &str) -> impl Iterator<Item = u16> + '_ {
    text.encode_utf16().map(|unit| match u8::try_from(unit) {
        Ok(byte) => u16::from(byte.to_ascii_lowercase()),
        Err(_) => unit,
    })
}

/// The value of `key` if it is an array index, the canonical decimal text of an integer from
/// 0 to 2^32 − 2: a key that a JavaScript object lists before the others, in numeric order.
fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    if bytes.is_empty()
        || bytes.len() > 10
        || !bytes.iter().all(u8::is_ascii_digit)
        || (bytes.len() > 1 && bytes.first() == Some(&b'0'))
    {
        return None;
    }
    let value = bytes
        .iter()
        .fold(0u64, |value, &digit| value * 10 + u64::from(digit - b'0'));
    u32::try_from(value).ok().filter(|&value| value < u32::MAX)
}

fn typescript_number(out: &mut Vec<u8>, number: &Number) {
    /// The integers up to 2^53 are all `f64`s: JavaScript writes them as their digits.
    const EXACT: u64 = 1 << 53;
    if let Some(value) = number.as_u64() {
        if value <= EXACT {
            push_u64(out, value);
        } else {
            typescript_float(out, value as f64);
        }
    } else if let Some(value) = number.as_i64() {
        if value.unsigned_abs() <= EXACT {
            push_i64(out, value);
        } else {
            typescript_float(out, value as f64);
        }
    } else if let Some(value) = number.as_f64() {
        typescript_float(out, value);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends `value` as JavaScript's `Number.prototype.toString` writes it (JSON.stringify's
/// numbers).
fn typescript_float(out: &mut Vec<u8>, value: f64) {
    if !value.is_finite() {
        // JSON.stringify writes NaN and the infinities as null.
        out.extend_from_slice(b"null");
        return;
    }
    if value == 0.0 {
        // -0 included.
        out.push(b'0');
        return;
    }
    // JavaScript writes these in fixed notation (and no others): serde_json often does too.
    if (1e-6..1e21).contains(&value.abs()) && number::push_plain(out, value, false) {
        return;
    }
    let Some(decimal) = Decimal::shortest(value) else {
        out.extend_from_slice(b"null");
        return;
    };
    if value < 0.0 {
        out.push(b'-');
    }
    let digits = decimal.digits();
    let exponent = decimal.exponent();
    if (-6..21).contains(&exponent) {
        push_fixed(out, digits, exponent);
    } else {
        push_scientific(out, digits);
        out.push(if exponent < 0 { b'-' } else { b'+' });
        push_u64(out, u64::from(exponent.unsigned_abs()));
    }
}
