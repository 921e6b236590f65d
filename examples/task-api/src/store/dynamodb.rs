//! Tasks in a DynamoDB table whose partition key is `id` (a string): one item per task, with
//! the attributes of [`Task`] (`input` and `result` as JSON text, so any JSON round-trips
//! exactly). Creating a task is a `PutItem` with `attribute_not_exists(id)`; every change of
//! status is an `UpdateItem` with a condition on the status and the lease.

use std::{collections::HashMap, time::Duration};

use aws_sdk_dynamodb::{
    Client,
    config::timeout::TimeoutConfig,
    error::SdkError,
    operation::update_item::builders::UpdateItemFluentBuilder,
    types::{AttributeValue, ReturnValue},
};
use serde_json::{Map, Value};

use super::{Start, StoreError, TaskStore};
use crate::task::{Lease, Status, Task, TaskEvent, TaskFailure};

/// How long a call to DynamoDB may take, retries included, before the store gives up: well
/// within both functions' timeouts, so that the API answers 503 in time, and the processor
/// fails the invocation (which Lambda retries) rather than timing out.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(3);

/// Tasks in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// A store of tasks in `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A store of tasks in `table`, with a client configured as the AWS SDK configures itself
    /// from the environment: on Lambda, the function's region and role; locally, the usual
    /// profile and variables, `AWS_ENDPOINT_URL` included. It uses helve's HTTPS client
    /// (rustls with ring), and a call gives up after [`STORE_TIMEOUT`].
    pub async fn from_env(table: impl Into<String>) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(helve::aws::https_client())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(STORE_TIMEOUT)
                    .build(),
            )
            .load()
            .await;
        Self::new(Client::new(&config), table)
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// An `UpdateItem` of the task `id`, with `#name` standing for each attribute `names`
    /// lists.
    fn update(&self, id: &str, names: &[&str]) -> UpdateItemFluentBuilder {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id));
        for name in names {
            request = request.expression_attribute_names(format!("#{name}"), *name);
        }
        request
    }

    /// Sends a change of a task held by `owner`: `Conflict` when the condition fails.
    async fn change_held(
        &self,
        id: &str,
        owner: &str,
        request: UpdateItemFluentBuilder,
    ) -> Result<Task, StoreError> {
        let sent = request
            .condition_expression("#status = :processing AND #leaseOwner = :owner")
            .expression_attribute_values(":processing", s(Status::Processing.as_str()))
            .expression_attribute_values(":owner", s(owner))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match sent {
            Ok(output) => from_item(id, &output.attributes.unwrap_or_default()),
            Err(error) if is_condition_failure(&error) => Err(StoreError::Conflict {
                id: id.to_owned(),
                owner: owner.to_owned(),
            }),
            Err(error) => Err(unavailable(error)),
        }
    }
}

