//! A test function that records metrics through the `metrics` facade, written with
//! `#[helve::handler(namespace = "Shop")]` as a user would.
//!
//! Event: `{"items": [..numbers..], "refund": bool}`. It counts one order, records each item
//! in the `BasketSize` histogram and, with `refund`, counts a refund labelled
//! `reason = damaged`. Its init function counts `ConnectionsOpened` once, outside any
//! invocation.

use helve::prelude::*;
use serde_json::{Value, json};

/// What `setup` builds.
#[derive(Debug)]
struct Ready;

async fn setup() -> Result<Ready, helve::Error> {
    metrics::counter!("ConnectionsOpened").increment(2);
    Ok(Ready)
}

/// The event.
#[derive(Debug, Deserialize)]
struct Order {
    #[serde(default)]
    items: Vec<f64>,
    #[serde(default)]
    refund: bool,
}

#[helve::handler(init = setup, service = "orders", namespace = "Shop")]
async fn handle(order: Order, _ready: &Ready) -> Value {
    metrics::describe_histogram!("BasketSize", metrics::Unit::Count, "items per order");
    metrics::counter!("OrdersPlaced").increment(1);
    for item in &order.items {
        metrics::histogram!("BasketSize").record(*item);
    }
    if order.refund {
        metrics::counter!("Refunds", "reason" => "damaged").increment(1);
    }
    json!({"items": order.items.len()})
}
