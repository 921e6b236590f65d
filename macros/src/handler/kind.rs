//! Which kind of handler the function is, decided once: a plain event, an HTTP request, one
//! record of a batch, or a CloudFormation custom resource. Adding a kind is one variant here
//! and its module in helve.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::{Type, spanned::Spanned};

use super::args::{HandlerArgs, IdempotencyArgs};
use super::signature::{Signature, helve_name, last_segment};

/// The kind of handler, with the types its adapter needs.
pub(super) enum Kind {
    /// Any `DeserializeOwned` event.
    Plain(Type),
    /// An HTTP handler: its extractors, in order.
    Http(Vec<Type>),
    /// One record of a batch.
    Batch(Type),
    /// A `CustomResource<P>`: the event, and `P`.
    CustomResource { event: Type, properties: Box<Type> },
}

impl Kind {
    /// The only place that reads type names: HTTP when the `http` option is given or an
    /// extractor is named; a custom resource for `CustomResource<P>`; a batch record when the
    /// `batch` option is given or a record type is named; a plain event otherwise. An option
    /// given for another kind is reported here.
    pub(super) fn of(sig: &Signature, args: &HandlerArgs) -> syn::Result<Kind> {
        let http = args.http.is_some() || sig.events.iter().any(is_http_extractor);
        if http {
            let conflict = |option: &str| {
                if args.http.is_some() {
                    format!("`{option}` and `http` configure different kinds of handler; keep one")
                } else {
                    format!(
                        "`{option}` configures another kind of handler than this one, whose parameters are HTTP extractors; remove `{option}`"
                    )
                }
            };
            if let Some(batch) = &args.batch {
                return Err(syn::Error::new(batch.span, conflict("batch")));
            }
            if let Some(custom) = &args.custom_resource {
                return Err(syn::Error::new(custom.span, conflict("custom_resource")));
            }
            return Ok(Kind::Http(sig.events.clone()));
        }

        // Any other handler takes one event.
        let mut events = sig.events.iter();
        let Some(event) = events.next() else {
            let mut message = "`#[helve::handler]` needs an event parameter taken by value, for example `event: serde_json::Value`".to_owned();
            if sig.unqualified_context {
                message.push_str(
                    "; a parameter of type `Context` is helve's context: if it is a type of your own, name it by its path (`model::Context`) or import it under another name",
                );
            }
            return Err(syn::Error::new(sig.parens, message));
        };
        let mut extra = events.map(|extra| {
            syn::Error::new(
                extra.span(),
                "`#[helve::handler]` takes one event parameter; the others can be `&Context` and `&State` (a reference to the init function's state); an HTTP handler (feature `http`) takes several extractors",
            )
        });
        if let Some(mut error) = extra.next() {
            error.extend(extra);
            return Err(error);
        }

        let event = event.clone();
        if let Some(idempotency) = &args.idempotency
            && idempotency.key.value().starts_with("header:")
        {
            return Err(syn::Error::new(
                idempotency.key.span(),
                "a `header:` key is the key of an HTTP request; this handler's event is not one: give a JSON pointer into the event, as `key = \"/order_id\"`",
            ));
        }
        if let Some(properties) = custom_resource_properties(&event) {
            if let Some(batch) = &args.batch {
                return Err(syn::Error::new(
                    batch.span,
                    "`batch` configures a handler of one record of a batch, not of a custom resource",
                ));
            }
            if let Some(idempotency) = &args.idempotency {
                return Err(syn::Error::new(
                    idempotency.span,
                    "`idempotency(...)` does not apply to a custom resource: CloudFormation must hear back from every request",
                ));
            }
            return Ok(Kind::CustomResource {
                event,
                properties: Box::new(properties),
            });
        }
        if let Some(custom) = &args.custom_resource {
            return Err(syn::Error::new(
                custom.span,
                "`custom_resource(...)` configures a handler whose event is `helve::cfn::CustomResource<P>`",
            ));
        }
        if args.batch.is_some() || is_batch_record(&event) {
            if let Some(idempotency) = &args.idempotency {
                return Err(syn::Error::new(
                    idempotency.span,
                    "`idempotency(...)` makes a whole invocation idempotent; for each record of a batch once per `messageId`, write `batch(idempotency)`",
                ));
            }
            return Ok(Kind::Batch(event));
        }
        Ok(Kind::Plain(event))
    }

    /// The event the inner handler takes.
    pub(super) fn event(&self) -> TokenStream {
        match self {
            Kind::Http(_) => quote!(::helve::http::Request),
            Kind::Plain(event) | Kind::Batch(event) | Kind::CustomResource { event, .. } => {
                event.to_token_stream()
            }
        }
    }

    /// What the event must be, checked at the user's type. A plain event is checked by
    /// `Function::run`, and an HTTP handler's extractors where they are taken.
    pub(super) fn checks(&self) -> TokenStream {
        match self {
            Kind::Http(_) => TokenStream::new(),
            // `Function::run`, given the event type, checks it there.
            Kind::Plain(_) => TokenStream::new(),
            Kind::Batch(event) => quote_spanned! {event.span()=>
                ::helve::__private::assert_record::<#event>();
            },
            Kind::CustomResource { properties, .. } => quote_spanned! {properties.span()=>
                ::helve::__private::assert_properties::<#properties>();
            },
        }
    }

