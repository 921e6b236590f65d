//! An object's JSON lines into a DynamoDB table: [`ingest`], which stops at the deadline margin
//! and says where.

use std::{borrow::Cow, fmt};

use serde::{Serialize, de::DeserializeOwned};

use super::{Line, LineError, ObjectCreated, lines};
use crate::{
    FunctionError,
    dynamodb::{BatchWriter, WriteReport},
    error::codes,
};

/// What [`ingest`] did with one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Lines read (good and bad).
    pub lines_read: u64,
    /// Lines that did not decode (logged at WARN with their number, never their content) or
    /// were too long.
    pub lines_rejected: u64,
    /// What the writer did with the items.
    pub write: WriteReport,
}

/// An object's ingest stopped before its end: the deadline margin came, the object could not
/// be read on, or items were left unprocessed. `errorType` `helve.IngestIncomplete`: through
/// SQS the message is a batch item failure and is delivered again (deterministic item ids make
/// the rerun overwrite, not duplicate); directly from S3 the invocation fails, and Lambda's
/// retry or on-failure destination takes over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestIncomplete {
    /// `s3://bucket/key`.
    pub object: String,
    /// The line to resume from, and its byte offset (`Range: bytes={offset}-` for an object
    /// that is not compressed): the first line not read, or, when items were left
    /// unprocessed, where this run started.
    pub resume_at: (u64, u64),
    /// Why it stopped.
    pub reason: Cow<'static, str>,
    /// What was done before it stopped.
    pub report: IngestReport,
}

impl fmt::Display for IngestIncomplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, offset) = self.resume_at;
        write!(
            f,
            "the ingest of {} stopped at line {line} (byte {offset}): {}; {} items written, {} unprocessed",
            self.object,
            self.reason,
            self.report.write.written,
            self.report.write.unprocessed.len()
        )
    }
}

impl std::error::Error for IngestIncomplete {}

impl FunctionError for IngestIncomplete {
    fn error_type(&self) -> Cow<'static, str> {
        Cow::Borrowed(codes::INGEST_INCOMPLETE)
    }
}

/// Reads `object`'s lines ([`lines`], from `from` when given), decodes each as JSON into `T`,
/// turns it into an item with `to_item` (give it a deterministic id,
/// [`ObjectCreated::item_id`]), and writes the items with `writer`.
///
/// - A line that does not decode, or is too long, is counted, logged at WARN with its number
///   (never its content), and the file goes on.
/// - When the writer's deadline margin comes, reading stops, what is buffered is sent, and the
///   result is [`IngestIncomplete`] with the line and offset reached. So is a read that fails
///   mid-object, and items the writer left unprocessed.
/// - An item the writer refuses (over 400 KB, no key) is in the report; it would be refused
///   again, so it does not make the ingest incomplete.
///
/// The metrics `IngestLines` and `IngestLinesRejected` are counted, besides the writer's.
pub async fn ingest<T, I>(
    s3: &aws_sdk_s3::Client,
    mut writer: BatchWriter,
    object: &ObjectCreated,
    from: Option<(u64, u64)>,
    mut to_item: impl FnMut(T, &Line) -> I,
) -> Result<IngestReport, IngestIncomplete>
where
    T: DeserializeOwned,
    I: Serialize,
{
    let name = format!("s3://{}/{}", object.bucket, object.key);
    let start = from.unwrap_or((1, 0));
    let mut report = IngestReport::default();
    let mut stream = match lines(s3, object, from).await {
        Ok(stream) => stream,
        Err(error) => {
            report.write = writer.finish().await;
            return Err(IngestIncomplete {
                object: name,
                resume_at: start,
                reason: Cow::Owned(error.to_string()),
                report,
            });
        }
    };
    let mut stopped: Option<Cow<'static, str>> = None;
    loop {
        if writer.out_of_time() {
            stopped = Some(Cow::Borrowed("the deadline margin came"));
            break;
        }
        let Some(line) = stream.next_line().await else {
            break;
        };
        let line = match line {
            Err(LineError::Read(error)) => {
                stopped = Some(Cow::Owned(format!(
                    "the object could not be read on: {error}"
                )));
                break;
            }
            other => other,
        };
        report.lines_read += 1;
        match line.and_then(|line| line.decode::<T>().map(|value| (value, line))) {
            Ok((value, line)) => writer.put(&to_item(value, &line)).await,
            Err(bad) => {
                report.lines_rejected += 1;
                tracing::warn!(object = %name, "{bad}");
            }
        }
    }
    // Counted once per object, not per line: a metric's lookup costs more than the count.
    metrics::counter!("IngestLines").increment(report.lines_read);
    metrics::counter!("IngestLinesRejected").increment(report.lines_rejected);
    let mut resume_at = (stream.line_number() + 1, stream.offset());
    report.write = writer.finish().await;
    if !report.write.unprocessed.is_empty() {
        // Items of lines before the one reached were not written: only a rerun from where this
        // run started (the deterministic ids overwrite what was written) loses none of them.
        resume_at = start;
        stopped.get_or_insert(Cow::Borrowed("items were left unprocessed"));
    }
    match stopped {
        None => Ok(report),
        Some(reason) => {
            let incomplete = IngestIncomplete {
                object: name,
                resume_at,
                reason,
                report,
            };
            tracing::warn!(
                error_type = codes::INGEST_INCOMPLETE,
                resume_line = resume_at.0,
                resume_offset = resume_at.1,
                "{incomplete}"
            );
            Err(incomplete)
        }
    }
}
