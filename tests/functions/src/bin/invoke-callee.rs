//! A function other functions call: it prices a quote. `"quantity": 0` fails it with
//! `pricing.OutOfStock`, `"sku": "panic"` panics, and an event that is not a quote is
//! `helve.InvalidEvent`. It logs `quoted` with the correlation id the caller passed.

use std::borrow::Cow;

use helve::prelude::*;

/// What a caller asks.
#[derive(Debug, Deserialize)]
struct Quote {
    sku: String,
    quantity: u32,
}

/// Why a quote has no price.
#[derive(Debug, thiserror::Error)]
#[error("no stock for {0}")]
struct OutOfStock(String);

impl FunctionError for OutOfStock {
    fn error_type(&self) -> Cow<'static, str> {
        Cow::Borrowed("pricing.OutOfStock")
    }
}

#[helve::handler(service = "pricing")]
async fn price(quote: Quote, ctx: &Context) -> Result<serde_json::Value, OutOfStock> {
    if quote.sku == "panic" {
        panic!("the price list is missing");
    }
    if quote.quantity == 0 {
        return Err(OutOfStock(quote.sku));
    }
    tracing::info!(sku = %quote.sku, caller_correlation = ctx.correlation_id(), "quoted");
    Ok(serde_json::json!({ "cents": u64::from(quote.quantity) * 250 }))
}
