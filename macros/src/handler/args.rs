//! The attribute's options: `init = setup, service = "orders", batch(concurrency = 8), ...`,
//! parsed strictly (an unknown key fails with the list of known ones).

use proc_macro2::Span;
use syn::{
    LitStr, Path, Token,
    parse::{Parse, ParseStream},
};

use crate::diagnostics;

pub(super) mod kw {
    syn::custom_keyword!(init);
    syn::custom_keyword!(shutdown);
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
    syn::custom_keyword!(runtime);
    syn::custom_keyword!(idempotency);
    syn::custom_keyword!(key);
    syn::custom_keyword!(expires);
    syn::custom_keyword!(payload_validation);
    syn::custom_keyword!(key_required);
    syn::custom_keyword!(key_prefix);
    syn::custom_keyword!(wait_in_progress);
    syn::custom_keyword!(store);
    syn::custom_keyword!(local_cache);
    syn::custom_keyword!(tracer);
    syn::custom_keyword!(capture_response);
    syn::custom_keyword!(capture_error);
    syn::custom_keyword!(disabled);
    syn::custom_keyword!(export);
}

/// `init = path, service = "name", log_level = "debug", log_buffer = 20480`.
#[derive(Default)]
pub(crate) struct HandlerArgs {
    pub(super) init: Option<Path>,
    /// `shutdown = path`: an `async fn()` run when Lambda stops the environment.
    pub(super) shutdown: Option<Path>,
    pub(super) service: Option<LitStr>,
    pub(super) log_level: Option<LitStr>,
    pub(super) log_buffer: Option<LogBuffer>,
    pub(super) correlation_id: Option<LitStr>,
    pub(super) namespace: Option<LitStr>,
    pub(super) custom_resource: Option<CustomResourceArgs>,
    pub(super) batch: Option<BatchArgs>,
    pub(super) http: Option<HttpArgs>,
    /// `runtime = "multi_thread"` or `runtime = "current_thread"`.
    pub(super) runtime: Option<LitStr>,
    pub(super) idempotency: Option<IdempotencyArgs>,
    pub(super) tracer: Option<TracerArgs>,
}

/// `tracer(capture_response = false, capture_error = false, disabled)`: the options of the
/// X-Ray tracer (feature `tracer`).
pub(crate) struct TracerArgs {
    /// The span of the `tracer` key, where errors about the option point.
    pub(super) span: Span,
    pub(super) capture_response: Option<syn::LitBool>,
    pub(super) capture_error: Option<syn::LitBool>,
    pub(super) disabled: bool,
    /// `export = "otlp"` or `export = "xray"`.
    pub(super) export: Option<LitStr>,
}

impl TracerArgs {
    fn parse(key: kw::tracer, input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = TracerArgs {
            span: key.span,
            capture_response: None,
            capture_error: None,
            disabled: false,
            export: None,
        };
        parse_option_list(input, |content| {
            let lookahead = content.lookahead1();
            if lookahead.peek(kw::capture_response) {
                let at: kw::capture_response = content.parse()?;
                let value = bool_value(content, "capture_response")?;
                set_once(
                    &mut args.capture_response,
                    value,
                    at.span,
                    "capture_response",
                )
            } else if lookahead.peek(kw::capture_error) {
                let at: kw::capture_error = content.parse()?;
                let value = bool_value(content, "capture_error")?;
                set_once(&mut args.capture_error, value, at.span, "capture_error")
            } else if lookahead.peek(kw::export) {
                let at: kw::export = content.parse()?;
                content.parse::<Token![=]>()?;
                let value: LitStr = content.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`export` takes `\"xray\"` or `\"otlp\"`, as `export = \"otlp\"`",
                    )
                })?;
                if !matches!(value.value().as_str(), "xray" | "otlp") {
                    return Err(syn::Error::new(
                        value.span(),
                        "`export` is `\"xray\"` (X-Ray segment documents, the default) or `\"otlp\"` (OpenTelemetry spans)",
                    ));
                }
                set_once(&mut args.export, value, at.span, "export")
            } else if lookahead.peek(kw::disabled) {
                let at: kw::disabled = content.parse()?;
                if args.disabled {
                    return Err(syn::Error::new(at.span, "`disabled` is given twice"));
                }
                args.disabled = true;
                Ok(())
            } else {
                Err(lookahead.error())
            }
        })?;
        Ok(args)
    }
}

/// `= true` or `= false` after the key `key`.
fn bool_value(content: ParseStream<'_>, key: &str) -> syn::Result<syn::LitBool> {
    content.parse::<Token![=]>()?;
    content.parse().map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("`{key}` takes `true` or `false`, as `{key} = false`"),
        )
    })
}