    /// The bounds on the handler's success value, written as the `impl Trait` the inner
    /// handler returns; `None` for HTTP, whose inner handler answers a response.
    pub(super) fn response_bounds(&self) -> Option<TokenStream> {
        let serialize = quote!(::helve::__private::Serialize + ::core::marker::Send + 'static);
        match self {
            Kind::Http(_) => None,
            Kind::Plain(_) => Some(serialize),
            Kind::Batch(_) => Some(quote!(::helve::batch::RecordResponse + #serialize)),
            Kind::CustomResource { .. } => Some(quote!(::helve::cfn::IntoOutcome + #serialize)),
        }
    }

    /// CloudFormation's RequestId ties a custom resource's logs to the stack event.
    pub(super) fn default_correlation_id(&self) -> Option<&'static str> {
        match self {
            Kind::CustomResource { .. } => Some("/RequestId"),
            _ => None,
        }
    }

    /// The handler given to `Function::new`: `__helve_handler`, wrapped by the kind's adapter;
    /// `handler_name` (the user's function) names it in idempotency keys.
    pub(super) fn wrap(&self, args: &HandlerArgs, handler_name: &syn::Ident) -> TokenStream {
        match self {
            // Validated first when the event type derives `validator::Validate`.
            Kind::Plain(event) => quote!(::helve::__validated_plain!(__helve_handler, #event)),
            Kind::Http(_) => {
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
                // Under the layers, so that they see a replay as every other answer.
                let idempotency = args.idempotency.as_ref().map(|idempotency| {
                    let key = &idempotency.key;
                    let config = idempotency_config(idempotency, handler_name);
                    quote_spanned! {idempotency.span=> .idempotency(#config, #key) }
                });
                quote! {
                    ::helve::http::http(__helve_handler)
                        #body_limit
                        #margin
                        #metrics
                        #idempotency
                        #(.layer(#layers))*
                }
            }
            Kind::Batch(event) => {
                let options = args.batch.as_ref();
                let concurrency = options
                    .and_then(|batch| batch.concurrency.as_ref())
                    .map(|count| quote!(.concurrency(#count)));
                let margin =
                    deadline_margin(options.and_then(|batch| batch.deadline_margin_ms.as_ref()));
                let continue_on_failure = options
                    .filter(|batch| batch.continue_on_failure)
                    .map(|_| quote!(.continue_on_failure(true)));
                let idempotency = options.filter(|batch| batch.idempotency).map(|batch| {
                    let name = handler_name.to_string();
                    let store = store_of(batch.idempotency_store.as_ref());
                    let config = quote! {
                        ::helve::idempotency::Idempotency::new(#store).__handler_name(#name)
                    };
                    match &batch.idempotency_key {
                        Some(pointer) => quote!(.idempotency_at(#config, #pointer)),
                        None => quote!(.idempotency(#config)),
                    }
                });
                let validate =
                    validation_probe(quote!(<#event as ::helve::batch::Record>::Payload));
                quote! {
                    ::helve::batch::batch::<_, #event>(__helve_handler)
                        #validate
                        #concurrency
                        #margin
                        #continue_on_failure
                        #idempotency
                }
            }
            Kind::CustomResource { properties, .. } => {
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
pub(super) fn is_batch_record(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|segment| {
        matches!(
            segment.ident.to_string().as_str(),
            "SqsMessage" | "KinesisRecord" | "DynamoDbRecord" | "KinesisEventRecord"
        )
    })
}

/// helve's HTTP extractors (`Json<T>`, `Valid<T>`, `Path<T>`, `Query<T>`, `Claims<T>`, alone
/// or under `helve::`, by [`helve_name`]), `HeaderMap`, and the request as `http::Request` or
/// `helve::http::Request`; any other extractor needs the `http` option.
pub(super) fn is_http_extractor(ty: &Type) -> bool {
    if let Some(segment) = helve_name(ty, &["Json", "Valid", "Path", "Query", "Claims"]) {
        return matches!(segment.arguments, syn::PathArguments::AngleBracketed(_));
    }
    let Some(segment) = last_segment(ty) else {
        return false;
    };
    let name = segment.ident.to_string();
    match name.as_str() {
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

/// `P` of helve's `CustomResource<P>` (alone or under `helve::`, by [`helve_name`]).
pub(super) fn custom_resource_properties(ty: &Type) -> Option<Type> {
    let segment = helve_name(ty, &["CustomResource"])?;
    let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    match arguments.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(properties)] => Some(properties.clone()),
        _ => None,
    }
}

/// The `Idempotency` of `idempotency(...)`: its store (in memory unless `store = path`) and
/// options, named after the handler `name`.
pub(super) fn idempotency_config(idempotency: &IdempotencyArgs, name: &syn::Ident) -> TokenStream {
    let name = name.to_string();
    let store = store_of(idempotency.store.as_ref());
    let expires = idempotency
        .expires
        .as_ref()
        .map(|seconds| quote!(.expires(::core::time::Duration::from_secs(#seconds))));
    let validation = idempotency
        .payload_validation
        .as_ref()
        .map(|pointer| quote!(.payload_validation(#pointer)));
    let required = idempotency
        .key_required
        .then(|| quote!(.key_required(true)));
    let prefix = idempotency
        .key_prefix
        .as_ref()
        .map(|prefix| quote!(.key_prefix(#prefix)));
    let wait = idempotency
        .wait_in_progress
        .as_ref()
        .map(|seconds| quote!(.wait_in_progress(::core::time::Duration::from_secs(#seconds))));
    let cache = idempotency
        .local_cache
        .as_ref()
        .map(|records| quote!(.local_cache(#records)));
    quote_spanned! {idempotency.span=>
        ::helve::idempotency::Idempotency::new(#store)
            .__handler_name(#name)
            #expires #validation #required #prefix #wait #cache
    }
}

/// The store of `store = path`: `path()`, called once when the function starts; in memory
/// without it.
fn store_of(path: Option<&syn::Path>) -> TokenStream {
    match path {
        Some(path) => quote_spanned!(path.span()=> #path()),
        None => quote!(::helve::idempotency::MemoryStore::new()),
    }
}
