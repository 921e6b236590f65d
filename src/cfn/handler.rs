//! The adapter: runs the user's handler within the deadline, catches its failures, and always
//! answers CloudFormation.

use std::{
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    time::{Duration, Instant},
};

use serde::de::DeserializeOwned;

use super::{
    body::{Body, Status},
    outcome::{Answered, IntoOutcome, NotAnswered, failed, rejected, success},
    physical_id::{failed_create_id, is_failed_create},
    request::{CustomResource, Ids, RawRequest, RequestType, decode},
    send,
};
use crate::{
    context::{Context, Mode},
    error,
    error::codes,
    handler::Handler,
    layers::CatchUnwind,
    outcome,
    validation::Validator,
};

/// The deadline margin when none is given: helve answers FAILED this long before the deadline
/// if the handler is still running, leaving the time to send the answer.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// Wraps a handler of [`CustomResource<P>`] into one that answers CloudFormation:
/// `Function::new(custom_resource(handler))`. `#[helve::handler]` does this for you.
///
/// ```no_run
/// use helve::cfn::{CustomResource, Outcome, custom_resource};
///
/// async fn handle(request: CustomResource<serde_json::Value>, _ctx: helve::Context) -> Result<Outcome, helve::Error> {
///     Ok(Outcome::new())
/// }
///
/// fn main() -> std::process::ExitCode {
///     helve::Function::new(custom_resource(handle))
///         .correlation_id("/RequestId")
///         .run()
/// }
/// ```
pub fn custom_resource<H, P>(handler: H) -> CustomResourceHandler<H, P> {
    CustomResourceHandler {
        handler,
        deadline_margin: DEFAULT_DEADLINE_MARGIN,
        validate: None,
        _properties: PhantomData,
    }
}

/// A handler of [`CustomResource<P>`] that answers CloudFormation; made by [`custom_resource`].
pub struct CustomResourceHandler<H, P> {
    handler: H,
    deadline_margin: Duration,
    validate: Option<Validator<P>>,
    _properties: PhantomData<fn() -> P>,
}

impl<H: Clone, P> Clone for CustomResourceHandler<H, P> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            deadline_margin: self.deadline_margin,
            validate: self.validate,
            _properties: PhantomData,
        }
    }
}

impl<H, P> fmt::Debug for CustomResourceHandler<H, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomResourceHandler")
            .field("handler", &std::any::type_name::<H>())
            .field("deadline_margin", &self.deadline_margin)
            .field("validates", &self.validate.is_some())
            .finish()
    }
}

impl<H, P> CustomResourceHandler<H, P> {
    /// How long before the deadline helve stops waiting for the handler and answers FAILED
    /// (default 2 s): the time left to send the answer.
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.deadline_margin = margin;
        self
    }

    /// Validates `ResourceProperties` with `validator` before calling the handler.
    pub fn validated(mut self) -> Self
    where
        P: validator::Validate,
    {
        self.validate = Some(|properties| properties.validate());
        self
    }

    /// Validates `ResourceProperties` with `check` before calling the handler.
    pub fn validate_with(mut self, check: Validator<P>) -> Self {
        self.validate = Some(check);
        self
    }
}

impl<H, P, S, M> Handler<RawRequest, S, M> for CustomResourceHandler<H, P>
where
    H: Handler<CustomResource<P>, S, M>,
    H::Response: IntoOutcome,
    P: DeserializeOwned + Send + 'static,
    S: Sync + 'static,
    M: 'static,
{
    type Response = Answered;
    type Error = NotAnswered;
    type Future = AnswerFuture;

    fn call(&self, event: RawRequest, context: Context, state: &'static S) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.answer(event, context, state).await })
    }

    fn fallback_answer(&self) -> Option<crate::handler::FallbackAnswer> {
        Some(answer_without_handler)
    }
}

/// The future of [`CustomResourceHandler`]: the whole exchange with CloudFormation.
pub type AnswerFuture = Pin<Box<dyn Future<Output = Result<Answered, NotAnswered>> + Send>>;

impl<H, P> CustomResourceHandler<H, P> {
    async fn answer<S, M>(
        self,
        request: RawRequest,
        context: Context,
        state: &'static S,
    ) -> Result<Answered, NotAnswered>
    where
        H: Handler<CustomResource<P>, S, M>,
        H::Response: IntoOutcome,
        P: DeserializeOwned,
    {
        let started = Instant::now();
        let deadline = started + context.remaining_time();
        let Some(response_url) = request.text("ResponseURL").map(str::to_owned) else {
            let why = "the request has no ResponseURL, so there is nowhere to answer; \
                       is this function the ServiceToken of a custom resource?"
                .to_owned();
            tracing::error!(error_type = codes::CUSTOM_RESOURCE_NOT_ANSWERED, "{why}");
            return Err(NotAnswered { why });
        };
        let body = self.decide(&request, &context, state).await;
        let log_stream = &context.lambda().env_config.log_stream;
        let body = body.finish(log_stream);
        deliver(&response_url, body, deadline, context.mode()).await
    }

