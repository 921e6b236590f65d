//! The impls written for a type that validated, and the stand-ins written beside an error.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::{Data, DeriveInput, Ident, WherePredicate, ext::IdentExt, spanned::Spanned};

use super::validate::{Case, ErrorType, Mapping};

impl ErrorType<'_> {
    /// The `ErrorStatus` and `FunctionError` impls.
    pub(super) fn expand(&self) -> TokenStream {
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

        let axum = self.axum_response();
        let error_check = is_an_error(self.input);
        quote! {
            #error_check

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

            #axum
        }
    }

    /// With helve's feature `axum`, the error as an axum response, as `#[helve::handler]`
    /// answers it: `Result<R, E>` is then a route's answer. Not for a type with lifetimes,
    /// which could not be answered after the route returns.
    fn axum_response(&self) -> TokenStream {
        let generics = &self.input.generics;
        if generics.lifetimes().next().is_some() {
            return TokenStream::new();
        }
        let ident = &self.input.ident;
        let (impl_generics, ty_generics, _) = generics.split_for_impl();
        quote! {
            ::helve::__with_axum! {
                #[automatically_derived]
                impl #impl_generics ::helve::__private::axum::IntoResponse for #ident #ty_generics
                where
                    Self: ::helve::ErrorStatus + 'static,
                {
                    fn into_response(self) -> ::helve::__private::axum::Response {
                        ::helve::__private::axum::error_response(self)
                    }
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
    let ident = &input.ident;
    if generics.params.is_empty() {
        // A bound rustc checks where the impls are used, not here: the one check that the
        // type is a `std::error::Error` is `is_an_error`'s, which reports it once.
        generics
            .make_where_clause()
            .predicates
            .push(syn::parse_quote_spanned! {ident.span()=>
                for<'any> #ident: ::std::error::Error
            });
        return generics.where_clause;
    }
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

/// For a type without generics, the check that it is a `std::error::Error`, at its name: the
/// error when it is not, reported once (the impls' bound is checked where they are used). A
/// generic type's impls require it in their where clause.
fn is_an_error(input: &DeriveInput) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    quote_spanned! {ident.span()=>
        const _: () = {
            #[allow(dead_code)]
            fn is_an_error(error: &#ident) -> &impl ::std::error::Error {
                error
            }
        };
    }
}

/// Whether `tokens` name any of `params`.
fn names_any(tokens: TokenStream, params: &[&Ident]) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => params.iter().any(|param| **param == ident),
        TokenTree::Group(group) => names_any(group.stream(), params),
        _ => false,
    })
}

/// Stand-in impls for a type whose attributes are wrong: the type still is an `ErrorStatus`
/// and a `FunctionError`, so the only errors are the ones that say what to fix.
pub(super) fn fallback(input: &DeriveInput) -> TokenStream {
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
