//! Batches with partial failures: SQS standard and FIFO queues, Kinesis and DynamoDB streams
//! (feature `batch`).
//!
//! A handler whose event is one record ([`SqsMessage<T>`], [`KinesisRecord<T>`],
//! [`DynamoDbRecord<T>`], or the `aws_lambda_events` record of the same source) is called once
//! per record of the batch. helve answers Lambda with the records that failed,
//! `{"batchItemFailures":[{"itemIdentifier":"..."}]}`, so only those are retried. The event
//! source mapping must have `FunctionResponseTypes: [ReportBatchItemFailures]`; without it,
//! Lambda ignores the answer and deletes (or checkpoints past) every record of a batch that
//! did not fail as a whole.
//!
//! ```no_run
//! use helve::batch::SqsMessage;
//! use helve::prelude::*;
//!
//! #[derive(Deserialize)]
//! struct Job {
//!     id: String,
//! }
//!
//! #[helve::handler(batch(concurrency = 8))]
//! async fn work(message: SqsMessage<Job>) -> Result<(), helve::Error> {
//!     tracing::info!("running job {}", message.body().id);
//!     Ok(())
//! }
//! ```
//!
//! # Which records fail
//!
//! A record fails when its body (or a Kinesis record's base64 data, or a DynamoDB record's
//! image) does not decode into `T`, when `T` implements `validator::Validate` and the value
//! does not validate, when the handler returns `Err`, and when it panics. Each failure is
//! logged at ERROR with the record's id and the reason; the other records are not affected.
//! Every record is either processed successfully or listed in `batchItemFailures`: none is
//! lost.
//!
//! | Source | Order | After a failure |
//! |---|---|---|
//! | SQS standard queue | up to `concurrency` records at once (default 1) | the others go on |
//! | SQS FIFO queue (ARN ending in `.fifo`) | each message group in order, up to `concurrency` groups at once | the rest of that group is reported failed without running; other groups go on |
//! | Kinesis, DynamoDB Streams | one record at a time, in order | helve stops and reports the failed record and every record after it: Lambda retries from the first failure (checkpoint); `continue_on_failure` goes on instead and reports every failed record |
//!
//! When every record of a batch fails, the invocation fails as a whole
//! (`helve.BatchFailed`): Lambda then backs off and retries the batch (and an SQS message
//! goes to the dead-letter queue after `maxReceiveCount` receives), rather than treating a
//! systemic failure, such as a database that is down, as many separate record failures.
//!
//! # The deadline
//!
//! When the function's deadline is near (500 ms by default, `deadline_margin_ms`), no new
//! record starts, the records still running are stopped, and every record not processed is
//! reported failed; the answer reaches Lambda before the timeout, so the batch is not retried
//! as a whole.
//!
//! # Logs and metrics
//!
//! Every log line written while a record is handled carries that record's id (message id or
//! sequence number) as `correlation_id`, beside the batch's `function_request_id`. Each batch
//! records two metrics through the `metrics` facade: `BatchRecordsProcessed` and
//! `BatchRecordsFailed` (counts), written as EMF with the function's namespace.
//!
//! # Bad batches
//!
//! An event that is not a batch (no `Records`), an empty batch, a record from another source
//! than the handler takes, and a record without an id (which could not be reported) fail the
//! invocation with `helve.InvalidEvent` and a message that says which.

mod engine;
mod records;
#[cfg(test)]
mod tests;

