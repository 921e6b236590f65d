//! The metrics settings, resolved once from the code's options and the environment.

use crate::error::ConfigError;

use super::emf::{MetricSet, Namespace};

/// How metrics are written, when they are: a namespace is configured and
/// `POWERTOOLS_METRICS_DISABLED` is not `true`.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// The namespace.
    pub namespace: Namespace,
    /// Dimensions added to every metric after `service`.
    pub dimensions: Vec<(String, String)>,
    /// The `function_name` dimension of the ColdStart metric
    /// (`POWERTOOLS_METRICS_FUNCTION_NAME`; the function's name when unset).
    pub function_name: Option<String>,
}

/// What the code says about metrics; the environment fills in the rest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetricsOptions<'a> {
    /// The `namespace` option.
    pub(crate) namespace: Option<&'a str>,
    /// The `metric_dimension`s.
    pub(crate) dimensions: &'a [(String, String)],
    /// Whether a PutMetricData sink is configured.
    pub(crate) sink: bool,
}

/// The longest namespace PutMetricData takes (EMF takes 1024 characters).
const MAX_SINK_NAMESPACE_LEN: usize = 255;

impl MetricsConfig {
    /// The metrics configuration: `None` when metrics are off (no namespace, or `disabled`).
    /// `service` is the service name and the setting it comes from.
    pub(crate) fn resolve(
        options: MetricsOptions<'_>,
        (service_setting, service): (&'static str, &str),
        disabled: bool,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<MetricsConfig>, ConfigError> {
        let (setting, namespace) = match options.namespace {
            Some(namespace) => ("the `namespace` option", namespace.to_owned()),
            None => match lookup("POWERTOOLS_METRICS_NAMESPACE") {
                Some(namespace) if !namespace.trim().is_empty() => {
                    ("POWERTOOLS_METRICS_NAMESPACE", namespace)
                }
                // No namespace: metrics are off, which is right for a function that never
                // mentions them, and a mistake for one whose code configures them (unless they
                // are turned off on purpose).
                _ => {
                    let asked = if options.sink {
                        Some("a metrics sink is configured (`metrics_sink`)")
                    } else if !options.dimensions.is_empty() {
                        Some("metric dimensions are given (`metric_dimension`)")
                    } else {
                        None
                    };
                    return match asked {
                        Some(asked) if !disabled => Err(ConfigError::new(
                            "POWERTOOLS_METRICS_NAMESPACE",
                            format!(
                                "{asked}, but no metrics namespace is set: name one with \
                             `namespace = \"..\"` in `#[helve::handler]` (or \
                             `Function::namespace`), or with POWERTOOLS_METRICS_NAMESPACE"
                            ),
                        )),
                        _ => Ok(None),
                    };
                }
            },
        };
        let namespace = Namespace::new(namespace)
            .map_err(|error| ConfigError::new(setting, error.to_string()))?;
        if options.sink && namespace.as_str().chars().count() > MAX_SINK_NAMESPACE_LEN {
            return Err(ConfigError::new(
                setting,
                format!(
                    "PutMetricData takes a namespace of at most {MAX_SINK_NAMESPACE_LEN} characters"
                ),
            ));
        }
        // Check the dimensions once, now, as every document will carry them.
        let mut probe = MetricSet::new(namespace.clone());
        probe
            .dimension("service", "probe")
            .map_err(|error| ConfigError::new("the metric dimensions", error.to_string()))?;
        for (key, value) in options.dimensions {
            probe
                .dimension(key, value)
                .map_err(|error| ConfigError::new("the metric dimensions", error.to_string()))?;
        }
        if disabled {
            return Ok(None);
        }
        // The service and the function name are dimension values of every document: a name
        // CloudWatch refuses would leave every metric out, so it stops the function now.
        probe.dimension("service", service).map_err(|error| {
            ConfigError::new(
                service_setting,
                format!("the service name is the `service` dimension of every metric: {error}"),
            )
        })?;
        let function_name =
            lookup("POWERTOOLS_METRICS_FUNCTION_NAME").filter(|name| !name.is_empty());
        if let Some(name) = &function_name {
            probe.dimension("function_name", name).map_err(|error| {
                ConfigError::new(
                    "POWERTOOLS_METRICS_FUNCTION_NAME",
                    format!("the `function_name` dimension of the ColdStart metric: {error}"),
                )
            })?;
        }
        Ok(Some(MetricsConfig {
            namespace,
            dimensions: options.dimensions.to_vec(),
            function_name,
        }))
    }
}
