#[derive(Debug, thiserror::Error)]
#[error("out of stock")]
struct OutOfStock;

#[helve::handler]
async fn handle(event: serde_json::Value) -> Result<serde_json::Value, OutOfStock> {
    let _ = event;
    Err(OutOfStock)
}
