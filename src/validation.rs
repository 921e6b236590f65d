//! Validation of decoded events with the [`validator`] crate (feature `validate`).
//!
//! helve validates what it decodes for you, before your handler sees it, when the type
//! derives `validator::Validate`: an HTTP body taken as `Valid<T>` (answered 422), a batch
//! record's payload (`SqsMessage<T>`, `KinesisRecord<T>`, `DynamoDbRecord<T>`: the record
//! fails), a custom resource's `ResourceProperties` (answered FAILED), a `#[helve::handler]`'s
//! plain event (`helve.ValidationFailed`), and an S3 object's lines read with `decode_valid`.
//! A type that does not derive `Validate` is used as decoded.
//!
//! The errors are reported field by field: where ([`FieldError::path`]), the rule's code, and
//! its message: the one given in `#[validate(...)]`, else one helve writes from the rule's
//! parameters (`must be 1 to 100 characters`, `must be at least 1`, `must be an email
//! address`). The rejected value is never shown (it may be a secret).
//!
//! # Field names
//!
//! `validator` names fields by their Rust names. Wherever helve has the JSON the client sent
//! (all of the above), it names each field by the key the client used instead, so that
//! `#[serde(rename = "noteTitle")]` and `#[serde(rename_all = "camelCase")]` are honoured, in
//! nested paths too (`lineItems[2].skuCode`): at each level, the key of the sent object that
//! is the Rust name, or else the one key that is the Rust name once case, `_` and `-` are set
//! aside (which covers every `rename_all` rule). The limit: a field renamed to another word
//! (`#[serde(rename = "title")] subject`), or one the client did not send (a `default`), keeps
//! its Rust name. [`field_errors`] and [`describe`], without the JSON, give the Rust names.

use std::{borrow::Cow, fmt};

use serde_json::Value;
pub use validator::{Validate, ValidationErrors};

/// A check of a decoded value, run before the handler sees it: `Validate::validate`, a probe
/// of it, or a function of your own.
pub type Validator<T> = fn(&T) -> Result<(), ValidationErrors>;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where: `name`, `address.city`, `items[2].sku`, or `__all__` for a struct-level rule;
    /// by the keys the client sent when the JSON was at hand (see the module docs).
    pub path: String,
    /// The rule's code: `length`, `range`, `email`, or a custom code.
    pub code: String,
    /// The rule's message: the one it was given, else helve's for a rule of `validator`
    /// (`must be 1 to 100 characters`); `None` for a custom rule without one.
    pub message: Option<String>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(message) => write!(f, "{}: {message} ({})", self.path, self.code),
            None => write!(f, "{}: fails `{}`", self.path, self.code),
        }
    }
}

/// Every field error of `errors`, sorted by path then code, without the rejected values;
/// fields by their Rust names.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    sorted(errors, None)
}

/// Every field error of `errors`, as [`field_errors`], with each field named by the key it
/// has in `sent`, the JSON that was decoded (see the module docs).
pub fn field_errors_as_sent(errors: &ValidationErrors, sent: &Value) -> Vec<FieldError> {
    sorted(errors, Some(sent))
}

fn sorted(errors: &ValidationErrors, sent: Option<&Value>) -> Vec<FieldError> {
    let mut found = Vec::new();
    collect(errors, "", sent, &mut found);
    found.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.code.cmp(&b.code)));
    found
}

fn collect(
    errors: &ValidationErrors,
    prefix: &str,
    sent: Option<&Value>,
    found: &mut Vec<FieldError>,
) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let name = sent_name(sent, field);
        let value = sent.and_then(|sent| sent.get(name.as_ref()));
        let path = if prefix.is_empty() {
            name.into_owned()
        } else {
            format!("{prefix}.{name}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                found.extend(list.iter().map(|error| FieldError {
                    path: path.clone(),
                    code: error.code.to_string(),
                    message: match &error.message {
                        Some(message) => Some(message.to_string()),
                        None => rule_message(error, value),
                    },
                }));
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, value, found),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    let item = value.and_then(|list| list.get(*index));
                    collect(inner, &format!("{path}[{index}]"), item, found);
                }
            }
        }
    }
}

