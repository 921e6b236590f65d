//! What helve's unit tests share: a sink that keeps what helve writes.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::logging::LineSink;

/// Keeps every line written through its [`sink`](Captured::sink).
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// A sink appending to this capture.
    pub(crate) fn sink(&self) -> LineSink {
        let bytes = Arc::clone(&self.0);
        Arc::new(move |line: &[u8]| bytes.lock().unwrap().extend_from_slice(line))
    }

    /// Everything written so far.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    /// Every log line, parsed; the timestamp is checked for shape and removed, and so is the
    /// location.
    pub(crate) fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.bytes())
            .unwrap()
            .lines()
            .map(|line| {
                let mut value: Value = serde_json::from_str(line).unwrap_or_else(|error| {
                    panic!("not one JSON object per line: {line}: {error}")
                });
                let timestamp = value["timestamp"].as_str().unwrap().to_owned();
                assert_eq!(timestamp.len(), 24, "{timestamp}");
                assert!(
                    timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T',
                    "{timestamp}"
                );
                value.as_object_mut().unwrap().remove("timestamp");
                value.as_object_mut().unwrap().remove("location");
                value
            })
            .collect()
    }

    /// Every EMF document written, with its timestamp checked and set to 0.
    pub(crate) fn documents(&self) -> Vec<Value> {
        String::from_utf8(self.bytes())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|value| value.get("_aws").is_some())
            .map(|mut value| {
                let timestamp = &mut value["_aws"]["Timestamp"];
                assert!(timestamp.as_u64().unwrap() > 1_700_000_000_000);
                *timestamp = json!(0);
                value
            })
            .collect()
    }
}
