//! What an idempotent handler needs from the raw event: the values at the pointers of its key
//! and validated part, read by the event layer before the event is decoded and kept in the
//! invocation's state for the handler.

use serde_json::Value;

/// Where an idempotent handler's key and validated part are in the raw event: JSON pointers
/// (RFC 6901), checked when the function starts.
#[doc(hidden)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventKeys {
    /// The pointer to the idempotency key, when the key is read from the raw event.
    pub key: Option<String>,
    /// The pointer to the part of the event a repeat must carry unchanged.
    pub validation: Option<String>,
}

impl EventKeys {
    /// Checks both pointers: an invalid one stops the function at start.
    pub(crate) fn check(&self) -> Result<(), crate::ConfigError> {
        for (setting, pointer) in [
            ("idempotency key", &self.key),
            ("idempotency payload_validation", &self.validation),
        ] {
            if let Some(pointer) = pointer {
                crate::correlation::Pointer::new(pointer)
                    .map_err(|error| crate::ConfigError::new(setting, error.to_string()))?;
            }
        }
        Ok(())
    }

    /// The key and validated part of a raw event (`null` where a pointer finds nothing);
    /// nothing when the event is not JSON (the handler is then not called: the event is
    /// reported invalid).
    pub(crate) fn read(&self, body: &[u8]) -> ReadKeys {
        let Ok(event) = serde_json::from_slice::<Value>(body) else {
            return ReadKeys::default();
        };
        let at = |pointer: &Option<String>| {
            pointer
                .as_deref()
                .map(|pointer| event.pointer(pointer).cloned().unwrap_or(Value::Null))
        };
        ReadKeys {
            key: at(&self.key),
            validated: at(&self.validation),
        }
    }
}

/// What the raw event held at an idempotent handler's pointers.
#[doc(hidden)]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadKeys {
    /// The value at the key pointer.
    pub key: Option<Value>,
    /// The value at the validation pointer.
    pub validated: Option<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_values_at_the_pointers_are_read_from_the_raw_event() {
        let keys = EventKeys {
            key: Some("/detail/order_id".to_owned()),
            validation: Some("/detail/amount".to_owned()),
        };
        let read = keys.read(br#"{"detail": {"order_id": "o-1", "amount": {"eur": 42.5}}}"#);
        assert_eq!(read.key, Some(json!("o-1")));
        assert_eq!(read.validated, Some(json!({"eur": 42.5})));
    }

    #[test]
    fn a_pointer_that_finds_nothing_reads_null_and_the_empty_pointer_the_whole_event() {
        let keys = EventKeys {
            key: Some(String::new()),
            validation: Some("/missing".to_owned()),
        };
        let read = keys.read(br#"{"a": 1}"#);
        assert_eq!(read.key, Some(json!({"a": 1})));
        assert_eq!(read.validated, Some(Value::Null));
    }

    #[test]
    fn an_event_that_is_not_json_reads_nothing() {
        let keys = EventKeys {
            key: Some("/a".to_owned()),
            validation: None,
        };
        assert_eq!(keys.read(b"not json"), ReadKeys::default());
    }
}
