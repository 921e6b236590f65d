//! The recorder behind the `metrics` facade: each `counter!`, `gauge!` and `histogram!` call
//! lands in the current invocation's collector, and the invocation writes its own EMF
//! documents when it ends.

use std::{
    collections::HashMap,
    fmt,
    hash::{BuildHasherDefault, Hasher},
    sync::{
        Arc, Mutex, OnceLock, PoisonError, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata,
    SharedString,
};

use super::emf::{MAX_DIMENSIONS, Resolution, Unit};
use crate::context::{Collector, Recorded, with_current};
pub(crate) use crate::context::{MetricHandle as Handle, MetricKind as Kind};

/// `HttpRequestDuration`: how long helve took to answer an HTTP request (milliseconds).
pub(crate) const HTTP_REQUEST_DURATION: &str = "HttpRequestDuration";
/// `HttpResponses`: the HTTP requests answered, by `status_class`.
pub(crate) const HTTP_RESPONSES: &str = "HttpResponses";
/// `BatchRecordsProcessed`: the records a batch processed.
pub(crate) const BATCH_RECORDS_PROCESSED: &str = "BatchRecordsProcessed";
/// `BatchRecordsFailed`: the records a batch reported failed.
pub(crate) const BATCH_RECORDS_FAILED: &str = "BatchRecordsFailed";

/// The metrics helve records itself, whether or not the function configured metrics.
pub(crate) const HELVE_OWN_METRICS: [&str; 4] = [
    HTTP_REQUEST_DURATION,
    HTTP_RESPONSES,
    BATCH_RECORDS_PROCESSED,
    BATCH_RECORDS_FAILED,
];

/// The metric keys (name and labels, by kind) the recorder keeps registered at most. Past it,
/// registering a new key first forgets the least recently used quarter: a label with
/// unbounded values (a user id, a path) costs at most this many handles, about 1 MiB, not
/// one per value for the life of the process. A forgotten key is registered again when next
/// used (one allocation); what was recorded with it is still written.
pub(crate) const MAX_KEYS: usize = 4096;
/// The slot table of a collector covers every slot (16 KiB at most per invocation): slots are
/// given out below [`MAX_KEYS`].
const MAX_SLOTS: usize = MAX_KEYS;
/// The slots and entries a collector makes room for at its first metric.
const FIRST_SLOTS: usize = 64;
const FIRST_ENTRIES: usize = 16;

#[derive(Debug, Clone, Copy)]
enum Op {
    Add(f64),
    AtLeast(f64),
    Set(f64),
    Push(f64),
}

impl Collector {
    fn apply(&mut self, handle: &Handle, op: Op) {
        let slot = handle.slot as usize;
        let is_this = |entry: &(Arc<Handle>, Recorded)| std::ptr::eq(Arc::as_ptr(&entry.0), handle);
        let found = match self.slots.get(slot).map(|&index| index as usize) {
            Some(index) => match self.entries.get(index) {
                Some(entry) if is_this(entry) => Some(index),
                // Another handle has the slot since the recorder forgot this one's key (or
                // the table is a previous invocation's): searched for.
                Some(_) => self.entries.iter().position(is_this),
                None => None,
            },
            None => None,
        };
        let index = match found {
            Some(index) => index,
            None => {
                // A handle registered is alive (the caller holds it): `this` upgrades.
                let Some(this) = handle.this.upgrade() else {
                    return;
                };
                let start = match handle.kind {
                    Kind::Counter => Recorded::Counter(0.0),
                    Kind::Gauge => Recorded::Gauge(0.0),
                    Kind::Histogram => Recorded::Histogram(Vec::new()),
                };
                if self.entries.capacity() == 0 {
                    self.entries.reserve(FIRST_ENTRIES);
                }
                self.entries.push((this, start));
                let index = self.entries.len() - 1;
                if slot < MAX_SLOTS {
                    if self.slots.len() <= slot {
                        // Grown by powers of two, to at least FIRST_SLOTS: a handful of
                        // allocations for the life of the collector, whatever the slots.
                        let len = (slot + 1).next_power_of_two().clamp(FIRST_SLOTS, MAX_SLOTS);
                        self.slots.resize(len, u32::MAX);
                    }
                    if let (Some(entry), Ok(index)) =
                        (self.slots.get_mut(slot), u32::try_from(index))
                    {
                        *entry = index;
                    }
                }
                index
            }
        };
        let Some((_, value)) = self.entries.get_mut(index) else {
            return;
        };
        match (value, op) {
            (Recorded::Counter(total) | Recorded::Gauge(total), Op::Add(delta)) => *total += delta,
            (Recorded::Counter(total), Op::AtLeast(at_least)) => *total = total.max(at_least),
            (Recorded::Gauge(last), Op::Set(value)) => *last = value,
            (Recorded::Histogram(values), Op::Push(value)) => values.push(value),
            _ => {}
        }
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.metadata.is_empty()
    }

    fn set_metadata(&mut self, key: &str, value: serde_json::Value) {
        match self
            .metadata
            .iter_mut()
            .find(|(existing, _)| existing == key)
        {
            Some((_, current)) => *current = value,
            None => self.metadata.push((key.to_owned(), value)),
        }
    }

    /// Adds what `other` recorded to this collector.
    pub(crate) fn merge(&mut self, other: Collector) {
        for (key, value) in other.metadata {
            self.set_metadata(&key, value);
        }
        for (handle, recorded) in other.entries {
            match recorded {
                Recorded::Counter(total) => self.apply(&handle, Op::Add(total)),
                Recorded::Gauge(last) => self.apply(&handle, Op::Set(last)),
                Recorded::Histogram(values) => {
                    for value in values {
                        self.apply(&handle, Op::Push(value));
                    }
                }
            }
        }
    }
}

impl Handle {
    fn record(&self, op: Op) {
        let recorded =
            with_current(|ctx| ctx.state().collect(|collector| collector.apply(self, op)));
        if recorded != Some(true) {
            // Outside any invocation (init, or a task spawned without `Context::scope`), or in
            // one no metrics layer collects for: written with the next invocation.
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.apply(self, op);
        }
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.record(Op::Add(value as f64));
    }

    fn absolute(&self, value: u64) {
        self.record(Op::AtLeast(value as f64));
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.record(Op::Add(value));
    }

    fn decrement(&self, value: f64) {
        self.record(Op::Add(-value));
    }

    fn set(&self, value: f64) {
        self.record(Op::Set(value));
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        Handle::record(self, Op::Push(value));
    }
}

/// Adds a property to every EMF document the current invocation writes: searchable in Logs
/// Insights, not a dimension, so it costs no metric (a request id, an order id). Outside an
/// invocation it does nothing. A key that is also a dimension or metric name is left out
/// when the documents are written.
pub fn add_metadata(key: &str, value: impl Into<serde_json::Value>) {
    let value = value.into();
    with_current(|ctx| {
        ctx.state()
            .collect(|collector| collector.set_metadata(key, value))
    });
}

/// The recorder [`Function`](crate::Function) installed, which [`describe_unit`] and
/// [`describe_resolution`] describe metrics on.
static INSTALLED: OnceLock<EmfRecorder> = OnceLock::new();

/// Descriptions given before a recorder was installed, applied when one is. Also held while
/// one is installed, so that no description falls between the two.
static EARLY: Mutex<Vec<Description>> = Mutex::new(Vec::new());

/// A metric's name, and the unit and resolution it is described with (`None`: unchanged).
type Description = (String, Option<Unit>, Option<Resolution>);

/// Names the CloudWatch unit of a metric on the recorder helve installs, for the units
/// `metrics::Unit` has no name for (`Kilobytes/Second`, `Count/Second`, ...): call it anywhere,
/// the init step included; before the recorder is installed, it is remembered until then.
///
/// ```
/// use helve::metrics::{describe_unit, emf::Unit};
///
/// describe_unit("UploadRate", Unit::KilobytesPerSecond);
/// ```
pub fn describe_unit(name: &str, unit: Unit) {
    describe_installed(name, Some(unit), None);
}

/// Publishes a metric at high resolution (`StorageResolution: 1`, one-second granularity) on
/// the recorder helve installs; as [`describe_unit`], callable before it is.
pub fn describe_resolution(name: &str, resolution: Resolution) {
    describe_installed(name, None, Some(resolution));
}

fn describe_installed(name: &str, unit: Option<Unit>, resolution: Option<Resolution>) {
    // Once installed, no lock: describing with each request stays cheap.
    if let Some(recorder) = INSTALLED.get() {
        recorder.shared.describe(name, unit, resolution);
        return;
    }
    // `mark_installed` sets INSTALLED under this lock, so looking again here decides it.
    let mut early = EARLY.lock().unwrap_or_else(PoisonError::into_inner);
    match INSTALLED.get() {
        Some(recorder) => recorder.shared.describe(name, unit, resolution),
        None => early.push((name.to_owned(), unit, resolution)),
    }
}

/// A registered key's handle; `None` when the key was refused.
type Registered = Option<Arc<Handle>>;

/// Handles by key. A [`Key`] carries its hash, computed once when it was made; the map uses it
/// as it is rather than hash it again on every `counter!` call.
type KeyMap = HashMap<Key, Registered, BuildHasherDefault<KeyHash>>;

/// The hash a [`Key`] hands over (its `Hash` writes one `u64`), passed through; anything
/// else written is folded in with FNV-1a.
#[derive(Debug, Default)]
struct KeyHash(u64);

impl Hasher for KeyHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut fnv = crate::fnv::Fnv1a::seeded(self.0);
        fnv.write(bytes);
        self.0 = fnv.finish();
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

impl Kind {
    fn index(self) -> usize {
        match self {
            Kind::Counter => 0,
            Kind::Gauge => 1,
            Kind::Histogram => 2,
        }
    }
}

/// The keys registered, at most [`MAX_KEYS`].
#[derive(Debug, Default)]
struct Registry {
    /// By kind; `None` for a key refused (too many dimensions), so that it is refused, and
    /// logged, once while it is kept.
    maps: [KeyMap; 3],
    /// Counts the keys registered: the `last_used` of a handle registered again.
    clock: u64,
    /// The slots of forgotten handles, given to the next ones.
    free_slots: Vec<u32>,
    /// The next slot never given out.
    next_slot: u32,
}

impl Registry {
    fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
    }

    /// Forgets the quarter of the keys least recently looked up by `counter!`, `gauge!` or
    /// `histogram!` (refused keys first). A handle the function keeps and records through
    /// without looking it up again may be forgotten: it goes on recording, as a key of its own.
    fn forget_least_recent(&mut self) {
        let stamp = |registered: &Registered| {
            registered
                .as_ref()
                .map_or(0, |handle| handle.last_used.load(Ordering::Relaxed))
        };
        let mut stamps: Vec<u64> = self
            .maps
            .iter()
            .flat_map(|map| map.values().map(stamp))
            .collect();
        let forget = stamps.len() / 4;
        if forget == 0 {
            return;
        }
        let (_, &mut cutoff, _) = stamps.select_nth_unstable(forget - 1);
        for map in &mut self.maps {
            map.retain(|_, registered| {
                if stamp(registered) > cutoff {
                    return true;
                }
                if let Some(handle) = registered {
                    handle.forgotten.store(true, Ordering::Relaxed);
                    self.free_slots.push(handle.slot);
                }
                false
            });
        }
    }

    fn next_slot(&mut self) -> u32 {
        self.free_slots.pop().unwrap_or_else(|| {
            let slot = self.next_slot;
            self.next_slot = self.next_slot.saturating_add(1);
            slot
        })
    }
}

