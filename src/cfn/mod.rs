//! CloudFormation custom resources that always answer (feature `cfn`).
//!
//! A handler whose event is a [`CustomResource<P>`] handles Create, Update and Delete; helve
//! sends CloudFormation its answer with an HTTP PUT to the request's pre-signed `ResponseURL`.
//! Whatever happens, an answer goes out before the function's deadline, so a stack never waits
//! an hour for one:
//!
//! | What happened | Status | `PhysicalResourceId` | `Reason` |
//! |---|---|---|---|
//! | the handler returned `Ok` | `SUCCESS` | the handler's, or the default below | (none) |
//! | the handler returned `Err` | `FAILED` | the existing one; on Create, the failed-Create id | the error and its sources |
//! | the handler panicked | `FAILED` | as above | `the handler panicked: ...` |
//! | `ResourceProperties` (or `OldResourceProperties`) do not decode or validate | `FAILED`, the handler is not called | as above | the field and what is wrong |
//! | the handler still runs when the deadline margin starts (2 s before the deadline) | `FAILED`, the handler's future is dropped | as above | says so |
//! | a Delete of a resource whose Create failed | `SUCCESS`, the handler is not called | the failed-Create id | (none) |
//! | an unknown `RequestType` | `FAILED` | as above | names it |
//!
//! # The physical resource id
//!
//! On Create, the default is stable for the stack and the resource:
//! `<stack name>-<logical id>-<12 hex digits>`; on Update and Delete, the existing id. Return
//! [`Outcome::physical_resource_id`] to choose one: a new id on Update tells CloudFormation the
//! resource was replaced, and it sends a Delete for the old id once the stack update completes.
//!
//! When a Create fails, helve answers with the id `helve:create-failed:<RequestId>`.
//! CloudFormation then rolls back with a Delete carrying that id, which helve answers `SUCCESS`
//! without calling the handler: there is nothing to delete, and the rollback cannot hang on a
//! handler that fails again.
//!
//! # The answer
//!
//! The body has `Status`, `Reason` (on `FAILED`), `PhysicalResourceId`, `StackId`,
//! `RequestId`, `LogicalResourceId`, `NoEcho` and `Data`, and stays within the 4096 bytes
//! CloudFormation accepts: a long `Reason` is truncated; a `Data` too large to fit turns the
//! answer into `FAILED` with a `Reason` saying so. It is sent with an empty `Content-Type` (a
//! set one breaks the URL's signature), over HTTPS with rustls and the Mozilla root
//! certificates, or plain HTTP. Network errors and 5xx answers are retried with exponential
//! backoff and jitter, up to 5 attempts, all before the deadline; each attempt is logged. The
//! URL's query (its signature) is never logged.
//!
//! Once the answer is sent, the invocation succeeds: CloudFormation reads the `ResponseURL`,
//! not the function's result. If it cannot be sent, the body is logged at ERROR (with `Data`
//! masked when `NoEcho` is set) and the invocation fails with
//! `helve.CustomResourceNotAnswered`, so the stack's wait shows up in the function's errors.
//! In [local mode](crate::guide::local_mode) nothing is sent: the body is printed as the
//! function's response.
//!
//! # Properties
//!
//! CloudFormation sends every property value as a string (`Port: 5432` arrives as `"5432"`):
//! decode numbers and booleans with [`from_string`]. helve removes the `ServiceToken` and
//! `ServiceTimeout` properties before decoding, so `P` names only your own. When `P` implements
//! `validator::Validate`, `#[helve::handler]` validates `ResourceProperties` before calling the
//! handler; `OldResourceProperties` are decoded, not validated (they were valid when they were
//! sent). Give a new property a default (`#[serde(default)]`) so that the Update that adds it
//! can still decode the old ones.
//!
//! ```no_run
//! use helve::cfn::{CustomResource, Outcome, RequestType, from_string};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, validator::Validate)]
//! #[serde(rename_all = "PascalCase")]
//! struct Schema {
//!     #[validate(length(min = 1, max = 63))]
//!     database: String,
//!     #[serde(deserialize_with = "from_string")]
//!     #[validate(range(min = 1))]
//!     version: u32,
//! }
//!
//! #[helve::handler(service = "migrations")]
//! async fn migrate(request: CustomResource<Schema>) -> Result<Outcome, helve::Error> {
//!     match request.request_type() {
//!         RequestType::Create | RequestType::Update => {
//!             let schema = request.properties();
//!             // ... migrate `schema.database` up to `schema.version`, idempotently ...
//!             Ok(Outcome::new().data(serde_json::json!({ "Version": schema.version })))
//!         }
//!         RequestType::Delete => Ok(Outcome::new()),
//!     }
//! }
//! ```
//!
//! `#[helve::handler]` also takes the Lambda `RequestId` of CloudFormation's request as the
//! correlation id of every log line, and `custom_resource(deadline_margin_ms = 5000)` changes
//! the deadline margin. Without the attribute, wrap the handler with [`custom_resource`].

