//! Locking the invocation's state.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, also when a panic poisoned it: every value kept in an invocation's state is
/// valid at any point.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
