fn setup() -> u32 {
    7
}

#[helve::handler(init = setup)]
async fn handle(event: serde_json::Value) -> serde_json::Value {
    event
}