/// `idempotency(key = "/order_id", expires = 3600, payload_validation = "/amount",
/// key_required, key_prefix = "orders.create", wait_in_progress = 5, local_cache = 256,
/// store = make_store)`.
pub(crate) struct IdempotencyArgs {
    /// The span of the `idempotency` key, where errors about the option point.
    pub(super) span: Span,
    /// A JSON pointer, or (for HTTP) `header:NAME`.
    pub(super) key: LitStr,
    /// A function `fn() -> impl Store` called once when the function starts.
    pub(super) store: Option<syn::Path>,
    pub(super) expires: Option<syn::LitInt>,
    pub(super) payload_validation: Option<LitStr>,
    pub(super) key_required: bool,
    pub(super) key_prefix: Option<LitStr>,
    pub(super) wait_in_progress: Option<syn::LitInt>,
    /// How many completed records the execution environment keeps.
    pub(super) local_cache: Option<syn::LitInt>,
}

impl IdempotencyArgs {
    fn parse(key: kw::idempotency, input: ParseStream<'_>) -> syn::Result<Self> {
        let mut pointer = None;
        let mut args = IdempotencyArgs {
            span: key.span,
            key: LitStr::new("", key.span),
            store: None,
            expires: None,
            payload_validation: None,
            key_required: false,
            key_prefix: None,
            wait_in_progress: None,
            local_cache: None,
        };
        let example = "as `idempotency(key = \"/order_id\")`";
        if !input.peek(syn::token::Paren) {
            return Err(syn::Error::new(
                key.span,
                format!("`idempotency` needs the JSON pointer to the key in the event, {example}"),
            ));
        }
        parse_option_list(input, |content| {
            let lookahead = content.lookahead1();
            if lookahead.peek(kw::key) {
                let at: kw::key = content.parse()?;
                content.parse::<Token![=]>()?;
                let value = if content.peek(LitStr)
                    && content
                        .fork()
                        .parse::<LitStr>()
                        .is_ok_and(|key| key.value().starts_with("header:"))
                {
                    header_key(content)?
                } else {
                    json_pointer(content, "key", "\"/order_id\"")?
                };
                set_once(&mut pointer, value, at.span, "key")
            } else if lookahead.peek(kw::store) {
                parse_store(content, &mut args.store)
            } else if lookahead.peek(kw::payload_validation) {
                let at: kw::payload_validation = content.parse()?;
                content.parse::<Token![=]>()?;
                let value = json_pointer(content, "payload_validation", "\"/amount\"")?;
                set_once(
                    &mut args.payload_validation,
                    value,
                    at.span,
                    "payload_validation",
                )
            } else if lookahead.peek(kw::expires) {
                let at: kw::expires = content.parse()?;
                content.parse::<Token![=]>()?;
                let value = seconds(content, "expires", "3600")?;
                set_once(&mut args.expires, value, at.span, "expires")
            } else if lookahead.peek(kw::wait_in_progress) {
                let at: kw::wait_in_progress = content.parse()?;
                content.parse::<Token![=]>()?;
                let value = seconds(content, "wait_in_progress", "5")?;
                set_once(
                    &mut args.wait_in_progress,
                    value,
                    at.span,
                    "wait_in_progress",
                )
            } else if lookahead.peek(kw::local_cache) {
                let at: kw::local_cache = content.parse()?;
                content.parse::<Token![=]>()?;
                let value: syn::LitInt = content.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`local_cache` takes how many completed records to keep, as `local_cache = 256`",
                    )
                })?;
                if !matches!(value.base10_parse::<usize>(), Ok(count) if count > 0) {
                    return Err(syn::Error::new(
                        value.span(),
                        "`local_cache` must be at least 1, as `local_cache = 256`; leave it out for no cache",
                    ));
                }
                set_once(&mut args.local_cache, value, at.span, "local_cache")
            } else if lookahead.peek(kw::key_prefix) {
                let at: kw::key_prefix = content.parse()?;
                content.parse::<Token![=]>()?;
                let value: LitStr = content.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`key_prefix` takes a string literal, as `key_prefix = \"orders.create\"`",
                    )
                })?;
                if value.value().is_empty() {
                    return Err(syn::Error::new(
                        value.span(),
                        "`key_prefix` must not be empty; leave it out for `{function}.{handler}`",
                    ));
                }
                set_once(&mut args.key_prefix, value, at.span, "key_prefix")
            } else if lookahead.peek(kw::key_required) {
                content.parse::<kw::key_required>()?;
                args.key_required = true;
                Ok(())
            } else {
                Err(lookahead.error())
            }
        })?;
        match pointer {
            Some(pointer) => args.key = pointer,
            None => {
                return Err(syn::Error::new(
                    key.span,
                    format!(
                        "`idempotency` needs the JSON pointer to the key in the event, {example}"
                    ),
                ));
            }
        }
        Ok(args)
    }
}

