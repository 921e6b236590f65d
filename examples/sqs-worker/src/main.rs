//! A worker of the asynchronous job pattern: an API accepts a job, writes its `pending` record
//! and sends `{"jobId": ..., "kind": ..., "steps": ...}` to an SQS queue; this function takes
//! the messages in batches and moves each job `pending -> processing -> completed | failed`,
//! recording its progress after every step.
//!
//! It is idempotent: a job that is already `completed` or `failed` is skipped, a copy of a job
//! that another delivery is running is dropped, and a retried job resumes after its last
//! recorded step; every change of status is a conditional write. A job whose input can never
//! work is marked `failed` and its message succeeds; a transient failure returns `Err`, so
//! helve reports the message in `batchItemFailures` and SQS delivers it again (and, after
//! `maxReceiveCount` receives, moves it to the dead-letter queue).
//!
//! Jobs are kept in memory unless `JOBS_TABLE` names a DynamoDB table (feature `dynamodb`).
//!
//! Run with
//!
//! ```text
//! cargo run -p example-sqs-worker -- examples/sqs-worker/events/batch.json
//! ```
//!
//! Deploy with `cargo lambda build --release --arm64 -p example-sqs-worker --features dynamodb`,
//! then `sam deploy --guided` from this folder (see the README beside it).

use std::{borrow::Cow, time::Duration};

use example_sqs_worker::{
    Job, JobFailure, JobKind, JobMessage, JobStore, Lease, Start, Store, StoreError, now_ms,
};
use helve::batch::SqsMessage;
use helve::prelude::*;

/// What every record shares, built once per execution environment.
#[derive(Debug)]
struct Worker {
    store: Store,
    /// How long a simulated step takes.
    step: Duration,
}

/// How long a simulated step takes when `STEP_MILLIS` is not set, in milliseconds.
const DEFAULT_STEP_MILLIS: u64 = 100;

/// Picks the store and reads the settings once, before the first invocation: a mistake here
/// is an init error, not a failure of every message.
async fn setup() -> Result<Worker, helve::ConfigError> {
    let store = Store::from_env().await?;
    let step_ms = match std::env::var("STEP_MILLIS") {
        Ok(millis) => millis
            .parse::<u64>()
            .ok()
            .filter(|millis| *millis <= 60_000)
            .ok_or_else(|| {
                helve::ConfigError::new("STEP_MILLIS", "must be 0 to 60000 milliseconds")
            })?,
        Err(_) => DEFAULT_STEP_MILLIS,
    };
    let kept_in = match &store {
        Store::Memory(_) => "memory (set JOBS_TABLE to use DynamoDB)",
        _ => "DynamoDB",
    };
    tracing::info!(store = store.name(), step_ms, "jobs are kept in {kept_in}");
    Ok(Worker {
        store,
        step: Duration::from_millis(step_ms),
    })
}

/// Why a message is to be delivered again. A job whose input can never work is not an error:
/// it is marked `failed` and its message succeeds.
#[derive(Debug, thiserror::Error)]
enum JobError {
    /// The store failed: unavailable, or a record it cannot read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A service the job calls did not answer (here, a simulation).
    #[error(
        "job {job_id} could not finish step {step}: the service it calls is unavailable (simulated)"
    )]
    DownstreamUnavailable { job_id: String, step: u32 },
}

impl FunctionError for JobError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            JobError::Store(error) => error.error_type(),
            JobError::DownstreamUnavailable { .. } => "jobs.DownstreamUnavailable".into(),
        }
    }
}

