use helve::Context;

#[helve::handler]
async fn handle(event: serde_json::Value, ctx: &Context, again: &Context) -> serde_json::Value {
    let _ = (ctx, again);
    event
}