/// A JSON pointer option: `""` (the whole event) or `/`-separated tokens.
fn json_pointer(content: ParseStream<'_>, option: &str, example: &str) -> syn::Result<LitStr> {
    let pointer: LitStr = content.parse().map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("`{option}` takes a JSON pointer, as `{option} = {example}`"),
        )
    })?;
    let text = pointer.value();
    if !text.is_empty() && !text.starts_with('/') {
        return Err(syn::Error::new(
            pointer.span(),
            format!(
                "`{option}` is a JSON pointer and starts with `/`, as `{example}` (`\"\"` for the whole event)"
            ),
        ));
    }
    Ok(pointer)
}

/// `"header:Idempotency-Key"`: the key of an HTTP request, in a header.
fn header_key(content: ParseStream<'_>) -> syn::Result<LitStr> {
    let key: LitStr = content.parse()?;
    let text = key.value();
    let name = text.trim_start_matches("header:");
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(syn::Error::new(
            key.span(),
            "`header:` is followed by a header name, as `key = \"header:Idempotency-Key\"`",
        ));
    }
    Ok(key)
}

/// A positive number of seconds.
fn seconds(content: ParseStream<'_>, option: &str, example: &str) -> syn::Result<syn::LitInt> {
    let value: syn::LitInt = content.parse().map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("`{option}` takes a number of seconds, as `{option} = {example}`"),
        )
    })?;
    match value.base10_parse::<u64>() {
        Ok(0) | Err(_) => Err(syn::Error::new(
            value.span(),
            format!(
                "`{option}` must be a number of seconds greater than zero, as `{option} = {example}`"
            ),
        )),
        Ok(_) => Ok(value),
    }
}

/// `log_buffer = 20480`, or `log_buffer` alone for helve's default size.
pub(crate) enum LogBuffer {
    /// `log_buffer` alone, at the key's span.
    Default(Span),
    /// `log_buffer = <bytes>`.
    Bytes(syn::LitInt),
}

