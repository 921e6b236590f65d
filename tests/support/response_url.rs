//! The CloudFormation `ResponseURL` recorder is the test kit's: `helve::testing::ResponseUrl`.

pub(crate) use helve::testing::{Received, ResponseUrl};
