#[helve::handler(idempotency(key = "header:Idempotency-Key"))]
async fn create(order: serde_json::Value) -> Result<serde_json::Value, helve::Error> {
    Ok(order)
}
