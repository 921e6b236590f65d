//! Jobs in a DynamoDB table whose partition key is `jobId` (a string): one item per job, with
//! the attributes of [`Job`]. Every change is an `UpdateItem` with a condition on the status
//! and the lease.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    error::SdkError,
    types::{AttributeValue, ReturnValue},
};

use super::{JobStore, Start, StoreError};
use crate::job::{Job, JobFailure, JobKind, JobMessage, Lease, Status};

/// Jobs in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// A store of jobs in `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A store of jobs in `table`, with a client configured as the AWS SDK configures itself
    /// from the environment: on Lambda, the function's region and role; locally, the usual
    /// profile and variables, `AWS_ENDPOINT_URL` included.
    pub async fn from_env(table: impl Into<String>) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(https_client())
            .load()
            .await;
        Self::new(Client::new(&config), table)
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn update(
        &self,
        job_id: &str,
        owner: &str,
        expression: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("jobId", s(job_id))
            .update_expression(expression)
            .condition_expression("#status = :processing AND #leaseOwner = :owner")
            .expression_attribute_values(":processing", s(Status::Processing.as_str()))
            .expression_attribute_values(":owner", s(owner));
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        for name in names(expression) {
            request = request.expression_attribute_names(format!("#{name}"), name);
        }
        for name in ["status", "leaseOwner"] {
            request = request.expression_attribute_names(format!("#{name}"), name);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict {
                    job_id: job_id.to_owned(),
                    owner: owner.to_owned(),
                })
            }
            Err(error) => Err(unavailable(error)),
        }
    }
}

/// The HTTPS client of the SDK: rustls with ring, instead of the SDK's default aws-lc, which
/// takes longer to build and to start.
pub(crate) fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::{
        Builder,
        tls::{Provider, rustls_provider::CryptoMode},
    };
    Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

