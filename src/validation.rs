//! Validation of decoded events with the [`validator`] crate (feature `validate`).
//!
//! helve validates what it decodes for you, before your handler sees it: a custom resource's
//! `ResourceProperties` today. A type opts in by deriving `validator::Validate`; a type that
//! does not is used as decoded. The errors are reported field by field with the validator's
//! code and message, never with the rejected value (which may be a secret).
//!
//! Field names are the Rust names: `validator` does not know about `#[serde(rename)]`.

use std::fmt;

pub use validator::{Validate, ValidationErrors};

/// A check of a decoded value, run before the handler sees it: `Validate::validate`, a probe
/// of it, or a function of your own.
pub type Validator<T> = fn(&T) -> Result<(), ValidationErrors>;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where: `name`, `address.city`, `items[2].sku`, or `__all__` for a struct-level rule.
    pub path: String,
    /// The rule's code: `length`, `range`, `email`, or a custom code.
    pub code: String,
    /// The rule's message, when it has one.
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

/// Every field error of `errors`, sorted by path then code, without the rejected values.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut found = Vec::new();
    collect(errors, "", &mut found);
    found.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.code.cmp(&b.code)));
    found
}

fn collect(errors: &ValidationErrors, prefix: &str, found: &mut Vec<FieldError>) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                found.extend(list.iter().map(|error| FieldError {
                    path: path.clone(),
                    code: error.code.to_string(),
                    message: error.message.as_ref().map(ToString::to_string),
                }));
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, found),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), found);
                }
            }
        }
    }
}

/// `errors` as one line: `name: fails `length`; port: must be below 65536 (range)`.
pub fn describe(errors: &ValidationErrors) -> String {
    let fields = field_errors(errors);
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