mod body;
mod send;

use std::{
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    time::{Duration, Instant},
};

use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

pub use body::MAX_BODY_BYTES;
use body::{Body, Status};

use crate::{
    context::Context,
    error::{self, FunctionError},
    fnv::Fnv1a,
    handler::Handler,
    layers::CatchUnwind,
    validation::Validator,
};

/// The deadline margin when none is given: helve answers FAILED this long before the deadline
/// if the handler is still running, leaving the time to send the answer.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// The start of the physical resource id helve answers when a Create fails.
pub const FAILED_CREATE_PREFIX: &str = "helve:create-failed:";

/// Whether `physical_resource_id` is the id helve answers when a Create fails.
pub fn is_failed_create(physical_resource_id: &str) -> bool {
    physical_resource_id.starts_with(FAILED_CREATE_PREFIX)
}

/// The longest physical resource id CloudFormation accepts, in bytes.
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;

/// What CloudFormation asks of the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestType {
    /// The resource is being created: a new stack, or a resource added to a stack.
    Create,
    /// A property changed.
    Update,
    /// The resource is being deleted: removed from the template, a stack deleted, a rollback.
    Delete,
}

impl RequestType {
    /// `Create`, `Update` or `Delete`, as CloudFormation spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CloudFormation custom resource request, with its properties decoded into `P`.
#[derive(Debug, Clone)]
pub struct CustomResource<P> {
    request_type: RequestType,
    properties: P,
    old_properties: Option<P>,
    physical_resource_id: Option<String>,
    logical_resource_id: String,
    stack_id: String,
    request_id: String,
    resource_type: String,
}

impl<P> CustomResource<P> {
    /// A request, for calling a handler in a test; complete it with the builder methods.
    ///
    /// ```
    /// use helve::cfn::{CustomResource, RequestType};
    ///
    /// let request = CustomResource::new(RequestType::Update, 2)
    ///     .old_properties(1)
    ///     .physical_resource_id("orders-schema");
    /// assert_eq!(request.previous_properties(), Some(&1));
    /// ```
    pub fn new(request_type: RequestType, properties: P) -> Self {
        Self {
            request_type,
            properties,
            old_properties: None,
            physical_resource_id: None,
            logical_resource_id: "Resource".to_owned(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/test/00000000-0000-0000-0000-000000000000".to_owned(),
            request_id: "00000000-0000-0000-0000-000000000000".to_owned(),
            resource_type: "Custom::Resource".to_owned(),
        }
    }

    /// Sets the previous properties (an Update's `OldResourceProperties`).
    pub fn old_properties(mut self, properties: P) -> Self {
        self.old_properties = Some(properties);
        self
    }

    /// Sets the existing physical resource id (Update and Delete).
    pub fn physical_resource_id(mut self, id: impl Into<String>) -> Self {
        self.physical_resource_id = Some(id.into());
        self
    }

    /// Sets the logical resource id.
    pub fn logical_resource_id(mut self, id: impl Into<String>) -> Self {
        self.logical_resource_id = id.into();
        self
    }

    /// Sets the stack id.
    pub fn stack_id(mut self, id: impl Into<String>) -> Self {
        self.stack_id = id.into();
        self
    }

    /// What CloudFormation asks: Create, Update or Delete.
    pub fn request_type(&self) -> RequestType {
        self.request_type
    }

    /// The resource's properties (`ResourceProperties`), without `ServiceToken` and
    /// `ServiceTimeout`.
    pub fn properties(&self) -> &P {
        &self.properties
    }

    /// The resource's properties, owned.
    pub fn into_properties(self) -> P {
        self.properties
    }

    /// On Update, the properties before it (`OldResourceProperties`); `None` otherwise.
    pub fn previous_properties(&self) -> Option<&P> {
        self.old_properties.as_ref()
    }

    /// The existing physical resource id: `Some` on Update and Delete, `None` on Create.
    pub fn existing_physical_resource_id(&self) -> Option<&str> {
        self.physical_resource_id.as_deref()
    }

    /// The resource's logical id in the template.
    pub fn logical_id(&self) -> &str {
        &self.logical_resource_id
    }

    /// The stack's ARN (`StackId`).
    pub fn stack_arn(&self) -> &str {
        &self.stack_id
    }

    /// The stack's name, read from its ARN.
    pub fn stack_name(&self) -> &str {
        stack_name(&self.stack_id)
    }

    /// CloudFormation's id for this request (`RequestId`).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The resource type in the template, for example `Custom::DatabaseSchema`.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The physical resource id helve answers on Create when the handler chooses none: stable
    /// for this stack and logical id.
    pub fn default_physical_resource_id(&self) -> String {
        default_physical_id(&self.stack_id, &self.logical_resource_id)
    }
}

/// What a custom resource handler answers on success: the physical resource id, the `Data`
/// that `Fn::GetAtt` reads, and whether CloudFormation hides that data (`NoEcho`).
///
/// A handler may also answer `()`: the default physical resource id, no data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    physical_resource_id: Option<String>,
    data: Option<Result<Map<String, Value>, String>>,
    no_echo: bool,
}

impl Outcome {
    /// The default answer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The physical resource id to answer with. On Update, a new id means the resource was
    /// replaced: CloudFormation then deletes the old one.
    pub fn physical_resource_id(mut self, id: impl Into<String>) -> Self {
        self.physical_resource_id = Some(id.into());
        self
    }

