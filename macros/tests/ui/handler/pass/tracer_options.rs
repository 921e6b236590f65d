#![deny(warnings)]

// The tracer's options: the response kept out of traces, the error kept in, OTLP spans.
mod orders {
    #[helve::handler(
        service = "orders",
        tracer(capture_response = false, capture_error = true, export = "otlp")
    )]
    async fn handle(event: serde_json::Value) -> Result<serde_json::Value, helve::Error> {
        helve::tracer::annotate("order_id", "o-1");
        Ok(event)
    }
}

// `tracer` alone keeps the defaults; `disabled` turns it off in code.
mod defaults {
    #[helve::handler(tracer)]
    async fn handle(event: serde_json::Value) -> serde_json::Value {
        event
    }
}

mod off {
    #[helve::handler(tracer(disabled))]
    async fn handle(event: serde_json::Value) -> serde_json::Value {
        event
    }
}

fn main() {
    let _: fn() -> std::process::ExitCode = orders::main;
    let _: fn() -> std::process::ExitCode = defaults::main;
    let _: fn() -> std::process::ExitCode = off::main;
}
