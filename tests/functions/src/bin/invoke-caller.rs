//! A function that calls `invoke-callee` through `helve::invoke::Invoker` (its endpoint from
//! `AWS_ENDPOINT_URL_LAMBDA`). Its correlation id is the event's `/correlation`; the event's
//! `mode` is `call` (answer the callee's price) or `send` (send the quote as an event).

use helve::invoke::{InvokeError, Invoker};
use helve::prelude::*;

/// What the caller is asked to do.
#[derive(Debug, Deserialize)]
struct Job {
    mode: String,
    quote: serde_json::Value,
}

async fn setup() -> Result<Invoker, helve::Error> {
    Ok(Invoker::from_env())
}

#[helve::handler(init = setup, service = "checkout", correlation_id = "/correlation")]
async fn handle(job: Job, invoker: &Invoker) -> Result<serde_json::Value, InvokeError> {
    if job.mode == "send" {
        invoker.send("invoke-callee", &job.quote).await?;
        tracing::info!("sent");
        return Ok(serde_json::json!({ "sent": true }));
    }
    let price: serde_json::Value = invoker.call("invoke-callee", &job.quote).await?;
    tracing::info!("priced");
    Ok(price)
}
