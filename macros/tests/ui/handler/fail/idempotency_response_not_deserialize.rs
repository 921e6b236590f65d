#[derive(serde::Serialize)]
struct Created {
    id: String,
}

#[helve::handler(idempotency(key = "/id"))]
async fn create(event: serde_json::Value) -> Result<Created, helve::Error> {
    Ok(Created { id: event.to_string() })
}