impl TaskStore for DynamoDbStore {
    async fn create(&self, task: &Task) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(task)))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", "id")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => {
                Err(StoreError::AlreadyExists(task.id.clone()))
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.map(|item| from_item(id, &item)).transpose()
    }

    async fn fail_pending(
        &self,
        id: &str,
        failure: &TaskFailure,
        now: u64,
    ) -> Result<Option<Task>, StoreError> {
        let sent = self
            .update(id, &["status", "error", "updatedAt"])
            .update_expression("SET #status = :failed, #error = :error, #updatedAt = :now")
            .condition_expression("#status = :pending")
            .expression_attribute_values(":failed", s(Status::Failed.as_str()))
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":error", failure_value(failure))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match sent {
            Ok(output) => from_item(id, &output.attributes.unwrap_or_default()).map(Some),
            Err(error) if is_condition_failure(&error) => Ok(None),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn start(&self, event: &TaskEvent, lease: &Lease) -> Result<Start, StoreError> {
        // One write takes the task, the condition being `Task::may_start` (or no record at
        // all). The record from before the write comes back, to say whether there was one; the
        // record after it is that one as `Task::started` changes it, as the expression does.
        let sent = self
            .update(
                &event.id,
                &[
                    "id",
                    "status",
                    "leaseOwner",
                    "leaseUntil",
                    "updatedAt",
                    "attempts",
                    "type",
                    "input",
                    "createdAt",
                ],
            )
            .update_expression(
                "SET #status = :processing, #leaseOwner = :owner, #leaseUntil = :until, \
                 #updatedAt = :now, #attempts = if_not_exists(#attempts, :zero) + :one, \
                 #type = if_not_exists(#type, :type), #input = if_not_exists(#input, :input), \
                 #createdAt = if_not_exists(#createdAt, :now)",
            )
            .condition_expression(
                "attribute_not_exists(#id) OR #status = :pending OR (#status = :processing \
                 AND (#leaseOwner = :owner OR attribute_not_exists(#leaseUntil) \
                 OR #leaseUntil < :now))",
            )
            .expression_attribute_values(":processing", s(Status::Processing.as_str()))
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":owner", s(&lease.owner))
            .expression_attribute_values(":until", n(lease.until))
            .expression_attribute_values(":now", n(lease.now))
            .expression_attribute_values(":zero", n(0_u64))
            .expression_attribute_values(":one", n(1_u64))
            .expression_attribute_values(":type", s(&event.kind))
            .expression_attribute_values(":input", s(&json_text(&event.input)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match sent {
            Ok(output) => {
                let old = output
                    .attributes
                    .filter(|item| !item.is_empty())
                    .map(|item| from_item(&event.id, &item))
                    .transpose()?;
                Ok(Start::Started {
                    task: Task::started(old.as_ref(), event, lease),
                    recorded: old.is_none(),
                })
            }
            Err(error) if is_condition_failure(&error) => {
                // Finished, or held by another invocation: read which.
                match self.get(&event.id).await? {
                    Some(task) if task.status.is_finished() => Ok(Start::Finished(task)),
                    Some(task) => Ok(Start::Held(task)),
                    // Deleted since the write: there is nothing to take.
                    None => Err(StoreError::Conflict {
                        id: event.id.clone(),
                        owner: lease.owner.clone(),
                    }),
                }
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn complete(
        &self,
        id: &str,
        owner: &str,
        result: &Value,
        now: u64,
    ) -> Result<Task, StoreError> {
        let request = self
            .update(
                id,
                &["status", "result", "updatedAt", "leaseOwner", "leaseUntil"],
            )
            .update_expression(
                "SET #status = :completed, #result = :result, #updatedAt = :now \
                 REMOVE #leaseOwner, #leaseUntil",
            )
            .expression_attribute_values(":completed", s(Status::Completed.as_str()))
            .expression_attribute_values(":result", s(&result.to_string()))
            .expression_attribute_values(":now", n(now));
        self.change_held(id, owner, request).await
    }

    async fn fail(
        &self,
        id: &str,
        owner: &str,
        failure: &TaskFailure,
        now: u64,
    ) -> Result<Task, StoreError> {
        let request = self
            .update(
                id,
                &["status", "error", "updatedAt", "leaseOwner", "leaseUntil"],
            )
            .update_expression(
                "SET #status = :failed, #error = :error, #updatedAt = :now \
                 REMOVE #leaseOwner, #leaseUntil",
            )
            .expression_attribute_values(":failed", s(Status::Failed.as_str()))
            .expression_attribute_values(":error", failure_value(failure))
            .expression_attribute_values(":now", n(now));
        self.change_held(id, owner, request).await
    }
}

/// Whether the call failed on its `ConditionExpression`: the write was refused, not lost.
fn is_condition_failure<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
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

/// A JSON object as text.
fn json_text(map: &Map<String, Value>) -> String {
    // A map of JSON values with string keys always serialises.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

fn failure_value(failure: &TaskFailure) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("type".to_owned(), s(&failure.error_type)),
        ("message".to_owned(), s(&failure.message)),
    ]))
}

/// The item of a task.
fn to_item(task: &Task) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("id".to_owned(), s(&task.id)),
        ("type".to_owned(), s(&task.kind)),
        ("status".to_owned(), s(task.status.as_str())),
        ("input".to_owned(), s(&json_text(&task.input))),
        ("attempts".to_owned(), n(task.attempts)),
        ("createdAt".to_owned(), n(task.created_at)),
        ("updatedAt".to_owned(), n(task.updated_at)),
    ]);
    let optional = [
        (
            "result",
            task.result.as_ref().map(|result| s(&result.to_string())),
        ),
        ("error", task.error.as_ref().map(failure_value)),
        ("leaseOwner", task.lease_owner.as_deref().map(s)),
        ("leaseUntil", task.lease_until.map(n)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    }
    item
}

