//! `#[helve::handler]`: parse the options, validate the function, expand to `main`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{
    FnArg, ItemFn, LitStr, Pat, Path, ReturnType, Token, Type,
    parse::{Parse, ParseStream},
    spanned::Spanned,
};

mod kw {
    syn::custom_keyword!(init);
    syn::custom_keyword!(service);
    syn::custom_keyword!(log_level);
    syn::custom_keyword!(log_buffer);
    syn::custom_keyword!(correlation_id);
    syn::custom_keyword!(namespace);
    syn::custom_keyword!(custom_resource);
    syn::custom_keyword!(deadline_margin_ms);
    syn::custom_keyword!(batch);
    syn::custom_keyword!(concurrency);
    syn::custom_keyword!(continue_on_failure);
    syn::custom_keyword!(http);
    syn::custom_keyword!(body_limit);
    syn::custom_keyword!(request_metrics);
    syn::custom_keyword!(layer);
}

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
    let outcome = syn::parse2::<HandlerArgs>(args)
        .and_then(|args| Handler::validate(&function, &args).map(|handler| (handler, args)));
    match outcome {
        Ok((handler, args)) => handler.expand(&function, &args),
        Err(error) => {
            let mut expanded = with_item(error, item);
            expanded.extend(fallback_main(&function));
            expanded
        }
    }
}

fn with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    quote! { #error #item }
}

/// A stand-in `main` beside a function the attribute rejected, so the crate's only error is
/// the one that says what to fix (not also "`main` function not found").
fn fallback_main(function: &ItemFn) -> Option<TokenStream> {
    let is_method = function
        .sig
        .inputs
        .iter()
        .any(|input| matches!(input, FnArg::Receiver(_)));
    if is_method || function.sig.ident == "main" {
        return None;
    }
    Some(quote! {
        #[allow(dead_code)]
        pub(crate) fn main() -> ::std::process::ExitCode {
            ::std::process::ExitCode::FAILURE
        }
    })
}

/// `init = path, service = "name", log_level = "debug", log_buffer = 20480`.
#[derive(Default)]
pub(crate) struct HandlerArgs {
    init: Option<Path>,
    service: Option<LitStr>,
    log_level: Option<LitStr>,
    log_buffer: Option<syn::LitInt>,
    correlation_id: Option<LitStr>,
    namespace: Option<LitStr>,
    custom_resource: Option<CustomResourceArgs>,
    batch: Option<BatchArgs>,
    http: Option<HttpArgs>,
}

/// `http`, or `http(body_limit = 65536, deadline_margin_ms = 200, request_metrics = false,
/// layer = CorsLayer::permissive())`.
pub(crate) struct HttpArgs {
    span: Span,
    body_limit: Option<syn::LitInt>,
    deadline_margin_ms: Option<syn::LitInt>,
    request_metrics: Option<syn::LitBool>,
    layers: Vec<syn::Expr>,
}

impl HttpArgs {
    fn parse(key: kw::http, input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = HttpArgs {
            span: key.span,
            body_limit: None,
            deadline_margin_ms: None,
            request_metrics: None,
            layers: Vec::new(),
        };
        parse_option_list(input, |content| {
            let lookahead = content.lookahead1();
            if lookahead.peek(kw::body_limit) {
                let key: kw::body_limit = content.parse()?;
                content.parse::<Token![=]>()?;
                let bytes: syn::LitInt = content.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`body_limit` takes the largest body in bytes, as `body_limit = 65536`",
                    )
                })?;
                match bytes.base10_parse::<usize>() {
                    Ok(0) | Err(_) => {
                        return Err(syn::Error::new(
                            bytes.span(),
                            "`body_limit` must be a size in bytes greater than zero, as `body_limit = 65536`",
                        ));
                    }
                    Ok(_) => {}
                }
                set_once(&mut args.body_limit, bytes, key.span, "body_limit")
            } else if lookahead.peek(kw::deadline_margin_ms) {
                parse_deadline_margin(content, &mut args.deadline_margin_ms, "200")
            } else if lookahead.peek(kw::request_metrics) {
                let key: kw::request_metrics = content.parse()?;
                content.parse::<Token![=]>()?;
                let record: syn::LitBool = content.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`request_metrics` takes `true` or `false`, as `request_metrics = false`",
                    )
                })?;
                set_once(
                    &mut args.request_metrics,
                    record,
                    key.span,
                    "request_metrics",
                )
            } else if lookahead.peek(kw::layer) {
                content.parse::<kw::layer>()?;
                content.parse::<Token![=]>()?;
                let layer: syn::Expr = content.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`layer` takes a tower layer, as `layer = CorsLayer::permissive()`",
                    )
                })?;
                args.layers.push(layer);
                Ok(())
            } else {
                Err(lookahead.error())
            }
        })?;
        Ok(args)
    }
}