    /// Everything before sending: read the request, call the handler, build the answer.
    pub(super) async fn decide<S, M>(
        &self,
        request: &RawRequest,
        context: &Context,
        state: &'static S,
    ) -> Body
    where
        H: Handler<CustomResource<P>, S, M>,
        H::Response: IntoOutcome,
        P: DeserializeOwned,
    {
        let Prepared {
            ids,
            request_type,
            existing,
            on_failure,
        } = match Prepared::read(request) {
            Ok(prepared) => prepared,
            Err(answer) => return *answer,
        };

        let properties = match decode::<P>(request, "ResourceProperties") {
            Ok(properties) => properties,
            Err(reason) => return rejected(&ids, on_failure, reason),
        };
        let old_properties = if request_type == RequestType::Update {
            match decode::<P>(request, "OldResourceProperties") {
                Ok(properties) => Some(properties),
                Err(reason) => return rejected(&ids, on_failure, reason),
            }
        } else {
            None
        };
        if let Some(validate) = self.validate
            && let Err(errors) = validate(&properties)
        {
            let fields = match request.value("ResourceProperties") {
                Some(sent) => crate::validation::describe_as_sent(&errors, sent),
                None => crate::validation::describe(&errors),
            };
            let reason = format!("invalid ResourceProperties: {fields}");
            return rejected(&ids, on_failure, reason);
        }

        let resource = CustomResource {
            request_type,
            properties,
            old_properties,
            physical_resource_id: existing.clone(),
            logical_resource_id: ids.logical_resource_id.clone(),
            stack_id: ids.stack_id.clone(),
            request_id: ids.request_id.clone(),
            resource_type: request.text("ResourceType").unwrap_or_default().to_owned(),
        };
        let handler_deadline = context
            .time_before(self.deadline_margin)
            .filter(|left| !left.is_zero())
            .map(|left| Instant::now() + left);
        let Some(handler_deadline) = handler_deadline else {
            let reason = format!(
                "the function's timeout leaves no time for the handler before helve's deadline \
                 margin ({} before the deadline); raise the function's timeout",
                seconds(self.deadline_margin)
            );
            return failed(&ids, on_failure, reason);
        };
        let call = self.handler.call(resource, context.clone(), state);
        let outcome = tokio::time::timeout_at(handler_deadline.into(), CatchUnwind::new(call));
        match outcome.await {
            Ok(Ok(Ok(response))) => {
                let outcome = response.into_outcome();
                success(&ids, request_type, existing, outcome, on_failure)
            }
            Ok(Ok(Err(error))) => {
                let diagnostic = outcome::masked(error::diagnostic(&error));
                outcome::log_failure(&diagnostic);
                failed(&ids, on_failure, diagnostic.error_message)
            }
            Ok(Err(panic)) => failed(&ids, on_failure, panic.to_string()),
            Err(_elapsed) => {
                let reason = format!(
                    "the handler did not finish {} before the function's deadline, so helve \
                     answered without it (its result is ignored); raise the function's timeout",
                    seconds(self.deadline_margin)
                );
                tracing::error!(error_type = codes::CUSTOM_RESOURCE_TIMEOUT, "{reason}");
                failed(&ids, on_failure, reason)
            }
        }
    }
}

/// What every answer needs from the request, read before anything else.
struct Prepared {
    ids: Ids,
    request_type: RequestType,
    existing: Option<String>,
    /// The id a FAILED answer carries: the existing one, or on Create the one the rollback's
    /// Delete will recognise.
    on_failure: String,
}

impl Prepared {
    /// The request's ids and type, or the answer it gets without a handler: FAILED when it is
    /// malformed, SUCCESS for the Delete of a resource whose Create failed.
    fn read(request: &RawRequest) -> Result<Self, Box<Body>> {
        let ids = Ids {
            stack_id: request.text("StackId").unwrap_or_default().to_owned(),
            request_id: request.text("RequestId").unwrap_or_default().to_owned(),
            logical_resource_id: request
                .text("LogicalResourceId")
                .unwrap_or_default()
                .to_owned(),
        };
        let existing = request
            .text("PhysicalResourceId")
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let request_type = match request.text("RequestType") {
            Some("Create") => RequestType::Create,
            Some("Update") => RequestType::Update,
            Some("Delete") => RequestType::Delete,
            other => {
                let reason = match other {
                    Some(name) => {
                        format!("unknown RequestType `{name}`; expected Create, Update or Delete")
                    }
                    None => "the request has no RequestType".to_owned(),
                };
                let physical = existing.unwrap_or_else(|| failed_create_id(&ids.request_id));
                return Err(Box::new(rejected(&ids, physical, reason)));
            }
        };
        let on_failure = match (&existing, request_type) {
            (Some(id), RequestType::Update | RequestType::Delete) => id.clone(),
            _ => failed_create_id(&ids.request_id),
        };
        for (field, value) in [
            ("StackId", &ids.stack_id),
            ("RequestId", &ids.request_id),
            ("LogicalResourceId", &ids.logical_resource_id),
        ] {
            if value.is_empty() {
                let reason = format!("the request has no {field}");
                return Err(Box::new(rejected(&ids, on_failure, reason)));
            }
        }
        if request_type != RequestType::Create && existing.is_none() {
            let reason = format!("the {request_type} request has no PhysicalResourceId");
            return Err(Box::new(rejected(&ids, on_failure, reason)));
        }
        if request_type == RequestType::Delete && is_failed_create(&on_failure) {
            tracing::info!(
                physical_resource_id = %on_failure,
                "the Create of this resource failed, so there is nothing to delete; \
                 answering SUCCESS without calling the handler"
            );
            return Err(Box::new(Body::new(Status::Success, on_failure, &ids)));
        }
        Ok(Self {
            ids,
            request_type,
            existing,
            on_failure,
        })
    }
}