#[helve::handler(service = "jobs-worker", init = setup, batch(concurrency = 8))]
async fn work(
    message: SqsMessage<JobMessage>,
    ctx: &Context,
    worker: &Worker,
) -> Result<(), JobError> {
    let owner = message.message_id();
    // The lease ends with this invocation: after the deadline this delivery cannot be running.
    let lease = Lease::new(owner, ctx.deadline());
    let job = match worker.store.start(message.body(), &lease).await {
        Ok(Start::Started(job)) => job,
        Ok(Start::Finished(job)) => {
            tracing::info!(
                job_id = %job.job_id,
                status = job.status.as_str(),
                receive_count = message.receive_count(),
                "job {} is already {}: nothing to do",
                job.job_id,
                job.status.as_str()
            );
            return Ok(());
        }
        Ok(Start::Held(job)) => {
            tracing::info!(
                job_id = %job.job_id,
                held_by = job.lease_owner.as_deref().unwrap_or_default(),
                "job {} is being processed by another delivery; this copy is dropped",
                job.job_id
            );
            return Ok(());
        }
        Err(error) => return lost_lease(error.into()),
    };
    if job.steps_done > 0 {
        tracing::info!(
            job_id = %job.job_id,
            attempt = job.attempts,
            receive_count = message.receive_count(),
            "job {} resumes after step {} of {}",
            job.job_id,
            job.steps_done,
            job.steps
        );
    } else {
        tracing::info!(
            job_id = %job.job_id,
            kind = job.kind.as_str(),
            attempt = job.attempts,
            receive_count = message.receive_count(),
            "job {} started: {} steps",
            job.job_id,
            job.steps
        );
    }
    run(&job, owner, worker).await.or_else(lost_lease)
}

/// A job this delivery no longer holds was taken over or finished by someone else, who is
/// responsible for it now: this delivery stops, and its message succeeds. Any other error is
/// the message's failure.
fn lost_lease(error: JobError) -> Result<(), JobError> {
    match error {
        JobError::Store(StoreError::Conflict { job_id, owner }) => {
            tracing::warn!(
                job_id = %job_id,
                "job {job_id} was changed by another delivery while {owner} ran it; this delivery stops"
            );
            Ok(())
        }
        error => Err(error),
    }
}

/// Runs the steps not done yet, recording the progress after each, then completes the job.
async fn run(job: &Job, owner: &str, worker: &Worker) -> Result<(), JobError> {
    let store = &worker.store;
    let result = match output(job) {
        Ok(result) => result,
        Err(failure) => {
            // Retrying would fail the same way: the job fails for good, the message succeeds.
            store.fail(&job.job_id, owner, &failure, now_ms()).await?;
            tracing::warn!(
                job_id = %job.job_id,
                error_type = %failure.error_type,
                "job {} failed: {}",
                job.job_id,
                failure.message
            );
            return Ok(());
        }
    };
    for step in job.steps_done + 1..=job.steps {
        simulate_step(job, step, worker.step).await?;
        let progress = Job::percent(step, job.steps);
        store
            .progress(&job.job_id, owner, step, progress, now_ms())
            .await?;
        tracing::debug!(
            job_id = %job.job_id,
            step,
            progress,
            "job {} step {step} of {} done ({progress}%)",
            job.job_id,
            job.steps
        );
    }
    store
        .complete(&job.job_id, owner, &result, now_ms())
        .await?;
    tracing::info!(
        job_id = %job.job_id,
        result = %result,
        "job {} completed: {result}",
        job.job_id
    );
    Ok(())
}

/// Where the job's output goes, or why its input can never work.
fn output(job: &Job) -> Result<String, JobFailure> {
    match job.kind {
        JobKind::Report => Ok(format!("reports/{}.pdf", job.job_id)),
        JobKind::Export => match job.format.as_deref().unwrap_or("csv") {
            format @ ("csv" | "json") => Ok(format!("exports/{}.{format}", job.job_id)),
            other => Err(JobFailure {
                error_type: "jobs.UnsupportedFormat".to_owned(),
                message: format!("export format `{other}` is not supported; use `csv` or `json`"),
            }),
        },
        JobKind::SimulateTransientError | JobKind::SimulatePanic => {
            Ok(format!("simulations/{}", job.job_id))
        }
    }
}

