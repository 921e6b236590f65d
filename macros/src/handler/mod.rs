//! `#[helve::handler]`: parse the options ([`args`]), check that helve has the features they
//! and the parameters need ([`features`]), read the function ([`signature`]), decide its kind
//! ([`kind`]), write `main` beside it ([`expand`]).

mod args;
mod expand;
mod features;
mod kind;
mod signature;

use proc_macro2::TokenStream;
use quote::quote;
use syn::{FnArg, ItemFn};

use crate::diagnostics::{Errors, with_item};
use args::HandlerArgs;
use kind::Kind;
use signature::Signature;

/// Entry point: on any error, the errors and the user's function unchanged, so that one
/// mistake gives one error and the function still resolves for rust-analyzer.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "`#[helve::handler]` goes on an `async fn`; call other items from one",
            );
            return with_item(error, item);
        }
    };
    let args = match syn::parse2::<HandlerArgs>(args) {
        Ok(args) => args,
        Err(error) => return rejected(error, &function, item),
    };
    // Without the feature, the function names items helve does not have (`helve::http::Json`),
    // and each would be an error of its own: only the one that says which feature to turn on
    // is written, with a stand-in `main`.
    if let Some(error) = features::missing(&function, &args) {
        let error = error.into_compile_error();
        let main = is_free_function(&function).then(stand_in_main);
        return quote! { #error #main };
    }
    match validate(&function, &args) {
        Ok((sig, kind)) => expand::expand(&function, &args, &sig, &kind),
        Err(error) => rejected(error, &function, item),
    }
}

/// The error, and what stands in for the expansion beside it.
fn rejected(error: syn::Error, function: &ItemFn, item: TokenStream) -> TokenStream {
    // rustc would also reject the user's `async fn main` itself: a stand-in takes its
    // place, so that the name is reported once.
    if function.sig.ident == "main" {
        let error = error.into_compile_error();
        let main = stand_in_main();
        return quote! { #error #main };
    }
    let mut expanded = with_item(error, item);
    expanded.extend(fallback_main(function));
    expanded
}

/// Reads the function and decides its kind; every problem found is reported at once.
fn validate(function: &ItemFn, args: &HandlerArgs) -> syn::Result<(Signature, Kind)> {
    let mut errors = Errors::default();
    let sig = Signature::read(function, args, &mut errors);
    // A parameter that would be the event has its own error already.
    let kind = if sig.event_reported && sig.events.is_empty() {
        None
    } else {
        errors.check(Kind::of(&sig, args))
    };
    match (errors.finish(()), kind) {
        (Ok(()), Some(kind)) => Ok((sig, kind)),
        (Err(error), _) => Err(error),
        // Only when a parameter was reported, and so `errors` was not empty.
        (Ok(()), None) => Err(syn::Error::new(sig.parens, "no event parameter")),
    }
}

/// A stand-in `main` beside a function the attribute rejected, so the crate's only error is
/// the one that says what to fix (not also "`main` function not found").
fn fallback_main(function: &ItemFn) -> Option<TokenStream> {
    if !is_free_function(function) || function.sig.ident == "main" {
        return None;
    }
    Some(stand_in_main())
}

/// Whether the function is not a method, and so a `main` can stand beside it.
fn is_free_function(function: &ItemFn) -> bool {
    !function
        .sig
        .inputs
        .iter()
        .any(|input| matches!(input, FnArg::Receiver(_)))
}

/// A `main` that does nothing, written only beside an error.
fn stand_in_main() -> TokenStream {
    quote! {
        #[allow(dead_code)]
        pub(crate) fn main() -> ::std::process::ExitCode {
            ::std::process::ExitCode::FAILURE
        }
    }
}