/// `http`, or `http(body_limit = 65536, deadline_margin_ms = 200, request_metrics = false,
/// layer = CorsLayer::permissive())`.
pub(crate) struct HttpArgs {
    /// The span of the `http` key, where errors about the option point.
    pub(super) span: Span,
    pub(super) body_limit: Option<syn::LitInt>,
    pub(super) deadline_margin_ms: Option<syn::LitInt>,
    pub(super) request_metrics: Option<syn::LitBool>,
    pub(super) layers: Vec<syn::Expr>,
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

/// `batch`, or `batch(concurrency = 8, deadline_margin_ms = 1000, continue_on_failure,
/// idempotency(key = "/jobId", store = make_store))`.
pub(crate) struct BatchArgs {
    pub(super) span: Span,
    pub(super) concurrency: Option<syn::LitInt>,
    pub(super) deadline_margin_ms: Option<syn::LitInt>,
    pub(super) continue_on_failure: bool,
    /// `idempotency`: each record once per `messageId` (or stream `eventID`).
    pub(super) idempotency: bool,
    /// The span of `idempotency` in `batch(...)`, where errors about it point.
    pub(super) idempotency_span: Option<Span>,
    /// `idempotency(store = make_store)`: the records in that store instead of memory.
    pub(super) idempotency_store: Option<Path>,
    /// `idempotency(key = "/jobId")`: each record keyed by the value at that pointer into its
    /// decoded payload instead of its `messageId`.
    pub(super) idempotency_key: Option<LitStr>,
}

impl BatchArgs {
    fn parse(key: kw::batch, input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = BatchArgs {
            span: key.span,
            concurrency: None,
            deadline_margin_ms: None,
            continue_on_failure: false,
            idempotency: false,
            idempotency_span: None,
            idempotency_store: None,
            idempotency_key: None,
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
            } else if lookahead.peek(kw::idempotency) {
                let key: kw::idempotency = content.parse()?;
                if args.idempotency {
                    return Err(syn::Error::new(
                        key.span,
                        "`idempotency` is given twice in `batch(...)`; keep one",
                    ));
                }
                args.idempotency = true;
                args.idempotency_span = Some(key.span);
                let (mut store, mut pointer) = (None, None);
                parse_option_list(content, |inner| {
                    if inner.peek(kw::store) {
                        parse_store(inner, &mut store)
                    } else if inner.peek(kw::key) {
                        let at: kw::key = inner.parse()?;
                        inner.parse::<Token![=]>()?;
                        let value = json_pointer(inner, "key", "\"/jobId\"")?;
                        set_once(&mut pointer, value, at.span, "key")
                    } else {
                        Err(inner.error(
                            "`batch(idempotency(..))` takes `key = \"/jobId\"` (a JSON pointer into the record's payload) and `store = idempotency_store` (a function returning the store)",
                        ))
                    }
                })?;
                args.idempotency_store = store;
                args.idempotency_key = pointer;
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
    pub(super) span: Span,
    pub(super) deadline_margin_ms: Option<syn::LitInt>,
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

/// `store = idempotency_store`: the path of a function returning an idempotency store.
fn parse_store(content: ParseStream<'_>, slot: &mut Option<Path>) -> syn::Result<()> {
    let at: kw::store = content.parse()?;
    content.parse::<Token![=]>()?;
    let path: Path = content.parse().map_err(|error| {
        syn::Error::new(
            error.span(),
            "`store` takes the path of a function returning the store, as `store = idempotency_store` with `fn idempotency_store() -> impl helve::idempotency::Store`",
        )
    })?;
    set_once(slot, path, at.span, "store")
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
            } else if lookahead.peek(kw::shutdown) {
                let key: kw::shutdown = input.parse()?;
                input.parse::<Token![=]>()?;
                let path: Path = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`shutdown` takes the path of an async fn, as `shutdown = close_pools`",
                    )
                })?;
                set_once(&mut args.shutdown, path, key.span, "shutdown")?;
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
                if let Some(unknown) = unknown_log_level(&level.value()) {
                    return Err(syn::Error::new(
                        level.span(),
                        format!(
                            "`{unknown}` is not a log level: use `trace`, `debug`, `info`, `warn`, `error` or `off`, or directives such as `info,hyper=warn`"
                        ),
                    ));
                }
                set_once(&mut args.log_level, level, key.span, "log_level")?;
            } else if lookahead.peek(kw::log_buffer) {
                let key: kw::log_buffer = input.parse()?;
                if !input.peek(Token![=]) {
                    // `log_buffer` alone: helve's default size.
                    let buffer = LogBuffer::Default(key.span);
                    set_once(&mut args.log_buffer, buffer, key.span, "log_buffer")?;
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
                set_once(
                    &mut args.log_buffer,
                    LogBuffer::Bytes(bytes),
                    key.span,
                    "log_buffer",
                )?;
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
            } else if lookahead.peek(kw::idempotency) {
                let key: kw::idempotency = input.parse()?;
                let span = key.span;
                let idempotency = IdempotencyArgs::parse(key, input)?;
                set_once(&mut args.idempotency, idempotency, span, "idempotency")?;
            } else if lookahead.peek(kw::tracer) {
                let key: kw::tracer = input.parse()?;
                let span = key.span;
                let tracer = TracerArgs::parse(key, input)?;
                set_once(&mut args.tracer, tracer, span, "tracer")?;
            } else if lookahead.peek(kw::runtime) {
                let key: kw::runtime = input.parse()?;
                input.parse::<Token![=]>()?;
                let flavor: LitStr = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`runtime` takes a string literal, as `runtime = \"multi_thread\"`",
                    )
                })?;
                if !matches!(flavor.value().as_str(), "current_thread" | "multi_thread") {
                    return Err(syn::Error::new(
                        flavor.span(),
                        "`runtime` is `\"current_thread\"` (the default: one invocation at a time) or `\"multi_thread\"`",
                    ));
                }
                set_once(&mut args.runtime, flavor, key.span, "runtime")?;
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

/// [`diagnostics::set_once`] for an option of `#[helve::handler]`.
fn set_once<T>(slot: &mut Option<T>, value: T, span: Span, key: &str) -> syn::Result<()> {
    diagnostics::set_once(slot, value, span, key, "`#[helve::handler]`")
}

/// The first level in `value` (a level, or directives `info,hyper=warn`) that helve's logging
/// would refuse at start: the same names it accepts (`src/logging/level.rs`), in any case.
fn unknown_log_level(value: &str) -> Option<String> {
    const KNOWN: [&str; 9] = [
        "trace", "debug", "info", "warn", "warning", "error", "fatal", "critical", "off",
    ];
    value
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .map(|directive| match directive.rsplit_once('=') {
            Some((target, level)) if !target.trim().is_empty() => level.trim(),
            _ => directive,
        })
        .find(|level| !KNOWN.iter().any(|known| known.eq_ignore_ascii_case(level)))
        .map(str::to_owned)
}
