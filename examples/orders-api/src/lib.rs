//! The orders of the `orders-api` example: what a client sends ([`NewOrder`]), what the API
//! keeps and answers ([`Order`]), how a failure answers ([`OrderError`]), where orders are
//! kept ([`OrderStore`]: [`MemoryStore`], and with the feature `dynamodb`, `DynamoDbStore`),
//! the CORS layer of both functions ([`cors`]), and where `POST /orders` keeps its
//! idempotency records ([`idempotency_store`]). The functions themselves, the helve
//! handlers, are `src/bin/create-order.rs` (`POST /orders`) and `src/bin/get-order.rs`
//! (`GET /orders/{id}`).
//!
//! ```
//! use example_orders_api::{LineItem, MemoryStore, NewOrder, Order, OrderError, OrderStore};
//! use helve::ErrorStatus;
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # runtime.block_on(async {
//! let store = MemoryStore::new();
//! let new = NewOrder {
//!     id: "o-1001".to_owned(),
//!     customer_email: "grace@example.com".to_owned(),
//!     items: vec![LineItem { sku: "BOOK-42".to_owned(), quantity: 2 }],
//! };
//! // `o-1001` is the sample order every in-memory store starts with.
//! let error = OrderError::from(store.create(&Order::new(new, 0)).await.unwrap_err());
//! assert_eq!(error.status().as_u16(), 409);
//! assert_eq!(error.code(), Some("order_exists"));
//! assert_eq!(error.to_string(), "order o-1001 already exists");
//! # });
//! ```

mod order;
mod store;

use std::{fmt, sync::Arc, time::Duration};

use helve::http::{
    Created, Json, Method,
    header::{self, HeaderName, HeaderValue},
};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use order::{LineItem, MAX_ID_LEN, NewOrder, Order, is_order_id, now_ms};
pub use store::{BoxError, MemoryStore, OrderStore, Store, StoreError, UNAVAILABLE_VAR};
#[cfg(feature = "dynamodb")]
pub use store::{DynamoDbStore, STORE_TIMEOUT};

/// Why a request for an order failed: each variant answers with its status and `code` in an
/// `application/problem+json` body. A client error's message is the problem's `detail`; the
/// 503's never is (helve logs it at ERROR, with its source chain, instead).
#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[non_exhaustive]
pub enum OrderError {
    /// `GET /orders/{id}` of an order that does not exist.
    #[error("order {0} not found")]
    #[status(404, code = "order_not_found")]
    NotFound(String),
    /// `POST /orders` with the id of an order that exists: nothing was written.
    #[error("order {0} already exists")]
    #[status(409, code = "order_exists")]
    Exists(String),
    /// The store failed: unreachable, or holding a record this function cannot read. The
    /// client may retry later.
    #[error(transparent)]
    #[status(503, code = "store_unavailable")]
    Store(StoreError),
}

impl From<StoreError> for OrderError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists(id) => OrderError::Exists(id),
            other => OrderError::Store(other),
        }
    }
}

/// What a function does once, before its first request: checks `ALLOWED_ORIGINS` and picks
/// the store (DynamoDB when `ORDERS_TABLE` is set, memory otherwise). A mistake here is an
/// init error, not a failure of every request.
pub async fn setup() -> Result<Store, helve::ConfigError> {
    let origins = AllowedOrigins::from_env()?;
    let store = Store::from_env().await?;
    let kept_in = if matches!(store, Store::Memory(_)) {
        "memory (set ORDERS_TABLE to use DynamoDB)"
    } else {
        "DynamoDB"
    };
    tracing::info!(
        store = store.name(),
        allowed_origins = %origins,
        "orders are kept in {kept_in}"
    );
    Ok(store)
}

/// The variable naming the DynamoDB table of `POST /orders`' idempotency records.
pub const IDEMPOTENCY_TABLE_VAR: &str = "IDEMPOTENCY_TABLE";

/// Where `POST /orders` keeps its idempotency records: the DynamoDB table `IDEMPOTENCY_TABLE`
/// names (feature `dynamodb`; partition key `id`, TTL on `expiration`), or this execution
/// environment's memory when it is not set, which is enough to run the function locally.
pub fn idempotency_store() -> Arc<dyn helve::idempotency::Store> {
    #[cfg(feature = "dynamodb")]
    if let Some(table) = std::env::var(IDEMPOTENCY_TABLE_VAR)
        .ok()
        .filter(|table| !table.is_empty())
    {
        return Arc::new(helve::idempotency::DynamoDbStore::from_env(table));
    }
    Arc::new(helve::idempotency::MemoryStore::new())
}

/// The variable naming the origins a browser may call the API from.
pub const ALLOWED_ORIGINS_VAR: &str = "ALLOWED_ORIGINS";

/// The origins a browser may call the API from: `ALLOWED_ORIGINS`, comma-separated
/// (`https://shop.example.com,https://admin.example.com`), or `*` (the default) for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin: `Access-Control-Allow-Origin: *`.
    Any,
    /// These origins only: a request from one of them gets it back in
    /// `Access-Control-Allow-Origin`, any other none.
    List(Vec<HeaderValue>),
}

