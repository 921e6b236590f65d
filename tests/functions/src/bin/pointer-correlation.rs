//! A test function whose correlation id is read from the event with a JSON pointer
//! (`correlation_id = "/detail/orderId"`), written with `#[helve::handler]` as a user would.
//!
//! Event: any JSON. The handler logs `order received` and answers
//! `{"correlation_id": ..., "request_id": ...}` from its context. With `PANIC_AT_INIT=1` its init
//! function `setup` panics with the message `asked to panic at init`.

use helve::prelude::*;
use serde_json::{Value, json};

/// What `setup` builds.
#[derive(Debug)]
struct Ready;

/// Panics when `PANIC_AT_INIT=1`, to show what Lambda receives then.
async fn setup() -> Result<Ready, helve::Error> {
    if std::env::var("PANIC_AT_INIT").is_ok_and(|value| value == "1") {
        panic!("asked to panic at init");
    }
    Ok(Ready)
}

#[helve::handler(
    init = setup,
    service = "orders",
    correlation_id = "/detail/orderId"
)]
async fn handle(_event: Value, ctx: &Context, _ready: &Ready) -> Value {
    tracing::info!("order received");
    json!({
        "correlation_id": ctx.correlation_id(),
        "request_id": ctx.request_id(),
    })
}
