//! Where tasks are kept: the [`TaskStore`] trait, an in-memory store, and (feature `dynamodb`)
//! a DynamoDB table. Every change of status is one conditional write, so that two invocations
//! never both take a task, a finished task is never done again, and a task the processor has
//! taken is never marked failed by the API.

use std::{
    borrow::Cow,
    collections::HashMap,
    future::Future,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use helve::FunctionError;
use serde_json::Value;

use crate::task::{Lease, Status, Task, TaskEvent, TaskFailure};

#[cfg(feature = "dynamodb")]
mod dynamodb;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoDbStore, STORE_TIMEOUT};

/// An error the store's client returned.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The variable naming the DynamoDB table of the tasks.
pub const TABLE_VAR: &str = "TASKS_TABLE";

/// The variable that makes the in-memory store fail every call, for trying how the functions
/// answer when their store is down: `TASKS_STORE_UNAVAILABLE=1`.
pub const UNAVAILABLE_VAR: &str = "TASKS_STORE_UNAVAILABLE";

/// Why the store did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The task is not `processing` under this invocation's lease any more: another
    /// invocation took it over after the lease ended. The write was not made.
    #[error("task {id} is no longer held by invocation {owner}")]
    Conflict {
        /// The task.
        id: String,
        /// The invocation whose write was refused.
        owner: String,
    },
    /// [`TaskStore::create`] of a task whose id is taken. The write was not made.
    #[error("task {0} already exists")]
    AlreadyExists(String),
    /// The store could not be reached, or refused the request: worth retrying later.
    #[error("the task store is unavailable")]
    Unavailable(#[source] BoxError),
    /// A record in the store is not a task these functions can read.
    #[error("the record of task {id} is not valid: {reason}")]
    InvalidRecord {
        /// The task.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl FunctionError for StoreError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            StoreError::Conflict { .. } => "tasks.Conflict".into(),
            StoreError::AlreadyExists(_) => "tasks.AlreadyExists".into(),
            StoreError::Unavailable(_) => "tasks.StoreUnavailable".into(),
            StoreError::InvalidRecord { .. } => "tasks.InvalidRecord".into(),
        }
    }
}

/// What [`TaskStore::start`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The task is now `processing` under this invocation's lease: do its work.
    Started {
        /// The record as it is after the write.
        task: Task,
        /// Whether there was no record, and the task was recorded from its event.
        recorded: bool,
    },
    /// The task is `completed` or `failed`: nothing to do.
    Finished(Task),
    /// Another invocation holds the task under a lease that has not ended: it is doing the
    /// work now.
    Held(Task),
}

/// A store of tasks. Each method that changes a task is one conditional write.
pub trait TaskStore: Send + Sync {
    /// Writes a new `pending` task, as the API does before it sends the event; fails with
    /// [`StoreError::AlreadyExists`], writing nothing, if a task has its id.
    fn create(&self, task: &Task) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The task with this id, read consistently (a task just written is found).
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send;

    /// Marks a task that was never sent `failed`, if it is still `pending`: the task as
    /// written, or `None` when it is not pending any more (the processor got it after all) or
    /// has no record.
    fn fail_pending(
        &self,
        id: &str,
        failure: &TaskFailure,
        now: u64,
    ) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send;

    /// Takes the task for the invocation holding `lease`, if [`Task::may_start`] allows it,
    /// counting the attempt; a task with no record is recorded from its event and taken.
    fn start(
        &self,
        event: &TaskEvent,
        lease: &Lease,
    ) -> impl Future<Output = Result<Start, StoreError>> + Send;

    /// Marks the task `completed` with its result and ends the lease, if `owner` still holds
    /// it; otherwise [`StoreError::Conflict`].
    fn complete(
        &self,
        id: &str,
        owner: &str,
        result: &Value,
        now: u64,
    ) -> impl Future<Output = Result<Task, StoreError>> + Send;

    /// Marks the task `failed` for good and ends the lease, if `owner` still holds it;
    /// otherwise [`StoreError::Conflict`].
    fn fail(
        &self,
        id: &str,
        owner: &str,
        failure: &TaskFailure,
        now: u64,
    ) -> impl Future<Output = Result<Task, StoreError>> + Send;
}

