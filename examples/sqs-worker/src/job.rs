//! A job: the message the API sends to the queue, and the record the job store keeps.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

/// The message the API sends to the jobs queue, and the body the worker decodes.
///
/// Unknown fields are accepted, so that the API can add one before every worker knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct JobMessage {
    /// The job's id, the key of its record: 1 to 64 letters, digits, `-` and `_`.
    #[validate(
        length(min = 1, max = 64, message = "must be 1 to 64 characters"),
        custom(function = "job_id")
    )]
    pub job_id: String,
    /// What the job does.
    pub kind: JobKind,
    /// How many steps the job takes: 1 to 100.
    #[validate(range(min = 1, max = 100, message = "must be 1 to 100"))]
    pub steps: u32,
    /// The output format of an `export` job (`csv` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 16, message = "must be 1 to 16 characters"))]
    pub format: Option<String>,
}

fn job_id(id: &str) -> Result<(), ValidationError> {
    if id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(ValidationError::new("job_id")
            .with_message("must be letters, digits, `-` and `_`".into()))
    }
}

/// What a job does. A kind this worker does not know fails to decode, so its message is
/// retried and then kept in the dead-letter queue, to be redriven once a worker that knows it
/// is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// Builds a report; its result is `reports/<jobId>.pdf`.
    Report,
    /// Exports data as `csv` or `json`; its result is `exports/<jobId>.<format>`.
    Export,
    /// For trying failure handling only: a step fails as if a service the job calls were
    /// unavailable, on every attempt, so the message is retried and ends in the dead-letter
    /// queue.
    SimulateTransientError,
    /// For trying failure handling only: the first step panics, as a bug would.
    SimulatePanic,
}

impl JobKind {
    /// The name in messages and records: `report`, `export`, `simulate-transient-error`,
    /// `simulate-panic`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Report => "report",
            JobKind::Export => "export",
            JobKind::SimulateTransientError => "simulate-transient-error",
            JobKind::SimulatePanic => "simulate-panic",
        }
    }

    /// The kind of that name.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            JobKind::Report,
            JobKind::Export,
            JobKind::SimulateTransientError,
            JobKind::SimulatePanic,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// Where a job is: `pending -> processing -> completed | failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created by the API, not started yet.
    Pending,
    /// A delivery of its message holds it and runs its steps.
    Processing,
    /// Done; `result` says where its output is.
    Completed,
    /// Given up for good; `error` says why. Retrying would fail the same way.
    Failed,
}

impl Status {
    /// The name in records: `pending`, `processing`, `completed`, `failed`.
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

    /// Whether the job is completed or failed: a delivery of its message has nothing to do.
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }
}

/// Why a job failed for good, as its record shows it to the API's users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    /// A stable error type, for example `jobs.UnsupportedFormat`.
    #[serde(rename = "type")]
    pub error_type: String,
    /// What went wrong, for a person.
    pub message: String,
}

/// A job's record in the store: what the API shows when asked about the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The job's id, the key of the record.
    pub job_id: String,
    /// What the job does.
    pub kind: JobKind,
    /// Where the job is.
    pub status: Status,
    /// How many steps the job takes.
    pub steps: u32,
    /// How many steps are done; a retried job resumes after them.
    pub steps_done: u32,
    /// The progress in percent, 0 to 100.
    pub progress: u8,
    /// How many deliveries started the job.
    pub attempts: u32,
    /// The output format of an `export` job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The message id of the delivery that holds the job while it is `processing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    /// Until when (epoch ms) that delivery holds it: its invocation's deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<u64>,
    /// Where the output is, once `completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Why the job failed, once `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<JobFailure>,
    /// When the API created the job (epoch ms).
    pub created_at: u64,
    /// When the job last changed (epoch ms).
    pub updated_at: u64,
    /// When a delivery first started the job (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// When the job was completed or failed (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
}

impl Job {
    /// The record the API writes when it accepts a job, before it sends the message.
    pub fn pending(message: &JobMessage, now: u64) -> Self {
        Self {
            job_id: message.job_id.clone(),
            kind: message.kind,
            status: Status::Pending,
            steps: message.steps,
            steps_done: 0,
            progress: 0,
            attempts: 0,
            format: message.format.clone(),
            lease_owner: None,
            lease_until: None,
            result: None,
            error: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            finished_at: None,
        }
    }

    /// The progress in percent after `steps_done` of `steps` steps, rounded down.
    pub fn percent(steps_done: u32, steps: u32) -> u8 {
        if steps == 0 {
            return 100;
        }
        let percent = u64::from(steps_done.min(steps)) * 100 / u64::from(steps);
        // At most 100, as steps_done is at most steps.
        u8::try_from(percent).unwrap_or(100)
    }
}

/// The hold a delivery takes on a job while it processes it.
///
/// The owner is the SQS message id: a redelivery of the same message (after its record
/// failed) takes the job back at once, while a copy of the job sent as another message finds
/// it held until the lease ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The message id of the delivery.
    pub owner: String,
    /// Now, in epoch ms: a lease that ended before it can be taken over.
    pub now: u64,
    /// Until when the delivery holds the job, in epoch ms: its invocation's deadline, after
    /// which it cannot be running any more.
    pub until: u64,
}

impl Lease {
    /// A lease for the delivery `owner` until `deadline`.
    pub fn new(owner: impl Into<String>, deadline: SystemTime) -> Self {
        Self {
            owner: owner.into(),
            now: now_ms(),
            until: epoch_ms(deadline),
        }
    }
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    epoch_ms(SystemTime::now())
}

fn epoch_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> JobMessage {
        JobMessage {
            job_id: "job-1".to_owned(),
            kind: JobKind::Export,
            steps: 4,
            format: Some("csv".to_owned()),
        }
    }

    #[test]
    fn a_pending_record_is_what_the_api_writes() {
        let job = Job::pending(&message(), 1_795_449_600_000);
        assert_eq!(
            serde_json::to_value(&job).unwrap(),
            serde_json::json!({
                "jobId": "job-1",
                "kind": "export",
                "status": "pending",
                "steps": 4,
                "stepsDone": 0,
                "progress": 0,
                "attempts": 0,
                "format": "csv",
                "createdAt": 1_795_449_600_000_u64,
                "updatedAt": 1_795_449_600_000_u64,
            })
        );
    }

    #[test]
    fn a_message_is_validated() {
        assert!(message().validate().is_ok());
        let mut invalid = message();
        invalid.steps = 0;
        invalid.job_id = "job 1".to_owned();
        let errors = invalid.validate().unwrap_err();
        assert_eq!(
            helve::validation::describe(&errors),
            "job_id: must be letters, digits, `-` and `_` (job_id); steps: must be 1 to 100 (range)"
        );
    }

    #[test]
    fn the_percentage_is_rounded_down_and_capped() {
        assert_eq!(Job::percent(0, 3), 0);
        assert_eq!(Job::percent(1, 3), 33);
        assert_eq!(Job::percent(3, 3), 100);
        assert_eq!(Job::percent(7, 3), 100);
    }

    #[test]
    fn names_round_trip() {
        for kind in [
            JobKind::Report,
            JobKind::Export,
            JobKind::SimulateTransientError,
            JobKind::SimulatePanic,
        ] {
            assert_eq!(JobKind::from_name(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        for status in [
            Status::Pending,
            Status::Processing,
            Status::Completed,
            Status::Failed,
        ] {
            assert_eq!(Status::from_name(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
    }
}
