//! Local mode: a helve binary started without `AWS_LAMBDA_RUNTIME_API` runs its handler once on
//! an event (a file, stdin, or one made by `--http`), or on several event files in turn,
//! prints what would reach CloudWatch, then the response, and exits; `--event-template`
//! prints an event to start from.
//!
//! `args.rs` reads the command line, `http.rs` makes the event of `--http`, `templates.rs`
//! holds the templates (`templates/*.json`), `pretty.rs` prints for `--pretty`.

mod args;
mod http;
pub(crate) mod pretty;
mod templates;

use std::{
    io::{Read, Write},
    process::ExitCode,
    sync::Arc,
    time::{Duration, SystemTime},
};

pub(crate) use args::{Args, Command, usage};
use args::{EventSource, program_name};

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use tower::Service;

use bytes::Bytes;

use crate::{error::codes, handler::Payload, layers::RawEventLayer, outcome};

/// Prints an error as Lambda records it, on stderr.
pub(crate) fn print_error(diagnostic: &Diagnostic) {
    let diagnostic = &outcome::masked(diagnostic.clone());
    let text = serde_json::to_string(diagnostic).unwrap_or_else(|_| {
        format!(
            "{{\"errorType\":\"{}\"}}",
            diagnostic.error_type.escape_default()
        )
    });
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Runs `service` (helve's stack, built for local mode) on each event named by `args`, in
/// turn: the invocations of one execution environment.
pub(crate) async fn run<Svc, T>(mut service: Svc, events: RawEventLayer, args: Args) -> ExitCode
where
    Svc: Service<LambdaEvent<Payload<T>>, Error = Diagnostic>,
    Svc::Response: serde::Serialize,
    T: DeserializeOwned,
{
    // Every file read before the first invocation: a name mistyped runs nothing.
    let mut read = Vec::with_capacity(args.events.len());
    for source in &args.events {
        match read_event(source) {
            Ok(bytes) => read.push(bytes),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        }
    }
    let mut code = ExitCode::SUCCESS;
    for (source, bytes) in args.events.iter().zip(read) {
        let context = context(args.timeout, args.trace());
        // `--http`'s event is made now, with the trace header of its context.
        let bytes = match (source, bytes) {
            (_, Some(bytes)) => bytes,
            (EventSource::Http(request), None) => match http_event(request, &context) {
                Ok(bytes) => bytes,
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(2);
                }
            },
            (_, None) => Vec::new(),
        };
        if invoke(&mut service, &events, &args, bytes, context)
            .await
            .is_err()
        {
            code = ExitCode::FAILURE;
        }
    }
    code
}

/// One invocation: the response printed on stdout, or the error on stderr.
async fn invoke<Svc, T>(
    service: &mut Svc,
    events: &RawEventLayer,
    args: &Args,
    bytes: Vec<u8>,
    context: lambda_runtime::Context,
) -> Result<(), ()>
where
    Svc: Service<LambdaEvent<Payload<T>>, Error = Diagnostic>,
    Svc::Response: serde::Serialize,
    T: DeserializeOwned,
{
    let bytes = Bytes::from(bytes);
    let event = LambdaEvent::new(Payload::<T>::from_slice(&bytes), context);
    // As on Lambda: the typed stack is called while what the raw event said is readable.
    let call = events.call_once(service, &bytes, None, event);
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
        Ok(json) if args.pretty => {
            let _ = writeln!(stdout, "{}", pretty::response(&json));
            Ok(())
        }
        Ok(json) => {
            let _ = writeln!(stdout, "{json}");
            Ok(())
        }
        Err(diagnostic) => {
            drop(stdout);
            print_error(&diagnostic);
            Err(())
        }
    }
}

/// The bytes of an event file or stdin; `None` for `--http`'s, made at its invocation.
fn read_event(source: &EventSource) -> Result<Option<Vec<u8>>, String> {
    match source {
        EventSource::Http(_) => Ok(None),
        EventSource::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|error| format!("cannot read the event from stdin: {error}"))?;
            Ok(Some(bytes))
        }
        EventSource::File(path) => std::fs::read(path)
            .map(Some)
            .map_err(|error| format!("cannot read the event file {}: {error}", path.display())),
    }
}

/// `--http`'s event, with the trace header of `context`.
fn http_event(
    request: &http::HttpRequest,
    context: &lambda_runtime::Context,
) -> Result<Vec<u8>, String> {
    let trace = context.xray_trace_id.as_deref().unwrap_or_default();
    let root = trace.split(';').next().unwrap_or_default();
    let event = request.event(SystemTime::now(), &api_gateway_request_id(), root);
    serde_json::to_vec(&event).map_err(|error| format!("cannot write the event: {error}"))
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

/// A request id of the shape API Gateway gives: 15 base64 characters and `=`.
fn api_gateway_request_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = uuid::Uuid::new_v4().as_u128();
    let mut id = String::with_capacity(16);
    for _ in 0..15 {
        // The low six bits: an index below 64.
        id.push(char::from(ALPHABET[(bits & 63) as usize]));
        bits >>= 6;
    }
    id.push('=');
    id
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

    #[test]
    fn the_local_trace_header_has_the_xray_shape() {
        let header = trace_header(false);
        let root = header.strip_prefix("Root=1-").unwrap();
        let (time, rest) = root.split_once('-').unwrap();
        assert_eq!(time.len(), 8);
        assert_eq!(rest.split(';').next().unwrap().len(), 24);
    }

    #[test]
    fn an_api_gateway_request_id_has_its_shape() {
        let id = api_gateway_request_id();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.ends_with('='), "{id}");
        assert_ne!(id, api_gateway_request_id());
    }
}
