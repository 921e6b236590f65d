//! CloudWatch metrics in Embedded Metric Format (EMF), recorded through the `metrics` facade.
//!
//! [`EmfRecorder`] collects each invocation's `counter!`, `gauge!` and `histogram!` calls;
//! [`MetricsLayer`](crate::layers::MetricsLayer) writes them when the invocation ends, through
//! [`emf`], which lays the documents out as Powertools for AWS Lambda writes them and within
//! every limit of the EMF specification. With the `cloudwatch` feature, [`cloudwatch`]
//! publishes the same metrics with the CloudWatch PutMetricData API instead. The guide's
//! metrics page has the details.

#[cfg(feature = "cloudwatch")]
#[cfg_attr(docsrs, doc(cfg(feature = "cloudwatch")))]
pub mod cloudwatch;
pub mod emf;
mod recorder;

pub use recorder::{EmfRecorder, add_metadata, describe_resolution, describe_unit};
pub(crate) mod config;

pub use config::MetricsConfig;
#[cfg(feature = "batch")]
pub(crate) use recorder::{BATCH_RECORDS_FAILED, BATCH_RECORDS_PROCESSED};
#[cfg(feature = "http")]
pub(crate) use recorder::{HTTP_REQUEST_DURATION, HTTP_RESPONSES};
pub(crate) use recorder::{Kind, NoNamespace};

use std::time::SystemTime;

use crate::{
    Context,
    context::{Collector, Recorded},
    logging::LineSink,
};

use emf::{MetricSet, Resolution, Unit};

/// Writes what one invocation recorded (and what was recorded outside any invocation since the
/// last one) as EMF documents, one set of dimensions per document group, and the ColdStart
/// metric in a document of its own on a cold start. Problems are logged at WARN; a metric
/// CloudWatch would reject is left out, never written.
pub(crate) fn write_invocation(
    recorder: &EmfRecorder,
    config: &MetricsConfig,
    ctx: &Context,
    collected: Option<Collector>,
    sink: &LineSink,
) {
    let timestamp = now_ms();
    let mut out = |line: &[u8]| sink(line);
    for_each_set(recorder, config, ctx, collected, |set| {
        report(set.write(timestamp, &mut out));
    });
}

/// The time now, in epoch milliseconds: the timestamp of the invocation's metrics.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Hands `each` what one invocation recorded (with what was recorded outside any invocation
/// since the last one), one [`MetricSet`] per set of dimensions, in the order first recorded;
/// on a cold start, the ColdStart metric first, in a set of its own. What the output does with
/// a set is its business: EMF documents on stdout, or PutMetricData requests. A metric
/// CloudWatch would reject is left out with a WARN line.
pub(crate) fn for_each_set(
    recorder: &EmfRecorder,
    config: &MetricsConfig,
    ctx: &Context,
    collected: Option<Collector>,
    mut each: impl FnMut(&MetricSet),
) {
    if ctx.cold_start() {
        let function_name = config
            .function_name
            .as_deref()
            .unwrap_or(ctx.function_name());
        let mut cold = MetricSet::new(config.namespace.clone());
        let written = cold
            .dimension("function_name", function_name)
            .and_then(|()| cold.dimension("service", ctx.service()))
            .and_then(|()| cold.metric("ColdStart", Unit::Count, Resolution::Standard, 1.0));
        match written {
            Ok(()) => each(&cold),
            Err(error) => tracing::warn!("the ColdStart metric was not written: {error}"),
        }
    }

    let pending = recorder.shared.take_pending();
    // Usually nothing was recorded outside an invocation: the invocation's collector is then
    // used as it is, without a merge.
    let mut collector = match collected {
        Some(collected) if pending.is_empty() => collected,
        Some(collected) => {
            let mut collector = pending;
            collector.merge(collected);
            collector
        }
        None => pending,
    };
    // One document group per set of labels (held by the group's first metric), in the order
    // first recorded.
    let mut groups: Vec<(std::sync::Arc<recorder::Handle>, MetricSet)> = Vec::new();
    let entries = std::mem::take(&mut collector.entries);
    // A key the recorder forgot during the invocation and registered again has two handles in
    // the collector: their values go in one metric.
    let merge_names = entries.iter().any(|(handle, _)| handle.forgotten());
    for (handle, recorded) in entries {
        let index = match groups
            .iter()
            .position(|(first, _)| first.labels == handle.labels)
        {
            Some(index) => index,
            None => match new_group(config, ctx, &handle.labels) {
                Ok(set) => {
                    groups.push((std::sync::Arc::clone(&handle), set));
                    groups.len() - 1
                }
                Err(error) => {
                    tracing::warn!(metric = %handle.name, "the metric was not written: {error}");
                    continue;
                }
            },
        };
        let Some((_, set)) = groups.get_mut(index) else {
            continue;
        };
        let kind = match recorded {
            Recorded::Counter(_) => Kind::Counter,
            Recorded::Gauge(_) => Kind::Gauge,
            Recorded::Histogram(_) => Kind::Histogram,
        };
        let (unit, resolution) = recorder.shared.unit(&handle.name, kind);
        let values = match &recorded {
            Recorded::Counter(value) | Recorded::Gauge(value) => std::slice::from_ref(value),
            Recorded::Histogram(values) => values.as_slice(),
        };
        // Each handle is recorded once in the collector, and a set holds one set of labels: the
        // name is new to the set, unless a metric of another kind has the same name and labels
        // (the set then refuses the second if its unit differs, and adds its values if not),
        // or a key had two handles (forgotten and registered again): its values are added.
        let outcome = if merge_names || handle.shares_name() {
            set.metric_values(&handle.name, unit, resolution, values)
        } else {
            set.new_metric_values(&handle.name, unit, resolution, values)
        };
        if let Err(error) = outcome {
            tracing::warn!(metric = %handle.name, "the metric was not written: {error}");
        }
    }
    for (_, set) in &mut groups {
        for (key, value) in &collector.metadata {
            set.metadata(key, value.clone());
        }
        each(set);
    }
}

/// Where the builder was told to send metrics instead of EMF documents on stdout, if anywhere.
#[derive(Debug, Default)]
pub(crate) struct MetricsOutput {
    #[cfg(feature = "cloudwatch")]
    pub(crate) source: Option<cloudwatch::SinkSource>,
}

fn new_group(
    config: &MetricsConfig,
    ctx: &Context,
    labels: &[(String, String)],
) -> Result<MetricSet, emf::InvalidMetric> {
    let mut set = MetricSet::new(config.namespace.clone());
    set.dimension("service", ctx.service())?;
    for (key, value) in config.dimensions.iter().chain(labels) {
        set.dimension(key, value)?;
    }
    Ok(set)
}

fn report(report: emf::WriteReport) {
    for dropped in report.dropped() {
        tracing::warn!("left out of a metrics document: {dropped}");
    }
}

#[cfg(test)]
mod tests;