/// The recorder's shared state.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    registry: RwLock<Registry>,
    units: RwLock<HashMap<String, (Unit, Resolution)>>,
    pending: Arc<Mutex<Collector>>,
    /// The keys of the default dimensions every metric carries after `service`.
    default_dimensions: RwLock<Vec<String>>,
}

impl Shared {
    /// How many keys are registered.
    #[cfg(test)]
    pub(crate) fn registered(&self) -> usize {
        self.registry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The unit and resolution described for a metric name (Count for counters and None for
    /// the rest when nothing was described).
    pub(crate) fn unit(&self, name: &str, kind: Kind) -> (Unit, Resolution) {
        let units = self.units.read().unwrap_or_else(PoisonError::into_inner);
        units.get(name).copied().unwrap_or(match kind {
            Kind::Counter => (Unit::Count, Resolution::Standard),
            Kind::Gauge | Kind::Histogram => (Unit::None, Resolution::Standard),
        })
    }

    /// What was recorded outside any invocation, taken.
    pub(crate) fn take_pending(&self) -> Collector {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *pending)
    }

    fn describe(&self, name: &str, unit: Option<Unit>, resolution: Option<Resolution>) {
        {
            // Described again as it already is (a metric described with each request): no
            // write lock, no copy of the name.
            let units = self.units.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((current_unit, current_resolution)) = units.get(name)
                && unit.is_none_or(|unit| unit == *current_unit)
                && resolution.is_none_or(|resolution| resolution == *current_resolution)
            {
                return;
            }
        }
        let mut units = self.units.write().unwrap_or_else(PoisonError::into_inner);
        let entry = units
            .entry(name.to_owned())
            .or_insert((Unit::None, Resolution::Standard));
        if let Some(unit) = unit {
            entry.0 = unit;
        }
        if let Some(resolution) = resolution {
            entry.1 = resolution;
        }
    }

    /// Sets the keys of the default dimensions, which count towards each metric's 30.
    pub(crate) fn set_default_dimensions<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        let mut defaults = self
            .default_dimensions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        defaults.clear();
        defaults.extend(keys.into_iter().map(str::to_owned));
    }