/// Tasks kept in the process's memory: what the functions use when `TASKS_TABLE` is not set,
/// so that they run locally with no AWS account. Each process starts with [`Task::sample`]
/// only, and each function (`api`, `processor`) has its own: a task the API creates locally
/// is not in the processor's memory, which records it from its event.
#[derive(Debug)]
pub struct MemoryStore {
    tasks: Mutex<HashMap<String, Task>>,
    unavailable: AtomicBool,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store holding [`Task::sample`].
    pub fn new() -> Self {
        Self::with_tasks([Task::sample()])
    }

    /// A store holding these tasks.
    pub fn with_tasks(tasks: impl IntoIterator<Item = Task>) -> Self {
        Self {
            tasks: Mutex::new(
                tasks
                    .into_iter()
                    .map(|task| (task.id.clone(), task))
                    .collect(),
            ),
            unavailable: AtomicBool::new(false),
        }
    }

    /// Makes every call fail with [`StoreError::Unavailable`] (or work again), as a store
    /// that cannot be reached would: for tests, and for [`UNAVAILABLE_VAR`].
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::Relaxed);
    }

    /// Runs `change` on the tasks, unless the store is made unavailable.
    fn with_tasks_map<T>(
        &self,
        change: impl FnOnce(&mut HashMap<String, Task>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.unavailable.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable(
                format!("the in-memory store is made unavailable ({UNAVAILABLE_VAR})").into(),
            ));
        }
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut tasks)
    }

    /// Changes the task, if `owner` holds it; the task as changed.
    fn change_held(
        &self,
        id: &str,
        owner: &str,
        change: impl FnOnce(&mut Task),
    ) -> Result<Task, StoreError> {
        self.with_tasks_map(|tasks| {
            let task = tasks
                .get_mut(id)
                .filter(|task| {
                    task.status == Status::Processing && task.lease_owner.as_deref() == Some(owner)
                })
                .ok_or_else(|| StoreError::Conflict {
                    id: id.to_owned(),
                    owner: owner.to_owned(),
                })?;
            change(task);
            task.lease_owner = None;
            task.lease_until = None;
            Ok(task.clone())
        })
    }
}

impl TaskStore for MemoryStore {
    async fn create(&self, task: &Task) -> Result<(), StoreError> {
        self.with_tasks_map(|tasks| {
            if tasks.contains_key(&task.id) {
                return Err(StoreError::AlreadyExists(task.id.clone()));
            }
            tasks.insert(task.id.clone(), task.clone());
            Ok(())
        })
    }

    async fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        self.with_tasks_map(|tasks| Ok(tasks.get(id).cloned()))
    }

    async fn fail_pending(
        &self,
        id: &str,
        failure: &TaskFailure,
        now: u64,
    ) -> Result<Option<Task>, StoreError> {
        self.with_tasks_map(|tasks| {
            let Some(task) = tasks
                .get_mut(id)
                .filter(|task| task.status == Status::Pending)
            else {
                return Ok(None);
            };
            task.status = Status::Failed;
            task.error = Some(failure.clone());
            task.updated_at = now;
            Ok(Some(task.clone()))
        })
    }

    async fn start(&self, event: &TaskEvent, lease: &Lease) -> Result<Start, StoreError> {
        self.with_tasks_map(|tasks| {
            let old = tasks.get(&event.id);
            match old {
                Some(task) if task.status.is_finished() => {
                    return Ok(Start::Finished(task.clone()));
                }
                Some(task) if !task.may_start(lease) => return Ok(Start::Held(task.clone())),
                _ => {}
            }
            let recorded = old.is_none();
            let task = Task::started(old, event, lease);
            tasks.insert(task.id.clone(), task.clone());
            Ok(Start::Started { task, recorded })
        })
    }

    async fn complete(
        &self,
        id: &str,
        owner: &str,
        result: &Value,
        now: u64,
    ) -> Result<Task, StoreError> {
        self.change_held(id, owner, |task| {
            task.status = Status::Completed;
            task.result = Some(result.clone());
            task.updated_at = now;
        })
    }

    async fn fail(
        &self,
        id: &str,
        owner: &str,
        failure: &TaskFailure,
        now: u64,
    ) -> Result<Task, StoreError> {
        self.change_held(id, owner, |task| {
            task.status = Status::Failed;
            task.error = Some(failure.clone());
            task.updated_at = now;
        })
    }
}

