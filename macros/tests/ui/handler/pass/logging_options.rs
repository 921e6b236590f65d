#![deny(warnings)]

mod function {
    #[helve::handler(
        service = "orders",
        log_level = "info,hyper=warn",
        log_buffer = 20480,
        correlation_id = "/detail/orderId",
        namespace = "Shop"
    )]
    async fn handle(event: serde_json::Value) -> serde_json::Value {
        event
    }
}

fn main() {
    let _: fn() -> std::process::ExitCode = function::main;
}
