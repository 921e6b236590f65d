//! Reporting a batch: `batchItemFailures`, the records that did not run, the metrics.

use std::{sync::Arc, time::Duration};

use super::{
    record::{Failure, log_failure},
    schedule::Progress,
};
use crate::batch::{BatchError, BatchErrorKind, BatchResponse, ItemFailure};
use crate::{context::Context, error::codes};

/// What helve answers Lambda once the records have run: the ids of those that failed or did
/// not run (`batchItemFailures`), or a `BatchFailed` error when none succeeded; and the
/// records processed and failed, as metrics. A record that did not run is logged here, with
/// why (`ran` tells whether it started).
pub(super) async fn report(
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
