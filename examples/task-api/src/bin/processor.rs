//! The task processor: the API invokes it asynchronously (`Event`) with each task it accepts,
//! `{"id": ..., "type": ..., "input": {...}, "_helve": {"correlation_id": ...}}`, and it moves
//! the task `pending -> processing -> completed | failed`, with the result or why it failed,
//! and `updatedAt` each time. All of the work is done before the handler returns.
//!
//! Lambda retries an asynchronous event whose invocation fails (twice by default, after 1 and
//! 2 minutes), and may deliver one more than once. Every change of status is a conditional
//! write, so no copy does the work twice: only a `pending` task, or a `processing` one whose
//! invocation is this one retried or has passed its deadline, is taken; a `completed` or
//! `failed` task's event is acknowledged and skipped, and so is a copy of a task another
//! invocation is running. A task whose input can never work is marked `failed` and the
//! invocation succeeds; a failure worth retrying (the store is down) fails the invocation, so
//! that Lambda retries it and, once the retries are spent, sends the event to the on-failure
//! destination.
//!
//! Tasks are kept in memory unless `TASKS_TABLE` names a DynamoDB table (feature
//! `dynamodb`). A task with no record, as every task is in a local run's fresh memory, is
//! recorded from its event and processed.
//!
//! Run with
//!
//! ```text
//! cargo run -p example-task-api --bin processor -- examples/task-api/events/process-task.json
//! ```
//!
//! Deploy with `cargo lambda build` and `sam deploy --guided` from `examples/task-api` (see
//! the README).

use std::{borrow::Cow, time::Duration};

use example_task_api::{
    Lease, Start, Store, StoreError, Task, TaskEvent, TaskStore, WORK_MILLIS_VAR, now_ms, work,
    work_time,
};
use helve::prelude::*;

/// What every invocation shares, built once per execution environment.
#[derive(Debug)]
struct Processor {
    /// Where tasks are kept.
    store: Store,
    /// How long the simulated work takes: `WORK_MILLIS`.
    work_time: Duration,
}

/// Picks the store and reads the settings once, before the first invocation: a mistake here
/// is an init error, not a failure of every event.
async fn setup() -> Result<Processor, helve::ConfigError> {
    let work_time = work_time(std::env::var(WORK_MILLIS_VAR).ok().as_deref())?;
    let store = Store::from_env().await?;
    tracing::info!(
        store = store.name(),
        work_ms = u64::try_from(work_time.as_millis()).unwrap_or(u64::MAX),
        "tasks are kept in {}",
        store.describe()
    );
    Ok(Processor { store, work_time })
}

/// Why an invocation fails, so that Lambda retries it. A task whose input can never work is
/// not an error: it is marked `failed`, and the invocation succeeds.
#[derive(Debug, thiserror::Error)]
enum ProcessError {
    /// The event is not a task's: it cannot be recorded, so it goes, once Lambda's retries are
    /// spent, to the on-failure destination, where someone can look at it.
    #[error("the event is not a task: {0}")]
    InvalidEvent(String),
    /// The store failed: unavailable, or a record it cannot read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FunctionError for ProcessError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            ProcessError::InvalidEvent(_) => "tasks.InvalidEvent".into(),
            ProcessError::Store(error) => error.error_type(),
        }
    }
}

