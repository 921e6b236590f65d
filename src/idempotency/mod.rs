//! Idempotency (feature `idempotency`): a handler, or any async function, that runs once per
//! idempotency key and replays the stored response afterwards, with the keys and the record
//! layout of Powertools for AWS Lambda.
//!
//! The key of a request is `"{key_prefix}#{digest}"`, where the digest is the md5 of the
//! canonical JSON of the key's value, in a [`Dialect`]: [`Dialect::Python`] (the default)
//! computes exactly what Powertools for AWS Lambda (Python) computes, so a Python function and
//! a helve function given the same prefix share their records.
//!
//! [`once`] runs one async function idempotently, with an [`Idempotency`]: a [`Store`]
//! ([`MemoryStore`], `DynamoDbStore` with the feature `dynamodb`, or your own) and the options. See the [guide's idempotency page](crate::guide::idempotency).

mod config;
mod dialect;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod error;
mod handler;
mod once;
mod record;
mod store;
#[cfg(test)]
mod tests;

/// The response of an idempotent handler: read back from the store for a replay, so it
/// deserializes as well as serializes. Implemented for every `serde::de::DeserializeOwned` type;
/// `#[helve::handler]` requires it of an idempotent handler's response at the user's type.
#[diagnostic::on_unimplemented(
    message = "the response of an idempotent handler must implement `serde::Deserialize`",
    label = "a replay reads this response back from the store",
    note = "derive `serde::Deserialize` on `{Self}` as well as `Serialize`"
)]
pub trait Replayable: serde::de::DeserializeOwned {}

// Reported as not `Replayable`, with what to derive, rather than by serde's bound.
#[diagnostic::do_not_recommend]
impl<T: serde::de::DeserializeOwned> Replayable for T {}

pub use config::{DEFAULT_EXPIRES, DEFAULT_RELEASE_MARGIN, DISABLED_VARIABLE, Idempotency};
pub use dialect::Dialect;
#[cfg(feature = "dynamodb")]
#[cfg_attr(docsrs, doc(cfg(feature = "dynamodb")))]
pub use dynamodb::{DEFAULT_CALL_TIMEOUT, DynamoDbStore};
pub use error::IdempotencyError;
pub use handler::{AtPointer, Idempotent, IdempotentFuture, KeyOf};
pub use once::once;
pub use record::{Now, Record, Status};
pub use store::{Acquired, MemoryStore, Store, StoreError, StoreFuture};

/// The largest item DynamoDB stores: 400 KB, counting attribute names and values.
pub const DYNAMODB_ITEM_LIMIT: usize = 400 * 1024;
