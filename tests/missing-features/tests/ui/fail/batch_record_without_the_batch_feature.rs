#[helve::handler]
async fn work(message: helve::batch::SqsMessage<serde_json::Value>) -> Result<(), helve::Error> {
    let _ = message.message_id();
    Ok(())
}
