//! Idempotency: a handler, or any async function, that runs once per idempotency key and
//! replays the stored response afterwards, with the keys and the record layout of Powertools
//! for AWS Lambda.
//!
//! The key of a request is `"{key_prefix}#{digest}"`, where the digest is the md5 of the
//! canonical JSON of the key's value, in a [`Dialect`]: [`Dialect::Python`] (the default)
//! computes exactly what Powertools for AWS Lambda (Python) computes, so a Python function and
//! a helve function given the same prefix share their records.

mod dialect;

pub use dialect::Dialect;
