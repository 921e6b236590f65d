//! Where jobs are kept: the [`JobStore`] trait, an in-memory store, and (feature `dynamodb`) a
//! DynamoDB table. Every change of status is a conditional write, so that two deliveries of
//! the same job never both run it, and a finished job is never run again.

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

use crate::job::{Job, JobFailure, JobMessage, Lease, Status};

#[cfg(feature = "dynamodb")]
mod dynamodb;

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbStore;

/// An error the store's client returned.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why the store did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The job is not `processing` under this delivery's lease any more: another delivery took
    /// it over after the lease ended, or it was completed or failed meanwhile. The write was
    /// not made.
    #[error("job {job_id} is no longer held by delivery {owner}")]
    Conflict {
        /// The job.
        job_id: String,
        /// The delivery whose write was refused.
        owner: String,
    },
    /// [`JobStore::create`] of a job that exists.
    #[error("job {0} already exists")]
    AlreadyExists(String),
    /// The store could not be reached, or refused the request: worth retrying later.
    #[error("the job store is unavailable")]
    Unavailable(#[source] BoxError),
    /// A record in the store is not a job this worker can read.
    #[error("the record of job {job_id} is not valid: {reason}")]
    InvalidRecord {
        /// The job.
        job_id: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl FunctionError for StoreError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            StoreError::Conflict { .. } => "jobs.Conflict".into(),
            StoreError::AlreadyExists(_) => "jobs.AlreadyExists".into(),
            StoreError::Unavailable(_) => "jobs.StoreUnavailable".into(),
            StoreError::InvalidRecord { .. } => "jobs.InvalidRecord".into(),
        }
    }
}

/// What [`JobStore::start`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The job is now `processing` under this delivery's lease: run it from
    /// `steps_done + 1`. The record is as it is after the write.
    Started(Job),
    /// The job is `completed` or `failed`: nothing to do.
    Finished(Job),
    /// Another delivery holds the job under a lease that has not ended.
    Held(Job),
}

/// A store of jobs. Each method that changes a job is one conditional write.
pub trait JobStore: Send + Sync {
    /// Writes a new `pending` job, as the API does before it sends the message; fails with
    /// [`StoreError::AlreadyExists`] if the job exists.
    fn create(&self, job: &Job) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The job's record, read consistently.
    fn get(&self, job_id: &str) -> impl Future<Output = Result<Option<Job>, StoreError>> + Send;

    /// Takes the job for the delivery `lease.owner`, if it is `pending`, or `processing` under
    /// the same owner or under a lease that ended; counts the attempt. A job with no record
    /// is started from the message.
    fn start(
        &self,
        message: &JobMessage,
        lease: &Lease,
    ) -> impl Future<Output = Result<Start, StoreError>> + Send;

    /// Records that `steps_done` steps are done, `progress` percent of the job, if `owner`
    /// still holds the job.
    fn progress(
        &self,
        job_id: &str,
        owner: &str,
        steps_done: u32,
        progress: u8,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks the job `completed` with its result and ends the lease, if `owner` still holds
    /// the job.
    fn complete(
        &self,
        job_id: &str,
        owner: &str,
        result: &str,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks the job `failed` for good and ends the lease, if `owner` still holds the job.
    fn fail(
        &self,
        job_id: &str,
        owner: &str,
        failure: &JobFailure,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Jobs kept in the process's memory: what the worker uses when `JOBS_TABLE` is not set, so
/// that it runs locally with no AWS account. Each process starts empty.
#[derive(Debug, Default)]
pub struct MemoryStore {
    jobs: Mutex<HashMap<String, Job>>,
    unavailable: AtomicBool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail with [`StoreError::Unavailable`] (or work again), as a store
    /// that cannot be reached would: for tests.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::Relaxed);
    }

    /// Runs `change` on the jobs, unless the store is made unavailable.
    fn with_jobs<T>(
        &self,
        change: impl FnOnce(&mut HashMap<String, Job>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.unavailable.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable(
                "the in-memory store is made unavailable".into(),
            ));
        }
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut jobs)
    }

    /// The job, if `owner` holds it.
    fn held<'a>(
        jobs: &'a mut HashMap<String, Job>,
        job_id: &str,
        owner: &str,
    ) -> Result<&'a mut Job, StoreError> {
        jobs.get_mut(job_id)
            .filter(|job| {
                job.status == Status::Processing && job.lease_owner.as_deref() == Some(owner)
            })
            .ok_or_else(|| StoreError::Conflict {
                job_id: job_id.to_owned(),
                owner: owner.to_owned(),
            })
    }
}

impl JobStore for MemoryStore {
    async fn create(&self, job: &Job) -> Result<(), StoreError> {
        self.with_jobs(|jobs| {
            if jobs.contains_key(&job.job_id) {
                return Err(StoreError::AlreadyExists(job.job_id.clone()));
            }
            jobs.insert(job.job_id.clone(), job.clone());
            Ok(())
        })
    }

