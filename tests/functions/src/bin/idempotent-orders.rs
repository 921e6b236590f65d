//! A test function that creates orders idempotently: `#[helve::handler(idempotency(..))]` on
//! the order id, with the amount validated, in memory.
//!
//! Event: `{"order_id": "o-1", "amount": 5}`; `order_id` may be missing (the order is then
//! created without idempotency), `"fail": true` makes the handler fail with
//! `orders.Declined`, and `"sleep_ms": 200` makes it take that long. It answers `{"order_id": .., "run": n}`, where `n` counts the handler's
//! runs in this process, so a test tells a replay (the same `n`) from a new run.

use std::sync::atomic::{AtomicU64, Ordering};

use helve::prelude::*;

/// How many times the handler ran in this process.
static RUNS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Deserialize)]
struct Order {
    #[serde(default)]
    order_id: Option<String>,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    sleep_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Created {
    order_id: Option<String>,
    run: u64,
}

#[helve::handler(
    service = "orders",
    idempotency(key = "/order_id", payload_validation = "/amount", expires = 60)
)]
async fn create(order: Order) -> Result<Created, helve::Error> {
    let run = RUNS.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(std::time::Duration::from_millis(order.sleep_ms)).await;
    if order.fail {
        return Err(helve::Error::new(
            "orders.Declined",
            "the card was declined",
        ));
    }
    tracing::info!(run, "order created");
    Ok(Created {
        order_id: order.order_id,
        run,
    })
}
