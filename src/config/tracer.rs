//! The tracer's settings (feature `tracer`): the code's options combined with Powertools'
//! variables.

use std::{
    borrow::Cow,
    net::{SocketAddr, ToSocketAddrs},
};

use crate::error::ConfigError;

/// Where the X-Ray daemon listens when `AWS_XRAY_DAEMON_ADDRESS` does not say.
pub const DEFAULT_DAEMON_ADDRESS: &str = "127.0.0.1:2000";

/// What the code says about tracing, given to
/// [`Function::tracer`](crate::Function::tracer) or as the `tracer(...)` option of
/// `#[helve::handler]`. What the code says wins over the environment.
///
/// ```
/// use helve::tracer::TracerOptions;
///
/// // The response may hold personal data: keep it out of the trace.
/// let options = TracerOptions::new().capture_response(false);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TracerOptions {
    capture_response: Option<bool>,
    capture_error: Option<bool>,
    disabled: bool,
    export: Option<Export>,
}

/// What the tracer sends to the daemon's socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Export {
    /// X-Ray segment documents (JSON): what X-Ray's trace map and search read. The default.
    #[default]
    XRay,
    /// OpenTelemetry spans (OTLP protobuf, base64 after `T1S`), as AWS's OpenTelemetry
    /// distributions send them inside Lambda, for CloudWatch Transaction Search and
    /// Application Signals. Only OpenTelemetry's semantic conventions are attributes.
    Otlp,
}

impl TracerOptions {
    /// The defaults: on, with the response and the error captured, unless the environment
    /// says otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the handler's response is recorded as metadata of its subsegment (over
    /// `POWERTOOLS_TRACER_CAPTURE_RESPONSE`).
    pub fn capture_response(mut self, capture: bool) -> Self {
        self.capture_response = Some(capture);
        self
    }

    /// Whether the handler's error is recorded as metadata of its subsegment (over
    /// `POWERTOOLS_TRACER_CAPTURE_ERROR`). The error's type and message are in the
    /// subsegment's `cause` either way.
    pub fn capture_error(mut self, capture: bool) -> Self {
        self.capture_error = Some(capture);
        self
    }

    /// What is sent: X-Ray documents (the default) or OTLP spans (over
    /// `POWERTOOLS_TRACER_EXPORT`, `xray` or `otlp`).
    pub fn export(mut self, export: Export) -> Self {
        self.export = Some(export);
        self
    }

    /// Turns the tracer off, whatever `POWERTOOLS_TRACE_DISABLED` says.
    pub fn disabled(mut self) -> Self {
        self.disabled = true;
        self
    }
}

/// The tracer's settings, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct TracerConfig {
    pub(crate) enabled: bool,
    pub(crate) capture_response: bool,
    pub(crate) capture_error: bool,
    pub(crate) export: Export,
    /// Where documents are sent on Lambda.
    pub(crate) daemon: SocketAddr,
}

impl TracerConfig {
    pub(crate) fn resolve(
        options: &TracerOptions,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let flag = |setting: &'static str, default: bool| match lookup(setting) {
            Some(value) => ConfigError::parse_bool(setting, &value),
            None => Ok(default),
        };
        let disabled = flag("POWERTOOLS_TRACE_DISABLED", false)?;
        let capture_response = match options.capture_response {
            Some(capture) => capture,
            None => flag("POWERTOOLS_TRACER_CAPTURE_RESPONSE", true)?,
        };
        let capture_error = match options.capture_error {
            Some(capture) => capture,
            None => flag("POWERTOOLS_TRACER_CAPTURE_ERROR", true)?,
        };
        let export = match (options.export, lookup("POWERTOOLS_TRACER_EXPORT")) {
            (Some(export), _) => export,
            (None, Some(value)) => match value.trim().to_ascii_lowercase().as_str() {
                "xray" | "x-ray" | "" => Export::XRay,
                "otlp" => Export::Otlp,
                _ => {
                    return Err(ConfigError::new(
                        "POWERTOOLS_TRACER_EXPORT",
                        "expected `xray` or `otlp`; the value given is not repeated here",
                    ));
                }
            },
            (None, None) => Export::XRay,
        };
        let enabled = !(options.disabled || disabled);
        let daemon = match lookup("AWS_XRAY_DAEMON_ADDRESS") {
            Some(address) if enabled => daemon_address(&address)?,
            _ => daemon_address(DEFAULT_DAEMON_ADDRESS)?,
        };
        Ok(Self {
            enabled,
            capture_response,
            capture_error,
            export,
            daemon,
        })
    }
}