    /// The `Data`: anything that serializes to a JSON object, whose keys `Fn::GetAtt` reads.
    /// Anything else answers FAILED with a `Reason` saying why.
    pub fn data(mut self, data: impl Serialize) -> Self {
        self.data = Some(match serde_json::to_value(data) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(Map::new()),
            Ok(other) => Err(format!(
                "the handler's Data must serialize to a JSON object of attributes, not {}",
                kind(&other)
            )),
            Err(error) => Err(format!("the handler's Data does not serialize: {error}")),
        });
        self
    }

    /// Asks CloudFormation to mask the `Data` wherever it shows it (`NoEcho`); helve masks it in
    /// its own logs too.
    pub fn no_echo(mut self, no_echo: bool) -> Self {
        self.no_echo = no_echo;
        self
    }
}

/// What a custom resource handler may answer on success: an [`Outcome`], or `()` for the
/// default one.
#[diagnostic::on_unimplemented(
    message = "a custom resource handler answers `helve::cfn::Outcome` or `()`, not `{Self}`",
    label = "not an answer to CloudFormation",
    note = "return `Ok(Outcome::new().physical_resource_id(..).data(..))`, or `Ok(())` for the default physical id and no data"
)]
pub trait IntoOutcome {
    /// The outcome.
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Outcome {
        Outcome::default()
    }
}

/// The partial answer, as JSON: `PhysicalResourceId`, `NoEcho` and `Data` when set.
impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if let Some(id) = &self.physical_resource_id {
            map.serialize_entry("PhysicalResourceId", id)?;
        }
        map.serialize_entry("NoEcho", &self.no_echo)?;
        if let Some(Ok(data)) = &self.data {
            map.serialize_entry("Data", data)?;
        }
        map.end()
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A custom resource request as it arrives, before helve reads it: any JSON object.
///
/// It is the event type of [`CustomResourceHandler`]; helve reads every field itself, so that
/// a request with a missing or unexpected field still gets an answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct RawRequest(Map<String, Value>);

impl RawRequest {
    /// A request made of these fields.
    pub fn new(fields: Map<String, Value>) -> Self {
        Self(fields)
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }
}

/// Decodes a value that CloudFormation sends as a string (every property value is one), or
/// that is already a JSON number or boolean, with `FromStr`:
/// `#[serde(deserialize_with = "helve::cfn::from_string")]`.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Props {
///     #[serde(deserialize_with = "helve::cfn::from_string")]
///     port: u16,
/// }
/// let props: Props = serde_json::from_str(r#"{"port": "5432"}"#).unwrap();
/// assert_eq!(props.port, 5432);
/// ```
pub fn from_string<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr + DeserializeOwned,
    T::Err: fmt::Display,
{
    use serde::de::Error as _;
    match Value::deserialize(deserializer)? {
        Value::String(text) => text
            .trim()
            .parse()
            .map_err(|error| D::Error::custom(format!("`{text}` does not parse: {error}"))),
        other => T::deserialize(other).map_err(D::Error::custom),
    }
}

