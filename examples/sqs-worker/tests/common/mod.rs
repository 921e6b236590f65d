//! The transitions every job store must make the same way, run against the in-memory store
//! (`tests/memory_store.rs`) and DynamoDB (`tests/dynamodb_store.rs`). Each scenario uses job ids
//! of its own, so that they can share one table.

// Each test binary uses what it needs.
#![allow(dead_code)]

use example_sqs_worker::{
    Job, JobFailure, JobKind, JobMessage, JobStore, Lease, Start, Status, StoreError,
};

/// A time well after now, in epoch ms: the scenarios use fixed times, not the clock.
const T0: u64 = 1_795_449_600_000;

fn message(job_id: &str, steps: u32) -> JobMessage {
    JobMessage {
        job_id: job_id.to_owned(),
        kind: JobKind::Export,
        steps,
        format: Some("csv".to_owned()),
    }
}

/// A lease of `owner` from `now` for 60 s.
fn lease(owner: &str, now: u64) -> Lease {
    Lease {
        owner: owner.to_owned(),
        now,
        until: now + 60_000,
    }
}

fn started(start: Start) -> Job {
    match start {
        Start::Started(job) => job,
        other => panic!("expected the job to start, got {other:?}"),
    }
}

fn assert_conflict(result: Result<(), StoreError>, what: &str) {
    match result {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

async fn get(store: &impl JobStore, job_id: &str) -> Job {
    store
        .get(job_id)
        .await
        .expect("the store answers")
        .expect("the job has a record")
}

/// Every scenario, in turn.
pub(crate) async fn all(store: &impl JobStore, prefix: &str) {
    a_job_goes_from_pending_to_completed(store, &format!("{prefix}-lifecycle")).await;
    a_finished_job_is_not_started_again(store, &format!("{prefix}-redelivery")).await;
    writes_of_a_delivery_that_does_not_hold_the_job_are_refused(
        store,
        &format!("{prefix}-conflicts"),
    )
    .await;
    the_same_message_takes_its_job_back_and_resumes(store, &format!("{prefix}-resume")).await;
    a_job_without_a_record_starts_from_its_message(store, &format!("{prefix}-no-record")).await;
}

/// create pending, start processing, progress, complete.
pub(crate) async fn a_job_goes_from_pending_to_completed(store: &impl JobStore, job_id: &str) {
    let pending = Job::pending(&message(job_id, 3), T0);
    store.create(&pending).await.unwrap();
    assert_eq!(get(store, job_id).await, pending);
    assert!(matches!(
        store.create(&pending).await,
        Err(StoreError::AlreadyExists(id)) if id == job_id
    ));

    let job = started(
        store
            .start(&message(job_id, 3), &lease("m-1", T0 + 10))
            .await
            .unwrap(),
    );
    assert_eq!(job.status, Status::Processing);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.lease_owner.as_deref(), Some("m-1"));
    assert_eq!(job.lease_until, Some(T0 + 60_010));
    assert_eq!(job.started_at, Some(T0 + 10));
    assert_eq!(job.created_at, T0, "the API's record is kept");
    assert_eq!(get(store, job_id).await, job);

    store.progress(job_id, "m-1", 1, 33, T0 + 20).await.unwrap();
    let job = get(store, job_id).await;
    assert_eq!(
        (job.steps_done, job.progress, job.updated_at),
        (1, 33, T0 + 20)
    );

    store
        .complete(job_id, "m-1", "exports/done.csv", T0 + 30)
        .await
        .unwrap();
    let expected = Job {
        status: Status::Completed,
        steps_done: 3,
        progress: 100,
        attempts: 1,
        lease_owner: None,
        lease_until: None,
        result: Some("exports/done.csv".to_owned()),
        updated_at: T0 + 30,
        started_at: Some(T0 + 10),
        finished_at: Some(T0 + 30),
        ..pending
    };
    assert_eq!(get(store, job_id).await, expected);
}

/// A redelivery of a completed or failed job finds it finished, and changes nothing.
pub(crate) async fn a_finished_job_is_not_started_again(store: &impl JobStore, job_id: &str) {
    let completed = format!("{job_id}-completed");
    started(
        store
            .start(&message(&completed, 2), &lease("m-1", T0))
            .await
            .unwrap(),
    );
    store
        .complete(&completed, "m-1", "exports/a.csv", T0 + 1)
        .await
        .unwrap();
    let done = get(store, &completed).await;
    for owner in ["m-1", "m-2"] {
        assert_eq!(
            store
                .start(&message(&completed, 2), &lease(owner, T0 + 2))
                .await
                .unwrap(),
            Start::Finished(done.clone()),
        );
    }
    assert_eq!(get(store, &completed).await, done);

    let failed = format!("{job_id}-failed");
    started(
        store
            .start(&message(&failed, 2), &lease("m-3", T0))
            .await
            .unwrap(),
    );
    let failure = JobFailure {
        error_type: "jobs.UnsupportedFormat".to_owned(),
        message: "export format `xlsx` is not supported".to_owned(),
    };
    store.fail(&failed, "m-3", &failure, T0 + 1).await.unwrap();
    let job = get(store, &failed).await;
    assert_eq!(job.status, Status::Failed);
    assert_eq!(job.error, Some(failure));
    assert_eq!(
        (job.lease_owner.as_deref(), job.finished_at),
        (None, Some(T0 + 1))
    );
    assert_eq!(
        store
            .start(&message(&failed, 2), &lease("m-3", T0 + 2))
            .await
            .unwrap(),
        Start::Finished(job),
    );
}

/// A copy of the job held by another delivery is refused every write while the lease lasts;
/// after it ends, the copy takes the job over and the first delivery's writes are refused.
pub(crate) async fn writes_of_a_delivery_that_does_not_hold_the_job_are_refused(
    store: &impl JobStore,
    job_id: &str,
) {
    store
        .create(&Job::pending(&message(job_id, 4), T0))
        .await
        .unwrap();
    let first = started(
        store
            .start(&message(job_id, 4), &lease("m-1", T0))
            .await
            .unwrap(),
    );

    // While m-1's lease lasts (until T0 + 60 s), m-2 finds the job held.
    assert_eq!(
        store
            .start(&message(job_id, 4), &lease("m-2", T0 + 59_000))
            .await
            .unwrap(),
        Start::Held(first.clone()),
    );
    assert_conflict(
        store.progress(job_id, "m-2", 1, 25, T0).await,
        "progress by m-2",
    );
    assert_conflict(
        store.complete(job_id, "m-2", "x", T0).await,
        "complete by m-2",
    );
    let failure = JobFailure {
        error_type: "jobs.Test".to_owned(),
        message: "no".to_owned(),
    };
    assert_conflict(store.fail(job_id, "m-2", &failure, T0).await, "fail by m-2");
    assert_eq!(
        get(store, job_id).await,
        first,
        "refused writes change nothing"
    );

    // Once the lease has ended, m-2 takes the job over.
    let second = started(
        store
            .start(&message(job_id, 4), &lease("m-2", T0 + 60_001))
            .await
            .unwrap(),
    );
    assert_eq!(second.lease_owner.as_deref(), Some("m-2"));
    assert_eq!(second.attempts, 2);
    assert_eq!(second.started_at, Some(T0), "the first start is kept");
    assert_conflict(
        store.progress(job_id, "m-1", 1, 25, T0).await,
        "progress by m-1",
    );
    assert_conflict(
        store.complete(job_id, "m-1", "x", T0).await,
        "complete by m-1",
    );

    store
        .fail(job_id, "m-2", &failure, T0 + 60_002)
        .await
        .unwrap();
    // A finished job refuses every write of a delivery, even the one that held it.
    assert_conflict(
        store.complete(job_id, "m-2", "x", T0).await,
        "complete after fail",
    );
    assert_conflict(
        store.progress(job_id, "m-2", 1, 25, T0).await,
        "progress after fail",
    );
    assert_eq!(get(store, job_id).await.status, Status::Failed);
}

/// The same message, delivered again after its record failed, takes its job back at once and
/// keeps the steps done.
pub(crate) async fn the_same_message_takes_its_job_back_and_resumes(
    store: &impl JobStore,
    job_id: &str,
) {
    started(
        store
            .start(&message(job_id, 4), &lease("m-1", T0))
            .await
            .unwrap(),
    );
    store.progress(job_id, "m-1", 2, 50, T0 + 1).await.unwrap();
    let again = started(
        store
            .start(&message(job_id, 4), &lease("m-1", T0 + 2))
            .await
            .unwrap(),
    );
    assert_eq!(
        (again.steps_done, again.progress, again.attempts),
        (2, 50, 2)
    );
    assert_eq!(again.lease_until, Some(T0 + 60_002));
}

/// A message whose job has no record (the API's write was lost, or local runs) starts it.
pub(crate) async fn a_job_without_a_record_starts_from_its_message(
    store: &impl JobStore,
    job_id: &str,
) {
    assert_eq!(store.get(job_id).await.unwrap(), None);
    let job = started(
        store
            .start(&message(job_id, 5), &lease("m-1", T0))
            .await
            .unwrap(),
    );
    let expected = Job {
        status: Status::Processing,
        attempts: 1,
        lease_owner: Some("m-1".to_owned()),
        lease_until: Some(T0 + 60_000),
        started_at: Some(T0),
        ..Job::pending(&message(job_id, 5), T0)
    };
    assert_eq!(job, expected);
    assert_eq!(get(store, job_id).await, expected);
}
