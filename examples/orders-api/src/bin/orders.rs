//! `POST /orders` and `GET /orders/{id}` in one function: an axum `Router` whose two routes are
//! the route functions of `create-order` and `get-order`, as they are written there (helve's
//! feature `axum` makes helve's extractors and answers axum's too). One function, one store:
//! an order created is found by the next request to the same execution environment, also in
//! memory.
//!
//! Everything a single-route function answers, this one answers the same way: the 415, 400
//! and 422 problems of a body it cannot take, `OrderError`'s 404, 409 and 503, the CORS
//! layer, the idempotent create (an `Idempotency-Key` on a `POST`; a `GET` carries none), the
//! request metrics and the correlation id. A path the router has no route for is its own
//! `404`, and a method it has no route for its `405`, each logged once.
//!
//! Run with
//!
//! ```text
//! cargo run -p example-orders-api --bin orders -- examples/orders-api/events/create.json
//! ```
//!
//! Deploy with `sam build && sam deploy --guided --parameter-overrides Routing=router` from
//! `examples/orders-api` (see the README).

use axum::{
    Router,
    routing::{get, post},
};
use example_orders_api::{Store, cors, idempotency_store, setup};
use helve::idempotency::Idempotency;

// The route functions, each a `#[helve::handler]` in its own binary: the `main` the attribute
// writes beside each one is that binary's, unused here.
#[allow(dead_code)]
#[path = "create-order.rs"]
mod create;
#[allow(dead_code)]
#[path = "get-order.rs"]
mod read;

/// The routes, built once from the init step's store.
fn routes(store: &'static Store) -> Router {
    Router::new()
        .route("/orders", post(create::create_order))
        .route("/orders/{id}", get(read::get_order))
        .with_state(store)
}

fn main() -> std::process::ExitCode {
    let idempotency =
        Idempotency::new(idempotency_store()).expires(std::time::Duration::from_secs(86400));
    let api = helve::http::service(routes)
        .body_limit(65536)
        .idempotency(idempotency, "header:Idempotency-Key")
        .layer(cors());
    helve::Function::new(api)
        .init(setup)
        .service("orders")
        .namespace("Shop")
        .run()
}
