//! A sink that keeps what helve writes: the log lines and EMF documents of a test function, or
//! of a layer a unit test builds by hand.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use crate::logging::LineSink;

/// Keeps every line written through its [`sink`](Captured::sink).
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn bytes_mut(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panicking writer must not hide what was written before it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A sink appending to this capture.
    pub(crate) fn sink(&self) -> LineSink {
        let captured = self.clone();
        Arc::new(move |line: &[u8]| captured.bytes_mut().extend_from_slice(line))
    }

    /// Everything written so far.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.bytes_mut().clone()
    }

    /// Everything written so far, taken out: the capture is empty again.
    pub(crate) fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes_mut())
    }

    /// Every log line, parsed; the timestamp is checked for shape and removed, and so is the
    /// location (a line cut for CloudWatch has none).
    #[cfg(test)]
    pub(crate) fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.bytes())
            .unwrap()
            .lines()
            .map(|line| {
                let mut value: Value = serde_json::from_str(line).unwrap_or_else(|error| {
                    panic!("not one JSON object per line: {line}: {error}")
                });
                let timestamp = value["timestamp"].as_str().unwrap().to_owned();
                assert!(super::is_rfc3339_utc_millis(&timestamp), "{timestamp}");
                value.as_object_mut().unwrap().remove("timestamp");
                value.as_object_mut().unwrap().remove("location");
                value
            })
            .collect()
    }

    /// Every EMF document written, with its timestamp checked and set to 0.
    ///
    /// # Panics
    ///
    /// When a document is not JSON or has no timestamp of this century.
    #[cfg(test)]
    pub(crate) fn documents(&self) -> Vec<Value> {
        documents(&String::from_utf8_lossy(&self.bytes()))
    }
}

/// The EMF documents among `text`'s lines, each timestamp checked and set to 0.
pub(crate) fn documents(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| super::logs::is_emf(line))
        .map(|line| {
            let mut value: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("an EMF document is not JSON ({error}): {line}"));
            let timestamp = &mut value["_aws"]["Timestamp"];
            assert!(
                timestamp.as_u64().is_some_and(|ms| ms > 1_700_000_000_000),
                "an EMF document without a timestamp in epoch milliseconds: {line}"
            );
            *timestamp = json!(0);
            value
        })
        .collect()
}