/// The task of an item.
fn from_item(id: &str, item: &HashMap<String, AttributeValue>) -> Result<Task, StoreError> {
    let invalid = |reason: String| StoreError::InvalidRecord {
        id: id.to_owned(),
        reason,
    };
    let string = |name: &str| -> Result<Option<&str>, StoreError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value)),
            Some(_) => Err(invalid(format!("`{name}` is not a string"))),
        }
    };
    let required = |name: &str| -> Result<&str, StoreError> {
        string(name)?.ok_or_else(|| invalid(format!("`{name}` is missing")))
    };
    let number = |name: &str| -> Result<Option<u64>, StoreError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(value)) => value
                .parse()
                .map(Some)
                .map_err(|_| invalid(format!("`{name}` is not a whole number"))),
            Some(_) => Err(invalid(format!("`{name}` is not a number"))),
        }
    };
    let json = |name: &str, text: &str| -> Result<Value, StoreError> {
        serde_json::from_str(text).map_err(|_| invalid(format!("`{name}` is not JSON")))
    };

    let status = required("status")?;
    let status =
        Status::from_name(status).ok_or_else(|| invalid("`status` is not a status".to_owned()))?;
    let input = match json("input", required("input")?)? {
        Value::Object(input) => input,
        _ => return Err(invalid("`input` is not a JSON object".to_owned())),
    };
    let result = string("result")?
        .map(|text| json("result", text))
        .transpose()?;
    let error = match item.get("error") {
        None => None,
        Some(AttributeValue::M(map)) => {
            let field = |name: &str| match map.get(name) {
                Some(AttributeValue::S(value)) => Ok(value.clone()),
                _ => Err(invalid(format!("`error.{name}` is not a string"))),
            };
            Some(TaskFailure::new(field("type")?, field("message")?))
        }
        Some(_) => return Err(invalid("`error` is not a map".to_owned())),
    };
    let attempts = number("attempts")?.unwrap_or(0);
    Ok(Task {
        id: required("id")?.to_owned(),
        kind: required("type")?.to_owned(),
        status,
        input,
        result,
        error,
        attempts: u32::try_from(attempts)
            .map_err(|_| invalid("`attempts` is too large".to_owned()))?,
        created_at: number("createdAt")?
            .ok_or_else(|| invalid("`createdAt` is missing".to_owned()))?,
        updated_at: number("updatedAt")?
            .ok_or_else(|| invalid("`updatedAt` is missing".to_owned()))?,
        lease_owner: string("leaseOwner")?.map(str::to_owned),
        lease_until: number("leaseUntil")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_round_trips() {
        let mut task = Task::sample();
        assert_eq!(from_item(&task.id, &to_item(&task)).unwrap(), task);
        task.status = Status::Processing;
        task.result = None;
        task.lease_owner = Some("r-1".to_owned());
        task.lease_until = Some(1_795_449_660_000);
        assert_eq!(from_item(&task.id, &to_item(&task)).unwrap(), task);
        task.status = Status::Failed;
        task.error = Some(TaskFailure::new("tasks.WorkFailed", "no"));
        assert_eq!(from_item(&task.id, &to_item(&task)).unwrap(), task);
    }

    #[test]
    fn an_item_that_is_not_a_task_is_refused_without_its_values() {
        let task = Task::sample();
        let mut item = to_item(&task);
        item.insert("status".to_owned(), s("paused"));
        assert_eq!(
            from_item(&task.id, &item).unwrap_err().to_string(),
            format!(
                "the record of task {} is not valid: `status` is not a status",
                task.id
            )
        );
        let mut item = to_item(&task);
        item.insert("input".to_owned(), s("[1,2]"));
        assert_eq!(
            from_item(&task.id, &item).unwrap_err().to_string(),
            format!(
                "the record of task {} is not valid: `input` is not a JSON object",
                task.id
            )
        );
    }
}