/// Answers a request the handler cannot be given (the init step failed, or the request is not
/// JSON that decodes): FAILED with `reason` (or SUCCESS for the Delete of a resource whose
/// Create failed), so that the stack does not wait. A request that is not JSON at all is read
/// for its top-level text fields (`ResponseURL`, the ids) with a tolerant scan.
fn answer_without_handler(
    event: bytes::Bytes,
    deadline: Instant,
    reason: String,
    mode: Mode,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
    Box::pin(async move {
        let Some((url, body)) = fallback_body(&event, reason) else {
            tracing::error!(
                error_type = codes::CUSTOM_RESOURCE_NOT_ANSWERED,
                "the request has no readable ResponseURL, so there is nowhere to answer"
            );
            return;
        };
        let log_stream = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default();
        // The outcome is logged; the invocation reports its own error either way.
        let _ = deliver(&url, body.finish(&log_stream), deadline, mode).await;
    })
}

/// Where to answer a request the handler cannot be given, and the answer: FAILED with
/// `reason`, or what [`Prepared::read`] answers without a handler; `None` without a readable
/// `ResponseURL`.
fn fallback_body(event: &[u8], reason: String) -> Option<(String, Body)> {
    let request =
        serde_json::from_slice::<RawRequest>(event).unwrap_or_else(|_| RawRequest::scan(event));
    let url = request.text("ResponseURL")?.to_owned();
    let body = match Prepared::read(&request) {
        Ok(prepared) => failed(&prepared.ids, prepared.on_failure, reason),
        Err(answer) => *answer,
    };
    Some((url, body))
}

/// What helve answers CloudFormation for a raw event, and where, as a function whose handler
/// answers SUCCESS: the event decoded as `lambda_runtime` decodes it, then the handler's
/// path, or the fallback when it does not decode. For the fuzz targets (`helve::__fuzz`).
#[cfg(feature = "fuzzing")]
pub(crate) async fn answer_for_fuzzing(raw: &[u8]) -> Option<(String, Vec<u8>)> {
    use serde::Deserialize as _;

    let mut decoder = serde_json::Deserializer::from_slice(raw);
    let decoded = crate::handler::Payload::<RawRequest>::deserialize(&mut decoder);
    let (url, body) = match decoded {
        Ok(crate::handler::Payload(Ok(request))) => {
            let url = request.text("ResponseURL")?.to_owned();
            let handler =
                custom_resource(|_: CustomResource<serde_json::Value>, _: Context| async {
                    Ok::<(), crate::Error>(())
                });
            let body = handler
                .decide(&request, &Context::builder().build(), &())
                .await;
            (url, body)
        }
        _ => fallback_body(raw, "the request could not be read".to_owned())?,
    };
    Some((url, body.finish("fuzz-log-stream").to_bytes()))
}

/// Sends the answer (or prints it in local mode) and turns the result into the invocation's.
async fn deliver(
    url: &str,
    body: Body,
    deadline: Instant,
    mode: Mode,
) -> Result<Answered, NotAnswered> {
    let masked = body.masked();
    if mode == Mode::Local {
        tracing::info!(
            status = body.status.as_str(),
            physical_resource_id = %body.physical_resource_id,
            response_url = %send::without_query(url),
            "local mode: the answer is not sent; it is the function's response"
        );
        return Ok(Answered(masked));
    }
    let bytes = body.to_bytes();
    match send::put(url, bytes, deadline).await {
        Ok(attempts) => {
            tracing::info!(
                status = body.status.as_str(),
                physical_resource_id = %body.physical_resource_id,
                attempts,
                "answered CloudFormation"
            );
            Ok(Answered(masked))
        }
        Err(error) => {
            let shown = serde_json::to_string(&masked).unwrap_or_default();
            tracing::error!(
                error_type = codes::CUSTOM_RESOURCE_NOT_ANSWERED,
                response_url = %send::without_query(url),
                body = %shown,
                "could not answer CloudFormation: {error}; the stack waits for the custom \
                 resource's ServiceTimeout"
            );
            Err(NotAnswered {
                why: error.to_string(),
            })
        }
    }
}

fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{} s", millis / 1000)
    } else {
        format!("{millis} ms")
    }
}
