struct App;

fn setup() -> App {
    App
}

#[helve::handler(init = setup)]
async fn handle(event: serde_json::Value, app: &App) -> serde_json::Value {
    let _ = app;
    event
}
