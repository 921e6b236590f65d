//! [`BatchWriter`]: many items into one table, none lost.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::Arc,
    time::Duration,
};

use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{AttributeValue, PutRequest, WriteRequest},
};
use serde::Serialize;

use super::{MAX_ITEM_BYTES, size::item_size};

/// The most requests one `BatchWriteItem` call takes.
pub const MAX_CHUNK_ITEMS: usize = 25;
/// The most bytes one `BatchWriteItem` call takes.
pub const MAX_CHUNK_BYTES: usize = 16 * 1024 * 1024;
/// How many times a chunk is sent, the first included, before what is left of it is reported
/// unprocessed.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// The first retry waits up to this long; each next one up to twice as long as the one before.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(50);
/// No retry waits longer than this.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5);
/// How long before the invocation's deadline the writer stops sending and retrying.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// An item the writer did not write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The item's primary key, as `id=o-1` (or `pk=a, sk=b`); `item #N` (its place among the
    /// items given) when it has none.
    pub key: String,
    /// Why: too large, no key, not an item, or what DynamoDB answered.
    pub reason: String,
}

/// What a [`BatchWriter`] did: every item given is written, dropped as a duplicate, rejected,
/// or still unprocessed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Items DynamoDB confirmed.
    pub written: usize,
    /// Items dropped because a later item of the same chunk had the same key (the later one is
    /// written).
    pub duplicates: usize,
    /// Items refused before sending (too large, no key, not an item) or by DynamoDB.
    pub rejected: Vec<Rejected>,
    /// The keys of the items left unprocessed when the attempts or the time ran out: send them
    /// again (a redelivery of the same input does).
    pub unprocessed: Vec<String>,
    /// How many times a chunk (or what was left of it) was sent again.
    pub retries: usize,
}

impl WriteReport {
    /// Whether every item was written or dropped as a duplicate.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty() && self.unprocessed.is_empty()
    }
}

/// The table's primary key: the partition key's name, and the sort key's.
#[derive(Debug, Clone)]
struct KeySchema {
    partition: String,
    sort: Option<String>,
}

/// One item waiting for its chunk to be sent.
#[derive(Debug)]
struct Pending {
    key: String,
    item: HashMap<String, AttributeValue>,
    size: usize,
}

/// Writes items to one DynamoDB table with `BatchWriteItem`, losing none.
///
/// - Items are sent in chunks of at most 25 and 16 MB; an item over 400 KB is refused before
///   it is sent, and reported with its key.
/// - Two items with the same key in one chunk: the earlier is dropped (counted), since
///   DynamoDB refuses the whole call otherwise.
/// - `UnprocessedItems`, and a chunk refused whole for throughput (throttling), are sent again
///   after a fully jittered backoff: a random wait from 0 to `min(max_delay, base_delay *
///   2^attempt)`, at most `max_attempts` sends, and none that would end past the invocation's
///   deadline less the margin.
/// - [`finish`](BatchWriter::finish) sends what is left and returns the [`WriteReport`]; what
///   was not written is logged at ERROR with its keys. The metrics `ItemsWritten`,
///   `ItemsRejected` and `WriteRetries` are counted in the invocation's EMF document.
///
/// ```no_run
/// use helve::dynamodb::BatchWriter;
/// # async fn run(client: aws_sdk_dynamodb::Client) {
/// let mut writer = BatchWriter::new(client, "transactions", "id");
/// writer.put(&serde_json::json!({"id": "t-1", "amount": 12})).await;
/// let report = writer.finish().await;
/// assert!(report.is_complete());
/// # }
/// ```
pub struct BatchWriter {
    client: Client,
    table: Arc<str>,
    key: KeySchema,
    chunk: Vec<Pending>,
    chunk_bytes: usize,
    given: usize,
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    stop_at: Option<tokio::time::Instant>,
    report: WriteReport,
}

