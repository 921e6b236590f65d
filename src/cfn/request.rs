//! The request: what CloudFormation asks, read from the event as it arrives, and its properties
//! decoded.

use std::fmt;

use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::physical_id::{default_physical_id, stack_name};

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
    pub(super) request_type: RequestType,
    pub(super) properties: P,
    pub(super) old_properties: Option<P>,
    pub(super) physical_resource_id: Option<String>,
    pub(super) logical_resource_id: String,
    pub(super) stack_id: String,
    pub(super) request_id: String,
    pub(super) resource_type: String,
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

/// A custom resource request as it arrives, before helve reads it: any JSON object.
///
/// It is the event type of [`CustomResourceHandler`](super::CustomResourceHandler); helve reads every field itself, so that
/// a request with a missing or unexpected field still gets an answer. A field whose JSON cannot
/// be read as a value (a lone surrogate in a string, a number beyond `f64`, nesting past
/// serde_json's limit) does not fail the whole request: it is kept as unreadable, so that the
/// request is still answered, FAILED, naming the field.
#[derive(Debug, Clone, Default)]
pub struct RawRequest {
    fields: Map<String, Value>,
    /// The fields that are JSON but not values serde_json holds, with why.
    unreadable: Vec<(String, String)>,
}

impl RawRequest {
    /// A request made of these fields.
    pub fn new(fields: Map<String, Value>) -> Self {
        Self {
            fields,
            unreadable: Vec::new(),
        }
    }

    pub(super) fn text(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    /// The top-level text fields of a request serde_json cannot read at all (not UTF-8, cut
    /// short, nested past its limit, a stray byte): a tolerant scan that skips what it cannot
    /// read, so that a request whose `ResponseURL` and ids are readable is still answered.
    /// Only fields of the outermost object count, never a field of the same name inside
    /// `ResourceProperties`.
    pub(super) fn scan(raw: &[u8]) -> RawRequest {
        let mut request = RawRequest::default();
        let mut depth = 0usize;
        // A string read at the top level, before its `:`; then the key whose value is next.
        let mut key: Option<String> = None;
        let mut value_of: Option<String> = None;
        let mut at = 0;
        while let Some(&byte) = raw.get(at) {
            match byte {
                b'"' => {
                    let Some(end) = string_end(raw, at) else {
                        break;
                    };
                    if depth == 1 {
                        let text = raw.get(at..=end).unwrap_or_default();
                        let text = serde_json::from_slice::<String>(text).ok();
                        match value_of.take() {
                            Some(field) => {
                                if let Some(text) = text {
                                    request.fields.entry(field).or_insert(Value::String(text));
                                }
                            }
                            None => key = text,
                        }
                    }
                    at = end + 1;
                    continue;
                }
                b':' if depth == 1 => value_of = key.take(),
                b'{' | b'[' => {
                    depth += 1;
                    key = None;
                    if depth > 1 {
                        value_of = None;
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                byte if depth == 1 && !byte.is_ascii_whitespace() => {
                    // A comma, or a value that is not text.
                    key = None;
                    value_of = None;
                }
                _ => {}
            }
            at += 1;
        }
        request
    }

    /// The field `key`, as sent.
    pub(super) fn value(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// Why the field `key` could not be read, when it could not.
    pub(super) fn unreadable(&self, key: &str) -> Option<&str> {
        self.unreadable
            .iter()
            .find(|(field, _)| field == key)
            .map(|(_, why)| why.as_str())
    }
}

impl<'de> Deserialize<'de> for RawRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Reads the request's fields one by one, each as raw JSON first.
        struct Fields;

        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = RawRequest;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a custom resource request (a JSON object)")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawRequest, A::Error> {
                let mut request = RawRequest::default();
                while let Some(key) = map.next_key::<String>()? {
                    let raw = map.next_value::<Box<serde_json::value::RawValue>>()?;
                    match serde_json::from_str::<Value>(raw.get()) {
                        Ok(value) => {
                            request.fields.insert(key, value);
                        }
                        // serde_json's message names the line and column, never the value.
                        Err(error) => request.unreadable.push((key, error.to_string())),
                    }
                }
                Ok(request)
            }
        }

        deserializer.deserialize_map(Fields)
    }
}

/// Where the JSON string opening at `open` (a `"`) ends: its closing quote; `None` when it
/// does not end.
fn string_end(raw: &[u8], open: usize) -> Option<usize> {
    let mut at = open + 1;
    while let Some(&byte) = raw.get(at) {
        match byte {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
    None
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

/// The ids every answer repeats from the request.
pub(super) struct Ids {
    pub(super) stack_id: String,
    pub(super) request_id: String,
    pub(super) logical_resource_id: String,
}

/// Decodes `ResourceProperties` or `OldResourceProperties`, without `ServiceToken` and
/// `ServiceTimeout`; a missing field decodes as `{}`.
pub(super) fn decode<P: DeserializeOwned>(request: &RawRequest, field: &str) -> Result<P, String> {
    if let Some(why) = request.unreadable(field) {
        return Err(format!("invalid {field}: its JSON cannot be read: {why}"));
    }
    let value = match request.fields.get(field) {
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
    crate::decode::deserialize(value).map_err(|error| match error.path() {
        None => format!("invalid {field}: {error}"),
        Some(path) => format!("invalid {field} at {path}: {error}"),
    })
}

/// How a JSON value is named in a `Reason`: `a string`, `an object`.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
