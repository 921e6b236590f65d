//! Running the records: one at a time, or concurrently, until the deadline margin.

use std::{future::Future, ops::Range, pin::Pin, sync::Arc};

use serde_json::value::RawValue;
use tokio::time::Instant;

use futures_util::{
    future::Either,
    stream::{FuturesUnordered, StreamExt},
};

use super::{plan::Lanes, record::Failure};

/// Runs the records one at a time, lane after lane, on this task: no scheduling beyond the
/// record's own future. Stops at `stop_at`, dropping the record that runs then.
pub(super) async fn one_at_a_time<F, B>(
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
pub(super) async fn concurrently<F, B>(
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

/// A record of the batch: waiting as it came, prepared to start (decoded, its future built),
/// started, or dropped unstarted after it was prepared (its FIFO group failed).
pub(super) enum Slot<F> {
    Waiting(Box<RawValue>),
    Prepared(Pin<Box<F>>),
    Started,
    Dropped,
}

/// A record taken to start: as it came, or prepared.
pub(super) enum Starting<F> {
    Raw(Box<RawValue>),
    Prepared(Pin<Box<F>>),
}

impl<F> Slot<F> {
    /// Takes a record that has not started and marks it started; `None`, and the slot left as
    /// it is, for one that started or was dropped.
    pub(super) fn start(&mut self) -> Option<Starting<F>> {
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
pub(super) const INLINE_RECORDS: usize = 16;

/// Which records to prepare ahead: those that start next. They are the next record of a lane
/// whose record just started (a FIFO group's successor), then the first record of each lane
/// not started yet (every record of a standard queue is a lane of its own).
#[derive(Default)]
pub(super) struct Ahead {
    /// Lanes whose next record may be prepared.
    pub(super) lanes: std::collections::VecDeque<usize>,
    /// The lanes from here on have not started (unless their first record was prepared).
    pub(super) fresh: usize,
    /// Records prepared and not started.
    pub(super) prepared: usize,
}

impl Ahead {
    pub(super) fn has_candidates(&self, next_lane: usize, lanes: usize) -> bool {
        !self.lanes.is_empty() || self.fresh.max(next_lane) < lanes
    }

    /// The next record to prepare, if any waits; each lane is looked at once per listing.
    pub(super) fn next<F>(
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
    pub(super) fn forget<F>(
        &mut self,
        drained: Range<usize>,
        order: &[usize],
        slots: &mut [Slot<F>],
    ) {
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
pub(super) fn poll_once<F: Future>(mut future: Pin<Box<F>>) -> Result<F::Output, Pin<Box<F>>> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => Ok(output),
        std::task::Poll::Pending => Err(future),
    }
}

/// Where each record stands while the batch runs.
pub(super) struct Progress {
    pub(super) outcomes: Vec<Option<Result<(), Failure>>>,
    /// Why a record that will not run is reported.
    pub(super) skipped: Vec<Option<String>>,
    /// The records each lane still has to run, in order.
    pub(super) lanes: Lanes,
    /// Whether a failure stops the rest of its lane (a FIFO group, a stream).
    pub(super) stop_lane: bool,
    pub(super) fifo: bool,
}

impl Progress {
    /// Records a record's outcome; after a failure that stops its lane, the rest of the lane
    /// is reported without running.
    /// Returns the positions in `lanes.order` of the records so skipped.
    pub(super) fn settle(
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
