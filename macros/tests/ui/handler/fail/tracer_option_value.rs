#[helve::handler(tracer(capture_response = "no"))]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
