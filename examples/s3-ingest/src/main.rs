//! Bedrock batch-inference output into DynamoDB. Bedrock writes a job's results to
//! `batch-output/{jobId}/*.jsonl.out`, one JSON line per record (`{"recordId", "modelInput",
//! "modelOutput"}`); S3 notifies an SQS queue, and this function takes the messages in
//! batches. For each object it writes one transaction item per line (its id derived from the
//! object's version and the line, so a redelivery overwrites instead of duplicating), moves the
//! job `SUBMITTED -> COMPLETED` (or `FAILED` with a reason) with a conditional write, and moves
//! the object to `processed/{date}/`.
//!
//! A message whose object is not done before the deadline margin is a batch item failure (the
//! line reached is logged); SQS delivers it again and the rerun overwrites what was written.
//! S3's `s3:TestEvent` is acknowledged. A redelivery of an object already moved is
//! acknowledged when its job is finished.
//!
//! Run against moto (a local S3 and DynamoDB; see the README):
//!
//! ```text
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 cargo run -p example-s3-ingest -- examples/s3-ingest/events/sqs-s3.json
//! ```

use std::borrow::Cow;

use aws_sdk_dynamodb::types::AttributeValue;
use helve::batch::SqsMessage;
use helve::dynamodb::BatchWriter;
use helve::prelude::*;
use helve::s3::{IngestIncomplete, ObjectCreated, S3Notification, ingest};

/// What every message shares, made once per execution environment.
#[derive(Debug)]
struct Clients {
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    transactions: String,
    jobs: String,
}

/// The variable naming the transactions table (partition key `id`).
const TRANSACTIONS_TABLE: &str = "TRANSACTIONS_TABLE";
/// The variable naming the jobs table (partition key `jobId`).
const JOBS_TABLE: &str = "JOBS_TABLE";

fn table(variable: &'static str) -> Result<String, helve::ConfigError> {
    std::env::var(variable)
        .ok()
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| helve::ConfigError::new(variable, "is not set: name the DynamoDB table"))
}

/// The clients, configured as the AWS SDK configures itself (on Lambda the function's region
/// and role; locally `AWS_ENDPOINT_URL`, with path-style S3 addresses for it).
async fn setup() -> Result<Clients, helve::ConfigError> {
    let transactions = table(TRANSACTIONS_TABLE)?;
    let jobs = table(JOBS_TABLE)?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(helve::aws::https_client())
        .load()
        .await;
    let local = std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(local)
            .build(),
    );
    Ok(Clients {
        s3,
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        transactions,
        jobs,
    })
}

/// One line of a batch-inference output.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    record_id: String,
    #[serde(default)]
    model_input: serde_json::Value,
    model_output: serde_json::Value,
}

/// Why a message is to be delivered again.
#[derive(Debug, thiserror::Error)]
enum IngestError {
    /// The object was not done: the deadline margin, a read failure, items unprocessed.
    #[error(transparent)]
    Incomplete(#[from] IngestIncomplete),
    /// A call to S3 or DynamoDB failed.
    #[error("{0}")]
    Aws(String),
}

impl FunctionError for IngestError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            IngestError::Incomplete(incomplete) => incomplete.error_type(),
            IngestError::Aws(_) => "ingest.AwsCallFailed".into(),
        }
    }
}

/// `batch-output/{jobId}/...`: the job an object belongs to.
fn job_of(key: &str) -> Option<&str> {
    let mut parts = key.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("batch-output"), Some(job), Some(_)) if !job.is_empty() => Some(job),
        _ => None,
    }
}

#[helve::handler(service = "s3-ingest", namespace = "Ingest", init = setup, batch(concurrency = 2))]
async fn ingest_files(
    message: SqsMessage<S3Notification>,
    clients: &Clients,
) -> Result<(), IngestError> {
    for object in message.body().objects() {
        ingest_object(object, clients).await?;
    }
    Ok(())
}

