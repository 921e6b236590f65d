//! The EMF writer: a metric set built by any sequence of dimensions, metrics (one value or
//! many, any unit and resolution), metadata and clears, then written.
//!
//! - What the set accepts obeys CloudWatch's rules; what it refuses changes nothing.
//! - Every document is one JSON object (no key twice) ending in `\n`, at most
//!   `MAX_DOCUMENT_BYTES`, with `_aws.Timestamp` as given and one directive: the namespace,
//!   one dimension set of at most 30 keys, at most 100 metric definitions, each named once,
//!   with a unit CloudWatch knows and `StorageResolution` 1 or absent.
//! - Every metric named in a directive has its value in the document: a number, or an array
//!   of 1 to 100 numbers; every dimension has its value; metadata are there as set, or listed
//!   as left out in the report.
//! - Across the documents, each metric's values are exactly the values recorded, in order;
//!   the report counts the documents written; a set without metrics writes nothing.
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use helve::metrics::emf::{
    Dropped, MAX_DIMENSION_KEY_LEN, MAX_DIMENSION_VALUE_LEN, MAX_DIMENSIONS, MAX_DOCUMENT_BYTES,
    MAX_METRICS_PER_DOCUMENT, MAX_NAME_LEN, MAX_VALUES_PER_METRIC, MetricSet, Namespace,
    Resolution, Unit,
};
use helve_fuzz::{lines, one_object};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[derive(Arbitrary, Debug)]
struct Input {
    namespace: Text,
    timestamp: u64,
    ops: Vec<Op>,
}

/// A string, repeated to reach CloudWatch's lengths from a short input.
#[derive(Arbitrary, Debug)]
struct Text {
    text: String,
    repeat: u8,
}

impl Text {
    fn get(&self) -> String {
        if self.repeat <= 1 || self.text.is_empty() {
            return self.text.clone();
        }
        let times = usize::from(self.repeat) * 16;
        self.text.repeat(times.min(1100 / self.text.len()).max(1))
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Dimension {
        key: Text,
        value: Text,
    },
    Metric {
        name: Pick,
        unit: u8,
        high: bool,
        value: f64,
    },
    Values {
        name: Pick,
        unit: u8,
        high: bool,
        values: Vec<f64>,
        repeat: u8,
    },
    Metadata {
        key: Pick,
        value: Meta,
    },
    ClearMetrics,
    Clear,
}

/// A name: a new one, or one used before (so that values pile up on one metric).
#[derive(Arbitrary, Debug)]
enum Pick {
    New(Text),
    Numbered(u16),
}

impl Pick {
    fn get(&self) -> String {
        match self {
            Pick::New(text) => text.get(),
            Pick::Numbered(n) => format!("Metric{}", n % 150),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Meta {
    Text(Text),
    Number(i64),
    Big(u32),
}

const UNITS: [Unit; 8] = [
    Unit::Count,
    Unit::Milliseconds,
    Unit::Seconds,
    Unit::Bytes,
    Unit::Percent,
    Unit::None,
    Unit::CountPerSecond,
    Unit::Kilobytes,
];

fn is_printable(text: &str) -> bool {
    text.bytes().all(|byte| (b' '..=b'~').contains(&byte))
}

fn acceptable(value: f64) -> bool {
    value == 0.0 || (value.is_finite() && (2f64.powi(-359)..=2f64.powi(359)).contains(&value.abs()))
}

/// What the set should hold, kept beside it.
#[derive(Default)]
struct Model {
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, Unit, bool, Vec<f64>)>,
    metadata: Vec<(String, Value)>,
}

fuzz_target!(|input: Input| {
    helve_fuzz::init();
    let Ok(namespace) = Namespace::new(input.namespace.get()) else {
        return;
    };
    let mut set = MetricSet::new(namespace.clone());
    let mut model = Model::default();
    for op in &input.ops {
        match op {
            Op::Dimension { key, value } => {
                let (key, value) = (key.get(), value.get());
                let known = model.dimensions.iter().position(|(k, _)| *k == key);
                match set.dimension(&key, &value) {
                    Ok(()) => {
                        assert!(
                            is_printable(&key) && is_printable(&value),
                            "{key:?}={value:?}"
                        );
                        assert!(!key.trim().is_empty() && !value.trim().is_empty());
                        assert!(key.len() <= MAX_DIMENSION_KEY_LEN);
                        assert!(value.len() <= MAX_DIMENSION_VALUE_LEN);
                        assert!(!key.starts_with(':') && key != "_aws");
                        assert!(model.metrics.iter().all(|(name, ..)| *name != key));
                        match known {
                            Some(index) => model.dimensions[index].1 = value,
                            None => model.dimensions.push((key, value)),
                        }
                        assert!(model.dimensions.len() <= MAX_DIMENSIONS);
                    }
                    Err(_) => {}
                }
            }
            Op::Metric {
                name,
                unit,
                high,
                value,
            } => {
                record(&mut set, &mut model, &name.get(), *unit, *high, &[*value]);
            }
            Op::Values {
                name,
                unit,
                high,
                values,
                repeat,
            } => {
                let mut values = values.clone();
                if *repeat > 1 && !values.is_empty() {
                    values = values.repeat(usize::from(*repeat).min(400 / values.len()).max(1));
                }
                record(&mut set, &mut model, &name.get(), *unit, *high, &values);
            }
            Op::Metadata { key, value } => {
                let key = key.get();
                let value = match value {
                    Meta::Text(text) => Value::String(text.get()),
                    Meta::Number(n) => Value::from(*n),
                    Meta::Big(n) => Value::String("m".repeat(*n as usize % 300_000)),
                };
                set.metadata(&key, value.clone());
                match model.metadata.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, current)) => *current = value,
                    None => model.metadata.push((key, value)),
                }
            }
            Op::ClearMetrics => {
                set.clear_metrics();
                model.metrics.clear();
            }
            Op::Clear => {
                set.clear();
                model = Model::default();
            }
        }
        assert_eq!(set.len(), model.metrics.len());
    }

