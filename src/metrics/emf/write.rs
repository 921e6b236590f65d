//! Writing a [`MetricSet`] as EMF documents: the layout, the split into documents, and the
//! buffers each thread keeps between writes.

use std::cell::Cell;

use crate::json_escape;

use super::{
    error::{Dropped, WriteReport},
    limits::{MAX_DOCUMENT_BYTES, MAX_METRICS_PER_DOCUMENT, MAX_NUMBER_LEN, MAX_VALUES_PER_METRIC},
    set::{Metric, MetricSet},
    unit::Resolution,
};

impl MetricSet {
    /// Writes the EMF documents: calls `out` once per document with one whole line ending in
    /// `\n`, at most [`MAX_DOCUMENT_BYTES`] long.
    ///
    /// The metrics are split over as many documents as the [limits](super#limits) require;
    /// each document carries every dimension and the metadata. Metrics are taken in the order
    /// they were first recorded, their first 100 values first: a document ends at 100
    /// metrics, at the size limit, or when the next piece is more values of a metric it
    /// already holds. Nothing is written for a set without metrics.
    ///
    /// The report counts the documents and lists what was left out.
    #[must_use = "the report lists what was left out of the documents"]
    pub fn write(&self, timestamp_ms: u64, out: &mut dyn FnMut(&[u8])) -> WriteReport {
        self.write_within(timestamp_ms, MAX_DOCUMENT_BYTES, out)
    }

