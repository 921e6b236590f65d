use helve::http::{Json, Valid};

#[derive(serde::Deserialize, serde::Serialize)]
struct Order {
    sku: String,
}

#[helve::handler]
async fn create(Valid(order): Valid<Order>) -> Json<Order> {
    Json(order)
}
