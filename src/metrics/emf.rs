//! CloudWatch Embedded Metric Format (EMF): what one invocation recorded, written as the JSON
//! lines CloudWatch turns into metrics.
//!
//! A [`MetricSet`] holds a namespace, dimensions, metrics and metadata. [`MetricSet::write`]
//! hands each EMF document to a callback as one line ending in `\n`, laid out as Powertools for
//! AWS Lambda writes it: one directive per document, dimensions, then metric values, then
//! metadata, each in the order it was first recorded.
//!
//! ```
//! use helve::metrics::emf::{MetricSet, Namespace, Resolution, Unit};
//!
//! let mut set = MetricSet::new(Namespace::new("Shop")?);
//! set.dimension("service", "orders")?;
//! set.dimension("region", "eu-west-1")?;
//! set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)?;
//! set.metric("Latency", Unit::Milliseconds, Resolution::High, 12.0)?;
//! set.metric("Latency", Unit::Milliseconds, Resolution::High, 15.5)?;
//! set.metadata("function_request_id", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
//!
//! let mut lines = Vec::new();
//! let report = set.write(1_700_000_000_000, &mut |line| lines.push(line.to_vec()));
//! assert_eq!(report.documents(), 1);
//! assert!(report.dropped().is_empty());
//! assert_eq!(
//!     String::from_utf8(lines.remove(0))?,
//!     concat!(
//!         r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Shop","#,
//!         r#""Dimensions":[["service","region"]],"Metrics":[{"Name":"Orders","Unit":"Count"},"#,
//!         r#"{"Name":"Latency","Unit":"Milliseconds","StorageResolution":1}]}]},"#,
//!         r#""service":"orders","region":"eu-west-1","Orders":1.0,"Latency":[12.0,15.5],"#,
//!         r#""function_request_id":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef"}"#,
//!         "\n",
//!     ),
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! On Lambda, write each line to standard output as it comes (for example through a locked
//! `std::io::stdout()`); CloudWatch Logs extracts the metrics. Nothing here does I/O, keeps
//! global state or reads the clock: the caller passes the timestamp.
//!
//! # What is written
//!
//! - A metric with one value in a document is a number (`"Orders":1.0`), with several an array
//!   (`"Latency":[12.0,15.5]`), as Powertools for AWS Lambda (TypeScript) writes them;
//!   Powertools (Python) writes `"Orders":[1.0]`, which CloudWatch reads as the same metric.
//! - Numbers are written as `serde_json` writes them: the shortest form that reads back as the
//!   same `f64`, always with a decimal point or an exponent (`1.0`, `0.25`, `1e+20`), as
//!   Powertools (Python) writes them. A whole number recorded as `1` is written `1.0`.
//! - `"Unit"` is always written (`"None"` included); `"StorageResolution":1` only for
//!   [`Resolution::High`]. Standard resolution (60) is CloudWatch's default and left out.
//! - No dimensions give `"Dimensions":[[]]`: the metrics are published without dimensions.
//! - A set without metrics writes nothing.
//! - The timestamp is written as given, in epoch milliseconds. CloudWatch skips metrics more
//!   than 14 days in the past or 2 hours in the future; that is the caller's clock to keep.
//!
//! # Limits
//!
//! CloudWatch extracts no metric from a document that breaks a rule of the EMF specification,
//! so every rule is enforced here, either when a value is recorded (an [`InvalidMetric`] error, nothing
//! recorded) or by splitting when the documents are written:
//!
//! | Rule | Enforced |
//! |---|---|
//! | at most 100 metric definitions per document | a 101st metric starts a new document |
//! | at most 100 values per metric per document | the 101st value goes to the next document |
//! | at most 30 dimension keys | [`MetricSet::dimension`] refuses the 31st key |
//! | a document is at most 256 KiB | split by size: no line is longer than [`MAX_DOCUMENT_BYTES`] |
//! | namespace: 1-1024 characters: letters, digits, space, `. - _ / # :`; not starting with `:` or `AWS/` | [`Namespace::new`] |
//! | dimension key: 1-250 printable ASCII characters, not blank, not starting with `:` | [`MetricSet::dimension`] |
//! | dimension value: 1-1024 printable ASCII characters, not blank | [`MetricSet::dimension`] |
//! | metric name: 1-1024 printable ASCII characters, not blank | [`MetricSet::metric`] |
//! | values: finite numbers, zero or a magnitude from 2<sup>-359</sup> to 2<sup>359</sup> | [`MetricSet::metric`] |
//! | no key twice: a metric name is never also a dimension key, and neither is ever `_aws` | refused, whichever comes second |
//! | one unit and one resolution per metric | a value with another unit or resolution is refused |
//!
//! "Printable ASCII" is what CloudWatch accepts in dimension names and values (`' '` to `'~'`):
//! `"Zürich"` as a dimension value is refused rather than written into a document CloudWatch
//! would reject. helve applies the same rule to metric names (CloudWatch documents metric
//! names as printable ASCII where it says anything about them).
//!
//! # Metadata
//!
//! Metadata are top-level keys that CloudWatch keeps in the log event without making metrics
//! of them (a request id, an order id): searchable with Logs Insights, free of metric cost.
//! Every document written carries all the dimensions and all the metadata, so each stands on
//! its own. Metadata never displace anything, and what is left out is listed in the
//! [`WriteReport`], never dropped silently:
//!
//! - a metadata key that is also a dimension key, a metric name or `_aws` is left out
//!   ([`Dropped::MetadataKeyInUse`]);
//! - metadata are kept in the order they were added while they fit in a document beside the
//!   dimensions and the largest metric; one that does not fit (a single value of hundreds of
//!   KiB) is left out ([`Dropped::MetadataTooLarge`]) and the following ones are still tried.

use std::{cell::Cell, fmt, sync::Arc};

use serde_json::Value;

/// At most this many metric definitions in one EMF document (EMF specification).
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;

/// At most this many values of one metric in one EMF document (EMF specification).
pub const MAX_VALUES_PER_METRIC: usize = 100;

/// At most this many dimension keys in a dimension set (EMF specification).
pub const MAX_DIMENSIONS: usize = 30;

/// The longest dimension key, in characters.
pub const MAX_DIMENSION_KEY_LEN: usize = 250;

/// The longest dimension value, in characters.
pub const MAX_DIMENSION_VALUE_LEN: usize = 1024;

/// The longest namespace or metric name, in characters.
pub const MAX_NAME_LEN: usize = 1024;

/// The longest line [`MetricSet::write`] writes, `\n` included, in bytes: 256 KiB (the
/// CloudWatch Logs event limit the EMF specification refers to) less 26 bytes, the overhead
/// CloudWatch Logs counts for each event, as a margin. Newer documentation allows 1 MB; helve
/// stays under both.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 - 26;

/// 2^359: CloudWatch refuses values of a larger magnitude.
const MAX_MAGNITUDE: f64 = 1.174_271_291_386_916_6e108;

/// 2^-359: CloudWatch refuses non-zero values of a smaller magnitude.
const MIN_MAGNITUDE: f64 = 8.515_919_680_016_301e-109;

/// The longest a finite `f64` is when written by `serde_json`: `-2.2250738585072014e-308`.
const MAX_NUMBER_LEN: usize = 24;

/// The EMF member CloudWatch reads the directives from: no dimension, metric or metadata key
/// may take it.
const AWS_KEY: &str = "_aws";

/// A CloudWatch unit, spelled as CloudWatch spells it by [`Unit::as_str`].
///
/// CloudWatch treats a unit as a label: it never converts values from one unit to another.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Unit {
    /// `Seconds`.
    Seconds,
    /// `Microseconds`.
    Microseconds,
    /// `Milliseconds`.
    Milliseconds,
    /// `Bytes`.
    Bytes,
    /// `Kilobytes`.
    Kilobytes,
    /// `Megabytes`.
    Megabytes,
    /// `Gigabytes`.
    Gigabytes,
    /// `Terabytes`.
    Terabytes,
    /// `Bits`.
    Bits,
    /// `Kilobits`.
    Kilobits,
    /// `Megabits`.
    Megabits,
    /// `Gigabits`.
    Gigabits,
    /// `Terabits`.
    Terabits,
    /// `Percent`.
    Percent,
    /// `Count`.
    Count,
    /// `Bytes/Second`.
    BytesPerSecond,
    /// `Kilobytes/Second`.
    KilobytesPerSecond,
    /// `Megabytes/Second`.
    MegabytesPerSecond,
    /// `Gigabytes/Second`.
    GigabytesPerSecond,
    /// `Terabytes/Second`.
    TerabytesPerSecond,
    /// `Bits/Second`.
    BitsPerSecond,
    /// `Kilobits/Second`.
    KilobitsPerSecond,
    /// `Megabits/Second`.
    MegabitsPerSecond,
    /// `Gigabits/Second`.
    GigabitsPerSecond,
    /// `Terabits/Second`.
    TerabitsPerSecond,
    /// `Count/Second`.
    CountPerSecond,
    /// `None`: no unit, CloudWatch's default.
    #[default]
    None,
}

