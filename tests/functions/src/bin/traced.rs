//! A test function traced in X-Ray: `{"order_id": "o-1"}` checks the order in a span that
//! opens a nested one, and answers `{"order_id": "o-1", "checked": true}`. `"fail": "error"`
//! returns an error, `"fail": "panic"` panics, `"wait_ms": 50` sleeps first (for concurrent
//! invocations), `"big": 100000` answers a string of that many bytes, `"bad_annotations": true`
//! makes annotations X-Ray would refuse.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The event.
#[derive(Debug, Deserialize)]
struct Order {
    order_id: String,
    #[serde(default)]
    fail: Option<String>,
    #[serde(default)]
    wait_ms: u64,
    #[serde(default)]
    big: usize,
    /// Annotations X-Ray would refuse: a key with `-`, and one too many.
    #[serde(default)]
    bad_annotations: bool,
}

/// The response.
#[derive(Debug, Serialize)]
struct Checked {
    order_id: String,
    checked: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    padding: String,
}

#[helve::handler(service = "traced-orders")]
async fn place_order(order: Order) -> Result<Checked, helve::Error> {
    tokio::time::sleep(Duration::from_millis(order.wait_ms)).await;
    if order.bad_annotations {
        helve::tracer::annotate("order-id", order.order_id.as_str());
        for index in 0..50 {
            helve::tracer::annotate(&format!("line_{index}"), index);
        }
    }
    check(&order.order_id).await;
    match order.fail.as_deref() {
        Some("error") => {
            return Err(helve::Error::new(
                "orders.Declined",
                format!("order {} was declined", order.order_id),
            ));
        }
        Some("panic") => panic!("asked to panic for {}", order.order_id),
        _ => {}
    }
    Ok(Checked {
        order_id: order.order_id,
        checked: true,
        padding: "x".repeat(order.big),
    })
}

#[tracing::instrument(fields(annotation.order_id = %order_id))]
async fn check(order_id: &str) {
    stock(order_id.len()).await;
}

#[tracing::instrument]
async fn stock(lines: usize) {
    tokio::task::yield_now().await;
}