use std::{fmt, future::Future, marker::PhantomData, pin::Pin, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use records::{DynamoDbRecord, KinesisRecord, Record, RecordSource, SqsMessage};

/// The old name of [`RecordSource`].
#[deprecated(note = "renamed `RecordSource`: the service a batch's records come from")]
pub type Source = RecordSource;

use crate::{
    context::Context,
    error::{FunctionError, codes},
    handler::Handler,
    validation::Validator,
};

/// How long before the deadline helve stops starting and running records, when not told.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// A batch as it arrives: its records, each read by helve on its own so that one broken
/// record does not fail the others.
#[derive(Debug, Default, Deserialize)]
pub struct RawBatch {
    #[serde(rename = "Records", default)]
    records: Option<Vec<Box<RawValue>>>,
}

/// What helve answers Lambda: the records to retry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchResponse {
    /// The records that failed.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

/// One record that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    /// Its message id (SQS) or sequence number (streams).
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// The batch failed as a whole: every record failed (`helve.BatchFailed`), or the event is not
/// a batch this handler can take (`helve.InvalidEvent`).
#[derive(Debug)]
pub struct BatchError {
    kind: BatchErrorKind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchErrorKind {
    AllFailed,
    Invalid,
}

impl BatchError {
    fn invalid(message: String) -> Self {
        Self {
            kind: BatchErrorKind::Invalid,
            message,
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BatchError {}

impl FunctionError for BatchError {
    fn error_type(&self) -> std::borrow::Cow<'static, str> {
        match self.kind {
            BatchErrorKind::AllFailed => codes::BATCH_FAILED.into(),
            BatchErrorKind::Invalid => codes::INVALID_EVENT.into(),
        }
    }
}

/// Wraps a handler of one record `R` into a handler of the whole batch:
/// `Function::new(batch(handler))`. `#[helve::handler]` does this for you.
///
/// ```no_run
/// use helve::batch::{SqsMessage, batch};
///
/// async fn work(message: SqsMessage<serde_json::Value>, _ctx: helve::Context) -> Result<(), helve::Error> {
///     Ok(())
/// }
///
/// fn main() -> std::process::ExitCode {
///     helve::Function::new(batch(work).concurrency(8)).run()
/// }
/// ```
pub fn batch<H, R>(handler: H) -> BatchHandler<H, R>
where
    R: Record,
{
    BatchHandler {
        handler,
        options: BatchOptions {
            concurrency: 1,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
            continue_on_failure: false,
        },
        validate: None,
        _record: PhantomData,
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchOptions {
    pub(crate) concurrency: usize,
    pub(crate) deadline_margin: Duration,
    pub(crate) continue_on_failure: bool,
}

/// A handler of one record that handles a whole batch; made by [`batch`].
pub struct BatchHandler<H, R: Record> {
    handler: H,
    options: BatchOptions,
    validate: Option<Validator<R::Payload>>,
    _record: PhantomData<fn() -> R>,
}

impl<H: Clone, R: Record> Clone for BatchHandler<H, R> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            options: self.options,
            validate: self.validate,
            _record: PhantomData,
        }
    }
}

impl<H, R: Record> fmt::Debug for BatchHandler<H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchHandler")
            .field("handler", &std::any::type_name::<H>())
            .field("source", &R::SOURCE)
            .field("options", &self.options)
            .field("validates", &self.validate.is_some())
            .finish()
    }
}

impl<H, R: Record> BatchHandler<H, R> {
    /// How many records (SQS standard) or message groups (SQS FIFO) run at once; at least 1,
    /// the default. Streams always run one record at a time.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.options.concurrency = concurrency.max(1);
        self
    }

    /// How long before the deadline helve stops running records and answers (default 500 ms).
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.options.deadline_margin = margin;
        self
    }

    /// For streams: go on past a failed record and report every failed record, instead of
    /// stopping at the first failure.
    pub fn continue_on_failure(mut self, continue_on_failure: bool) -> Self {
        self.options.continue_on_failure = continue_on_failure;
        self
    }

    /// Validates each record's payload with `validator` before calling the handler.
    pub fn validated(mut self) -> Self
    where
        R::Payload: validator::Validate,
    {
        self.validate = Some(validator::Validate::validate);
        self
    }

    /// Validates each record's payload with `check` before calling the handler.
    pub fn validate_with(mut self, check: Validator<R::Payload>) -> Self {
        self.validate = Some(check);
        self
    }

    /// Handles each record once per idempotency key: the SQS `messageId` (the Kinesis or
    /// DynamoDB Streams `eventID`), so that a message SQS delivers twice is handled once. A
    /// duplicate still in progress fails only its own record
    /// (`helve.IdempotencyAlreadyInProgress`), and is retried. The key prefix defaults to
    /// `{function name}.{handler name}`. See [`helve::idempotency`](crate::idempotency).
    ///
    /// ```no_run
    /// use helve::batch::{SqsMessage, batch};
    /// use helve::idempotency::{Idempotency, MemoryStore};
    ///
    /// async fn work(message: SqsMessage<serde_json::Value>, _ctx: helve::Context) -> Result<(), helve::Error> {
    ///     Ok(())
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     let idempotency = Idempotency::new(MemoryStore::new());
    ///     helve::Function::new(batch(work).idempotency(idempotency)).run()
    /// }
    /// ```
    #[cfg(feature = "idempotency")]
    #[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
    pub fn idempotency(
        self,
        idempotency: crate::idempotency::Idempotency,
    ) -> BatchHandler<crate::idempotency::Idempotent<H, RecordKey>, R> {
        self.idempotency_with(idempotency, RecordKey)
    }

    /// [`idempotency`](BatchHandler::idempotency), with the key computed from the decoded
    /// record by `key` (`None` for no key), as `|message: &SqsMessage<Order>|
    /// Some(json!(message.body().order_id))`.
    #[cfg(feature = "idempotency")]
    #[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
    pub fn idempotency_with<K>(
        self,
        idempotency: crate::idempotency::Idempotency,
        key: K,
    ) -> BatchHandler<crate::idempotency::Idempotent<H, K>, R> {
        BatchHandler {
            handler: crate::idempotency::Idempotent::new(self.handler, idempotency, key, None),
            options: self.options,
            validate: self.validate,
            _record: PhantomData,
        }
    }

    /// [`idempotency`](BatchHandler::idempotency), each record keyed by the value at the JSON
    /// `pointer` into its decoded payload (`"/jobId"` of an SQS message's body), so that two
    /// messages carrying the same job (two sends, two `messageId`s) run it once. A pointer that
    /// is not one stops the function at start with `helve.ConfigError`.
    #[cfg(feature = "idempotency")]
    #[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
    pub fn idempotency_at(
        self,
        idempotency: crate::idempotency::Idempotency,
        pointer: &str,
    ) -> BatchHandler<crate::idempotency::Idempotent<H, PayloadKey>, R>
    where
        R::Payload: Serialize,
    {
        let key = PayloadKey {
            pointer: std::sync::Arc::new(
                crate::correlation::Pointer::new(pointer)
                    .map_err(|error| crate::ConfigError::new("idempotency key", error.to_string())),
            ),
        };
        self.idempotency_with(idempotency, key)
    }
}

