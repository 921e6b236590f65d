#[helve::handler(log_level = "info,hyper=verbose")]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