/// The key of `sent` (an object) that holds the Rust field `field`: the same name, or the one
/// key equal to it once case, `_` and `-` are set aside; else the Rust name.
fn sent_name<'a>(sent: Option<&'a Value>, field: &'a str) -> Cow<'a, str> {
    let Some(Value::Object(object)) = sent else {
        return Cow::Borrowed(field);
    };
    if object.contains_key(field) {
        return Cow::Borrowed(field);
    }
    let folded = |name: &str| -> String {
        name.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = folded(field);
    let mut keys = object.keys().filter(|key| folded(key) == wanted);
    match (keys.next(), keys.next()) {
        (Some(key), None) => Cow::Borrowed(key.as_str()),
        _ => Cow::Borrowed(field),
    }
}

/// The message of a rule of `validator` given without one, from its parameters (never from
/// the rejected value, `value` in the parameters): `must be 1 to 100 characters`.
fn rule_message(error: &validator::ValidationError, sent: Option<&Value>) -> Option<String> {
    let param = |name: &str| {
        error.params.get(name).map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    };
    let message = match error.code.as_ref() {
        "length" => {
            let bounds = match (param("equal"), param("min"), param("max")) {
                (Some(equal), _, _) => format!("exactly {equal}"),
                (None, Some(min), Some(max)) => format!("{min} to {max}"),
                (None, Some(min), None) => format!("at least {min}"),
                (None, None, Some(max)) => format!("at most {max}"),
                (None, None, None) => return None,
            };
            let one = bounds.ends_with(" 1");
            let unit = match (sent, one) {
                (Some(Value::Array(_)), false) => " items",
                (Some(Value::Array(_)), true) => " item",
                (Some(Value::Object(_)), false) => " entries",
                (Some(Value::Object(_)), true) => " entry",
                (Some(Value::String(_)), false) => " characters",
                (Some(Value::String(_)), true) => " character",
                _ => "",
            };
            if unit.is_empty() {
                format!("must have a length of {bounds}")
            } else {
                format!("must be {bounds}{unit}")
            }
        }
        "range" => {
            let lower = param("min")
                .map(|min| ("at least", min))
                .or_else(|| param("exclusive_min").map(|min| ("above", min)));
            let upper = param("max")
                .map(|max| ("at most", max))
                .or_else(|| param("exclusive_max").map(|max| ("below", max)));
            match (lower, upper) {
                (Some(("at least", min)), Some(("at most", max))) => {
                    format!("must be {min} to {max}")
                }
                (Some((low, min)), Some((high, max))) => {
                    format!("must be {low} {min} and {high} {max}")
                }
                (Some((bound, limit)), None) | (None, Some((bound, limit))) => {
                    format!("must be {bound} {limit}")
                }
                (None, None) => return None,
            }
        }
        "email" => "must be an email address".to_owned(),
        "url" => "must be a URL".to_owned(),
        "ip" => "must be an IP address".to_owned(),
        "credit_card" => "must be a credit card number".to_owned(),
        "non_control_character" => "must not contain control characters".to_owned(),
        "required" => "is required".to_owned(),
        "regex" => "must match the expected pattern".to_owned(),
        "contains" => format!("must contain `{}`", param("needle")?),
        "does_not_contain" => format!("must not contain `{}`", param("needle")?),
        // Its parameter is the other field's value: never shown.
        "must_match" => "must match the field it is checked against".to_owned(),
        _ => return None,
    };
    Some(message)
}

/// `errors` as one line: `name: must have a length of at least 1 (length); port: must be below
/// 65536 (range)`, fields by their Rust names.
pub fn describe(errors: &ValidationErrors) -> String {
    join(&field_errors(errors))
}

/// `errors` as one line, as [`describe`], with each field named by the key it has in `sent`.
pub fn describe_as_sent(errors: &ValidationErrors, sent: &Value) -> String {
    join(&field_errors_as_sent(errors, sent))
}

/// The paths of `fields`, comma-separated: what a log line says failed, without the values.
#[cfg(feature = "http")]
pub(crate) fn paths(fields: &[FieldError]) -> String {
    let mut text = String::new();
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        text.push_str(&field.path);
    }
    text
}

fn join(fields: &[FieldError]) -> String {
    let mut text = String::new();
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            text.push_str("; ");
        }
        text.push_str(&field.to_string());
    }
    text
}

/// Chooses, at the call site, between validating a type that implements [`Validate`] and
/// accepting one that does not: `(&Probe(&value)).helve_validate()`. Used by the code
/// `#[helve::handler]` generates, where the type is concrete.
#[doc(hidden)]
#[derive(Debug)]
pub struct Probe<'a, T>(pub &'a T);

/// The probe of a type that implements [`Validate`]: it is validated.
#[doc(hidden)]
pub trait ProbeValidate {
    /// Validates the value.
    fn helve_validate(&self) -> Result<(), ValidationErrors>;
}

impl<T: Validate> ProbeValidate for Probe<'_, T> {
    fn helve_validate(&self) -> Result<(), ValidationErrors> {
        self.0.validate()
    }
}

/// The probe of any other type: nothing to validate.
#[doc(hidden)]
pub trait ProbeAccept {
    /// Accepts the value.
    fn helve_validate(&self) -> Result<(), ValidationErrors>;
}

