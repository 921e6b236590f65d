#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("order not found")]
    #[status(code = "order_not_found")]
    NotFound,
}

fn main() {}
