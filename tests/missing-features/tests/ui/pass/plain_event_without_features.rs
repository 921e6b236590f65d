#![deny(warnings)]

mod function {
    use helve::prelude::*;

    #[derive(Deserialize)]
    pub struct Greeting {
        pub name: String,
    }

    #[helve::handler(service = "greeter", log_buffer)]
    async fn greet(event: Greeting, ctx: &Context) -> Result<String, helve::Error> {
        Ok(format!("{} {}", event.name, ctx.request_id()))
    }
}

// The handler's `main` is only named here, so that running this case needs no Runtime API.
fn main() {
    let _: fn() -> std::process::ExitCode = function::main;
}
