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
//! ```no_run
//! use helve::batch::SqsMessage;
//! use helve::s3::S3Notification;
//!
//! #[helve::handler(batch)]
//! async fn ingest(message: SqsMessage<S3Notification>) -> Result<(), helve::Error> {
//!     for object in message.body().objects() {
//!         tracing::info!(bucket = %object.bucket, key = %object.key, "object {} arrived", object.key);
//!     }
//!     Ok(())
//! }
//! ```

mod key;
mod notification;
#[cfg(test)]
mod tests;

pub use key::decode_key;
pub use notification::{ObjectCreated, S3Notification};
