//! Metrics published with the CloudWatch `PutMetricData` API (feature `cloudwatch`), instead
//! of EMF documents on stdout: for code that runs outside Lambda (where nobody turns stdout
//! into metrics) or that needs its metrics in CloudWatch when the invocation ends.
//!
//! ```no_run
//! use helve::metrics::cloudwatch::{CloudWatchSink, https_client};
//! use helve::{Context, Function};
//!
//! struct App {
//!     cloudwatch: aws_sdk_cloudwatch::Client,
//! }
//!
//! async fn setup() -> Result<App, helve::Error> {
//!     // With aws-config: `aws_config::defaults(BehaviorVersion::latest())
//!     //     .http_client(https_client()).load().await`, shared by every client.
//!     let config = aws_sdk_cloudwatch::Config::builder()
//!         .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
//!         .region(aws_sdk_cloudwatch::config::Region::new("eu-west-1"))
//!         .http_client(https_client())
//!         .build();
//!     Ok(App { cloudwatch: aws_sdk_cloudwatch::Client::from_conf(config) })
//! }
//!
//! async fn handle(
//!     event: serde_json::Value,
//!     _ctx: Context,
//!     _app: &'static App,
//! ) -> Result<serde_json::Value, helve::Error> {
//!     metrics::counter!("OrdersPlaced").increment(1);
//!     Ok(event)
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     Function::new(handle)
//!         .init(setup)
//!         .service("orders")
//!         .namespace("Shop")
//!         .metrics_sink_with(|app: &App| CloudWatchSink::new(app.cloudwatch.clone()))
//!         .run()
//! }
//! ```
//!
//! # What is published
//!
//! The same metrics as the EMF output, with the same semantics: counters summed over the
//! invocation, gauges at their last value, histograms with every value; the same dimensions
//! (`service`, the default dimensions, the labels), units and resolutions; the ColdStart
//! metric on a cold start. Every datum carries the time the invocation ended.
//!
//! - A metric with one value is a `Value`; one with several (a histogram) is a `Values` array
//!   of its distinct values and a `Counts` array of how often each occurred, at most
//!   [`MAX_VALUES_PER_DATUM`] distinct values per datum (more go in more datums).
//! - High-resolution metrics carry `StorageResolution: 1`; standard ones leave it out (60).
//! - Metadata ([`add_metadata`](super::add_metadata)) have no place in `PutMetricData` and are
//!   not published.
//!
//! # Requests
//!
//! Datums go in requests of at most [`MAX_METRICS_PER_REQUEST`] datums and
//! [`MAX_REQUEST_BYTES`] of body (before the SDK's gzip compression), sent at once when the
//! invocation ends. The invocation's response waits for them, but never past its deadline less
//! [`DEFAULT_DEADLINE_MARGIN`] ([`CloudWatchSink::deadline_margin`]): what is not published by
//! then is abandoned, with an ERROR line. A request that fails is retried by the client's retry
//! strategy (the SDK's standard strategy retries throttling and 5xx errors with exponential
//! backoff); one that still fails is logged at ERROR with the SDK's error and the number of
//! datums lost. Nothing here fails the invocation or panics.
//!
//! A metric `PutMetricData` refuses, but EMF takes, is left out with a WARN line: a metric name
//! longer than [`MAX_NAME_LEN`] characters. A namespace longer than that stops the function
//! at start with `helve.ConfigError`.

