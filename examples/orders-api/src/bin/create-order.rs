//! `POST /orders`: creates an order from a JSON body and answers `201 Created` with the order
//! and its address in `Location`.
//!
//! helve answers for the handler when the body is not one it can take: 415 for a body that is
//! not JSON by its `Content-Type`, 400 for a body that is not JSON or not an order (naming the
//! field), 422 listing every field that fails validation. The handler answers 409
//! `order_exists` for an id that is taken, and 503 `store_unavailable` when the store fails.
//!
//! A client that sends an `Idempotency-Key` header may retry safely (after a timeout, say):
//! a retry with the same key gets the first answer again, marked `x-idempotent-replay: true`,
//! and the order is not created twice; a retry while the first is still running gets 409
//! `idempotency_in_progress`. Only successful answers are kept, for a day. The records are
//! kept in memory unless `IDEMPOTENCY_TABLE` names a DynamoDB table (feature `dynamodb`).
//!
//! Orders are kept in memory (starting with the sample order `o-1001`) unless `ORDERS_TABLE`
//! names a DynamoDB table (feature `dynamodb`).
//!
//! Run with
//!
//! ```text
//! cargo run -p example-orders-api --bin create-order -- examples/orders-api/events/create.json
//! ```
//!
//! Deploy with `sam build && sam deploy --guided` from `examples/orders-api` (see the README).

use axum::extract::State;
use example_orders_api::{
    NewOrder, Order, OrderError, OrderStore, Store, cors, created, idempotency_store, now_ms, setup,
};
use helve::http::{Created, Json, Valid};

#[helve::handler(
    service = "orders",
    namespace = "Shop",
    init = setup,
    http(layer = cors(), body_limit = 65536),
    idempotency(key = "header:Idempotency-Key", expires = 86400, store = idempotency_store)
)]
pub(crate) async fn create_order(
    State(store): State<&'static Store>,
    Valid(new): Valid<NewOrder>,
) -> Result<Created<Json<Order>>, OrderError> {
    let order = Order::new(new, now_ms());
    // Indexed in X-Ray: find the trace of an order with `annotation.order_id = "o-1001"`.
    helve::tracer::annotate("order_id", order.id.as_str());
    store.create(&order).await?;
    metrics::counter!("OrdersCreated").increment(1);
    tracing::info!(
        order_id = %order.id,
        lines = order.items.len(),
        "order {} created",
        order.id
    );
    Ok(created(order))
}

#[cfg(test)]
mod tests {
    use example_orders_api::{LineItem, MemoryStore};
    use helve::ErrorStatus;
    use helve::http::StatusCode;

    use super::*;

    fn new_order(id: &str) -> NewOrder {
        NewOrder {
            id: id.to_owned(),
            customer_email: "grace@example.com".to_owned(),
            items: vec![LineItem {
                sku: "BOOK-42".to_owned(),
                quantity: 2,
            }],
        }
    }

    /// A store for one test, as the init step's lives: for the whole process.
    fn memory() -> &'static Store {
        Box::leak(Box::new(Store::Memory(MemoryStore::new())))
    }

    #[tokio::test]
    async fn an_order_is_created_and_its_address_answered() {
        let store = memory();
        let Created {
            location,
            body: order,
        } = create_order(State(store), Valid(new_order("o-1002")))
            .await
            .unwrap();
        assert_eq!(location, "/orders/o-1002");
        assert_eq!(order.0.id, "o-1002");
        assert_eq!(order.0.items, new_order("o-1002").items);
        assert_eq!(store.get("o-1002").await.unwrap(), Some(order.0));
    }

    #[tokio::test]
    async fn an_id_that_is_taken_is_a_conflict_and_changes_nothing() {
        let store = memory();
        let error = create_order(State(store), Valid(new_order("o-1001")))
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::CONFLICT);
        assert_eq!(error.code(), Some("order_exists"));
        assert_eq!(error.to_string(), "order o-1001 already exists");
        assert_eq!(
            store.get("o-1001").await.unwrap(),
            Some(Order::sample()),
            "the sample order is kept as it was"
        );
    }

    #[tokio::test]
    async fn a_store_that_fails_is_a_503_whose_message_is_not_shown() {
        let store = MemoryStore::new();
        store.set_unavailable(true);
        let store = Box::leak(Box::new(Store::Memory(store)));
        let error = create_order(State(store), Valid(new_order("o-1003")))
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code(), Some("store_unavailable"));
        assert!(!error.expose());
    }
}
