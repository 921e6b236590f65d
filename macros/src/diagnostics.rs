//! What both macros share to report mistakes: the error accumulator, the duplicate-option
//! check, and what is kept beside an error.

use proc_macro2::{Span, TokenStream};
use quote::quote;

/// Every problem found, reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds one problem.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Adds the problem of `result`, if any; its value otherwise.
    pub(crate) fn check<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    /// `value` when there was no problem, otherwise every problem.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(errors) => Err(errors),
            None => Ok(value),
        }
    }
}

/// Fills `slot` with the value of option `key`, unless it already has one; `within` names
/// the attribute, as `` `#[helve::handler]` ``.
pub(crate) fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    span: Span,
    key: &str,
    within: &str,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            span,
            format!("`{key}` is given twice in {within}; keep one"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// The error, then what stands in for a correct expansion: the user's item unchanged (an
/// attribute), or stand-in impls (a derive). One mistake gives one error, and the item still
/// resolves for rust-analyzer.
pub(crate) fn with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    quote! { #error #item }
}
