//! Structured JSON logs: one object per line on stdout, with the keys of Powertools for AWS
//! Lambda, for every `tracing` event of the function, its libraries and helve itself.
//!
//! [`JsonLayer`] formats the lines; the logging layer ([`crate::layers::LoggingLayer`]) decides
//! per invocation whether DEBUG lines are sampled in, and holds them in a buffer when log
//! buffering is on. The guide's logging page lists every key and setting.
//!
//! [`error!`] and its siblings are `tracing`'s event macros, with an `error` field given as
//! `%e` or `?e` written as the error it is (type, message, sources) rather than its text.

pub(crate) mod config;
pub(crate) mod error_field;
mod json;
mod level;
mod location;
mod mask;
pub mod redact;
mod time;

use std::{
    cell::{Cell, RefCell},
    collections::VecDeque,
    io::Write as _,
    sync::{Arc, Mutex},
};

pub use config::LogConfig;
pub use helve_macros::{debug, error, info, trace, warn};
#[cfg(feature = "fuzzing")]
pub(crate) use json::MAX_LINE_BYTES;
#[cfg(feature = "testing")]
pub(crate) use json::level_name;
pub(crate) use json::raw_line;
pub use json::{JsonLayer, RESERVED_KEYS};
pub(crate) use level::{LogLevel, resolve as resolve_level};
pub(crate) use mask::apply_text as mask_text;
#[cfg(feature = "fuzzing")]
pub(crate) use mask::forget_all as forget_masked_values;
pub use mask::{MAX_MASKED_VALUES, MIN_MASKED_BYTES, mask_value};
pub(crate) use time::civil_from_days;
use tracing_subscriber::{
    Layer as _, Registry,
    filter::{Filtered, Targets},
    layer::SubscriberExt as _,
};

use crate::context::{LogBuffer, lock, with_current};

/// The target of spans helve opens for traces only: their fields are not written in log lines.
pub(crate) const TRACE_ONLY_TARGET: &str = "helve::tracer";

/// Where finished lines go: stdout in a function, a buffer in tests.
pub(crate) type LineSink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Writes each line to stdout with one `write_all`, so concurrent invocations never interleave
/// within a line.
pub(crate) fn stdout_sink() -> LineSink {
    Arc::new(|line: &[u8]| {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(line);
        let _ = stdout.flush();
    })
}

/// The default size of the log buffer: 20 KiB of lines.
pub const DEFAULT_BUFFER_BYTES: usize = 20 * 1024;

/// What the JSON layer needs to know about the current invocation's logging.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogState {
    pub(crate) sampled: bool,
    pub(crate) buffering: bool,
}

/// The current invocation's logging decisions; the defaults outside an invocation.
pub(crate) fn current_state() -> LogState {
    with_current(|ctx| {
        let log = &ctx.state().log;
        LogState {
            sampled: log.sampled(),
            buffering: log.buffering(),
        }
    })
    .unwrap_or_default()
}

/// Keeps a line in the current invocation's buffer; `false` when it must be written now
/// instead (no buffer, or the deadline is so near that buffering stopped).
pub(crate) fn buffer_current(line: &[u8]) -> bool {
    with_current(|ctx| {
        let log = &ctx.state().log;
        if !log.buffering() {
            return false;
        }
        let mut buffer = lock(&log.buffer);
        if buffer.pass_through {
            return false;
        }
        buffer.push(line);
        true
    })
    .unwrap_or(false)
}

/// Writes out and empties the current invocation's buffer, if it has one.
pub(crate) fn flush_current(sink: &LineSink) {
    with_current(|ctx| {
        let log = &ctx.state().log;
        if log.buffering() {
            flush(&log.buffer, sink);
        }
    });
}

/// Writes out and empties a buffer, and writes later lines at once: the deadline is near.
pub(crate) fn flush_and_pass_through(buffer: &Mutex<LogBuffer>, sink: &LineSink) {
    lock(buffer).pass_through = true;
    flush(buffer, sink);
}

/// Writes out and empties a buffer.
pub(crate) fn flush(buffer: &Mutex<LogBuffer>, sink: &LineSink) {
    let lines = lock(buffer).take();
    for line in lines {
        sink(&line);
    }
}

/// After a buffer was written out, says how many of its lines did not fit, once. Called at the
/// end of the invocation, outside the formatter.
pub(crate) fn report_evicted(buffer: &Mutex<LogBuffer>) {
    let (evicted, max) = {
        let mut buffer = lock(buffer);
        if !(buffer.flushed && buffer.evicted > 0) {
            return;
        }
        (std::mem::take(&mut buffer.evicted), buffer.max)
    };
    tracing::warn!(
        dropped_lines = evicted,
        "{evicted} older buffered log lines were dropped: the log buffer holds at most {max} bytes"
    );
}

