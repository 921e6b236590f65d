//! The task store's contract, against the in-memory store the functions use locally.

mod common;

use example_task_api::{MemoryStore, StoreError, Task, TaskStore};

#[tokio::test]
async fn the_in_memory_store_keeps_its_contract() {
    common::all(&MemoryStore::with_tasks([])).await;
}

#[tokio::test]
async fn the_in_memory_store_starts_with_the_sample_task() {
    let sample = Task::sample();
    let store = MemoryStore::new();
    assert_eq!(store.get(&sample.id).await.unwrap(), Some(sample));
}

#[tokio::test]
async fn an_unavailable_in_memory_store_fails_every_call_and_recovers() {
    let store = MemoryStore::with_tasks([]);
    store.set_unavailable(true);
    let task = common::pending();
    match store.create(&task).await {
        Err(StoreError::Unavailable(source)) => assert_eq!(
            source.to_string(),
            "the in-memory store is made unavailable (TASKS_STORE_UNAVAILABLE)"
        ),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    store.set_unavailable(false);
    assert_eq!(
        store.get(&task.id).await.unwrap(),
        None,
        "nothing was written"
    );
}
