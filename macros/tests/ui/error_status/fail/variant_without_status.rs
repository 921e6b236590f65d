#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("order not found")]
    #[status(404)]
    NotFound,
    #[error("order gone")]
    Gone,
    #[error("store failed")]
    Store(#[source] std::io::Error),
}

fn main() {}
