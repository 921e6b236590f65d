//! What `helve::logging::error!` and its siblings make of `error = %e` and `error = ?e`: the
//! error itself when the value is one, so the line carries its type, message and sources;
//! the text `tracing` would have written otherwise.
//!
//! The choice is made at compile time by method resolution: the macro calls a method on
//! `&&&&&ErrorField(&value)`, and the first of these traits whose impl applies wins, from the
//! most referenced `Self` to the least:
//!
//! 1. a reference to an error object or to a reference (`&dyn Error`, as `source()` gives
//!    it; `&&E`);
//! 2. a reference to an error (`&E`): `if let Err(e) = &result`;
//! 3. an error (`E`);
//! 4. a shared boxed error, or `anyhow::Error` (`AsRef<dyn Error + Send + Sync>`);
//! 5. a boxed error (`AsRef<dyn Error>`);
//! 6. anything else: its `Display` (`%`) or `Debug` (`?`) text, as `tracing` writes it.
//!
//! Method resolution does not look at lifetimes, and `tracing` takes an error only as
//! `dyn Error + 'static`: an error type that borrows (or a generic `E: Error` without
//! `'static`) is picked by its shape and then refused by the borrow checker, with a message
//! asking for `'static`.

use std::{
    error::Error,
    fmt::{self, Debug, Display},
};

use tracing::field::{DebugValue, DisplayValue};

/// A tier for values recorded as an error: its impls say how to reach the error, and both
/// sigils record it.
macro_rules! error_tier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub trait $name<'a>: Sized {
            /// The error the value is, or holds.
            fn __helve_error(self) -> &'a (dyn Error + 'static);

            /// The error, for `error = %e`.
            fn __helve_display(self) -> &'a (dyn Error + 'static) {
                <Self as $name<'a>>::__helve_error(self)
            }

            /// The error, for `error = ?e`.
            fn __helve_debug(self) -> &'a (dyn Error + 'static) {
                <Self as $name<'a>>::__helve_error(self)
            }
        }
    };
}

/// The value of an `error` field, borrowed for the line.
pub struct ErrorField<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> Clone for ErrorField<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for ErrorField<'_, T> {}

impl<T: ?Sized> Debug for ErrorField<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorField")
    }
}

error_tier! {
    /// A reference to an error object, or to a reference to an error: recorded as the error.
    RefToErrorObject
}

impl<'a> RefToErrorObject<'a> for &&&&&ErrorField<'_, &'a (dyn Error + 'static)> {
    fn __helve_error(self) -> &'a (dyn Error + 'static) {
        *self.0
    }
}

impl<'a> RefToErrorObject<'a> for &&&&&ErrorField<'_, &'a (dyn Error + Send + Sync + 'static)> {
    fn __helve_error(self) -> &'a (dyn Error + 'static) {
        *self.0
    }
}

impl<'a, E: Error + 'static> RefToErrorObject<'a> for &&&&&ErrorField<'_, &'_ &'a E> {
    fn __helve_error(self) -> &'a (dyn Error + 'static) {
        **self.0
    }
}

error_tier! {
    /// A reference to an error: recorded as the error it points to.
    RefToError
}

impl<'a, E: Error + 'static> RefToError<'a> for &&&&ErrorField<'_, &'a E> {
    fn __helve_error(self) -> &'a (dyn Error + 'static) {
        *self.0
    }
}

error_tier! {
    /// An error: recorded as itself.
    IsError
}

impl<'a, E: Error + 'static> IsError<'a> for &&&ErrorField<'a, E> {
    fn __helve_error(self) -> &'a (dyn Error + 'static) {
        self.0
    }
}

error_tier! {
    /// A value holding a shareable error (`Box<dyn Error + Send + Sync>`, `anyhow::Error`):
    /// recorded as that error.
    HoldsSharedError
}

impl<'a, T> HoldsSharedError<'a> for &&ErrorField<'a, T>
where
    T: AsRef<dyn Error + Send + Sync + 'static> + ?Sized,
{
    fn __helve_error(self) -> &'a (dyn Error + 'static) {
        AsRef::<dyn Error + Send + Sync + 'static>::as_ref(self.0)
    }
}

error_tier! {
    /// A value holding an error (`Box<dyn Error>`): recorded as that error.
    HoldsError
}

impl<'a, T> HoldsError<'a> for &ErrorField<'a, T>
where
    T: AsRef<dyn Error + 'static> + ?Sized,
{
    fn __helve_error(self) -> &'a (dyn Error + 'static) {
        AsRef::<dyn Error + 'static>::as_ref(self.0)
    }
}

/// Anything else: its text, as `tracing`'s `%` and `?` write it.
pub trait Text<'a, T: ?Sized> {
    /// The `Display` text, for `error = %value`.
    fn __helve_display(self) -> DisplayValue<&'a T>
    where
        T: Display;
    /// The `Debug` text, for `error = ?value`.
    fn __helve_debug(self) -> DebugValue<&'a T>
    where
        T: Debug;
}

impl<'a, T: ?Sized> Text<'a, T> for ErrorField<'a, T> {
    fn __helve_display(self) -> DisplayValue<&'a T>
    where
        T: Display,
    {
        tracing::field::display(self.0)
    }

    fn __helve_debug(self) -> DebugValue<&'a T>
    where
        T: Debug,
    {
        tracing::field::debug(self.0)
    }
}
