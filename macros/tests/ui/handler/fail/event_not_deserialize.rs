struct Order {
    sku: String,
}

#[helve::handler]
async fn handle(event: Order) -> String {
    event.sku
}
