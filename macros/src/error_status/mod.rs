//! `#[derive(helve::ErrorStatus)]`: parse the `#[status(..)]` attributes ([`attrs`]), check
//! them against the type's shape ([`validate`]), write the `helve::ErrorStatus` and
//! `helve::FunctionError` impls ([`expand`]).

mod attrs;
mod expand;
mod validate;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::diagnostics::with_item;
use validate::ErrorType;

/// Entry point: on any error, the errors and stand-in impls, so that one mistake gives one
/// error (not also "`ErrorStatus` is not implemented" wherever the type is used).
pub(crate) fn expand(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    match ErrorType::validate(&input) {
        Ok(error_type) => error_type.expand(),
        Err(error) => with_item(error, expand::fallback(&input)),
    }
}
