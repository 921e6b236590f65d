//! What the benchmarks share.

use std::{
    future::Future,
    pin::pin,
    task::{Context as TaskContext, Poll, Waker},
};

/// Polls a future that completes without waiting, as every future the benchmarks run does: no
/// runtime, so nothing but the stack under test is measured.
pub(crate) fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}
