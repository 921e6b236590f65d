#![deny(warnings)]

//! The attribute reads parameter types by their last name: a type of one's own named
//! `Context` would be taken for helve's context, one named `Json<T>` for helve's HTTP
//! extractor. Behind an alias (or imported under another name) they are an ordinary event,
//! and as the response they are never looked at.

mod model {
    #[derive(serde::Deserialize, serde::Serialize)]
    pub struct Context {
        pub tenant: String,
    }

    #[derive(serde::Deserialize, serde::Serialize)]
    pub struct Json<T>(pub T);
}

mod function {
    use crate::model;

    /// The user's `Json<Context>`, as the event.
    type Payload = model::Json<model::Context>;

    #[helve::handler]
    async fn handle(event: Payload, ctx: &helve::Context) -> model::Json<String> {
        let model::Json(context) = event;
        model::Json(format!("{} {}", context.tenant, ctx.request_id()))
    }
}

// The handler's `main` is only named here, so that running this case needs no Runtime API.
fn main() {
    let _: fn() -> std::process::ExitCode = function::main;
}
