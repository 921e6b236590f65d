//! What helve reads from the raw event before it is decoded: the correlation id, and, with
//! `POWERTOOLS_LOGGER_LOG_EVENT`, the event itself, redacted, for the log.

use std::{
    fmt,
    sync::Arc,
    task::{self, Poll},
};

use bytes::Bytes;
use lambda_runtime::LambdaInvocation;
use serde_json::Value;
use tower::{Layer, Service};

use crate::{
    context::Findings,
    correlation::{self, Pointer},
    logging::redact::Redactor,
};

/// A function finding the correlation id in an event seen as JSON.
pub type FindCorrelationId = Arc<dyn Fn(&Value) -> Option<String> + Send + Sync>;

/// How the correlation id of an event is found.
#[derive(Clone, Default)]
pub enum Correlation {
    /// helve's presets for API Gateway, ALB, Function URLs, EventBridge, SQS, SNS, S3, Kinesis
    /// and DynamoDB Streams (see [`crate::correlation`]); the request id otherwise.
    #[default]
    Presets,
    /// The value at a JSON pointer, such as `/detail/orderId`; the presets when it is missing.
    Pointer(Pointer),
    /// A function of the event; the presets when it returns `None`.
    Custom(FindCorrelationId),
}

impl fmt::Debug for Correlation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Correlation::Presets => f.write_str("Presets"),
            Correlation::Pointer(pointer) => f.debug_tuple("Pointer").field(pointer).finish(),
            Correlation::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// A layer for `lambda_runtime::Runtime::layer`: it reads the correlation id (and, when event
/// logging is on, the redacted event) from the raw payload, for helve's typed layers below it.
#[derive(Clone, Debug, Default)]
pub struct RawEventLayer {
    correlation: Correlation,
    log_event: Option<Redactor>,
    /// Where the idempotency key and validated part are in the event.
    #[cfg(feature = "idempotency")]
    event_keys: Option<Arc<crate::context::EventKeys>>,
    /// Whether the raw event is kept for the invocation (a reference, not a copy).
    keep_raw_event: bool,
}

impl RawEventLayer {
    /// A layer finding correlation ids as `correlation` says; with `log_event`, the event is
    /// logged once per invocation, redacted by that redactor.
    pub fn new(correlation: Correlation, log_event: Option<Redactor>) -> Self {
        Self {
            correlation,
            log_event,
            #[cfg(feature = "idempotency")]
            event_keys: None,
            keep_raw_event: false,
        }
    }

    /// Keeps the raw event for the invocation, for a handler whose source must hear back even
    /// about an event that cannot be decoded (see [`crate::Handler::fallback_answer`]).
    pub(crate) fn keep_raw_event(mut self, keep: bool) -> Self {
        self.keep_raw_event = keep;
        self
    }

    /// Also reads the idempotency key and validated part at `keys`' pointers.
    #[cfg(feature = "idempotency")]
    pub(crate) fn with_event_keys(mut self, keys: Option<crate::context::EventKeys>) -> Self {
        self.event_keys = keys.map(Arc::new);
        self
    }

    /// Calls `service` once on `event`, as the layer does on a `lambda_runtime::Runtime`: what
    /// the raw `body` and the caller's client context (its `custom` map) say (correlation id,
    /// logged event, ...) is readable during the synchronous call. A panic in the stack (in
    /// helve's own layers: the handler's is caught inside) is caught too, so that the
    /// invocation still gets an answer. The one invocation of helve's loop, local mode, the
    /// test kit and the fuzz targets.
    pub(crate) async fn call_once<Svc, E>(
        &self,
        service: &mut Svc,
        body: &Bytes,
        client_context: Option<&std::collections::HashMap<String, String>>,
        event: E,
    ) -> Result<Svc::Response, Svc::Error>
    where
        Svc: Service<E>,
        Svc::Error: From<crate::Panic>,
    {
        let findings = self.read_from(body, client_context);
        std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
        let future = super::catch(|| findings.during(|| service.call(event)))?;
        super::CatchUnwind::new(future).await?
    }

    /// What the raw event says.
    #[cfg(test)]
    pub(crate) fn read(&self, body: &Bytes) -> Findings {
        self.read_from(body, None)
    }

