use super::*;
use super::{
    limits::{MAX_MAGNITUDE, MAX_NUMBER_LEN, MIN_MAGNITUDE},
    write::{json_str_len, push_f64, push_str},
};
use serde_json::{Value, json};

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
fn strings_are_escaped_as_log_lines_and_serde_json_escape_them() {
    for text in crate::json_escape::samples() {
        let mut buf = Vec::new();
        push_str(&mut buf, &text);
        let expected = format!("\"{}\"", crate::json_escape::serde_json_escaped(&text));
        assert_eq!(String::from_utf8(buf).unwrap(), expected, "{text:?}");
        assert_eq!(json_str_len(&text), expected.len(), "{text:?}");
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
    assert!(
        lines[0].contains(
            r#""service":"orders","region":"eu-west-1","Orders":2.0,"function_request_id""#
        )
    );
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
