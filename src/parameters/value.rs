//! What a service returns, and how it becomes the type asked for: the type decides.

use std::any::{Any, TypeId};

use base64::Engine as _;
use serde::de::DeserializeOwned;

use crate::{
    decode,
    logging::{mask_value, redact::Redactor},
};

/// A type a parameter can be read as: `String` (the value as it is), `Vec<u8>` (base64 text
/// decoded, or a binary value as it is), `Vec<String>` (a `StringList` split at its commas;
/// any other value as a JSON array), and any other `DeserializeOwned` type (the value as
/// JSON: a struct, `serde_json::Value`, a number).
pub trait ParameterValue: DeserializeOwned + Send + Sync + 'static {}

impl<T: DeserializeOwned + Send + Sync + 'static> ParameterValue for T {}

/// A value as the service returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Raw {
    /// Text: a parameter's value, a `SecretString`.
    Text(String),
    /// An SSM `StringList`: text with comma-separated items.
    List(String),
    /// Bytes: a `SecretBinary`, an AppConfig configuration.
    Bytes(Vec<u8>),
}

impl Raw {
    fn bytes(&self) -> &[u8] {
        match self {
            Raw::Text(text) | Raw::List(text) => text.as_bytes(),
            Raw::Bytes(bytes) => bytes,
        }
    }

    /// Masks the value in log lines: the whole text and, when it is a JSON object, each
    /// string under a key that names a secret (`password`, `secret`, `token`, `api_key`, any
    /// key with `key`, `pass`, `pwd` or `credential` in it, at any depth): a secret of
    /// `{"username":..,"password":..}` logged field by field still hides its password, and
    /// its username stays readable.
    pub(crate) fn mask(&self) {
        let Ok(text) = std::str::from_utf8(self.bytes()) else {
            return;
        };
        mask_value(text);
        if text.trim_start().starts_with(['{', '['])
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(text)
        {
            mask_secret_fields(&json, &Redactor::default());
        }
    }
}

fn mask_secret_fields(value: &serde_json::Value, redactor: &Redactor) {
    match value {
        serde_json::Value::Array(items) => items
            .iter()
            .for_each(|item| mask_secret_fields(item, redactor)),
        serde_json::Value::Object(fields) => {
            for (key, value) in fields {
                match value {
                    serde_json::Value::String(text) if names_a_secret(key, redactor) => {
                        mask_value(text);
                    }
                    _ => mask_secret_fields(value, redactor),
                }
            }
        }
        _ => {}
    }
}

fn names_a_secret(key: &str, redactor: &Redactor) -> bool {
    let lower = key.to_ascii_lowercase();
    redactor.is_secret(key)
        || ["key", "pass", "pwd", "credential"]
            .iter()
            .any(|part| lower.contains(part))
}

/// `raw` as a `T`; `Err` is the reason, without the value.
pub(crate) fn transform<T: ParameterValue>(raw: Raw) -> Result<T, String> {
    let wanted = TypeId::of::<T>();
    let value: Box<dyn Any> = if wanted == TypeId::of::<String>() {
        Box::new(match raw {
            Raw::Text(text) | Raw::List(text) => text,
            Raw::Bytes(bytes) => String::from_utf8(bytes)
                .map_err(|error| format!("the value is not UTF-8 text ({error})"))?,
        })
    } else if wanted == TypeId::of::<Vec<u8>>() {
        Box::new(match raw {
            Raw::Text(text) | Raw::List(text) => base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| "the value is not base64".to_owned())?,
            Raw::Bytes(bytes) => bytes,
        })
    } else if let (true, Raw::List(text)) = (wanted == TypeId::of::<Vec<String>>(), &raw) {
        Box::new(text.split(',').map(str::to_owned).collect::<Vec<String>>())
    } else {
        return decode::json_slice::<T>(raw.bytes()).map_err(|error| {
            if error.is_syntax() {
                format!("the value is not JSON ({error})")
            } else {
                format!("at `{}`: {error}", error.path_or_root())
            }
        });
    };
    // The branches above made a `T`: the downcast cannot fail.
    value
        .downcast::<T>()
        .map(|value| *value)
        .map_err(|_| "helve could not convert the value; please report it".to_owned())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Pool {
        host: String,
        port: u16,
    }

    #[test]
    fn the_type_asked_for_decides_how_a_value_is_read() {
        let text = |value: &str| Raw::Text(value.to_owned());
        assert_eq!(transform::<String>(text("{\"a\":1}")).unwrap(), "{\"a\":1}");
        assert_eq!(transform::<Vec<u8>>(text("aGVsdmU=")).unwrap(), b"helve");
        assert_eq!(
            transform::<Vec<u8>>(Raw::Bytes(b"\x00\x01".to_vec())).unwrap(),
            vec![0, 1]
        );
        assert_eq!(
            transform::<Vec<String>>(Raw::List("a,b,c".to_owned())).unwrap(),
            ["a", "b", "c"]
        );
        assert_eq!(transform::<Vec<String>>(text("[\"x\"]")).unwrap(), ["x"]);
        assert_eq!(
            transform::<Pool>(text("{\"host\":\"db\",\"port\":5432}")).unwrap(),
            Pool {
                host: "db".to_owned(),
                port: 5432
            }
        );
        assert_eq!(transform::<u32>(text("42")).unwrap(), 42);
    }

    #[test]
    fn a_value_of_the_wrong_shape_names_the_path_and_never_the_value() {
        let reason = transform::<Pool>(Raw::Text(
            "{\"host\":\"db\",\"port\":\"hunter2\"}".to_owned(),
        ))
        .unwrap_err();
        assert_eq!(
            reason,
            "at `port`: invalid type: string, expected u16 at line 1 column 29"
        );
        let reason = transform::<Pool>(Raw::Text("hunter2".to_owned())).unwrap_err();
        assert!(reason.starts_with("the value is not JSON ("), "{reason}");
        assert!(!reason.contains("hunter2"), "{reason}");
        let reason = transform::<Vec<u8>>(Raw::Text("hunter2!".to_owned())).unwrap_err();
        assert_eq!(reason, "the value is not base64");
    }
}
