//! A task: what a client sends to create one ([`NewTask`]), the record both functions keep
//! ([`Task`]), the event the API sends the processor ([`TaskEvent`]), and the hold of the
//! invocation that processes it ([`Lease`]).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError, ValidationErrors};

use crate::work::TASK_TYPES;

/// The length of a task id: a UUID, lower-case and hyphenated.
pub const TASK_ID_LEN: usize = 36;

/// The longest task type the processor reads from an event: 64 characters.
pub const MAX_TYPE_LEN: usize = 64;

/// The body of `POST /tasks`: `{"type": "resize", "input": {"image": "...", ...}}`.
///
/// Unknown fields are accepted, so that a client can send a field before every function
/// knows it. The API chooses the task's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    /// What the task does: one of [`TASK_TYPES`].
    #[serde(rename = "type")]
    pub kind: String,
    /// What it works on: a JSON object whose fields depend on the type (see
    /// [`crate::work`]); `{}` when absent.
    #[serde(default)]
    pub input: Map<String, Value>,
}

// By hand rather than derived: `validator` names a field by its Rust name (`kind`), and the
// client sent `type`.
impl Validate for NewTask {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if !TASK_TYPES.contains(&self.kind.as_str()) {
            let known: Vec<String> = TASK_TYPES.iter().map(|kind| format!("`{kind}`")).collect();
            errors.add(
                "type",
                ValidationError::new("task_type")
                    .with_message(format!("must be {}", known.join(" or ")).into()),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Where a task is: `pending -> processing -> completed | failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Accepted by the API and sent to the processor, not started yet.
    Pending,
    /// An invocation of the processor holds it and runs its work.
    Processing,
    /// Done: `result` holds what the work computed.
    Completed,
    /// Given up for good: `error` says why. Doing it again would fail the same way.
    Failed,
}

impl Status {
    /// The name in records and answers: `pending`, `processing`, `completed`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    /// The status of that name.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Status::Pending,
            Status::Processing,
            Status::Completed,
            Status::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }

    /// Whether the task is `completed` or `failed`: nothing moves it any more.
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }
}

/// Why a task failed, as its record and `GET /tasks/{id}` show it: a stable type to match on
/// and a message for people. Neither ever holds a value from the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The kind of failure: `tasks.InvalidInput`, `tasks.UnknownType`, `tasks.WorkFailed`,
    /// `tasks.NotSent`.
    #[serde(rename = "type")]
    pub error_type: String,
    /// What happened.
    pub message: String,
}

impl TaskFailure {
    /// A failure of this type.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

/// A task as both functions keep it, and as `GET /tasks/{id}` answers it:
///
/// ```json
/// {"id":"0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a90","type":"resize","status":"completed","input":{...},"result":{...},"attempts":1,"createdAt":1795449600000,"updatedAt":1795449600412}
/// ```
///
/// The lease (which invocation holds a `processing` task, and until when) is kept in the
/// record but never answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// The task's id, chosen by the API: a UUID.
    pub id: String,
    /// What the task does.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it is.
    pub status: Status,
    /// What it works on, as the client sent it.
    pub input: Map<String, Value>,
    /// What the work computed, once `completed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it failed, once `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskFailure>,
    /// How many times an invocation of the processor started it: more than 1 after a retry.
    pub attempts: u32,
    /// When the task was created, in milliseconds since the Unix epoch.
    pub created_at: u64,
    /// When the task last changed, in milliseconds since the Unix epoch.
    pub updated_at: u64,
    /// The request id of the invocation that holds the task while it is `processing`.
    #[serde(skip)]
    pub lease_owner: Option<String>,
    /// Until when (epoch ms) that invocation may run: its deadline.
    #[serde(skip)]
    pub lease_until: Option<u64>,
}

impl Task {
    /// The `pending` task `new` asks for, with this id, created at `now` (epoch ms).
    pub fn pending(id: impl Into<String>, new: NewTask, now: u64) -> Self {
        Self {
            id: id.into(),
            kind: new.kind,
            status: Status::Pending,
            input: new.input,
            result: None,
            error: None,
            attempts: 0,
            created_at: now,
            updated_at: now,
            lease_owner: None,
            lease_until: None,
        }
    }

