#[helve::handler(service = "orders", service = "payments")]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
