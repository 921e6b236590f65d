//! Runs a batch: reads the records, schedules them by source (concurrently, by FIFO message
//! group, or in stream order), stops at the deadline margin, and collects the failures.

mod plan;
mod record;
mod report;
mod schedule;

use std::sync::Arc;

use serde_json::value::RawValue;

use super::{BatchError, BatchHandler, BatchResponse, RawBatch, RecordResponse, records::Record};
use crate::{context::Context, handler::Handler};

use plan::Plan;
use record::{decode, handle_record};
use report::report;
use schedule::{Progress, Slot, concurrently, one_at_a_time};

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
        handle_record(&handler, raw, record, id, record_context, state)
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
