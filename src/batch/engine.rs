//! Runs a batch: reads the records, schedules them by source (concurrently, by FIFO message
//! group, or in stream order), stops at the deadline margin, and collects the failures.

use std::{borrow::Cow, collections::HashMap, future::Future, ops::Range, sync::Arc};

use serde_json::value::RawValue;
use tokio::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::{
    BatchError, BatchErrorKind, BatchHandler, BatchResponse, ItemFailure, RawBatch, RecordResponse,
    records::{Peek, Record, Source},
};
use crate::{
    context::Context, error, handler::Handler, layers::CatchUnwind, validation::Validator,
};

/// Why a record failed: the `error_type` logged with it, and the reason.
#[derive(Debug, Clone)]
struct Failure {
    error_type: String,
    reason: String,
}

pub(crate) async fn run<H, R, S, M>(
    handler: BatchHandler<H, R>,
    event: RawBatch,
    context: Context,
    state: &'static S,
) -> Result<BatchResponse, BatchError>
where
    R: Record,
    H: Handler<R, S, M>,
    H::Response: RecordResponse,
    S: Sync + 'static,
{
    let started = Instant::now();
    let deadline = started + context.remaining_time();
    let stop_at = deadline
        .checked_sub(handler.options.deadline_margin)
        .unwrap_or(started);
    let source = R::SOURCE;

    let Some(records) = event.records else {
        return Err(invalid(format!(
            "the event is not a batch: it has no `Records`; this handler takes {source} records \
             (eventSource {})",
            source.event_source()
        )));
    };
    if records.is_empty() {
        return Err(invalid("the batch has no records".to_owned()));
    }
    // Only what identifies each record is read here; a record is decoded when it runs, so the
    // first records start at once and decoding overlaps the others' waiting.
    let mut ids: Vec<Arc<str>> = Vec::with_capacity(records.len());
    // Borrowed from the records: only a FIFO batch has groups, and only until its lanes exist.
    let mut groups: Vec<Option<Cow<'_, str>>> = Vec::new();
    let mut fifo = false;
    for (index, raw) in records.iter().enumerate() {
        let peek = Peek::read(source, raw);
        if let Some(found) = peek.event_source.as_deref()
            && found != source.event_source()
        {
            return Err(invalid(format!(
                "record {index} comes from `{found}`; this handler takes {source} records \
                 (eventSource {})",
                source.event_source()
            )));
        }
        let Some(id) = peek.id.as_deref() else {
            return Err(invalid(format!(
                "record {index} has no {}, so it could not be reported if it failed; the \
                 batch fails as a whole so that no record is lost",
                source.id_field()
            )));
        };
        ids.push(Arc::from(id));
        fifo = fifo
            || (source == Source::Sqs
                && peek
                    .event_source_arn
                    .as_deref()
                    .is_some_and(|arn| arn.ends_with(".fifo")));
        if let Some(group) = peek.group {
            groups.resize(index, None);
            groups.push(Some(group));
        }
    }
    groups.resize(ids.len(), None);
    let lanes = Lanes::new(source, fifo, &groups);
    drop(groups);
    let mut decoded: Vec<Option<Box<RawValue>>> = records.into_iter().map(Some).collect();

    let concurrency = if source.is_stream() {
        1
    } else {
        handler.options.concurrency
    };
    // Skip the rest of a lane after a failure: a FIFO group, or a stream that stops.
    let stop_lane = fifo || (source.is_stream() && !handler.options.continue_on_failure);

    let mut progress = Progress {
        outcomes: vec![None; ids.len()],
        skipped: vec![None; ids.len()],
        lanes,
        stop_lane,
        fifo,
    };
    // One timer for the whole batch, not one per record.
    let mut margin = std::pin::pin!(tokio::time::sleep_until(stop_at));
    let start = |index: usize, decoded: &mut Vec<Option<Box<RawValue>>>| {
        // A record taken from `decoded` has started.
        let record = decoded[index].take();
        handle_record(&handler, record, Arc::clone(&ids[index]), &context, state)
    };

    if concurrency == 1 {
        // One record at a time, on this task: no scheduling beyond the record's own future.
        'lanes: for lane in 0..progress.lanes.len() {
            while Instant::now() < stop_at
                && let Some(index) = progress.lanes.pop_front(lane)
            {
                let outcome = tokio::select! {
                    biased;
                    outcome = start(index, &mut decoded) => outcome,
                    // The deadline margin: the record is dropped, and reported below.
                    () = &mut margin => break 'lanes,
                };
                progress.settle(lane, index, outcome, &ids);
            }
        }
    } else {
        let tagged = |lane: usize, index: usize, decoded: &mut Vec<Option<Box<RawValue>>>| {
            let future = start(index, decoded);
            async move { (lane, index, future.await) }
        };
        let mut running = FuturesUnordered::new();
        let mut next_lane = 0;
        loop {
            while running.len() < concurrency
                && next_lane < progress.lanes.len()
                && Instant::now() < stop_at
            {
                if let Some(index) = progress.lanes.pop_front(next_lane) {
                    running.push(tagged(next_lane, index, &mut decoded));
                }
                next_lane += 1;
            }
            if running.is_empty() {
                break;
            }
            let next = tokio::select! {
                biased;
                next = running.next() => next,
                () = &mut margin => None,
            };
            // `None` at the deadline margin: what still runs is dropped, and reported below.
            let Some((lane, index, outcome)) = next else {
                break;
            };
            progress.settle(lane, index, outcome, &ids);
            if Instant::now() < stop_at
                && let Some(next) = progress.lanes.pop_front(lane)
            {
                running.push(tagged(lane, next, &mut decoded));
            }
        }
    }
    let Progress {
        outcomes,
        mut skipped,
        ..
    } = progress;
    let ran: Vec<bool> = decoded.iter().map(Option::is_none).collect();

    let mut response = BatchResponse::default();
    let mut processed: u64 = 0;
    let mut first_failure: Option<(usize, String)> = None;
    for (index, outcome) in outcomes.into_iter().enumerate() {
        let failure = match outcome {
            Some(Ok(())) => {
                processed += 1;
                continue;
            }
            Some(Err(failure)) => failure,
            None => {
                let margin = handler.options.deadline_margin.as_millis();
                let reason = skipped[index].take().unwrap_or_else(|| {
                    if ran[index] {
                        format!(
                            "stopped before it finished: the function's deadline was {margin} ms away"
                        )
                    } else {
                        format!("not processed: the function's deadline was {margin} ms away")
                    }
                });
                let failure = Failure {
                    error_type: "helve.RecordNotProcessed".to_owned(),
                    reason,
                };
                log_failure(&context, &ids[index], &failure).await;
                failure
            }
        };
        if first_failure.is_none() {
            first_failure = Some((index, failure.reason));
        }
        response.batch_item_failures.push(ItemFailure {
            item_identifier: ids[index].to_string(),
        });
    }
    let failed = response.batch_item_failures.len() as u64;
    metrics::counter!(crate::metrics::BATCH_RECORDS_PROCESSED).increment(processed);
    metrics::counter!(crate::metrics::BATCH_RECORDS_FAILED).increment(failed);

    if processed == 0 {
        let (index, reason) = first_failure.unwrap_or_default();
        let message = format!(
            "every record of the batch failed ({failed} of {failed}); the first, {}: {reason}",
            ids.get(index).map_or("", |id| &**id)
        );
        // Logged with the invocation's error, as every handler error is.
        return Err(BatchError {
            kind: BatchErrorKind::AllFailed,
            message,
        });
    }
    if failed > 0 {
        tracing::warn!(
            processed,
            failed,
            "{failed} of {} records failed and are reported for retry",
            processed + failed
        );
    }
    Ok(response)
}

