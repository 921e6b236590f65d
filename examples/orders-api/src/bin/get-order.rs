//! `GET /orders/{id}`: answers the order with that id, or 404 `order_not_found`.
//!
//! Orders are kept in memory (starting with the sample order `o-1001`) unless `ORDERS_TABLE`
//! names a DynamoDB table (feature `dynamodb`).
//!
//! Run with
//!
//! ```text
//! cargo run -p example-orders-api --bin get-order -- examples/orders-api/events/get.json
//! ```
//!
//! Deploy with `sam build && sam deploy --guided` from `examples/orders-api` (see the README).

use axum::extract::State;
use example_orders_api::{Order, OrderError, OrderStore, Store, cors, is_order_id, setup};
use helve::http::{Json, Path};

#[helve::handler(service = "orders", namespace = "Shop", init = setup, http(layer = cors()))]
pub(crate) async fn get_order(
    Path(id): Path<String>,
    State(store): State<&'static Store>,
) -> Result<Json<Order>, OrderError> {
    // An id `POST /orders` would refuse names no order: no need to ask the store.
    if !is_order_id(&id) {
        return Err(OrderError::NotFound(id));
    }
    match store.get(&id).await? {
        Some(order) => Ok(Json(order)),
        None => Err(OrderError::NotFound(id)),
    }
}

#[cfg(test)]
mod tests {
    use example_orders_api::MemoryStore;
    use helve::ErrorStatus;
    use helve::http::StatusCode;

    use super::*;

    /// A store for one test, as the init step's lives: for the whole process.
    fn memory() -> &'static Store {
        Box::leak(Box::new(Store::Memory(MemoryStore::new())))
    }

    #[tokio::test]
    async fn the_sample_order_is_found() {
        let Json(order) = get_order(Path("o-1001".to_owned()), State(memory()))
            .await
            .unwrap();
        assert_eq!(order, Order::sample());
    }

    #[tokio::test]
    async fn an_order_that_does_not_exist_is_not_found() {
        for id in ["o-9999", "not-an-order-id", &"o-1".repeat(2000)] {
            let error = get_order(Path(id.to_owned()), State(memory()))
                .await
                .unwrap_err();
            assert_eq!(error.status(), StatusCode::NOT_FOUND);
            assert_eq!(error.code(), Some("order_not_found"));
            assert_eq!(error.to_string(), format!("order {id} not found"));
        }
    }

    #[tokio::test]
    async fn a_store_that_fails_is_a_503() {
        let store = MemoryStore::new();
        store.set_unavailable(true);
        let store = Box::leak(Box::new(Store::Memory(store)));
        let error = get_order(Path("o-1001".to_owned()), State(store))
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
