//! What one invocation holds while it runs, beside its ids: the plain data each of helve's
//! layers keeps for it. The behaviour stays with the concern (formatting and flushing in
//! [`crate::logging`], writing EMF in [`crate::metrics`]); the data lives here, in the
//! invocation's one allocation, so every task running in the invocation's scope
//! ([`Context::scope`](super::Context::scope)) reaches the same state.

use std::{
    cell::RefCell,
    collections::VecDeque,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use bytes::Bytes;
use serde_json::Value;

use super::collector::Collector;

/// The state of one invocation. Reset, not reallocated, when the next invocation reuses the
/// allocation.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Filled by the logging layer.
    pub(crate) log: InvocationLog,
    /// What the invocation records through the `metrics` facade; `None` while no metrics
    /// layer collects for it (its records then wait for the next invocation that does).
    metrics: Mutex<Option<Collector>>,
    /// The redacted event, read from the raw event, logged once by the logging layer.
    logged_event: Mutex<Option<Value>>,
    /// The raw event, kept when the handler may have to answer without decoding it.
    raw_event: Mutex<Option<Bytes>>,
    /// The URI of the HTTP request being answered, for the problems made while it runs.
    #[cfg(feature = "http")]
    request_uri: Mutex<Option<http::Uri>>,
    /// The idempotency key and validated part, read from the raw event.
    #[cfg(feature = "idempotency")]
    event_keys: Mutex<Option<crate::context::ReadKeys>>,
    /// The invocation's trace, filled by the tracer layer when it is sampled.
    #[cfg(feature = "tracer")]
    pub(crate) trace: super::trace::InvocationTrace,
}

pub(crate) use super::lock::lock;

impl State {
    /// A fresh invocation's state, with the redacted event to log, if any.
    pub(crate) fn new(logged_event: Option<Value>) -> Self {
        Self {
            logged_event: Mutex::new(logged_event),
            ..Self::default()
        }
    }

