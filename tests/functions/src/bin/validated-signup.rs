//! A test function whose plain event type derives `validator::Validate`: `{"name": "Ada",
//! "email": "ada@example.com"}` answers `{"welcome": "Ada"}`; a name that is empty or an email
//! that is not one fails the invocation before the handler runs.

use helve::Context;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// The event.
#[derive(Debug, Deserialize, Validate)]
struct Signup {
    #[validate(length(min = 1, max = 100))]
    name: String,
    #[validate(email)]
    email: String,
}

/// The response.
#[derive(Debug, Serialize)]
struct Welcome {
    welcome: String,
}

#[helve::handler(service = "signup")]
async fn signup(event: Signup, _ctx: Context) -> Result<Welcome, helve::Error> {
    tracing::info!("handler called");
    Ok(Welcome {
        welcome: event.name,
    })
}
