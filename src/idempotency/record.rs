//! What a store keeps per idempotency key: Powertools' record.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where a request stands, as Powertools writes it in `status`. An expired record is one whose
/// `expiration` has passed; that is computed on read, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `INPROGRESS`: a first execution has started and not finished.
    InProgress,
    /// `COMPLETED`: the first execution finished; `data` holds its response.
    Completed,
}

impl Status {
    /// The value of the `status` attribute: `INPROGRESS` or `COMPLETED`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::InProgress => "INPROGRESS",
            Status::Completed => "COMPLETED",
        }
    }

    /// The status written as `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "INPROGRESS" => Some(Status::InProgress),
            "COMPLETED" => Some(Status::Completed),
            _ => None,
        }
    }
}

/// A moment, as the records count it: epoch seconds for `expiration`, epoch milliseconds for
/// `in_progress_expiration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Now {
    millis: u64,
}

impl Now {
    /// The moment `time` (the epoch itself for a time before it).
    pub fn at(time: SystemTime) -> Self {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self {
            millis: u64::try_from(since.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Epoch seconds, rounded down: what `expiration` is compared with.
    pub fn seconds(&self) -> u64 {
        self.millis / 1000
    }

    /// Epoch milliseconds: what `in_progress_expiration` is compared with.
    pub fn millis(&self) -> u64 {
        self.millis
    }

    /// Epoch seconds `after` this moment.
    pub(crate) fn seconds_after(&self, after: Duration) -> u64 {
        self.seconds().saturating_add(after.as_secs())
    }
}

/// One idempotency record, in Powertools' layout: `id`, `expiration` (epoch seconds),
/// `status`, `in_progress_expiration` (epoch milliseconds), `data` (the response as JSON
/// text) and `validation` (the digest of the validated part of the event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `id`: `"{key_prefix}#{digest}"`.
    pub key: String,
    /// `status`.
    pub status: Status,
    /// `expiration`: epoch seconds after which the record no longer counts.
    pub expiration: u64,
    /// `in_progress_expiration`: epoch milliseconds after which an in-progress record no
    /// longer holds back a retry (the deadline of the invocation that wrote it).
    pub in_progress_expiration: Option<u64>,
    /// `data`: the response of the completed execution, as JSON text.
    pub data: Option<String>,
    /// `validation`: the digest of the validated part of the event, when validation is on.
    pub validation: Option<String>,
}

impl Record {
    /// Whether a new execution may take this record's place at `now`: it has expired, or it
    /// is in progress past its `in_progress_expiration`. This is the condition of the
    /// acquiring write, read the same way by every store.
    pub fn is_replaceable(&self, now: Now) -> bool {
        self.expiration < now.seconds()
            || (self.status == Status::InProgress
                && self
                    .in_progress_expiration
                    .is_some_and(|expiry| expiry < now.millis()))
    }

    /// The size DynamoDB counts for this item: the UTF-8 length of every attribute name and
    /// value (numbers counted as their digits, a close upper bound of DynamoDB's own count).
    pub fn item_size(&self) -> usize {
        fn digits(n: u64) -> usize {
            n.checked_ilog10().map_or(1, |log| log as usize + 1)
        }
        let mut size = "id".len() + self.key.len();
        size += "status".len() + self.status.as_str().len();
        size += "expiration".len() + digits(self.expiration);
        if let Some(expiry) = self.in_progress_expiration {
            size += "in_progress_expiration".len() + digits(expiry);
        }
        if let Some(data) = &self.data {
            size += "data".len() + data.len();
        }
        if let Some(validation) = &self.validation {
            size += "validation".len() + validation.len();
        }
        size
    }
}
