//! What helve's unit tests share: the test kit's sink that keeps what helve writes.

pub(crate) use crate::testing::Captured;