impl Unit {
    /// The unit as CloudWatch spells it: `"Milliseconds"`, `"Bytes/Second"`, `"None"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "Seconds",
            Unit::Microseconds => "Microseconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::Kilobytes => "Kilobytes",
            Unit::Megabytes => "Megabytes",
            Unit::Gigabytes => "Gigabytes",
            Unit::Terabytes => "Terabytes",
            Unit::Bits => "Bits",
            Unit::Kilobits => "Kilobits",
            Unit::Megabits => "Megabits",
            Unit::Gigabits => "Gigabits",
            Unit::Terabits => "Terabits",
            Unit::Percent => "Percent",
            Unit::Count => "Count",
            Unit::BytesPerSecond => "Bytes/Second",
            Unit::KilobytesPerSecond => "Kilobytes/Second",
            Unit::MegabytesPerSecond => "Megabytes/Second",
            Unit::GigabytesPerSecond => "Gigabytes/Second",
            Unit::TerabytesPerSecond => "Terabytes/Second",
            Unit::BitsPerSecond => "Bits/Second",
            Unit::KilobitsPerSecond => "Kilobits/Second",
            Unit::MegabitsPerSecond => "Megabits/Second",
            Unit::GigabitsPerSecond => "Gigabits/Second",
            Unit::TerabitsPerSecond => "Terabits/Second",
            Unit::CountPerSecond => "Count/Second",
            Unit::None => "None",
        }
    }

    /// The unit CloudWatch spells `s`, exactly as [`Unit::as_str`] writes it (case matters:
    /// `"count"` is not a unit); `None` for anything else.
    ///
    /// ```
    /// use helve::metrics::emf::Unit;
    ///
    /// assert_eq!(Unit::parse("Bytes/Second"), Some(Unit::BytesPerSecond));
    /// assert_eq!(Unit::parse("None"), Some(Unit::None));
    /// assert_eq!(Unit::parse("ms"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Unit> {
        let unit = match s {
            "Seconds" => Unit::Seconds,
            "Microseconds" => Unit::Microseconds,
            "Milliseconds" => Unit::Milliseconds,
            "Bytes" => Unit::Bytes,
            "Kilobytes" => Unit::Kilobytes,
            "Megabytes" => Unit::Megabytes,
            "Gigabytes" => Unit::Gigabytes,
            "Terabytes" => Unit::Terabytes,
            "Bits" => Unit::Bits,
            "Kilobits" => Unit::Kilobits,
            "Megabits" => Unit::Megabits,
            "Gigabits" => Unit::Gigabits,
            "Terabits" => Unit::Terabits,
            "Percent" => Unit::Percent,
            "Count" => Unit::Count,
            "Bytes/Second" => Unit::BytesPerSecond,
            "Kilobytes/Second" => Unit::KilobytesPerSecond,
            "Megabytes/Second" => Unit::MegabytesPerSecond,
            "Gigabytes/Second" => Unit::GigabytesPerSecond,
            "Terabytes/Second" => Unit::TerabytesPerSecond,
            "Bits/Second" => Unit::BitsPerSecond,
            "Kilobits/Second" => Unit::KilobitsPerSecond,
            "Megabits/Second" => Unit::MegabitsPerSecond,
            "Gigabits/Second" => Unit::GigabitsPerSecond,
            "Terabits/Second" => Unit::TerabitsPerSecond,
            "Count/Second" => Unit::CountPerSecond,
            "None" => Unit::None,
            _ => return Option::None,
        };
        Some(unit)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CloudWatch unit for a unit of the `metrics` crate. Only the label is mapped: values are
/// never converted.
///
/// | `metrics::Unit` | CloudWatch | |
/// |---|---|---|
/// | `Count`, `Percent`, `Seconds`, `Milliseconds`, `Microseconds`, `Bytes` | the same | |
/// | `BitsPerSecond` ... `TerabitsPerSecond`, `CountPerSecond` | `Bits/Second` ... `Terabits/Second`, `Count/Second` | |
/// | `Kibibytes`, `Mebibytes`, `Gibibytes`, `Tebibytes` | `Kilobytes`, `Megabytes`, `Gigabytes`, `Terabytes` | CloudWatch has no binary units; its byte multiples are labels only |
/// | `Nanoseconds` | `None` | CloudWatch has no nanoseconds; labelling them `Microseconds` would be 1000 times wrong, so the values keep no unit |
///
/// To publish nanoseconds with a time unit, record them as microseconds (divided by 1000)
/// with [`Unit::Microseconds`].
impl From<::metrics::Unit> for Unit {
    fn from(unit: ::metrics::Unit) -> Unit {
        match unit {
            ::metrics::Unit::Count => Unit::Count,
            ::metrics::Unit::Percent => Unit::Percent,
            ::metrics::Unit::Seconds => Unit::Seconds,
            ::metrics::Unit::Milliseconds => Unit::Milliseconds,
            ::metrics::Unit::Microseconds => Unit::Microseconds,
            ::metrics::Unit::Nanoseconds => Unit::None,
            ::metrics::Unit::Tebibytes => Unit::Terabytes,
            ::metrics::Unit::Gibibytes => Unit::Gigabytes,
            ::metrics::Unit::Mebibytes => Unit::Megabytes,
            ::metrics::Unit::Kibibytes => Unit::Kilobytes,
            ::metrics::Unit::Bytes => Unit::Bytes,
            ::metrics::Unit::TerabitsPerSecond => Unit::TerabitsPerSecond,
            ::metrics::Unit::GigabitsPerSecond => Unit::GigabitsPerSecond,
            ::metrics::Unit::MegabitsPerSecond => Unit::MegabitsPerSecond,
            ::metrics::Unit::KilobitsPerSecond => Unit::KilobitsPerSecond,
            ::metrics::Unit::BitsPerSecond => Unit::BitsPerSecond,
            ::metrics::Unit::CountPerSecond => Unit::CountPerSecond,
        }
    }
}

/// How finely CloudWatch stores a metric.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Resolution {
    /// One-minute resolution (`StorageResolution` 60, CloudWatch's default, not written).
    #[default]
    Standard,
    /// One-second resolution (`"StorageResolution":1`), billed as a high-resolution metric.
    High,
}

impl Resolution {
    /// The `StorageResolution` in seconds: 60 or 1.
    pub fn seconds(self) -> u8 {
        match self {
            Resolution::Standard => 60,
            Resolution::High => 1,
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolution::Standard => f.write_str("standard resolution (60 s)"),
            Resolution::High => f.write_str("high resolution (1 s)"),
        }
    }
}

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

/// What one invocation recorded, ready to be written as EMF documents.
///
/// Dimensions, metrics and metadata keep the order in which they were first recorded, and
/// that is the order in which they are written. Everything is checked when it is recorded, so
/// [`MetricSet::write`] never fails.
///
/// ```
/// use helve::metrics::emf::{MetricSet, Namespace, Resolution, Unit};
///
/// let mut set = MetricSet::new(Namespace::new("Shop")?);
/// set.dimension("service", "orders")?;
/// set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)?;
/// assert!(set.metric("Orders", Unit::Count, Resolution::Standard, f64::NAN).is_err());
/// assert_eq!(set.len(), 1);
/// # Ok::<(), helve::metrics::emf::InvalidMetric>(())
/// ```
#[derive(Debug, Clone)]
pub struct MetricSet {
    namespace: Namespace,
    /// Each dimension's key and value, in `dimension_text`.
    dimensions: Vec<(Span, Span)>,
    /// The dimension keys and values, one after another: one allocation for all of them.
    dimension_text: String,
    metrics: Vec<Metric>,
    /// The metric names, one after another: one allocation for all of them.
    name_text: String,
    metadata: Vec<(String, Value)>,
}

/// Where a string is in one of a set's texts.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// Appends `s` to `text`; where it is.
    fn push(text: &mut String, s: &str) -> Span {
        let start = text.len();
        text.push_str(s);
        Span {
            start,
            end: text.len(),
        }
    }

    /// The string at this place of `text`.
    fn of(self, text: &str) -> &str {
        text.get(self.start..self.end).unwrap_or_default()
    }
}

/// What a set reserves when its first dimension or metric comes, so that a typical set
/// (a few dimensions, a dozen metrics) grows no buffer afterwards.
const FIRST_DIMENSIONS: usize = 8;
const FIRST_DIMENSION_TEXT: usize = 128;
const FIRST_METRICS: usize = 16;
const FIRST_NAME_TEXT: usize = 256;

#[derive(Debug, Clone)]
struct Metric {
    /// [`name_hash`] of the name: compared first, so that finding a metric among many does not
    /// compare strings.
    hash: u64,
    /// The name, in the set's `name_text`.
    name: Span,
    /// Whether the name is written in JSON as it is, with no escape.
    plain: bool,
    unit: Unit,
    resolution: Resolution,
    /// The only value, until a second one comes (a counter or a gauge needs no allocation).
    first: f64,
    /// Every value, the first included, once there are two or more.
    more: Vec<f64>,
}

impl Metric {
    fn values(&self) -> &[f64] {
        if self.more.is_empty() {
            std::slice::from_ref(&self.first)
        } else {
            &self.more
        }
    }

    fn extend(&mut self, values: &[f64]) {
        if values.is_empty() {
            return;
        }
        if self.more.is_empty() {
            self.more.reserve(values.len().saturating_add(1));
            self.more.push(self.first);
        }
        self.more.extend_from_slice(values);
    }
}

impl MetricSet {
    /// An empty set whose metrics go to `namespace`.
    pub fn new(namespace: Namespace) -> MetricSet {
        MetricSet {
            namespace,
            dimensions: Vec::new(),
            dimension_text: String::new(),
            metrics: Vec::new(),
            name_text: String::new(),
            metadata: Vec::new(),
        }
    }

    /// The namespace the metrics go to.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// Sets the dimension `key` to `value` for every metric of the set.
    ///
    /// Setting a key again replaces its value and keeps its place. Refused, with nothing
    /// changed: a key or a value that breaks CloudWatch's rules (see the
    /// [module docs](self#limits)), a key that is already a metric name or is `_aws`, and a
    /// 31st key ([`Reason::TooManyDimensions`]).
    pub fn dimension(&mut self, key: &str, value: &str) -> Result<(), InvalidMetric> {
        if let Some(index) = self
            .dimensions
            .iter()
            .position(|(k, _)| k.of(&self.dimension_text) == key)
        {
            check_dimension_value(key, value)?;
            self.replace_dimension_value(index, value);
            return Ok(());
        }
        let reason = if is_blank(key) {
            Some(Reason::Empty)
        } else if key.len() > MAX_DIMENSION_KEY_LEN {
            Some(Reason::TooLong {
                max: MAX_DIMENSION_KEY_LEN,
            })
        } else if !is_printable_ascii(key) {
            Some(Reason::InvalidCharacter)
        } else if key.starts_with(':') {
            Some(Reason::StartsWithColon)
        } else if key == AWS_KEY {
            Some(Reason::Reserved)
        } else if self.has_metric(key) {
            Some(Reason::NameTaken)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(InvalidMetric::new(Field::DimensionKey, reason, key));
        }
        check_dimension_value(key, value)?;
        if self.dimensions.len() >= MAX_DIMENSIONS {
            return Err(InvalidMetric::new(
                Field::DimensionKey,
                Reason::TooManyDimensions,
                key,
            ));
        }
        if self.dimensions.capacity() == 0 {
            self.dimensions.reserve(FIRST_DIMENSIONS);
            self.dimension_text.reserve(FIRST_DIMENSION_TEXT);
        }
        let key = Span::push(&mut self.dimension_text, key);
        let value = Span::push(&mut self.dimension_text, value);
        self.dimensions.push((key, value));
        Ok(())
    }

