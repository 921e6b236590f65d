//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): thin wrappers over the
//! code paths a Lambda invocation runs, so that the targets reach helve's internals without
//! reimplementing them. Not a public API: it changes without notice.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use bytes::Bytes;
use lambda_runtime::LambdaEvent;
use serde::{Serialize, de::DeserializeOwned};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::{
    ConfigError, Handler, Options, Payload, Settings,
    layers::{LoggingLayer, MetricsLayer},
    logging::LineSink,
};

/// The longest log line helve writes, `\n` included (CloudWatch cuts events at 256 KiB).
pub const MAX_LOG_LINE_BYTES: usize = crate::logging::MAX_LINE_BYTES;

/// The request id [`invoke`] gives each invocation.
pub const REQUEST_ID: &str = "fuzz-request-0001";

/// What one invocation through helve's stack gave back.
#[derive(Debug)]
pub struct Invoked {
    /// The response, as `lambda_runtime` would send it (JSON), or the error Lambda would get:
    /// its `errorType` and `errorMessage`.
    pub response: Result<serde_json::Value, (String, String)>,
    /// Every log line written, each ending in `\n`, in order.
    pub logs: Vec<u8>,
}

/// Runs one invocation of `handler` on the raw `payload` as on Lambda: the event layer reads
/// it (correlation id, logged event), it is decoded into `Payload<T>` as `lambda_runtime`
/// decodes it, then helve's stack (context, logging, panic layers) calls the handler. `options`
/// are the builder's (the service is `fuzz` unless they name one); `env` stands for the
/// environment variables (`POWERTOOLS_LOGGER_LOG_EVENT`, ...).
pub fn invoke<H, T, M>(
    handler: H,
    payload: &[u8],
    options: &Options,
    env: &[(&str, &str)],
) -> Result<Invoked, ConfigError>
where
    H: Handler<T, (), M>,
    T: DeserializeOwned + Send + 'static,
    H::Response: Serialize,
{
    let options = Options {
        service: options.service.clone().or_else(|| Some("fuzz".to_owned())),
        ..options.clone()
    };
    let settings = Settings::resolve(&options, |name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })?;
    let captured = Arc::new(Mutex::new(Vec::new()));
    let sink: LineSink = {
        let captured = Arc::clone(&captured);
        Arc::new(move |line: &[u8]| {
            captured
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(line);
        })
    };
    let events = crate::function::event_layer(None, &settings);
    let body = Bytes::copy_from_slice(payload);
    // `lambda_runtime` reads the event with `serde_json::from_slice`; `Payload` keeps a
    // decoding failure as a value, so only a payload that is not JSON at all fails here, as
    // lambda_runtime's own error.
    let event = match serde_json::from_slice::<Payload<T>>(payload) {
        Ok(event) => event,
        Err(error) => {
            return Ok(Invoked {
                response: Err(("lambda_runtime.Deserialize".to_owned(), error.to_string())),
                logs: Vec::new(),
            });
        }
    };
    let mut lambda = lambda_runtime::Context::default();
    lambda.request_id = REQUEST_ID.to_owned();
    lambda.deadline = crate::context::deadline_ms(Duration::from_secs(30));
    lambda.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:fuzz".to_owned();
    lambda.env_config = Arc::new(lambda_runtime::Config {
        function_name: "fuzz".to_owned(),
        memory: 256,
        version: "$LATEST".to_owned(),
        ..lambda_runtime::Config::default()
    });
    let logging = LoggingLayer::with_sink(&settings, Arc::clone(&sink), None);
    let mut service =
        crate::function::service_stack(handler, &settings, &(), logging, MetricsLayer::disabled());
    let subscriber = tracing_subscriber::registry().with(crate::logging::json_layer(
        settings.log(),
        Arc::clone(&sink),
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|error| ConfigError::new("fuzz runtime", error.to_string()))?;
    let outcome = tracing::subscriber::with_default(subscriber, || {
        // The event layer hands its findings over during the synchronous call, as on the
        // runtime.
        runtime.block_on(events.call_once(
            &mut service,
            &body,
            None,
            LambdaEvent::new(event, lambda),
        ))
    });
    let response = match outcome {
        Ok(response) => serde_json::to_value(&response)
            .map_err(|error| ("serialize".to_owned(), error.to_string())),
        Err(diagnostic) => Err((diagnostic.error_type, diagnostic.error_message)),
    };
    let logs = std::mem::take(&mut *captured.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(Invoked { response, logs })
}

/// Forgets every value given to [`mask_value`](crate::logging::mask_value), so that each
/// input starts from none (the registry is process-wide).
pub fn forget_masked_values() {
    crate::logging::forget_masked_values();
}

/// Whether a panic on this thread now is one helve catches and reports itself (its panic
/// layer, the HTTP request conversion, a batch record): a fuzz target's panic hook lets those
/// through and aborts on any other.
pub fn panic_is_caught_by_helve() -> bool {
    crate::logging::is_catching()
}

/// What helve would PUT to CloudFormation for the raw event `payload`, and where: `None` when
/// no `ResponseURL` can be read from it. The handler, when the request decodes, answers
/// SUCCESS; otherwise the answer is the one helve gives without a handler.
#[cfg(feature = "cfn")]
pub fn cfn_answer(payload: &[u8]) -> Option<(String, Vec<u8>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok()?;
    runtime.block_on(crate::cfn::answer_for_fuzzing(payload))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    async fn echo(event: Value, _ctx: crate::Context) -> Result<Value, crate::Error> {
        tracing::info!("echoing");
        Ok(event)
    }

    #[test]
    fn an_invocation_answers_and_logs_through_the_stack() {
        let invoked = invoke(echo, br#"{"a":1}"#, &Options::default(), &[]).unwrap();
        assert_eq!(invoked.response, Ok(json!({"a": 1})));
        let logs = String::from_utf8(invoked.logs).unwrap();
        assert!(logs.contains(r#""message":"echoing""#), "{logs}");
        assert!(logs.contains(REQUEST_ID), "{logs}");
    }
}
