//! helve's log lines as a test reads them: every line is one JSON object; its `timestamp` and
//! `location` are checked and set apart, the rest compared with what the test expects. The
//! lines of an in-process invocation ([`Outcome::logs`](super::Outcome::logs)) and of a
//! binary's stdout ([`log_lines`]) are read the same way.

use std::fmt;

use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

pub use tracing::Level;

/// One line a function logged.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogLine {
    /// The line's keys and values, without `timestamp` and `location`.
    pub fields: Value,
    /// `location`: `file:line` of the `tracing` event, or where helve wrote the line from.
    pub location: String,
    /// The keys as they appear in the line, `timestamp` and `location` included.
    pub keys: Vec<String>,
    /// The line as it was written.
    pub raw: String,
}

impl LogLine {
    /// Reads one line: a JSON object with a valid `timestamp` (RFC 3339, UTC, milliseconds)
    /// and a `location`; `Err` says what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(raw) else {
            return Err("a log line is not one JSON object".to_owned());
        };
        let keys = keys_in_order(raw)?;
        match fields.remove("timestamp") {
            Some(Value::String(timestamp)) if is_rfc3339_utc_millis(&timestamp) => {}
            _ => {
                return Err(
                    "`timestamp` is not RFC 3339 in UTC with milliseconds (`...T14:05:09.123Z`)"
                        .to_owned(),
                );
            }
        }
        let location = match fields.remove("location") {
            Some(Value::String(location)) if !location.is_empty() => location,
            _ => return Err("the line has no `location`".to_owned()),
        };
        Ok(Self {
            fields: Value::Object(fields),
            location,
            keys,
            raw: raw.to_owned(),
        })
    }

    /// The value of `key`; `Null` when the line has none.
    pub fn get(&self, key: &str) -> &Value {
        &self.fields[key]
    }

    /// `message`.
    pub fn message(&self) -> &str {
        self.get("message").as_str().unwrap_or_default()
    }

    /// `level`: `DEBUG`, `INFO`, `WARN`, `ERROR`.
    pub fn level(&self) -> &str {
        self.get("level").as_str().unwrap_or_default()
    }

    /// Removes a key whose value differs from run to run (a duration), and returns its value.
    ///
    /// # Panics
    ///
    /// If the line has no such key.
    pub fn take(&mut self, key: &str) -> Value {
        self.fields
            .as_object_mut()
            .and_then(|fields| fields.remove(key))
            .unwrap_or_else(|| panic!("the line has no `{key}`: {}", self.raw))
    }

    /// The file of `location`, after checking that a line number follows it.
    ///
    /// # Panics
    ///
    /// If `location` is not `file:line`.
    pub fn location_file(&self) -> &str {
        match self.location.rsplit_once(':') {
            Some((file, line))
                if !file.is_empty()
                    && !line.is_empty()
                    && line.bytes().all(|b| b.is_ascii_digit()) =>
            {
                file
            }
            _ => panic!("`location` is not `file:line`: {}", self.raw),
        }
    }
}

/// How the EMF documents a function writes to stdout begin; its log lines never do.
const EMF_PREFIX: &str = r#"{"_aws":"#;

/// Whether a line of output is an EMF document rather than a log line.
pub(crate) fn is_emf(raw: &str) -> bool {
    raw.starts_with(EMF_PREFIX)
}

/// Every log line of `output` (a function's stdout; its EMF documents left out), each read
/// with [`LogLine::parse`].
///
/// # Panics
///
/// When a line is not a log line helve writes, showing the whole output.
pub fn log_lines(output: &str) -> Vec<LogLine> {
    output
        .lines()
        .filter(|raw| !is_emf(raw))
        .map(|raw| {
            LogLine::parse(raw).unwrap_or_else(|problem| {
                panic!("{problem}: {raw}\n--- the whole output ---\n{output}--- end ---")
            })
        })
        .collect()
}