    /// How many distinct dimension keys a metric with this key carries: `service`, the
    /// default dimensions and its labels (a label may replace one of the others' values).
    fn dimension_count(&self, key: &Key) -> usize {
        let defaults = self
            .default_dimensions
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<&str> = Vec::with_capacity(1 + defaults.len() + key.labels().len());
        let all = std::iter::once("service")
            .chain(defaults.iter().map(String::as_str))
            .chain(key.labels().map(|label| label.key()));
        for name in all {
            if !keys.contains(&name) {
                keys.push(name);
            }
        }
        keys.len()
    }

    /// The handle for `key`, registered on its first use; `None` when the metric would carry
    /// more than 30 dimensions, which CloudWatch refuses: logged at WARN once per key, and
    /// recorded nowhere.
    fn register(&self, kind: Kind, key: &Key) -> Option<Arc<Handle>> {
        {
            let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(registered) = registry.maps.get(kind.index()).and_then(|map| map.get(key)) {
                if let Some(handle) = registered
                    && handle.last_used.load(Ordering::Relaxed) != registry.clock
                {
                    handle.last_used.store(registry.clock, Ordering::Relaxed);
                }
                return registered.clone();
            }
        }
        let dimensions = self.dimension_count(key);
        let mut registry = self
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(registered) = registry.maps.get(kind.index()).and_then(|map| map.get(key)) {
            // Registered by another thread in the meantime.
            return registered.clone();
        }
        if registry.len() >= MAX_KEYS {
            registry.forget_least_recent();
        }
        registry.clock += 1;
        let clock = registry.clock;
        if dimensions > MAX_DIMENSIONS {
            if let Some(map) = registry.maps.get_mut(kind.index()) {
                map.insert(key.clone(), None);
            }
            drop(registry);
            tracing::warn!(
                metric = %key.name(),
                dimensions,
                "the metric is not recorded: with `service`, the default dimensions and its \
                 labels it has {dimensions} dimensions, and CloudWatch takes at most \
                 {MAX_DIMENSIONS}"
            );
            return None;
        }
        let slot = registry.next_slot();
        let handle = Arc::new_cyclic(|this| Handle {
            slot,
            kind,
            name: key.name().to_owned(),
            labels: key
                .labels()
                .map(|label| (label.key().to_owned(), label.value().to_owned()))
                .collect(),
            shares_name: AtomicBool::new(false),
            forgotten: AtomicBool::new(false),
            last_used: AtomicU64::new(clock),
            this: this.clone(),
            pending: Arc::clone(&self.pending),
        });
        for (index, others) in registry.maps.iter().enumerate() {
            if index == kind.index() {
                continue;
            }
            if let Some(Some(other)) = others.get(key) {
                other.shares_name.store(true, Ordering::Relaxed);
                handle.shares_name.store(true, Ordering::Relaxed);
            }
        }
        if let Some(map) = registry.maps.get_mut(kind.index()) {
            map.insert(key.clone(), Some(Arc::clone(&handle)));
        }
        Some(handle)
    }
}

