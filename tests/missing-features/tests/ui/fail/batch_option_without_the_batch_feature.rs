#[helve::handler(batch(concurrency = 4))]
async fn work(record: serde_json::Value) {
    let _ = record;
}
