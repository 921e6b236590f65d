//! The metrics of an invocation, read from the EMF documents it wrote:
//! `outcome.metrics().named("OrdersCreated").dimension("service", "orders").assert_value(1.0)`.

use serde_json::{Map, Value};

/// One metric of one EMF document: its name, unit, values and the document's dimensions.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Metric {
    /// The CloudWatch namespace.
    pub namespace: String,
    /// The metric's name.
    pub name: String,
    /// Its unit, as EMF writes it (`Count`, `Milliseconds`, ...).
    pub unit: String,
    /// Its values in this document (several when one invocation recorded it several times as
    /// a histogram).
    pub values: Vec<f64>,
    /// The dimensions of the document: each key of its dimension set, with its value.
    pub dimensions: Vec<(String, String)>,
}

impl Metric {
    /// Every metric of the EMF `document`.
    pub fn from_document(document: &Value) -> Vec<Metric> {
        let empty = Map::new();
        let top = document.as_object().unwrap_or(&empty);
        let directives = document["_aws"]["CloudWatchMetrics"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut metrics = Vec::new();
        for directive in &directives {
            let namespace = directive["Namespace"].as_str().unwrap_or_default();
            let dimensions: Vec<(String, String)> = directive["Dimensions"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|set| set.as_array().cloned().unwrap_or_default())
                .filter_map(|key| {
                    let key = key.as_str()?.to_owned();
                    let value = top.get(&key)?.as_str()?.to_owned();
                    Some((key, value))
                })
                .collect();
            for definition in directive["Metrics"].as_array().into_iter().flatten() {
                let Some(name) = definition["Name"].as_str() else {
                    continue;
                };
                let values = match top.get(name) {
                    Some(Value::Array(values)) => values.iter().filter_map(Value::as_f64).collect(),
                    Some(value) => value.as_f64().into_iter().collect(),
                    None => Vec::new(),
                };
                metrics.push(Metric {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    unit: definition["Unit"].as_str().unwrap_or("None").to_owned(),
                    values,
                    dimensions: dimensions.clone(),
                });
            }
        }
        metrics
    }

    /// The value of the dimension `key`, when the document has it.
    pub fn dimension(&self, key: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// The metrics of an invocation, narrowed down by what a test looks for; the assertions say,
/// when they fail, what was looked for and every metric there was.
#[derive(Debug, Clone)]
pub struct Metrics {
    all: Vec<Metric>,
    selected: Vec<Metric>,
    looked_for: Vec<String>,
}

impl Metrics {
    /// The metrics of these EMF documents.
    pub fn new(documents: &[Value]) -> Self {
        let all: Vec<Metric> = documents.iter().flat_map(Metric::from_document).collect();
        Self {
            selected: all.clone(),
            all,
            looked_for: Vec::new(),
        }
    }

    fn narrow(mut self, what: String, keep: impl Fn(&Metric) -> bool) -> Self {
        self.selected.retain(|metric| keep(metric));
        self.looked_for.push(what);
        self
    }

    /// The metrics named `name`.
    pub fn named(self, name: &str) -> Self {
        self.narrow(format!("named {name:?}"), |metric| metric.name == name)
    }

    /// The metrics whose document has the dimension `key` with this value.
    pub fn dimension(self, key: &str, value: &str) -> Self {
        self.narrow(format!("with the dimension {key} = {value:?}"), |metric| {
            metric.dimension(key) == Some(value)
        })
    }

    /// The metrics whose document has exactly these dimension keys, in any order.
    pub fn dimensions(self, keys: &[&str]) -> Self {
        let mut wanted: Vec<&str> = keys.to_vec();
        wanted.sort_unstable();
        self.narrow(
            format!("with exactly the dimensions {keys:?}"),
            move |metric| {
                let mut have: Vec<&str> =
                    metric.dimensions.iter().map(|(k, _)| k.as_str()).collect();
                have.sort_unstable();
                have == wanted
            },
        )
    }

    /// The metrics in this unit (`"Count"`, `"Milliseconds"`, ...).
    pub fn unit(self, unit: &str) -> Self {
        self.narrow(format!("in {unit}"), |metric| metric.unit == unit)
    }

    /// The metrics left.
    pub fn metrics(&self) -> &[Metric] {
        &self.selected
    }

    /// Every value of the metrics left, in the order they were written.
    pub fn values(&self) -> Vec<f64> {
        self.selected
            .iter()
            .flat_map(|metric| metric.values.iter().copied())
            .collect()
    }

    /// Asserts that the metrics left were written with exactly one value, `value`.
    ///
    /// # Panics
    ///
    /// When there is no such metric, or other values, with every metric written.
    #[track_caller]
    pub fn assert_value(&self, value: f64) {
        self.assert_values(&[value]);
    }

    /// Asserts that the values of the metrics left are exactly these, in order.
    ///
    /// # Panics
    ///
    /// When they are not, with what was looked for and every metric written.
    #[track_caller]
    pub fn assert_values(&self, values: &[f64]) {
        let found = self.values();
        if found != values {
            panic!(
                "expected the metric {} to have the values {values:?}, found {found:?}\n{}",
                self.description(),
                self.every_metric()
            );
        }
    }

    /// Asserts that at least one metric is left.
    ///
    /// # Panics
    ///
    /// When none is, with what was looked for and every metric written.
    #[track_caller]
    pub fn assert_recorded(&self) {
        if self.selected.is_empty() {
            panic!(
                "expected a metric {}, found none\n{}",
                self.description(),
                self.every_metric()
            );
        }
    }

    /// Asserts that no metric is left.
    ///
    /// # Panics
    ///
    /// When one is, with the metrics found.
    #[track_caller]
    pub fn assert_none(&self) {
        if !self.selected.is_empty() {
            panic!(
                "expected no metric {}, found {:?}",
                self.description(),
                self.selected
            );
        }
    }

    fn description(&self) -> String {
        self.looked_for.join(", ")
    }

    fn every_metric(&self) -> String {
        if self.all.is_empty() {
            return "--- no metric was written (does the function have a namespace? \
                    `Function::namespace`, or POWERTOOLS_METRICS_NAMESPACE in the test's \
                    environment) ---"
                .to_owned();
        }
        let lines: Vec<String> = self
            .all
            .iter()
            .map(|metric| {
                format!(
                    "{} {} {:?} ({}) {:?}",
                    metric.namespace, metric.name, metric.values, metric.unit, metric.dimensions
                )
            })
            .collect();
        format!("--- every metric written ---\n{}", lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document() -> Value {
        json!({
            "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{
                "Namespace": "Shop",
                "Dimensions": [["service"]],
                "Metrics": [{"Name": "Orders", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}]
            }]},
            "service": "orders",
            "Orders": 2,
            "Latency": [1.5, 3.0]
        })
    }

    #[test]
    fn a_metric_is_found_by_its_name_and_dimensions() {
        let metrics = Metrics::new(&[document()]);
        metrics
            .clone()
            .named("Orders")
            .dimension("service", "orders")
            .unit("Count")
            .assert_value(2.0);
        metrics.clone().named("Latency").assert_values(&[1.5, 3.0]);
        metrics.named("Refunds").assert_none();
    }

    #[test]
    #[should_panic(
        expected = "expected the metric named \"Orders\", with the dimension service = \"billing\" to have the values [2.0], found []"
    )]
    fn a_metric_with_other_dimensions_says_what_was_written() {
        Metrics::new(&[document()])
            .named("Orders")
            .dimension("service", "billing")
            .assert_value(2.0);
    }
}
