#[helve::handler(tracer(sample_rate = 0.5))]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