use std::{collections::HashMap, fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

use aws_sdk_cloudwatch::{
    Client,
    primitives::DateTime,
    types::{Dimension, MetricDatum, StandardUnit},
};

use super::emf::{MetricSet, Namespace, Resolution};
use crate::Context;

/// At most this many datums in one `PutMetricData` request (the API allows 1000 metrics).
pub const MAX_METRICS_PER_REQUEST: usize = 1000;

/// At most this many distinct values in one datum's `Values` (and `Counts`) array.
pub const MAX_VALUES_PER_DATUM: usize = 150;

/// At most this many bytes in one request's body, before compression, as counted by a
/// generous estimate of the SDK's CBOR encoding: the API's limit is 1 MB.
pub const MAX_REQUEST_BYTES: usize = 1_000_000;

/// The longest namespace, metric name or dimension name `PutMetricData` takes, in characters.
pub const MAX_NAME_LEN: usize = 255;

/// How long before the invocation's deadline publishing gives up, by default, so that the
/// response still reaches Lambda in time.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Publishes each invocation's metrics with `PutMetricData` through an `aws-sdk-cloudwatch`
/// client, instead of writing EMF documents to stdout. Give it to
/// [`Function::metrics_sink`](crate::Function::metrics_sink) or
/// [`Function::metrics_sink_with`](crate::Function::metrics_sink_with), or to
/// [`MetricsLayer::with_cloudwatch`](crate::layers::MetricsLayer::with_cloudwatch) in a stack of
/// your own.
///
/// The client is used as it is: its region, credentials, endpoint, retry and timeout settings
/// are the ones requests go out with. Cloning the sink is cheap.
#[derive(Clone)]
pub struct CloudWatchSink {
    client: Client,
    margin: Duration,
}

impl fmt::Debug for CloudWatchSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudWatchSink")
            .field("deadline_margin", &self.margin)
            .finish_non_exhaustive()
    }
}

impl CloudWatchSink {
    /// A sink publishing through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            margin: DEFAULT_DEADLINE_MARGIN,
        }
    }

    /// How long before the invocation's deadline publishing gives up
    /// ([`DEFAULT_DEADLINE_MARGIN`] unless set).
    #[must_use]
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The client requests go out through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Turns what one invocation recorded into requests, and returns the future that sends
    /// them, bounded by the invocation's deadline less the margin; `None` when there is
    /// nothing to send or no time left to send it.
    pub(crate) fn publish(
        &self,
        namespace: &Namespace,
        ctx: &Context,
        requests: Requests,
    ) -> Option<Publishing> {
        if requests.batches.is_empty() {
            return None;
        }
        let datums: usize = requests.batches.iter().map(|batch| batch.data.len()).sum();
        let budget = ctx.time_before(self.margin).unwrap_or_default();
        if budget.is_zero() {
            tracing::error!(
                datums,
                "metrics not published to CloudWatch: the invocation ended within {} ms of its \
                 deadline",
                self.margin.as_millis()
            );
            return None;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::error!(
                datums,
                "metrics not published to CloudWatch: there is no tokio runtime to send them on"
            );
            return None;
        }
        let client = self.client.clone();
        let namespace = Arc::<str>::from(namespace.as_str());
        Some(Box::pin(send_all(client, namespace, requests, budget)))
    }
}

/// The future sending one invocation's requests.
pub(crate) type Publishing = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// An HTTPS client for the SDK: rustls with ring, the system's roots (the same as
/// [`crate::aws::https_client`]).
pub use crate::aws::https_client;

/// One invocation's datums, split into requests within the API's limits.
#[derive(Debug)]
pub(crate) struct Requests {
    timestamp: DateTime,
    /// The bytes every request takes besides its datums.
    envelope: usize,
    batches: Vec<Batch>,
}

#[derive(Debug, Default)]
struct Batch {
    data: Vec<MetricDatum>,
    bytes: usize,
}

impl Requests {
    /// Requests for metrics in `namespace`, each datum stamped `timestamp_ms`.
    pub(crate) fn new(namespace: &Namespace, timestamp_ms: u64) -> Self {
        let millis = i64::try_from(timestamp_ms).unwrap_or(i64::MAX);
        Self {
            timestamp: DateTime::from_millis(millis),
            // A map, "Namespace" and the namespace, "MetricData" and the array's head.
            envelope: 2
                + key_bytes("Namespace")
                + str_bytes(namespace.as_str())
                + key_bytes("MetricData")
                + HEAD,
            batches: Vec::new(),
        }
    }

