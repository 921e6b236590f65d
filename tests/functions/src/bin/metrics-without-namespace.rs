//! A test function that records a metric through the `metrics` facade but configures no
//! namespace, as a team that forgot `POWERTOOLS_METRICS_NAMESPACE` would deploy it.

use serde_json::{Value, json};

#[helve::handler(service = "orders")]
async fn handle(event: Value) -> Value {
    metrics::counter!("OrdersPlaced").increment(1);
    json!({"seen": event})
}
