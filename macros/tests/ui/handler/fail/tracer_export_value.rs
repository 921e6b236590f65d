#[helve::handler(tracer(export = "zipkin"))]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
