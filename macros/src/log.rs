//! `helve::logging::{trace, debug, info, warn, error}`: `tracing`'s event macros, called with
//! the same arguments, except that a field named `error` given with `%` or `?` is recorded as
//! the error it is (type, message, sources) whenever its value is one.
//!
//! The arguments are read one top-level, comma-separated segment at a time. The fields come
//! before the first segment that is a lone string literal (the message), so format arguments
//! are never touched. An `error` field's value is parsed as an expression, so commas inside
//! it (`f::<A, B>(x)`) stay in it; every other segment is passed on token for token.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::quote;
use syn::parse::{ParseStream, Parser as _, discouraged::Speculative as _};

pub(crate) fn expand(level: &str, input: TokenStream) -> TokenStream {
    let name = Ident::new(level, Span::call_site());
    let arguments = match rewrite.parse2(input) {
        Ok(arguments) => arguments,
        Err(error) => return error.to_compile_error(),
    };
    quote! {{
        #[allow(unused_imports)]
        use ::helve::__private::logging::{
            HoldsError as _, HoldsSharedError as _, IsError as _, RefToError as _,
            RefToErrorObject as _, Text as _,
        };
        ::helve::__private::tracing::#name!(#arguments)
    }}
}

/// The arguments, with each `error` field before the message rewritten.
fn rewrite(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    let mut out = TokenStream::new();
    let mut in_fields = true;
    while !input.is_empty() {
        if in_fields && let Some(field) = error_field(input)? {
            out.extend(field);
        } else {
            let segment = segment(input)?;
            in_fields = in_fields && !is_message(&segment);
            out.extend(segment);
        }
        if !input.is_empty() {
            let comma: TokenTree = input.parse()?;
            out.extend([comma]);
        }
    }
    Ok(out)
}

/// The tokens up to the next top-level comma, which is left in `input`.
fn segment(input: ParseStream<'_>) -> syn::Result<Vec<TokenTree>> {
    let mut tokens = Vec::new();
    while !input.is_empty() && !input.peek(syn::Token![,]) {
        tokens.push(input.parse()?);
    }
    Ok(tokens)
}

/// A lone string literal: the message, after which come its format arguments.
fn is_message(tokens: &[TokenTree]) -> bool {
    match tokens {
        [TokenTree::Literal(literal)] => {
            let text = literal.to_string();
            text.starts_with('"') || text.starts_with('r')
        }
        _ => false,
    }
}

/// `error = %value`, `error = ?value`, `%error` or `?error`, taken from `input`, as a field
/// whose value is the error when it is one; `None`, and nothing taken, for any other segment.
fn error_field(input: ParseStream<'_>) -> syn::Result<Option<TokenStream>> {
    let ahead = input.fork();
    let (key, sigil, value) = if ahead.peek(syn::Ident) && ahead.peek2(syn::Token![=]) {
        let key: Ident = ahead.parse()?;
        let _: syn::Token![=] = ahead.parse()?;
        if key != "error" || !(ahead.peek(syn::Token![%]) || ahead.peek(syn::Token![?])) {
            return Ok(None);
        }
        let sigil: TokenTree = ahead.parse()?;
        // What is not an expression is left for `tracing` to report.
        let Ok(value) = ahead.parse::<syn::Expr>() else {
            return Ok(None);
        };
        (key, sigil, quote!(#value))
    } else if ahead.peek(syn::Token![%]) || ahead.peek(syn::Token![?]) {
        let sigil: TokenTree = ahead.parse()?;
        if !ahead.peek(syn::Ident) {
            return Ok(None);
        }
        let key: Ident = ahead.parse()?;
        if key != "error" || !(ahead.is_empty() || ahead.peek(syn::Token![,])) {
            return Ok(None);
        }
        (key.clone(), sigil, quote!(#key))
    } else {
        return Ok(None);
    };
    if !(ahead.is_empty() || ahead.peek(syn::Token![,])) {
        return Ok(None);
    }
    input.advance_to(&ahead);
    let method = match &sigil {
        TokenTree::Punct(punct) if punct.as_char() == '%' => "__helve_display",
        _ => "__helve_debug",
    };
    let method = Ident::new(method, Span::call_site());
    Ok(Some(quote! {
        #key = (&&&&&::helve::__private::logging::ErrorField(&(#value))).#method()
    }))
}