    /// Makes the state a fresh invocation's, with the redacted event to log, keeping what it
    /// allocated; no lock is taken, the allocation being the caller's alone.
    pub(crate) fn reset(&mut self, logged_event: Option<Value>) {
        self.log.reset();
        *self
            .metrics
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = None;
        *self
            .logged_event
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = logged_event;
        #[cfg(feature = "http")]
        {
            *self
                .request_uri
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
        #[cfg(feature = "idempotency")]
        {
            *self
                .event_keys
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
        #[cfg(feature = "tracer")]
        self.trace.reset();
    }

    /// Keeps what the raw event said about idempotency, for the idempotent handler; no lock
    /// is taken, the state being the caller's alone while the invocation starts.
    #[cfg(feature = "idempotency")]
    pub(crate) fn put_event_keys(&mut self, keys: Option<crate::context::ReadKeys>) {
        *self
            .event_keys
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = keys;
    }

    /// What the raw event said about idempotency, once.
    #[cfg(feature = "idempotency")]
    pub(crate) fn take_event_keys(&self) -> Option<crate::context::ReadKeys> {
        lock(&self.event_keys).take()
    }

    /// Starts collecting the invocation's metrics (from now on they land in its collector).
    pub(crate) fn start_collecting(&self) {
        *lock(&self.metrics) = Some(Collector::default());
    }

    /// Stops collecting, and hands over what was collected.
    pub(crate) fn take_collected(&self) -> Option<Collector> {
        lock(&self.metrics).take()
    }

    /// Runs `f` on the invocation's collector; `false` (and `f` not run) while none collects.
    pub(crate) fn collect(&self, f: impl FnOnce(&mut Collector)) -> bool {
        match lock(&self.metrics).as_mut() {
            Some(collector) => {
                f(collector);
                true
            }
            None => false,
        }
    }

    /// The redacted event to log, once.
    pub(crate) fn take_logged_event(&self) -> Option<Value> {
        lock(&self.logged_event).take()
    }

    /// Keeps the raw event for the invocation.
    pub(crate) fn put_raw_event(&mut self, raw: Option<Bytes>) {
        *self
            .raw_event
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = raw;
    }

    /// The raw event, once, when it was kept.
    pub(crate) fn take_raw_event(&self) -> Option<Bytes> {
        lock(&self.raw_event).take()
    }

    #[cfg(feature = "http")]
    pub(crate) fn set_request_uri(&self, uri: http::Uri) {
        *lock(&self.request_uri) = Some(uri);
    }

    /// The URI of the HTTP request being answered; cloning it only counts a reference.
    #[cfg(feature = "http")]
    pub(crate) fn request_uri(&self) -> Option<http::Uri> {
        lock(&self.request_uri).clone()
    }
}

/// The invocation's logging state: whether it is sampled for DEBUG, and its DEBUG lines held
/// while log buffering is on.
#[derive(Debug, Default)]
pub(crate) struct InvocationLog {
    sampled: AtomicBool,
    buffering: AtomicBool,
    pub(crate) buffer: Mutex<LogBuffer>,
}

impl InvocationLog {
    fn reset(&mut self) {
        *self.sampled.get_mut() = false;
        *self.buffering.get_mut() = false;
        self.buffer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .reset(0);
    }

    /// Sets the invocation's sampling decision, and, with `Some(bytes)`, buffers its DEBUG
    /// lines up to that many bytes.
    pub(crate) fn start(&self, sampled: bool, buffer_bytes: Option<usize>) {
        self.sampled.store(sampled, Ordering::Relaxed);
        if let Some(bytes) = buffer_bytes {
            lock(&self.buffer).reset(bytes);
        }
        self.buffering
            .store(buffer_bytes.is_some(), Ordering::Relaxed);
    }

    pub(crate) fn sampled(&self) -> bool {
        self.sampled.load(Ordering::Relaxed)
    }

    pub(crate) fn buffering(&self) -> bool {
        self.buffering.load(Ordering::Relaxed)
    }
}

/// The DEBUG and TRACE lines of one invocation, held until it fails or logs at ERROR. Bounded:
/// when a new line does not fit, the oldest lines are dropped (and counted).
#[derive(Debug, Default)]
pub(crate) struct LogBuffer {
    pub(crate) lines: VecDeque<Vec<u8>>,
    pub(crate) bytes: usize,
    pub(crate) max: usize,
    /// Lines dropped because they did not fit, over the whole invocation.
    pub(crate) evicted: usize,
    /// Whether the buffer was written out at least once.
    pub(crate) flushed: bool,
    /// Set when the deadline is near: lines are written at once from then on.
    pub(crate) pass_through: bool,
}

impl LogBuffer {
    /// An empty buffer holding at most `max` bytes, keeping the room it had.
    pub(crate) fn reset(&mut self, max: usize) {
        self.lines.clear();
        self.bytes = 0;
        self.max = max;
        self.evicted = 0;
        self.flushed = false;
        self.pass_through = false;
    }
}

/// What was read from the raw event before it was decoded, handed from the event layer to
/// the context layer during the synchronous call between them.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) correlation_id: Option<Bytes>,
    pub(crate) logged_event: Option<Value>,
    /// The raw event, when the handler may have to answer without decoding it.
    pub(crate) raw_event: Option<Bytes>,
    #[cfg(feature = "idempotency")]
    pub(crate) event_keys: Option<crate::context::ReadKeys>,
}

thread_local! {
    static HANDED_OVER: RefCell<Option<Findings>> = const { RefCell::new(None) };
}

impl Findings {
    /// Runs `f` (the synchronous `call` of the typed stack) with these findings ready for
    /// [`Findings::take`].
    pub(crate) fn during<R>(self, f: impl FnOnce() -> R) -> R {
        /// Puts back what was handed over before, also when `f` panics.
        struct Restore(Option<Findings>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let before = self.0.take();
                HANDED_OVER.with(|slot| *slot.borrow_mut() = before);
            }
        }
        let before = HANDED_OVER.with(|slot| slot.borrow_mut().replace(self));
        let _restore = Restore(before);
        f()
    }

    /// The findings of the invocation being started, once.
    pub(crate) fn take() -> Option<Findings> {
        HANDED_OVER.with(|slot| slot.borrow_mut().take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_taken_once_and_only_during_the_call() {
        assert!(Findings::take().is_none());
        let findings = Findings {
            correlation_id: Some(Bytes::from_static(b"order-1")),
            ..Findings::default()
        };
        findings.during(|| {
            let taken = Findings::take().expect("handed over");
            assert_eq!(taken.correlation_id.as_deref(), Some(&b"order-1"[..]));
            assert!(Findings::take().is_none());
        });
        assert!(Findings::take().is_none());
    }

    #[test]
    fn a_reset_state_is_a_fresh_invocations() {
        let mut state = State::new(Some(Value::Null));
        state.log.start(true, Some(64));
        state.start_collecting();
        state.reset(None);
        assert!(!state.log.sampled() && !state.log.buffering());
        assert!(state.take_collected().is_none());
        assert!(state.take_logged_event().is_none());
    }
}