    async fn get(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        self.with_jobs(|jobs| Ok(jobs.get(job_id).cloned()))
    }

    async fn start(&self, message: &JobMessage, lease: &Lease) -> Result<Start, StoreError> {
        self.with_jobs(|jobs| {
            let job = jobs
                .entry(message.job_id.clone())
                .or_insert_with(|| Job::pending(message, lease.now));
            if job.status.is_finished() {
                return Ok(Start::Finished(job.clone()));
            }
            if job.status == Status::Processing
                && job.lease_owner.as_deref() != Some(lease.owner.as_str())
                && job.lease_until.is_some_and(|until| until >= lease.now)
            {
                return Ok(Start::Held(job.clone()));
            }
            job.status = Status::Processing;
            job.lease_owner = Some(lease.owner.clone());
            job.lease_until = Some(lease.until);
            job.attempts += 1;
            job.started_at.get_or_insert(lease.now);
            job.updated_at = lease.now;
            Ok(Start::Started(job.clone()))
        })
    }

    async fn progress(
        &self,
        job_id: &str,
        owner: &str,
        steps_done: u32,
        progress: u8,
        now: u64,
    ) -> Result<(), StoreError> {
        self.with_jobs(|jobs| {
            let job = Self::held(jobs, job_id, owner)?;
            job.steps_done = steps_done;
            job.progress = progress;
            job.updated_at = now;
            Ok(())
        })
    }

    async fn complete(
        &self,
        job_id: &str,
        owner: &str,
        result: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        self.with_jobs(|jobs| {
            let job = Self::held(jobs, job_id, owner)?;
            job.status = Status::Completed;
            job.steps_done = job.steps;
            job.progress = 100;
            job.result = Some(result.to_owned());
            job.lease_owner = None;
            job.lease_until = None;
            job.updated_at = now;
            job.finished_at = Some(now);
            Ok(())
        })
    }

    async fn fail(
        &self,
        job_id: &str,
        owner: &str,
        failure: &JobFailure,
        now: u64,
    ) -> Result<(), StoreError> {
        self.with_jobs(|jobs| {
            let job = Self::held(jobs, job_id, owner)?;
            job.status = Status::Failed;
            job.error = Some(failure.clone());
            job.lease_owner = None;
            job.lease_until = None;
            job.updated_at = now;
            job.finished_at = Some(now);
            Ok(())
        })
    }
}

/// The store the worker uses: DynamoDB when `JOBS_TABLE` is set, memory otherwise.
#[derive(Debug)]
#[non_exhaustive]
pub enum Store {
    /// Jobs in memory.
    Memory(MemoryStore),
    /// Jobs in a DynamoDB table.
    #[cfg(feature = "dynamodb")]
    DynamoDb(DynamoDbStore),
}

impl Store {
    /// The store the environment names: the DynamoDB table `JOBS_TABLE` (with the AWS SDK's
    /// usual settings: region, credentials, `AWS_ENDPOINT_URL`), or memory when it is not set.
    ///
    /// Fails when `JOBS_TABLE` is set but this build has no DynamoDB store (feature
    /// `dynamodb`), rather than keeping jobs in memory where no one would see them.
    pub async fn from_env() -> Result<Self, helve::ConfigError> {
        let table = std::env::var("JOBS_TABLE").unwrap_or_default();
        if table.trim().is_empty() {
            return Ok(Store::Memory(MemoryStore::new()));
        }
        #[cfg(feature = "dynamodb")]
        {
            Ok(Store::DynamoDb(DynamoDbStore::from_env(table).await))
        }
        #[cfg(not(feature = "dynamodb"))]
        {
            Err(helve::ConfigError::new(
                "JOBS_TABLE",
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

impl JobStore for Store {
    async fn create(&self, job: &Job) -> Result<(), StoreError> {
        delegate!(self, store => store.create(job))
    }

    async fn get(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        delegate!(self, store => store.get(job_id))
    }

    async fn start(&self, message: &JobMessage, lease: &Lease) -> Result<Start, StoreError> {
        delegate!(self, store => store.start(message, lease))
    }

    async fn progress(
        &self,
        job_id: &str,
        owner: &str,
        steps_done: u32,
        progress: u8,
        now: u64,
    ) -> Result<(), StoreError> {
        delegate!(self, store => store.progress(job_id, owner, steps_done, progress, now))
    }

    async fn complete(
        &self,
        job_id: &str,
        owner: &str,
        result: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        delegate!(self, store => store.complete(job_id, owner, result, now))
    }

    async fn fail(
        &self,
        job_id: &str,
        owner: &str,
        failure: &JobFailure,
        now: u64,
    ) -> Result<(), StoreError> {
        delegate!(self, store => store.fail(job_id, owner, failure, now))
    }
}