/// helve's `metrics` recorder: installed by [`Function`](crate::Function) when a metrics
/// namespace is configured. Each invocation's metrics are written as its own EMF documents
/// when it ends; metrics recorded outside an invocation are written with the next one.
#[derive(Clone, Default)]
pub struct EmfRecorder {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for EmfRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmfRecorder").finish_non_exhaustive()
    }
}

impl EmfRecorder {
    /// A recorder with nothing registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes this the recorder that [`describe_unit`] and [`describe_resolution`] describe
    /// metrics on, with what they were told before; once per process, as the `metrics`
    /// facade's global recorder is.
    pub(crate) fn mark_installed(&self) {
        let mut early = EARLY.lock().unwrap_or_else(PoisonError::into_inner);
        if INSTALLED.set(self.clone()).is_ok() {
            for (name, unit, resolution) in early.drain(..) {
                self.shared.describe(&name, unit, resolution);
            }
        }
    }

    /// Names the CloudWatch unit of a metric, for the units `metrics::Unit` has no name for
    /// (`Bytes/Second` is `metrics::Unit::BytesPerSecond`, but `Kilobytes/Second` is not).
    pub fn describe_unit(&self, name: &str, unit: Unit) {
        self.shared.describe(name, Some(unit), None);
    }

    /// Publishes a metric at high resolution (`StorageResolution: 1`, one-second granularity).
    pub fn describe_resolution(&self, name: &str, resolution: Resolution) {
        self.shared.describe(name, None, Some(resolution));
    }
}

