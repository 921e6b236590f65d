//! Every `errorType` helve itself reports or logs, as constants.
//!
//! Match on these instead of repeating the strings, for example in a test of your function or
//! in the code that builds your alarms and metric filters:
//!
//! ```
//! use helve::error::codes;
//!
//! assert_eq!(codes::INVALID_EVENT, "helve.InvalidEvent");
//! assert!(codes::ALL.iter().any(|(code, _)| *code == codes::PANIC));
//! ```
//!
//! The same list renders the table of helve's own errors in the
//! [errors guide](crate::guide::errors).

/// Declares each code as a documented constant, and [`ALL`] from the same list, so that a
/// code cannot be added without its line in the table.
macro_rules! error_codes {
    ($(
        $(#[$doc:meta])*
        $name:ident = $code:literal, $meaning:literal;
    )*) => {
        $(
            $(#[$doc])*
            pub const $name: &str = $code;
        )*

        /// Every code above with its one-line meaning, in the order of the errors guide's
        /// table: `(errorType, when you see it)`.
        pub const ALL: &[(&str, &str)] = &[$(($code, $meaning)),*];
    };
}

error_codes! {
    /// The event does not deserialize into the handler's event type (or a batch event or
    /// custom resource request is not one): the message names the field path, line and
    /// column, and the handler is not called.
    INVALID_EVENT = "helve.InvalidEvent",
        "the payload does not deserialize into the event type; the message names the field path, line and column, as `invalid event at items[0].qty: invalid type: string, expected u32 at line 1 column 27` (never the value sent); the handler is not called";
    /// The handler (or a record's decoding) panicked: the invocation, or the record, fails
    /// with `the handler panicked: <message>`, and the next invocation runs normally.
    PANIC = "helve.Panic",
        "the handler panicked: `the handler panicked: <message>`; the next invocation runs normally";
    /// The init function failed or panicked: reported to `/runtime/init/error`, and the
    /// process exits before any invocation. A failed parameter read keeps its own type
    /// ([`KEPT_BY_INIT`]).
    INIT_ERROR = "helve.InitError",
        "the init function failed or panicked; reported to `/runtime/init/error`, and the process exits (a custom resource first answers the next request FAILED, and reports it as that invocation's error); a parameter the init step could not read keeps its own `helve.Parameter*` type";
    /// A setting read from the environment (or given in code) is missing or invalid, for
    /// example an empty `POWERTOOLS_SERVICE_NAME`; reported as an init error.
    CONFIG_ERROR = "helve.ConfigError",
        "a setting is missing or invalid (`POWERTOOLS_SERVICE_NAME` empty, a Lambda variable missing); reported as an init error";
    /// A [`helve::Error`](crate::Error) made from another error, or with
    /// [`Error::msg`](crate::Error::msg).
    ERROR = "helve.Error",
        "a `helve::Error` made from another error or with `Error::msg`";
    /// Feature `validate`: a plain event whose type derives `validator::Validate` does not
    /// validate: the message lists each failing field and rule, never a value, and the handler
    /// is not called.
    VALIDATION_FAILED = "helve.ValidationFailed",
        "`validate`: the event decoded but does not validate (its type derives `validator::Validate`); the message, `the event does not validate: ...`, lists each failing field and its rule, never a value; the handler is not called";
    /// The handler's response does not serialize to JSON (or, for HTTP, is not a valid
    /// response): the invocation fails, or an HTTP function answers 500.
    INVALID_RESPONSE = "helve.InvalidResponse",
        "the handler's response does not serialize to JSON, or an HTTP response has a header HTTP does not allow; an HTTP function answers 500";
    /// Should never be seen: an invocation's future was polled after it completed. Please
    /// report it.
    INTERNAL = "helve.Internal",
        "a bug in helve (an invocation's future polled after it completed); please report it";
    /// Feature `tracer`: the invocation was stopped (its deadline passed, the function shut
    /// down) before it answered: the type of the `cause` of its `## {handler}` subsegment.
    STOPPED = "helve.Stopped",
        "`tracer`: the invocation was stopped before it answered (its deadline passed, the function shut down); the fault recorded on its `## handler` subsegment in X-Ray";
    /// Local mode only: the handler ran past `--timeout`, reported as Lambda reports it.
    SANDBOX_TIMEDOUT = "Sandbox.Timedout",
        "local mode only: the handler ran past `--timeout`, as Lambda reports it";
    /// Feature `batch`: a record does not decode into the handler's record type, or its
    /// payload does not validate; only that record fails.
    INVALID_RECORD = "helve.InvalidRecord",
        "`batch`: a record does not decode or does not validate; only that record fails, and the handler is not called for it";
    /// Feature `batch`: a record was not processed, or stopped before it finished, because
    /// the function's deadline came near; it is reported as a `batchItemFailure` for a retry.
    RECORD_NOT_PROCESSED = "helve.RecordNotProcessed",
        "`batch`: a record was not processed, or was stopped, because the function's deadline came near; it is retried";
    /// Feature `batch`: every record of the batch failed, so the whole invocation fails.
    BATCH_FAILED = "helve.BatchFailed",
        "`batch`: every record of the batch failed, so the invocation fails as a whole";
    /// Feature `http`: the handler takes `Path`, but the request's route has no path
    /// parameters; logged, and the request is answered 500.
    NO_PATH_PARAMETERS = "helve.NoPathParameters",
        "`http`: the handler takes `Path`, but the request's route has no path parameters; logged, and answered 500";
    /// Feature `http`: the request could not be read (a malformed host, path, query string,
    /// header or base64 body); logged at WARN, and answered 400 without calling the handler.
    MALFORMED_REQUEST = "helve.MalformedRequest",
        "`http`: the request could not be read (a malformed host, path, query string, header or base64 body); logged at WARN, and answered 400 without calling the handler";
    /// Feature `http`: the handler had not answered when the deadline came near; logged, and
    /// the request is answered 504.
    DEADLINE_EXCEEDED = "helve.DeadlineExceeded",
        "`http`: the handler had not answered when the deadline came near; logged, and answered 504";
    /// Feature `cfn`: no answer could be sent to CloudFormation (every attempt failed, or the
    /// request has no `ResponseURL`); the body is logged.
    CUSTOM_RESOURCE_NOT_ANSWERED = "helve.CustomResourceNotAnswered",
        "`cfn`: no answer could be sent to CloudFormation (every attempt failed, or the request has no `ResponseURL`); the body is logged";
    /// Feature `cfn`: the request is not one the handler can be called for; logged, and
    /// CloudFormation is answered FAILED.
    INVALID_CUSTOM_RESOURCE_REQUEST = "helve.InvalidCustomResourceRequest",
        "`cfn`: the request is not one the handler can be called for; logged, and answered FAILED";
    /// Feature `cfn`: the handler's answer is one CloudFormation would reject (a
    /// `PhysicalResourceId` or `Data` too large); logged, and answered FAILED.
    INVALID_CUSTOM_RESOURCE_ANSWER = "helve.InvalidCustomResourceAnswer",
        "`cfn`: the handler's answer is one CloudFormation rejects (`PhysicalResourceId` or `Data` too large); logged, and answered FAILED";
    /// Feature `cfn`: the handler did not finish before the function's deadline came near;
    /// logged, and CloudFormation is answered FAILED.
    CUSTOM_RESOURCE_TIMEOUT = "helve.CustomResourceTimeout",
        "`cfn`: the handler did not finish before the deadline came near; logged, and answered FAILED";
    /// Feature `idempotency`: another execution with the same idempotency key has started and
    /// not finished; the request fails (a batch record alone), and a retry replays it later.
    IDEMPOTENCY_ALREADY_IN_PROGRESS = "helve.IdempotencyAlreadyInProgress",
        "`idempotency`: an execution with the same idempotency key is in progress; this one fails (a batch: only its record), and a retry replays the first one's response";
    /// Feature `idempotency`: a record of the key exists, but the validated part of the
    /// request differs from the one that made it.
    IDEMPOTENCY_VALIDATION_FAILED = "helve.IdempotencyValidationFailed",
        "`idempotency`: a record of the key exists, but the request's validated part differs from the one that made it";
    /// Feature `idempotency`: the request has no idempotency key and one is required.
    IDEMPOTENCY_KEY_MISSING = "helve.IdempotencyKeyMissing",
        "`idempotency`: the request has no key value and a key is required (when it is not, the request runs without idempotency, logged at WARN)";
    /// Feature `idempotency`: the deadline came near before the execution finished; its
    /// in-progress record was deleted so that a retry runs at once.
    IDEMPOTENCY_RELEASED = "helve.IdempotencyReleased",
        "`idempotency`: the deadline came near before the execution finished; its record was deleted so that a retry runs at once, and the invocation fails";
    /// Feature `idempotency`: the record kept changing under the execution through every
    /// retry.
    IDEMPOTENCY_INCONSISTENT_STATE = "helve.IdempotencyInconsistentState",
        "`idempotency`: the record kept changing (expired, taken over) through every retry of the acquiring write";
    /// Feature `idempotency`: the store could not be read or written, or holds a record
    /// helve cannot use.
    IDEMPOTENCY_STORE_ERROR = "helve.IdempotencyStoreError",
        "`idempotency`: the store failed, or holds a record helve cannot use; after the function ran, the failure is logged and its response still goes out";
    /// Feature `idempotency`: the response is too large for the store; it is not stored,
    /// logged at ERROR, and the response still goes out.
    IDEMPOTENCY_RESPONSE_TOO_LARGE = "helve.IdempotencyResponseTooLarge",
        "`idempotency`: the response is too large for the store (DynamoDB: 400 KB); logged, not stored, the record released, and the response still goes out";
    /// Features `s3` and `dynamodb`: an object's ingest stopped before its end (the deadline
    /// margin came, the object could not be read on, or items were left unprocessed); the
    /// message names the object and the line and offset to resume from.
    INGEST_INCOMPLETE = "helve.IngestIncomplete",
        "`s3` + `dynamodb`: an object's ingest stopped before its end (deadline margin, a read failure, items left unprocessed); names the object and where to resume";
    /// Feature `parameters`: the parameter, secret or configuration does not exist (or the
    /// version asked for does not); the message names it, never a value.
    PARAMETER_NOT_FOUND = "helve.ParameterNotFound",
        "`parameters`: the parameter, secret or AppConfig configuration does not exist (nor the version asked for); names it, never a value";
    /// Feature `parameters`: the value does not convert into the type asked for (JSON of
    /// another shape, base64 that is not); the message has the path of the JSON error, never
    /// the value. It is not cached.
    PARAMETER_TRANSFORM_FAILED = "helve.ParameterTransformFailed",
        "`parameters`: the value does not convert into the type asked for; names the parameter and the JSON path that failed, never the value, and is not cached";
    /// Feature `parameters`: the service (or the extension) could not be reached, refused the
    /// request or failed; the message carries its error.
    PARAMETERS_UNAVAILABLE = "helve.ParametersUnavailable",
        "`parameters`: SSM, Secrets Manager or AppConfig (or the extension in front of them) could not be reached, refused the request or failed; carries the service's error";
    /// Feature `invoke`: calling another function failed: Lambda refused the call, kept
    /// throttling it, failed, or the caller's deadline left no time for it; names the function.
    INVOKE_FAILED = "helve.InvokeFailed",
        "`invoke`: Lambda refused the call, kept throttling it or failed, or the caller's deadline left no time to call; names the function called";
    /// Feature `invoke`: the payload is over Lambda's limit (6 MB called, 1 MB sent); refused
    /// before sending.
    INVOKE_PAYLOAD_TOO_LARGE = "helve.InvokePayloadTooLarge",
        "`invoke`: the payload is over Lambda's limit (6 MB for a call, 1 MB for an event); refused before anything is sent";
    /// Feature `invoke`: the function called answered something that does not decode into
    /// the response type; names the path, never the value.
    INVOKE_INVALID_RESPONSE = "helve.InvokeInvalidResponse",
        "`invoke`: the called function's answer does not decode into the response type; names the path, never the value";
    /// A metric was recorded but no metrics namespace is configured, so no metric is
    /// written; logged once per process.
    METRICS_NOT_CONFIGURED = "helve.MetricsNotConfigured",
        "a metric was recorded, but no metrics namespace is configured, so none is written; logged once";
}

/// The codes an init step's failure keeps as the init error's `errorType`, instead of
/// [`INIT_ERROR`]: a parameter or secret the init step could not read.
pub const KEPT_BY_INIT: &[&str] = &[
    PARAMETER_NOT_FOUND,
    PARAMETER_TRANSFORM_FAILED,
    PARAMETERS_UNAVAILABLE,
];

#[cfg(test)]
mod tests {
    use std::{fs, path::Path};

    use super::ALL;

    const START: &str = "<!-- codes: generated from src/error/codes.rs -->";
    const END: &str = "<!-- codes: end -->";

    /// The table of docs/errors.md, rendered from [`ALL`].
    fn table() -> String {
        let mut table = String::from("| `errorType` | when |\n|---|---|\n");
        for (code, meaning) in ALL {
            table.push_str(&format!("| `{code}` | {meaning} |\n"));
        }
        table
    }

    #[test]
    fn every_code_is_unique_and_has_a_one_line_meaning() {
        for (index, (code, meaning)) in ALL.iter().enumerate() {
            assert!(
                ALL[..index].iter().all(|(other, _)| other != code),
                "{code} is declared twice"
            );
            assert!(
                !meaning.is_empty() && !meaning.contains(['|', '\n']),
                "the meaning of {code} must be one line without `|`"
            );
        }
    }

    #[test]
    fn the_errors_guide_lists_every_code() {
        let guide = include_str!("../../docs/errors.md");
        let start = guide
            .find(START)
            .map(|at| at + START.len())
            .unwrap_or_else(|| panic!("docs/errors.md has no `{START}` line"));
        let end = guide[start..]
            .find(END)
            .map(|at| start + at)
            .unwrap_or_else(|| panic!("docs/errors.md has no `{END}` line after `{START}`"));
        let expected = format!("\n{}", table());
        assert!(
            guide[start..end] == expected,
            "the table in docs/errors.md is not the one src/error/codes.rs declares; \
             replace the lines between the markers with:\n{}",
            table()
        );
    }

    #[test]
    fn no_error_code_is_spelled_out_outside_this_module() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        collect(&root.join("src"), &mut files);
        let mut found = Vec::new();
        for file in files {
            let relative = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            if relative == "src/error/codes.rs" || name == "tests.rs" || name.ends_with("_tests.rs")
            {
                continue;
            }
            let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{relative}: {e}"));
            let lines: Vec<&str> = text.lines().collect();
            for (number, line) in lines.iter().enumerate() {
                let line = line.trim_start();
                // A module's own tests are at its end.
                if line.starts_with("#[cfg(test)]")
                    && lines.get(number + 1).is_some_and(|next| {
                        let next = next.trim();
                        next.starts_with("mod ") && next.ends_with('{')
                    })
                {
                    break;
                }
                if line.starts_with("//") {
                    continue;
                }
                if line.contains("\"helve.") || line.contains("\"Sandbox.") {
                    found.push(format!("{relative}:{}: {line}", number + 1));
                }
            }
        }
        assert!(
            found.is_empty(),
            "use the constants of helve::error::codes instead of these literals:\n{}",
            found.join("\n")
        );
    }

    fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                collect(&path, files);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
}
