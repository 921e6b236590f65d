//! Path parameters, decoded with serde: a struct or map of them, or the route's one value,
//! each value parsed from its text into the type asked for (`u64`, `bool`, an enum, ...).

use serde::{
    de::{self, DeserializeOwned, IntoDeserializer, Visitor, value::MapDeserializer},
    forward_to_deserialize_any,
};

/// Decodes `T` from the parameters; the error names the parameter that failed.
pub(super) fn deserialize<T: DeserializeOwned>(pairs: &[(&str, &str)]) -> Result<T, String> {
    crate::decode::deserialize(Params(pairs)).map_err(|error| {
        let message = error.to_string();
        match (error.path(), pairs) {
            // The route's one value did not parse.
            (None, [(name, _)]) if message.starts_with("expected ") => {
                format!("`{name}`: {message}")
            }
            (None, _) => message,
            (Some(path), _) => format!("`{path}`: {message}"),
        }
    })
}

type Error = de::value::Error;

/// All the parameters: a map, or the one value when `T` is not a struct or map.
struct Params<'a>(&'a [(&'a str, &'a str)]);

impl<'a> Params<'a> {
    fn single(&self) -> Result<Text<'a>, Error> {
        match self.0 {
            [(_, value)] => Ok(Text(value)),
            [] => Err(de::Error::custom("the route has no path parameter")),
            more => Err(de::Error::custom(format!(
                "the route has {} path parameters; take them as a struct",
                more.len()
            ))),
        }
    }

    fn map(&self) -> MapDeserializer<'a, impl Iterator<Item = (&'a str, Text<'a>)>, Error> {
        MapDeserializer::new(self.0.iter().map(|(name, value)| (*name, Text(value))))
    }
}

macro_rules! single {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.single()?.$method(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Params<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(self.map())
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_map(self.map())
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(self.map())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }

    single! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_option
    }

    forward_to_deserialize_any! {
        bytes byte_buf unit unit_struct seq tuple tuple_struct identifier ignored_any
    }
}

/// One parameter's text, parsed into the type asked for.
#[derive(Clone, Copy)]
struct Text<'a>(&'a str);

impl<'a> IntoDeserializer<'_, Error> for Text<'a> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! parse {
    ($($method:ident $visit:ident $ty:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0.parse::<$ty>() {
                Ok(value) => visitor.$visit(value),
                Err(_) => Err(de::Error::custom(concat!("expected ", $what))),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Text<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    parse! {
        deserialize_bool visit_bool bool, "`true` or `false`";
        deserialize_i8 visit_i8 i8, "an integer";
        deserialize_i16 visit_i16 i16, "an integer";
        deserialize_i32 visit_i32 i32, "an integer";
        deserialize_i64 visit_i64 i64, "an integer";
        deserialize_i128 visit_i128 i128, "an integer";
        deserialize_u8 visit_u8 u8, "a non-negative integer";
        deserialize_u16 visit_u16 u16, "a non-negative integer";
        deserialize_u32 visit_u32 u32, "a non-negative integer";
        deserialize_u64 visit_u64 u64, "a non-negative integer";
        deserialize_u128 visit_u128 u128, "a non-negative integer";
        deserialize_f32 visit_f32 f32, "a number";
        deserialize_f64 visit_f64 f64, "a number";
        deserialize_char visit_char char, "one character";
    }

    forward_to_deserialize_any! {
        str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        order: String,
        line: u32,
    }

    #[test]
    fn a_struct_takes_a_field_per_parameter() {
        let item: Item = deserialize(&[("order", "o-1"), ("line", "3")]).unwrap();
        assert_eq!(
            item,
            Item {
                order: "o-1".into(),
                line: 3
            }
        );
    }

    #[test]
    fn a_route_with_one_parameter_gives_its_value() {
        assert_eq!(deserialize::<String>(&[("id", "o-1")]).unwrap(), "o-1");
        assert_eq!(deserialize::<u64>(&[("id", "42")]).unwrap(), 42);
        let map: HashMap<String, String> = deserialize(&[("id", "o-1")]).unwrap();
        assert_eq!(map["id"], "o-1");
    }

    #[test]
    fn a_parameter_that_does_not_parse_is_named() {
        assert_eq!(
            deserialize::<u64>(&[("id", "abc")]).unwrap_err(),
            "`id`: expected a non-negative integer"
        );
        assert_eq!(
            deserialize::<Item>(&[("order", "o-1"), ("line", "x")]).unwrap_err(),
            "`line`: expected a non-negative integer"
        );
        assert_eq!(
            deserialize::<Item>(&[("order", "o-1")]).unwrap_err(),
            "missing field `line`"
        );
        assert_eq!(
            deserialize::<String>(&[]).unwrap_err(),
            "the route has no path parameter"
        );
    }

    #[test]
    fn an_enum_takes_its_variant_by_name() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum State {
            Open,
            Closed,
        }
        assert_eq!(
            deserialize::<State>(&[("state", "open")]).unwrap(),
            State::Open
        );
        assert!(deserialize::<State>(&[("state", "gone")]).is_err());
    }
}
