//! The handler: what a function does with one event, and the service that calls it.
//!
//! A handler is an async function of the event and the [`Context`] (and, with an init
//! function, the state it built) that returns `Result<R, E>`, where `R` serializes to the
//! function's response and `E` is a [`FunctionError`](crate::FunctionError). [`HandlerService`] decodes the event,
//! calls the handler and turns its error into the `errorType`/`errorMessage` Lambda records.

use std::{
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    task::{self, Poll},
};

use lambda_runtime::Diagnostic;
use serde::{Deserialize, Deserializer, Serialize};

use crate::{
    context::{Context, Invocation},
    decode,
    error::{self, IntoDiagnostic, InvalidEvent, codes},
    outcome,
};

/// An event as received from Lambda: either the decoded `T`, or why it could not be decoded.
///
/// Decoding never fails the way `lambda_runtime` would report it (with a Rust type name as the
/// `errorType`): the failure is kept, and [`HandlerService`] reports it as
/// `helve.InvalidEvent` without calling the handler.
#[derive(Debug, Clone)]
pub struct Payload<T>(pub Result<T, InvalidEvent>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Payload<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Payload(
            decode::deserialize(deserializer).map_err(|error| InvalidEvent::decoding(&error)),
        ))
    }
}

impl<T: for<'de> Deserialize<'de>> Payload<T> {
    /// Decodes a whole JSON document, as local mode reads an event file.
    ///
    /// An event a calling helve function sent (`Invoker::send`) carries its correlation id in
    /// one more field, `_helve`: when the event does not decode with it (a type with
    /// `#[serde(deny_unknown_fields)]`), it is decoded again without it.
    pub fn from_slice(bytes: &[u8]) -> Self {
        match decode::json_slice(bytes) {
            Ok(event) => Payload(Ok(event)),
            Err(error) => {
                Payload(without_envelope(bytes).ok_or_else(|| InvalidEvent::decoding(&error)))
            }
        }
    }
}

/// The event decoded without the top-level `_helve` field of a calling function, if it has
/// one and decodes so.
fn without_envelope<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    let field = crate::correlation::ENVELOPE_FIELD;
    memchr::memmem::find(bytes, field.as_bytes())?;
    let mut event: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).ok()?;
    event.remove(field)?;
    serde_json::from_value(serde_json::Value::Object(event)).ok()
}

/// The signature of a handler without state: `async fn(T, Context) -> Result<R, E>`.
#[derive(Debug)]
pub enum Stateless {}

/// The signature of a handler with state: `async fn(T, Context, &'static S) -> Result<R, E>`.
#[derive(Debug)]
pub enum Stateful {}

