#[helve::handler(runtime = "parallel")]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
