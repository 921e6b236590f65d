//! The user's function, read: what each parameter is and what it returns. Which kind of
//! handler it is, is [`Kind`](super::kind::Kind)'s to decide.

use proc_macro2::Span;
use syn::{FnArg, ItemFn, Pat, ReturnType, Type, spanned::Spanned};

use super::args::HandlerArgs;
use crate::diagnostics::Errors;

/// What each parameter of the user's function is.
pub(super) enum Param {
    /// Any parameter taken by value that is not the context: the event, or an extractor.
    Event(Type),
    /// `&Context`: the type as written, checked to be helve's where it is passed.
    ContextRef(Type),
    /// `Context`, by value.
    ContextOwned(Type),
    /// `&State`: the state's type.
    State(Type),
    /// `State<&S>` (axum's `State`, as a route of a router takes it): the path of the wrapper,
    /// without its arguments, and the state's type `S`.
    WrappedState(syn::Path, Type),
}

/// The user's function, understood.
pub(super) struct Signature {
    pub(super) params: Vec<Param>,
    /// The types of the [`Param::Event`]s, in order.
    pub(super) events: Vec<Type>,
    pub(super) state: Option<Type>,
    /// `(R, E)` of a `Result<R, E>` return type.
    pub(super) fallible: Option<(Type, Type)>,
    /// The return type when it is not a `Result`.
    pub(super) response: Option<Type>,
    /// No event is reported missing: a parameter that would be the event has its own error,
    /// or the function is a method.
    pub(super) event_reported: bool,
    /// The parentheses of the parameter list, for "no event parameter".
    pub(super) parens: Span,
    /// Whether a parameter taken for the context names it `Context` alone, which may be a
    /// type of the user's own: "no event parameter" then says how to name that one.
    pub(super) unqualified_context: bool,
}

impl Signature {
    /// Reads the function; every problem found goes to `errors`.
    pub(super) fn read(function: &ItemFn, args: &HandlerArgs, errors: &mut Errors) -> Self {
        let sig = &function.sig;

        if sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                sig.fn_token.span,
                "`#[helve::handler]` needs an `async fn`; add `async` before `fn`",
            ));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            errors.push(syn::Error::new(
                sig.generics.span(),
                "`#[helve::handler]` doesn't support generic functions; call a generic fn from a concrete one",
            ));
        }
        if let Some(unsafety) = sig.unsafety {
            errors.push(syn::Error::new(
                unsafety.span,
                "`#[helve::handler]` doesn't support `unsafe fn`; call it from a safe `async fn`",
            ));
        }
        if let Some(variadic) = &sig.variadic {
            errors.push(syn::Error::new(
                variadic.span(),
                "`#[helve::handler]` doesn't support variadic functions",
            ));
        }
        if sig.ident == "main" {
            errors.push(syn::Error::new(
                sig.ident.span(),
                "`#[helve::handler]` writes `main` itself; give the handler another name",
            ));
        }

        let mut params = Vec::new();
        let mut events: Vec<Type> = Vec::new();
        let mut context_seen = false;
        let mut unqualified_context = false;
        let mut state: Option<Type> = None;
        let mut event_reported = false;
        for input in &sig.inputs {
            let typed = match input {
                FnArg::Receiver(receiver) => {
                    event_reported = true;
                    errors.push(syn::Error::new(
                        receiver.span(),
                        "`#[helve::handler]` goes on a free function, not a method; call the method from a free `async fn`",
                    ));
                    continue;
                }
                FnArg::Typed(typed) => typed,
            };
            if let Pat::Ident(ident) = &*typed.pat
                && ident.by_ref.is_some()
            {
                errors.push(syn::Error::new(
                    ident.span(),
                    "`#[helve::handler]` parameters are taken by value; remove `ref`",
                ));
            }
            let param = match &*typed.ty {
                Type::Reference(reference) => {
                    if let Some(mutability) = reference.mutability {
                        errors.push(syn::Error::new(
                            mutability.span,
                            "`#[helve::handler]` gives the context and the state as shared references (the state is shared by every invocation); take them as `&` without `mut`, and use interior mutability for state that changes",
                        ));
                        continue;
                    }
                    if is_context(&reference.elem) {
                        Param::ContextRef((*reference.elem).clone())
                    } else {
                        Param::State((*reference.elem).clone())
                    }
                }
                Type::ImplTrait(impl_trait) => {
                    event_reported = true;
                    errors.push(syn::Error::new(
                        impl_trait.span(),
                        "`#[helve::handler]` needs a concrete event type; replace `impl Trait` with the type to deserialize",
                    ));
                    continue;
                }
                ty if is_context(ty) => Param::ContextOwned(ty.clone()),
                ty => match wrapped_state(ty) {
                    Some((path, state)) => Param::WrappedState(path, state),
                    None => Param::Event(ty.clone()),
                },
            };
            match &param {
                Param::Event(ty) => events.push(ty.clone()),
                Param::ContextRef(ty) | Param::ContextOwned(ty) => {
                    unqualified_context |= is_unqualified(ty);
                    if context_seen {
                        errors.push(syn::Error::new(
                            typed.ty.span(),
                            "the context is already a parameter of this handler; remove this one",
                        ));
                        continue;
                    }
                    context_seen = true;
                }
                Param::State(ty) | Param::WrappedState(_, ty) => {
                    if state.is_some() {
                        errors.push(syn::Error::new(
                            typed.ty.span(),
                            "`#[helve::handler]` takes one state reference; put everything the init function builds in one struct",
                        ));
                        continue;
                    }
                    if args.init.is_none() {
                        errors.push(syn::Error::new(
                            typed.ty.span(),
                            "a state parameter needs an init function: add `init = setup` to `#[helve::handler(...)]`, where `async fn setup() -> Result<State, E>`; for the event itself take it by value",
                        ));
                        continue;
                    }
                    state = Some(ty.clone());
                }
            }
            params.push(param);
        }

        let (fallible, response) = match &sig.output {
            ReturnType::Default => (None, None),
            ReturnType::Type(_, ty) => match result_parts(ty) {
                Some(Ok(parts)) => (Some(parts), None),
                Some(Err(error)) => {
                    errors.push(error);
                    (None, None)
                }
                None => (None, Some((**ty).clone())),
            },
        };

        Signature {
            params,
            events,
            state,
            fallible,
            response,
            event_reported,
            parens: sig.paren_token.span.join(),
            unqualified_context,
        }
    }
}

