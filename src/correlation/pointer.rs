//! A user-configured JSON pointer, read from the raw payload without building a
//! `serde_json::Value`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A user-configured JSON pointer (RFC 6901) naming where an event keeps its correlation id,
/// such as `/detail/orderId`. It reads the same value as `serde_json::Value::pointer`, without
/// building a `Value`.
///
/// ```
/// use helve::correlation::Pointer;
///
/// let pointer: Pointer = "/detail/orderId".parse()?;
/// assert_eq!(pointer.extract(br#"{"detail":{"orderId":"o-42"}}"#).as_deref(), Some("o-42"));
/// assert!(Pointer::new("detail/orderId").is_err());
/// # Ok::<(), helve::correlation::InvalidPointer>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    /// The reference tokens, unescaped (`~1` is `/`, `~0` is `~`).
    tokens: Vec<String>,
}

impl Pointer {
    /// Checks a JSON pointer: empty (the whole document) or `/`-separated reference tokens,
    /// where `~` may only appear as `~0` (a `~`) or `~1` (a `/`).
    ///
    /// # Errors
    ///
    /// [`InvalidPointer`] when the pointer is not empty and does not start with `/`, or has a
    /// `~` that is not followed by `0` or `1`.
    pub fn new(pointer: &str) -> Result<Self, InvalidPointer> {
        let mut tokens = Vec::new();
        if !pointer.is_empty() {
            let Some(rest) = pointer.strip_prefix('/') else {
                return Err(InvalidPointer::MissingLeadingSlash {
                    pointer: pointer.to_owned(),
                });
            };
            let mut token = String::new();
            let mut chars = rest.char_indices();
            while let Some((at, c)) = chars.next() {
                match c {
                    '/' => tokens.push(std::mem::take(&mut token)),
                    '~' => match chars.next() {
                        Some((_, '0')) => token.push('~'),
                        Some((_, '1')) => token.push('/'),
                        _ => {
                            return Err(InvalidPointer::InvalidEscape {
                                pointer: pointer.to_owned(),
                                // `at` counts from after the leading '/', one byte long.
                                offset: at + 1,
                            });
                        }
                    },
                    c => token.push(c),
                }
            }
            tokens.push(token);
        }
        Ok(Pointer {
            text: pointer.to_owned(),
            tokens,
        })
    }

    /// The pointer as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value the pointer names in `body`, when it is a non-empty string or a number
    /// (written as `serde_json` writes it, such as `1042` or `12.5`); `None` when the path is
    /// missing, names another kind of value, or `body` is not JSON.
    pub fn extract(&self, body: &[u8]) -> Option<String> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let found = Walk {
            tokens: &self.tokens,
        }
        .deserialize(&mut deserializer)
        .ok()?;
        deserializer.end().ok()?;
        found.filter(|id| !id.is_empty())
    }
}

impl FromStr for Pointer {
    type Err = InvalidPointer;

    fn from_str(pointer: &str) -> Result<Self, Self::Err> {
        Pointer::new(pointer)
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A JSON pointer that [`Pointer::new`] rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidPointer {
    /// The pointer is neither empty nor starts with `/`.
    MissingLeadingSlash {
        /// The pointer as written.
        pointer: String,
    },
    /// A `~` is not followed by `0` or `1`.
    InvalidEscape {
        /// The pointer as written.
        pointer: String,
        /// The byte offset of the `~` in `pointer`.
        offset: usize,
    },
}

impl fmt::Display for InvalidPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidPointer::MissingLeadingSlash { pointer } => write!(
                f,
                "invalid correlation id pointer `{pointer}`: a json pointer must be empty or \
                 start with `/`, as in `/detail/orderId`"
            ),
            InvalidPointer::InvalidEscape { pointer, offset } => write!(
                f,
                "invalid correlation id pointer `{pointer}`: `~` at byte {offset} must be \
                 followed by `0` (for `~`) or `1` (for `/`)"
            ),
        }
    }
}

impl std::error::Error for InvalidPointer {}

/// Follows the remaining reference tokens of a [`Pointer`] through one JSON value, skipping
/// everything off the path, and returns the string or number at its end.
struct Walk<'p> {
    tokens: &'p [String],
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Walk<'_> {
    fn leaf(&self, value: impl FnOnce() -> Option<String>) -> Option<String> {
        if self.tokens.is_empty() {
            value()
        } else {
            None
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Some(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Some(text)))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Some(number.to_string())))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Some(number.to_string())))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        // Formatted as `serde_json::Value` formats it; JSON has no NaN or infinity, so
        // `from_f64` always succeeds here.
        Ok(self.leaf(|| serde_json::Number::from_f64(number).map(|number| number.to_string())))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((token, rest)) = self.tokens.split_first() else {
            IgnoredAny.visit_map(map)?;
            return Ok(None);
        };
        // Like `serde_json::Value`, the last of duplicated keys wins.
        let mut found = None;
        while let Some(matches) = map.next_key_seed(KeyIs(token))? {
            if matches {
                found = map.next_value_seed(Walk { tokens: rest })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Some((token, rest)) = self.tokens.split_first() else {
            IgnoredAny.visit_seq(seq)?;
            return Ok(None);
        };
        let wanted = array_index(token);
        let mut found = None;
        let mut index = 0_usize;
        loop {
            if wanted == Some(index) {
                match seq.next_element_seed(Walk { tokens: rest })? {
                    Some(value) => found = value,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            index = index.saturating_add(1);
        }
        Ok(found)
    }
}

/// An array index as `serde_json::Value::pointer` reads it: digits without a sign or a
/// leading zero (`-`, the element after the last, never matches).
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// Compares an object key with a reference token, without allocating.
struct KeyIs<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}
