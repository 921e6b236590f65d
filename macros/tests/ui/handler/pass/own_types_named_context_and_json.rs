#![deny(warnings)]

//! A type of one's own named `Context` or `Json<T>`, named by a path that is not helve's
//! (`model::Context`, `crate::model::Json<T>`, `self::Context`), is an ordinary event; so is one
//! behind an alias. helve's own are `Context` alone or under `helve::`. As the response,
//! types are never looked at.

mod model {
    #[derive(serde::Deserialize, serde::Serialize)]
    pub struct Context {
        pub tenant: String,
    }

    #[derive(serde::Deserialize, serde::Serialize)]
    pub struct Json<T>(pub T);
}

/// The user's `Json<Context>` as the event, named by its path; helve's `Context` imported.
mod by_path {
    use crate::model;
    use helve::Context;

    #[helve::handler]
    async fn handle(event: model::Json<model::Context>, ctx: &Context) -> model::Json<String> {
        let model::Json(context) = event;
        model::Json(format!("{} {}", context.tenant, ctx.request_id()))
    }
}

/// The user's `Context` imported, named through `self::`; helve's by value, by its path.
mod through_self {
    use crate::model::Context;

    #[helve::handler]
    async fn handle(event: self::Context, ctx: ::helve::Context) -> String {
        format!("{} {}", event.tenant, ctx.request_id())
    }
}

/// The user's `Json<T>` from the crate root; helve's `Context` through its prelude.
mod from_crate {
    #[helve::handler]
    async fn handle(
        ctx: &helve::prelude::Context,
        event: crate::model::Json<serde_json::Value>,
    ) -> Result<String, helve::Error> {
        Ok(format!("{} {}", event.0, ctx.request_id()))
    }
}

/// Behind an alias.
mod alias {
    use crate::model;

    type Payload = model::Json<model::Context>;

    #[helve::handler]
    async fn handle(event: Payload, ctx: &helve::Context) -> model::Json<String> {
        let model::Json(context) = event;
        model::Json(format!("{} {}", context.tenant, ctx.request_id()))
    }
}

// Each handler's `main` is only named here, so that running this case needs no Runtime API.
fn main() {
    let _: fn() -> std::process::ExitCode = by_path::main;
    let _: fn() -> std::process::ExitCode = through_self::main;
    let _: fn() -> std::process::ExitCode = from_crate::main;
    let _: fn() -> std::process::ExitCode = alias::main;
}
