//! What an invocation records through the `metrics` facade, as plain data: the registered
//! metrics' handles and each one's value. Recording and writing are [`crate::metrics`]'s.

use std::sync::{
    Arc, Mutex, Weak,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use serde_json::Value;

/// What an invocation recorded, by metric.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    /// Each metric recorded, with its handle: the handle stays whole (name, labels) until the
    /// invocation's documents are written, even if the recorder has forgotten the key since.
    pub(crate) entries: Vec<(Arc<MetricHandle>, Recorded)>,
    /// Where each handle's entry is, by the handle's slot (slots are small and dense): recording
    /// finds its entry at once instead of searching the entries.
    pub(crate) slots: Vec<u32>,
    /// Properties written in every document of the invocation, not dimensions.
    pub(crate) metadata: Vec<(String, Value)>,
}

/// A metric's value in one invocation: counters sum, gauges keep the last value, histograms
/// keep every value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Recorded {
    Counter(f64),
    Gauge(f64),
    Histogram(Vec<f64>),
}

/// Which kind of metric a handle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// One registered metric: a name and labels. Registering the same key again returns the same
/// handle while the recorder keeps it, so recording allocates nothing after the first time.
#[derive(Debug)]
pub(crate) struct MetricHandle {
    /// Its place in a collector's slot table. Small and dense; given to another handle once the
    /// recorder has forgotten this one, so two handles may share a slot (a collector then
    /// tells them apart by pointer).
    pub(crate) slot: u32,
    pub(crate) kind: MetricKind,
    pub(crate) name: String,
    pub(crate) labels: Vec<(String, String)>,
    /// Whether a metric of another kind has the same name and labels (`counter!("x")` and
    /// `gauge!("x")`): both then go in one document, where a name can appear only once.
    pub(crate) shares_name: AtomicBool,
    /// Whether the recorder has forgotten this handle's key: a handle registered for the same
    /// key since may be recorded in the same invocation, and both go in one document.
    pub(crate) forgotten: AtomicBool,
    /// The recorder's clock when the key was last registered: the least recently used keys
    /// are forgotten first.
    pub(crate) last_used: AtomicU64,
    /// This handle, for a collector to hold when the metric is first recorded.
    pub(crate) this: Weak<MetricHandle>,
    /// Where what is recorded outside any invocation waits for the next one.
    pub(crate) pending: Arc<Mutex<Collector>>,
}

impl MetricHandle {
    /// Whether a metric of another kind has this one's name and labels.
    pub(crate) fn shares_name(&self) -> bool {
        self.shares_name.load(Ordering::Relaxed)
    }

    /// Whether the recorder has forgotten this handle's key.
    pub(crate) fn forgotten(&self) -> bool {
        self.forgotten.load(Ordering::Relaxed)
    }
}
