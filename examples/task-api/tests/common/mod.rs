//! What every task store must do the same way, run against the in-memory store
//! (`tests/memory_store.rs`) and DynamoDB (`tests/dynamodb_store.rs`): the transitions of a
//! task, each one conditional write. Each scenario uses task ids of its own, so that they can
//! share one table.

// Each test binary uses what it needs.
#![allow(dead_code)]

use example_task_api::{
    Lease, NewTask, Start, Status, StoreError, Task, TaskEvent, TaskFailure, TaskStore, new_task_id,
};
use serde_json::{Map, Value, json};

/// A fixed time, in epoch ms: the scenarios do not read the clock.
pub(crate) const T0: u64 = 1_795_449_600_000;

/// How long a lease lasts in the scenarios: a function's 60 s timeout.
pub(crate) const LEASE: u64 = 60_000;

/// The input of the scenarios' tasks.
pub(crate) fn input() -> Map<String, Value> {
    match json!({"title": "November sales", "values": [120.5, 98, 143.25]}) {
        Value::Object(input) => input,
        _ => Map::new(),
    }
}

/// The `pending` task the API writes, with a new id.
pub(crate) fn pending() -> Task {
    let new = NewTask {
        kind: "report".to_owned(),
        input: input(),
    };
    Task::pending(new_task_id(), new, T0)
}

/// The lease of the invocation `owner`, taken at `now`.
pub(crate) fn lease(owner: &str, now: u64) -> Lease {
    Lease {
        owner: owner.to_owned(),
        until: now + LEASE,
        now,
    }
}

/// Every scenario, in turn.
pub(crate) async fn all(store: &impl TaskStore) {
    a_task_created_is_read_back_as_it_was(store).await;
    an_id_is_never_taken_twice(store).await;
    a_pending_task_is_taken_once_and_a_copy_of_its_event_is_held_off(store).await;
    a_task_without_a_record_is_recorded_from_its_event(store).await;
    a_completed_task_is_never_started_again(store).await;
    a_failed_task_keeps_why_and_is_never_started_again(store).await;
    an_abandoned_task_is_taken_over_and_its_first_holder_cannot_write(store).await;
    the_api_fails_a_task_only_while_it_is_pending(store).await;
}

/// Takes the task, asserting it was started, and that what `start` answered is the record.
pub(crate) async fn started(store: &impl TaskStore, event: &TaskEvent, lease: &Lease) -> Task {
    match store.start(event, lease).await {
        Ok(Start::Started { task, .. }) => {
            assert_eq!(
                store.get(&event.id).await.expect("the store answers"),
                Some(task.clone()),
                "`start` answers the record as written"
            );
            task
        }
        other => panic!("expected Started, got {other:?}"),
    }
}

/// What `create` wrote, `get` reads back, every field as it was.
pub(crate) async fn a_task_created_is_read_back_as_it_was(store: &impl TaskStore) {
    let task = pending();
    store.create(&task).await.expect("the task is created");
    assert_eq!(
        store.get(&task.id).await.expect("the store answers"),
        Some(task)
    );
    assert_eq!(
        store.get(&new_task_id()).await.expect("the store answers"),
        None,
        "an id no task has is None, not an error"
    );
}

/// A second `create` with the same id fails with `AlreadyExists` and writes nothing.
pub(crate) async fn an_id_is_never_taken_twice(store: &impl TaskStore) {
    let first = pending();
    store
        .create(&first)
        .await
        .expect("the first task is created");
    let mut second = first.clone();
    second.kind = "resize".to_owned();
    match store.create(&second).await {
        Err(StoreError::AlreadyExists(taken)) => assert_eq!(taken, first.id),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.get(&first.id).await.unwrap(), Some(first));
}

/// `pending` -> `processing` under the first invocation's lease; a copy of the event, in
/// another invocation, finds it held; the first invocation, retried by Lambda with the same
/// request id, takes it back.
pub(crate) async fn a_pending_task_is_taken_once_and_a_copy_of_its_event_is_held_off(
    store: &impl TaskStore,
) {
    let task = pending();
    store.create(&task).await.unwrap();
    let event = TaskEvent::of(&task);
    match store.start(&event, &lease("r-1", T0 + 10)).await.unwrap() {
        Start::Started {
            task: taken,
            recorded,
        } => {
            assert!(!recorded, "the API wrote the record");
            assert_eq!(taken.status, Status::Processing);
            assert_eq!(taken.attempts, 1);
            assert_eq!(taken.updated_at, T0 + 10);
            assert_eq!(taken.created_at, T0, "kept");
            assert_eq!(taken.lease_owner.as_deref(), Some("r-1"));
            assert_eq!(taken.lease_until, Some(T0 + 10 + LEASE));
        }
        other => panic!("expected Started, got {other:?}"),
    }
    match store.start(&event, &lease("r-2", T0 + 20)).await.unwrap() {
        Start::Held(held) => assert_eq!(held.lease_owner.as_deref(), Some("r-1")),
        other => panic!("expected Held, got {other:?}"),
    }
    let retried = started(store, &event, &lease("r-1", T0 + 30)).await;
    assert_eq!((retried.attempts, retried.updated_at), (2, T0 + 30));
}

/// An event whose task has no record: recorded from the event, and taken.
pub(crate) async fn a_task_without_a_record_is_recorded_from_its_event(store: &impl TaskStore) {
    let event = TaskEvent {
        id: new_task_id(),
        kind: "resize".to_owned(),
        input: input(),
    };
    match store.start(&event, &lease("r-1", T0)).await.unwrap() {
        Start::Started { task, recorded } => {
            assert!(recorded, "there was no record");
            assert_eq!((task.kind.as_str(), &task.input), ("resize", &event.input));
            assert_eq!((task.status, task.attempts), (Status::Processing, 1));
            assert_eq!((task.created_at, task.updated_at), (T0, T0));
            assert_eq!(store.get(&event.id).await.unwrap(), Some(task));
        }
        other => panic!("expected Started, got {other:?}"),
    }
}

