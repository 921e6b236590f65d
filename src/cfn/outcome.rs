//! The outcome: what a handler answers, how it becomes the body sent to CloudFormation, and
//! what the invocation returns.

use crate::error::codes;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    body::{Body, Status},
    physical_id::{MAX_PHYSICAL_ID_BYTES, default_physical_id},
    request::{Ids, RequestType, kind},
};
use crate::error::FunctionError;

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

// Neither impl is listed in a diagnostic: the message names both, without a path into helve.
#[diagnostic::do_not_recommend]
impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

#[diagnostic::do_not_recommend]
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

/// The answer helve sent (or, in local mode, would send), as the invocation's response; `Data`
/// is masked when `NoEcho` is set.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Answered(pub(super) Body);

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
    pub(super) why: String,
}

impl fmt::Display for NotAnswered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloudFormation was not answered: {}", self.why)
    }
}

impl std::error::Error for NotAnswered {}

impl FunctionError for NotAnswered {
    fn error_type(&self) -> std::borrow::Cow<'static, str> {
        codes::CUSTOM_RESOURCE_NOT_ANSWERED.into()
    }
}

/// The answer to a request the handler is not called for, logged as such.
pub(super) fn rejected(ids: &Ids, physical_resource_id: String, reason: String) -> Body {
    tracing::error!(
        error_type = codes::INVALID_CUSTOM_RESOURCE_REQUEST,
        "{reason}; the handler was not called"
    );
    failed(ids, physical_resource_id, reason)
}

/// The answer to a handler that returned `outcome`: SUCCESS, unless the outcome is not one
/// CloudFormation accepts.
pub(super) fn success(
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
        tracing::error!(
            error_type = codes::INVALID_CUSTOM_RESOURCE_ANSWER,
            "{reason}"
        );
        return failed(ids, on_failure, reason);
    }
    let data = match data {
        None => None,
        Some(Ok(map)) => Some(map),
        Some(Err(reason)) => {
            tracing::error!(
                error_type = codes::INVALID_CUSTOM_RESOURCE_ANSWER,
                "{reason}"
            );
            // The resource exists: keep its id, so that CloudFormation's Delete reaches it.
            return failed(ids, physical, reason);
        }
    };
    let mut body = Body::new(Status::Success, physical, ids);
    body.no_echo = no_echo;
    body.data = data;
    body
}

/// A FAILED answer with `reason`.
pub(super) fn failed(ids: &Ids, physical_resource_id: String, reason: String) -> Body {
    let mut body = Body::new(Status::Failed, physical_resource_id, ids);
    body.reason = Some(reason);
    body
}
