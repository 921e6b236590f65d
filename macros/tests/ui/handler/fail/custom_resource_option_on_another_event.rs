#[helve::handler(custom_resource(deadline_margin_ms = 5000))]
async fn handle(event: serde_json::Value) -> Result<(), helve::Error> {
    let _ = event;
    Ok(())
}
