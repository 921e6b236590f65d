//! The type being derived, understood: one case per variant (or the struct), each with the
//! mapping its `#[status(..)]` gives, checked against its fields.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr, Member, Type, ext::IdentExt};

use super::attrs::{
    StatusArgs, StatusAttr, is_status, reject_on_fields, status_attr, transparent_hint,
};
use crate::diagnostics::Errors;

/// How one variant (or the struct) answers.
pub(super) enum Mapping {
    /// Its own status, code and exposure.
    Fixed {
        status: u16,
        code: Option<LitStr>,
        expose: bool,
    },
    /// Its only field's `ErrorStatus`.
    Transparent { member: Member, ty: Box<Type> },
}

/// One variant, or the struct itself.
pub(super) struct Case {
    /// `Self::Variant`, or `Self` for a struct.
    pub(super) path: TokenStream,
    /// The default `errorType`: `Type.Variant`, or `Type`.
    pub(super) name: String,
    pub(super) mapping: Mapping,
}

/// The type being derived, understood.
pub(super) struct ErrorType<'a> {
    pub(super) input: &'a DeriveInput,
    /// A struct has one case, the struct itself; an enum has one per variant.
    pub(super) is_struct: bool,
    pub(super) cases: Vec<Case>,
}

impl<'a> ErrorType<'a> {
    /// Reads every `#[status(..)]` of the type and checks it, reporting every problem at once.
    pub(super) fn validate(input: &'a DeriveInput) -> syn::Result<Self> {
        let type_name = input.ident.unraw().to_string();
        let mut errors = Errors::default();
        let mut cases = Vec::new();
        match &input.data {
            Data::Union(data) => {
                return Err(syn::Error::new(
                    data.union_token.span,
                    "`#[derive(helve::ErrorStatus)]` goes on an enum or a struct, not a union",
                ));
            }
            Data::Struct(data) => {
                reject_on_fields(&data.fields, &mut errors);
                let what = format!("struct `{type_name}`");
                match status_attr(&input.attrs, &what, &mut errors) {
                    StatusAttr::Given(args) => {
                        if let Some(mapping) = mapping(args, &data.fields, &what, &mut errors) {
                            cases.push(Case {
                                path: quote!(Self),
                                name: type_name,
                                mapping,
                            });
                        }
                    }
                    StatusAttr::Invalid => {}
                    StatusAttr::Missing => errors.push(syn::Error::new(
                        input.ident.span(),
                        format!(
                            "{what} has no HTTP status: add `#[status(500)]` (any 4xx or 5xx) \
                             on it{}",
                            transparent_hint(&data.fields),
                        ),
                    )),
                }
            }
            Data::Enum(data) => {
                for attr in input.attrs.iter().filter(|attr| is_status(attr)) {
                    errors.push(syn::Error::new_spanned(
                        attr,
                        "`#[status(..)]` goes on each variant of an enum, not on the enum",
                    ));
                }
                for variant in &data.variants {
                    reject_on_fields(&variant.fields, &mut errors);
                    let variant_name = variant.ident.unraw().to_string();
                    let what = format!("variant `{variant_name}`");
                    match status_attr(&variant.attrs, &what, &mut errors) {
                        StatusAttr::Given(args) => {
                            if let Some(mapping) =
                                mapping(args, &variant.fields, &what, &mut errors)
                            {
                                let ident = &variant.ident;
                                cases.push(Case {
                                    path: quote!(Self::#ident),
                                    name: format!("{type_name}.{variant_name}"),
                                    mapping,
                                });
                            }
                        }
                        StatusAttr::Invalid => {}
                        StatusAttr::Missing => errors.push(syn::Error::new(
                            variant.ident.span(),
                            format!(
                                "{what} has no HTTP status: add `#[status(404)]` (any 4xx or \
                                 5xx){}",
                                transparent_hint(&variant.fields),
                            ),
                        )),
                    }
                }
            }
        }
        errors.finish(Self {
            input,
            is_struct: matches!(input.data, Data::Struct(_)),
            cases,
        })
    }
}

/// Checks one `#[status(..)]` against the fields it describes.
fn mapping(args: StatusArgs, fields: &Fields, what: &str, errors: &mut Errors) -> Option<Mapping> {
    match args {
        StatusArgs::Transparent(keyword) => {
            let mut iter = fields.iter();
            match (iter.next(), iter.next()) {
                (Some(field), None) => Some(Mapping::Transparent {
                    member: match &field.ident {
                        Some(ident) => Member::Named(ident.clone()),
                        None => Member::Unnamed(0.into()),
                    },
                    ty: Box::new(field.ty.clone()),
                }),
                _ => {
                    let count = match fields.len() {
                        0 => "no field".to_owned(),
                        n => format!("{n} fields"),
                    };
                    errors.push(syn::Error::new(
                        keyword.span,
                        format!(
                            "`#[status(transparent)]` uses the `ErrorStatus` of a single field, \
                             and {what} has {count}; give it a status of its own, as \
                             `#[status(500)]`"
                        ),
                    ));
                    None
                }
            }
        }
        StatusArgs::Status {
            status,
            code,
            expose,
        } => {
            let value = status
                .base10_parse::<u16>()
                .ok()
                .filter(|value| (400..=599).contains(value));
            let Some(value) = value else {
                errors.push(syn::Error::new(
                    status.span(),
                    format!(
                        "`#[status(..)]` takes a client (4xx) or server (5xx) error status, not {}",
                        status.base10_digits(),
                    ),
                ));
                return None;
            };
            let server_error = value >= 500;
            match expose {
                Some((tokens, true)) if server_error => {
                    errors.push(syn::Error::new_spanned(
                        tokens,
                        "a server error (5xx) never shows its message to clients; remove `expose`",
                    ));
                    None
                }
                _ => Some(Mapping::Fixed {
                    status: value,
                    code,
                    expose: expose.map_or(!server_error, |(_, expose)| expose),
                }),
            }
        }
    }
}