    /// Puts `value` in place of the value of dimension `index`, moving the text after it.
    fn replace_dimension_value(&mut self, index: usize, value: &str) {
        let Some(&(_, old)) = self.dimensions.get(index) else {
            return;
        };
        if self.dimension_text.get(old.start..old.end).is_none() {
            return;
        }
        self.dimension_text.replace_range(old.start..old.end, value);
        let new_end = old.start.saturating_add(value.len());
        for (key, current) in &mut self.dimensions {
            for span in [key, current] {
                if span.start >= old.end && span.start != old.start {
                    span.start = span.start - old.end + new_end;
                    span.end = span.end - old.end + new_end;
                }
            }
        }
        if let Some((_, current)) = self.dimensions.get_mut(index) {
            current.end = new_end;
        }
    }

    /// Records one value of the metric `name`.
    ///
    /// Recording the same name again adds a value (a histogram keeps every value; sum a
    /// counter before recording it if one value is wanted). Refused, with nothing recorded: a
    /// value that is not finite or out of CloudWatch's range, a name that breaks CloudWatch's
    /// rules, is already a dimension key or is `_aws`, and a unit or resolution other than the
    /// one the metric was first recorded with.
    pub fn metric(
        &mut self,
        name: &str,
        unit: Unit,
        resolution: Resolution,
        value: f64,
    ) -> Result<(), InvalidMetric> {
        self.metric_values(name, unit, resolution, &[value])
    }

    /// Records several values of the metric `name` at once, as [`MetricSet::metric`] does
    /// for one: all of them, or none if one is refused. An empty slice checks the name and
    /// records nothing.
    pub fn metric_values(
        &mut self,
        name: &str,
        unit: Unit,
        resolution: Resolution,
        values: &[f64],
    ) -> Result<(), InvalidMetric> {
        check_values(name, values)?;
        self.add_values(name, unit, resolution, values, true)
    }

    /// [`MetricSet::metric_values`] for a name the caller knows is not in the set yet (each
    /// metric of an invocation's collector is written once per set): no search among the
    /// metrics already there.
    pub(crate) fn new_metric_values(
        &mut self,
        name: &str,
        unit: Unit,
        resolution: Resolution,
        values: &[f64],
    ) -> Result<(), InvalidMetric> {
        check_values(name, values)?;
        self.add_values(name, unit, resolution, values, false)
    }

    fn add_values(
        &mut self,
        name: &str,
        unit: Unit,
        resolution: Resolution,
        values: &[f64],
        search: bool,
    ) -> Result<(), InvalidMetric> {
        let scan = Scan::of(name);
        let hash = scan.hash;
        if let Some(metric) = self
            .metrics
            .iter_mut()
            .filter(|_| search)
            .find(|metric| metric.hash == hash && metric.name.of(&self.name_text) == name)
        {
            let reason = if metric.unit != unit {
                Some(Reason::UnitMismatch {
                    recorded: metric.unit,
                    given: unit,
                })
            } else if metric.resolution != resolution {
                Some(Reason::ResolutionMismatch {
                    recorded: metric.resolution,
                    given: resolution,
                })
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(InvalidMetric::new(Field::MetricName, reason, name));
            }
            metric.extend(values);
            return Ok(());
        }
        let reason = if scan.is_blank(name) {
            Some(Reason::Empty)
        } else if name.len() > MAX_NAME_LEN {
            Some(Reason::TooLong { max: MAX_NAME_LEN })
        } else if !scan.printable {
            Some(Reason::InvalidCharacter)
        } else if name == AWS_KEY {
            Some(Reason::Reserved)
        } else if self.has_dimension(name) {
            Some(Reason::NameTaken)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(InvalidMetric::new(Field::MetricName, reason, name));
        }
        if let Some((&first, rest)) = values.split_first() {
            if self.metrics.capacity() == 0 {
                self.metrics.reserve(FIRST_METRICS);
                self.name_text.reserve(FIRST_NAME_TEXT);
            }
            self.metrics.push(Metric {
                hash,
                name: Span::push(&mut self.name_text, name),
                plain: scan.plain,
                unit,
                resolution,
                first,
                more: if rest.is_empty() {
                    Vec::new()
                } else {
                    values.to_vec()
                },
            });
        }
        Ok(())
    }

