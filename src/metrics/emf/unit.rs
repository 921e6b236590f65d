//! The CloudWatch units and storage resolutions a metric is recorded with.

use std::fmt;

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
