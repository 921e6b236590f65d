//! The SQS function of the soak test (`tests/soak.rs`): up to 64 records at once, each
//! `{"n": 7, "fate": "ok" | "fail" | "panic", "pause_us": 500}`. A record whose fate is `fail`
//! returns an error, one whose fate is `panic` panics, after waiting `pause_us` microseconds
//! (none when absent), so that records overlap.
//!
//! Each record sets the gauge `RecordsInFlightMax`: the most records this process has seen
//! running at once, so that a test can tell that the batch ran 64 at a time.

use std::{
    borrow::Cow,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use helve::batch::SqsMessage;
use helve::prelude::*;

/// A message body.
#[derive(Debug, Deserialize)]
struct Task {
    n: u64,
    fate: Fate,
    #[serde(default)]
    pause_us: u64,
}

/// What becomes of a record.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Fate {
    Ok,
    Fail,
    Panic,
}

/// A record that failed on purpose.
#[derive(Debug, thiserror::Error)]
#[error("task {0} fails (on purpose)")]
struct Refused(u64);

impl FunctionError for Refused {
    fn error_type(&self) -> Cow<'static, str> {
        "soak.Refused".into()
    }
}

/// How many records are running now, and the most that ever were.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static MOST_RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts a record as running until it is dropped: when it ends, fails or panics.
struct Running;

impl Running {
    fn start() -> (Self, usize) {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        let most = MOST_RUNNING.fetch_max(now, Ordering::SeqCst).max(now);
        (Self, most)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

#[helve::handler(service = "soak-sqs", namespace = "Soak", batch(concurrency = 64))]
async fn process(message: SqsMessage<Task>) -> Result<(), Refused> {
    let task = message.body();
    let (_running, most) = Running::start();
    // Exact: far below 2^53.
    metrics::gauge!("RecordsInFlightMax").set(most as f64);
    if task.pause_us > 0 {
        tokio::time::sleep(Duration::from_micros(task.pause_us)).await;
    }
    match task.fate {
        Fate::Ok => Ok(()),
        Fate::Fail => Err(Refused(task.n)),
        Fate::Panic => panic!("task {} panics (on purpose)", task.n),
    }
}