/// The idempotency key of a record at a JSON pointer into its decoded payload: see
/// [`BatchHandler::idempotency_at`].
#[cfg(feature = "idempotency")]
#[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
#[derive(Debug, Clone)]
pub struct PayloadKey {
    pointer: std::sync::Arc<Result<crate::correlation::Pointer, crate::ConfigError>>,
}

#[cfg(feature = "idempotency")]
impl<R> crate::idempotency::KeyOf<R> for PayloadKey
where
    R: Record,
    R::Payload: Serialize,
{
    fn key_of(&self, record: &R, _read: Option<serde_json::Value>) -> serde_json::Value {
        let Ok(pointer) = &*self.pointer else {
            return serde_json::Value::Null;
        };
        record
            .payload()
            .and_then(|payload| serde_json::to_value(payload).ok())
            .and_then(|mut payload| payload.pointer_mut(pointer.as_str()).map(std::mem::take))
            .unwrap_or(serde_json::Value::Null)
    }

    fn check(&self) -> Result<(), crate::ConfigError> {
        match &*self.pointer {
            Ok(_) => Ok(()),
            Err(error) => Err(error.clone()),
        }
    }
}

/// The idempotency key of a record: [`Record::idempotency_key`], the SQS `messageId` or the
/// stream's `eventID`.
#[cfg(feature = "idempotency")]
#[cfg_attr(docsrs, doc(cfg(feature = "idempotency")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordKey;

#[cfg(feature = "idempotency")]
impl<R: Record> crate::idempotency::KeyOf<R> for RecordKey {
    fn key_of(&self, record: &R, _read: Option<serde_json::Value>) -> serde_json::Value {
        record.idempotency_key().unwrap_or(serde_json::Value::Null)
    }
}

/// What a batch handler answers for one record: `()`.
#[diagnostic::on_unimplemented(
    message = "a batch handler returns `()` or `Result<(), E>`, not `{Self}`",
    label = "helve answers Lambda with the batch's failures; a record has no response",
    note = "return `Ok(())` when the record is processed, and `Err(..)` to have it retried"
)]
pub trait RecordResponse {}

// Not listed in a diagnostic: the message says to return `()`, without a path into helve.
#[diagnostic::do_not_recommend]
impl RecordResponse for () {}

/// The future of [`BatchHandler`].
pub type BatchFuture = Pin<Box<dyn Future<Output = Result<BatchResponse, BatchError>> + Send>>;

impl<H, R, S, M> Handler<RawBatch, S, M> for BatchHandler<H, R>
where
    R: Record,
    H: Handler<R, S, M>,
    H::Response: RecordResponse,
    S: Sync + 'static,
    M: 'static,
{
    type Response = BatchResponse;
    type Error = BatchError;
    type Future = BatchFuture;

    fn call(&self, event: RawBatch, context: Context, state: &'static S) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { engine::run(this, event, context, state).await })
    }

    #[cfg(feature = "idempotency")]
    fn check_idempotency(&self) -> Result<(), crate::ConfigError> {
        self.handler.check_idempotency()
    }
}
