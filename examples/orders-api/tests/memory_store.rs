//! The order store's contract, against the in-memory store the functions use locally.

mod common;

use example_orders_api::{MemoryStore, Order, OrderStore, StoreError};

#[tokio::test]
async fn the_in_memory_store_keeps_its_contract() {
    common::all(&MemoryStore::with_orders([]), "memory").await;
}

#[tokio::test]
async fn the_in_memory_store_starts_with_the_sample_order() {
    let store = MemoryStore::new();
    assert_eq!(store.get("o-1001").await.unwrap(), Some(Order::sample()));
}

#[tokio::test]
async fn an_unavailable_in_memory_store_fails_every_call_and_recovers() {
    let store = MemoryStore::new();
    store.set_unavailable(true);
    match store.get("o-1001").await {
        Err(StoreError::Unavailable(source)) => assert_eq!(
            source.to_string(),
            "the in-memory store is made unavailable (ORDERS_STORE_UNAVAILABLE)"
        ),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(matches!(
        store
            .create(&common::order("o-2", "grace@example.com"))
            .await,
        Err(StoreError::Unavailable(_))
    ));
    store.set_unavailable(false);
    assert_eq!(store.get("o-2").await.unwrap(), None, "nothing was written");
}