/// Every EMF document of `output`, in order, each without its `_aws.Timestamp` (the one value
/// that changes from run to run), after checking that it is a time in epoch milliseconds.
///
/// # Panics
///
/// When an EMF line is not JSON or its timestamp is not epoch milliseconds of this century,
/// showing the whole output.
pub fn emf_documents(output: &str) -> Vec<Value> {
    output
        .lines()
        .filter(|raw| is_emf(raw))
        .map(|raw| {
            let mut document: Value = serde_json::from_str(raw).unwrap_or_else(|error| {
                panic!(
                    "an EMF line is not JSON ({error}): {raw}\n--- the whole output ---\n{output}"
                )
            });
            let timestamp = document
                .get_mut("_aws")
                .and_then(Value::as_object_mut)
                .and_then(|aws| aws.remove("Timestamp"));
            assert!(
                timestamp
                    .as_ref()
                    .and_then(Value::as_u64)
                    .is_some_and(|ms| ms > 1_700_000_000_000),
                "an EMF document's `_aws.Timestamp` is not epoch milliseconds: {raw}\n\
                 --- the whole output ---\n{output}"
            );
            document
        })
        .collect()
}

/// The keys of a JSON object in the order they are written (a `serde_json::Map` may sort them).
fn keys_in_order(raw: &str) -> Result<Vec<String>, String> {
    struct Keys;

    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                keys.push(key);
            }
            Ok(keys)
        }
    }

    serde_json::Deserializer::from_str(raw)
        .deserialize_map(Keys)
        .map_err(|error| format!("cannot read the keys of the line: {error}"))
}

/// `2026-11-23T14:05:09.123Z`: RFC 3339, UTC (`Z`), exactly three fractional digits.
pub fn is_rfc3339_utc_millis(timestamp: &str) -> bool {
    let bytes = timestamp.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
    if bytes.len() != shape.len() {
        return false;
    }
    let shaped = bytes.iter().zip(shape).all(|(&byte, &expected)| {
        if expected == b'd' {
            byte.is_ascii_digit()
        } else {
            byte == expected
        }
    });
    let number = |range: std::ops::Range<usize>| {
        timestamp
            .get(range)
            .and_then(|digits| digits.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    };
    shaped
        && (1..=12).contains(&number(5..7))
        && (1..=31).contains(&number(8..10))
        && number(11..13) < 24
        && number(14..16) < 60
        && number(17..19) < 61
}

/// The log lines of an invocation, narrowed down by what a test looks for:
/// `outcome.logs().at(Level::ERROR).with("error_type", "helve.Panic").assert_one()`.
///
/// Each narrowing keeps the lines that match it; the assertions say, when they fail, what was
/// looked for and every line there was.
#[derive(Debug, Clone)]
pub struct Logs<'a> {
    all: &'a [LogLine],
    selected: Vec<&'a LogLine>,
    looked_for: Vec<String>,
}

impl<'a> Logs<'a> {
    /// Every line of `lines`.
    pub fn new(lines: &'a [LogLine]) -> Self {
        Self {
            all: lines,
            selected: lines.iter().collect(),
            looked_for: Vec::new(),
        }
    }

    fn narrow(mut self, what: String, keep: impl Fn(&LogLine) -> bool) -> Self {
        self.selected.retain(|line| keep(line));
        self.looked_for.push(what);
        self
    }

    /// The lines at this level (`level` is `"ERROR"` for [`Level::ERROR`]).
    pub fn at(self, level: Level) -> Self {
        let name = crate::logging::level_name(level);
        self.narrow(format!("at {name}"), |line| line.level() == name)
    }

    /// The lines whose `key` is `value` (compared as JSON: `with("count", 3)` is the number 3).
    pub fn with(self, key: &str, value: impl Into<Value>) -> Self {
        let value = value.into();
        self.narrow(format!("with `{key}` = {value}"), move |line| {
            line.get(key) == &value
        })
    }

    /// The lines that have `key`, whatever its value.
    pub fn with_key(self, key: &str) -> Self {
        self.narrow(format!("with a `{key}`"), |line| {
            line.fields.get(key).is_some()
        })
    }

