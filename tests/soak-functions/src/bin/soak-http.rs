//! The HTTP function of the soak test (`tests/soak.rs`): `POST` an order
//! `{"sku": "...", "quantity": n}`, get `{"sku": "...", "quantity": n, "total_cents": ...}`
//! back, with one log line, two metrics (a counter with a label, a histogram) and, under
//! `POWERTOOLS_LOGGER_LOG_EVENT=true`, the request logged, on every invocation.

use helve::http::Json;
use helve::prelude::*;

/// The request body.
#[derive(Debug, Deserialize)]
struct Order {
    sku: String,
    quantity: u32,
}

/// The response body.
#[derive(Debug, Serialize)]
struct Priced {
    sku: String,
    quantity: u32,
    total_cents: u64,
}

/// The price of one item, in cents.
const UNIT_CENTS: u64 = 1_250;

#[helve::handler(service = "soak-http", namespace = "Soak")]
async fn price(Json(order): Json<Order>) -> Result<Json<Priced>, helve::Error> {
    metrics::counter!("OrdersPriced", "channel" => "api").increment(1);
    metrics::histogram!("OrderQuantity").record(f64::from(order.quantity));
    tracing::info!(sku = %order.sku, quantity = order.quantity, "order priced");
    Ok(Json(Priced {
        total_cents: UNIT_CENTS * u64::from(order.quantity),
        sku: order.sku,
        quantity: order.quantity,
    }))
}
