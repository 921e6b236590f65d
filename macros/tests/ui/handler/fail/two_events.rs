#[helve::handler]
async fn handle(event: serde_json::Value, other: serde_json::Value) -> serde_json::Value {
    let _ = other;
    event
}
