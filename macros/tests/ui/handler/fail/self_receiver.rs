struct Service;

impl Service {
    #[helve::handler]
    async fn handle(&self, event: serde_json::Value) -> serde_json::Value {
        event
    }
}

fn main() {}
