//! A function that reads a decrypted SecureString and a Secrets Manager secret in its init
//! step, then logs them every way a careless handler could: in messages, fields, `Debug` of the
//! state, an error. helve must mask them in every line. `"fail": true` in the event makes the
//! handler fail with the password in its error.

use helve::parameters::{Parameters, Secret};

/// The database secret's shape.
#[derive(Debug, serde::Deserialize)]
struct Database {
    username: String,
    password: String,
}

/// What the init step read.
#[derive(Debug)]
struct State {
    api_key: Secret<String>,
    database: Secret<Database>,
}

async fn setup() -> Result<State, helve::Error> {
    let parameters = Parameters::from_env()?;
    let api_key = parameters
        .ssm()
        .get_decrypted::<String>("/orders/api-key")
        .await?;
    let database = parameters.secrets().get::<Database>("orders/db").await?;
    tracing::debug!(
        api_key = api_key.expose().as_str(),
        "read the API key {}",
        api_key.expose()
    );
    Ok(State { api_key, database })
}

#[helve::handler(init = setup, service = "secret-logger")]
async fn handle(
    event: serde_json::Value,
    state: &State,
) -> Result<serde_json::Value, helve::Error> {
    let database = state.database.expose();
    let password = database.password.as_str();
    tracing::debug!(?state, "the state");
    tracing::debug!(
        password,
        dsn = %format!("postgres://{}:{password}@db.internal", database.username),
        "connecting with {password}"
    );
    tracing::info!(api_key = ?state.api_key.expose(), secret = %state.database, "the key");
    if event["fail"] == true {
        return Err(helve::Error::msg(format!(
            "the database refused {}: wrong password {password}",
            database.username
        )));
    }
    Ok(serde_json::json!({ "user": database.username }))
}
