//! Local mode: a helve binary started without `AWS_LAMBDA_RUNTIME_API` runs its handler once on
//! an event file, prints what would reach CloudWatch, then the response, and exits.

use std::{
    ffi::OsString,
    fmt,
    io::{Read, Write},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use tower::Service;

use bytes::Bytes;

use crate::{error::codes, handler::Payload, layers::RawEventLayer, outcome};

/// Lambda's own limit on a function's timeout.
const MAX_TIMEOUT_SECS: u64 = 900;

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    Help,
    Run(Args),
}

/// The event to run, and how long it may take.
#[derive(Debug)]
pub(crate) struct Args {
    event: EventSource,
    timeout: Duration,
    /// `--trace`: the invocation is sampled, and the tracer prints its documents to stderr.
    trace: bool,
}

#[derive(Debug, PartialEq)]
enum EventSource {
    Stdin,
    File(PathBuf),
}

/// A command line local mode does not understand.
#[derive(Debug, PartialEq)]
pub(crate) struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Args {
    pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
        let mut event = None;
        let mut timeout = Duration::from_secs(3);
        let mut trace = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let text = arg.to_string_lossy();
            if text == "-h" || text == "--help" {
                return Ok(Command::Help);
            }
            if text == "--trace" {
                trace = true;
                continue;
            }
            let value = if text == "--timeout" {
                Some(
                    args.next()
                        .ok_or_else(|| {
                            UsageError("`--timeout` needs a number of seconds".to_owned())
                        })?
                        .to_string_lossy()
                        .into_owned(),
                )
            } else {
                text.strip_prefix("--timeout=").map(str::to_owned)
            };
            if let Some(value) = value {
                timeout = parse_timeout(&value)?;
            } else if text.starts_with('-') && text != "-" {
                return Err(UsageError(format!("unknown option `{text}`")));
            } else if event.is_some() {
                return Err(UsageError(format!(
                    "one event at a time: unexpected argument `{text}`"
                )));
            } else if text == "-" {
                event = Some(EventSource::Stdin);
            } else {
                event = Some(EventSource::File(PathBuf::from(arg)));
            }
        }
        let event = event.ok_or_else(|| {
            UsageError(
                "no event: name an event file, or `-` to read the event from stdin".to_owned(),
            )
        })?;
        Ok(Command::Run(Args {
            event,
            timeout,
            trace,
        }))
    }

    /// Whether `--trace` was given.
    pub(crate) fn trace(&self) -> bool {
        self.trace
    }
}

fn parse_timeout(value: &str) -> Result<Duration, UsageError> {
    let seconds = value.trim_end_matches('s').parse::<u64>().map_err(|_| {
        UsageError(format!(
            "`--timeout {value}`: expected whole seconds, for example `--timeout 10`"
        ))
    })?;
    if !(1..=MAX_TIMEOUT_SECS).contains(&seconds) {
        return Err(UsageError(format!(
            "`--timeout {value}`: Lambda allows 1 to {MAX_TIMEOUT_SECS} seconds"
        )));
    }
    Ok(Duration::from_secs(seconds))
}