    /// Adds the metrics of `set`, one datum each (more for a metric with over 150 distinct
    /// values). A metric `PutMetricData` would refuse is left out with a WARN line.
    pub(crate) fn add_set(&mut self, set: &MetricSet) {
        let dimensions: Vec<Dimension> = set
            .dimensions()
            .map(|(name, value)| Dimension::builder().name(name).value(value).build())
            .collect();
        let dimension_bytes = key_bytes("Dimensions")
            + HEAD
            + set
                .dimensions()
                .map(|(name, value)| {
                    2 + key_bytes("Name") + str_bytes(name) + key_bytes("Value") + str_bytes(value)
                })
                .sum::<usize>();
        for (name, unit, resolution, values) in set.metrics() {
            if name.chars().count() > MAX_NAME_LEN {
                tracing::warn!(
                    metric = %name,
                    "the metric was not published: PutMetricData takes names of at most \
                     {MAX_NAME_LEN} characters"
                );
                continue;
            }
            let unit = StandardUnit::from(unit.as_str());
            let fixed = 2
                + key_bytes("MetricName")
                + str_bytes(name)
                + dimension_bytes
                + key_bytes("Timestamp")
                + 1
                + NUMBER
                + key_bytes("Unit")
                + str_bytes(unit.as_str())
                + key_bytes("StorageResolution")
                + NUMBER;
            let timestamp = self.timestamp;
            let datum = || {
                let datum = MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dimensions.clone()))
                    .timestamp(timestamp)
                    .unit(unit.clone());
                // Standard resolution (60) is the API's default, left out as in EMF.
                if resolution == Resolution::High {
                    datum.storage_resolution(1)
                } else {
                    datum
                }
            };
            if let [value] = values {
                let datum = datum().value(*value).build();
                let bytes = fixed + key_bytes("Value") + NUMBER;
                self.push(datum, bytes);
                continue;
            }
            for (distinct, counts) in distinct_values(values) {
                let bytes = fixed + 2 * (key_bytes("Values") + HEAD) + 2 * NUMBER * distinct.len();
                let datum = datum()
                    .set_values(Some(distinct))
                    .set_counts(Some(counts))
                    .build();
                self.push(datum, bytes);
            }
        }
    }

    fn push(&mut self, datum: MetricDatum, bytes: usize) {
        let fits = self.batches.last().is_some_and(|batch| {
            batch.data.len() < MAX_METRICS_PER_REQUEST
                && self.envelope + batch.bytes + bytes <= MAX_REQUEST_BYTES
        });
        if !fits {
            self.batches.push(Batch::default());
        }
        if let Some(batch) = self.batches.last_mut() {
            batch.data.push(datum);
            batch.bytes += bytes;
        }
    }

    /// The datums of each request, in order.
    #[cfg(test)]
    pub(crate) fn batches(&self) -> impl Iterator<Item = &[MetricDatum]> {
        self.batches.iter().map(|batch| batch.data.as_slice())
    }
}

/// The most a CBOR head takes (the type and length of a string, array or map): 9 bytes.
const HEAD: usize = 9;

/// A CBOR double, with its head.
const NUMBER: usize = 9;

/// The bytes a string takes in CBOR, at most.
fn str_bytes(s: &str) -> usize {
    HEAD + s.len()
}

/// The bytes a map key takes.
fn key_bytes(key: &str) -> usize {
    str_bytes(key)
}

/// The distinct values of a histogram, in the order first recorded, with how often each
/// occurred: at most [`MAX_VALUES_PER_DATUM`] per chunk.
fn distinct_values(values: &[f64]) -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut distinct: Vec<f64> = Vec::new();
    let mut counts: Vec<f64> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    for &value in values {
        // 0.0 and -0.0 are one value.
        let value = if value == 0.0 { 0.0 } else { value };
        match index.get(&value.to_bits()) {
            Some(&at) => {
                if let Some(count) = counts.get_mut(at) {
                    *count += 1.0;
                }
            }
            None => {
                index.insert(value.to_bits(), distinct.len());
                distinct.push(value);
                counts.push(1.0);
            }
        }
    }
    distinct
        .chunks(MAX_VALUES_PER_DATUM)
        .zip(counts.chunks(MAX_VALUES_PER_DATUM))
        .map(|(values, counts)| (values.to_vec(), counts.to_vec()))
        .collect()
}

