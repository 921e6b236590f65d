//! S3 object notifications (feature `s3`): [`S3Notification`], the objects of one
//! notification, however it arrived: S3 to Lambda directly, S3 to SQS (the message body is the
//! S3 event), S3 to SNS to SQS (the S3 event in the SNS envelope's `Message`, or the body itself
//! with raw delivery), and S3 to EventBridge (an `aws.s3` event's `detail`). Each
//! [`ObjectCreated`] has its key decoded: S3 sends it form-URL-encoded (`red flower.jpg` as
//! `red+flower.jpg`, a literal `+` as `%2B`).
//!
//! Through SQS, take `SqsMessage<S3Notification>` in a batch handler (feature `batch`): each
//! message is a record with partial batch failures, and the `s3:TestEvent` message S3 sends to
//! a queue when a notification is configured is acknowledged with an INFO line, without
//! calling the handler.
//!
//! [`lines`] streams an object's lines from `GetObject` with bounded memory (gzip decoded, a
//! maximum line length, each line's number and byte offset to resume with a ranged read), and
//! [`Line::decode`] decodes one as JSON Lines, a bad line reported by its number and path
//! without stopping the file.
//!
//! ```no_run
//! use helve::batch::SqsMessage;
//! use helve::s3::S3Notification;
//!
//! /// One message of the queue S3 notifies: each object's lines, a bad one logged and skipped.
//! async fn ingest(message: SqsMessage<S3Notification>, s3: &aws_sdk_s3::Client) -> Result<(), helve::Error> {
//!     for object in message.body().objects() {
//!         let mut lines = helve::s3::lines(s3, object, None).await?;
//!         while let Some(line) = lines.next_line().await {
//!             match line.and_then(|line| line.decode::<serde_json::Value>()) {
//!                 Ok(record) => tracing::debug!(%record, "a record"),
//!                 Err(bad) => tracing::warn!("{bad}"),
//!             }
//!         }
//!     }
//!     Ok(())
//! }
//! ```

#[cfg(feature = "dynamodb")]
mod ingest;
mod key;
mod lines;
mod notification;
#[cfg(test)]
mod tests;

#[cfg(feature = "dynamodb")]
#[cfg_attr(docsrs, doc(cfg(feature = "dynamodb")))]
pub use ingest::{IngestIncomplete, IngestReport, ingest};
pub use key::decode_key;
pub use lines::{DEFAULT_MAX_LINE, GetObjectError, Line, LineError, Lines, ObjectReader, lines};
pub use notification::{ObjectCreated, S3Notification};