impl LogBuffer {
    #[cfg(test)]
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            ..Self::default()
        }
    }

    fn push(&mut self, line: &[u8]) {
        if line.len() > self.max {
            self.evicted += 1;
            return;
        }
        while self.bytes + line.len() > self.max {
            match self.lines.pop_front() {
                Some(old) => {
                    self.bytes -= old.len();
                    self.evicted += 1;
                }
                None => break,
            }
        }
        self.bytes += line.len();
        self.lines.push_back(line.to_vec());
    }

    /// Empties the buffer, handing over its lines.
    fn take(&mut self) -> VecDeque<Vec<u8>> {
        self.bytes = 0;
        self.flushed = true;
        std::mem::take(&mut self.lines)
    }

    /// The bytes held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.bytes
    }
}

/// The per-layer filter: what the JSON layer may see at all. DEBUG passes when an invocation
/// may be sampled or buffered; the layer then decides line by line.
fn layer_filter(config: &LogConfig) -> Targets {
    use tracing::level_filters::LevelFilter;
    let base = &config.level().targets;
    if config.sample_rate() > 0.0 || config.buffer_bytes().is_some() {
        // Raise to DEBUG what is not turned off; lambda_runtime stays capped (its TRACE line
        // carries the raw event).
        let raise = |level: LevelFilter| {
            if level == LevelFilter::OFF {
                level
            } else {
                level.max(LevelFilter::DEBUG)
            }
        };
        let default = raise(base.default_level().unwrap_or(LevelFilter::INFO));
        Targets::new().with_default(default).with_targets(
            base.iter()
                .map(|(target, level)| {
                    // lambda_runtime's TRACE line is its raw event: capped in every module.
                    let level = raise(level);
                    let level = if level::is_runtime_target(target) {
                        level.min(LevelFilter::DEBUG)
                    } else {
                        level
                    };
                    (target.to_owned(), level)
                })
                .chain(
                    ["lambda_runtime", "lambda_runtime_api_client"]
                        .into_iter()
                        .map(|target| (target.to_owned(), LevelFilter::DEBUG)),
                ),
        )
    } else {
        base.clone()
    }
}

/// The JSON layer for these settings ([`Settings`](crate::Settings) or its [`LogConfig`]),
/// writing to `sink`, with its filter: what helve installs as the global subscriber. Public for
/// benchmarks and for programs that compose their own `tracing_subscriber` registry.
pub fn json_layer_for(
    config: impl AsRef<LogConfig>,
    sink: impl Fn(&[u8]) + Send + Sync + 'static,
) -> Filtered<JsonLayer, Targets, Registry> {
    json_layer(config.as_ref(), Arc::new(sink))
}

/// The JSON layer for these settings, writing to `sink`, with its filter.
pub(crate) fn json_layer(
    config: &LogConfig,
    sink: LineSink,
) -> Filtered<JsonLayer, Targets, Registry> {
    json_layer_unfiltered(config, sink).with_filter(layer_filter(config))
}

fn json_layer_unfiltered(config: &LogConfig, sink: LineSink) -> JsonLayer {
    let sampling_rate = (config.sample_rate() > 0.0).then_some(config.sample_rate());
    let debug = tracing::level_filters::LevelFilter::DEBUG;
    let sample_ceiling = config
        .level()
        .lambda_ceiling
        .map_or(debug, |ceiling| ceiling.min(debug));
    JsonLayer::new(
        sink,
        config.level().targets.clone(),
        config.service_arc(),
        sampling_rate,
        sample_ceiling,
    )
}

#[cfg(feature = "tracer")]
/// Which spans a layer installed beside the JSON layer records whatever the log level (the
/// tracer's): their shared filter lets them through, so that the layer needs no filter of its
/// own (a second per-layer filter costs every span a lookup per callback).
pub(crate) type SpansAlsoWanted = fn(&tracing::Metadata<'_>) -> bool;

#[cfg(feature = "tracer")]
/// The filter of the JSON layer and the layer beside it: the log level's targets, and the
/// spans that layer wants.
#[derive(Clone)]
pub(crate) struct InstalledFilter {
    targets: Targets,
    spans: Option<SpansAlsoWanted>,
}

#[cfg(feature = "tracer")]
impl std::fmt::Debug for InstalledFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstalledFilter")
            .field("targets", &self.targets)
            .field("spans", &self.spans.is_some())
            .finish()
    }
}

#[cfg(feature = "tracer")]
impl InstalledFilter {
    fn wants_span(&self, metadata: &tracing::Metadata<'_>) -> bool {
        self.spans
            .is_some_and(|wanted| metadata.is_span() && wanted(metadata))
    }
}

#[cfg(feature = "tracer")]
impl<S> tracing_subscriber::layer::Filter<S> for InstalledFilter {
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        self.wants_span(metadata)
            || tracing_subscriber::layer::Filter::<S>::enabled(&self.targets, metadata, cx)
    }

    fn callsite_enabled(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if self.wants_span(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing_subscriber::layer::Filter::<S>::callsite_enabled(&self.targets, metadata)
        }
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        let hint = tracing_subscriber::layer::Filter::<S>::max_level_hint(&self.targets);
        match self.spans {
            Some(_) => Some(
                hint.unwrap_or(tracing::level_filters::LevelFilter::OFF)
                    .max(tracing::level_filters::LevelFilter::DEBUG),
            ),
            None => hint,
        }
    }
}

