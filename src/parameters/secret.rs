//! `Secret<T>`: a value that does not print.

use std::{fmt, sync::Arc};

/// A secret value: a Secrets Manager secret, a decrypted SecureString, or anything you wrap.
///
/// Its `Debug` and `Display` print `[redacted]`; it does not implement `serde::Serialize`, so
/// it cannot end up in a response or a logged JSON value by accident; reading it is an
/// explicit [`expose`](Secret::expose). Cloning it is cheap (the value is shared).
///
/// The parameters client also masks the text of every secret it reads in the function's log
/// lines ([`crate::logging::mask_value`]): a secret exposed into a log field still shows
/// `[REDACTED]`.
///
/// ```
/// use helve::parameters::Secret;
///
/// let password = Secret::new(String::from("hunter2"));
/// assert_eq!(format!("{password:?} {password}"), "[redacted] [redacted]");
/// assert_eq!(password.expose(), "hunter2");
/// ```
pub struct Secret<T>(Arc<T>);

impl<T> Secret<T> {
    /// Wraps `value`. Unlike the values the parameters client reads, it is not added to the
    /// log masking: call [`crate::logging::mask_value`] for its text if it may be logged.
    pub fn new(value: T) -> Self {
        Self(Arc::new(value))
    }

    pub(crate) fn from_arc(value: Arc<T>) -> Self {
        Self(value)
    }

    /// The value itself: take care where it goes.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T: PartialEq> PartialEq for Secret<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T: Eq> Eq for Secret<T> {}