/// Where each record stands while the batch runs.
struct Progress {
    outcomes: Vec<Option<Result<(), Failure>>>,
    /// Why a record that will not run is reported.
    skipped: Vec<Option<String>>,
    /// The records each lane still has to run, in order.
    lanes: Lanes,
    /// Whether a failure stops the rest of its lane (a FIFO group, a stream).
    stop_lane: bool,
    fifo: bool,
}

impl Progress {
    /// Records a record's outcome; after a failure that stops its lane, the rest of the lane
    /// is reported without running.
    fn settle(
        &mut self,
        lane: usize,
        index: usize,
        outcome: Result<(), Failure>,
        ids: &[Arc<str>],
    ) {
        let failed = outcome.is_err();
        self.outcomes[index] = Some(outcome);
        if !(failed && self.stop_lane) {
            return;
        }
        let reason = if self.fifo {
            format!(
                "not processed: an earlier message of its message group failed ({})",
                ids[index]
            )
        } else {
            format!(
                "not processed: an earlier record failed ({}), and Lambda retries the stream \
                 from there",
                ids[index]
            )
        };
        for later in self.lanes.drain(lane) {
            self.skipped[later] = Some(reason.clone());
        }
    }
}

fn invalid(message: String) -> BatchError {
    // Logged with the invocation's error, as every handler error is.
    BatchError::invalid(message)
}

/// The records each lane runs in order: one lane per record (SQS standard), per message group
/// (SQS FIFO), or one lane for the whole stream. Every lane is a range of one list of record
/// indices, so a batch of any size costs two allocations here.
struct Lanes {
    /// Record indices, lane after lane, each lane in the order its records arrived.
    order: Vec<usize>,
    /// The part of `order` each lane still has to run.
    ranges: Vec<Range<usize>>,
}

