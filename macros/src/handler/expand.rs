//! The items written beside the user's function: a `main` that builds a `helve::Function`
//! around it and runs it.
//!
//! Every bound a user's type must meet is checked once, at that type: the event, the init
//! function and a `Valid<T>`'s `T` by a check function named after the handler
//! (`event_of_handle`, `init_of_handle`, `valid_of_handle`) whose bound is a public helve trait
//! with its own message, the success and error types by the `impl Trait` the inner handler
//! returns, HTTP extractors and responses where they are taken and converted. So a mistake
//! gives one error, on the user's token, naming nothing of the generated code.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::{ItemFn, ReturnType, Type, spanned::Spanned};

use super::args::{HandlerArgs, LogBuffer};
use super::kind::{Kind, idempotency_config};
use super::signature::{Param, Signature, helve_name};

/// `main`, for a function that validated.
pub(super) fn expand(
    function: &ItemFn,
    args: &HandlerArgs,
    sig: &Signature,
    kind: &Kind,
) -> TokenStream {
    let name = &function.sig.ident;
    let event_ty = kind.event();
    let mut extracted = 0usize;
    let call_args: Vec<TokenStream> = sig
        .params
        .iter()
        .map(|param| match param {
            Param::Event(_) if matches!(kind, Kind::Http(_)) => {
                let arg = quote::format_ident!("__helve_arg{}", extracted);
                extracted += 1;
                quote!(#arg)
            }
            Param::Event(_) => quote!(__helve_event),
            Param::ContextRef(ty) => quote_spanned! {ty.span()=>
                <#ty as ::helve::context::ContextParameter>::from_ref(&__helve_ctx)
            },
            Param::ContextOwned(ty) => quote_spanned! {ty.span()=>
                <#ty as ::helve::context::ContextParameter>::from_owned(__helve_ctx)
            },
            Param::State(_) => quote!(__helve_state),
            Param::WrappedState(wrapper, _) => quote!(#wrapper(__helve_state)),
        })
        .collect();
    let call = quote!(#name(#(#call_args),*).await);
    let [output, body, helpers] = match kind {
        Kind::Http(extractors) => [
            quote!(::helve::http::Response),
            http_body(extractors, &call, function, sig),
            TokenStream::new(),
        ],
        _ => {
            let replayed = args.idempotency.is_some()
                || args.batch.as_ref().is_some_and(|batch| batch.idempotency);
            answer(kind, &call, sig, replayed)
        }
    };

    // The state's type: the handler's `&State`; a type parameter inferred from the init
    // function when the handler does not take the state; `()` without an init function.
    let (generics, state_ty) = match (&sig.state, &args.init) {
        (Some(ty), _) => (None, ty.to_token_stream()),
        (None, Some(_)) => (
            Some(quote!(<__HelveState: ::core::marker::Sync + 'static>)),
            quote!(__HelveState),
        ),
        (None, None) => (None, quote!(())),
    };
    let state_check = sig.state.as_ref().map(|ty| {
        quote_spanned! {ty.span()=>
            ::helve::__private::assert_state::<#ty>();
        }
    });
    let mut event_check = kind.checks();

    let (init_check, init) = match &args.init {
        Some(path) => {
            let (check, name) = init_check(path, sig.state.as_ref(), &function.sig.ident);
            // Bound first, at the path: the first place rustc sees the checked init function's
            // type, and so where what it checks of that type is reported, with the check's
            // own error.
            let bound = respan(quote!(let __helve_init = #name(#path);), path.span());
            // A statement of its own, all at the path: what rustc checks of the function's
            // new type is reported there too, as the same error.
            let init = respan(
                quote!(let __helve_function = __helve_function.init(__helve_init);),
                path.span(),
            );
            (Some(quote!(#check #bound)), Some(init))
        }
        None => (None, None),
    };
    let shutdown = args
        .shutdown
        .as_ref()
        .map(|path| quote!(.on_shutdown(#path)));
    let service = args.service.as_ref().map(|name| quote!(.service(#name)));
    let log_level = args
        .log_level
        .as_ref()
        .map(|level| quote!(.log_level(#level)));
    let runtime = args
        .runtime
        .as_ref()
        .filter(|flavor| flavor.value() == "multi_thread")
        .map(|_| quote!(.multi_thread()));
    // An HTTP handler's idempotency is its `HttpHandler`'s (see `Kind::wrap`).
    let idempotency = args
        .idempotency
        .as_ref()
        .filter(|_| !matches!(kind, Kind::Http(_)))
        .map(|idempotency| {
            let key = &idempotency.key;
            let config = idempotency_config(idempotency, name);
            quote_spanned! {idempotency.span=> .idempotency(#config, #key) }
        });
    let namespace = args
        .namespace
        .as_ref()
        .map(|namespace| quote!(.namespace(#namespace)));
    let correlation_id = match (&args.correlation_id, kind.default_correlation_id()) {
        (Some(pointer), _) => Some(quote!(.correlation_id(#pointer))),
        (None, Some(pointer)) => Some(quote!(.correlation_id(#pointer))),
        (None, None) => None,
    };
    let log_buffer = args.log_buffer.as_ref().map(|buffer| match buffer {
        LogBuffer::Bytes(bytes) => quote!(.buffer_debug_logs(#bytes)),
        LogBuffer::Default(span) => quote_spanned! {*span=>
            .buffer_debug_logs(::helve::__private::DEFAULT_BUFFER_BYTES)
        },
    });
    let tracer = args.tracer.as_ref().map(|tracer| {
        let capture_response = tracer
            .capture_response
            .as_ref()
            .map(|value| quote!(.capture_response(#value)));
        let capture_error = tracer
            .capture_error
            .as_ref()
            .map(|value| quote!(.capture_error(#value)));
        let disabled = tracer.disabled.then(|| quote!(.disabled()));
        let export = tracer.export.as_ref().map(|export| {
            let variant = match export.value().as_str() {
                "otlp" => quote!(Otlp),
                _ => quote!(XRay),
            };
            quote!(.export(::helve::tracer::Export::#variant))
        });
        quote_spanned! {tracer.span=>
            .tracer(::helve::tracer::TracerOptions::new() #capture_response #capture_error #export #disabled)
        }
    });
    let handler_name = name.to_string().trim_start_matches("r#").to_owned();
    let handler = kind.wrap(args, name);
    // `run` checks the init function again (after `.init(..)` did): at the init path, so that
    // rustc sees the same error twice at one place and reports it once. The event type,
    // given explicitly, takes the error of an event that does not deserialize.
    let run_types = match kind {
        Kind::Plain(event) => {
            let (check, checked) = checked_event(event, name);
            event_check.extend(check);
            Some(quote!(::<#checked, _>))
        }
        _ => None,
    };
    let (call, parens) = (quote!(__helve_function.run), quote!(()));
    let (call, parens) = match &args.init {
        Some(path) => (respan(call, path.span()), respan(parens, path.span())),
        None => (call, parens),
    };
    let run = quote!(#call #run_types #parens);

    let build = quote! {
        #event_check
        #init_check
        #state_check
        #helpers
        // A named fn, not a closure: diagnostics then name it without a file path. Not
        // an `async fn`: the `impl Trait`s of its output keep the spans given them.
        fn __helve_handler #generics(
            __helve_event: #event_ty,
            __helve_ctx: ::helve::__private::Context,
            __helve_state: &'static #state_ty,
        ) -> impl ::core::future::Future<Output = #output> {
            async move { #body }
        }
        let __helve_function = ::helve::__private::Function::new(#handler)
            .handler_name(#handler_name);
        #init
        let __helve_function = __helve_function
            #shutdown
            #service
            #log_level
            #log_buffer
            #correlation_id
            #namespace
            #idempotency
            #tracer
            #runtime;
    };

    quote! {
        #function

        /// Runs the function: on Lambda, serves invocations; elsewhere, runs it once on an
        /// event file (local mode). Written by `#[helve::handler]`.
        pub(crate) fn main() -> ::std::process::ExitCode {
            #build
            #run
        }

        /// The `helve::Function` this `main` runs, with every option of the attribute, for the
        /// crate's tests: `helve::testing::invoke(helve_function!(), event)`. Written by
        /// `#[helve::handler]`, in test builds only.
        #[cfg(test)]
        #[allow(unused_macros)]
        macro_rules! helve_function {
            () => {{
                #build
                __helve_function
            }};
        }
    }
}

/// The check of a plain handler's event, named after the handler (`event_of_handle`), and the
/// event type given to `Function::run`, both at the user's type: an event that does not
/// deserialize is reported there, once, with what to do (the check's error implies the
/// projection's, and `run` sees an error type, which rustc reports nothing more about). An
/// event written `Request` alone is most likely helve's HTTP request, which the attribute
/// recognises only by its path: its message says how to write that one.
fn checked_event(event: &Type, handler: &syn::Ident) -> (TokenStream, TokenStream) {
    let written_request = matches!(
        event,
        Type::Path(path) if path.qself.is_none()
            && path.path.leading_colon.is_none()
            && path.path.segments.len() == 1
            && path.path.segments[0].ident == "Request"
    );
    let span = event.span();
    let bound = if written_request {
        quote_spanned!(span=> ::helve::handler::RequestEvent)
    } else {
        quote_spanned!(span=> ::helve::handler::Event)
    };
    let name = syn::Ident::new(&format!("event_of_{}", unraw(handler)), span);
    let check = quote_spanned! {span=>
        fn #name<T: #bound>() {}
        #name::<#event>();
    };
    (check, quote_spanned! {span=> <#event as #bound>::Checked })
}

/// The handler's name without `r#`.
fn unraw(handler: &syn::Ident) -> String {
    handler.to_string().trim_start_matches("r#").to_owned()
}

/// The function `init = path` goes through, named after the handler (`init_of_handle`), and
/// its definition, at the path: it takes only an init function, so that a wrong one is
/// reported once, there, with what it must be. When the handler takes `&State`, the init
/// function must return that `State`, and it comes out as an `impl Init<State = State>`, so
/// that `run` does not report the handler again; otherwise it comes out as it went in, and the
/// same error from `.init(..)` and `run` at the same path is reported once.
fn init_check(
    path: &syn::Path,
    state: Option<&Type>,
    handler: &syn::Ident,
) -> (TokenStream, syn::Ident) {
    let span = path.span();
    let name = syn::Ident::new(&format!("init_of_{}", unraw(handler)), span);
    let init = quote_spanned!(span=> ::helve::__private::Init);
    let check = match state {
        Some(state) => quote_spanned! {span=>
            fn #name<I: ::helve::function::InitFor<#state>>(
                init: I,
            ) -> impl #init<State = #state, Error = <I as #init>::Error> {
                init
            }
        },
        None => quote_spanned! {span=>
            fn #name<I: #init>(init: I) -> I {
                init
            }
        },
    };
    (check, name)
}

/// The return type and body of the inner handler of any kind but HTTP, and the functions
/// the body passes the answer through. The success and error values go through identity
/// functions that return them as `impl Trait` with the bounds the kind needs, written at the
/// user's types: a type that does not meet them is reported there, once, and
/// `Function::run` sees types that do.
fn answer(kind: &Kind, call: &TokenStream, sig: &Signature, replayed: bool) -> [TokenStream; 3] {
    let mut bounds = kind.response_bounds().unwrap_or_default();
    // An idempotent handler's response is also read back from the store, for a replay.
    if replayed {
        bounds.extend(quote!(+ ::helve::idempotency::Replayable));
    }
    let opaque = |bounds: &TokenStream, ty: &Type| respan(quote!(impl #bounds), ty.span());
    let pass = |name: &str, ty: &Type, bounds: &TokenStream| {
        let name = proc_macro2::Ident::new(name, ty.span());
        let output = opaque(bounds, ty);
        let value = respan(quote!(__helve_value), ty.span());
        quote! {
            fn #name(#value: #ty) -> #output {
                #value
            }
        }
    };
    match (&sig.fallible, &sig.response) {
        (Some((ok, err)), _) => {
            let error_bounds = quote! {
                ::helve::__private::IntoDiagnostic
                    + ::core::fmt::Debug
                    + ::core::marker::Send
                    + 'static
            };
            let helpers = [
                pass("__helve_ok", ok, &bounds),
                pass("__helve_err", err, &error_bounds),
            ];
            let ok = opaque(&bounds, ok);
            let err = opaque(&error_bounds, err);
            [
                quote!(::core::result::Result<#ok, #err>),
                quote! {
                    match #call {
                        ::core::result::Result::Ok(__helve_ok_value) => {
                            ::core::result::Result::Ok(__helve_ok(__helve_ok_value))
                        }
                        ::core::result::Result::Err(__helve_err_value) => {
                            ::core::result::Result::Err(__helve_err(__helve_err_value))
                        }
                    }
                },
                quote!(#(#helpers)*),
            ]
        }
        (None, Some(ty)) => {
            let helper = pass("__helve_ok", ty, &bounds);
            let ok = opaque(&bounds, ty);
            [
                quote!(::core::result::Result<#ok, ::helve::__private::Infallible>),
                quote!(::helve::__private::infallible(__helve_ok(#call))),
                helper,
            ]
        }
        (None, None) => [
            quote!(::core::result::Result<(), ::helve::__private::Infallible>),
            quote!(::helve::__private::infallible(#call)),
            TokenStream::new(),
        ],
    }
}

/// The body of an HTTP handler: each extractor in order, the first that fails answering for
/// the handler; then the answer as a response. A `Result`'s success and error are converted
/// apart, each at its own type, so that the one that is not a response or has no status is
/// reported there.
fn http_body(
    extractors: &[Type],
    call: &TokenStream,
    function: &ItemFn,
    sig: &Signature,
) -> TokenStream {
    let takes = extractors.iter().enumerate().map(|(index, ty)| {
        let arg = quote::format_ident!("__helve_arg{}", index);
        let (check, ty) = checked_extractor(ty, &function.sig.ident);
        let ty = &ty;
        quote_spanned! {ty.span()=>
            #check
            let #arg = match <#ty as ::helve::http::FromRequest>::from_request(&__helve_event) {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(problem) => {
                    return ::helve::http::IntoResponse::into_response(problem);
                }
            };
        }
    });
    let answer = match (&sig.fallible, &function.sig.output) {
        (Some((ok, err)), _) => {
            let ok = quote_spanned! {ok.span()=>
                ::helve::http::IntoResponse::into_response(__helve_ok)
            };
            // Through a function that gives the error back as an `impl ErrorStatus`, at the
            // user's type: one without a status is reported there, by `ErrorStatus`.
            let name = syn::Ident::new(
                &format!("error_of_{}", unraw(&function.sig.ident)),
                err.span(),
            );
            let status = respan(quote!(impl ::helve::ErrorStatus + 'static), err.span());
            let err = quote_spanned! {err.span()=>
                {
                    fn #name(error: #err) -> #status {
                        error
                    }
                    ::helve::http::IntoResponse::into_response(
                        ::core::result::Result::<(), _>::Err(#name(__helve_err)),
                    )
                }
            };
            quote! {
                match #call {
                    ::core::result::Result::Ok(__helve_ok) => #ok,
                    ::core::result::Result::Err(__helve_err) => #err,
                }
            }
        }
        (None, ReturnType::Type(_, ty)) => quote_spanned! {ty.span()=>
            ::helve::http::IntoResponse::into_response(#call)
        },
        (None, ReturnType::Default) => quote!(::helve::http::IntoResponse::into_response(#call)),
    };
    quote! {
        #(#takes)*
        #answer
    }
}

/// helve's `Valid<T>` as `Valid<<T as Validates>::Checked>`, with a check of `T` named after
/// the handler (`valid_of_create`), both at `T`: a `T` that is not `validator::Validate` is
/// reported there, once, with what to derive (the check's error implies the projection's, and
/// the extractor is then an error type, which rustc reports nothing more about). Any other
/// extractor as written, without a check.
fn checked_extractor(ty: &Type, handler: &syn::Ident) -> (TokenStream, Type) {
    let mut checked = ty.clone();
    if helve_name(ty, &["Valid"]).is_none() {
        return (TokenStream::new(), checked);
    }
    let Type::Path(path) = &mut checked else {
        return (TokenStream::new(), checked);
    };
    let Some(syn::PathSegment {
        arguments: syn::PathArguments::AngleBracketed(arguments),
        ..
    }) = path.path.segments.last_mut()
    else {
        return (TokenStream::new(), checked);
    };
    if arguments.args.len() != 1 {
        return (TokenStream::new(), checked);
    }
    let Some(syn::GenericArgument::Type(inner)) = arguments.args.first_mut() else {
        return (TokenStream::new(), checked);
    };
    let span = inner.span();
    let bound = quote_spanned!(span=> ::helve::http::Validates);
    let name = syn::Ident::new(&format!("valid_of_{}", unraw(handler)), span);
    // In a block of its own: a handler may take several `Valid<T>`.
    let check = quote_spanned! {span=>
        {
            fn #name<T: #bound>() {}
            #name::<#inner>();
        }
    };
    *inner = syn::parse_quote_spanned! {span=> <#inner as #bound>::Checked };
    (check, checked)
}

/// `tokens` with every token at `span`, so that rustc reports what they require there.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}
