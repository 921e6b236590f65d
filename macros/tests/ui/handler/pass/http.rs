#![deny(warnings)]

mod create {
    use helve::http::{Json, StatusCode, Valid, header};
    use helve::prelude::*;

    #[derive(Deserialize, helve::validator::Validate)]
    pub struct NewOrder {
        #[validate(length(min = 1))]
        pub sku: String,
    }

    #[derive(Serialize)]
    pub struct Order {
        pub id: String,
    }

    #[derive(Debug, thiserror::Error)]
    pub enum OrderError {
        #[error("order {0} exists")]
        Exists(String),
    }

    impl helve::ErrorStatus for OrderError {
        fn status(&self) -> StatusCode {
            StatusCode::CONFLICT
        }
    }

    pub struct Store;

    async fn connect() -> Result<Store, helve::Error> {
        Ok(Store)
    }

    #[helve::handler(init = connect, service = "orders", http(body_limit = 65536, deadline_margin_ms = 200))]
    async fn create(
        ctx: &Context,
        Valid(new): Valid<NewOrder>,
        _store: &Store,
    ) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<Order>), OrderError> {
        if new.sku == "taken" {
            return Err(OrderError::Exists(new.sku));
        }
        let id = format!("{}-{}", new.sku, ctx.request_id());
        Ok((StatusCode::CREATED, [(header::LOCATION, format!("/orders/{id}"))], Json(Order { id })))
    }
}

mod get {
    use helve::http::{HeaderMap, Json, Path, Query};
    use helve::prelude::*;

    #[derive(Deserialize)]
    pub struct Page {
        pub limit: Option<u32>,
    }

    #[helve::handler(http(request_metrics = false))]
    async fn get(Path(id): Path<String>, Query(page): Query<Page>, headers: HeaderMap) -> Json<serde_json::Value> {
        Json(serde_json::json!({"id": id, "limit": page.limit, "headers": headers.len()}))
    }
}

mod raw {
    #[helve::handler]
    async fn echo(request: helve::http::Request) -> String {
        request.uri().path().to_owned()
    }
}

mod health {
    #[helve::handler(http)]
    async fn health() {}
}

// The handlers' `main`s are only named here, so that running this case needs no Runtime API.
fn main() {
    let _: fn() -> std::process::ExitCode = create::main;
    let _: fn() -> std::process::ExitCode = get::main;
    let _: fn() -> std::process::ExitCode = raw::main;
    let _: fn() -> std::process::ExitCode = health::main;
}