impl JobStore for DynamoDbStore {
    async fn create(&self, job: &Job) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(job)))
            .condition_expression("attribute_not_exists(#jobId)")
            .expression_attribute_names("#jobId", "jobId")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists(job.job_id.clone()))
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn get(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("jobId", s(job_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.map(|item| from_item(job_id, &item)).transpose()
    }

    async fn start(&self, message: &JobMessage, lease: &Lease) -> Result<Start, StoreError> {
        // Creates the record from the message when the API wrote none; otherwise only the
        // status, the lease and the counters change.
        let mut expression = String::from(
            "SET #status = :processing, #leaseOwner = :owner, #leaseUntil = :until, \
             #updatedAt = :now, #attempts = if_not_exists(#attempts, :zero) + :one, \
             #kind = if_not_exists(#kind, :kind), #steps = if_not_exists(#steps, :steps), \
             #stepsDone = if_not_exists(#stepsDone, :zero), \
             #progress = if_not_exists(#progress, :zero), \
             #createdAt = if_not_exists(#createdAt, :now), \
             #startedAt = if_not_exists(#startedAt, :now)",
        );
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("jobId", s(&message.job_id))
            .condition_expression(
                "attribute_not_exists(#jobId) OR #status = :pending OR (#status = :processing \
                 AND (#leaseOwner = :owner OR attribute_not_exists(#leaseUntil) \
                 OR #leaseUntil < :now))",
            )
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":processing", s(Status::Processing.as_str()))
            .expression_attribute_values(":owner", s(&lease.owner))
            .expression_attribute_values(":until", n(lease.until))
            .expression_attribute_values(":now", n(lease.now))
            .expression_attribute_values(":zero", n(0_u64))
            .expression_attribute_values(":one", n(1_u64))
            .expression_attribute_values(":kind", s(message.kind.as_str()))
            .expression_attribute_values(":steps", n(message.steps))
            .return_values(ReturnValue::AllNew);
        if let Some(format) = &message.format {
            expression.push_str(", #format = if_not_exists(#format, :format)");
            request = request.expression_attribute_values(":format", s(format));
        }
        for name in names(&expression).chain(["jobId"]) {
            request = request.expression_attribute_names(format!("#{name}"), name);
        }
        match request.update_expression(expression).send().await {
            Ok(output) => {
                let item = output.attributes.unwrap_or_default();
                Ok(Start::Started(from_item(&message.job_id, &item)?))
            }
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                // Finished, or held by another delivery: read which.
                let job = self.get(&message.job_id).await?;
                match job {
                    Some(job) if job.status.is_finished() => Ok(Start::Finished(job)),
                    Some(job) if job.status == Status::Processing => Ok(Start::Held(job)),
                    // Changed again since the write: let the record be retried.
                    _ => Err(StoreError::Conflict {
                        job_id: message.job_id.clone(),
                        owner: lease.owner.clone(),
                    }),
                }
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn progress(
        &self,
        job_id: &str,
        owner: &str,
        steps_done: u32,
        progress: u8,
        now: u64,
    ) -> Result<(), StoreError> {
        self.update(
            job_id,
            owner,
            "SET #stepsDone = :done, #progress = :progress, #updatedAt = :now",
            vec![
                (":done", n(steps_done)),
                (":progress", n(progress)),
                (":now", n(now)),
            ],
        )
        .await
    }

    async fn complete(
        &self,
        job_id: &str,
        owner: &str,
        result: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        self.update(
            job_id,
            owner,
            "SET #status = :completed, #stepsDone = #steps, #progress = :hundred, \
             #result = :result, #updatedAt = :now, #finishedAt = :now \
             REMOVE #leaseOwner, #leaseUntil",
            vec![
                (":completed", s(Status::Completed.as_str())),
                (":hundred", n(100_u64)),
                (":result", s(result)),
                (":now", n(now)),
            ],
        )
        .await
    }

    async fn fail(
        &self,
        job_id: &str,
        owner: &str,
        failure: &JobFailure,
        now: u64,
    ) -> Result<(), StoreError> {
        self.update(
            job_id,
            owner,
            "SET #status = :failed, #error = :error, #updatedAt = :now, #finishedAt = :now \
             REMOVE #leaseOwner, #leaseUntil",
            vec![
                (":failed", s(Status::Failed.as_str())),
                (":error", failure_value(failure)),
                (":now", n(now)),
            ],
        )
        .await
    }
}

/// The attribute names (`#name`) an expression uses.
fn names(expression: &str) -> impl Iterator<Item = &str> {
    let mut seen: Vec<&str> = Vec::new();
    expression
        .split('#')
        .skip(1)
        .filter_map(|rest| {
            let end = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            Some(&rest[..end]).filter(|name| !name.is_empty())
        })
        .filter(move |name| {
            let new = !seen.contains(name);
            seen.push(name);
            new
        })
}

fn unavailable<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unavailable(Box::new(error))
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl Into<u64>) -> AttributeValue {
    AttributeValue::N(value.into().to_string())
}

fn failure_value(failure: &JobFailure) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("type".to_owned(), s(&failure.error_type)),
        ("message".to_owned(), s(&failure.message)),
    ]))
}

/// The item of a job.
fn to_item(job: &Job) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("jobId".to_owned(), s(&job.job_id)),
        ("kind".to_owned(), s(job.kind.as_str())),
        ("status".to_owned(), s(job.status.as_str())),
        ("steps".to_owned(), n(job.steps)),
        ("stepsDone".to_owned(), n(job.steps_done)),
        ("progress".to_owned(), n(job.progress)),
        ("attempts".to_owned(), n(job.attempts)),
        ("createdAt".to_owned(), n(job.created_at)),
        ("updatedAt".to_owned(), n(job.updated_at)),
    ]);
    let optional = [
        ("format", job.format.as_deref().map(s)),
        ("leaseOwner", job.lease_owner.as_deref().map(s)),
        ("leaseUntil", job.lease_until.map(n)),
        ("result", job.result.as_deref().map(s)),
        ("error", job.error.as_ref().map(failure_value)),
        ("startedAt", job.started_at.map(n)),
        ("finishedAt", job.finished_at.map(n)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    }
    item
}

