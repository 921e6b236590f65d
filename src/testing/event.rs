//! What a test invocation takes as its event.

use serde_json::Value;

/// An event for [`TestFunction::invoke`](super::TestFunction::invoke): a fixture, a
/// `serde_json::Value`, or the raw bytes of the payload (JSON text as a `&str`, even one that
/// is not valid JSON, to see how the function answers it).
pub trait IntoEvent {
    /// The payload, as the Runtime API hands it to the function.
    fn into_event(self) -> Vec<u8>;
}

impl IntoEvent for Value {
    fn into_event(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl IntoEvent for &Value {
    fn into_event(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl IntoEvent for &str {
    fn into_event(self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl IntoEvent for String {
    fn into_event(self) -> Vec<u8> {
        self.into_bytes()
    }
}

impl IntoEvent for &[u8] {
    fn into_event(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl IntoEvent for Vec<u8> {
    fn into_event(self) -> Vec<u8> {
        self
    }
}
