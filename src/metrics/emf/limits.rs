//! The limits of the EMF specification and of CloudWatch, in one place.

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

/// The longest line [`MetricSet::write`](super::MetricSet::write) writes, `\n` included, in bytes: 256 KiB (the
/// CloudWatch Logs event limit the EMF specification refers to) less 26 bytes, the overhead
/// CloudWatch Logs counts for each event, as a margin. Newer documentation allows 1 MB; helve
/// stays under both.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 - 26;

/// 2^359: CloudWatch refuses values of a larger magnitude.
pub(super) const MAX_MAGNITUDE: f64 = 1.174_271_291_386_916_6e108;

/// 2^-359: CloudWatch refuses non-zero values of a smaller magnitude.
pub(super) const MIN_MAGNITUDE: f64 = 8.515_919_680_016_301e-109;

/// The longest a finite `f64` is when written by `serde_json`: `-2.2250738585072014e-308`.
pub(super) const MAX_NUMBER_LEN: usize = 24;

/// The EMF member CloudWatch reads the directives from: no dimension, metric or metadata key
/// may take it.
pub(super) const AWS_KEY: &str = "_aws";
