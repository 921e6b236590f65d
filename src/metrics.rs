//! CloudWatch metrics in Embedded Metric Format (EMF), recorded through the `metrics` facade.
//!
//! [`EmfRecorder`] collects each invocation's `counter!`, `gauge!` and `histogram!` calls;
//! [`MetricsLayer`](crate::layers::MetricsLayer) writes them when the invocation ends, through
//! [`emf`], which lays the documents out as Powertools for AWS Lambda writes them and within
//! every limit of the EMF specification. The guide's metrics page has the details.

pub mod emf;
mod recorder;

pub(crate) use recorder::{COLLECTING, Collector, Kind, Recorded};
pub use recorder::{EmfRecorder, add_metadata};

use std::time::SystemTime;

use crate::{Context, config::MetricsConfig, logging::Sink};
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
    sink: &Sink,
) {
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut out = |line: &[u8]| sink(line);

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
            Ok(()) => report(cold.write(timestamp, &mut out)),
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
    // One document group per set of labels, in the order first recorded.
    let mut groups: Vec<(Vec<(String, String)>, MetricSet)> = Vec::new();
    for (id, recorded) in std::mem::take(&mut collector.entries) {
        let Some(handle) = recorder.shared.handle(id) else {
            continue;
        };
        let index = match groups
            .iter()
            .position(|(labels, _)| *labels == handle.labels)
        {
            Some(index) => index,
            None => match new_group(config, ctx, &handle.labels) {
                Ok(set) => {
                    groups.push((handle.labels.clone(), set));
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
        let outcome = match &recorded {
            Recorded::Counter(value) | Recorded::Gauge(value) => {
                set.metric(&handle.name, unit, resolution, *value)
            }
            Recorded::Histogram(values) => {
                set.metric_values(&handle.name, unit, resolution, values)
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(metric = %handle.name, "the metric was not written: {error}");
        }
    }
    for (_, set) in &mut groups {
        for (key, value) in &collector.metadata {
            set.metadata(key, value.clone());
        }
        report(set.write(timestamp, &mut out));
    }
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
mod behaviour_tests;
