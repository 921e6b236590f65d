#![deny(warnings)]

#[derive(serde::Deserialize, serde::Serialize)]
struct Order {
    order_id: String,
    amount: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Created {
    id: String,
}

mod by_key {
    use super::{Created, Order};

    #[helve::handler(idempotency(key = "/order_id"))]
    async fn create(order: Order) -> Result<Created, helve::Error> {
        Ok(Created { id: order.order_id })
    }
}

mod every_option {
    use super::{Created, Order};

    #[helve::handler(
        service = "orders",
        idempotency(
            key = "/order_id",
            expires = 600,
            payload_validation = "/amount",
            key_required,
            key_prefix = "orders.create",
            wait_in_progress = 5,
            local_cache = 256,
        )
    )]
    async fn create(order: Order, ctx: &helve::Context) -> Result<Created, helve::Error> {
        let _ = (order.amount, ctx.request_id());
        Ok(Created { id: order.order_id })
    }
}

mod batch_records {
    use helve::batch::SqsMessage;

    #[helve::handler(batch(concurrency = 4, idempotency))]
    async fn work(message: SqsMessage<super::Order>) -> Result<(), helve::Error> {
        let _ = message;
        Ok(())
    }
}

mod batch_records_in_a_store {
    use helve::batch::SqsMessage;
    use helve::idempotency::MemoryStore;

    fn store() -> MemoryStore {
        MemoryStore::new()
    }

    #[helve::handler(batch(idempotency(key = "/order_id", store = store)))]
    async fn work(message: SqsMessage<super::Order>) -> Result<(), helve::Error> {
        let _ = message;
        Ok(())
    }
}

mod http_by_header {
    use std::sync::Arc;

    use helve::http::{Created, Json, Valid};
    use helve::idempotency::{MemoryStore, Store};

    #[derive(serde::Deserialize, validator::Validate)]
    struct NewOrder {
        #[validate(length(min = 1))]
        id: String,
    }

    fn store() -> Arc<dyn Store> {
        Arc::new(MemoryStore::new())
    }

    #[helve::handler(idempotency(key = "header:Idempotency-Key", expires = 86400, store = store))]
    async fn create(Valid(new): Valid<NewOrder>) -> Created<Json<String>> {
        Created {
            location: format!("/orders/{}", new.id),
            body: Json(new.id),
        }
    }
}

mod http_by_body_field {
    use helve::http::Json;

    #[helve::handler(idempotency(key = "/id", payload_validation = "/amount"))]
    async fn create(Json(order): Json<serde_json::Value>) -> Json<serde_json::Value> {
        Json(order)
    }
}

fn main() {
    let _: fn() -> std::process::ExitCode = batch_records_in_a_store::main;
    let _: fn() -> std::process::ExitCode = http_by_header::main;
    let _: fn() -> std::process::ExitCode = http_by_body_field::main;
    let _: fn() -> std::process::ExitCode = by_key::main;
    let _: fn() -> std::process::ExitCode = every_option::main;
    let _: fn() -> std::process::ExitCode = batch_records::main;
}
