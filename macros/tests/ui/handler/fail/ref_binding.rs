#[helve::handler]
async fn handle(ref event: serde_json::Value) -> serde_json::Value {
    event.clone()
}