/// `batch`, or `batch(concurrency = 8, deadline_margin_ms = 1000, continue_on_failure)`.
pub(crate) struct BatchArgs {
    span: Span,
    concurrency: Option<syn::LitInt>,
    deadline_margin_ms: Option<syn::LitInt>,
    continue_on_failure: bool,
}

impl BatchArgs {
    fn parse(key: kw::batch, input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = BatchArgs {
            span: key.span,
            concurrency: None,
            deadline_margin_ms: None,
            continue_on_failure: false,
        };
        parse_option_list(input, |content| {
            let lookahead = content.lookahead1();
            if lookahead.peek(kw::concurrency) {
                let key: kw::concurrency = content.parse()?;
                content.parse::<Token![=]>()?;
                let count: syn::LitInt = content.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`concurrency` takes how many records run at once, as `concurrency = 8`",
                    )
                })?;
                match count.base10_parse::<usize>() {
                    Ok(0) | Err(_) => {
                        return Err(syn::Error::new(
                            count.span(),
                            "`concurrency` must be at least 1, as `concurrency = 8`",
                        ));
                    }
                    Ok(_) => {}
                }
                set_once(&mut args.concurrency, count, key.span, "concurrency")
            } else if lookahead.peek(kw::deadline_margin_ms) {
                parse_deadline_margin(content, &mut args.deadline_margin_ms, "1000")
            } else if lookahead.peek(kw::continue_on_failure) {
                let key: kw::continue_on_failure = content.parse()?;
                if args.continue_on_failure {
                    return Err(syn::Error::new(
                        key.span,
                        "`continue_on_failure` is given twice in `batch(...)`; keep one",
                    ));
                }
                args.continue_on_failure = true;
                Ok(())
            } else {
                Err(lookahead.error())
            }
        })?;
        Ok(args)
    }
}

/// `custom_resource(deadline_margin_ms = 5000)`.
pub(crate) struct CustomResourceArgs {
    span: Span,
    deadline_margin_ms: Option<syn::LitInt>,
}

impl CustomResourceArgs {
    fn parse(key: kw::custom_resource, input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = CustomResourceArgs {
            span: key.span,
            deadline_margin_ms: None,
        };
        parse_option_list(input, |content| {
            let lookahead = content.lookahead1();
            if lookahead.peek(kw::deadline_margin_ms) {
                parse_deadline_margin(content, &mut args.deadline_margin_ms, "5000")
            } else {
                Err(lookahead.error())
            }
        })?;
        Ok(args)
    }
}

/// The optional `(a = 1, b)` after an option's name: `item` parses one entry.
fn parse_option_list(
    input: ParseStream<'_>,
    mut item: impl FnMut(ParseStream<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    if !input.peek(syn::token::Paren) {
        return Ok(());
    }
    let content;
    syn::parenthesized!(content in input);
    while !content.is_empty() {
        item(&content)?;
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(())
}

/// `deadline_margin_ms = <milliseconds>`; `example` is the value the error messages show.
fn parse_deadline_margin(
    content: ParseStream<'_>,
    slot: &mut Option<syn::LitInt>,
    example: &str,
) -> syn::Result<()> {
    let key: kw::deadline_margin_ms = content.parse()?;
    content.parse::<Token![=]>()?;
    let millis: syn::LitInt = content.parse().map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("`deadline_margin_ms` takes milliseconds, as `deadline_margin_ms = {example}`"),
        )
    })?;
    if millis.base10_parse::<u64>().is_err() {
        return Err(syn::Error::new(
            millis.span(),
            format!(
                "`deadline_margin_ms` takes a whole number of milliseconds, as `deadline_margin_ms = {example}`"
            ),
        ));
    }
    set_once(slot, millis, key.span, "deadline_margin_ms")
}

