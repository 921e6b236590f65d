//! One idempotent execution, step by step as Powertools takes it: acquire the record (a
//! conditional write), replay a completed one, run the function, then complete the record or
//! delete it.

use std::{future::Future, time::Duration};

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{Context, error::codes, layers::CatchUnwind};

use super::{
    Dialect, IdempotencyError,
    config::{self, Idempotency},
    record::{Now, Record, Status},
    store::{Acquired, StoreError},
};

/// How many times the whole flow is tried again when the record changes under it (it expired
/// or was taken over between the write and the read), as in Powertools.
const MAX_RETRIES: usize = 2;
/// The first pause while waiting for an execution in progress; it doubles up to
/// [`MAX_POLL_DELAY`].
const FIRST_POLL_DELAY: Duration = Duration::from_millis(50);
const MAX_POLL_DELAY: Duration = Duration::from_secs(1);

/// Runs `f` once per value of `key` and returns its response; afterwards, for as long as the
/// record lasts, returns the stored response without calling `f`. See [`Idempotency::once`].
///
/// ```
/// use helve::idempotency::{self, Idempotency, MemoryStore};
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let idempotency = Idempotency::new(MemoryStore::new()).key_prefix("payments.charge");
/// let charge = || async { Ok::<_, helve::Error>(json!({"charged": 42})) };
/// let first = idempotency::once(&idempotency, &json!("order-1"), charge).await?;
/// let replay = idempotency::once(&idempotency, &json!("order-1"), || async {
///     Err::<serde_json::Value, _>(helve::Error::msg("not called: the first response is replayed"))
/// })
/// .await?;
/// assert_eq!(first, replay);
/// # Ok::<_, helve::Error>(())
/// # }).unwrap();
/// ```
pub async fn once<R, E, F, Fut>(
    idempotency: &Idempotency,
    key: &Value,
    f: F,
) -> Result<R, IdempotencyError<E>>
where
    R: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    idempotency.run(key, None, f).await
}

