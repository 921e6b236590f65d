//! Which lines are written: the level, from Lambda's advanced logging controls, the code, or
//! Powertools' variable, in that order, as every Powertools language does.

use std::str::FromStr;

use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};

use crate::error::ConfigError;

/// The resolved level directives, and where they came from.
#[derive(Debug, Clone)]
pub(crate) struct LogLevel {
    pub(crate) targets: Targets,
    pub(crate) source: &'static str,
    /// Set when a level chosen in code or by `POWERTOOLS_LOG_LEVEL` is more verbose than
    /// `AWS_LAMBDA_LOG_LEVEL`: Lambda drops those lines, so helve warns once at start.
    pub(crate) dropped_by_lambda: Option<String>,
    /// `AWS_LAMBDA_LOG_LEVEL`, when set: nothing more verbose reaches CloudWatch.
    pub(crate) lambda_ceiling: Option<LevelFilter>,
}

/// `AWS_LAMBDA_LOG_LEVEL` > the level in code > `POWERTOOLS_LOG_LEVEL` > `RUST_LOG` > INFO.
///
/// Each may be a level (`DEBUG`, case-insensitive; `FATAL` and `CRITICAL` mean ERROR,
/// `WARNING` means WARN) or `RUST_LOG`-style directives (`info,hyper=warn,my_crate=debug`).
pub(crate) fn resolve(
    in_code: Option<&str>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<LogLevel, ConfigError> {
    let lambda = lookup("AWS_LAMBDA_LOG_LEVEL").filter(|value| !value.trim().is_empty());
    let powertools = lookup("POWERTOOLS_LOG_LEVEL").filter(|value| !value.trim().is_empty());
    let rust_log = lookup("RUST_LOG").filter(|value| !value.trim().is_empty());

    let chosen: Option<(&'static str, String)> = match (in_code, powertools) {
        (Some(level), _) => Some(("the `log_level` option", level.to_owned())),
        (None, Some(level)) => Some(("POWERTOOLS_LOG_LEVEL", level)),
        (None, None) => None,
    };
    let chosen_targets = match &chosen {
        Some((source, value)) => Some(parse(source, value)?),
        None => None,
    };

    if let Some(value) = lambda {
        let lambda_targets = parse("AWS_LAMBDA_LOG_LEVEL", &value)?;
        let lambda_targets_default = lambda_targets.default_level();
        // Lambda's level wins; per-target directives from code or POWERTOOLS_LOG_LEVEL still
        // apply, capped at it.
        let targets = match &chosen_targets {
            Some(chosen) => cap(
                chosen,
                lambda_targets.default_level().unwrap_or(LevelFilter::INFO),
            ),
            None => lambda_targets,
        };
        let dropped_by_lambda = match (&chosen, &chosen_targets) {
            (Some((source, chosen_value)), Some(chosen))
                if verbosity(chosen) > verbosity(&targets) =>
            {
                Some(format!(
                    "the log level `{chosen_value}` from {source} is more verbose than AWS_LAMBDA_LOG_LEVEL `{value}`: Lambda drops the lines below `{value}`, so helve logs at `{value}`"
                ))
            }
            _ => None,
        };
        return Ok(LogLevel {
            targets: without_raw_events(targets),
            source: "AWS_LAMBDA_LOG_LEVEL",
            dropped_by_lambda,
            lambda_ceiling: lambda_targets_default,
        });
    }
    if let (Some((source, _)), Some(targets)) = (chosen, chosen_targets) {
        return Ok(LogLevel {
            targets: without_raw_events(targets),
            source,
            dropped_by_lambda: None,
            lambda_ceiling: None,
        });
    }
    if let Some(value) = rust_log {
        return Ok(LogLevel {
            targets: without_raw_events(parse("RUST_LOG", &value)?),
            source: "RUST_LOG",
            dropped_by_lambda: None,
            lambda_ceiling: None,
        });
    }
    Ok(LogLevel {
        targets: Targets::new().with_default(Level::INFO),
        source: "the default",
        dropped_by_lambda: None,
        lambda_ceiling: None,
    })
}

/// `targets` with no target more verbose than `ceiling`.
fn cap(targets: &Targets, ceiling: LevelFilter) -> Targets {
    let default = targets
        .default_level()
        .unwrap_or(LevelFilter::INFO)
        .min(ceiling);
    Targets::new().with_default(default).with_targets(
        targets
            .iter()
            .map(|(target, level)| (target.to_owned(), level.min(ceiling))),
    )
}

/// Whether `target` is lambda_runtime's or one of its modules'
/// (`lambda_runtime::layers::api_response`).
pub(crate) fn is_runtime_target(target: &str) -> bool {
    ["lambda_runtime", "lambda_runtime_api_client"]
        .iter()
        .any(|runtime| {
            target
                .strip_prefix(runtime)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// lambda_runtime logs each raw event, unredacted, at TRACE: helve never lets that line
/// through, whatever the level or the directive (one naming a module of lambda_runtime
/// included), so event logging's redaction cannot be bypassed.
fn without_raw_events(targets: Targets) -> Targets {
    let capped = targets.iter().map(|(target, level)| {
        let level = if is_runtime_target(target) {
            level.min(LevelFilter::DEBUG)
        } else {
            level
        };
        (target.to_owned(), level)
    });
    let mut targets = match targets.default_level() {
        Some(level) => Targets::new().with_default(level),
        None => Targets::new(),
    }
    .with_targets(capped);
    for target in ["lambda_runtime", "lambda_runtime_api_client"] {
        if targets.would_enable(target, &Level::TRACE) {
            targets = targets.with_target(target, LevelFilter::DEBUG);
        }
    }
    targets
}

/// Parses a level or directives, normalising the level names Lambda and Powertools use.
fn parse(setting: &'static str, value: &str) -> Result<Targets, ConfigError> {
    let invalid = || {
        ConfigError::new(
            setting,
            format!(
                "`{value}` is not a log level (TRACE, DEBUG, INFO, WARN, ERROR) or directives such as `info,hyper=warn`"
            ),
        )
    };
    let mut directives = Vec::new();
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let normalised = match directive.rsplit_once('=') {
            Some((target, level)) if !target.trim().is_empty() => {
                format!(
                    "{}={}",
                    target.trim(),
                    level_name(level).ok_or_else(invalid)?
                )
            }
            Some(_) => return Err(invalid()),
            None => level_name(directive).ok_or_else(invalid)?.to_owned(),
        };
        directives.push(normalised);
    }
    if directives.is_empty() {
        return Err(invalid());
    }
    Targets::from_str(&directives.join(",")).map_err(|_| invalid())
}

fn level_name(level: &str) -> Option<&'static str> {
    let level = level.trim();
    let known = [
        ("trace", "trace"),
        ("debug", "debug"),
        ("info", "info"),
        ("warn", "warn"),
        ("warning", "warn"),
        ("error", "error"),
        ("fatal", "error"),
        ("critical", "error"),
        ("off", "off"),
    ];
    known
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(level))
        .map(|(_, normalised)| *normalised)
}

/// How verbose the default directive is: a larger number lets more through.
fn verbosity(targets: &Targets) -> u8 {
    match targets.default_level() {
        Some(LevelFilter::TRACE) => 5,
        Some(LevelFilter::DEBUG) => 4,
        Some(LevelFilter::INFO) => 3,
        Some(LevelFilter::WARN) => 2,
        Some(LevelFilter::ERROR) => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    fn allows(level: &LogLevel, target: &str, at: Level) -> bool {
        level.targets.would_enable(target, &at)
    }

    #[test]
    fn lambdas_log_level_wins_over_code_and_powertools() {
        let level = resolve(
            Some("debug"),
            &env(&[
                ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
                ("POWERTOOLS_LOG_LEVEL", "TRACE"),
            ]),
        )
        .unwrap();
        assert_eq!(level.source, "AWS_LAMBDA_LOG_LEVEL");
        assert!(!allows(&level, "app", Level::INFO));
        assert!(allows(&level, "app", Level::WARN));
    }

    #[test]
    fn a_level_more_verbose_than_lambdas_is_warned_about() {
        let level = resolve(Some("debug"), &env(&[("AWS_LAMBDA_LOG_LEVEL", "INFO")])).unwrap();
        assert_eq!(
            level.dropped_by_lambda.as_deref(),
            Some(
                "the log level `debug` from the `log_level` option is more verbose than AWS_LAMBDA_LOG_LEVEL `INFO`: Lambda drops the lines below `INFO`, so helve logs at `INFO`"
            )
        );
        let level = resolve(
            None,
            &env(&[
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
                ("POWERTOOLS_LOG_LEVEL", "INFO"),
            ]),
        )
        .unwrap();
        assert_eq!(level.dropped_by_lambda, None);
    }

    #[test]
    fn the_level_in_code_wins_over_powertools_log_level() {
        let level = resolve(Some("ERROR"), &env(&[("POWERTOOLS_LOG_LEVEL", "DEBUG")])).unwrap();
        assert_eq!(level.source, "the `log_level` option");
        assert!(!allows(&level, "app", Level::WARN));
    }

    #[test]
    fn powertools_level_names_are_understood() {
        let level = resolve(None, &env(&[("POWERTOOLS_LOG_LEVEL", "CRITICAL")])).unwrap();
        assert!(allows(&level, "app", Level::ERROR));
        assert!(!allows(&level, "app", Level::WARN));
        let level = resolve(None, &env(&[("POWERTOOLS_LOG_LEVEL", "Warning")])).unwrap();
        assert!(allows(&level, "app", Level::WARN));
    }

    #[test]
    fn per_target_directives_filter_each_target() {
        let level = resolve(
            None,
            &env(&[("POWERTOOLS_LOG_LEVEL", "info,hyper=warn,orders=DEBUG")]),
        )
        .unwrap();
        assert!(allows(&level, "orders::store", Level::DEBUG));
        assert!(!allows(&level, "hyper::client", Level::INFO));
        assert!(allows(&level, "app", Level::INFO));
        assert!(!allows(&level, "app", Level::DEBUG));
    }

    #[test]
    fn rust_log_applies_when_nothing_else_is_set_and_info_otherwise() {
        let level = resolve(None, &env(&[("RUST_LOG", "debug")])).unwrap();
        assert!(allows(&level, "app", Level::DEBUG));
        let level = resolve(None, &env(&[])).unwrap();
        assert!(allows(&level, "app", Level::INFO));
        assert!(!allows(&level, "app", Level::DEBUG));
    }

    #[test]
    fn lambda_runtimes_raw_event_line_never_passes_even_at_trace() {
        let level = resolve(None, &env(&[("POWERTOOLS_LOG_LEVEL", "TRACE")])).unwrap();
        assert!(allows(&level, "app", Level::TRACE));
        assert!(!allows(
            &level,
            "lambda_runtime::layers::api_response",
            Level::TRACE
        ));
        assert!(allows(
            &level,
            "lambda_runtime::layers::api_response",
            Level::DEBUG
        ));
    }

    #[test]
    fn a_directive_naming_a_module_of_lambda_runtime_cannot_let_the_raw_event_through() {
        let level = resolve(
            None,
            &env(&[(
                "POWERTOOLS_LOG_LEVEL",
                "info,lambda_runtime::layers::api_response=trace,lambda_runtime_api_client::body=trace",
            )]),
        )
        .unwrap();
        for target in [
            "lambda_runtime::layers::api_response",
            "lambda_runtime_api_client::body",
        ] {
            assert!(!allows(&level, target, Level::TRACE), "{target}");
            assert!(allows(&level, target, Level::DEBUG), "{target}");
        }
        assert!(allows(&level, "app", Level::INFO));
        assert!(is_runtime_target("lambda_runtime"));
        assert!(!is_runtime_target("lambda_runtime_extras"));
    }

    #[test]
    fn per_target_directives_still_apply_under_lambdas_level() {
        let level = resolve(
            Some("warn,orders=debug,noisy=off"),
            &env(&[("AWS_LAMBDA_LOG_LEVEL", "INFO")]),
        )
        .unwrap();
        assert!(allows(&level, "orders", Level::INFO));
        assert!(!allows(&level, "orders", Level::DEBUG));
        assert!(!allows(&level, "app", Level::INFO));
        assert!(!allows(&level, "noisy", Level::ERROR));
    }

    #[test]
    fn a_level_that_is_not_one_is_a_config_error_naming_the_variable() {
        let error = resolve(None, &env(&[("POWERTOOLS_LOG_LEVEL", "loud")])).unwrap_err();
        assert_eq!(error.setting(), "POWERTOOLS_LOG_LEVEL");
        assert_eq!(
            error.to_string(),
            "invalid setting POWERTOOLS_LOG_LEVEL: `loud` is not a log level (TRACE, DEBUG, INFO, WARN, ERROR) or directives such as `info,hyper=warn`"
        );
    }
}
