//! What the fuzz targets share: the panic hook, a JSON reader that refuses duplicate keys, and
//! the walk that finds what a redacted event still shows under a secret key.

use std::{cell::Cell, fmt, sync::Once};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

thread_local! {
    static PLANNED: Cell<bool> = const { Cell::new(false) };
}

/// Installs, once, a panic hook that lets through the panics helve catches itself (a panicking
/// handler, lambda_http's panics on malformed requests) and aborts on any other, so that
/// libFuzzer records it as a crash. libFuzzer's own hook aborts on every panic, caught or not.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let libfuzzer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if helve::__fuzz::panic_is_caught_by_helve() || PLANNED.with(Cell::get) {
                return;
            }
            libfuzzer(info);
            std::process::abort();
        }));
    });
}

/// A panic the target asks for (a handler told to panic): helve must catch it.
pub fn planned_panic(message: &str) -> ! {
    PLANNED.with(|planned| planned.set(true));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            PLANNED.with(|planned| planned.set(false));
        }
    }
    let _reset = Reset;
    std::panic::panic_any(message.to_owned())
}

/// A JSON value read strictly: an object with a key twice is an error (serde_json's `Value`
/// keeps the last one silently; CloudWatch's and Logs Insights' readers disagree on which).
pub struct Strict(pub Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value, without duplicate keys")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if object.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
        }
        Ok(Value::Object(object))
    }
}

/// `line` as exactly one JSON object without duplicate keys, or why not.
pub fn one_object(line: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Strict>(line) {
        Ok(Strict(Value::Object(object))) => Ok(object),
        Ok(Strict(other)) => Err(format!("not an object: {other}")),
        Err(error) => Err(error.to_string()),
    }
}

/// Splits written output into its lines, checking that it ends with `\n` (a line is never
/// left open) and that no line is empty.
pub fn lines(output: &[u8]) -> Vec<&[u8]> {
    if output.is_empty() {
        return Vec::new();
    }
    assert_eq!(
        output.last(),
        Some(&b'\n'),
        "output does not end with a newline: {:?}",
        String::from_utf8_lossy(&output[output.len().saturating_sub(200)..])
    );
    let body = &output[..output.len() - 1];
    body.split(|byte| *byte == b'\n')
        .inspect(|line| assert!(!line.is_empty(), "an empty line"))
        .collect()
}

/// Where a value under a secret key still shows in a redacted event: its path, for the
/// assertion message. Follows JSON held in strings (how the redactor reads it) and checks the
/// `rawQueryString` parameters, as [`helve::logging::redact`] documents.
pub fn exposed_secrets(
    redactor: &helve::logging::redact::Redactor,
    value: &Value,
    path: &str,
    found: &mut Vec<String>,
) {
    use helve::logging::redact::REDACTED;
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let here = format!("{path}/{key}");
                if redactor.is_secret(key) {
                    if !(item.is_null() || item.as_str() == Some(REDACTED)) {
                        found.push(format!("{here} = {item}"));
                    }
                    continue;
                }
                if key.eq_ignore_ascii_case("rawQueryString")
                    && let Some(query) = item.as_str()
                {
                    for pair in query.split('&') {
                        if let Some((name, value)) = pair.split_once('=')
                            && redactor.is_secret(name)
                            && value != REDACTED
                        {
                            found.push(format!("{here} parameter {name} = {value}"));
                        }
                    }
                }
                exposed_secrets(redactor, item, &here, found);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                exposed_secrets(redactor, item, &format!("{path}/{index}"), found);
            }
        }
        Value::String(text) => {
            // The redactor reads a string as JSON when, past whitespace and a byte order
            // mark, it starts an object or an array.
            let json = text
                .trim_start()
                .trim_start_matches('\u{feff}')
                .trim_start();
            if json.starts_with(['{', '['])
                && let Ok(inner) = serde_json::from_str::<Value>(json)
            {
                exposed_secrets(redactor, &inner, &format!("{path}(json)"), found);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
