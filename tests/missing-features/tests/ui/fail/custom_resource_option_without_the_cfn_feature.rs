#[helve::handler(custom_resource(deadline_margin_ms = 5000))]
async fn migrate(request: serde_json::Value) {
    let _ = request;
}
