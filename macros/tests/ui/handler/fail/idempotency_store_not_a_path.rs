#[helve::handler(idempotency(key = "/order_id", store = "memory"))]
async fn create(order: serde_json::Value) -> Result<serde_json::Value, helve::Error> {
    Ok(order)
}
