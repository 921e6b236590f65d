#[helve::handler(http(body_limit = 65536))]
async fn get(request: String) -> String {
    request
}
