use helve::batch::SqsMessage;

#[helve::handler]
async fn work(message: SqsMessage<serde_json::Value>) -> Result<String, helve::Error> {
    Ok(message.message_id().to_owned())
}
