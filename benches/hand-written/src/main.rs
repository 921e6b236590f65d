//! `examples/hello` written by hand on `lambda_runtime`, as a careful team would without helve:
//! tokio's current-thread runtime, a tracing-subscriber JSON line per greeting carrying the
//! request id and the keys helve's lines carry, and one EMF document per invocation for the `Greetings` counter, written to
//! stdout in one `write`. The baseline `benches/end_to_end.rs` measures helve against.

use std::{
    io::Write,
    sync::atomic::{AtomicBool, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Whether the next invocation is the first of this execution environment.
static COLD: AtomicBool = AtomicBool::new(true);

/// The event: `{"name": "Ada"}`.
#[derive(Debug, Deserialize)]
struct Greeting {
    name: String,
}

/// The response: `{"message": "Hello, Ada!"}`.
#[derive(Debug, Serialize)]
struct Reply {
    message: String,
}

async fn greet(event: LambdaEvent<Greeting>) -> Result<Reply, Error> {
    let name = event.payload.name.trim();
    if name.is_empty() {
        return Err("the name must not be empty".into());
    }
    let context = &event.context;
    tracing::info!(
        service = "hello",
        cold_start = COLD.swap(false, Ordering::Relaxed),
        function_name = %context.env_config.function_name,
        function_arn = %context.invoked_function_arn,
        function_request_id = %context.request_id,
        xray_trace_id = context.xray_trace_id.as_deref(),
        function_version = %context.env_config.version,
        "greeting {name}"
    );
    write_greetings_metric();
    Ok(Reply {
        message: format!("Hello, {name}!"),
    })
}

/// One EMF document: the `Greetings` counter in the `Hello` namespace, `service` dimension.
fn write_greetings_metric() {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let document = json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": "Hello",
                "Dimensions": [["service"]],
                "Metrics": [{"Name": "Greetings", "Unit": "Count"}]
            }]
        },
        "service": "hello",
        "Greetings": 1.0
    });
    let mut line = document.to_string().into_bytes();
    line.push(b'\n');
    // A metric that cannot be written is not worth failing the invocation for.
    let _ = std::io::stdout().lock().write_all(&line);
}

fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .init();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(lambda_runtime::run(service_fn(greet)))
}