/// Sends every request at once and waits for them, at most `budget`; logs what fails.
async fn send_all(client: Client, namespace: Arc<str>, requests: Requests, budget: Duration) {
    let deadline = tokio::time::Instant::now() + budget;
    let mut sending = tokio::task::JoinSet::new();
    for batch in requests.batches {
        let client = client.clone();
        let namespace = Arc::clone(&namespace);
        let datums = batch.data.len();
        sending.spawn(async move {
            let outcome = client
                .put_metric_data()
                .namespace(namespace.as_ref())
                .set_metric_data(Some(batch.data))
                .send()
                .await;
            (datums, outcome)
        });
    }
    loop {
        match tokio::time::timeout_at(deadline, sending.join_next()).await {
            Ok(None) => break,
            Ok(Some(Ok((_, Ok(_))))) => {}
            Ok(Some(Ok((datums, Err(error))))) => {
                tracing::error!(
                    datums,
                    "metrics not published to CloudWatch: PutMetricData failed: {}",
                    crate::aws::describe(&error)
                );
            }
            Ok(Some(Err(error))) => {
                tracing::error!(
                    "metrics not published to CloudWatch: a PutMetricData request stopped: {error}"
                );
            }
            Err(_) => {
                tracing::error!(
                    requests = sending.len(),
                    "metrics not published to CloudWatch: {} PutMetricData requests were still \
                     unanswered {} ms before the invocation's deadline, and were abandoned",
                    sending.len(),
                    budget.as_millis()
                );
                sending.abort_all();
                break;
            }
        }
    }
}

/// How the builder was told to make the sink.
pub(crate) enum SinkSource {
    /// A sink made before the function starts.
    Ready(CloudWatchSink),
    /// A sink made from the init step's state, after the init step; `None` when the state is
    /// not of the type the closure takes.
    FromState(MakeSink),
}

/// Makes the sink from the init step's state, if it is of the type expected.
pub(crate) type MakeSink = Box<dyn FnOnce(&dyn std::any::Any) -> Option<CloudWatchSink> + Send>;

