#[helve::handler(batch(idempotency))]
async fn work(message: helve::batch::SqsMessage<serde_json::Value>) -> Result<(), helve::Error> {
    let _ = message;
    Ok(())
}
