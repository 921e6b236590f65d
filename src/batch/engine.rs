//! Runs a batch: reads the records, schedules them by source (concurrently, by FIFO message
//! group, or in stream order), stops at the deadline margin, and collects the failures.

use std::{
    borrow::Cow, collections::HashMap, future::Future, ops::Range, pin::Pin, sync::Arc,
    time::Duration,
};

use serde_json::value::RawValue;
use tokio::time::Instant;

use futures_util::{
    future::Either,
    stream::{FuturesUnordered, StreamExt},
};

use super::{
    BatchError, BatchErrorKind, BatchHandler, BatchResponse, ItemFailure, RawBatch, RecordResponse,
    records::{Peek, Record, Source},
};
use crate::{
    context::Context,
    error::{self, codes},
    handler::Handler,
    layers::{CatchUnwind, catch},
    outcome,
    validation::Validator,
};

/// Why a record failed: the `error_type` logged with it, and the reason.
#[derive(Debug, Clone)]
struct Failure {
    error_type: String,
    reason: String,
    /// Whether it was logged already (a panic of the handler, where it is caught).
    logged: bool,
}

impl Failure {
    fn new(error_type: &str, reason: String) -> Self {
        Self {
            error_type: error_type.to_owned(),
            reason,
            logged: false,
        }
    }
}

/// Decodes a record; a panic while decoding it (in a `Deserialize` impl) fails the record.
fn decode<R: Record>(raw: &RawValue) -> Result<R, Failure> {
    match catch(|| R::decode(raw)) {
        Ok(Ok(record)) => Ok(record),
        Ok(Err(reason)) => Err(Failure::new(codes::INVALID_RECORD, reason)),
        Err(panic) => {
            let reason = match crate::logging::take_panic_location() {
                Some(location) => {
                    format!(
                        "decoding the record panicked at {location}: {}",
                        panic.message()
                    )
                }
                None => format!("decoding the record panicked: {}", panic.message()),
            };
            Err(Failure::new(codes::PANIC, reason))
        }
    }
}

/// Runs a batch in three phases: [`Plan::read`] reads what identifies each record and the
/// lanes they run in, [`one_at_a_time`] or [`concurrently`] runs them until the deadline
/// margin, and [`report`] answers Lambda with the records to retry.
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
    let stop_at = context.stop_at(handler.options.deadline_margin);
    let source = R::SOURCE;

    let Plan {
        records,
        ids,
        lanes,
        fifo,
    } = Plan::read(source, event.records)?;
    let mut slots: Vec<Slot<_>> = records.into_iter().map(Slot::Waiting).collect();

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
    // A record's future: decoded (a failure to decode is the record's outcome), then handled.
    let build = |index: usize, raw: Box<RawValue>| {
        let id = Arc::clone(&ids[index]);
        let record_context = context.with_correlation_id(Arc::clone(&id));
        // A `Deserialize` that logs does so with the record's correlation id.
        let record = record_context.clone().enter(|| decode::<R>(&raw));
        handle_record(&handler, record, id, record_context, state)
    };

    if concurrency == 1 {
        one_at_a_time(&mut progress, &mut slots, &ids, stop_at, build).await;
    } else {
        concurrently(&mut progress, &mut slots, &ids, stop_at, concurrency, build).await;
    }
    let ran: Vec<bool> = slots
        .iter()
        .map(|slot| matches!(slot, Slot::Started))
        .collect();

    report(
        &context,
        handler.options.deadline_margin,
        &ids,
        progress,
        &ran,
    )
    .await
}

/// What is read from a batch before any record runs: what identifies each record and the
/// lanes they run in.
struct Plan {
    /// The records as they came; a record is decoded when it starts, or, with a concurrency
    /// above 1, while the running records wait (see [`concurrently`]).
    records: Vec<Box<RawValue>>,
    /// Each record's id, as reported in `batchItemFailures`.
    ids: Vec<Arc<str>>,
    lanes: Lanes,
    /// Whether the batch comes from an SQS FIFO queue.
    fifo: bool,
}