/// An async function that handles one event.
///
/// It is implemented for `Fn(T, Context) -> impl Future<Output = Result<R, E>>` and, for
/// functions with an init step, `Fn(T, Context, &'static S) -> ...`; `M` tells the two apart
/// ([`Stateless`], [`Stateful`]) and is always inferred.
#[diagnostic::on_unimplemented(
    message = "this function is not a helve handler: its parameters, response or error do not fit",
    note = "a handler is `async fn(event: T, ctx: helve::Context) -> Result<R, E>`, or `async fn(event: T, ctx: helve::Context, state: &'static S) -> Result<R, E>` with an init function",
    note = "`R` must implement `serde::Serialize` and `E` must implement `helve::FunctionError`"
)]
pub trait Handler<T, S, M>: Clone + Send + Sync + 'static {
    /// What the handler returns on success; serialized as the function's response.
    type Response: Serialize + Send + 'static;
    /// What the handler returns on failure.
    type Error: IntoDiagnostic + fmt::Debug + Send + 'static;
    /// The handler's future.
    type Future: Future<Output = Result<Self::Response, Self::Error>> + Send + 'static;

    /// Calls the handler.
    fn call(&self, event: T, context: Context, state: &'static S) -> Self::Future;

    /// Whether every `Response` this handler answers is known to serialize, so that helve
    /// need not check it before `lambda_runtime` sends it (an HTTP response, whose headers
    /// helve has made valid). `false`, the default: each response is checked.
    #[doc(hidden)]
    const RESPONSE_SERIALIZES: bool = false;

    /// How this handler's event source hears back about an event the handler cannot be given,
    /// when it must hear back whatever happens (a custom resource's stack): an event that
    /// arrives after the init step failed, or one that cannot be decoded. `None`, the default:
    /// the failure is only reported to Lambda (as an init error, or the invocation's error).
    #[doc(hidden)]
    fn fallback_answer(&self) -> Option<FallbackAnswer> {
        None
    }

    /// Checks the decoded event before the handler is called (a plain event that derives
    /// `validator::Validate`, with the feature `validate`): an `Err` fails the invocation with
    /// it, and the handler is not called. `Ok`, the default: nothing to check. `context` is
    /// the invocation's (the raw event is in it when [`keeps_raw_event`](Self::keeps_raw_event)).
    #[doc(hidden)]
    fn check(&self, _event: &T, _context: &Context) -> Result<(), Diagnostic> {
        Ok(())
    }

    /// Whether the event layer keeps the raw event in the invocation's context: for a
    /// [`fallback_answer`](Self::fallback_answer), and for a check that names fields as sent.
    #[doc(hidden)]
    fn keeps_raw_event(&self) -> bool {
        self.fallback_answer().is_some()
    }

    /// What helve reads from the raw event for an idempotent handler: the pointers to its
    /// key and validated part. `None`, the default: nothing.
    #[doc(hidden)]
    #[cfg(feature = "idempotency")]
    fn event_keys(&self) -> Option<crate::context::EventKeys> {
        None
    }

    /// Whether the handler's idempotency is configured right (its pointers, an HTTP key):
    /// checked when the function starts. By default, the pointers of
    /// [`event_keys`](Handler::event_keys).
    #[doc(hidden)]
    #[cfg(feature = "idempotency")]
    fn check_idempotency(&self) -> Result<(), crate::ConfigError> {
        self.event_keys()
            .as_ref()
            .map_or(Ok(()), crate::context::EventKeys::check)
    }
}

/// Answers one raw event, before its deadline, without the handler, for the reason given (why
/// the handler was not called), as the mode says (sent on Lambda, printed in local mode). See
/// [`Handler::fallback_answer`].
#[doc(hidden)]
pub type FallbackAnswer = fn(
    bytes::Bytes,
    std::time::Instant,
    String,
    crate::context::Mode,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

impl<F, Fut, T, R, E> Handler<T, (), Stateless> for F
where
    F: Fn(T, Context) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + Send + 'static,
    E: IntoDiagnostic + fmt::Debug + Send + 'static,
{
    type Response = R;
    type Error = E;
    type Future = Fut;

    fn call(&self, event: T, context: Context, _state: &'static ()) -> Fut {
        self(event, context)
    }
}

impl<F, Fut, T, S, R, E> Handler<T, S, Stateful> for F
where
    F: Fn(T, Context, &'static S) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    S: Sync + 'static,
    R: Serialize + Send + 'static,
    E: IntoDiagnostic + fmt::Debug + Send + 'static,
{
    type Response = R;
    type Error = E;
    type Future = Fut;

    fn call(&self, event: T, context: Context, state: &'static S) -> Fut {
        self(event, context, state)
    }
}

/// The innermost service: decodes the event, calls the handler, and reports an invalid event or
/// a handler error as a [`Diagnostic`] with a stable `errorType`.
pub struct HandlerService<H, T, S: 'static, M> {
    handler: H,
    state: &'static S,
    _marker: PhantomData<fn(T, M)>,
}

impl<H, T, S, M> HandlerService<H, T, S, M>
where
    H: Handler<T, S, M>,
{
    /// A service calling `handler` with `state`.
    pub fn new(handler: H, state: &'static S) -> Self {
        Self {
            handler,
            state,
            _marker: PhantomData,
        }
    }
}

impl<H: Clone, T, S, M> Clone for HandlerService<H, T, S, M> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            state: self.state,
            _marker: PhantomData,
        }
    }
}