    /// What the raw event and the client context (its `custom` map) say.
    pub(crate) fn read_from(
        &self,
        body: &Bytes,
        client_context: Option<&std::collections::HashMap<String, String>>,
    ) -> Findings {
        let custom = match &self.correlation {
            Correlation::Presets => None,
            Correlation::Pointer(pointer) => pointer.extract(body).map(Bytes::from),
            Correlation::Custom(find) => serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|event| find(&event))
                .map(Bytes::from),
        };
        let correlation_id = custom
            .or_else(|| correlation::from_caller(body, client_context))
            .or_else(|| correlation::extract(body).map(correlation::Found::into_id));
        let logged_event = self
            .log_event
            .as_ref()
            .map(|redactor| redactor.redact_event(body));
        Findings {
            correlation_id,
            logged_event,
            #[cfg(feature = "idempotency")]
            event_keys: self.event_keys.as_deref().map(|keys| keys.read(body)),
            raw_event: self.keep_raw_event.then(|| body.clone()),
        }
    }
}

impl<S> Layer<S> for RawEventLayer {
    type Service = RawEventService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RawEventService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`RawEventLayer`].
#[derive(Clone, Debug)]
pub struct RawEventService<S> {
    inner: S,
    layer: RawEventLayer,
}

impl<S> Service<LambdaInvocation> for RawEventService<S>
where
    S: Service<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let client_context = invocation
            .context
            .client_context
            .as_ref()
            .map(|context| &context.custom);
        let findings = self.layer.read_from(&invocation.body, client_context);
        // lambda_runtime decodes the event and calls helve's typed stack synchronously inside
        // this `call`, where the context layer takes what was found.
        findings.during(|| self.inner.call(invocation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Bytes {
        Bytes::copy_from_slice(json.as_bytes())
    }

    fn id(findings: &Findings) -> Option<&str> {
        findings
            .correlation_id
            .as_deref()
            .and_then(|id| std::str::from_utf8(id).ok())
    }

    #[test]
    fn a_function_of_the_event_names_the_correlation_id_and_presets_fill_in() {
        let layer = RawEventLayer::new(
            Correlation::Custom(Arc::new(|event: &Value| {
                event["order"]["id"].as_str().map(str::to_owned)
            })),
            None,
        );
        let findings = layer.read(&body(r#"{"order":{"id":"o-9"}}"#));
        assert_eq!(id(&findings), Some("o-9"));
        let findings = layer.read(&body(
            r#"{"detail-type":"x","source":"orders","id":"eb-1","detail":{}}"#,
        ));
        assert_eq!(id(&findings), Some("eb-1"));
        let findings = layer.read(&body(r#"{"anything":1}"#));
        assert_eq!(id(&findings), None);
    }

    #[test]
    fn a_calling_helve_function_passes_its_correlation_id_before_the_presets() {
        let layer = RawEventLayer::new(Correlation::Presets, None);
        let sqs = r#"{"Records":[{"eventSource":"aws:sqs","messageId":"m-1","body":"{}"}]}"#;
        let custom: std::collections::HashMap<String, String> =
            [("correlation_id".to_owned(), "from-the-caller".to_owned())].into();
        let findings = layer.read_from(&body(sqs), Some(&custom));
        assert_eq!(id(&findings), Some("from-the-caller"));
        let findings = layer.read(&body(
            r#"{"task":"t-1","_helve":{"correlation_id":"sent-along"}}"#,
        ));
        assert_eq!(id(&findings), Some("sent-along"));
        let findings = layer.read(&body(r#"{"_helve":{"other":1}}"#));
        assert_eq!(id(&findings), None);
        let findings = layer.read(&body(sqs));
        assert_eq!(id(&findings), Some("m-1"));
    }

    #[test]
    fn a_pointer_names_the_correlation_id() {
        let pointer = Pointer::new("/detail/orderId").unwrap();
        let layer = RawEventLayer::new(Correlation::Pointer(pointer), None);
        let findings = layer.read(&body(r#"{"detail":{"orderId":1042}}"#));
        assert_eq!(id(&findings), Some("1042"));
    }

    #[test]
    fn the_logged_event_is_redacted() {
        let layer = RawEventLayer::new(Correlation::Presets, Some(Redactor::default()));
        let findings = layer.read(&body(r#"{"password":"hunter2","n":1}"#));
        assert_eq!(
            findings.logged_event,
            Some(serde_json::json!({"password":"[REDACTED]","n":1}))
        );
    }
}
