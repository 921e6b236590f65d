//! A greeting function: JSON in, JSON out. The smallest complete helve function, and the one
//! the README's quick start runs.
//!
//! Run with
//!
//! ```text
//! cargo run -p example-hello -- examples/hello/events/greeting.json
//! ```
//!
//! Deploy with `cargo lambda build --release --arm64 -p example-hello`, then `sam deploy --guided`
//! from this folder (see the README beside it).

use std::borrow::Cow;

use helve::prelude::*;

/// What the function builds once per execution environment and every invocation shares.
#[derive(Debug)]
struct App {
    greeting: String,
}

/// Reads the configuration once, before the first invocation. A mistake here stops the
/// function with an init error instead of failing every invocation.
async fn setup() -> Result<App, HelloError> {
    let greeting = match std::env::var("GREETING") {
        Ok(greeting) if greeting.trim().is_empty() => {
            return Err(HelloError::Config("GREETING must not be empty"));
        }
        Ok(greeting) => greeting,
        Err(_) => "Hello".to_owned(),
    };
    Ok(App { greeting })
}

/// The event: `{"name": "Ada"}`.
#[derive(Debug, Deserialize)]
struct Greeting {
    name: String,
}

/// The response: `{"message": "Hello, Ada!"}`.
#[derive(Debug, Serialize, PartialEq)]
struct Reply {
    message: String,
}

/// What can go wrong, each with the stable `errorType` Lambda records.
#[derive(Debug, thiserror::Error)]
enum HelloError {
    #[error("the name must not be empty")]
    EmptyName,
    #[error("{0}")]
    Config(&'static str),
}

impl FunctionError for HelloError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            HelloError::EmptyName => "hello.EmptyName".into(),
            HelloError::Config(_) => "hello.Config".into(),
        }
    }
}

#[helve::handler(init = setup, service = "hello", namespace = "Hello")]
async fn greet(event: Greeting, ctx: &Context, app: &App) -> Result<Reply, HelloError> {
    let name = event.name.trim();
    if name.is_empty() {
        return Err(HelloError::EmptyName);
    }
    // helve adds the request id, cold start and the other invocation keys to every line.
    tracing::info!(function_version = ctx.function_version(), "greeting {name}");
    // One EMF document per invocation, in the `Hello` namespace, with the `service` dimension.
    metrics::counter!("Greetings").increment(1);
    Ok(Reply {
        message: format!("{}, {name}!", app.greeting),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        App {
            greeting: "Hello".to_owned(),
        }
    }

    fn event(file: &str) -> Greeting {
        let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
        let json = std::fs::read_to_string(path).expect("the event file is readable");
        serde_json::from_str(&json).expect("the event file is a greeting")
    }

    #[tokio::test]
    async fn greets_by_name() {
        let ctx = Context::builder().build();
        let reply = greet(event("greeting.json"), &ctx, &app()).await.unwrap();
        assert_eq!(reply.message, "Hello, Ada!");
    }

    #[tokio::test]
    async fn an_empty_name_is_a_hello_empty_name_error() {
        let ctx = Context::builder().build();
        let error = greet(event("empty-name.json"), &ctx, &app())
            .await
            .unwrap_err();
        assert_eq!(error.error_type(), "hello.EmptyName");
    }

    #[tokio::test]
    async fn a_greeting_logs_its_line_and_counts_one_greeting() {
        use helve::testing::{Level, TestFunction};

        // `helve_function!()`, written by `#[helve::handler]` for tests: the function with its init
        // step, service and namespace, as `main` runs it.
        let mut function = TestFunction::start(helve_function!()).await.unwrap();
        let outcome = function
            .invoke(include_str!("../events/greeting.json"))
            .await;
        assert_eq!(
            outcome.assert_response(),
            &serde_json::json!({"message": "Hello, Ada!"})
        );
        outcome
            .logs()
            .at(Level::INFO)
            .message("greeting Ada")
            .with("service", "hello")
            .with("cold_start", true)
            .assert_one();
        outcome
            .metrics()
            .named("Greetings")
            .dimension("service", "hello")
            .assert_value(1.0);
    }

    #[tokio::test]
    async fn an_empty_name_is_the_invocations_hello_empty_name_error_and_its_error_line() {
        use helve::testing::{Level, invoke};

        let outcome = invoke(helve_function!(), include_str!("../events/empty-name.json")).await;
        outcome.assert_error("hello.EmptyName");
        outcome
            .logs()
            .at(Level::ERROR)
            .with("error_type", "hello.EmptyName")
            .assert_one();
    }
}
