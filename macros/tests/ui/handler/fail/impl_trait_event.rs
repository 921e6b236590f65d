#[helve::handler]
async fn handle(event: impl serde::de::DeserializeOwned) -> String {
    let _ = event;
    String::new()
}
