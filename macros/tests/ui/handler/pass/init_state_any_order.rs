#![deny(warnings)]

mod function {
    use helve::Context;

    pub struct App {
        pub prefix: String,
    }

    async fn setup() -> Result<App, helve::Error> {
        Ok(App { prefix: std::env::var("PREFIX").unwrap_or_default() })
    }

    // State first, context by value, event last: any order works.
    #[helve::handler(init = setup, service = "orders")]
    async fn handle(app: &App, ctx: Context, event: String) -> Result<String, helve::Error> {
        Ok(format!("{}{event}{}", app.prefix, ctx.request_id()))
    }
}

fn main() {
    let _: fn() -> std::process::ExitCode = function::main;
}