async fn ingest_object(object: &ObjectCreated, clients: &Clients) -> Result<(), IngestError> {
    let Some(job) = job_of(&object.key) else {
        tracing::warn!(key = %object.key, "{} is not a batch-output/{{jobId}}/ object: skipped", object.key);
        return Ok(());
    };
    let writer = BatchWriter::new(clients.dynamodb.clone(), &clients.transactions, "id");
    let outcome = ingest(&clients.s3, writer, object, None, |record: Record, line| {
        serde_json::json!({
            "id": object.item_id(line.number),
            "jobId": job,
            "recordId": record.record_id,
            "modelInput": record.model_input.to_string(),
            "modelOutput": record.model_output.to_string(),
            "source": format!("s3://{}/{}#{}", object.bucket, object.key, line.number),
        })
    })
    .await;
    let report = match outcome {
        Ok(report) => report,
        // Already moved by an earlier delivery: nothing left to do if its job is finished.
        Err(incomplete)
            if incomplete.reason.contains("NoSuchKey") && job_finished(job, clients).await? =>
        {
            tracing::info!(job_id = job, key = %object.key, "{} was processed already: job {job} is finished", object.key);
            return Ok(());
        }
        Err(incomplete) => return Err(incomplete.into()),
    };
    let rejected = report.lines_rejected + report.write.rejected.len() as u64;
    let (status, reason) = if rejected == 0 {
        ("COMPLETED", None)
    } else {
        (
            "FAILED",
            Some(format!(
                "{rejected} of {} lines were not written",
                report.lines_read
            )),
        )
    };
    finish_job(
        job,
        status,
        reason.as_deref(),
        report.write.written,
        clients,
    )
    .await?;
    move_to_processed(object, clients).await?;
    tracing::info!(
        job_id = job,
        key = %object.key,
        status,
        lines = report.lines_read,
        written = report.write.written,
        "job {job}: {} lines of {} written, job {status}",
        report.write.written,
        object.key
    );
    Ok(())
}

/// `SUBMITTED -> COMPLETED | FAILED`, only from `SUBMITTED`; a job already finished (a
/// redelivery) is left as it is.
async fn finish_job(
    job: &str,
    status: &str,
    reason: Option<&str>,
    written: usize,
    clients: &Clients,
) -> Result<(), IngestError> {
    let mut update = clients
        .dynamodb
        .update_item()
        .table_name(&clients.jobs)
        .key("jobId", AttributeValue::S(job.to_owned()))
        .condition_expression("#status = :submitted")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":submitted", AttributeValue::S("SUBMITTED".to_owned()))
        .expression_attribute_values(":status", AttributeValue::S(status.to_owned()))
        .expression_attribute_values(":written", AttributeValue::N(written.to_string()));
    update = match reason {
        Some(reason) => update
            .update_expression(
                "SET #status = :status, itemsWritten = :written, failureReason = :reason",
            )
            .expression_attribute_values(":reason", AttributeValue::S(reason.to_owned())),
        None => update.update_expression("SET #status = :status, itemsWritten = :written"),
    };
    match update.send().await {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            tracing::info!(job_id = job, "job {job} is not SUBMITTED: left as it is");
            Ok(())
        }
        Err(error) => Err(IngestError::Aws(format!(
            "the job {job} could not be updated: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(error)
        ))),
    }
}

async fn job_finished(job: &str, clients: &Clients) -> Result<bool, IngestError> {
    let item = clients
        .dynamodb
        .get_item()
        .table_name(&clients.jobs)
        .key("jobId", AttributeValue::S(job.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|error| {
            IngestError::Aws(format!(
                "the job {job} could not be read: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(error)
            ))
        })?
        .item;
    Ok(matches!(
        item.as_ref().and_then(|item| item.get("status")),
        Some(AttributeValue::S(status)) if status == "COMPLETED" || status == "FAILED"
    ))
}

/// Copies the object to `processed/{date}/{key}` and deletes it.
async fn move_to_processed(object: &ObjectCreated, clients: &Clients) -> Result<(), IngestError> {
    let date = object
        .event_time
        .as_deref()
        .and_then(|time| time.get(..10))
        .unwrap_or("undated");
    let target = format!("processed/{date}/{}", object.key);
    // CopySource is `bucket/key`, URL-encoded.
    let source = format!("{}/{}", object.bucket, encode_path(&object.key));
    let aws = |what: &str, error: String| {
        IngestError::Aws(format!(
            "{what} s3://{}/{}: {error}",
            object.bucket, object.key
        ))
    };
    clients
        .s3
        .copy_object()
        .bucket(&object.bucket)
        .key(&target)
        .copy_source(source)
        .send()
        .await
        .map_err(|error| {
            aws(
                "cannot copy",
                aws_sdk_s3::error::DisplayErrorContext(error).to_string(),
            )
        })?;
    clients
        .s3
        .delete_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|error| {
            aws(
                "cannot delete",
                aws_sdk_s3::error::DisplayErrorContext(error).to_string(),
            )
        })?;
    Ok(())
}

/// Percent-encodes a key for `CopySource`, keeping `/`.
fn encode_path(key: &str) -> String {
    key.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_objects_job_is_the_folder_under_batch_output() {
        assert_eq!(job_of("batch-output/job-7/part 1.jsonl.out"), Some("job-7"));
        assert_eq!(job_of("batch-output/job-7"), None);
        assert_eq!(job_of("uploads/job-7/x.jsonl"), None);
    }

    #[test]
    fn a_copy_source_is_percent_encoded_but_its_slashes() {
        assert_eq!(
            encode_path("batch-output/job 1/a+b é.jsonl"),
            "batch-output/job%201/a%2Bb%20%C3%A9.jsonl"
        );
    }
}
