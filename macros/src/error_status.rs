//! `#[derive(helve::ErrorStatus)]`: parse the `#[status(..)]` attributes, validate them against
//! the type's shape, expand to `helve::ErrorStatus` and `helve::FunctionError` impls.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::{
    Attribute, Data, DeriveInput, Fields, Ident, LitBool, LitInt, LitStr, Member, Meta, Token,
    Type, WherePredicate,
    ext::IdentExt,
    parse::{Parse, ParseStream},
    spanned::Spanned,
};

use crate::diagnostics::{self, Errors};

mod kw {
    syn::custom_keyword!(transparent);
    syn::custom_keyword!(code);
    syn::custom_keyword!(expose);
}

/// What to write when `#[status(..)]` has no status, or no `#[status(..)]` parses at all.
const STATUS_FORM: &str = "`#[status(..)]` starts with the HTTP status, as `#[status(404)]` or \
     `#[status(404, code = \"not_found\")]` (any 4xx or 5xx), or is `#[status(transparent)]`";

/// Entry point: on any error, the errors and stand-in impls, so that one mistake gives one
/// error (not also "`ErrorStatus` is not implemented" wherever the type is used).
pub(crate) fn expand(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    match ErrorType::validate(&input) {
        Ok(error_type) => error_type.expand(),
        Err(error) => {
            let error = error.into_compile_error();
            let fallback = fallback(&input);
            quote! { #error #fallback }
        }
    }
}

/// The inside of one `#[status(..)]`, as written.
enum StatusArgs {
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

/// How one variant (or the struct) answers.
enum Mapping {
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
struct Case {
    /// `Self::Variant`, or `Self` for a struct.
    path: TokenStream,
    /// The default `errorType`: `Type.Variant`, or `Type`.
    name: String,
    mapping: Mapping,
}

/// The type being derived, understood.
struct ErrorType<'a> {
    input: &'a DeriveInput,
    /// A struct has one case, the struct itself; an enum has one per variant.
    is_struct: bool,
    cases: Vec<Case>,
}

impl<'a> ErrorType<'a> {
    /// Reads every `#[status(..)]` of the type and checks it, reporting every problem at once.
    fn validate(input: &'a DeriveInput) -> syn::Result<Self> {
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

    /// The `ErrorStatus` and `FunctionError` impls.
    fn expand(&self) -> TokenStream {
        let ident = &self.input.ident;
        let (impl_generics, ty_generics, _) = self.input.generics.split_for_impl();
        let where_clause = where_clause(self.input, &self.cases);
        // Prefixed names: a pattern's name would be a user's constant of the same name.
        let field = Ident::new("__helve_field", Span::mixed_site());
        let code = Ident::new("__helve_code", Span::mixed_site());
        // On the type's name: the error when the type is not a `std::error::Error`.
        let chain = quote_spanned! {ident.span()=> ::helve::error::chain_message(self) };

        let status = self.dispatch(&field, |mapping, inner| match mapping {
            Mapping::Fixed { status, .. } => quote!(::helve::__private::status_code(#status)),
            Mapping::Transparent { ty, .. } => {
                quote_spanned!(ty.span()=> <#ty as ::helve::ErrorStatus>::status(#inner))
            }
        });
        let code_fn = self.dispatch(&field, |mapping, inner| match mapping {
            Mapping::Fixed {
                code: Some(lit), ..
            } => quote!(::core::option::Option::Some(#lit)),
            Mapping::Fixed { code: None, .. } => quote!(::core::option::Option::None),
            Mapping::Transparent { ty, .. } => {
                quote_spanned!(ty.span()=> <#ty as ::helve::ErrorStatus>::code(#inner))
            }
        });
        let expose = self.dispatch(&field, |mapping, inner| match mapping {
            Mapping::Fixed { expose, .. } => quote!(#expose),
            Mapping::Transparent { ty, .. } => {
                quote_spanned!(ty.span()=> <#ty as ::helve::ErrorStatus>::expose(#inner))
            }
        });
        let has_transparent = self
            .cases
            .iter()
            .any(|case| matches!(case.mapping, Mapping::Transparent { .. }));
        let log_message = if has_transparent {
            self.dispatch(&field, |mapping, inner| match mapping {
                Mapping::Fixed { .. } => chain.clone(),
                Mapping::Transparent { ty, .. } => {
                    quote_spanned!(ty.span()=> <#ty as ::helve::ErrorStatus>::log_message(#inner))
                }
            })
        } else {
            chain
        };
        let error_type = self.dispatch_named(&field, |case, inner| {
            let name = &case.name;
            match &case.mapping {
                Mapping::Fixed {
                    code: Some(lit), ..
                } => quote!(::std::borrow::Cow::Borrowed(#lit)),
                Mapping::Fixed { code: None, .. } => quote!(::std::borrow::Cow::Borrowed(#name)),
                Mapping::Transparent { ty, .. } => {
                    let inner_code =
                        quote_spanned!(ty.span()=> <#ty as ::helve::ErrorStatus>::code(#inner));
                    quote! {
                        match #inner_code {
                            ::core::option::Option::Some(#code) => ::std::borrow::Cow::Owned(
                                ::std::borrow::ToOwned::to_owned(#code),
                            ),
                            ::core::option::Option::None => ::std::borrow::Cow::Borrowed(#name),
                        }
                    }
                }
            }
        });

        quote! {
            #[automatically_derived]
            impl #impl_generics ::helve::ErrorStatus for #ident #ty_generics #where_clause {
                fn status(&self) -> ::helve::__private::StatusCode {
                    #status
                }

                fn code(&self) -> ::core::option::Option<&::core::primitive::str> {
                    #code_fn
                }

                fn expose(&self) -> ::core::primitive::bool {
                    #expose
                }

                fn log_message(&self) -> ::std::string::String {
                    #log_message
                }

                fn logged_error_type(
                    &self,
                ) -> ::core::option::Option<::std::borrow::Cow<'static, ::core::primitive::str>> {
                    ::core::option::Option::Some(<Self as ::helve::FunctionError>::error_type(self))
                }
            }

            #[automatically_derived]
            impl #impl_generics ::helve::FunctionError for #ident #ty_generics #where_clause {
                fn error_type(&self) -> ::std::borrow::Cow<'static, ::core::primitive::str> {
                    #error_type
                }
            }
        }
    }

    /// One method's body: `arm` writes a case's expression, given the expression of its only
    /// field for a transparent case.
    fn dispatch(
        &self,
        field: &Ident,
        arm: impl Fn(&Mapping, &TokenStream) -> TokenStream,
    ) -> TokenStream {
        self.dispatch_named(field, |case, inner| arm(&case.mapping, inner))
    }

    /// [`Self::dispatch`], with the whole case at hand.
    fn dispatch_named(
        &self,
        field: &Ident,
        arm: impl Fn(&Case, &TokenStream) -> TokenStream,
    ) -> TokenStream {
        if self.is_struct {
            // A struct has exactly one case when it validated.
            return self
                .cases
                .iter()
                .map(|case| {
                    let inner = match &case.mapping {
                        Mapping::Transparent { member, .. } => quote!(&self.#member),
                        Mapping::Fixed { .. } => TokenStream::new(),
                    };
                    arm(case, &inner)
                })
                .collect();
        }
        if self.cases.is_empty() {
            return quote!(match *self {});
        }
        let arms = self.cases.iter().map(|case| {
            let path = &case.path;
            let inner = field.to_token_stream();
            let pattern = match &case.mapping {
                Mapping::Transparent { member, .. } => quote!(#path { #member: #field }),
                Mapping::Fixed { .. } => quote!(#path { .. }),
            };
            let body = arm(case, &inner);
            quote!(#pattern => #body,)
        });
        quote! {
            match self {
                #(#arms)*
            }
        }
    }
}

/// The type's own where clause, and the bounds the impls need: for a generic type, that it
/// is a `std::error::Error` (which its own impl may make conditional); for a transparent
/// field whose type names a type parameter, that it is an `ErrorStatus`.
fn where_clause(input: &DeriveInput, cases: &[Case]) -> Option<syn::WhereClause> {
    let mut generics = input.generics.clone();
    if generics.params.is_empty() {
        return generics.where_clause;
    }
    let ident = &input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let params: Vec<&Ident> = input
        .generics
        .type_params()
        .map(|param| &param.ident)
        .collect();
    let mut predicates: Vec<WherePredicate> = vec![syn::parse_quote_spanned! {ident.span()=>
        #ident #ty_generics: ::std::error::Error
    }];
    for case in cases {
        if let Mapping::Transparent { ty, .. } = &case.mapping
            && names_any(ty.to_token_stream(), &params)
        {
            predicates.push(syn::parse_quote_spanned! {ty.span()=>
                #ty: ::helve::ErrorStatus
            });
        }
    }
    generics.make_where_clause().predicates.extend(predicates);
    generics.where_clause
}

/// Whether `tokens` name any of `params`.
fn names_any(tokens: TokenStream, params: &[&Ident]) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => params.iter().any(|param| **param == ident),
        TokenTree::Group(group) => names_any(group.stream(), params),
        _ => false,
    })
}

/// Whether `attr` is a `#[status(..)]`.
fn is_status(attr: &Attribute) -> bool {
    attr.path().is_ident("status")
}

/// What a variant or struct says about its status.
enum StatusAttr {
    /// No `#[status(..)]`.
    Missing,
    /// A `#[status(..)]` that does not parse, already reported.
    Invalid,
    /// One `#[status(..)]`.
    Given(StatusArgs),
}

/// The `#[status(..)]` among `attrs`, parsed; `what` names the variant or struct.
fn status_attr(attrs: &[Attribute], what: &str, errors: &mut Errors) -> StatusAttr {
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
fn reject_on_fields(fields: &Fields, errors: &mut Errors) {
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
fn transparent_hint(fields: &Fields) -> &'static str {
    if fields.len() == 1 {
        ", or `#[status(transparent)]` to use its field's"
    } else {
        ""
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

/// Stand-in impls for a type whose attributes are wrong: the type still is an `ErrorStatus`
/// and a `FunctionError`, so the only errors are the ones that say what to fix.
fn fallback(input: &DeriveInput) -> TokenStream {
    if matches!(input.data, Data::Union(_)) {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let name = ident.unraw().to_string();
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let where_clause = where_clause(input, &[]);
    quote! {
        #[automatically_derived]
        impl #impl_generics ::helve::ErrorStatus for #ident #ty_generics #where_clause {
            fn status(&self) -> ::helve::__private::StatusCode {
                ::helve::__private::status_code(500)
            }
        }

        #[automatically_derived]
        impl #impl_generics ::helve::FunctionError for #ident #ty_generics #where_clause {
            fn error_type(&self) -> ::std::borrow::Cow<'static, ::core::primitive::str> {
                ::std::borrow::Cow::Borrowed(#name)
            }
        }
    }
}
