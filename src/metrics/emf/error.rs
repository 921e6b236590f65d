//! What was refused when recording and what was left out when writing.

use std::fmt;

use super::{
    limits::{MAX_DIMENSIONS, MAX_DOCUMENT_BYTES},
    unit::{Resolution, Unit},
};

/// What [`MetricSet::write`](super::MetricSet::write) did: how many documents it wrote and what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub(super) documents: usize,
    pub(super) dropped: Vec<Dropped>,
}

impl WriteReport {
    /// The number of documents (lines) written.
    pub fn documents(&self) -> usize {
        self.documents
    }

    /// What was left out of the documents, in the order it was found. Log each at WARN.
    pub fn dropped(&self) -> &[Dropped] {
        &self.dropped
    }
}

/// Something [`MetricSet::write`](super::MetricSet::write) left out rather than write a document CloudWatch rejects.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// A metadata entry whose key is also a dimension key, a metric name or `_aws`: the
    /// dimension or metric keeps the key.
    MetadataKeyInUse {
        /// The metadata key.
        key: String,
    },
    /// A metadata entry too large to fit in a document beside the dimensions, the metadata
    /// added before it and one metric.
    MetadataTooLarge {
        /// The metadata key.
        key: String,
        /// The size of the entry as written, in bytes.
        bytes: usize,
    },
    /// Values of a metric that fit in no document. Cannot happen with
    /// [`MAX_DOCUMENT_BYTES`]; listed so that nothing is ever dropped silently.
    Values {
        /// The metric name.
        metric: String,
        /// How many values were left out.
        count: usize,
    },
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::MetadataKeyInUse { key } => write!(
                f,
                "metadata {} left out of the EMF documents: a dimension, a metric or `_aws` \
                 already uses the key",
                Shown(key)
            ),
            Dropped::MetadataTooLarge { key, bytes } => write!(
                f,
                "metadata {} left out of the EMF documents: its {bytes} bytes do not fit in a \
                 {MAX_DOCUMENT_BYTES}-byte document beside the dimensions and metrics",
                Shown(key)
            ),
            Dropped::Values { metric, count } => write!(
                f,
                "{count} values of metric {} left out: they do not fit in one EMF document",
                Shown(metric)
            ),
        }
    }
}

/// A namespace, dimension or metric that CloudWatch would reject: what was refused, and why.
///
/// The message names the offending namespace, dimension or metric (up to 100 characters of
/// it), lower-case: `dimension key ":region" must not start with ':'`.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidMetric {
    field: Field,
    reason: Reason,
    name: String,
    pub(super) value: Option<f64>,
}

impl InvalidMetric {
    pub(super) fn new(field: Field, reason: Reason, name: impl Into<String>) -> InvalidMetric {
        InvalidMetric {
            field,
            reason,
            name: name.into(),
            value: None,
        }
    }

    /// What was refused.
    pub fn field(&self) -> Field {
        self.field
    }

    /// Which rule it breaks.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The namespace, the dimension key or the metric name concerned (for a dimension value,
    /// its key; for a metric value, the metric name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The refused value, for [`Field::MetricValue`].
    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

impl fmt::Display for InvalidMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Shown(&self.name);
        match self.field {
            Field::Namespace => write!(f, "namespace {name} ")?,
            Field::DimensionKey => write!(f, "dimension key {name} ")?,
            Field::DimensionValue => write!(f, "the value of dimension {name} ")?,
            Field::MetricName => write!(f, "metric name {name} ")?,
            Field::MetricValue => match self.value {
                Some(value) => write!(f, "value {value} of metric {name} ")?,
                None => write!(f, "a value of metric {name} ")?,
            },
        }
        match self.reason {
            Reason::Empty => f.write_str("is empty or blank"),
            Reason::TooLong { max } => write!(f, "is longer than {max} characters"),
            Reason::InvalidCharacter if self.field == Field::Namespace => f.write_str(
                "has a character CloudWatch refuses: use letters, digits, spaces and . - _ / # :",
            ),
            Reason::InvalidCharacter => f.write_str(
                "has a character CloudWatch refuses: use printable ASCII, without control characters",
            ),
            Reason::StartsWithColon => f.write_str("must not start with ':'"),
            Reason::Reserved if self.field == Field::Namespace => {
                f.write_str("starts with \"AWS/\", which CloudWatch keeps for AWS services")
            }
            Reason::Reserved => f.write_str("is reserved for the EMF directives"),
            Reason::TooManyDimensions => write!(
                f,
                "refused: a dimension set holds at most {MAX_DIMENSIONS} keys"
            ),
            Reason::NameTaken if self.field == Field::DimensionKey => {
                f.write_str("is already a metric name")
            }
            Reason::NameTaken => f.write_str("is already a dimension key"),
            Reason::NotFinite => f.write_str("is not a finite number"),
            Reason::OutOfRange => f.write_str(
                "is outside what CloudWatch accepts: zero or a magnitude from 2^-359 to 2^359",
            ),
            Reason::UnitMismatch { recorded, given } => write!(
                f,
                "was recorded in {recorded}, so a value in {given} is refused"
            ),
            Reason::ResolutionMismatch { recorded, given } => write!(
                f,
                "was recorded at {recorded}, so a value at {given} is refused"
            ),
        }
    }
}

impl std::error::Error for InvalidMetric {}

/// What an [`InvalidMetric`] refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The namespace.
    Namespace,
    /// A dimension key.
    DimensionKey,
    /// A dimension value.
    DimensionValue,
    /// A metric name.
    MetricName,
    /// A metric value.
    MetricValue,
}

/// Which rule an [`InvalidMetric`] breaks.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Empty, or only whitespace.
    Empty,
    /// Longer than the limit.
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// A character CloudWatch refuses.
    InvalidCharacter,
    /// A namespace or dimension key starting with `:`.
    StartsWithColon,
    /// A namespace starting with `AWS/`, or a dimension key or metric name `_aws`.
    Reserved,
    /// A 31st dimension key.
    TooManyDimensions,
    /// A dimension key that is a metric name, or a metric name that is a dimension key.
    NameTaken,
    /// NaN or an infinity.
    NotFinite,
    /// A finite value CloudWatch refuses: magnitude above 2^359, or non-zero below 2^-359.
    OutOfRange,
    /// A metric recorded again with another unit.
    UnitMismatch {
        /// The unit the metric was first recorded with.
        recorded: Unit,
        /// The unit refused.
        given: Unit,
    },
    /// A metric recorded again with another resolution.
    ResolutionMismatch {
        /// The resolution the metric was first recorded with.
        recorded: Resolution,
        /// The resolution refused.
        given: Resolution,
    },
}

/// `s` for a message: quoted and escaped, cut after 100 characters.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 100;
        match self.0.char_indices().nth(MAX) {
            Some((cut, _)) => write!(f, "{:?}...", self.0.get(..cut).unwrap_or_default()),
            None => write!(f, "{:?}", self.0),
        }
    }
}