    /// Sets the metadata `key` to `value` in every document: a top-level member that is not a
    /// metric (a request id, any JSON value).
    ///
    /// Setting a key again replaces its value and keeps its place. Any key is accepted here;
    /// one that is also a dimension key, a metric name or `_aws`, or a value too large for a
    /// document, is left out when writing and listed in the [`WriteReport`].
    pub fn metadata(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some((_, current)) => *current = value,
            None => self.metadata.push((key.to_owned(), value)),
        }
    }

    /// The number of metrics recorded (distinct names).
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// Whether no metric is recorded (then [`MetricSet::write`] writes nothing).
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The dimensions' keys and values, in the order they were first set.
    pub(crate) fn dimensions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.dimensions
            .iter()
            .map(|(key, value)| (key.of(&self.dimension_text), value.of(&self.dimension_text)))
    }

    /// Each metric's name, unit, resolution and values, in the order first recorded.
    #[cfg(feature = "cloudwatch")]
    pub(crate) fn metrics(&self) -> impl Iterator<Item = (&str, Unit, Resolution, &[f64])> {
        self.metrics.iter().map(|metric| {
            (
                metric.name.of(&self.name_text),
                metric.unit,
                metric.resolution,
                metric.values(),
            )
        })
    }

    /// Forgets the metrics, keeping the dimensions, the metadata and the memory already
    /// allocated.
    pub fn clear_metrics(&mut self) {
        self.metrics.clear();
        self.name_text.clear();
    }

    /// Forgets the metrics, the dimensions and the metadata, keeping the namespace and the
    /// memory already allocated.
    pub fn clear(&mut self) {
        self.metrics.clear();
        self.name_text.clear();
        self.dimensions.clear();
        self.dimension_text.clear();
        self.metadata.clear();
    }

    /// Writes the EMF documents: calls `out` once per document with one whole line ending in
    /// `\n`, at most [`MAX_DOCUMENT_BYTES`] long.
    ///
    /// The metrics are split over as many documents as the [limits](self#limits) require;
    /// each document carries every dimension and the metadata. Metrics are taken in the order
    /// they were first recorded, their first 100 values first: a document ends at 100
    /// metrics, at the size limit, or when the next piece is more values of a metric it
    /// already holds. Nothing is written for a set without metrics.
    ///
    /// The report counts the documents and lists what was left out.
    #[must_use = "the report lists what was left out of the documents"]
    pub fn write(&self, timestamp_ms: u64, out: &mut dyn FnMut(&[u8])) -> WriteReport {
        self.write_within(timestamp_ms, MAX_DOCUMENT_BYTES, out)
    }

    fn write_within(
        &self,
        timestamp_ms: u64,
        limit: usize,
        out: &mut dyn FnMut(&[u8]),
    ) -> WriteReport {
        let mut report = WriteReport::default();
        if self.metrics.is_empty() {
            return report;
        }
        let mut buf = Scratch::take();

        // `{"_aws":{...,"Metrics":[` is the same in every document.
        buf.doc.extend_from_slice(br#"{"_aws":{"Timestamp":"#);
        push_u64(&mut buf.doc, timestamp_ms);
        buf.doc
            .extend_from_slice(br#","CloudWatchMetrics":[{"Namespace":"#);
        push_str(&mut buf.doc, self.namespace.as_str());
        buf.doc.extend_from_slice(br#","Dimensions":[["#);
        for (i, (key, _)) in self.dimensions().enumerate() {
            if i > 0 {
                buf.doc.push(b',');
            }
            push_str(&mut buf.doc, key);
        }
        buf.doc.extend_from_slice(br#"]],"Metrics":["#);
        let prefix_len = buf.doc.len();

        // `]}]},` and the dimension members: the same in every document.
        buf.middle.extend_from_slice(b"]}]}");
        for (key, value) in self.dimensions() {
            buf.middle.push(b',');
            push_str(&mut buf.middle, key);
            buf.middle.push(b':');
            push_str(&mut buf.middle, value);
        }

        // The metadata and `}\n`: the same in every document. The metadata get what is left
        // once the largest single metric is sure to fit.
        let largest_metric = if self.metadata.is_empty() {
            0
        } else {
            self.metrics
                .iter()
                .map(|metric| entry_bound(metric.name.of(&self.name_text), metric))
                .max()
                .unwrap_or(0)
        };
        let metadata_budget = limit.saturating_sub(
            prefix_len
                .saturating_add(buf.middle.len())
                .saturating_add(2)
                .saturating_add(largest_metric),
        );
        for (key, value) in &self.metadata {
            if self.key_in_use(key) {
                report
                    .dropped
                    .push(Dropped::MetadataKeyInUse { key: key.clone() });
                continue;
            }
            let mark = buf.tail.len();
            buf.tail.push(b',');
            push_str(&mut buf.tail, key);
            buf.tail.push(b':');
            if serde_json::to_writer(&mut buf.tail, value).is_err() {
                // Cannot happen: writing to a Vec never fails and every `Value` serializes.
                // Leave the entry out rather than write half of it.
                buf.tail.truncate(mark);
                continue;
            }
            if buf.tail.len() > metadata_budget {
                let bytes = buf.tail.len().saturating_sub(mark);
                buf.tail.truncate(mark);
                report.dropped.push(Dropped::MetadataTooLarge {
                    key: key.clone(),
                    bytes,
                });
            }
        }
        buf.tail.extend_from_slice(b"}\n");

        let mut docs = Documents {
            buf,
            prefix_len,
            metrics: 0,
            written: 0,
            limit,
            out,
        };
        let rounds = self
            .metrics
            .iter()
            .map(|metric| metric.values().len().div_ceil(MAX_VALUES_PER_METRIC))
            .max()
            .unwrap_or(0);
        // The document each metric was last put in, so that no document holds a metric twice:
        // only a metric with over 100 values, put in one round after another, could be.
        let mut last_document = if rounds > 1 {
            vec![usize::MAX; self.metrics.len()]
        } else {
            Vec::new()
        };
        for round in 0..rounds {
            let start = round.saturating_mul(MAX_VALUES_PER_METRIC);
            for (index, metric) in self.metrics.iter().enumerate() {
                let values = metric.values();
                let end = start
                    .saturating_add(MAX_VALUES_PER_METRIC)
                    .min(values.len());
                let Some(chunk) = values.get(start..end).filter(|c| !c.is_empty()) else {
                    continue;
                };
                let name = metric.name.of(&self.name_text);
                let last = last_document.get_mut(index);
                if docs.metrics == MAX_METRICS_PER_DOCUMENT
                    || last.as_deref() == Some(&docs.written)
                {
                    docs.flush();
                }
                if !docs.push(name, metric, chunk) {
                    docs.flush();
                    if !docs.push(name, metric, chunk) {
                        // Cannot happen within MAX_DOCUMENT_BYTES: the metadata budget keeps
                        // room for the largest metric. Reported rather than written invalid.
                        report.dropped.push(Dropped::Values {
                            metric: name.to_owned(),
                            count: chunk.len(),
                        });
                        continue;
                    }
                }
                if let Some(last) = last {
                    *last = docs.written;
                }
            }
        }
        docs.flush();
        report.documents = docs.written;
        docs.buf.put_back();
        report
    }

    fn has_metric(&self, name: &str) -> bool {
        let hash = name_hash(name);
        self.metrics
            .iter()
            .any(|metric| metric.hash == hash && metric.name.of(&self.name_text) == name)
    }

    fn has_dimension(&self, key: &str) -> bool {
        self.dimensions
            .iter()
            .any(|(k, _)| k.of(&self.dimension_text) == key)
    }

    fn key_in_use(&self, key: &str) -> bool {
        key == AWS_KEY || self.has_dimension(key) || self.has_metric(key)
    }
}

/// The document being filled, and what every document shares.
struct Documents<'a> {
    /// The document's parts: see [`Scratch`].
    buf: Scratch,
    /// The length of the fixed prefix of `buf.doc`.
    prefix_len: usize,
    /// Metric definitions in the document being filled.
    metrics: usize,
    /// Documents written so far: also the number of the one being filled.
    written: usize,
    limit: usize,
    out: &'a mut dyn FnMut(&[u8]),
}

impl Documents<'_> {
    fn len(&self) -> usize {
        self.buf
            .doc
            .len()
            .saturating_add(self.buf.middle.len())
            .saturating_add(self.buf.values.len())
            .saturating_add(self.buf.tail.len())
    }

    /// Adds `values` of `metric`, named `name`, if the document stays within the limit.
    fn push(&mut self, name: &str, metric: &Metric, values: &[f64]) -> bool {
        let (doc_mark, values_mark) = (self.buf.doc.len(), self.buf.values.len());
        if self.metrics > 0 {
            self.buf.doc.push(b',');
        }
        self.buf.doc.extend_from_slice(br#"{"Name":"#);
        push_name(&mut self.buf.doc, name, metric.plain);
        self.buf.doc.extend_from_slice(br#","Unit":""#);
        self.buf
            .doc
            .extend_from_slice(metric.unit.as_str().as_bytes());
        self.buf.doc.push(b'"');
        if metric.resolution == Resolution::High {
            self.buf.doc.extend_from_slice(br#","StorageResolution":1"#);
        }
        self.buf.doc.push(b'}');

        self.buf.values.push(b',');
        push_name(&mut self.buf.values, name, metric.plain);
        self.buf.values.push(b':');
        match values {
            [value] => push_f64(&mut self.buf.values, *value),
            _ => {
                self.buf.values.push(b'[');
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        self.buf.values.push(b',');
                    }
                    push_f64(&mut self.buf.values, *value);
                }
                self.buf.values.push(b']');
            }
        }

        if self.len() <= self.limit {
            self.metrics = self.metrics.saturating_add(1);
            true
        } else {
            self.buf.doc.truncate(doc_mark);
            self.buf.values.truncate(values_mark);
            false
        }
    }

    /// Writes the document being filled, if it holds a metric, and starts the next one.
    fn flush(&mut self) {
        if self.metrics == 0 {
            return;
        }
        self.buf.doc.extend_from_slice(&self.buf.middle);
        self.buf.doc.extend_from_slice(&self.buf.values);
        self.buf.doc.extend_from_slice(&self.buf.tail);
        (self.out)(&self.buf.doc);
        self.buf.doc.truncate(self.prefix_len);
        self.buf.values.clear();
        self.metrics = 0;
        self.written = self.written.saturating_add(1);
    }
}

/// The buffers a document is written in, kept by each thread between writes: writing an
/// invocation's metrics allocates no buffer once the thread has written one before.
struct Scratch {
    /// The fixed prefix, then the metric definitions so far.
    doc: Vec<u8>,
    /// `]}]}` and the dimension members.
    middle: Vec<u8>,
    /// The metric members so far.
    values: Vec<u8>,
    /// The metadata members and `}\n`.
    tail: Vec<u8>,
}

thread_local! {
    static SCRATCH: Cell<Option<Scratch>> = const { Cell::new(None) };
}

/// Buffers larger than this (a document with very many values) are not kept.
const MAX_KEPT_BUFFER: usize = 64 * 1024;

impl Scratch {
    /// This thread's buffers, empty; new ones if another write on this thread has them.
    fn take() -> Scratch {
        let kept = SCRATCH.try_with(Cell::take).ok().flatten();
        kept.unwrap_or_else(|| Scratch {
            doc: Vec::with_capacity(4096),
            middle: Vec::with_capacity(256),
            values: Vec::with_capacity(1024),
            tail: Vec::with_capacity(64),
        })
    }

    /// Keeps the buffers, emptied, for this thread's next write.
    fn put_back(mut self) {
        let buffers = [
            &mut self.doc,
            &mut self.middle,
            &mut self.values,
            &mut self.tail,
        ];
        if buffers
            .iter()
            .any(|buffer| buffer.capacity() > MAX_KEPT_BUFFER)
        {
            return;
        }
        for buffer in buffers {
            buffer.clear();
        }
        let _ = SCRATCH.try_with(|kept| kept.set(Some(self)));
    }
}

/// An upper bound of the bytes one metric, named `name`, with up to 100 values adds to a
/// document.
fn entry_bound(name: &str, metric: &Metric) -> usize {
    let name = json_str_len(name);
    let values = metric.values().len().min(MAX_VALUES_PER_METRIC);
    // `,{"Name":<name>,"Unit":"<unit>","StorageResolution":1}` and `,<name>:[<values>]`.
    name.saturating_mul(2)
        .saturating_add(metric.unit.as_str().len())
        .saturating_add(64)
        .saturating_add(values.saturating_mul(MAX_NUMBER_LEN + 1))
}

/// What [`MetricSet::write`] did: how many documents it wrote and what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    documents: usize,
    dropped: Vec<Dropped>,
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

/// Something [`MetricSet::write`] left out rather than write a document CloudWatch rejects.
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
    value: Option<f64>,
}

impl InvalidMetric {
    fn new(field: Field, reason: Reason, name: impl Into<String>) -> InvalidMetric {
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

/// Refuses the first value of metric `name` that CloudWatch would not take.
fn check_values(name: &str, values: &[f64]) -> Result<(), InvalidMetric> {
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

fn check_dimension_value(key: &str, value: &str) -> Result<(), InvalidMetric> {
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
fn name_hash(name: &str) -> u64 {
    Scan::of(name).hash
}

/// What one pass over a metric name tells.
struct Scan {
    /// [`name_hash`].
    hash: u64,
    /// `' '` to `'~'` only.
    printable: bool,
    /// Nothing but `' '` (or empty).
    spaces_only: bool,
    /// Printable and free of the two characters JSON escapes among them, `"` and `\`.
    plain: bool,
}

impl Scan {
    fn of(name: &str) -> Scan {
        let mut scan = Scan {
            hash: 0xcbf2_9ce4_8422_2325,
            printable: true,
            spaces_only: true,
            plain: true,
        };
        for b in name.bytes() {
            scan.hash = (scan.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            scan.printable &= (b' '..=b'~').contains(&b);
            scan.spaces_only &= b == b' ';
            scan.plain &= b != b'"' && b != b'\\';
        }
        scan.plain &= scan.printable;
        scan
    }

    /// [`is_blank`] for the name scanned.
    fn is_blank(&self, name: &str) -> bool {
        if self.printable {
            self.spaces_only
        } else {
            is_blank(name)
        }
    }
}

/// Empty, or nothing but whitespace.
fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// `' '` to `'~'` only: what CloudWatch accepts in dimensions (so length in bytes is length in
/// characters).
fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// A value CloudWatch accepts.
fn is_acceptable(value: f64) -> bool {
    value == 0.0 || (MIN_MAGNITUDE..=MAX_MAGNITUDE).contains(&value.abs())
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

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it.
fn push_str(buf: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Names, dimensions and most values need no escape: copy them whole.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        buf.reserve(bytes.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    }
    buf.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if short.is_empty() {
            buf.extend_from_slice(b"\\u00");
            // `b` is below 0x20: `\u0000` to `\u001f`.
            buf.push(if b >= 0x10 { b'1' } else { b'0' });
            buf.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
        } else {
            buf.extend_from_slice(short);
        }
        start = i.saturating_add(1);
    }
    buf.extend_from_slice(bytes.get(start..).unwrap_or_default());
    buf.push(b'"');
}

/// Appends a metric name as a JSON string: copied whole when it is `plain` (see [`Scan`]).
fn push_name(buf: &mut Vec<u8>, name: &str, plain: bool) {
    if plain {
        buf.reserve(name.len().saturating_add(2));
        buf.push(b'"');
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'"');
    } else {
        push_str(buf, name);
    }
}

/// The length of `s` written by [`push_str`].
fn json_str_len(s: &str) -> usize {
    s.bytes().fold(2usize, |len, b| {
        len.saturating_add(match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
    })
}

/// Appends a finite `f64` as `serde_json` writes it: `1.0`, `15.5`, `1e+20`.
fn push_f64(buf: &mut Vec<u8>, value: f64) {
    // Whole numbers below 1e15 (counts, bytes, milliseconds) are most values: written here,
    // faster and byte for byte as serde_json writes them, digits and `.0`.
    if value.fract() == 0.0 && value.abs() < 1e15 {
        if value.is_sign_negative() {
            buf.push(b'-');
        }
        // A whole number below 1e15 converts exactly.
        push_u64(buf, value.abs() as u64);
        buf.extend_from_slice(b".0");
        return;
    }
    // Cannot fail: writing to a Vec never fails, and serde_json writes every f64 (values
    // reaching here are finite, checked when recorded).
    let _ = serde_json::to_writer(buf, &value);
}

/// Appends `n` in decimal.
fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let start = buf.len();
    loop {
        // `n % 10` is below 10: the cast cannot truncate.
        buf.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if let Some(digits) = buf.get_mut(start..) {
        digits.reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TS: u64 = 1_700_000_000_000;

    fn ns() -> Namespace {
        Namespace::new("Shop").unwrap()
    }

    /// Writes `set`, checks every line against the EMF rules, and returns the parsed documents.
    fn write(set: &MetricSet) -> (Vec<String>, Vec<Value>, WriteReport) {
        write_limited(set, MAX_DOCUMENT_BYTES)
    }

    fn write_limited(set: &MetricSet, limit: usize) -> (Vec<String>, Vec<Value>, WriteReport) {
        let mut lines = Vec::new();
        let report = set.write_within(TS, limit, &mut |line| {
            lines.push(String::from_utf8(line.to_vec()).unwrap())
        });
        assert_eq!(report.documents(), lines.len());
        let dropped_metadata = report
            .dropped()
            .iter()
            .filter(|d| !matches!(d, Dropped::Values { .. }))
            .count();
        let docs = lines
            .iter()
            .map(|line| check_emf(line, set, set.metadata.len() - dropped_metadata, limit))
            .collect();
        (lines, docs, report)
    }

    /// Checks one line against the EMF specification and the limits helve promises.
    fn check_emf(line: &str, set: &MetricSet, metadata: usize, limit: usize) -> Value {
        assert!(line.len() <= limit, "line of {} bytes", line.len());
        assert!(line.len() <= 256 * 1024);
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1);
        let doc: Value = serde_json::from_str(line).unwrap();
        let root = doc.as_object().unwrap();
        let aws = root["_aws"].as_object().unwrap();
        assert_eq!(aws.len(), 2);
        assert_eq!(aws["Timestamp"], json!(TS));
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = directives[0].as_object().unwrap();
        assert_eq!(directive.len(), 3);
        let namespace = directive["Namespace"].as_str().unwrap();
        assert!((1..=MAX_NAME_LEN).contains(&namespace.len()));
        assert_eq!(namespace, set.namespace().as_str());
        let sets = directive["Dimensions"].as_array().unwrap();
        assert_eq!(sets.len(), 1);
        let keys = sets[0].as_array().unwrap();
        assert!(keys.len() <= MAX_DIMENSIONS);
        for key in keys {
            let key = key.as_str().unwrap();
            assert!((1..=MAX_DIMENSION_KEY_LEN).contains(&key.len()));
            assert!(!key.starts_with(':'));
            let value = root[key].as_str().unwrap();
            assert!((1..=MAX_DIMENSION_VALUE_LEN).contains(&value.len()));
            assert!(value.is_ascii());
        }
        let definitions = directive["Metrics"].as_array().unwrap();
        assert!((1..=MAX_METRICS_PER_DOCUMENT).contains(&definitions.len()));
        for definition in definitions {
            let definition = definition.as_object().unwrap();
            let name = definition["Name"].as_str().unwrap();
            assert!((1..=MAX_NAME_LEN).contains(&name.len()));
            assert!(Unit::parse(definition["Unit"].as_str().unwrap()).is_some());
            match definition.get("StorageResolution") {
                None => assert_eq!(definition.len(), 2),
                Some(resolution) => assert_eq!(resolution, &json!(1)),
            }
            match &root[name] {
                Value::Number(n) => assert!(n.as_f64().unwrap().is_finite()),
                Value::Array(values) => {
                    assert!((2..=MAX_VALUES_PER_METRIC).contains(&values.len()));
                    assert!(values.iter().all(Value::is_f64));
                }
                other => panic!("metric {name} is {other}"),
            }
        }
        // No key written twice (a duplicate would collapse in the map).
        assert_eq!(root.len(), 1 + keys.len() + definitions.len() + metadata);
        doc
    }

    fn names(doc: &Value) -> Vec<String> {
        doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["Name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn value_count(doc: &Value, name: &str) -> usize {
        match &doc[name] {
            Value::Array(values) => values.len(),
            Value::Number(_) => 1,
            _ => 0,
        }
    }

    fn powertools_example() -> MetricSet {
        let mut set = MetricSet::new(ns());
        set.dimension("service", "orders").unwrap();
        set.dimension("region", "eu-west-1").unwrap();
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        set.metric("Latency", Unit::Milliseconds, Resolution::High, 12.0)
            .unwrap();
        set.metric("Latency", Unit::Milliseconds, Resolution::High, 15.5)
            .unwrap();
        set.metadata(
            "function_request_id",
            "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        );
        set
    }

    #[test]
    fn the_powertools_example_is_written_byte_for_byte() {
        let (lines, _, report) = write(&powertools_example());
        assert_eq!(
            report,
            WriteReport {
                documents: 1,
                dropped: vec![]
            }
        );
        assert_eq!(
            lines,
            [concat!(
                r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Shop","#,
                r#""Dimensions":[["service","region"]],"Metrics":[{"Name":"Orders","Unit":"Count"},"#,
                r#"{"Name":"Latency","Unit":"Milliseconds","StorageResolution":1}]}]},"#,
                r#""service":"orders","region":"eu-west-1","Orders":1.0,"Latency":[12.0,15.5],"#,
                r#""function_request_id":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef"}"#,
                "\n"
            )]
        );
    }

    #[test]
    fn the_cold_start_document_has_the_powertools_shape() {
        let mut set = MetricSet::new(ns());
        set.dimension("function_name", "orders-fn").unwrap();
        set.dimension("service", "orders").unwrap();
        set.metric("ColdStart", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let (lines, _, _) = write(&set);
        assert_eq!(
            lines,
            [concat!(
                r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Shop","#,
                r#""Dimensions":[["function_name","service"]],"#,
                r#""Metrics":[{"Name":"ColdStart","Unit":"Count"}]}]},"#,
                r#""function_name":"orders-fn","service":"orders","ColdStart":1.0}"#,
                "\n"
            )]
        );
    }

    #[test]
    fn one_value_is_a_number_and_several_values_an_array() {
        let mut set = MetricSet::new(ns());
        set.metric("One", Unit::Count, Resolution::Standard, 3.0)
            .unwrap();
        set.metric_values("Two", Unit::Count, Resolution::Standard, &[1.0, 2.0])
            .unwrap();
        let (_, docs, _) = write(&set);
        assert_eq!(docs[0]["One"], json!(3.0));
        assert_eq!(docs[0]["Two"], json!([1.0, 2.0]));
    }

    #[test]
    fn numbers_always_have_a_decimal_point_or_an_exponent() {
        let mut set = MetricSet::new(ns());
        let plain = [1.0, 0.0, -0.0, 0.25, -3.5, 123_456_789.0];
        set.metric_values("Plain", Unit::None, Resolution::Standard, &plain)
            .unwrap();
        let (lines, _, _) = write(&set);
        assert!(
            lines[0].contains(r#""Plain":[1.0,0.0,-0.0,0.25,-3.5,123456789.0]"#),
            "{}",
            lines[0]
        );
        // Very large and very small magnitudes get an exponent (`1e+20` from serde_json 1.0.154,
        // `1e20` from older versions): the same f64 either way.
        let mut set = MetricSet::new(ns());
        let exponents = [1e20, -1.5e-7, 1e16, 1.234_567_890_123_456_7e100];
        set.metric_values("Exp", Unit::None, Resolution::Standard, &exponents)
            .unwrap();
        let (lines, _, _) = write(&set);
        let written = lines[0].split(r#""Exp":["#).nth(1).unwrap();
        let written = written.strip_suffix("]}\n").unwrap();
        let read: Vec<f64> = written.split(',').map(|n| n.parse().unwrap()).collect();
        assert_eq!(read, exponents, "{written}");
        assert_eq!(written.matches('e').count(), exponents.len(), "{written}");
    }

    #[test]
    fn storage_resolution_is_written_only_for_high_resolution() {
        let mut set = MetricSet::new(ns());
        set.metric("Std", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        set.metric("Hi", Unit::Count, Resolution::High, 1.0)
            .unwrap();
        let (lines, _, _) = write(&set);
        assert!(lines[0].contains(
            r#""Metrics":[{"Name":"Std","Unit":"Count"},{"Name":"Hi","Unit":"Count","StorageResolution":1}]"#
        ));
        assert_eq!(Resolution::Standard.seconds(), 60);
        assert_eq!(Resolution::High.seconds(), 1);
    }

    #[test]
    fn no_dimensions_give_an_empty_dimension_set() {
        let mut set = MetricSet::new(ns());
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let (lines, _, _) = write(&set);
        assert_eq!(
            lines[0],
            concat!(
                r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Shop","#,
                r#""Dimensions":[[]],"Metrics":[{"Name":"Orders","Unit":"Count"}]}]},"Orders":1.0}"#,
                "\n"
            )
        );
    }

    #[test]
    fn the_timestamp_is_written_as_given() {
        let mut set = MetricSet::new(ns());
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        for ts in [0, 7, 1_700_000_000_000, u64::MAX] {
            let mut lines = Vec::new();
            let _ = set.write(ts, &mut |line| lines.push(line.to_vec()));
            let doc: Value = serde_json::from_slice(&lines[0]).unwrap();
            assert_eq!(doc["_aws"]["Timestamp"], json!(ts));
        }
    }

    #[test]
    fn a_set_without_metrics_writes_nothing() {
        let mut set = MetricSet::new(ns());
        set.dimension("service", "orders").unwrap();
        set.metadata("request_id", "r-1");
        let (lines, _, report) = write(&set);
        assert!(lines.is_empty());
        assert_eq!(report.documents(), 0);
        assert!(set.is_empty());
    }

    #[test]
    fn a_101st_metric_starts_a_second_document() {
        let mut set = MetricSet::new(ns());
        set.dimension("service", "orders").unwrap();
        set.metadata("request_id", "r-1");
        for i in 0..101 {
            set.metric(&format!("m{i}"), Unit::Count, Resolution::Standard, 1.0)
                .unwrap();
        }
        let (_, docs, report) = write(&set);
        assert_eq!(report.documents(), 2);
        let expected: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
        assert_eq!(names(&docs[0]), expected);
        assert_eq!(names(&docs[1]), ["m100"]);
        for doc in &docs {
            assert_eq!(doc["service"], "orders");
            assert_eq!(doc["request_id"], "r-1");
        }
    }

    #[test]
    fn a_101st_value_of_a_metric_goes_to_the_next_document() {
        let mut set = MetricSet::new(ns());
        let values: Vec<f64> = (0..250).map(f64::from).collect();
        set.metric_values("Latency", Unit::Milliseconds, Resolution::Standard, &values)
            .unwrap();
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let (_, docs, report) = write(&set);
        assert_eq!(report.documents(), 3);
        assert_eq!(names(&docs[0]), ["Latency", "Orders"]);
        assert_eq!(names(&docs[1]), ["Latency"]);
        assert_eq!(names(&docs[2]), ["Latency"]);
        let written: Vec<f64> = docs
            .iter()
            .flat_map(|doc| match &doc["Latency"] {
                Value::Array(values) => values.iter().map(|v| v.as_f64().unwrap()).collect(),
                v => vec![v.as_f64().unwrap()],
            })
            .collect();
        assert_eq!(written, values);
        assert_eq!(
            [0, 1, 2].map(|i| value_count(&docs[i], "Latency")),
            [100, 100, 50]
        );
    }

    #[test]
    fn more_values_of_a_metric_share_a_document_with_other_metrics() {
        // 150 values of A and 150 other metrics: A's second 100 values join the second
        // document, which does not hold A yet.
        let mut set = MetricSet::new(ns());
        let values: Vec<f64> = (0..150).map(f64::from).collect();
        set.metric_values("A", Unit::Count, Resolution::Standard, &values)
            .unwrap();
        for i in 0..150 {
            set.metric(&format!("m{i}"), Unit::Count, Resolution::Standard, 1.0)
                .unwrap();
        }
        let (_, docs, report) = write(&set);
        assert_eq!(report.documents(), 2);
        let first = names(&docs[0]);
        assert_eq!(first.len(), 100);
        assert_eq!(first[0], "A");
        assert_eq!(value_count(&docs[0], "A"), 100);
        let second = names(&docs[1]);
        assert_eq!(second.len(), 52);
        assert_eq!(
            second[..51],
            (99..150).map(|i| format!("m{i}")).collect::<Vec<_>>()
        );
        assert_eq!(second[51], "A");
        assert_eq!(value_count(&docs[1], "A"), 50);
    }

    #[test]
    fn a_31st_dimension_is_refused_and_nothing_changes() {
        let mut set = MetricSet::new(ns());
        for i in 0..30 {
            set.dimension(&format!("d{i}"), "v").unwrap();
        }
        let error = set.dimension("d30", "v").unwrap_err();
        assert_eq!(error.field(), Field::DimensionKey);
        assert_eq!(error.reason(), Reason::TooManyDimensions);
        assert_eq!(error.name(), "d30");
        assert_eq!(
            error.to_string(),
            "dimension key \"d30\" refused: a dimension set holds at most 30 keys"
        );
        // A key already set can still change value.
        set.dimension("d0", "changed").unwrap();
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let (_, docs, _) = write(&set);
        let keys = docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(keys, 30);
        assert_eq!(docs[0]["d0"], "changed");
        assert!(docs[0].get("d30").is_none());
    }

    #[test]
    fn setting_a_dimension_again_keeps_its_place() {
        let mut set = MetricSet::new(ns());
        set.dimension("service", "a").unwrap();
        set.dimension("region", "r").unwrap();
        set.dimension("service", "b").unwrap();
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let (lines, _, _) = write(&set);
        assert!(lines[0].contains(r#""Dimensions":[["service","region"]]"#));
        assert!(lines[0].contains(r#""service":"b","region":"r""#));
    }

    #[test]
    fn a_dimension_set_again_to_a_longer_or_shorter_value_leaves_the_others_intact() {
        let mut set = MetricSet::new(ns());
        set.dimension("service", "orders").unwrap();
        set.dimension("region", "eu-west-1").unwrap();
        set.dimension("tier", "gold").unwrap();
        set.dimension("region", "ap-southeast-2").unwrap();
        set.dimension("service", "o").unwrap();
        set.dimension("tier", "platinum").unwrap();
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let dimensions: Vec<_> = set.dimensions().collect();
        assert_eq!(
            dimensions,
            [
                ("service", "o"),
                ("region", "ap-southeast-2"),
                ("tier", "platinum")
            ]
        );
        let (lines, _, _) = write(&set);
        assert!(lines[0].contains(r#""Dimensions":[["service","region","tier"]]"#));
        assert!(lines[0].contains(r#""service":"o","region":"ap-southeast-2","tier":"platinum""#));

        // A set kept across invocations and given the same dimension each time does not grow.
        for i in 0..1000 {
            set.dimension("region", &format!("region-{i}")).unwrap();
        }
        assert!(
            set.dimension_text.len() < 64,
            "{}",
            set.dimension_text.len()
        );
    }

    #[test]
    fn a_set_cleared_of_its_metrics_reuses_their_names_memory() {
        let mut set = MetricSet::new(ns());
        set.dimension("service", "orders").unwrap();
        for round in 0..100 {
            set.clear_metrics();
            set.metric(
                &format!("Orders{round}"),
                Unit::Count,
                Resolution::Standard,
                1.0,
            )
            .unwrap();
        }
        assert_eq!(set.len(), 1);
        assert_eq!(set.name_text, "Orders99");
        let (lines, _, _) = write(&set);
        assert!(lines[0].contains(r#""Orders99":1.0"#));
    }

    #[test]
    fn dimension_keys_longer_than_250_characters_are_refused() {
        let mut set = MetricSet::new(ns());
        set.dimension(&"k".repeat(250), "v").unwrap();
        let error = set.dimension(&"k".repeat(251), "v").unwrap_err();
        assert_eq!(error.reason(), Reason::TooLong { max: 250 });
        assert_eq!(error.field(), Field::DimensionKey);
    }

    #[test]
    fn dimension_values_longer_than_1024_characters_are_refused() {
        let mut set = MetricSet::new(ns());
        set.dimension("a", &"v".repeat(1024)).unwrap();
        let error = set.dimension("b", &"v".repeat(1025)).unwrap_err();
        assert_eq!(error.field(), Field::DimensionValue);
        assert_eq!(error.reason(), Reason::TooLong { max: 1024 });
        assert_eq!(error.name(), "b");
        assert_eq!(
            error.to_string(),
            "the value of dimension \"b\" is longer than 1024 characters"
        );
        // Refused when replacing a value too, keeping the old one.
        assert!(set.dimension("a", &"v".repeat(1025)).is_err());
        assert!(set.dimension("a", "").is_err());
        assert_eq!(
            set.dimensions().next().map(|(_, value)| value.len()),
            Some(1024)
        );
    }

    #[test]
    fn empty_blank_and_non_ascii_dimensions_are_refused() {
        let mut set = MetricSet::new(ns());
        let cases = [
            ("", "v", Field::DimensionKey, Reason::Empty),
            ("  ", "v", Field::DimensionKey, Reason::Empty),
            ("k", "", Field::DimensionValue, Reason::Empty),
            ("k", " ", Field::DimensionValue, Reason::Empty),
            (
                "city",
                "Zürich",
                Field::DimensionValue,
                Reason::InvalidCharacter,
            ),
            ("città", "x", Field::DimensionKey, Reason::InvalidCharacter),
            ("k", "a\tb", Field::DimensionValue, Reason::InvalidCharacter),
            ("k\n", "v", Field::DimensionKey, Reason::InvalidCharacter),
            ("_aws", "v", Field::DimensionKey, Reason::Reserved),
        ];
        for (key, value, field, reason) in cases {
            let error = set.dimension(key, value).unwrap_err();
            assert_eq!(
                (error.field(), error.reason()),
                (field, reason),
                "{key:?}={value:?}"
            );
        }
        assert_eq!(set.dimensions().count(), 0);
        // Spaces inside are fine.
        set.dimension("my key", "my value").unwrap();
    }

    #[test]
    fn a_dimension_key_starting_with_a_colon_is_refused() {
        let mut set = MetricSet::new(ns());
        let error = set.dimension(":region", "eu").unwrap_err();
        assert_eq!(error.reason(), Reason::StartsWithColon);
        assert_eq!(
            error.to_string(),
            "dimension key \":region\" must not start with ':'"
        );
        set.dimension("a:b", "c").unwrap();
    }

    #[test]
    fn metric_names_must_be_1_to_1024_printable_characters() {
        let mut set = MetricSet::new(ns());
        set.metric(&"m".repeat(1024), Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let cases = [
            ("m".repeat(1025), Reason::TooLong { max: 1024 }),
            (String::new(), Reason::Empty),
            ("   ".to_owned(), Reason::Empty),
            ("Größe".to_owned(), Reason::InvalidCharacter),
            ("a\u{7}".to_owned(), Reason::InvalidCharacter),
            ("_aws".to_owned(), Reason::Reserved),
        ];
        for (name, reason) in cases {
            let error = set
                .metric(&name, Unit::Count, Resolution::Standard, 1.0)
                .unwrap_err();
            assert_eq!(error.field(), Field::MetricName);
            assert_eq!(error.reason(), reason, "{name:?}");
        }
        assert_eq!(set.len(), 1);
        assert_eq!(
            set.metric("", Unit::Count, Resolution::Standard, 1.0)
                .unwrap_err()
                .to_string(),
            "metric name \"\" is empty or blank"
        );
    }

    #[test]
    fn namespaces_follow_cloudwatch_rules() {
        for good in ["Shop", "my app/orders", "a.b-c_d/e#f:g", &"n".repeat(1024)] {
            assert_eq!(Namespace::new(good).unwrap().as_str(), good);
        }
        let cases = [
            ("", Reason::Empty),
            ("  ", Reason::Empty),
            (&*"n".repeat(1025), Reason::TooLong { max: 1024 }),
            ("shop!", Reason::InvalidCharacter),
            ("café", Reason::InvalidCharacter),
            (":shop", Reason::StartsWithColon),
            ("AWS/Lambda", Reason::Reserved),
        ];
        for (name, reason) in cases {
            let error = Namespace::new(name).unwrap_err();
            assert_eq!((error.field(), error.reason()), (Field::Namespace, reason));
        }
        assert_eq!(
            Namespace::new("AWS/Lambda").unwrap_err().to_string(),
            "namespace \"AWS/Lambda\" starts with \"AWS/\", which CloudWatch keeps for AWS services"
        );
        assert_eq!(
            Namespace::new("shop!").unwrap_err().to_string(),
            "namespace \"shop!\" has a character CloudWatch refuses: use letters, digits, spaces and . - _ / # :"
        );
    }

    #[test]
    fn nan_and_infinities_are_refused() {
        let mut set = MetricSet::new(ns());
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let error = set
                .metric("Latency", Unit::Milliseconds, Resolution::Standard, value)
                .unwrap_err();
            assert_eq!(error.field(), Field::MetricValue);
            assert_eq!(error.reason(), Reason::NotFinite);
            assert_eq!(error.name(), "Latency");
        }
        assert!(
            set.is_empty(),
            "a refused first value must not create the metric"
        );
        assert_eq!(
            set.metric(
                "Latency",
                Unit::Milliseconds,
                Resolution::Standard,
                f64::NAN
            )
            .unwrap_err()
            .to_string(),
            "value NaN of metric \"Latency\" is not a finite number"
        );
        // All or nothing for several values.
        set.metric("Latency", Unit::Milliseconds, Resolution::Standard, 1.0)
            .unwrap();
        assert!(
            set.metric_values(
                "Latency",
                Unit::Milliseconds,
                Resolution::Standard,
                &[2.0, f64::NAN]
            )
            .is_err()
        );
        assert_eq!(set.metrics[0].values(), [1.0]);
    }

    #[test]
    fn values_outside_cloudwatch_range_are_refused() {
        assert_eq!(MAX_MAGNITUDE, 2f64.powi(359));
        assert_eq!(MIN_MAGNITUDE, 2f64.powi(-359));
        let mut set = MetricSet::new(ns());
        for value in [1e109, -1e109, 1e-109, -1e-109, f64::MAX, f64::MIN_POSITIVE] {
            let error = set
                .metric("V", Unit::None, Resolution::Standard, value)
                .unwrap_err();
            assert_eq!(error.reason(), Reason::OutOfRange, "{value}");
            assert_eq!(error.value(), Some(value));
        }
        let fine = [
            0.0,
            -0.0,
            MAX_MAGNITUDE,
            -MAX_MAGNITUDE,
            MIN_MAGNITUDE,
            1e108,
            1e-108,
        ];
        set.metric_values("V", Unit::None, Resolution::Standard, &fine)
            .unwrap();
        write(&set);
    }

    #[test]
    fn a_metric_name_cannot_be_a_dimension_key_nor_the_reverse() {
        let mut set = MetricSet::new(ns());
        set.dimension("service", "orders").unwrap();
        let error = set
            .metric("service", Unit::Count, Resolution::Standard, 1.0)
            .unwrap_err();
        assert_eq!(error.reason(), Reason::NameTaken);
        assert_eq!(
            error.to_string(),
            "metric name \"service\" is already a dimension key"
        );
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let error = set.dimension("Orders", "x").unwrap_err();
        assert_eq!(
            (error.field(), error.reason()),
            (Field::DimensionKey, Reason::NameTaken)
        );
        assert_eq!(
            error.to_string(),
            "dimension key \"Orders\" is already a metric name"
        );
    }

    #[test]
    fn a_metric_keeps_its_first_unit_and_resolution() {
        let mut set = MetricSet::new(ns());
        set.metric("Latency", Unit::Milliseconds, Resolution::Standard, 1.0)
            .unwrap();
        let error = set
            .metric("Latency", Unit::Seconds, Resolution::Standard, 1.0)
            .unwrap_err();
        assert_eq!(
            error.reason(),
            Reason::UnitMismatch {
                recorded: Unit::Milliseconds,
                given: Unit::Seconds
            }
        );
        assert_eq!(
            error.to_string(),
            "metric name \"Latency\" was recorded in Milliseconds, so a value in Seconds is refused"
        );
        let error = set
            .metric("Latency", Unit::Milliseconds, Resolution::High, 1.0)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "metric name \"Latency\" was recorded at standard resolution (60 s), so a value at high resolution (1 s) is refused"
        );
        assert_eq!(set.metrics[0].values(), [1.0]);
    }

    #[test]
    fn metadata_never_takes_a_dimension_or_metric_key() {
        let mut set = MetricSet::new(ns());
        set.metadata("service", "from metadata");
        set.metadata("Orders", 5);
        set.metadata("_aws", json!({"x": 1}));
        set.metadata("request_id", "r-1");
        set.dimension("service", "orders").unwrap();
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let (lines, docs, report) = write(&set);
        assert_eq!(
            report.dropped(),
            [
                Dropped::MetadataKeyInUse {
                    key: "service".into()
                },
                Dropped::MetadataKeyInUse {
                    key: "Orders".into()
                },
                Dropped::MetadataKeyInUse { key: "_aws".into() },
            ]
        );
        assert_eq!(docs[0]["service"], "orders");
        assert_eq!(docs[0]["Orders"], json!(1.0));
        assert!(lines[0].ends_with(concat!(r#""Orders":1.0,"request_id":"r-1"}"#, "\n")));
        assert_eq!(
            report.dropped()[0].to_string(),
            "metadata \"service\" left out of the EMF documents: a dimension, a metric or `_aws` already uses the key"
        );
    }

    #[test]
    fn metadata_can_be_any_json_value_and_is_escaped() {
        let mut set = MetricSet::new(ns());
        set.metadata("request_id", "r-1");
        set.metadata("attempt", 2);
        set.metadata("order", json!({"id": "o-1", "items": [1, 2]}));
        set.metadata("quote\"d\nkey", "tab\there \u{1} é");
        set.metadata("request_id", "r-2");
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let (lines, docs, _) = write(&set);
        assert!(lines[0].ends_with(concat!(
            r#""Orders":1.0,"request_id":"r-2","attempt":2,"order":{"id":"o-1","items":[1,2]},"#,
            r#""quote\"d\nkey":"tab\there \u0001 é"}"#,
            "\n"
        )));
        assert_eq!(docs[0]["quote\"d\nkey"], "tab\there \u{1} é");
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let samples = [
            "",
            "plain",
            "quote\" back\\slash / slash",
            "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}",
            "é ü 中文 🦀",
            "\"",
            "end\\",
        ];
        for s in samples {
            let mut buf = Vec::new();
            push_str(&mut buf, s);
            assert_eq!(buf, serde_json::to_vec(s).unwrap(), "{s:?}");
            assert_eq!(json_str_len(s), buf.len(), "{s:?}");
        }
    }

    #[test]
    fn whole_numbers_are_written_as_serde_json_writes_them() {
        let mut samples = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            999_999_999_999_999.0,
            -999_999_999_999_999.0,
        ];
        samples.extend((0..16).map(|e| 10f64.powi(e)));
        samples.extend((0..64).map(|e| 2f64.powi(e)));
        samples.extend((0..1000).map(|i| f64::from(i) * 1_234_567.0));
        samples.extend([0.5, -0.5, 1e15 - 0.5, 1e15 + 1.0, 1.5e16]);
        for value in samples {
            let mut buf = Vec::new();
            push_f64(&mut buf, value);
            assert_eq!(buf, serde_json::to_vec(&value).unwrap(), "{value}");
        }
    }

    #[test]
    fn a_number_is_at_most_24_bytes() {
        let extremes = [
            -2.2250738585072014e-308,
            -1.7976931348623157e308,
            -MAX_MAGNITUDE,
            -MIN_MAGNITUDE,
            -1.2345678901234567e-100,
            -0.00012345678901234567,
            -1234567890123456.7,
        ];
        for value in extremes {
            let written = serde_json::to_string(&value).unwrap();
            assert!(written.len() <= MAX_NUMBER_LEN, "{written}");
        }
    }

    #[test]
    fn no_document_exceeds_256_kib_with_long_names_and_many_values() {
        // 100 metrics with 1024-character names and 100 values each: ~470 KB in one document.
        let mut set = MetricSet::new(Namespace::new("n".repeat(1024)).unwrap());
        for i in 0..MAX_DIMENSIONS {
            set.dimension(&format!("{i:0>250}"), &"v".repeat(1024))
                .unwrap();
        }
        let values: Vec<f64> = (0..100)
            .map(|i| -1.234_567_890_123_456_7e-100 * f64::from(i + 1))
            .collect();
        for i in 0..100 {
            let name = format!("{i:0>1024}");
            set.metric_values(&name, Unit::Count, Resolution::High, &values)
                .unwrap();
        }
        let (lines, docs, report) = write(&set);
        assert!(report.dropped().is_empty());
        // ~47 KB of namespace and dimensions, ~4.4 KB per metric: 48 metrics per document.
        let per_document: Vec<usize> = docs.iter().map(|doc| names(doc).len()).collect();
        assert_eq!(per_document, [48, 48, 4]);
        assert!(lines.iter().all(|line| line.len() <= MAX_DOCUMENT_BYTES));
        // Every metric written once, with all its values, in order.
        let written: Vec<String> = docs.iter().flat_map(names).collect();
        let expected: Vec<String> = (0..100).map(|i| format!("{i:0>1024}")).collect();
        assert_eq!(written, expected);
        assert!(
            docs.iter()
                .all(|doc| names(doc).iter().all(|n| value_count(doc, n) == 100))
        );
        // Documents are filled: each but the last would overflow with one more metric.
        assert!(
            lines[0].len() + 4600 > MAX_DOCUMENT_BYTES,
            "{}",
            lines[0].len()
        );
        assert!(
            lines[1].len() + 4600 > MAX_DOCUMENT_BYTES,
            "{}",
            lines[1].len()
        );
    }

    #[test]
    fn a_metadata_value_larger_than_a_document_is_left_out_and_reported() {
        let mut set = MetricSet::new(ns());
        set.dimension("service", "orders").unwrap();
        set.metadata("request_id", "r-1");
        set.metadata("payload", "x".repeat(300 * 1024));
        set.metadata("after", true);
        set.metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        let (lines, docs, report) = write(&set);
        assert_eq!(report.documents(), 1);
        assert_eq!(
            report.dropped(),
            [Dropped::MetadataTooLarge {
                key: "payload".into(),
                bytes: 300 * 1024 + 13
            }]
        );
        assert_eq!(docs[0]["request_id"], "r-1");
        assert_eq!(docs[0]["after"], true);
        assert!(docs[0].get("payload").is_none());
        assert!(lines[0].len() < 1024);
        assert_eq!(
            report.dropped()[0].to_string(),
            "metadata \"payload\" left out of the EMF documents: its 307213 bytes do not fit in a 262118-byte document beside the dimensions and metrics"
        );
    }

    #[test]
    fn large_metadata_that_fits_is_in_every_document_and_metrics_spread_out() {
        // 200 KB of metadata leaves ~62 KB per document: 46 metrics of ~1.3 KB each.
        let mut set = MetricSet::new(ns());
        set.dimension("service", "orders").unwrap();
        set.metadata("big", "x".repeat(200 * 1000));
        set.metadata("bigger", "y".repeat(200 * 1000));
        let values: Vec<f64> = (0..100).map(|i| f64::from(i) + 0.123_456_789).collect();
        for i in 0..100 {
            set.metric_values(
                &format!("metric-{i:03}"),
                Unit::Count,
                Resolution::Standard,
                &values,
            )
            .unwrap();
        }
        let (lines, docs, report) = write(&set);
        assert_eq!(
            report.dropped(),
            [Dropped::MetadataTooLarge {
                key: "bigger".into(),
                bytes: 200 * 1000 + 12
            }]
        );
        let per_document: Vec<usize> = docs.iter().map(|doc| names(doc).len()).collect();
        assert_eq!(per_document, [46, 46, 8]);
        for (line, doc) in lines.iter().zip(&docs) {
            assert!(line.len() <= MAX_DOCUMENT_BYTES);
            assert_eq!(doc["big"].as_str().unwrap().len(), 200 * 1000);
        }
        let written: Vec<String> = docs.iter().flat_map(names).collect();
        assert_eq!(
            written,
            (0..100)
                .map(|i| format!("metric-{i:03}"))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn values_that_fit_in_no_document_are_reported_not_written() {
        // Only reachable with a limit far below MAX_DOCUMENT_BYTES.
        let mut set = MetricSet::new(ns());
        set.metadata("request_id", "r-1");
        set.metric("A", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        set.metric_values("B", Unit::Count, Resolution::Standard, &[1.0; 50])
            .unwrap();
        let (lines, docs, report) = write_limited(&set, 200);
        assert_eq!(lines.len(), 1);
        assert_eq!(names(&docs[0]), ["A"]);
        assert_eq!(
            report.dropped(),
            [
                Dropped::MetadataTooLarge {
                    key: "request_id".into(),
                    bytes: 19
                },
                Dropped::Values {
                    metric: "B".into(),
                    count: 50
                },
            ]
        );
        assert_eq!(
            report.dropped()[1].to_string(),
            "50 values of metric \"B\" left out: they do not fit in one EMF document"
        );
    }

    #[test]
    fn keys_keep_the_order_they_were_first_recorded_in() {
        let mut set = MetricSet::new(ns());
        set.dimension("z", "1").unwrap();
        set.dimension("a", "2").unwrap();
        set.metric("Zeta", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        set.metric("Alpha", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        set.metric("Zeta", Unit::Count, Resolution::Standard, 2.0)
            .unwrap();
        set.metadata("y", 1);
        set.metadata("b", 2);
        let (first, _, _) = write(&set);
        assert!(first[0].contains(concat!(
            r#""Dimensions":[["z","a"]],"Metrics":[{"Name":"Zeta","Unit":"Count"},"#,
            r#"{"Name":"Alpha","Unit":"Count"}]}]},"z":"1","a":"2","Zeta":[1.0,2.0],"Alpha":1.0,"y":1,"b":2}"#
        )));
        // The same set writes the same bytes every time.
        for _ in 0..3 {
            assert_eq!(write(&set).0, first);
        }
    }

    #[test]
    fn clearing_keeps_what_is_asked_for() {
        let mut set = powertools_example();
        set.clear_metrics();
        assert!(set.is_empty());
        set.metric("Orders", Unit::Count, Resolution::Standard, 2.0)
            .unwrap();
        let (lines, _, _) = write(&set);
        assert!(lines[0].contains(
            r#""service":"orders","region":"eu-west-1","Orders":2.0,"function_request_id""#
        ));
        set.clear();
        assert!(write(&set).0.is_empty());
        assert_eq!(set.namespace().as_str(), "Shop");
    }

    #[test]
    fn every_cloudwatch_unit_round_trips_through_its_spelling() {
        let table = [
            (Unit::Seconds, "Seconds"),
            (Unit::Microseconds, "Microseconds"),
            (Unit::Milliseconds, "Milliseconds"),
            (Unit::Bytes, "Bytes"),
            (Unit::Kilobytes, "Kilobytes"),
            (Unit::Megabytes, "Megabytes"),
            (Unit::Gigabytes, "Gigabytes"),
            (Unit::Terabytes, "Terabytes"),
            (Unit::Bits, "Bits"),
            (Unit::Kilobits, "Kilobits"),
            (Unit::Megabits, "Megabits"),
            (Unit::Gigabits, "Gigabits"),
            (Unit::Terabits, "Terabits"),
            (Unit::Percent, "Percent"),
            (Unit::Count, "Count"),
            (Unit::BytesPerSecond, "Bytes/Second"),
            (Unit::KilobytesPerSecond, "Kilobytes/Second"),
            (Unit::MegabytesPerSecond, "Megabytes/Second"),
            (Unit::GigabytesPerSecond, "Gigabytes/Second"),
            (Unit::TerabytesPerSecond, "Terabytes/Second"),
            (Unit::BitsPerSecond, "Bits/Second"),
            (Unit::KilobitsPerSecond, "Kilobits/Second"),
            (Unit::MegabitsPerSecond, "Megabits/Second"),
            (Unit::GigabitsPerSecond, "Gigabits/Second"),
            (Unit::TerabitsPerSecond, "Terabits/Second"),
            (Unit::CountPerSecond, "Count/Second"),
            (Unit::None, "None"),
        ];
        for (unit, spelling) in table {
            assert_eq!(unit.as_str(), spelling);
            assert_eq!(unit.to_string(), spelling);
            assert_eq!(Unit::parse(spelling), Some(unit));
        }
        for wrong in [
            "count",
            "COUNT",
            "ms",
            "Bytes/second",
            "Nanoseconds",
            " Count",
            "",
        ] {
            assert_eq!(Unit::parse(wrong), None, "{wrong:?}");
        }
        assert_eq!(Unit::default(), Unit::None);
    }

    #[test]
    fn metrics_crate_units_map_to_the_nearest_cloudwatch_label() {
        use ::metrics::Unit as M;
        let table = [
            (M::Count, Unit::Count),
            (M::Percent, Unit::Percent),
            (M::Seconds, Unit::Seconds),
            (M::Milliseconds, Unit::Milliseconds),
            (M::Microseconds, Unit::Microseconds),
            (M::Nanoseconds, Unit::None),
            (M::Tebibytes, Unit::Terabytes),
            (M::Gibibytes, Unit::Gigabytes),
            (M::Mebibytes, Unit::Megabytes),
            (M::Kibibytes, Unit::Kilobytes),
            (M::Bytes, Unit::Bytes),
            (M::TerabitsPerSecond, Unit::TerabitsPerSecond),
            (M::GigabitsPerSecond, Unit::GigabitsPerSecond),
            (M::MegabitsPerSecond, Unit::MegabitsPerSecond),
            (M::KilobitsPerSecond, Unit::KilobitsPerSecond),
            (M::BitsPerSecond, Unit::BitsPerSecond),
            (M::CountPerSecond, Unit::CountPerSecond),
        ];
        for (from, to) in table {
            assert_eq!(Unit::from(from), to, "{from:?}");
        }
    }

    #[test]
    fn long_names_are_cut_in_messages() {
        let mut set = MetricSet::new(ns());
        let error = set.dimension(&"k".repeat(300), "v").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "dimension key \"{}\"... is longer than 250 characters",
                "k".repeat(100)
            )
        );
        assert_eq!(error.name().len(), 300);
    }

    /// The cost of writing, as a baseline for the benchmark against
    /// `metrics_cloudwatch_embedded`: `cargo test --release -- --ignored --nocapture baseline`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn baseline_write_cost() {
        use std::hint::black_box;
        use std::time::Instant;

        fn measure(label: &str, build: impl Fn() -> MetricSet) {
            const RUNS: u32 = 20_000;
            let set = build();
            let mut bytes = 0;
            let start = Instant::now();
            for _ in 0..RUNS {
                let _ = black_box(&set).write(TS, &mut |line| bytes += black_box(line).len());
            }
            let write = start.elapsed() / RUNS;
            let start = Instant::now();
            for _ in 0..RUNS {
                let set = build();
                let _ = black_box(&set).write(TS, &mut |line| bytes += black_box(line).len());
            }
            let build_and_write = start.elapsed() / RUNS;
            println!("{label}: write {write:?}, build + write {build_and_write:?} ({bytes} bytes)");
        }

        measure("10 metrics x 2 dimensions", || {
            let mut set = MetricSet::new(Namespace::new("Shop").unwrap());
            set.dimension("service", "orders").unwrap();
            set.dimension("region", "eu-west-1").unwrap();
            for i in 0..10 {
                set.metric(
                    &format!("metric_{i}"),
                    Unit::Milliseconds,
                    Resolution::Standard,
                    12.5,
                )
                .unwrap();
            }
            set
        });
        measure("100 metrics x 1 dimension", || {
            let mut set = MetricSet::new(Namespace::new("Shop").unwrap());
            set.dimension("service", "orders").unwrap();
            for i in 0..100 {
                set.metric(
                    &format!("metric_{i}"),
                    Unit::Count,
                    Resolution::Standard,
                    1.0,
                )
                .unwrap();
            }
            set
        });
    }
}