    /// The task every in-memory store starts with, so that `GET /tasks/{id}` finds something
    /// on a laptop, and the processor has a completed task to skip.
    pub fn sample() -> Self {
        let object = |value: Value| match value {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self {
            id: "0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a90".to_owned(),
            kind: "resize".to_owned(),
            status: Status::Completed,
            input: object(serde_json::json!({
                "image": "uploads/harbour.jpg",
                "width": 4032,
                "height": 3024,
                "maxSide": 1024,
            })),
            result: Some(serde_json::json!({
                "image": "uploads/harbour.jpg",
                "thumbnail": "thumbnails/1024/uploads/harbour.jpg",
                "width": 1024,
                "height": 768,
            })),
            error: None,
            attempts: 1,
            created_at: 1_795_449_600_000,
            updated_at: 1_795_449_600_412,
            lease_owner: None,
            lease_until: None,
        }
    }

    /// Whether the invocation holding `lease` may take this task: it is `pending`, or
    /// `processing` under the same invocation (Lambda retries an event with its request id)
    /// or under a lease that has ended (its invocation timed out or crashed).
    pub fn may_start(&self, lease: &Lease) -> bool {
        match self.status {
            Status::Pending => true,
            Status::Processing => {
                self.lease_owner.as_deref() == Some(lease.owner.as_str())
                    || self.lease_until.is_none_or(|until| until < lease.now)
            }
            Status::Completed | Status::Failed => false,
        }
    }

    /// The task as the invocation holding `lease` takes it: `processing`, held until the
    /// lease ends, one more attempt. `old` is its record; without one, the task is recorded
    /// from its event.
    pub fn started(old: Option<&Task>, event: &TaskEvent, lease: &Lease) -> Self {
        let base = match old {
            Some(old) => old.clone(),
            None => Task {
                id: event.id.clone(),
                kind: event.kind.clone(),
                status: Status::Pending,
                input: event.input.clone(),
                result: None,
                error: None,
                attempts: 0,
                created_at: lease.now,
                updated_at: lease.now,
                lease_owner: None,
                lease_until: None,
            },
        };
        Task {
            status: Status::Processing,
            attempts: base.attempts.saturating_add(1),
            updated_at: lease.now,
            lease_owner: Some(lease.owner.clone()),
            lease_until: Some(lease.until),
            ..base
        }
    }
}

/// The event the API sends the processor function, and what the processor decodes: the
/// task's id, type and input.
///
/// `Invoker::send` adds `"_helve": {"correlation_id": "..."}` beside these fields: helve takes
/// it as the processor's correlation id, and serde ignores it here, as it ignores every
/// field it does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// The task's id.
    pub id: String,
    /// What it does.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it works on.
    #[serde(default)]
    pub input: Map<String, Value>,
}

impl TaskEvent {
    /// The event of `task`.
    pub fn of(task: &Task) -> Self {
        Self {
            id: task.id.clone(),
            kind: task.kind.clone(),
            input: task.input.clone(),
        }
    }

