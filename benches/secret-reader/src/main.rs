//! Reads the secret `SECRET_ID` names in its init step (nothing without it), then echoes each
//! event: `benches/parameters.rs` times its init through each backend.

use helve::parameters::{Parameters, Secret};

/// What the init step read.
#[derive(Debug)]
struct State {
    _secret: Option<Secret<String>>,
}

async fn setup() -> Result<State, helve::Error> {
    let secret = match std::env::var("SECRET_ID") {
        Ok(id) => Some(Parameters::from_env()?.secrets().get::<String>(&id).await?),
        Err(_) => None,
    };
    Ok(State { _secret: secret })
}

#[helve::handler(init = setup, service = "secret-reader")]
async fn handle(
    event: serde_json::Value,
    _state: &State,
) -> Result<serde_json::Value, helve::Error> {
    Ok(event)
}
