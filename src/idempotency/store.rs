//! Where records live: the [`Store`] trait, and [`MemoryStore`].

use std::{
    collections::HashMap,
    error::Error as StdError,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Mutex, PoisonError},
};

use super::record::{Now, Record};

/// The future a [`Store`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What the acquiring write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The record was written: this execution is the first.
    Written,
    /// A record that still counts holds the key: the existing record when the store returned
    /// it with the failed condition (DynamoDB's `ALL_OLD`), `None` when it did not, and the
    /// caller reads it with [`Store::get`].
    Exists(Option<Record>),
}

/// A store of idempotency records: in memory ([`MemoryStore`]), DynamoDB, or one of your own.
///
/// Each method is one call to the backing service. Implementations keep Powertools' semantics:
/// [`put_in_progress`](Store::put_in_progress) writes only when no record holds the key or the
/// one there [`is_replaceable`](Record::is_replaceable) at `now`, atomically.
pub trait Store: Send + Sync + fmt::Debug {
    /// Writes `record` (in progress) unless a record that still counts at `now` holds its key.
    fn put_in_progress<'a>(&'a self, record: &'a Record, now: Now) -> StoreFuture<'a, Acquired>;

    /// Reads the record of `key`, consistently (after a write, the write is seen).
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Record>>;

    /// Marks the record completed: sets its `data`, `expiration`, `status` and `validation`
    /// from `record`.
    fn complete<'a>(&'a self, record: &'a Record) -> StoreFuture<'a, ()>;

    /// Deletes the record of `key`, so that a retry runs again.
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;

    /// The largest record the store keeps, in the size [`Record::item_size`] counts; `None`
    /// for no limit. A response whose record would be larger is not stored.
    fn max_record_size(&self) -> Option<usize> {
        None
    }
}

/// A shared store is a store: `Arc<dyn Store>` chooses one at start (DynamoDB on Lambda,
/// memory locally), `Arc<S>` shares one between functions of a binary.
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn put_in_progress<'a>(&'a self, record: &'a Record, now: Now) -> StoreFuture<'a, Acquired> {
        (**self).put_in_progress(record, now)
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Record>> {
        (**self).get(key)
    }

    fn complete<'a>(&'a self, record: &'a Record) -> StoreFuture<'a, ()> {
        (**self).complete(record)
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        (**self).delete(key)
    }

    fn max_record_size(&self) -> Option<usize> {
        (**self).max_record_size()
    }
}

/// A store call that failed: the service could not be reached, refused the call, or answered
/// something that is not a record.
#[derive(Debug)]
pub struct StoreError {
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl StoreError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A failure described by `message`, caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

/// Records in this process's memory: for local mode and tests, and for a function whose
/// duplicates all reach the same execution environment. Records are shared by clones.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    records: std::sync::Arc<Mutex<HashMap<String, Record>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The record of `key` now, to look at in a test.
    pub fn record(&self, key: &str) -> Option<Record> {
        self.lock().get(key).cloned()
    }

    /// How many records the store holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // A record map is consistent after every statement: a panic elsewhere cannot break it.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn put_in_progress<'a>(&'a self, record: &'a Record, now: Now) -> StoreFuture<'a, Acquired> {
        let mut records = self.lock();
        let acquired = match records.get(&record.key) {
            Some(existing) if !existing.is_replaceable(now) => {
                Acquired::Exists(Some(existing.clone()))
            }
            _ => {
                records.insert(record.key.clone(), record.clone());
                Acquired::Written
            }
        };
        Box::pin(std::future::ready(Ok(acquired)))
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Record>> {
        let record = self.record(key);
        Box::pin(std::future::ready(Ok(record)))
    }

    fn complete<'a>(&'a self, record: &'a Record) -> StoreFuture<'a, ()> {
        let mut records = self.lock();
        let entry = records
            .entry(record.key.clone())
            .or_insert_with(|| record.clone());
        entry.data.clone_from(&record.data);
        entry.expiration = record.expiration;
        entry.status = record.status;
        entry.validation.clone_from(&record.validation);
        Box::pin(std::future::ready(Ok(())))
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.lock().remove(key);
        Box::pin(std::future::ready(Ok(())))
    }
}