impl<H, T, S, M> fmt::Debug for HandlerService<H, T, S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerService")
            .field("handler", &std::any::type_name::<H>())
            .finish_non_exhaustive()
    }
}

impl<H, T, S, M> tower::Service<Invocation<Payload<T>>> for HandlerService<H, T, S, M>
where
    H: Handler<T, S, M>,
{
    type Response = H::Response;
    type Error = Diagnostic;
    type Future = HandlerFuture<H::Future>;

    fn poll_ready(&mut self, _cx: &mut task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, invocation: Invocation<Payload<T>>) -> Self::Future {
        match invocation.event.0 {
            Ok(event) if let Err(diagnostic) = self.handler.check(&event, &invocation.context) => {
                tracing::error!(error_type = %diagnostic.error_type, "{}", diagnostic.error_message);
                HandlerFuture {
                    state: HandlerState::Done {
                        diagnostic: Some(diagnostic),
                    },
                }
            }
            Ok(event) => HandlerFuture {
                state: HandlerState::Running {
                    future: self.handler.call(event, invocation.context, self.state),
                    check: !H::RESPONSE_SERIALIZES,
                },
            },
            Err(invalid) => {
                tracing::error!(
                    error_type = codes::INVALID_EVENT,
                    path = invalid.path(),
                    "{invalid}; the handler was not called"
                );
                let diagnostic = Some(error::diagnostic(&invalid));
                // A source that must hear back (a stack waiting on its custom resource) is
                // answered from the raw event, which the event layer kept for it.
                let raw = self.handler.fallback_answer().and_then(|answer| {
                    Some((answer, invocation.context.state().take_raw_event()?))
                });
                match raw {
                    Some((answer, raw)) => {
                        let deadline =
                            std::time::Instant::now() + invocation.context.remaining_time();
                        let reason = format!(
                            "the request could not be read, so the handler was not called: {invalid}"
                        );
                        HandlerFuture {
                            state: HandlerState::Answering {
                                future: answer(raw, deadline, reason, invocation.context.mode()),
                                diagnostic,
                            },
                        }
                    }
                    None => HandlerFuture {
                        state: HandlerState::Done { diagnostic },
                    },
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`HandlerService`].
    pub struct HandlerFuture<F> {
        #[pin]
        state: HandlerState<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = HandlerStateProj]
    enum HandlerState<F> {
        // The handler is running.
        Running { #[pin] future: F, check: bool },
        // The event was invalid; the handler was not called.
        Done { diagnostic: Option<Diagnostic> },
        // The event was invalid, and its source is being answered without the handler.
        Answering { future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>, diagnostic: Option<Diagnostic> },
    }
}

impl<F> fmt::Debug for HandlerFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandlerFuture")
    }
}

impl<F, R, E> Future for HandlerFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: Serialize,
    E: IntoDiagnostic,
{
    type Output = Result<R, Diagnostic>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            HandlerStateProj::Running { future, check } => match future.poll(cx) {
                Poll::Ready(Ok(response)) if !*check => Poll::Ready(Ok(response)),
                Poll::Ready(Ok(response)) => {
                    // lambda_runtime serializes the response after helve's layers, where a
                    // failure would stop the runtime instead of failing this invocation: check
                    // it here, writing to nowhere, so a response that cannot be sent is
                    // reported like any other error.
                    match serde_json::to_writer(std::io::sink(), &response) {
                        Ok(()) => Poll::Ready(Ok(response)),
                        Err(error) => {
                            outcome::log_invalid_response(&error);
                            Poll::Ready(Err(outcome::invalid_response(&error)))
                        }
                    }
                }
                Poll::Ready(Err(error)) => {
                    let diagnostic = outcome::masked(error::diagnostic(&error));
                    outcome::log_failure(&diagnostic);
                    Poll::Ready(Err(diagnostic))
                }
                Poll::Pending => Poll::Pending,
            },
            HandlerStateProj::Answering { future, diagnostic } => match future.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(diagnostic
                    .take()
                    .unwrap_or_else(polled_after_completion))),
                Poll::Pending => Poll::Pending,
            },
            HandlerStateProj::Done { diagnostic } => Poll::Ready(Err(diagnostic
                .take()
                .unwrap_or_else(polled_after_completion))),
        }
    }
}