impl metrics::Recorder for EmfRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<metrics::Unit>, _: SharedString) {
        self.shared
            .describe(key.as_str(), unit.map(Unit::from), None);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<metrics::Unit>, _: SharedString) {
        self.shared
            .describe(key.as_str(), unit.map(Unit::from), None);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<metrics::Unit>, _: SharedString) {
        self.shared
            .describe(key.as_str(), unit.map(Unit::from), None);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        match self.shared.register(Kind::Counter, key) {
            Some(handle) => Counter::from_arc(handle),
            None => Counter::noop(),
        }
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        match self.shared.register(Kind::Gauge, key) {
            Some(handle) => Gauge::from_arc(handle),
            None => Gauge::noop(),
        }
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        match self.shared.register(Kind::Histogram, key) {
            Some(handle) => Histogram::from_arc(handle),
            None => Histogram::noop(),
        }
    }
}

/// The recorder helve installs when no namespace is configured (and metrics are not turned off
/// on purpose): the first metric recorded is logged at ERROR, once, naming the settings, so
/// that metrics recorded with nowhere to go are not lost silently. Records nothing.
#[derive(Debug, Default)]
pub(crate) struct NoNamespace {
    told: AtomicBool,
}

impl NoNamespace {
    fn register(&self, key: &Key) {
        if self.told.load(Ordering::Relaxed) {
            return;
        }
        // helve's own metrics (HTTP requests, batches) are recorded whether or not the
        // function configured metrics: not a sign that it meant to.
        if HELVE_OWN_METRICS.contains(&key.name()) {
            return;
        }
        if !self.told.swap(true, Ordering::Relaxed) {
            tracing::error!(
                error_type = crate::error::codes::METRICS_NOT_CONFIGURED,
                metric = %key.name(),
                "a metric was recorded, but no metrics namespace is configured, so no metric \
                 is written: set POWERTOOLS_METRICS_NAMESPACE, or `namespace = \"..\"` in \
                 `#[helve::handler]` (`Function::namespace`); POWERTOOLS_METRICS_DISABLED=true \
                 turns metrics off on purpose"
            );
        }
    }
}

impl metrics::Recorder for NoNamespace {
    fn describe_counter(&self, _: KeyName, _: Option<metrics::Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<metrics::Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<metrics::Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.register(key);
        Counter::noop()
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.register(key);
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.register(key);
        Histogram::noop()
    }
}
