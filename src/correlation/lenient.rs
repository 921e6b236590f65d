//! Lenient probe types: serde visitors that read only the values the presets need and read
//! a value of an unexpected JSON type as absent instead of failing.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    value::MapAccessDeserializer,
};

/// Accepts any value and returns `$value` for the kinds a visitor does not care about.
macro_rules! skip_values {
    (scalars => $value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (strings => $value:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (arrays => $value:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_seq(seq)?;
            Ok($value)
        }
    };
    (objects => $value:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_map(map)?;
            Ok($value)
        }
    };
}

/// A string, borrowed from the payload unless it had escapes; absent for any other value.
#[derive(Default)]
pub(super) struct Str<'a>(pub(super) Option<Cow<'a, str>>);

impl Str<'_> {
    /// The string, when present and not empty.
    pub(super) fn get(&self) -> Option<&str> {
        self.0.as_deref().filter(|text| !text.is_empty())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Borrowed(text))))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(text.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(text))))
    }

    skip_values!(scalars => Str(None));
    skip_values!(arrays => Str(None));
    skip_values!(objects => Str(None));
}

/// An object read as `T`; absent for any other value.
pub(super) struct Obj<T>(pub(super) Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjVisitor(PhantomData))
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|value| Obj(Some(value)))
    }

    skip_values!(scalars => Obj(None));
    skip_values!(strings => Obj(None));
    skip_values!(arrays => Obj(None));
}

/// The first element of an array, when it is an object read as `T`; absent otherwise.
pub(super) struct First<T>(pub(super) Option<T>);

impl<T> Default for First<T> {
    fn default() -> Self {
        First(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FirstVisitor(PhantomData))
    }
}

struct FirstVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
    type Value = First<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element::<Obj<T>>()?.and_then(|first| first.0);
        IgnoredAny.visit_seq(seq)?;
        Ok(First(first))
    }

    skip_values!(scalars => First(None));
    skip_values!(strings => First(None));
    skip_values!(objects => First(None));
}

/// The two headers the presets read from a headers object, matched case-insensitively. A
/// value is a string or an array of strings (multi-value headers, VPC Lattice 2.0), of which
/// the first is used; empty values are ignored.
#[derive(Default)]
pub(super) struct Headers<'a> {
    pub(super) correlation: Option<Cow<'a, str>>,
    pub(super) trace: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeadersVisitor)
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = Headers<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut headers = Headers::default();
        while let Some(name) = map.next_key_seed(HeaderNameSeed)? {
            let slot = match name {
                HeaderName::Correlation if headers.correlation.is_none() => {
                    &mut headers.correlation
                }
                HeaderName::Trace if headers.trace.is_none() => &mut headers.trace,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map
                .next_value::<HeaderValue<'de>>()?
                .0
                .filter(|value| !value.is_empty());
        }
        Ok(headers)
    }

    skip_values!(scalars => Headers::default());
    skip_values!(strings => Headers::default());
    skip_values!(arrays => Headers::default());
}

enum HeaderName {
    Correlation,
    Trace,
    Other,
}

/// Reads a header name without allocating, even when it has escapes.
struct HeaderNameSeed;

impl<'de> DeserializeSeed<'de> for HeaderNameSeed {
    type Value = HeaderName;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<HeaderName, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for HeaderNameSeed {
    type Value = HeaderName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a header name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<HeaderName, E> {
        Ok(if name.eq_ignore_ascii_case("x-correlation-id") {
            HeaderName::Correlation
        } else if name.eq_ignore_ascii_case("x-amzn-trace-id") {
            HeaderName::Trace
        } else {
            HeaderName::Other
        })
    }
}

/// A header value: a string, or the first element of an array when it is a string.
struct HeaderValue<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for HeaderValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeaderValueVisitor)
    }
}

struct HeaderValueVisitor;

impl<'de> Visitor<'de> for HeaderValueVisitor {
    type Value = HeaderValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        StrVisitor
            .visit_borrowed_str(text)
            .map(|text| HeaderValue(text.0))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        StrVisitor.visit_str(text).map(|text| HeaderValue(text.0))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        StrVisitor
            .visit_string(text)
            .map(|text| HeaderValue(text.0))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element::<Str<'de>>()?.and_then(|first| first.0);
        IgnoredAny.visit_seq(seq)?;
        Ok(HeaderValue(first))
    }

    skip_values!(scalars => HeaderValue(None));
    skip_values!(objects => HeaderValue(None));
}