    pub(super) fn write_within(
        &self,
        timestamp_ms: u64,
        limit: usize,
        out: &mut dyn FnMut(&[u8]),
    ) -> WriteReport {
        let mut report = WriteReport::default();
        if self.metrics.is_empty() {
            return report;
        }
        let mut buf = Scratch::take();

        // `{"_aws":{...,"Metrics":[` is the same in every document.
        buf.doc.extend_from_slice(br#"{"_aws":{"Timestamp":"#);
        push_u64(&mut buf.doc, timestamp_ms);
        buf.doc
            .extend_from_slice(br#","CloudWatchMetrics":[{"Namespace":"#);
        push_str(&mut buf.doc, self.namespace.as_str());
        buf.doc.extend_from_slice(br#","Dimensions":[["#);
        for (i, (key, _)) in self.dimensions().enumerate() {
            if i > 0 {
                buf.doc.push(b',');
            }
            push_str(&mut buf.doc, key);
        }
        buf.doc.extend_from_slice(br#"]],"Metrics":["#);
        let prefix_len = buf.doc.len();

        // `]}]},` and the dimension members: the same in every document.
        buf.middle.extend_from_slice(b"]}]}");
        for (key, value) in self.dimensions() {
            buf.middle.push(b',');
            push_str(&mut buf.middle, key);
            buf.middle.push(b':');
            push_str(&mut buf.middle, value);
        }

        // The metadata and `}\n`: the same in every document. The metadata get what is left
        // once the largest single metric is sure to fit.
        let largest_metric = if self.metadata.is_empty() {
            0
        } else {
            self.metrics
                .iter()
                .map(|metric| entry_bound(metric.name.of(&self.name_text), metric))
                .max()
                .unwrap_or(0)
        };
        let metadata_budget = limit.saturating_sub(
            prefix_len
                .saturating_add(buf.middle.len())
                .saturating_add(2)
                .saturating_add(largest_metric),
        );
        for (key, value) in &self.metadata {
            if self.key_in_use(key) {
                report
                    .dropped
                    .push(Dropped::MetadataKeyInUse { key: key.clone() });
                continue;
            }
            let mark = buf.tail.len();
            buf.tail.push(b',');
            push_str(&mut buf.tail, key);
            buf.tail.push(b':');
            if serde_json::to_writer(&mut buf.tail, value).is_err() {
                // Cannot happen: writing to a Vec never fails and every `Value` serializes.
                // Leave the entry out rather than write half of it.
                buf.tail.truncate(mark);
                continue;
            }
            if buf.tail.len() > metadata_budget {
                let bytes = buf.tail.len().saturating_sub(mark);
                buf.tail.truncate(mark);
                report.dropped.push(Dropped::MetadataTooLarge {
                    key: key.clone(),
                    bytes,
                });
            }
        }
        buf.tail.extend_from_slice(b"}\n");

        let mut docs = Documents {
            buf,
            prefix_len,
            metrics: 0,
            written: 0,
            limit,
            out,
        };
        let rounds = self
            .metrics
            .iter()
            .map(|metric| metric.values().len().div_ceil(MAX_VALUES_PER_METRIC))
            .max()
            .unwrap_or(0);
        // The document each metric was last put in, so that no document holds a metric twice:
        // only a metric with over 100 values, put in one round after another, could be.
        let mut last_document = if rounds > 1 {
            vec![usize::MAX; self.metrics.len()]
        } else {
            Vec::new()
        };
        for round in 0..rounds {
            let start = round.saturating_mul(MAX_VALUES_PER_METRIC);
            for (index, metric) in self.metrics.iter().enumerate() {
                let values = metric.values();
                let end = start
                    .saturating_add(MAX_VALUES_PER_METRIC)
                    .min(values.len());
                let Some(chunk) = values.get(start..end).filter(|c| !c.is_empty()) else {
                    continue;
                };
                let name = metric.name.of(&self.name_text);
                let last = last_document.get_mut(index);
                if docs.metrics == MAX_METRICS_PER_DOCUMENT
                    || last.as_deref() == Some(&docs.written)
                {
                    docs.flush();
                }
                if !docs.push(name, metric, chunk) {
                    docs.flush();
                    if !docs.push(name, metric, chunk) {
                        // Cannot happen within MAX_DOCUMENT_BYTES: the metadata budget keeps
                        // room for the largest metric. Reported rather than written invalid.
                        report.dropped.push(Dropped::Values {
                            metric: name.to_owned(),
                            count: chunk.len(),
                        });
                        continue;
                    }
                }
                if let Some(last) = last {
                    *last = docs.written;
                }
            }
        }
        docs.flush();
        report.documents = docs.written;
        docs.buf.put_back();
        report
    }
}

/// The document being filled, and what every document shares.
struct Documents<'a> {
    /// The document's parts: see [`Scratch`].
    buf: Scratch,
    /// The length of the fixed prefix of `buf.doc`.
    prefix_len: usize,
    /// Metric definitions in the document being filled.
    metrics: usize,
    /// Documents written so far: also the number of the one being filled.
    written: usize,
    limit: usize,
    out: &'a mut dyn FnMut(&[u8]),
}

impl Documents<'_> {
    fn len(&self) -> usize {
        self.buf
            .doc
            .len()
            .saturating_add(self.buf.middle.len())
            .saturating_add(self.buf.values.len())
            .saturating_add(self.buf.tail.len())
    }

    /// Adds `values` of `metric`, named `name`, if the document stays within the limit.
    fn push(&mut self, name: &str, metric: &Metric, values: &[f64]) -> bool {
        let (doc_mark, values_mark) = (self.buf.doc.len(), self.buf.values.len());
        if self.metrics > 0 {
            self.buf.doc.push(b',');
        }
        self.buf.doc.extend_from_slice(br#"{"Name":"#);
        push_name(&mut self.buf.doc, name, metric.plain);
        self.buf.doc.extend_from_slice(br#","Unit":""#);
        self.buf
            .doc
            .extend_from_slice(metric.unit.as_str().as_bytes());
        self.buf.doc.push(b'"');
        if metric.resolution == Resolution::High {
            self.buf.doc.extend_from_slice(br#","StorageResolution":1"#);
        }
        self.buf.doc.push(b'}');

        self.buf.values.push(b',');
        push_name(&mut self.buf.values, name, metric.plain);
        self.buf.values.push(b':');
        match values {
            [value] => push_f64(&mut self.buf.values, *value),
            _ => {
                self.buf.values.push(b'[');
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        self.buf.values.push(b',');
                    }
                    push_f64(&mut self.buf.values, *value);
                }
                self.buf.values.push(b']');
            }
        }

        if self.len() <= self.limit {
            self.metrics = self.metrics.saturating_add(1);
            true
        } else {
            self.buf.doc.truncate(doc_mark);
            self.buf.values.truncate(values_mark);
            false
        }
    }

    /// Writes the document being filled, if it holds a metric, and starts the next one.
    fn flush(&mut self) {
        if self.metrics == 0 {
            return;
        }
        self.buf.doc.extend_from_slice(&self.buf.middle);
        self.buf.doc.extend_from_slice(&self.buf.values);
        self.buf.doc.extend_from_slice(&self.buf.tail);
        (self.out)(&self.buf.doc);
        self.buf.doc.truncate(self.prefix_len);
        self.buf.values.clear();
        self.metrics = 0;
        self.written = self.written.saturating_add(1);
    }
}

/// The buffers a document is written in, kept by each thread between writes: writing an
/// invocation's metrics allocates no buffer once the thread has written one before.
struct Scratch {
    /// The fixed prefix, then the metric definitions so far.
    doc: Vec<u8>,
    /// `]}]}` and the dimension members.
    middle: Vec<u8>,
    /// The metric members so far.
    values: Vec<u8>,
    /// The metadata members and `}\n`.
    tail: Vec<u8>,
}

thread_local! {
    static SCRATCH: Cell<Option<Scratch>> = const { Cell::new(None) };
}

/// Buffers larger than this (a document with very many values) are not kept.
const MAX_KEPT_BUFFER: usize = 64 * 1024;

impl Scratch {
    /// This thread's buffers, empty; new ones if another write on this thread has them.
    fn take() -> Scratch {
        let kept = SCRATCH.try_with(Cell::take).ok().flatten();
        kept.unwrap_or_else(|| Scratch {
            doc: Vec::with_capacity(4096),
            middle: Vec::with_capacity(256),
            values: Vec::with_capacity(1024),
            tail: Vec::with_capacity(64),
        })
    }

    /// Keeps the buffers, emptied, for this thread's next write.
    fn put_back(mut self) {
        let buffers = [
            &mut self.doc,
            &mut self.middle,
            &mut self.values,
            &mut self.tail,
        ];
        if buffers
            .iter()
            .any(|buffer| buffer.capacity() > MAX_KEPT_BUFFER)
        {
            return;
        }
        for buffer in buffers {
            buffer.clear();
        }
        let _ = SCRATCH.try_with(|kept| kept.set(Some(self)));
    }
}

/// An upper bound of the bytes one metric, named `name`, with up to 100 values adds to a
/// document.
fn entry_bound(name: &str, metric: &Metric) -> usize {
    let name = json_str_len(name);
    let values = metric.values().len().min(MAX_VALUES_PER_METRIC);
    // `,{"Name":<name>,"Unit":"<unit>","StorageResolution":1}` and `,<name>:[<values>]`.
    name.saturating_mul(2)
        .saturating_add(metric.unit.as_str().len())
        .saturating_add(64)
        .saturating_add(values.saturating_mul(MAX_NUMBER_LEN + 1))
}

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it.
pub(super) fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.reserve(s.len().saturating_add(2));
    buf.push(b'"');
    json_escape::escape_into(buf, s);
    buf.push(b'"');
}

/// Appends a metric name as a JSON string: copied whole when it is `plain` (see [`Scan`](super::rules::Scan)).
fn push_name(buf: &mut Vec<u8>, name: &str, plain: bool) {
    if plain {
        buf.reserve(name.len().saturating_add(2));
        buf.push(b'"');
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'"');
    } else {
        push_str(buf, name);
    }
}

/// The length of `s` written by [`push_str`].
pub(super) fn json_str_len(s: &str) -> usize {
    json_escape::escaped_len(s).saturating_add(2)
}

/// Appends a finite `f64` as `serde_json` writes it: `1.0`, `15.5`, `1e+20`.
pub(super) fn push_f64(buf: &mut Vec<u8>, value: f64) {
    // Whole numbers below 1e15 (counts, bytes, milliseconds) are most values: written here,
    // faster and byte for byte as serde_json writes them, digits and `.0`.
    if value.fract() == 0.0 && value.abs() < 1e15 {
        if value.is_sign_negative() {
            buf.push(b'-');
        }
        // A whole number below 1e15 converts exactly.
        push_u64(buf, value.abs() as u64);
        buf.extend_from_slice(b".0");
        return;
    }
    // Cannot fail: writing to a Vec never fails, and serde_json writes every f64 (values
    // reaching here are finite, checked when recorded).
    let _ = serde_json::to_writer(buf, &value);
}

/// Appends `n` in decimal.
fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let start = buf.len();
    loop {
        // `n % 10` is below 10: the cast cannot truncate.
        buf.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if let Some(digits) = buf.get_mut(start..) {
        digits.reverse();
    }
}
