//! Local mode's command line, and its usage text.

use std::{ffi::OsString, fmt, path::PathBuf, time::Duration};

use super::{http::HttpRequest, templates::Template};

/// Lambda's own limit on a function's timeout.
const MAX_TIMEOUT_SECS: u64 = 900;

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    Help,
    /// `--event-template KIND`: print the template and exit.
    Template(Template),
    Run(Args),
}

/// The events to run, in turn, and how long each may take.
#[derive(Debug)]
pub(crate) struct Args {
    /// One or more: each a new invocation of the same execution environment.
    pub(super) events: Vec<EventSource>,
    pub(super) timeout: Duration,
    /// `--trace`: the invocation is sampled, and the tracer prints its documents to stderr.
    trace: bool,
    /// `--pretty`: log lines and the response indented, an HTTP body decoded.
    pub(super) pretty: bool,
}

#[derive(Debug, PartialEq)]
pub(super) enum EventSource {
    Stdin,
    File(PathBuf),
    /// `--http METHOD PATH`: an HTTP API event made from the command line.
    Http(HttpRequest),
}

/// A command line local mode does not understand.
#[derive(Debug, PartialEq)]
pub(crate) struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The options of `--http` that only mean something with it.
#[derive(Debug, Default)]
struct HttpOptions {
    body: Option<String>,
    headers: Vec<String>,
    route: Option<String>,
}

impl Args {
    pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
        let mut events = Vec::new();
        let mut timeout = Duration::from_secs(3);
        let mut trace = false;
        let mut pretty = false;
        let mut http = HttpOptions::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let text = arg.to_string_lossy().into_owned();
            let mut value_of = |option: &str, what: &str| {
                args.next()
                    .map(|value| value.to_string_lossy().into_owned())
                    .ok_or_else(|| UsageError(format!("`{option}` needs {what}")))
            };
            match text.as_str() {
                "-h" | "--help" => return Ok(Command::Help),
                "--trace" => trace = true,
                "--pretty" => pretty = true,
                "--event-template" => {
                    let names = Template::names();
                    let kind = value_of("--event-template", &format!("a kind: {names}"))?;
                    return Template::named(&kind)
                        .map(Command::Template)
                        .ok_or_else(|| {
                            UsageError(format!(
                                "unknown event template `{kind}`; expected one of: {names}"
                            ))
                        });
                }
                "--timeout" => {
                    timeout = parse_timeout(&value_of("--timeout", "a number of seconds")?)?;
                }
                "--http" => {
                    let method =
                        value_of("--http", "a method and a path, as `--http GET /orders`")?;
                    let path = value_of(
                        "--http",
                        &format!("a path after the method, as `--http {method} /orders`"),
                    )?;
                    let request = HttpRequest::new(&method, &path).map_err(UsageError)?;
                    add_event(&mut events, EventSource::Http(request), &text)?;
                }
                "--body" => http.body = Some(value_of("--body", "the request body, as JSON")?),
                "--header" => http.headers.push(value_of(
                    "--header",
                    "NAME:VALUE, as `--header x-tenant-id:t-1`",
                )?),
                "--route" => {
                    http.route = Some(value_of("--route", "the API's route, as `/orders/{id}`")?);
                }
                _ => {
                    if let Some(value) = text.strip_prefix("--timeout=") {
                        timeout = parse_timeout(value)?;
                    } else if text.starts_with('-') && text != "-" {
                        return Err(UsageError(format!("unknown option `{text}`")));
                    } else if text == "-" {
                        add_event(&mut events, EventSource::Stdin, &text)?;
                    } else {
                        add_event(&mut events, EventSource::File(PathBuf::from(arg)), &text)?;
                    }
                }
            }
        }
        if events.is_empty() {
            return Err(UsageError(
                "no event: name an event file, `-` to read the event from stdin, or \
                 `--http METHOD PATH` to make one"
                    .to_owned(),
            ));
        }
        http.apply(&mut events)?;
        Ok(Command::Run(Args {
            events,
            timeout,
            trace,
            pretty,
        }))
    }

    /// Whether `--trace` was given.
    pub(crate) fn trace(&self) -> bool {
        self.trace
    }

    /// Whether `--pretty` was given.
    pub(crate) fn pretty(&self) -> bool {
        self.pretty
    }
}

