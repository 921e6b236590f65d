#[helve::handler(timeout = 30)]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