impl Idempotency {
    /// Runs `f` once per value of `key`, and replays its response afterwards.
    ///
    /// - No record of the key: `f` runs, between an in-progress record (which expires at the
    ///   invocation's deadline) and the completed one holding its response.
    /// - A completed record: its response is returned, and `f` is not called.
    /// - A record in progress: `helve.IdempotencyAlreadyInProgress` (or, with
    ///   [`wait_in_progress`](Idempotency::wait_in_progress), the response once it is there).
    /// - `f` fails or panics: the record is deleted, so that a retry runs again, and the error
    ///   is returned.
    /// - The deadline comes within the release margin while `f` runs: the record is deleted
    ///   and `helve.IdempotencyReleased` returned.
    ///
    /// A key value that is missing (`null`, `""`, `{}`, `[]`, a list of nulls) runs `f`
    /// without idempotency, logged at WARN, or fails with `helve.IdempotencyKeyMissing` when
    /// a key is [required](Idempotency::key_required).
    pub async fn once<R, E, F, Fut>(&self, key: &Value, f: F) -> Result<R, IdempotencyError<E>>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        self.run(key, None, f).await
    }

    /// [`once`](Idempotency::once), and a replay must come with the same `validated` value
    /// (say, the amount of a payment) as the execution that made the record; otherwise it
    /// fails with `helve.IdempotencyValidationFailed`. The record keeps the value's digest
    /// as `validation`.
    pub async fn once_validated<R, E, F, Fut>(
        &self,
        key: &Value,
        validated: &Value,
        f: F,
    ) -> Result<R, IdempotencyError<E>>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        self.run(key, Some(validated), f).await
    }

    /// The idempotency key of `value`: `"{prefix}#{digest}"`; `None` when the value is a
    /// missing key.
    pub fn key_of(&self, value: &Value) -> Option<String> {
        self.key_in(value, crate::context().as_ref())
    }

    /// [`key_of`](Idempotency::key_of) in the invocation of `context`.
    fn key_in(&self, value: &Value, context: Option<&Context>) -> Option<String> {
        if is_missing(value) {
            return None;
        }
        let digest = self.dialect.digest(value);
        let mut key = String::with_capacity(64 + digest.len());
        match &self.key_prefix {
            Some(prefix) => key.push_str(prefix),
            None => {
                // The function's name, and the handler's.
                key.push_str(match context {
                    Some(context) if !context.function_name().is_empty() => context.function_name(),
                    _ => "test-func",
                });
                if let Some(name) = self.name {
                    key.push('.');
                    key.push_str(name);
                }
            }
        }
        key.push('#');
        key.push_str(&digest);
        Some(key)
    }

    /// [`once`](Idempotency::once), or [`once_validated`](Idempotency::once_validated) when
    /// there is a `validated` value.
    pub(crate) async fn run<R, E, F, Fut>(
        &self,
        key_value: &Value,
        validated: Option<&Value>,
        f: F,
    ) -> Result<R, IdempotencyError<E>>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        self.note_environment();
        if self.disabled {
            return f().await.map_err(IdempotencyError::Failed);
        }
        let context = crate::context();
        let Some(key) = self.key_in(key_value, context.as_ref()) else {
            if self.key_required {
                return Err(IdempotencyError::KeyMissing);
            }
            tracing::warn!(
                error_type = codes::IDEMPOTENCY_KEY_MISSING,
                "the request has no idempotency key: it runs without idempotency"
            );
            return f().await.map_err(IdempotencyError::Failed);
        };
        let validation = validated.map(|value| self.dialect.digest(value));
        let store_error = |error: StoreError| IdempotencyError::Store {
            key: key.clone(),
            error,
        };
        if let Some(response) = self.cached_response(&key, validation.as_deref())? {
            return Ok(response);
        }
        for _attempt in 0..=MAX_RETRIES {
            let now = self.now();
            let record = Record {
                key: key.clone(),
                status: Status::InProgress,
                expiration: now.seconds_after(self.expires),
                in_progress_expiration: context
                    .as_ref()
                    .map(|context| Now::at(context.deadline()).millis()),
                data: None,
                validation: validation.clone(),
            };
            let existing = match self
                .store
                .put_in_progress(&record, now)
                .await
                .map_err(store_error)?
            {
                Acquired::Written => return self.execute(record, context.as_ref(), f).await,
                Acquired::Exists(Some(existing)) => existing,
                // The store did not return the record with the failed write: read it.
                Acquired::Exists(None) => match self.store.get(&key).await.map_err(store_error)? {
                    Some(existing) => existing,
                    // Deleted in between: try to acquire it again.
                    None => continue,
                },
            };
            match self
                .settle(existing, now, validation.as_deref(), context.as_ref())
                .await?
            {
                Some(response) => return Ok(response),
                None => continue,
            }
        }
        Err(IdempotencyError::InconsistentState { key })
    }

    /// What an existing record means for this request: its response (`Some`), an error, or
    /// `None` to try acquiring it again (it expired, or its execution gave up).
    async fn settle<R: DeserializeOwned, E>(
        &self,
        mut existing: Record,
        mut now: Now,
        validation: Option<&str>,
        context: Option<&Context>,
    ) -> Result<Option<R>, IdempotencyError<E>> {
        let mut delay = FIRST_POLL_DELAY;
        let waited_since = tokio::time::Instant::now();
        loop {
            if existing.is_replaceable(now) {
                return Ok(None);
            }
            if validation.is_some() && existing.validation.as_deref() != validation {
                return Err(IdempotencyError::ValidationFailed { key: existing.key });
            }
            if existing.status == Status::Completed {
                let response = replay(&existing)?;
                self.keep(existing);
                return Ok(Some(response));
            }
            // In progress: fail now, or wait while the wait and the deadline allow.
            let in_progress = || IdempotencyError::AlreadyInProgress {
                key: existing.key.clone(),
            };
            let Some(wait) = self.wait_in_progress else {
                return Err(in_progress());
            };
            let mut until = waited_since + wait;
            if let Some(context) = context {
                until = until.min(context.stop_at(self.release_margin));
            }
            if tokio::time::Instant::now() + delay > until {
                return Err(in_progress());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_POLL_DELAY);
            now = self.now();
            existing = match self.store.get(&existing.key).await {
                Ok(Some(record)) => record,
                // The first execution failed and deleted it: this one may run.
                Ok(None) => return Ok(None),
                Err(error) => {
                    return Err(IdempotencyError::Store {
                        key: existing.key,
                        error,
                    });
                }
            };
        }
    }

    /// Runs the function for an acquired record, then completes or deletes the record.
    async fn execute<R, E, F, Fut>(
        &self,
        record: Record,
        context: Option<&Context>,
        f: F,
    ) -> Result<R, IdempotencyError<E>>
    where
        R: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let work = CatchUnwind::new(f());
        // The release guard is armed only when the margin is still ahead: an invocation that
        // starts inside it runs to the end.
        let release_at = context
            .filter(|context| context.time_before(self.release_margin).is_some())
            .map(|context| context.stop_at(self.release_margin));
        let outcome = match release_at {
            Some(at) => match tokio::time::timeout_at(at, work).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::warn!(
                        error_type = codes::IDEMPOTENCY_RELEASED,
                        "the deadline came near before the execution with idempotency key {} finished: its record is released for a retry",
                        record.key
                    );
                    self.release(&record.key).await;
                    return Err(IdempotencyError::Released { key: record.key });
                }
            },
            None => work.await,
        };
        match outcome {
            Ok(Ok(response)) => {
                // Powertools Python writes `json.dumps(response, sort_keys=True)`: the same
                // text. Written before the store call, so the response is not held across it.
                let data =
                    serde_json::to_value(&response).map(|value| Dialect::Python.canonical(&value));
                self.save(record, data).await;
                Ok(response)
            }
            Ok(Err(error)) => {
                self.release(&record.key).await;
                Err(IdempotencyError::Failed(error))
            }
            Err(panic) => {
                self.release(&record.key).await;
                Err(IdempotencyError::Panicked(panic))
            }
        }
    }

    /// Completes the record with the response. A response that cannot be stored (too large
    /// for the store, or not JSON) is logged at ERROR and its record deleted; the response
    /// still goes out.
    async fn save(&self, record: Record, data: Result<String, serde_json::Error>) {
        let data = match data {
            Ok(data) => data,
            Err(error) => {
                tracing::error!(
                    error_type = codes::IDEMPOTENCY_STORE_ERROR,
                    "the response of idempotency key {} is not JSON ({error}): it is not stored, and the record is released",
                    record.key
                );
                self.release(&record.key).await;
                return;
            }
        };
        let completed = Record {
            status: Status::Completed,
            expiration: self.now().seconds_after(self.expires),
            data: Some(data),
            ..record
        };
        if let Some(max) = self.store.max_record_size() {
            let size = completed.item_size();
            if size > max {
                tracing::error!(
                    error_type = codes::IDEMPOTENCY_RESPONSE_TOO_LARGE,
                    "the record of idempotency key {} would be {size} bytes, over the store's limit of {max}: the response is not stored, and the record is released",
                    completed.key
                );
                self.release(&completed.key).await;
                return;
            }
        }
        match self.store.complete(&completed).await {
            Ok(()) => self.keep(completed),
            Err(error) => tracing::error!(
                error_type = codes::IDEMPOTENCY_STORE_ERROR,
                "the record of idempotency key {} could not be completed: {}; a duplicate fails as in progress until its in_progress_expiration",
                completed.key,
                crate::error::chain_message(&error)
            ),
        }
    }

    /// The response of a completed record in the local cache; `None` when there is none
    /// (an expired one is dropped).
    fn cached_response<R: DeserializeOwned, E>(
        &self,
        key: &str,
        validation: Option<&str>,
    ) -> Result<Option<R>, IdempotencyError<E>> {
        let Some(cache) = &self.local_cache else {
            return Ok(None);
        };
        let now = self.now();
        let mut cache = config::lock(cache);
        let Some(record) = cache.get(key) else {
            return Ok(None);
        };
        if record.is_replaceable(now) {
            cache.pop(key);
            return Ok(None);
        }
        if validation.is_some() && record.validation.as_deref() != validation {
            return Err(IdempotencyError::ValidationFailed {
                key: key.to_owned(),
            });
        }
        replay(record).map(Some)
    }

    /// Keeps a completed record in the local cache, when there is one.
    fn keep(&self, record: Record) {
        if let (Some(cache), Status::Completed) = (&self.local_cache, record.status) {
            config::lock(cache).put(record.key.clone(), record);
        }
    }

    /// Deletes the record of `key`; a failure is logged, and a retry then waits for the
    /// record's `in_progress_expiration`.
    async fn release(&self, key: &str) {
        if let Some(cache) = &self.local_cache {
            config::lock(cache).pop(key);
        }
        if let Err(error) = self.store.delete(key).await {
            tracing::error!(
                error_type = codes::IDEMPOTENCY_STORE_ERROR,
                "the record of idempotency key {key} could not be deleted: {}; a retry waits for its in_progress_expiration",
                crate::error::chain_message(&error)
            );
        }
    }

    fn now(&self) -> Now {
        Now::at((self.clock)())
    }
}

/// The stored response of a completed record, decoded. A missing `data` is `null`, as
/// Powertools writes a response it does not keep.
fn replay<R: DeserializeOwned, E>(record: &Record) -> Result<R, IdempotencyError<E>> {
    let data = record.data.as_deref().unwrap_or("null");
    serde_json::from_str(data).map_err(|error| IdempotencyError::Store {
        key: record.key.clone(),
        // The position only: the stored response is not repeated in a message.
        error: StoreError::new(format!(
            "the stored response does not decode as the function's response type ({:?} error at line {} column {})",
            error.classify(),
            error.line(),
            error.column()
        )),
    })
}

/// Whether a key value counts as no key, as Powertools counts it: `null`, `""`, `{}`, `[]`,
/// or a list of nulls.
pub(crate) fn is_missing(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.iter().all(Value::is_null),
        Value::Bool(_) | Value::Number(_) => false,
    }
}
