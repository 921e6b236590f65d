#[helve::handler]
async fn get(body: helve::http::Json<serde_json::Value>) -> helve::http::Json<serde_json::Value> {
    body
}
