use helve::Context;

#[helve::handler]
async fn handle(event: serde_json::Value, ctx: &mut Context) -> serde_json::Value {
    let _ = ctx;
    event
}