#[helve::handler(service = "tasks", namespace = "Tasks", init = setup)]
async fn process(
    event: TaskEvent,
    ctx: &Context,
    processor: &Processor,
) -> Result<Task, ProcessError> {
    event.check().map_err(ProcessError::InvalidEvent)?;
    let store = &processor.store;
    // The hold ends with this invocation: after its deadline it cannot be running, and a
    // retry may take the task over.
    let lease = Lease::new(ctx.request_id(), ctx.deadline());
    let task = match store.start(&event, &lease).await? {
        Start::Started { task, recorded } => {
            if recorded {
                tracing::info!(
                    task_id = %task.id,
                    "task {} has no record: it is recorded from its event",
                    task.id
                );
            }
            task
        }
        Start::Finished(task) => {
            metrics::counter!("TasksSkipped").increment(1);
            tracing::info!(
                task_id = %task.id,
                status = task.status.as_str(),
                "task {} is already {}: the event is acknowledged and skipped",
                task.id,
                task.status.as_str()
            );
            return Ok(task);
        }
        Start::Held(task) => {
            metrics::counter!("TasksSkipped").increment(1);
            tracing::info!(
                task_id = %task.id,
                held_by = task.lease_owner.as_deref().unwrap_or_default(),
                "task {} is being processed by another invocation: this copy of its event is \
                 skipped",
                task.id
            );
            return Ok(task);
        }
    };
    tracing::info!(
        task_id = %task.id,
        task_type = %task.kind,
        attempt = task.attempts,
        "task {} started: {}, attempt {}",
        task.id,
        task.kind,
        task.attempts
    );
    let written = match work::run(&task.kind, &task.input, processor.work_time).await {
        Ok(result) => {
            let done = store
                .complete(&task.id, &lease.owner, &result, now_ms())
                .await;
            if let Ok(done) = &done {
                metrics::counter!("TasksCompleted").increment(1);
                tracing::info!(task_id = %done.id, "task {} completed", done.id);
            }
            done
        }
        Err(failure) => {
            // Doing it again would fail the same way: the task fails for good, and the
            // invocation succeeds, so that Lambda does not retry it.
            let failed = store.fail(&task.id, &lease.owner, &failure, now_ms()).await;
            if let Ok(failed) = &failed {
                metrics::counter!("TasksFailed").increment(1);
                tracing::warn!(
                    task_id = %failed.id,
                    error_type = %failure.error_type,
                    "task {} failed: {}",
                    failed.id,
                    failure.message
                );
            }
            failed
        }
    };
    match written {
        Ok(task) => Ok(task),
        // Another invocation took the task over (this one ran past its deadline): it is that
        // one's now, and this one stops without failing.
        Err(StoreError::Conflict { id, owner }) => {
            tracing::warn!(
                task_id = %id,
                "task {id} was taken over by another invocation while {owner} ran it; this one \
                 stops"
            );
            Ok(store.get(&id).await?.unwrap_or(task))
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use example_task_api::{MemoryStore, NewTask, Status, work::WORK_FAILED};
    use serde_json::json;

    use super::*;

    const ID: &str = "0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a91";

    fn processor() -> Processor {
        Processor {
            store: Store::Memory(MemoryStore::with_tasks([])),
            work_time: Duration::from_millis(200),
        }
    }

    fn memory(processor: &Processor) -> &MemoryStore {
        match &processor.store {
            Store::Memory(store) => store,
            _ => unreachable!("the tests use the in-memory store"),
        }
    }

    fn event(id: &str, kind: &str, input: serde_json::Value) -> TaskEvent {
        serde_json::from_value(json!({"id": id, "type": kind, "input": input})).unwrap()
    }

    fn report() -> TaskEvent {
        event(ID, "report", json!({"values": [1, 2, 3.5]}))
    }

    fn context(request_id: &str) -> Context {
        Context::builder()
            .request_id(request_id)
            .timeout(Duration::from_secs(60))
            .build()
    }

    /// The task as the API writes it before sending its event.
    async fn pending(processor: &Processor, event: &TaskEvent) {
        let new = NewTask {
            kind: event.kind.clone(),
            input: event.input.clone(),
        };
        processor
            .store
            .create(&Task::pending(&event.id, new, 1_000))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_pending_task_is_processed_and_completed_with_its_result() {
        let processor = processor();
        pending(&processor, &report()).await;
        let task = process(report(), &context("r-1"), &processor)
            .await
            .unwrap();
        assert_eq!(task.status, Status::Completed);
        assert_eq!(
            task.result,
            Some(json!({"count": 3, "sum": 6.5, "mean": 2.17, "min": 1.0, "max": 3.5}))
        );
        assert_eq!(task.attempts, 1);
        assert!(task.updated_at > task.created_at);
        assert_eq!(processor.store.get(ID).await.unwrap(), Some(task));
    }

    #[tokio::test(start_paused = true)]
    async fn the_event_of_a_completed_task_does_no_work_twice() {
        let processor = processor();
        pending(&processor, &report()).await;
        let done = process(report(), &context("r-1"), &processor)
            .await
            .unwrap();
        // The same event delivered again, by a retry (same request id) or as a copy (another).
        for request_id in ["r-1", "r-2"] {
            let again = process(report(), &context(request_id), &processor)
                .await
                .unwrap();
            assert_eq!(again, done, "skipped: nothing changed");
        }
        assert_eq!(processor.store.get(ID).await.unwrap(), Some(done));
    }

    #[tokio::test(start_paused = true)]
    async fn a_copy_of_an_event_another_invocation_is_running_is_skipped() {
        let processor = processor();
        let first = context("r-1");
        let running = process(report(), &first, &processor);
        let copy = async {
            // While the first invocation works, a copy of its event arrives.
            tokio::time::sleep(Duration::from_millis(50)).await;
            process(report(), &context("r-2"), &processor).await
        };
        let (first, copy) = tokio::join!(running, copy);
        let copy = copy.unwrap();
        assert_eq!(copy.status, Status::Processing, "the copy saw it held");
        assert_eq!(copy.lease_owner.as_deref(), Some("r-1"));
        let first = first.unwrap();
        assert_eq!(
            (first.status, first.attempts),
            (Status::Completed, 1),
            "worked once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_takes_back_the_task_its_failed_attempt_held() {
        let processor = processor();
        pending(&processor, &report()).await;
        // The first attempt took the task and then failed (its store write was lost, say).
        let lease = Lease::new("r-1", context("r-1").deadline());
        processor.store.start(&report(), &lease).await.unwrap();
        // Lambda retries the event with the same request id.
        let task = process(report(), &context("r-1"), &processor)
            .await
            .unwrap();
        assert_eq!((task.status, task.attempts), (Status::Completed, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_whose_input_asks_to_fail_is_failed_and_the_invocation_succeeds() {
        let processor = processor();
        let failing = event(
            ID,
            "resize",
            json!({"image": "a.jpg", "width": 10, "height": 10, "fail": true}),
        );
        let task = process(failing, &context("r-1"), &processor).await.unwrap();
        assert_eq!(task.status, Status::Failed);
        let failure = task.error.expect("why it failed");
        assert_eq!(failure.error_type, WORK_FAILED);
        assert_eq!(task.result, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_without_a_record_is_recorded_from_its_event() {
        let processor = processor();
        let task = process(report(), &context("r-1"), &processor)
            .await
            .unwrap();
        assert_eq!(task.status, Status::Completed);
        assert_eq!(task.input, report().input);
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_that_is_not_a_task_fails_the_invocation_without_its_values() {
        let processor = processor();
        let error = process(
            event("t-1", "report", json!({})),
            &context("r-1"),
            &processor,
        )
        .await
        .unwrap_err();
        assert_eq!(error.error_type(), "tasks.InvalidEvent");
        assert_eq!(
            error.to_string(),
            "the event is not a task: `id` is not a task id (a lower-case hyphenated UUID)"
        );
        assert_eq!(processor.store.get("t-1").await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unavailable_store_fails_the_invocation_so_that_lambda_retries_it() {
        let processor = processor();
        memory(&processor).set_unavailable(true);
        let error = process(report(), &context("r-1"), &processor)
            .await
            .unwrap_err();
        assert_eq!(error.error_type(), "tasks.StoreUnavailable");
        assert_eq!(
            helve::error::chain_message(&error),
            "the task store is unavailable: the in-memory store is made unavailable \
             (TASKS_STORE_UNAVAILABLE)"
        );
    }
}
