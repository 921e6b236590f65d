//! The metric-set model: dimensions, metrics and metadata, checked as they are recorded.

use serde_json::Value;

use super::{
    error::{Field, InvalidMetric, Reason},
    limits::{AWS_KEY, MAX_DIMENSION_KEY_LEN, MAX_DIMENSIONS, MAX_NAME_LEN},
    rules::{
        Namespace, Scan, check_dimension_value, check_values, is_blank, is_printable_ascii,
        name_hash,
    },
    unit::{Resolution, Unit},
};

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
    pub(super) namespace: Namespace,
    /// Each dimension's key and value, in `dimension_text`.
    pub(super) dimensions: Vec<(Span, Span)>,
    /// The dimension keys and values, one after another: one allocation for all of them.
    pub(super) dimension_text: String,
    pub(super) metrics: Vec<Metric>,
    /// The metric names, one after another: one allocation for all of them.
    pub(super) name_text: String,
    pub(super) metadata: Vec<(String, Value)>,
}

/// Where a string is in one of a set's texts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
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
    pub(super) fn of(self, text: &str) -> &str {
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
pub(super) struct Metric {
    /// [`name_hash`](super::rules::name_hash) of the name: compared first, so that finding a metric among many does not
    /// compare strings.
    pub(super) hash: u64,
    /// The name, in the set's `name_text`.
    pub(super) name: Span,
    /// Whether the name is written in JSON as it is, with no escape.
    pub(super) plain: bool,
    pub(super) unit: Unit,
    pub(super) resolution: Resolution,
    /// The only value, until a second one comes (a counter or a gauge needs no allocation).
    first: f64,
    /// Every value, the first included, once there are two or more.
    more: Vec<f64>,
}

impl Metric {
    pub(super) fn values(&self) -> &[f64] {
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
    /// [module docs](super#limits)), a key that is already a metric name or is `_aws`, and a
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
    /// document, is left out when writing and listed in the [`WriteReport`](super::WriteReport).
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

    pub(super) fn key_in_use(&self, key: &str) -> bool {
        key == AWS_KEY || self.has_dimension(key) || self.has_metric(key)
    }
}