/// The answer helve sent (or, in local mode, would send), as the invocation's response; `Data`
/// is masked when `NoEcho` is set.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Answered(Body);

impl Answered {
    /// `SUCCESS` or `FAILED`.
    pub fn status(&self) -> &str {
        self.0.status.as_str()
    }

    /// The physical resource id sent.
    pub fn physical_resource_id(&self) -> &str {
        &self.0.physical_resource_id
    }

    /// Why the answer is `FAILED`.
    pub fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}

/// No answer could be sent to CloudFormation: the stack waits for its `ServiceTimeout`.
/// Reported as `helve.CustomResourceNotAnswered`.
#[derive(Debug)]
pub struct NotAnswered {
    why: String,
}

impl fmt::Display for NotAnswered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloudFormation was not answered: {}", self.why)
    }
}

impl std::error::Error for NotAnswered {}

impl FunctionError for NotAnswered {
    fn error_type(&self) -> std::borrow::Cow<'static, str> {
        "helve.CustomResourceNotAnswered".into()
    }
}

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

    fn init_failure_answer(&self) -> Option<crate::handler::InitFailureAnswer> {
        Some(answer_after_init_failure)
    }
}

/// The future of [`CustomResourceHandler`]: the whole exchange with CloudFormation.
pub type AnswerFuture = Pin<Box<dyn Future<Output = Result<Answered, NotAnswered>> + Send>>;