    /// The lines whose `message` is exactly `message`.
    pub fn message(self, message: &str) -> Self {
        self.narrow(format!("with the message {message:?}"), |line| {
            line.message() == message
        })
    }

    /// The lines whose `message` contains `part`.
    pub fn containing(self, part: &str) -> Self {
        self.narrow(format!("with a message containing {part:?}"), |line| {
            line.message().contains(part)
        })
    }

    /// The lines left, in the order they were written.
    pub fn lines(&self) -> &[&'a LogLine] {
        &self.selected
    }

    /// How many lines are left.
    pub fn count(&self) -> usize {
        self.selected.len()
    }

    /// The lines' fields (without `timestamp` and `location`), to compare whole.
    pub fn fields(&self) -> Vec<Value> {
        self.selected
            .iter()
            .map(|line| line.fields.clone())
            .collect()
    }

    /// Asserts that exactly one line is left, and returns it.
    ///
    /// # Panics
    ///
    /// When none or several are, with what was looked for and every line written.
    #[track_caller]
    pub fn assert_one(&self) -> &'a LogLine {
        match self.selected.as_slice() {
            [line] => line,
            lines => panic!(
                "expected one log line {}, found {}\n{}",
                self.description(),
                lines.len(),
                self.every_line()
            ),
        }
    }

    /// Asserts that at least one line is left, and returns the first.
    ///
    /// # Panics
    ///
    /// When none is, with what was looked for and every line written.
    #[track_caller]
    pub fn assert_some(&self) -> &'a LogLine {
        match self.selected.first() {
            Some(line) => line,
            None => panic!(
                "expected a log line {}, found none\n{}",
                self.description(),
                self.every_line()
            ),
        }
    }

    /// Asserts that no line is left.
    ///
    /// # Panics
    ///
    /// When one is, with what was looked for and the lines found.
    #[track_caller]
    pub fn assert_none(&self) {
        if !self.selected.is_empty() {
            panic!(
                "expected no log line {}, found {}:\n{}",
                self.description(),
                self.selected.len(),
                self.selected
                    .iter()
                    .map(|line| line.raw.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }

    fn description(&self) -> String {
        if self.looked_for.is_empty() {
            "at all".to_owned()
        } else {
            self.looked_for.join(", ")
        }
    }

    fn every_line(&self) -> String {
        if self.all.is_empty() {
            return "--- no line was written ---".to_owned();
        }
        let lines: Vec<&str> = self.all.iter().map(|line| line.raw.as_str()).collect();
        format!("--- every line written ---\n{}", lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(level: &str, message: &str, extra: &str) -> LogLine {
        let raw = format!(
            r#"{{"level":"{level}","message":"{message}","timestamp":"2026-11-23T14:05:09.123Z","location":"src/main.rs:3"{extra}}}"#
        );
        LogLine::parse(&raw).unwrap()
    }

    #[test]
    fn a_line_is_found_by_its_level_and_its_keys() {
        let lines = [
            line("INFO", "started", ""),
            line(
                "ERROR",
                "failed",
                r#","error_type":"helve.Panic","count":3"#,
            ),
        ];
        let found = Logs::new(&lines)
            .at(Level::ERROR)
            .with("error_type", "helve.Panic")
            .with("count", 3)
            .assert_one();
        assert_eq!(found.message(), "failed");
        Logs::new(&lines).at(Level::WARN).assert_none();
        assert_eq!(Logs::new(&lines).containing("art").count(), 1);
    }

    #[test]
    #[should_panic(expected = "expected one log line at ERROR, with `error_type` = \"x\", found 0")]
    fn a_missing_line_says_what_was_looked_for() {
        let lines = [line("ERROR", "failed", "")];
        Logs::new(&lines)
            .at(Level::ERROR)
            .with("error_type", "x")
            .assert_one();
    }

    #[test]
    fn a_line_without_a_timestamp_is_refused() {
        let problem = LogLine::parse(r#"{"level":"INFO","location":"a.rs:1"}"#).unwrap_err();
        assert!(problem.contains("timestamp"), "{problem}");
    }
}