    /// Why this event cannot be a task's, naming the field, never its value: an `id` that is
    /// not a task id, or a `type` that is not a name (1 to 64 lower-case letters, digits and
    /// `-`). A well-formed type the processor does not know is not refused here: the task
    /// fails with `tasks.UnknownType`.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if !is_task_id(&self.id) {
            problems.push("`id` is not a task id (a lower-case hyphenated UUID)");
        }
        if !is_type_name(&self.kind) {
            problems.push("`type` must be 1 to 64 lower-case letters, digits and `-`");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The hold an invocation of the processor takes on a task: its request id, its deadline
/// (epoch ms), and now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The invocation's request id. Lambda keeps it when it retries an asynchronous event,
    /// so a retry takes back what its earlier attempt held.
    pub owner: String,
    /// Until when the invocation may run: after its deadline it cannot be running.
    pub until: u64,
    /// Now, in epoch ms.
    pub now: u64,
}

impl Lease {
    /// The lease of the invocation `owner`, which must end by `deadline`.
    pub fn new(owner: impl Into<String>, deadline: SystemTime) -> Self {
        Self {
            owner: owner.into(),
            until: epoch_ms(deadline),
            now: now_ms(),
        }
    }
}

/// A new task id: a random UUID (version 4).
pub fn new_task_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// Whether `id` can be a task's id: a UUID, lower-case and hyphenated, as [`new_task_id`]
/// makes them. An id that cannot be one names no task, so `GET` answers 404 without asking the
/// store.
pub fn is_task_id(id: &str) -> bool {
    id.len() == TASK_ID_LEN
        && id.bytes().enumerate().all(|(at, byte)| match at {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte),
        })
}

/// Whether `kind` is a well-formed task type: 1 to [`MAX_TYPE_LEN`] lower-case letters,
/// digits and `-`.
pub fn is_type_name(kind: &str) -> bool {
    (1..=MAX_TYPE_LEN).contains(&kind.len())
        && kind
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    epoch_ms(SystemTime::now())
}

/// `time` in milliseconds since the Unix epoch (0 before it).
pub fn epoch_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(id: &str) -> TaskEvent {
        TaskEvent {
            id: id.to_owned(),
            kind: "report".to_owned(),
            input: Map::new(),
        }
    }

    #[test]
    fn a_new_task_of_an_unknown_type_is_refused_naming_the_field_the_client_sent() {
        let new: NewTask = serde_json::from_value(json!({"type": "resize"})).unwrap();
        assert!(new.validate().is_ok());
        assert!(new.input.is_empty(), "input defaults to {{}}");
        let unknown: NewTask = serde_json::from_value(json!({"type": "<b>x</b>"})).unwrap();
        let errors = unknown.validate().unwrap_err();
        assert_eq!(
            helve::validation::describe(&errors),
            "type: must be `report` or `resize` (task_type)"
        );
    }

    #[test]
    fn a_task_answers_without_its_lease() {
        let mut task = Task::pending(
            "0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a91",
            NewTask {
                kind: "report".to_owned(),
                input: Map::new(),
            },
            1_000,
        );
        task.lease_owner = Some("r-1".to_owned());
        task.lease_until = Some(2_000);
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            json!({
                "id": "0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a91",
                "type": "report",
                "status": "pending",
                "input": {},
                "attempts": 0,
                "createdAt": 1_000,
                "updatedAt": 1_000,
            })
        );
    }

    #[test]
    fn who_may_start_a_task() {
        let lease = Lease {
            owner: "r-1".to_owned(),
            until: 5_000,
            now: 2_000,
        };
        let mut task = Task::started(None, &event("0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a91"), &lease);
        assert_eq!((task.status, task.attempts), (Status::Processing, 1));
        assert!(task.may_start(&lease), "the same invocation, retried");
        let other = Lease {
            owner: "r-2".to_owned(),
            until: 9_000,
            now: 3_000,
        };
        assert!(!task.may_start(&other), "held by r-1 until 5000");
        let later = Lease {
            now: 5_001,
            ..other
        };
        assert!(task.may_start(&later), "r-1's deadline has passed");
        task.status = Status::Completed;
        assert!(
            !task.may_start(&lease),
            "a completed task is never started again"
        );
    }

    #[test]
    fn task_ids() {
        assert!(is_task_id(&new_task_id()));
        assert!(is_task_id(&Task::sample().id));
        for id in [
            "",
            "0E3B8F5C-2A4D-4C1E-9B7A-6F2D8E1C4A90",
            "0e3b8f5c2a4d4c1e9b7a6f2d8e1c4a90",
            "0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a9",
            "0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a9g",
            "../../0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1",
        ] {
            assert!(!is_task_id(id), "{id}");
        }
    }

    #[test]
    fn an_event_that_cannot_be_a_tasks_is_named_without_its_values() {
        assert!(
            event("0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a91")
                .check()
                .is_ok()
        );
        let mut bad = event("t-1");
        bad.kind = "Resize Image".to_owned();
        assert_eq!(
            bad.check().unwrap_err(),
            "`id` is not a task id (a lower-case hyphenated UUID); `type` must be 1 to 64 \
             lower-case letters, digits and `-`"
        );
    }
}
