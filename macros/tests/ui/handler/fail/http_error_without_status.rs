use helve::http::Json;

#[derive(Debug, thiserror::Error)]
#[error("order not found")]
struct NotFound;

#[helve::handler]
async fn get(Json(body): Json<serde_json::Value>) -> Result<Json<serde_json::Value>, NotFound> {
    Ok(Json(body))
}
