//! CloudWatch metrics in Embedded Metric Format (EMF).
//!
//! [`emf`] writes what an invocation recorded as the EMF documents CloudWatch turns into
//! metrics, laid out as Powertools for AWS Lambda writes them and within every limit of the EMF
//! specification (documents are split rather than rejected). The `metrics` facade recorder
//! that collects each invocation's `counter!`, `gauge!` and `histogram!` calls and writes them
//! through it, and the ColdStart metric, build on this module.

pub mod emf;
