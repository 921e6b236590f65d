struct Receipt;

#[helve::handler]
async fn handle(event: serde_json::Value) -> Result<Receipt, helve::Error> {
    let _ = event;
    Ok(Receipt)
}
