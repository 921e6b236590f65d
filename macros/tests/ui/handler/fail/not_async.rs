#[helve::handler]
fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