/// The UDP address of `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `tcp:host:port udp:host:port`.
fn daemon_address(value: &str) -> Result<SocketAddr, ConfigError> {
    let invalid =
        |reason: &'static str| ConfigError::new("AWS_XRAY_DAEMON_ADDRESS", Cow::Borrowed(reason));
    let parts: Vec<&str> = value.split_whitespace().collect();
    let udp = match parts.as_slice() {
        [single] if !single.starts_with("tcp:") => single.strip_prefix("udp:").unwrap_or(single),
        [_, _] => parts
            .iter()
            .find_map(|part| part.strip_prefix("udp:"))
            .ok_or_else(|| invalid("expected `host:port`, or `tcp:host:port udp:host:port`"))?,
        _ => {
            return Err(invalid(
                "expected `host:port`, or `tcp:host:port udp:host:port`",
            ));
        }
    };
    if let Ok(address) = udp.parse::<SocketAddr>() {
        return Ok(address);
    }
    udp.to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| invalid("the address is not `host:port` with a host that resolves"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        options: &TracerOptions,
        vars: &[(&str, &str)],
    ) -> Result<TracerConfig, ConfigError> {
        TracerConfig::resolve(options, &|name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn the_tracer_is_on_and_captures_everything_by_default() {
        let config = resolve(&TracerOptions::new(), &[]).unwrap();
        assert!(config.enabled && config.capture_response && config.capture_error);
        assert_eq!(config.daemon, "127.0.0.1:2000".parse().unwrap());
    }

    #[test]
    fn powertools_variables_turn_capture_and_tracing_off() {
        let config = resolve(
            &TracerOptions::new(),
            &[
                ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "false"),
                ("POWERTOOLS_TRACER_CAPTURE_ERROR", "0"),
                ("POWERTOOLS_TRACE_DISABLED", "true"),
            ],
        )
        .unwrap();
        assert!(!config.enabled && !config.capture_response && !config.capture_error);
    }

    #[test]
    fn the_code_wins_over_the_environment() {
        let options = TracerOptions::new()
            .capture_response(true)
            .capture_error(false);
        let config = resolve(
            &options,
            &[
                ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "false"),
                ("POWERTOOLS_TRACER_CAPTURE_ERROR", "true"),
            ],
        )
        .unwrap();
        assert!(config.capture_response && !config.capture_error);
        assert!(
            !resolve(&TracerOptions::new().disabled(), &[])
                .unwrap()
                .enabled
        );
    }

    #[test]
    fn the_export_is_x_ray_unless_the_code_or_the_environment_says_otlp() {
        assert_eq!(
            resolve(&TracerOptions::new(), &[]).unwrap().export,
            Export::XRay
        );
        let otlp = [("POWERTOOLS_TRACER_EXPORT", "OTLP")];
        assert_eq!(
            resolve(&TracerOptions::new(), &otlp).unwrap().export,
            Export::Otlp
        );
        let options = TracerOptions::new().export(Export::XRay);
        assert_eq!(resolve(&options, &otlp).unwrap().export, Export::XRay);
        let error = resolve(
            &TracerOptions::new(),
            &[("POWERTOOLS_TRACER_EXPORT", "zipkin")],
        )
        .unwrap_err();
        assert_eq!(error.setting(), "POWERTOOLS_TRACER_EXPORT");
        assert!(!error.to_string().contains("zipkin"), "{error}");
    }

    #[test]
    fn the_daemon_address_takes_both_of_lambdas_forms() {
        let plain = resolve(
            &TracerOptions::new(),
            &[("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000")],
        )
        .unwrap();
        assert_eq!(plain.daemon, "169.254.79.129:2000".parse().unwrap());
        let both = resolve(
            &TracerOptions::new(),
            &[(
                "AWS_XRAY_DAEMON_ADDRESS",
                "tcp:127.0.0.1:2000 udp:127.0.0.2:2001",
            )],
        )
        .unwrap();
        assert_eq!(both.daemon, "127.0.0.2:2001".parse().unwrap());
    }

    #[test]
    fn a_bad_setting_is_named_and_its_value_not_repeated() {
        let error = resolve(
            &TracerOptions::new(),
            &[("AWS_XRAY_DAEMON_ADDRESS", "tcp:10.0.0.1:2000")],
        )
        .unwrap_err();
        assert_eq!(error.setting(), "AWS_XRAY_DAEMON_ADDRESS");
        assert!(!error.to_string().contains("10.0.0.1"), "{error}");
        let error = resolve(
            &TracerOptions::new(),
            &[("POWERTOOLS_TRACE_DISABLED", "maybe")],
        )
        .unwrap_err();
        assert_eq!(error.setting(), "POWERTOOLS_TRACE_DISABLED");
        assert!(!error.to_string().contains("maybe"), "{error}");
    }
}
