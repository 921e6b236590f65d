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
//! `std::io::stdout()`); CloudWatch Logs extracts the metrics. Nothing here does I/O or reads
//! the clock: the caller passes the timestamp. The only state kept between calls is each
//! thread's scratch buffers (a thread-local), which [`MetricSet::write`] reuses so that writing
//! allocates nothing once the thread has written before; they hold nothing from one write to
//! the next.
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

mod error;
mod limits;
mod rules;
mod set;
#[cfg(test)]
mod tests;
mod unit;
mod write;

pub use error::{Dropped, Field, InvalidMetric, Reason, WriteReport};
pub use limits::{
    MAX_DIMENSION_KEY_LEN, MAX_DIMENSION_VALUE_LEN, MAX_DIMENSIONS, MAX_DOCUMENT_BYTES,
    MAX_METRICS_PER_DOCUMENT, MAX_NAME_LEN, MAX_VALUES_PER_METRIC,
};
pub use rules::Namespace;
pub use set::MetricSet;
pub use unit::{Resolution, Unit};
