#[helve::handler(idempotency(key = "order_id"))]
async fn create(order: serde_json::Value) -> serde_json::Value {
    order
}

