//! The tasks of the `task-api` example: what a client sends ([`NewTask`]), the record both
//! functions keep ([`Task`]), the event the API sends the processor ([`TaskEvent`]), the
//! simulated work ([`work`]), where tasks are kept ([`TaskStore`]: [`MemoryStore`], and with
//! the feature `dynamodb`, `DynamoDbStore`), how a request fails ([`TaskError`]) and the
//! answer of an accepted task ([`Accepted`]). The functions themselves, the helve handlers,
//! are `src/bin/api.rs` (`POST /tasks`, `GET /tasks/{id}`) and `src/bin/processor.rs`.
//!
//! Every change of a task's status is one conditional write, so an event Lambda delivers
//! twice, or retries, does no work twice:
//!
//! ```
//! use example_task_api::{Lease, MemoryStore, Start, TaskEvent, TaskStore};
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # runtime.block_on(async {
//! let store = MemoryStore::with_tasks([]);
//! let event = TaskEvent {
//!     id: "0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a91".to_owned(),
//!     kind: "report".to_owned(),
//!     input: Default::default(),
//! };
//! // The first invocation takes the task (here it has no record yet: it is recorded).
//! let first = Lease { owner: "request-1".to_owned(), until: 61_000, now: 1_000 };
//! let Start::Started { task, recorded: true } = store.start(&event, &first).await.unwrap() else {
//!     unreachable!("a task with no record is taken");
//! };
//! // A copy of the event, while the first invocation runs: held, so it is skipped.
//! let copy = Lease { owner: "request-2".to_owned(), until: 62_000, now: 2_000 };
//! assert!(matches!(store.start(&event, &copy).await.unwrap(), Start::Held(_)));
//! // Once the task is completed, every later copy finds it finished.
//! store.complete(&task.id, "request-1", &serde_json::json!({"sum": 3}), 3_000).await.unwrap();
//! assert!(matches!(store.start(&event, &copy).await.unwrap(), Start::Finished(_)));
//! # });
//! ```

mod store;
mod task;
pub mod work;

use std::time::Duration;

use helve::http::{IntoResponse, Json, Response, StatusCode, header};
use helve::invoke::InvokeError;
use serde::Serialize;

pub use store::{
    BoxError, MemoryStore, Start, Store, StoreError, TABLE_VAR, TaskStore, UNAVAILABLE_VAR,
};
#[cfg(feature = "dynamodb")]
pub use store::{DynamoDbStore, STORE_TIMEOUT};
pub use task::{
    Lease, MAX_TYPE_LEN, NewTask, Status, TASK_ID_LEN, Task, TaskEvent, TaskFailure, epoch_ms,
    is_task_id, is_type_name, new_task_id, now_ms,
};

/// Why a request to the API failed: each variant answers with its status and `code` in an
/// `application/problem+json` body. A client error's message is the problem's `detail`; a
/// 503's never is (helve logs it at ERROR, with its source chain, instead).
#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[non_exhaustive]
pub enum TaskError {
    /// `GET /tasks/{id}` of a task that does not exist.
    #[error("task {0} not found")]
    #[status(404, code = "task_not_found")]
    NotFound(String),
    /// `GET /tasks/{id}` of an id no task can have: not shown back, since it is not one the
    /// API made.
    #[error("no task has this id")]
    #[status(404, code = "task_not_found")]
    NotATaskId,
    /// The store failed: unreachable, or holding a record these functions cannot read. The
    /// client may retry later.
    #[error(transparent)]
    #[status(503, code = "store_unavailable")]
    Store(StoreError),
    /// The processor could not be invoked: the task is marked `failed` (see
    /// [`not_sent`]), and the client may create it again.
    #[error("task {id} could not be sent to the processor")]
    #[status(503, code = "processor_unavailable")]
    NotSent {
        /// The task.
        id: String,
        /// Why the invocation failed.
        #[source]
        source: InvokeError,
    },
}

impl From<StoreError> for TaskError {
    fn from(error: StoreError) -> Self {
        TaskError::Store(error)
    }
}