impl fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchWriter")
            .field("table", &self.table)
            .field("key", &self.key)
            .field("pending", &self.chunk.len())
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl BatchWriter {
    /// A writer to `table`, whose partition key is `partition_key`, through `client`. Made in
    /// an invocation (inside the handler, or `Context::scope`), it stops
    /// [`DEFAULT_DEADLINE_MARGIN`] before that invocation's deadline: make one per invocation.
    pub fn new(client: Client, table: impl Into<String>, partition_key: impl Into<String>) -> Self {
        let stop_at = crate::context().map(|context| context.stop_at(DEFAULT_DEADLINE_MARGIN));
        Self {
            client,
            table: Arc::from(table.into()),
            key: KeySchema {
                partition: partition_key.into(),
                sort: None,
            },
            chunk: Vec::with_capacity(MAX_CHUNK_ITEMS),
            chunk_bytes: 0,
            given: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            stop_at,
            report: WriteReport::default(),
        }
    }

    /// The table's sort key, when it has one: an item's key is then both.
    pub fn sort_key(mut self, name: impl Into<String>) -> Self {
        self.key.sort = Some(name.into());
        self
    }

    /// How many times a chunk is sent, the first included (default 8, at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff: the first retry waits up to `base`, each next one up to twice the one
    /// before, none more than `max` (defaults 50 ms and 5 s).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// How long before the invocation's deadline the writer stops sending (default 1 s):
    /// what is left then is reported unprocessed. Outside an invocation there is no deadline.
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.stop_at = crate::context().map(|context| context.stop_at(margin));
        self
    }

    /// Whether the deadline margin has come: stop giving items and
    /// [`finish`](BatchWriter::finish). Past the margin a chunk is still sent once (so what
    /// was given is sent within the margin), but nothing is sent again: what DynamoDB leaves
    /// unprocessed then is reported.
    pub fn out_of_time(&self) -> bool {
        self.stop_at
            .is_some_and(|stop_at| tokio::time::Instant::now() >= stop_at)
    }

    /// The report so far.
    pub fn report(&self) -> &WriteReport {
        &self.report
    }

    /// Adds `item`, serialized as a DynamoDB item (`serde_dynamo`); sends a chunk when one is
    /// full. An item that does not serialize as a map is rejected.
    pub async fn put<T: Serialize + ?Sized>(&mut self, item: &T) {
        match serde_dynamo::to_item::<_, HashMap<String, AttributeValue>>(item) {
            Ok(item) => self.put_item(item).await,
            Err(error) => {
                self.given += 1;
                let key = format!("item #{}", self.given);
                self.reject(
                    key,
                    format!("it does not serialize as a DynamoDB item: {error}"),
                );
            }
        }
    }

    /// Adds an item given as its attributes; sends a chunk when one is full.
    pub async fn put_item(&mut self, item: HashMap<String, AttributeValue>) {
        self.given += 1;
        let key = match self.key_of(&item) {
            Ok(key) => key,
            Err(reason) => {
                let key = format!("item #{}", self.given);
                return self.reject(key, reason);
            }
        };
        let size = item_size(&item);
        if size > MAX_ITEM_BYTES {
            return self.reject(
                key,
                format!("it is {size} bytes, over DynamoDB's item limit of {MAX_ITEM_BYTES}"),
            );
        }
        if let Some(earlier) = self.chunk.iter().position(|pending| pending.key == key) {
            let dropped = self.chunk.remove(earlier);
            self.chunk_bytes -= dropped.size;
            self.report.duplicates += 1;
        }
        if self.chunk_bytes + size > MAX_CHUNK_BYTES {
            self.flush().await;
        }
        self.chunk_bytes += size;
        self.chunk.push(Pending { key, item, size });
        if self.chunk.len() == MAX_CHUNK_ITEMS {
            self.flush().await;
        }
    }

    /// Sends what is left and returns the report; what was not written is logged at ERROR.
    pub async fn finish(mut self) -> WriteReport {
        self.flush().await;
        let report = self.report;
        if report.is_complete() {
            tracing::info!(
                table = %self.table,
                written = report.written,
                duplicates = report.duplicates,
                retries = report.retries,
                "{} items written to {} ({} duplicates dropped)",
                report.written,
                self.table,
                report.duplicates
            );
        } else {
            let keys: Vec<&str> = report
                .rejected
                .iter()
                .map(|rejected| rejected.key.as_str())
                .chain(report.unprocessed.iter().map(String::as_str))
                .take(20)
                .collect();
            tracing::error!(
                table = %self.table,
                written = report.written,
                rejected = report.rejected.len(),
                unprocessed = report.unprocessed.len(),
                "{} items were not written to {}: {} rejected, {} unprocessed; keys (up to 20): {}",
                report.rejected.len() + report.unprocessed.len(),
                self.table,
                report.rejected.len(),
                report.unprocessed.len(),
                keys.join(", ")
            );
        }
        report
    }

    fn reject(&mut self, key: String, reason: String) {
        metrics::counter!("ItemsRejected").increment(1);
        self.report.rejected.push(Rejected { key, reason });
    }

    /// The key of `item`, as `id=o-1`; `Err` when it lacks a key attribute.
    fn key_of(&self, item: &HashMap<String, AttributeValue>) -> Result<String, String> {
        let part = |name: &str, role: &str| match item.get(name) {
            Some(AttributeValue::S(text)) => Ok(format!("{name}={text}")),
            Some(AttributeValue::N(number)) => Ok(format!("{name}={number}")),
            Some(AttributeValue::B(bytes)) => {
                Ok(format!("{name}=<{} bytes>", bytes.as_ref().len()))
            }
            Some(_) => Err(format!(
                "its `{name}`, the table's {role} key, is not a string, number or binary"
            )),
            None => Err(format!("it has no `{name}`, the table's {role} key")),
        };
        let partition = part(&self.key.partition, "partition")?;
        match &self.key.sort {
            Some(sort) => Ok(format!("{partition}, {}", part(sort, "sort")?)),
            None => Ok(partition),
        }
    }

    /// Sends the chunk, then what DynamoDB leaves of it, until it is all written or the
    /// attempts or the time run out.
    async fn flush(&mut self) {
        let mut pending = std::mem::take(&mut self.chunk);
        self.chunk_bytes = 0;
        let mut attempt: u32 = 0;
        while !pending.is_empty() {
            let requests: Result<Vec<WriteRequest>, _> = pending
                .iter()
                .map(|pending| {
                    PutRequest::builder()
                        .set_item(Some(pending.item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                })
                .collect();
            let requests = match requests {
                Ok(requests) => requests,
                Err(error) => {
                    for item in pending {
                        self.reject(item.key, format!("it cannot be sent: {error}"));
                    }
                    return;
                }
            };
            let sent = self
                .client
                .batch_write_item()
                .request_items(&*self.table, requests)
                .send()
                .await;
            match sent {
                Ok(output) => {
                    let left: HashSet<String> = output
                        .unprocessed_items
                        .as_ref()
                        .and_then(|tables| tables.get(&*self.table))
                        .into_iter()
                        .flatten()
                        .filter_map(|request| request.put_request())
                        .filter_map(|put| self.key_of(put.item()).ok())
                        .collect();
                    let before = pending.len();
                    pending.retain(|item| left.contains(&item.key));
                    let written = before - pending.len();
                    self.report.written += written;
                    metrics::counter!("ItemsWritten").increment(written as u64);
                }
                Err(error) if is_throttling(&error) => {}
                Err(error) => {
                    let reason = format!("BatchWriteItem failed: {}", crate::aws::describe(&error));
                    for item in pending {
                        self.reject(item.key, reason.clone());
                    }
                    return;
                }
            }
            if pending.is_empty() {
                return;
            }
            attempt += 1;
            let delay = full_jitter(self.base_delay, self.max_delay, attempt, fastrand::u64);
            let past_deadline = self
                .stop_at
                .is_some_and(|stop_at| tokio::time::Instant::now() + delay >= stop_at);
            if attempt >= self.max_attempts || past_deadline {
                let why = if past_deadline {
                    "the deadline margin came"
                } else {
                    "the attempts ran out"
                };
                tracing::warn!(
                    table = %self.table,
                    unprocessed = pending.len(),
                    attempts = attempt,
                    "{} items left unprocessed by {}: {why}",
                    pending.len(),
                    self.table
                );
                self.report
                    .unprocessed
                    .extend(pending.into_iter().map(|item| item.key));
                return;
            }
            self.report.retries += 1;
            metrics::counter!("WriteRetries").increment(1);
            tokio::time::sleep(delay).await;
        }
    }
}

/// Whether DynamoDB refused the whole call for throughput: sent again like unprocessed items.
fn is_throttling<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| {
            matches!(
                code,
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
            )
        })
}

/// The wait before retry `attempt` (1 for the first): a random duration from 0 to
/// `min(max, base * 2^(attempt - 1))`, `random` drawing from a range of milliseconds.
pub(super) fn full_jitter(
    base: Duration,
    max: Duration,
    attempt: u32,
    random: impl FnOnce(std::ops::RangeInclusive<u64>) -> u64,
) -> Duration {
    let base = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
    let max = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    let factor = 1u64
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u64::MAX);
    let ceiling = base.saturating_mul(factor).min(max);
    Duration::from_millis(random(0..=ceiling))
}
