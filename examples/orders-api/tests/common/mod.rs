//! What every order store must do the same way, run against the in-memory store
//! (`tests/memory_store.rs`) and DynamoDB (`tests/dynamodb_store.rs`). Each scenario uses order
//! ids of its own, so that they can share one table.

// Each test binary uses what it needs.
#![allow(dead_code)]

use example_orders_api::{LineItem, Order, OrderStore, StoreError};

/// A fixed creation time, in epoch ms: the scenarios do not read the clock.
pub(crate) const T0: u64 = 1_795_449_600_000;

/// An order of two lines.
pub(crate) fn order(id: &str, email: &str) -> Order {
    Order {
        id: id.to_owned(),
        customer_email: email.to_owned(),
        items: vec![
            LineItem {
                sku: "BOOK-42".to_owned(),
                quantity: 2,
            },
            LineItem {
                sku: "PEN-7".to_owned(),
                quantity: 100,
            },
        ],
        created_at: T0,
    }
}

/// Every scenario, in turn; `prefix` keeps their ids apart from other tests'.
pub(crate) async fn all(store: &impl OrderStore, prefix: &str) {
    an_order_created_is_read_back_as_it_was(store, &format!("o-{prefix}-1")).await;
    an_id_is_never_taken_twice(store, &format!("o-{prefix}-2")).await;
    an_order_that_was_never_created_is_none(store, &format!("o-{prefix}-3")).await;
}

/// What `create` wrote, `get` reads back, every field as it was.
pub(crate) async fn an_order_created_is_read_back_as_it_was(store: &impl OrderStore, id: &str) {
    let order = order(id, "grace@example.com");
    store.create(&order).await.expect("the order is created");
    assert_eq!(store.get(id).await.expect("the store answers"), Some(order));
}

/// A second `create` with the same id fails with `AlreadyExists` and writes nothing.
pub(crate) async fn an_id_is_never_taken_twice(store: &impl OrderStore, id: &str) {
    let first = order(id, "grace@example.com");
    store
        .create(&first)
        .await
        .expect("the first order is created");
    let mut second = order(id, "mallory@example.com");
    second.created_at = T0 + 1;
    match store.create(&second).await {
        Err(StoreError::AlreadyExists(taken)) => assert_eq!(taken, id),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        store.get(id).await.expect("the store answers"),
        Some(first),
        "the first order is kept as it was"
    );
}

/// An id no order has is `None`, not an error.
pub(crate) async fn an_order_that_was_never_created_is_none(store: &impl OrderStore, id: &str) {
    assert_eq!(store.get(id).await.expect("the store answers"), None);
}