/// The error of a future polled again after it completed.
fn polled_after_completion() -> Diagnostic {
    Diagnostic {
        error_type: codes::INTERNAL.to_owned(),
        error_message: "the invocation's future was polled after it completed".to_owned(),
    }
}

/// The name of a function type: `setup` for `my_crate::setup` or `setup::<Foo>`; closures
/// have no name of their own.
pub(crate) fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    if name.contains("{{closure}}") {
        return "closure";
    }
    let path = name.split('<').next().unwrap_or(name);
    path.rsplit("::").next().unwrap_or(path)
}

/// A plain handler whose event is validated before it is called: what `#[helve::handler]`
/// makes of a handler whose event type derives `validator::Validate` (feature `validate`). A
/// failure is `helve.ValidationFailed`, listing the fields, never their values.
#[cfg(feature = "validate")]
#[doc(hidden)]
pub struct Validated<H, T> {
    handler: H,
    validate: crate::validation::Validator<T>,
}

#[cfg(feature = "validate")]
impl<H, T> Validated<H, T> {
    /// `handler`, with `validate` run on each decoded event first.
    pub fn new(handler: H, validate: crate::validation::Validator<T>) -> Self {
        Self { handler, validate }
    }
}

#[cfg(feature = "validate")]
impl<H, T> fmt::Debug for Validated<H, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validated")
            .field("handler", &std::any::type_name::<H>())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "validate")]
impl<H: Clone, T> Clone for Validated<H, T> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            validate: self.validate,
        }
    }
}

#[cfg(feature = "validate")]
impl<H, T, S, M> Handler<T, S, M> for Validated<H, T>
where
    H: Handler<T, S, M>,
    T: 'static,
{
    type Response = H::Response;
    type Error = H::Error;
    type Future = H::Future;

    const RESPONSE_SERIALIZES: bool = H::RESPONSE_SERIALIZES;

    fn call(&self, event: T, context: Context, state: &'static S) -> Self::Future {
        self.handler.call(event, context, state)
    }

    fn check(&self, event: &T, context: &Context) -> Result<(), Diagnostic> {
        self.handler.check(event, context)?;
        (self.validate)(event).map_err(|errors| {
            // The fields by the keys the event has: the raw event parsed again, as JSON, only
            // when it fails.
            let sent = context
                .state()
                .take_raw_event()
                .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok());
            let fields = match &sent {
                Some(sent) => crate::validation::describe_as_sent(&errors, sent),
                None => crate::validation::describe(&errors),
            };
            Diagnostic {
                error_type: codes::VALIDATION_FAILED.to_owned(),
                error_message: format!(
                    "the event does not validate: {fields}; the handler was not called"
                ),
            }
        })
    }

    fn keeps_raw_event(&self) -> bool {
        true
    }

    fn fallback_answer(&self) -> Option<FallbackAnswer> {
        self.handler.fallback_answer()
    }

    #[cfg(feature = "idempotency")]
    fn event_keys(&self) -> Option<crate::context::EventKeys> {
        self.handler.event_keys()
    }

    #[cfg(feature = "idempotency")]
    fn check_idempotency(&self) -> Result<(), crate::ConfigError> {
        self.handler.check_idempotency()
    }
}

/// `$handler`, validated when the event type `$event` implements `validator::Validate` and
/// helve has the feature `validate` (chosen at compile time, since `$event` is concrete where
/// `#[helve::handler]` writes this); `$handler` itself otherwise.
#[cfg(feature = "validate")]
#[doc(hidden)]
#[macro_export]
macro_rules! __validated_plain {
    ($handler:expr, $event:ty) => {
        $crate::handler::Validated::new($handler, |event: &$event| {
            #[allow(unused_imports)]
            use $crate::validation::{ProbeAccept as _, ProbeValidate as _};
            (&$crate::validation::Probe(event)).helve_validate()
        })
    };
}

/// `$handler` itself: without the feature `validate`, nothing is validated.
#[cfg(not(feature = "validate"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __validated_plain {
    ($handler:expr, $event:ty) => {
        $handler
    };
}

