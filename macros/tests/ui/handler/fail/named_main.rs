#[helve::handler]
async fn main(event: serde_json::Value) -> serde_json::Value {
    event
}