impl Parse for HandlerArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = HandlerArgs::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::init) {
                let key: kw::init = input.parse()?;
                input.parse::<Token![=]>()?;
                let path: Path = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`init` takes the path of an async fn, as `init = setup`",
                    )
                })?;
                set_once(&mut args.init, path, key.span, "init")?;
            } else if lookahead.peek(kw::service) {
                let key: kw::service = input.parse()?;
                input.parse::<Token![=]>()?;
                let name: LitStr = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`service` takes a string literal, as `service = \"orders\"`",
                    )
                })?;
                if name.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        name.span(),
                        "`service` must not be empty; leave it out to use `POWERTOOLS_SERVICE_NAME`",
                    ));
                }
                set_once(&mut args.service, name, key.span, "service")?;
            } else if lookahead.peek(kw::log_level) {
                let key: kw::log_level = input.parse()?;
                input.parse::<Token![=]>()?;
                let level: LitStr = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`log_level` takes a string literal, as `log_level = \"debug\"` or `log_level = \"info,hyper=warn\"`",
                    )
                })?;
                if level.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        level.span(),
                        "`log_level` must not be empty; leave it out to use `POWERTOOLS_LOG_LEVEL`",
                    ));
                }
                set_once(&mut args.log_level, level, key.span, "log_level")?;
            } else if lookahead.peek(kw::log_buffer) {
                let key: kw::log_buffer = input.parse()?;
                if !input.peek(Token![=]) {
                    // `log_buffer` alone: the default size.
                    let bytes = syn::LitInt::new("20480", key.span);
                    set_once(&mut args.log_buffer, bytes, key.span, "log_buffer")?;
                    if input.is_empty() {
                        break;
                    }
                    input.parse::<Token![,]>()?;
                    continue;
                }
                input.parse::<Token![=]>()?;
                let bytes: syn::LitInt = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`log_buffer` takes the buffer's size in bytes, as `log_buffer = 20480`",
                    )
                })?;
                match bytes.base10_parse::<usize>() {
                    Ok(0) | Err(_) => {
                        return Err(syn::Error::new(
                            bytes.span(),
                            "`log_buffer` must be a size in bytes greater than zero, as `log_buffer = 20480`",
                        ));
                    }
                    Ok(_) => {}
                }
                set_once(&mut args.log_buffer, bytes, key.span, "log_buffer")?;
            } else if lookahead.peek(kw::namespace) {
                let key: kw::namespace = input.parse()?;
                input.parse::<Token![=]>()?;
                let namespace: LitStr = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`namespace` takes a string literal, as `namespace = \"Shop\"`",
                    )
                })?;
                if namespace.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        namespace.span(),
                        "`namespace` must not be empty; leave it out to use `POWERTOOLS_METRICS_NAMESPACE`",
                    ));
                }
                set_once(&mut args.namespace, namespace, key.span, "namespace")?;
            } else if lookahead.peek(kw::batch) {
                let key: kw::batch = input.parse()?;
                let span = key.span;
                let batch = BatchArgs::parse(key, input)?;
                set_once(&mut args.batch, batch, span, "batch")?;
            } else if lookahead.peek(kw::http) {
                let key: kw::http = input.parse()?;
                let span = key.span;
                let http = HttpArgs::parse(key, input)?;
                set_once(&mut args.http, http, span, "http")?;
            } else if lookahead.peek(kw::custom_resource) {
                let key: kw::custom_resource = input.parse()?;
                let span = key.span;
                let custom = CustomResourceArgs::parse(key, input)?;
                set_once(&mut args.custom_resource, custom, span, "custom_resource")?;
            } else if lookahead.peek(kw::correlation_id) {
                let key: kw::correlation_id = input.parse()?;
                input.parse::<Token![=]>()?;
                let pointer: LitStr = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`correlation_id` takes a JSON pointer, as `correlation_id = \"/detail/orderId\"`",
                    )
                })?;
                let text = pointer.value();
                if !text.starts_with('/') {
                    return Err(syn::Error::new(
                        pointer.span(),
                        "`correlation_id` is a JSON pointer and starts with `/`, as `\"/detail/orderId\"`",
                    ));
                }
                set_once(
                    &mut args.correlation_id,
                    pointer,
                    key.span,
                    "correlation_id",
                )?;
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, span: Span, key: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            span,
            format!("`{key}` is given twice in `#[helve::handler]`; keep one"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// What each parameter of the user's function is.
enum Param {
    Event(Type),
    ContextRef,
    ContextOwned,
    State(Type),
}

/// The user's function, understood.
struct Handler {
    params: Vec<Param>,
    event: Type,
    state: Option<Type>,
    fallible: Option<(Type, Type)>,
    response: Option<Type>,
    /// `P` when the event is `CustomResource<P>`.
    custom_resource: Option<Type>,
    /// The event is one record of a batch.
    batch: bool,
    /// The extractors of an HTTP handler, in order.
    http: Option<Vec<Type>>,
}

impl Handler {
    /// Checks the function; every problem found is reported at once.
    fn validate(function: &ItemFn, args: &HandlerArgs) -> syn::Result<Self> {
        let mut errors: Vec<syn::Error> = Vec::new();
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
        let mut event: Option<Type> = None;
        let mut events: Vec<Type> = Vec::new();
        let mut context_seen = false;
        let mut state: Option<Type> = None;
        // An event parameter with its own error is not reported missing as well.
        let mut event_reported = false;
        for input in &sig.inputs {
            let typed = match input {
                FnArg::Receiver(receiver) => {
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
                        Param::ContextRef
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
                ty if is_context(ty) => Param::ContextOwned,
                ty => Param::Event(ty.clone()),
            };
            match &param {
                Param::Event(ty) => {
                    events.push(ty.clone());
                    if event.is_none() {
                        event = Some(ty.clone());
                    }
                }
                Param::ContextRef | Param::ContextOwned => {
                    if context_seen {
                        errors.push(syn::Error::new(
                            typed.ty.span(),
                            "the context is already a parameter of this handler; remove this one",
                        ));
                        continue;
                    }
                    context_seen = true;
                }
                Param::State(ty) => {
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
        let is_method = sig
            .inputs
            .iter()
            .any(|input| matches!(input, FnArg::Receiver(_)));
        // An HTTP handler takes any number of extractors; any other handler, one event.
        let http = args.http.is_some() || events.iter().any(is_http_extractor);
        if !http {
            for extra in events.iter().skip(1) {
                errors.push(syn::Error::new(
                    extra.span(),
                    "`#[helve::handler]` takes one event parameter; the others can be `&Context` and `&State` (a reference to the init function's state); an HTTP handler (feature `http`) takes several extractors",
                ));
            }
        }
        if event.is_none() && !event_reported && !is_method && !http {
            errors.push(syn::Error::new(
                sig.paren_token.span.join(),
                "`#[helve::handler]` needs an event parameter taken by value, for example `event: serde_json::Value`",
            ));
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

        if let Some(mut error) = errors.pop() {
            for other in errors.into_iter().rev() {
                let mut combined = other;
                combined.combine(error);
                error = combined;
            }
            return Err(error);
        }
        if let Some(http_args) = &args.http {
            if let Some(batch) = &args.batch {
                return Err(syn::Error::new(
                    batch.span,
                    "`batch` and `http` configure different kinds of handler; keep one",
                ));
            }
            if let Some(custom) = &args.custom_resource {
                return Err(syn::Error::new(
                    custom.span,
                    "`custom_resource` and `http` configure different kinds of handler; keep one",
                ));
            }
            let _ = http_args.span;
        }
        if http {
            return Ok(Handler {
                params,
                event: syn::parse_quote!(::helve::http::Request),
                state,
                fallible,
                response,
                custom_resource: None,
                batch: false,
                http: Some(events),
            });
        }
        let event = event.ok_or_else(|| syn::Error::new(sig.span(), "no event parameter"))?;
        let custom_resource = custom_resource_properties(&event);
        if let (Some(custom), None) = (&args.custom_resource, &custom_resource) {
            return Err(syn::Error::new(
                custom.span,
                "`custom_resource(...)` configures a handler whose event is `helve::cfn::CustomResource<P>`",
            ));
        }
        let batch = args.batch.is_some() || is_batch_record(&event);
        if let (Some(batch), Some(_)) = (&args.batch, &custom_resource) {
            return Err(syn::Error::new(
                batch.span,
                "`batch` configures a handler of one record of a batch, not of a custom resource",
            ));
        }
        Ok(Handler {
            params,
            event,
            state,
            fallible,
            response,
            custom_resource,
            batch,
            http: None,
        })
    }

    fn expand(&self, function: &ItemFn, args: &HandlerArgs) -> TokenStream {
        let name = &function.sig.ident;
        let event_ty = &self.event;
        let mut extracted = 0usize;
        let call_args: Vec<TokenStream> = self
            .params
            .iter()
            .map(|param| match param {
                Param::Event(_) if self.http.is_some() => {
                    let arg = quote::format_ident!("__helve_arg{}", extracted);
                    extracted += 1;
                    quote!(#arg)
                }
                Param::Event(_) => quote!(__helve_event),
                Param::ContextRef => quote!(&__helve_ctx),
                Param::ContextOwned => quote!(__helve_ctx),
                Param::State(_) => quote!(__helve_state),
            })
            .collect();
        let call = quote!(#name(#(#call_args),*).await);
        let body = match &self.http {
            // Each extractor in order; the first that fails answers for the handler.
            Some(extractors) => {
                let takes = extractors.iter().enumerate().map(|(index, ty)| {
                    let arg = quote::format_ident!("__helve_arg{}", index);
                    quote_spanned! {ty.span()=>
                        let #arg = match <#ty as ::helve::http::FromRequest>::from_request(&__helve_event) {
                            ::core::result::Result::Ok(value) => value,
                            ::core::result::Result::Err(problem) => {
                                return ::helve::http::IntoResponse::into_response(problem);
                            }
                        };
                    }
                });
                quote! {
                    #(#takes)*
                    ::helve::http::IntoResponse::into_response(#call)
                }
            }
            None if self.fallible.is_some() => call,
            None => quote!(::helve::__private::infallible(#call)),
        };

        // The state's type: the handler's `&State`; a type parameter inferred from the init
        // function when the handler does not take the state; `()` without an init function.
        let (generics, state_ty) = match (&self.state, &args.init) {
            (Some(ty), _) => (None, ty.to_token_stream()),
            (None, Some(_)) => (
                Some(quote!(<__HelveState: ::core::marker::Sync + 'static>)),
                quote!(__HelveState),
            ),
            (None, None) => (None, quote!(())),
        };
        let output = match (&function.sig.output, &self.fallible, &self.response) {
            _ if self.http.is_some() => quote!(::helve::http::Response),
            (ReturnType::Type(_, ty), Some(_), _) => ty.to_token_stream(),
            (_, None, Some(ty)) => {
                quote!(::core::result::Result<#ty, ::helve::__private::Infallible>)
            }
            _ => quote!(::core::result::Result<(), ::helve::__private::Infallible>),
        };
        let init = args.init.as_ref().map(|path| quote!(.init(#path)));
        let service = args.service.as_ref().map(|name| quote!(.service(#name)));
        let log_level = args
            .log_level
            .as_ref()
            .map(|level| quote!(.log_level(#level)));
        let namespace = args
            .namespace
            .as_ref()
            .map(|namespace| quote!(.namespace(#namespace)));
        let correlation_id = match (&args.correlation_id, &self.custom_resource) {
            (Some(pointer), _) => Some(quote!(.correlation_id(#pointer))),
            // CloudFormation's RequestId ties the function's logs to the stack event.
            (None, Some(_)) => Some(quote!(.correlation_id("/RequestId"))),
            (None, None) => None,
        };
        let log_buffer = args
            .log_buffer
            .as_ref()
            .map(|bytes| quote!(.buffer_debug_logs(#bytes)));

        let event_check = match &self.custom_resource {
            _ if self.http.is_some() => {
                let checks = self.http.iter().flatten().map(|ty| {
                    quote_spanned! {ty.span()=>
                        ::helve::__private::assert_extractor::<#ty>();
                    }
                });
                quote!(#(#checks)*)
            }
            Some(properties) => quote_spanned! {properties.span()=>
                ::helve::__private::assert_properties::<#properties>();
            },
            None if self.batch => quote_spanned! {event_ty.span()=>
                ::helve::__private::assert_record::<#event_ty>();
            },
            None => quote_spanned! {event_ty.span()=>
                ::helve::__private::assert_event::<#event_ty>();
            },
        };
        let assert_response = if self.http.is_some() {
            quote!(assert_http_response)
        } else if self.custom_resource.is_some() {
            quote!(assert_outcome)
        } else if self.batch {
            quote!(assert_record_response)
        } else {
            quote!(assert_response)
        };
        let state_check = self.state.as_ref().map(|ty| {
            quote_spanned! {ty.span()=>
                ::helve::__private::assert_state::<#ty>();
            }
        });
        let assert_error = if self.http.is_some() {
            quote!(assert_error_status)
        } else {
            quote!(assert_error)
        };
        let result_checks = match &self.fallible {
            Some((ok, err)) => quote! {
                #[allow(clippy::unit_arg)]
                {
                    ::helve::__private::#assert_response::<#ok>();
                }
                ::helve::__private::#assert_error::<#err>();
            },
            None => self
                .response
                .as_ref()
                .map(|ty| {
                    quote_spanned! {ty.span()=>
                        ::helve::__private::#assert_response::<#ty>();
                    }
                })
                .unwrap_or_default(),
        };

        let handler = match &self.custom_resource {
            _ if self.http.is_some() => {
                let options = args.http.as_ref();
                let body_limit = options
                    .and_then(|http| http.body_limit.as_ref())
                    .map(|bytes| quote!(.body_limit(#bytes)));
                let margin =
                    deadline_margin(options.and_then(|http| http.deadline_margin_ms.as_ref()));
                let metrics = options
                    .and_then(|http| http.request_metrics.as_ref())
                    .map(|record| quote!(.request_metrics(#record)));
                let layers = options.into_iter().flat_map(|http| &http.layers);
                quote! {
                    ::helve::http::http(__helve_handler)
                        #body_limit
                        #margin
                        #metrics
                        #(.layer(#layers))*
                }
            }
            Some(properties) => {
                let margin = deadline_margin(
                    args.custom_resource
                        .as_ref()
                        .and_then(|custom| custom.deadline_margin_ms.as_ref()),
                );
                let validate = validation_probe(properties.to_token_stream());
                quote! {
                    ::helve::cfn::custom_resource(__helve_handler)
                        #validate
                        #margin
                }
            }
            None if self.batch => {
                let options = args.batch.as_ref();
                let concurrency = options
                    .and_then(|batch| batch.concurrency.as_ref())
                    .map(|count| quote!(.concurrency(#count)));
                let margin =
                    deadline_margin(options.and_then(|batch| batch.deadline_margin_ms.as_ref()));
                let continue_on_failure = options
                    .filter(|batch| batch.continue_on_failure)
                    .map(|_| quote!(.continue_on_failure(true)));
                let validate =
                    validation_probe(quote!(<#event_ty as ::helve::batch::Record>::Payload));
                quote! {
                    ::helve::batch::batch::<_, #event_ty>(__helve_handler)
                        #validate
                        #concurrency
                        #margin
                        #continue_on_failure
                }
            }
            None => quote!(__helve_handler),
        };

        quote! {
            #function

            /// Runs the function: on Lambda, serves invocations; elsewhere, runs it once on an
            /// event file (local mode). Written by `#[helve::handler]`.
            pub(crate) fn main() -> ::std::process::ExitCode {
                #event_check
                #state_check
                #result_checks
                // A named fn, not a closure: diagnostics then name it without a file path.
                async fn __helve_handler #generics(
                    __helve_event: #event_ty,
                    __helve_ctx: ::helve::__private::Context,
                    __helve_state: &'static #state_ty,
                ) -> #output {
                    #body
                }
                ::helve::__private::Function::new(#handler)
                #init
                #service
                #log_level
                #log_buffer
                #correlation_id
                #namespace
                .run()
            }
        }
    }
}

/// `.deadline_margin(..)` for a `deadline_margin_ms` option, when given.
fn deadline_margin(millis: Option<&syn::LitInt>) -> Option<TokenStream> {
    millis.map(|millis| quote!(.deadline_margin(::core::time::Duration::from_millis(#millis))))
}

/// `.validate_with(..)` of a value of type `ty`: validated when `ty` implements
/// `validator::Validate`, accepted as decoded otherwise (chosen at compile time by autoref,
/// since `ty` is concrete here).
fn validation_probe(ty: TokenStream) -> TokenStream {
    quote! {
        .validate_with(|__helve_value: &#ty| {
            #[allow(unused_imports)]
            use ::helve::validation::{ProbeAccept as _, ProbeValidate as _};
            (&::helve::validation::Probe(__helve_value)).helve_validate()
        })
    }
}

/// helve's typed records (`SqsMessage<T>`, `KinesisRecord<T>`, `DynamoDbRecord<T>`) and the
/// `aws_lambda_events` records with names of their own (`SqsMessage`, `KinesisEventRecord`);
/// any other record type needs the `batch` option.
fn is_batch_record(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|segment| {
        matches!(
            segment.ident.to_string().as_str(),
            "SqsMessage" | "KinesisRecord" | "DynamoDbRecord" | "KinesisEventRecord"
        )
    })
}

/// helve's HTTP extractors (`Json<T>`, `Valid<T>`, `Path<T>`, `Query<T>`, `Claims<T>`),
/// `HeaderMap`, and the request as `http::Request` or `helve::http::Request`; any other
/// extractor needs the `http` option.
fn is_http_extractor(ty: &Type) -> bool {
    let Some(segment) = last_segment(ty) else {
        return false;
    };
    let name = segment.ident.to_string();
    match name.as_str() {
        "Json" | "Valid" | "Path" | "Query" | "Claims" => {
            matches!(segment.arguments, syn::PathArguments::AngleBracketed(_))
        }
        "HeaderMap" => true,
        "Request" => match ty {
            Type::Path(path) => {
                let segments: Vec<_> = path.path.segments.iter().collect();
                segments.len() >= 2 && {
                    let parent = segments[segments.len() - 2].ident.to_string();
                    parent == "http" || parent == "lambda_http"
                }
            }
            _ => false,
        },
        _ => false,
    }
}

/// `P` of an event type whose last segment is `CustomResource<P>`.
fn custom_resource_properties(ty: &Type) -> Option<Type> {
    let segment = last_segment(ty)?;
    if segment.ident != "CustomResource" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    match arguments.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(properties)] => Some(properties.clone()),
        _ => None,
    }
}

/// The last path segment is `Context`: `Context`, `helve::Context`, `helve::prelude::Context`.
fn is_context(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|segment| segment.ident == "Context")
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
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
