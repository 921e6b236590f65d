#[helve::handler(log_buffer = 0)]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
