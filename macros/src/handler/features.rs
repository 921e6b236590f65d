//! The helve features a handler needs: an option or a parameter type that needs a feature the
//! crate's helve dependency lacks is reported once, at the user's token, with the line to add
//! to Cargo.toml. helve forwards its features to these macros (`http = [..,
//! "helve-macros/http"]`), so `cfg!(feature = "http")` here says whether `helve::http` exists.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};
use syn::{FnArg, ItemFn, Type};

use super::args::HandlerArgs;
use super::kind::{custom_resource_properties, is_batch_record, is_http_extractor};
use super::signature::last_segment;

/// One thing in the handler that needs a feature.
struct Need {
    feature: &'static str,
    /// The user's tokens that need it, where the error points.
    tokens: TokenStream,
    /// What needs it, as the message opens: "the `tracer` option of `#[helve::handler]` needs".
    what: String,
    /// The same, short, after the first need: "`Json<T>`".
    subject: String,
}

/// The features helve forwards, and whether each is on.
const FORWARDED: [(&str, bool); 5] = [
    ("batch", cfg!(feature = "batch")),
    ("cfn", cfg!(feature = "cfn")),
    ("http", cfg!(feature = "http")),
    ("idempotency", cfg!(feature = "idempotency")),
    ("tracer", cfg!(feature = "tracer")),
];

/// Whether helve's feature `name` is on, as helve forwards it (a feature helve does not
/// forward is taken to be on).
fn enabled(name: &str) -> bool {
    FORWARDED
        .iter()
        .find(|(feature, _)| *feature == name)
        .is_none_or(|(_, on)| *on)
}

/// The one error for the features the handler needs and the crate's helve lacks, at the
/// first token that needs one; `None` when every feature it needs is on.
pub(super) fn missing(function: &ItemFn, args: &HandlerArgs) -> Option<syn::Error> {
    let needs: Vec<Need> = needs(function, args)
        .into_iter()
        .filter(|need| !enabled(need.feature))
        .collect();
    let first = needs.first()?;
    // The first need of each feature.
    let mut distinct: Vec<&Need> = Vec::new();
    for need in &needs {
        if !distinct.iter().any(|seen| seen.feature == need.feature) {
            distinct.push(need);
        }
    }
    let mut message = format!("{} helve's feature `{}`", first.what, first.feature);
    for need in distinct.iter().skip(1) {
        message.push_str(&format!(", and {} needs `{}`", need.subject, need.feature));
    }
    let list = distinct
        .iter()
        .map(|need| format!("\"{}\"", need.feature))
        .collect::<Vec<_>>()
        .join(", ");
    message.push_str(&format!(
        ": in Cargo.toml, `helve = {{ version = \"{}\", features = [{list}] }}`",
        version()
    ));
    Some(syn::Error::new_spanned(&first.tokens, message))
}

/// Everything in the options and the parameters that needs a feature, options first.
fn needs(function: &ItemFn, args: &HandlerArgs) -> Vec<Need> {
    let mut needs = Vec::new();
    let option = |feature, span: Span, name: &str| Need {
        feature,
        tokens: quote_spanned!(span=> option),
        what: format!("the `{name}` option of `#[helve::handler]` needs"),
        subject: format!("the `{name}` option"),
    };
    if let Some(http) = &args.http {
        needs.push(option("http", http.span, "http"));
    }
    if let Some(batch) = &args.batch {
        needs.push(option("batch", batch.span, "batch"));
        if let Some(span) = batch.idempotency_span {
            needs.push(Need {
                feature: "idempotency",
                tokens: quote_spanned!(span=> idempotency),
                what: "`idempotency` in `batch(...)` needs".to_owned(),
                subject: "`idempotency` in `batch(...)`".to_owned(),
            });
        }
    }
    if let Some(custom) = &args.custom_resource {
        needs.push(option("cfn", custom.span, "custom_resource"));
    }
    if let Some(idempotency) = &args.idempotency {
        needs.push(option("idempotency", idempotency.span, "idempotency"));
    }
    if let Some(tracer) = &args.tracer {
        needs.push(option("tracer", tracer.span, "tracer"));
    }
    for input in &function.sig.inputs {
        let FnArg::Typed(typed) = input else {
            continue;
        };
        let ty = &*typed.ty;
        if let Some(need) = parameter_need(ty) {
            needs.push(need);
        }
    }
    needs
}

/// What a parameter of this type needs: an HTTP extractor `http`, a record of a batch
/// `batch`, a custom resource `cfn`.
fn parameter_need(ty: &Type) -> Option<Need> {
    let name = written_name(ty);
    let (feature, what) = if is_http_extractor(ty) {
        (
            "http",
            format!("this handler takes HTTP extractors (`{name}`), which need"),
        )
    } else if custom_resource_properties(ty).is_some() {
        (
            "cfn",
            format!("this handler takes a CloudFormation custom resource (`{name}`), which needs"),
        )
    } else if is_batch_record(ty) {
        (
            "batch",
            format!("this handler takes one record of a batch (`{name}`), which needs"),
        )
    } else {
        return None;
    };
    Some(Need {
        feature,
        tokens: ty.to_token_stream(),
        what,
        subject: format!("`{name}`"),
    })
}

/// The type's name as the message shows it: `Json<T>`, `HeaderMap`, `http::Request`.
fn written_name(ty: &Type) -> String {
    let Some(segment) = last_segment(ty) else {
        return "..".to_owned();
    };
    let name = segment.ident.to_string();
    match (&segment.arguments, name.as_str()) {
        (_, "Request") => "http::Request".to_owned(),
        (_, "CustomResource") => "CustomResource<P>".to_owned(),
        (syn::PathArguments::AngleBracketed(_), _) => format!("{name}<T>"),
        _ => name,
    }
}

/// helve's version as a Cargo.toml requirement: `0.1` for 0.1.x, `1` for 1.x.
fn version() -> String {
    let full = env!("CARGO_PKG_VERSION");
    let mut parts = full.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_owned(),
        _ => full.to_owned(),
    }
}
