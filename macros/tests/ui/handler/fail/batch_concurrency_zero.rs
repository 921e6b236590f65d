use helve::batch::SqsMessage;

#[helve::handler(batch(concurrency = 0))]
async fn work(_message: SqsMessage<serde_json::Value>) {}
