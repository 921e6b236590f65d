//! `helve::logging::{trace, debug, info, warn, error}`: `tracing`'s event macros, called with
//! the same arguments, except that a field named `error` given with `%` or `?` is recorded as
//! the error it is (type, message, sources) whenever its value is one.
//!
//! The arguments are split at their top-level commas; the fields come before the first segment
//! that is a lone string literal (the message), so format arguments are never touched.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::quote;

pub(crate) fn expand(level: &str, input: TokenStream) -> TokenStream {
    let name = Ident::new(level, Span::call_site());
    let mut arguments = TokenStream::new();
    let mut segment: Vec<TokenTree> = Vec::new();
    let mut in_fields = true;
    for token in input {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == ',' => {
                in_fields = flush(&mut segment, in_fields, &mut arguments);
                arguments.extend([token]);
            }
            _ => segment.push(token),
        }
    }
    flush(&mut segment, in_fields, &mut arguments);
    quote! {{
        #[allow(unused_imports)]
        use ::helve::__private::logging::{
            HoldsError as _, HoldsSharedError as _, IsError as _, RefToError as _, Text as _,
        };
        ::helve::__private::tracing::#name!(#arguments)
    }}
}

/// Writes one segment, rewritten if it is an `error` field; says whether fields may follow.
fn flush(segment: &mut Vec<TokenTree>, in_fields: bool, out: &mut TokenStream) -> bool {
    let tokens = std::mem::take(segment);
    if !in_fields || is_message(&tokens) {
        out.extend(tokens);
        return false;
    }
    match error_field(&tokens) {
        Some(rewritten) => out.extend(rewritten),
        None => out.extend(tokens),
    }
    true
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

/// `error = %value`, `error = ?value`, `%error` or `?error`, as a field whose value is the
/// error when it is one.
fn error_field(tokens: &[TokenTree]) -> Option<TokenStream> {
    let (sigil, value): (char, TokenStream) = match tokens {
        [
            TokenTree::Ident(key),
            TokenTree::Punct(equals),
            TokenTree::Punct(sigil),
            rest @ ..,
        ] if key == "error"
            && equals.as_char() == '='
            && matches!(sigil.as_char(), '%' | '?')
            && !rest.is_empty() =>
        {
            (sigil.as_char(), rest.iter().cloned().collect())
        }
        [TokenTree::Punct(sigil), TokenTree::Ident(key)]
            if key == "error" && matches!(sigil.as_char(), '%' | '?') =>
        {
            (sigil.as_char(), quote!(#key))
        }
        _ => return None,
    };
    let method = Ident::new(
        if sigil == '%' {
            "__helve_display"
        } else {
            "__helve_debug"
        },
        Span::call_site(),
    );
    let value = Group::new(Delimiter::Parenthesis, value);
    Some(quote! {
        error = (&&&&::helve::__private::logging::ErrorField(&#value)).#method()
    })
}
