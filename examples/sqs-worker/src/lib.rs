//! The jobs of the `sqs-worker` example: the message the API sends ([`JobMessage`]), the
//! record it keeps ([`Job`]), and where records are kept ([`JobStore`]: [`MemoryStore`], and
//! with the feature `dynamodb`, `DynamoDbStore`). The worker itself, the helve handler, is
//! `src/main.rs`.
//!
//! The API's side of the pattern, which this example does not include: accept the job, write
//! its `pending` record, then send the message. Writing first means a worker never gets a
//! message for a job the API could not record.
//!
//! ```
//! use example_sqs_worker::{Job, JobKind, JobMessage, JobStore, MemoryStore, StoreError, now_ms};
//!
//! async fn accept(store: &impl JobStore, job_id: &str) -> Result<String, StoreError> {
//!     let message = JobMessage {
//!         job_id: job_id.to_owned(),
//!         kind: JobKind::Export,
//!         steps: 4,
//!         format: Some("csv".to_owned()),
//!     };
//!     store.create(&Job::pending(&message, now_ms())).await?;
//!     // The body to send to the jobs queue (with `MessageGroupId` for a FIFO queue); the
//!     // API then answers 202 Accepted with a link to `GET /jobs/{jobId}`.
//!     Ok(serde_json::to_string(&message).expect("a message always serialises"))
//! }
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # runtime.block_on(async {
//! let store = MemoryStore::new();
//! let body = accept(&store, "job-7").await.unwrap();
//! assert_eq!(body, r#"{"jobId":"job-7","kind":"export","steps":4,"format":"csv"}"#);
//! # });
//! ```

mod job;
mod store;

pub use job::{Job, JobFailure, JobKind, JobMessage, Lease, Status, now_ms};
#[cfg(feature = "dynamodb")]
pub use store::DynamoDbStore;
pub use store::{BoxError, JobStore, MemoryStore, Start, Store, StoreError};