    let mut output = Vec::new();
    let report = set.write(input.timestamp, &mut |line| output.extend_from_slice(line));
    let documents = lines(&output);
    assert_eq!(report.documents(), documents.len());
    if model.metrics.is_empty() {
        assert!(documents.is_empty());
        return;
    }
    assert!(!documents.is_empty());

    let dropped = report.dropped();
    assert!(
        !dropped.iter().any(|d| matches!(d, Dropped::Values { .. })),
        "values dropped: {dropped:?}"
    );
    let left_out = |key: &str| {
        dropped.iter().any(|d| match d {
            Dropped::MetadataKeyInUse { key: k } | Dropped::MetadataTooLarge { key: k, .. } => {
                k == key
            }
            _ => false,
        })
    };
    let mut values: HashMap<String, Vec<f64>> = HashMap::new();
    for document in &documents {
        assert!(
            document.len() < MAX_DOCUMENT_BYTES,
            "a document of {} bytes",
            document.len()
        );
        let object = one_object(document)
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(document)));
        let aws = &object["_aws"];
        assert_eq!(aws["Timestamp"].as_u64(), Some(input.timestamp));
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics");
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        assert_eq!(directive["Namespace"].as_str(), Some(namespace.as_str()));
        let sets = directive["Dimensions"].as_array().expect("Dimensions");
        assert_eq!(sets.len(), 1);
        let keys: Vec<&str> = sets[0]
            .as_array()
            .expect("a dimension set")
            .iter()
            .map(|key| key.as_str().expect("a dimension key"))
            .collect();
        assert!(keys.len() <= MAX_DIMENSIONS);
        let expected: Vec<&str> = model.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, expected);
        for (key, value) in &model.dimensions {
            assert_eq!(
                object[key.as_str()].as_str(),
                Some(value.as_str()),
                "dimension {key}"
            );
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= MAX_METRICS_PER_DOCUMENT);
        let mut named = std::collections::HashSet::new();
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!(named.insert(name), "{name} twice in one directive");
            assert!(!name.is_empty() && name.len() <= MAX_NAME_LEN && is_printable(name));
            let (_, unit, high, _) = model
                .metrics
                .iter()
                .find(|(n, ..)| n == name)
                .unwrap_or_else(|| panic!("{name} was never recorded"));
            assert_eq!(metric["Unit"].as_str(), Some(unit.as_str()), "{name}");
            match metric.get("StorageResolution") {
                None => assert!(!high, "{name} lost its high resolution"),
                Some(resolution) => assert!(*high && resolution.as_u64() == Some(1), "{name}"),
            }
            let written: Vec<f64> = match &object[name] {
                Value::Number(n) => vec![n.as_f64().expect("a number")],
                Value::Array(items) => items
                    .iter()
                    .map(|item| item.as_f64().expect("a number"))
                    .collect(),
                other => panic!("metric {name} has no value in its document: {other}"),
            };
            assert!(!written.is_empty() && written.len() <= MAX_VALUES_PER_METRIC);
            values.entry(name.to_owned()).or_default().extend(written);
        }
        for (key, value) in &model.metadata {
            if !left_out(key) {
                assert_eq!(object.get(key.as_str()), Some(value), "metadata {key}");
            }
        }
    }
    for (name, _, _, recorded) in &model.metrics {
        let written = values.get(name).map(Vec::as_slice).unwrap_or_default();
        let recorded: Vec<f64> = recorded.clone();
        assert_eq!(
            written.len(),
            recorded.len(),
            "{name}: values written vs recorded"
        );
        for (w, r) in written.iter().zip(&recorded) {
            assert!(
                w == r || (w - r).abs() <= r.abs() * 1e-15,
                "{name}: {w} written for {r}"
            );
        }
    }
});

fn record(
    set: &mut MetricSet,
    model: &mut Model,
    name: &str,
    unit: u8,
    high: bool,
    values: &[f64],
) {
    let unit = UNITS[usize::from(unit) % UNITS.len()];
    let resolution = if high {
        Resolution::High
    } else {
        Resolution::Standard
    };
    let before = set.len();
    match set.metric_values(name, unit, resolution, values) {
        Ok(()) => {
            assert!(
                values.iter().all(|value| acceptable(*value)),
                "{values:?} accepted"
            );
            assert!(!name.trim().is_empty() && name.len() <= MAX_NAME_LEN && is_printable(name));
            assert!(name != "_aws" && model.dimensions.iter().all(|(k, _)| k != name));
            match model.metrics.iter_mut().find(|(n, ..)| n == name) {
                Some((_, u, h, recorded)) => {
                    assert_eq!((*u, *h), (unit, high), "{name}: another unit or resolution");
                    recorded.extend_from_slice(values);
                }
                None if values.is_empty() => {}
                None => model
                    .metrics
                    .push((name.to_owned(), unit, high, values.to_vec())),
            }
        }
        Err(_) => assert_eq!(set.len(), before, "a refused metric changed the set"),
    }
}
