struct App;

#[helve::handler]
async fn handle(event: serde_json::Value, app: &App) -> serde_json::Value {
    let _ = app;
    event
}