impl Lanes {
    fn new(source: Source, fifo: bool, groups: &[Option<Cow<'_, str>>]) -> Self {
        let count = groups.len();
        if source.is_stream() {
            return Self {
                order: (0..count).collect(),
                ranges: std::iter::once(0..count).collect(),
            };
        }
        if !fifo {
            return Self {
                order: (0..count).collect(),
                ranges: (0..count).map(|index| index..index + 1).collect(),
            };
        }
        // Each record's lane: its group's (numbered by first appearance), or its own.
        let mut by_group: HashMap<&str, usize> = HashMap::new();
        let mut lane_of = Vec::with_capacity(count);
        let mut sizes: Vec<usize> = Vec::new();
        for group in groups {
            let lane = match group.as_deref() {
                Some(group) => *by_group.entry(group).or_insert_with(|| {
                    sizes.push(0);
                    sizes.len() - 1
                }),
                None => {
                    sizes.push(0);
                    sizes.len() - 1
                }
            };
            sizes[lane] += 1;
            lane_of.push(lane);
        }
        let mut ranges = Vec::with_capacity(sizes.len());
        let mut start = 0;
        for size in &sizes {
            ranges.push(start..start);
            start += size;
        }
        let mut order = vec![0; count];
        for (index, lane) in lane_of.into_iter().enumerate() {
            let range = &mut ranges[lane];
            order[range.end] = index;
            range.end += 1;
        }
        Self { order, ranges }
    }

    fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The next record of `lane`, taken from it.
    fn pop_front(&mut self, lane: usize) -> Option<usize> {
        let range = self.ranges.get_mut(lane)?;
        if range.start >= range.end {
            return None;
        }
        let index = *self.order.get(range.start)?;
        range.start += 1;
        Some(index)
    }

    /// Every record left in `lane`, taken from it.
    fn drain(&mut self, lane: usize) -> impl Iterator<Item = usize> + '_ {
        let range = std::mem::replace(&mut self.ranges[lane], 0..0);
        self.order[range].iter().copied()
    }
}

/// One record: decoded, validated, handled under its own correlation id, with panics caught.
fn handle_record<H, R, S, M>(
    handler: &BatchHandler<H, R>,
    raw: Option<Box<RawValue>>,
    id: Arc<str>,
    context: &Context,
    state: &'static S,
) -> impl Future<Output = Result<(), Failure>> + Send + 'static
where
    R: Record,
    H: Handler<R, S, M>,
    S: Sync + 'static,
{
    let record_context = context.with_correlation_id(Arc::clone(&id));
    let handler_fn = handler.handler.clone();
    let validate: Option<Validator<R::Payload>> = handler.validate;
    let scope = record_context.clone();
    scope.scope(async move {
        let outcome = async {
            let Some(raw) = raw else {
                return Err(Failure {
                    error_type: "helve.Internal".to_owned(),
                    reason: "the record was already handled".to_owned(),
                });
            };
            let record = R::decode(&raw).map_err(|reason| Failure {
                error_type: "helve.InvalidRecord".to_owned(),
                reason,
            })?;
            if let (Some(validate), Some(payload)) = (validate, record.payload())
                && let Err(errors) = validate(payload)
            {
                return Err(Failure {
                    error_type: "helve.InvalidRecord".to_owned(),
                    reason: format!(
                        "the record does not validate: {}",
                        crate::validation::describe(&errors)
                    ),
                });
            }
            match CatchUnwind::new(handler_fn.call(record, record_context, state)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(failure)) => {
                    let diagnostic = error::diagnostic(&failure);
                    Err(Failure {
                        error_type: diagnostic.error_type,
                        reason: format!("the handler failed: {}", diagnostic.error_message),
                    })
                }
                // The panic is logged where it is caught.
                Err(panic) => Err(Failure {
                    error_type: "helve.Panic".to_owned(),
                    reason: panic.to_string(),
                }),
            }
        }
        .await;
        // A panic is logged where it is caught, in this record's scope.
        if let Err(failure) = &outcome
            && failure.error_type != "helve.Panic"
        {
            tracing::error!(
                error_type = %failure.error_type,
                record_id = %id,
                "record {id} failed: {}",
                failure.reason
            );
        }
        outcome
    })
}

/// Logs a record that did not run, with its own correlation id.
async fn log_failure(context: &Context, id: &Arc<str>, failure: &Failure) {
    context
        .with_correlation_id(Arc::clone(id))
        .scope(async {
            tracing::error!(
                error_type = %failure.error_type,
                record_id = %id,
                "record {id} failed: {}",
                failure.reason
            );
        })
        .await;
}