/// The body of `202 Accepted`: the task's id and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRef {
    /// The task's id.
    pub id: String,
    /// Its status: `pending`.
    pub status: Status,
}

/// The answer of `POST /tasks`: `202 Accepted`, the task's status URL in `Location`
/// (`/tasks/{id}`), and `{"id":..,"status":"pending"}`. The client polls the status URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Where the task's status is: `/tasks/{id}`.
    pub location: String,
    /// The task's id and status.
    pub body: TaskRef,
}

impl Accepted {
    /// The answer for `task`, just accepted.
    pub fn of(task: &Task) -> Self {
        Self {
            location: format!("/tasks/{}", task.id),
            body: TaskRef {
                id: task.id.clone(),
                status: task.status,
            },
        }
    }
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        (
            StatusCode::ACCEPTED,
            [(header::LOCATION, self.location)],
            Json(self.body),
        )
            .into_response()
    }
}

/// The failure of a task the processor could not be invoked for.
pub const NOT_SENT: &str = "tasks.NotSent";

/// The failure a task is marked with when the processor could not be invoked for it: what a
/// client may read with `GET /tasks/{id}`. It names Lambda's error code at most, never its
/// message, which names the account, the role and the function's ARN (the API's ERROR line
/// has it all).
pub fn not_sent(error: &InvokeError) -> TaskFailure {
    let why = match error {
        InvokeError::Service {
            code: Some(code), ..
        } => format!("Lambda refused the invocation ({code})"),
        InvokeError::Service {
            status: Some(status),
            ..
        } => format!("Lambda answered HTTP {status}"),
        InvokeError::Deadline { .. } => "Lambda did not answer in time".to_owned(),
        InvokeError::TooLarge { .. } => "the task is over the 1 MB an event may carry".to_owned(),
        _ => "Lambda could not be reached".to_owned(),
    };
    TaskFailure::new(
        NOT_SENT,
        format!("the task could not be sent to the processor: {why}; create it again"),
    )
}

/// The variable naming the processor function the API sends each task to: its name, or its
/// ARN, optionally with a version or alias (`task-processor:live`).
pub const PROCESSOR_FUNCTION_VAR: &str = "PROCESSOR_FUNCTION";

/// The processor's name in local mode when `PROCESSOR_FUNCTION` is not set: local mode sends
/// nothing, so any name does.
pub const LOCAL_PROCESSOR_FUNCTION: &str = "task-processor";

/// The longest function name, ARN or partial ARN Lambda's `Invoke` takes.
const MAX_FUNCTION_NAME_LEN: usize = 170;

/// The processor function `PROCESSOR_FUNCTION` names (see [`processor_function`]).
pub fn processor_function_from_env() -> Result<String, helve::ConfigError> {
    let value = std::env::var(PROCESSOR_FUNCTION_VAR).ok();
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    processor_function(value.as_deref(), on_lambda)
}

