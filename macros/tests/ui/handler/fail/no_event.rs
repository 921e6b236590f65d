#[helve::handler]
async fn handle() -> serde_json::Value {
    serde_json::Value::Null
}
