/// The user's event type is named `Context`: taken for helve's context, it leaves no event.
#[derive(serde::Deserialize)]
struct Context {
    tenant: String,
}

#[helve::handler]
async fn handle(event: Context) -> String {
    event.tenant
}