/// The ids every answer repeats from the request.
struct Ids {
    stack_id: String,
    request_id: String,
    logical_resource_id: String,
}

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
            tracing::error!(error_type = "helve.CustomResourceNotAnswered", "{why}");
            return Err(NotAnswered { why });
        };
        let body = self.decide(&request, &context, state, deadline).await;
        let log_stream = &context.lambda().env_config.log_stream;
        let body = body.finish(log_stream);
        deliver(&response_url, body, deadline).await
    }

    /// Everything before sending: read the request, call the handler, build the answer.
    async fn decide<S, M>(
        &self,
        request: &RawRequest,
        context: &Context,
        state: &'static S,
        deadline: Instant,
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
            let reason = format!(
                "invalid ResourceProperties: {}",
                crate::validation::describe(&errors)
            );
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
        let handler_deadline = deadline.checked_sub(self.deadline_margin);
        let Some(handler_deadline) = handler_deadline.filter(|at| *at > Instant::now()) else {
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
                self.success(&ids, request_type, existing, outcome, on_failure)
            }
            Ok(Ok(Err(error))) => {
                let diagnostic = error::diagnostic(&error);
                tracing::error!(
                    error_type = %diagnostic.error_type,
                    "the handler failed: {}",
                    diagnostic.error_message
                );
                failed(&ids, on_failure, diagnostic.error_message)
            }
            Ok(Err(panic)) => failed(&ids, on_failure, panic.to_string()),
            Err(_elapsed) => {
                let reason = format!(
                    "the handler did not finish {} before the function's deadline, so helve \
                     answered without it (its result is ignored); raise the function's timeout",
                    seconds(self.deadline_margin)
                );
                tracing::error!(error_type = "helve.CustomResourceTimeout", "{reason}");
                failed(&ids, on_failure, reason)
            }
        }
    }

    fn success(
        &self,
        ids: &Ids,
        request_type: RequestType,
        existing: Option<String>,
        outcome: Outcome,
        on_failure: String,
    ) -> Body {
        let Outcome {
            physical_resource_id,
            data,
            no_echo,
        } = outcome;
        let physical = match (physical_resource_id, existing) {
            (Some(id), _) => id,
            (None, Some(existing)) => existing,
            (None, None) if request_type == RequestType::Create => {
                default_physical_id(&ids.stack_id, &ids.logical_resource_id)
            }
            (None, None) => on_failure.clone(),
        };
        if physical.is_empty() || physical.len() > MAX_PHYSICAL_ID_BYTES {
            let reason = format!(
                "the handler's PhysicalResourceId is {} bytes; CloudFormation accepts 1 to {MAX_PHYSICAL_ID_BYTES}",
                physical.len()
            );
            tracing::error!(error_type = "helve.InvalidCustomResourceAnswer", "{reason}");
            return failed(ids, on_failure, reason);
        }
        let data = match data {
            None => None,
            Some(Ok(map)) => Some(map),
            Some(Err(reason)) => {
                tracing::error!(error_type = "helve.InvalidCustomResourceAnswer", "{reason}");
                // The resource exists: keep its id, so that CloudFormation's Delete reaches it.
                return failed(ids, physical, reason);
            }
        };
        let mut body = Body::new(Status::Success, physical, ids);
        body.no_echo = no_echo;
        body.data = data;
        body
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

/// The answer to a request the handler is not called for, logged as such.
fn rejected(ids: &Ids, physical_resource_id: String, reason: String) -> Body {
    tracing::error!(
        error_type = "helve.InvalidCustomResourceRequest",
        "{reason}; the handler was not called"
    );
    failed(ids, physical_resource_id, reason)
}

/// Answers a request that arrived after the init step failed: FAILED with the init error (or
/// SUCCESS for the Delete of a resource whose Create failed), so that the stack does not wait.
fn answer_after_init_failure(
    event: bytes::Bytes,
    deadline: Instant,
    failure: lambda_runtime::Diagnostic,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
    Box::pin(async move {
        let request = match serde_json::from_slice::<RawRequest>(&event) {
            Ok(request) => request,
            Err(error) => {
                tracing::error!(
                    error_type = "helve.InvalidEvent",
                    "the event is not a custom resource request ({error}); it cannot be answered"
                );
                return;
            }
        };
        let Some(url) = request.text("ResponseURL") else {
            tracing::error!(
                error_type = "helve.CustomResourceNotAnswered",
                "the request has no ResponseURL, so there is nowhere to answer"
            );
            return;
        };
        let body = match Prepared::read(&request) {
            Ok(prepared) => {
                let reason = format!(
                    "the function's init failed, so the handler was not called: {}",
                    failure.error_message
                );
                failed(&prepared.ids, prepared.on_failure, reason)
            }
            Err(answer) => *answer,
        };
        let log_stream = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default();
        // The outcome is logged; the invocation reports the init error either way.
        let _ = deliver(url, body.finish(&log_stream), deadline).await;
    })
}

fn failed(ids: &Ids, physical_resource_id: String, reason: String) -> Body {
    let mut body = Body::new(Status::Failed, physical_resource_id, ids);
    body.reason = Some(reason);
    body
}

/// Sends the answer (or prints it in local mode) and turns the result into the invocation's.
async fn deliver(url: &str, body: Body, deadline: Instant) -> Result<Answered, NotAnswered> {
    let masked = body.masked();
    if crate::local::active() {
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
                error_type = "helve.CustomResourceNotAnswered",
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

/// Decodes `ResourceProperties` or `OldResourceProperties`, without `ServiceToken` and
/// `ServiceTimeout`; a missing field decodes as `{}`.
fn decode<P: DeserializeOwned>(request: &RawRequest, field: &str) -> Result<P, String> {
    let value = match request.0.get(field) {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(map)) => Value::Object(
            map.iter()
                .filter(|(key, _)| {
                    key.as_str() != "ServiceToken" && key.as_str() != "ServiceTimeout"
                })
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        Some(other) => {
            return Err(format!(
                "invalid {field}: expected a JSON object, found {}",
                kind(other)
            ));
        }
    };
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            format!("invalid {field}: {}", error.inner())
        } else {
            format!("invalid {field} at {path}: {}", error.inner())
        }
    })
}

fn failed_create_id(request_id: &str) -> String {
    format!("{FAILED_CREATE_PREFIX}{request_id}")
}

/// The stack name in a stack ARN: `arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`.
fn stack_name(stack_id: &str) -> &str {
    stack_id
        .split_once(":stack/")
        .and_then(|(_, rest)| rest.split('/').next())
        .filter(|name| !name.is_empty())
        .unwrap_or("stack")
}

/// `<stack name>-<logical id>-<12 hex digits of FNV-1a over the stack ARN and logical id>`.
fn default_physical_id(stack_id: &str, logical_id: &str) -> String {
    let mut hash = Fnv1a::new();
    hash.write(stack_id.as_bytes());
    hash.write(b"/");
    hash.write(logical_id.as_bytes());
    format!(
        "{}-{}-{:012x}",
        stack_name(stack_id),
        logical_id,
        hash.finish() & 0xffff_ffff_ffff
    )
}

fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{} s", millis / 1000)
    } else {
        format!("{millis} ms")
    }
}

#[cfg(test)]
mod tests;
