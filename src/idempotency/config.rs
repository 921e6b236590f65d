//! How idempotency is configured: [`Idempotency`].

use std::{
    fmt,
    num::NonZeroUsize,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use lru::LruCache;

use super::{Dialect, record::Record, store::Store};

/// Completed records kept in this execution environment, most recently used last.
pub(crate) type LocalCache = Arc<Mutex<LruCache<String, Record>>>;

/// Locks the local cache, also after a panic elsewhere: its records are valid at any point.
pub(crate) fn lock(cache: &LocalCache) -> MutexGuard<'_, LruCache<String, Record>> {
    cache.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where the idempotency clock comes from: the system's, or a test's.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The environment variable that turns idempotency off (`true`), as in Powertools.
pub const DISABLED_VARIABLE: &str = "POWERTOOLS_IDEMPOTENCY_DISABLED";

/// The default time a completed record is replayed: one hour, as in Powertools.
pub const DEFAULT_EXPIRES: Duration = Duration::from_secs(3600);

/// How long before the invocation's deadline helve releases an execution that has not
/// finished, by default.
pub const DEFAULT_RELEASE_MARGIN: Duration = Duration::from_millis(500);

/// A store and the options of idempotent executions: how long a response is replayed, the key
/// prefix, the digest's dialect, whether a key is required, and whether to wait for an
/// execution in progress.
///
/// ```
/// use std::time::Duration;
/// use helve::idempotency::{Idempotency, MemoryStore};
///
/// let idempotency = Idempotency::new(MemoryStore::new())
///     .key_prefix("orders.create")
///     .expires(Duration::from_secs(600));
/// ```
#[derive(Clone)]
pub struct Idempotency {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) expires: Duration,
    pub(crate) key_prefix: Option<String>,
    pub(crate) dialect: Dialect,
    pub(crate) key_required: bool,
    pub(crate) wait_in_progress: Option<Duration>,
    pub(crate) release_margin: Duration,
    pub(crate) disabled: bool,
    /// What `POWERTOOLS_IDEMPOTENCY_DISABLED` asks to be told, logged at WARN at the first
    /// execution (at construction, the function's logger may not be installed yet).
    pub(crate) environment_note: Option<&'static str>,
    /// Whether the note was logged, shared by the clones.
    pub(crate) noted: Arc<AtomicBool>,
    pub(crate) clock: Clock,
    /// For a handler: the pointer to the validated part of the event.
    pub(crate) payload_validation: Option<String>,
    /// For a handler: its name, in the default prefix `{function}.{handler}`.
    pub(crate) name: Option<&'static str>,
    /// Completed records, replayed without a store call; `None` when off.
    pub(crate) local_cache: Option<LocalCache>,
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("store", &self.store)
            .field("expires", &self.expires)
            .field("key_prefix", &self.key_prefix)
            .field("dialect", &self.dialect)
            .field("key_required", &self.key_required)
            .field("wait_in_progress", &self.wait_in_progress)
            .field("release_margin", &self.release_margin)
            .field("disabled", &self.disabled)
            .field("environment_note", &self.environment_note)
            .field("payload_validation", &self.payload_validation)
            .field(
                "local_cache",
                &self.local_cache.as_ref().map(|cache| lock(cache).cap()),
            )
            .finish_non_exhaustive()
    }
}

impl Idempotency {
    /// Idempotent executions recorded in `store`, with the defaults: records replayed for an
    /// hour, the key prefixed with the function's name, the Python dialect, no key required,
    /// no waiting. `POWERTOOLS_IDEMPOTENCY_DISABLED=true` turns idempotency off, with a WARN.
    pub fn new(store: impl Store + 'static) -> Self {
        Self::with_store(Arc::new(store))
    }

    /// The same, with a store already shared.
    pub fn with_store(store: Arc<dyn Store>) -> Self {
        let (disabled, environment_note) =
            disabled_by(std::env::var(DISABLED_VARIABLE).ok().as_deref());
        Self {
            store,
            expires: DEFAULT_EXPIRES,
            key_prefix: None,
            dialect: Dialect::default(),
            key_required: false,
            wait_in_progress: None,
            release_margin: DEFAULT_RELEASE_MARGIN,
            disabled,
            environment_note,
            noted: Arc::new(AtomicBool::new(false)),
            clock: Arc::new(SystemTime::now),
            payload_validation: None,
            name: None,
            local_cache: None,
        }
    }

    /// How long a completed execution is replayed (default one hour). Written as the record's
    /// `expiration`.
    pub fn expires(mut self, expires: Duration) -> Self {
        self.expires = expires;
        self
    }

