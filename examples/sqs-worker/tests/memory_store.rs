//! The job store's transitions, against the in-memory store the worker uses locally.

mod common;

use example_sqs_worker::MemoryStore;

#[tokio::test]
async fn the_in_memory_store_makes_every_transition() {
    common::all(&MemoryStore::new(), "memory").await;
}
