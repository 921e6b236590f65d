//! One record: why it failed, decoding it, running it with its own correlation id.

use std::{future::Future, sync::Arc};

use serde_json::value::RawValue;

use crate::batch::{BatchError, BatchHandler, records::Record};
use crate::{
    context::Context,
    error::{self, codes},
    handler::Handler,
    layers::{CatchUnwind, catch},
    outcome,
    validation::Validator,
};

/// Why a record failed: the `error_type` logged with it, and the reason.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) error_type: String,
    pub(super) reason: String,
    /// Whether it was logged already (a panic of the handler, where it is caught).
    pub(super) logged: bool,
}

impl Failure {
    pub(super) fn new(error_type: &str, reason: String) -> Self {
        Self {
            error_type: error_type.to_owned(),
            reason,
            logged: false,
        }
    }
}

/// Decodes a record; a panic while decoding it (in a `Deserialize` impl) fails the record.
pub(super) fn decode<R: Record>(raw: &RawValue) -> Result<R, Failure> {
    match catch(|| R::decode(raw)) {
        Ok(Ok(record)) => Ok(record),
        Ok(Err(reason)) => Err(Failure::new(codes::INVALID_RECORD, reason)),
        Err(panic) => {
            let reason = match crate::logging::take_panic_location() {
                Some(location) => {
                    format!(
                        "decoding the record panicked at {location}: {}",
                        panic.message()
                    )
                }
                None => format!("decoding the record panicked: {}", panic.message()),
            };
            Err(Failure::new(codes::PANIC, reason))
        }
    }
}

pub(super) fn invalid(message: String) -> BatchError {
    // Logged with the invocation's error, as every handler error is.
    BatchError::invalid(message)
}

/// One record: validated and handled under its own correlation id, with panics caught.
pub(super) fn handle_record<H, R, S, M>(
    handler: &BatchHandler<H, R>,
    raw: Box<RawValue>,
    record: Result<R, Failure>,
    id: Arc<str>,
    record_context: Context,
    state: &'static S,
) -> impl Future<Output = Result<(), Failure>> + Send + 'static
where
    R: Record,
    H: Handler<R, S, M>,
    S: Sync + 'static,
{
    let handler_fn = handler.handler.clone();
    let validate: Option<Validator<R::Payload>> = handler.validate;
    let scope = record_context.clone();
    // With the tracer on, a recorded invocation's record is a subsegment of its own.
    #[cfg(feature = "tracer")]
    let span = record_span(R::SOURCE, &id, &record_context);
    #[cfg(feature = "tracer")]
    let span_on_failure = span.clone();
    let record = scope.scope(async move {
        let outcome = async {
            let record = record?;
            if let Some(reason) = record.acknowledged() {
                tracing::info!("{reason}");
                return Ok(());
            }
            // Validation (your `validate` functions) and the handler, with panics caught.
            let handled = CatchUnwind::new(async move {
                if let (Some(validate), Some(payload)) = (validate, record.payload())
                    && let Err(errors) = validate(payload)
                {
                    // The fields by the sender's keys: the payload read again, only when it
                    // fails.
                    let fields = match R::sent_payload(&raw) {
                        Some(sent) => crate::validation::describe_as_sent(&errors, &sent),
                        None => crate::validation::describe(&errors),
                    };
                    return Err(Failure::new(
                        codes::INVALID_RECORD,
                        format!("the record does not validate: {fields}"),
                    ));
                }
                match handler_fn.call(record, record_context, state).await {
                    Ok(_) => Ok(()),
                    Err(failure) => {
                        let diagnostic = error::diagnostic(&failure);
                        Err(Failure::new(
                            &diagnostic.error_type,
                            outcome::HandlerFailed(&diagnostic.error_message).to_string(),
                        ))
                    }
                }
            })
            .await;
            match handled {
                Ok(outcome) => outcome,
                // The panic is logged where it is caught.
                Err(panic) => Err(Failure {
                    error_type: codes::PANIC.to_owned(),
                    reason: panic.to_string(),
                    logged: true,
                }),
            }
        }
        .await;
        // Logged in this record's scope, unless it was where it was caught (a panic).
        if let Err(failure) = &outcome
            && !failure.logged
        {
            tracing::error!(
                error_type = %failure.error_type,
                record_id = %id,
                "record {id} failed: {}",
                failure.reason
            );
        }
        #[cfg(feature = "tracer")]
        if let Err(failure) = &outcome {
            span_on_failure.record("error.type", failure.error_type.as_str());
            span_on_failure.record("error.message", failure.reason.as_str());
        }
        outcome
    });
    #[cfg(feature = "tracer")]
    let record = tracing::Instrument::instrument(record, span);
    record
}

/// The span of one record, `{eventSource} {id}` (`aws:sqs 059f36b4-...`), when the invocation
/// is traced; a disabled span otherwise, at no cost.
#[cfg(feature = "tracer")]
fn record_span(source: crate::batch::RecordSource, id: &str, context: &Context) -> tracing::Span {
    if context.state().trace.get().is_none() {
        return tracing::Span::none();
    }
    // The target keeps the span's fields out of log lines (`logging::TRACE_ONLY_TARGET`).
    tracing::info_span!(
        target: "helve::tracer",
        "record",
        otel.name = %format_args!("{} {id}", source.event_source()),
        record_id = id,
        error.type = tracing::field::Empty,
        error.message = tracing::field::Empty,
    )
}

/// Logs a record that did not run, with its own correlation id.
pub(super) async fn log_failure(context: &Context, id: &Arc<str>, failure: &Failure) {
    context
        .with_correlation_id(Arc::clone(id))
        .scope(async {
            tracing::error!(
                error_type = %failure.error_type,
                record_id = %id,
                "record {id} failed: {}",
                failure.reason
            );
        })
        .await;
}
