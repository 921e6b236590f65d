//! DynamoDB (feature `dynamodb`): [`BatchWriter`], which writes many items to one table with
//! `BatchWriteItem` and loses none of them: chunks within the API's limits, an item too large
//! refused before it is sent, a duplicate key in a chunk dropped (the last one wins),
//! `UnprocessedItems` and throttling retried with capped, fully jittered backoff until the
//! invocation's deadline margin, and a [`WriteReport`] of what was and was not written.

mod size;
#[cfg(test)]
mod tests;
mod writer;

pub use size::item_size;
pub use writer::{
    BatchWriter, DEFAULT_BASE_DELAY, DEFAULT_DEADLINE_MARGIN, DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_DELAY, MAX_CHUNK_BYTES, MAX_CHUNK_ITEMS, Rejected, WriteReport,
};

/// The largest item DynamoDB stores: 400 KB, counting attribute names and values.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
