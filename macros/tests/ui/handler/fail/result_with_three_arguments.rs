type Result<A, B, C> = std::result::Result<(A, B), C>;

#[helve::handler]
async fn handle(event: serde_json::Value) -> Result<serde_json::Value, u8, helve::Error> {
    Ok((event, 0))
}