impl HttpOptions {
    /// Puts the options in the request of `--http`; without it, they are a mistake.
    fn apply(self, events: &mut [EventSource]) -> Result<(), UsageError> {
        let [EventSource::Http(request)] = events else {
            let given = [
                self.body.as_ref().map(|_| "--body"),
                self.headers.first().map(|_| "--header"),
                self.route.as_ref().map(|_| "--route"),
            ];
            return match given.into_iter().flatten().next() {
                Some(option) => Err(UsageError(format!(
                    "`{option}` goes with `--http METHOD PATH`, not with an event file"
                ))),
                None => Ok(()),
            };
        };
        request.body = self.body;
        request.route = self.route;
        for header in &self.headers {
            request.header(header).map_err(UsageError)?;
        }
        request.check().map_err(UsageError)
    }
}

/// Adds an event to run: event files in turn, stdin once, or `--http`'s request alone.
fn add_event(
    events: &mut Vec<EventSource>,
    source: EventSource,
    text: &str,
) -> Result<(), UsageError> {
    let http = |events: &[EventSource]| {
        events
            .iter()
            .any(|event| matches!(event, EventSource::Http(_)))
    };
    if http(events) || (matches!(source, EventSource::Http(_)) && !events.is_empty()) {
        return Err(UsageError(format!(
            "`--http` makes the one event of a run: unexpected argument `{text}`"
        )));
    }
    if source == EventSource::Stdin && events.contains(&EventSource::Stdin) {
        return Err(UsageError(
            "stdin holds one event: `-` may be given once".to_owned(),
        ));
    }
    events.push(source);
    Ok(())
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
    // The kinds, wrapped under the option's description.
    let mut templates = String::new();
    let mut width = 0;
    for name in Template::names().split(' ') {
        if width > 0 && width + name.len() > 66 {
            templates.push_str("\n                        ");
            width = 0;
        } else if width > 0 {
            templates.push(' ');
            width += 1;
        }
        templates.push_str(name);
        width += name.len();
    }
    format!(
        "\
Runs this Lambda function locally, on an event, or on several in turn.

Usage: {name} [OPTIONS] EVENT_FILE...
       {name} [OPTIONS] -        (read the event from stdin)
       {name} [OPTIONS] --http METHOD PATH [--body JSON] [--header NAME:VALUE]...
           [--route ROUTE]
       {name} --event-template KIND

Started without AWS_LAMBDA_RUNTIME_API, a helve function runs in local mode: it runs its
init step, calls the handler once with the event, prints the log lines and metrics as they
would reach CloudWatch, then prints the response JSON as the last line on stdout. On
failure it prints the error as Lambda records it ({{\"errorType\":...,\"errorMessage\":...}})
on stderr and exits with status 1. Several event files are invocations of one execution
environment, in turn (the first a cold start, the state of the init step shared): each
prints its lines, then its response or error; the exit status is 1 if any failed.

The context is filled as Lambda would: a new request id, the function name from
AWS_LAMBDA_FUNCTION_NAME or the program name, memory from AWS_LAMBDA_FUNCTION_MEMORY_SIZE
or 128 MB, and a deadline --timeout seconds away (default 3, at most 900).

Options:
  --timeout SECONDS     the function's timeout (default 3)
  --trace               sample the invocation and print each X-Ray subsegment document the
                        tracer would send, one per line on stderr (feature `tracer`)
  --pretty              print the log lines and the response indented, and an HTTP
                        response's body decoded (JSON as JSON, base64 text as text)
  --http METHOD PATH    run on the API Gateway HTTP API (payload 2.0) event of this request;
                        a query string in PATH fills rawQueryString and queryStringParameters
  --body JSON           the request's body (content-type application/json unless a
                        --header gives another)
  --header NAME:VALUE   a request header, its name lower-cased; repeat for more
  --route ROUTE         the API's route for PATH, as `/orders/{{id}}`: fills routeKey and
                        pathParameters (default: the `$default` route, no path parameters)
  --event-template KIND print a template event and exit; KIND is one of
                        {templates}
  -h, --help            print this help
"
    )
}

pub(super) fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|path| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "function".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        Args::parse(args.iter().map(OsString::from))
    }

    fn run(args: &[&str]) -> Args {
        match parse(args) {
            Ok(Command::Run(args)) => args,
            other => panic!("expected a run: {other:?}"),
        }
    }

    #[test]
    fn an_event_file_and_a_timeout_are_read() {
        let args = run(&["--timeout", "10", "events/hello.json"]);
        assert_eq!(
            args.events,
            [EventSource::File(PathBuf::from("events/hello.json"))]
        );
        assert_eq!(args.timeout, Duration::from_secs(10));
        assert!(!args.pretty);
        let args = run(&["-", "--timeout=5s", "--pretty"]);
        assert_eq!(args.events, [EventSource::Stdin]);
        assert_eq!(args.timeout, Duration::from_secs(5));
        assert!(args.pretty);
    }

    #[test]
    fn several_event_files_are_run_in_turn() {
        let args = run(&["create.json", "-", "get.json"]);
        assert_eq!(
            args.events,
            [
                EventSource::File(PathBuf::from("create.json")),
                EventSource::Stdin,
                EventSource::File(PathBuf::from("get.json")),
            ]
        );
    }

    #[test]
    fn help_wins_over_everything_else() {
        assert!(matches!(
            parse(&["events/a.json", "--help"]),
            Ok(Command::Help)
        ));
    }

    #[test]
    fn an_http_request_is_read_with_its_body_headers_and_route() {
        let args = run(&[
            "--http",
            "post",
            "/orders/o-1?dry_run=true",
            "--body",
            r#"{"sku":"ABC-123"}"#,
            "--header",
            "X-Tenant-Id: t-1",
            "--header",
            "accept:application/json",
            "--route",
            "/orders/{id}",
        ]);
        let [EventSource::Http(request)] = &args.events[..] else {
            panic!("an HTTP request: {:?}", args.events);
        };
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/orders/o-1?dry_run=true");
        assert_eq!(request.body.as_deref(), Some(r#"{"sku":"ABC-123"}"#));
        assert_eq!(
            request.headers,
            [
                ("x-tenant-id".to_owned(), "t-1".to_owned()),
                ("accept".to_owned(), "application/json".to_owned())
            ]
        );
        assert_eq!(request.route.as_deref(), Some("/orders/{id}"));
    }

    #[test]
    fn an_event_template_is_asked_for_by_its_kind() {
        let Ok(Command::Template(template)) = parse(&["--event-template", "sqs-fifo"]) else {
            panic!("expected a template");
        };
        assert!(template.json().contains("MessageGroupId"));
        assert_eq!(
            parse(&["--event-template", "sns"]).unwrap_err().to_string(),
            "unknown event template `sns`; expected one of: http-v2, http-v1, alb, \
             function-url, sqs, sqs-fifo, kinesis, dynamodb, cfn-create, cfn-update, \
             cfn-delete, schedule, s3"
        );
        assert!(
            parse(&["--event-template"])
                .unwrap_err()
                .to_string()
                .starts_with("`--event-template` needs a kind: http-v2, http-v1, ")
        );
    }

    #[test]
    fn mistakes_on_the_command_line_say_what_to_do() {
        let error = |args: &[&str]| parse(args).unwrap_err().to_string();
        assert_eq!(
            error(&[]),
            "no event: name an event file, `-` to read the event from stdin, or \
             `--http METHOD PATH` to make one"
        );
        assert_eq!(
            error(&["--verbose", "a.json"]),
            "unknown option `--verbose`"
        );
        assert_eq!(
            error(&["a.json", "--http", "GET", "/"]),
            "`--http` makes the one event of a run: unexpected argument `--http`"
        );
        assert_eq!(
            error(&["--http", "GET", "/", "a.json"]),
            "`--http` makes the one event of a run: unexpected argument `a.json`"
        );
        assert_eq!(
            error(&["-", "a.json", "-"]),
            "stdin holds one event: `-` may be given once"
        );
        assert_eq!(
            error(&["--timeout", "0", "a.json"]),
            "`--timeout 0`: Lambda allows 1 to 900 seconds"
        );
        assert_eq!(
            error(&["--timeout", "soon", "a.json"]),
            "`--timeout soon`: expected whole seconds, for example `--timeout 10`"
        );
        assert_eq!(
            error(&["a.json", "--timeout"]),
            "`--timeout` needs a number of seconds"
        );
        assert_eq!(
            error(&["--http", "GET"]),
            "`--http` needs a path after the method, as `--http GET /orders`"
        );
        assert_eq!(
            error(&["a.json", "--body", "{}"]),
            "`--body` goes with `--http METHOD PATH`, not with an event file"
        );
        assert_eq!(
            error(&["--http", "GET", "/", "--header", "x"]),
            "`--header x`: expected NAME:VALUE, as `x-tenant-id: t-1`"
        );
    }

    #[test]
    fn the_usage_names_every_option_and_template() {
        let usage = usage();
        for option in [
            "--timeout",
            "--trace",
            "--pretty",
            "--http",
            "--body",
            "--header",
            "--route",
            "--event-template",
            "--help",
        ] {
            assert!(usage.contains(option), "{option}");
        }
        for name in Template::names().split(", ") {
            assert!(usage.contains(name), "{name}");
        }
    }
}
