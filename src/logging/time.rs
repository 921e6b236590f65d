//! RFC 3339 timestamps in UTC with milliseconds, as `2026-11-23T14:05:09.123Z`, written without
//! allocating.

use std::{io::Write as _, time::SystemTime};

/// Appends `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn write_rfc3339_millis(out: &mut Vec<u8>, time: SystemTime) {
    let since_epoch = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let days = seconds / 86_400;
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (days ≥ 0), after Howard
/// Hinnant's `civil_from_days`.
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn format(since_epoch: Duration) -> String {
        let mut out = Vec::new();
        write_rfc3339_millis(&mut out, SystemTime::UNIX_EPOCH + since_epoch);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(format(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format(Duration::from_millis(1_700_000_000_123)),
            "2023-11-14T22:13:20.123Z"
        );
        // A leap day, and the last millisecond of a leap year.
        assert_eq!(
            format(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format(Duration::from_millis(1_735_689_599_999)),
            "2024-12-31T23:59:59.999Z"
        );
        assert_eq!(
            format(Duration::from_secs(4_102_444_800)),
            "2100-01-01T00:00:00.000Z"
        );
    }
}
