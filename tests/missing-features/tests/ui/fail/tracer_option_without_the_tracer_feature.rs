#[helve::handler(tracer(capture_response = false))]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
