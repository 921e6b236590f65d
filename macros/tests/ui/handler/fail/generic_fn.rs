#[helve::handler]
async fn handle<T: serde::de::DeserializeOwned>(event: T) -> Result<(), helve::Error> {
    let _ = event;
    Ok(())
}