/// Installs helve's JSON logger, writing to stdout, as the global `tracing` subscriber, and a
/// panic hook that logs panics as JSON lines: what [`Function`](crate::Function) does when it
/// starts, for stacks built by hand. Takes the [`Settings`](crate::Settings) or their
/// [`LogConfig`]. Does nothing when the program already installed a subscriber.
pub fn install(config: impl AsRef<LogConfig>) {
    init(config.as_ref(), stdout_sink());
}

#[cfg(feature = "tracer")]
/// The subscriber helve installs with a layer beside the JSON layer (the tracer's spans): both
/// behind one filter, which lets through what the log level enables and the spans the other
/// layer wants. One filter, not two: a second per-layer filter, or a layer outside the
/// filtered one, costs every span and every disabled callsite a check.
pub(crate) type SubscriberWith<L> = tracing_subscriber::layer::Layered<
    Filtered<tracing_subscriber::layer::Layered<L, JsonLayer, Registry>, InstalledFilter, Registry>,
    Registry,
>;

/// Installs the JSON logger as the global subscriber, unless the program installed one, and
/// the panic hook that logs panics outside invocations as JSON lines.
pub(crate) fn init(config: &LogConfig, sink: LineSink) {
    let subscriber = tracing_subscriber::registry().with(json_layer(config, Arc::clone(&sink)));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        return;
    }
    init_installed(config, &sink);
}

#[cfg(feature = "tracer")]
/// [`init`], with `layer` beside the JSON layer, seeing the spans `wanted` picks whatever the
/// log level.
pub(crate) fn init_with<L>(config: &LogConfig, sink: LineSink, layer: L, wanted: SpansAlsoWanted)
where
    L: tracing_subscriber::Layer<Registry> + Send + Sync,
{
    let subscriber = subscriber_with(config, Arc::clone(&sink), layer, wanted);
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        return;
    }
    init_installed(config, &sink);
}

#[cfg(feature = "tracer")]
/// The subscriber [`init_with`] installs.
pub(crate) fn subscriber_with<L>(
    config: &LogConfig,
    sink: LineSink,
    layer: L,
    wanted: SpansAlsoWanted,
) -> SubscriberWith<L>
where
    L: tracing_subscriber::Layer<Registry>,
{
    let targets = layer_filter(config);
    let json = json_layer_unfiltered(config, sink).span_filter(targets.clone());
    let filter = InstalledFilter {
        targets,
        spans: Some(wanted),
    };
    tracing_subscriber::registry().with(json.and_then(layer).with_filter(filter))
}

/// What follows the subscriber's installation: the panic hook, the first lines.
fn init_installed(config: &LogConfig, sink: &LineSink) {
    install_panic_hook();
    tracing::debug!(log_level_from = config.level().source, "logging started");
    if let Some(warning) = &config.level().dropped_by_lambda {
        // Written whatever the level, since the level is what the warning is about.
        let mut line = Vec::with_capacity(256);
        json::start_line(&mut line, tracing::Level::WARN, warning);
        line.extend_from_slice(b",\"service\":\"");
        crate::json_escape::escape_into(&mut line, config.service());
        line.extend_from_slice(b"\",\"location\":\"helve\"}\n");
        sink(&line);
    }
}

thread_local! {
    /// Set while helve's panic layer runs the handler: the panic is reported by that layer.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// Where the last caught panic happened, for the panic layer's log line.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` with panics reported by the caller (helve's panic layer) rather than the hook.
pub(crate) fn catching<R>(f: impl FnOnce() -> R) -> R {
    let before = CATCHING.with(|catching| catching.replace(true));
    let result = f();
    CATCHING.with(|catching| catching.set(before));
    result
}

/// Whether a panic on this thread now is caught and reported by helve (its panic layer, the
/// HTTP request conversion, a batch record), not by the panic hook.
#[cfg(feature = "fuzzing")]
pub(crate) fn is_catching() -> bool {
    CATCHING.with(Cell::get)
}

/// The location of the last panic caught on this thread, taken.
pub(crate) fn take_panic_location() -> Option<String> {
    LAST_PANIC.with(|last| last.borrow_mut().take())
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|location| {
            format!(
                "{}:{}:{}",
                self::location::crate_relative(location.file()),
                location.line(),
                location.column()
            )
        });
        if CATCHING.with(Cell::get) {
            LAST_PANIC.with(|last| *last.borrow_mut() = location);
            return;
        }
        let message = crate::error::panic_message(info.payload());
        tracing::error!(
            panic_location = location.as_deref().unwrap_or("unknown"),
            "a task panicked: {message}"
        );
    }));
}

#[cfg(test)]
mod tests;