impl fmt::Debug for SinkSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkSource::Ready(sink) => f.debug_tuple("Ready").field(sink).finish(),
            SinkSource::FromState(_) => f.write_str("FromState(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::emf::Unit;

    fn namespace() -> Namespace {
        Namespace::new("Shop").unwrap()
    }

    #[test]
    fn a_histogram_is_its_distinct_values_with_their_counts_150_per_datum() {
        let mut set = MetricSet::new(namespace());
        set.dimension("service", "orders").unwrap();
        let values: Vec<f64> = (0..400).map(|i| f64::from(i % 200)).collect();
        set.metric_values("Latency", Unit::Milliseconds, Resolution::High, &values)
            .unwrap();
        set.metric("Orders", Unit::Count, Resolution::Standard, 3.0)
            .unwrap();
        let mut requests = Requests::new(&namespace(), 1_700_000_000_123);
        requests.add_set(&set);
        let batches: Vec<&[MetricDatum]> = requests.batches().collect();
        assert_eq!(batches.len(), 1);
        let data = batches[0];
        assert_eq!(data.len(), 3);
        assert_eq!(data[0].values().len(), 150);
        assert_eq!(data[0].counts(), vec![2.0; 150].as_slice());
        assert_eq!(data[1].values().len(), 50);
        assert_eq!(data[1].values()[0], 150.0);
        assert_eq!(data[0].storage_resolution(), Some(1));
        assert_eq!(data[0].unit(), Some(&StandardUnit::Milliseconds));
        assert_eq!(data[2].value(), Some(3.0));
        assert!(data[2].values().is_empty());
        assert_eq!(data[2].storage_resolution(), None);
        assert_eq!(
            data[2].timestamp(),
            Some(&DateTime::from_millis(1_700_000_000_123))
        );
        assert_eq!(data[2].dimensions()[0].name(), Some("service"));
    }

    #[test]
    fn requests_hold_at_most_1000_datums_and_1_mb() {
        let mut requests = Requests::new(&namespace(), 0);
        let mut set = MetricSet::new(namespace());
        for i in 0..2500 {
            set.metric(&format!("M{i}"), Unit::Count, Resolution::Standard, 1.0)
                .unwrap();
        }
        requests.add_set(&set);
        let sizes: Vec<usize> = requests.batches().map(<[MetricDatum]>::len).collect();
        assert_eq!(sizes, vec![1000, 1000, 500]);

        let mut requests = Requests::new(&namespace(), 0);
        let mut set = MetricSet::new(namespace());
        for i in 0..30 {
            set.dimension(&format!("d{i:0>248}"), &"v".repeat(1024))
                .unwrap();
        }
        for i in 0..100 {
            set.metric(&format!("M{i}"), Unit::Count, Resolution::Standard, 1.0)
                .unwrap();
        }
        requests.add_set(&set);
        assert!(requests.batches.len() > 1);
        for batch in &requests.batches {
            assert!(requests.envelope + batch.bytes <= MAX_REQUEST_BYTES);
        }
        assert_eq!(
            requests.batches().map(<[MetricDatum]>::len).sum::<usize>(),
            100
        );
    }

    fn sink() -> CloudWatchSink {
        let config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
            .build();
        CloudWatchSink::new(Client::from_conf(config))
    }

    struct App {
        sink: CloudWatchSink,
    }

    async fn handle(
        event: serde_json::Value,
        _ctx: crate::Context,
        _app: &'static App,
    ) -> Result<serde_json::Value, crate::Error> {
        Ok(event)
    }

    async fn setup() -> Result<App, crate::Error> {
        Ok(App { sink: sink() })
    }

    #[test]
    fn the_builder_takes_a_sink_or_makes_one_from_the_init_state() {
        use crate::{Function, metrics::MetricsOutput};

        let ready = Function::new(handle).init(setup).metrics_sink(sink());
        let from_state = Function::new(handle)
            .init(setup)
            .metrics_sink_with(|app: &App| app.sink.clone());
        for function in [format!("{ready:?}"), format!("{from_state:?}")] {
            assert!(function.contains("metrics_sink: true"), "{function}");
        }

        let config = crate::MetricsConfig {
            namespace: namespace(),
            dimensions: Vec::new(),
            function_name: None,
        };
        let stdout: crate::logging::LineSink = Arc::new(|_: &[u8]| {});
        let app = App { sink: sink() };
        let choice = |make: fn(&App) -> CloudWatchSink| MetricsOutput {
            source: Some(SinkSource::FromState(Box::new(move |state| {
                state.downcast_ref::<App>().map(make)
            }))),
        };
        let layer = choice(|app| app.sink.clone())
            .layer(
                crate::metrics::EmfRecorder::new(),
                config.clone(),
                &app,
                Arc::clone(&stdout),
            )
            .unwrap();
        assert!(format!("{layer:?}").contains(r#"output: Some("cloudwatch")"#));
        // Built for another state than the init step's: said at start, not a panic.
        let error = choice(|app| app.sink.clone())
            .layer(
                crate::metrics::EmfRecorder::new(),
                config.clone(),
                &(),
                Arc::clone(&stdout),
            )
            .unwrap_err();
        assert_eq!(error.setting(), "the metrics sink");
        let layer = MetricsOutput::default()
            .layer(crate::metrics::EmfRecorder::new(), config, &app, stdout)
            .unwrap();
        assert!(format!("{layer:?}").contains(r#"output: Some("emf")"#));
    }

    #[test]
    fn a_name_longer_than_255_characters_is_left_out() {
        let mut requests = Requests::new(&namespace(), 0);
        let mut set = MetricSet::new(namespace());
        set.metric(&"n".repeat(256), Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        set.metric(&"n".repeat(255), Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        requests.add_set(&set);
        let names: Vec<usize> = requests
            .batches()
            .flatten()
            .map(|datum| datum.metric_name().unwrap_or_default().len())
            .collect();
        assert_eq!(names, vec![255]);
    }
}
