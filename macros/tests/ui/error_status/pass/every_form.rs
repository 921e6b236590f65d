#![deny(warnings)]

use helve::{ErrorStatus, FunctionError};

mod shadowing {
    // A user's module commonly shadows these names; the generated code must not care.
    #[allow(dead_code)]
    type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;
    #[allow(dead_code, non_camel_case_types)]
    struct bool;
    #[allow(dead_code, non_camel_case_types)]
    struct str;
    #[allow(dead_code)]
    struct Option;
    #[allow(dead_code)]
    struct Cow;
    #[allow(dead_code)]
    struct String;
    #[allow(dead_code)]
    mod helve {}
    #[allow(dead_code, non_upper_case_globals)]
    const field: u8 = 0;
    #[allow(dead_code, non_upper_case_globals)]
    const code: u8 = 0;

    /// Every form of `#[status(..)]`.
    #[derive(Debug, thiserror::Error, ::helve::ErrorStatus)]
    pub enum OrderError {
        #[error("order {0} not found")]
        #[status(404, code = "order_not_found")]
        NotFound(std::string::String),
        #[error("the order is locked")]
        #[status(409, expose = false)]
        Locked,
        #[error("quantity {quantity} is not allowed")]
        #[status(422, code = "bad_quantity", expose = true)]
        BadQuantity { quantity: u32 },
        #[error("the request is too large")]
        #[status(413, expose)]
        TooLarge,
        #[error("the store is unavailable")]
        #[status(503)]
        Store(#[source] std::io::Error),
        #[error("the store timed out")]
        #[status(504, expose = false)]
        StoreTimeout { source: std::io::Error },
        #[error(transparent)]
        #[status(transparent)]
        Payment(super::PaymentError),
        #[error(transparent)]
        #[status(transparent)]
        Stock {
            #[from]
            source: super::StockError,
        },
    }
}

use shadowing::OrderError;

/// A transparent variant's inner error, with codes on some variants only.
#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
pub enum PaymentError {
    #[error("the card was declined")]
    #[status(402, code = "card_declined")]
    Declined,
    #[error("the payment provider failed")]
    #[status(502)]
    Provider(#[source] std::io::Error),
}

/// A struct with its status on itself.
#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[error("sku {sku} is out of stock")]
#[status(409)]
pub struct StockError {
    sku: String,
}

/// A struct delegating to its only field.
#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[error(transparent)]
#[status(transparent)]
pub struct Wrapped(PaymentError);

/// A generic enum, with a transparent generic field and a where clause.
#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
pub enum Generic<'a, E, T>
where
    T: std::fmt::Debug,
{
    #[error("bad value {0:?}")]
    #[status(400)]
    Bad(T),
    #[error("missing {0}")]
    #[status(404, code = "missing")]
    Missing(&'a str),
    #[error(transparent)]
    #[status(transparent)]
    Inner(E),
}

/// An enum with no variant: it never happens.
#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
pub enum Never {}

/// Unit and tuple structs, with a raw identifier.
#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[error("teapot")]
#[status(418, code = "teapot")]
pub struct r#Teapot;

#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[error("gone: {0}")]
#[status(410)]
pub struct Gone(pub u32);

/// Only a lifetime parameter, and a const one.
#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[error("unknown field {name}")]
#[status(400, code = "unknown_field")]
pub struct UnknownField<'a, const N: usize> {
    name: &'a str,
    allowed: [&'a str; N],
}

/// Only the traits, as a handler uses them.
fn answer<E: ErrorStatus + FunctionError>(error: &E) -> (u16, Option<&str>, bool, String, String) {
    (
        error.status().as_u16(),
        error.code(),
        error.expose(),
        error.log_message(),
        error.error_type().into_owned(),
    )
}

fn main() {
    let not_found = OrderError::NotFound("o-1".into());
    assert_eq!(
        answer(&not_found),
        (
            404,
            Some("order_not_found"),
            true,
            "order o-1 not found".into(),
            "order_not_found".into()
        )
    );

    assert_eq!(
        answer(&OrderError::Locked),
        (
            409,
            None,
            false,
            "the order is locked".into(),
            "OrderError.Locked".into()
        )
    );

    let bad = OrderError::BadQuantity { quantity: 0 };
    assert_eq!(
        answer(&bad),
        (
            422,
            Some("bad_quantity"),
            true,
            "quantity 0 is not allowed".into(),
            "bad_quantity".into()
        )
    );

    assert!(answer(&OrderError::TooLarge).2);

    let store = OrderError::Store(std::io::Error::other("connection reset"));
    assert_eq!(
        answer(&store),
        (
            503,
            None,
            false,
            "the store is unavailable: connection reset".into(),
            "OrderError.Store".into()
        )
    );

    let timeout = OrderError::StoreTimeout {
        source: std::io::Error::other("no answer in 3s"),
    };
    assert_eq!(
        answer(&timeout),
        (
            504,
            None,
            false,
            "the store timed out: no answer in 3s".into(),
            "OrderError.StoreTimeout".into()
        )
    );

    // A transparent variant takes everything from its field, and its code as `errorType`.
    let declined = OrderError::Payment(PaymentError::Declined);
    assert_eq!(
        answer(&declined),
        (
            402,
            Some("card_declined"),
            true,
            "the card was declined".into(),
            "card_declined".into()
        )
    );
    // Without a code, the `errorType` names the outer variant.
    let provider = OrderError::Payment(PaymentError::Provider(std::io::Error::other("tls")));
    assert_eq!(
        answer(&provider),
        (
            502,
            None,
            false,
            "the payment provider failed: tls".into(),
            "OrderError.Payment".into()
        )
    );
    let stock = OrderError::from(StockError { sku: "s-9".into() });
    assert_eq!(
        answer(&stock),
        (
            409,
            None,
            true,
            "sku s-9 is out of stock".into(),
            "OrderError.Stock".into()
        )
    );

    assert_eq!(
        answer(&StockError { sku: "s-1".into() }),
        (
            409,
            None,
            true,
            "sku s-1 is out of stock".into(),
            "StockError".into()
        )
    );
    assert_eq!(
        answer(&Wrapped(PaymentError::Provider(std::io::Error::other(
            "tls"
        )))),
        (
            502,
            None,
            false,
            "the payment provider failed: tls".into(),
            "Wrapped".into()
        )
    );
    assert_eq!(answer(&Wrapped(PaymentError::Declined)).4, "card_declined");
    assert_eq!(
        answer(&Teapot),
        (418, Some("teapot"), true, "teapot".into(), "teapot".into())
    );
    assert_eq!(
        answer(&Gone(7)),
        (410, None, true, "gone: 7".into(), "Gone".into())
    );

    let generic: Generic<'_, PaymentError, u8> = Generic::Bad(3);
    assert_eq!(
        answer(&generic),
        (400, None, true, "bad value 3".into(), "Generic.Bad".into())
    );
    let generic: Generic<'_, PaymentError, u8> = Generic::Missing("sku");
    assert_eq!(answer(&generic).4, "missing");
    let generic: Generic<'_, PaymentError, u8> = Generic::Inner(PaymentError::Declined);
    assert_eq!(
        answer(&generic),
        (
            402,
            Some("card_declined"),
            true,
            "the card was declined".into(),
            "card_declined".into()
        )
    );

    let unknown = UnknownField {
        name: "colour",
        allowed: ["color"],
    };
    assert_eq!(unknown.allowed.len(), 1);
    assert_eq!(
        answer(&unknown),
        (
            400,
            Some("unknown_field"),
            true,
            "unknown field colour".into(),
            "unknown_field".into()
        )
    );

    let _: fn(&Never) -> u16 = |never| never.status().as_u16();

    // Lambda records the same `errorType` and the whole chain as `errorMessage`.
    assert_eq!(
        store.error_message(),
        "the store is unavailable: connection reset"
    );
}