/// The job of an item.
fn from_item(job_id: &str, item: &HashMap<String, AttributeValue>) -> Result<Job, StoreError> {
    let invalid = |reason: String| StoreError::InvalidRecord {
        job_id: job_id.to_owned(),
        reason,
    };
    let string = |name: &str| -> Result<Option<String>, StoreError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
            Some(_) => Err(invalid(format!("`{name}` is not a string"))),
        }
    };
    let number = |name: &str| -> Result<Option<u64>, StoreError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(value)) => value
                .parse()
                .map(Some)
                .map_err(|_| invalid(format!("`{name}` is not a whole number: {value}"))),
            Some(_) => Err(invalid(format!("`{name}` is not a number"))),
        }
    };
    let required = |name: &str, value: Option<u64>| {
        value.ok_or_else(|| invalid(format!("`{name}` is missing")))
    };
    let small = |name: &str| -> Result<u32, StoreError> {
        let value = required(name, number(name)?)?;
        u32::try_from(value).map_err(|_| invalid(format!("`{name}` is too large: {value}")))
    };

    let kind = string("kind")?.ok_or_else(|| invalid("`kind` is missing".to_owned()))?;
    let kind =
        JobKind::from_name(&kind).ok_or_else(|| invalid(format!("unknown kind `{kind}`")))?;
    let status = string("status")?.ok_or_else(|| invalid("`status` is missing".to_owned()))?;
    let status =
        Status::from_name(&status).ok_or_else(|| invalid(format!("unknown status `{status}`")))?;
    let error = match item.get("error") {
        None => None,
        Some(AttributeValue::M(map)) => {
            let field = |name: &str| match map.get(name) {
                Some(AttributeValue::S(value)) => Ok(value.clone()),
                _ => Err(invalid(format!("`error.{name}` is not a string"))),
            };
            Some(JobFailure {
                error_type: field("type")?,
                message: field("message")?,
            })
        }
        Some(_) => return Err(invalid("`error` is not a map".to_owned())),
    };
    let progress = small("progress")?;
    Ok(Job {
        job_id: string("jobId")?.unwrap_or_else(|| job_id.to_owned()),
        kind,
        status,
        steps: small("steps")?,
        steps_done: small("stepsDone")?,
        progress: u8::try_from(progress)
            .ok()
            .filter(|percent| *percent <= 100)
            .ok_or_else(|| invalid(format!("`progress` is not 0 to 100: {progress}")))?,
        attempts: small("attempts")?,
        format: string("format")?,
        lease_owner: string("leaseOwner")?,
        lease_until: number("leaseUntil")?,
        result: string("result")?,
        error,
        created_at: required("createdAt", number("createdAt")?)?,
        updated_at: required("updatedAt", number("updatedAt")?)?,
        started_at: number("startedAt")?,
        finished_at: number("finishedAt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_round_trips() {
        let message = JobMessage {
            job_id: "job-1".to_owned(),
            kind: JobKind::Export,
            steps: 3,
            format: Some("csv".to_owned()),
        };
        let mut job = Job::pending(&message, 1_000);
        assert_eq!(from_item("job-1", &to_item(&job)).unwrap(), job);
        job.status = Status::Failed;
        job.error = Some(JobFailure {
            error_type: "jobs.UnsupportedFormat".to_owned(),
            message: "no".to_owned(),
        });
        job.lease_until = Some(2_000);
        job.finished_at = Some(3_000);
        assert_eq!(from_item("job-1", &to_item(&job)).unwrap(), job);
    }

    #[test]
    fn an_item_that_is_not_a_job_is_refused() {
        let mut item = to_item(&Job::pending(
            &JobMessage {
                job_id: "job-1".to_owned(),
                kind: JobKind::Report,
                steps: 3,
                format: None,
            },
            1_000,
        ));
        item.insert("status".to_owned(), s("paused"));
        assert_eq!(
            from_item("job-1", &item).unwrap_err().to_string(),
            "the record of job job-1 is not valid: unknown status `paused`"
        );
    }

    #[test]
    fn the_names_of_an_expression_are_listed_once() {
        let names: Vec<&str> = names("SET #a = :x, #bC = #a + :one REMOVE #d").collect();
        assert_eq!(names, ["a", "bC", "d"]);
    }
}