impl Plan {
    /// Reads only what identifies each record: its id, its event source, and (SQS) its queue
    /// and message group. A batch that is not one of `source`, or has a record without an id,
    /// fails as a whole.
    fn read(source: Source, records: Option<Vec<Box<RawValue>>>) -> Result<Self, BatchError> {
        let Some(records) = records else {
            return Err(invalid(format!(
                "the event is not a batch: it has no `Records`; this handler takes {source} \
                 records (eventSource {})",
                source.event_source()
            )));
        };
        if records.is_empty() {
            return Err(invalid("the batch has no records".to_owned()));
        }
        let mut ids: Vec<Arc<str>> = Vec::with_capacity(records.len());
        // Borrowed from the records: only a FIFO batch has groups, and only until its lanes
        // exist.
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
        Ok(Self {
            records,
            ids,
            lanes,
            fifo,
        })
    }
}

/// Runs the records one at a time, lane after lane, on this task: no scheduling beyond the
/// record's own future. Stops at `stop_at`, dropping the record that runs then.
async fn one_at_a_time<F, B>(
    progress: &mut Progress,
    slots: &mut [Slot<F>],
    ids: &[Arc<str>],
    stop_at: Instant,
    build: B,
) where
    F: Future<Output = Result<(), Failure>>,
    B: Fn(usize, Box<RawValue>) -> F,
{
    // One timer for the whole batch, not one per record.
    let mut margin = std::pin::pin!(tokio::time::sleep_until(stop_at));
    'lanes: for lane in 0..progress.lanes.len() {
        while Instant::now() < stop_at
            && let Some(index) = progress.lanes.pop_front(lane)
        {
            let future = match slots[index].start() {
                Some(Starting::Raw(raw)) => Either::Left(build(index, raw)),
                Some(Starting::Prepared(future)) => Either::Right(future),
                // A lane lists each record once, and never a dropped one: not reached.
                None => continue,
            };
            let outcome = tokio::select! {
                biased;
                outcome = future => outcome,
                // The deadline margin: the record is dropped, and reported by `report`.
                () = &mut margin => break 'lanes,
            };
            progress.settle(lane, index, outcome, ids);
        }
    }
}

/// Runs up to `concurrency` lanes at once, each lane's records in order. Stops at `stop_at`,
/// dropping the records that run then.
///
/// The records of a wave end together (a timer's tick, a burst of answers) and their
/// successors start one after the other: what a start costs delays the last of them. So each
/// successor is polled as soon as its predecessor is settled, which registers what it waits
/// for before the rest of the wave is settled; and the work of starting a record (decoding
/// it, building its future) is done ahead, while the running records wait, for up to
/// `concurrency` of the records that start next (see `Ahead`). See docs/performance.md,
/// "Batches".
async fn concurrently<F, B>(
    progress: &mut Progress,
    slots: &mut [Slot<F>],
    ids: &[Arc<str>],
    stop_at: Instant,
    concurrency: usize,
    build: B,
) where
    F: Future<Output = Result<(), Failure>>,
    B: Fn(usize, Box<RawValue>) -> F,
{
    // One timer for the whole batch, not one per record.
    let mut margin = std::pin::pin!(tokio::time::sleep_until(stop_at));
    let mut ahead = Ahead::default();
    let mut running = FuturesUnordered::new();
    // Starts the next record of `lane`, polled once at once; a record that ends on that
    // first poll is settled and the next one of the lane starts, a few at most before
    // the others get their turn.
    let launch = |lane: usize,
                  progress: &mut Progress,
                  slots: &mut [Slot<F>],
                  ahead: &mut Ahead,
                  running: &mut FuturesUnordered<_>| {
        let mut ended_at_once = 0;
        while Instant::now() < stop_at
            && let Some(index) = progress.lanes.pop_front(lane)
        {
            let future = match slots[index].start() {
                Some(Starting::Raw(raw)) => Box::pin(build(index, raw)),
                Some(Starting::Prepared(future)) => {
                    ahead.prepared = ahead.prepared.saturating_sub(1);
                    future
                }
                // A lane lists each record once, and never a dropped one: not reached.
                None => continue,
            };
            if progress.lanes.peek_front(lane).is_some() {
                ahead.lanes.push_back(lane);
            }
            if ended_at_once == INLINE_RECORDS {
                running.push(Either::Left(async move { (lane, index, future.await) }));
                return;
            }
            match poll_once(future) {
                Ok(outcome) => {
                    ended_at_once += 1;
                    let drained = progress.settle(lane, index, outcome, ids);
                    ahead.forget(drained, &progress.lanes.order, slots);
                }
                Err(future) => {
                    running.push(Either::Right(async move { (lane, index, future.await) }));
                    return;
                }
            }
        }
    };
    let mut next_lane = 0;
    loop {
        while running.len() < concurrency
            && next_lane < progress.lanes.len()
            && Instant::now() < stop_at
        {
            launch(next_lane, progress, slots, &mut ahead, &mut running);
            next_lane += 1;
        }
        if running.is_empty() {
            break;
        }
        let prepare = ahead.prepared < concurrency
            && ahead.has_candidates(next_lane, progress.lanes.len())
            && Instant::now() < stop_at;
        let next = tokio::select! {
            biased;
            next = running.next() => next,
            () = &mut margin => None,
            // Only while no record has ended and the margin is not reached.
            () = std::future::ready(()), if prepare => {
                if let Some(index) = ahead.next(next_lane, progress, slots)
                    && let Some(Starting::Raw(raw)) = slots[index].start()
                {
                    slots[index] = Slot::Prepared(Box::pin(build(index, raw)));
                    ahead.prepared += 1;
                }
                continue;
            }
        };
        // `None` at the deadline margin: what still runs is dropped, and reported by
        // `report`.
        let Some((lane, index, outcome)) = next else {
            break;
        };
        let drained = progress.settle(lane, index, outcome, ids);
        ahead.forget(drained, &progress.lanes.order, slots);
        launch(lane, progress, slots, &mut ahead, &mut running);
    }
}