/// The text of `--help`.
pub(crate) fn usage() -> String {
    let name = program_name();
    format!(
        "\
Runs this Lambda function once, locally, on an event.

Usage: {name} [--timeout SECONDS] [--trace] EVENT_FILE
       {name} [--timeout SECONDS] [--trace] -        (read the event from stdin)

Started without AWS_LAMBDA_RUNTIME_API, a helve function runs in local mode: it runs its
init step, calls the handler once with the event, prints the log lines and metrics as they
would reach CloudWatch, then prints the response JSON as the last line on stdout. On
failure it prints the error as Lambda records it ({{\"errorType\":...,\"errorMessage\":...}})
on stderr and exits with status 1.

The context is filled as Lambda would: a new request id, the function name from
AWS_LAMBDA_FUNCTION_NAME or the program name, memory from AWS_LAMBDA_FUNCTION_MEMORY_SIZE
or 128 MB, and a deadline --timeout seconds away (default 3, at most 900).

Options:
  --timeout SECONDS   the function's timeout (default 3)
  --trace             sample the invocation and print each X-Ray subsegment document the
                      tracer would send, one per line on stderr (feature `tracer`)
  -h, --help          print this help
"
    )
}

fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|path| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "function".to_owned())
}

/// Prints an error as Lambda records it, on stderr.
pub(crate) fn print_error(diagnostic: &Diagnostic) {
    let text = serde_json::to_string(diagnostic).unwrap_or_else(|_| {
        format!(
            "{{\"errorType\":\"{}\"}}",
            diagnostic.error_type.escape_default()
        )
    });
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Runs `service` (helve's stack, built for local mode) once on the event named by `args`.
pub(crate) async fn run_once<Svc, T>(
    mut service: Svc,
    events: RawEventLayer,
    args: Args,
) -> ExitCode
where
    Svc: Service<LambdaEvent<Payload<T>>, Error = Diagnostic>,
    Svc::Response: serde::Serialize,
    T: DeserializeOwned,
{
    let bytes = match read_event(&args.event) {
        Ok(bytes) => bytes,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let bytes = Bytes::from(bytes);
    let event = LambdaEvent::new(
        Payload::<T>::from_slice(&bytes),
        context(args.timeout, args.trace),
    );
    let findings = events.read(&bytes);
    let call = async {
        std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
        // As on Lambda: the typed stack is called while what the raw event said is readable.
        findings.during(|| service.call(event)).await
    };
    let outcome = match tokio::time::timeout(args.timeout, call).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Diagnostic {
            error_type: codes::SANDBOX_TIMEDOUT.to_owned(),
            error_message: format!("Task timed out after {}.00 seconds", args.timeout.as_secs()),
        }),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.flush();
    match outcome.and_then(|response| {
        serde_json::to_string(&response).map_err(|error| outcome::invalid_response(&error))
    }) {
        Ok(json) => {
            let _ = writeln!(stdout, "{json}");
            ExitCode::SUCCESS
        }
        Err(diagnostic) => {
            drop(stdout);
            print_error(&diagnostic);
            ExitCode::FAILURE
        }
    }
}

fn read_event(source: &EventSource) -> Result<Vec<u8>, String> {
    match source {
        EventSource::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|error| format!("cannot read the event from stdin: {error}"))?;
            Ok(bytes)
        }
        EventSource::File(path) => std::fs::read(path)
            .map_err(|error| format!("cannot read the event file {}: {error}", path.display())),
    }
}

/// A context as Lambda would fill it for this invocation.
fn context(timeout: Duration, sampled: bool) -> lambda_runtime::Context {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let function_name = env("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(program_name);
    let region = env("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned());
    let config = lambda_runtime::Config {
        memory: env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .and_then(|memory| memory.parse().ok())
            .unwrap_or(128),
        version: env("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_else(|| "$LATEST".to_owned()),
        log_group: format!("/aws/lambda/{function_name}"),
        function_name,
        ..lambda_runtime::Config::default()
    };

    let mut context = lambda_runtime::Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    context.deadline = crate::context::deadline_ms(timeout);
    context.invoked_function_arn = format!(
        "arn:aws:lambda:{region}:123456789012:function:{}",
        config.function_name
    );
    context.xray_trace_id = Some(trace_header(sampled));
    context.env_config = Arc::new(config);
    context
}

/// A trace header of the X-Ray shape: `Root=1-{epoch seconds}-{96 random bits}`, sampled
/// with `--trace`.
fn trace_header(sampled: bool) -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let root = uuid::Uuid::new_v4().as_u128() >> 32;
    let parent = uuid::Uuid::new_v4().as_u128() as u64;
    let sampled = u8::from(sampled);
    format!("Root=1-{seconds:08x}-{root:024x};Parent={parent:016x};Sampled={sampled}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        Args::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn an_event_file_and_a_timeout_are_read() {
        let Ok(Command::Run(args)) = parse(&["--timeout", "10", "events/hello.json"]) else {
            panic!("expected a run");
        };
        assert_eq!(
            args.event,
            EventSource::File(PathBuf::from("events/hello.json"))
        );
        assert_eq!(args.timeout, Duration::from_secs(10));
        let Ok(Command::Run(args)) = parse(&["-", "--timeout=5s"]) else {
            panic!("expected a run");
        };
        assert_eq!(args.event, EventSource::Stdin);
        assert_eq!(args.timeout, Duration::from_secs(5));
    }

    #[test]
    fn help_wins_over_everything_else() {
        assert!(matches!(
            parse(&["events/a.json", "--help"]),
            Ok(Command::Help)
        ));
    }

    #[test]
    fn mistakes_on_the_command_line_say_what_to_do() {
        assert_eq!(
            parse(&[]).unwrap_err().to_string(),
            "no event: name an event file, or `-` to read the event from stdin"
        );
        assert_eq!(
            parse(&["--verbose", "a.json"]).unwrap_err().to_string(),
            "unknown option `--verbose`"
        );
        assert_eq!(
            parse(&["a.json", "b.json"]).unwrap_err().to_string(),
            "one event at a time: unexpected argument `b.json`"
        );
        assert_eq!(
            parse(&["--timeout", "0", "a.json"])
                .unwrap_err()
                .to_string(),
            "`--timeout 0`: Lambda allows 1 to 900 seconds"
        );
        assert_eq!(
            parse(&["--timeout", "soon", "a.json"])
                .unwrap_err()
                .to_string(),
            "`--timeout soon`: expected whole seconds, for example `--timeout 10`"
        );
        assert_eq!(
            parse(&["a.json", "--timeout"]).unwrap_err().to_string(),
            "`--timeout` needs a number of seconds"
        );
    }

    #[test]
    fn the_local_trace_header_has_the_xray_shape() {
        let header = trace_header(false);
        let root = header.strip_prefix("Root=1-").unwrap();
        let (time, rest) = root.split_once('-').unwrap();
        assert_eq!(time.len(), 8);
        assert_eq!(rest.split(';').next().unwrap().len(), 24);
    }
}