impl<T> ProbeAccept for &Probe<'_, T> {
    fn helve_validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use validator::ValidationError;

    use super::*;

    struct Plain;

    struct Checked(bool);

    impl Validate for Checked {
        fn validate(&self) -> Result<(), ValidationErrors> {
            if self.0 {
                return Ok(());
            }
            let mut errors = ValidationErrors::new();
            let mut error = ValidationError::new("range");
            error.add_param(Cow::Borrowed("value"), &"hunter2");
            errors.add(
                "port",
                error.with_message(Cow::Borrowed("must be below 65536")),
            );
            errors.add("name", ValidationError::new("length"));
            Err(errors)
        }
    }

    #[derive(Debug, serde::Deserialize, Validate)]
    #[serde(rename_all = "camelCase")]
    struct NewNote {
        #[serde(rename = "noteTitle")]
        #[validate(length(min = 1, max = 100))]
        note_title: String,
        // Renamed to another word: the limit, it keeps its Rust name.
        #[serde(rename = "topic")]
        #[validate(length(max = 8))]
        subject: String,
        #[validate(email)]
        author_email: String,
        #[validate(range(min = 1))]
        priority: i32,
        #[validate(length(min = 1), nested)]
        line_items: Vec<LineItem>,
        #[validate(range(min = 0.5, exclusive_max = 10.0))]
        weight: f64,
        #[validate(length(equal = 2, message = "must be a country code"))]
        country: String,
    }

    #[derive(Debug, serde::Deserialize, serde::Serialize, Validate)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    struct LineItem {
        #[validate(length(min = 1, max = 64))]
        sku_code: String,
        #[validate(contains(pattern = "-"))]
        batch: String,
    }

    fn sent_and_errors(json: &str) -> (Value, ValidationErrors) {
        let sent: Value = serde_json::from_str(json).unwrap();
        let note: NewNote = serde_json::from_value(sent.clone()).unwrap();
        (sent, note.validate().unwrap_err())
    }

    const INVALID_NOTE: &str = r#"{
        "noteTitle": "", "topic": "far too long", "authorEmail": "secret-value",
        "priority": 0, "weight": 10.0,
        "country": "FRA",
        "lineItems": [{"SKU_CODE": "A", "BATCH": "b1"}, {"SKU_CODE": "", "BATCH": "b-2"}]
    }"#;

    #[test]
    fn each_field_is_named_as_the_client_sent_it_with_the_rules_parameters() {
        let (sent, errors) = sent_and_errors(INVALID_NOTE);
        let fields: Vec<String> = field_errors_as_sent(&errors, &sent)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            fields,
            [
                "authorEmail: must be an email address (email)",
                "country: must be a country code (length)",
                "lineItems[0].BATCH: must contain `-` (contains)",
                "lineItems[1].SKU_CODE: must be 1 to 64 characters (length)",
                "noteTitle: must be 1 to 100 characters (length)",
                "priority: must be at least 1 (range)",
                "subject: must have a length of at most 8 (length)",
                "weight: must be at least 0.5 and below 10.0 (range)",
            ]
        );
        let text = describe_as_sent(&errors, &sent);
        for value in ["secret-value", "FRA", "b1"] {
            assert!(!text.contains(value), "never the value: {text}");
        }
    }

    #[test]
    fn without_the_json_the_fields_keep_their_rust_names() {
        let (_, errors) = sent_and_errors(INVALID_NOTE);
        let paths: Vec<String> = field_errors(&errors)
            .into_iter()
            .map(|field| field.path)
            .collect();
        assert_eq!(
            paths,
            [
                "author_email",
                "country",
                "line_items[0].batch",
                "line_items[1].sku_code",
                "note_title",
                "priority",
                "subject",
                "weight",
            ]
        );
        // Without the JSON helve cannot tell characters from items.
        assert_eq!(
            field_errors(&errors)[4].message.as_deref(),
            Some("must have a length of 1 to 100")
        );
    }

    #[test]
    fn a_length_of_a_list_counts_items_and_one_is_singular() {
        let (sent, errors) = sent_and_errors(
            r#"{"noteTitle": "t", "topic": "t", "authorEmail": "a@example.com", "priority": 1,
                "weight": 1.0, "country": "FR", "lineItems": []}"#,
        );
        assert_eq!(
            describe_as_sent(&errors, &sent),
            "lineItems: must be at least 1 item (length)"
        );
    }

    #[test]
    fn a_key_that_matches_two_ways_keeps_the_rust_name() {
        let sent = serde_json::json!({"noteTitle": "", "note-title": ""});
        assert_eq!(sent_name(Some(&sent), "note_title"), "note_title");
        assert_eq!(sent_name(Some(&sent), "noteTitle"), "noteTitle");
        assert_eq!(sent_name(None, "note_title"), "note_title");
    }

    #[test]
    fn a_type_without_rules_is_accepted_and_one_with_rules_is_checked() {
        assert!((&Probe(&Plain)).helve_validate().is_ok());
        assert!(Probe(&Checked(true)).helve_validate().is_ok());
        let errors = Probe(&Checked(false)).helve_validate().unwrap_err();
        let text = describe(&errors);
        assert_eq!(
            text,
            "name: fails `length`; port: must be below 65536 (range)"
        );
        assert!(
            !text.contains("hunter2"),
            "the rejected value is never shown"
        );
    }
}