/// One step of the job: a short sleep standing in for real work, or a simulated failure. Each
/// step is a subsegment in X-Ray, under its record's, annotated with the job's id.
#[tracing::instrument(skip_all, fields(annotation.job_id = %job.job_id, step))]
async fn simulate_step(job: &Job, step: u32, duration: Duration) -> Result<(), JobError> {
    match job.kind {
        JobKind::SimulatePanic => panic!(
            "simulated bug in job {}: step {step} read past the end of its input",
            job.job_id
        ),
        // Fails in the middle, on every attempt: the steps before it stay done.
        JobKind::SimulateTransientError if step == job.steps / 2 + 1 => {
            return Err(JobError::DownstreamUnavailable {
                job_id: job.job_id.clone(),
                step,
            });
        }
        _ => {}
    }
    tokio::time::sleep(duration).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use example_sqs_worker::{MemoryStore, Status};

    use super::*;

    fn worker() -> Worker {
        Worker {
            store: Store::Memory(MemoryStore::new()),
            step: Duration::from_millis(100),
        }
    }

    fn memory(worker: &Worker) -> &MemoryStore {
        match &worker.store {
            Store::Memory(store) => store,
            _ => unreachable!("the tests use the in-memory store"),
        }
    }

    fn job(job_id: &str, kind: JobKind, steps: u32) -> JobMessage {
        JobMessage {
            job_id: job_id.to_owned(),
            kind,
            steps,
            format: None,
        }
    }

    fn context() -> Context {
        Context::builder().timeout(Duration::from_secs(30)).build()
    }

    async fn record(worker: &Worker, job_id: &str) -> Job {
        worker.store.get(job_id).await.unwrap().expect("a record")
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_runs_every_step_and_completes() {
        let worker = worker();
        let message = job("job-1", JobKind::Report, 3);
        worker
            .store
            .create(&Job::pending(&message, now_ms()))
            .await
            .unwrap();
        work(SqsMessage::new("m-1", message), &context(), &worker)
            .await
            .unwrap();
        let job = record(&worker, "job-1").await;
        assert_eq!(job.status, Status::Completed);
        assert_eq!((job.steps_done, job.progress), (3, 100));
        assert_eq!(job.result.as_deref(), Some("reports/job-1.pdf"));
        assert_eq!(job.attempts, 1);
        assert_eq!((job.lease_owner, job.lease_until), (None, None));
        assert!(job.finished_at.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_without_a_record_is_started_from_its_message() {
        let worker = worker();
        let mut message = job("job-2", JobKind::Export, 2);
        message.format = Some("json".to_owned());
        work(SqsMessage::new("m-2", message), &context(), &worker)
            .await
            .unwrap();
        let job = record(&worker, "job-2").await;
        assert_eq!(job.status, Status::Completed);
        assert_eq!(job.result.as_deref(), Some("exports/job-2.json"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_redelivered_finished_job_is_skipped() {
        let worker = worker();
        let message = job("job-3", JobKind::Report, 2);
        work(SqsMessage::new("m-3", message.clone()), &context(), &worker)
            .await
            .unwrap();
        let done = record(&worker, "job-3").await;
        // The same message again, and a copy sent as another message: nothing runs.
        for id in ["m-3", "m-3-copy"] {
            work(SqsMessage::new(id, message.clone()), &context(), &worker)
                .await
                .unwrap();
        }
        assert_eq!(record(&worker, "job-3").await, done);
    }

    #[tokio::test(start_paused = true)]
    async fn a_copy_of_a_job_another_delivery_holds_is_dropped() {
        let worker = worker();
        let message = job("job-4", JobKind::Report, 4);
        let lease = Lease::new("m-4", context().deadline());
        worker.store.start(&message, &lease).await.unwrap();
        work(SqsMessage::new("m-4-copy", message), &context(), &worker)
            .await
            .unwrap();
        let job = record(&worker, "job-4").await;
        assert_eq!(job.status, Status::Processing);
        assert_eq!(job.lease_owner.as_deref(), Some("m-4"));
        assert_eq!((job.attempts, job.steps_done), (1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retried_job_resumes_after_its_last_step() {
        let worker = worker();
        let message = job("job-5", JobKind::Report, 4);
        let lease = Lease::new("m-5", context().deadline());
        worker.store.start(&message, &lease).await.unwrap();
        worker
            .store
            .progress("job-5", "m-5", 3, 75, now_ms())
            .await
            .unwrap();
        // The same message, delivered again after its first delivery failed.
        work(SqsMessage::new("m-5", message), &context(), &worker)
            .await
            .unwrap();
        let job = record(&worker, "job-5").await;
        assert_eq!(job.status, Status::Completed);
        assert_eq!(job.attempts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_whose_input_cannot_work_fails_for_good_and_its_message_succeeds() {
        let worker = worker();
        let mut message = job("job-6", JobKind::Export, 3);
        message.format = Some("xlsx".to_owned());
        work(SqsMessage::new("m-6", message), &context(), &worker)
            .await
            .unwrap();
        let job = record(&worker, "job-6").await;
        assert_eq!(job.status, Status::Failed);
        assert_eq!(
            job.error,
            Some(JobFailure {
                error_type: "jobs.UnsupportedFormat".to_owned(),
                message: "export format `xlsx` is not supported; use `csv` or `json`".to_owned(),
            })
        );
        assert_eq!(job.steps_done, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_failure_keeps_the_progress_and_asks_for_a_retry() {
        let worker = worker();
        let message = job("job-7", JobKind::SimulateTransientError, 4);
        let error = work(SqsMessage::new("m-7", message), &context(), &worker)
            .await
            .unwrap_err();
        assert_eq!(error.error_type(), "jobs.DownstreamUnavailable");
        assert_eq!(
            error.to_string(),
            "job job-7 could not finish step 3: the service it calls is unavailable (simulated)"
        );
        let job = record(&worker, "job-7").await;
        assert_eq!(job.status, Status::Processing);
        assert_eq!((job.steps_done, job.progress), (2, 50));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unavailable_store_asks_for_a_retry() {
        let worker = worker();
        memory(&worker).set_unavailable(true);
        let message = job("job-8", JobKind::Report, 2);
        let error = work(SqsMessage::new("m-8", message), &context(), &worker)
            .await
            .unwrap_err();
        assert_eq!(error.error_type(), "jobs.StoreUnavailable");
        assert_eq!(
            helve::error::chain_message(&error),
            "the job store is unavailable: the in-memory store is made unavailable"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_taken_over_meanwhile_stops_without_failing_its_message() {
        let worker = worker();
        let message = job("job-9", JobKind::Report, 3);
        let ctx = context();
        let run = work(SqsMessage::new("m-9", message.clone()), &ctx, &worker);
        let take_over = async {
            // Once the first step runs, another delivery takes the job over, as it could once
            // a lease has ended.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut ended = Lease::new("m-9-copy", context().deadline());
            ended.now = u64::MAX;
            worker.store.start(&message, &ended).await.unwrap()
        };
        let (outcome, started) = tokio::join!(run, take_over);
        assert!(matches!(started, Start::Started(_)));
        outcome.unwrap();
        let job = record(&worker, "job-9").await;
        assert_eq!(job.lease_owner.as_deref(), Some("m-9-copy"));
        assert_eq!(
            job.steps_done, 0,
            "the first delivery recorded nothing after it lost the job"
        );
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "simulated bug in job job-10: step 1 read past the end of its input")]
    async fn the_panic_simulation_panics() {
        let worker = worker();
        let message = job("job-10", JobKind::SimulatePanic, 2);
        let _ = work(SqsMessage::new("m-10", message), &context(), &worker).await;
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_message_that_is_not_a_job_is_reported_failed() {
        use helve::testing::{Level, fixtures, invoke};

        let event = fixtures::sqs()
            .message_id("m-1")
            .body(serde_json::json!({"jobId": "job-kit-1", "kind": "report", "steps": 2}))
            .record()
            .message_id("m-2")
            .body("not a job");
        // The function as `main` runs it (batch of 8 at once), written by `#[helve::handler]`.
        let outcome = invoke(helve_function!(), event).await;
        outcome.assert_failed_records(&["m-2"]);
        outcome
            .logs()
            .at(Level::ERROR)
            .with("record_id", "m-2")
            .assert_one();
    }
}