    /// What comes before `#` in every key (default: the function's name, and for a handler
    /// `{function}.{handler}`). Give each use of one store its own prefix; give a Powertools function sharing the table the same one.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = Some(prefix.into());
        self
    }

    /// How keys are digested (default [`Dialect::Python`]).
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Whether a request without a key value fails with `helve.IdempotencyKeyMissing`
    /// (`true`) or runs without idempotency, logged at WARN (`false`, the default).
    pub fn key_required(mut self, required: bool) -> Self {
        self.key_required = required;
        self
    }

    /// Instead of failing with `helve.IdempotencyAlreadyInProgress` at once, waits up to
    /// `wait` (and never past the release margin before the deadline) for the execution in
    /// progress to finish, polling the store with backoff, and replays its response.
    pub fn wait_in_progress(mut self, wait: Duration) -> Self {
        self.wait_in_progress = Some(wait);
        self
    }

    /// How long before the invocation's deadline an execution that has not finished is
    /// released: its in-progress record deleted, so that a retry runs at once (default
    /// 500 ms).
    pub fn release_margin(mut self, margin: Duration) -> Self {
        self.release_margin = margin;
        self
    }

    /// Keeps up to `max_records` completed records in this execution environment, and
    /// replays a repeat from there without calling the store (off by default; Powertools'
    /// size is 256). A record in progress is never kept, and an expired one is dropped when
    /// found. `0` turns the cache off.
    pub fn local_cache(mut self, max_records: usize) -> Self {
        self.local_cache = NonZeroUsize::new(max_records)
            .map(|capacity| Arc::new(Mutex::new(LruCache::new(capacity))));
        self
    }

    /// Turns idempotency off (`true`) or on, whatever `POWERTOOLS_IDEMPOTENCY_DISABLED` says.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self.environment_note = None;
        self
    }

    /// Logs what `POWERTOOLS_IDEMPOTENCY_DISABLED` asked to be told, once.
    pub(crate) fn note_environment(&self) {
        if let Some(note) = self.environment_note
            && !self.noted.swap(true, Ordering::Relaxed)
        {
            tracing::warn!("{note}");
        }
    }

    /// For a handler: the JSON pointer (RFC 6901, as `/amount`) to the part of the event a
    /// replay must repeat exactly; a request with the same key and another value there fails
    /// with `helve.IdempotencyValidationFailed`. An invalid pointer stops the function at
    /// start with `helve.ConfigError`. For [`once`](Idempotency::once), use
    /// [`once_validated`](Idempotency::once_validated).
    pub fn payload_validation(mut self, pointer: impl Into<String>) -> Self {
        self.payload_validation = Some(pointer.into());
        self
    }

    /// The handler's name, for the default prefix (unless one was given already).
    pub(crate) fn named(mut self, name: &'static str) -> Self {
        self.name.get_or_insert(name);
        self
    }

    /// The handler's name, as `#[helve::handler]` knows it.
    #[doc(hidden)]
    pub fn __handler_name(self, name: &'static str) -> Self {
        self.named(name)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock the records' times come from.
    #[cfg(test)]
    pub(crate) fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

/// Whether `POWERTOOLS_IDEMPOTENCY_DISABLED` says off, and what to tell about it. Powertools
/// reads it as a boolean; an unreadable value keeps idempotency on (and says so), since off
/// would run duplicates.
fn disabled_by(value: Option<&str>) -> (bool, Option<&'static str>) {
    match value.map(|value| value.trim().to_ascii_lowercase()) {
        None => (false, None),
        Some(value) => match value.as_str() {
            "true" | "1" | "yes" | "on" => (
                true,
                Some(
                    "POWERTOOLS_IDEMPOTENCY_DISABLED is true: idempotency is off, every request runs the function",
                ),
            ),
            "false" | "0" | "no" | "off" | "" => (false, None),
            _ => (
                false,
                Some(
                    "POWERTOOLS_IDEMPOTENCY_DISABLED is neither `true` nor `false`: idempotency stays on",
                ),
            ),
        },
    }
}

#[cfg(test)]
pub(crate) fn disabled_by_value(value: Option<&str>) -> bool {
    disabled_by(value).0
}

#[cfg(test)]
pub(crate) fn with_environment(value: Option<&str>, store: impl Store + 'static) -> Idempotency {
    let (disabled, environment_note) = disabled_by(value);
    Idempotency {
        disabled,
        environment_note,
        ..Idempotency::new(store).disabled(false)
    }
}
