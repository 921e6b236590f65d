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

/// The Lambda context of a benchmark's invocation: a request id, a deadline far away, an ARN.
#[allow(dead_code)]
pub(crate) fn lambda_context() -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
    context.deadline = 4_102_444_800_000;
    context.invoked_function_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned();
    context
}
