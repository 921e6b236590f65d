//! The invocation's trace while the tracer records it (feature `tracer`): plain data, filled by
//! the tracer layer when the invocation starts, read by the span layer for each span and by the
//! tracer layer when the invocation ends. The behaviour (parsing headers, writing documents,
//! sending them) stays in [`crate::tracer`].

use std::sync::{
    Arc, Mutex, OnceLock,
    atomic::{AtomicU16, AtomicUsize, Ordering},
};

use super::lock::lock;

/// A subsegment id: 16 lowercase hex digits, kept as ASCII.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentId(pub(crate) [u8; 16]);

impl SegmentId {
    /// A fresh random id.
    pub(crate) fn random() -> Self {
        Self::from_u64(fastrand::u64(1..))
    }

    pub(crate) fn from_u64(value: u64) -> Self {
        let mut id = [0; 16];
        for (index, digit) in id.iter_mut().enumerate() {
            let nibble = (value >> (60 - 4 * index)) & 0xf;
            *digit = crate::json_escape::HEX[nibble as usize];
        }
        Self(id)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or("0000000000000000")
    }
}

impl std::fmt::Debug for SegmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Annotations and metadata of one subsegment, as JSON members (`"key":value,`) ready to be
/// written into its document.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields {
    pub(crate) annotations: Vec<u8>,
    pub(crate) metadata: Vec<u8>,
}

/// One sampled invocation's trace: its ids, and what its subsegments share.
#[derive(Debug)]
pub(crate) struct Trace {
    /// `Root=` of the trace header: `1-{8 hex}-{24 hex}`.
    pub(crate) trace_id: Box<str>,
    /// `Parent=` of the trace header: Lambda's segment for the invocation.
    pub(crate) lambda_parent: Box<str>,
    /// The other keys of the trace header (`Lineage=...`), verbatim, each with its leading `;`.
    pub(crate) rest: Box<str>,
    /// The invocation's own subsegment (`## handler`), parent of the others.
    pub(crate) handler_id: SegmentId,
    /// Annotations written so far, over the whole trace (X-Ray keeps at most 50).
    pub(crate) annotations: AtomicUsize,
    /// Annotations dropped, and why the first one was.
    pub(crate) dropped: Mutex<(usize, Option<String>)>,
    /// The status of the HTTP response, once the HTTP adapter made it (0 before).
    pub(crate) http_status: AtomicU16,
    /// What was annotated with no span of the invocation's open: the handler subsegment's.
    pub(crate) handler_fields: Mutex<Fields>,
}

impl Trace {
    /// Counts one more annotation; `false` when the trace already has as many as X-Ray keeps.
    pub(crate) fn take_annotation(&self, max: usize) -> bool {
        self.annotations
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used < max).then_some(used + 1)
            })
            .is_ok()
    }

    /// Notes that an annotation was dropped, and why.
    pub(crate) fn drop_annotation(&self, reason: impl FnOnce() -> String) {
        let mut dropped = lock(&self.dropped);
        dropped.0 += 1;
        if dropped.1.is_none() {
            dropped.1 = Some(reason());
        }
    }

    /// How many annotations were dropped and why the first was, once.
    pub(crate) fn take_dropped(&self) -> Option<(usize, String)> {
        let mut dropped = lock(&self.dropped);
        let reason = dropped.1.take()?;
        Some((std::mem::take(&mut dropped.0), reason))
    }
}

/// The state's slot: the invocation's trace, when it is sampled and the tracer is on.
#[derive(Debug, Default)]
pub(crate) struct InvocationTrace {
    trace: OnceLock<Arc<Trace>>,
}

impl InvocationTrace {
    pub(crate) fn reset(&mut self) {
        self.trace.take();
    }

    /// Makes `trace` the invocation's; `false` when it already has one.
    pub(crate) fn start(&self, trace: Arc<Trace>) -> bool {
        self.trace.set(trace).is_ok()
    }

    /// The invocation's trace, when it is recorded.
    pub(crate) fn get(&self) -> Option<&Arc<Trace>> {
        self.trace.get()
    }

    /// Notes the HTTP response's status, for the handler subsegment.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn set_http_status(&self, status: u16) {
        if let Some(trace) = self.trace.get() {
            trace.http_status.store(status, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_id_is_sixteen_lowercase_hex_digits() {
        assert_eq!(
            SegmentId::from_u64(0x53995c3f42cd8ad8).as_str(),
            "53995c3f42cd8ad8"
        );
        assert_eq!(SegmentId::from_u64(1).as_str(), "0000000000000001");
        let random = SegmentId::random();
        assert!(
            random
                .as_str()
                .bytes()
                .all(|digit| digit.is_ascii_hexdigit() && !digit.is_ascii_uppercase())
        );
    }
}
