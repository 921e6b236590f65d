#[helve::handler(idempotency(key = "/order_id"))]
async fn create(event: serde_json::Value) -> Result<serde_json::Value, helve::Error> {
    Ok(event)
}