impl AllowedOrigins {
    /// The origins `ALLOWED_ORIGINS` names; [`Any`](Self::Any) when it is unset or empty.
    pub fn from_env() -> Result<Self, helve::ConfigError> {
        Self::parse(&std::env::var(ALLOWED_ORIGINS_VAR).unwrap_or_default())
    }

    /// The origins of a comma-separated list: each `scheme://host[:port]`, without a path;
    /// `*` alone for any.
    pub fn parse(list: &str) -> Result<Self, helve::ConfigError> {
        let list = list.trim();
        if list.is_empty() || list == "*" {
            return Ok(AllowedOrigins::Any);
        }
        let invalid = |message: String| helve::ConfigError::new(ALLOWED_ORIGINS_VAR, message);
        let mut origins = Vec::new();
        for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            if origin == "*" {
                return Err(invalid(
                    "`*` allows every origin, so it cannot be listed with others".to_owned(),
                ));
            }
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            match host {
                Some(host) if !host.is_empty() && !host.contains('/') => {}
                _ => {
                    return Err(invalid(format!(
                        "`{origin}` is not an origin; write `https://host` or \
                         `https://host:port`, without a path"
                    )));
                }
            }
            let value = HeaderValue::from_str(origin)
                .map_err(|_| invalid(format!("`{origin}` is not a valid header value")))?;
            origins.push(value);
        }
        Ok(AllowedOrigins::List(origins))
    }
}

impl fmt::Display for AllowedOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedOrigins::Any => f.write_str("*"),
            AllowedOrigins::List(origins) => {
                let names: Vec<&str> = origins
                    .iter()
                    .filter_map(|origin| origin.to_str().ok())
                    .collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

/// The CORS layer of both functions, from `ALLOWED_ORIGINS` (see [`AllowedOrigins`]): it
/// answers a browser's preflight (`OPTIONS` with `Access-Control-Request-Method`) without
/// calling the handler, and adds `Access-Control-Allow-Origin` to every answer, errors
/// included. `GET` and `POST`, with `Content-Type`, `Authorization` and `Idempotency-Key`; the
/// browser may read `Location`, `x-correlation-id` and `x-idempotent-replay`; a preflight is
/// cached for 10 minutes.
///
/// An invalid `ALLOWED_ORIGINS` allows no origin here, and fails [`setup`] with a message
/// naming it, so the function never starts with it.
pub fn cors() -> CorsLayer {
    let origins = AllowedOrigins::from_env().unwrap_or(AllowedOrigins::List(Vec::new()));
    cors_layer(&origins)
}

/// The CORS layer for these origins.
pub fn cors_layer(origins: &AllowedOrigins) -> CorsLayer {
    let allow_origin = match origins {
        AllowedOrigins::Any => AllowOrigin::any(),
        AllowedOrigins::List(origins) => AllowOrigin::list(origins.iter().cloned()),
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::LOCATION,
            HeaderName::from_static(helve::http::CORRELATION_HEADER),
            HeaderName::from_static(helve::http::REPLAY_HEADER),
        ])
        .max_age(Duration::from_secs(600))
}

/// The answer of `POST /orders` for `order`: 201 Created, the new order's address in
/// `Location`, and the order.
pub fn created(order: Order) -> Created<Json<Order>> {
    Created {
        location: format!("/orders/{}", order.id),
        body: Json(order),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_origins_are_read_from_a_list() {
        assert_eq!(AllowedOrigins::parse("").unwrap(), AllowedOrigins::Any);
        assert_eq!(AllowedOrigins::parse(" * ").unwrap(), AllowedOrigins::Any);
        let list =
            AllowedOrigins::parse("https://shop.example.com, http://localhost:3000,").unwrap();
        assert_eq!(
            list,
            AllowedOrigins::List(vec![
                HeaderValue::from_static("https://shop.example.com"),
                HeaderValue::from_static("http://localhost:3000"),
            ])
        );
        assert_eq!(
            list.to_string(),
            "https://shop.example.com,http://localhost:3000"
        );
    }

    #[test]
    fn an_invalid_origin_is_named() {
        for (list, message) in [
            (
                "https://shop.example.com/",
                "invalid setting ALLOWED_ORIGINS: `https://shop.example.com/` is not an origin; \
                 write `https://host` or `https://host:port`, without a path",
            ),
            (
                "shop.example.com",
                "invalid setting ALLOWED_ORIGINS: `shop.example.com` is not an origin; write \
                 `https://host` or `https://host:port`, without a path",
            ),
            (
                "https://shop.example.com,*",
                "invalid setting ALLOWED_ORIGINS: `*` allows every origin, so it cannot be \
                 listed with others",
            ),
        ] {
            assert_eq!(
                AllowedOrigins::parse(list).unwrap_err().to_string(),
                message
            );
        }
    }

    #[test]
    fn a_store_error_answers_with_its_status_and_code() {
        use helve::ErrorStatus;
        let exists = OrderError::from(StoreError::AlreadyExists("o-1".to_owned()));
        assert_eq!(
            (exists.status().as_u16(), exists.code(), exists.expose()),
            (409, Some("order_exists"), true)
        );
        let down = OrderError::from(StoreError::Unavailable("connection refused".into()));
        assert_eq!(
            (down.status().as_u16(), down.code()),
            (503, Some("store_unavailable"))
        );
        assert_eq!(
            down.log_message(),
            "the order store is unavailable: connection refused"
        );
    }
}