/// `State<&S>` → (`State`'s path, `S`): a wrapper named `State` around a shared reference,
/// as axum's `State(store): State<&'static Store>` (a router's routes take the state so).
fn wrapped_state(ty: &Type) -> Option<(syn::Path, Type)> {
    let path = type_path(ty)?;
    let last = path.segments.last()?;
    if last.ident != "State" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    let mut args = arguments.args.iter();
    let (Some(syn::GenericArgument::Type(Type::Reference(reference))), None) =
        (args.next(), args.next())
    else {
        return None;
    };
    if reference.mutability.is_some() {
        return None;
    }
    let mut wrapper = path.clone();
    if let Some(last) = wrapper.segments.last_mut() {
        last.arguments = syn::PathArguments::None;
    }
    Some((wrapper, (*reference.elem).clone()))
}

/// helve's context, by [`helve_name`]: `Context`, `helve::Context`, `helve::prelude::Context`;
/// not `model::Context`. `Context` alone may still be the user's own: the generated code
/// checks it where the context is passed.
fn is_context(ty: &Type) -> bool {
    helve_name(ty, &["Context"]).is_some()
}

/// The last segment of `ty`'s path when it is one of `names`, helve's own types, and the path
/// may name helve's: the name alone (as imported from `helve` or its prelude), or a path from
/// the `helve` crate (`helve::http::Json<T>`, `::helve::Context`). A path through any other
/// module (`model::Json<T>`, `crate::Context`, `self::Context`) names a type of the user's.
/// A macro cannot resolve imports, so the name alone is taken for helve's.
pub(super) fn helve_name<'a>(ty: &'a Type, names: &[&str]) -> Option<&'a syn::PathSegment> {
    let path = type_path(ty)?;
    let last = path.segments.last()?;
    if !names.iter().any(|name| last.ident == name) {
        return None;
    }
    let from_helve = path.segments.len() > 1
        && path
            .segments
            .first()
            .is_some_and(|first| first.ident == "helve");
    (is_unqualified(ty) || from_helve).then_some(last)
}

/// Whether `ty` is a name alone, as `Context` or `Json<T>`, not a path.
fn is_unqualified(ty: &Type) -> bool {
    type_path(ty).is_some_and(|path| path.leading_colon.is_none() && path.segments.len() == 1)
}

/// The path of a type that is one, through parentheses and invisible groups.
fn type_path(ty: &Type) -> Option<&syn::Path> {
    match ty {
        Type::Path(path) if path.qself.is_none() => Some(&path.path),
        Type::Group(group) => type_path(&group.elem),
        Type::Paren(paren) => type_path(&paren.elem),
        _ => None,
    }
}

/// The last segment of a type's path, through parentheses and invisible groups.
pub(super) fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    type_path(ty)?.segments.last()
}

/// `Result<R, E>` → `(R, E)`; `None` for any other type. A `Result` alias with one argument
/// (`io::Result<T>`, `type Result<T> = ...`) resolves its error type through the alias.
fn result_parts(ty: &Type) -> Option<syn::Result<(Type, Type)>> {
    let segment = last_segment(ty)?;
    if segment.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return Some(Err(syn::Error::new(
            segment.span(),
            "`#[helve::handler]` needs the response type spelled out: `Result<R, E>`",
        )));
    };
    let types: Vec<&Type> = arguments
        .args
        .iter()
        .filter_map(|argument| match argument {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect();
    match types.as_slice() {
        [ok, err] => Some(Ok(((*ok).clone(), (*err).clone()))),
        [ok] => {
            let ok = (*ok).clone();
            let err: Type = syn::parse_quote_spanned! {ty.span()=>
                <#ty as ::helve::__private::ResultParts>::Error
            };
            Some(Ok((ok, err)))
        }
        _ => Some(Err(syn::Error::new(
            arguments.span(),
            "`#[helve::handler]` expects `Result<R, E>` here",
        ))),
    }
}
