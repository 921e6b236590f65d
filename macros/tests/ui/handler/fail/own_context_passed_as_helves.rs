/// The user's own `Context`, imported: the attribute cannot resolve the import, and takes a
/// parameter of type `Context` for helve's context.
struct Context;

#[helve::handler]
async fn handle(event: serde_json::Value, tenant: &Context) -> serde_json::Value {
    let _ = tenant;
    event
}