/// The store both functions use: DynamoDB when `TASKS_TABLE` is set, memory otherwise.
#[derive(Debug)]
#[non_exhaustive]
pub enum Store {
    /// Tasks in memory.
    Memory(MemoryStore),
    /// Tasks in a DynamoDB table.
    #[cfg(feature = "dynamodb")]
    DynamoDb(DynamoDbStore),
}

impl Store {
    /// The store the environment names: the DynamoDB table `TASKS_TABLE` (with the AWS SDK's
    /// usual settings: region, credentials, `AWS_ENDPOINT_URL`), or memory when it is not set.
    ///
    /// Fails when `TASKS_TABLE` is set but this build has no DynamoDB store (feature
    /// `dynamodb`), rather than keeping tasks in memory where they would be lost; and when
    /// [`UNAVAILABLE_VAR`] is set to anything but `0` or `1`, or together with
    /// `TASKS_TABLE`.
    pub async fn from_env() -> Result<Self, helve::ConfigError> {
        let table = std::env::var(TABLE_VAR).unwrap_or_default();
        let unavailable = match std::env::var(UNAVAILABLE_VAR).as_deref() {
            Err(_) | Ok("" | "0") => false,
            Ok("1") => true,
            Ok(_) => {
                return Err(helve::ConfigError::new(
                    UNAVAILABLE_VAR,
                    "must be 1 (the in-memory store fails every call) or 0",
                ));
            }
        };
        if table.trim().is_empty() {
            let store = MemoryStore::new();
            store.set_unavailable(unavailable);
            return Ok(Store::Memory(store));
        }
        if unavailable {
            return Err(helve::ConfigError::new(
                UNAVAILABLE_VAR,
                "only the in-memory store can be made unavailable; unset TASKS_TABLE or this",
            ));
        }
        #[cfg(feature = "dynamodb")]
        {
            Ok(Store::DynamoDb(DynamoDbStore::from_env(table).await))
        }
        #[cfg(not(feature = "dynamodb"))]
        {
            Err(helve::ConfigError::new(
                TABLE_VAR,
                format!(
                    "it names the table `{table}`, but this build has no DynamoDB store; build \
                     with `--features dynamodb`"
                ),
            ))
        }
    }

    /// `memory` or `dynamodb`, for the logs.
    pub fn name(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            #[cfg(feature = "dynamodb")]
            Store::DynamoDb(_) => "dynamodb",
        }
    }

    /// Where the tasks are kept, for the first log line.
    pub fn describe(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory (set TASKS_TABLE to use DynamoDB)",
            #[cfg(feature = "dynamodb")]
            Store::DynamoDb(_) => "DynamoDB",
        }
    }
}

/// Calls the same method on whichever store this is.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::Memory($store) => $call.await,
            #[cfg(feature = "dynamodb")]
            Store::DynamoDb($store) => $call.await,
        }
    };
}

impl TaskStore for Store {
    async fn create(&self, task: &Task) -> Result<(), StoreError> {
        delegate!(self, store => store.create(task))
    }

    async fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        delegate!(self, store => store.get(id))
    }

    async fn fail_pending(
        &self,
        id: &str,
        failure: &TaskFailure,
        now: u64,
    ) -> Result<Option<Task>, StoreError> {
        delegate!(self, store => store.fail_pending(id, failure, now))
    }

    async fn start(&self, event: &TaskEvent, lease: &Lease) -> Result<Start, StoreError> {
        delegate!(self, store => store.start(event, lease))
    }

    async fn complete(
        &self,
        id: &str,
        owner: &str,
        result: &Value,
        now: u64,
    ) -> Result<Task, StoreError> {
        delegate!(self, store => store.complete(id, owner, result, now))
    }

    async fn fail(
        &self,
        id: &str,
        owner: &str,
        failure: &TaskFailure,
        now: u64,
    ) -> Result<Task, StoreError> {
        delegate!(self, store => store.fail(id, owner, failure, now))
    }
}