/// What helve answers Lambda once the records have run: the ids of those that failed or did
/// not run (`batchItemFailures`), or a `BatchFailed` error when none succeeded; and the
/// records processed and failed, as metrics. A record that did not run is logged here, with
/// why (`ran` tells whether it started).
async fn report(
    context: &Context,
    deadline_margin: Duration,
    ids: &[Arc<str>],
    progress: Progress,
    ran: &[bool],
) -> Result<BatchResponse, BatchError> {
    let Progress {
        outcomes,
        mut skipped,
        ..
    } = progress;

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
                let margin = deadline_margin.as_millis();
                let reason = skipped[index].take().unwrap_or_else(|| {
                    if ran[index] {
                        format!(
                            "stopped before it finished: the function's deadline was {margin} ms away"
                        )
                    } else {
                        format!("not processed: the function's deadline was {margin} ms away")
                    }
                });
                let failure = Failure::new(codes::RECORD_NOT_PROCESSED, reason);
                log_failure(context, &ids[index], &failure).await;
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

/// A record of the batch: waiting as it came, prepared to start (decoded, its future built),
/// started, or dropped unstarted after it was prepared (its FIFO group failed).
enum Slot<F> {
    Waiting(Box<RawValue>),
    Prepared(Pin<Box<F>>),
    Started,
    Dropped,
}

/// A record taken to start: as it came, or prepared.
enum Starting<F> {
    Raw(Box<RawValue>),
    Prepared(Pin<Box<F>>),
}

impl<F> Slot<F> {
    /// Takes a record that has not started and marks it started; `None`, and the slot left as
    /// it is, for one that started or was dropped.
    fn start(&mut self) -> Option<Starting<F>> {
        match std::mem::replace(self, Slot::Started) {
            Slot::Waiting(raw) => Some(Starting::Raw(raw)),
            Slot::Prepared(future) => Some(Starting::Prepared(future)),
            other @ (Slot::Started | Slot::Dropped) => {
                *self = other;
                None
            }
        }
    }
}

/// How many records a lane runs in a row when each ends on its first poll (a handler that
/// does not wait), before the records that ended elsewhere are settled.
const INLINE_RECORDS: usize = 16;

/// Which records to prepare ahead: those that start next. They are the next record of a lane
/// whose record just started (a FIFO group's successor), then the first record of each lane
/// not started yet (every record of a standard queue is a lane of its own).
#[derive(Default)]
struct Ahead {
    /// Lanes whose next record may be prepared.
    lanes: std::collections::VecDeque<usize>,
    /// The lanes from here on have not started (unless their first record was prepared).
    fresh: usize,
    /// Records prepared and not started.
    prepared: usize,
}

impl Ahead {
    fn has_candidates(&self, next_lane: usize, lanes: usize) -> bool {
        !self.lanes.is_empty() || self.fresh.max(next_lane) < lanes
    }

    /// The next record to prepare, if any waits; each lane is looked at once per listing.
    fn next<F>(
        &mut self,
        next_lane: usize,
        progress: &Progress,
        slots: &[Slot<F>],
    ) -> Option<usize> {
        let waits = |index: usize| {
            progress.skipped[index].is_none() && matches!(slots[index], Slot::Waiting(_))
        };
        while let Some(lane) = self.lanes.pop_front() {
            if let Some(index) = progress.lanes.peek_front(lane)
                && waits(index)
            {
                return Some(index);
            }
        }
        self.fresh = self.fresh.max(next_lane);
        while self.fresh < progress.lanes.len() {
            let lane = self.fresh;
            self.fresh += 1;
            if let Some(index) = progress.lanes.peek_front(lane)
                && waits(index)
            {
                return Some(index);
            }
        }
        None
    }

    /// Drops the prepared records of a lane that will not run (`drained`, positions in
    /// `order`), so that they neither hold memory nor count against `concurrency`.
    fn forget<F>(&mut self, drained: Range<usize>, order: &[usize], slots: &mut [Slot<F>]) {
        for &index in order.get(drained).unwrap_or_default() {
            if let Some(slot) = slots.get_mut(index)
                && matches!(slot, Slot::Prepared(_))
            {
                *slot = Slot::Dropped;
                self.prepared = self.prepared.saturating_sub(1);
            }
        }
    }
}

/// Polls a record's future once, with a waker that does nothing: its output if it is done,
/// otherwise the future, which the caller then hands to the set of running records (whose
/// first poll of it registers the real waker).
fn poll_once<F: Future>(mut future: Pin<Box<F>>) -> Result<F::Output, Pin<Box<F>>> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => Ok(output),
        std::task::Poll::Pending => Err(future),
    }
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
    /// Returns the positions in `lanes.order` of the records so skipped.
    fn settle(
        &mut self,
        lane: usize,
        index: usize,
        outcome: Result<(), Failure>,
        ids: &[Arc<str>],
    ) -> Range<usize> {
        let failed = outcome.is_err();
        self.outcomes[index] = Some(outcome);
        if !(failed && self.stop_lane) {
            return 0..0;
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
        let drained = self.lanes.drain(lane);
        for &later in self.lanes.order.get(drained.clone()).unwrap_or_default() {
            self.skipped[later] = Some(reason.clone());
        }
        drained
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

    /// The next record of `lane`, left in it.
    fn peek_front(&self, lane: usize) -> Option<usize> {
        let range = self.ranges.get(lane)?;
        if range.start >= range.end {
            return None;
        }
        self.order.get(range.start).copied()
    }

    /// Takes every record left in `lane`: their positions in `order`.
    fn drain(&mut self, lane: usize) -> Range<usize> {
        self.ranges
            .get_mut(lane)
            .map_or(0..0, |range| std::mem::replace(range, 0..0))
    }
}

/// One record: validated and handled under its own correlation id, with panics caught.
fn handle_record<H, R, S, M>(
    handler: &BatchHandler<H, R>,
    record: Result<R, Failure>,
    id: Arc<str>,
    record_context: Context,
    state: &'static S,
) -> impl Future<Output = Result<(), Failure>> + Send + 'static
where
    R: Record,
    H: Handler<R, S, M>,
    S: Sync + 'static,
{
    let handler_fn = handler.handler.clone();
    let validate: Option<Validator<R::Payload>> = handler.validate;
    let scope = record_context.clone();
    scope.scope(async move {
        let outcome = async {
            let record = record?;
            // Validation (your `validate` functions) and the handler, with panics caught.
            let handled = CatchUnwind::new(async move {
                if let (Some(validate), Some(payload)) = (validate, record.payload())
                    && let Err(errors) = validate(payload)
                {
                    return Err(Failure::new(
                        codes::INVALID_RECORD,
                        format!(
                            "the record does not validate: {}",
                            crate::validation::describe(&errors)
                        ),
                    ));
                }
                match handler_fn.call(record, record_context, state).await {
                    Ok(_) => Ok(()),
                    Err(failure) => {
                        let diagnostic = error::diagnostic(&failure);
                        Err(Failure::new(
                            &diagnostic.error_type,
                            outcome::HandlerFailed(&diagnostic.error_message).to_string(),
                        ))
                    }
                }
            })
            .await;
            match handled {
                Ok(outcome) => outcome,
                // The panic is logged where it is caught.
                Err(panic) => Err(Failure {
                    error_type: codes::PANIC.to_owned(),
                    reason: panic.to_string(),
                    logged: true,
                }),
            }
        }
        .await;
        // Logged in this record's scope, unless it was where it was caught (a panic).
        if let Err(failure) = &outcome
            && !failure.logged
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
