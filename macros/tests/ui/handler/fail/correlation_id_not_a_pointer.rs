#[helve::handler(correlation_id = "detail.orderId")]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
