//! The `#[status(..)]` attributes of a variant or struct, parsed strictly: the status, then
//! `code` and `expose` (each once), or `transparent` alone.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{
    Attribute, Fields, LitBool, LitInt, LitStr, Meta, Token,
    parse::{Parse, ParseStream},
};

use crate::diagnostics::{self, Errors};

pub(super) mod kw {
    syn::custom_keyword!(transparent);
    syn::custom_keyword!(code);
    syn::custom_keyword!(expose);
}

/// What to write when `#[status(..)]` has no status, or no `#[status(..)]` parses at all.
const STATUS_FORM: &str = "`#[status(..)]` starts with the HTTP status, as `#[status(404)]` or \
     `#[status(404, code = \"not_found\")]` (any 4xx or 5xx), or is `#[status(transparent)]`";

/// The inside of one `#[status(..)]`, as written.
pub(super) enum StatusArgs {
    /// `#[status(404, code = "not_found", expose = false)]`.
    Status {
        status: LitInt,
        code: Option<LitStr>,
        /// The `expose` or `expose = ..` tokens, and their value.
        expose: Option<(TokenStream, bool)>,
    },
    /// `#[status(transparent)]`.
    Transparent(kw::transparent),
}

impl Parse for StatusArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(kw::transparent) {
            let keyword: kw::transparent = input.parse()?;
            if !input.is_empty() {
                let rest: TokenStream = input.parse()?;
                return Err(syn::Error::new_spanned(
                    rest,
                    "`#[status(transparent)]` takes no other option: the field's own `ErrorStatus` \
                     gives the status, `code` and `expose`",
                ));
            }
            return Ok(Self::Transparent(keyword));
        }
        if !input.peek(LitInt) {
            return Err(input.error(STATUS_FORM));
        }
        let status: LitInt = input.parse()?;
        let mut code = None;
        let mut expose = None;
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::code) {
                let key: kw::code = input.parse()?;
                input.parse::<Token![=]>()?;
                let value: LitStr = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`code` takes a string literal, as `code = \"order_not_found\"`",
                    )
                })?;
                if value.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        value.span(),
                        "`code` must not be empty; leave it out for no code",
                    ));
                }
                set_once(&mut code, value, key.span, "code")?;
            } else if lookahead.peek(kw::expose) {
                let key: kw::expose = input.parse()?;
                let (tokens, value) = if input.peek(Token![=]) {
                    let eq: Token![=] = input.parse()?;
                    let value: LitBool = input.parse().map_err(|error| {
                        syn::Error::new(
                            error.span(),
                            "`expose` takes `true` or `false` (`expose` alone means `true`)",
                        )
                    })?;
                    (quote!(#key #eq #value), value.value)
                } else {
                    (key.to_token_stream(), true)
                };
                set_once(&mut expose, (tokens, value), key.span, "expose")?;
            } else {
                return Err(lookahead.error());
            }
        }
        Ok(Self::Status {
            status,
            code,
            expose,
        })
    }
}

/// [`diagnostics::set_once`] for an option of `#[status(..)]`.
fn set_once<T>(slot: &mut Option<T>, value: T, span: Span, key: &str) -> syn::Result<()> {
    diagnostics::set_once(slot, value, span, key, "`#[status(..)]`")
}

/// Whether `attr` is a `#[status(..)]`.
pub(super) fn is_status(attr: &Attribute) -> bool {
    attr.path().is_ident("status")
}

/// What a variant or struct says about its status.
pub(super) enum StatusAttr {
    /// No `#[status(..)]`.
    Missing,
    /// A `#[status(..)]` that does not parse, already reported.
    Invalid,
    /// One `#[status(..)]`.
    Given(StatusArgs),
}

/// The `#[status(..)]` among `attrs`, parsed; `what` names the variant or struct.
pub(super) fn status_attr(attrs: &[Attribute], what: &str, errors: &mut Errors) -> StatusAttr {
    let mut found = StatusAttr::Missing;
    for attr in attrs.iter().filter(|attr| is_status(attr)) {
        if !matches!(found, StatusAttr::Missing) {
            errors.push(syn::Error::new_spanned(
                attr,
                format!("`#[status(..)]` is given twice on {what}; keep one"),
            ));
            continue;
        }
        let parsed = match &attr.meta {
            Meta::List(list) if !list.tokens.is_empty() => list.parse_args::<StatusArgs>(),
            _ => Err(syn::Error::new_spanned(attr, STATUS_FORM)),
        };
        found = match parsed {
            Ok(args) => StatusAttr::Given(args),
            Err(error) => {
                errors.push(error);
                StatusAttr::Invalid
            }
        };
    }
    found
}

/// `#[status(..)]` is read on variants and structs only.
pub(super) fn reject_on_fields(fields: &Fields, errors: &mut Errors) {
    for attr in fields.iter().flat_map(|field| &field.attrs) {
        if is_status(attr) {
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[status(..)]` goes on the variant or the struct, not on a field",
            ));
        }
    }
}

/// The end of the "no HTTP status" message, for a variant or struct that could be transparent.
pub(super) fn transparent_hint(fields: &Fields) -> &'static str {
    if fields.len() == 1 {
        ", or `#[status(transparent)]` to use its field's"
    } else {
        ""
    }
}