/// The processor function `value` names: required on Lambda (`on_lambda`), where the template
/// sets it; [`LOCAL_PROCESSOR_FUNCTION`] locally when it is unset. A name, an ARN or a partial
/// ARN, with a version or alias: letters, digits and `-_:.$`, at most 170 characters.
pub fn processor_function(
    value: Option<&str>,
    on_lambda: bool,
) -> Result<String, helve::ConfigError> {
    let value = value.map(str::trim).filter(|value| !value.is_empty());
    let Some(name) = value else {
        if on_lambda {
            return Err(helve::ConfigError::new(
                PROCESSOR_FUNCTION_VAR,
                "is not set: it names the function each task is sent to",
            ));
        }
        return Ok(LOCAL_PROCESSOR_FUNCTION.to_owned());
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_:.$".contains(c);
    if name.len() > MAX_FUNCTION_NAME_LEN || !name.chars().all(allowed) {
        return Err(helve::ConfigError::new(
            PROCESSOR_FUNCTION_VAR,
            "must be a function name or ARN: letters, digits and `-_:.$`, at most 170 \
             characters",
        ));
    }
    Ok(name.to_owned())
}

/// The variable setting how long the simulated work takes, in milliseconds.
pub const WORK_MILLIS_VAR: &str = "WORK_MILLIS";

/// How long the simulated work takes: `WORK_MILLIS`, 0 to 60000, or
/// [`work::DEFAULT_WORK_TIME`] when it is not set.
pub fn work_time(value: Option<&str>) -> Result<Duration, helve::ConfigError> {
    match value.map(str::trim).filter(|value| !value.is_empty()) {
        None => Ok(work::DEFAULT_WORK_TIME),
        Some(millis) => millis
            .parse::<u64>()
            .ok()
            .filter(|millis| *millis <= 60_000)
            .map(Duration::from_millis)
            .ok_or_else(|| {
                helve::ConfigError::new(WORK_MILLIS_VAR, "must be 0 to 60000 milliseconds")
            }),
    }
}

#[cfg(test)]
mod tests {
    use helve::ErrorStatus;

    use super::*;

    #[test]
    fn the_processor_is_named_on_lambda_and_defaults_locally() {
        assert_eq!(processor_function(None, false).unwrap(), "task-processor");
        assert_eq!(
            processor_function(Some(" task-processor-Xy12:live "), true).unwrap(),
            "task-processor-Xy12:live"
        );
        assert_eq!(
            processor_function(Some(""), true).unwrap_err().to_string(),
            "invalid setting PROCESSOR_FUNCTION: is not set: it names the function each task \
             is sent to"
        );
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:task-processor";
        assert_eq!(processor_function(Some(arn), true).unwrap(), arn);
        assert!(processor_function(Some("task processor"), true).is_err());
        assert!(processor_function(Some(&"f".repeat(171)), true).is_err());
    }

    #[test]
    fn work_time_is_bounded() {
        assert_eq!(work_time(None).unwrap(), work::DEFAULT_WORK_TIME);
        assert_eq!(work_time(Some("0")).unwrap(), Duration::ZERO);
        assert_eq!(
            work_time(Some("60001")).unwrap_err().to_string(),
            "invalid setting WORK_MILLIS: must be 0 to 60000 milliseconds"
        );
    }

    #[test]
    fn a_task_that_was_not_sent_names_lambdas_code_never_its_message() {
        let error = InvokeError::Service {
            function: "task-processor".to_owned(),
            code: Some("AccessDeniedException".to_owned()),
            status: Some(403),
            message: "User: arn:aws:sts::123456789012:assumed-role/api-role/api is not \
                      authorized"
                .to_owned(),
        };
        let failure = not_sent(&error);
        assert_eq!(failure.error_type, "tasks.NotSent");
        assert_eq!(
            failure.message,
            "the task could not be sent to the processor: Lambda refused the invocation \
             (AccessDeniedException); create it again"
        );
        let unreachable = InvokeError::Service {
            function: "task-processor".to_owned(),
            code: None,
            status: None,
            message: "connection refused".to_owned(),
        };
        assert!(
            not_sent(&unreachable)
                .message
                .contains("Lambda could not be reached")
        );
    }

    #[test]
    fn each_error_answers_with_its_status_and_code() {
        let missing = TaskError::NotFound(Task::sample().id);
        assert_eq!(
            (missing.status().as_u16(), missing.code(), missing.expose()),
            (404, Some("task_not_found"), true)
        );
        let not_an_id = TaskError::NotATaskId;
        assert_eq!(not_an_id.to_string(), "no task has this id");
        let down = TaskError::from(StoreError::Unavailable("connection refused".into()));
        assert_eq!(
            (down.status().as_u16(), down.code(), down.expose()),
            (503, Some("store_unavailable"), false)
        );
        let not_sent = TaskError::NotSent {
            id: "t".to_owned(),
            source: InvokeError::Deadline {
                function: "task-processor".to_owned(),
                remaining: Duration::ZERO,
            },
        };
        assert_eq!(
            (not_sent.status().as_u16(), not_sent.code()),
            (503, Some("processor_unavailable"))
        );
        assert!(not_sent.log_message().starts_with(
            "task t could not be sent to the processor: function `task-processor` was not called"
        ));
    }
}