/// A plain handler's event: any type that deserializes from the invocation's payload.
/// Implemented for every `serde::de::DeserializeOwned` type; `#[helve::handler]` requires it of
/// the event at the user's type, so that one that does not deserialize is reported there,
/// once, with what to do.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the handler's event: it does not implement `serde::Deserialize`",
    label = "helve decodes each invocation's event into this type",
    note = "derive `serde::Deserialize` on `{Self}`, or take `serde_json::Value`"
)]
pub trait Event: serde::de::DeserializeOwned {
    /// The event type itself.
    type Checked;
}

// Reported as not an `Event`, with what to do, rather than by serde's bound.
#[diagnostic::do_not_recommend]
impl<T: serde::de::DeserializeOwned> Event for T {
    type Checked = T;
}

/// [`Event`], for an event written `Request` alone: `#[helve::handler]` recognises helve's HTTP
/// request by its path only, so a `Request` alone is taken for a plain event, and its message
/// says how to write the HTTP request.
#[diagnostic::on_unimplemented(
    message = "this `Request` is taken for the handler's event, and `{Self}` does not implement `serde::Deserialize`",
    label = "taken for the event, as `Request` alone",
    note = "for an HTTP handler, write `helve::http::Request` (or `http::Request<..>`), or mark it `#[helve::handler(http)]`"
)]
pub trait RequestEvent: serde::de::DeserializeOwned {
    /// The event type itself.
    type Checked;
}

#[diagnostic::do_not_recommend]
impl<T: serde::de::DeserializeOwned> RequestEvent for T {
    type Checked = T;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Order {
        sku: String,
        qty: u32,
    }

    #[test]
    fn a_wrong_field_type_names_the_field_line_and_column() {
        let Payload(result) =
            Payload::<Order>::from_slice(b"{\"sku\": \"A-1\",\n \"qty\": \"two\"}");
        let invalid = result.unwrap_err();
        assert_eq!(invalid.path(), "qty");
        assert_eq!(
            invalid.to_string(),
            "invalid event at qty: invalid type: string, expected u32 at line 2 column 13"
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        task: String,
    }

    #[test]
    fn a_strict_event_sent_by_a_helve_function_decodes_without_its_correlation_field() {
        let sent = br#"{"task": "t-1", "_helve": {"correlation_id": "c-1"}}"#;
        let Payload(result) = Payload::<Strict>::from_slice(sent);
        assert_eq!(
            result.unwrap(),
            Strict {
                task: "t-1".to_owned()
            }
        );
        // Any other unknown field is still refused, and said as the first decoding said it.
        let Payload(result) = Payload::<Strict>::from_slice(
            br#"{"task": "t-1", "_helve": {"correlation_id": "c-1"}, "extra": 1}"#,
        );
        let message = result.unwrap_err().to_string();
        assert!(message.contains("unknown field `_helve`"), "{message}");
    }

    #[test]
    fn a_missing_field_is_reported_at_the_document() {
        let Payload(result) = Payload::<Order>::from_slice(b"{\"sku\": \"A-1\"}");
        assert_eq!(
            result.unwrap_err().to_string(),
            "invalid event: missing field `qty` at line 1 column 14"
        );
    }

    #[test]
    fn a_document_that_is_not_json_is_invalid() {
        let Payload(result) = Payload::<Order>::from_slice(b"sku=A-1");
        assert_eq!(
            result.unwrap_err().to_string(),
            "invalid event: expected value at line 1 column 1"
        );
        let Payload(result) = Payload::<Order>::from_slice(b"{\"sku\":\"A\",\"qty\":1} trailing");
        assert_eq!(
            result.unwrap_err().to_string(),
            "invalid event: trailing characters at line 1 column 21"
        );
    }

    #[test]
    fn a_valid_event_decodes() {
        let Payload(result) = Payload::<Order>::from_slice(b"{\"sku\":\"A-1\",\"qty\":2}");
        assert_eq!(
            result.unwrap(),
            Order {
                sku: "A-1".to_owned(),
                qty: 2
            }
        );
    }
}
