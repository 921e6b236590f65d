#[helve::handler(idempotency(key = "header:Idempotency-Key"))]
async fn create(order: helve::http::Json<serde_json::Value>) -> helve::http::Json<serde_json::Value> {
    order
}
