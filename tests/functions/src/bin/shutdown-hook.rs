//! A test function with a shutdown hook, written with `#[helve::handler(shutdown = ...)]` as a
//! user would.
//!
//! The hook logs `closing the pool`, counts `PoolsClosed` (a metric recorded outside any
//! invocation), then does what `SHUTDOWN_HOOK` says: nothing (the default), `hang` (sleeps
//! far past Lambda's shutdown budget) or `panic`.

use serde_json::Value;

async fn close_pool() {
    tracing::info!("closing the pool");
    metrics::counter!("PoolsClosed").increment(1);
    match std::env::var("SHUTDOWN_HOOK").as_deref() {
        Ok("hang") => tokio::time::sleep(std::time::Duration::from_secs(30)).await,
        Ok("panic") => panic!("the pool was already closed"),
        _ => {}
    }
}

#[helve::handler(shutdown = close_pool, service = "orders", namespace = "Shop")]
async fn handle(event: Value) -> Value {
    event
}
