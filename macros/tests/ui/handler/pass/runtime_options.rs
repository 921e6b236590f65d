#![deny(warnings)]

mod parallel {
    #[helve::handler(runtime = "multi_thread")]
    async fn handle(event: serde_json::Value) -> serde_json::Value {
        event
    }
}

mod one_at_a_time {
    #[helve::handler(runtime = "current_thread")]
    async fn handle(event: serde_json::Value) -> serde_json::Value {
        event
    }
}

fn main() {
    let _: fn() -> std::process::ExitCode = parallel::main;
    let _: fn() -> std::process::ExitCode = one_at_a_time::main;
}
