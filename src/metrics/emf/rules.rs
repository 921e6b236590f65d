//! What CloudWatch accepts: the EMF limits, the namespace, and the checks of names and values.

use std::{fmt, sync::Arc};

use super::{
    error::{Field, InvalidMetric, Reason},
    limits::{MAX_DIMENSION_VALUE_LEN, MAX_MAGNITUDE, MAX_NAME_LEN, MIN_MAGNITUDE},
};
use crate::fnv::Fnv1a;

/// A CloudWatch namespace, checked once when it is built.
///
/// 1 to 1024 characters, each a letter, a digit, a space or one of `. - _ / # :`; at least one
/// is not a space; not starting with `:`, nor with `AWS/`, which CloudWatch keeps for AWS
/// services.
///
/// ```
/// use helve::metrics::emf::Namespace;
///
/// assert_eq!(Namespace::new("Shop/Orders")?.as_str(), "Shop/Orders");
/// assert!(Namespace::new("AWS/Lambda").is_err());
/// # Ok::<(), helve::metrics::emf::InvalidMetric>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace(Arc<str>);

impl Namespace {
    /// Checks `name` against CloudWatch's rules for a namespace.
    pub fn new(name: impl Into<String>) -> Result<Namespace, InvalidMetric> {
        let name = name.into();
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b" .-_/#:".contains(&b);
        let reason = if is_blank(&name) {
            Some(Reason::Empty)
        } else if name.len() > MAX_NAME_LEN {
            Some(Reason::TooLong { max: MAX_NAME_LEN })
        } else if !name.bytes().all(allowed) {
            Some(Reason::InvalidCharacter)
        } else if name.starts_with(':') {
            Some(Reason::StartsWithColon)
        } else if name.starts_with("AWS/") {
            Some(Reason::Reserved)
        } else {
            None
        };
        match reason {
            Some(reason) => Err(InvalidMetric::new(Field::Namespace, reason, name)),
            None => Ok(Namespace(name.into())),
        }
    }

    /// The namespace.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Namespace {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Refuses the first value of metric `name` that CloudWatch would not take.
pub(super) fn check_values(name: &str, values: &[f64]) -> Result<(), InvalidMetric> {
    if let Some(&value) = values.iter().find(|&&value| !is_acceptable(value)) {
        let reason = if value.is_finite() {
            Reason::OutOfRange
        } else {
            Reason::NotFinite
        };
        let mut error = InvalidMetric::new(Field::MetricValue, reason, name);
        error.value = Some(value);
        return Err(error);
    }
    Ok(())
}

pub(super) fn check_dimension_value(key: &str, value: &str) -> Result<(), InvalidMetric> {
    let reason = if is_blank(value) {
        Reason::Empty
    } else if value.len() > MAX_DIMENSION_VALUE_LEN {
        Reason::TooLong {
            max: MAX_DIMENSION_VALUE_LEN,
        }
    } else if !is_printable_ascii(value) {
        Reason::InvalidCharacter
    } else {
        return Ok(());
    };
    Err(InvalidMetric::new(Field::DimensionValue, reason, key))
}

/// FNV-1a: fast on short names, and only ever compared within one set.
pub(super) fn name_hash(name: &str) -> u64 {
    Scan::of(name).hash
}

/// What one pass over a metric name tells.
pub(super) struct Scan {
    /// [`name_hash`].
    pub(super) hash: u64,
    /// `' '` to `'~'` only.
    pub(super) printable: bool,
    /// Nothing but `' '` (or empty).
    spaces_only: bool,
    /// Printable and free of the two characters JSON escapes among them, `"` and `\`.
    pub(super) plain: bool,
}

impl Scan {
    pub(super) fn of(name: &str) -> Scan {
        let mut hash = Fnv1a::new();
        let mut scan = Scan {
            hash: 0,
            printable: true,
            spaces_only: true,
            plain: true,
        };
        for b in name.bytes() {
            hash.write_u8(b);
            scan.printable &= (b' '..=b'~').contains(&b);
            scan.spaces_only &= b == b' ';
            scan.plain &= b != b'"' && b != b'\\';
        }
        scan.plain &= scan.printable;
        scan.hash = hash.finish();
        scan
    }

    /// [`is_blank`] for the name scanned.
    pub(super) fn is_blank(&self, name: &str) -> bool {
        if self.printable {
            self.spaces_only
        } else {
            is_blank(name)
        }
    }
}

/// Empty, or nothing but whitespace.
pub(super) fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// `' '` to `'~'` only: what CloudWatch accepts in dimensions (so length in bytes is length in
/// characters).
pub(super) fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// A value CloudWatch accepts.
fn is_acceptable(value: f64) -> bool {
    value == 0.0 || (MIN_MAGNITUDE..=MAX_MAGNITUDE).contains(&value.abs())
}
