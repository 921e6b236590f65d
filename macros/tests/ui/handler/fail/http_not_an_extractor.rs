use helve::http::Json;

struct Cart;

#[helve::handler(http)]
async fn checkout(cart: Cart, Json(body): Json<serde_json::Value>) -> Json<serde_json::Value> {
    let _ = cart;
    Json(body)
}
