//! Written by the dialect work: canonical JSON and md5 of idempotency keys against
//! `serde_json::to_string`.

fn main() {}
