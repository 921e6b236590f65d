#![deny(warnings)]

mod function {
    async fn warm_up() -> Result<u32, helve::Error> {
        Ok(7)
    }

    // The init function runs, but this handler does not need what it built.
    #[helve::handler(init = warm_up)]
    async fn handle(event: serde_json::Value) -> Result<serde_json::Value, helve::Error> {
        Ok(event)
    }
}

fn main() {
    let _: fn() -> std::process::ExitCode = function::main;
}
