use helve::batch::SqsMessage;

#[helve::handler(idempotency(key = "/messageId"))]
async fn handle(message: SqsMessage<serde_json::Value>) -> Result<(), helve::Error> {
    let _ = message;
    Ok(())
}