/// Once completed, with its result and the lease ended, a task's event (retried or copied) is
/// finished, and the invocation that completed it cannot write again.
pub(crate) async fn a_completed_task_is_never_started_again(store: &impl TaskStore) {
    let task = pending();
    store.create(&task).await.unwrap();
    let event = TaskEvent::of(&task);
    started(store, &event, &lease("r-1", T0 + 10)).await;
    let result = json!({"count": 3, "sum": 361.75});
    let done = store
        .complete(&task.id, "r-1", &result, T0 + 500)
        .await
        .expect("the holder completes it");
    assert_eq!(done.status, Status::Completed);
    assert_eq!(done.result, Some(result));
    assert_eq!(done.updated_at, T0 + 500);
    assert_eq!(
        (done.lease_owner.as_deref(), done.lease_until),
        (None, None)
    );
    assert_eq!(store.get(&task.id).await.unwrap(), Some(done.clone()));
    for owner in ["r-1", "r-2"] {
        match store.start(&event, &lease(owner, T0 + 600)).await.unwrap() {
            Start::Finished(finished) => assert_eq!(finished, done),
            other => panic!("expected Finished, got {other:?}"),
        }
    }
    assert!(matches!(
        store.complete(&task.id, "r-1", &json!({}), T0 + 700).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.get(&task.id).await.unwrap(), Some(done), "unchanged");
}

/// A failed task keeps why, and its event is finished too.
pub(crate) async fn a_failed_task_keeps_why_and_is_never_started_again(store: &impl TaskStore) {
    let task = pending();
    store.create(&task).await.unwrap();
    let event = TaskEvent::of(&task);
    started(store, &event, &lease("r-1", T0 + 10)).await;
    let failure = TaskFailure::new("tasks.WorkFailed", "the work failed");
    let failed = store
        .fail(&task.id, "r-1", &failure, T0 + 400)
        .await
        .unwrap();
    assert_eq!(
        (failed.status, failed.error.as_ref()),
        (Status::Failed, Some(&failure))
    );
    assert_eq!(failed.result, None);
    assert_eq!(store.get(&task.id).await.unwrap(), Some(failed.clone()));
    assert!(matches!(
        store.start(&event, &lease("r-1", T0 + 500)).await.unwrap(),
        Start::Finished(_)
    ));
}

/// A `processing` task whose invocation passed its deadline (it timed out, or crashed) is
/// taken over by another; the first one's writes are refused from then on.
pub(crate) async fn an_abandoned_task_is_taken_over_and_its_first_holder_cannot_write(
    store: &impl TaskStore,
) {
    let task = pending();
    store.create(&task).await.unwrap();
    let event = TaskEvent::of(&task);
    started(store, &event, &lease("r-1", T0)).await;
    let after_its_deadline = T0 + LEASE + 1;
    let taken = started(store, &event, &lease("r-2", after_its_deadline)).await;
    assert_eq!(
        (taken.attempts, taken.lease_owner.as_deref()),
        (2, Some("r-2"))
    );
    match store
        .complete(&task.id, "r-1", &json!({}), after_its_deadline)
        .await
    {
        Err(StoreError::Conflict { id, owner }) => {
            assert_eq!((id, owner.as_str()), (task.id.clone(), "r-1"))
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    let failure = TaskFailure::new("tasks.WorkFailed", "late");
    assert!(matches!(
        store
            .fail(&task.id, "r-1", &failure, after_its_deadline)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let done = store
        .complete(
            &task.id,
            "r-2",
            &json!({"ok": true}),
            after_its_deadline + 1,
        )
        .await
        .unwrap();
    assert_eq!(done.status, Status::Completed);
}

/// The API marks a task it could not send `failed`, but only while it is `pending`: a task the
/// processor has taken is left to it.
pub(crate) async fn the_api_fails_a_task_only_while_it_is_pending(store: &impl TaskStore) {
    let failure = TaskFailure::new("tasks.NotSent", "not sent");
    let unsent = pending();
    store.create(&unsent).await.unwrap();
    let failed = store
        .fail_pending(&unsent.id, &failure, T0 + 5)
        .await
        .unwrap()
        .expect("a pending task is failed");
    assert_eq!(
        (failed.status, failed.error.as_ref()),
        (Status::Failed, Some(&failure))
    );
    assert_eq!(failed.updated_at, T0 + 5);
    assert_eq!(store.get(&unsent.id).await.unwrap(), Some(failed));
    assert!(
        matches!(
            store
                .start(&TaskEvent::of(&unsent), &lease("r-1", T0 + 10))
                .await
                .unwrap(),
            Start::Finished(_)
        ),
        "an event that arrives after all finds it failed"
    );

    let sent = pending();
    store.create(&sent).await.unwrap();
    let taken = started(store, &TaskEvent::of(&sent), &lease("r-1", T0 + 10)).await;
    assert_eq!(
        store
            .fail_pending(&sent.id, &failure, T0 + 20)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get(&sent.id).await.unwrap(),
        Some(taken),
        "left to the processor"
    );
    assert_eq!(
        store
            .fail_pending(&new_task_id(), &failure, T0)
            .await
            .unwrap(),
        None,
        "no record: nothing to fail"
    );
}
