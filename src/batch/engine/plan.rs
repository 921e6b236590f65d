//! Reading the plan of a batch: the records' ids, FIFO groups, and the lanes they run in.

use std::{borrow::Cow, collections::HashMap, ops::Range, sync::Arc};

use serde_json::value::RawValue;

use super::record::invalid;
use crate::batch::{
    BatchError,
    records::{Peek, RecordSource},
};

/// What is read from a batch before any record runs: what identifies each record and the
/// lanes they run in.
pub(super) struct Plan {
    /// The records as they came; a record is decoded when it starts, or, with a concurrency
    /// above 1, while the running records wait (see [`concurrently`]).
    pub(super) records: Vec<Box<RawValue>>,
    /// Each record's id, as reported in `batchItemFailures`.
    pub(super) ids: Vec<Arc<str>>,
    pub(super) lanes: Lanes,
    /// Whether the batch comes from an SQS FIFO queue.
    pub(super) fifo: bool,
}

impl Plan {
    /// Reads only what identifies each record: its id, its event source, and (SQS) its queue
    /// and message group. A batch that is not one of `source`, or has a record without an id,
    /// fails as a whole.
    pub(super) fn read(
        source: RecordSource,
        records: Option<Vec<Box<RawValue>>>,
    ) -> Result<Self, BatchError> {
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
                || (source == RecordSource::Sqs
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

/// The records each lane runs in order: one lane per record (SQS standard), per message group
/// (SQS FIFO), or one lane for the whole stream. Every lane is a range of one list of record
/// indices, so a batch of any size costs two allocations here.
pub(super) struct Lanes {
    /// Record indices, lane after lane, each lane in the order its records arrived.
    pub(super) order: Vec<usize>,
    /// The part of `order` each lane still has to run.
    pub(super) ranges: Vec<Range<usize>>,
}

impl Lanes {
    pub(super) fn new(source: RecordSource, fifo: bool, groups: &[Option<Cow<'_, str>>]) -> Self {
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

    pub(super) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The next record of `lane`, taken from it.
    pub(super) fn pop_front(&mut self, lane: usize) -> Option<usize> {
        let range = self.ranges.get_mut(lane)?;
        if range.start >= range.end {
            return None;
        }
        let index = *self.order.get(range.start)?;
        range.start += 1;
        Some(index)
    }

    /// The next record of `lane`, left in it.
    pub(super) fn peek_front(&self, lane: usize) -> Option<usize> {
        let range = self.ranges.get(lane)?;
        if range.start >= range.end {
            return None;
        }
        self.order.get(range.start).copied()
    }

    /// Takes every record left in `lane`: their positions in `order`.
    pub(super) fn drain(&mut self, lane: usize) -> Range<usize> {
        self.ranges
            .get_mut(lane)
            .map_or(0..0, |range| std::mem::replace(range, 0..0))
    }
}
